//! The commands function on API Gateway WebSocket MESSAGE events as AWS
//! sends them for the command routes (tests/data/command_*.json), on the
//! in-memory adapters: each command's reply, each error frame, grants added
//! by a token in a frame, and recovery with `since`. The reply is always a
//! 200 route response carrying the frame.

#![allow(clippy::unwrap_used, clippy::expect_used)] // a test fails by panicking

mod support;

use support::{channel, fast, minter, verifier, AUD, ISS};

use std::time::Duration;

use aws_lambda_events::apigw::{ApiGatewayProxyResponse, ApiGatewayWebsocketProxyRequest};
use aws_lambda_events::encodings::Body;
use channels::config::SubscriberAuth;
use channels::fanout::{Publish, Published};
use channels::memory::MemoryStore;
use channels::message::{Position, Publication};
use channels::testing::{FailingStore, MemoryNotifier, Tamper};
use channels::token::{mint, LocalSigner, MintRequest, Minter};
use channels::{
    Connection, Fanout, Grants, Pattern, Protocol, PublishOptions, Store, MAX_MESSAGE_BYTES,
    MAX_SUBSCRIPTIONS,
};
use http_lambda::commands::{handle, CommandsDeps};
use lambda_runtime::LambdaEvent;
use serde_json::{json, Value};

/// The fixtures' connection id.
const ID: &str = "TWf1XcC5IAMCJ0g=";

fn fixture(name: &str) -> Value {
    support::fixture(name)
}

/// The fixture's event, with another frame as its body when given.
fn command(name: &str, body: Option<&str>) -> ApiGatewayWebsocketProxyRequest {
    let mut event = fixture(name);
    if let Some(body) = body {
        event["body"] = json!(body);
    }
    serde_json::from_value(event).unwrap_or_else(|e| panic!("{name} is not a WebSocket event: {e}"))
}

fn lambda_event(
    request: ApiGatewayWebsocketProxyRequest,
) -> LambdaEvent<ApiGatewayWebsocketProxyRequest> {
    support::event(request)
}

type Deps<S = MemoryStore> = CommandsDeps<S, MemoryNotifier>;

fn deps_on<S>(store: S, auth: SubscriberAuth) -> Deps<S> {
    CommandsDeps {
        fanout: Fanout::new(
            store,
            MemoryNotifier::new(),
            PublishOptions {
                backoff_cap: Duration::from_millis(2),
                ..fast()
            },
        ),
        auth: auth.into(),
        metrics: false,
    }
}

fn open() -> Deps {
    deps_on(MemoryStore::new(), SubscriberAuth::None)
}

fn with_tokens(signer: &LocalSigner) -> Deps {
    deps_on(MemoryStore::new(), SubscriberAuth::Token(verifier(signer)))
}

fn now() -> i64 {
    channels::now_millis() / 1000
}

fn patterns(texts: &[&str]) -> Vec<Pattern> {
    texts.iter().map(|t| Pattern::parse(t).unwrap()).collect()
}

/// A connection accepted a minute ago, as rx stored it.
fn connection(id: &str, protocol: Protocol, subject: Option<&str>) -> Connection {
    let mut c = Connection::new(id, channels::now_millis() - 60_000);
    c.protocol = protocol;
    c.subject = subject.map(str::to_owned);
    c
}

async fn store<S: Store>(store: &S, connection: &Connection, first: Option<&str>) {
    let first = first.map(channel);
    store.connect(connection, first.as_ref()).await.unwrap();
}

/// The route response: always 200 with the frame as a text body.
fn frame_text(response: &ApiGatewayProxyResponse) -> String {
    assert_eq!(response.status_code, 200, "{response:?}");
    assert!(!response.is_base64_encoded);
    match &response.body {
        Some(Body::Text(text)) => text.clone(),
        other => panic!("expected a text body, got {other:?}"),
    }
}

fn frame(response: &ApiGatewayProxyResponse) -> Value {
    let text = frame_text(response);
    serde_json::from_str(&text).unwrap_or_else(|e| panic!("{text} is not JSON: {e}"))
}

async fn send<S: Store>(deps: &Deps<S>, fixture: &str, body: Option<&str>) -> Value {
    frame(&handle(lambda_event(command(fixture, body)), deps).await)
}

fn parsed(bytes: &[u8]) -> Value {
    serde_json::from_slice(bytes).unwrap()
}

/// An HTTP publish of `body` to `name`; its position.
async fn http_publish<S: Store>(deps: &Deps<S>, name: &str, body: &str) -> Position {
    let publish = Publish {
        publication: Publication::http(channel(name), body.as_bytes().to_vec(), false),
        exclude: None,
        key: None,
        publish_id: "p-http".into(),
    };
    match deps.fanout.publish(publish).await.unwrap() {
        Published::Sync { position, .. } => position,
        other => panic!("{other:?}"),
    }
}

/// A token minted now for `channels`, held by `subject`; and its `exp`.
async fn token(signer: &LocalSigner, channels: &[&str], subject: &str, ttl: u64) -> (String, i64) {
    let body = json!({ "channels": channels, "ttlSeconds": ttl, "subject": subject });
    let request = MintRequest::parse(body.to_string().as_bytes(), 7200).unwrap();
    let minted = mint(signer, &minter(signer), request, now()).await.unwrap();
    (minted.token, minted.expires_at)
}

fn assert_error(frame: &Value, id: Option<&str>, code: u16) {
    assert_eq!(frame["type"], "error", "{frame}");
    assert_eq!(frame["code"], code, "{frame}");
    assert_eq!(frame.get("id").and_then(Value::as_str), id, "{frame}");
    assert!(
        frame["message"].as_str().is_some_and(|m| !m.is_empty()),
        "{frame}"
    );
}

#[tokio::test]
async fn a_raw_connections_frame_is_echoed_whatever_it_holds() {
    // GIVEN a raw connection of default (the seed's demo)
    let deps = open();
    store(
        &deps.fanout.store,
        &connection(ID, Protocol::Raw, None),
        Some("default"),
    )
    .await;
    store(
        &deps.fanout.store,
        &connection("other=", Protocol::Raw, None),
        Some("lobby"),
    )
    .await;
    for name in [
        "command_subscribe.json",
        "command_publish.json",
        "command_ping.json",
        "command_presence.json",
        "command_unsubscribe.json",
    ] {
        let sent = fixture(name)["body"].as_str().unwrap().to_owned();
        // WHEN it sends a command frame
        let response = handle(lambda_event(command(name, None)), &deps).await;
        // THEN the frame comes back verbatim, and nothing else happens
        assert_eq!(frame_text(&response), sent, "{name}");
    }
    assert_eq!(deps.fanout.store.channels_of(ID), [channel("default")]);
    assert!(deps.fanout.notifier.recipients().is_empty());
}

#[tokio::test]
async fn what_is_not_a_command_is_echoed_to_a_v1_connection_too() {
    let deps = open();
    store(
        &deps.fanout.store,
        &connection(ID, Protocol::V1, None),
        None,
    )
    .await;
    for text in [
        "hello",
        r#"{"action":"shout"}"#,
        "[1,2]",
        "{\"hello\": \"wörld\"} 🦀",
    ] {
        let response = handle(
            lambda_event(command("command_ping.json", Some(text))),
            &deps,
        )
        .await;
        assert_eq!(frame_text(&response), text);
    }
}

#[tokio::test]
async fn subscribe_answers_subscribed_with_the_position_and_stores_the_membership() {
    // GIVEN a v1 connection, and a channel with two publishes already
    let deps = open();
    store(
        &deps.fanout.store,
        &connection(ID, Protocol::V1, None),
        None,
    )
    .await;
    http_publish(&deps, "lobby", "one").await;
    let latest = http_publish(&deps, "lobby", "two").await;

    // WHEN it subscribes to lobby
    let reply = send(&deps, "command_subscribe.json", None).await;

    // THEN the reply names the latest offset and the epoch, and it is a member
    assert_eq!(
        reply,
        json!({"type":"subscribed","id":"1","channel":"lobby","offset":2,"epoch": latest.epoch})
    );
    assert_eq!(deps.fanout.store.channels_of(ID), [channel("lobby")]);
    assert_eq!(deps.fanout.store.get(ID).unwrap().subscriptions, 1);
    // AND subscribing again changes nothing and answers the same
    assert_eq!(send(&deps, "command_subscribe.json", None).await, reply);
    assert_eq!(deps.fanout.store.get(ID).unwrap().subscriptions, 1);
    // AND the next publish reaches it as an envelope
    http_publish(&deps, "lobby", "three").await;
    let got = deps.fanout.notifier.delivered(ID);
    assert_eq!(got.len(), 1);
    assert_eq!(parsed(&got[0])["offset"], 3);

    // AND a channel nobody published to answers offset 0 and a fresh epoch
    let reply = send(
        &deps,
        "command_subscribe.json",
        Some(r#"{"action":"subscribe","channel":"fresh"}"#),
    )
    .await;
    assert_eq!(reply["offset"], 0);
    assert_eq!(reply["epoch"].as_str().map(str::len), Some(16));
    assert_eq!(reply.get("id"), None);
    assert_eq!(reply.get("recovered"), None, "only with since");
}

#[tokio::test]
async fn unsubscribe_answers_unsubscribed_and_removes_the_membership() {
    let deps = open();
    store(
        &deps.fanout.store,
        &connection(ID, Protocol::V1, None),
        Some("lobby"),
    )
    .await;
    let reply = send(&deps, "command_unsubscribe.json", None).await;
    assert_eq!(
        reply,
        json!({"type":"unsubscribed","id":"2","channel":"lobby"})
    );
    assert!(deps.fanout.store.channels_of(ID).is_empty());
    assert_eq!(deps.fanout.store.get(ID).unwrap().subscriptions, 0);
    // Unsubscribing again is answered the same.
    assert_eq!(send(&deps, "command_unsubscribe.json", None).await, reply);
    // And publishes no longer reach it.
    http_publish(&deps, "lobby", "x").await;
    assert!(deps.fanout.notifier.delivered(ID).is_empty());
}

#[tokio::test]
async fn publish_answers_the_counts_skips_the_sender_and_stamps_from() {
    // GIVEN alice (the sender, subscribed too), bob (v1) and a raw member of lobby
    let signer = LocalSigner::generate().unwrap();
    let deps = with_tokens(&signer);
    let mut alice = connection(ID, Protocol::V1, Some("alice"));
    alice.grants = Grants {
        subscribe: patterns(&["lobby"]),
        publish: patterns(&["lobby"]),
    };
    alice.token_expires_at = Some(now() + 600);
    store(&deps.fanout.store, &alice, Some("lobby")).await;
    store(
        &deps.fanout.store,
        &connection("bob=", Protocol::V1, Some("bob")),
        Some("lobby"),
    )
    .await;
    store(
        &deps.fanout.store,
        &connection("raw=", Protocol::Raw, None),
        Some("lobby"),
    )
    .await;

    // WHEN alice publishes {"text":"hello"}
    let reply = send(&deps, "command_publish.json", None).await;

    // THEN the reply counts bob and the raw member, not alice
    assert_eq!(
        reply,
        json!({"type":"published","id":"3","channel":"lobby","offset":1,"recipients":2,"delivered":2,"gone":0,"failed":0})
    );
    assert!(deps.fanout.notifier.delivered(ID).is_empty());
    // AND bob got the envelope from alice, the raw member the data's text
    let to_bob = parsed(&deps.fanout.notifier.delivered("bob=")[0]);
    assert_eq!(to_bob["data"], json!({"text":"hello"}));
    assert_eq!(to_bob["from"], "alice");
    assert_eq!(to_bob["offset"], 1);
    assert_eq!(
        deps.fanout.notifier.delivered("raw="),
        vec![br#"{"text":"hello"}"#.to_vec()]
    );

    // WHEN she publishes with self:true, claiming to be mallory in data
    let reply = send(
        &deps,
        "command_publish.json",
        Some(r#"{"action":"publish","id":"4","channel":"lobby","data":{"from":"mallory"},"self":true}"#),
    )
    .await;
    // THEN she counts and gets her own copy, and from is still hers
    assert_eq!(reply["recipients"], 3);
    assert_eq!(reply["delivered"], 3);
    assert_eq!(reply["offset"], 2);
    let own = parsed(&deps.fanout.notifier.delivered(ID)[0]);
    assert_eq!(own["from"], "alice");
    assert_eq!(own["data"], json!({"from":"mallory"}));
}

#[tokio::test]
async fn a_repeated_key_answers_the_first_offset_as_a_duplicate() {
    let deps = open();
    store(
        &deps.fanout.store,
        &connection(ID, Protocol::V1, None),
        None,
    )
    .await;
    store(
        &deps.fanout.store,
        &connection("bob=", Protocol::V1, None),
        Some("lobby"),
    )
    .await;
    let keyed = r#"{"action":"publish","id":"k","channel":"lobby","data":1,"key":"order-17"}"#;
    let first = send(&deps, "command_publish.json", Some(keyed)).await;
    let second = send(&deps, "command_publish.json", Some(keyed)).await;
    assert_eq!(first["offset"], 1);
    assert_eq!(
        second,
        json!({"type":"published","id":"k","channel":"lobby","offset":1,"duplicate":true,"recipients":0,"delivered":0,"gone":0,"failed":0})
    );
    assert_eq!(deps.fanout.notifier.delivered("bob=").len(), 1);
}

#[tokio::test]
async fn presence_answers_the_connections_and_subjects() {
    let deps = open();
    store(
        &deps.fanout.store,
        &connection(ID, Protocol::V1, Some("carol")),
        Some("lobby"),
    )
    .await;
    for (id, subject) in [("a1=", Some("alice")), ("a2=", Some("alice")), ("x=", None)] {
        store(
            &deps.fanout.store,
            &connection(id, Protocol::V1, subject),
            Some("lobby"),
        )
        .await;
    }
    let reply = send(&deps, "command_presence.json", None).await;
    assert_eq!(
        reply,
        json!({"type":"presence","id":"5","channel":"lobby","connections":4,"subjects":["alice","carol"]})
    );
    // A channel with nobody.
    let reply = send(
        &deps,
        "command_presence.json",
        Some(r#"{"action":"presence","channel":"empty"}"#),
    )
    .await;
    assert_eq!(
        reply,
        json!({"type":"presence","channel":"empty","connections":0,"subjects":[]})
    );
}

#[tokio::test]
async fn ping_answers_pong_with_its_id_even_after_the_token_expired() {
    let signer = LocalSigner::generate().unwrap();
    let deps = with_tokens(&signer);
    let mut c = connection(ID, Protocol::V1, Some("u"));
    c.token_expires_at = Some(now() - 3600);
    store(&deps.fanout.store, &c, None).await;
    assert_eq!(
        send(&deps, "command_ping.json", None).await,
        json!({"type":"pong","id":"4"})
    );
    assert_eq!(
        send(&deps, "command_ping.json", Some(r#"{"action":"ping"}"#)).await,
        json!({"type":"pong"})
    );
}

#[tokio::test]
async fn a_malformed_command_gets_a_400_frame_with_its_id() {
    let deps = open();
    store(
        &deps.fanout.store,
        &connection(ID, Protocol::V1, None),
        None,
    )
    .await;
    for (body, id) in [
        (r#"{"action":"subscribe","id":"9"}"#, Some("9")),
        (
            r#"{"action":"subscribe","id":"9","channel":"a b"}"#,
            Some("9"),
        ),
        (
            r#"{"action":"publish","id":"9","channel":"lobby"}"#,
            Some("9"),
        ),
        (
            r#"{"action":"publish","channel":"lobby","data":1,"self":"yes"}"#,
            None,
        ),
        (r#"{"action":"subscribe","id":7,"channel":"lobby"}"#, None),
    ] {
        let reply = send(&deps, "command_subscribe.json", Some(body)).await;
        assert_error(&reply, id, 400);
    }
    assert!(deps.fanout.store.channels_of(ID).is_empty());
}

#[tokio::test]
async fn commands_after_the_token_expired_answer_401() {
    // GIVEN a connection whose token expired an hour ago
    let signer = LocalSigner::generate().unwrap();
    let deps = with_tokens(&signer);
    let mut c = connection(ID, Protocol::V1, Some("user-42"));
    c.grants = Grants::all();
    c.token_expires_at = Some(now() - 3600);
    store(&deps.fanout.store, &c, Some("lobby")).await;
    // WHEN it subscribes, unsubscribes, publishes or asks for presence
    for name in [
        "command_subscribe.json",
        "command_unsubscribe.json",
        "command_publish.json",
        "command_presence.json",
    ] {
        let reply = send(&deps, name, None).await;
        let id = fixture(name)["body"].as_str().map(|b| {
            serde_json::from_str::<Value>(b).unwrap()["id"]
                .as_str()
                .unwrap()
                .to_owned()
        });
        // THEN each is refused with 401 and does nothing
        assert_error(&reply, id.as_deref(), 401);
    }
    assert_eq!(deps.fanout.store.channels_of(ID), [channel("lobby")]);
    assert!(deps.fanout.notifier.recipients().is_empty());

    // AND a fresh token of the same subject, sent in a command, lets it go on
    let (fresh, exp) = token(&signer, &["lobby"], "user-42", 600).await;
    let body = json!({"action":"subscribe","id":"r","channel":"lobby","token": fresh}).to_string();
    let reply = send(&deps, "command_subscribe.json", Some(&body)).await;
    assert_eq!(reply["type"], "subscribed", "{reply}");
    assert_eq!(
        deps.fanout.store.get(ID).unwrap().token_expires_at,
        Some(exp)
    );
    assert_eq!(
        send(&deps, "command_presence.json", None).await["type"],
        "presence"
    );
}

#[tokio::test]
async fn a_bad_token_in_a_frame_answers_401_and_adds_nothing() {
    let signer = LocalSigner::generate().unwrap();
    let deps = with_tokens(&signer);
    let mut c = connection(ID, Protocol::V1, Some("user-42"));
    c.grants = Grants {
        subscribe: patterns(&["lobby"]),
        publish: Vec::new(),
    };
    c.token_expires_at = Some(now() + 600);
    store(&deps.fanout.store, &c, None).await;
    let (stranger, _) = token(&LocalSigner::generate().unwrap(), &["*"], "user-42", 600).await;
    let (expired, _) = {
        // Minted long ago: a token of 60 s issued more than two minutes ago.
        let minter = Minter {
            key: signer.public_key().clone(),
            audience: AUD.into(),
            issuer: ISS.into(),
            max_ttl_secs: 7200,
        };
        let request = MintRequest::parse(
            br#"{"channels":["*"],"ttlSeconds":60,"subject":"user-42"}"#,
            7200,
        )
        .unwrap();
        let minted = mint(&signer, &minter, request, now() - 600).await.unwrap();
        (minted.token, minted.expires_at)
    };
    for bad in ["not-a-jwt", stranger.as_str(), expired.as_str()] {
        let body =
            json!({"action":"subscribe","id":"t","channel":"room-1","token": bad}).to_string();
        let reply = send(&deps, "command_subscribe.json", Some(&body)).await;
        assert_error(&reply, Some("t"), 401);
        assert_eq!(reply["message"], "Unauthorized");
        assert!(!reply.to_string().contains(bad), "the token is not echoed");
    }
    let stored = deps.fanout.store.get(ID).unwrap();
    assert_eq!(stored.grants.subscribe, patterns(&["lobby"]));
    assert!(deps.fanout.store.channels_of(ID).is_empty());
}

#[tokio::test]
async fn what_is_not_granted_answers_403() {
    // GIVEN a connection that may subscribe to room-* and publish nowhere
    let signer = LocalSigner::generate().unwrap();
    let deps = with_tokens(&signer);
    let mut c = connection(ID, Protocol::V1, Some("user-42"));
    c.grants = Grants {
        subscribe: patterns(&["room-*"]),
        publish: Vec::new(),
    };
    c.token_expires_at = Some(now() + 600);
    store(&deps.fanout.store, &c, Some("room-1")).await;
    store(
        &deps.fanout.store,
        &connection("bob=", Protocol::V1, None),
        Some("room-1"),
    )
    .await;
    // WHEN it subscribes to lobby, asks lobby's presence, publishes to room-1
    let subscribe = send(&deps, "command_subscribe.json", None).await;
    let presence = send(&deps, "command_presence.json", None).await;
    let publish = send(
        &deps,
        "command_publish.json",
        Some(r#"{"action":"publish","id":"3","channel":"room-1","data":"hi"}"#),
    )
    .await;
    // THEN each is refused with 403, and nothing happened
    assert_error(&subscribe, Some("1"), 403);
    assert_error(&presence, Some("5"), 403);
    assert_error(&publish, Some("3"), 403);
    assert_eq!(deps.fanout.store.channels_of(ID), [channel("room-1")]);
    assert!(deps.fanout.notifier.recipients().is_empty());
    // AND what is granted goes through
    let ok = send(
        &deps,
        "command_subscribe.json",
        Some(r#"{"action":"subscribe","id":"1","channel":"room-2"}"#),
    )
    .await;
    assert_eq!(ok["type"], "subscribed");
}

#[tokio::test]
async fn a_token_in_subscribe_adds_grants_only_for_the_same_subject() {
    // GIVEN user-42 connected with a token for lobby
    let signer = LocalSigner::generate().unwrap();
    let deps = with_tokens(&signer);
    let mut c = connection(ID, Protocol::V1, Some("user-42"));
    c.grants = Grants {
        subscribe: patterns(&["lobby"]),
        publish: Vec::new(),
    };
    c.token_expires_at = Some(now() + 60);
    store(&deps.fanout.store, &c, None).await;

    // WHEN a subscribe to room-7 carries a token of another subject for room-*
    let (theirs, _) = token(&signer, &["room-*"], "user-7", 600).await;
    let body =
        json!({"action":"subscribe","id":"a","channel":"room-7","token": theirs}).to_string();
    let reply = send(&deps, "command_subscribe.json", Some(&body)).await;
    // THEN it is refused with 403 and nothing is added
    assert_error(&reply, Some("a"), 403);
    let stored = deps.fanout.store.get(ID).unwrap();
    assert_eq!(stored.grants.subscribe, patterns(&["lobby"]));
    assert_eq!(stored.token_expires_at, c.token_expires_at);
    assert!(deps.fanout.store.channels_of(ID).is_empty());

    // WHEN it carries one of user-42 for room-*
    let (ours, exp) = token(&signer, &["room-*"], "user-42", 600).await;
    let body = json!({"action":"subscribe","id":"b","channel":"room-7","token": ours}).to_string();
    let reply = send(&deps, "command_subscribe.json", Some(&body)).await;
    // THEN it subscribes, and the grants and expiry are kept for later commands
    assert_eq!(reply["type"], "subscribed", "{reply}");
    assert_eq!(reply["id"], "b");
    let stored = deps.fanout.store.get(ID).unwrap();
    assert_eq!(stored.grants.subscribe, patterns(&["lobby", "room-*"]));
    assert_eq!(stored.token_expires_at, Some(exp));
    assert_eq!(deps.fanout.store.channels_of(ID), [channel("room-7")]);
    let later = send(
        &deps,
        "command_subscribe.json",
        Some(r#"{"action":"subscribe","id":"c","channel":"room-8"}"#),
    )
    .await;
    assert_eq!(later["type"], "subscribed", "{later}");
}

#[tokio::test]
async fn a_publish_whose_envelope_would_pass_128_kib_answers_413() {
    // GIVEN a subscriber, and a sender whose subject makes the envelope longer
    let deps = open();
    let subject = "s".repeat(200);
    store(
        &deps.fanout.store,
        &connection(ID, Protocol::V1, Some(&subject)),
        None,
    )
    .await;
    store(
        &deps.fanout.store,
        &connection("bob=", Protocol::V1, None),
        Some("lobby"),
    )
    .await;
    // WHEN a frame within 128 KiB carries data whose envelope is over it
    let head = r#"{"action":"publish","id":"big","channel":"lobby","data":""#;
    let tail = r#""}"#;
    let fill = MAX_MESSAGE_BYTES - 16 - head.len() - tail.len();
    let body = format!("{head}{}{tail}", "a".repeat(fill));
    assert!(body.len() <= MAX_MESSAGE_BYTES);
    let reply = send(&deps, "command_publish.json", Some(&body)).await;
    // THEN it is refused with 413, and nobody got it, nor was an offset taken
    assert_error(&reply, Some("big"), 413);
    assert!(deps.fanout.notifier.recipients().is_empty());
    let next = send(&deps, "command_publish.json", None).await;
    assert_eq!(next["offset"], 1, "{next}");
}

#[tokio::test]
async fn the_101st_subscription_answers_429() {
    // GIVEN a connection holding 100 subscriptions
    let deps = open();
    let c = connection(ID, Protocol::V1, None);
    store(&deps.fanout.store, &c, None).await;
    for i in 0..MAX_SUBSCRIPTIONS {
        let body = format!(r#"{{"action":"subscribe","channel":"c{i}"}}"#);
        let reply = send(&deps, "command_subscribe.json", Some(&body)).await;
        assert_eq!(reply["type"], "subscribed", "{i}: {reply}");
    }
    // WHEN it subscribes to a 101st channel
    let reply = send(&deps, "command_subscribe.json", None).await;
    // THEN 429, and it is not a member
    assert_error(&reply, Some("1"), 429);
    assert_eq!(deps.fanout.store.channels_of(ID).len(), 100);
    // AND one it holds is answered as subscribed
    let again = send(
        &deps,
        "command_subscribe.json",
        Some(r#"{"action":"subscribe","channel":"c7"}"#),
    )
    .await;
    assert_eq!(again["type"], "subscribed");
    // AND after an unsubscribe, the 101st fits
    send(
        &deps,
        "command_unsubscribe.json",
        Some(r#"{"action":"unsubscribe","channel":"c0"}"#),
    )
    .await;
    assert_eq!(
        send(&deps, "command_subscribe.json", None).await["type"],
        "subscribed"
    );
}

#[tokio::test]
async fn a_failing_store_answers_503_with_nothing_secret() {
    // GIVEN a store whose every call fails (its error names a table ARN)
    let deps = deps_on(FailingStore, SubscriberAuth::None);
    for name in [
        "command_subscribe.json",
        "command_unsubscribe.json",
        "command_publish.json",
        "command_presence.json",
        "command_ping.json",
    ] {
        let reply = send(&deps, name, None).await;
        let id = serde_json::from_str::<Value>(fixture(name)["body"].as_str().unwrap()).unwrap()
            ["id"]
            .as_str()
            .unwrap()
            .to_owned();
        // THEN each command is answered 503, its id echoed, no detail leaked
        assert_error(&reply, Some(&id), 503);
        let text = reply.to_string();
        for secret in ["arn:", "ResourceNotFound", "secret", "GetItem", "dynamodb"] {
            assert!(!text.contains(secret), "{name}: {text}");
        }
    }
}

#[tokio::test]
async fn a_store_failing_during_a_command_answers_503_with_nothing_secret() {
    for (failing, fixture_name) in [
        ("subscribe", "command_subscribe.json"),
        ("position", "command_subscribe.json"),
        ("unsubscribe", "command_unsubscribe.json"),
        ("next_offset", "command_publish.json"),
        ("append", "command_publish.json"),
        ("members", "command_publish.json"),
        ("members", "command_presence.json"),
    ] {
        let deps = deps_on(Tamper::new(MemoryStore::new()), SubscriberAuth::None);
        store(
            &deps.fanout.store,
            &connection(ID, Protocol::V1, None),
            Some("lobby"),
        )
        .await;
        deps.fanout.store.fail(failing);
        let reply = send(&deps, fixture_name, None).await;
        assert_eq!(reply["type"], "error", "{failing}: {reply}");
        assert_eq!(reply["code"], 503, "{failing}: {reply}");
        assert!(reply.get("id").is_some(), "{failing}: {reply}");
        assert!(
            !reply.to_string().contains("tamper"),
            "{failing}: the store's message stays in the log: {reply}"
        );
    }
}

#[tokio::test]
async fn a_connection_the_store_does_not_know_answers_503() {
    let deps = open();
    let reply = send(&deps, "command_subscribe.json", None).await;
    assert_error(&reply, Some("1"), 503);
    assert!(deps.fanout.store.is_empty());
}

#[tokio::test]
async fn subscribe_with_since_replays_the_missed_messages_in_order_then_answers_recovered() {
    // GIVEN five publishes to lobby, of which the client holds the first two
    let deps = deps_on(Tamper::new(MemoryStore::new()), SubscriberAuth::None);
    store(
        &deps.fanout.store,
        &connection(ID, Protocol::V1, None),
        None,
    )
    .await;
    let mut positions = Vec::new();
    for n in 1..=5 {
        positions.push(http_publish(&deps, "lobby", &format!("m{n}")).await);
    }
    let epoch = positions[0].epoch.clone();
    deps.fanout.store.clear_calls();

    // WHEN it subscribes with since offset 2
    let body = json!({"action":"subscribe","id":"r","channel":"lobby","since":{"offset":2,"epoch": epoch}})
        .to_string();
    let reply = send(&deps, "command_subscribe.json", Some(&body)).await;

    // THEN 3, 4 and 5 were sent to it, in order, before the answer
    let replayed: Vec<Value> = deps
        .fanout
        .notifier
        .delivered(ID)
        .iter()
        .map(|m| parsed(m))
        .collect();
    assert_eq!(
        replayed,
        (3..=5)
            .map(|n| json!({"type":"message","channel":"lobby","data":format!("m{n}"),"offset":n,"epoch":epoch}))
            .collect::<Vec<_>>()
    );
    // AND the answer says it recovered, at the latest position
    assert_eq!(
        reply,
        json!({"type":"subscribed","id":"r","channel":"lobby","offset":5,"epoch":epoch,"recovered":true})
    );
    // AND the membership was stored before the history was read
    let calls = deps.fanout.store.calls();
    let at = |name: &str| calls.iter().position(|c| *c == name).unwrap();
    assert!(at("subscribe") < at("messages"), "{calls:?}");
    assert_eq!(
        deps.fanout.store.inner().channels_of(ID),
        [channel("lobby")]
    );
}

#[tokio::test]
async fn subscribe_with_since_of_another_epoch_answers_recovered_false() {
    let deps = open();
    store(
        &deps.fanout.store,
        &connection(ID, Protocol::V1, None),
        None,
    )
    .await;
    for n in 1..=3 {
        http_publish(&deps, "lobby", &format!("m{n}")).await;
    }
    let body = r#"{"action":"subscribe","id":"r","channel":"lobby","since":{"offset":1,"epoch":"ffffffffffffffff"}}"#;
    let reply = send(&deps, "command_subscribe.json", Some(body)).await;
    assert_eq!(reply["recovered"], false, "{reply}");
    assert_eq!(reply["offset"], 3);
    assert_ne!(reply["epoch"], "ffffffffffffffff");
    assert!(
        deps.fanout.notifier.delivered(ID).is_empty(),
        "nothing replayed"
    );
    assert_eq!(deps.fanout.store.channels_of(ID), [channel("lobby")]);
    // A client up to date recovers with nothing to replay.
    let epoch = reply["epoch"].as_str().unwrap();
    let body = json!({"action":"subscribe","channel":"lobby","since":{"offset":3,"epoch":epoch}})
        .to_string();
    let reply = send(&deps, "command_subscribe.json", Some(&body)).await;
    assert_eq!(reply["recovered"], true, "{reply}");
    assert!(deps.fanout.notifier.delivered(ID).is_empty());
}
