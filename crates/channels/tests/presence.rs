//! Presence: who is in a channel (`Presence::of`), the join and leave
//! events a batch of membership changes makes (`join_leave`, and `events`
//! with the consistent reads of the memberships that exist now, against a
//! channel index that lags either way), and the changes the in-memory store
//! reports (`MemoryStore::with_changes`), as the table's stream does on AWS.

#![allow(clippy::unwrap_used, clippy::expect_used)] // a test fails by panicking

mod support;

use std::collections::BTreeSet;

use channels::memory::MemoryStore;
use channels::message::PresenceChange;
use channels::presence::{
    events, join_leave, ChangeKind, MembershipChange, Presence, PresenceEvent,
    MAX_PRESENCE_SUBJECTS,
};
use channels::store::all_members;
use channels::testing::Tamper;
use channels::{Connection, Member, Membership, Protocol, Store};
use support::{channel, lobby};
use tokio::sync::mpsc;

fn m(id: &str, subject: Option<&str>) -> Member {
    Member {
        connection_id: id.to_owned(),
        protocol: Protocol::V1,
        subject: subject.map(str::to_owned),
    }
}

#[test]
fn presence_lists_distinct_subjects_sorted_and_counts_every_connection() {
    // GIVEN alice on two connections, bob, carol, and a connection without subject
    let members = [
        m("c1=", Some("carol")),
        m("a1=", Some("alice")),
        m("x1=", None),
        m("b1=", Some("bob")),
        m("a2=", Some("alice")),
    ];
    // WHEN presence is derived
    let presence = Presence::of(&lobby(), &members);
    // THEN every connection counts, and each subject is listed once, sorted
    assert_eq!(
        presence,
        Presence {
            channel: "lobby".into(),
            connections: 5,
            subjects: vec!["alice".into(), "bob".into(), "carol".into()],
        }
    );
    // AND an empty channel is zero and nobody
    assert_eq!(
        Presence::of(&lobby(), &[]),
        Presence {
            channel: "lobby".into(),
            connections: 0,
            subjects: Vec::new(),
        }
    );
    // AND connections without a subject count but are not listed
    let anonymous = Presence::of(&lobby(), &[m("x1=", None), m("x2=", None)]);
    assert_eq!((anonymous.connections, anonymous.subjects.len()), (2, 0));
}

#[test]
fn presence_lists_at_most_100_subjects_the_first_in_order() {
    assert_eq!(MAX_PRESENCE_SUBJECTS, 100);
    // GIVEN 150 distinct subjects, in reverse order, and two more connections of one
    let mut members: Vec<Member> = (0..150)
        .rev()
        .map(|i| m(&format!("c{i}="), Some(&format!("user-{i:03}"))))
        .collect();
    members.push(m("extra1=", Some("user-000")));
    members.push(m("extra2=", Some("user-149")));
    // WHEN presence is derived
    let presence = Presence::of(&lobby(), &members);
    // THEN 152 connections, and the first 100 subjects in sorted order
    assert_eq!(presence.connections, 152);
    let expected: Vec<String> = (0..100).map(|i| format!("user-{i:03}")).collect();
    assert_eq!(presence.subjects, expected);
}

/// When the memberships of these tests were subscribed, unless they say:
/// the same time, so that the connection id orders them.
const AT: i64 = 1_707_502_903_000;

fn membership(id: &str, name: &str, subject: Option<&str>, at: i64) -> Membership {
    Membership {
        connection_id: id.to_owned(),
        channel: channel(name),
        protocol: Protocol::V1,
        subject: subject.map(str::to_owned),
        expires_at: channels::now_millis() / 1000 + 600,
        subscribed_at_ms: at,
    }
}

/// A membership of lobby that exists now, subscribed at [`AT`].
fn held(id: &str, subject: &str) -> Membership {
    membership(id, "lobby", Some(subject), AT)
}

fn change(kind: ChangeKind, id: &str, name: &str, subject: Option<&str>) -> MembershipChange {
    MembershipChange {
        kind,
        membership: membership(id, name, subject, AT),
        expired: false,
    }
}

fn insert(id: &str, subject: &str) -> MembershipChange {
    change(ChangeKind::Insert, id, "lobby", Some(subject))
}

fn remove(id: &str, subject: &str) -> MembershipChange {
    change(ChangeKind::Remove, id, "lobby", Some(subject))
}

fn event(kind: PresenceChange, subject: &str) -> PresenceEvent {
    PresenceEvent {
        kind,
        channel: lobby(),
        subject: subject.to_owned(),
    }
}

fn join(subject: &str) -> PresenceEvent {
    event(PresenceChange::Join, subject)
}

fn leave(subject: &str) -> PresenceEvent {
    event(PresenceChange::Leave, subject)
}

#[test]
fn a_subject_joining_on_two_connections_joins_once() {
    // GIVEN alice's two connections inserted in one batch
    let changes = [insert("a1=", "alice"), insert("a2=", "alice")];
    let now = [held("a1=", "alice"), held("a2=", "alice")];
    // THEN she joins once
    assert_eq!(join_leave(&lobby(), &changes, &now), [join("alice")]);
    // AND a second connection of a subject already there makes no event
    let changes = [insert("a2=", "alice")];
    assert_eq!(join_leave(&lobby(), &changes, &now), []);
}

#[test]
fn a_subject_leaves_only_when_its_last_membership_goes() {
    // GIVEN alice on a1 and a2: a1 goes
    let after_first = [held("a2=", "alice")];
    assert_eq!(
        join_leave(&lobby(), &[remove("a1=", "alice")], &after_first),
        []
    );
    // WHEN a2 goes too THEN she leaves
    assert_eq!(
        join_leave(&lobby(), &[remove("a2=", "alice")], &[]),
        [leave("alice")]
    );
    // AND both in one batch make one leave
    assert_eq!(
        join_leave(
            &lobby(),
            &[remove("a1=", "alice"), remove("a2=", "alice")],
            &[]
        ),
        [leave("alice")]
    );
}

#[test]
fn a_subject_inserted_and_removed_in_one_batch_joins_then_leaves() {
    let changes = [insert("a1=", "alice"), remove("a1=", "alice")];
    assert_eq!(
        join_leave(&lobby(), &changes, &[]),
        [join("alice"), leave("alice")]
    );
    // Two subjects at once: each gets its own events.
    let changes = [
        insert("a1=", "alice"),
        insert("b1=", "bob"),
        remove("a1=", "alice"),
    ];
    let events: BTreeSet<(String, &str)> = join_leave(&lobby(), &changes, &[held("b1=", "bob")])
        .into_iter()
        .map(|e| (e.subject, e.kind.as_str()))
        .collect();
    assert_eq!(
        events,
        BTreeSet::from([
            ("alice".to_owned(), "join"),
            ("alice".to_owned(), "leave"),
            ("bob".to_owned(), "join"),
        ])
    );
}

/// Whether `events`, applied to a subject present (or not) before the
/// batch, never join a subject already there nor make one leave that is
/// not, and end where `present_after` says.
fn consistent(events: &[PresenceEvent], present_before: bool, present_after: bool) -> bool {
    let mut present = present_before;
    for event in events {
        match event.kind {
            PresenceChange::Join if present => return false,
            PresenceChange::Leave if !present => return false,
            PresenceChange::Join => present = true,
            PresenceChange::Leave => present = false,
        }
    }
    present == present_after
}

#[test]
fn records_out_of_order_across_connections_keep_presence_consistent() {
    // GIVEN alice on a1; she opened a2 and closed a1, but the stream lists
    // the removal of a1 before the insert of a2 (records of different
    // items have no order between them)
    let changes = [remove("a1=", "alice"), insert("a2=", "alice")];
    let now = [held("a2=", "alice")];
    // WHEN the batch is turned into events
    let events = join_leave(&lobby(), &changes, &now);
    // THEN applied to "alice was there", they leave her there, and never
    // make her join twice or leave while away
    assert!(consistent(&events, true, true), "{events:?}");

    // GIVEN a1 and a2 of alice, inserted, with a2's record first and a1
    // removed in between (a1 came and went while a2 stayed)
    let changes = [
        insert("a2=", "alice"),
        insert("a1=", "alice"),
        remove("a1=", "alice"),
    ];
    let events = join_leave(&lobby(), &changes, &now);
    assert_eq!(events, [join("alice")]);

    // GIVEN the removal of a2 listed before the insert of a1, and neither is
    // left: she was there before (a2), and is not now
    let changes = [
        remove("a2=", "alice"),
        insert("a1=", "alice"),
        remove("a1=", "alice"),
    ];
    let events = join_leave(&lobby(), &changes, &[]);
    assert!(consistent(&events, true, false), "{events:?}");
    assert_eq!(events.last(), Some(&leave("alice")));
}

#[test]
fn records_out_of_order_across_connections_make_no_spurious_leave() {
    // GIVEN alice on a1; she opened a2, then closed a1, and the stream lists
    // the removal of a1 first: she never left the channel
    let changes = [remove("a1=", "alice"), insert("a2=", "alice")];
    let now = [held("a2=", "alice")];
    // THEN no event: she was there before the batch and is there after it
    assert_eq!(join_leave(&lobby(), &changes, &now), []);
}

#[test]
fn a_ttl_removal_still_makes_a_leave() {
    let mut expired = remove("a1=", "alice");
    expired.expired = true;
    assert_eq!(join_leave(&lobby(), &[expired], &[]), [leave("alice")]);
}

#[test]
fn changes_without_a_subject_or_of_another_channel_make_no_event() {
    // Open mode: no subject, no events.
    let anonymous = [
        change(ChangeKind::Insert, "x1=", "lobby", None),
        change(ChangeKind::Remove, "x2=", "lobby", None),
    ];
    let x1 = membership("x1=", "lobby", None, AT);
    assert_eq!(join_leave(&lobby(), &anonymous, &[x1]), []);
    // Another channel's changes are not this channel's.
    let elsewhere = [
        change(ChangeKind::Insert, "a1=", "other", Some("alice")),
        change(ChangeKind::Remove, "b1=", "other", Some("bob")),
    ];
    assert_eq!(join_leave(&lobby(), &elsewhere, &[]), []);
    // Mixed: only lobby's count.
    let mixed = [
        change(ChangeKind::Insert, "a1=", "other", Some("alice")),
        insert("a2=", "alice"),
    ];
    assert_eq!(
        join_leave(&lobby(), &mixed, &[held("a2=", "alice")]),
        [join("alice")]
    );
}

/// Everything the store has reported so far.
fn drain(changes: &mut mpsc::UnboundedReceiver<MembershipChange>) -> Vec<MembershipChange> {
    let mut all = Vec::new();
    while let Ok(change) = changes.try_recv() {
        all.push(change);
    }
    all
}

/// (kind, connection, channel, subject, expired) of each change.
fn summary(
    changes: &[MembershipChange],
) -> Vec<(ChangeKind, String, String, Option<String>, bool)> {
    changes
        .iter()
        .map(|c| {
            (
                c.kind,
                c.membership.connection_id.clone(),
                c.membership.channel.to_string(),
                c.membership.subject.clone(),
                c.expired,
            )
        })
        .collect()
}

fn v1(id: &str, subject: &str) -> Connection {
    let mut connection = Connection::new(id, channels::now_millis());
    connection.protocol = Protocol::V1;
    connection.subject = Some(subject.to_owned());
    connection
}

#[tokio::test]
async fn the_memory_store_reports_inserts_and_removes_as_the_stream_does() {
    use ChangeKind::{Insert, Remove};
    let row = |kind, id: &str, name: &str, subject: &str, expired| {
        (
            kind,
            id.to_owned(),
            name.to_owned(),
            Some(subject.to_owned()),
            expired,
        )
    };
    // GIVEN a store reporting its membership changes
    let (sink, mut changes) = mpsc::unbounded_channel();
    let store = MemoryStore::new().with_changes(sink);
    let alice = v1("a1=", "alice");

    // WHEN alice connects to lobby, subscribes to room, twice, and leaves lobby
    store.connect(&alice, Some(&lobby())).await.unwrap();
    store.subscribe(&alice, &channel("room")).await.unwrap();
    store.subscribe(&alice, &channel("room")).await.unwrap();
    store.unsubscribe("a1=", &lobby()).await.unwrap();
    store.unsubscribe("a1=", &lobby()).await.unwrap();
    // THEN each real change is reported once, in order
    assert_eq!(
        summary(&drain(&mut changes)),
        [
            row(Insert, "a1=", "lobby", "alice", false),
            row(Insert, "a1=", "room", "alice", false),
            row(Remove, "a1=", "lobby", "alice", false),
        ]
    );
    // AND the membership carries the connection's protocol
    store.subscribe(&alice, &channel("third")).await.unwrap();
    let reported = drain(&mut changes);
    assert_eq!(reported.len(), 1);
    assert_eq!(reported[0].membership.protocol, Protocol::V1);

    // WHEN she disconnects THEN each remaining membership is removed
    store.disconnect("a1=").await.unwrap();
    let mut removed = summary(&drain(&mut changes));
    removed.sort_by(|a, b| a.2.cmp(&b.2));
    assert_eq!(
        removed,
        [
            row(Remove, "a1=", "room", "alice", false),
            row(Remove, "a1=", "third", "alice", false),
        ]
    );
    // AND a connection without a first channel reports nothing
    store.connect(&v1("b1=", "bob"), None).await.unwrap();
    assert!(drain(&mut changes).is_empty());
}

#[tokio::test]
async fn an_expired_membership_met_by_a_member_read_is_reported_as_expired() {
    // GIVEN a membership whose connection expired (its $disconnect was lost)
    let (sink, mut changes) = mpsc::unbounded_channel();
    let store = MemoryStore::new().with_changes(sink);
    let mut stale = v1("old=", "alice");
    stale.expires_at = channels::now_millis() / 1000 - 1;
    store.connect(&stale, Some(&lobby())).await.unwrap();
    store
        .connect(&v1("new=", "bob"), Some(&lobby()))
        .await
        .unwrap();
    drain(&mut changes);

    // WHEN the channel's members are read
    let page = store.members(&lobby(), 0, None, None).await.unwrap();

    // THEN the stale one is not a member, and its removal is reported as a TTL one
    assert_eq!(
        page.members
            .iter()
            .map(|m| m.connection_id.as_str())
            .collect::<Vec<_>>(),
        ["new="]
    );
    let reported = drain(&mut changes);
    assert_eq!(
        summary(&reported),
        [(
            ChangeKind::Remove,
            "old=".to_owned(),
            "lobby".to_owned(),
            Some("alice".to_owned()),
            true
        )]
    );
    // AND that batch is alice's leave
    assert_eq!(
        events(&store, &lobby(), &reported, &page.members)
            .await
            .unwrap(),
        [leave("alice")]
    );
}

#[test]
fn a_membership_subscribed_after_the_batch_belongs_to_its_own_batch() {
    // GIVEN alice's a2 in a batch, and a1 existing outside it
    let a1_earlier = membership("a1=", "lobby", Some("alice"), AT - 5);
    let a1_later = membership("a1=", "lobby", Some("alice"), AT + 5);
    let a2 = held("a2=", "alice");
    let changes = [insert("a2=", "alice")];
    // THEN a1 subscribed before a2 was there before: no join
    assert_eq!(
        join_leave(&lobby(), &changes, &[a1_earlier, a2.clone()]),
        []
    );
    // AND a1 subscribed after a2 was not (its own batch decides): a2 joins
    assert_eq!(
        join_leave(&lobby(), &changes, &[a1_later, a2.clone()]),
        [join("alice")]
    );
    // AND at the same millisecond the connection id decides, alike in every batch
    let a3 = held("a3=", "alice");
    let in_a2s_batch = join_leave(&lobby(), &changes, &[a2.clone(), a3.clone()]);
    let in_a3s_batch = join_leave(&lobby(), &[insert("a3=", "alice")], &[a2, a3]);
    assert_eq!((in_a2s_batch, in_a3s_batch), (vec![join("alice")], vec![]));
}

#[test]
fn an_insert_gone_by_the_time_its_batch_runs_joins_and_leaves_the_leave_to_its_removal() {
    // GIVEN alice's a1 inserted, and removed before the batch runs (its
    // removal is in the next batch)
    let joined = join_leave(&lobby(), &[insert("a1=", "alice")], &[]);
    let left = join_leave(&lobby(), &[remove("a1=", "alice")], &[]);
    // THEN one join, then one leave
    assert_eq!((joined, left), (vec![join("alice")], vec![leave("alice")]));
    // AND a connection subscribed again since its removal in the batch is
    // the next batch's: the removal is a leave
    let again = membership("a1=", "lobby", Some("alice"), AT + 60_000);
    assert_eq!(
        join_leave(
            &lobby(),
            &[remove("a1=", "alice")],
            std::slice::from_ref(&again)
        ),
        [leave("alice")]
    );
    assert_eq!(
        join_leave(&lobby(), &[insert("a1=", "alice")], &[again]),
        [join("alice")]
    );
}

/// A store reporting its membership changes, as the table's stream does,
/// behind a channel index that can lag ([`Tamper::lag`]).
fn streamed() -> (
    Tamper<MemoryStore>,
    mpsc::UnboundedReceiver<MembershipChange>,
) {
    let (sink, changes) = mpsc::unbounded_channel();
    (Tamper::new(MemoryStore::new().with_changes(sink)), changes)
}

/// The events of one batch of lobby, as the presence function decides
/// them when it runs: the index read then, and the consistent reads.
async fn handle<S: Store>(store: &S, batch: &[MembershipChange]) -> Vec<PresenceEvent> {
    let members = all_members(store, &lobby()).await.unwrap();
    events(store, &lobby(), batch, &members).await.unwrap()
}

/// Connects `id` of `subject` to lobby and returns the batch that reports it.
async fn open<S: Store>(
    store: &S,
    changes: &mut mpsc::UnboundedReceiver<MembershipChange>,
    id: &str,
    subject: &str,
) -> Vec<MembershipChange> {
    store
        .connect(&v1(id, subject), Some(&lobby()))
        .await
        .unwrap();
    drain(changes)
}

/// Disconnects `id` and returns the batch that reports it.
async fn close<S: Store>(
    store: &S,
    changes: &mut mpsc::UnboundedReceiver<MembershipChange>,
    id: &str,
) -> Vec<MembershipChange> {
    store.disconnect(id).await.unwrap();
    drain(changes)
}

#[tokio::test]
async fn two_tabs_whose_inserts_land_in_two_batches_join_once_whichever_runs_first() {
    for (reversed, lagging) in [(false, false), (true, false), (false, true), (true, true)] {
        // GIVEN alice opening two tabs, their inserts in two batches (two
        // shards, or batches handled in parallel); the index lagging behind
        // the second, or not
        let (store, mut changes) = streamed();
        open(&store, &mut changes, "w=", "watcher").await;
        let first = open(&store, &mut changes, "a1=", "alice").await;
        if lagging {
            store.lag();
        }
        let second = open(&store, &mut changes, "a2=", "alice").await;
        // WHEN both batches run after both memberships exist, in either order
        let (x, y) = if reversed {
            (second, first)
        } else {
            (first, second)
        };
        let mut sent = handle(&store, &x).await;
        sent.extend(handle(&store, &y).await);
        // THEN alice joins exactly once (each batch saw the other tab,
        // which used to make both think she was there before)
        assert_eq!(
            sent,
            [join("alice")],
            "reversed {reversed}, lagging {lagging}"
        );
    }
}

#[tokio::test]
async fn a_removal_the_index_still_lists_makes_the_leave() {
    // GIVEN alice and bob in lobby, and an index that lags from now on
    let (store, mut changes) = streamed();
    open(&store, &mut changes, "w=", "watcher").await;
    open(&store, &mut changes, "a1=", "alice").await;
    open(&store, &mut changes, "b1=", "bob").await;
    store.lag();

    // WHEN alice disconnects, and bob unsubscribes
    let alice_gone = close(&store, &mut changes, "a1=").await;
    store.unsubscribe("b1=", &lobby()).await.unwrap();
    let bob_gone = drain(&mut changes);

    // THEN the index still lists both
    let listed: BTreeSet<String> = all_members(&store, &lobby())
        .await
        .unwrap()
        .into_iter()
        .map(|m| m.connection_id)
        .collect();
    assert!(
        listed.contains("a1=") && listed.contains("b1="),
        "{listed:?}"
    );
    // AND each batch is a leave all the same: the consistent read finds
    // nothing left (the index's "after" used to say they were still there)
    assert_eq!(handle(&store, &alice_gone).await, [leave("alice")]);
    assert_eq!(handle(&store, &bob_gone).await, [leave("bob")]);
}

#[tokio::test]
async fn a_second_tab_opened_after_the_join_makes_no_second_join_and_the_last_tab_leaves() {
    // GIVEN alice on a1, her join sent
    let (store, mut changes) = streamed();
    let batch = open(&store, &mut changes, "a1=", "alice").await;
    assert_eq!(handle(&store, &batch).await, [join("alice")]);
    // WHEN she opens a2 later, then a3 while the index lags behind it
    tokio::time::sleep(std::time::Duration::from_millis(2)).await;
    let batch = open(&store, &mut changes, "a2=", "alice").await;
    // THEN no second join
    assert_eq!(handle(&store, &batch).await, []);
    store.lag();
    let batch = open(&store, &mut changes, "a3=", "alice").await;
    assert_eq!(handle(&store, &batch).await, []);
    store.catch_up();
    // AND closing a1 is no leave; closing a2 and a3 in one batch is one
    let batch = close(&store, &mut changes, "a1=").await;
    assert_eq!(handle(&store, &batch).await, []);
    store.disconnect("a2=").await.unwrap();
    let batch = close(&store, &mut changes, "a3=").await;
    assert_eq!(batch.len(), 2);
    assert_eq!(handle(&store, &batch).await, [leave("alice")]);
}

#[tokio::test]
async fn batches_out_of_order_neither_lose_nor_repeat_a_join() {
    // GIVEN alice opening a1 then a2, each insert in its own batch
    let (store, mut changes) = streamed();
    let a1_opened = open(&store, &mut changes, "a1=", "alice").await;
    let a2_opened = open(&store, &mut changes, "a2=", "alice").await;
    let mut sent = Vec::new();
    // WHEN a2's batch runs first (a1 there: no join), a1 closes before its
    // own insert's batch runs, then that batch and a1's removal run
    sent.extend(handle(&store, &a2_opened).await);
    let a1_closed = close(&store, &mut changes, "a1=").await;
    sent.extend(handle(&store, &a1_opened).await);
    sent.extend(handle(&store, &a1_closed).await);
    // THEN alice joined once (the old rule, seeing a2 in "before", lost it)
    assert_eq!(sent, [join("alice")]);
    // AND leaves when a2 goes
    let a2_closed = close(&store, &mut changes, "a2=").await;
    assert_eq!(handle(&store, &a2_closed).await, [leave("alice")]);
}

#[tokio::test]
async fn a_ttl_removal_of_the_last_membership_is_a_leave() {
    // GIVEN alice on a connection whose $disconnect was lost, and bob
    let (store, mut changes) = streamed();
    let mut lost = v1("a1=", "alice");
    lost.expires_at = channels::now_millis() / 1000 - 1;
    store.connect(&lost, Some(&lobby())).await.unwrap();
    open(&store, &mut changes, "b1=", "bob").await;
    drain(&mut changes);
    // WHEN a read meets the expired membership (DynamoDB's TTL deletes it
    // on AWS) THEN its removal is a TTL one, and alice leaves
    assert_eq!(store.membership("a1=", &lobby()).await.unwrap(), None);
    let expired = drain(&mut changes);
    assert!(summary(&expired)[0].4, "a TTL removal");
    assert_eq!(handle(&store, &expired).await, [leave("alice")]);
}

#[tokio::test]
async fn a_membership_is_read_from_the_table_not_the_lagging_index() {
    // GIVEN an index that lags, and alice subscribing to lobby
    let (store, _changes) = streamed();
    store.lag();
    let before = channels::now_millis();
    store
        .connect(&v1("a1=", "alice"), Some(&lobby()))
        .await
        .unwrap();
    // THEN the index does not list her yet, a consistent read finds her,
    // with when she subscribed
    assert!(all_members(&store, &lobby()).await.unwrap().is_empty());
    let read = store.membership("a1=", &lobby()).await.unwrap().unwrap();
    assert_eq!(read.subject.as_deref(), Some("alice"));
    assert!(read.subscribed_at_ms >= before, "{read:?}");
    assert!(read.subscribed_at_ms <= channels::now_millis(), "{read:?}");
    // AND gone, while the index still lists her, the read does not find her
    store.catch_up();
    store.lag();
    store.disconnect("a1=").await.unwrap();
    assert_eq!(all_members(&store, &lobby()).await.unwrap().len(), 1);
    assert_eq!(store.membership("a1=", &lobby()).await.unwrap(), None);
    assert_eq!(
        store.membership("a1=", &channel("other")).await.unwrap(),
        None
    );
}
