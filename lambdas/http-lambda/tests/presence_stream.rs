//! The presence function on DynamoDB Stream events as Lambda delivers them
//! (tests/data/stream_*.json: membership items laid out as
//! `channels::schema` says, with their subscribe time but for erin's, an
//! item stored before memberships carried one; a TTL deletion with its
//! service identity, and records of other item types and MODIFYs), on the
//! in-memory adapters: join and leave events reach a channel's `lrw.v1`
//! members only, once per subject, only for channels `PRESENCE_EVENTS`
//! names, also when one subject's inserts land in separate batches or the
//! channel index still lists a removed membership; the records parse into
//! membership changes, and the records the local gateway plays round-trip.

#![allow(clippy::unwrap_used, clippy::expect_used)] // a test fails by panicking

mod support;

use channels::memory::MemoryStore;
use channels::presence::{ChangeKind, MembershipChange};
use channels::testing::{MemoryNotifier, Tamper};
use channels::{Connection, Fanout, Membership, Pattern, Protocol, Shards, Store};
use http_lambda::presence::{
    handle, membership_change, stream_record, BatchItemFailure, BatchResponse, PresenceDeps,
    StreamEvent,
};
use lambda_runtime::LambdaEvent;
use serde_json::{json, Value};
use support::{channel, fast};
use tokio::sync::mpsc;

fn fixture(name: &str) -> StreamEvent {
    support::fixture(name)
}

fn raw_fixture(name: &str) -> Value {
    support::fixture(name)
}

fn lambda_event(event: StreamEvent) -> LambdaEvent<StreamEvent> {
    support::event(event)
}

/// Presence events for lobby and room-* (not for quiet).
fn deps<S>(store: S) -> PresenceDeps<S, MemoryNotifier> {
    PresenceDeps {
        fanout: Fanout::new(store, MemoryNotifier::new(), fast()),
        events: vec![
            Pattern::parse("lobby").unwrap(),
            Pattern::parse("room-*").unwrap(),
        ],
    }
}

/// A member of `name`, as the store holds it after the batch.
async fn member<S: Store>(
    store: &S,
    id: &str,
    name: &str,
    protocol: Protocol,
    subject: Option<&str>,
) {
    let mut c = Connection::new(id, channels::now_millis() - 60_000);
    c.protocol = protocol;
    c.subject = subject.map(str::to_owned);
    store.connect(&c, Some(&channel(name))).await.unwrap();
}

fn events(notifier: &MemoryNotifier, id: &str) -> Vec<Value> {
    notifier
        .delivered(id)
        .iter()
        .map(|m| serde_json::from_slice(m).unwrap())
        .collect()
}

fn presence_event(kind: &str, name: &str, subject: &str) -> Value {
    json!({"type": kind, "channel": name, "subject": subject})
}

const ALICE_1: &str = "TWgB1cC5IAMCJ1a=";
const ALICE_2: &str = "TWgB2cC5IAMCJ2a=";
const BOB: &str = "TWgB3cC5IAMCJ3b=";
const ANONYMOUS: &str = "TWgB4cC5IAMCJ4x=";
const CAROL: &str = "TWgB5cC5IAMCJ5c=";

#[tokio::test]
async fn inserts_make_one_join_per_subject_for_v1_members_only() {
    // GIVEN lobby as the batch of stream_inserts.json left it (alice on two
    // connections, bob, an open-mode raw connection), a v1 watcher and a raw
    // listener; and quiet with carol and a v1 watcher
    let store = MemoryStore::new();
    member(&store, ALICE_1, "lobby", Protocol::V1, Some("alice")).await;
    member(&store, ALICE_2, "lobby", Protocol::V1, Some("alice")).await;
    member(&store, BOB, "lobby", Protocol::V1, Some("bob")).await;
    member(&store, ANONYMOUS, "lobby", Protocol::Raw, None).await;
    member(&store, "watcher=", "lobby", Protocol::V1, Some("watcher")).await;
    member(&store, "listener=", "lobby", Protocol::Raw, None).await;
    member(&store, CAROL, "quiet", Protocol::V1, Some("carol")).await;
    member(&store, "quiet-watcher=", "quiet", Protocol::V1, None).await;
    let deps = deps(store);

    // WHEN the presence function handles the batch
    let response = handle(lambda_event(fixture("stream_inserts.json")), &deps).await;

    // THEN nothing is to be retried
    assert_eq!(response, BatchResponse::default());
    // AND each lrw.v1 member of lobby got alice's join once, then bob's
    let expected = vec![
        presence_event("join", "lobby", "alice"),
        presence_event("join", "lobby", "bob"),
    ];
    let notifier = &deps.fanout.notifier;
    for id in [ALICE_1, ALICE_2, BOB, "watcher="] {
        assert_eq!(events(notifier, id), expected, "{id}");
    }
    // AND raw members got nothing, nor did the channel without events
    for id in [ANONYMOUS, "listener=", CAROL, "quiet-watcher="] {
        assert!(notifier.delivered(id).is_empty(), "{id}");
    }
}

#[tokio::test]
async fn removes_make_a_leave_when_the_last_membership_goes_ttl_included() {
    // GIVEN lobby after stream_removes.json: dave and erin gone, frank still
    // on another connection
    let store = MemoryStore::new();
    member(&store, "frank-2=", "lobby", Protocol::V1, Some("frank")).await;
    member(&store, "watcher=", "lobby", Protocol::V1, Some("watcher")).await;
    member(
        &store,
        "listener=",
        "lobby",
        Protocol::Raw,
        Some("listener"),
    )
    .await;
    let deps = deps(store);

    // WHEN the batch is handled
    let response = handle(lambda_event(fixture("stream_removes.json")), &deps).await;

    // THEN dave leaves, erin (removed by TTL) leaves, frank does not
    assert!(response.batch_item_failures.is_empty());
    let expected = vec![
        presence_event("leave", "lobby", "dave"),
        presence_event("leave", "lobby", "erin"),
    ];
    assert_eq!(events(&deps.fanout.notifier, "watcher="), expected);
    assert_eq!(events(&deps.fanout.notifier, "frank-2="), expected);
    assert!(deps.fanout.notifier.delivered("listener=").is_empty());
}

#[tokio::test]
async fn other_item_types_and_modifies_make_no_event() {
    // GIVEN a watcher of lobby
    let store = MemoryStore::new();
    member(&store, "watcher=", "lobby", Protocol::V1, Some("watcher")).await;
    member(&store, ALICE_1, "lobby", Protocol::V1, Some("alice")).await;
    let deps = deps(store);
    // WHEN a batch of connection, counter, message and publish-key records,
    // and a MODIFY of a membership, is handled
    let response = handle(lambda_event(fixture("stream_other_items.json")), &deps).await;
    // THEN nobody is told anything, and nothing is retried
    assert!(response.batch_item_failures.is_empty());
    assert!(deps.fanout.notifier.recipients().is_empty());
}

#[tokio::test]
async fn a_channel_whose_members_cannot_be_read_is_retried_from_its_first_record() {
    // GIVEN a store that cannot list lobby's members
    let store = Tamper::new(MemoryStore::new()).breaking("lobby");
    member(&store, "watcher=", "quiet", Protocol::V1, None).await;
    let deps = deps(store);
    // WHEN the inserts are handled
    let response = handle(lambda_event(fixture("stream_inserts.json")), &deps).await;
    // THEN the batch reports lobby's first record for a retry
    let first = raw_fixture("stream_inserts.json")["Records"][0]["dynamodb"]["SequenceNumber"]
        .as_str()
        .unwrap()
        .to_owned();
    assert_eq!(
        response,
        BatchResponse {
            batch_item_failures: vec![BatchItemFailure {
                item_identifier: first
            }],
        }
    );
    // AND its answer is what Lambda reads for ReportBatchItemFailures
    assert_eq!(
        serde_json::to_value(&response).unwrap()["batchItemFailures"][0]
            .as_object()
            .map(|o| o.keys().cloned().collect::<Vec<_>>()),
        Some(vec!["itemIdentifier".to_owned()])
    );
}

/// The change `membership_change` should read from a fixture membership.
fn expected(
    kind: ChangeKind,
    id: &str,
    name: &str,
    protocol: Protocol,
    subject: Option<&str>,
    (expires_at, subscribed_at_ms): (i64, i64),
    expired: bool,
) -> Option<MembershipChange> {
    Some(MembershipChange {
        kind,
        membership: Membership {
            connection_id: id.to_owned(),
            channel: channel(name),
            protocol,
            subject: subject.map(str::to_owned),
            expires_at,
            subscribed_at_ms,
        },
        expired,
    })
}

#[test]
fn membership_change_reads_the_fixture_records() {
    use ChangeKind::{Insert, Remove};
    const EXP: i64 = 1_707_510_103;
    let inserts: Vec<_> = fixture("stream_inserts.json")
        .records
        .iter()
        .map(membership_change)
        .collect();
    assert_eq!(
        inserts,
        vec![
            expected(
                Insert,
                ALICE_1,
                "lobby",
                Protocol::V1,
                Some("alice"),
                (EXP, 1_707_502_303_871),
                false
            ),
            expected(
                Insert,
                BOB,
                "lobby",
                Protocol::V1,
                Some("bob"),
                (EXP, 1_707_502_304_950),
                false
            ),
            expected(
                Insert,
                ALICE_2,
                "lobby",
                Protocol::V1,
                Some("alice"),
                (EXP, 1_707_502_305_433),
                false
            ),
            expected(
                Insert,
                ANONYMOUS,
                "lobby",
                Protocol::Raw,
                None,
                (EXP, 1_707_502_305_702),
                false
            ),
            expected(
                Insert,
                CAROL,
                "quiet",
                Protocol::V1,
                Some("carol"),
                (EXP, 1_707_502_306_288),
                false
            ),
        ]
    );
    let removes: Vec<_> = fixture("stream_removes.json")
        .records
        .iter()
        .map(membership_change)
        .collect();
    assert_eq!(
        removes,
        vec![
            expected(
                Remove,
                "TWgC1cC5IAMCK1d=",
                "lobby",
                Protocol::V1,
                Some("dave"),
                (EXP, 1_707_502_303_640),
                false
            ),
            expected(
                Remove,
                "TWgC2cC5IAMCK2e=",
                "lobby",
                Protocol::V1,
                Some("erin"),
                (1_707_502_900, 0),
                true
            ),
            expected(
                Remove,
                "TWgC3cC5IAMCK3f=",
                "lobby",
                Protocol::V1,
                Some("frank"),
                (EXP, 1_707_502_304_105),
                false
            ),
        ]
    );
    let others = fixture("stream_other_items.json");
    assert_eq!(others.records.len(), 8);
    for record in &others.records {
        assert_eq!(membership_change(record), None, "{:?}", record.event_name);
    }
}

#[test]
fn a_removal_by_someone_else_than_the_ttl_service_is_not_expired() {
    let mut event = raw_fixture("stream_removes.json");
    event["Records"][1]["userIdentity"] =
        json!({"type": "Service", "principalId": "backup.amazonaws.com"});
    let event: StreamEvent = serde_json::from_value(event).unwrap();
    let change = membership_change(&event.records[1]).unwrap();
    assert_eq!(change.kind, ChangeKind::Remove);
    assert!(!change.expired);
}

#[test]
fn stream_record_round_trips_through_membership_change() {
    let shards = Shards::new(8).unwrap();
    let changes = [
        expected(
            ChangeKind::Insert,
            "TWgB1cC5IAMCJ1a=",
            "lobby",
            Protocol::V1,
            Some("alice"),
            (1_707_510_103, 1_707_502_303_871),
            false,
        ),
        expected(
            ChangeKind::Remove,
            "abc=",
            "room-7",
            Protocol::Raw,
            None,
            (1_707_510_200, 1_707_502_400_000),
            false,
        ),
        expected(
            ChangeKind::Remove,
            "def=",
            "user:42:inbox",
            Protocol::V1,
            Some("user \"42\""),
            (1_707_500_000, 0),
            true,
        ),
    ];
    for (sequence, change) in changes.into_iter().map(Option::unwrap).enumerate() {
        // WHEN the local gateway writes the record DynamoDB would
        let record = stream_record(&change, shards, sequence as u64 + 1);
        // THEN it reads back as the same change, also through its JSON form
        assert_eq!(membership_change(&record), Some(change.clone()));
        let json = serde_json::to_value(&record).unwrap();
        let again: StreamEvent =
            serde_json::from_value(json!({ "Records": [json.clone()] })).unwrap();
        assert_eq!(membership_change(&again.records[0]), Some(change.clone()));
        // AND its item is laid out as the table holds memberships
        let image_name = match change.kind {
            ChangeKind::Insert => "NewImage",
            ChangeKind::Remove => "OldImage",
        };
        let image = &json["dynamodb"][image_name];
        let m = &change.membership;
        let shard = shards.of(&m.connection_id);
        assert_eq!(
            image["pk"],
            json!({"S": format!("conn#{}", m.connection_id)})
        );
        assert_eq!(image["sk"], json!({"S": format!("sub#{}", m.channel)}));
        assert_eq!(image["type"], json!({"S": "membership"}));
        assert_eq!(image["channel"], json!({"S": m.channel.as_str()}));
        assert_eq!(image["shard"], json!({"N": shard.to_string()}));
        assert_eq!(
            image["channelShard"],
            json!({"S": format!("{}#{shard}", m.channel)})
        );
        assert_eq!(image["connectionId"], json!({"S": m.connection_id}));
        assert_eq!(image["expiresAt"], json!({"N": m.expires_at.to_string()}));
        assert_eq!(
            image["subscribedAt"],
            json!({"N": m.subscribed_at_ms.to_string()})
        );
        assert_eq!(json["dynamodb"]["Keys"]["pk"], image["pk"]);
        assert_eq!(json["dynamodb"]["Keys"]["sk"], image["sk"]);
        assert_eq!(json.get("userIdentity").is_some(), change.expired, "{json}");
    }
}

#[test]
fn stream_record_images_have_the_fixture_membership_attributes() {
    // The fixtures hold what DynamoDB writes; the local gateway's records
    // must carry the same attributes.
    let real_event = raw_fixture("stream_inserts.json");
    let attributes = |image: &Value| {
        let mut names: Vec<String> = image.as_object().unwrap().keys().cloned().collect();
        names.sort();
        names
    };
    let real = attributes(&real_event["Records"][0]["dynamodb"]["NewImage"]);
    let change = membership_change(&fixture("stream_inserts.json").records[0]).unwrap();
    let played = serde_json::to_value(stream_record(&change, Shards::ONE, 1)).unwrap();
    assert_eq!(attributes(&played["dynamodb"]["NewImage"]), real);
    assert_eq!(played["eventName"], "INSERT");
    assert_eq!(
        played["dynamodb"]["NewImage"],
        real_event["Records"][0]["dynamodb"]["NewImage"]
    );
}

#[tokio::test]
async fn a_channel_past_the_synchronous_size_gets_no_events() {
    // GIVEN lobby with more members than one invocation serves at once
    let store = MemoryStore::new();
    member(&store, ALICE_1, "lobby", Protocol::V1, Some("alice")).await;
    member(&store, ALICE_2, "lobby", Protocol::V1, Some("alice")).await;
    member(&store, BOB, "lobby", Protocol::V1, Some("bob")).await;
    member(&store, "watcher=", "lobby", Protocol::V1, Some("watcher")).await;
    let mut deps = deps(store);
    deps.fanout.sync_max = 3;
    // WHEN the inserts are handled
    let response = handle(lambda_event(fixture("stream_inserts.json")), &deps).await;
    // THEN nobody is told (each event would cost a post per member), and
    // nothing is retried
    assert!(response.batch_item_failures.is_empty());
    assert!(deps.fanout.notifier.recipients().is_empty());
}

/// Presence events for lobby on a store whose membership changes are
/// reported as the stream carries them, behind an index that can lag.
fn streamed() -> (
    PresenceDeps<Tamper<MemoryStore>, MemoryNotifier>,
    mpsc::UnboundedReceiver<MembershipChange>,
) {
    let (sink, changes) = mpsc::unbounded_channel();
    (
        deps(Tamper::new(MemoryStore::new().with_changes(sink))),
        changes,
    )
}

/// The stream records of everything reported since the last call: one batch.
fn batch(
    changes: &mut mpsc::UnboundedReceiver<MembershipChange>,
    sequence: &mut u64,
) -> StreamEvent {
    let mut records = Vec::new();
    while let Ok(change) = changes.try_recv() {
        *sequence += 1;
        records.push(stream_record(&change, Shards::ONE, *sequence));
    }
    StreamEvent { records }
}

#[tokio::test]
async fn two_tabs_whose_inserts_land_in_two_batches_join_once() {
    for reversed in [false, true] {
        // GIVEN a watcher of lobby, and alice opening two tabs whose inserts
        // land in two batches
        let (deps, mut changes) = streamed();
        let store = &deps.fanout.store;
        let mut sequence = 0;
        member(store, "watcher=", "lobby", Protocol::V1, Some("watcher")).await;
        batch(&mut changes, &mut sequence);
        member(store, ALICE_1, "lobby", Protocol::V1, Some("alice")).await;
        let first = batch(&mut changes, &mut sequence);
        member(store, ALICE_2, "lobby", Protocol::V1, Some("alice")).await;
        let second = batch(&mut changes, &mut sequence);
        // WHEN both are handled after both memberships exist, in either order
        let (x, y) = if reversed {
            (second, first)
        } else {
            (first, second)
        };
        for event in [x, y] {
            let response = handle(lambda_event(event), &deps).await;
            assert_eq!(response, BatchResponse::default());
        }
        // THEN the watcher got alice's join once (each batch used to count
        // the other tab as "before", and neither sent it)
        assert_eq!(
            events(&deps.fanout.notifier, "watcher="),
            [presence_event("join", "lobby", "alice")],
            "reversed {reversed}"
        );
    }
}

#[tokio::test]
async fn a_removal_the_index_still_lists_is_a_leave() {
    // GIVEN a watcher and alice in lobby, and an index that lags from now on
    let (deps, mut changes) = streamed();
    let store = &deps.fanout.store;
    let mut sequence = 0;
    member(store, "watcher=", "lobby", Protocol::V1, Some("watcher")).await;
    member(store, ALICE_1, "lobby", Protocol::V1, Some("alice")).await;
    batch(&mut changes, &mut sequence);
    store.lag();
    // WHEN alice disconnects and the batch is handled while the index
    // still lists her
    store.disconnect(ALICE_1).await.unwrap();
    let removed = batch(&mut changes, &mut sequence);
    let response = handle(lambda_event(removed), &deps).await;
    // THEN the watcher got her leave (the index's "after" used to keep her)
    assert!(response.batch_item_failures.is_empty());
    assert_eq!(
        events(&deps.fanout.notifier, "watcher="),
        [presence_event("leave", "lobby", "alice")]
    );
    // AND the read that decided it was the table's, strongly consistent
    assert!(store.calls().contains(&"membership"), "{:?}", store.calls());
}

#[tokio::test]
async fn a_batch_whose_memberships_cannot_be_read_is_retried_and_tells_nobody() {
    // GIVEN lobby with a watcher and alice, and consistent reads that fail
    let (deps, mut changes) = streamed();
    let store = &deps.fanout.store;
    let mut sequence = 0;
    member(store, "watcher=", "lobby", Protocol::V1, Some("watcher")).await;
    batch(&mut changes, &mut sequence);
    member(store, ALICE_1, "lobby", Protocol::V1, Some("alice")).await;
    let inserted = batch(&mut changes, &mut sequence);
    let first = inserted.records[0]
        .dynamodb
        .as_ref()
        .and_then(|d| d.sequence_number.clone())
        .unwrap();
    store.fail("membership");
    // WHEN the batch is handled
    let response = handle(lambda_event(inserted), &deps).await;
    // THEN it is retried from lobby's first record, and nobody was told
    assert_eq!(
        response.batch_item_failures,
        [BatchItemFailure {
            item_identifier: first
        }]
    );
    assert!(deps.fanout.notifier.recipients().is_empty());
}
