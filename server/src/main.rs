//! The `leitbild` binary: parses arguments, sets up logging, and calls `serve`.

use clap::{Parser, Subcommand};
use leitbild::config::Config;
use tracing_subscriber::EnvFilter;

#[derive(Parser)]
#[command(
    name = "leitbild",
    version,
    about = "Collaborative editor for mission statements"
)]
struct Cli {
    #[command(subcommand)]
    command: Option<Command>,
}

#[derive(Subcommand)]
enum Command {
    /// Serve the editor and the sync websocket (the default).
    Serve(Config),
}

#[tokio::main]
async fn main() -> anyhow::Result<()> {
    tracing_subscriber::fmt()
        .with_env_filter(
            EnvFilter::try_from_env("LEITBILD_LOG").unwrap_or_else(|_| EnvFilter::new("info")),
        )
        .with_writer(std::io::stderr)
        .init();
    let cli = Cli::parse();
    let config = match cli.command {
        Some(Command::Serve(config)) => config,
        None => Cli::parse_from(["leitbild", "serve"])
            .command
            .map(|Command::Serve(c)| c)
            .unwrap_or_default(),
    };
    let listener = tokio::net::TcpListener::bind(config.addr)
        .await
        .map_err(|e| anyhow::anyhow!("cannot listen on {}: {e}", config.addr))?;
    let addr = listener.local_addr()?;
    // The one line tests and tools parse, and the newcomer's welcome.
    println!(
        "Leitbild is running at http://{addr}/  (data: {})",
        config.data.display()
    );
    println!("Open it in a browser; share the link of a document to write together. Ctrl+C stops.");
    leitbild::serve(listener, config, shutdown_signal()).await?;
    Ok(())
}

async fn shutdown_signal() {
    let ctrl_c = async {
        let _ = tokio::signal::ctrl_c().await;
    };
    #[cfg(unix)]
    let terminate = async {
        match tokio::signal::unix::signal(tokio::signal::unix::SignalKind::terminate()) {
            Ok(mut s) => {
                s.recv().await;
            }
            Err(_) => std::future::pending().await,
        }
    };
    #[cfg(not(unix))]
    let terminate = std::future::pending::<()>();
    tokio::select! {
        _ = ctrl_c => {},
        _ = terminate => {},
    }
}
