//! `$connect` with subscriber tokens on, on the API Gateway fixture
//! (tests/data/connect.json, `?channel=lobby`) with a token added the way a
//! client sends it: each case answers exactly, a refusal stores nothing, and
//! no log line carries the token (that case table is in token_logs.rs).

#![allow(clippy::unwrap_used, clippy::expect_used)] // a test fails by panicking

use aws_lambda_events::apigw::ApiGatewayWebsocketProxyRequest;
use channels::memory::MemoryStore;
use channels::token::{LocalSigner, Verifier};
use lambda_runtime::{Context, LambdaEvent};
use serde_json::{json, Value};

const AUD: &str = "wss://abcd123456.execute-api.us-east-1.amazonaws.com/staging";
const ISS: &str = "https://wxyz987654.execute-api.us-east-1.amazonaws.com/staging";
const CONNECTION_ID: &str = "TWegAcC4EowCHnA=";

fn fixture(name: &str) -> Value {
    let path = format!("{}/tests/data/{name}", env!("CARGO_MANIFEST_DIR"));
    serde_json::from_str(&std::fs::read_to_string(&path).unwrap()).unwrap()
}

/// connect.json (`?channel=lobby`), connected now, with `token` in the query.
fn connect_with(token: Option<&str>, header: Option<&str>) -> ApiGatewayWebsocketProxyRequest {
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

fn lambda_event(
    request: ApiGatewayWebsocketProxyRequest,
) -> LambdaEvent<ApiGatewayWebsocketProxyRequest> {
    LambdaEvent::new(request, Context::default())
}

struct Setup {
    deps: rx::Deps<MemoryStore>,
}

fn setup() -> Setup {
    let signer = LocalSigner::generate().unwrap();
    let verifier = Verifier::new(vec![signer.public_key().clone()], AUD, ISS);
    Setup {
        deps: rx::Deps {
            store: MemoryStore::new(),
            auth: rx::SubscriberAuth::Token(verifier),
        },
    }
}

#[tokio::test]
async fn a_disconnect_of_a_refused_connection_succeeds() {
    let Setup { deps } = setup();
    let refused = rx::handle(lambda_event(connect_with(None, None)), &deps).await;
    assert_eq!(refused.status_code, 401);
    let mut disconnect = fixture("disconnect.json");
    disconnect["requestContext"]["connectionId"] = json!(CONNECTION_ID);
    let response = rx::handle(
        lambda_event(serde_json::from_value(disconnect).unwrap()),
        &deps,
    )
    .await;
    assert_eq!(response.status_code, 200);
}

#[tokio::test]
async fn messages_need_no_token_once_connected() {
    // $default comes only on a connection $connect accepted.
    let Setup { deps } = setup();
    let message: ApiGatewayWebsocketProxyRequest =
        serde_json::from_value(fixture("message.json")).unwrap();
    assert_eq!(
        rx::handle(lambda_event(message), &deps).await.status_code,
        200
    );
}
