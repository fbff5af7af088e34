//! `archive`: adoption into the archive (issue 9) of a document written from an editing
//! trace, its Word download, and the verification of a chain of many entries.
//!
//! One writer sends the whole trace (as a Tiptap document) to the server, unpaced; once
//! the server's text equals the trace's end, a version is named and adopted `--runs`
//! times (each adoption is a new entry: the time is the whole request, fsync included),
//! its DOCX downloaded `--runs` times, and then the chain is grown to `--entries` with
//! adoptions of the demo document (a realistic mission statement of a few KB) before
//! `/api/archive/verify` is timed. Every adoption's Markdown download is checked against
//! its `sha256`. Timings are printed beside the issue's targets and never fail the run.

use crate::client;
use crate::report::{mib_from_kib, ms, Table};
use crate::server::{dir_size, ServerProcess, WorkDir};
use crate::trace::{Layout, Prose, Trace};
use crate::ServerOpts;
use anyhow::{bail, ensure, Context, Result};
use futures_util::SinkExt;
use serde_json::Value;
use sha2::{Digest, Sha256};
use std::path::PathBuf;
use std::time::{Duration, Instant};
use yrs::{ClientID, Doc};

/// The writer's client id: below 2^31, so any Yjs peer accepts it.
const WRITER: u64 = 0x2EB1_7B13;

/// The demo document every server seeds: the small adoptions that grow the chain.
const DEMO: &str = "bildungsleitbild";

/// The issue's targets, in milliseconds.
const TARGET_ADOPT_MS: u32 = 50;
const TARGET_VERIFY_MS: u32 = 1000;
const TARGET_DOCX_MS: u32 = 200;

#[derive(clap::Args)]
pub struct ArchiveArgs {
    /// Gzip'd JSON editing trace.
    #[arg(long, default_value = "../shared/traces/automerge-paper.json.gz")]
    trace: PathBuf,
    /// How often the trace document is adopted and its DOCX fetched.
    #[arg(long, default_value_t = 10)]
    runs: usize,
    /// Entries in the chain when verification is timed.
    #[arg(long, default_value_t = 1000)]
    entries: usize,
    /// Give up (and fail) if the trace has not arrived after this many seconds.
    #[arg(long, default_value_t = 300)]
    timeout: u64,
    #[command(flatten)]
    server: ServerOpts,
}

pub async fn run(args: ArchiveArgs) -> Result<()> {
    ensure!(args.runs >= 1, "--runs must be positive");
    ensure!(args.entries > args.runs, "--entries must exceed --runs");
    eprintln!("loading {} ...", args.trace.display());
    let trace = Trace::load(&args.trace)?;
    let (mut prose, first) = Prose::new(
        ClientID::new(WRITER),
        Layout::Paragraphs,
        &trace.start_content,
    )?;
    let mut frames = vec![client::update(first)];
    for txn in &trace.txns {
        frames.push(client::update(prose.apply(&txn.patches)?));
    }
    ensure!(
        prose.text() == trace.end_content,
        "the trace does not replay"
    );
    let chars = trace.end_content.chars().count();

    let work = WorkDir::create(args.server.keep)?;
    let server =
        ServerProcess::start(&args.server.server_bin, &work.data(), &work.log("run")).await?;
    let doc = "trace";
    let token = server.credential(doc, args.server.auth).await?;
    let (ws, _, _) = client::connect_synced(&server.ws_base(), doc, token.as_deref(), &Doc::new())
        .await
        .context("writer")?;
    let (mut sink, _stream) = futures_util::StreamExt::split(ws);
    eprintln!(
        "sending {} updates ({chars} characters at the end)",
        frames.len()
    );
    for frame in frames {
        sink.feed(frame).await?;
    }
    sink.flush().await?;
    let deadline = Instant::now() + Duration::from_secs(args.timeout);
    let expected_words = trace.end_content.split_whitespace().count();
    loop {
        let (_, text) = server
            .http("GET", &format!("/api/docs/{doc}/text?format=txt"), None)
            .await?;
        if text.split_whitespace().count() == expected_words {
            break;
        }
        ensure!(
            Instant::now() < deadline,
            "the trace did not arrive in time"
        );
        tokio::time::sleep(Duration::from_millis(200)).await;
    }

    let version = name_version(&server, doc).await?;
    eprintln!("adopting the trace document {} times", args.runs);
    let mut adopt = Vec::new();
    let mut first_entry = String::new();
    for run in 0..args.runs {
        let (us, entry) = adopt_once(&server, doc, &version, &format!("trace-{run}")).await?;
        adopt.push(us);
        first_entry.get_or_insert_empty(&entry);
    }
    adopt.sort_unstable();

    let mut docx = Vec::new();
    let mut docx_bytes = 0;
    for _ in 0..args.runs {
        let path = format!("/api/archive/{first_entry}?format=docx");
        let started = Instant::now();
        let (status, body) = server.http_bytes("GET", &path, None, &[]).await?;
        docx.push(micros(started));
        ensure!(
            status == 200 && body.starts_with(b"PK"),
            "GET {path}: {status}"
        );
        docx_bytes = body.len();
    }
    docx.sort_unstable();

    let small = name_version(&server, DEMO)
        .await
        .context("the demo document (the bench needs a server that seeds it)")?;
    eprintln!("growing the chain to {} entries", args.entries);
    let mut small_adopt = Vec::new();
    for n in args.runs..args.entries {
        let (us, _) = adopt_once(&server, DEMO, &small, &format!("demo-{n}")).await?;
        small_adopt.push(us);
    }
    small_adopt.sort_unstable();

    let mut verify = Vec::new();
    for _ in 0..5 {
        let started = Instant::now();
        let (status, body) = server.http("GET", "/api/archive/verify", None).await?;
        verify.push(micros(started));
        let report: Value = serde_json::from_str(&body)?;
        ensure!(
            status == 200 && report["ok"] == true,
            "verify: {status} {body}"
        );
        ensure!(
            report["entries"].as_u64() == Some(args.entries as u64),
            "verify checked {} entries, not {}",
            report["entries"],
            args.entries
        );
    }
    verify.sort_unstable();
    let memory = server.memory()?;
    let data = dir_size(&work.data())?;

    let mut table = Table::new(format!(
        "archive: the automerge-paper document ({chars} characters), then {} entries",
        args.entries
    ));
    let median = |v: &[u32]| v[v.len() / 2];
    let max = |v: &[u32]| v[v.len() - 1];
    table.row(
        format!(
            "adopt the trace document, median of {} (target <= {TARGET_ADOPT_MS} ms)",
            args.runs
        ),
        ms(median(&adopt)),
        "ms",
    );
    table.row("adopt the trace document, slowest", ms(max(&adopt)), "ms");
    table.row(
        format!(
            "its DOCX, median of {} (target <= {TARGET_DOCX_MS} ms)",
            args.runs
        ),
        ms(median(&docx)),
        "ms",
    );
    table.row("its DOCX, slowest", ms(max(&docx)), "ms");
    table.row("its DOCX, size", docx_bytes / 1024, "KiB");
    table.row(
        "adopt the demo document, median",
        ms(median(&small_adopt)),
        "ms",
    );
    table.row(
        "adopt the demo document, p99",
        ms(small_adopt[small_adopt.len() * 99 / 100]),
        "ms",
    );
    table.row(
        format!(
            "verify {} entries, median of 5 (target <= {TARGET_VERIFY_MS} ms)",
            args.entries
        ),
        ms(median(&verify)),
        "ms",
    );
    table.row("verify, slowest", ms(max(&verify)), "ms");
    table.row("data dir", data / (1024 * 1024), "MiB");
    table.row("server RSS", mib_from_kib(memory.rss_kib), "MiB");
    table.print();
    Ok(())
}

fn micros(started: Instant) -> u32 {
    started.elapsed().as_micros().min(u32::MAX as u128) as u32
}

trait FirstSet {
    fn get_or_insert_empty(&mut self, value: &str);
}

impl FirstSet for String {
    fn get_or_insert_empty(&mut self, value: &str) {
        if self.is_empty() {
            value.clone_into(self);
        }
    }
}

async fn name_version(server: &ServerProcess, doc: &str) -> Result<String> {
    let (status, body) = server
        .http(
            "POST",
            &format!("/api/docs/{doc}/versions"),
            Some(r#"{"name":"Zur Beschlussfassung"}"#),
        )
        .await?;
    ensure!(status == 201, "naming a version of {doc}: {status} {body}");
    let version: Value = serde_json::from_str(&body)?;
    Ok(version["id"]
        .as_str()
        .context("a version without id")?
        .to_owned())
}

/// One adoption: its latency in µs and the entry's id, after checking that the Markdown
/// download hashes to the entry's `sha256`.
async fn adopt_once(
    server: &ServerProcess,
    doc: &str,
    version: &str,
    key: &str,
) -> Result<(u32, String)> {
    let path = format!("/api/docs/{doc}/versions/{version}/adopt");
    let body = r#"{"title":"Leitbild","adopted_by":"Lenkungsausschuss","decided_on":"2026-09-29"}"#;
    let started = Instant::now();
    let (status, answer) = server
        .http_bytes("POST", &path, Some(body), &[("Idempotency-Key", key)])
        .await?;
    let us = micros(started);
    let answer = String::from_utf8(answer)?;
    if status != 201 {
        bail!("adopting {doc} {version}: {status} {answer}");
    }
    let entry: Value = serde_json::from_str(&answer)?;
    let id = entry["id"]
        .as_str()
        .context("an entry without id")?
        .to_owned();
    let (_, markdown) = server
        .http_bytes("GET", &format!("/api/archive/{id}?format=md"), None, &[])
        .await?;
    let hex: String = Sha256::digest(&markdown)
        .iter()
        .map(|b| format!("{b:02x}"))
        .collect();
    ensure!(
        entry["sha256"].as_str() == Some(hex.as_str()),
        "{id}: the Markdown download does not hash to the entry's sha256"
    );
    Ok((us, id))
}
