//! What the handler tests share: fixtures, the `$connect` fixture with a
//! token added the way a client sends it, the handler's dependencies with
//! tokens off or on, minted tokens, channel names, an answer's JSON body,
//! captured log lines.

#![allow(dead_code, clippy::unwrap_used, clippy::expect_used)]

use std::io::Write;
use std::sync::{Arc, Mutex};

use aws_lambda_events::apigw::{ApiGatewayProxyResponse, ApiGatewayWebsocketProxyRequest};
use aws_lambda_events::encodings::Body;
use channels::memory::MemoryStore;
use channels::token::{mint, LocalSigner, MintRequest, Minter, Verifier};
use channels::ChannelName;
use lambda_runtime::tracing::subscriber::fmt::MakeWriter;
use lambda_runtime::{Context, LambdaEvent};
use serde_json::{json, Value};

pub const AUD: &str = "wss://abcd123456.execute-api.us-east-1.amazonaws.com/staging";
pub const ISS: &str = "https://wxyz987654.execute-api.us-east-1.amazonaws.com/staging";
pub const CONNECTION_ID: &str = "TWegAcC4EowCHnA=";

pub fn fixture(name: &str) -> Value {
    let path = format!("{}/tests/data/{name}", env!("CARGO_MANIFEST_DIR"));
    serde_json::from_str(&std::fs::read_to_string(&path).unwrap()).unwrap()
}

/// connect.json (`?channel=lobby`), connected now, with `token` in the query.
pub fn connect_with(token: Option<&str>, header: Option<&str>) -> ApiGatewayWebsocketProxyRequest {
    let mut event = fixture("connect.json");
    event["requestContext"]["connectedAt"] = json!(channels::now_millis());
    if let Some(token) = token {
        event["queryStringParameters"]["token"] = json!(token);
        event["multiValueQueryStringParameters"]["token"] = json!([token]);
    }
    if let Some(header) = header {
        event["headers"]["Authorization"] = json!(header);
        event["multiValueHeaders"]["Authorization"] = json!([header]);
    }
    serde_json::from_value(event).unwrap()
}

pub fn lambda_event(
    request: ApiGatewayWebsocketProxyRequest,
) -> LambdaEvent<ApiGatewayWebsocketProxyRequest> {
    LambdaEvent::new(request, Context::default())
}

pub struct Setup {
    pub signer: LocalSigner,
    pub deps: rx::Deps<MemoryStore>,
}

pub fn setup() -> Setup {
    let signer = LocalSigner::generate().unwrap();
    Setup {
        deps: with_tokens(&signer),
        signer,
    }
}

/// The handler's dependencies with subscriber tokens off (the open mode).
pub fn open<S>(store: S) -> rx::Deps<S> {
    rx::Deps {
        store,
        auth: rx::SubscriberAuth::None.into(),
    }
}

/// The handler's dependencies with subscriber tokens on, verified with
/// `signer`'s key.
pub fn with_tokens(signer: &LocalSigner) -> rx::Deps<MemoryStore> {
    let verifier = Verifier::new(vec![signer.public_key().clone()], AUD, ISS);
    rx::Deps {
        store: MemoryStore::new(),
        auth: rx::SubscriberAuth::Token(verifier).into(),
    }
}

/// A token for `channels` and `publish`, held by user-42, for 10 minutes
/// from `now`; and its `exp`.
pub async fn minted(
    signer: &LocalSigner,
    channels: &[&str],
    publish: &[&str],
    now: i64,
) -> (String, i64) {
    let minter = Minter {
        key: signer.public_key().clone(),
        audience: AUD.into(),
        issuer: ISS.into(),
        max_ttl_secs: 3600,
    };
    let body = json!({ "channels": channels, "publish": publish, "ttlSeconds": 600, "subject": "user-42" });
    let request = MintRequest::parse(body.to_string().as_bytes(), 3600).unwrap();
    let minted = mint(signer, &minter, request, now).await.unwrap();
    (minted.token, minted.expires_at)
}

/// The channel `name`, which must be valid.
pub fn channel(name: &str) -> ChannelName {
    ChannelName::parse(name).unwrap_or_else(|e| panic!("{name:?} is a valid channel: {e}"))
}

/// An answer's JSON body.
pub fn message(response: &ApiGatewayProxyResponse) -> Value {
    match &response.body {
        Some(Body::Text(text)) => serde_json::from_str(text).unwrap(),
        other => panic!("expected a JSON body, got {other:?}"),
    }
}

/// The fixture `name` as the event API Gateway sends.
pub fn request(name: &str) -> ApiGatewayWebsocketProxyRequest {
    serde_json::from_value(fixture(name))
        .unwrap_or_else(|e| panic!("{name} is not a WebSocket event: {e}"))
}

/// Log lines written while a test runs.
#[derive(Clone, Default)]
pub struct Capture(Arc<Mutex<Vec<u8>>>);

impl Write for Capture {
    fn write(&mut self, buf: &[u8]) -> std::io::Result<usize> {
        self.0.lock().unwrap().extend_from_slice(buf);
        Ok(buf.len())
    }
    fn flush(&mut self) -> std::io::Result<()> {
        Ok(())
    }
}

impl<'a> MakeWriter<'a> for Capture {
    type Writer = Capture;
    fn make_writer(&'a self) -> Self::Writer {
        self.clone()
    }
}

impl Capture {
    /// Captures this thread's log lines, at TRACE, until the guard drops.
    pub fn start() -> (Self, tracing::subscriber::DefaultGuard) {
        let capture = Self::default();
        let subscriber = lambda_runtime::tracing::subscriber::fmt()
            .with_writer(capture.clone())
            .with_max_level(lambda_runtime::tracing::Level::TRACE)
            .finish();
        let guard = tracing::subscriber::set_default(subscriber);
        (capture, guard)
    }

    pub fn text(&self) -> String {
        String::from_utf8_lossy(&self.0.lock().unwrap()).into_owned()
    }
}
