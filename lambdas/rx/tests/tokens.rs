//! `$connect` with subscriber tokens on, on the API Gateway fixture
//! (tests/data/connect.json, `?channel=lobby`) with a token added the way a
//! client sends it: each case answers exactly, a refusal stores nothing, and
//! no log line carries the token (that case table is in token_logs.rs).

#![allow(clippy::unwrap_used, clippy::expect_used)] // a test fails by panicking

mod support;

use aws_lambda_events::apigw::ApiGatewayWebsocketProxyRequest;
use serde_json::json;
use support::{connect_with, fixture, lambda_event, setup, Setup, CONNECTION_ID};

#[tokio::test]
async fn a_disconnect_of_a_refused_connection_succeeds() {
    let Setup { deps, .. } = setup();
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
    let Setup { deps, .. } = setup();
    let message: ApiGatewayWebsocketProxyRequest =
        serde_json::from_value(fixture("message.json")).unwrap();
    assert_eq!(
        rx::handle(lambda_event(message), &deps).await.status_code,
        200
    );
}
