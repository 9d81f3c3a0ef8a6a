//! Recovery: what `history::decide` replays to a client at `since`, and
//! whether that is everything it missed, for each way history can fall
//! short; then `history::recover` end to end on the in-memory store after
//! real publishes.

#![allow(clippy::unwrap_used, clippy::expect_used)] // a test fails by panicking

mod support;

use channels::fanout::{Publish, Published};
use channels::history::{decide, recover, Recovery, Since, MAX_REPLAY_BYTES, MAX_REPLAY_MESSAGES};
use channels::memory::MemoryStore;
use channels::message::{Position, Publication, StoredMessage};
use channels::testing::MemoryNotifier;
use channels::{Connection, Fanout, History, Protocol, PublishOptions, Store};
use support::{backing_off_to, lobby};

const EPOCH: &str = "00c0ffee00c0ffee";

fn at(offset: u64, epoch: &str) -> Position {
    Position {
        offset,
        epoch: epoch.to_owned(),
    }
}

fn kept(offset: u64, epoch: &str) -> StoredMessage {
    kept_with(offset, epoch, format!("message {offset}").into_bytes())
}

fn kept_with(offset: u64, epoch: &str, body: Vec<u8>) -> StoredMessage {
    StoredMessage {
        publication: Publication::http(lobby(), body, false),
        position: at(offset, epoch),
    }
}

fn kept_range(offsets: impl IntoIterator<Item = u64>) -> Vec<StoredMessage> {
    offsets.into_iter().map(|o| kept(o, EPOCH)).collect()
}

fn since(offset: u64) -> Since {
    Since {
        offset,
        epoch: Some(EPOCH.to_owned()),
    }
}

fn on() -> History {
    History {
        ttl_secs: 600,
        max: 1000,
    }
}

fn offsets(recovery: &Recovery) -> Vec<u64> {
    recovery.messages.iter().map(|m| m.offset).collect()
}

#[test]
fn every_missed_offset_kept_is_a_complete_recovery() {
    // GIVEN a client at 3, and the messages 4, 5 and 6 kept; latest 6
    let fetched = kept_range(4..=6);
    // WHEN recovery is decided
    let recovery = decide(&on(), &since(3), fetched.clone(), at(6, EPOCH));
    // THEN all three are replayed, in order, as their envelopes
    assert!(recovery.recovered);
    assert_eq!(offsets(&recovery), [4, 5, 6]);
    for (replayed, message) in recovery.messages.iter().zip(&fetched) {
        assert_eq!(
            replayed.envelope,
            message.publication.envelope(&message.position)
        );
    }
    assert_eq!(recovery.position, at(6, EPOCH));
}

#[test]
fn a_client_without_an_epoch_is_taken_at_the_current_one() {
    let without = Since {
        offset: 4,
        epoch: None,
    };
    let recovery = decide(&on(), &without, kept_range(5..=6), at(6, EPOCH));
    assert!(recovery.recovered);
    assert_eq!(offsets(&recovery), [5, 6]);
}

#[test]
fn a_client_at_the_latest_offset_has_nothing_to_recover() {
    for history in [on(), History::OFF] {
        let recovery = decide(&history, &since(6), Vec::new(), at(6, EPOCH));
        assert!(recovery.recovered, "{history:?}");
        assert!(recovery.messages.is_empty());
    }
    // A brand-new channel: a client at 0, the latest 0.
    assert!(decide(&on(), &since(0), Vec::new(), at(0, EPOCH)).recovered);
}

#[test]
fn another_epoch_recovers_nothing() {
    // GIVEN a client that holds offsets of an epoch the channel lost
    let old = Since {
        offset: 3,
        epoch: Some("0ld0ld0ld0ld0ld0".into()),
    };
    // WHEN the channel's messages 4..6 are under the new epoch
    let recovery = decide(&on(), &old, kept_range(4..=6), at(6, EPOCH));
    // THEN nothing is replayed and the client knows it must reload
    assert!(!recovery.recovered);
    assert!(recovery.messages.is_empty());
    assert_eq!(recovery.position, at(6, EPOCH));
    // AND that holds even at the very same offset
    let same_offset = Since {
        offset: 6,
        epoch: Some("0ld0ld0ld0ld0ld0".into()),
    };
    assert!(!decide(&on(), &same_offset, Vec::new(), at(6, EPOCH)).recovered);
}

#[test]
fn with_history_off_any_missed_message_is_a_loss() {
    // Even if something were read, history off replays nothing.
    let recovery = decide(&History::OFF, &since(3), kept_range(4..=6), at(6, EPOCH));
    assert!(!recovery.recovered);
    assert!(recovery.messages.is_empty());
    let half_off = History {
        ttl_secs: 0,
        max: 1000,
    };
    assert!(!decide(&half_off, &since(5), kept_range(6..=6), at(6, EPOCH)).recovered);
}

#[test]
fn trimmed_history_is_a_loss_and_only_the_kept_window_is_replayed() {
    // GIVEN a history of at most 5 messages, latest 20 (so 16..20 are readable)
    let five = History {
        ttl_secs: 600,
        max: 5,
    };
    // WHEN a client at 10 comes back, with 11..20 still physically there
    let recovery = decide(&five, &since(10), kept_range(11..=20), at(20, EPOCH));
    // THEN it gets the window and recovered:false
    assert!(!recovery.recovered);
    assert_eq!(offsets(&recovery), [16, 17, 18, 19, 20]);
    // AND a client just at the edge of the window (15) recovers fully
    let edge = decide(&five, &since(15), kept_range(16..=20), at(20, EPOCH));
    assert!(edge.recovered);
    assert_eq!(offsets(&edge), [16, 17, 18, 19, 20]);
    // AND one just past it (14) does not
    assert!(!decide(&five, &since(14), kept_range(15..=20), at(20, EPOCH)).recovered);
}

#[test]
fn an_expired_first_message_is_a_loss() {
    // GIVEN a client at 3, and 4 expired: only 5 and 6 are read
    let recovery = decide(&on(), &since(3), kept_range([5, 6]), at(6, EPOCH));
    // THEN what is there is replayed, and the loss is reported
    assert!(!recovery.recovered);
    assert_eq!(offsets(&recovery), [5, 6]);
}

#[test]
fn a_hole_in_the_middle_is_a_loss() {
    // A failed publish left 5 without a message.
    let recovery = decide(&on(), &since(3), kept_range([4, 6, 7]), at(7, EPOCH));
    assert!(!recovery.recovered);
    assert_eq!(offsets(&recovery), [4, 6, 7]);
    // The last one missing too.
    let recovery = decide(&on(), &since(3), kept_range([4, 5]), at(6, EPOCH));
    assert!(!recovery.recovered);
    assert_eq!(offsets(&recovery), [4, 5]);
}

#[test]
fn more_than_100_messages_replay_100_and_report_the_loss() {
    assert_eq!(MAX_REPLAY_MESSAGES, 100);
    // GIVEN a client 150 messages behind (recover reads 101)
    let recovery = decide(&on(), &since(0), kept_range(1..=101), at(150, EPOCH));
    // THEN the first 100 are replayed, and it is told it missed more
    assert!(!recovery.recovered);
    assert_eq!(offsets(&recovery), (1..=100).collect::<Vec<_>>());
    // AND exactly 101 behind is a loss as well, after 100
    let recovery = decide(&on(), &since(0), kept_range(1..=101), at(101, EPOCH));
    assert!(!recovery.recovered);
    assert_eq!(recovery.messages.len(), 100);
    // AND exactly 100 behind recovers fully
    let recovery = decide(&on(), &since(0), kept_range(1..=100), at(100, EPOCH));
    assert!(recovery.recovered);
    assert_eq!(recovery.messages.len(), 100);
}

#[test]
fn more_than_1_mib_replays_what_fits_and_reports_the_loss() {
    assert_eq!(MAX_REPLAY_BYTES, 1024 * 1024);
    // GIVEN ten messages of 120 KiB each behind (about 1.2 MiB of envelopes)
    let fetched: Vec<StoredMessage> = (1..=10)
        .map(|o| kept_with(o, EPOCH, vec![b'a'; 120 * 1024]))
        .collect();
    let envelope_len = fetched[0].publication.envelope(&fetched[0].position).len();
    let fit = MAX_REPLAY_BYTES / envelope_len;
    assert!(fit < 10, "the ten do not fit");
    // WHEN recovery is decided
    let recovery = decide(&on(), &since(0), fetched, at(10, EPOCH));
    // THEN the messages that fit in 1 MiB are replayed, in order, and no more
    assert!(!recovery.recovered);
    assert_eq!(offsets(&recovery), (1..=fit as u64).collect::<Vec<_>>());
    let bytes: usize = recovery.messages.iter().map(|m| m.envelope.len()).sum();
    assert!(bytes <= MAX_REPLAY_BYTES);
}

#[test]
fn a_client_ahead_of_the_channel_is_told_it_lost_track() {
    // The client claims 10; the channel is at 5 (same epoch).
    let recovery = decide(&on(), &since(10), Vec::new(), at(5, EPOCH));
    assert!(!recovery.recovered);
    assert!(recovery.messages.is_empty());
    assert_eq!(recovery.position.offset, 5);
}

#[test]
fn stale_items_of_an_older_epoch_are_skipped() {
    // GIVEN a channel recreated under EPOCH at 2, with items of the old
    // epoch still waiting for TTL at offsets 3 and 4
    let fetched = vec![
        kept(1, EPOCH),
        kept(2, EPOCH),
        kept(3, "0ld0ld0ld0ld0ld0"),
        kept(4, "0ld0ld0ld0ld0ld0"),
    ];
    // WHEN a client at 0 of EPOCH recovers
    let recovery = decide(&on(), &since(0), fetched, at(2, EPOCH));
    // THEN only the current epoch's messages are replayed, and that is complete
    assert!(recovery.recovered);
    assert_eq!(offsets(&recovery), [1, 2]);
    assert!(recovery
        .messages
        .iter()
        .all(|m| String::from_utf8_lossy(&m.envelope).contains(EPOCH)));
    // AND an old item standing where a current one should be is a loss
    let fetched = vec![kept(1, "0ld0ld0ld0ld0ld0"), kept(2, EPOCH)];
    let recovery = decide(&on(), &since(0), fetched, at(2, EPOCH));
    assert!(!recovery.recovered);
    assert_eq!(offsets(&recovery), [2]);
}

#[test]
fn messages_past_the_position_read_after_them_are_not_replayed() {
    // A publish raced the read: 7 was read, but the position says 6.
    let recovery = decide(&on(), &since(3), kept_range(4..=7), at(6, EPOCH));
    assert!(recovery.recovered);
    assert_eq!(offsets(&recovery), [4, 5, 6]);
}

async fn publish(fanout: &Fanout<MemoryStore, MemoryNotifier>, body: &str) -> Position {
    let publish = Publish {
        publication: Publication::http(lobby(), body.as_bytes().to_vec(), false),
        exclude: None,
        key: None,
        publish_id: format!("p-{body}"),
    };
    match fanout.publish(publish).await.unwrap() {
        Published::Sync { position, .. } => position,
        other => panic!("{other:?}"),
    }
}

#[tokio::test]
async fn recover_replays_exactly_the_missed_offsets_after_real_publishes() {
    // GIVEN a v1 member that stays, and five publishes
    let fanout = Fanout::new(
        MemoryStore::new(),
        MemoryNotifier::new(),
        backing_off_to(PublishOptions::default().backoff_cap),
    );
    let mut watcher = Connection::new("watcher=", channels::now_millis());
    watcher.protocol = Protocol::V1;
    fanout
        .store
        .connect(&watcher, Some(&lobby()))
        .await
        .unwrap();
    let mut positions = Vec::new();
    for n in 1..=5 {
        positions.push(publish(&fanout, &format!("m{n}")).await);
    }
    let epoch = positions[0].epoch.clone();

    // WHEN a client that held offset 2 recovers
    let since = Since {
        offset: 2,
        epoch: Some(epoch.clone()),
    };
    let recovery = recover(&fanout.store, &fanout.history, &lobby(), &since)
        .await
        .unwrap();

    // THEN it gets 3, 4, 5 in order, byte for byte what the member got live
    assert!(recovery.recovered);
    assert_eq!(offsets(&recovery), [3, 4, 5]);
    let live = fanout.notifier.delivered("watcher=");
    let replayed: Vec<Vec<u8>> = recovery
        .messages
        .iter()
        .map(|m| m.envelope.clone())
        .collect();
    assert_eq!(replayed, live[2..].to_vec());
    assert_eq!(recovery.position, at(5, &epoch));

    // AND a client of another epoch gets nothing and recovered:false
    let stranger = Since {
        offset: 2,
        epoch: Some("ffffffffffffffff".into()),
    };
    let recovery = recover(&fanout.store, &fanout.history, &lobby(), &stranger)
        .await
        .unwrap();
    assert!(!recovery.recovered);
    assert!(recovery.messages.is_empty());

    // AND with history off nothing is read back
    let recovery = recover(&fanout.store, &History::OFF, &lobby(), &since)
        .await
        .unwrap();
    assert!(!recovery.recovered);
    assert!(recovery.messages.is_empty());
    assert_eq!(recovery.position.offset, 5);
}

#[tokio::test]
async fn recover_on_a_channel_never_published_to_fixes_its_epoch() {
    // GIVEN a channel nobody published to
    let store = MemoryStore::new();
    // WHEN a client at 0 of an unknown epoch recovers
    let since = Since {
        offset: 0,
        epoch: None,
    };
    let first = recover(&store, &History::default(), &lobby(), &since)
        .await
        .unwrap();
    // THEN it is complete at 0, and the epoch stays for the next publish
    assert!(first.recovered);
    assert_eq!(first.position.offset, 0);
    let position = store.next_offset(&lobby()).await.unwrap();
    assert_eq!(position, at(1, &first.position.epoch));
}
