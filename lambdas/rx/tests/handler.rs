//! The rx handler on API Gateway WebSocket events as AWS sends them
//! (fixtures in tests/data), with the in-memory store.

#![allow(clippy::unwrap_used, clippy::expect_used)] // a test fails by panicking

mod support;

use aws_lambda_events::apigw::{ApiGatewayProxyResponse, ApiGatewayWebsocketProxyRequest};
use aws_lambda_events::encodings::Body;
use channels::memory::MemoryStore;
use channels::testing::FailingStore;
use channels::ChannelName;
use lambda_runtime::LambdaEvent;
use support::{channel, open};

fn fixture(name: &str) -> ApiGatewayWebsocketProxyRequest {
    support::request(name)
}

fn event(request: ApiGatewayWebsocketProxyRequest) -> LambdaEvent<ApiGatewayWebsocketProxyRequest> {
    support::lambda_event(request)
}

fn body_text(response: &ApiGatewayProxyResponse) -> &str {
    match &response.body {
        Some(Body::Text(text)) => text,
        other => panic!("expected a text body, got {other:?}"),
    }
}

fn message_of(response: &ApiGatewayProxyResponse) -> String {
    let json: serde_json::Value =
        serde_json::from_str(body_text(response)).expect("JSON error body");
    json["message"].as_str().expect("message field").to_owned()
}

#[tokio::test]
async fn connect_stores_the_connection_under_its_channel() {
    // GIVEN a $connect with ?channel=lobby
    let deps = open(MemoryStore::new());
    let store = &deps.store;

    // WHEN rx handles it
    let response = rx::handle(event(fixture("connect.json")), &deps).await;

    // THEN the handshake is accepted and the connection is stored with the
    // event's connectedAt and an expiry 2 h 10 min later
    assert_eq!(response.status_code, 200);
    let stored = store.get("TWegAcC4EowCHnA=").expect("stored");
    assert_eq!(store.channels_of("TWegAcC4EowCHnA="), [channel("lobby")]);
    assert_eq!(
        stored.protocol,
        channels::Protocol::Raw,
        "no subprotocol offered"
    );
    assert_eq!(stored.subscriptions, 1);
    assert_eq!(stored.connected_at_ms, 1_707_502_303_419);
    assert_eq!(stored.expires_at, 1_707_502_303 + 7_800);
    // That fixture's connection expired long ago; one connected now counts.
    let lobby = ChannelName::parse("lobby").expect("channel");
    assert_eq!(channels::count(store, &lobby).await.ok(), Some(0));
    let mut now = fixture("connect.json");
    now.request_context.connected_at = channels::now_millis();
    assert_eq!(rx::handle(event(now), &deps).await.status_code, 200);
    assert_eq!(channels::count(store, &lobby).await.ok(), Some(1));
}

#[tokio::test]
async fn connect_without_a_channel_joins_the_default_channel() {
    let deps = open(MemoryStore::new());
    let store = &deps.store;
    let response = rx::handle(event(fixture("connect_no_channel.json")), &deps).await;
    assert_eq!(response.status_code, 200);
    assert_eq!(store.channels_of("TWegAcC4EowDDnA="), [channel("default")]);
}

#[tokio::test]
async fn connect_with_a_bad_channel_is_refused_with_400() {
    let deps = open(MemoryStore::new());
    let store = &deps.store;
    let response = rx::handle(event(fixture("connect_bad_channel.json")), &deps).await;
    assert_eq!(response.status_code, 400);
    assert!(
        message_of(&response).contains("allowed are A-Z a-z 0-9 _ - . :"),
        "{}",
        body_text(&response)
    );
    assert!(store.is_empty());
}

#[tokio::test]
async fn connect_with_a_too_long_channel_is_refused_with_400() {
    let deps = open(MemoryStore::new());
    let store = &deps.store;
    let mut request = fixture("connect.json");
    request.query_string_parameters =
        std::collections::HashMap::from([("channel".to_owned(), "x".repeat(129))]).into();
    let response = rx::handle(event(request), &deps).await;
    assert_eq!(response.status_code, 400);
    assert!(message_of(&response).contains("128"));
    assert!(store.is_empty());
}

#[tokio::test]
async fn disconnect_removes_the_connection_and_repeating_it_is_fine() {
    // GIVEN a connected client
    let deps = open(MemoryStore::new());
    let store = &deps.store;
    assert_eq!(
        rx::handle(event(fixture("connect.json")), &deps)
            .await
            .status_code,
        200
    );

    // WHEN its $disconnect arrives, twice
    let first = rx::handle(event(fixture("disconnect.json")), &deps).await;
    let second = rx::handle(event(fixture("disconnect.json")), &deps).await;

    // THEN it is gone and both succeed
    assert_eq!((first.status_code, second.status_code), (200, 200));
    assert!(store.is_empty());
}

#[tokio::test]
async fn a_message_comes_back_verbatim_as_the_route_response() {
    let deps = open(MemoryStore::new());
    let store = &deps.store;
    let response = rx::handle(event(fixture("message.json")), &deps).await;
    assert_eq!(response.status_code, 200);
    assert_eq!(body_text(&response), "{\"hello\": \"wörld\"} 🦀");
    assert!(!response.is_base64_encoded);
    assert!(store.is_empty(), "echo does not touch the store");
}

#[tokio::test]
async fn a_binary_message_comes_back_still_base64_flagged() {
    // API Gateway refuses binary frames (close 1003) before rx sees them; an
    // event flagged base64 is still passed through unchanged, not corrupted.
    let mut request = fixture("message.json");
    request.body = Some("AAEC/w==".into());
    request.is_base64_encoded = true;
    let response = rx::handle(event(request), &open(MemoryStore::new())).await;
    assert_eq!(
        (
            response.status_code,
            body_text(&response),
            response.is_base64_encoded
        ),
        (200, "AAEC/w==", true)
    );
}

#[tokio::test]
async fn an_empty_message_gets_an_empty_route_response() {
    let mut request = fixture("message.json");
    request.body = None;
    let response = rx::handle(event(request), &open(MemoryStore::new())).await;
    assert_eq!(response.status_code, 200);
    assert_eq!(response.body, None);
}

#[tokio::test]
async fn malformed_events_get_400_not_a_panic() {
    let deps = open(MemoryStore::new());
    let store = &deps.store;

    let mut unknown_route = fixture("message.json");
    unknown_route.request_context.route_key = Some("sendmessage".into());
    let response = rx::handle(event(unknown_route), &deps).await;
    assert_eq!(
        (response.status_code, message_of(&response).as_str()),
        (400, "unsupported route")
    );

    let mut no_route = fixture("message.json");
    no_route.request_context.route_key = None;
    assert_eq!(rx::handle(event(no_route), &deps).await.status_code, 400);

    let mut no_id = fixture("connect.json");
    no_id.request_context.connection_id = None;
    let response = rx::handle(event(no_id), &deps).await;
    assert_eq!(
        (response.status_code, message_of(&response).as_str()),
        (400, "missing connection id")
    );
    assert!(store.is_empty());

    // Even an empty JSON object is an event the handler answers.
    let empty: ApiGatewayWebsocketProxyRequest = serde_json::from_str(r#"{"requestContext":{"connectedAt":0,"requestTimeEpoch":0,"identity":{},"authorizer":null}}"#)
        .or_else(|_| serde_json::from_str(r#"{"requestContext":{"connectedAt":0,"requestTimeEpoch":0,"identity":{}}}"#))
        .expect("minimal event");
    assert_eq!(rx::handle(event(empty), &deps).await.status_code, 400);
}

#[tokio::test]
async fn a_store_failure_is_a_500_without_details() {
    for name in ["connect.json", "disconnect.json"] {
        let response = rx::handle(event(fixture(name)), &open(FailingStore)).await;
        assert_eq!(response.status_code, 500, "{name}");
        assert_eq!(message_of(&response), "internal error", "{name}");
        assert!(
            !body_text(&response).contains("arn:aws"),
            "{name} leaks internals"
        );
    }
}
