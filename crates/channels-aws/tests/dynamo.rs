//! The DynamoDB adapter against moto_server on 127.0.0.1, with the table
//! layout Terraform declares (`channels::schema`, checked against
//! terraform/dynamodb.tf by the contract-tests crate's terraform_contract test).

#![allow(clippy::unwrap_used, clippy::expect_used)] // a test fails by panicking

use std::collections::BTreeSet;

use aws_sdk_dynamodb::types::{AttributeValue, KeyType, PutRequest, WriteRequest};
use channels::fanout::{Delivery, Publish, Published};
use channels::history::{recover, Since};
use channels::message::{Kind, Position, Publication, StoredMessage};
use channels::store::{KEY_CLAIM_STALE_SECS, KEY_WINDOW_SECS};
use channels::testing::MemoryNotifier;
use channels::{
    ChannelName, Connection, Fanout, Grants, History, KeyClaim, Pattern, Protocol, PublishOptions,
    PublishReport, Shards, Store, Subscribed, MAX_SUBSCRIPTIONS,
};
use channels_aws::dynamo::{connection_item, ensure_table, membership_item, DynamoStore};
use channels_aws::schema::{
    connection_pk, membership_sk, partition, CHANNEL_INDEX, CONNECTION_SK, INDEX_HASH_KEY,
    INDEX_PROJECTED, INDEX_RANGE_KEY, PK, SK, SUBSCRIBED_AT, SUBSCRIPTIONS, TTL_ATTRIBUTE,
};
use channels_aws::testing::MotoServer;

const NEEDS_MOTO: &str = "needs moto_server; `make test` runs it";

fn channel(name: &str) -> ChannelName {
    ChannelName::parse(name).expect("valid channel name")
}

async fn store(moto: &MotoServer, table: &str) -> DynamoStore {
    let client = moto.dynamodb_client();
    ensure_table(&client, table).await.expect("create table");
    DynamoStore::new(client, table)
}

/// A raw connection in `name`, as `$connect` stored it a minute ago (a 410
/// of a connection still connecting does not remove it).
async fn join(store: &DynamoStore, id: &str, name: &str) {
    store
        .connect(
            &Connection::new(id, channels::now_millis() - 60_000),
            Some(&channel(name)),
        )
        .await
        .expect("connect");
}

/// Every member of every shard, and how many pages that took.
async fn all_members(store: &DynamoStore, channel: &ChannelName) -> (Vec<String>, usize) {
    let (mut ids, mut pages) = (Vec::new(), 0);
    for shard in store.shards().all() {
        let (found, n) = shard_members(store, channel, shard).await;
        ids.extend(found);
        pages += n;
    }
    ids.sort();
    (ids, pages)
}

async fn shard_members(
    store: &DynamoStore,
    channel: &ChannelName,
    shard: u16,
) -> (Vec<String>, usize) {
    let (mut ids, mut pages, mut cursor) = (Vec::new(), 0, None);
    loop {
        let page = store
            .members(channel, shard, cursor, None)
            .await
            .expect("query");
        pages += 1;
        ids.extend(page.members.into_iter().map(|m| m.connection_id));
        match page.next {
            Some(next) => cursor = Some(next),
            None => return (ids, pages),
        }
    }
}

/// Every item of the table, as (pk, sk).
async fn keys(store: &DynamoStore) -> BTreeSet<(String, String)> {
    let scan = store
        .client()
        .scan()
        .table_name(store.table())
        .send()
        .await
        .expect("scan");
    scan.items()
        .iter()
        .map(|item| {
            (
                item[PK].as_s().unwrap().clone(),
                item[SK].as_s().unwrap().clone(),
            )
        })
        .collect()
}

/// A raw HTTP publish of `body` to `name` through a fan-out on `store`.
async fn publish(store: &DynamoStore, notifier: &MemoryNotifier, name: &str) -> PublishReport {
    let fanout = Fanout::<_, _>::new(store, notifier, PublishOptions::default());
    let publish = Publish {
        publication: Publication::http(channel(name), b"hi".to_vec(), false),
        exclude: None,
        key: None,
        publish_id: "p-1".into(),
    };
    match fanout.publish(publish).await.expect("publish") {
        Published::Sync { report, .. } => report,
        other => panic!("not synchronous: {other:?}"),
    }
}

#[tokio::test]
#[ignore = "needs moto_server; `make test` runs it"]
async fn table_has_the_declared_keys_index_ttl_and_stream() {
    let moto = MotoServer::start().expect(NEEDS_MOTO);
    let store = store(&moto, "schema").await;
    let table = store
        .client()
        .describe_table()
        .table_name("schema")
        .send()
        .await
        .expect("describe");
    let table = table.table().expect("table description");
    let keys: Vec<_> = table
        .key_schema()
        .iter()
        .map(|k| (k.attribute_name(), k.key_type().clone()))
        .collect();
    assert_eq!(keys, [(PK, KeyType::Hash), (SK, KeyType::Range)]);
    let index = &table.global_secondary_indexes()[0];
    assert_eq!(index.index_name(), Some(CHANNEL_INDEX));
    let keys: Vec<_> = index
        .key_schema()
        .iter()
        .map(|k| (k.attribute_name(), k.key_type().clone()))
        .collect();
    assert_eq!(
        keys,
        [
            (INDEX_HASH_KEY, KeyType::Hash),
            (INDEX_RANGE_KEY, KeyType::Range)
        ]
    );
    let projected: BTreeSet<&str> = index
        .projection()
        .map(|p| p.non_key_attributes().iter().map(String::as_str).collect())
        .unwrap_or_default();
    assert_eq!(projected, INDEX_PROJECTED.iter().copied().collect());
    let ttl = store
        .client()
        .describe_time_to_live()
        .table_name("schema")
        .send()
        .await
        .expect("ttl");
    assert_eq!(
        ttl.time_to_live_description()
            .and_then(|t| t.attribute_name()),
        Some(TTL_ATTRIBUTE)
    );
    assert_eq!(
        table
            .stream_specification()
            .and_then(|s| s.stream_view_type())
            .map(|v| v.as_str()),
        Some("NEW_AND_OLD_IMAGES")
    );
    // Creating it again is a no-op.
    ensure_table(store.client(), "schema")
        .await
        .expect("idempotent");
}

#[tokio::test]
#[ignore = "needs moto_server; `make test` runs it"]
async fn connect_query_count_and_disconnect() {
    let moto = MotoServer::start().expect(NEEDS_MOTO);
    let store = store(&moto, "crud").await;
    for (id, ch) in [("a=", "red"), ("b=", "red"), ("c=", "blue")] {
        join(&store, id, ch).await;
    }

    // The items are stored in the documented shape.
    let a = store.connection("a=").await.expect("get").expect("stored");
    assert_eq!(a.subscriptions, 1, "its first membership counts");
    let get = |pk: String, sk: String| {
        store
            .client()
            .get_item()
            .table_name("crud")
            .key(PK, AttributeValue::S(pk))
            .key(SK, AttributeValue::S(sk))
            .send()
    };
    let got = get(connection_pk("a="), CONNECTION_SK.to_owned())
        .await
        .expect("get");
    assert_eq!(got.item().cloned(), Some(connection_item(&a)));
    let got = get(connection_pk("a="), membership_sk("red"))
        .await
        .expect("get");
    // The membership read strongly consistent is the item, its subscribe
    // time included.
    let red = store
        .membership("a=", &channel("red"))
        .await
        .expect("get")
        .expect("a member of red");
    assert!(red.subscribed_at_ms >= a.connected_at_ms, "{red:?}");
    assert_eq!(red, a.membership_at(&channel("red"), red.subscribed_at_ms));
    assert_eq!(
        got.item().cloned(),
        Some(membership_item(&red, Shards::ONE))
    );
    assert_eq!(
        store.membership("a=", &channel("blue")).await.expect("get"),
        None
    );

    assert_eq!(all_members(&store, &channel("red")).await.0, ["a=", "b="]);
    assert_eq!(channels::count(&store, &channel("red")).await.ok(), Some(2));
    assert_eq!(
        channels::count(&store, &channel("blue")).await.ok(),
        Some(1)
    );
    assert_eq!(
        channels::count(&store, &channel("none")).await.ok(),
        Some(0)
    );

    let removed = store.disconnect("a=").await.expect("disconnect");
    assert_eq!(removed.len(), 1);
    assert_eq!(removed[0].channel, channel("red"));
    assert!(store
        .disconnect("a=")
        .await
        .expect("disconnecting a missing connection succeeds")
        .is_empty());
    assert_eq!(all_members(&store, &channel("red")).await.0, ["b="]);
    assert_eq!(store.connection("a=").await.expect("get"), None);
}

#[tokio::test]
#[ignore = "needs moto_server; `make test` runs it"]
async fn subscriptions_are_counted_exactly_capped_and_all_removed_on_disconnect() {
    // GIVEN an lrw.v1 connection with no channel yet
    let moto = MotoServer::start().expect(NEEDS_MOTO);
    let store = store(&moto, "subs")
        .await
        .with_shards(Shards::new(4).unwrap());
    let mut connection = Connection::new("v1=", channels::now_millis());
    connection.protocol = Protocol::V1;
    connection.subject = Some("u-1".into());
    store.connect(&connection, None).await.expect("connect");

    // WHEN it subscribes to three channels, one of them twice
    for name in ["a", "b", "c", "a"] {
        let outcome = store
            .subscribe(&connection, &channel(name))
            .await
            .expect("subscribe");
        assert!(
            matches!(outcome, Subscribed::Added | Subscribed::Already),
            "{outcome:?}"
        );
    }
    // THEN each channel has it once, with its protocol and subject, and the
    // counter says three
    for name in ["a", "b", "c"] {
        let shard = store.shards().of("v1=");
        let page = store
            .members(&channel(name), shard, None, None)
            .await
            .expect("members");
        assert_eq!(page.members.len(), 1, "{name}");
        assert_eq!(page.members[0].protocol, Protocol::V1);
        assert_eq!(page.members[0].subject.as_deref(), Some("u-1"));
    }
    let stored = store.connection("v1=").await.expect("get").expect("stored");
    assert_eq!(stored.subscriptions, 3);

    // AND unsubscribing is idempotent and counted once
    assert!(store
        .unsubscribe("v1=", &channel("b"))
        .await
        .expect("unsub"));
    assert!(!store
        .unsubscribe("v1=", &channel("b"))
        .await
        .expect("again"));
    let stored = store.connection("v1=").await.expect("get").expect("stored");
    assert_eq!(stored.subscriptions, 2);

    // AND the 101st subscription is refused by the conditional counter
    for i in 0..(MAX_SUBSCRIPTIONS - 2) {
        let outcome = store
            .subscribe(&connection, &channel(&format!("room-{i}")))
            .await
            .expect("subscribe");
        assert_eq!(outcome, Subscribed::Added, "room-{i}");
    }
    assert_eq!(
        store
            .subscribe(&connection, &channel("one-too-many"))
            .await
            .expect("subscribe"),
        Subscribed::Full
    );
    assert_eq!(
        channels::count(&store, &channel("one-too-many")).await.ok(),
        Some(0)
    );
    // AND a connection that is not stored cannot subscribe
    let ghost = Connection::new("ghost=", channels::now_millis());
    assert_eq!(
        store.subscribe(&ghost, &channel("a")).await.expect("sub"),
        Subscribed::NoConnection
    );

    // WHEN it disconnects
    let removed = store.disconnect("v1=").await.expect("disconnect");
    // THEN every membership went with it, and no item of it is left
    assert_eq!(removed.len(), MAX_SUBSCRIPTIONS as usize);
    for name in ["a", "c", "room-0", "room-97"] {
        assert_eq!(
            channels::count(&store, &channel(name)).await.ok(),
            Some(0),
            "{name}"
        );
    }
    assert!(keys(&store)
        .await
        .iter()
        .all(|(pk, _)| *pk != connection_pk("v1=")));
}

#[tokio::test]
#[ignore = "needs moto_server; `make test` runs it"]
async fn grants_are_added_and_the_token_expiry_only_moves_on() {
    let moto = MotoServer::start().expect(NEEDS_MOTO);
    let store = store(&moto, "grants").await;
    let mut connection = Connection::new("g=", channels::now_millis());
    connection.grants = Grants {
        subscribe: vec![Pattern::parse("lobby").unwrap()],
        publish: Vec::new(),
    };
    connection.token_expires_at = Some(1000);
    store.connect(&connection, None).await.expect("connect");
    let more = Grants {
        subscribe: vec![Pattern::parse("room-*").unwrap()],
        publish: vec![Pattern::parse("room-*").unwrap()],
    };
    store.add_grants("g=", &more, 2000).await.expect("grants");
    store
        .add_grants("g=", &Grants::default(), 1500)
        .await
        .expect("an earlier expiry is not an error");
    let stored = store.connection("g=").await.expect("get").expect("stored");
    assert!(stored.grants.can_subscribe(&channel("lobby")));
    assert!(stored.grants.can_subscribe(&channel("room-7")));
    assert!(stored.grants.can_publish(&channel("room-7")));
    assert!(!stored.grants.can_publish(&channel("lobby")));
    assert_eq!(stored.token_expires_at, Some(2000));
    // A connection that is gone gets nothing, and no error.
    store
        .add_grants("nobody=", &more, 3000)
        .await
        .expect("no connection, no change");
    assert_eq!(store.connection("nobody=").await.expect("get"), None);
}

#[tokio::test]
#[ignore = "needs moto_server; `make test` runs it"]
async fn concurrent_publishes_take_distinct_increasing_offsets_of_one_epoch() {
    // GIVEN a channel nobody published to: subscribing fixes its epoch. (A
    // server that takes one request at a time: each update atomic, as
    // DynamoDB makes it; the threaded moto_server can lose an increment.)
    let moto = MotoServer::start_one_at_a_time().expect(NEEDS_MOTO);
    let store = store(&moto, "offsets").await;
    let room = channel("room");
    let first = store.position(&room).await.expect("position");
    assert_eq!(first.offset, 0);
    assert_eq!(store.position(&room).await.expect("again"), first);

    // WHEN 50 offsets are taken at once
    let taken = futures::future::join_all((0..50).map(|_| store.next_offset(&room))).await;

    // THEN they are 1..=50, each once, all of the same epoch
    let mut offsets: Vec<u64> = taken
        .iter()
        .map(|p| {
            let p = p.as_ref().expect("next offset");
            assert_eq!(p.epoch, first.epoch);
            p.offset
        })
        .collect();
    offsets.sort_unstable();
    assert_eq!(offsets, (1..=50).collect::<Vec<u64>>());
    assert_eq!(store.position(&room).await.expect("latest").offset, 50);
    // AND the counter item carries no TTL: it outlives every connection
    let counter = store
        .client()
        .get_item()
        .table_name("offsets")
        .key(PK, AttributeValue::S(channels::schema::channel_pk("room")))
        .key(
            SK,
            AttributeValue::S(channels::schema::COUNTER_SK.to_owned()),
        )
        .send()
        .await
        .expect("get");
    assert!(!counter.item().expect("counter").contains_key(TTL_ATTRIBUTE));
}

#[tokio::test]
#[ignore = "needs moto_server; `make test` runs it"]
async fn history_is_read_in_order_after_an_offset_without_expired_messages() {
    let moto = MotoServer::start().expect(NEEDS_MOTO);
    let store = store(&moto, "history").await;
    let room = channel("room");
    let now = channels::now_millis() / 1000;
    for offset in 1..=6u64 {
        let message = StoredMessage {
            publication: Publication {
                channel: room.clone(),
                kind: if offset % 2 == 0 {
                    Kind::Json
                } else {
                    Kind::Binary
                },
                body: if offset % 2 == 0 {
                    format!("{{\"n\":{offset}}}").into_bytes()
                } else {
                    vec![0xff, offset as u8]
                },
                from: (offset == 4).then(|| "u-4".to_owned()),
            },
            position: Position {
                offset,
                epoch: "e1".into(),
            },
        };
        // Offset 1 has expired already; TTL has not deleted it yet.
        let expires_at = if offset == 1 { now - 5 } else { now + 600 };
        store.append(&message, expires_at).await.expect("append");
    }
    let read = store.messages(&room, 0, 100).await.expect("messages");
    let offsets: Vec<u64> = read.iter().map(|m| m.position.offset).collect();
    assert_eq!(offsets, [2, 3, 4, 5, 6], "the expired one is filtered");
    assert_eq!(read[2].publication.from.as_deref(), Some("u-4"));
    assert_eq!(read[1].publication.kind, Kind::Binary);
    assert_eq!(read[1].publication.body, [0xff, 3]);
    assert_eq!(read[0].publication.body, br#"{"n":2}"#);
    let after = store.messages(&room, 3, 2).await.expect("messages");
    let offsets: Vec<u64> = after.iter().map(|m| m.position.offset).collect();
    assert_eq!(offsets, [4, 5], "after 3, at most 2");
    assert!(store
        .messages(&channel("elsewhere"), 0, 10)
        .await
        .expect("messages")
        .is_empty());
}

#[tokio::test]
#[ignore = "needs moto_server; `make test` runs it"]
async fn history_is_trimmed_logically_to_the_latest_max_offsets() {
    // GIVEN a channel that keeps at most its 3 latest messages, and 5 published
    let moto = MotoServer::start().expect(NEEDS_MOTO);
    let store = store(&moto, "trim").await;
    let mut fanout = Fanout::<_, _>::new(&store, MemoryNotifier::new(), PublishOptions::default());
    fanout.history = History {
        ttl_secs: 600,
        max: 3,
    };
    for i in 1..=5 {
        let publish = Publish {
            publication: Publication::http(channel("feed"), format!("m{i}").into_bytes(), false),
            exclude: None,
            key: None,
            publish_id: format!("p{i}"),
        };
        fanout.publish(publish).await.expect("publish");
    }
    // WHEN a client that holds offset 2 recovers
    let epoch = store.position(&channel("feed")).await.unwrap().epoch;
    let since = |offset| Since {
        offset,
        epoch: Some(epoch.clone()),
    };
    let recovery = recover(&store, &fanout.history, &channel("feed"), &since(2))
        .await
        .expect("recover");
    // THEN it gets 3, 4, 5: all it missed
    let offsets: Vec<u64> = recovery.messages.iter().map(|m| m.offset).collect();
    assert_eq!((offsets, recovery.recovered), (vec![3, 4, 5], true));
    // AND one that holds offset 1 gets the same and learns 2 is gone: the
    // first two are still stored (TTL has not removed them) but not read
    let recovery = recover(&store, &fanout.history, &channel("feed"), &since(1))
        .await
        .expect("recover");
    let offsets: Vec<u64> = recovery.messages.iter().map(|m| m.offset).collect();
    assert_eq!((offsets, recovery.recovered), (vec![3, 4, 5], false));
    assert_eq!(
        store.messages(&channel("feed"), 0, 10).await.unwrap().len(),
        5,
        "trimmed logically: no delete per publish"
    );
}

#[tokio::test]
#[ignore = "needs moto_server; `make test` runs it"]
async fn a_publish_key_is_claimed_once_per_window() {
    let moto = MotoServer::start().expect(NEEDS_MOTO);
    let store = store(&moto, "keys").await;
    let room = channel("room");
    let now = channels::now_millis() / 1000;
    assert_eq!(
        store.claim_key(&room, "k-1", now).await.expect("claim"),
        KeyClaim::Claimed
    );
    assert_eq!(
        store.claim_key(&room, "k-1", now).await.expect("again"),
        KeyClaim::InProgress,
        "seen while its publish has no offset yet"
    );
    store.settle_key(&room, "k-1", 7).await.expect("settle");
    assert_eq!(
        store.claim_key(&room, "k-1", now).await.expect("again"),
        KeyClaim::Seen { offset: 7 }
    );
    // The same key on another channel is another key.
    assert_eq!(
        store
            .claim_key(&channel("other"), "k-1", now)
            .await
            .expect("claim"),
        KeyClaim::Claimed
    );
    // A released key, or one past its window, is new again.
    store.release_key(&room, "k-1").await.expect("release");
    assert_eq!(
        store.claim_key(&room, "k-1", now).await.expect("claim"),
        KeyClaim::Claimed
    );
    let window_ago = now - KEY_WINDOW_SECS - 1;
    store
        .claim_key(&room, "k-2", window_ago)
        .await
        .expect("claim");
    store.settle_key(&room, "k-2", 3).await.expect("settle");
    assert_eq!(
        store.claim_key(&room, "k-2", now).await.expect("claim"),
        KeyClaim::Claimed,
        "its window is over"
    );
    // A claim whose publish died before its offset is taken over once
    // stale, and not before.
    let stale = now - KEY_CLAIM_STALE_SECS - 1;
    store.claim_key(&room, "k-3", stale).await.expect("claim");
    assert_eq!(
        store.claim_key(&room, "k-3", now).await.expect("take over"),
        KeyClaim::Claimed,
        "a stale claim without an offset"
    );
    assert_eq!(
        store.claim_key(&room, "k-3", now).await.expect("again"),
        KeyClaim::InProgress,
        "the claim taken over is fresh"
    );
    store.claim_key(&room, "k-4", stale).await.expect("claim");
    store.settle_key(&room, "k-4", 9).await.expect("settle");
    assert_eq!(
        store.claim_key(&room, "k-4", now).await.expect("again"),
        KeyClaim::Seen { offset: 9 },
        "a settled key stays seen for its whole window"
    );
}

#[tokio::test]
#[ignore = "needs moto_server; `make test` runs it"]
async fn expired_items_are_filtered_out() {
    let moto = MotoServer::start().expect(NEEDS_MOTO);
    let store = store(&moto, "ttl").await;
    let mut stale = Connection::new("stale=", 0);
    stale.expires_at = channels::now_millis() / 1000 - 60;
    store
        .connect(&stale, Some(&channel("room")))
        .await
        .expect("connect");
    join(&store, "fresh=", "room").await;
    assert_eq!(all_members(&store, &channel("room")).await.0, ["fresh="]);
    assert_eq!(
        channels::count(&store, &channel("room")).await.ok(),
        Some(1)
    );
    assert_eq!(store.connection("stale=").await.expect("get"), None);
    assert_eq!(
        store
            .membership("stale=", &channel("room"))
            .await
            .expect("get"),
        None
    );
}

#[tokio::test]
#[ignore = "needs moto_server; `make test` runs it"]
async fn a_membership_stored_without_a_subscribe_time_reads_as_subscribed_at_0() {
    // GIVEN a membership item as stored before memberships carried subscribedAt
    let moto = MotoServer::start().expect(NEEDS_MOTO);
    let store = store(&moto, "old").await;
    let old = Connection::new("old=", channels::now_millis()).membership_at(&channel("room"), 0);
    let mut item = membership_item(&old, Shards::ONE);
    assert!(item.remove(SUBSCRIBED_AT).is_some());
    store
        .client()
        .put_item()
        .table_name("old")
        .set_item(Some(item))
        .send()
        .await
        .expect("put");
    // THEN it reads back, subscribed at 0
    assert_eq!(
        store
            .membership("old=", &channel("room"))
            .await
            .expect("get"),
        Some(old)
    );
}

#[tokio::test]
#[ignore = "needs moto_server; `make test` runs it"]
async fn a_channel_larger_than_one_1mb_page_is_followed_to_the_end() {
    // GIVEN 5,000 members whose index items are ~330 bytes: ~1.6 MB, more
    // than one 1 MB Query page, plus members of another channel interleaved.
    let moto = MotoServer::start().expect(NEEDS_MOTO);
    let store = store(&moto, "big").await;
    let big = channel(&"b".repeat(128));
    let now = channels::now_millis();
    let ids: Vec<String> = (0..5000)
        .map(|i| format!("{i:05}{}", "x".repeat(150)))
        .collect();
    let mut requests: Vec<WriteRequest> = ids
        .iter()
        .map(|id| Connection::new(id.clone(), now).membership(&big))
        .chain(
            (0..50)
                .map(|i| Connection::new(format!("other{i}"), now).membership(&channel("small"))),
        )
        .map(|m| {
            let put = PutRequest::builder()
                .set_item(Some(membership_item(&m, Shards::ONE)))
                .build()
                .expect("put request");
            WriteRequest::builder().put_request(put).build()
        })
        .collect();
    while !requests.is_empty() {
        let batch: Vec<_> = requests.drain(..requests.len().min(25)).collect();
        store
            .client()
            .batch_write_item()
            .request_items("big", batch)
            .send()
            .await
            .expect("batch write");
    }

    // WHEN listing the channel page by page
    let (found, pages) = all_members(&store, &big).await;

    // THEN it took more than one page and found every member exactly once
    assert!(pages >= 2, "expected several pages, got {pages}");
    let mut sorted = found.clone();
    sorted.sort();
    sorted.dedup();
    assert_eq!(sorted.len(), 5000);
    assert_eq!(sorted, ids);
    assert_eq!(channels::count(&store, &big).await.ok(), Some(5000));

    // AND a publish reaches all of them
    let notifier = MemoryNotifier::new();
    let report = publish(&store, &notifier, big.as_str()).await;
    assert_eq!((report.recipients, report.delivered), (5000, 5000));
    assert!(notifier.delivered("other0").is_empty());
}

#[tokio::test]
#[ignore = "needs moto_server; `make test` runs it"]
async fn publish_removes_gone_connections_from_the_table() {
    let moto = MotoServer::start().expect(NEEDS_MOTO);
    let store = store(&moto, "gone").await;
    for id in ["alive=", "ghost="] {
        join(&store, id, "room").await;
    }
    // The ghost is also in another channel: 410 cleanup removes it there too.
    let ghost = store.connection("ghost=").await.unwrap().unwrap();
    store.subscribe(&ghost, &channel("hall")).await.unwrap();
    let notifier = MemoryNotifier::new();
    notifier.gone("ghost=");
    let report = publish(&store, &notifier, "room").await;
    assert_eq!((report.delivered, report.gone), (1, 1));
    assert_eq!(all_members(&store, &channel("room")).await.0, ["alive="]);
    assert_eq!(
        channels::count(&store, &channel("hall")).await.ok(),
        Some(0)
    );
    assert_eq!(store.connection("ghost=").await.unwrap(), None);
}

#[tokio::test]
#[ignore = "needs moto_server; `make test` runs it"]
async fn an_unreachable_table_is_an_error_not_a_panic() {
    let moto = MotoServer::start().expect(NEEDS_MOTO);
    let store = DynamoStore::new(moto.dynamodb_client(), "no-such-table");
    let err = store
        .members(&channel("room"), 0, None, None)
        .await
        .expect_err("missing table");
    assert_eq!(err.operation, "Query");
    assert!(store
        .connect(&Connection::new("a=", 0), Some(&channel("room")))
        .await
        .is_err());
    assert!(store.next_offset(&channel("room")).await.is_err());
    assert!(store.disconnect("a=").await.is_err());
}

#[tokio::test]
async fn ensure_table_reports_an_unreachable_endpoint_as_such() {
    // A socket bound but not listening: connections to its port are refused,
    // and the port stays ours until the end of the test.
    let socket = tokio::net::TcpSocket::new_v4().expect("a socket");
    socket
        .bind("127.0.0.1:0".parse().expect("an address"))
        .expect("bind 127.0.0.1:0");
    let addr = socket.local_addr().expect("local addr");
    let client = channels_aws::testing::dynamodb_client(&format!("http://{addr}"));
    let err = ensure_table(&client, "connections")
        .await
        .expect_err("unreachable");
    assert_eq!(err.operation, "DescribeTable", "{err}");
    drop(socket);
}

#[tokio::test]
#[ignore = "needs moto_server; `make test` runs it"]
async fn a_sharded_channel_is_spread_over_its_shards_and_found_whole() {
    // GIVEN a store spreading channels over 4 shards, and 400 members
    let moto = MotoServer::start().expect(NEEDS_MOTO);
    let client = moto.dynamodb_client();
    ensure_table(&client, "sharded")
        .await
        .expect("create table");
    let shards = Shards::new(4).unwrap();
    let store = DynamoStore::new(client, "sharded").with_shards(shards);
    let room = channel("room");
    let mut ids: Vec<String> = (0..400).map(|i| format!("conn-{i:03}=")).collect();
    for id in &ids {
        join(&store, id, "room").await;
    }
    ids.sort();

    // THEN each shard holds exactly the members the hash puts there,
    // under the `{channel}#{shard}` partition, and none is empty
    for shard in shards.all() {
        let (found, _) = shard_members(&store, &room, shard).await;
        assert!(found.len() > 50, "shard {shard}: {}", found.len());
        assert!(
            found.iter().all(|id| shards.of(id) == shard),
            "shard {shard}"
        );
        assert_eq!(
            store.count(&room, shard).await.ok(),
            Some(found.len() as u64)
        );
    }
    let stored = store
        .client()
        .get_item()
        .table_name("sharded")
        .key(PK, AttributeValue::S(connection_pk(&ids[0])))
        .key(SK, AttributeValue::S(membership_sk("room")))
        .send()
        .await
        .expect("get");
    let stored = stored.item().expect("stored item");
    assert_eq!(
        stored[INDEX_HASH_KEY].as_s().ok(),
        Some(&partition("room", shards.of(&ids[0])))
    );
    let own = store.connection(&ids[0]).await.unwrap().unwrap();
    assert_eq!(own.subscriptions, 1);
    assert!(connection_item(&own).contains_key(SUBSCRIPTIONS));
    // AND the channel as a whole is every member exactly once
    assert_eq!(all_members(&store, &room).await.0, ids);
    assert_eq!(channels::count(&store, &room).await.ok(), Some(400));
    let notifier = MemoryNotifier::new();
    let report = publish(&store, &notifier, "room").await;
    assert_eq!((report.recipients, report.delivered), (400, 400));
    assert_eq!(notifier.recipients().len(), 400);
    let delivery = Delivery {
        channel: room.clone(),
        framed: Publication::http(room.clone(), b"x".to_vec(), false).framed(&Position {
            offset: 9,
            epoch: "e".into(),
        }),
        exclude: Some(ids[0].clone()),
    };
    let fanout = Fanout::<_, _>::new(&store, &notifier, PublishOptions::default());
    let report = fanout.deliver_channel(&delivery).await.expect("deliver");
    assert_eq!(report.recipients, 399, "the excluded one is not counted");
}
