//! The `lrw.v1` frames: every command and its fields parsed, every
//! malformed command answered with a 400 error frame (carrying its `id`
//! when it had a valid one), everything that is not a command left to be
//! echoed, the reply frames exactly as the contract writes them, and no
//! input that panics the parser.

#![allow(clippy::unwrap_used, clippy::expect_used)] // a test fails by panicking

mod support;

use channels::fanout::{PublishReport, Published};
use channels::history::Since;
use channels::message::Position;
use channels::presence::Presence;
use channels::protocol::{self, parse, Action, Command, CommandBody, ErrorFrame};
use proptest::prelude::*;
use serde_json::{json, Value};
use support::{channel as name, lobby};

/// The command in `frame`, which must be one.
fn command(frame: &str) -> Command {
    match parse(frame) {
        Some(Ok(command)) => command,
        other => panic!("{frame}: expected a command, got {other:?}"),
    }
}

/// The error frame `frame` is answered with, which must be one.
fn refusal(frame: &str) -> ErrorFrame {
    match parse(frame) {
        Some(Err(error)) => error,
        other => panic!("{frame}: expected an error frame, got {other:?}"),
    }
}

fn json_of(text: &str) -> Value {
    serde_json::from_str(text).unwrap_or_else(|e| panic!("{text} is not JSON: {e}"))
}

#[test]
fn subscribe_is_parsed_with_its_id_channel_token_and_since() {
    // GIVEN the plainest subscribe
    let c = command(r#"{"action":"subscribe","id":"1","channel":"lobby"}"#);
    // THEN it names its channel and id, and nothing else
    assert_eq!(c.id.as_deref(), Some("1"));
    assert_eq!(c.token, None);
    assert_eq!(c.body.action(), Action::Subscribe);
    assert_eq!(c.body.channel(), Some(&name("lobby")));
    match &c.body {
        CommandBody::Subscribe { channel, since } => {
            assert_eq!(channel, &name("lobby"));
            assert_eq!(since, &None);
        }
        other => panic!("{other:?}"),
    }

    // GIVEN one with a token and since
    let c = command(
        r#"{"action":"subscribe","channel":"room-7","token":"eyJ.a.b","since":{"offset":41,"epoch":"9f86d081884c7d65"}}"#,
    );
    // THEN both are read, and no id is fine
    assert_eq!(c.id, None);
    assert_eq!(c.token.as_deref(), Some("eyJ.a.b"));
    match c.body {
        CommandBody::Subscribe { channel, since } => {
            assert_eq!(channel, name("room-7"));
            assert_eq!(
                since,
                Some(Since {
                    offset: 41,
                    epoch: Some("9f86d081884c7d65".into())
                })
            );
        }
        other => panic!("{other:?}"),
    }
    // AND since at offset 0 (nothing held yet) is a valid position
    match command(r#"{"action":"subscribe","channel":"a","since":{"epoch":"e","offset":0}}"#).body {
        CommandBody::Subscribe { since, .. } => assert_eq!(
            since,
            Some(Since {
                offset: 0,
                epoch: Some("e".into())
            })
        ),
        other => panic!("{other:?}"),
    }
}

#[test]
fn unsubscribe_presence_and_ping_are_parsed() {
    let c = command(r#"{"action":"unsubscribe","id":"2","channel":"lobby"}"#);
    assert_eq!(c.id.as_deref(), Some("2"));
    assert!(matches!(&c.body, CommandBody::Unsubscribe { channel } if channel == &name("lobby")));
    assert_eq!(c.body.action(), Action::Unsubscribe);

    let c = command(r#"{"action":"presence","id":"5","channel":"lobby"}"#);
    assert!(matches!(&c.body, CommandBody::Presence { channel } if channel == &name("lobby")));
    assert_eq!(c.body.action(), Action::Presence);

    // ping needs no channel, and ignores one
    let c = command(r#"{"action":"ping","id":"4"}"#);
    assert!(matches!(c.body, CommandBody::Ping));
    assert_eq!(c.body.channel(), None);
    assert_eq!(c.id.as_deref(), Some("4"));
    assert!(matches!(
        command(r#"{"action":"ping","channel":"not a channel"}"#).body,
        CommandBody::Ping
    ));
    assert_eq!(command(r#"{"action":"ping"}"#).id, None);
    // leading white space and unknown fields do not matter
    assert!(matches!(
        command(" \n\t{\"action\":\"ping\",\"extra\":[1,2,3]}").body,
        CommandBody::Ping
    ));
}

#[test]
fn publish_is_parsed_with_its_data_as_sent_self_and_key() {
    // GIVEN a publish with every field
    let c = command(
        r#"{"action":"publish","id":"3","channel":"lobby","data":{"text": "hi",  "n":[1,2]},"self":true,"key":"k-1"}"#,
    );
    // THEN data is kept as the client wrote it, and self and key are read
    assert_eq!(c.id.as_deref(), Some("3"));
    match c.body {
        CommandBody::Publish {
            channel,
            data,
            include_self,
            key,
        } => {
            assert_eq!(channel, name("lobby"));
            assert_eq!(data.get(), r#"{"text": "hi",  "n":[1,2]}"#);
            assert!(include_self);
            assert_eq!(key.as_deref(), Some("k-1"));
        }
        other => panic!("{other:?}"),
    }
    // AND without self or key, self is false and there is no key
    for (data, raw) in [
        (r#""hello""#, r#""hello""#),
        ("42", "42"),
        ("[1,{}]", "[1,{}]"),
        ("false", "false"),
    ] {
        let frame = format!(r#"{{"action":"publish","channel":"c","data":{data}}}"#);
        match command(&frame).body {
            CommandBody::Publish {
                data,
                include_self,
                key,
                ..
            } => {
                assert_eq!(data.get(), raw, "{frame}");
                assert!(!include_self, "{frame}");
                assert_eq!(key, None, "{frame}");
            }
            other => panic!("{other:?}"),
        }
    }
    // AND self:false and a key of 64 characters are fine
    match command(&format!(
        r#"{{"action":"publish","channel":"c","data":1,"self":false,"key":"{}"}}"#,
        "é".repeat(64)
    ))
    .body
    {
        CommandBody::Publish {
            include_self, key, ..
        } => {
            assert!(!include_self);
            assert_eq!(key.map(|k| k.chars().count()), Some(64));
        }
        other => panic!("{other:?}"),
    }
}

#[test]
fn publish_data_may_be_null_since_it_is_any_json() {
    // The contract: `"data":<any JSON>`; null is JSON.
    let outcome = parse(r#"{"action":"publish","id":"n","channel":"lobby","data":null}"#);
    match outcome {
        Some(Ok(Command {
            body: CommandBody::Publish { data, .. },
            ..
        })) => assert_eq!(data.get(), "null"),
        other => panic!("expected a publish of null, got {other:?}"),
    }
}

#[test]
fn since_must_be_an_object() {
    // The frame itself must be an object, and so must since.
    let error = refusal(r#"{"action":"subscribe","id":"7","channel":"lobby","since":[1,"e"]}"#);
    assert_eq!((error.code, error.id.as_deref()), (400, Some("7")));
    assert!(error.message.contains("since"), "{}", error.message);
}

#[test]
fn ids_of_up_to_64_characters_are_echoed_and_others_refused_without_id() {
    // An id of 64 characters (multi-byte ones count as one each) is fine.
    let sixty_four = "ü".repeat(64);
    let c = command(&json!({"action":"ping","id": sixty_four}).to_string());
    assert_eq!(c.id.as_deref(), Some(sixty_four.as_str()));
    // An empty id is a string of at most 64 characters too.
    assert_eq!(
        command(r#"{"action":"ping","id":""}"#).id.as_deref(),
        Some("")
    );

    for id in [
        json!("x".repeat(65)),
        json!(5),
        json!(1.5),
        json!(true),
        json!(["1"]),
        json!({"id":"1"}),
    ] {
        // WHEN a command carries such an id
        let frame = json!({"action":"subscribe","id": id,"channel":"lobby"}).to_string();
        let error = refusal(&frame);
        // THEN it is refused with 400, and no id is echoed (it has no valid one)
        assert_eq!(error.code, 400, "{frame}");
        assert_eq!(error.id, None, "{frame}");
        assert!(error.message.contains("id"), "{frame}: {}", error.message);
    }
}

#[test]
fn every_malformed_command_gets_a_400_with_its_id() {
    let long = "x".repeat(129);
    let long_key = "k".repeat(65);
    // (frame, a word the message must carry)
    let cases: Vec<(String, &str)> = vec![
        // missing channel, for each command that needs one
        (r#"{"action":"subscribe","id":"7"}"#.into(), "channel"),
        (r#"{"action":"unsubscribe","id":"7"}"#.into(), "channel"),
        (r#"{"action":"presence","id":"7"}"#.into(), "channel"),
        (r#"{"action":"publish","id":"7","data":1}"#.into(), "channel"),
        (
            r#"{"action":"subscribe","id":"7","channel":null}"#.into(),
            "channel",
        ),
        // bad channel names
        (
            r#"{"action":"subscribe","id":"7","channel":""}"#.into(),
            "empty",
        ),
        (
            r#"{"action":"subscribe","id":"7","channel":"a b"}"#.into(),
            "' '",
        ),
        (
            r#"{"action":"publish","id":"7","channel":"room-*","data":1}"#.into(),
            "'*'",
        ),
        (
            format!(r#"{{"action":"unsubscribe","id":"7","channel":"{long}"}}"#),
            "129",
        ),
        (
            r#"{"action":"presence","id":"7","channel":"lob/by"}"#.into(),
            "'/'",
        ),
        (
            r#"{"action":"subscribe","id":"7","channel":42}"#.into(),
            "channel must be a string",
        ),
        (
            r#"{"action":"subscribe","id":"7","channel":["lobby"]}"#.into(),
            "channel must be a string",
        ),
        // publish without data
        (
            r#"{"action":"publish","id":"7","channel":"lobby"}"#.into(),
            "data",
        ),
        // keys
        (
            format!(r#"{{"action":"publish","id":"7","channel":"lobby","data":1,"key":"{long_key}"}}"#),
            "key",
        ),
        (
            r#"{"action":"publish","id":"7","channel":"lobby","data":1,"key":""}"#.into(),
            "key",
        ),
        (
            r#"{"action":"publish","id":"7","channel":"lobby","data":1,"key":7}"#.into(),
            "key must be a string",
        ),
        // self not a boolean
        (
            r#"{"action":"publish","id":"7","channel":"lobby","data":1,"self":"true"}"#.into(),
            "self",
        ),
        (
            r#"{"action":"publish","id":"7","channel":"lobby","data":1,"self":1}"#.into(),
            "self",
        ),
        // token not a string
        (
            r#"{"action":"subscribe","id":"7","channel":"lobby","token":{"jwt":"x"}}"#.into(),
            "token must be a string",
        ),
        // malformed since
        (
            r#"{"action":"subscribe","id":"7","channel":"lobby","since":41}"#.into(),
            "since",
        ),
        (
            r#"{"action":"subscribe","id":"7","channel":"lobby","since":"41"}"#.into(),
            "since",
        ),
        (
            r#"{"action":"subscribe","id":"7","channel":"lobby","since":{"offset":41}}"#.into(),
            "since",
        ),
        (
            r#"{"action":"subscribe","id":"7","channel":"lobby","since":{"epoch":"e"}}"#.into(),
            "since",
        ),
        (
            r#"{"action":"subscribe","id":"7","channel":"lobby","since":{"offset":"41","epoch":"e"}}"#.into(),
            "since",
        ),
        (
            r#"{"action":"subscribe","id":"7","channel":"lobby","since":{"offset":-1,"epoch":"e"}}"#.into(),
            "since",
        ),
        (
            r#"{"action":"subscribe","id":"7","channel":"lobby","since":{"offset":1.5,"epoch":"e"}}"#.into(),
            "since",
        ),
        (
            r#"{"action":"subscribe","id":"7","channel":"lobby","since":{"offset":1,"epoch":5}}"#.into(),
            "since",
        ),
        (
            r#"{"action":"subscribe","id":"7","channel":"lobby","since":{"offset":1,"epoch":"e","x":1}}"#.into(),
            "since",
        ),
    ];
    for (frame, word) in &cases {
        // WHEN the frame arrives
        let error = refusal(frame);
        // THEN it is a 400 naming the problem, echoing the id
        assert_eq!(error.code, 400, "{frame}");
        assert_eq!(error.id.as_deref(), Some("7"), "{frame}");
        assert!(
            error.message.contains(word),
            "{frame}: {:?} lacks {word:?}",
            error.message
        );
        // AND its frame is the contract's error frame
        let sent = json_of(&error.to_json());
        assert_eq!(
            sent,
            json!({"type":"error","id":"7","code":400,"message": error.message}),
            "{frame}"
        );
    }
    // AND the same frames without an id are refused without one
    for (frame, _) in &cases {
        let without: Value = {
            let mut v = json_of(frame);
            v.as_object_mut().unwrap().remove("id");
            v
        };
        let error = refusal(&without.to_string());
        assert_eq!((error.code, error.id.clone()), (400, None), "{without}");
        assert!(
            json_of(&error.to_json()).get("id").is_none(),
            "{without}: no id key at all"
        );
    }
}

#[test]
fn what_is_not_a_command_is_left_to_be_echoed() {
    for frame in [
        "",
        " ",
        "hello",
        "{\"hello\": \"wörld\"} 🦀",
        "{not json",
        r#"{"action":"subscribe","channel":"lobby""#,
        r#"[{"action":"ping"}]"#,
        r#"["subscribe","lobby"]"#,
        r#""subscribe""#,
        "42",
        "null",
        r#"{"channel":"lobby"}"#,
        r#"{"type":"subscribe","channel":"lobby"}"#,
        r#"{"action":"shout","channel":"lobby"}"#,
        r#"{"action":"Subscribe","channel":"lobby"}"#,
        r#"{"action":"PING"}"#,
        r#"{"action":"publish ","channel":"lobby","data":1}"#,
        r#"{"action":"","channel":"lobby"}"#,
        r#"{"action":5}"#,
        r#"{"action":null}"#,
        r#"{"action":["ping"]}"#,
        r#"{"action":{"name":"ping"}}"#,
        r#"{"action":"$default"}"#,
        r#"{"action":"$connect"}"#,
    ] {
        // WHEN it arrives THEN the parser says it is not a command
        assert!(parse(frame).is_none(), "{frame:?}: {:?}", parse(frame));
    }
}

fn at(offset: u64) -> Position {
    Position {
        offset,
        epoch: "9f86d081884c7d65".into(),
    }
}

#[test]
fn subscribed_unsubscribed_pong_and_presence_replies_are_the_contracts() {
    assert_eq!(
        json_of(&protocol::subscribed(Some("1"), &lobby(), &at(41), None)),
        json!({"type":"subscribed","id":"1","channel":"lobby","offset":41,"epoch":"9f86d081884c7d65"})
    );
    assert_eq!(
        json_of(&protocol::subscribed(None, &lobby(), &at(0), Some(true))),
        json!({"type":"subscribed","channel":"lobby","offset":0,"epoch":"9f86d081884c7d65","recovered":true})
    );
    assert_eq!(
        json_of(&protocol::subscribed(
            Some("9"),
            &lobby(),
            &at(7),
            Some(false)
        )),
        json!({"type":"subscribed","id":"9","channel":"lobby","offset":7,"epoch":"9f86d081884c7d65","recovered":false})
    );
    assert_eq!(
        json_of(&protocol::unsubscribed(Some("2"), &lobby())),
        json!({"type":"unsubscribed","id":"2","channel":"lobby"})
    );
    assert_eq!(
        json_of(&protocol::unsubscribed(None, &lobby())),
        json!({"type":"unsubscribed","channel":"lobby"})
    );
    assert_eq!(
        json_of(&protocol::pong(Some("4"))),
        json!({"type":"pong","id":"4"})
    );
    assert_eq!(json_of(&protocol::pong(None)), json!({"type":"pong"}));
    let presence = Presence {
        channel: "lobby".into(),
        connections: 3,
        subjects: vec!["user-42".into(), "user-7".into()],
    };
    assert_eq!(
        json_of(&protocol::presence(Some("5"), &presence)),
        json!({"type":"presence","id":"5","channel":"lobby","connections":3,"subjects":["user-42","user-7"]})
    );
    let empty = Presence {
        channel: "lobby".into(),
        connections: 0,
        subjects: Vec::new(),
    };
    assert_eq!(
        json_of(&protocol::presence(None, &empty)),
        json!({"type":"presence","channel":"lobby","connections":0,"subjects":[]})
    );
    // An id that needs escaping comes back as sent.
    let id = "a\"b\\c\u{1}";
    assert_eq!(json_of(&protocol::pong(Some(id)))["id"], json!(id));
}

#[test]
fn published_replies_are_the_contracts_for_each_outcome() {
    // A synchronous publish: its offset and counts.
    let sync = Published::Sync {
        position: at(12),
        report: PublishReport {
            channel: "lobby".into(),
            recipients: 4,
            delivered: 2,
            gone: 1,
            failed: 1,
        },
    };
    assert_eq!(
        json_of(&protocol::published(Some("3"), &lobby(), &sync)),
        json!({"type":"published","id":"3","channel":"lobby","offset":12,"recipients":4,"delivered":2,"gone":1,"failed":1})
    );
    // A big channel: its offset and publishId, mode async.
    let asynchronous = Published::Async {
        position: at(13),
        publish_id: "0123456789abcdef0123456789abcdef".into(),
        shards: 8,
    };
    assert_eq!(
        json_of(&protocol::published(Some("3"), &lobby(), &asynchronous)),
        json!({"type":"published","id":"3","channel":"lobby","offset":13,"publishId":"0123456789abcdef0123456789abcdef","mode":"async"})
    );
    // A key seen before: the first one's offset, duplicate, zero counts.
    let duplicate = Published::Duplicate { offset: 12 };
    assert_eq!(
        json_of(&protocol::published(None, &lobby(), &duplicate)),
        json!({"type":"published","channel":"lobby","offset":12,"duplicate":true,"recipients":0,"delivered":0,"gone":0,"failed":0})
    );
}

#[test]
fn error_frames_are_the_contracts() {
    let frame = ErrorFrame::new(Some("1".into()), 403, "Forbidden: \"lobby\" is not granted");
    assert_eq!(
        json_of(&frame.to_json()),
        json!({"type":"error","id":"1","code":403,"message":"Forbidden: \"lobby\" is not granted"})
    );
    for code in [400u16, 401, 413, 429, 503] {
        assert_eq!(
            json_of(&ErrorFrame::new(None, code, "m").to_json()),
            json!({"type":"error","code":code,"message":"m"})
        );
    }
}

/// Any JSON value, a few levels deep.
fn any_json() -> impl Strategy<Value = Value> {
    let leaf = prop_oneof![
        Just(Value::Null),
        any::<bool>().prop_map(Value::Bool),
        any::<i64>().prop_map(Value::from),
        any::<u64>().prop_map(Value::from),
        any::<f64>()
            .prop_filter("finite", |f| f.is_finite())
            .prop_map(Value::from),
        ".{0,80}".prop_map(Value::String),
        "[a-z0-9_:.-]{0,140}".prop_map(Value::String),
        "[a-f0-9]{16}".prop_map(Value::String),
    ];
    leaf.prop_recursive(3, 24, 6, |inner| {
        prop_oneof![
            prop::collection::vec(inner.clone(), 0..6).prop_map(Value::Array),
            prop::collection::btree_map("[a-z]{1,8}", inner, 0..6)
                .prop_map(|m| Value::Object(m.into_iter().collect())),
        ]
    })
}

fn any_field_value() -> impl Strategy<Value = Value> {
    prop_oneof![
        any_json(),
        // plausible `since` values, good and bad
        (any::<i64>(), ".{0,20}").prop_map(|(o, e)| json!({"offset": o, "epoch": e})),
        (any::<u64>(), any_json()).prop_map(|(o, e)| json!({"offset": o, "epoch": e})),
    ]
}

proptest! {
    #![proptest_config(ProptestConfig::with_cases(2000))]

    #[test]
    fn no_string_panics_the_parser(frame in ".{0,400}") {
        if let Some(Err(error)) = parse(&frame) {
            prop_assert_eq!(error.code, 400);
        }
    }

    #[test]
    fn no_command_shaped_object_panics_the_parser(
        action in prop::sample::select(vec![
            "subscribe", "unsubscribe", "publish", "presence", "ping",
        ]),
        fields in prop::collection::btree_map(
            prop::sample::select(vec![
                "id", "channel", "data", "self", "key", "token", "since", "extra",
            ]),
            any_field_value(),
            0..8,
        ),
    ) {
        let mut object = serde_json::Map::new();
        object.insert("action".into(), json!(action));
        for (name, value) in fields {
            object.insert(name.into(), value);
        }
        let frame = Value::Object(object).to_string();
        match parse(&frame) {
            None => prop_assert!(false, "a frame with a real action is a command: {}", frame),
            Some(Err(error)) => {
                prop_assert_eq!(error.code, 400);
                // its frame is JSON, with the id only when it had a valid one
                let sent: Value = serde_json::from_str(&error.to_json()).unwrap();
                prop_assert_eq!(&sent["type"], &json!("error"));
                prop_assert_eq!(sent.get("id").and_then(Value::as_str), error.id.as_deref());
            }
            Some(Ok(command)) => {
                prop_assert_eq!(command.body.action().as_str(), action);
                // every command but ping names a valid channel
                prop_assert_eq!(command.body.channel().is_none(), action == "ping");
                if let Some(id) = &command.id {
                    prop_assert!(id.chars().count() <= 64);
                }
            }
        }
    }
}
