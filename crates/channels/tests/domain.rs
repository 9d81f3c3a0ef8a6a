//! Domain behaviour on the in-memory adapters: membership, isolation,
//! fan-out accounting, 410 clean-up, retries, bounded concurrency, paging.

#![allow(clippy::unwrap_used, clippy::expect_used)] // a test fails by panicking

mod support;

use std::time::Duration;

use channels::fanout::{Publish, Published};
use channels::memory::MemoryStore;
use channels::message::Publication;
use channels::testing::MemoryNotifier;
use channels::{Connection, Fanout, NotifyError, PublishOptions, PublishReport, Store};
use support::{channel, fast, report};

type Memory = Fanout<MemoryStore, MemoryNotifier>;

fn fanout(store: MemoryStore, notifier: MemoryNotifier, options: PublishOptions) -> Memory {
    Fanout::new(store, notifier, options)
}

/// A raw connection in `channel_name`, as `$connect` stored it a minute
/// ago (a 410 of a connection still connecting does not remove it).
async fn connect(store: &MemoryStore, id: &str, channel_name: &str) {
    let connection = Connection::new(id, channels::now_millis() - 60_000);
    store
        .connect(&connection, Some(&channel(channel_name)))
        .await
        .expect("memory store connect");
}

async fn members(store: &MemoryStore, name: &str) -> Vec<String> {
    let mut all = Vec::new();
    let mut cursor = None;
    loop {
        let page = store
            .members(&channel(name), 0, cursor, None)
            .await
            .expect("memory store members");
        all.extend(page.members.into_iter().map(|m| m.connection_id));
        match page.next {
            Some(next) => cursor = Some(next),
            None => return all,
        }
    }
}

/// An HTTP publish of `body` (text) to `name`; its report.
async fn publish(fanout: &Memory, name: &str, body: &[u8]) -> Option<PublishReport> {
    let publish = Publish {
        publication: Publication::http(channel(name), body.to_vec(), false),
        exclude: None,
        key: None,
        publish_id: "p-1".into(),
    };
    match fanout.publish(publish).await.ok()? {
        Published::Sync { report, .. } => Some(report),
        other => panic!("not synchronous: {other:?}"),
    }
}

#[tokio::test]
async fn connect_then_disconnect_tracks_membership() {
    // GIVEN two connections in "lobby"
    let store = MemoryStore::new();
    connect(&store, "a=", "lobby").await;
    connect(&store, "b=", "lobby").await;
    assert_eq!(members(&store, "lobby").await, ["a=", "b="]);
    assert_eq!(
        channels::count(&store, &channel("lobby")).await.ok(),
        Some(2)
    );

    // WHEN one disconnects, twice (API Gateway may repeat it)
    store.disconnect("a=").await.expect("remove");
    store
        .disconnect("a=")
        .await
        .expect("second remove is not an error");

    // THEN only the other is left
    assert_eq!(members(&store, "lobby").await, ["b="]);
    assert_eq!(
        channels::count(&store, &channel("lobby")).await.ok(),
        Some(1)
    );
}

#[tokio::test]
async fn reconnecting_under_another_channel_moves_the_connection() {
    let store = MemoryStore::new();
    connect(&store, "a=", "red").await;
    connect(&store, "a=", "blue").await;
    assert!(members(&store, "red").await.is_empty());
    assert_eq!(members(&store, "blue").await, ["a="]);
    assert_eq!(store.len(), 1);
}

#[tokio::test]
async fn publish_reaches_exactly_the_channel_members() {
    // GIVEN members in two channels
    let store = MemoryStore::new();
    let notifier = MemoryNotifier::new();
    for id in ["r1=", "r2=", "r3="] {
        connect(&store, id, "red").await;
    }
    connect(&store, "b1=", "blue").await;

    // WHEN a message goes to "red"
    let fanout = fanout(store, notifier, fast());
    let result = publish(&fanout, "red", b"hello red").await;

    // THEN every red member got it once, blue got nothing
    assert_eq!(result, Some(report("red", 3, 3, 0, 0)));
    for id in ["r1=", "r2=", "r3="] {
        assert_eq!(
            fanout.notifier.delivered(id),
            vec![b"hello red".to_vec()],
            "{id}"
        );
    }
    assert!(fanout.notifier.delivered("b1=").is_empty());
    assert_eq!(fanout.notifier.recipients().len(), 3);
}

#[tokio::test]
async fn publish_to_an_empty_channel_reports_zero() {
    let store = MemoryStore::new();
    let notifier = MemoryNotifier::new();
    let fanout = fanout(store, notifier, fast());
    let result = publish(&fanout, "nobody", b"x").await;
    assert_eq!(result, Some(report("nobody", 0, 0, 0, 0)));
}

#[tokio::test]
async fn gone_connections_are_counted_and_removed() {
    // GIVEN a channel where one member vanished without $disconnect
    let store = MemoryStore::new();
    let notifier = MemoryNotifier::new();
    connect(&store, "alive=", "room").await;
    connect(&store, "ghost=", "room").await;
    notifier.gone("ghost=");

    // WHEN publishing
    let fanout = fanout(store, notifier, fast());
    let result = publish(&fanout, "room", b"hi").await;

    // THEN it counts as gone, is not retried, and is removed from the store
    assert_eq!(result, Some(report("room", 2, 1, 1, 0)));
    assert_eq!(fanout.notifier.attempts("ghost="), 1);
    assert!(fanout.store.get("ghost=").is_none());
    assert_eq!(members(&fanout.store, "room").await, ["alive="]);
}

#[tokio::test]
async fn a_connection_still_connecting_is_not_removed_for_a_410() {
    // GIVEN a member whose $connect began a moment ago: the store has it,
    // API Gateway answers posts to it 410 until $connect has answered
    let store = MemoryStore::new();
    let notifier = MemoryNotifier::new();
    let fresh = Connection::new("fresh=", channels::now_millis());
    store
        .connect(&fresh, Some(&channel("room")))
        .await
        .expect("connect");
    notifier.gone("fresh=");
    let fanout = fanout(store, notifier, fast());

    // WHEN a publish reaches it
    let result = publish(&fanout, "room", b"hi").await;

    // THEN it counts as gone, but keeps its connection and membership
    assert_eq!(result, Some(report("room", 1, 0, 1, 0)));
    assert!(fanout.store.get("fresh=").is_some());
    assert_eq!(members(&fanout.store, "room").await, ["fresh="]);
}

#[tokio::test]
async fn throttled_and_unavailable_posts_are_retried_until_they_succeed() {
    let store = MemoryStore::new();
    let notifier = MemoryNotifier::new();
    connect(&store, "t=", "room").await;
    connect(&store, "u=", "room").await;
    notifier.fail_next("t=", [NotifyError::Throttled, NotifyError::Throttled]);
    notifier.fail_next("u=", [NotifyError::Unavailable("502".into())]);

    let fanout = fanout(store, notifier, fast());
    let result = publish(&fanout, "room", b"m").await;

    assert_eq!(result, Some(report("room", 2, 2, 0, 0)));
    assert_eq!(fanout.notifier.attempts("t="), 3);
    assert_eq!(fanout.notifier.attempts("u="), 2);
    assert_eq!(fanout.notifier.delivered("t="), vec![b"m".to_vec()]);
}

#[tokio::test]
async fn retries_are_bounded_and_what_still_fails_counts_as_failed() {
    let store = MemoryStore::new();
    let notifier = MemoryNotifier::new();
    connect(&store, "stuck=", "room").await;
    connect(&store, "big=", "room").await;
    connect(&store, "ok=", "room").await;
    notifier.fail_next("stuck=", std::iter::repeat_n(NotifyError::Throttled, 10));
    notifier.fail_next("big=", [NotifyError::PayloadTooLarge]);
    let options = PublishOptions {
        max_attempts: 3,
        ..fast()
    };

    let fanout = fanout(store, notifier, options);
    let result = publish(&fanout, "room", b"m").await;

    assert_eq!(result, Some(report("room", 3, 1, 0, 2)));
    assert_eq!(
        fanout.notifier.attempts("stuck="),
        3,
        "one try and two retries"
    );
    assert_eq!(fanout.notifier.attempts("big="), 1, "a 413 is not retried");
    // Failed connections stay members: they may be fine next time.
    assert!(fanout.store.get("stuck=").is_some());
}

#[tokio::test]
async fn accounting_is_exact_across_many_pages() {
    // GIVEN 1,000 members read 64 at a time, with every kind of outcome
    let store = MemoryStore::with_page_size(64);
    let notifier = MemoryNotifier::new();
    for i in 0..1000 {
        connect(&store, &format!("c{i:04}="), "big").await;
    }
    connect(&store, "other=", "small").await;
    for i in (0..1000).step_by(10) {
        notifier.gone(&format!("c{i:04}="));
    }
    for i in (5..1000).step_by(50) {
        notifier.fail_next(&format!("c{i:04}="), [NotifyError::Forbidden]);
    }
    for i in (7..1000).step_by(20) {
        notifier.fail_next(&format!("c{i:04}="), [NotifyError::Throttled]);
    }

    let fanout = fanout(store, notifier, fast());
    let result = publish(&fanout, "big", b"m").await;

    // THEN 100 gone, 20 failed, the other 880 delivered (throttled ones on retry)
    assert_eq!(result, Some(report("big", 1000, 880, 100, 20)));
    assert_eq!(members(&fanout.store, "big").await.len(), 900);
    assert!(fanout.notifier.delivered("other=").is_empty());
    assert_eq!(fanout.notifier.attempts("c0007="), 2);
}

#[tokio::test]
async fn concurrency_is_bounded_by_the_option() {
    let store = MemoryStore::new();
    let notifier = MemoryNotifier::with_delay(Duration::from_millis(5));
    for i in 0..100 {
        connect(&store, &format!("c{i}="), "room").await;
    }
    let options = PublishOptions {
        concurrency: 8,
        ..fast()
    };

    let fanout = fanout(store, notifier, options);
    let result = publish(&fanout, "room", b"m").await;

    assert_eq!(result, Some(report("room", 100, 100, 0, 0)));
    let peak = fanout.notifier.peak_in_flight();
    assert!(peak <= 8, "at most 8 posts in flight, saw {peak}");
    assert!(peak > 1, "posts overlap, saw {peak}");
}

#[tokio::test]
async fn expired_connections_are_neither_counted_nor_posted_to() {
    // A connection whose $disconnect never came, past its expiry.
    let store = MemoryStore::new();
    let notifier = MemoryNotifier::new();
    let mut stale = Connection::new("stale=", 0);
    stale.expires_at = channels::now_millis() / 1000 - 1;
    store
        .connect(&stale, Some(&channel("room")))
        .await
        .expect("connect");
    connect(&store, "fresh=", "room").await;

    assert_eq!(
        channels::count(&store, &channel("room")).await.ok(),
        Some(1)
    );
    let fanout = fanout(store, notifier, fast());
    let result = publish(&fanout, "room", b"m").await;
    assert_eq!(result, Some(report("room", 1, 1, 0, 0)));
    assert_eq!(fanout.notifier.attempts("stale="), 0);
    // Like DynamoDB's TTL, the store lets go of it.
    assert!(fanout.store.get("stale=").is_none());
    assert_eq!(fanout.store.len(), 1);
}
