//! Damage on disk: copies of a populated data directory with random bytes flipped. Every
//! start must serve exactly the original content, or refuse the damaged document (HTTP
//! 500 with a reason), or refuse the whole directory with one clear line; never a
//! panic, never different content.

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};
use std::process::Stdio;
use std::time::Duration;

use serde_json::{json, Value};
use tokio::io::{AsyncBufReadExt, AsyncReadExt, BufReader};

use crate::binary::{binary, spawn_with};
use crate::support::{Client, ADMIN};

/// Damaged copies tried; each flips `FLIPS` random bits.
const SEEDS: u64 = 60;
const FLIPS: usize = 4;

fn http() -> reqwest::Client {
    reqwest::Client::builder()
        .timeout(Duration::from_secs(10))
        .build()
        .unwrap()
}

async fn text_of(addr: &str, doc: &str) -> reqwest::Response {
    http()
        .get(format!("http://{addr}/api/docs/{doc}/text?format=txt"))
        .bearer_auth(ADMIN)
        .send()
        .await
        .expect("the server answers")
}

/// A data directory with documents of several sizes (one of 1,500 paragraphs, typed
/// through the websocket), invites and audit entries; and each document's text.
async fn populate(data: &Path) -> BTreeMap<String, String> {
    let (mut server, addr) = spawn_with(data, &["--checkpoint-every", "400"]).await;
    let mut docs = BTreeMap::new();
    for (doc, paragraphs) in [("gross", 1500), ("mittel", 120), ("klein", 3)] {
        let client = Client::connect(&format!("ws://{addr}/ws/{doc}?token={ADMIN}")).await;
        for i in 0..paragraphs {
            client
                .push_paragraph(&format!("{doc} Absatz {i}: Bildung für alle, überall."))
                .await;
        }
        let invite = http()
            .post(format!("http://{addr}/api/docs/{doc}/invites"))
            .bearer_auth(ADMIN)
            .json(&json!({"role": "editor", "name": format!("Person {doc}")}))
            .send()
            .await
            .unwrap();
        assert_eq!(invite.status(), 201);
        let expected_len = paragraphs;
        let text = loop {
            let text = text_of(&addr, doc).await.text().await.unwrap();
            if text.lines().filter(|l| !l.is_empty()).count() == expected_len {
                break text;
            }
            tokio::time::sleep(Duration::from_millis(50)).await;
        };
        docs.insert(doc.to_owned(), text);
    }
    let demo = text_of(&addr, "bildungsleitbild")
        .await
        .text()
        .await
        .unwrap();
    docs.insert("bildungsleitbild".into(), demo);
    // A clean stop: everything checkpointed and flushed.
    let pid = server.id().unwrap().to_string();
    tokio::process::Command::new("kill")
        .arg(&pid)
        .status()
        .await
        .unwrap();
    server.wait().await.unwrap();
    docs
}

fn copy_dir(from: &Path, to: &Path) {
    std::fs::create_dir_all(to).unwrap();
    for entry in std::fs::read_dir(from).unwrap() {
        let entry = entry.unwrap();
        let target = to.join(entry.file_name());
        if entry.file_type().unwrap().is_dir() {
            copy_dir(&entry.path(), &target);
        } else {
            std::fs::copy(entry.path(), target).unwrap();
        }
    }
}

fn files(dir: &Path, out: &mut Vec<PathBuf>) {
    for entry in std::fs::read_dir(dir).unwrap() {
        let path = entry.unwrap().path();
        if path.is_dir() {
            files(&path, out);
        } else if !path.ends_with("control.sock") {
            out.push(path);
        }
    }
}

/// Flips `FLIPS` random bits of the directory's files (chosen by size, so mostly in the
/// database file).
fn damage(dir: &Path, rng: &mut impl rand::Rng) -> Vec<String> {
    let mut all = Vec::new();
    files(dir, &mut all);
    let sizes: Vec<u64> = all.iter().map(|p| p.metadata().unwrap().len()).collect();
    let total: u64 = sizes.iter().sum();
    let mut done = Vec::new();
    for _ in 0..FLIPS {
        let mut at = rng.gen_range(0..total);
        let (file, size) = all
            .iter()
            .zip(&sizes)
            .find(|(_, size)| {
                if at < **size {
                    true
                } else {
                    at -= **size;
                    false
                }
            })
            .unwrap();
        assert!(at < *size);
        let mut bytes = std::fs::read(file).unwrap();
        bytes[at as usize] ^= 1 << rng.gen_range(0..8);
        std::fs::write(file, bytes).unwrap();
        done.push(format!(
            "{}@{at}",
            file.file_name().unwrap().to_string_lossy()
        ));
    }
    done
}

/// How one damaged copy behaved.
#[derive(Debug, Default)]
struct Outcomes {
    served_whole: u32,
    docs_refused: u32,
    dir_refused: u32,
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn flipped_bytes_are_served_exactly_or_refused_clearly_never_differently() {
    let work = tempfile::tempdir().unwrap();
    let original = work.path().join("original");
    let expected = populate(&original).await;
    assert!(expected["gross"].len() > 50_000, "a big document");
    let mut outcomes = Outcomes::default();
    for seed in 0..SEEDS {
        let copy = work.path().join(format!("copy-{seed}"));
        copy_dir(&original, &copy);
        let mut rng = <rand::rngs::StdRng as rand::SeedableRng>::seed_from_u64(seed);
        // Seed 0 is the control: an undamaged copy must be served whole.
        let flips = if seed == 0 {
            Vec::new()
        } else {
            damage(&copy, &mut rng)
        };
        let case = format!("seed {seed}, flipped {flips:?}");

        let mut child = tokio::process::Command::new(binary())
            .args([
                "serve",
                "--addr",
                "127.0.0.1:0",
                "--admin-token",
                ADMIN,
                "--data",
            ])
            .arg(&copy)
            .env("LEITBILD_LOG", "error")
            .env("RUST_BACKTRACE", "1")
            .stdout(Stdio::piped())
            .stderr(Stdio::piped())
            .kill_on_drop(true)
            .spawn()
            .unwrap();
        let mut stderr = child.stderr.take().unwrap();
        let mut lines = BufReader::new(child.stdout.take().unwrap()).lines();
        let started = tokio::time::timeout(Duration::from_secs(30), async {
            while let Some(line) = lines.next_line().await.unwrap() {
                if let Some(rest) = line.split("http://").nth(1) {
                    return Some(rest.split('/').next().unwrap().to_owned());
                }
            }
            None
        })
        .await
        .unwrap_or_else(|_| panic!("{case}: the server neither started nor exited"));
        let Some(addr) = started else {
            let status = child.wait().await.unwrap();
            let mut err = String::new();
            stderr.read_to_string(&mut err).await.unwrap();
            assert_eq!(status.code(), Some(1), "{case}: {err}");
            assert!(!err.contains("panicked at"), "{case}: a panic\n{err}");
            let last = err.lines().last().unwrap_or("");
            assert!(
                last.starts_with("error: the data directory")
                    && last.contains("restore it from a backup"),
                "{case}: not the one clear line\n{err}"
            );
            outcomes.dir_refused += 1;
            continue;
        };
        tokio::spawn(async move { while let Ok(Some(_)) = lines.next_line().await {} });

        let mut refused_here = 0;
        for (doc, text) in &expected {
            let response = text_of(&addr, doc).await;
            match response.status().as_u16() {
                200 => assert_eq!(
                    &response.text().await.unwrap(),
                    text,
                    "{case}: {doc} differs"
                ),
                500 | 404 => {
                    let body: Value = response.json().await.unwrap_or(Value::Null);
                    // 404: the damaged metadata left the document out; 500: refused.
                    if body["code"] != "not_found" {
                        assert_eq!(body["code"], "damaged", "{case}: {doc}: {body}");
                    }
                    refused_here += 1;
                }
                other => panic!("{case}: {doc} answered {other}"),
            }
        }
        let list = http()
            .get(format!("http://{addr}/api/docs"))
            .bearer_auth(ADMIN)
            .send()
            .await
            .unwrap();
        assert_eq!(
            list.status(),
            200,
            "{case}: the list survives a damaged entry"
        );
        child.start_kill().unwrap();
        child.wait().await.unwrap();
        let mut err = String::new();
        stderr.read_to_string(&mut err).await.unwrap();
        assert!(
            !err.contains("panicked at"),
            "{case}: an uncaught panic\n{err}"
        );
        if refused_here == 0 {
            outcomes.served_whole += 1;
        } else {
            outcomes.docs_refused += 1;
        }
        std::fs::remove_dir_all(&copy).ok();
    }
    eprintln!("{SEEDS} copies (the first undamaged): {outcomes:?}");
    assert!(
        outcomes.served_whole >= 1,
        "the undamaged copy is served whole"
    );
    assert_eq!(
        outcomes.served_whole + outcomes.docs_refused + outcomes.dir_refused,
        SEEDS as u32
    );
}
