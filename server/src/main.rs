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
    // The newcomer's welcome; its first line is also what tests and tools parse. Written
    // without println! so that a closed stdout cannot stop the server.
    let welcome = format!(
        "Leitbild is running at http://{addr}/  (data: {data})\n\
         Open that address in a browser: the demo document \"{demo}\" is ready, and new\n\
         documents are created on the start page. Share a document's link to write together.\n\
         Ctrl+C stops the server; everything typed is already on disk.\n",
        data = config.data.display(),
        demo = leitbild::demo::DEMO_TITLE,
    );
    let _ = std::io::Write::write_all(&mut std::io::stdout(), welcome.as_bytes());
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
