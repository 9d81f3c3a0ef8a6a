//! `$connect` negotiating `lrw.v1`, on the API Gateway fixture of a
//! browser's handshake (tests/data/connect_v1.json: `Sec-WebSocket-Protocol:
//! lrw.v1, token.<JWT>`, no query string): the answer selects `lrw.v1`, the
//! connection is stored as `lrw.v1` with its first subscription only when
//! `?channel=` names one, the `token.<JWT>` subprotocol is verified and its
//! grants stored, and the token never comes back nor reaches a log line.
//!
//! Every test captures the log with a thread-local subscriber at TRACE (so
//! that no test leaves tracing's per-callsite interest cached as disabled
//! for another).

#![allow(clippy::unwrap_used, clippy::expect_used)] // a test fails by panicking

mod support;

use aws_lambda_events::apigw::{ApiGatewayProxyResponse, ApiGatewayWebsocketProxyRequest};
use channels::memory::MemoryStore;
use channels::token::LocalSigner;
use channels::{Grants, Pattern, Protocol, Store};
use serde_json::json;
use support::{channel, fixture, lambda_event, message, minted, open, with_tokens, Capture};

/// The fixture's connection id.
const ID: &str = "TWf1XcC5IAMCJ0g=";

/// connect_v1.json connected now, offering `protocols` (none: the header
/// removed), with `?channel=` when given.
fn connect_v1(protocols: Option<&str>, channel: Option<&str>) -> ApiGatewayWebsocketProxyRequest {
    let mut event = fixture("connect_v1.json");
    event["requestContext"]["connectedAt"] = json!(channels::now_millis());
    for headers in ["headers", "multiValueHeaders"] {
        event[headers]
            .as_object_mut()
            .unwrap()
            .remove("Sec-WebSocket-Protocol");
    }
    if let Some(protocols) = protocols {
        event["headers"]["Sec-WebSocket-Protocol"] = json!(protocols);
        event["multiValueHeaders"]["Sec-WebSocket-Protocol"] = json!([protocols]);
    }
    if let Some(channel) = channel {
        event["queryStringParameters"] = json!({ "channel": channel });
        event["multiValueQueryStringParameters"] = json!({ "channel": [channel] });
    }
    serde_json::from_value(event).unwrap()
}

/// The fixture exactly as API Gateway sent it, connected now.
fn fixture_now() -> ApiGatewayWebsocketProxyRequest {
    let mut event = fixture("connect_v1.json");
    event["requestContext"]["connectedAt"] = json!(channels::now_millis());
    serde_json::from_value(event).unwrap()
}

/// The answer's `Sec-WebSocket-Protocol`, if any.
fn selected(response: &ApiGatewayProxyResponse) -> Option<String> {
    response
        .headers
        .get(http::header::SEC_WEBSOCKET_PROTOCOL)
        .map(|v| v.to_str().unwrap().to_owned())
}

/// Neither the answer (headers, body) nor the log carries `token`, nor its
/// claims or signature alone.
fn assert_token_kept_secret(token: &str, response: &ApiGatewayProxyResponse, log: &str) {
    let answer = serde_json::to_string(response).unwrap();
    // No header of the answer offers a token back.
    for (name, value) in response
        .headers
        .iter()
        .chain(response.multi_value_headers.iter())
    {
        let value = value.to_str().unwrap_or_default();
        assert!(!value.contains("token"), "{name}: {value}");
    }
    let mut parts = token.split('.');
    let (_, claims, signature) = (
        parts.next().unwrap(),
        parts.next().unwrap(),
        parts.next().unwrap(),
    );
    for (what, text) in [("answer", answer.as_str()), ("log", log)] {
        assert!(
            !text.contains(token),
            "the {what} carries the token: {text}"
        );
        assert!(
            !text.contains(claims),
            "the {what} carries its claims: {text}"
        );
        assert!(
            !text.contains(signature),
            "the {what} carries its signature: {text}"
        );
    }
}

#[tokio::test]
async fn lrw_v1_without_a_channel_is_selected_and_subscribes_to_nothing() {
    let (capture, _guard) = Capture::start();
    // GIVEN the open mode, and the browser's handshake as API Gateway sent it
    let deps = open(MemoryStore::new());
    let request = fixture_now();
    let offered = request
        .headers
        .get("sec-websocket-protocol")
        .unwrap()
        .to_str()
        .unwrap()
        .to_owned();
    let token = offered.split_once("token.").unwrap().1.to_owned();

    // WHEN rx handles it
    let response = rx::handle(lambda_event(request), &deps).await;

    // THEN the handshake is accepted, selecting lrw.v1 and nothing else
    assert_eq!(response.status_code, 200);
    assert_eq!(selected(&response).as_deref(), Some("lrw.v1"));
    assert_eq!(
        response
            .headers
            .get_all(http::header::SEC_WEBSOCKET_PROTOCOL)
            .iter()
            .count(),
        1
    );
    // AND the connection is stored as lrw.v1, with every grant and no membership
    let stored = deps.store.get(ID).expect("stored");
    assert_eq!(stored.protocol, Protocol::V1);
    assert_eq!(stored.grants, Grants::all());
    assert_eq!(stored.subscriptions, 0);
    assert_eq!((stored.subject, stored.token_expires_at), (None, None));
    assert!(deps.store.channels_of(ID).is_empty());
    assert_eq!(deps.store.memberships(), 0);
    // AND the token it offered (unchecked in the open mode) went nowhere
    assert_token_kept_secret(&token, &response, &capture.text());
}

#[tokio::test]
async fn lrw_v1_with_a_channel_subscribes_to_it_as_v1() {
    let (_capture, _guard) = Capture::start();
    let deps = open(MemoryStore::new());
    // WHEN lrw.v1 is offered with ?channel=lobby
    let response = rx::handle(
        lambda_event(connect_v1(Some("lrw.v1"), Some("lobby"))),
        &deps,
    )
    .await;
    // THEN lobby is its one subscription, and fan-out sees an lrw.v1 member
    assert_eq!(response.status_code, 200);
    assert_eq!(selected(&response).as_deref(), Some("lrw.v1"));
    assert_eq!(deps.store.channels_of(ID), [channel("lobby")]);
    assert_eq!(deps.store.get(ID).unwrap().subscriptions, 1);
    let page = deps
        .store
        .members(&channel("lobby"), 0, None, None)
        .await
        .unwrap();
    assert_eq!(page.members.len(), 1);
    assert_eq!(page.members[0].connection_id, ID);
    assert_eq!(page.members[0].protocol, Protocol::V1);
}

#[tokio::test]
async fn lrw_v1_is_found_among_other_offers_in_any_order() {
    let (_capture, _guard) = Capture::start();
    for offered in ["chat, lrw.v1", "lrw.v1,chat", "token.abc.def.ghi, lrw.v1"] {
        let deps = open(MemoryStore::new());
        let response = rx::handle(lambda_event(connect_v1(Some(offered), None)), &deps).await;
        assert_eq!(response.status_code, 200, "{offered}");
        assert_eq!(selected(&response).as_deref(), Some("lrw.v1"), "{offered}");
        assert_eq!(deps.store.get(ID).unwrap().protocol, Protocol::V1);
    }
}

#[tokio::test]
async fn a_token_subprotocol_is_verified_and_its_grants_stored_but_never_echoed_nor_logged() {
    let (capture, _guard) = Capture::start();
    // GIVEN tokens on, and a token for room-* (subscribe and publish) held by user-42
    let signer = LocalSigner::generate().unwrap();
    let deps = with_tokens(&signer);
    let now = channels::now_millis() / 1000;
    let (token, exp) = minted(&signer, &["room-*"], &["room-*"], now).await;

    // WHEN a browser offers lrw.v1 and the token, joining room-7
    let offered = format!("lrw.v1, token.{token}");
    let response = rx::handle(
        lambda_event(connect_v1(Some(&offered), Some("room-7"))),
        &deps,
    )
    .await;

    // THEN it is accepted, selecting lrw.v1 only
    assert_eq!(response.status_code, 200);
    assert_eq!(selected(&response).as_deref(), Some("lrw.v1"));
    // AND the connection holds the token's grants, subject and expiry
    let stored = deps.store.get(ID).expect("stored");
    assert_eq!(stored.protocol, Protocol::V1);
    let room = Pattern::parse("room-*").unwrap();
    assert_eq!(
        stored.grants,
        Grants {
            subscribe: vec![room.clone()],
            publish: vec![room],
        }
    );
    assert_eq!(stored.subject.as_deref(), Some("user-42"));
    assert_eq!(stored.token_expires_at, Some(exp));
    assert_eq!(deps.store.channels_of(ID), [channel("room-7")]);
    // AND the token is in neither the answer nor the log, which does name the holder
    let log = capture.text();
    assert_token_kept_secret(&token, &response, &log);
    assert!(log.contains("user-42"), "{log}");
    assert!(log.contains(ID), "{log}");
}

#[tokio::test]
async fn a_token_subprotocol_without_a_channel_stores_its_grants_and_no_membership() {
    let (capture, _guard) = Capture::start();
    let signer = LocalSigner::generate().unwrap();
    let deps = with_tokens(&signer);
    let now = channels::now_millis() / 1000;
    let (token, exp) = minted(&signer, &["lobby"], &[], now).await;
    let response = rx::handle(
        lambda_event(connect_v1(Some(&format!("lrw.v1, token.{token}")), None)),
        &deps,
    )
    .await;
    assert_eq!(response.status_code, 200);
    let stored = deps.store.get(ID).expect("stored");
    assert_eq!(stored.grants.subscribe, [Pattern::parse("lobby").unwrap()]);
    assert!(stored.grants.publish.is_empty());
    assert_eq!(stored.token_expires_at, Some(exp));
    assert!(deps.store.channels_of(ID).is_empty());
    assert_token_kept_secret(&token, &response, &capture.text());
}

#[tokio::test]
async fn a_token_granting_room_star_refuses_lobby_with_403_and_stores_nothing() {
    let (capture, _guard) = Capture::start();
    // GIVEN a token for room-* only
    let signer = LocalSigner::generate().unwrap();
    let deps = with_tokens(&signer);
    let now = channels::now_millis() / 1000;
    let (token, _) = minted(&signer, &["room-*"], &[], now).await;
    let offered = format!("lrw.v1, token.{token}");

    // WHEN it asks for lobby, and for room (the prefix without its dash)
    for refused in ["lobby", "room"] {
        let response = rx::handle(
            lambda_event(connect_v1(Some(&offered), Some(refused))),
            &deps,
        )
        .await;
        // THEN 403 with the category only, nothing stored, no subprotocol selected
        assert_eq!(response.status_code, 403, "{refused}");
        assert_eq!(message(&response), json!({"message": "Forbidden"}));
        assert_eq!(selected(&response), None);
        assert!(deps.store.is_empty(), "{refused}");
        assert_token_kept_secret(&token, &response, &capture.text());
    }
}

#[tokio::test]
async fn a_bad_token_in_the_subprotocol_is_401_and_stores_nothing() {
    let (capture, _guard) = Capture::start();
    let signer = LocalSigner::generate().unwrap();
    let deps = with_tokens(&signer);
    let now = channels::now_millis() / 1000;
    let (expired, _) = minted(&signer, &["lobby"], &[], now - 4000).await;
    let (stranger, _) = minted(&LocalSigner::generate().unwrap(), &["lobby"], &[], now).await;
    // The fixture's own token is signed by no key we know.
    let placeholder = fixture_now();
    for (name, request, token) in [
        (
            "expired",
            connect_v1(Some(&format!("lrw.v1, token.{expired}")), Some("lobby")),
            expired.clone(),
        ),
        (
            "another key",
            connect_v1(Some(&format!("lrw.v1, token.{stranger}")), None),
            stranger.clone(),
        ),
        ("the fixture's", placeholder, String::new()),
        (
            "no token at all",
            connect_v1(Some("lrw.v1"), None),
            String::new(),
        ),
    ] {
        let response = rx::handle(lambda_event(request), &deps).await;
        assert_eq!(response.status_code, 401, "{name}");
        assert_eq!(
            message(&response),
            json!({"message": "Unauthorized"}),
            "{name}"
        );
        assert!(deps.store.is_empty(), "{name}");
        if !token.is_empty() {
            assert_token_kept_secret(&token, &response, &capture.text());
        }
    }
}

#[tokio::test]
async fn a_token_subprotocol_without_lrw_v1_is_refused_with_400() {
    let (capture, _guard) = Capture::start();
    let signer = LocalSigner::generate().unwrap();
    let now = channels::now_millis() / 1000;
    let (token, _) = minted(&signer, &["lobby"], &[], now).await;
    for deps in [open(MemoryStore::new()), with_tokens(&signer)] {
        for offered in [
            format!("token.{token}"),
            format!("chat, token.{token}"),
            format!("token.{token}, lrw.v2"),
        ] {
            // WHEN a token is offered without lrw.v1
            let response = rx::handle(
                lambda_event(connect_v1(Some(&offered), Some("lobby"))),
                &deps,
            )
            .await;
            // THEN the handshake is refused with 400, selecting nothing, storing nothing
            assert_eq!(response.status_code, 400, "{offered}");
            assert!(
                message(&response)["message"]
                    .as_str()
                    .unwrap()
                    .contains("lrw.v1"),
                "{offered}"
            );
            assert_eq!(selected(&response), None);
            assert!(deps.store.is_empty());
            assert_token_kept_secret(&token, &response, &capture.text());
        }
    }
}

#[tokio::test]
async fn a_raw_connection_still_joins_default_and_selects_no_subprotocol() {
    let (_capture, _guard) = Capture::start();
    for offered in [None, Some("chat"), Some("lrw.v2, lrw")] {
        // GIVEN the open mode, and a handshake without lrw.v1 nor ?channel
        let deps = open(MemoryStore::new());
        // WHEN rx handles it
        let response = rx::handle(lambda_event(connect_v1(offered, None)), &deps).await;
        // THEN it is accepted as raw, selecting nothing, and joins default
        assert_eq!(response.status_code, 200, "{offered:?}");
        assert_eq!(selected(&response), None, "{offered:?}");
        let stored = deps.store.get(ID).expect("stored");
        assert_eq!(stored.protocol, Protocol::Raw, "{offered:?}");
        assert_eq!(deps.store.channels_of(ID), [channel("default")]);
        assert_eq!(stored.subscriptions, 1);
    }
}

#[tokio::test]
async fn a_bad_channel_is_refused_with_400_for_lrw_v1_too() {
    let (_capture, _guard) = Capture::start();
    let deps = open(MemoryStore::new());
    for bad in ["", "a b", "room-*"] {
        let response = rx::handle(lambda_event(connect_v1(Some("lrw.v1"), Some(bad))), &deps).await;
        assert_eq!(response.status_code, 400, "{bad:?}");
        assert_eq!(selected(&response), None);
        assert!(deps.store.is_empty());
    }
}
