//! The server under test: spawns the real `leitbild` binary on 127.0.0.1 port 0 with a
//! data dir of its own, reads its address from stdout, samples its memory and CPU from
//! /proc, and stops it with SIGTERM (or kills it with SIGKILL). It never talks the
//! protocol; `client` does that.

use anyhow::{bail, Context, Result};
use std::path::{Path, PathBuf};
use std::process::Stdio;
use std::time::Duration;
use tokio::io::{AsyncBufReadExt, BufReader};
use tokio::process::{Child, Command};

/// How long the server may take to print its address, and to exit after SIGTERM.
const START_TIMEOUT: Duration = Duration::from_secs(30);
const STOP_TIMEOUT: Duration = Duration::from_secs(30);

/// Where a run keeps its files: `data/` for the server (and nothing else, so its size is
/// the server's footprint) and the server logs beside it. Removed on drop unless kept.
pub struct WorkDir {
    root: PathBuf,
    keep: bool,
}

impl WorkDir {
    pub fn create(keep: bool) -> Result<Self> {
        let nanos = std::time::SystemTime::now()
            .duration_since(std::time::UNIX_EPOCH)
            .map(|d| d.subsec_nanos())
            .unwrap_or(0);
        let root =
            std::env::temp_dir().join(format!("leitbild-bench-{}-{nanos:x}", std::process::id()));
        std::fs::create_dir_all(root.join("data"))
            .with_context(|| format!("creating {}", root.display()))?;
        Ok(WorkDir { root, keep })
    }

    pub fn data(&self) -> PathBuf {
        self.root.join("data")
    }

    /// Another directory beside `data/`, created empty (a second server's data dir).
    pub fn dir(&self, name: &str) -> Result<PathBuf> {
        let dir = self.root.join(name);
        std::fs::create_dir_all(&dir).with_context(|| format!("creating {}", dir.display()))?;
        Ok(dir)
    }

    pub fn log(&self, name: &str) -> PathBuf {
        self.root.join(format!("{name}.log"))
    }

    pub fn root(&self) -> &Path {
        &self.root
    }
}

impl Drop for WorkDir {
    fn drop(&mut self) {
        if self.keep {
            eprintln!("kept work dir {}", self.root.display());
        } else {
            let _ = std::fs::remove_dir_all(&self.root);
        }
    }
}

/// The admin token the server under test is started with (through the environment, so
/// a server from before access control, which knows no such flag, starts too).
const ADMIN_TOKEN: &str = "leitbild-bench-admin-token-0123456789";

/// How the benchmark's clients authenticate.
#[derive(Debug, Clone, Copy, PartialEq, Eq, clap::ValueEnum)]
pub enum Auth {
    /// One editor invite per document, as people join.
    Editor,
    /// The admin token.
    Admin,
    /// No credential (servers from before access control).
    None,
}

/// A running `leitbild serve`. Killed (SIGKILL) if dropped without `stop`, so a failed
/// benchmark never leaves a server behind.
pub struct ServerProcess {
    child: Child,
    pid: u32,
    addr: String,
    log: PathBuf,
}

/// Memory figures from /proc/PID/status, in KiB.
#[derive(Debug, Clone, Copy)]
pub struct Memory {
    pub rss_kib: u64,
    pub hwm_kib: u64,
}

impl ServerProcess {
    /// Spawn `bin serve --addr 127.0.0.1:0 --data DATA`, stderr to `log`, and wait for the
    /// line on stdout that carries `http://127.0.0.1:PORT`.
    pub async fn start(bin: &Path, data: &Path, log: &Path) -> Result<Self> {
        if !bin.is_file() {
            bail!(
                "server binary {} not found: build it with `cargo build --release -p leitbild` \
                 or pass --server-bin",
                bin.display()
            );
        }
        let log_file =
            std::fs::File::create(log).with_context(|| format!("creating {}", log.display()))?;
        let mut child = Command::new(bin)
            .arg("serve")
            .arg("--addr")
            .arg("127.0.0.1:0")
            .arg("--data")
            .arg(data)
            .env("LEITBILD_ADMIN_TOKEN", ADMIN_TOKEN)
            .stdin(Stdio::null())
            .stdout(Stdio::piped())
            .stderr(Stdio::from(log_file))
            .kill_on_drop(true)
            .spawn()
            .with_context(|| format!("spawning {}", bin.display()))?;
        let pid = child.id().context("server exited at once")?;
        let stdout = child.stdout.take().context("server stdout not captured")?;
        let mut lines = BufReader::new(stdout).lines();

        let addr = tokio::time::timeout(START_TIMEOUT, async {
            while let Some(line) = lines.next_line().await? {
                if let Some(addr) = parse_listen_addr(&line) {
                    return Ok(addr);
                }
            }
            bail!("server closed stdout without printing http://127.0.0.1:PORT")
        })
        .await
        .map_err(|_| {
            anyhow::anyhow!(
                "server did not print its address within {START_TIMEOUT:?} (log: {})",
                log.display()
            )
        })?
        .with_context(|| format!("starting server (log: {})", log.display()))?;

        // Keep draining stdout so the server never blocks on a full pipe.
        tokio::spawn(async move { while let Ok(Some(_)) = lines.next_line().await {} });

        Ok(ServerProcess {
            child,
            pid,
            addr,
            log: log.to_path_buf(),
        })
    }

    /// The server's process id, for [`sigkill`].
    pub fn pid(&self) -> u32 {
        self.pid
    }

    /// Waits for the process to end (after [`sigkill`]) and reaps it.
    pub async fn wait(&mut self) -> Result<std::process::ExitStatus> {
        tokio::time::timeout(STOP_TIMEOUT, self.child.wait())
            .await
            .map_err(|_| anyhow::anyhow!("server {} did not end in time", self.pid))?
            .context("waiting for the server")
    }

    /// `ws://127.0.0.1:PORT`
    pub fn ws_base(&self) -> String {
        format!("ws://{}", self.addr)
    }

    /// The server's `GET /metrics` text.
    pub async fn metrics(&self) -> Result<String> {
        Ok(self.http("GET", "/metrics", None).await?.1)
    }

    /// One HTTP/1.0 request as admin (a fresh connection each time); the status and the
    /// body.
    pub async fn http(
        &self,
        method: &str,
        path: &str,
        body: Option<&str>,
    ) -> Result<(u16, String)> {
        let (status, body) = self.http_bytes(method, path, body, &[]).await?;
        Ok((
            status,
            String::from_utf8(body).context("a body that is not UTF-8")?,
        ))
    }

    /// [`ServerProcess::http`] with extra headers, for any body (a Word file).
    pub async fn http_bytes(
        &self,
        method: &str,
        path: &str,
        body: Option<&str>,
        headers: &[(&str, &str)],
    ) -> Result<(u16, Vec<u8>)> {
        use tokio::io::{AsyncReadExt, AsyncWriteExt};
        let mut stream = tokio::net::TcpStream::connect(&self.addr).await?;
        let body = body.unwrap_or("");
        let extra: String = headers
            .iter()
            .map(|(name, value)| format!("{name}: {value}\r\n"))
            .collect();
        let request = format!(
            "{method} {path} HTTP/1.0\r\nHost: bench\r\nAuthorization: Bearer {ADMIN_TOKEN}\r\n\
             Content-Type: application/json\r\n{extra}Content-Length: {}\r\n\r\n{body}",
            body.len()
        );
        stream.write_all(request.as_bytes()).await?;
        let mut response = Vec::new();
        stream.read_to_end(&mut response).await?;
        let split = response
            .windows(4)
            .position(|w| w == b"\r\n\r\n")
            .context("no end of the HTTP head")?;
        let head = String::from_utf8_lossy(&response[..split]);
        let status = head
            .split_whitespace()
            .nth(1)
            .and_then(|s| s.parse().ok())
            .context("no HTTP status")?;
        Ok((status, response[split + 4..].to_vec()))
    }

    /// The token clients of `doc` connect with. For `Auth::Editor` the document is created
    /// (as admin) and an editor invite made for it; a server that answers 404 to invites
    /// predates access control and needs `--auth none`.
    pub async fn credential(&self, doc: &str, auth: Auth) -> Result<Option<String>> {
        match auth {
            Auth::None => return Ok(None),
            Auth::Admin => return Ok(Some(ADMIN_TOKEN.to_owned())),
            Auth::Editor => {}
        }
        let invite = format!(r#"{{"role":"editor","name":"Bench {doc}"}}"#);
        let path = format!("/api/docs/{doc}/invites");
        let (mut status, mut body) = self.http("POST", &path, Some(&invite)).await?;
        if status == 404 {
            let title = format!(r#"{{"title":"{doc}"}}"#);
            let (created, answer) = self.http("POST", "/api/docs", Some(&title)).await?;
            if created != 201 || !answer.contains(&format!(r#""id":"{doc}""#)) {
                bail!("cannot create {doc} ({created} {answer}); does this server predate access control? try --auth none");
            }
            (status, body) = self.http("POST", &path, Some(&invite)).await?;
        }
        if status != 201 {
            bail!("cannot invite to {doc}: {status} {body}");
        }
        let answer: serde_json::Value = serde_json::from_str(&body)?;
        let token = answer["token"].as_str().context("invite without token")?;
        Ok(Some(token.to_owned()))
    }

    /// Fail if the server has exited on its own.
    pub fn ensure_running(&mut self) -> Result<()> {
        if let Some(status) = self.child.try_wait()? {
            bail!(
                "server exited unexpectedly with {status} (log: {})",
                self.log.display()
            );
        }
        Ok(())
    }

    pub fn memory(&self) -> Result<Memory> {
        memory_of(self.pid)
    }

    /// User plus system CPU time consumed so far.
    pub fn cpu(&self) -> Result<Duration> {
        cpu_of(self.pid)
    }

    /// SIGTERM, then wait for a clean exit. Returns how long the shutdown took.
    pub async fn stop(mut self) -> Result<Duration> {
        self.ensure_running()?;
        let started = std::time::Instant::now();
        // SAFETY: kill(2) with a pid we spawned and still own (not yet reaped).
        let rc = unsafe { libc::kill(self.pid as libc::pid_t, libc::SIGTERM) };
        if rc != 0 {
            bail!(
                "SIGTERM to server {} failed: {}",
                self.pid,
                std::io::Error::last_os_error()
            );
        }
        let status = tokio::time::timeout(STOP_TIMEOUT, self.child.wait())
            .await
            .map_err(|_| {
                anyhow::anyhow!(
                    "server did not exit within {STOP_TIMEOUT:?} of SIGTERM (log: {})",
                    self.log.display()
                )
            })??;
        if !status.success() {
            bail!(
                "server exited with {status} after SIGTERM (log: {})",
                self.log.display()
            );
        }
        Ok(started.elapsed())
    }
}

/// SIGKILL to a server we spawned and have not reaped yet: it dies at once, with no
/// shutdown of any kind, as in a power cut of the process.
pub fn sigkill(pid: u32) -> Result<()> {
    // SAFETY: kill(2) with a pid we spawned and still own (not yet reaped).
    let rc = unsafe { libc::kill(pid as libc::pid_t, libc::SIGKILL) };
    if rc != 0 {
        bail!(
            "SIGKILL to server {pid} failed: {}",
            std::io::Error::last_os_error()
        );
    }
    Ok(())
}

/// The address in a line like `listening on http://127.0.0.1:41234`.
fn parse_listen_addr(line: &str) -> Option<String> {
    let rest = &line[line.find("http://127.0.0.1:")? + "http://".len()..];
    let port_start = "127.0.0.1:".len();
    let digits = rest[port_start..]
        .bytes()
        .take_while(u8::is_ascii_digit)
        .count();
    (digits > 0).then(|| rest[..port_start + digits].to_string())
}

pub fn memory_of(pid: u32) -> Result<Memory> {
    let path = format!("/proc/{pid}/status");
    let status = std::fs::read_to_string(&path).with_context(|| format!("reading {path}"))?;
    let field = |name: &str| -> Result<u64> {
        status
            .lines()
            .find_map(|l| l.strip_prefix(name))
            .and_then(|v| v.trim().trim_end_matches("kB").trim().parse().ok())
            .with_context(|| format!("no {name} in {path}"))
    };
    Ok(Memory {
        rss_kib: field("VmRSS:")?,
        hwm_kib: field("VmHWM:")?,
    })
}

/// utime + stime of a process (`pid` 0 means this process).
pub fn cpu_of(pid: u32) -> Result<Duration> {
    let path = if pid == 0 {
        "/proc/self/stat".to_string()
    } else {
        format!("/proc/{pid}/stat")
    };
    let stat = std::fs::read_to_string(&path).with_context(|| format!("reading {path}"))?;
    // The command name may contain spaces; fields are counted after its closing paren.
    let after = &stat[stat.rfind(')').context("malformed stat")? + 2..];
    let fields: Vec<&str> = after.split_whitespace().collect();
    // utime and stime are fields 14 and 15 of stat(5), i.e. 11 and 12 after the name.
    let ticks: u64 = fields
        .get(11..13)
        .context("short stat")?
        .iter()
        .map(|f| f.parse::<u64>())
        .sum::<Result<u64, _>>()?;
    // SAFETY: sysconf has no preconditions.
    let hz = unsafe { libc::sysconf(libc::_SC_CLK_TCK) }.max(1) as u64;
    Ok(Duration::from_nanos(ticks * 1_000_000_000 / hz))
}

/// Sum of the sizes of all files under `dir`.
pub fn dir_size(dir: &Path) -> Result<u64> {
    let mut total = 0;
    for entry in std::fs::read_dir(dir).with_context(|| format!("reading {}", dir.display()))? {
        let entry = entry?;
        let meta = entry.metadata()?;
        total += if meta.is_dir() {
            dir_size(&entry.path())?
        } else {
            meta.len()
        };
    }
    Ok(total)
}

/// Raise the soft open-files limit to the hard one: thousands of sockets need it.
pub fn raise_open_files_limit() -> Result<u64> {
    let mut lim = libc::rlimit {
        rlim_cur: 0,
        rlim_max: 0,
    };
    // SAFETY: getrlimit/setrlimit write to and read from a valid rlimit struct.
    unsafe {
        if libc::getrlimit(libc::RLIMIT_NOFILE, &mut lim) != 0 {
            bail!("getrlimit: {}", std::io::Error::last_os_error());
        }
        if lim.rlim_cur < lim.rlim_max {
            lim.rlim_cur = lim.rlim_max;
            if libc::setrlimit(libc::RLIMIT_NOFILE, &lim) != 0 {
                bail!("setrlimit: {}", std::io::Error::last_os_error());
            }
        }
    }
    Ok(lim.rlim_cur)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn finds_the_address_in_a_log_line() {
        assert_eq!(
            parse_listen_addr("INFO leitbild: listening on http://127.0.0.1:41234/ ok").as_deref(),
            Some("127.0.0.1:41234")
        );
        assert_eq!(parse_listen_addr("http://127.0.0.1:"), None);
        assert_eq!(parse_listen_addr("starting"), None);
    }

    #[test]
    fn reads_own_process_figures() {
        assert!(memory_of(std::process::id()).unwrap().rss_kib > 0);
        cpu_of(0).unwrap();
    }
}
