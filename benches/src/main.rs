//! `leitbild-bench`: a load tool that spawns the real `leitbild` binary on 127.0.0.1 and
//! drives it over the y-protocols websocket, printing one figure per line. It never
//! patches or links the server; every figure is what a client (or /proc) can observe.

mod archive;
mod client;
mod clock;
mod history;
mod ingest;
mod latency;
mod many;
mod report;
mod server;
mod trace;

use anyhow::Result;
use clap::{Parser, Subcommand};
use std::path::PathBuf;

#[derive(Parser)]
#[command(about = "Load tool for the leitbild server (spawns it on 127.0.0.1)")]
struct Cli {
    #[command(subcommand)]
    command: Command,
}

#[derive(Subcommand)]
enum Command {
    /// Replay an editing trace through one writer to N observers, then restart the server
    /// and time the cold load of the document.
    Ingest(ingest::IngestArgs),
    /// Many clients over many documents typing slowly, or holding idle connections.
    Many(many::ManyArgs),
    /// Replay a trace as a Tiptap document paced over time, then time the history API
    /// (text at a moment, diff, blame, versions) on it and check its texts.
    History(history::HistoryArgs),
    /// Adopt a trace document into the archive, fetch its DOCX, and verify a long chain.
    Archive(archive::ArchiveArgs),
}

/// How to run the server under test.
#[derive(clap::Args)]
pub struct ServerOpts {
    /// The `leitbild` binary to spawn.
    #[arg(long, default_value = "target/release/leitbild")]
    server_bin: PathBuf,
    /// Keep the temporary data dir and server logs after the run.
    #[arg(long)]
    keep: bool,
    /// The credential the clients connect with: an editor invite per document (what
    /// people use), the admin token, or none (a server from before access control).
    #[arg(long, value_enum, default_value = "editor")]
    auth: server::Auth,
}

fn main() -> Result<()> {
    let cli = Cli::parse();
    let files = server::raise_open_files_limit()?;
    clock::now_ns();
    let runtime = tokio::runtime::Builder::new_multi_thread()
        .enable_all()
        .build()?;
    runtime.block_on(async {
        match cli.command {
            Command::Ingest(args) => ingest::run(args).await,
            Command::Many(args) => many::run(args, files).await,
            Command::History(args) => history::run(args).await,
            Command::Archive(args) => archive::run(args).await,
        }
    })
}
