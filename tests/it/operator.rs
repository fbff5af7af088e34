//! The operator's path, with the real binary: the first start's admin link, a new admin
//! link when that one is lost, and the invite commands talking to the running server.

use std::path::Path;

use serde_json::Value;

use crate::binary::{binary, spawn_bare, spawn_with};
use crate::support::{upgrade_status, Client};

/// Runs `leitbild ARGS --data DIR`; returns exit code, stdout and stderr.
async fn leitbild(data: &Path, args: &[&str]) -> (i32, String, String) {
    let output = tokio::process::Command::new(binary())
        .args(args)
        .arg("--data")
        .arg(data)
        .env("LEITBILD_LOG", "warn")
        .output()
        .await
        .expect("runs");
    (
        output.status.code().unwrap_or(-1),
        String::from_utf8_lossy(&output.stdout).into_owned(),
        String::from_utf8_lossy(&output.stderr).into_owned(),
    )
}

/// The token of the first `…?token=` link in `text`.
fn token_in(text: &str) -> Option<String> {
    let rest = text.split("?token=").nth(1)?;
    Some(
        rest.chars()
            .take_while(|c| c.is_ascii_alphanumeric() || "-_".contains(*c))
            .collect(),
    )
}

async fn me(addr: &str, token: &str) -> reqwest::Response {
    reqwest::Client::new()
        .get(format!("http://{addr}/api/me"))
        .bearer_auth(token)
        .send()
        .await
        .unwrap()
}

#[tokio::test]
async fn a_new_data_dir_prints_an_admin_link_and_admin_link_replaces_it() {
    let dir = tempfile::tempdir().unwrap();
    let (mut server, addr, welcome) = spawn_bare(dir.path(), &[]).await;
    assert!(
        welcome.contains(&format!("http://{addr}/?token=")),
        "{welcome}"
    );
    let first = token_in(&welcome).unwrap();
    let answer: Value = me(&addr, &first).await.json().await.unwrap();
    assert_eq!(answer["admin"], true);
    // Opening the link in a browser gives an admin session.
    let opened = reqwest::Client::builder()
        .redirect(reqwest::redirect::Policy::none())
        .build()
        .unwrap()
        .get(format!("http://{addr}/?token={first}"))
        .send()
        .await
        .unwrap();
    assert_eq!(opened.status(), 303);
    let cookie = opened.headers()["set-cookie"]
        .to_str()
        .unwrap()
        .split(';')
        .next()
        .unwrap()
        .to_owned();

    // Only the first start shows a link; later ones say how to get a new one.
    server.start_kill().unwrap();
    server.wait().await.unwrap();
    let (_server, addr, welcome) = spawn_bare(dir.path(), &[]).await;
    assert_eq!(token_in(&welcome), None, "{welcome}");
    assert!(welcome.contains("leitbild admin-link"), "{welcome}");
    assert_eq!(
        me(&addr, &first).await.status(),
        200,
        "the first link still works"
    );

    let (code, out, err) = leitbild(dir.path(), &["admin-link"]).await;
    assert_eq!(code, 0, "{err}");
    let second = token_in(&out).unwrap();
    assert!(out.starts_with(&format!("http://{addr}/?token=")), "{out}");
    assert_eq!(
        me(&addr, &second).await.json::<Value>().await.unwrap()["admin"],
        true
    );
    assert_eq!(
        me(&addr, &first).await.status(),
        401,
        "the lost link is dead"
    );
    let old_session = reqwest::Client::new()
        .get(format!("http://{addr}/api/me"))
        .header("cookie", cookie)
        .send()
        .await
        .unwrap();
    assert_eq!(old_session.status(), 403, "and so is the session it opened");
}

#[tokio::test]
async fn invite_commands_talk_to_the_running_server() {
    let dir = tempfile::tempdir().unwrap();
    let (_server, addr) = spawn_with(dir.path(), &[]).await;
    let (code, out, err) = leitbild(
        dir.path(),
        &[
            "invite",
            "create",
            "--doc",
            "bildungsleitbild",
            "--role",
            "editor",
            "--name",
            "Anna Krüger",
            "--group",
            "Kita-Verbund Parchim",
            "--expires",
            "30d",
        ],
    )
    .await;
    assert_eq!(code, 0, "{err}");
    assert!(
        out.starts_with(&format!("http://{addr}/d/bildungsleitbild?token=")),
        "{out}"
    );
    assert!(
        out.contains("Anna Krüger, Kita-Verbund Parchim as editor, valid until"),
        "{out}"
    );
    let token = token_in(&out).unwrap();
    let anna = Client::connect(&format!("ws://{addr}/ws/bildungsleitbild?token={token}")).await;

    let (code, list, _) =
        leitbild(dir.path(), &["invite", "list", "--doc", "bildungsleitbild"]).await;
    assert_eq!(code, 0);
    let id = list.split_whitespace().next().unwrap().to_owned();
    assert!(
        list.contains("editor") && list.contains("active") && list.contains("Anna Krüger"),
        "{list}"
    );

    let (code, out, err) = leitbild(dir.path(), &["invite", "revoke", &id]).await;
    assert_eq!(code, 0, "{err}");
    assert!(out.contains(&format!("Revoked invite {id}")), "{out}");
    assert_eq!(anna.closed().await.map(|c| c.0), Some(4403));
    let url = format!("ws://{addr}/ws/bildungsleitbild?token={token}");
    assert_eq!(upgrade_status(&url, &[]).await, 403);
    let (_, list, _) = leitbild(dir.path(), &["invite", "list", "--doc", "bildungsleitbild"]).await;
    assert!(list.contains("revoked"), "{list}");

    // Mistakes get a clear message and exit code 1.
    let cases: [(&[&str], &str); 4] = [
        (
            &[
                "invite",
                "create",
                "--doc",
                "bildungsleitbild",
                "--role",
                "admin",
                "--name",
                "A",
            ],
            "cannot invite someone as admin",
        ),
        (
            &[
                "invite",
                "create",
                "--doc",
                "bildungsleitbild",
                "--role",
                "editor",
                "--name",
                "A",
                "--expires",
                "bald",
            ],
            "use a date",
        ),
        (
            &[
                "invite", "create", "--doc", "fehlt", "--role", "editor", "--name", "A",
            ],
            "404",
        ),
        (&["invite", "revoke", "0000000000000000"], "404"),
    ];
    for (args, message) in cases {
        let (code, _, err) = leitbild(dir.path(), args).await;
        assert_eq!(code, 1, "{args:?}");
        assert!(err.contains(message), "{args:?}: {err}");
    }
}

#[tokio::test]
async fn operator_commands_say_so_when_no_server_runs() {
    let dir = tempfile::tempdir().unwrap();
    for args in [&["admin-link"][..], &["invite", "list", "--doc", "x"]] {
        let (code, out, err) = leitbild(dir.path(), args).await;
        assert_eq!(code, 1, "{args:?}");
        assert!(out.is_empty());
        assert!(err.contains("cannot reach a running server"), "{err}");
        assert!(err.contains("Start the server first"), "{err}");
    }
}

/// A port in use, a data dir another server holds, and a damaged store: each is one clear
/// line on stderr naming the cause, exit code 1, no welcome and no backtrace.
#[tokio::test]
async fn start_up_failures_are_one_line_each_and_no_welcome() {
    let dir = tempfile::tempdir().unwrap();
    let data = dir.path().join("data");
    let (_running, addr) = spawn_with(&data, &[]).await;
    let check = |(code, out, err): (i32, String, String), what: &str, says: &str| {
        assert_eq!(code, 1, "{what}: exit code; stderr {err}");
        assert!(
            !out.contains("Leitbild is running") && !out.contains("läuft"),
            "{what}: no welcome: {out}"
        );
        let lines: Vec<&str> = err.lines().filter(|l| !l.trim().is_empty()).collect();
        assert_eq!(lines.len(), 1, "{what}: one line: {err}");
        assert!(lines[0].contains(says), "{what}: {err}");
        assert!(
            !err.contains("backtrace") && !err.contains("panicked"),
            "{what}: {err}"
        );
    };
    let other = dir.path().join("other");
    check(
        leitbild(&other, &["serve", "--addr", &addr]).await,
        "port in use",
        &addr,
    );
    check(
        leitbild(&data, &["serve", "--addr", "127.0.0.1:0"]).await,
        "locked data dir",
        data.to_str().unwrap(),
    );
    let damaged = dir.path().join("damaged");
    std::fs::create_dir_all(&damaged).unwrap();
    std::fs::write(damaged.join("conf"), b"segment_size: not a number\n").unwrap();
    std::fs::write(damaged.join("db"), vec![0xA5u8; 4096]).unwrap();
    check(
        leitbild(&damaged, &["serve", "--addr", "127.0.0.1:0"]).await,
        "damaged store",
        damaged.to_str().unwrap(),
    );
}
