//! The `leitbild` binary: parses arguments, sets up logging, and calls `serve` (or one of
//! the operator's commands, which talk to a running server).

use clap::{Parser, Subcommand};
use leitbild::cli::{
    self, ArchiveCommand, BackupArgs, CheckArgs, ExportArgs, ImportArgs, InviteCommand,
    RestoreArgs, Target,
};
use leitbild::config::Config;
use leitbild::Started;
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
    /// Manage a document's invites on the running server.
    #[command(subcommand)]
    Invite(InviteCommand),
    /// Print a new admin sign-in link (the previous one stops working).
    AdminLink(Target),
    /// Check the archive of adopted texts.
    #[command(subcommand)]
    Archive(ArchiveCommand),
    /// Check a whole data directory: every document's log and snapshot, every version,
    /// the archive; exit code 0 only when everything is intact.
    Check(CheckArgs),
    /// Write everything (documents with their whole history, versions, invites, audit,
    /// the archive) to a portable file.
    Export(ExportArgs),
    /// Read a portable file into a new, empty data directory, and check the result.
    Import(ImportArgs),
    /// Write a backup of the server's data (while it runs) into a directory.
    Backup(BackupArgs),
    /// Restore the newest backup of a directory into a new, empty data directory.
    Restore(RestoreArgs),
}

#[tokio::main]
async fn main() -> anyhow::Result<()> {
    // sled logs what the store reports anyway (a damaged directory, a failed write), in
    // several lines of its own; the store's one line says what to do. `LEITBILD_LOG`
    // naming `sled` shows them again.
    let spec = std::env::var("LEITBILD_LOG").unwrap_or_else(|_| "info".into());
    let spec = if spec.contains("sled") {
        spec
    } else {
        format!("{spec},sled=off")
    };
    tracing_subscriber::fmt()
        .with_env_filter(
            EnvFilter::try_new(spec).unwrap_or_else(|_| EnvFilter::new("info,sled=off")),
        )
        .with_writer(std::io::stderr)
        .init();
    // A panic (yrs and sled signal some failures only so; the server catches them) is one
    // line in the log, not a backtrace on the operator's terminal.
    std::panic::set_hook(Box::new(|info| {
        let message = info
            .payload()
            .downcast_ref::<String>()
            .map(String::as_str)
            .or_else(|| info.payload().downcast_ref::<&str>().copied())
            .unwrap_or("panic");
        let at = info
            .location()
            .map(|l| format!("{}:{}", l.file(), l.line()));
        tracing::error!(
            at = at.as_deref().unwrap_or("?"),
            "caught a panic: {message}"
        );
    }));
    let cli = Cli::parse();
    let config = match cli.command {
        Some(Command::Serve(config)) => config,
        Some(Command::Invite(command)) => return operator(cli::invite(command).await),
        Some(Command::AdminLink(target)) => return operator(cli::admin_link(target).await),
        Some(Command::Export(args)) => return operator(cli::export(args).await),
        Some(Command::Backup(args)) => return operator(cli::backup(args).await),
        Some(Command::Import(args)) => return checked(cli::import(args).await),
        Some(Command::Restore(args)) => return checked(cli::restore(args).await),
        Some(Command::Check(args)) => return checked(cli::check(args).await),
        Some(Command::Archive(command)) => return checked(cli::archive(command).await),
        None => match Cli::parse_from(["leitbild", "serve"]).command {
            Some(Command::Serve(config)) => config,
            _ => Config::default(),
        },
    };
    let listener = match tokio::net::TcpListener::bind(config.addr).await {
        Ok(listener) => listener,
        Err(e) => fatal(&format!(
            "cannot listen on {}: {e} (is another program using it? choose another with --addr)",
            config.addr
        )),
    };
    let data = config.data.display().to_string();
    let served = leitbild::serve_and_tell(listener, config, shutdown_signal(), |started| {
        welcome(started, &data)
    })
    .await;
    if let Err(e) = served {
        fatal(&e.to_string());
    }
    Ok(())
}

/// An operator command's outcome: its own clear message and exit code 1 on failure.
/// An operator's command that ends with a check: exit code 1 when the check failed.
fn checked(result: Result<bool, cli::CliError>) -> anyhow::Result<()> {
    match result {
        Ok(true) => Ok(()),
        Ok(false) => std::process::exit(1),
        Err(e) => operator(Err(e)),
    }
}

fn operator(result: Result<(), cli::CliError>) -> anyhow::Result<()> {
    if let Err(e) = result {
        fatal(&e.to_string());
    }
    Ok(())
}

/// One line on stderr and exit code 1: what went wrong and what to do.
fn fatal(message: &str) -> ! {
    let line = format!("error: {message}\n");
    let _ = std::io::Write::write_all(&mut std::io::stderr(), line.as_bytes());
    std::process::exit(1)
}

/// The newcomer's welcome; its first line is also what tests and tools parse. Written
/// without println! so that a closed stdout cannot stop the server.
fn welcome(started: &Started, data: &str) {
    let url = &started.url;
    let sign_in = match &started.admin_link {
        Some(link) => format!(
            "Sign in as admin with this link (it is shown only now; keep it private):\n\
             \n    {link}\n\n\
             As admin you see every document, create new ones and invite people with links.\n"
        ),
        None => "To sign in as admin, get a new link with:  leitbild admin-link  \
                 (with cargo: cargo run --release -- admin-link)\n"
            .to_owned(),
    };
    let cli = if started.control_socket.is_some() {
        "Invites can also be made from this machine: leitbild invite create --doc ID --role editor --name NAME\n"
    } else {
        ""
    };
    let text = format!(
        "Leitbild is running at {url}/  (data: {data})\n\
         {sign_in}\
         The demo document \"{demo}\" is ready. Invite others from a document's\n\
         \"People and links\" panel; they open their link and write with you.\n\
         {cli}\
         Ctrl+C stops the server; everything typed is already on disk.\n",
        demo = leitbild::demo::DEMO_TITLE,
    );
    let _ = std::io::Write::write_all(&mut std::io::stdout(), text.as_bytes());
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
