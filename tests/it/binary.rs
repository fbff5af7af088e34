//! The real `leitbild` binary as a child process, for the tests that kill it or run its
//! operator commands.

use std::path::{Path, PathBuf};
use std::process::Stdio;
use std::time::Duration;

use tokio::io::{AsyncBufReadExt, BufReader};
use tokio::process::{Child, Command};

use crate::support::ADMIN;

/// The server binary next to this test binary (`target/<profile>/leitbild`), or
/// `$LEITBILD_BIN`.
pub fn binary() -> PathBuf {
    if let Some(path) = std::env::var_os("LEITBILD_BIN") {
        return path.into();
    }
    let exe = std::env::current_exe().expect("test binary path");
    let path = exe
        .parent()
        .and_then(Path::parent)
        .map(|dir| dir.join("leitbild"))
        .expect("target dir");
    assert!(
        path.exists(),
        "{} is missing: run `cargo build -p leitbild` first (scripts/test does)",
        path.display()
    );
    path
}

/// Starts the binary on port 0 with the test admin token and returns it with the address
/// it printed.
pub async fn spawn(data: &Path) -> (Child, String) {
    spawn_with(data, &[]).await
}

/// Like [`spawn`], with extra `serve` flags.
pub async fn spawn_with(data: &Path, flags: &[&str]) -> (Child, String) {
    let mut all = vec!["--admin-token", ADMIN];
    all.extend_from_slice(flags);
    let (child, addr, _) = spawn_bare(data, &all).await;
    (child, addr)
}

/// Starts the binary with exactly `flags` (besides address and data) and returns it with
/// its address and the whole welcome it printed.
pub async fn spawn_bare(data: &Path, flags: &[&str]) -> (Child, String, String) {
    let mut child = Command::new(binary())
        .args(["serve", "--addr", "127.0.0.1:0", "--data"])
        .arg(data)
        .args(flags)
        .env("LEITBILD_LOG", "warn")
        .env_remove("LEITBILD_ADMIN_TOKEN")
        .stdout(Stdio::piped())
        .kill_on_drop(true)
        .spawn()
        .expect("server starts");
    let mut lines = BufReader::new(child.stdout.take().expect("stdout")).lines();
    let welcome = tokio::time::timeout(Duration::from_secs(20), async {
        let mut welcome = String::new();
        while let Some(line) = lines.next_line().await.expect("read stdout") {
            welcome.push_str(&line);
            welcome.push('\n');
            // The welcome's last line.
            if line.starts_with("Ctrl+C stops the server") {
                return welcome;
            }
        }
        panic!("server exited before printing its welcome:\n{welcome}");
    })
    .await
    .expect("server prints its welcome");
    let addr = welcome
        .split("http://")
        .nth(1)
        .and_then(|rest| rest.split('/').next())
        .expect("address in the welcome")
        .to_owned();
    tokio::spawn(async move { while let Ok(Some(_)) = lines.next_line().await {} });
    (child, addr, welcome)
}
