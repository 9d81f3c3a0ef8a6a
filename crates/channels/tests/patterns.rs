//! Grants: the pattern table (exact names, prefixes, `*`, near misses,
//! case, malformed patterns, lengths), `Grants`, and the grants a token
//! carries through minting and verification, with the verifier's lifetime
//! cap and its refusal of a token without `iat` or with an `iat` in the
//! future.

#![allow(clippy::unwrap_used, clippy::expect_used)] // a test fails by panicking

mod support;

use channels::token::{mint, LocalSigner, MintRequest, TokenError};
use channels::{ChannelError, Grants, Pattern, PatternError};
use serde_json::{json, Value};
use support::{channel as name, hand_signed, minter, verifier, AUD, ISS, NOW};

fn pattern(text: &str) -> Pattern {
    Pattern::parse(text).unwrap_or_else(|e| panic!("{text:?} is a valid pattern: {e}"))
}

fn patterns(texts: &[&str]) -> Vec<Pattern> {
    texts.iter().map(|t| pattern(t)).collect()
}

#[test]
fn each_pattern_grants_exactly_the_names_it_should() {
    // (pattern, channel, granted)
    let table: &[(&str, &str, bool)] = &[
        // exact names
        ("lobby", "lobby", true),
        ("lobby", "lobby2", false),
        ("lobby", "lobb", false),
        ("lobby", "xlobby", false),
        // prefixes
        ("room-*", "room-1", true),
        ("room-*", "room-123", true),
        ("room-*", "room-", true),
        ("room-*", "room-a:b.c_d", true),
        ("room-*", "room", false),
        ("room-*", "rooms", false),
        ("room-*", "xroom-1", false),
        ("room*", "room", true),
        ("room*", "rooms", true),
        ("room*", "room-1", true),
        ("user:42:*", "user:42:inbox", true),
        ("user:42:*", "user:42:", true),
        ("user:42:*", "user:420:inbox", false),
        ("user:42:*", "user:4", false),
        // near misses between exact names and prefixes
        ("room-1", "room-1x", false),
        ("room-1x", "room-1", false),
        ("room-1", "room-1", true),
        ("room-1", "room-10", false),
        ("room-1*", "room-1", true),
        ("room-1*", "room-10", true),
        ("room-1*", "room-2", false),
        // case: byte for byte
        ("Lobby", "lobby", false),
        ("lobby", "Lobby", false),
        ("Lobby", "Lobby", true),
        ("Room-*", "room-1", false),
        ("room-*", "ROOM-1", false),
        // everything
        ("*", "lobby", true),
        ("*", "a", true),
        ("*", "Z:9.-_", true),
    ];
    for (text, channel, granted) in table {
        // GIVEN the pattern WHEN it is asked about the channel
        let matched = pattern(text).matches(&name(channel));
        // THEN the answer is exactly the table's
        assert_eq!(matched, *granted, "{text:?} matching {channel:?}");
    }
    // AND the longest name is matched by `*` and by its own prefix
    let longest = "x".repeat(128);
    assert!(Pattern::all().matches(&name(&longest)));
    assert!(pattern(&format!("{}*", "x".repeat(127))).matches(&name(&longest)));
    assert!(pattern(&longest).matches(&name(&longest)));
}

#[test]
fn a_star_anywhere_but_at_the_end_is_refused() {
    for text in ["a*b", "*a", "**", "room-*-x", "*room-*", "a**", "room-**"] {
        // WHEN such a pattern is parsed THEN it is refused for its star
        match Pattern::parse(text) {
            Err(PatternError::Star(shown)) => assert_eq!(shown, text),
            other => panic!("{text:?}: {other:?}"),
        }
    }
    // AND the message says where a star may go
    let message = Pattern::parse("a*b").unwrap_err().to_string();
    assert!(
        message.contains("a '*' may only end a pattern"),
        "{message}"
    );
}

#[test]
fn patterns_hold_to_the_channel_characters_and_lengths() {
    // GIVEN patterns at and past the limits
    let cases: Vec<(String, Result<(), PatternError>)> = vec![
        ("*".into(), Ok(())),
        ("x".repeat(128), Ok(())),
        (format!("{}*", "x".repeat(127)), Ok(())),
        (
            "x".repeat(129),
            Err(PatternError::Name(ChannelError::TooLong(129))),
        ),
        (
            format!("{}*", "x".repeat(128)),
            Err(PatternError::Name(ChannelError::TooLong(129))),
        ),
        (String::new(), Err(PatternError::Name(ChannelError::Empty))),
        (
            "a b*".into(),
            Err(PatternError::Name(ChannelError::BadCharacter(' '))),
        ),
        (
            "room/*".into(),
            Err(PatternError::Name(ChannelError::BadCharacter('/'))),
        ),
        (
            "é*".into(),
            Err(PatternError::Name(ChannelError::BadCharacter('é'))),
        ),
        (
            "lobby#1".into(),
            Err(PatternError::Name(ChannelError::BadCharacter('#'))),
        ),
    ];
    for (text, expected) in cases {
        // WHEN each is parsed THEN the outcome is exactly the expected one
        assert_eq!(Pattern::parse(&text).map(|_| ()), expected, "{text:?}");
    }
    // AND a parsed pattern shows as written
    assert_eq!(pattern("room-*").to_string(), "room-*");
    assert_eq!(pattern("room-*").as_str(), "room-*");
    assert_eq!(pattern("*"), Pattern::all());
}

#[test]
fn grants_keep_subscribing_and_publishing_apart() {
    // GIVEN grants to subscribe to lobby and room-*, and to publish to room-* only
    let grants = Grants {
        subscribe: patterns(&["lobby", "room-*"]),
        publish: patterns(&["room-*"]),
    };
    // THEN each right answers on its own
    assert!(grants.can_subscribe(&name("lobby")));
    assert!(grants.can_subscribe(&name("room-7")));
    assert!(!grants.can_subscribe(&name("lobby2")));
    assert!(!grants.can_subscribe(&name("room")));
    assert!(grants.can_publish(&name("room-7")));
    assert!(
        !grants.can_publish(&name("lobby")),
        "subscribe is not publish"
    );
    // AND no grants grant nothing; all grants grant everything
    let none = Grants::default();
    assert!(!none.can_subscribe(&name("lobby")));
    assert!(!none.can_publish(&name("lobby")));
    let all = Grants::all();
    assert_eq!(all.subscribe, [Pattern::all()]);
    assert_eq!(all.publish, [Pattern::all()]);
    for channel in ["lobby", "room-1", "x", "A:b.c-d_e"] {
        assert!(all.can_subscribe(&name(channel)), "{channel}");
        assert!(all.can_publish(&name(channel)), "{channel}");
    }
}

#[test]
fn extending_grants_adds_each_pattern_once_in_order() {
    // GIVEN grants, and another set overlapping them
    let mut grants = Grants {
        subscribe: patterns(&["lobby"]),
        publish: Vec::new(),
    };
    let more = Grants {
        subscribe: patterns(&["room-*", "lobby"]),
        publish: patterns(&["room-*", "room-*"]),
    };
    // WHEN extended twice
    grants.extend(&more);
    grants.extend(&more);
    // THEN each pattern is there once, the old ones first
    assert_eq!(grants.subscribe, patterns(&["lobby", "room-*"]));
    assert_eq!(grants.publish, patterns(&["room-*"]));
    assert!(grants.can_publish(&name("room-9")));
    assert!(!grants.can_publish(&name("lobby")));
}

async fn minted(signer: &LocalSigner, request: Value) -> String {
    let request = MintRequest::parse(request.to_string().as_bytes(), 86_400).unwrap();
    mint(signer, &minter(signer), request, NOW)
        .await
        .unwrap()
        .token
}

#[tokio::test]
async fn a_token_grants_its_channel_and_publish_patterns() {
    // GIVEN a token minted for lobby and room-*, publishing to room-*
    let signer = LocalSigner::generate().unwrap();
    let token = minted(
        &signer,
        json!({"channels": ["lobby", "room-*"], "publish": ["room-*"], "subject": "user-42"}),
    )
    .await;
    // WHEN its grants are read
    let (claims, grants) = verifier(&signer).grants(&token, NOW).unwrap();
    // THEN they are exactly the patterns minted
    assert_eq!(
        grants,
        Grants {
            subscribe: patterns(&["lobby", "room-*"]),
            publish: patterns(&["room-*"]),
        }
    );
    assert_eq!(claims.channels, ["lobby", "room-*"]);
    assert_eq!(claims.publish, ["room-*"]);
    assert_eq!(claims.sub.as_deref(), Some("user-42"));
    // AND authorize lets in what they match and refuses the rest with 403
    let v = verifier(&signer);
    assert!(v.authorize(Some(&token), &name("room-7"), NOW).is_ok());
    assert!(v.authorize(Some(&token), &name("lobby"), NOW).is_ok());
    for refused in ["room", "lobby2", "Lobby", "rooms-1"] {
        let err = v
            .authorize(Some(&token), &name(refused), NOW)
            .expect_err(refused);
        assert_eq!(err, TokenError::Channel(refused.into()));
        assert_eq!(err.status(), 403);
    }
}

#[tokio::test]
async fn a_token_without_publish_grants_no_publishing() {
    let signer = LocalSigner::generate().unwrap();
    let token = minted(&signer, json!({"channels": ["*"]})).await;
    let (_, grants) = verifier(&signer).grants(&token, NOW).unwrap();
    assert_eq!(grants.subscribe, [Pattern::all()]);
    assert!(grants.publish.is_empty());
    assert!(grants.can_subscribe(&name("anything")));
    assert!(!grants.can_publish(&name("anything")));
}

#[tokio::test]
async fn a_signed_token_with_a_malformed_pattern_is_refused_as_malformed() {
    // GIVEN a correctly signed token whose channels hold a star inside a name
    let signer = LocalSigner::generate().unwrap();
    for (field, value) in [
        ("channels", json!(["a*b"])),
        ("channels", json!(["lobby", "no spaces"])),
        ("publish", json!(["**"])),
    ] {
        let mut claims = json!({
            "channels": ["lobby"], "exp": NOW + 600, "iat": NOW, "aud": AUD, "iss": ISS,
        });
        claims[field] = value.clone();
        let token = hand_signed(&signer, &claims).await;
        // WHEN its grants are read, or it is presented for lobby
        let v = verifier(&signer);
        // THEN the signature is fine but the token is refused, with 401
        assert!(v.verify(&token, NOW).is_ok(), "{field}: {value}");
        let expected = TokenError::Malformed("a channel pattern is invalid");
        assert_eq!(v.grants(&token, NOW).map(|_| ()), Err(expected.clone()));
        let err = v.authorize(Some(&token), &name("lobby"), NOW).unwrap_err();
        assert_eq!((err.clone(), err.status()), (expected, 401));
    }
}

#[tokio::test]
async fn the_verifier_caps_the_lifetime_whatever_the_minter_allowed() {
    // GIVEN a verifier allowing 10 minutes, and a minter allowing a day
    let signer = LocalSigner::generate().unwrap();
    let v = verifier(&signer).with_max_lifetime(600);
    assert_eq!(v.max_lifetime_secs(), 600);
    // WHEN tokens of 600 and 601 seconds are presented
    let ok = minted(&signer, json!({"channels": ["lobby"], "ttlSeconds": 600})).await;
    let long = minted(&signer, json!({"channels": ["lobby"], "ttlSeconds": 601})).await;
    // THEN the first passes and the second is refused, 401
    assert!(v.grants(&ok, NOW).is_ok());
    assert_eq!(
        v.grants(&long, NOW).map(|_| ()),
        Err(TokenError::Lifetime(601))
    );
    assert_eq!(
        v.authorize(Some(&long), &name("lobby"), NOW)
            .unwrap_err()
            .status(),
        401
    );
    // AND a token issued long ago that expires soon is measured from iat, not now
    let old = hand_signed(
        &signer,
        &json!({"channels": ["lobby"], "exp": NOW + 60, "iat": NOW - 3600, "aud": AUD, "iss": ISS}),
    )
    .await;
    assert_eq!(
        v.verify(&old, NOW).map(|_| ()),
        Err(TokenError::Lifetime(3660))
    );
    // AND the default verifier accepts the day-long one
    let day = minted(
        &signer,
        json!({"channels": ["lobby"], "ttlSeconds": 86_400}),
    )
    .await;
    assert!(verifier(&signer).grants(&day, NOW).is_ok());
    assert_eq!(
        verifier(&signer)
            .with_max_lifetime(86_399)
            .grants(&day, NOW)
            .map(|_| ()),
        Err(TokenError::Lifetime(86_400))
    );
}

#[tokio::test]
async fn an_iat_in_the_future_cannot_stretch_the_lifetime_cap() {
    // GIVEN a verifier allowing a day, and a hand-signed token whose
    // exp - iat is a day but whose iat is six days ahead: it would live a week
    let signer = LocalSigner::generate().unwrap();
    let v = verifier(&signer);
    assert_eq!(v.max_lifetime_secs(), 86_400);
    let day = 86_400;
    let claims = |iat: i64, exp: i64| json!({"channels": ["lobby"], "exp": exp, "iat": iat, "aud": AUD, "iss": ISS});
    let ahead = hand_signed(&signer, &claims(NOW + 6 * day, NOW + 7 * day)).await;
    // WHEN it is verified now
    // THEN it is refused for its iat, 401
    assert_eq!(
        v.verify(&ahead, NOW).map(|_| ()),
        Err(TokenError::IssuedInFuture(NOW + 6 * day))
    );
    let err = v.authorize(Some(&ahead), &name("lobby"), NOW).unwrap_err();
    assert_eq!(err.status(), 401);
    assert_eq!(
        err.to_string(),
        format!("issued in the future, at {}", NOW + 6 * day)
    );
    // AND an iat within the clock skew passes, one second past it does not
    let skewed = hand_signed(&signer, &claims(NOW + 60, NOW + 600)).await;
    assert!(v.verify(&skewed, NOW).is_ok());
    let past_skew = hand_signed(&signer, &claims(NOW + 61, NOW + 600)).await;
    assert_eq!(
        v.verify(&past_skew, NOW).map(|_| ()),
        Err(TokenError::IssuedInFuture(NOW + 61))
    );
    // AND the same token is accepted once its iat has come (it was signed well)
    assert!(v.verify(&ahead, NOW + 6 * day).is_ok());
}

#[tokio::test]
async fn a_token_without_iat_is_refused() {
    // GIVEN a correctly signed, current token whose claims lack iat
    let signer = LocalSigner::generate().unwrap();
    let claims =
        json!({"channels": ["lobby"], "exp": NOW + 600, "aud": AUD, "iss": ISS, "sub": "u"});
    let token = hand_signed(&signer, &claims).await;
    // WHEN it is verified
    let outcome = verifier(&signer).verify(&token, NOW).map(|_| ());
    // THEN it is refused as malformed, 401
    assert_eq!(
        outcome,
        Err(TokenError::Malformed(
            "claims are missing or of the wrong type"
        ))
    );
    let err = verifier(&signer)
        .authorize(Some(&token), &name("lobby"), NOW)
        .unwrap_err();
    assert_eq!(err.status(), 401);
    // AND the same claims with iat pass (the refusal is for iat alone)
    let mut with_iat = claims.clone();
    with_iat["iat"] = json!(NOW);
    let token = hand_signed(&signer, &with_iat).await;
    assert!(verifier(&signer).verify(&token, NOW).is_ok());
}
