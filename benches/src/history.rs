//! `history`: the history API (issue 8) on a document written from an editing trace.
//!
//! One writer replays the trace into one document, paced over `--seconds` so that the
//! log records carry timestamps spread over the replay. At evenly spaced checkpoints the
//! writer stops until an observer has exactly that prefix (so the server has made it
//! durable) and notes the wall-clock time. Then, on the same running server and as
//! admin, it times `/at` at random moments and checks its text at the checkpoints, times
//! `/diff` from the halfway checkpoint to now and `/blame` of now, names a version and
//! diffs from it, and reports the data dir and the server's memory.
//!
//! The trace is written as a Tiptap document ([`Prose`]): the history API reads the
//! `default` XmlFragment, not a Y.Text. Timings are printed beside the issue's targets and
//! never fail the run; a wrong text does.

use crate::client::{self, Incoming, Ws};
use crate::latency::nearest_rank;
use crate::report::{mib_from_kib, ms, Table};
use crate::server::{dir_size, ServerProcess, WorkDir};
use crate::trace::{prose_len, prose_text, Layout, Prose, Trace};
use crate::ServerOpts;
use anyhow::{bail, ensure, Context, Result};
use futures_util::{SinkExt, StreamExt};
use serde_json::Value;
use std::path::PathBuf;
use std::time::{Duration, Instant, SystemTime, UNIX_EPOCH};
use tokio::sync::watch;
use tokio::time::timeout_at;
use tokio_tungstenite::tungstenite::Message as WsMessage;
use yrs::updates::decoder::Decode;
use yrs::{ClientID, Doc, OffsetKind, Options, ReadTxn, Transact, Update};

/// The writer's client id: fixed, and below 2^31 so any Yjs peer accepts it.
const WRITER: u64 = 0x2EB1_7B12;

/// How often the paced writer hands a batch to its socket.
const TICK: Duration = Duration::from_millis(10);

/// The pause after each checkpoint before the next update is sent. It must exceed the
/// server's compaction window (small records of one author within 1 s are merged and
/// take the timestamp of the last): then no merged record spans a checkpoint, and the
/// text at a checkpoint's time is exactly the prefix sent before it.
const SETTLE: Duration = Duration::from_millis(1100);

/// The issue's targets, in milliseconds.
const TARGET_AT_P95_MS: u32 = 100;
const TARGET_DIFF_MS: u32 = 50;
const TARGET_BLAME_MS: u32 = 100;

#[derive(clap::Args)]
pub struct HistoryArgs {
    /// Gzip'd JSON editing trace.
    #[arg(long, default_value = "../shared/traces/automerge-paper.json.gz")]
    trace: PathBuf,
    /// Spread the sending of the trace over about this many seconds (the pauses at the
    /// checkpoints, 1.1 s each, come on top).
    #[arg(long, default_value_t = 20.0)]
    seconds: f64,
    /// Checkpoints during the replay, evenly spaced; the last is the end of the trace.
    #[arg(long, default_value_t = 8)]
    checkpoints: usize,
    /// Random moments of the replay at which `/at` is timed.
    #[arg(long, default_value_t = 20)]
    samples: usize,
    /// Seed for those moments (offsets into the replay, so runs are comparable).
    #[arg(long, default_value_t = 8)]
    seed: u64,
    /// How often each diff, blame and text request is repeated.
    #[arg(long, default_value_t = 5)]
    runs: usize,
    /// How the text is laid out in the Tiptap document.
    #[arg(long, value_enum, default_value = "paragraphs")]
    layout: Layout,
    /// Document name.
    #[arg(long, default_value = "trace")]
    doc: String,
    /// Give up (and fail) if the replay has not finished after this many seconds.
    #[arg(long, default_value_t = 600)]
    timeout: u64,
    #[command(flatten)]
    server: ServerOpts,
}

/// A point of the replay whose text is known: after the first `pos` updates.
struct Checkpoint {
    pos: usize,
    /// The text there, from the trace's own model.
    text: String,
    /// What an observer shows there: the writer's clock and the text length. Updates
    /// that do not advance the clock only delete, so the pair tells prefixes apart.
    clock: u32,
    len: u32,
    /// Wall-clock ms at which an observer had this prefix (set during the replay).
    at_ms: u64,
}

/// The trace as prose updates, with the checkpoints' texts.
struct Encoded {
    updates: Vec<Vec<u8>>,
    checkpoints: Vec<Checkpoint>,
    end_content: String,
}

fn encode(args: &HistoryArgs, writer: ClientID) -> Result<Encoded> {
    let trace = Trace::load(&args.trace)?;
    let (mut prose, first) = Prose::new(writer, args.layout, &trace.start_content)?;
    let total = trace.txns.len() + 1;
    let mut updates = Vec::with_capacity(total);
    updates.push(first);
    // Position 0: the document exists but holds nothing yet (not even the paragraph).
    let mut checkpoints = vec![Checkpoint {
        pos: 0,
        text: String::new(),
        clock: 0,
        len: 0,
        at_ms: 0,
    }];
    let mut txns = trace.txns.iter();
    for k in 1..=args.checkpoints {
        let pos = (total * k).div_ceil(args.checkpoints);
        if checkpoints.last().is_some_and(|c| c.pos >= pos) {
            continue; // a trace shorter than the number of checkpoints
        }
        while updates.len() < pos {
            let txn = txns.next().context("trace ended early")?;
            updates.push(prose.apply(&txn.patches)?);
        }
        checkpoints.push(Checkpoint {
            pos,
            text: prose.text(),
            clock: prose.clock(),
            len: prose.len(),
            at_ms: 0,
        });
    }
    ensure!(
        prose.text() == trace.end_content,
        "replaying the trace as prose does not give its endContent"
    );
    ensure!(
        prose.doc_text() == trace.end_content,
        "the prose document's text differs from the trace's endContent"
    );
    Ok(Encoded {
        updates,
        checkpoints,
        end_content: trace.end_content,
    })
}

pub async fn run(args: HistoryArgs) -> Result<()> {
    ensure!(args.checkpoints >= 2, "--checkpoints must be at least 2");
    ensure!(
        args.seconds > 0.0 && args.seconds.is_finite(),
        "--seconds must be positive"
    );
    ensure!(
        args.samples >= 1 && args.runs >= 1,
        "--samples and --runs must be positive"
    );
    let deadline = Instant::now() + Duration::from_secs(args.timeout);

    eprintln!(
        "loading {} and encoding it as prose ({:?}) ...",
        args.trace.display(),
        args.layout
    );
    let writer = ClientID::new(WRITER);
    let mut encoded = encode(&args, writer)?;
    let total = encoded.updates.len();
    let update_bytes: u64 = encoded.updates.iter().map(|u| u.len() as u64).sum();
    let frames: Vec<WsMessage> = encoded
        .updates
        .iter()
        .map(|u| client::update(u.clone()))
        .collect();
    let end = encoded.checkpoints.last().context("no checkpoints")?;
    let done = (end.clock, end.len);

    let work = WorkDir::create(args.server.keep)?;
    let mut server =
        ServerProcess::start(&args.server.server_bin, &work.data(), &work.log("run")).await?;
    let base = server.ws_base();
    let token = server.credential(&args.doc, args.server.auth).await?;

    // The observer integrates everything and shows where it is; the writer waits on it at
    // the checkpoints.
    let observer_doc = utf16_doc();
    let (ws, step2, early) =
        client::connect_synced(&base, &args.doc, token.as_deref(), &observer_doc)
            .await
            .context("observer")?;
    let (progress_tx, mut progress) = watch::channel((u32::MAX, u32::MAX));
    let initial: Vec<Vec<u8>> = [step2].into_iter().chain(early).collect();
    let observer = tokio::spawn(observe(
        ws,
        observer_doc,
        initial,
        writer,
        progress_tx,
        done,
    ));

    let (ws, _, _) = client::connect_synced(&base, &args.doc, token.as_deref(), &Doc::new())
        .await
        .context("writer")?;
    let (mut sink, mut stream) = ws.split();
    // The writer also reads, so pings are answered and a dropped connection is noticed.
    let writer_reader = tokio::spawn(async move {
        let mut inbox = Vec::new();
        loop {
            client::recv(&mut stream, &mut inbox).await?;
        }
        #[allow(unreachable_code)]
        Ok::<(), anyhow::Error>(())
    });

    eprintln!(
        "{total} updates, {update_bytes} update bytes; sending over ~{} s with {} checkpoints",
        args.seconds,
        encoded.checkpoints.len() - 1
    );
    let rate = total as f64 / args.seconds;
    let replay_started = Instant::now();
    let mut sending = Duration::ZERO;
    let mut sent = 0;
    for checkpoint in encoded.checkpoints.iter_mut() {
        let (base, began) = (sent, Instant::now());
        let mut next_tick = began;
        while sent < checkpoint.pos {
            let due = base + (began.elapsed().as_secs_f64() * rate).ceil() as usize;
            let due = due.clamp(sent + 1, checkpoint.pos);
            for frame in &frames[sent..due] {
                sink.feed(frame.clone()).await?;
            }
            sink.flush().await.context("writer: sending updates")?;
            sent = due;
            if sent < checkpoint.pos {
                next_tick += TICK;
                tokio::time::sleep_until(next_tick.into()).await;
            }
        }
        sending += began.elapsed();
        let want = (checkpoint.clock, checkpoint.len);
        let reached = timeout_at(deadline.into(), progress.wait_for(|&p| p == want))
            .await
            .with_context(|| format!("timed out waiting for the observer at update {sent}"))?
            .is_ok();
        if !reached {
            // The observer ended early: its error says why.
            observer.await.context("observer panicked")??;
            bail!("the observer ended before update {sent}");
        }
        checkpoint.at_ms = wall_ms();
        if writer_reader.is_finished() {
            return Err(writer_reader
                .await?
                .unwrap_err()
                .context("writer connection"));
        }
        if checkpoint.pos < total {
            tokio::time::sleep(SETTLE).await;
        }
    }
    let replay_time = replay_started.elapsed();
    let live_text = observer.await.context("observer panicked")??;
    let live_ok = live_text == encoded.end_content;
    let checkpoints = &encoded.checkpoints;
    eprintln!(
        "replayed in {:.1} s; querying the history",
        replay_time.as_secs_f64()
    );

    let memory_replayed = server.memory()?;
    let dir_live = dir_size(&work.data())?;
    let doc = &args.doc;
    let end_txt = rendered_txt(&encoded.end_content, args.layout);

    // The first history request of all: the server keeps nothing of the log yet, so it
    // reads it whole, reads the authorship of every record and replays halfway.
    let half = checkpoints
        .iter()
        .min_by_key(|c| c.pos.abs_diff(total / 2))
        .context("no checkpoints")?;
    let half_path = format!("/api/docs/{doc}/diff?from={}&to=now", rfc3339(half.at_ms));
    let (first_diff_us, first_diff_body) = get(&server, &half_path).await?;

    // A baseline: the current text, rendered by the room, without any history.
    let (text_lat, text_body, text_cpu) = repeat(
        &server,
        args.runs,
        &format!("/api/docs/{doc}/text?format=txt"),
    )
    .await?;
    let text_ok = text_body == end_txt;
    report_mismatch("/text?format=txt", &end_txt, &text_body);

    // The text at random moments of the replay.
    let (t0, t_end) = (
        checkpoints[0].at_ms,
        checkpoints[checkpoints.len() - 1].at_ms,
    );
    let mut rng = SplitMix64(args.seed);
    let mut at_lat = Vec::with_capacity(args.samples);
    let cpu0 = server.cpu()?;
    for _ in 0..args.samples {
        // A fraction of the replay, so that a seed picks the same points of the trace
        // whatever the replay's exact length.
        let t = t0 + (rng.fraction() * (t_end - t0) as f64).round() as u64;
        let path = format!("/api/docs/{doc}/at?t={}&format=txt", rfc3339(t));
        let (us, _) = get(&server, &path).await?;
        at_lat.push(us);
    }
    let at_cpu = (server.cpu()? - cpu0) / args.samples as u32;
    at_lat.sort_unstable();

    // The text at each checkpoint, against the trace's.
    let mut at_checks = Vec::with_capacity(checkpoints.len());
    for checkpoint in checkpoints {
        let path = format!(
            "/api/docs/{doc}/at?t={}&format=txt",
            rfc3339(checkpoint.at_ms)
        );
        let (us, body) = get(&server, &path).await?;
        let expected = rendered_txt(&checkpoint.text, args.layout);
        report_mismatch(
            &format!("/at after {} updates", checkpoint.pos),
            &expected,
            &body,
        );
        at_checks.push((us, body == expected));
    }
    let (_, at_end_json) = get(
        &server,
        &format!("/api/docs/{doc}/at?t={}&format=json", rfc3339(t_end)),
    )
    .await?;
    let records = serde_json::from_str::<Value>(&at_end_json)?["records"].as_u64();

    // Diff from the halfway checkpoint to now, again.
    let (diff_lat, diff_body, diff_cpu) = repeat(&server, args.runs, &half_path).await?;
    let diff = DiffFigures::of(&diff_body)?;
    let first_diff_same = without_now(&first_diff_body)? == without_now(&diff_body)?;
    // From a moment no request asked for (a 16th of the replay after halfway): a
    // replay from the nearest state kept.
    let near = half.at_ms + (t_end - t0) / 16;
    let (near_lat, _, _) = repeat(
        &server,
        1,
        &format!("/api/docs/{doc}/diff?from={}&to=now", rfc3339(near)),
    )
    .await?;

    // Blame of now.
    let (blame_lat, blame_body, blame_cpu) =
        repeat(&server, args.runs, &format!("/api/docs/{doc}/blame?at=now")).await?;
    let blame: Value = serde_json::from_str(&blame_body).context("blame is no JSON")?;
    let spans = blame["spans"].as_array().map_or(0, Vec::len);
    let blame_text: String = blame["spans"]
        .as_array()
        .into_iter()
        .flatten()
        .filter_map(|s| s["text"].as_str())
        .collect();

    // Naming a version, and diffing from it.
    let creating = Instant::now();
    let (status, created) = server
        .http(
            "POST",
            &format!("/api/docs/{doc}/versions"),
            Some(r#"{"name":"bench"}"#),
        )
        .await?;
    let version_us = creating.elapsed().as_micros() as u32;
    ensure!(status == 201, "naming a version: {status} {created}");
    let version: Value = serde_json::from_str(&created)?;
    let version_id = version["id"].as_str().context("version without id")?;
    let (vdiff_lat, vdiff_body, _) = repeat(
        &server,
        args.runs,
        &format!("/api/docs/{doc}/diff?from={version_id}&to=now"),
    )
    .await?;
    let vdiff = DiffFigures::of(&vdiff_body)?;

    let memory = server.memory()?;
    server.ensure_running()?;
    writer_reader.abort();
    let _ = tokio::time::timeout(Duration::from_secs(5), sink.close()).await;
    let dir_after = dir_size(&work.data())?;
    server.stop().await.context("stopping the server")?;
    let dir_stopped = dir_size(&work.data())?;

    let checks_ok = at_checks.iter().all(|(_, ok)| *ok);
    let pass = |ok: bool| if ok { "PASS" } else { "FAIL" };
    let median = |sorted: &[u32]| ms(nearest_rank(sorted, 50.0));
    let max = |sorted: &[u32]| ms(sorted[sorted.len() - 1]);
    let cpu_ms = |d: Duration| format!("{:.1}", d.as_secs_f64() * 1e3);

    let mut t = Table::new(format!(
        "history: {} ({} updates) as {:?}, replayed over {:.1} s",
        args.trace.display(),
        total,
        args.layout,
        replay_time.as_secs_f64()
    ));
    t.row("updates sent", total, "updates");
    t.row("update bytes sent (v1 payloads)", update_bytes, "bytes");
    t.row(
        "sending time (paced, without checkpoint pauses)",
        format!("{:.1}", sending.as_secs_f64()),
        "s",
    );
    t.row(
        "replay (first to last checkpoint)",
        format!("{:.1}", (t_end - t0) as f64 / 1e3),
        "s",
    );
    if let Some(records) = records {
        t.row("log records at the end of the replay", records, "records");
    }
    t.row("final text", encoded.end_content.chars().count(), "chars");
    t.row("live observer text == endContent", pass(live_ok), "");
    t.row(
        "/text?format=txt (now, no history) median",
        median(&text_lat),
        "ms",
    );
    t.row("/text ... server CPU per request", cpu_ms(text_cpu), "ms");
    t.row("/text?format=txt == expected", pass(text_ok), "");
    t.row(
        format!("/at?format=txt over {} random moments: p50", args.samples),
        ms(nearest_rank(&at_lat, 50.0)),
        "ms",
    );
    t.row(
        format!("/at ... p95 (target <= {TARGET_AT_P95_MS} ms)"),
        ms(nearest_rank(&at_lat, 95.0)),
        "ms",
    );
    t.row("/at ... max", max(&at_lat), "ms");
    t.row("/at ... server CPU per request", cpu_ms(at_cpu), "ms");
    let n = checkpoints.len() - 1;
    for (k, (checkpoint, (us, ok))) in checkpoints.iter().zip(&at_checks).enumerate() {
        t.row(
            format!(
                "/at checkpoint {k}/{n} ({} updates, {} chars): text, latency",
                checkpoint.pos,
                checkpoint.text.chars().count()
            ),
            pass(*ok),
            &format!("{} ms", ms(*us)),
        );
    }
    t.row(
        format!(
            "/diff halfway ({} updates) -> now: median (target <= {TARGET_DIFF_MS} ms)",
            half.pos
        ),
        median(&diff_lat),
        "ms",
    );
    t.row("/diff halfway -> now: max", max(&diff_lat), "ms");
    t.row(
        "/diff halfway -> now: the first history request (nothing kept yet)",
        ms(first_diff_us),
        "ms",
    );
    t.row(
        "/diff halfway -> now: first answer == later answers",
        pass(first_diff_same),
        "",
    );
    t.row(
        "/diff from a moment not asked before (halfway + 1/16) -> now",
        median(&near_lat),
        "ms",
    );
    t.row(
        "/diff halfway -> now: server CPU per request",
        cpu_ms(diff_cpu),
        "ms",
    );
    t.row("/diff halfway -> now: response", diff_body.len(), "bytes");
    t.row("/diff halfway -> now: blocks", diff.blocks, "");
    for (name, count) in &diff.summary {
        t.row(format!("/diff halfway -> now: summary {name}"), count, "");
    }
    t.row("/diff halfway -> now: summary authors", diff.authors, "");
    t.row(
        format!("/blame now: median (target <= {TARGET_BLAME_MS} ms)"),
        median(&blame_lat),
        "ms",
    );
    t.row("/blame now: max", max(&blame_lat), "ms");
    t.row(
        "/blame now: server CPU per request",
        cpu_ms(blame_cpu),
        "ms",
    );
    t.row("/blame now: response", blame_body.len(), "bytes");
    t.row("/blame now: spans", spans, "");
    t.row(
        "/blame now: span texts == final text (newlines aside)",
        pass(strip_newlines(&blame_text) == strip_newlines(&encoded.end_content)),
        "",
    );
    t.row("POST /versions (name a version)", ms(version_us), "ms");
    t.row(
        "/diff named version -> now (same text): median",
        median(&vdiff_lat),
        "ms",
    );
    t.row("/diff named version -> now: max", max(&vdiff_lat), "ms");
    t.row(
        "/diff named version -> now: blocks not equal",
        format!("{} of {}", vdiff.unequal, vdiff.blocks),
        "",
    );
    t.row(
        "server RSS after the replay (VmRSS)",
        mib_from_kib(memory_replayed.rss_kib),
        "MiB",
    );
    t.row(
        "server RSS after the queries (VmRSS)",
        mib_from_kib(memory.rss_kib),
        "MiB",
    );
    t.row(
        "server peak RSS (VmHWM)",
        mib_from_kib(memory.hwm_kib),
        "MiB",
    );
    t.row("data dir size, after the replay", dir_live, "bytes");
    t.row("data dir size, after the queries", dir_after, "bytes");
    t.row("data dir size, after SIGTERM", dir_stopped, "bytes");
    t.row(
        "data dir / update bytes (after SIGTERM; target <= 2)",
        format!("{:.2}", dir_stopped as f64 / update_bytes as f64),
        "x",
    );
    t.print();
    println!(
        "note: timings are end to end over loopback HTTP/1.0 (a connection per request), \
         the bench and the server share this machine ({} cores); targets are not enforced.",
        std::thread::available_parallelism().map_or(0, |n| n.get())
    );
    if args.server.keep {
        println!("data dir and server logs kept in {}", work.root().display());
    }

    ensure!(
        live_ok,
        "FAIL: the live observer's text differs from endContent"
    );
    ensure!(text_ok, "FAIL: /text differs from the expected rendering");
    ensure!(
        checks_ok,
        "FAIL: /at at a checkpoint differs from the trace's text there"
    );
    Ok(())
}

/// Follows the writer, publishing (writer clock, text length) after every message, until
/// the document is at `done`; returns its text.
async fn observe(
    mut ws: Ws,
    doc: Doc,
    initial: Vec<Vec<u8>>,
    writer: ClientID,
    progress: watch::Sender<(u32, u32)>,
    done: (u32, u32),
) -> Result<String> {
    let mut inbox: Vec<Incoming> = initial.into_iter().map(Incoming::Update).collect();
    loop {
        for msg in inbox.drain(..) {
            match msg {
                Incoming::Step1(sv) => {
                    let reply = doc.transact().encode_state_as_update_v1(&sv);
                    ws.send(client::step2(reply)).await?;
                }
                Incoming::Step2(u) | Incoming::Update(u) => {
                    let update = Update::decode_v1(&u).context("undecodable update")?;
                    doc.transact_mut()
                        .apply_update(update)
                        .context("applying update")?;
                }
                Incoming::Other => {}
            }
        }
        // Not in one expression: `prose_len` needs the document unborrowed.
        let clock = doc.transact().state_vector().get(&writer);
        let now = (clock, prose_len(&doc));
        progress.send_replace(now);
        if now == done {
            client::close(ws).await;
            return Ok(prose_text(&doc));
        }
        client::recv(&mut ws, &mut inbox)
            .await
            .context("observer")?;
    }
}

fn utf16_doc() -> Doc {
    Doc::with_options(Options {
        offset_kind: OffsetKind::Utf16,
        ..Options::default()
    })
}

/// One GET as admin that must answer 200: its latency in µs and its body.
async fn get(server: &ServerProcess, path: &str) -> Result<(u32, String)> {
    let started = Instant::now();
    let (status, body) = server.http("GET", path, None).await?;
    let us = started.elapsed().as_micros().min(u32::MAX as u128) as u32;
    ensure!(status == 200, "GET {path}: {status} {body}");
    Ok((us, body))
}

/// `runs` GETs of `path`: sorted latencies, the last body, and the server's CPU time per
/// request.
async fn repeat(
    server: &ServerProcess,
    runs: usize,
    path: &str,
) -> Result<(Vec<u32>, String, Duration)> {
    let cpu0 = server.cpu()?;
    let mut latencies = Vec::with_capacity(runs);
    let mut body = String::new();
    for _ in 0..runs {
        let (us, b) = get(server, path).await?;
        latencies.push(us);
        body = b;
    }
    let cpu = (server.cpu()? - cpu0) / runs as u32;
    latencies.sort_unstable();
    Ok((latencies, body, cpu))
}

/// A diff response without the time of its `now` point, which changes with every request.
fn without_now(body: &str) -> Result<Value> {
    let mut diff: Value = serde_json::from_str(body).context("diff is no JSON")?;
    for point in ["from", "to"] {
        if diff[point]["kind"] == "now" {
            diff[point]["at"] = Value::Null;
        }
    }
    Ok(diff)
}

/// What a diff response says: its blocks and the counts of its summary.
struct DiffFigures {
    blocks: usize,
    /// Blocks whose op is not `equal`.
    unequal: usize,
    /// `(name, count)` of the summary, in the API's order.
    summary: Vec<(&'static str, u64)>,
    authors: usize,
}

impl DiffFigures {
    fn of(body: &str) -> Result<DiffFigures> {
        let diff: Value = serde_json::from_str(body).context("diff is no JSON")?;
        let blocks = diff["blocks"].as_array().context("diff without blocks")?;
        let unequal = blocks.iter().filter(|b| b["op"] != "equal").count();
        let s = &diff["summary"];
        let summary = [
            "blocks_added",
            "blocks_removed",
            "blocks_changed",
            "blocks_moved",
            "words_added",
            "words_removed",
        ]
        .map(|name| (name, s[name].as_u64().unwrap_or(0)))
        .to_vec();
        Ok(DiffFigures {
            blocks: blocks.len(),
            unequal,
            summary,
            authors: s["authors"].as_array().map_or(0, Vec::len),
        })
    }
}

/// The server's plain-text rendering (`format=txt`) of a prose text: each paragraph's
/// lines followed by '\n', paragraphs separated by a blank line, blank paragraphs left
/// out.
fn rendered_txt(text: &str, layout: Layout) -> String {
    let paragraphs: Vec<&str> = match layout {
        Layout::Paragraphs => text.split('\n').collect(),
        Layout::Single => vec![text],
    };
    let mut out = String::new();
    for paragraph in paragraphs.into_iter().filter(|p| !p.trim().is_empty()) {
        if !out.is_empty() {
            out.push('\n');
        }
        out.push_str(paragraph);
        out.push('\n');
    }
    out
}

fn strip_newlines(text: &str) -> String {
    text.chars().filter(|&c| c != '\n').collect()
}

/// On stderr: where a text differs from the expected one, to tell a rendering question
/// from a history one.
fn report_mismatch(what: &str, expected: &str, got: &str) {
    if expected == got {
        return;
    }
    let at = expected
        .chars()
        .zip(got.chars())
        .take_while(|(a, b)| a == b)
        .count();
    let around = |s: &str| {
        s.chars()
            .skip(at.saturating_sub(20))
            .take(60)
            .collect::<String>()
    };
    eprintln!(
        "{what}: {} chars expected, {} received; first difference at char {at}: \
         expected {:?}, received {:?}",
        expected.chars().count(),
        got.chars().count(),
        around(expected),
        around(got)
    );
}

/// Milliseconds since the Unix epoch, as the server stamps its log records.
fn wall_ms() -> u64 {
    SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .map_or(0, |d| d.as_millis() as u64)
}

/// `2026-11-30T21:00:52.123Z` for a time in ms since the epoch.
fn rfc3339(ms: u64) -> String {
    let secs = ms / 1000;
    let (y, m, d) = civil_from_days((secs / 86_400) as i64);
    let s = secs % 86_400;
    format!(
        "{y:04}-{m:02}-{d:02}T{:02}:{:02}:{:02}.{:03}Z",
        s / 3600,
        s % 3600 / 60,
        s % 60,
        ms % 1000
    )
}

/// Year, month and day of a day count since 1970-01-01 (Howard Hinnant's algorithm).
fn civil_from_days(days: i64) -> (i64, u32, u32) {
    let z = days + 719_468;
    let era = z.div_euclid(146_097);
    let doe = z.rem_euclid(146_097);
    let yoe = (doe - doe / 1460 + doe / 36_524 - doe / 146_096) / 365;
    let doy = doe - (365 * yoe + yoe / 4 - yoe / 100);
    let mp = (5 * doy + 2) / 153;
    let d = doy - (153 * mp + 2) / 5 + 1;
    let m = if mp < 10 { mp + 3 } else { mp - 9 };
    let y = yoe + era * 400 + i64::from(m <= 2);
    (y, m as u32, d as u32)
}

/// A small seeded generator (SplitMix64): the same moments on every run.
struct SplitMix64(u64);

impl SplitMix64 {
    fn next(&mut self) -> u64 {
        self.0 = self.0.wrapping_add(0x9E37_79B9_7F4A_7C15);
        let mut z = self.0;
        z = (z ^ (z >> 30)).wrapping_mul(0xBF58_476D_1CE4_E5B9);
        z = (z ^ (z >> 27)).wrapping_mul(0x94D0_49BB_1331_11EB);
        z ^ (z >> 31)
    }

    /// Uniform in [0, 1).
    fn fraction(&mut self) -> f64 {
        (self.next() >> 11) as f64 / (1u64 << 53) as f64
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn formats_rfc3339_in_utc_with_milliseconds() {
        assert_eq!(rfc3339(0), "1970-01-01T00:00:00.000Z");
        assert_eq!(rfc3339(1_796_072_452_123), "2026-11-30T21:00:52.123Z");
        assert_eq!(rfc3339(951_782_400_007), "2000-02-29T00:00:00.007Z");
        assert_eq!(rfc3339(1_704_067_199_999), "2023-12-31T23:59:59.999Z");
    }

    #[test]
    fn renders_text_as_the_server_does() {
        let text = "Titel\n\nErster Absatz\n  \nZweiter";
        assert_eq!(
            rendered_txt(text, Layout::Paragraphs),
            "Titel\n\nErster Absatz\n\nZweiter\n"
        );
        assert_eq!(rendered_txt(text, Layout::Single), format!("{text}\n"));
        assert_eq!(rendered_txt("", Layout::Paragraphs), "");
        assert_eq!(rendered_txt(" \n", Layout::Single), "");
    }

    #[test]
    fn the_seeded_moments_repeat() {
        let (mut a, mut b) = (SplitMix64(8), SplitMix64(8));
        let first: Vec<u64> = (0..3).map(|_| a.next()).collect();
        assert_eq!(first, (0..3).map(|_| b.next()).collect::<Vec<_>>());
        assert_ne!(first[0], first[1]);
        let f = a.fraction();
        assert!((0.0..1.0).contains(&f));
    }
}
