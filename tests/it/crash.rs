//! The crash test: SIGKILL the real `leitbild` binary while one client streams edits and
//! another watches; after a restart every edit the watcher had seen must be there.

use std::time::Duration;

use crate::binary::{spawn, spawn_with};
use crate::support::{Client, ADMIN};

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn sigkill_loses_nothing_a_watcher_saw() {
    let dir = tempfile::tempdir().unwrap();
    let mut expected_prefix = String::new();
    for round in 0..5 {
        let (mut server, addr) = spawn(dir.path()).await;
        let url = format!("ws://{addr}/ws/crash?token={ADMIN}");
        let writer = Client::connect(&url).await;
        let watcher = Client::connect(&url).await;
        assert!(
            watcher.text().starts_with(&expected_prefix),
            "round {round}: after restart the text lost edits the watcher had seen"
        );

        let streaming = tokio::spawn(async move {
            for i in 0.. {
                writer.append(&format!("r{round}e{i};")).await;
                tokio::time::sleep(Duration::from_micros(200)).await;
                if writer.is_disconnected() {
                    break;
                }
            }
        });
        let kill_after = Duration::from_millis(100 + rand::random::<u64>() % 400);
        tokio::time::sleep(kill_after).await;
        server.start_kill().expect("SIGKILL");
        server.wait().await.expect("server exits");
        watcher.wait_for(|w| w.is_disconnected()).await;
        let seen = watcher.text();
        assert!(
            seen.contains(&format!("r{round}e")),
            "round {round}: the watcher saw edits before the kill"
        );
        let _ = streaming.await;

        let (mut server, addr) = spawn(dir.path()).await;
        let check = Client::connect(&format!("ws://{addr}/ws/crash?token={ADMIN}")).await;
        assert!(
            check.text().starts_with(&seen),
            "round {round}: lost edits the watcher had seen:\nseen {seen:?}\ngot  {:?}",
            check.text()
        );
        expected_prefix = seen;
        server.start_kill().expect("stop");
        server.wait().await.expect("server exits");
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn sigterm_shuts_down_cleanly_and_keeps_everything() {
    let dir = tempfile::tempdir().unwrap();
    let (mut server, addr) = spawn(dir.path()).await;
    let url = format!("ws://{addr}/ws/term?token={ADMIN}");
    let writer = Client::connect(&url).await;
    let watcher = Client::connect(&url).await;
    for i in 0..50 {
        writer.append(&format!("{i};")).await;
    }
    watcher.wait_for(|w| w.text().ends_with("49;")).await;
    let pid = server.id().expect("pid") as i32;
    // SAFETY: kill(2) on our own child's pid.
    assert_eq!(unsafe { libc_kill(pid, 15) }, 0);
    let status = tokio::time::timeout(Duration::from_secs(20), server.wait())
        .await
        .expect("exits")
        .unwrap();
    assert!(status.success(), "clean exit on SIGTERM, got {status}");
    assert_eq!(
        watcher.closed().await.map(|(code, _)| code),
        Some(1001),
        "peers are told the server is going away"
    );

    let (_server, addr) = spawn(dir.path()).await;
    let check = Client::connect(&format!("ws://{addr}/ws/term?token={ADMIN}")).await;
    assert_eq!(check.text(), watcher.text());
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn sigkill_after_unload_and_compaction_loses_nothing() {
    // A quick unload: the final checkpoint compacts the whole log (one run of small
    // records) and the document is reloaded before the edits that the kill must not lose.
    let flags = ["--idle-unload-secs", "1"];
    let dir = tempfile::tempdir().unwrap();
    let (mut server, addr) = spawn_with(dir.path(), &flags).await;
    let url = format!("ws://{addr}/ws/compacted?token={ADMIN}");
    let writer = Client::connect(&url).await;
    let watcher = Client::connect(&url).await;
    for i in 0..10 {
        // One record each: wait until the edit went round.
        writer.append(&format!("a{i};")).await;
        watcher
            .wait_for(|w| w.text().ends_with(&format!("a{i};")))
            .await;
    }
    writer.close().await;
    watcher.close().await;
    // Idle: the room checkpoints, compacts and unloads.
    tokio::time::sleep(Duration::from_millis(2500)).await;

    let writer = Client::connect(&url).await;
    let watcher = Client::connect(&url).await;
    for i in 0..10 {
        writer.append(&format!("b{i};")).await;
    }
    watcher.wait_for(|w| w.text().ends_with("b9;")).await;
    let seen = watcher.text();
    server.start_kill().expect("SIGKILL");
    server.wait().await.expect("server exits");

    let (_server, addr) = spawn_with(dir.path(), &flags).await;
    let check = Client::connect(&format!("ws://{addr}/ws/compacted?token={ADMIN}")).await;
    assert_eq!(
        check.text(),
        seen,
        "edits after a reload of a compacted log survive a crash"
    );
}

extern "C" {
    #[link_name = "kill"]
    fn libc_kill(pid: i32, signal: i32) -> i32;
}

/// Versions and restores under SIGKILL: every version the server acknowledged is there
/// after a restart, every listed version reads back whole, and a restore can be retried.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn sigkill_leaves_every_version_whole_or_absent_and_restores_can_be_retried() {
    use serde_json::{json, Value};
    let dir = tempfile::tempdir().unwrap();
    let http = crate::support::admin_http();
    let mut acknowledged: Vec<String> = Vec::new();
    let mut doc = String::new();
    for round in 0..4 {
        let (mut server, addr) = spawn(dir.path()).await;
        if doc.is_empty() {
            let created: Value = http
                .post(format!("http://{addr}/api/docs"))
                .json(&json!({ "title": "Versionen" }))
                .send()
                .await
                .unwrap()
                .json()
                .await
                .unwrap();
            doc = created["id"].as_str().unwrap().to_owned();
        }
        // Every version acknowledged before the kill survives it, whole.
        let listed: Value = http
            .get(format!("http://{addr}/api/docs/{doc}/versions"))
            .send()
            .await
            .unwrap()
            .json()
            .await
            .unwrap();
        let listed: Vec<String> = listed
            .as_array()
            .unwrap()
            .iter()
            .map(|v| v["id"].as_str().unwrap().to_owned())
            .collect();
        for id in &acknowledged {
            assert!(listed.contains(id), "round {round}: version {id} was lost");
        }
        for id in &listed {
            let read = http
                .get(format!("http://{addr}/api/docs/{doc}/versions/{id}"))
                .send()
                .await
                .unwrap();
            assert_eq!(
                read.status(),
                200,
                "round {round}: version {id} is not whole"
            );
        }
        if let Some(last) = acknowledged.last() {
            let retried = http
                .post(format!(
                    "http://{addr}/api/docs/{doc}/versions/{last}/restore"
                ))
                .send()
                .await
                .unwrap();
            assert_eq!(
                retried.status(),
                200,
                "round {round}: a restore can be retried"
            );
        }

        let writer = Client::connect(&format!("ws://{addr}/ws/{doc}?token={ADMIN}")).await;
        let (tx, mut rx) = tokio::sync::mpsc::unbounded_channel();
        let versions = {
            let (http, doc, addr) = (http.clone(), doc.clone(), addr.clone());
            tokio::spawn(async move {
                for i in 0.. {
                    writer
                        .push_paragraph(&format!("Runde {round}, Absatz {i}"))
                        .await;
                    let made = http
                        .post(format!("http://{addr}/api/docs/{doc}/versions"))
                        .json(&json!({ "name": format!("r{round}v{i}") }))
                        .send()
                        .await;
                    let Ok(made) = made else { break };
                    if made.status() != 201 {
                        break;
                    }
                    let version: Value = match made.json().await {
                        Ok(v) => v,
                        Err(_) => break,
                    };
                    let id = version["id"].as_str().unwrap().to_owned();
                    let _ = tx.send(id.clone());
                    if i % 3 == 2 {
                        let restored = http
                            .post(format!(
                                "http://{addr}/api/docs/{doc}/versions/{id}/restore"
                            ))
                            .send()
                            .await;
                        if restored.is_err() {
                            break;
                        }
                    }
                }
            })
        };
        tokio::time::sleep(Duration::from_millis(150 + rand::random::<u64>() % 400)).await;
        server.start_kill().expect("SIGKILL");
        server.wait().await.expect("server exits");
        let _ = versions.await;
        while let Ok(id) = rx.try_recv() {
            acknowledged.push(id);
        }
    }
    assert!(
        acknowledged.len() >= 4,
        "versions were made: {acknowledged:?}"
    );
}
