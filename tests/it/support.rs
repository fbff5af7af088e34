//! Test support: the real server in-process on port 0 with a temporary data dir, and a
//! yrs-backed websocket client that speaks y-protocols like a browser would.

use std::net::SocketAddr;
use std::path::{Path, PathBuf};
use std::sync::{Arc, Mutex};
use std::time::Duration;

use futures_util::{SinkExt, StreamExt};
use tokio::sync::{mpsc, oneshot};
use tokio::task::JoinHandle;
use tokio_tungstenite::tungstenite::Message as WsMessage;
use yrs::sync::awareness::AwarenessUpdateEntry;
use yrs::sync::{AwarenessUpdate, Message, SyncMessage};
use yrs::updates::decoder::Decode;
use yrs::updates::encoder::Encode;
use yrs::{ClientID, Doc, GetString, Options, ReadTxn, Text, Transact, Update};

pub const WAIT: Duration = Duration::from_secs(10);

/// The admin token every test server is started with.
pub const ADMIN: &str = "test-admin-token-0123456789abcdef";

/// An HTTP client that signs every request in as admin.
pub fn admin_http() -> reqwest::Client {
    let mut headers = reqwest::header::HeaderMap::new();
    let bearer = format!("Bearer {ADMIN}");
    headers.insert(
        reqwest::header::AUTHORIZATION,
        reqwest::header::HeaderValue::from_str(&bearer).expect("header"),
    );
    reqwest::Client::builder()
        .default_headers(headers)
        .build()
        .expect("client")
}

/// The value of a Prometheus metric of the server (the first line that names it).
pub async fn metric(server: &TestServer, name: &str) -> f64 {
    let text = admin_get(server.url("/metrics"))
        .await
        .unwrap()
        .text()
        .await
        .unwrap();
    text.lines()
        .find_map(|l| l.strip_prefix(name).and_then(|rest| rest.strip_prefix(' ')))
        .unwrap_or_else(|| panic!("metric {name} missing in:\n{text}"))
        .parse()
        .unwrap()
}

/// The HTTP status a websocket upgrade to `url` gets (101 when it is accepted), with
/// extra request headers.
pub async fn upgrade_status(url: &str, headers: &[(&str, &str)]) -> u16 {
    use tokio_tungstenite::tungstenite::client::IntoClientRequest;
    let mut request = url.into_client_request().expect("request");
    for (name, value) in headers {
        request.headers_mut().insert(
            reqwest::header::HeaderName::from_bytes(name.as_bytes()).expect("name"),
            value.parse().expect("value"),
        );
    }
    match tokio_tungstenite::connect_async(request).await {
        Ok(_) => 101,
        Err(tokio_tungstenite::tungstenite::Error::Http(response)) => response.status().as_u16(),
        Err(e) => panic!("unexpected error {e}"),
    }
}

/// `GET url` as admin.
/// Creates a document as admin; returns its id.
pub async fn create_doc(server: &TestServer, title: &str) -> String {
    let response = admin_http()
        .post(server.url("/api/docs"))
        .json(&serde_json::json!({ "title": title }))
        .send()
        .await
        .unwrap();
    assert_eq!(response.status(), 201);
    let entry: serde_json::Value = response.json().await.unwrap();
    entry["id"].as_str().unwrap().to_owned()
}

pub async fn admin_get(url: impl reqwest::IntoUrl) -> reqwest::Result<reqwest::Response> {
    admin_http().get(url).send().await
}

/// A running server with its own data directory.
pub struct TestServer {
    pub addr: SocketAddr,
    pub data: PathBuf,
    _dir: Option<tempfile::TempDir>,
    stop: Option<oneshot::Sender<()>>,
    task: Option<JoinHandle<()>>,
}

impl TestServer {
    pub async fn start() -> TestServer {
        Self::start_with(|_| {}).await
    }

    pub async fn start_with(tune: impl FnOnce(&mut leitbild::Config)) -> TestServer {
        let dir = tempfile::tempdir().expect("temp dir");
        let mut server = Self::start_in(dir.path(), tune).await;
        server._dir = Some(dir);
        server
    }

    /// Starts a server on an existing data directory (which the caller keeps alive).
    pub async fn start_in(data: &Path, tune: impl FnOnce(&mut leitbild::Config)) -> TestServer {
        let listener = tokio::net::TcpListener::bind("127.0.0.1:0")
            .await
            .expect("bind");
        let addr = listener.local_addr().unwrap();
        let mut config = leitbild::Config {
            data: data.to_path_buf(),
            addr,
            admin_token: Some(leitbild::config::Secret(ADMIN.into())),
            ..Default::default()
        };
        tune(&mut config);
        let (stop, stopped) = oneshot::channel::<()>();
        let task = tokio::spawn(async move {
            leitbild::serve(listener, config, async {
                let _ = stopped.await;
            })
            .await
            .expect("server failed");
        });
        TestServer {
            addr,
            data: data.to_path_buf(),
            _dir: None,
            stop: Some(stop),
            task: Some(task),
        }
    }

    /// Stops gracefully and waits until everything is flushed.
    pub async fn stop(mut self) -> Option<tempfile::TempDir> {
        self.stop.take().map(|s| s.send(()));
        if let Some(task) = self.task.take() {
            tokio::time::timeout(WAIT, task)
                .await
                .expect("server stops in time")
                .expect("server task");
        }
        self._dir.take()
    }

    /// Stops and starts again on the same data directory.
    pub async fn restart(self) -> TestServer {
        self.restart_with(|_| {}).await
    }

    /// Stops gracefully and starts again on the same data dir with another configuration.
    pub async fn restart_with(self, tune: impl FnOnce(&mut leitbild::Config)) -> TestServer {
        let data = self.data.clone();
        let dir = self.stop().await;
        let mut server = Self::start_in(&data, tune).await;
        server._dir = dir;
        server
    }

    pub fn url(&self, path: &str) -> String {
        format!("http://{}{}", self.addr, path)
    }

    /// The websocket URL of `doc`, signed in as admin.
    pub fn ws_url(&self, doc: &str) -> String {
        format!("ws://{}/ws/{}?token={ADMIN}", self.addr, doc)
    }

    /// The websocket URL of `doc` with `token` (none if empty).
    pub fn ws_url_with(&self, doc: &str, token: &str) -> String {
        if token.is_empty() {
            format!("ws://{}/ws/{}", self.addr, doc)
        } else {
            format!("ws://{}/ws/{}?token={token}", self.addr, doc)
        }
    }

    pub async fn connect(&self, doc: &str) -> Client {
        Client::connect(&self.ws_url(doc)).await
    }
}

impl Drop for TestServer {
    fn drop(&mut self) {
        if let Some(stop) = self.stop.take() {
            let _ = stop.send(());
        }
    }
}

/// A y-protocols peer backed by a yrs `Doc`, like a browser tab.
pub struct Client {
    pub doc: Doc,
    out: mpsc::Sender<WsMessage>,
    state: Arc<Mutex<ClientState>>,
    awareness_clock: u32,
}

#[derive(Default)]
struct ClientState {
    synced: bool,
    /// Remote awareness: client id -> JSON state ("null" once removed).
    awareness: std::collections::HashMap<u64, String>,
    close: Option<(u16, String)>,
    disconnected: bool,
    /// Reasons of the permission-denied messages the server sent.
    denied: Vec<String>,
}

impl Client {
    pub async fn connect(url: &str) -> Client {
        let client = Self::connect_unsynced(url).await;
        client.wait_for(|c| c.is_synced()).await;
        client
    }

    /// Connects and sends SyncStep1 without waiting for the answer.
    pub async fn connect_unsynced(url: &str) -> Client {
        Self::connect_with(url, Self::new_doc()).await
    }

    /// A document like a Yjs 13 client's: a random 32-bit client id.
    pub fn new_doc() -> Doc {
        Doc::with_options(Options {
            client_id: ClientID::new(rand::random::<u32>() as u64),
            ..Default::default()
        })
    }

    /// Connects with a document that may hold edits made while offline; they reach the
    /// server in the client's answer to the server's sync step 1, as with y-websocket.
    pub async fn connect_with(url: &str, doc: Doc) -> Client {
        Self::connect_request(url, &[], doc).await
    }

    /// Connects with extra request headers (an Origin, a Cookie), and waits for the sync.
    pub async fn connect_with_headers(url: &str, headers: &[(&str, &str)]) -> Client {
        let client = Self::connect_request(url, headers, Self::new_doc()).await;
        client.wait_for(|c| c.is_synced()).await;
        client
    }

    async fn connect_request(url: &str, headers: &[(&str, &str)], doc: Doc) -> Client {
        use tokio_tungstenite::tungstenite::client::IntoClientRequest;
        let mut request = url.into_client_request().expect("request");
        for (name, value) in headers {
            request.headers_mut().insert(
                reqwest::header::HeaderName::from_bytes(name.as_bytes()).expect("name"),
                value.parse().expect("value"),
            );
        }
        let (socket, _) = tokio_tungstenite::connect_async(request)
            .await
            .expect("websocket connects");
        let (mut sink, mut stream) = socket.split();
        let state = Arc::new(Mutex::new(ClientState::default()));
        let (out, mut outgoing) = mpsc::channel::<WsMessage>(1024);

        tokio::spawn(async move {
            while let Some(message) = outgoing.recv().await {
                if sink.send(message).await.is_err() {
                    break;
                }
            }
        });
        let reader_doc = doc.clone();
        let reader_state = state.clone();
        let reply = out.clone();
        tokio::spawn(async move {
            while let Some(frame) = stream.next().await {
                match frame {
                    Ok(WsMessage::Binary(bytes)) => {
                        let Ok(message) = Message::decode_v1(&bytes) else {
                            continue;
                        };
                        match message {
                            Message::Sync(SyncMessage::SyncStep1(sv)) => {
                                let diff = reader_doc.transact().encode_diff_v1(&sv);
                                let answer =
                                    Message::Sync(SyncMessage::SyncStep2(diff)).encode_v1();
                                let _ = reply.send(WsMessage::Binary(answer.into())).await;
                            }
                            Message::Sync(SyncMessage::SyncStep2(update)) => {
                                apply(&reader_doc, &update);
                                reader_state.lock().unwrap().synced = true;
                            }
                            Message::Sync(SyncMessage::Update(update)) => {
                                apply(&reader_doc, &update)
                            }
                            Message::Auth(Some(reason)) => {
                                reader_state.lock().unwrap().denied.push(reason);
                            }
                            Message::Awareness(update) => {
                                {
                                    let mut s = reader_state.lock().unwrap();
                                    for (id, entry) in &update.clients {
                                        s.awareness.insert(id.get(), entry.json.to_string());
                                    }
                                }
                                // Like y-websocket's provider, which sends every awareness
                                // change it sees back to the server, other people's too.
                                let echo = Message::Awareness(update).encode_v1();
                                let _ = reply.send(WsMessage::Binary(echo.into())).await;
                            }
                            _ => {}
                        }
                    }
                    Ok(WsMessage::Close(frame)) => {
                        let mut s = reader_state.lock().unwrap();
                        s.close = frame.map(|f| (u16::from(f.code), f.reason.to_string()));
                        break;
                    }
                    Ok(_) => {}
                    Err(_) => break,
                }
            }
            reader_state.lock().unwrap().disconnected = true;
        });

        let client = Client {
            doc,
            out,
            state,
            awareness_clock: 0,
        };
        let sv = client.doc.transact().state_vector();
        client.send(Message::Sync(SyncMessage::SyncStep1(sv))).await;
        client
    }

    /// Leaves like a closing browser tab: a close frame, then the socket ends.
    pub async fn close(self) {
        self.send_raw(WsMessage::Close(None)).await;
        self.wait_for(|c| c.is_disconnected()).await;
    }

    pub fn client_id(&self) -> u64 {
        self.doc.client_id().get()
    }

    pub async fn send(&self, message: Message) {
        self.send_raw(WsMessage::Binary(message.encode_v1().into()))
            .await;
    }

    pub async fn send_raw(&self, frame: WsMessage) {
        let _ = self.out.send(frame).await;
    }

    /// Inserts text into the shared `text` and sends the update, as an editor would.
    pub async fn insert(&self, index: u32, chunk: &str) {
        let update = {
            let text = self.doc.get_or_insert_text("text");
            let mut txn = self.doc.transact_mut();
            let before = txn.state_vector();
            text.insert(&mut txn, index, chunk);
            txn.encode_diff_v1(&before)
        };
        self.send(Message::Sync(SyncMessage::Update(update))).await;
    }

    /// Appends a paragraph to the editor's XML fragment `default` and sends the update.
    pub async fn push_paragraph(&self, text: &str) {
        use yrs::{XmlElementPrelim, XmlFragment, XmlTextPrelim};
        let update = {
            let frag = self.doc.get_or_insert_xml_fragment("default");
            let mut txn = self.doc.transact_mut();
            let before = txn.state_vector();
            let p = frag.push_back(&mut txn, XmlElementPrelim::empty("paragraph"));
            p.push_back(&mut txn, XmlTextPrelim::new(text));
            txn.encode_diff_v1(&before)
        };
        self.send(Message::Sync(SyncMessage::Update(update))).await;
    }

    pub async fn append(&self, chunk: &str) {
        let len = self
            .doc
            .get_or_insert_text("text")
            .len(&self.doc.transact());
        self.insert(len, chunk).await;
    }

    pub fn text(&self) -> String {
        let text = self.doc.get_or_insert_text("text");
        let txn = self.doc.transact();
        text.get_string(&txn)
    }

    pub async fn set_awareness(&mut self, json: &str) {
        self.awareness_clock += 1;
        let entry = AwarenessUpdateEntry {
            clock: self.awareness_clock,
            json: json.into(),
        };
        let update = AwarenessUpdate {
            clients: [(self.doc.client_id(), entry)].into(),
        };
        self.send(Message::Awareness(update)).await;
    }

    /// Remote client ids whose awareness state is set (not removed).
    pub fn present(&self) -> Vec<u64> {
        let s = self.state.lock().unwrap();
        let mut ids: Vec<u64> = s
            .awareness
            .iter()
            .filter(|(_, j)| j.as_str() != "null")
            .map(|(id, _)| *id)
            .collect();
        ids.sort();
        ids
    }

    /// The JSON awareness state of a remote client, as last received.
    pub fn state_of(&self, id: u64) -> Option<String> {
        self.state.lock().unwrap().awareness.get(&id).cloned()
    }

    /// The reasons of the permission-denied messages received so far.
    pub fn denied(&self) -> Vec<String> {
        self.state.lock().unwrap().denied.clone()
    }

    pub fn is_synced(&self) -> bool {
        self.state.lock().unwrap().synced
    }

    pub fn is_disconnected(&self) -> bool {
        self.state.lock().unwrap().disconnected
    }

    /// The close frame the server sent, once the connection has ended.
    pub async fn closed(&self) -> Option<(u16, String)> {
        self.wait_for(|c| c.is_disconnected()).await;
        self.state.lock().unwrap().close.clone()
    }

    /// Polls `check` until it holds; panics with a clear message after [`WAIT`].
    pub async fn wait_for(&self, check: impl Fn(&Client) -> bool) {
        let deadline = tokio::time::Instant::now() + WAIT;
        while !check(self) {
            assert!(
                tokio::time::Instant::now() < deadline,
                "condition not reached in {WAIT:?}; text is {:?}",
                self.text()
            );
            tokio::time::sleep(Duration::from_millis(5)).await;
        }
    }

    pub async fn wait_for_text(&self, expected: &str) {
        self.wait_for(|c| c.text() == expected).await;
    }
}

fn apply(doc: &Doc, update: &[u8]) {
    if let Ok(update) = Update::decode_v1(update) {
        let _ = doc.transact_mut().apply_update(update);
    }
}

/// Polls an async-free condition until it holds, or panics after [`WAIT`].
pub async fn eventually(what: &str, check: impl Fn() -> bool) {
    let deadline = tokio::time::Instant::now() + WAIT;
    while !check() {
        assert!(
            tokio::time::Instant::now() < deadline,
            "{what}: not reached in {WAIT:?}"
        );
        tokio::time::sleep(Duration::from_millis(5)).await;
    }
}
