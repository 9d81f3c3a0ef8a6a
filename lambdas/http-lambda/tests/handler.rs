//! The http handler on API Gateway HTTP API (payload 2.0) events as AWS sends
//! them (fixtures in tests/data), with the in-memory adapters.

#![allow(clippy::unwrap_used, clippy::expect_used)] // a test fails by panicking

mod support;

use aws_lambda_events::apigw::ApiGatewayV2httpRequest;
use aws_lambda_events::encodings::Body;
use channels::memory::MemoryStore;
use channels::testing::FailingStore;
use channels::testing::MemoryNotifier;
use channels::token::LocalSigner;
use channels::{ChannelName, Connection, Fanout, PublishOptions, Store};
use http::Method;
use http_lambda::{handle, Deps, Tokens, ROUTES};
use serde_json::json;
use support::{event, fast, http_event, json_of, minter, verifier};

fn deps() -> Deps<MemoryStore, MemoryNotifier, LocalSigner> {
    let signer = LocalSigner::generate().expect("a key");
    let verifier = verifier(&signer);
    let minter = minter(&signer);
    Deps {
        tokens: Some(Tokens::new(signer, minter, &verifier)),
        ..Deps::new(Fanout::new(
            MemoryStore::new(),
            MemoryNotifier::new(),
            fast(),
        ))
    }
}

async fn join<N, K>(deps: &Deps<MemoryStore, N, K>, id: &str, channel: &str) {
    let channel = ChannelName::parse(channel).expect("channel");
    deps.fanout
        .store
        .connect(
            &Connection::new(id, channels::now_millis() - 60_000),
            Some(&channel),
        )
        .await
        .expect("connect");
}

/// A `$default`-route event for `method path` (what API Gateway sends for
/// anything no declared route matches).
fn default_route(method: Method, path: &str, body: Option<&str>) -> ApiGatewayV2httpRequest {
    let mut request = http_event("default_route.json");
    request.raw_path = Some(path.to_owned());
    request.request_context.http.path = Some(path.to_owned());
    request.request_context.http.method = method;
    request.body = body.map(str::to_owned);
    request
}

#[tokio::test]
async fn post_root_publishes_to_the_default_channel() {
    // GIVEN two members of "default" and one of "lobby"
    let deps = deps();
    join(&deps, "d1=", "default").await;
    join(&deps, "d2=", "default").await;
    join(&deps, "l1=", "lobby").await;

    // WHEN `curl -XPOST -H 'content-type: text/plain' -d'message' …/staging/`
    // arrives (plain `curl -d` sends a form, which comes base64-encoded: see
    // post_channel_base64.json)
    let response = handle(event(http_event("post_root.json")), &deps).await;

    // THEN both default members got "message" and the report says so
    assert_eq!(response.status_code, 200);
    assert_eq!(
        json_of(&response),
        json!({"channel": "default", "offset": 1, "recipients": 2, "delivered": 2, "gone": 0, "failed": 0})
    );
    // In the documented order, as people read it.
    assert_eq!(
        response.body,
        Some(Body::Text(
            r#"{"channel":"default","offset":1,"recipients":2,"delivered":2,"gone":0,"failed":0}"#
                .into()
        ))
    );
    assert_eq!(
        deps.fanout.notifier.delivered("d1="),
        vec![b"message".to_vec()]
    );
    assert_eq!(
        deps.fanout.notifier.delivered("d2="),
        vec![b"message".to_vec()]
    );
    assert!(deps.fanout.notifier.delivered("l1=").is_empty());
}

#[tokio::test]
async fn a_base64_body_is_decoded_before_it_is_sent() {
    let deps = deps();
    join(&deps, "l1=", "lobby").await;
    let response = handle(event(http_event("post_channel_base64.json")), &deps).await;
    assert_eq!(response.status_code, 200);
    assert_eq!(json_of(&response)["delivered"], 1);
    assert_eq!(
        deps.fanout.notifier.delivered("l1="),
        vec![b"hello, lobby".to_vec()]
    );
}

#[tokio::test]
async fn get_counts_the_members_of_a_channel() {
    let deps = deps();
    for id in ["a=", "b=", "c="] {
        join(&deps, id, "lobby").await;
    }
    join(&deps, "x=", "elsewhere").await;
    let response = handle(event(http_event("get_channel.json")), &deps).await;
    assert_eq!(response.status_code, 200);
    assert_eq!(
        json_of(&response),
        json!({"channel": "lobby", "connections": 3})
    );
}

#[tokio::test]
async fn gone_members_are_reported_and_removed() {
    let deps = deps();
    join(&deps, "alive=", "lobby").await;
    join(&deps, "ghost=", "lobby").await;
    deps.fanout.notifier.gone("ghost=");
    let response = handle(event(http_event("post_channel_base64.json")), &deps).await;
    assert_eq!(
        json_of(&response),
        json!({"channel": "lobby", "offset": 1, "recipients": 2, "delivered": 1, "gone": 1, "failed": 0})
    );
    assert!(deps.fanout.store.get("ghost=").is_none());
}

#[tokio::test]
async fn an_empty_body_is_400() {
    let deps = deps();
    join(&deps, "d1=", "default").await;
    for body in [None, Some(String::new())] {
        let mut request = http_event("post_root.json");
        request.body = body;
        let response = handle(event(request), &deps).await;
        assert_eq!(response.status_code, 400);
        assert!(json_of(&response)["message"]
            .as_str()
            .is_some_and(|m| m.contains("empty")));
    }
    assert_eq!(deps.fanout.notifier.attempts("d1="), 0, "nothing was sent");
}

#[tokio::test]
async fn a_body_over_128_kib_is_413_and_exactly_128_kib_is_fine() {
    let deps = deps();
    join(&deps, "d1=", "default").await;

    let mut too_big = http_event("post_root.json");
    too_big.body = Some("x".repeat(128 * 1024 + 1));
    let response = handle(event(too_big), &deps).await;
    assert_eq!(response.status_code, 413);
    assert!(json_of(&response)["message"]
        .as_str()
        .is_some_and(|m| m.contains("131073")));

    // The limit applies to the decoded message, not its base64 form (here
    // 171 KiB)…
    use base64::Engine as _;
    let base64 = |bytes: Vec<u8>| {
        let mut request = http_event("post_channel_base64.json");
        request
            .path_parameters
            .insert("channel".into(), "default".into());
        request.body = Some(base64::engine::general_purpose::STANDARD.encode(bytes));
        request
    };
    let response = handle(event(base64(vec![b'a'; 128 * 1024 - 200])), &deps).await;
    assert_eq!(response.status_code, 200);
    assert_eq!(deps.fanout.notifier.delivered("d1=").len(), 1);
    // …but to its largest form, the lrw.v1 envelope: exactly 128 KiB of
    // text does not fit once framed, nor 100 KiB of control characters,
    // each escaped as \u0007.
    for bytes in [vec![b'a'; 128 * 1024], vec![7u8; 100 * 1024]] {
        let response = handle(event(base64(bytes)), &deps).await;
        assert_eq!(response.status_code, 413);
        assert!(json_of(&response)["message"]
            .as_str()
            .is_some_and(|m| m.contains("lrw.v1 envelope")));
    }
    assert_eq!(
        deps.fanout.notifier.delivered("d1=").len(),
        1,
        "nothing more delivered"
    );
}

#[tokio::test]
async fn a_body_that_is_not_base64_is_400() {
    let mut request = http_event("post_channel_base64.json");
    request.body = Some("not base64!".into());
    let response = handle(event(request), &deps()).await;
    assert_eq!(response.status_code, 400);
    assert!(json_of(&response)["message"]
        .as_str()
        .is_some_and(|m| m.contains("base64")));
}

#[tokio::test]
async fn a_bad_channel_is_400_for_publish_and_count() {
    let deps = deps();
    for name in ["post_channel_base64.json", "get_channel.json"] {
        for bad in ["has space", "x".repeat(129).as_str(), "a%2Fb"] {
            let mut request = http_event(name);
            request
                .path_parameters
                .insert("channel".into(), bad.to_owned());
            let response = handle(event(request), &deps).await;
            assert_eq!(response.status_code, 400, "{name} {bad}");
            assert!(
                json_of(&response)["message"]
                    .as_str()
                    .is_some_and(|m| m.contains("channel name")),
                "{name} {bad}"
            );
        }
    }
}

#[tokio::test]
async fn the_default_route_answers_404_and_405_as_json() {
    let deps = deps();
    let response = handle(event(http_event("default_route.json")), &deps).await;
    assert_eq!(response.status_code, 404);
    assert!(json_of(&response)["message"]
        .as_str()
        .is_some_and(|m| m.contains("no such route")));

    for (method, path, allow) in [
        (Method::GET, "/staging/", "POST"),
        (Method::PUT, "/staging", "POST"),
        (Method::DELETE, "/staging/channels/lobby", "GET, POST"),
    ] {
        let response = handle(event(default_route(method.clone(), path, None)), &deps).await;
        assert_eq!(response.status_code, 405, "{method} {path}");
        assert_eq!(
            response.headers.get("allow").and_then(|v| v.to_str().ok()),
            Some(allow)
        );
        assert!(json_of(&response)["message"]
            .as_str()
            .is_some_and(|m| m.contains("not allowed")));
    }
    for path in [
        "/staging/channels",
        "/staging/channels/",
        "/staging/channels/a/b",
        "/other/channels/a",
    ] {
        let response = handle(event(default_route(Method::POST, path, Some("m"))), &deps).await;
        assert_eq!(response.status_code, 404, "{path}");
    }
}

#[tokio::test]
async fn a_default_event_for_a_path_with_other_methods_is_405_with_allow() {
    // `curl -XDELETE …/staging/channels/lobby`: no DELETE route, so API
    // Gateway sends it to $default.
    let deps = deps();
    join(&deps, "l1=", "lobby").await;
    let response = handle(event(http_event("default_route_405.json")), &deps).await;
    assert_eq!(response.status_code, 405);
    assert_eq!(
        response.headers.get("allow").and_then(|v| v.to_str().ok()),
        Some("GET, POST")
    );
    assert_eq!(
        json_of(&response),
        json!({"message": "method DELETE is not allowed here; use GET, POST"})
    );
    assert_eq!(deps.fanout.notifier.attempts("l1="), 0, "nothing was sent");
}

#[tokio::test]
async fn a_default_event_for_an_unknown_path_is_404() {
    let deps = deps();
    let response = handle(event(http_event("default_route_404.json")), &deps).await;
    assert_eq!(response.status_code, 404);
    assert!(response.headers.get("allow").is_none());
    assert_eq!(
        json_of(&response),
        json!({"message": "no such route; use POST /, POST /channels/{channel}, GET /channels/{channel}, \
                           GET /channels/{channel}/messages, GET /channels/{channel}/presence, \
                           POST /tokens or GET /.well-known/jwks.json"})
    );
}

#[tokio::test]
async fn a_default_event_never_publishes_whatever_its_path() {
    // GIVEN members of lobby and default
    let deps = deps();
    join(&deps, "l1=", "lobby").await;
    join(&deps, "d1=", "default").await;

    // WHEN `POST …/staging/channels/lobby/` (a trailing slash: no route
    // matches, API Gateway sends it to $default) arrives
    let response = handle(event(http_event("default_route_publish_path.json")), &deps).await;

    // THEN it is a 404, and nothing is sent
    assert_eq!(response.status_code, 404);
    assert!(json_of(&response)["message"]
        .as_str()
        .is_some_and(|m| m.contains("no such route")));

    // AND so is every $default event, even one whose method and path a
    // declared route takes (API Gateway would have routed it there), with
    // or without the stage in the path
    for (path, stage) in [
        ("/staging/channels/lobby", "staging"),
        ("/channels/lobby", "staging"),
        ("/staging/channels/staging", "staging"),
        ("/staging/", "staging"),
        ("/", "$default"),
    ] {
        let mut request = http_event("default_route_publish_path.json");
        request.raw_path = Some(path.to_owned());
        request.request_context.http.path = Some(path.to_owned());
        request.request_context.stage = Some(stage.to_owned());
        let response = handle(event(request), &deps).await;
        assert_eq!(response.status_code, 404, "{path} on stage {stage}");
    }
    assert_eq!(
        deps.fanout.notifier.attempts("l1="),
        0,
        "nothing was sent to lobby"
    );
    assert_eq!(
        deps.fanout.notifier.attempts("d1="),
        0,
        "nothing was sent to default"
    );
}

#[tokio::test]
async fn declared_routes_are_served_from_the_route_key_and_path_parameters_only() {
    let deps = deps();
    join(&deps, "l1=", "lobby").await;
    join(&deps, "s1=", "staging").await;

    // The channel is the path parameter, whatever the path says.
    let mut request = http_event("post_channel_base64.json");
    request.raw_path = Some("/staging/channels/elsewhere".into());
    request.request_context.http.path = Some("/staging/channels/elsewhere".into());
    let response = handle(event(request), &deps).await;
    assert_eq!(json_of(&response)["channel"], "lobby");
    assert_eq!(
        deps.fanout.notifier.delivered("l1="),
        vec![b"hello, lobby".to_vec()]
    );

    // A channel named like the stage is still a channel.
    let mut request = http_event("get_channel.json");
    request.raw_path = Some("/staging/channels/staging".into());
    request
        .path_parameters
        .insert("channel".into(), "staging".into());
    assert_eq!(
        json_of(&handle(event(request), &deps).await),
        json!({"channel": "staging", "connections": 1})
    );

    // The route key may come in the request context only.
    let mut request = http_event("post_root.json");
    request.route_key = None;
    request.raw_path = Some("/staging/anything".into());
    let response = handle(event(request), &deps).await;
    assert_eq!(json_of(&response)["channel"], "default");

    // A declared route without its path parameter is a bad channel, not a panic.
    let mut request = http_event("get_channel.json");
    request.path_parameters.clear();
    let response = handle(event(request), &deps).await;
    assert_eq!(response.status_code, 400);
}

#[tokio::test]
async fn every_declared_route_is_served() {
    // ROUTES is what Terraform declares: the handler takes each of them.
    let deps = deps();
    join(&deps, "l1=", "lobby").await;
    for (method, path) in ROUTES {
        let mut request = http_event("post_channel_base64.json");
        let key = format!("{method} {path}");
        request.route_key = Some(key.clone());
        request.request_context.route_key = Some(key.clone());
        request.request_context.http.method = Method::from_bytes(method.as_bytes()).unwrap();
        if key == "GET /channels/{channel}/messages" {
            request.query_string_parameters = [("since".to_owned(), "0".to_owned())]
                .into_iter()
                .collect::<std::collections::HashMap<_, _>>()
                .into();
        }
        if key == "POST /tokens" {
            request.body = Some(r#"{"channels":["lobby"]}"#.into());
            request.is_base64_encoded = false;
        }
        let response = handle(event(request), &deps).await;
        assert_eq!(response.status_code, 200, "{key}: {:?}", json_of(&response));
    }
}

#[tokio::test]
async fn a_store_failure_is_503_and_leaks_nothing() {
    let deps: Deps<_, _, LocalSigner> = Deps {
        tokens: None,
        ..Deps::new(Fanout::new(
            FailingStore,
            MemoryNotifier::new(),
            PublishOptions::default(),
        ))
    };
    for name in ["post_root.json", "get_channel.json"] {
        let response = handle(event(http_event(name)), &deps).await;
        assert_eq!(response.status_code, 503, "{name}");
        let body = json_of(&response);
        assert_eq!(
            body,
            json!({"message": "the connection store is unavailable; try again"}),
            "{name}"
        );
    }
}
