//! `$connect` with subscriber tokens on, on the API Gateway fixture
//! (tests/data/connect.json, `?channel=lobby`) with a token added the way a
//! client sends it: each case answers exactly, a refusal stores nothing, and
//! no log line carries the token.
//!
//! The only test of its binary: it captures log lines with a thread-local
//! subscriber, and a test on another thread without one could make tracing
//! cache the handler's span as disabled.

#![allow(clippy::unwrap_used, clippy::expect_used)] // a test fails by panicking

mod support;

use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use base64::Engine as _;
use channels::token::{LocalSigner, TokenSigner};
use serde_json::json;
use support::{connect_with, lambda_event, minted, setup, Capture, Setup, CONNECTION_ID};

#[tokio::test]
async fn each_token_case_answers_exactly_stores_only_on_success_and_never_logs_the_token() {
    let Setup { signer, deps } = setup();
    let now = channels::now_millis() / 1000;
    let good = minted(&signer, &["lobby"], &[], now).await.0;
    let other_channel = minted(&signer, &["room-1"], &[], now).await.0;
    let expired = minted(&signer, &["lobby"], &[], now - 4000).await.0;
    let stranger = minted(&LocalSigner::generate().unwrap(), &["lobby"], &[], now)
        .await
        .0;
    let (head, _) = good.rsplit_once('.').unwrap();
    let none_alg = format!(
        "{}.{}.",
        URL_SAFE_NO_PAD.encode(r#"{"alg":"none","typ":"JWT"}"#),
        head.split('.').nth(1).unwrap()
    );
    let tampered = {
        let mut sig = signer.sign(b"something else").await.unwrap();
        sig[0] ^= 1;
        format!("{head}.{}", URL_SAFE_NO_PAD.encode(sig))
    };

    let (capture, _guard) = Capture::start();

    // (case, ?token=, Authorization header, status, message)
    type Case<'a> = (&'a str, Option<&'a str>, Option<String>, i64, &'a str);
    let cases: Vec<Case> = vec![
        ("no token", None, None, 401, "Unauthorized"),
        ("malformed", Some("not-a-jwt"), None, 401, "Unauthorized"),
        ("expired", Some(&expired), None, 401, "Unauthorized"),
        ("another key", Some(&stranger), None, 401, "Unauthorized"),
        ("alg none", Some(&none_alg), None, 401, "Unauthorized"),
        ("bad signature", Some(&tampered), None, 401, "Unauthorized"),
        (
            "another channel",
            Some(&other_channel),
            None,
            403,
            "Forbidden",
        ),
        (
            "bearer, another channel",
            None,
            Some(format!("Bearer {other_channel}")),
            403,
            "Forbidden",
        ),
        (
            "basic scheme",
            None,
            Some(format!("Basic {good}")),
            401,
            "Unauthorized",
        ),
    ];
    for (name, token, header, status, message) in &cases {
        // WHEN a $connect carries it
        let response =
            rx::handle(lambda_event(connect_with(*token, header.as_deref())), &deps).await;
        // THEN it is refused with the category only, and nothing is stored
        assert_eq!(response.status_code, *status, "{name}");
        assert_eq!(
            support::message(&response),
            json!({ "message": message }),
            "{name}"
        );
        assert!(deps.store.is_empty(), "{name}: nothing stored");
    }

    // A good token, as ?token= and as a Bearer header, is accepted and stored.
    let response = rx::handle(lambda_event(connect_with(Some(&good), None)), &deps).await;
    assert_eq!(response.status_code, 200);
    assert_eq!(
        deps.store
            .channels_of(CONNECTION_ID)
            .first()
            .map(ToString::to_string),
        Some("lobby".into())
    );
    channels::Store::disconnect(&deps.store, CONNECTION_ID)
        .await
        .unwrap();
    let bearer = format!("bearer {good}");
    let response = rx::handle(lambda_event(connect_with(None, Some(&bearer))), &deps).await;
    assert_eq!(response.status_code, 200);
    assert!(deps.store.get(CONNECTION_ID).is_some());

    // AND the log says why each one was refused, with the connection id and
    // the holder, but no token, not even part of one
    let log = capture.text();
    assert!(
        log.contains("connection refused: subscriber token"),
        "{log}"
    );
    assert!(log.contains("reason=no token"), "{log}");
    assert!(log.contains("reason=expired at"), "{log}");
    assert!(
        log.contains("reason=channel lobby is not granted by the token"),
        "{log}"
    );
    assert!(log.contains(CONNECTION_ID), "{log}");
    assert!(
        log.contains("user-42"),
        "the subject of an accepted token: {log}"
    );
    for token in [
        &good,
        &other_channel,
        &expired,
        &stranger,
        &none_alg,
        &tampered,
    ] {
        let signature = token.rsplit('.').next().unwrap();
        let claims = token.split('.').nth(1).unwrap();
        assert!(
            !log.contains(claims),
            "the log carries a token's claims: {log}"
        );
        assert!(
            signature.is_empty() || !log.contains(signature),
            "the log carries a signature"
        );
    }
}
