//! What the gateway tests share: starting a gateway on port 0 over a chosen
//! store (memory, or DynamoDB on a private moto_server), WebSocket and HTTP
//! clients, and bounded waits on what the gateway does.

#![allow(dead_code)]

pub mod issuer;

use std::sync::atomic::{AtomicU32, Ordering};
use std::time::Duration;

use channels_aws::testing::MotoServer;
use futures::{SinkExt as _, StreamExt as _};
use local_gateway::{
    Gateway, GatewayBuilder, GatewayEvent, NotifierMode, RunningGateway, StoreConfig,
    SubscriberAuthMode,
};
use serde_json::{json, Value};
use tokio::io::{AsyncBufReadExt as _, AsyncWriteExt as _, BufReader};
use tokio::net::{TcpSocket, TcpStream};
use tokio::sync::broadcast;
use tokio_tungstenite::tungstenite::protocol::frame::coding::CloseCode;
use tokio_tungstenite::tungstenite::protocol::CloseFrame;
use tokio_tungstenite::tungstenite::Message;
use tokio_tungstenite::{MaybeTlsStream, WebSocketStream};

/// Every wait in these tests is bounded by this.
pub const WAIT: Duration = Duration::from_secs(10);

pub type Client = WebSocketStream<MaybeTlsStream<TcpStream>>;

/// The store a suite runs on.
#[derive(Clone, Copy, Debug)]
pub enum Backend {
    Memory,
    /// DynamoDB adapter against a moto_server started for the test, and the
    /// handlers' posts through the real `@connections` client (`--notifier
    /// sdk`): every SDK path of the Lambda functions.
    Moto,
}

/// A running gateway (and the moto_server behind it, if any).
pub struct Env {
    pub gateway: RunningGateway,
    pub http: reqwest::Client,
    events: broadcast::Receiver<GatewayEvent>,
    // Dropped after the gateway: declared last.
    pub moto: Option<MotoServer>,
}

/// Starts a gateway on 127.0.0.1:0; `configure` adjusts the builder.
pub async fn start(
    backend: Backend,
    configure: impl FnOnce(GatewayBuilder) -> GatewayBuilder,
) -> Env {
    let (store, notifier, moto) = match backend {
        Backend::Memory => (StoreConfig::Memory, NotifierMode::Direct, None),
        Backend::Moto => {
            let moto =
                MotoServer::start().expect("moto_server (run `make setup`, or set MOTO_SERVER)");
            let store = StoreConfig::Dynamo {
                endpoint: moto.endpoint(),
                table: unique_table(),
            };
            (store, NotifierMode::Sdk, Some(moto))
        }
    };
    let builder = Gateway::builder()
        .stage("staging")
        .store(store)
        .notifier(notifier);
    let gateway = configure(builder)
        .bind("127.0.0.1:0")
        .await
        .expect("the gateway starts");
    let events = gateway.events();
    Env {
        gateway,
        http: reqwest::Client::new(),
        events,
        moto,
    }
}

fn unique_table() -> String {
    static N: AtomicU32 = AtomicU32::new(0);
    format!(
        "gateway-test-{}-{}",
        std::process::id(),
        N.fetch_add(1, Ordering::Relaxed)
    )
}

impl Env {
    /// Connects a WebSocket client to `channel` (`None`: no parameter) and
    /// returns it with its connection id.
    pub async fn connect(&mut self, channel: Option<&str>) -> (Client, String) {
        self.connect_with(channel, None).await
    }

    /// Like [`Env::connect`], for a client that will not read: its socket's
    /// receive buffer is made small, so that what the gateway sends it soon
    /// waits in the gateway.
    pub async fn connect_slow_reader(&mut self, channel: Option<&str>) -> (Client, String) {
        self.connect_with(channel, Some(4096)).await
    }

    async fn connect_with(
        &mut self,
        channel: Option<&str>,
        recv_buffer: Option<u32>,
    ) -> (Client, String) {
        let url = match channel {
            Some(channel) => format!("{}?channel={channel}", self.gateway.ws_url()),
            None => self.gateway.ws_url(),
        };
        let socket = TcpSocket::new_v4().expect("a socket");
        if let Some(size) = recv_buffer {
            socket.set_recv_buffer_size(size).expect("SO_RCVBUF");
        }
        let (client, response) = tokio::time::timeout(WAIT, async {
            let stream = socket
                .connect(self.gateway.addr())
                .await
                .expect("TCP connect");
            tokio_tungstenite::client_async(url.as_str(), MaybeTlsStream::Plain(stream)).await
        })
        .await
        .expect("connect in time")
        .expect("the handshake succeeds");
        assert_eq!(response.status(), 101);
        let id = self
            .wait_event(|e| match e {
                GatewayEvent::Connected { connection_id } => Some(connection_id.clone()),
                _ => None,
            })
            .await;
        (client, id)
    }

    /// The next gateway event `pick` accepts; earlier ones are skipped.
    pub async fn wait_event<T>(&mut self, mut pick: impl FnMut(&GatewayEvent) -> Option<T>) -> T {
        tokio::time::timeout(WAIT, async {
            loop {
                match self.events.recv().await {
                    Ok(event) => {
                        if let Some(found) = pick(&event) {
                            return found;
                        }
                    }
                    Err(broadcast::error::RecvError::Lagged(_)) => {}
                    Err(broadcast::error::RecvError::Closed) => panic!("the gateway stopped"),
                }
            }
        })
        .await
        .expect("the expected gateway event in time")
    }

    /// Waits for the `$disconnect` of `id`; returns its status code and reason.
    pub async fn disconnected(&mut self, id: &str) -> (u16, String) {
        self.wait_event(|e| match e {
            GatewayEvent::Disconnected {
                connection_id,
                status_code,
                reason,
            } if connection_id == id => Some((*status_code, reason.clone())),
            _ => None,
        })
        .await
    }

    pub fn url(&self, path: &str) -> String {
        format!("{}{path}", self.gateway.http_url())
    }

    /// `POST /channels/{channel}` (or `POST /` for `None`): status and JSON.
    pub async fn publish(&self, channel: Option<&str>, body: &str) -> (u16, Value) {
        let path = channel.map_or_else(|| "/".to_owned(), |c| format!("/channels/{c}"));
        let response = self
            .http
            .post(self.url(&path))
            .header("content-type", "application/x-www-form-urlencoded")
            .body(body.to_owned())
            .send()
            .await
            .expect("publish answers");
        json(response).await
    }

    /// `GET /channels/{channel}`'s `connections`.
    pub async fn count(&self, channel: &str) -> u64 {
        let response = self
            .http
            .get(self.url(&format!("/channels/{channel}")))
            .send()
            .await
            .expect("count answers");
        let (status, body) = json(response).await;
        assert_eq!(status, 200, "{body}");
        assert_eq!(body["channel"], channel);
        body["connections"].as_u64().expect("a count")
    }

    /// A management API client built as the http handler builds its own.
    pub async fn management(&self) -> aws_sdk_apigatewaymanagement::Client {
        let sdk = channels_aws::testing::sdk_config();
        let config = aws_sdk_apigatewaymanagement::config::Builder::from(&sdk)
            .endpoint_url(self.gateway.management_endpoint())
            .build();
        aws_sdk_apigatewaymanagement::Client::from_conf(config)
    }
}

/// A request sent with `expect: 100-continue` whose body is held back:
/// once [`HeldRequest::start`] returns, the gateway has read its head and
/// asked for the body (hyper answers 100 Continue when the handler first
/// reads it).
pub struct HeldRequest {
    stream: BufReader<TcpStream>,
}

impl HeldRequest {
    /// Sends the head of `method path` (a path on the gateway, stage
    /// included) announcing `content_length` bytes, and waits for 100 Continue.
    pub async fn start(env: &Env, method: &str, path: &str, content_length: usize) -> Self {
        let addr = env.gateway.addr();
        tokio::time::timeout(WAIT, async {
            let mut stream = BufReader::new(TcpStream::connect(addr).await.expect("TCP connect"));
            let head = format!(
                "{method} {path} HTTP/1.1\r\nhost: {addr}\r\ncontent-length: {content_length}\r\n\
                 expect: 100-continue\r\n\r\n"
            );
            stream
                .get_mut()
                .write_all(head.as_bytes())
                .await
                .expect("the head goes out");
            let (status, _) = read_head(&mut stream).await;
            assert_eq!(status, 100, "the gateway asks for the body");
            Self { stream }
        })
        .await
        .expect("100 Continue in time")
    }

    /// Sends the body; returns the final answer's status and headers
    /// (names lowercase).
    pub async fn finish(mut self, body: &[u8]) -> (u16, Vec<(String, String)>) {
        tokio::time::timeout(WAIT, async {
            self.stream
                .get_mut()
                .write_all(body)
                .await
                .expect("the body goes out");
            read_head(&mut self.stream).await
        })
        .await
        .expect("an answer in time")
    }
}

/// Reads a response head: its status and headers.
async fn read_head(stream: &mut BufReader<TcpStream>) -> (u16, Vec<(String, String)>) {
    let mut status_line = String::new();
    stream
        .read_line(&mut status_line)
        .await
        .expect("a status line");
    let status = status_line
        .split(' ')
        .nth(1)
        .and_then(|code| code.parse().ok())
        .unwrap_or_else(|| panic!("not a status line: {status_line:?}"));
    let mut headers = Vec::new();
    loop {
        let mut line = String::new();
        stream.read_line(&mut line).await.expect("a header line");
        let line = line.trim_end();
        if line.is_empty() {
            return (status, headers);
        }
        if let Some((name, value)) = line.split_once(':') {
            headers.push((name.trim().to_ascii_lowercase(), value.trim().to_owned()));
        }
    }
}

pub async fn json(response: reqwest::Response) -> (u16, Value) {
    let status = response.status().as_u16();
    let text = response.text().await.expect("a body");
    let body = serde_json::from_str(&text).unwrap_or(Value::String(text));
    (status, body)
}

/// The next data message, as text (binary messages are decoded as UTF-8).
pub async fn recv_text(client: &mut Client) -> String {
    match recv(client).await {
        Message::Text(text) => text.as_str().to_owned(),
        Message::Binary(bytes) => String::from_utf8_lossy(&bytes).into_owned(),
        other => panic!("expected a data message, got {other:?}"),
    }
}

/// The next message that is not a ping or pong.
pub async fn recv(client: &mut Client) -> Message {
    tokio::time::timeout(WAIT, async {
        loop {
            match client.next().await {
                Some(Ok(Message::Ping(_) | Message::Pong(_))) => {}
                Some(Ok(message)) => return message,
                Some(Err(err)) => panic!("the socket failed: {err}"),
                None => panic!("the socket ended without a close frame"),
            }
        }
    })
    .await
    .expect("a message in time")
}

/// Waits for the gateway's close frame; returns its code and reason, and
/// finishes the close handshake.
pub async fn expect_close(client: &mut Client) -> (u16, String) {
    let frame = match recv(client).await {
        Message::Close(Some(frame)) => (u16::from(frame.code), frame.reason.as_str().to_owned()),
        Message::Close(None) => (1005, String::new()),
        other => panic!("expected a close frame, got {other:?}"),
    };
    // The reply goes out as the stream is read to its end.
    let _ = tokio::time::timeout(WAIT, async {
        while let Some(Ok(_)) = client.next().await {}
    })
    .await;
    frame
}

/// Sends a text message.
pub async fn send(client: &mut Client, text: &str) {
    client
        .send(Message::text(text))
        .await
        .expect("the message goes out");
}

/// Sends `text` as one message in frames of at most `frame` bytes (a text
/// frame, then continuation frames), as a browser or proxy may.
pub async fn send_fragmented(client: &mut Client, text: &str, frame: usize) {
    use tokio_tungstenite::tungstenite::protocol::frame::coding::{Data, OpCode};
    use tokio_tungstenite::tungstenite::protocol::frame::Frame;
    let chunks: Vec<&[u8]> = text.as_bytes().chunks(frame.max(1)).collect();
    let last = chunks.len().saturating_sub(1);
    for (i, chunk) in chunks.iter().enumerate() {
        let opcode = if i == 0 { Data::Text } else { Data::Continue };
        let frame = Frame::message(chunk.to_vec(), OpCode::Data(opcode), i == last);
        tokio::time::timeout(WAIT, client.send(Message::Frame(frame)))
            .await
            .expect("sent in time")
            .expect("a frame is sent");
    }
}

/// Closes from the client side with `code` and completes the handshake.
pub async fn close(client: &mut Client, code: u16) {
    client
        .close(Some(CloseFrame {
            code: CloseCode::from(code),
            reason: "bye".into(),
        }))
        .await
        .expect("the close frame goes out");
    let _ = tokio::time::timeout(WAIT, async {
        while let Some(Ok(_)) = client.next().await {}
    })
    .await;
}

/// An `lrw.v1` client: commands with ids, their replies, and what else
/// arrives meanwhile (messages, events) kept in order for later.
pub struct V1 {
    pub client: Client,
    pub id: String,
    pending: std::collections::VecDeque<Value>,
    next_id: u32,
}

impl Env {
    /// Connects offering `lrw.v1` (and the token as `token.<JWT>`), with
    /// `?channel=` when given; the handshake must select `lrw.v1`.
    pub async fn connect_v1(&mut self, channel: Option<&str>, token: Option<&str>) -> V1 {
        let response = self.handshake_v1(channel, token).await;
        let (client, response) = response.expect("the handshake succeeds");
        assert_eq!(response.status(), 101);
        assert_eq!(
            response
                .headers()
                .get("sec-websocket-protocol")
                .and_then(|v| v.to_str().ok()),
            Some("lrw.v1"),
            "the gateway selects lrw.v1 and only it"
        );
        let id = self
            .wait_event(|e| match e {
                GatewayEvent::Connected { connection_id } => Some(connection_id.clone()),
                _ => None,
            })
            .await;
        V1 {
            client,
            id,
            pending: std::collections::VecDeque::new(),
            next_id: 0,
        }
    }

    /// The handshake of [`Env::connect_v1`], refused or not.
    pub async fn handshake_v1(
        &self,
        channel: Option<&str>,
        token: Option<&str>,
    ) -> Result<
        (
            Client,
            tokio_tungstenite::tungstenite::handshake::client::Response,
        ),
        tokio_tungstenite::tungstenite::Error,
    > {
        use tokio_tungstenite::tungstenite::client::IntoClientRequest as _;
        let url = match channel {
            Some(channel) => format!("{}?channel={channel}", self.gateway.ws_url()),
            None => self.gateway.ws_url(),
        };
        let mut request = url.into_client_request().expect("a request");
        let offer = match token {
            Some(token) => format!("lrw.v1, token.{token}"),
            None => "lrw.v1".to_owned(),
        };
        request
            .headers_mut()
            .insert("sec-websocket-protocol", offer.parse().expect("a header"));
        tokio::time::timeout(WAIT, tokio_tungstenite::connect_async(request))
            .await
            .expect("an answer in time")
    }
}

impl V1 {
    /// Sends `command` with a fresh `id` added; returns the id.
    pub async fn send(&mut self, mut command: Value) -> String {
        self.next_id += 1;
        let id = self.next_id.to_string();
        command["id"] = Value::String(id.clone());
        send(&mut self.client, &command.to_string()).await;
        id
    }

    /// Sends `command` and waits for its reply; what arrives before it is
    /// kept for [`V1::next`].
    pub async fn call(&mut self, command: Value) -> Value {
        let id = self.send(command).await;
        self.reply(&id).await
    }

    /// The reply with this `id`.
    pub async fn reply(&mut self, id: &str) -> Value {
        loop {
            let frame = self.read().await;
            if frame["id"] == id {
                return frame;
            }
            self.pending.push_back(frame);
        }
    }

    /// The next frame that is not a reply to a command.
    pub async fn next(&mut self) -> Value {
        if let Some(frame) = self.pending.pop_front() {
            return frame;
        }
        self.read().await
    }

    /// Asserts that nothing but replies arrived before a ping's pong: what
    /// was sent to this connection before the ping is queued ahead of it.
    pub async fn nothing_else(&mut self) {
        self.send(serde_json::json!({"action": "ping"})).await;
        let frame = match self.pending.pop_front() {
            Some(frame) => frame,
            None => self.read().await,
        };
        assert_eq!(
            frame["type"].as_str(),
            Some("pong"),
            "nothing was expected, got {frame}"
        );
    }

    async fn read(&mut self) -> Value {
        let text = recv_text(&mut self.client).await;
        serde_json::from_str(&text).unwrap_or_else(|_| panic!("not JSON: {text}"))
    }
}

/// Reads `stream` until the gateway closes it (EOF or a reset); returns
/// what arrived. Panics if it is still open after [`WAIT`].
pub async fn read_until_closed(stream: &mut TcpStream) -> Vec<u8> {
    use tokio::io::AsyncReadExt as _;
    let mut seen = Vec::new();
    tokio::time::timeout(WAIT, async {
        let mut buf = [0u8; 4096];
        loop {
            match stream.read(&mut buf).await {
                Ok(0) | Err(_) => return,
                Ok(n) => seen.extend_from_slice(&buf[..n]),
            }
        }
    })
    .await
    .unwrap_or_else(|_| {
        panic!(
            "the gateway still holds the connection after {WAIT:?}; got {:?}",
            String::from_utf8_lossy(&seen)
        )
    });
    seen
}

/// The status of the first response in `bytes`, if any.
pub fn first_status(bytes: &[u8]) -> Option<u16> {
    let text = String::from_utf8_lossy(bytes);
    let rest = text
        .strip_prefix("HTTP/1.1 ")
        .or_else(|| text.strip_prefix("HTTP/1.0 "))?;
    rest.get(..3)?.parse().ok()
}

/// A WebSocket handshake request to `url` with these extra headers (`host`
/// and `origin` replace what the client would send).
pub fn ws_request(
    url: &str,
    headers: &[(&'static str, &str)],
) -> tokio_tungstenite::tungstenite::handshake::client::Request {
    use tokio_tungstenite::tungstenite::client::IntoClientRequest as _;
    let mut request = url.into_client_request().expect("a request");
    for (name, value) in headers {
        request
            .headers_mut()
            .insert(*name, value.parse().expect("a header value"));
    }
    request
}

/// Opens a WebSocket with `request`: the handshake's status, and the
/// client on 101.
pub async fn ws_handshake(
    request: tokio_tungstenite::tungstenite::handshake::client::Request,
) -> (u16, Option<Client>, String) {
    use tokio_tungstenite::tungstenite::Error as WsError;
    match tokio::time::timeout(WAIT, tokio_tungstenite::connect_async(request))
        .await
        .expect("the handshake ends in time")
    {
        Ok((client, response)) => (response.status().as_u16(), Some(client), String::new()),
        Err(WsError::Http(response)) => {
            let body = response
                .body()
                .as_ref()
                .map(|b| String::from_utf8_lossy(b).into_owned())
                .unwrap_or_default();
            (response.status().as_u16(), None, body)
        }
        Err(other) => panic!("handshake failed: {other}"),
    }
}

impl Env {
    /// Every event the gateway has emitted since the last call, without
    /// waiting.
    pub fn drain_events(&mut self) -> Vec<GatewayEvent> {
        let mut events = Vec::new();
        loop {
            match self.events.try_recv() {
                Ok(event) => events.push(event),
                Err(broadcast::error::TryRecvError::Lagged(n)) => {
                    panic!("{n} gateway events were missed")
                }
                Err(_) => return events,
            }
        }
    }
}

/// A gateway on the in-memory store with subscriber tokens on; `configure`
/// adjusts the builder further.
pub async fn with_tokens(
    configure: impl FnOnce(local_gateway::GatewayBuilder) -> local_gateway::GatewayBuilder,
) -> Env {
    start(Backend::Memory, |b| {
        configure(b.subscriber_auth(SubscriberAuthMode::Token))
    })
    .await
}

/// A token from `POST /tokens` for `channels`, publishing to `publish`,
/// held by `subject`.
pub async fn token(env: &Env, channels: &[&str], publish: &[&str], subject: &str) -> String {
    let response = env
        .http
        .post(env.url("/tokens"))
        .json(&json!({"channels": channels, "publish": publish, "subject": subject}))
        .send()
        .await
        .unwrap();
    let (status, body) = json(response).await;
    assert_eq!(status, 200, "{body}");
    body["token"].as_str().unwrap().to_owned()
}

/// `scenarios!(a, b)` runs each `async fn a(backend: Backend)` of the test
/// file twice: on the in-memory store (`memory::a`) and, with feature `aws`,
/// on DynamoDB at a moto_server (`moto::a`, ignored by plain `cargo test`;
/// `make test` runs it).
#[allow(unused_macros)]
macro_rules! scenarios {
    ($($name:ident),* $(,)?) => {
        mod memory {
            $(
                #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
                async fn $name() {
                    super::$name(super::Backend::Memory).await;
                }
            )*
        }
        #[cfg(feature = "aws")]
        mod moto {
            $(
                #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
                #[ignore = "needs moto_server; `make test` runs it"]
                async fn $name() {
                    super::$name(super::Backend::Moto).await;
                }
            )*
        }
    };
}
#[allow(unused_imports)]
pub(crate) use scenarios;
