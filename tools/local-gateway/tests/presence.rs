//! Who is here, end to end: the `presence` command and the HTTP route list
//! a channel's subjects; join and leave events, played from the store's
//! membership changes as the table's stream would carry them, reach the
//! channel's lrw.v1 subscribers for channels `presence_events` names. Each
//! scenario runs in memory and on DynamoDB at a moto_server (`moto::…`).

#![allow(clippy::unwrap_used, clippy::expect_used)]

mod support;

use channels::Pattern;
use local_gateway::SubscriberAuthMode;
use serde_json::{json, Value};
use support::{start, token, Backend, Env};

support::scenarios!(presence_lists_subjects_and_joins_and_leaves_are_announced_once_per_subject);

async fn http_presence(env: &Env, channel: &str) -> Value {
    let response = env
        .http
        .get(env.url(&format!("/channels/{channel}/presence")))
        .send()
        .await
        .unwrap();
    let (status, body) = support::json(response).await;
    assert_eq!(status, 200, "{body}");
    body
}

async fn presence_lists_subjects_and_joins_and_leaves_are_announced_once_per_subject(
    backend: Backend,
) {
    // GIVEN a gateway announcing presence in room-* channels only
    let mut env = start(backend, |b| {
        b.subscriber_auth(SubscriberAuthMode::Token)
            .presence_events(vec![Pattern::parse("room-*").unwrap()])
    })
    .await;
    let alice = token(&env, &["room-1", "lobby"], &[], "u-alice").await;
    let bob = token(&env, &["room-1", "lobby"], &[], "u-bob").await;

    // WHEN alice joins room-1, then bob
    let mut alice_1 = env.connect_v1(Some("room-1"), Some(&alice)).await;
    let mut bob_1 = env.connect_v1(Some("room-1"), Some(&bob)).await;
    // THEN alice hears bob join. (Her own join may reach her or not: it
    // goes out while her $connect runs, when API Gateway answers posts to
    // her connection 410, as the local gateway does.)
    let mut heard = alice_1.next().await;
    if heard["subject"] == "u-alice" {
        assert_eq!(heard["type"], "join");
        heard = alice_1.next().await;
    }
    assert_eq!(
        heard,
        json!({"type": "join", "channel": "room-1", "subject": "u-bob"})
    );

    // AND presence lists both, by command and over HTTP
    let reply = alice_1
        .call(json!({"action": "presence", "channel": "room-1"}))
        .await;
    assert_eq!(reply["type"], "presence");
    assert_eq!(reply["connections"], 2);
    assert_eq!(reply["subjects"], json!(["u-alice", "u-bob"]));
    let body = http_presence(&env, "room-1").await;
    assert_eq!(
        body,
        json!({"type": "presence", "channel": "room-1", "connections": 2, "subjects": ["u-alice", "u-bob"]})
    );

    // WHEN alice opens a second tab
    let mut alice_2 = env.connect_v1(Some("room-1"), Some(&alice)).await;
    // THEN nobody hears her join again; presence counts three connections
    // of two subjects
    let reply = alice_2
        .call(json!({"action": "presence", "channel": "room-1"}))
        .await;
    assert_eq!(
        (reply["connections"].clone(), reply["subjects"].clone()),
        (json!(3), json!(["u-alice", "u-bob"]))
    );

    // WHEN bob leaves
    let bob_id = bob_1.id.clone();
    support::close(&mut bob_1.client, 1000).await;
    env.disconnected(&bob_id).await;
    // THEN alice's tabs hear one leave for bob, and no join of her own
    for tab in [&mut alice_1, &mut alice_2] {
        assert_eq!(
            tab.next().await,
            json!({"type": "leave", "channel": "room-1", "subject": "u-bob"})
        );
    }
    alice_1.nothing_else().await;
    alice_2.nothing_else().await;
    assert_eq!(
        http_presence(&env, "room-1").await["subjects"],
        json!(["u-alice"])
    );

    // AND a channel outside room-* gets no events, only presence on demand
    let reply = alice_2
        .call(json!({"action": "subscribe", "channel": "lobby"}))
        .await;
    assert_eq!(reply["type"], "subscribed");
    let mut bob_lobby = env.connect_v1(Some("lobby"), Some(&bob)).await;
    let reply = bob_lobby
        .call(json!({"action": "presence", "channel": "lobby"}))
        .await;
    assert_eq!(reply["subjects"], json!(["u-alice", "u-bob"]));
    // (the stream keeps its order: had lobby made an event, it would come
    // before the join of bob's room-1 subscription)
    let reply = bob_lobby
        .call(json!({"action": "subscribe", "channel": "room-1"}))
        .await;
    assert_eq!(reply["type"], "subscribed");
    assert_eq!(
        alice_2.next().await,
        json!({"type": "join", "channel": "room-1", "subject": "u-bob"})
    );
    // AND presence needs a subscribe grant
    let reply = bob_lobby
        .call(json!({"action": "presence", "channel": "room-9"}))
        .await;
    assert_eq!(reply["code"], 403, "{reply}");
}
