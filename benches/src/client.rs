//! A y-protocols v1 peer over a websocket, as far as the benchmarks need one: connect,
//! run the sync handshake, send updates, and read decoded messages. Messages are built
//! and parsed with yrs' own `Message`/`SyncMessage` codec; nothing here encodes varints.

use anyhow::{bail, Context, Result};
use futures_util::{SinkExt, Stream, StreamExt};
use std::time::Duration;
use tokio::net::TcpStream;
use tokio_tungstenite::tungstenite::{self, Bytes, Message as WsMessage};
use tokio_tungstenite::{MaybeTlsStream, WebSocketStream};
use yrs::encoding::read::Cursor;
use yrs::sync::protocol::MessageReader;
use yrs::sync::{Message, SyncMessage};
use yrs::updates::decoder::DecoderV1;
use yrs::updates::encoder::Encode;
use yrs::{Doc, ReadTxn, StateVector, Transact};

pub type Ws = WebSocketStream<MaybeTlsStream<TcpStream>>;

/// How long a connect plus handshake may take before the benchmark fails.
pub const HANDSHAKE_TIMEOUT: Duration = Duration::from_secs(30);

/// A decoded y-protocols message, reduced to what a benchmark peer acts on.
#[derive(Debug)]
pub enum Incoming {
    /// The server asks for what it is missing.
    Step1(StateVector),
    /// The server's answer to our step 1: everything we were missing, as a v1 update.
    Step2(Vec<u8>),
    /// A broadcast update (v1).
    Update(Vec<u8>),
    /// Awareness, auth, custom: not measured.
    Other,
}

/// Open `ws://HOST/ws/{doc}[?token=…]` with Nagle disabled (latency is what we measure).
pub async fn connect(ws_base: &str, doc: &str, token: Option<&str>) -> Result<Ws> {
    let url = match token {
        Some(token) => format!("{ws_base}/ws/{doc}?token={token}"),
        None => format!("{ws_base}/ws/{doc}"),
    };
    let (ws, _response) = tokio_tungstenite::connect_async_with_config(url.as_str(), None, true)
        .await
        .with_context(|| format!("connecting to {url}"))?;
    Ok(ws)
}

/// One y-protocols message as a binary websocket frame.
pub fn frame(msg: &Message) -> WsMessage {
    WsMessage::Binary(Bytes::from(msg.encode_v1()))
}

pub fn step1(sv: StateVector) -> WsMessage {
    frame(&Message::Sync(SyncMessage::SyncStep1(sv)))
}

pub fn step2(update: Vec<u8>) -> WsMessage {
    frame(&Message::Sync(SyncMessage::SyncStep2(update)))
}

pub fn update(update: Vec<u8>) -> WsMessage {
    frame(&Message::Sync(SyncMessage::Update(update)))
}

/// Decode every y-protocols message in one binary frame (normally exactly one), with
/// yrs' `MessageReader`. A frame without any message is an error.
pub fn decode(payload: &[u8], out: &mut Vec<Incoming>) -> Result<()> {
    let mut decoder = DecoderV1::new(Cursor::new(payload));
    let before = out.len();
    for msg in MessageReader::new(&mut decoder) {
        out.push(match msg.context("undecodable y-protocols message")? {
            Message::Sync(SyncMessage::SyncStep1(sv)) => Incoming::Step1(sv),
            Message::Sync(SyncMessage::SyncStep2(u)) => Incoming::Step2(u),
            Message::Sync(SyncMessage::Update(u)) => Incoming::Update(u),
            _ => Incoming::Other,
        });
    }
    if out.len() == before {
        bail!(
            "binary frame of {} bytes holds no y-protocols message",
            payload.len()
        );
    }
    Ok(())
}

/// Read frames until one carries y-protocols messages; pings are answered by tungstenite
/// while we read. A close, an error or the end of the stream is a failure: the server
/// must not drop a benchmark peer.
pub async fn recv<S>(ws: &mut S, out: &mut Vec<Incoming>) -> Result<()>
where
    S: Stream<Item = Result<WsMessage, tungstenite::Error>> + Unpin,
{
    out.clear();
    loop {
        match ws.next().await {
            Some(Ok(WsMessage::Binary(payload))) => return decode(&payload, out),
            Some(Ok(WsMessage::Ping(_) | WsMessage::Pong(_) | WsMessage::Frame(_))) => {}
            Some(Ok(WsMessage::Text(t))) => bail!("server sent a text frame: {t:?}"),
            Some(Ok(WsMessage::Close(frame))) => bail!("server closed the connection: {frame:?}"),
            Some(Err(e)) => bail!("websocket error: {e}"),
            None => bail!("server dropped the connection"),
        }
    }
}

/// Send our step 1 and read until the server's step 2 arrives, answering the server's own
/// step 1 from `doc`. Returns the step 2 update and any broadcast updates that came first.
pub async fn handshake(ws: &mut Ws, doc: &Doc) -> Result<(Vec<u8>, Vec<Vec<u8>>)> {
    let sv = doc.transact().state_vector();
    ws.send(step1(sv)).await.context("sending sync step 1")?;
    let mut early = Vec::new();
    let mut inbox = Vec::new();
    loop {
        recv(ws, &mut inbox).await?;
        for msg in inbox.drain(..) {
            match msg {
                Incoming::Step1(remote) => {
                    let diff = doc.transact().encode_state_as_update_v1(&remote);
                    ws.send(step2(diff))
                        .await
                        .context("answering sync step 1")?;
                }
                Incoming::Step2(update) => return Ok((update, early)),
                Incoming::Update(update) => early.push(update),
                Incoming::Other => {}
            }
        }
    }
}

/// Connect and handshake within `HANDSHAKE_TIMEOUT`.
pub async fn connect_synced(
    ws_base: &str,
    doc_name: &str,
    token: Option<&str>,
    doc: &Doc,
) -> Result<(Ws, Vec<u8>, Vec<Vec<u8>>)> {
    tokio::time::timeout(HANDSHAKE_TIMEOUT, async {
        let mut ws = connect(ws_base, doc_name, token).await?;
        let (step2, early) = handshake(&mut ws, doc).await?;
        Ok((ws, step2, early))
    })
    .await
    .map_err(|_| {
        anyhow::anyhow!("connect + sync handshake timed out after {HANDSHAKE_TIMEOUT:?}")
    })?
}

/// Close politely; a server that is already gone is not an error at this point.
pub async fn close(mut ws: Ws) {
    let _ = tokio::time::timeout(Duration::from_secs(5), ws.close(None)).await;
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn decodes_what_it_encodes() {
        let mut out = Vec::new();
        let WsMessage::Binary(b) = update(vec![0, 0]) else {
            unreachable!()
        };
        decode(&b, &mut out).unwrap();
        assert!(matches!(&out[..], [Incoming::Update(u)] if u == &[0, 0]));

        let WsMessage::Binary(b) = step1(StateVector::default()) else {
            unreachable!()
        };
        decode(&b, &mut out).unwrap();
        assert!(matches!(&out[..], [Incoming::Update(_), Incoming::Step1(sv)] if sv.is_empty()));
    }

    #[test]
    fn decodes_several_messages_in_one_frame() {
        let mut payload = Message::Sync(SyncMessage::Update(vec![0, 0])).encode_v1();
        payload.extend(Message::Sync(SyncMessage::SyncStep2(vec![0, 0])).encode_v1());
        let mut out = Vec::new();
        decode(&payload, &mut out).unwrap();
        assert!(matches!(
            &out[..],
            [Incoming::Update(_), Incoming::Step2(_)]
        ));
    }
}
