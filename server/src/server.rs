//! `serve`: the one entry point that wires store, rooms and HTTP together, and the one
//! place shutdown happens: stop accepting, rooms flush, store flushes, return.

use std::future::Future;
use std::sync::Arc;

use axum::serve::ListenerExt;
use std::future::IntoFuture;

use tokio::net::TcpListener;
use tokio::sync::watch;

use crate::config::Config;
use crate::connection::ConnectionSettings;
use crate::http::{self, AppState};
use crate::metrics::Metrics;
use crate::room::RoomSettings;
use crate::rooms::Rooms;
use crate::store::{Store, StoreError};

#[derive(Debug, thiserror::Error)]
pub enum ServeError {
    #[error("cannot open the data directory: {0}")]
    Store(#[from] StoreError),
    #[error("server failed: {0}")]
    Io(#[from] std::io::Error),
}

/// Serves until `shutdown` resolves, then stops gracefully: every acknowledged update is
/// on disk when this returns.
pub async fn serve(
    listener: TcpListener,
    config: Config,
    shutdown: impl Future<Output = ()> + Send + 'static,
) -> Result<(), ServeError> {
    let metrics = Arc::new(Metrics::default());
    std::fs::create_dir_all(&config.data)?;
    let store = Store::open(&config.data, config.cache_mb * 1024 * 1024, metrics.clone())?;
    http::seed_demo(&store).await?;

    let limits = config.limits();
    let settings = RoomSettings {
        limits: limits.clone(),
        mailbox: 1024,
        peer_queue_bytes: config.peer_queue_bytes.max(1),
        idle_unload: config.idle_unload(),
        checkpoint_every: config.checkpoint_every.max(1),
    };
    let rooms = Rooms::new(
        store.clone(),
        metrics.clone(),
        settings,
        config.max_open_docs,
    );
    let state = AppState {
        store: store.clone(),
        rooms: rooms.clone(),
        metrics,
        connection: ConnectionSettings {
            limits,
            queue: config.peer_queue.max(1),
            ping: config.ping_interval(),
        },
        max_connections: config.max_connections,
    };

    // Yjs messages are small and latency-bound: never let Nagle hold them back.
    let listener = listener.tap_io(|tcp| {
        if let Err(e) = tcp.set_nodelay(true) {
            tracing::debug!(error = %e, "cannot set TCP_NODELAY");
        }
    });
    // On the signal, two things at once: the listener stops accepting, and the rooms close
    // their peers, checkpoint and flush (which ends the upgraded connections the server
    // would otherwise wait for). Then one last flush of the store.
    let (stop, stopped) = watch::channel(false);
    tokio::spawn(async move {
        shutdown.await;
        tracing::info!("shutting down: closing documents");
        let _ = stop.send(true);
    });
    let accepting = axum::serve(listener, http::router(state))
        .with_graceful_shutdown(signalled(stopped.clone()))
        .into_future();
    let closing = async {
        signalled(stopped).await;
        rooms.shutdown().await;
    };
    let (served, ()) = tokio::join!(accepting, closing);
    served?;
    store.flush().await?;
    tracing::info!("stopped; everything is on disk");
    Ok(())
}

async fn signalled(mut stopped: watch::Receiver<bool>) {
    let _ = stopped.wait_for(|stop| *stop).await;
}
