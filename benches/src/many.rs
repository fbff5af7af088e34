//! `many`: C clients spread over D documents, each typing one character at a time at a
//! fixed rate into its own yrs Doc, every client observing its document. Measures the
//! sender-to-every-peer latency, the server's CPU and memory. With `--idle` the clients
//! only hold their synced connections open, to measure the memory cost of a connection.

use crate::client::{self, Incoming};
use crate::clock::now_ns;
use crate::latency::{micros_between, Summary};
use crate::report::{mib_from_kib, ms, Table};
use crate::server::{cpu_of, ServerProcess, WorkDir};
use crate::trace::TEXT;
use crate::ServerOpts;
use anyhow::{bail, ensure, Context, Result};
use futures_util::SinkExt;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::Arc;
use std::time::{Duration, Instant};
use tokio::sync::{mpsc, watch, Semaphore};
use tokio::task::JoinSet;
use yrs::updates::decoder::Decode;
use yrs::{ClientID, Doc, Options, ReadTxn, Text, Transact, Update};

/// Client ids are `BASE + index`: unique, and below 2^31 so any Yjs peer accepts them.
const BASE: u64 = 0x1000_0000;

#[derive(clap::Args)]
pub struct ManyArgs {
    /// Number of client connections.
    #[arg(long, default_value_t = 200)]
    clients: usize,
    /// Number of documents; client k joins document k % docs.
    #[arg(long, default_value_t = 1)]
    docs: usize,
    /// Updates (one inserted character each) per second per client.
    #[arg(long, default_value_t = 2.0)]
    rate: f64,
    /// Length of the typing phase, or of the idle hold with --idle.
    #[arg(long, default_value_t = 20.0)]
    seconds: f64,
    /// Only hold the synced connections open for --seconds, then report memory.
    #[arg(long)]
    idle: bool,
    /// Clients decode each update and track its clocks without integrating it into their
    /// Doc: a cheaper client, for when the bench tool itself saturates the machine.
    #[arg(long)]
    decode_only: bool,
    /// Connections being opened at the same time.
    #[arg(long, default_value_t = 32)]
    connect_concurrency: usize,
    /// Seconds allowed after the typing phase for every peer to receive everything.
    #[arg(long, default_value_t = 30)]
    drain: u64,
    #[command(flatten)]
    server: ServerOpts,
}

/// The fixed shape of the run, shared by all client tasks.
struct Plan {
    clients: usize,
    docs: usize,
    rate: f64,
    /// Updates each client sends.
    quota: u32,
    /// Send time of update `seq` of client `k` at `k * quota + seq`.
    sent_ns: Vec<AtomicU64>,
    decode_only: bool,
    /// The token clients of document `d` connect with.
    tokens: Vec<Option<String>>,
}

impl Plan {
    fn doc_of(&self, k: usize) -> usize {
        k % self.docs
    }
    fn doc_name(&self, k: usize) -> String {
        format!("many-{}", self.doc_of(k))
    }
    /// Position of client `k` among the clients of its document.
    fn slot(&self, k: usize) -> usize {
        k / self.docs
    }
    fn clients_in_doc(&self, d: usize) -> usize {
        self.clients / self.docs + usize::from(d < self.clients % self.docs)
    }
    fn client_id(&self, k: usize) -> ClientID {
        ClientID::new(BASE + k as u64)
    }
    fn index_of(&self, id: ClientID) -> Option<usize> {
        let k = id.get().checked_sub(BASE)? as usize;
        (k < self.clients).then_some(k)
    }
    /// Offset of client `k`'s first update within one period, so that sends are spread
    /// evenly instead of arriving in bursts.
    fn phase(&self, k: usize) -> Duration {
        let fraction = (k as f64 * 0.618_033_988_75).fract();
        Duration::from_secs_f64(fraction / self.rate)
    }
}

/// A client's measurements, sent when it has sent all its updates and seen all its peers'.
struct Done {
    latencies_us: Vec<u32>,
}

/// The signals every client task listens to.
#[derive(Clone)]
struct Signals {
    ready: mpsc::Sender<()>,
    done: mpsc::Sender<Done>,
    start: watch::Receiver<Option<Instant>>,
    stop: watch::Receiver<bool>,
}

pub async fn run(args: ManyArgs, open_files: u64) -> Result<()> {
    ensure!(
        args.clients >= 1 && args.docs >= 1,
        "need at least one client and one doc"
    );
    ensure!(
        args.docs <= args.clients,
        "--docs must not exceed --clients"
    );
    ensure!(
        args.rate > 0.0 && args.seconds > 0.0,
        "--rate and --seconds must be positive"
    );
    ensure!(
        open_files as usize > args.clients + 64,
        "open-files limit {open_files} is too low for {} clients (raise `ulimit -n`)",
        args.clients
    );
    let quota = if args.idle {
        0
    } else {
        (args.rate * args.seconds).round().max(1.0) as u32
    };
    let mut plan = Arc::new(Plan {
        clients: args.clients,
        docs: args.docs,
        rate: args.rate,
        quota,
        sent_ns: (0..args.clients * quota as usize)
            .map(|_| AtomicU64::new(0))
            .collect(),
        decode_only: args.decode_only,
        tokens: Vec::new(),
    });

    let work = WorkDir::create(args.server.keep)?;
    let mut server =
        ServerProcess::start(&args.server.server_bin, &work.data(), &work.log("run")).await?;
    let mut tokens = Vec::with_capacity(args.docs);
    for d in 0..args.docs {
        tokens.push(
            server
                .credential(&format!("many-{d}"), args.server.auth)
                .await?,
        );
    }
    Arc::get_mut(&mut plan)
        .context("the plan is not shared yet")?
        .tokens = tokens;
    let memory_base = server.memory()?;
    let base: Arc<str> = server.ws_base().into();

    let (ready_tx, mut ready_rx) = mpsc::channel(args.clients);
    let (done_tx, mut done_rx) = mpsc::channel(args.clients);
    let (start_tx, start_rx) = watch::channel(None);
    let (stop_tx, stop_rx) = watch::channel(false);
    let signals = Signals {
        ready: ready_tx,
        done: done_tx,
        start: start_rx,
        stop: stop_rx,
    };
    let gate = Arc::new(Semaphore::new(args.connect_concurrency.max(1)));
    eprintln!(
        "connecting {} clients to {} docs ({} at a time) ...",
        args.clients, args.docs, args.connect_concurrency
    );
    let connect_start = Instant::now();
    let mut tasks = JoinSet::new();
    for k in 0..args.clients {
        let (plan, base, gate, signals) =
            (plan.clone(), base.clone(), gate.clone(), signals.clone());
        tasks.spawn(async move {
            run_client(k, &plan, &base, &gate, signals)
                .await
                .with_context(|| format!("client {k} (doc {})", plan.doc_name(k)))
        });
    }
    drop(signals);

    let connect_deadline = tokio::time::Instant::now() + Duration::from_secs(120);
    let mut ready = 0;
    while ready < args.clients {
        tokio::select! {
            Some(()) = ready_rx.recv() => ready += 1,
            Some(ended) = tasks.join_next() => return Err(ended_early(ended)),
            _ = tokio::time::sleep_until(connect_deadline) => {
                bail!("only {ready} of {} clients connected and synced within 120 s", args.clients)
            }
        }
    }
    let connect_time = connect_start.elapsed();
    eprintln!(
        "all {} clients synced in {:.2} s",
        args.clients,
        connect_time.as_secs_f64()
    );

    let server_cpu0 = server.cpu()?;
    let tool_cpu0 = cpu_of(0)?;
    let phase_start = Instant::now();
    let mut latencies: Vec<u32> = Vec::new();
    if args.idle {
        let hold = tokio::time::Instant::now() + Duration::from_secs_f64(args.seconds);
        tokio::select! {
            Some(ended) = tasks.join_next() => return Err(ended_early(ended)),
            _ = tokio::time::sleep_until(hold) => {}
        }
    } else {
        start_tx.send(Some(Instant::now() + Duration::from_millis(100)))?;
        let deadline = tokio::time::Instant::now()
            + Duration::from_secs_f64(args.seconds)
            + Duration::from_secs(args.drain);
        let mut done = 0;
        while done < args.clients {
            tokio::select! {
                Some(mut d) = done_rx.recv() => {
                    done += 1;
                    latencies.append(&mut d.latencies_us);
                }
                Some(ended) = tasks.join_next() => return Err(ended_early(ended)),
                _ = tokio::time::sleep_until(deadline) => bail!(
                    "only {done} of {} clients had sent and received everything {} s after \
                     the typing phase",
                    args.clients, args.drain
                ),
            }
        }
    }
    let phase = phase_start.elapsed();
    let server_cpu = server.cpu()? - server_cpu0;
    let tool_cpu = cpu_of(0)? - tool_cpu0;
    let memory = server.memory()?;
    server.ensure_running()?;

    stop_tx.send(true)?;
    let stop_deadline = tokio::time::Instant::now() + Duration::from_secs(60);
    while let Some(ended) = tokio::time::timeout_at(stop_deadline, tasks.join_next())
        .await
        .context("clients did not close within 60 s")?
    {
        ended.context("client task panicked")??;
    }
    server.stop().await.context("stopping the server")?;

    let pct = |cpu: Duration| format!("{:.1}", 100.0 * cpu.as_secs_f64() / phase.as_secs_f64());
    let mut t = Table::new(if args.idle {
        format!(
            "many --idle: {} connections over {} docs, held {} s",
            args.clients, args.docs, args.seconds
        )
    } else {
        format!(
            "many: {} clients over {} docs, {} updates/s each, {} s{}",
            args.clients,
            args.docs,
            args.rate,
            args.seconds,
            if args.decode_only {
                ", clients decode only"
            } else {
                ", clients apply every update"
            }
        )
    });
    t.row("clients", args.clients, "connections");
    t.row("documents", args.docs, "docs");
    t.row(
        "connect + sync all clients",
        format!("{:.2}", connect_time.as_secs_f64()),
        "s",
    );
    if !args.idle {
        let sent = args.clients as u64 * quota as u64;
        let expected: u64 = (0..args.docs)
            .map(|d| {
                let n = plan.clients_in_doc(d) as u64;
                quota as u64 * n * n.saturating_sub(1)
            })
            .sum();
        t.row("updates sent", sent, "updates");
        t.row(
            "offered load",
            format!("{:.0}", args.clients as f64 * args.rate),
            "updates/s",
        );
        t.row(
            "deliveries measured (update x other peer)",
            format!("{} of {expected}", latencies.len()),
            "",
        );
        if let Some(l) = Summary::of(&mut latencies) {
            t.row("sender->peer latency p50", ms(l.p50_us), "ms");
            t.row("sender->peer latency p99", ms(l.p99_us), "ms");
            t.row("sender->peer latency max", ms(l.max_us), "ms");
        }
    }
    t.row(
        if args.idle {
            "idle phase"
        } else {
            "typing phase (until all delivered)"
        },
        format!("{:.2}", phase.as_secs_f64()),
        "s",
    );
    t.row(
        "server CPU over the phase (% of one core)",
        pct(server_cpu),
        "%",
    );
    t.row(
        "bench tool CPU over the phase (% of one core)",
        pct(tool_cpu),
        "%",
    );
    t.row(
        "server RSS before connections (VmRSS)",
        mib_from_kib(memory_base.rss_kib),
        "MiB",
    );
    t.row(
        "server RSS at end (VmRSS)",
        mib_from_kib(memory.rss_kib),
        "MiB",
    );
    t.row(
        "server peak RSS (VmHWM)",
        mib_from_kib(memory.hwm_kib),
        "MiB",
    );
    t.row(
        "server RSS per connection ((end - before) / clients)",
        format!(
            "{:.1}",
            memory.rss_kib.saturating_sub(memory_base.rss_kib) as f64 / args.clients as f64
        ),
        "KiB",
    );
    t.print();
    println!(
        "note: the bench client and the server share this machine ({} cores); \
         client CPU is listed above.",
        std::thread::available_parallelism().map_or(0, |n| n.get())
    );
    Ok(())
}

/// A client task that ended before it was told to stop is a failure, whatever it returned.
fn ended_early(ended: Result<Result<()>, tokio::task::JoinError>) -> anyhow::Error {
    match ended {
        Ok(Err(e)) => e,
        Ok(Ok(())) => anyhow::anyhow!("a client ended before the run was over"),
        Err(e) => anyhow::anyhow!("a client task panicked: {e}"),
    }
}

async fn run_client(
    k: usize,
    plan: &Plan,
    base: &str,
    gate: &Semaphore,
    mut signals: Signals,
) -> Result<()> {
    let doc = Doc::with_options(Options {
        client_id: plan.client_id(k),
        ..Options::default()
    });
    let text = doc.get_or_insert_text(TEXT);
    let permit = gate.acquire().await?;
    let token = plan.tokens[plan.doc_of(k)].as_deref();
    let (mut ws, step2, early) =
        client::connect_synced(base, &plan.doc_name(k), token, &doc).await?;
    drop(permit);

    let quota = plan.quota as usize;
    let mut peers = Peers::new(plan, k);
    let now = now_ns();
    peers.receive(&doc, &step2, now)?;
    for u in &early {
        peers.receive(&doc, u, now)?;
    }
    signals.ready.send(()).await?;

    let mut typing_from: Option<Instant> = None;
    let mut sent = 0usize;
    let mut reported = false;
    let mut inbox = Vec::new();
    let far = Instant::now() + Duration::from_secs(86_400);
    loop {
        let next_send = match typing_from {
            Some(t0) if sent < quota => {
                t0 + plan.phase(k) + Duration::from_secs_f64(sent as f64 / plan.rate)
            }
            _ => far,
        };
        tokio::select! {
            changed = signals.stop.changed() => {
                if changed.is_err() || *signals.stop.borrow() {
                    break;
                }
            }
            changed = signals.start.changed(), if typing_from.is_none() => {
                changed?;
                typing_from = *signals.start.borrow();
            }
            _ = tokio::time::sleep_until(next_send.into()), if next_send != far => {
                let update = {
                    let mut txn = doc.transact_mut();
                    let end = text.len(&txn);
                    text.insert(&mut txn, end, "x");
                    txn.encode_update_v1()
                };
                plan.sent_ns[k * quota + sent].store(now_ns(), Ordering::Release);
                ws.send(client::update(update)).await.context("sending an update")?;
                sent += 1;
            }
            received = client::recv(&mut ws, &mut inbox) => {
                received?;
                let now = now_ns();
                for msg in inbox.drain(..) {
                    match msg {
                        Incoming::Step1(sv) => {
                            let reply = doc.transact().encode_state_as_update_v1(&sv);
                            ws.send(client::step2(reply)).await?;
                        }
                        Incoming::Step2(u) | Incoming::Update(u) => peers.receive(&doc, &u, now)?,
                        Incoming::Other => {}
                    }
                }
            }
        }
        if !reported && typing_from.is_some() && sent == quota && peers.incomplete == 0 {
            reported = true;
            let latencies_us = std::mem::take(&mut peers.latencies_us);
            signals.done.send(Done { latencies_us }).await?;
        }
    }
    client::close(ws).await;
    Ok(())
}

/// What one client has seen of the other clients of its document.
struct Peers<'a> {
    plan: &'a Plan,
    me: usize,
    /// Highest clock seen from each client of this doc, by slot.
    seen: Vec<u32>,
    /// Peers not yet seen at their final clock.
    incomplete: usize,
    latencies_us: Vec<u32>,
}

impl<'a> Peers<'a> {
    fn new(plan: &'a Plan, me: usize) -> Self {
        let seen = vec![0u32; plan.clients_in_doc(plan.doc_of(me))];
        let others = seen.len() - 1;
        Peers {
            plan,
            me,
            incomplete: if plan.quota == 0 { 0 } else { others },
            latencies_us: Vec::with_capacity(plan.quota as usize * others),
            seen,
        }
    }

    /// Integrate one update into `doc` and record, for every peer update it newly covers,
    /// the time from its send to `now`.
    fn receive(&mut self, doc: &Doc, bytes: &[u8], now: u64) -> Result<()> {
        let plan = self.plan;
        let quota = plan.quota as usize;
        let update = Update::decode_v1(bytes).context("undecodable update")?;
        let mut touched: Vec<(ClientID, u32)> = update
            .insertions(true)
            .iter()
            .filter_map(|(c, r)| Some((*c, r.iter().next_back()?.end)))
            .collect();
        if !plan.decode_only {
            let mut txn = doc.transact_mut();
            txn.apply_update(update).context("applying update")?;
            if txn.has_missing_updates() {
                // Out of causal order: count only what the doc really integrated.
                let sv = txn.state_vector();
                touched.iter_mut().for_each(|(c, end)| *end = sv.get(c));
            }
        }
        let d = plan.doc_of(self.me);
        for (id, end) in touched {
            let Some(j) = plan
                .index_of(id)
                .filter(|&j| j != self.me && plan.doc_of(j) == d)
            else {
                continue;
            };
            let slot = plan.slot(j);
            let end = (end as usize).min(quota);
            let from = self.seen[slot] as usize;
            for seq in from..end {
                let sent = plan.sent_ns[j * quota + seq].load(Ordering::Acquire);
                self.latencies_us.push(micros_between(sent, now));
            }
            if end > from {
                self.seen[slot] = end as u32;
                if end == quota {
                    self.incomplete -= 1;
                }
            }
        }
        Ok(())
    }
}
