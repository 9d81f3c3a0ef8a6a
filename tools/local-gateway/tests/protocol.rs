//! The client protocol `lrw.v1` end to end, with real sockets: one
//! connection, many channels; socket publish with grants, sender exclusion,
//! `from` and idempotency; offsets, history and recovery. Each scenario runs
//! on the in-memory store (`memory::…`) and on DynamoDB at a moto_server
//! (`moto::…`, the gateway built with feature `aws`; `make test` runs it).

#![allow(clippy::unwrap_used, clippy::expect_used)]

mod support;

use channels::History;
use serde_json::{json, Value};
use support::{expect_close, recv_text, send, start, token, Backend, V1};

support::scenarios!(
    one_connection_follows_three_channels_and_a_raw_one_gets_the_raw_body,
    unsubscribe_stops_delivery_and_disconnect_leaves_every_count_at_zero,
    the_101st_subscription_is_refused_with_429_and_the_socket_stays,
    a_token_in_the_subprotocol_connects_and_grants_patterns,
    bad_commands_get_error_frames_and_the_connection_stays,
    a_socket_publish_reaches_the_others_with_from_and_the_raw_text,
    a_publish_needs_its_grant_and_a_key_is_delivered_once,
    a_reconnecting_client_recovers_exactly_what_it_missed,
    recovery_fails_loudly_for_another_epoch,
);

/// A token minted by the gateway for these patterns, with a subject.
async fn subscribe(client: &mut V1, channel: &str) -> Value {
    let reply = client
        .call(json!({"action": "subscribe", "channel": channel}))
        .await;
    assert_eq!(reply["type"], "subscribed", "{reply}");
    assert_eq!(reply["channel"], channel);
    reply
}

async fn one_connection_follows_three_channels_and_a_raw_one_gets_the_raw_body(backend: Backend) {
    // GIVEN an lrw.v1 connection subscribed to three channels, the first by
    // ?channel=, and a raw connection in one of them
    let mut env = start(backend, |b| b).await;
    let mut v1 = env.connect_v1(Some("red"), None).await;
    for channel in ["green", "blue"] {
        let reply = subscribe(&mut v1, channel).await;
        assert_eq!(reply["offset"], 0, "nothing published yet: {reply}");
        assert!(reply["epoch"].as_str().is_some_and(|e| !e.is_empty()));
        assert!(reply.get("recovered").is_none(), "no since, no recovered");
    }
    let (mut raw, _) = env.connect(Some("green")).await;
    assert_eq!(env.count("red").await, 1);
    assert_eq!(env.count("green").await, 2);

    // WHEN each channel gets a publish: JSON, text, and text again
    let response = env
        .http
        .post(env.url("/channels/red"))
        .header("content-type", "application/json")
        .body(r#"{"n": 1}"#)
        .send()
        .await
        .unwrap();
    assert_eq!(response.status(), 200);
    assert_eq!(env.publish(Some("green"), "to green").await.0, 200);
    assert_eq!(env.publish(Some("blue"), "to blue").await.0, 200);

    // THEN the lrw.v1 connection gets each once, in envelopes naming the channel
    let mut got = Vec::new();
    for _ in 0..3 {
        got.push(v1.next().await);
    }
    for envelope in &got {
        assert_eq!(envelope["type"], "message");
        assert_eq!(envelope["offset"], 1, "each channel's first: {envelope}");
        assert!(
            envelope.get("from").is_none(),
            "an HTTP publish has no from"
        );
    }
    let data: Vec<(Value, Value)> = got
        .iter()
        .map(|e| (e["channel"].clone(), e["data"].clone()))
        .collect();
    assert_eq!(
        data,
        [
            (json!("red"), json!({"n": 1})),
            (json!("green"), json!("to green")),
            (json!("blue"), json!("to blue")),
        ]
    );
    v1.nothing_else().await;
    // AND the raw connection gets the raw body, and its frames still echo
    assert_eq!(recv_text(&mut raw).await, "to green");
    send(&mut raw, r#"{"action":"subscribe","channel":"red"}"#).await;
    assert_eq!(
        recv_text(&mut raw).await,
        r#"{"action":"subscribe","channel":"red"}"#,
        "a raw connection's command is echoed, not run"
    );
    assert_eq!(env.count("red").await, 1);
    // AND, as on API Gateway (whose MOCK ping route cannot see the
    // protocol), a raw connection's ping is answered, not echoed
    send(&mut raw, r#"{"action":"ping","id":"p"}"#).await;
    let pong: Value = serde_json::from_str(&recv_text(&mut raw).await).unwrap();
    assert_eq!(pong["type"], "pong", "{pong}");
}

async fn unsubscribe_stops_delivery_and_disconnect_leaves_every_count_at_zero(backend: Backend) {
    let mut env = start(backend, |b| b).await;
    let mut v1 = env.connect_v1(None, None).await;
    for channel in ["a", "b", "c"] {
        subscribe(&mut v1, channel).await;
    }
    let reply = v1
        .call(json!({"action": "unsubscribe", "channel": "b"}))
        .await;
    assert_eq!(
        reply,
        json!({"type": "unsubscribed", "id": reply["id"], "channel": "b"})
    );
    assert_eq!(env.count("b").await, 0);
    let (status, report) = env.publish(Some("b"), "for b").await;
    assert_eq!((status, report["recipients"].clone()), (200, json!(0)));
    assert_eq!(env.publish(Some("c"), "for c").await.0, 200);
    let message = v1.next().await;
    assert_eq!(
        (message["channel"].clone(), message["data"].clone()),
        (json!("c"), json!("for c"))
    );
    v1.nothing_else().await;

    // WHEN the client goes, every membership goes with it
    let id = v1.id.clone();
    support::close(&mut v1.client, 1000).await;
    env.disconnected(&id).await;
    for channel in ["a", "b", "c"] {
        assert_eq!(env.count(channel).await, 0, "{channel}");
    }
}

async fn the_101st_subscription_is_refused_with_429_and_the_socket_stays(backend: Backend) {
    let mut env = start(backend, |b| b).await;
    let mut v1 = env.connect_v1(Some("room-0"), None).await;
    for i in 1..100 {
        let id = v1
            .send(json!({"action": "subscribe", "channel": format!("room-{i}")}))
            .await;
        let reply = v1.reply(&id).await;
        assert_eq!(reply["type"], "subscribed", "{reply}");
    }
    let reply = v1
        .call(json!({"action": "subscribe", "channel": "one-too-many"}))
        .await;
    assert_eq!(reply["type"], "error", "{reply}");
    assert_eq!(reply["code"], 429);
    assert_eq!(env.count("one-too-many").await, 0);
    // The connection stays, and subscribing again where it is is fine.
    let reply = subscribe(&mut v1, "room-42").await;
    assert_eq!(reply["offset"], 0);
    assert_eq!(env.count("room-42").await, 1);
}

async fn a_token_in_the_subprotocol_connects_and_grants_patterns(backend: Backend) {
    let mut env = start(backend, |b| {
        b.subscriber_auth(local_gateway::SubscriberAuthMode::Token)
    })
    .await;
    let alice = token(&env, &["room-*"], &[], "u-alice").await;
    // A raw offer of a token subprotocol without lrw.v1 is refused: 400.
    {
        use tokio_tungstenite::tungstenite::client::IntoClientRequest as _;
        let mut request = env.gateway.ws_url().into_client_request().unwrap();
        request.headers_mut().insert(
            "sec-websocket-protocol",
            format!("token.{alice}").parse().unwrap(),
        );
        let err = tokio_tungstenite::connect_async(request)
            .await
            .expect_err("refused");
        let tokio_tungstenite::tungstenite::Error::Http(response) = err else {
            panic!("expected an HTTP refusal, got {err:?}");
        };
        assert_eq!(response.status(), 400);
    }
    // No token: 401; a token that does not grant ?channel: 403.
    for (channel, token, status) in [
        (Some("room-1"), None, 401),
        (Some("lobby"), Some(alice.as_str()), 403),
    ] {
        let err = env.handshake_v1(channel, token).await.expect_err("refused");
        let tokio_tungstenite::tungstenite::Error::Http(response) = err else {
            panic!("expected an HTTP refusal, got {err:?}");
        };
        assert_eq!(response.status(), status, "{channel:?}");
    }
    assert!(env.gateway.connections().is_empty());

    // WHEN alice connects with her token as the subprotocol
    let mut v1 = env.connect_v1(Some("room-1"), Some(&alice)).await;
    // THEN her grants are patterns: room-2 yes, lobby no, publishing no
    subscribe(&mut v1, "room-2").await;
    let reply = v1
        .call(json!({"action": "subscribe", "channel": "lobby"}))
        .await;
    assert_eq!(
        (reply["type"].clone(), reply["code"].clone()),
        (json!("error"), json!(403))
    );
    let reply = v1
        .call(json!({"action": "publish", "channel": "room-1", "data": "hi"}))
        .await;
    assert_eq!(reply["code"], 403, "no publish grant: {reply}");
    // AND a token with the same subject in a command adds its grants
    let more = token(&env, &["lobby"], &["room-*"], "u-alice").await;
    let reply = v1
        .call(json!({"action": "subscribe", "channel": "lobby", "token": more}))
        .await;
    assert_eq!(reply["type"], "subscribed", "{reply}");
    let reply = v1
        .call(json!({"action": "publish", "channel": "room-1", "data": "hi"}))
        .await;
    assert_eq!(reply["type"], "published", "{reply}");
    // AND one of another subject adds nothing
    let bob = token(&env, &["*"], &["*"], "u-bob").await;
    let reply = v1
        .call(json!({"action": "subscribe", "channel": "other", "token": bob}))
        .await;
    assert_eq!(reply["code"], 403, "{reply}");
}

async fn bad_commands_get_error_frames_and_the_connection_stays(backend: Backend) {
    let mut env = start(backend, |b| b).await;
    let mut v1 = env.connect_v1(None, None).await;
    for (command, code) in [
        (json!({"action": "subscribe"}), 400),
        (json!({"action": "subscribe", "channel": "a b"}), 400),
        (json!({"action": "publish", "channel": "a"}), 400),
        (
            json!({"action": "publish", "channel": "a", "data": 1, "key": "k".repeat(65)}),
            400,
        ),
        (
            json!({"action": "subscribe", "channel": "a", "since": {"offset": -1}}),
            400,
        ),
    ] {
        let reply = v1.call(command.clone()).await;
        assert_eq!(reply["type"], "error", "{command}: {reply}");
        assert_eq!(reply["code"], code, "{command}: {reply}");
        assert!(reply["message"].as_str().is_some_and(|m| !m.is_empty()));
    }
    // A message of 128 KiB (in frames of 32 KiB) fits; its envelope, with
    // type, offset and epoch added, would not: 413, nothing delivered.
    let frame = json!({"action": "publish", "id": "big", "channel": "a", "data": ""}).to_string();
    let data = "x".repeat(128 * 1024 - frame.len());
    let frame = json!({"action": "publish", "id": "big", "channel": "a", "data": data}).to_string();
    assert_eq!(frame.len(), 128 * 1024);
    support::send_fragmented(&mut v1.client, &frame, 32 * 1024).await;
    let reply = v1.reply("big").await;
    assert_eq!(
        (reply["type"].clone(), reply["code"].clone()),
        (json!("error"), json!(413)),
        "{reply}"
    );
    // Not a command: echoed, as the seed does.
    send(&mut v1.client, "hello").await;
    assert_eq!(recv_text(&mut v1.client).await, "hello");
    send(&mut v1.client, r#"{"action":"dance"}"#).await;
    assert_eq!(recv_text(&mut v1.client).await, r#"{"action":"dance"}"#);
    // The connection is still there and works.
    subscribe(&mut v1, "a").await;
    assert_eq!(env.count("a").await, 1);
}

async fn a_socket_publish_reaches_the_others_with_from_and_the_raw_text(backend: Backend) {
    // GIVEN A and B (lrw.v1, subjects alice and bob) and R (raw) in "chat"
    let mut env = start(backend, |b| {
        b.subscriber_auth(local_gateway::SubscriberAuthMode::Token)
    })
    .await;
    let alice = token(&env, &["chat"], &["chat"], "u-alice").await;
    let bob = token(&env, &["chat"], &[], "u-bob").await;
    let mut a = env.connect_v1(Some("chat"), Some(&alice)).await;
    let mut b = env.connect_v1(Some("chat"), Some(&bob)).await;
    let raw_token = token(&env, &["chat"], &[], "u-raw").await;
    let (mut r, _) = {
        let url = format!("{}?channel=chat&token={raw_token}", env.gateway.ws_url());
        let (client, _) = tokio_tungstenite::connect_async(url).await.unwrap();
        let id = env
            .wait_event(|e| match e {
                local_gateway::GatewayEvent::Connected { connection_id } => {
                    Some(connection_id.clone())
                }
                _ => None,
            })
            .await;
        (client, id)
    };

    // WHEN A publishes a string, with a forged "from" inside another
    let reply = a
        .call(json!({"action": "publish", "channel": "chat", "data": "hello"}))
        .await;
    // THEN the answer counts B and R, not A
    assert_eq!(reply["type"], "published", "{reply}");
    assert_eq!(reply["offset"], 1);
    assert_eq!(
        (reply["recipients"].clone(), reply["delivered"].clone()),
        (json!(2), json!(2))
    );
    // AND B gets the envelope with from = alice, R the raw text, A nothing
    let message = b.next().await;
    assert_eq!(
        message,
        json!({"type": "message", "channel": "chat", "data": "hello", "offset": 1,
               "epoch": message["epoch"], "from": "u-alice"})
    );
    assert_eq!(recv_text(&mut r).await, "hello");
    a.nothing_else().await;
    let reply = a
        .call(
            json!({"action": "publish", "channel": "chat", "data": {"from": "u-mallory", "n": 2}}),
        )
        .await;
    assert_eq!(reply["offset"], 2);
    let message = b.next().await;
    assert_eq!(message["from"], "u-alice", "never taken from data");
    assert_eq!(message["data"], json!({"from": "u-mallory", "n": 2}));
    assert_eq!(
        serde_json::from_str::<Value>(&recv_text(&mut r).await).unwrap(),
        json!({"from": "u-mallory", "n": 2}),
        "raw members get the text of data"
    );
    // AND with self:true A gets its own copy too, and counts itself
    let id = a
        .send(json!({"action": "publish", "channel": "chat", "data": "me too", "self": true}))
        .await;
    let reply = a.reply(&id).await;
    assert_eq!(reply["recipients"], 3, "{reply}");
    let own = a.next().await;
    assert_eq!(
        (own["data"].clone(), own["offset"].clone()),
        (json!("me too"), json!(3))
    );
    assert_eq!(b.next().await["offset"], 3);
}

async fn a_publish_needs_its_grant_and_a_key_is_delivered_once(backend: Backend) {
    let mut env = start(backend, |b| {
        b.subscriber_auth(local_gateway::SubscriberAuthMode::Token)
    })
    .await;
    let listener = token(&env, &["news"], &[], "u-reader").await;
    let writer = token(&env, &["news"], &["news"], "u-writer").await;
    let mut reader = env.connect_v1(Some("news"), Some(&listener)).await;
    let mut editor = env.connect_v1(Some("news"), Some(&writer)).await;

    // No publish grant: 403, and nobody receives anything.
    let reply = reader
        .call(json!({"action": "publish", "channel": "news", "data": "leak"}))
        .await;
    assert_eq!(reply["code"], 403, "{reply}");
    editor.nothing_else().await;

    // The same key twice: delivered once, the same offset answered.
    let first = editor
        .call(json!({"action": "publish", "channel": "news", "data": "once", "key": "k-1"}))
        .await;
    assert_eq!(
        (first["offset"].clone(), first["recipients"].clone()),
        (json!(1), json!(1))
    );
    let again = editor
        .call(json!({"action": "publish", "channel": "news", "data": "once", "key": "k-1"}))
        .await;
    assert_eq!(again["duplicate"], true, "{again}");
    assert_eq!(again["offset"], 1);
    assert_eq!(again["recipients"], 0);
    assert_eq!(reader.next().await["data"], "once");
    reader.nothing_else().await;

    // An HTTP publish retried with the same Idempotency-Key: one delivery,
    // one offset.
    let post = || {
        env.http
            .post(env.url("/channels/news"))
            .header("idempotency-key", "order-42")
            .body("paid")
            .send()
    };
    let (status, body) = support::json(post().await.unwrap()).await;
    assert_eq!((status, body["offset"].clone()), (200, json!(2)), "{body}");
    let (status, body) = support::json(post().await.unwrap()).await;
    assert_eq!(status, 200);
    assert_eq!(
        (body["offset"].clone(), body["duplicate"].clone()),
        (json!(2), json!(true))
    );
    assert_eq!(reader.next().await["offset"], 2);
    reader.nothing_else().await;
    let (status, body) = support::json(
        env.http
            .post(env.url("/channels/news"))
            .body("next")
            .send()
            .await
            .unwrap(),
    )
    .await;
    assert_eq!(
        (status, body["offset"].clone()),
        (200, json!(3)),
        "no offset taken twice"
    );
}

async fn a_reconnecting_client_recovers_exactly_what_it_missed(backend: Backend) {
    // GIVEN a client that received offsets 1..5 of "feed", then went away
    let mut env = start(backend, |b| b).await;
    let mut client = env.connect_v1(Some("feed"), None).await;
    for i in 1..=5 {
        assert_eq!(env.publish(Some("feed"), &format!("m{i}")).await.0, 200);
    }
    let mut epoch = Value::Null;
    for i in 1..=5 {
        let message = client.next().await;
        assert_eq!(message["offset"], i);
        epoch = message["epoch"].clone();
    }
    let id = client.id.clone();
    support::close(&mut client.client, 1000).await;
    env.disconnected(&id).await;
    // AND 7 more were published meanwhile
    for i in 6..=12 {
        assert_eq!(env.publish(Some("feed"), &format!("m{i}")).await.0, 200);
    }

    // WHEN it comes back with since 5
    let mut client = env.connect_v1(None, None).await;
    let reply = client
        .call(json!({"action": "subscribe", "channel": "feed", "since": {"offset": 5, "epoch": epoch}}))
        .await;

    // THEN it gets exactly 6..12, in order, before the reply says recovered
    assert_eq!(reply["type"], "subscribed", "{reply}");
    assert_eq!(reply["recovered"], true, "{reply}");
    assert_eq!(reply["offset"], 12);
    assert_eq!(reply["epoch"], epoch);
    for i in 6..=12 {
        let message = client.next().await;
        assert_eq!(
            (message["offset"].clone(), message["data"].clone()),
            (json!(i), json!(format!("m{i}")))
        );
    }
    client.nothing_else().await;
    // AND it is live again
    assert_eq!(env.publish(Some("feed"), "m13").await.0, 200);
    assert_eq!(client.next().await["offset"], 13);
}

async fn recovery_fails_loudly_for_another_epoch(backend: Backend) {
    let mut env = start(backend, |b| b).await;
    assert_eq!(env.publish(Some("feed"), "m1").await.0, 200);
    let mut client = env.connect_v1(None, None).await;
    let reply = client
        .call(json!({"action": "subscribe", "channel": "feed", "since": {"offset": 0, "epoch": "not-this-one"}}))
        .await;
    assert_eq!(reply["recovered"], false, "{reply}");
    assert_eq!(reply["offset"], 1);
    client.nothing_else().await;
}

/// History off: offsets are still taken, and recovery says it failed.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn with_history_off_recovery_is_false_but_offsets_go_on() {
    let mut env = start(Backend::Memory, |b| b.history(History::OFF)).await;
    let mut client = env.connect_v1(Some("feed"), None).await;
    assert_eq!(env.publish(Some("feed"), "m1").await.1["offset"], 1);
    let epoch = client.next().await["epoch"].clone();
    assert_eq!(env.publish(Some("feed"), "m2").await.1["offset"], 2);
    assert_eq!(client.next().await["offset"], 2);
    let reply = client
        .call(json!({"action": "subscribe", "channel": "feed", "since": {"offset": 0, "epoch": epoch}}))
        .await;
    assert_eq!(
        (reply["recovered"].clone(), reply["offset"].clone()),
        (json!(false), json!(2))
    );
    client.nothing_else().await;
    // Nothing missed is nothing to recover, history or not.
    let reply = client
        .call(json!({"action": "subscribe", "channel": "feed", "since": {"offset": 2, "epoch": epoch}}))
        .await;
    assert_eq!(reply["recovered"], true);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn over_http_a_backend_catches_up_with_the_same_bounds() {
    let env = start(Backend::Memory, |b| b).await;
    for i in 1..=3 {
        assert_eq!(env.publish(Some("feed"), &format!("m{i}")).await.0, 200);
    }
    let get = |query: &'static str| {
        env.http
            .get(env.url(&format!("/channels/feed/messages{query}")))
            .send()
    };
    let (status, body) = support::json(get("?since=1").await.unwrap()).await;
    assert_eq!(status, 200, "{body}");
    assert_eq!(body["recovered"], true);
    assert_eq!(body["offset"], 3);
    let offsets: Vec<Value> = body["messages"]
        .as_array()
        .unwrap()
        .iter()
        .map(|m| m["offset"].clone())
        .collect();
    assert_eq!(offsets, [json!(2), json!(3)]);
    assert_eq!(body["messages"][0]["data"], "m2");
    let (status, body) = support::json(get("?since=0&epoch=other").await.unwrap()).await;
    assert_eq!((status, body["recovered"].clone()), (200, json!(false)));
    assert_eq!(body["messages"], json!([]));
    let (status, _) = support::json(get("").await.unwrap()).await;
    assert_eq!(status, 400, "since is required");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_33_kib_frame_closes_an_lrw_v1_connection_with_1009() {
    let mut env = start(Backend::Memory, |b| b).await;
    let mut v1 = env.connect_v1(Some("a"), None).await;
    send(&mut v1.client, &"x".repeat(33 * 1024)).await;
    let (code, _) = expect_close(&mut v1.client).await;
    assert_eq!(code, 1009);
    env.disconnected(&v1.id).await;
    assert_eq!(env.count("a").await, 0);
}

/// The protocol from a client in another language: Python's `websockets`.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
#[ignore = "needs websockets from the project venv; `make test` runs it"]
async fn a_python_websockets_client_speaks_the_protocol() {
    let env = start(Backend::Memory, |b| b).await;
    let python = std::env::var("VENV_PYTHON")
        .unwrap_or_else(|_| format!("{}/../../.venv/bin/python", env!("CARGO_MANIFEST_DIR")));
    let script = format!("{}/tests/data/lrw_client.py", env!("CARGO_MANIFEST_DIR"));
    let (ws, http) = (env.gateway.ws_url(), env.gateway.http_url());
    // The script bounds each wait itself (10 s).
    let output = tokio::task::spawn_blocking(move || {
        std::process::Command::new(&python)
            .args([script.as_str(), ws.as_str(), http.as_str()])
            .output()
            .unwrap_or_else(|e| panic!("cannot run {python} (run `make test-tools`): {e}"))
    })
    .await
    .unwrap();
    let stderr = String::from_utf8_lossy(&output.stderr);
    assert!(output.status.success(), "{stderr}");
    let seen: Value = serde_json::from_slice(&output.stdout).unwrap();
    assert_eq!(seen["subprotocol"], "lrw.v1");
    for channel in ["py-a", "py-b"] {
        assert_eq!(seen["replies"][channel]["type"], "subscribed", "{seen}");
    }
    assert_eq!(
        seen["replies"]["publish"]["recipients"], 1,
        "self:true counts the sender"
    );
    assert_eq!(seen["http"]["offset"], 1);
    let messages = seen["messages"].as_array().unwrap();
    let data: Vec<(Value, Value)> = messages
        .iter()
        .map(|m| (m["channel"].clone(), m["data"].clone()))
        .collect();
    assert!(
        data.contains(&(json!("py-b"), json!({"lang": "python"}))),
        "{seen}"
    );
    assert!(
        data.contains(&(json!("py-a"), json!("from curl"))),
        "{seen}"
    );
}
