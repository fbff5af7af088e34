//! Integrity under faults: a flush that fails (and later succeeds), answers that wait for
//! their flush, fsync at the system-call level, documents created two ways at once.

use std::sync::atomic::{AtomicBool, Ordering::SeqCst};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use serde_json::{json, Value};

use crate::support::{admin_get, admin_http, upgrade_status, Client, TestServer, WAIT};

/// A test server whose flushes fail while `failing` is set.
async fn server_with_faults(failing: Arc<AtomicBool>) -> TestServer {
    TestServer::start_with(move |c| {
        c.flush_hook = leitbild::store::FlushHook(Some(Arc::new(move || {
            if failing.load(SeqCst) {
                Err(std::io::Error::other("injected: no space left on device"))
            } else {
                Ok(())
            }
        })));
    })
    .await
}

async fn health(server: &TestServer) -> (u16, String) {
    let response = reqwest::get(server.url("/healthz")).await.unwrap();
    (response.status().as_u16(), response.text().await.unwrap())
}

#[tokio::test]
async fn a_failed_flush_serves_nothing_unflushed_and_storage_recovers_by_itself() {
    let failing = Arc::new(AtomicBool::new(false));
    let server = server_with_faults(failing.clone()).await;
    let writer = server.connect("full").await;
    let observer = server.connect("full").await;
    writer.append("seen ").await;
    observer.wait_for_text("seen ").await;
    assert_eq!(health(&server).await.0, 200);

    failing.store(true, SeqCst);
    writer.append("unseen").await;
    assert_eq!(writer.closed().await.map(|c| c.0), Some(1011));
    assert_eq!(observer.closed().await.map(|c| c.0), Some(1011));
    assert_eq!(
        observer.text(),
        "seen ",
        "the unflushed update reached nobody"
    );

    let (status, body) = health(&server).await;
    assert_eq!(status, 503);
    assert!(body.contains("no space left"), "{body}");
    let text = admin_get(server.url("/api/docs/full/text?format=txt"))
        .await
        .unwrap();
    assert_eq!(text.status(), 503);
    let body: Value = text.json().await.unwrap();
    assert_eq!(body["code"], "storage_failing");
    assert_eq!(upgrade_status(&server.ws_url("full"), &[]).await, 503);

    // Space is back: the store reopens from disk and serves again. What it serves is
    // durable: the edit whose flush failed is there only if closing the failed database
    // wrote it out after all (sled flushes when it closes; a full disk would not let it).
    failing.store(false, SeqCst);
    let deadline = Instant::now() + WAIT;
    while health(&server).await.0 != 200 {
        assert!(Instant::now() < deadline, "storage did not recover");
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
    let fresh = server.connect("full").await;
    assert!(
        ["seen ", "seen unseen"].contains(&fresh.text().as_str()),
        "{:?}",
        fresh.text()
    );
    // Its author reconnects: the edit is accepted, and kept.
    let back = Client::connect_with(&server.ws_url("full"), writer.doc.clone()).await;
    back.wait_for(|c| c.is_synced()).await;
    fresh.wait_for_text("seen unseen").await;
    let server = server.restart().await;
    server
        .connect("full")
        .await
        .wait_for_text("seen unseen")
        .await;
}

#[tokio::test]
async fn nothing_of_a_batch_is_sent_before_its_flush_returns() {
    let slow = Arc::new(AtomicBool::new(false));
    let flushed_at: Arc<Mutex<Option<Instant>>> = Arc::default();
    let (hook_slow, hook_flushed) = (slow.clone(), flushed_at.clone());
    let server = TestServer::start_with(move |c| {
        c.flush_hook = leitbild::store::FlushHook(Some(Arc::new(move || {
            if hook_slow.load(SeqCst) {
                std::thread::sleep(Duration::from_millis(300));
                *hook_flushed.lock().unwrap() = Some(Instant::now());
            }
            Ok(())
        })));
    })
    .await;
    let writer = server.connect("order").await;
    let observer = server.connect("order").await;
    writer.append("a").await;
    observer.wait_for_text("a").await;

    slow.store(true, SeqCst);
    writer.append("b").await;
    observer.wait_for_text("ab").await;
    let seen_at = Instant::now();
    let flushed = *flushed_at.lock().unwrap();
    assert!(
        flushed.is_some_and(|flushed| seen_at >= flushed),
        "the update reached another peer before the flush that made it durable returned"
    );
}

#[tokio::test]
async fn flushes_fsync_the_database_file_and_large_values_stay_out_of_blob_files() {
    use tokio::io::AsyncBufReadExt;
    let dir = tempfile::tempdir().unwrap();
    let trace = dir.path().join("strace.log");
    let data = dir.path().join("data");
    let mut child = tokio::process::Command::new("strace")
        .args(["-f", "-y", "-e", "trace=fsync,fdatasync", "-o"])
        .arg(&trace)
        .arg(crate::binary::binary())
        .args([
            "serve",
            "--addr",
            "127.0.0.1:0",
            "--admin-token",
            crate::support::ADMIN,
            "--data",
        ])
        .arg(&data)
        .env("LEITBILD_LOG", "warn")
        .stdout(std::process::Stdio::piped())
        .kill_on_drop(true)
        .spawn()
        .expect("strace runs (scripts/test installs it)");
    let mut lines = tokio::io::BufReader::new(child.stdout.take().unwrap()).lines();
    let addr = loop {
        let line = lines.next_line().await.unwrap().expect("welcome");
        if let Some(rest) = line.split("http://").nth(1) {
            break rest.split('/').next().unwrap().to_owned();
        }
    };
    let writer = Client::connect(&format!(
        "ws://{addr}/ws/big?token={}",
        crate::support::ADMIN
    ))
    .await;
    // Large enough that sled would keep it as a blob file of its own, if the store let it.
    writer.append(&"x".repeat(256 * 1024)).await;
    let observer = Client::connect(&format!(
        "ws://{addr}/ws/big?token={}",
        crate::support::ADMIN
    ))
    .await;
    observer.wait_for(|c| c.text().len() == 256 * 1024).await;
    // SIGTERM to the server (strace's child): strace then reports and exits with it.
    let strace = child.id().expect("strace runs").to_string();
    let stopped = tokio::process::Command::new("pkill")
        .args(["-TERM", "-P", &strace])
        .status()
        .await
        .unwrap();
    assert!(stopped.success(), "the traced server was found");
    tokio::time::timeout(WAIT, child.wait())
        .await
        .expect("strace ends")
        .unwrap();
    let log = std::fs::read_to_string(&trace).unwrap();
    let synced = |path_part: &str| {
        log.lines()
            .any(|l| (l.contains("fsync(") || l.contains("fdatasync(")) && l.contains(path_part))
    };
    assert!(
        synced(&format!("{}/db>", data.display())),
        "the database file is fsynced:\n{log}"
    );
    let blobs = std::fs::read_dir(data.join("blobs"))
        .map(|entries| entries.count())
        .unwrap_or(0);
    assert_eq!(
        blobs, 0,
        "large values are kept in parts, never in blob files"
    );
}

#[tokio::test]
async fn a_document_opened_by_websocket_and_one_created_by_post_keep_their_own_metadata() {
    let server = TestServer::start().await;
    // An admin's websocket creates "foo" with its own metadata...
    let early = server.connect("foo").await;
    early.append("früh").await;
    let by_ws: Value = admin_get(server.url("/api/docs/foo"))
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
    // ...and a POST of the same title gets another id instead of taking it over.
    let created = admin_http()
        .post(server.url("/api/docs"))
        .json(&json!({"title": "foo"}))
        .send()
        .await
        .unwrap();
    assert_eq!(created.status(), 201);
    let by_post: Value = created.json().await.unwrap();
    assert_ne!(by_post["id"], "foo");
    // The room's later edits touch only time and size of its own document.
    tokio::time::sleep(Duration::from_millis(1_100)).await;
    early.append(" und spät").await;
    let reader = server.connect("foo").await;
    reader.wait_for_text("früh und spät").await;
    let server = server.restart().await;
    let after: Value = admin_get(server.url("/api/docs/foo"))
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
    assert_eq!(after["created_at"], by_ws["created_at"]);
    assert_eq!(after["title"], "foo");
    let other: Value =
        admin_get(server.url(&format!("/api/docs/{}", by_post["id"].as_str().unwrap())))
            .await
            .unwrap()
            .json()
            .await
            .unwrap();
    assert_eq!(other["created_at"], by_post["created_at"]);
    assert_eq!(other["size"], 0);
}

/// A tmpfs mounted for one test and unmounted when it ends, however it ends.
struct Tmpfs(std::path::PathBuf);

impl Tmpfs {
    /// `None` when this process may not mount (not root): the real-disk test then has
    /// nothing to run on, and says so.
    fn mount(at: &std::path::Path, size: &str) -> Option<Tmpfs> {
        std::fs::create_dir_all(at).ok()?;
        let ok = std::process::Command::new("mount")
            .args(["-t", "tmpfs", "-o", &format!("size={size}"), "tmpfs"])
            .arg(at)
            .status()
            .ok()?
            .success();
        ok.then(|| Tmpfs(at.to_path_buf()))
    }

    fn resize(&self, size: &str) {
        let ok = std::process::Command::new("mount")
            .args(["-o", &format!("remount,size={size}")])
            .arg(&self.0)
            .status()
            .unwrap()
            .success();
        assert!(ok, "remount");
    }
}

impl Drop for Tmpfs {
    fn drop(&mut self) {
        let _ = std::process::Command::new("umount")
            .arg("-l")
            .arg(&self.0)
            .status();
    }
}

#[tokio::test]
async fn a_full_disk_loses_nothing_anyone_saw_and_recovers_when_space_is_back() {
    let dir = tempfile::tempdir().unwrap();
    let Some(disk) = Tmpfs::mount(&dir.path().join("disk"), "4m") else {
        eprintln!(
            "not root: no tmpfs, so no real full disk; the injected fault test covers the rest"
        );
        return;
    };
    let data = disk.0.join("data");
    let server = TestServer::start_in(&data, |_| {}).await;
    let writer = server.connect("disk").await;
    let observer = server.connect("disk").await;
    let mut seen = String::new();
    for i in 0..400 {
        let chunk = format!("[{i}:{}]", "Bildung ".repeat(2000));
        writer.append(&chunk).await;
        let expected = format!("{seen}{chunk}");
        let deadline = Instant::now() + Duration::from_secs(5);
        while observer.text() != expected
            && !observer.is_disconnected()
            && Instant::now() < deadline
        {
            tokio::time::sleep(Duration::from_millis(5)).await;
        }
        if observer.text() != expected {
            break;
        }
        seen = expected;
    }
    assert!(
        !seen.is_empty(),
        "some writes went through before the disk filled"
    );
    assert_eq!(
        writer.closed().await.map(|c| c.0),
        Some(1011),
        "the disk filled up"
    );
    assert_eq!(health(&server).await.0, 503);

    disk.resize("64m");
    let deadline = Instant::now() + WAIT;
    while health(&server).await.0 != 200 {
        assert!(
            Instant::now() < deadline,
            "storage did not recover once space was back"
        );
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
    let back = Client::connect_with(&server.ws_url("disk"), writer.doc.clone()).await;
    back.wait_for(|c| c.is_synced()).await;
    let fresh = server.connect("disk").await;
    fresh.wait_for(|c| c.text() == writer.text()).await;
    assert!(fresh.text().starts_with(&seen));

    let server = server.restart().await;
    let after = server.connect("disk").await;
    assert!(
        after.text().starts_with(&seen),
        "everything the observer saw survived"
    );
    assert_eq!(
        after.text(),
        writer.text(),
        "and the writer's resent edits too"
    );
    drop(server);
}
