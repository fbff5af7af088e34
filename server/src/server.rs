//! `serve`: the one entry point that wires store, access, rooms and HTTP together, and the
//! one place shutdown happens: stop accepting, rooms flush, store flushes, return.

use std::future::{Future, IntoFuture};
use std::net::SocketAddr;
use std::path::PathBuf;
use std::sync::Arc;
use std::time::Duration;

use axum::serve::ListenerExt;
use axum::Extension;
use tokio::net::TcpListener;
use tokio::sync::watch;

use crate::auth::Auth;
use crate::config::Config;
use crate::connection::ConnectionSettings;
use crate::http::{self, AppState, Links, Operator};
use crate::metrics::Metrics;
use crate::room::{Due, RoomSettings};
use crate::rooms::Rooms;
use crate::store::{Store, StoreError};

#[derive(Debug, thiserror::Error)]
pub enum ServeError {
    #[error("{}", opening_advice(.dir, .error))]
    Open { dir: PathBuf, error: StoreError },
    #[error("storage failed: {0}")]
    Store(#[from] StoreError),
    #[error("server failed: {0}")]
    Io(#[from] std::io::Error),
}

/// One line for an operator whose data directory does not open: what, and what to do.
fn opening_advice(dir: &std::path::Path, error: &StoreError) -> String {
    let dir = dir.display();
    match error {
        StoreError::Locked => format!(
            "the data directory {dir} is in use by another Leitbild server: stop that one first, or start this one with another --data directory"
        ),
        StoreError::Unreadable(why) | StoreError::Corrupt(why) => format!(
            "the data directory {dir} is damaged and cannot be opened ({why}): restore it from a backup (docs/operations.md) and keep the damaged copy for inspection"
        ),
        other => format!("cannot open the data directory {dir}: {other}"),
    }
}

/// What a newcomer (and the operator) needs to know once the server listens.
#[derive(Debug)]
pub struct Started {
    pub url: String,
    /// A sign-in link for the admin, when this start generated the admin credential.
    pub admin_link: Option<String>,
    /// Where `leitbild invite …` and `leitbild admin-link` reach this server, if it could
    /// be opened.
    pub control_socket: Option<PathBuf>,
}

/// Serves until `shutdown` resolves, then stops gracefully: every acknowledged update is
/// on disk when this returns.
pub async fn serve(
    listener: TcpListener,
    config: Config,
    shutdown: impl Future<Output = ()> + Send + 'static,
) -> Result<(), ServeError> {
    serve_and_tell(listener, config, shutdown, |_| {}).await
}

/// [`serve`], calling `started` once the server accepts connections.
pub async fn serve_and_tell(
    listener: TcpListener,
    config: Config,
    shutdown: impl Future<Output = ()> + Send + 'static,
    started: impl FnOnce(&Started),
) -> Result<(), ServeError> {
    let metrics = Arc::new(Metrics::default());
    std::fs::create_dir_all(&config.data)?;
    let store = Store::open_with(
        &config.data,
        config.cache_mb * 1024 * 1024,
        metrics.clone(),
        config.flush_hook.clone(),
    )
    .map_err(|error| ServeError::Open {
        dir: config.data.clone(),
        error,
    })?;
    http::seed_demo(&store).await?;
    let auth = Auth::new(
        store.clone(),
        config.admin_token.as_ref().map(|s| s.0.as_str()),
        config.auth_failures_per_minute,
    );
    let first_admin = auth.bootstrap().await?;

    let limits = config.limits();
    let settings = RoomSettings {
        limits: limits.clone(),
        mailbox: 1024,
        peer_queue_bytes: config.peer_queue_bytes.max(1),
        idle_unload: config.idle_unload(),
        auto_version: Duration::from_secs(config.auto_version_secs.max(1)),
        checkpoint: Due {
            every: config.checkpoint_every.max(1),
            bytes: config.checkpoint_bytes.max(1),
            max_age: Duration::from_secs(config.checkpoint_secs.max(1)),
        },
    };
    let rooms = Rooms::new(
        store.clone(),
        metrics.clone(),
        settings,
        config.max_open_docs,
    );
    let addr = listener.local_addr()?;
    let links = Links {
        public_url: config.public_url.clone(),
        listen_url: format!("http://{addr}"),
        allowed_origins: config.allowed_origins.clone(),
    };
    let state = AppState {
        store: store.clone(),
        rooms: rooms.clone(),
        auth: auth.clone(),
        metrics,
        connection: ConnectionSettings {
            limits,
            queue: config.peer_queue.max(1),
            ping: config.ping_interval(),
        },
        max_connections: config.max_connections,
        links: links.clone(),
        private_archive: config.private_archive,
        history: Default::default(),
    };

    // On the signal, two things at once: the listeners stop accepting, and the rooms close
    // their peers, checkpoint and flush (which ends the upgraded connections the server
    // would otherwise wait for). Then one last flush of the store.
    let (stop, stopped) = watch::channel(false);
    tokio::spawn(async move {
        shutdown.await;
        tracing::info!("shutting down: closing documents");
        let _ = stop.send(true);
    });
    let control = control_listener(&config);
    let control_socket = control.as_ref().map(|_| config.control_socket());
    let controlling = control.map(|listener| {
        let router = http::router(state.clone()).layer(Extension(Operator));
        let serving =
            axum::serve(listener, router).with_graceful_shutdown(signalled(stopped.clone()));
        tokio::spawn(async move {
            if let Err(e) = serving.await {
                tracing::warn!(error = %e, "control socket failed");
            }
        })
    });
    let purging = tokio::spawn(purge_trash_hourly(store.clone(), auth, rooms.clone()));
    let backing_up = config.backup_dir.clone().map(|dir| {
        tokio::spawn(crate::backup::run_periodically(
            store.clone(),
            dir,
            config.backup_every,
            config.backup_keep.max(1),
        ))
    });

    // Yjs messages are small and latency-bound: never let Nagle hold them back.
    let listener = listener.tap_io(|tcp| {
        if let Err(e) = tcp.set_nodelay(true) {
            tracing::debug!(error = %e, "cannot set TCP_NODELAY");
        }
    });
    let app = http::router(state).into_make_service_with_connect_info::<SocketAddr>();
    let accepting = axum::serve(listener, app)
        .with_graceful_shutdown(signalled(stopped.clone()))
        .into_future();
    let base = links.public_url.clone().unwrap_or(links.listen_url);
    started(&Started {
        admin_link: first_admin
            .map(|token| format!("{}/?token={}", base.trim_end_matches('/'), token.as_str())),
        url: base,
        control_socket: control_socket.clone(),
    });
    let closing = async {
        signalled(stopped).await;
        rooms.shutdown().await;
    };
    let (served, ()) = tokio::join!(accepting, closing);
    // Everything that holds the store ends before the last flush, so that the database
    // is closed (and its lock released) when this returns.
    purging.abort();
    let _ = purging.await;
    if let Some(backing_up) = backing_up {
        backing_up.abort();
        let _ = backing_up.await;
    }
    if let Some(controlling) = controlling {
        let _ = controlling.await;
    }
    served?;
    let flushed = store.flush().await;
    if let Some(path) = control_socket {
        let _ = std::fs::remove_file(path);
    }
    flushed?;
    tracing::info!("stopped; everything is on disk");
    Ok(())
}

/// The control socket, readable and writable only by the server's user: whoever can use
/// it could read the data directory anyway. A socket file left by a server that was
/// killed is replaced (the data directory's lock shows no other server uses it).
fn control_listener(config: &Config) -> Option<tokio::net::UnixListener> {
    let path = config.control_socket();
    let _ = std::fs::remove_file(&path);
    let bound = tokio::net::UnixListener::bind(&path).and_then(|listener| {
        use std::os::unix::fs::PermissionsExt;
        std::fs::set_permissions(&path, std::fs::Permissions::from_mode(0o600))?;
        Ok(listener)
    });
    match bound {
        Ok(listener) => Some(listener),
        Err(e) => {
            tracing::warn!(path = %path.display(), error = %e, "no control socket: the operator commands cannot reach this server");
            None
        }
    }
}

/// Lets the trash forget documents deleted more than 30 days ago, at start and hourly.
async fn purge_trash_hourly(store: Store, auth: Auth, rooms: Rooms) {
    let mut hourly = tokio::time::interval(Duration::from_secs(3600));
    loop {
        hourly.tick().await;
        if let Err(e) = http::purge_expired(&store, &auth, &rooms).await {
            tracing::warn!(error = %e, "cannot purge the trash");
        }
    }
}

async fn signalled(mut stopped: watch::Receiver<bool>) {
    let _ = stopped.wait_for(|stop| *stop).await;
}
