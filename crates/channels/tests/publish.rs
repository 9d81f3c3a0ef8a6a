//! Publishing through `Fanout::publish` on the in-memory store: the two
//! forms a publish reaches members in, a socket publish's sender exclusion
//! and `from`, offsets and epochs, the size limit, idempotency keys, and
//! the history (written before the members are read).

#![allow(clippy::unwrap_used, clippy::expect_used)] // a test fails by panicking

mod support;

use std::time::Duration;

use channels::fanout::{Publish, PublishError, Published};
use channels::memory::MemoryStore;
use channels::message::{Position, Publication};
use channels::testing::{MemoryNotifier, Tamper};
use channels::{
    ChannelName, Connection, Fanout, History, NotifyError, Protocol, PublishReport, Store,
};
use serde_json::value::RawValue;
use serde_json::{json, Value};
use support::{backing_off_to, channel, report};

type Memory = Fanout<MemoryStore, MemoryNotifier>;

fn fanout() -> Memory {
    Fanout::new(
        MemoryStore::new(),
        MemoryNotifier::new(),
        backing_off_to(Duration::from_millis(2)),
    )
}

fn tampered() -> Fanout<Tamper<MemoryStore>, MemoryNotifier> {
    Fanout::new(
        Tamper::new(MemoryStore::new()),
        MemoryNotifier::new(),
        backing_off_to(Duration::from_millis(2)),
    )
}

/// A connection accepted a minute ago (a 410 of a connection still
/// connecting does not remove it), speaking `protocol`, held by `subject`,
/// subscribed to `name`.
async fn member<S: Store>(
    store: &S,
    id: &str,
    name: &str,
    protocol: Protocol,
    subject: Option<&str>,
) {
    let mut connection = Connection::new(id, channels::now_millis() - 60_000);
    connection.protocol = protocol;
    connection.subject = subject.map(str::to_owned);
    store
        .connect(&connection, Some(&channel(name)))
        .await
        .unwrap();
}

fn http(name: &str, body: &[u8], json: bool) -> Publish {
    Publish {
        publication: Publication::http(channel(name), body.to_vec(), json),
        exclude: None,
        key: None,
        publish_id: "p-http".into(),
    }
}

fn data(text: &str) -> Box<RawValue> {
    RawValue::from_string(text.to_owned()).unwrap()
}

/// A socket publish of `data` by `sender` (held by `from`), the sender excluded.
fn socket(name: &str, data_text: &str, sender: &str, from: Option<&str>) -> Publish {
    Publish {
        publication: Publication::socket(channel(name), &data(data_text), from.map(str::to_owned)),
        exclude: Some(sender.to_owned()),
        key: None,
        publish_id: "p-socket".into(),
    }
}

fn keyed(mut publish: Publish, key: &str) -> Publish {
    publish.key = Some(key.to_owned());
    publish
}

/// A synchronous publish's position and report.
fn sync(result: Result<Published, PublishError>) -> (Position, PublishReport) {
    match result {
        Ok(Published::Sync { position, report }) => (position, report),
        other => panic!("expected a synchronous publish, got {other:?}"),
    }
}

fn parsed(bytes: &[u8]) -> Value {
    serde_json::from_slice(bytes)
        .unwrap_or_else(|e| panic!("{} is not JSON: {e}", String::from_utf8_lossy(bytes)))
}

/// The one message `id` received, parsed.
fn only_envelope(fanout: &Memory, id: &str) -> Value {
    let delivered = fanout.notifier.delivered(id);
    assert_eq!(delivered.len(), 1, "{id} got {delivered:?}");
    parsed(&delivered[0])
}

#[tokio::test]
async fn an_http_publish_reaches_v1_members_as_the_envelope_and_raw_members_as_the_body() {
    // GIVEN an lrw.v1 member and a raw member of lobby
    let fanout = fanout();
    member(&fanout.store, "v1=", "lobby", Protocol::V1, Some("u-1")).await;
    member(&fanout.store, "raw=", "lobby", Protocol::Raw, None).await;
    let body = br#"{"price": 42, "tags": ["a"]}"#;

    // WHEN a JSON body is published over HTTP as application/json
    let (position, sent) = sync(fanout.publish(http("lobby", body, true)).await);

    // THEN one publish reached both, each in its form
    assert_eq!(sent, report("lobby", 2, 2, 0, 0));
    assert_eq!(position.offset, 1);
    assert_eq!(position.epoch.len(), 16);
    assert!(position.epoch.chars().all(|c| c.is_ascii_hexdigit()));
    assert_eq!(
        only_envelope(&fanout, "v1="),
        json!({"type":"message","channel":"lobby","data":{"price":42,"tags":["a"]},"offset":1,"epoch": position.epoch})
    );
    assert_eq!(fanout.notifier.delivered("raw="), vec![body.to_vec()]);
}

#[tokio::test]
async fn text_is_a_json_string_and_bytes_are_base64_with_their_encoding() {
    // (body, sent as JSON, the envelope's data, its encoding)
    let cases: Vec<(Vec<u8>, bool, Value, Option<&str>)> = vec![
        (b"hello".to_vec(), false, json!("hello"), None),
        (br#"{"a":1}"#.to_vec(), false, json!("{\"a\":1}"), None),
        (b"{not json".to_vec(), true, json!("{not json"), None),
        (
            "h\u{e9}llo \"w\u{f6}rld\" \u{1f980}".as_bytes().to_vec(),
            false,
            json!("h\u{e9}llo \"w\u{f6}rld\" \u{1f980}"),
            None,
        ),
        (br#""a string""#.to_vec(), true, json!("a string"), None),
        (b"[1,2]".to_vec(), true, json!([1, 2]), None),
        (vec![0xff, 0x00, 0x41], false, json!("/wBB"), Some("base64")),
        (vec![0xc3, 0x28], true, json!("wyg="), Some("base64")),
    ];
    for (body, as_json, expected, encoding) in cases {
        // GIVEN a v1 and a raw member
        let fanout = fanout();
        member(&fanout.store, "v1=", "lobby", Protocol::V1, None).await;
        member(&fanout.store, "raw=", "lobby", Protocol::Raw, None).await;
        // WHEN the body is published
        let (position, _) = sync(fanout.publish(http("lobby", &body, as_json)).await);
        // THEN the v1 member's data is as the contract says, and the raw
        // member gets the exact bytes
        let envelope = only_envelope(&fanout, "v1=");
        let mut want = json!({"type":"message","channel":"lobby","data": expected,"offset":1,"epoch": position.epoch});
        if let Some(encoding) = encoding {
            want["encoding"] = json!(encoding);
        }
        assert_eq!(envelope, want, "{body:?}");
        assert_eq!(fanout.notifier.delivered("raw="), vec![body.clone()]);
    }
}

#[tokio::test]
async fn a_socket_publish_skips_its_sender_and_carries_from() {
    // GIVEN alice (the sender), bob, both lrw.v1, and a raw member
    let fanout = fanout();
    member(
        &fanout.store,
        "alice=",
        "lobby",
        Protocol::V1,
        Some("alice"),
    )
    .await;
    member(&fanout.store, "bob=", "lobby", Protocol::V1, Some("bob")).await;
    member(&fanout.store, "raw=", "lobby", Protocol::Raw, None).await;
    let sent = r#"{"text": "hi", "from": "mallory"}"#;

    // WHEN alice publishes data claiming to be from mallory
    let (position, counts) = sync(
        fanout
            .publish(socket("lobby", sent, "alice=", Some("alice")))
            .await,
    );

    // THEN alice gets nothing and is not counted
    assert_eq!(counts, report("lobby", 2, 2, 0, 0));
    assert!(fanout.notifier.delivered("alice=").is_empty());
    // AND bob gets the envelope stamped from alice, data untouched
    assert_eq!(
        only_envelope(&fanout, "bob="),
        json!({"type":"message","channel":"lobby","data":{"text":"hi","from":"mallory"},"offset":1,"epoch": position.epoch,"from":"alice"})
    );
    // AND the raw member gets the text of data, as sent
    assert_eq!(
        fanout.notifier.delivered("raw="),
        vec![sent.as_bytes().to_vec()]
    );
}

#[tokio::test]
async fn a_socket_publish_of_a_string_reaches_raw_members_as_the_string_itself() {
    let fanout = fanout();
    member(&fanout.store, "sender=", "lobby", Protocol::V1, Some("s")).await;
    member(&fanout.store, "raw=", "lobby", Protocol::Raw, None).await;
    member(&fanout.store, "v1=", "lobby", Protocol::V1, None).await;
    let (position, _) = sync(
        fanout
            .publish(socket(
                "lobby",
                r#""say \"hi\" \u00e9""#,
                "sender=",
                Some("s"),
            ))
            .await,
    );
    assert_eq!(
        fanout.notifier.delivered("raw="),
        vec!["say \"hi\" \u{e9}".as_bytes().to_vec()]
    );
    assert_eq!(
        only_envelope(&fanout, "v1="),
        json!({"type":"message","channel":"lobby","data":"say \"hi\" \u{e9}","offset":1,"epoch":position.epoch,"from":"s"})
    );
    // A number reaches raw members as its JSON text.
    sync(fanout.publish(socket("lobby", "42", "sender=", None)).await);
    assert_eq!(fanout.notifier.delivered("raw=")[1], b"42");
    // Without a subject (open mode) there is no from.
    let second = parsed(&fanout.notifier.delivered("v1=")[1]);
    assert_eq!(second.get("from"), None, "{second}");
    assert_eq!(second["data"], json!(42));
}

#[tokio::test]
async fn recipients_are_delivered_plus_gone_plus_failed_without_the_sender() {
    // GIVEN the sender, a live member, a gone one and one that keeps failing
    let fanout = fanout();
    for id in ["sender=", "ok=", "gone=", "bad="] {
        member(&fanout.store, id, "lobby", Protocol::V1, Some(id)).await;
    }
    fanout.notifier.gone("gone=");
    fanout.notifier.gone("sender=");
    fanout.notifier.fail_next("bad=", [NotifyError::Forbidden]);

    // WHEN the sender publishes
    let (_, counts) = sync(
        fanout
            .publish(socket("lobby", "1", "sender=", Some("sender=")))
            .await,
    );

    // THEN the three others are counted, each once, and the sender not at all
    assert_eq!(counts, report("lobby", 3, 1, 1, 1));
    assert_eq!(
        counts.recipients,
        counts.delivered + counts.gone + counts.failed
    );
    assert_eq!(fanout.notifier.attempts("sender="), 0, "never posted to");
    assert!(
        fanout.store.get("sender=").is_some(),
        "so it is not removed"
    );
    assert!(
        fanout.store.get("gone=").is_none(),
        "a gone member is removed: {:?} {:?}",
        fanout.store.get("gone="),
        fanout.store.channels_of("gone=")
    );

    // AND with self:true (no exclusion) the sender counts too
    let mut with_self = socket("lobby", "2", "sender=", Some("sender="));
    with_self.exclude = None;
    let (_, counts) = sync(fanout.publish(with_self).await);
    assert_eq!(counts, report("lobby", 3, 2, 1, 0));
    assert_eq!(fanout.notifier.attempts("sender="), 1);
}

#[tokio::test]
async fn offsets_count_per_channel_under_one_epoch() {
    // GIVEN a v1 member of each of two channels
    let fanout = fanout();
    member(&fanout.store, "a=", "lobby", Protocol::V1, None).await;
    member(&fanout.store, "b=", "other", Protocol::V1, None).await;

    // WHEN lobby gets three publishes and other two, interleaved
    let mut lobby = Vec::new();
    let mut other = Vec::new();
    for round in 0..3 {
        lobby.push(sync(fanout.publish(http("lobby", b"l", false)).await).0);
        if round < 2 {
            other.push(sync(fanout.publish(http("other", b"o", false)).await).0);
        }
    }

    // THEN each channel counts 1, 2, 3… on its own, under one epoch
    let offsets = |p: &[Position]| p.iter().map(|p| p.offset).collect::<Vec<_>>();
    assert_eq!(offsets(&lobby), [1, 2, 3]);
    assert_eq!(offsets(&other), [1, 2]);
    assert!(lobby.iter().all(|p| p.epoch == lobby[0].epoch));
    assert!(other.iter().all(|p| p.epoch == other[0].epoch));
    assert_ne!(lobby[0].epoch, other[0].epoch, "each channel draws its own");
    // AND the members saw the same offsets and epoch in their envelopes
    let seen: Vec<(u64, String)> = fanout
        .notifier
        .delivered("a=")
        .iter()
        .map(|m| {
            let m = parsed(m);
            (
                m["offset"].as_u64().unwrap(),
                m["epoch"].as_str().unwrap().to_owned(),
            )
        })
        .collect();
    assert_eq!(
        seen,
        lobby
            .iter()
            .map(|p| (p.offset, p.epoch.clone()))
            .collect::<Vec<_>>()
    );
    // AND the store's position is the last one
    assert_eq!(
        fanout.store.position(&channel("lobby")).await.unwrap(),
        lobby[2]
    );
}

#[tokio::test]
async fn a_publish_whose_envelope_passes_128_kib_is_refused_and_takes_no_offset() {
    // GIVEN a member of lobby
    let fanout = fanout();
    member(&fanout.store, "v1=", "lobby", Protocol::V1, None).await;
    member(&fanout.store, "raw=", "lobby", Protocol::Raw, None).await;
    let too_large = [
        // 100 KiB of quotes: the body fits, its escaped envelope does not
        http("lobby", &vec![b'"'; 100 * 1024], false),
        // 100 KiB of bytes that are not UTF-8: base64 grows them past it
        http("lobby", &vec![0xff; 100 * 1024], false),
        // a body over 128 KiB
        http("lobby", &vec![b'a'; 128 * 1024 + 1], false),
        // a socket publish of a string of 70,000 quotes
        socket(
            "lobby",
            &format!("\"{}\"", "\\\"".repeat(70_000)),
            "x=",
            Some("x"),
        ),
    ];
    for publish in too_large {
        let size = publish.publication.body.len();
        // WHEN it is published
        let outcome = fanout.publish(publish).await;
        // THEN it is refused as too large
        assert!(
            matches!(outcome, Err(PublishError::TooLarge(_))),
            "{size} bytes: {outcome:?}"
        );
    }
    // AND nobody got anything, and no offset was taken
    assert!(fanout.notifier.recipients().is_empty());
    let (position, _) = sync(fanout.publish(http("lobby", b"small", false)).await);
    assert_eq!(position.offset, 1);
    // AND 100 KiB of plain text is fine
    let (position, counts) = sync(
        fanout
            .publish(http("lobby", &vec![b'a'; 100 * 1024], false))
            .await,
    );
    assert_eq!((position.offset, counts.delivered), (2, 2));
}

#[tokio::test]
async fn a_repeated_key_is_answered_with_the_first_offset_and_not_delivered_again() {
    // GIVEN a member of lobby and one of other
    let fanout = fanout();
    member(&fanout.store, "l=", "lobby", Protocol::V1, None).await;
    member(&fanout.store, "o=", "other", Protocol::Raw, None).await;
    sync(fanout.publish(http("lobby", b"before", false)).await);

    // WHEN the same key is published twice on lobby
    let (first, _) = sync(
        fanout
            .publish(keyed(http("lobby", b"m", false), "k-1"))
            .await,
    );
    let second = fanout
        .publish(keyed(http("lobby", b"m", false), "k-1"))
        .await
        .unwrap();

    // THEN the second is a duplicate carrying the first one's offset
    assert_eq!(first.offset, 2);
    assert_eq!(second, Published::Duplicate { offset: 2 });
    // AND the member got it once, and no offset was taken for the repeat
    assert_eq!(fanout.notifier.delivered("l=").len(), 2);
    let (next, _) = sync(fanout.publish(http("lobby", b"after", false)).await);
    assert_eq!(next.offset, 3);

    // AND the same key on another channel is another publish
    let (position, counts) = sync(
        fanout
            .publish(keyed(http("other", b"m", false), "k-1"))
            .await,
    );
    assert_eq!((position.offset, counts.delivered), (1, 1));
    assert_eq!(fanout.notifier.delivered("o="), vec![b"m".to_vec()]);
    // AND another key on lobby goes ahead
    let (position, _) = sync(
        fanout
            .publish(keyed(http("lobby", b"m", false), "k-2"))
            .await,
    );
    assert_eq!(position.offset, 4);
}

#[tokio::test]
async fn a_key_whose_publish_is_under_way_is_refused_until_it_has_an_offset_or_goes_stale() {
    // GIVEN a member, and a key claimed just now by a publish still under way
    let fanout = fanout();
    member(&fanout.store, "l=", "lobby", Protocol::V1, None).await;
    let now = channels::now_millis() / 1000;
    let lobby = ChannelName::parse("lobby").unwrap();
    fanout.store.claim_key(&lobby, "busy", now).await.unwrap();

    // WHEN the same key is published meanwhile
    let outcome = fanout
        .publish(keyed(http("lobby", b"m", false), "busy"))
        .await;

    // THEN it is refused (409: retry for the answer), nothing delivered, no offset taken
    assert!(
        matches!(outcome, Err(PublishError::KeyInProgress)),
        "{outcome:?}"
    );
    assert!(fanout.notifier.delivered("l=").is_empty());
    let (first, _) = sync(fanout.publish(http("lobby", b"other", false)).await);
    assert_eq!(first.offset, 1);

    // AND a claim whose publish died before its offset is taken over once stale
    let died = now - channels::store::KEY_CLAIM_STALE_SECS - 1;
    fanout.store.claim_key(&lobby, "died", died).await.unwrap();
    let (retried, counts) = sync(
        fanout
            .publish(keyed(http("lobby", b"m", false), "died"))
            .await,
    );
    assert_eq!((retried.offset, counts.delivered), (2, 1));
    assert_eq!(
        fanout
            .publish(keyed(http("lobby", b"m", false), "died"))
            .await
            .unwrap(),
        Published::Duplicate { offset: 2 }
    );
}

#[tokio::test]
async fn a_failed_publish_releases_its_key_so_that_a_retry_goes_ahead() {
    for failing in ["append", "members"] {
        // GIVEN a member, and a store whose `failing` call fails
        let fanout = tampered();
        member(&fanout.store, "m=", "lobby", Protocol::V1, None).await;
        fanout.store.fail(failing);

        // WHEN a keyed publish fails
        let outcome = fanout.publish(keyed(http("lobby", b"m", false), "k")).await;
        assert!(
            matches!(outcome, Err(PublishError::Store(_))),
            "{failing}: {outcome:?}"
        );
        assert!(fanout.store.calls().contains(&"release_key"), "{failing}");

        // THEN a retry with the same key, once the store is back, is delivered
        fanout.store.mend(failing);
        let (position, counts) = sync(fanout.publish(keyed(http("lobby", b"m", false), "k")).await);
        assert_eq!(counts.delivered, 1, "{failing}");
        // (the failed one took offset 1: a failed publish may leave a hole)
        assert_eq!(position.offset, 2, "{failing}");
        assert_eq!(fanout.notifier.delivered("m=").len(), 1, "{failing}");
        // AND the key now holds: a third try is a duplicate of the retry
        assert_eq!(
            fanout
                .publish(keyed(http("lobby", b"m", false), "k"))
                .await
                .unwrap(),
            Published::Duplicate { offset: 2 },
            "{failing}"
        );
    }
}

#[tokio::test]
async fn with_history_on_published_messages_are_kept_in_order() {
    // GIVEN a fan-out with the default history, and a v1 member
    let fanout = fanout();
    assert!(fanout.history.enabled());
    member(&fanout.store, "v1=", "lobby", Protocol::V1, None).await;

    // WHEN three messages are published, one over the socket
    sync(fanout.publish(http("lobby", b"one", false)).await);
    sync(fanout.publish(http("lobby", br#"{"n":2}"#, true)).await);
    sync(
        fanout
            .publish(socket("lobby", r#""three""#, "x=", Some("u")))
            .await,
    );

    // THEN the history holds all three, in offset order, each replaying
    // exactly the envelope the member got
    let kept = fanout
        .store
        .messages(&channel("lobby"), 0, 100)
        .await
        .unwrap();
    assert_eq!(
        kept.iter().map(|m| m.position.offset).collect::<Vec<_>>(),
        [1, 2, 3]
    );
    let delivered = fanout.notifier.delivered("v1=");
    for (message, envelope) in kept.iter().zip(&delivered) {
        assert_eq!(&message.publication.envelope(&message.position), envelope);
    }
    assert_eq!(kept[0].publication.body, b"one");
    assert_eq!(kept[2].publication.from.as_deref(), Some("u"));
    // AND reads after an offset take only what follows it
    let after = fanout
        .store
        .messages(&channel("lobby"), 2, 100)
        .await
        .unwrap();
    assert_eq!(after.len(), 1);
    assert_eq!(after[0].position.offset, 3);
}

#[tokio::test]
async fn a_publish_to_a_channel_without_members_takes_an_offset_and_is_kept() {
    let fanout = fanout();
    let (position, counts) = sync(fanout.publish(http("empty", b"x", false)).await);
    assert_eq!(counts, report("empty", 0, 0, 0, 0));
    assert_eq!(position.offset, 1);
    let kept = fanout
        .store
        .messages(&channel("empty"), 0, 10)
        .await
        .unwrap();
    assert_eq!(kept.len(), 1);
    assert_eq!(kept[0].position, position);
}

#[tokio::test]
async fn with_history_off_nothing_is_kept_but_offsets_are_still_taken() {
    // GIVEN a fan-out with history off
    let mut fanout = tampered();
    fanout.history = History::OFF;
    assert!(!fanout.history.enabled());
    member(&fanout.store, "v1=", "lobby", Protocol::V1, None).await;

    // WHEN two messages are published
    let (first, _) = sync(fanout.publish(http("lobby", b"1", false)).await);
    let (second, _) = sync(fanout.publish(http("lobby", b"2", false)).await);

    // THEN they took offsets 1 and 2 under one epoch, and reached the member
    assert_eq!((first.offset, second.offset), (1, 2));
    assert_eq!(first.epoch, second.epoch);
    assert_eq!(parsed(&fanout.notifier.delivered("v1=")[1])["offset"], 2);
    // AND nothing was written to the history, nor is there any to read
    assert!(!fanout.store.calls().contains(&"append"));
    assert!(fanout
        .store
        .messages(&channel("lobby"), 0, 100)
        .await
        .unwrap()
        .is_empty());
}

#[tokio::test]
async fn the_history_item_is_written_before_the_members_are_read() {
    // GIVEN a member and a store recording every call
    let fanout = tampered();
    member(&fanout.store, "v1=", "lobby", Protocol::V1, None).await;
    fanout.store.clear_calls();

    // WHEN a keyed message is published
    sync(fanout.publish(keyed(http("lobby", b"m", false), "k")).await);

    // THEN the key was claimed, then the offset taken, then the message kept,
    // and only then were the members read
    let calls = fanout.store.calls();
    let at = |name: &str| {
        calls
            .iter()
            .position(|c| *c == name)
            .unwrap_or_else(|| panic!("{name} was not called: {calls:?}"))
    };
    assert!(at("claim_key") < at("next_offset"), "{calls:?}");
    assert!(at("next_offset") < at("append"), "{calls:?}");
    assert!(at("append") < at("members"), "{calls:?}");
    assert_eq!(calls.iter().filter(|c| **c == "append").count(), 1);

    // AND when the history write fails, the members are never read
    fanout.store.clear_calls();
    fanout.store.fail("append");
    let outcome = fanout.publish(http("lobby", b"m2", false)).await;
    assert!(
        matches!(outcome, Err(PublishError::Store(_))),
        "{outcome:?}"
    );
    assert!(
        !fanout.store.calls().contains(&"members"),
        "{:?}",
        fanout.store.calls()
    );
    assert_eq!(fanout.notifier.delivered("v1=").len(), 1);
}
