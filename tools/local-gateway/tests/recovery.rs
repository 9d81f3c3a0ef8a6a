//! What recovery guarantees when the timing is against it: a loss is always
//! detectable. A stale channel index hides a new member from a publish; the
//! client sees the gap in the offsets, and a second `since` recovers it. A
//! publish racing a replay arrives at least once.

#![allow(clippy::unwrap_used, clippy::expect_used)]

mod support;

use std::collections::BTreeSet;

use serde_json::{json, Value};
use support::{start, Backend};

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_stale_index_makes_a_gap_the_client_sees_and_a_second_since_recovers() {
    // GIVEN a client that holds offset 1 of "feed"
    let mut env = start(Backend::Memory, |b| b).await;
    let mut first = env.connect_v1(Some("feed"), None).await;
    assert_eq!(env.publish(Some("feed"), "m1").await.0, 200);
    let held = first.next().await;
    let since = json!({"offset": 1, "epoch": held["epoch"]});
    support::close(&mut first.client, 1000).await;
    env.disconnected(&first.id).await;

    // AND a channel index that will not show the next membership for a while
    let memory = env.gateway.store().memory().expect("the in-memory store");
    memory.lag_index();

    // WHEN the client comes back with since 1: nothing missed yet
    let mut client = env.connect_v1(None, None).await;
    let reply = client
        .call(json!({"action": "subscribe", "channel": "feed", "since": since}))
        .await;
    assert_eq!(
        (reply["recovered"].clone(), reply["offset"].clone()),
        (json!(true), json!(1))
    );

    // AND offset 2 is published while the index still hides it
    let (status, report) = env.publish(Some("feed"), "m2").await;
    assert_eq!(
        (status, report["recipients"].clone()),
        (200, json!(0)),
        "{report}"
    );
    // AND once the index caught up, offset 3
    memory.catch_up_index();
    assert_eq!(env.publish(Some("feed"), "m3").await.0, 200);

    // THEN the client sees 3 after 1: the gap tells it 2 is missing
    let live = client.next().await;
    assert_eq!(live["offset"], 3);
    // AND subscribing again with since 1 recovers 2 (and 3 again)
    let reply = client
        .call(json!({"action": "subscribe", "channel": "feed", "since": since}))
        .await;
    assert_eq!(reply["recovered"], true, "{reply}");
    let offsets: Vec<Value> = vec![
        client.next().await["offset"].clone(),
        client.next().await["offset"].clone(),
    ];
    assert_eq!(offsets, [json!(2), json!(3)]);
    client.nothing_else().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_publish_racing_a_replay_arrives_at_least_once() {
    // GIVEN 30 messages kept in "race"
    let mut env = start(Backend::Memory, |b| b).await;
    let mut probe = env.connect_v1(Some("race"), None).await;
    for i in 1..=30 {
        assert_eq!(env.publish(Some("race"), &format!("m{i}")).await.0, 200);
    }
    let epoch = probe.next().await["epoch"].clone();

    // WHEN a client subscribes with since 0 while 30 more are published
    let mut client = env.connect_v1(None, None).await;
    let publisher = {
        let http = env.http.clone();
        let url = env.url("/channels/race");
        tokio::spawn(async move {
            for i in 31..=60 {
                let response = http.post(&url).body(format!("m{i}")).send().await.unwrap();
                assert_eq!(response.status(), 200);
            }
        })
    };
    let reply = client
        .call(json!({"action": "subscribe", "channel": "race", "since": {"offset": 0, "epoch": epoch}}))
        .await;
    assert_eq!(reply["type"], "subscribed", "{reply}");
    publisher.await.unwrap();

    // THEN every offset from 1 to 60 arrives at least once (some twice)
    let mut seen = BTreeSet::new();
    while seen.len() < 60 {
        let message = client.next().await;
        seen.insert(message["offset"].as_u64().unwrap());
    }
    assert_eq!(seen, (1..=60).collect());
}
