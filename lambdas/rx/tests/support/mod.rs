//! What the token tests share: the `$connect` fixture with a token added
//! the way a client sends it, and the handler's dependencies with tokens on.

#![allow(dead_code, clippy::unwrap_used, clippy::expect_used)]

use std::io::Write;
use std::sync::{Arc, Mutex};

use aws_lambda_events::apigw::ApiGatewayWebsocketProxyRequest;
use channels::memory::MemoryStore;
use channels::token::{LocalSigner, Verifier};
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
    let verifier = Verifier::new(vec![signer.public_key().clone()], AUD, ISS);
    Setup {
        signer,
        deps: rx::Deps {
            store: MemoryStore::new(),
            auth: rx::SubscriberAuth::Token(verifier).into(),
        },
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
