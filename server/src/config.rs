//! Server configuration: one `Config`, parsed by clap from flags and `LEITBILD_*` variables.
//!
//! Every limit the server enforces is here, with a default that suits a single small
//! machine. Nothing else reads the environment.

use std::net::SocketAddr;
use std::path::PathBuf;
use std::time::Duration;

use clap::Args;

use crate::guard::Limits;

/// Settings of `leitbild serve`.
#[derive(Debug, Clone, Args)]
pub struct Config {
    /// Address to listen on.
    #[arg(long, env = "LEITBILD_ADDR", default_value = "127.0.0.1:8080")]
    pub addr: SocketAddr,

    /// Directory of the sled database.
    #[arg(long, env = "LEITBILD_DATA", default_value = "./data")]
    pub data: PathBuf,

    /// Most websocket connections at once; more are refused with HTTP 503.
    #[arg(long, env = "LEITBILD_MAX_CONNECTIONS", default_value_t = 10_000)]
    pub max_connections: usize,

    /// Most documents open (loaded in memory) at once; more are refused with HTTP 503.
    #[arg(long, env = "LEITBILD_MAX_OPEN_DOCS", default_value_t = 1_000)]
    pub max_open_docs: usize,

    /// Largest websocket frame and y-protocols message, in bytes.
    #[arg(long, env = "LEITBILD_MAX_MESSAGE_BYTES", default_value_t = 8 * 1024 * 1024)]
    pub max_message_bytes: usize,

    /// Messages a peer may have waiting to be sent before it is disconnected (close 1013).
    #[arg(long, env = "LEITBILD_PEER_QUEUE", default_value_t = 1024)]
    pub peer_queue: usize,

    /// Bytes (beyond one message) that may wait for a peer before it is disconnected.
    #[arg(long, env = "LEITBILD_PEER_QUEUE_BYTES", default_value_t = 32 * 1024 * 1024)]
    pub peer_queue_bytes: usize,

    /// Seconds a document stays loaded without peers before it is persisted and unloaded.
    #[arg(long, env = "LEITBILD_IDLE_UNLOAD_SECS", default_value_t = 30)]
    pub idle_unload_secs: u64,

    /// Seconds between pings; a peer that has not answered for two intervals is closed.
    #[arg(long, env = "LEITBILD_PING_SECS", default_value_t = 15)]
    pub ping_secs: u64,

    /// Log records after which a document's log is checkpointed into a snapshot.
    #[arg(long, env = "LEITBILD_CHECKPOINT_EVERY", default_value_t = 5_000)]
    pub checkpoint_every: u64,

    /// Bytes of logged updates after which a document is checkpointed: bounds how much a
    /// load after a crash has to replay.
    #[arg(long, env = "LEITBILD_CHECKPOINT_BYTES", default_value_t = 256 * 1024)]
    pub checkpoint_bytes: u64,

    /// Seconds after which a logged change not yet in a snapshot gets one.
    #[arg(long, env = "LEITBILD_CHECKPOINT_SECS", default_value_t = 60)]
    pub checkpoint_secs: u64,

    /// Seconds without edits after which a burst of editing ends with an automatic
    /// version (also taken when a document is closed after edits).
    #[arg(long, env = "LEITBILD_AUTO_VERSION_SECS", default_value_t = 600)]
    pub auto_version_secs: u64,

    /// Only signed-in people (readers of some document, admins) may read the archive of
    /// adopted texts; without it the archive is public.
    #[arg(long, env = "LEITBILD_PRIVATE_ARCHIVE")]
    pub private_archive: bool,

    /// Take a backup (a portable export, docs/operations.md) into this directory every
    /// `--backup-every`.
    #[arg(long, env = "LEITBILD_BACKUP_DIR")]
    pub backup_dir: Option<PathBuf>,

    /// How often to back up into `--backup-dir`: seconds, or with a unit (90s, 30m, 1h, 1d).
    #[arg(long, env = "LEITBILD_BACKUP_EVERY", default_value = "1h", value_parser = parse_interval)]
    pub backup_every: Duration,

    /// How many backups to keep in `--backup-dir` (the oldest go first).
    #[arg(long, env = "LEITBILD_BACKUP_KEEP", default_value_t = 48)]
    pub backup_keep: usize,

    /// Deepest nesting of content accepted from peers.
    #[arg(long, env = "LEITBILD_MAX_DEPTH", default_value_t = 64)]
    pub max_depth: usize,

    /// Most entries in one awareness message. y-websocket clients echo every change they
    /// see, so one message can carry the states of everyone present.
    #[arg(long, env = "LEITBILD_MAX_AWARENESS_ENTRIES", default_value_t = 1000)]
    pub max_awareness_entries: usize,

    /// Memory the database may use as a page cache, in MiB.
    #[arg(long, env = "LEITBILD_CACHE_MB", default_value_t = 64)]
    pub cache_mb: u64,

    /// The admin token. Without one, the first start generates an admin sign-in link
    /// (printed once; `leitbild admin-link` makes a new one).
    #[arg(long, env = "LEITBILD_ADMIN_TOKEN", hide_env_values = true)]
    pub admin_token: Option<Secret>,

    /// The address people reach the server at (e.g. https://leitbild.example.org): used in
    /// the links the server hands out; with https, session cookies are `Secure`.
    #[arg(long, env = "LEITBILD_PUBLIC_URL")]
    pub public_url: Option<String>,

    /// Browser origins besides the server's own that may use the API and websocket,
    /// comma-separated (e.g. https://bildung.example.org).
    #[arg(long, env = "LEITBILD_ALLOWED_ORIGINS", value_delimiter = ',')]
    pub allowed_origins: Vec<String>,

    /// Failed sign-in attempts per minute from one IP address before it gets HTTP 429.
    #[arg(long, env = "LEITBILD_AUTH_FAILURES_PER_MINUTE", default_value_t = 30)]
    pub auth_failures_per_minute: u32,

    /// Called before every flush; tests inject storage faults with it. Not a flag.
    #[arg(skip)]
    pub flush_hook: crate::store::FlushHook,
}

/// A secret setting: never printed, also not in debug output.
#[derive(Clone, PartialEq, Eq)]
pub struct Secret(pub String);

impl std::fmt::Debug for Secret {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("Secret(…)")
    }
}

impl std::str::FromStr for Secret {
    type Err = std::convert::Infallible;

    fn from_str(s: &str) -> Result<Self, Self::Err> {
        Ok(Secret(s.to_owned()))
    }
}

impl Default for Config {
    fn default() -> Self {
        Config {
            addr: SocketAddr::from(([127, 0, 0, 1], 8080)),
            data: PathBuf::from("./data"),
            max_connections: 10_000,
            max_open_docs: 1_000,
            max_message_bytes: 8 * 1024 * 1024,
            peer_queue: 1024,
            peer_queue_bytes: 32 * 1024 * 1024,
            idle_unload_secs: 30,
            ping_secs: 15,
            checkpoint_every: 5_000,
            checkpoint_bytes: 256 * 1024,
            checkpoint_secs: 60,
            auto_version_secs: 600,
            private_archive: false,
            backup_dir: None,
            backup_every: Duration::from_secs(3600),
            backup_keep: 48,
            max_depth: 64,
            max_awareness_entries: 1000,
            cache_mb: 64,
            admin_token: None,
            public_url: None,
            allowed_origins: Vec::new(),
            auth_failures_per_minute: 30,
            flush_hook: Default::default(),
        }
    }
}

impl Config {
    /// The limits the guard applies to every peer message.
    pub fn limits(&self) -> Limits {
        Limits {
            max_message_bytes: self.max_message_bytes,
            max_depth: self.max_depth,
            max_awareness_clients: self.max_awareness_entries,
            ..Limits::default()
        }
    }

    pub fn idle_unload(&self) -> Duration {
        Duration::from_secs(self.idle_unload_secs)
    }

    pub fn ping_interval(&self) -> Duration {
        Duration::from_secs(self.ping_secs.max(1))
    }

    /// Where the operator's commands reach the running server: a Unix socket in the data
    /// directory, readable only by the user who runs the server.
    pub fn control_socket(&self) -> PathBuf {
        control_socket(&self.data)
    }
}

/// The control socket of the server whose data lives in `data`.
pub fn control_socket(data: &std::path::Path) -> PathBuf {
    data.join("control.sock")
}

/// An interval as an operator writes it: `90`, `90s`, `30m`, `1h` or `1d`.
pub fn parse_interval(text: &str) -> Result<Duration, String> {
    let text = text.trim();
    let (number, unit) = match text.find(|c: char| !c.is_ascii_digit()) {
        Some(at) => text.split_at(at),
        None => (text, "s"),
    };
    let seconds = match unit {
        "s" => 1,
        "m" => 60,
        "h" => 3600,
        "d" => 86_400,
        _ => return Err(format!("{text:?}: use seconds or a unit: 90s, 30m, 1h, 1d")),
    };
    match number.parse::<u64>() {
        Ok(n) if n > 0 => Ok(Duration::from_secs(n.saturating_mul(seconds))),
        _ => Err(format!(
            "{text:?}: a positive number with a unit: 90s, 30m, 1h, 1d"
        )),
    }
}
