//! `ingest`: one writer replays an editing trace into one document, N observers follow
//! it, and the figures are taken from the observers' side: an update counts as ingested
//! when every observer has it, which (durable before broadcast) implies it is stored.
//! Then the server is stopped with SIGTERM, restarted on the same data dir, and the
//! document is cold-loaded.
//!
//! A second run replays the trace into a fresh data dir and SIGKILLs the server (no
//! graceful shutdown): right after every observer has the last update, or, with
//! `--kill-at FRACTION`, once every observer has that fraction of the trace. The restarted
//! server must hold at least everything the observers saw, as a state the trace passed
//! through; the cold load after the kill is timed like the one after SIGTERM.

use crate::client::{self, Incoming, Ws};
use crate::clock::now_ns;
use crate::latency::{micros_between, Summary};
use crate::report::{mib_from_kib, ms, Table};
use crate::server::{cpu_of, dir_size, ServerProcess, WorkDir};
use crate::trace::{Trace, TEXT};
use crate::ServerOpts;
use anyhow::{bail, ensure, Context, Result};
use futures_util::{SinkExt, StreamExt};
use std::path::PathBuf;
use std::sync::atomic::{AtomicU64, AtomicUsize, Ordering};
use std::sync::Arc;
use std::time::{Duration, Instant};
use tokio::time::timeout_at;
use tokio_tungstenite::tungstenite::Message as WsMessage;
use yrs::updates::decoder::Decode;
use yrs::{
    ClientID, Doc, GetString, OffsetKind, Options, ReadTxn, StateVector, Text, Transact, Update,
};

/// The writer's client id: fixed, and below 2^31 so any Yjs peer accepts it.
const WRITER: u64 = 0x2EB1_7B11;

#[derive(clap::Args)]
pub struct IngestArgs {
    /// Gzip'd JSON editing trace.
    #[arg(long, default_value = "../shared/traces/automerge-paper.json.gz")]
    trace: PathBuf,
    /// Number of observer connections following the writer.
    #[arg(long, default_value_t = 1)]
    observers: usize,
    /// Send at this many updates per second instead of as fast as possible.
    #[arg(long)]
    rate: Option<f64>,
    /// How many observers integrate every update into a yrs Doc; the others decode each
    /// update and track the writer's clock only, so the client stays cheaper than the server.
    #[arg(long, default_value_t = 1)]
    full_observers: usize,
    /// Document name.
    #[arg(long, default_value = "trace")]
    doc: String,
    /// Give up (and fail) if the run has not finished after this many seconds.
    #[arg(long, default_value_t = 600)]
    timeout: u64,
    /// In the second run, SIGKILL the server once every observer has this fraction of the
    /// trace (0 < FRACTION <= 1) instead of right after the last update.
    #[arg(long, value_name = "FRACTION")]
    kill_at: Option<f64>,
    #[command(flatten)]
    server: ServerOpts,
}

/// What the writer and the observers share: when each update was handed to the socket,
/// and which writer clock each update brings the document to.
struct Progress {
    sent_ns: Vec<AtomicU64>,
    clock_after: Vec<u32>,
    final_clock: u32,
    end_len: u32,
    writer: ClientID,
}

impl Progress {
    /// Whether update `i` advances the writer's clock (inserts do, pure deletes do not);
    /// only those have a latency an observer's state vector can show.
    fn advances(&self, i: usize) -> bool {
        let before = if i == 0 { 0 } else { self.clock_after[i - 1] };
        self.clock_after[i] > before
    }
}

struct ObserverReport {
    latencies_us: Vec<u32>,
    done_ns: u64,
    /// The observer's final text, for full observers.
    text: Option<String>,
    /// How many updates of the trace (from the first) the observer had at the end.
    seen: usize,
}

/// What a run shares with its killer: how many updates each observer has so far.
type Observed = Arc<Vec<AtomicUsize>>;

pub async fn run(args: IngestArgs) -> Result<()> {
    ensure!(args.observers >= 1, "--observers must be at least 1");
    if let Some(rate) = args.rate {
        ensure!(rate > 0.0 && rate.is_finite(), "--rate must be positive");
    }
    if let Some(fraction) = args.kill_at {
        ensure!(
            fraction > 0.0 && fraction <= 1.0,
            "--kill-at must be a fraction in (0, 1]"
        );
    }
    let deadline = Instant::now() + Duration::from_secs(args.timeout);

    eprintln!("loading and pre-encoding {} ...", args.trace.display());
    let writer = ClientID::new(WRITER);
    let encoded = Trace::load(&args.trace)?.encode(writer)?;
    let update_bytes: u64 = encoded.updates.iter().map(|u| u.len() as u64).sum();
    let frames: Vec<WsMessage> = encoded
        .updates
        .iter()
        .map(|u| client::update(u.clone()))
        .collect();
    let wire_bytes: u64 = frames.iter().map(|f| f.len() as u64).sum();
    let total = frames.len();
    let new_progress = || {
        Ok::<_, anyhow::Error>(Arc::new(Progress {
            sent_ns: (0..total).map(|_| AtomicU64::new(0)).collect(),
            final_clock: *encoded.clock_after.last().context("empty trace")?,
            clock_after: encoded.clock_after.clone(),
            end_len: encoded.end_content.chars().count() as u32,
            writer,
        }))
    };
    let progress = new_progress()?;
    let measurable = (0..total).filter(|&i| progress.advances(i)).count();
    eprintln!(
        "{total} updates ({measurable} advance the clock), {update_bytes} update bytes; \
         starting server"
    );

    let work = WorkDir::create(args.server.keep)?;
    let mut replayed = replay(
        &args,
        &frames,
        progress,
        &work.data(),
        &work.log("run"),
        None,
        deadline,
    )
    .await?;
    let reports = &mut replayed.reports;
    let done_ns = reports
        .iter()
        .map(|r| r.done_ns)
        .max()
        .unwrap_or(replayed.send_end_ns);
    let server = &mut replayed.server;
    let server_cpu = server.cpu()? - replayed.server_cpu0;
    let flushes = FlushFigures::parse(&server.metrics().await.context("reading /metrics")?);
    let tool_cpu = cpu_of(0)? - replayed.tool_cpu0;
    let memory = server.memory()?;
    server.ensure_running()?;
    replayed.writer.close().await;

    let mut latencies: Vec<u32> = Vec::new();
    let mut live_text_ok = true;
    for r in reports.iter_mut() {
        latencies.append(&mut r.latencies_us);
        if let Some(text) = &r.text {
            live_text_ok &= *text == encoded.end_content;
        }
    }
    let latency = Summary::of(&mut latencies);

    let dir_live = dir_size(&work.data())?;
    let shutdown = replayed
        .server
        .stop()
        .await
        .context("stopping the server")?;
    let dir_stopped = dir_size(&work.data())?;

    // Cold load: a fresh process on the same data dir, a fresh client.
    let restarting = Instant::now();
    let server =
        ServerProcess::start(&args.server.server_bin, &work.data(), &work.log("restart")).await?;
    let restart = restarting.elapsed();
    let base = server.ws_base();
    let token = replayed.token.as_deref();
    let cold = load(&base, &args.doc, token).await.context("cold load")?;
    let warm = load(&base, &args.doc, token).await.context("warm load")?;
    let memory_after_load = server.memory()?;
    server
        .stop()
        .await
        .context("stopping the restarted server")?;
    let cold_ok = cold.text == encoded.end_content;

    // The same again into a fresh data dir, ended by SIGKILL instead of SIGTERM.
    let fraction = args.kill_at.unwrap_or(1.0);
    eprintln!("second run: SIGKILL once every observer has {fraction} of the trace");
    let killed_data = work.dir("data-killed")?;
    let killed = replay(
        &args,
        &frames,
        new_progress()?,
        &killed_data,
        &work.log("run-killed"),
        Some(fraction),
        deadline,
    )
    .await?;
    let kill = killed.kill.context("the second run was not killed")?;
    let killed_ingest_ns = kill.at_ns - killed.start_ns;
    // Everything an observer saw was broadcast, so flushed: all of it must be back.
    let seen = killed.reports.iter().map(|r| r.seen).min().unwrap_or(0);
    let observer_texts_ok = killed
        .reports
        .iter()
        .filter_map(|r| r.text.as_ref().map(|t| (r.seen, t)))
        // Pure deletes share a clock with the update before them, so the observer's text
        // is one of the states with the clock it reached.
        .all(|(n, text)| {
            let clock = if n == 0 {
                0
            } else {
                encoded.clock_after[n - 1]
            };
            recovered_prefix(&encoded.updates, &encoded.clock_after, n, clock, text).is_some()
        });
    let restarting = Instant::now();
    let server = ServerProcess::start(
        &args.server.server_bin,
        &killed_data,
        &work.log("restart-killed"),
    )
    .await?;
    let restart_killed = restarting.elapsed();
    let token = killed.token.as_deref();
    let cold_killed = load(&server.ws_base(), &args.doc, token)
        .await
        .context("cold load after SIGKILL")?;
    server
        .stop()
        .await
        .context("stopping the server restarted after SIGKILL")?;
    let recovered = recovered_prefix(
        &encoded.updates,
        &encoded.clock_after,
        seen,
        cold_killed.state.get(&writer),
        &cold_killed.text,
    );
    let killed_ok = recovered.is_some() && observer_texts_ok;

    let secs = |ns: u64| ns as f64 / 1e9;
    let ingest_secs = secs(done_ns - replayed.start_ns);
    let mut t = Table::new(format!(
        "ingest: {} ({} updates), {} observers ({} full), {}",
        args.trace.display(),
        total,
        args.observers,
        args.full_observers.min(args.observers),
        match args.rate {
            Some(r) => format!("paced at {r} updates/s"),
            None => "unpaced".to_string(),
        }
    ));
    t.row("updates sent", total, "updates");
    t.row("update bytes sent (v1 payloads)", update_bytes, "bytes");
    t.row("websocket payload bytes sent", wire_bytes, "bytes");
    t.row(
        "writer send time (socket accepted all)",
        format!("{:.3}", secs(replayed.send_end_ns - replayed.start_ns)),
        "s",
    );
    t.row(
        "ingest time (until last observer has all)",
        format!("{ingest_secs:.3}"),
        "s",
    );
    t.row(
        "ingest throughput (observed by all observers)",
        format!("{:.0}", total as f64 / ingest_secs),
        "updates/s",
    );
    if let Some(l) = latency {
        t.row(
            "latency samples (clock-advancing updates x observers)",
            l.count,
            "",
        );
        t.row("writer->observer latency p50", ms(l.p50_us), "ms");
        t.row("writer->observer latency p99", ms(l.p99_us), "ms");
        t.row("writer->observer latency max", ms(l.max_us), "ms");
    }
    if let Some(f) = flushes {
        t.row("server flushes (group commits)", f.count, "");
        t.row("server flush latency p50 (bucket bound)", f.p50, "s");
        t.row("server flush latency p99 (bucket bound)", f.p99, "s");
    }
    t.row(
        "server peak RSS (VmHWM)",
        mib_from_kib(memory.hwm_kib),
        "MiB",
    );
    t.row(
        "server RSS at end (VmRSS)",
        mib_from_kib(memory.rss_kib),
        "MiB",
    );
    t.row(
        "server CPU during ingest (user+sys)",
        format!("{:.2}", server_cpu.as_secs_f64()),
        "s",
    );
    t.row(
        "bench tool CPU during ingest (user+sys)",
        format!("{:.2}", tool_cpu.as_secs_f64()),
        "s",
    );
    t.row("data dir size, server running", dir_live, "bytes");
    t.row("data dir size, after SIGTERM", dir_stopped, "bytes");
    t.row(
        "data dir / update bytes (after SIGTERM)",
        format!("{:.2}", dir_stopped as f64 / update_bytes as f64),
        "x",
    );
    t.row(
        "graceful shutdown (SIGTERM -> exit)",
        format!("{:.1}", shutdown.as_secs_f64() * 1e3),
        "ms",
    );
    t.row(
        "restart after SIGTERM (spawn -> listening)",
        format!("{:.1}", restart.as_secs_f64() * 1e3),
        "ms",
    );
    t.row("cold load: connect", ms(cold.connect_us), "ms");
    t.row(
        "cold load: SyncStep1 -> full SyncStep2",
        ms(cold.step2_us),
        "ms",
    );
    t.row(
        "cold load after SIGTERM (connect + SyncStep1 -> SyncStep2)",
        ms(cold.connect_us + cold.step2_us),
        "ms",
    );
    t.row("cold load: SyncStep2 size", cold.step2_bytes, "bytes");
    t.row(
        "warm load (second client): SyncStep1 -> SyncStep2",
        ms(warm.step2_us),
        "ms",
    );
    t.row(
        "server RSS after loads (VmRSS)",
        mib_from_kib(memory_after_load.rss_kib),
        "MiB",
    );
    t.row(
        "live observer text == endContent",
        if live_text_ok { "PASS" } else { "FAIL" },
        "",
    );
    t.row(
        "text after restart == endContent",
        if cold_ok { "PASS" } else { "FAIL" },
        "",
    );
    t.row(
        "second run: updates every observer had at SIGKILL",
        format!("{} of {total}", kill.seen),
        "updates",
    );
    t.row(
        "second run: ... and once their connections ended",
        format!("{seen} of {total}"),
        "updates",
    );
    t.row(
        "second run: replay time until SIGKILL",
        format!("{:.3}", secs(killed_ingest_ns)),
        "s",
    );
    t.row(
        "restart after SIGKILL (spawn -> listening)",
        format!("{:.1}", restart_killed.as_secs_f64() * 1e3),
        "ms",
    );
    t.row(
        "cold load after SIGKILL: connect",
        ms(cold_killed.connect_us),
        "ms",
    );
    t.row(
        "cold load after SIGKILL: SyncStep1 -> full SyncStep2",
        ms(cold_killed.step2_us),
        "ms",
    );
    t.row(
        "cold load after SIGKILL (connect + SyncStep1 -> SyncStep2)",
        ms(cold_killed.connect_us + cold_killed.step2_us),
        "ms",
    );
    t.row(
        "cold load after SIGKILL: SyncStep2 size",
        cold_killed.step2_bytes,
        "bytes",
    );
    t.row(
        "updates recovered after SIGKILL",
        recovered.map_or_else(|| "none matches".to_string(), |k| format!("{k} of {total}")),
        "updates",
    );
    t.row(
        if seen == total {
            "text after SIGKILL + restart == endContent"
        } else {
            "text after SIGKILL + restart: a trace state >= what observers saw"
        },
        if killed_ok { "PASS" } else { "FAIL" },
        "",
    );
    t.print();
    println!(
        "note: the bench client and the server share this machine ({} cores); \
         client CPU is listed above.",
        std::thread::available_parallelism().map_or(0, |n| n.get())
    );
    if args.server.keep {
        println!("data dir and server logs kept in {}", work.root().display());
    }

    if !live_text_ok {
        bail!("FAIL: a full observer's text differs from the trace's endContent");
    }
    if !cold_ok {
        bail!(
            "FAIL: text after restart ({} chars) differs from endContent ({} chars)",
            cold.text.chars().count(),
            encoded.end_content.chars().count()
        );
    }
    if !observer_texts_ok {
        bail!("FAIL: a full observer's text at the kill is no state of the trace");
    }
    if recovered.is_none() {
        bail!(
            "FAIL: after SIGKILL and restart the text ({} chars, writer clock {}) is no state \
             of the trace at or after the {seen} updates every observer had seen",
            cold_killed.text.chars().count(),
            cold_killed.state.get(&writer)
        );
    }
    Ok(())
}

/// The writer's side of a run: the socket's sending half and the task reading the other.
struct Writer {
    sink: futures_util::stream::SplitSink<Ws, WsMessage>,
    reader: tokio::task::JoinHandle<Result<()>>,
}

impl Writer {
    async fn close(mut self) {
        self.reader.abort();
        let _ = tokio::time::timeout(Duration::from_secs(5), self.sink.close()).await;
    }
}

/// How a run ended when it was killed.
struct Kill {
    /// When SIGKILL was sent.
    at_ns: u64,
    /// How many updates every observer had by then.
    seen: usize,
}

/// One replay of the trace against a server started on `data`.
struct Replayed {
    server: ServerProcess,
    token: Option<String>,
    reports: Vec<ObserverReport>,
    start_ns: u64,
    send_end_ns: u64,
    server_cpu0: Duration,
    tool_cpu0: Duration,
    writer: Writer,
    /// Set when the server was SIGKILLed (and has been reaped).
    kill: Option<Kill>,
}

/// Starts a server on `data`, connects the observers and the writer, and sends the trace.
/// Without `kill_at`, returns once every observer has the whole trace, with the server
/// still running. With `kill_at`, SIGKILLs the server as soon as every observer has that
/// fraction of the trace, and returns once the observers have lost their connections.
async fn replay(
    args: &IngestArgs,
    frames: &[WsMessage],
    progress: Arc<Progress>,
    data: &std::path::Path,
    log: &std::path::Path,
    kill_at: Option<f64>,
    deadline: Instant,
) -> Result<Replayed> {
    let total = frames.len();
    let mut server = ServerProcess::start(&args.server.server_bin, data, log).await?;
    let base = server.ws_base();
    let token = server.credential(&args.doc, args.server.auth).await?;

    // Observers first, each synced before the writer starts.
    let observed: Observed = Arc::new((0..args.observers).map(|_| AtomicUsize::new(0)).collect());
    let mut observers = Vec::with_capacity(args.observers);
    for i in 0..args.observers {
        let doc = (i < args.full_observers).then(text_doc);
        let handshake_doc = doc.clone().unwrap_or_default();
        let (ws, step2, early) =
            client::connect_synced(&base, &args.doc, token.as_deref(), &handshake_doc)
                .await
                .with_context(|| format!("observer {i}"))?;
        let progress = progress.clone();
        let observed = observed.clone();
        let until_killed = kill_at.is_some();
        observers.push(tokio::spawn(async move {
            observe(
                ws,
                doc,
                progress,
                [step2].into_iter().chain(early),
                deadline,
                (&observed[i], until_killed),
            )
            .await
            .with_context(|| format!("observer {i}"))
        }));
    }
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

    // The killer watches the observers, not the writer: what they have seen was broadcast,
    // and the server broadcasts only what it has flushed.
    let killer = kill_at.map(|fraction| {
        let threshold = ((total as f64 * fraction).ceil() as usize).clamp(1, total);
        let observed = observed.clone();
        let pid = server.pid();
        tokio::spawn(async move {
            loop {
                let least = observed.iter().map(|n| n.load(Ordering::Acquire)).min();
                let seen = least.unwrap_or(0);
                if seen >= threshold {
                    let at_ns = now_ns();
                    crate::server::sigkill(pid)?;
                    return Ok::<_, anyhow::Error>(Kill { at_ns, seen });
                }
                tokio::time::sleep(Duration::from_micros(200)).await;
            }
        })
    });

    eprintln!(
        "{} observers and the writer synced; sending {}",
        args.observers,
        match args.rate {
            Some(r) => format!("at {r} updates/s"),
            None => "as fast as possible".to_string(),
        }
    );
    let server_cpu0 = server.cpu()?;
    let tool_cpu0 = cpu_of(0)?;
    let start_ns = now_ns();
    let start = Instant::now();
    let send = async {
        let mut i = 0;
        while i < total {
            let due = match args.rate {
                Some(rate) => {
                    let due = (start.elapsed().as_secs_f64() * rate) as usize + 1;
                    due.min(total)
                }
                // Flush every 64 updates: large writes without holding updates back long.
                None => (i + 64).min(total),
            };
            for (frame, sent) in frames[i..due].iter().zip(&progress.sent_ns[i..due]) {
                sent.store(now_ns(), Ordering::Release);
                sink.feed(frame.clone()).await?;
            }
            sink.flush().await?;
            i = due;
            if let (Some(rate), true) = (args.rate, i < total) {
                let next = start + Duration::from_secs_f64(i as f64 / rate);
                tokio::time::sleep_until(next.into()).await;
            }
        }
        Ok::<_, anyhow::Error>(())
    };
    let sent = timeout_at(deadline.into(), send)
        .await
        .context("timed out while sending the trace")?;
    let send_end_ns = now_ns();

    let Some(killer) = killer else {
        sent.context("writer: sending updates")?;
        let mut reports = Vec::with_capacity(observers.len());
        for (i, handle) in observers.into_iter().enumerate() {
            if writer_reader.is_finished() {
                return Err(writer_reader
                    .await?
                    .unwrap_err()
                    .context("writer connection"));
            }
            let report = handle
                .await
                .with_context(|| format!("observer {i} panicked"))??;
            reports.push(report);
        }
        if writer_reader.is_finished() {
            return Err(writer_reader
                .await?
                .unwrap_err()
                .context("writer connection"));
        }
        return Ok(Replayed {
            server,
            token,
            reports,
            start_ns,
            send_end_ns,
            server_cpu0,
            tool_cpu0,
            writer: Writer {
                sink,
                reader: writer_reader,
            },
            kill: None,
        });
    };

    // Sending may have failed when the server died under it; that is the point.
    let kill = timeout_at(deadline.into(), killer)
        .await
        .context("timed out before the observers reached the kill point")?
        .context("killer panicked")??;
    let status = server.wait().await.context("reaping the killed server")?;
    if std::os::unix::process::ExitStatusExt::signal(&status) != Some(libc::SIGKILL) {
        bail!("the server ended with {status} instead of being killed");
    }
    let mut reports = Vec::with_capacity(observers.len());
    for (i, handle) in observers.into_iter().enumerate() {
        let report = handle
            .await
            .with_context(|| format!("observer {i} panicked"))??;
        reports.push(report);
    }
    Ok(Replayed {
        server,
        token,
        reports,
        start_ns,
        send_end_ns,
        server_cpu0,
        tool_cpu0,
        writer: Writer {
            sink,
            reader: writer_reader,
        },
        kill: Some(kill),
    })
}

/// How many updates of the trace a recovered document holds: the `k >= at_least` whose
/// replay leaves the writer at `clock` with exactly `text`, or `None` if the document is no
/// state the trace passes through (it lost something, or holds something out of order).
fn recovered_prefix(
    updates: &[Vec<u8>],
    clock_after: &[u32],
    at_least: usize,
    clock: u32,
    text: &str,
) -> Option<usize> {
    let clock_at = |k: usize| if k == 0 { 0 } else { clock_after[k - 1] };
    // Clocks only grow, so the candidates are one range; deletes share a clock.
    let first = (at_least..=updates.len()).find(|&k| clock_at(k) == clock)?;
    let doc = text_doc();
    let doc_text = doc.get_or_insert_text(TEXT);
    for update in &updates[..first] {
        let update = Update::decode_v1(update).ok()?;
        doc.transact_mut().apply_update(update).ok()?;
    }
    let mut k = first;
    loop {
        if doc_text.get_string(&doc.transact()) == text {
            return Some(k);
        }
        if k == updates.len() || clock_at(k + 1) != clock {
            return None;
        }
        let update = Update::decode_v1(&updates[k]).ok()?;
        doc.transact_mut().apply_update(update).ok()?;
        k += 1;
    }
}

/// A document whose text offsets count UTF-16 units: equal to the trace's code points
/// because `Trace::load` rejects text outside the Basic Multilingual Plane.
fn text_doc() -> Doc {
    Doc::with_options(Options {
        offset_kind: OffsetKind::Utf16,
        ..Options::default()
    })
}

/// Follow the writer until this observer has the final clock (and, with a doc, the final
/// text length), recording per update the time from send to arrival. `seen` is kept at the
/// number of updates this observer certainly has; with `until_killed`, a lost connection
/// ends the observation instead of failing it.
async fn observe(
    mut ws: Ws,
    doc: Option<Doc>,
    progress: Arc<Progress>,
    initial: impl Iterator<Item = Vec<u8>>,
    deadline: Instant,
    (seen, until_killed): (&AtomicUsize, bool),
) -> Result<ObserverReport> {
    let text = doc.as_ref().map(|d| d.get_or_insert_text(TEXT));
    let empty = Doc::new();
    let mut latencies_us = Vec::with_capacity(progress.sent_ns.len());
    let mut next = 0; // first update not yet seen by this observer
    let mut clock = 0;
    let mut inbox: Vec<Incoming> = initial.map(Incoming::Update).collect();
    let final_text = |doc: &Option<Doc>| match (doc, &text) {
        (Some(doc), Some(text)) => Some(text.get_string(&doc.transact())),
        _ => None,
    };
    loop {
        let now = now_ns();
        let mut lost = None;
        for msg in inbox.drain(..) {
            let bytes = match msg {
                Incoming::Step1(sv) => {
                    let reply = doc
                        .as_ref()
                        .unwrap_or(&empty)
                        .transact()
                        .encode_state_as_update_v1(&sv);
                    if let Err(e) = ws.send(client::step2(reply)).await {
                        lost = Some(anyhow::Error::from(e));
                    }
                    continue;
                }
                Incoming::Step2(u) | Incoming::Update(u) => u,
                Incoming::Other => continue,
            };
            let update = Update::decode_v1(&bytes).context("undecodable update")?;
            clock = match &doc {
                Some(doc) => {
                    let mut txn = doc.transact_mut();
                    txn.apply_update(update).context("applying update")?;
                    txn.state_vector().get(&progress.writer)
                }
                None => clock.max(writer_clock_in(&update, progress.writer)),
            };
        }
        while next < progress.clock_after.len() && progress.clock_after[next] <= clock {
            if progress.advances(next) {
                let sent = progress.sent_ns[next].load(Ordering::Acquire);
                latencies_us.push(micros_between(sent, now));
                // One writer, one socket: whoever has this update has every one before it.
                // Deletes after it do not show in the clock, so they count only once the
                // observer is complete.
                seen.store(next + 1, Ordering::Release);
            }
            next += 1;
        }
        let text_complete = match (&doc, &text) {
            (Some(doc), Some(text)) => text.len(&doc.transact()) == progress.end_len,
            _ => true,
        };
        if clock >= progress.final_clock && text_complete {
            let done_ns = now;
            seen.store(progress.clock_after.len(), Ordering::Release);
            client::close(ws).await;
            return Ok(ObserverReport {
                latencies_us,
                done_ns,
                text: final_text(&doc),
                seen: progress.clock_after.len(),
            });
        }
        let received = match lost {
            Some(e) => Err(e),
            None => timeout_at(deadline.into(), client::recv(&mut ws, &mut inbox))
                .await
                .with_context(|| {
                    format!(
                        "timed out at writer clock {clock} of {} ({next} of {} updates seen)",
                        progress.final_clock,
                        progress.sent_ns.len()
                    )
                })?,
        };
        if let Err(e) = received {
            if !until_killed {
                return Err(e);
            }
            return Ok(ObserverReport {
                latencies_us,
                done_ns: now_ns(),
                text: final_text(&doc),
                seen: seen.load(Ordering::Acquire),
            });
        }
    }
}

/// The end of the writer's contiguous clock range carried by an update: what an observer
/// that decodes but does not integrate updates knows it has received.
fn writer_clock_in(update: &Update, writer: ClientID) -> u32 {
    update
        .insertions(true)
        .iter()
        .filter(|(client, _)| **client == writer)
        .filter_map(|(_, ranges)| ranges.iter().next_back().map(|r| r.end))
        .max()
        .unwrap_or(0)
}

struct Load {
    connect_us: u32,
    step2_us: u32,
    step2_bytes: usize,
    text: String,
    /// The loaded document's state vector.
    state: StateVector,
}

/// Connect a fresh client, send SyncStep1 with an empty state vector and time the full
/// SyncStep2; then decode it and render the text.
async fn load(base: &str, doc_name: &str, token: Option<&str>) -> Result<Load> {
    let t0 = now_ns();
    let connect = client::connect(base, doc_name, token);
    let mut ws = tokio::time::timeout(client::HANDSHAKE_TIMEOUT, connect)
        .await
        .context("connect timed out")??;
    let t1 = now_ns();
    ws.send(client::step1(StateVector::default())).await?;
    let mut inbox = Vec::new();
    let step2 = tokio::time::timeout(client::HANDSHAKE_TIMEOUT, async {
        loop {
            client::recv(&mut ws, &mut inbox).await?;
            for msg in inbox.drain(..) {
                if let Incoming::Step2(u) = msg {
                    return Ok::<_, anyhow::Error>(u);
                }
            }
        }
    })
    .await
    .context("no SyncStep2 in time")??;
    let t2 = now_ns();
    client::close(ws).await;

    let doc = text_doc();
    let text = doc.get_or_insert_text(TEXT);
    doc.transact_mut()
        .apply_update(Update::decode_v1(&step2).context("undecodable SyncStep2")?)
        .context("applying SyncStep2")?;
    let txn = doc.transact();
    Ok(Load {
        connect_us: micros_between(t0, t1),
        step2_us: micros_between(t1, t2),
        step2_bytes: step2.len(),
        text: text.get_string(&txn),
        state: txn.state_vector(),
    })
}

/// Group-commit figures from the server's `leitbild_flush_seconds` histogram.
struct FlushFigures {
    count: u64,
    p50: String,
    p99: String,
}

impl FlushFigures {
    fn parse(metrics: &str) -> Option<FlushFigures> {
        let mut buckets: Vec<(String, u64)> = Vec::new();
        for line in metrics.lines() {
            let Some(rest) = line.strip_prefix("leitbild_flush_seconds_bucket{le=\"") else {
                continue;
            };
            let (bound, count) = rest.split_once("\"} ")?;
            buckets.push((bound.to_owned(), count.trim().parse().ok()?));
        }
        let count = buckets.last()?.1;
        let quantile = |q: f64| {
            let want = (count as f64 * q).ceil() as u64;
            buckets
                .iter()
                .find(|(_, c)| *c >= want)
                .map_or_else(|| "+Inf".to_owned(), |(b, _)| format!("<= {b}"))
        };
        Some(FlushFigures {
            count,
            p50: quantile(0.5),
            p99: quantile(0.99),
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::trace::Txn;

    /// "ab", then "abc", then a delete to "bc" (the clock stays), then "bcd".
    fn small_trace() -> crate::trace::EncodedTrace {
        let txn = |pos, del, ins: &str| Txn {
            patches: vec![(pos, del, ins.to_string())],
        };
        Trace {
            start_content: String::new(),
            end_content: "bcd".into(),
            txns: vec![
                txn(0, 0, "ab"),
                txn(2, 0, "c"),
                txn(0, 1, ""),
                txn(2, 0, "d"),
            ],
        }
        .encode(ClientID::new(WRITER))
        .unwrap()
    }

    #[test]
    fn a_recovered_document_is_matched_to_the_trace_state_it_holds() {
        let t = small_trace();
        let (u, c) = (&t.updates, &t.clock_after);
        assert_eq!(c, &[2, 3, 3, 4]);
        assert_eq!(recovered_prefix(u, c, 0, 0, ""), Some(0));
        assert_eq!(recovered_prefix(u, c, 0, 3, "abc"), Some(2));
        // The delete does not move the clock: the text tells the two states apart.
        assert_eq!(recovered_prefix(u, c, 0, 3, "bc"), Some(3));
        assert_eq!(recovered_prefix(u, c, 3, 3, "bc"), Some(3));
        assert_eq!(recovered_prefix(u, c, 4, 4, "bcd"), Some(4));
        // Less than the observers saw, or a text the trace never had, is no match.
        assert_eq!(recovered_prefix(u, c, 3, 3, "abc"), None);
        assert_eq!(recovered_prefix(u, c, 4, 3, "bc"), None);
        assert_eq!(recovered_prefix(u, c, 0, 3, "ac"), None);
        assert_eq!(recovered_prefix(u, c, 0, 9, "bcd"), None);
    }
}
