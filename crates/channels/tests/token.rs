//! Subscriber tokens: a table of tokens, each with its exact outcome; minting
//! and its validation; and a property test that no input panics the verifier.

#![allow(clippy::unwrap_used, clippy::expect_used)] // a test fails by panicking

mod support;

use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use base64::Engine as _;
use channels::token::{
    mint, LocalSigner, MintError, MintRequest, TokenError, Verifier, MAX_TOKEN_CHANNELS,
};
use channels::ChannelName;
use proptest::prelude::*;
use serde_json::{json, Value};
use support::{b64, header, lobby, minter, sign, verifier, AUD, ISS, NOW};

fn claims() -> Value {
    json!({
        "channels": ["lobby", "room-1"],
        "exp": NOW + 600,
        "iat": NOW - 10,
        "aud": AUD,
        "iss": ISS,
        "sub": "user-42",
    })
}

fn with(mut claims: Value, key: &str, value: Value) -> Value {
    claims[key] = value;
    claims
}

#[tokio::test]
async fn each_kind_of_token_gets_its_exact_outcome() {
    // GIVEN one signing key, and another that the verifier does not know
    let signer = LocalSigner::generate().unwrap();
    let stranger = LocalSigner::generate().unwrap();
    let verifier = verifier(&signer);
    let h = header(&signer);

    let valid = sign(&signer, &h, &claims()).await;
    let (valid_head, valid_sig) = valid.rsplit_once('.').unwrap();
    let mut parts = valid.split('.');
    let (vh, _vp) = (parts.next().unwrap(), parts.next().unwrap());

    let tampered_payload = format!(
        "{vh}.{}.{valid_sig}",
        b64(&with(claims(), "channels", json!(["lobby", "admin"])))
    );
    let mut sig_bytes = URL_SAFE_NO_PAD.decode(valid_sig).unwrap();
    sig_bytes[10] ^= 0x01;
    let tampered_signature = format!("{valid_head}.{}", URL_SAFE_NO_PAD.encode(&sig_bytes));

    // alg none: no signature at all.
    let none = format!(
        "{}.{}.",
        b64(&json!({"alg":"none","typ":"JWT"})),
        b64(&claims())
    );
    // HS256 keyed with the public key's bytes (the classic confusion).
    let hs_input = format!(
        "{}.{}",
        b64(&json!({"alg":"HS256","typ":"JWT","kid":signer.public_key().kid()})),
        b64(&claims())
    );
    let mac_key = ring::hmac::Key::new(ring::hmac::HMAC_SHA256, &signer.public_key().to_spki_der());
    let hs256 = format!(
        "{hs_input}.{}",
        URL_SAFE_NO_PAD.encode(ring::hmac::sign(&mac_key, hs_input.as_bytes()))
    );
    let rs256 = format!(
        "{}.{}.{}",
        b64(&json!({"alg":"RS256","typ":"JWT"})),
        b64(&claims()),
        URL_SAFE_NO_PAD.encode([7u8; 256])
    );
    // ES256 in the header, ES256 in the signature, but the other key's.
    let foreign = sign(&stranger, &header(&stranger), &claims()).await;
    let foreign_with_our_kid = sign(&stranger, &h, &claims()).await;

    let cases: Vec<(&str, String, Result<(), TokenError>)> = vec![
        ("valid", valid.clone(), Ok(())),
        (
            "valid, aud as an array",
            sign(&signer, &h, &with(claims(), "aud", json!(["other", AUD]))).await,
            Ok(()),
        ),
        (
            "valid, expired within the leeway",
            sign(&signer, &h, &with(claims(), "exp", json!(NOW - 30))).await,
            Ok(()),
        ),
        (
            "expired",
            sign(&signer, &h, &with(claims(), "exp", json!(NOW - 61))).await,
            Err(TokenError::Expired(NOW - 61)),
        ),
        (
            "nbf in the future",
            sign(&signer, &h, &with(claims(), "nbf", json!(NOW + 120))).await,
            Err(TokenError::NotYetValid(NOW + 120)),
        ),
        (
            "nbf within the leeway",
            sign(&signer, &h, &with(claims(), "nbf", json!(NOW + 30))).await,
            Ok(()),
        ),
        (
            "wrong aud",
            sign(
                &signer,
                &h,
                &with(claims(), "aud", json!("wss://other/staging")),
            )
            .await,
            Err(TokenError::Audience),
        ),
        (
            "wrong iss",
            sign(&signer, &h, &with(claims(), "iss", json!("https://evil"))).await,
            Err(TokenError::Issuer),
        ),
        (
            "wrong channel",
            sign(&signer, &h, &with(claims(), "channels", json!(["room-1"]))).await,
            Err(TokenError::Channel("lobby".into())),
        ),
        (
            "tampered payload",
            tampered_payload,
            Err(TokenError::BadSignature),
        ),
        (
            "tampered signature",
            tampered_signature,
            Err(TokenError::BadSignature),
        ),
        ("alg none", none, Err(TokenError::Algorithm("none".into()))),
        (
            "HS256 keyed with the public key",
            hs256,
            Err(TokenError::Algorithm("HS256".into())),
        ),
        ("RS256", rs256, Err(TokenError::Algorithm("RS256".into()))),
        ("another key's kid", foreign, Err(TokenError::UnknownKey)),
        (
            "another key, our kid",
            foreign_with_our_kid,
            Err(TokenError::BadSignature),
        ),
        (
            "truncated",
            valid[..valid.len() - 22].to_owned(),
            Err(TokenError::BadSignature),
        ),
        (
            "two parts",
            valid_head.to_owned(),
            Err(TokenError::Malformed("not three base64url parts")),
        ),
        (
            "four parts",
            format!("{valid}.x"),
            Err(TokenError::Malformed("not three base64url parts")),
        ),
        (
            "not base64url",
            format!("{vh}.$$$.{valid_sig}"),
            Err(TokenError::BadSignature),
        ),
        (
            "header not base64url",
            format!("***.{}", &valid[vh.len() + 1..]),
            Err(TokenError::Malformed("header is not base64url")),
        ),
        (
            "signature not base64url",
            format!("{valid_head}.!!"),
            Err(TokenError::Malformed("signature is not base64url")),
        ),
        (
            "padded base64",
            format!("{valid}="),
            Err(TokenError::Malformed("signature is not base64url")),
        ),
        (
            "huge (64 KiB)",
            "a".repeat(64 * 1024),
            Err(TokenError::Malformed("longer than 8 KiB")),
        ),
        ("empty", String::new(), Err(TokenError::Missing)),
        (
            "missing exp",
            sign(&signer, &h, &{
                let mut c = claims();
                c.as_object_mut().unwrap().remove("exp");
                c
            })
            .await,
            Err(TokenError::Malformed(
                "claims are missing or of the wrong type",
            )),
        ),
        (
            "channels not an array",
            sign(&signer, &h, &with(claims(), "channels", json!("lobby"))).await,
            Err(TokenError::Malformed(
                "claims are missing or of the wrong type",
            )),
        ),
        (
            "crit header",
            sign(&signer, &with(h.clone(), "crit", json!(["exp"])), &claims()).await,
            Err(TokenError::Malformed("critical header extensions")),
        ),
        (
            "typ other than JWT",
            sign(&signer, &with(h.clone(), "typ", json!("at+jwt")), &claims()).await,
            Err(TokenError::Malformed("typ is not JWT")),
        ),
    ];

    for (name, token, expected) in cases {
        // WHEN it is presented for the channel lobby
        let outcome = verifier.authorize(Some(&token), &lobby(), NOW).map(|_| ());
        // THEN the outcome is exactly the expected one
        assert_eq!(outcome, expected, "{name}");
        // AND no refusal's log reason carries the token
        if let Err(err) = outcome {
            let reason = err.to_string();
            assert!(
                token.len() < 8 || !reason.contains(&token[..8]),
                "{name}: {reason}"
            );
        }
    }
}

#[tokio::test]
async fn statuses_are_401_except_a_missing_channel() {
    assert_eq!(TokenError::Missing.status(), 401);
    assert_eq!(TokenError::BadSignature.category(), "Unauthorized");
    assert_eq!(TokenError::Channel("x".into()).status(), 403);
    assert_eq!(TokenError::Channel("x".into()).category(), "Forbidden");
    let verifier = verifier(&LocalSigner::generate().unwrap());
    assert_eq!(
        verifier.authorize(None, &lobby(), NOW),
        Err(TokenError::Missing)
    );
}

#[tokio::test]
async fn a_key_set_verifies_tokens_of_each_key_by_kid() {
    // GIVEN two keys (a rotation in progress)
    let old = LocalSigner::generate().unwrap();
    let new = LocalSigner::generate().unwrap();
    let verifier = Verifier::new(
        vec![new.public_key().clone(), old.public_key().clone()],
        AUD,
        ISS,
    );
    // THEN tokens of either verify, and a token without kid does not (two keys)
    for signer in [&old, &new] {
        let token = sign(signer, &header(signer), &claims()).await;
        assert!(verifier.verify(&token, NOW).is_ok());
    }
    let no_kid = sign(&new, &json!({"alg":"ES256","typ":"JWT"}), &claims()).await;
    assert_eq!(verifier.verify(&no_kid, NOW), Err(TokenError::UnknownKey));
    // AND with a single key, a token without kid is fine
    let single = Verifier::new(vec![new.public_key().clone()], AUD, ISS);
    assert!(single.verify(&no_kid, NOW).is_ok());
}

#[tokio::test]
async fn a_minted_token_verifies_and_grants_exactly_its_channels() {
    // GIVEN a valid request
    let signer = LocalSigner::generate().unwrap();
    let request = MintRequest::parse(
        br#"{"channels":["lobby","room-1","lobby"],"ttlSeconds":900,"subject":"user-42"}"#,
        86_400,
    )
    .unwrap();
    // WHEN it is minted
    let minted = mint(&signer, &minter(&signer), request, NOW).await.unwrap();
    // THEN the answer says what it grants and until when
    assert_eq!(minted.channels, ["lobby", "room-1"]);
    assert_eq!(minted.expires_at, NOW + 900);
    // AND the token verifies, with the claims asked for
    let claims = verifier(&signer)
        .authorize(Some(&minted.token), &lobby(), NOW)
        .unwrap();
    assert_eq!(claims.sub.as_deref(), Some("user-42"));
    assert_eq!((claims.iat, claims.exp), (NOW, NOW + 900));
    assert_eq!(claims.aud, [AUD]);
    // AND it does not open another channel, nor outlive its TTL
    let other = ChannelName::parse("room-2").unwrap();
    assert_eq!(
        verifier(&signer).authorize(Some(&minted.token), &other, NOW),
        Err(TokenError::Channel("room-2".into()))
    );
    assert_eq!(
        verifier(&signer).verify(&minted.token, NOW + 900 + 61),
        Err(TokenError::Expired(NOW + 900))
    );
    // AND its header names the key
    let header: Value = serde_json::from_slice(
        &URL_SAFE_NO_PAD
            .decode(minted.token.split('.').next().unwrap())
            .unwrap(),
    )
    .unwrap();
    assert_eq!(
        header,
        json!({"alg":"ES256","typ":"JWT","kid":signer.public_key().kid()})
    );
}

#[tokio::test]
async fn a_signer_that_does_not_hold_the_configured_key_is_caught_at_mint() {
    let signer = LocalSigner::generate().unwrap();
    let other = LocalSigner::generate().unwrap();
    let request = MintRequest::parse(br#"{"channels":["lobby"]}"#, 60).unwrap();
    let err = mint(&signer, &minter(&other), request, NOW)
        .await
        .unwrap_err();
    assert!(err.to_string().contains(other.public_key().kid()), "{err}");
}

#[test]
fn mint_requests_are_validated_field_by_field() {
    let parse = |body: &str| MintRequest::parse(body.as_bytes(), 7200);
    // Defaults: 3600 s, no subject; at most the deployment's maximum.
    let ok = parse(r#"{"channels":["a"]}"#).unwrap();
    assert_eq!((ok.ttl_secs, ok.subject), (3600, None));
    assert_eq!(
        MintRequest::parse(br#"{"channels":["a"]}"#, 60)
            .unwrap()
            .ttl_secs,
        60
    );
    assert_eq!(
        parse(r#"{"channels":["a"],"ttlSeconds":7200}"#)
            .unwrap()
            .ttl_secs,
        7200
    );
    let sixteen: Vec<String> = (0..MAX_TOKEN_CHANNELS).map(|i| format!("c{i}")).collect();
    assert!(parse(&json!({ "channels": sixteen }).to_string()).is_ok());

    let seventeen: Vec<String> = (0..17).map(|i| format!("c{i}")).collect();
    let cases: Vec<(String, MintError)> = vec![
        (r#"{"channels":[]}"#.into(), MintError::ChannelCount(0)),
        (
            json!({ "channels": seventeen }).to_string(),
            MintError::ChannelCount(17),
        ),
        (
            r#"{"channels":["ok","no spaces"]}"#.into(),
            MintError::Pattern {
                field: "channels",
                index: 1,
                error: channels::ChannelError::BadCharacter(' ').into(),
            },
        ),
        (
            r#"{"channels":["a"],"ttlSeconds":0}"#.into(),
            MintError::Ttl { got: 0, max: 7200 },
        ),
        (
            r#"{"channels":["a"],"ttlSeconds":7201}"#.into(),
            MintError::Ttl {
                got: 7201,
                max: 7200,
            },
        ),
        (
            r#"{"channels":["a"],"subject":""}"#.into(),
            MintError::Subject,
        ),
        (
            r#"{"channels":["a"],"subject":"a\nb"}"#.into(),
            MintError::Subject,
        ),
        (
            json!({"channels":["a"],"subject":"x".repeat(257)}).to_string(),
            MintError::Subject,
        ),
    ];
    for (body, expected) in cases {
        assert_eq!(parse(&body), Err(expected), "{body}");
    }
    for body in [
        "",
        "not json",
        r#"{"channel":["a"]}"#,
        r#"{"channels":["a"],"ttl":60}"#,
        r#"{"channels":"a"}"#,
        r#"{"channels":["a"],"ttlSeconds":-1}"#,
        r#"{"channels":["a"],"ttlSeconds":1.5}"#,
    ] {
        let err = parse(body).unwrap_err();
        assert!(matches!(err, MintError::Body(_)), "{body}: {err:?}");
        assert!(err.to_string().contains("channels"), "{err}");
    }
}

#[test]
fn mint_requests_may_be_forms_as_curl_d_sends_them() {
    let parse = |body: &str| MintRequest::parse(body.as_bytes(), 7200);
    let names = |m: &channels::token::ValidMint| -> Vec<String> {
        m.channels.iter().map(ToString::to_string).collect()
    };
    let ok = parse("channels=lobby,room-1&ttlSeconds=900&subject=user%2042").unwrap();
    assert_eq!(names(&ok), ["lobby", "room-1"]);
    assert_eq!((ok.ttl_secs, ok.subject.as_deref()), (900, Some("user 42")));
    let repeated = parse("channels=a&channels=b,c").unwrap();
    assert_eq!(names(&repeated), ["a", "b", "c"]);
    // The same validation as JSON.
    assert_eq!(
        parse("channels=a&ttlSeconds=0"),
        Err(MintError::Ttl { got: 0, max: 7200 })
    );
    assert_eq!(
        parse("channels="),
        Err(MintError::Pattern {
            field: "channels",
            index: 0,
            error: channels::ChannelError::Empty.into(),
        })
    );
    for body in [
        "",
        "channel=a",
        "channels=a&ttl=5",
        "channels=a&ttlSeconds=soon",
    ] {
        let err = parse(body).unwrap_err();
        assert!(matches!(err, MintError::Body(_)), "{body}: {err:?}");
    }
}

proptest! {
    #![proptest_config(ProptestConfig::with_cases(2000))]

    #[test]
    fn no_string_panics_the_verifier(token in ".{0,600}") {
        let verifier = Verifier::new(Vec::new(), AUD, ISS);
        let _ = verifier.authorize(Some(&token), &lobby(), NOW);
    }

    #[test]
    fn no_three_part_token_panics_the_verifier(
        header in "[A-Za-z0-9_-]{0,80}",
        payload in "[A-Za-z0-9_-]{0,200}",
        signature in "[A-Za-z0-9_=.-]{0,120}",
    ) {
        let signer = LocalSigner::generate().unwrap();
        let verifier = verifier(&signer);
        let _ = verifier.verify(&format!("{header}.{payload}.{signature}"), NOW);
        // Well-formed JSON parts too, with arbitrary values.
        let h = b64(&json!({"alg": header, "kid": payload}));
        let _ = verifier.verify(&format!("{h}.{payload}.{signature}"), NOW);
    }
}
