//! `POST /tokens` and `GET /.well-known/jwks.json` on HTTP API events as AWS
//! sends them (tests/data/post_tokens.json is what `curl -d` sends through
//! API Gateway: a form, base64-encoded).

#![allow(clippy::unwrap_used, clippy::expect_used)] // a test fails by panicking

mod support;

use aws_lambda_events::apigw::ApiGatewayV2httpRequest;
use aws_lambda_events::encodings::Body;
use channels::memory::MemoryStore;
use channels::testing::MemoryNotifier;
use channels::token::{LocalSigner, Minter, SignError, TokenSigner, Verifier, SIGNATURE_LEN};
use channels::{ChannelName, Fanout, PublishOptions};
use http_lambda::{handle, Deps, Tokens};
use serde_json::json;
use support::{event, http_event, json_of, minter, AUD, ISS};

fn deps<K>(signer: K, minter: Minter, verifier: &Verifier) -> Deps<MemoryStore, MemoryNotifier, K> {
    Deps {
        tokens: Some(Tokens::new(signer, minter, verifier)),
        ..Deps::new(Fanout::new(
            MemoryStore::new(),
            MemoryNotifier::new(),
            PublishOptions::default(),
        ))
    }
}

fn with_body(mut request: ApiGatewayV2httpRequest, body: &str) -> ApiGatewayV2httpRequest {
    request.body = Some(body.to_owned());
    request.is_base64_encoded = false;
    request
}

#[tokio::test]
async fn a_minted_token_grants_its_channels_until_it_expires() {
    // GIVEN a deployment whose signer holds the first of two published keys
    let signer = LocalSigner::generate().unwrap();
    let old = LocalSigner::generate().unwrap();
    let verifier = Verifier::new(
        vec![signer.public_key().clone(), old.public_key().clone()],
        AUD,
        ISS,
    );
    let minter = minter(&signer);
    let deps = deps(signer, minter, &verifier);

    // WHEN curl -d posts the form of the fixture
    let response = handle(event(http_event("post_tokens.json")), &deps).await;

    // THEN the answer carries the token, its expiry and its channels
    assert_eq!(response.status_code, 200, "{:?}", json_of(&response));
    let body = json_of(&response);
    let now = channels::now_millis() / 1000;
    let expires_at = body["expiresAt"].as_i64().unwrap();
    assert!((now + 899..=now + 901).contains(&expires_at), "{body}");
    assert_eq!(body["channels"], json!(["lobby", "room-1"]));
    // `token` first, as documented (the Terraform wscat line cuts it out).
    let Some(Body::Text(text)) = &response.body else {
        panic!("a text body")
    };
    assert!(text.starts_with(r#"{"token":""#), "{text}");
    assert!(
        text.find(r#""expiresAt""#) < text.find(r#""channels""#),
        "{text}"
    );
    // AND the token verifies for those channels, with the subject asked for
    let token = body["token"].as_str().unwrap();
    let lobby = ChannelName::parse("lobby").unwrap();
    let claims = verifier.authorize(Some(token), &lobby, now).unwrap();
    assert_eq!(claims.sub.as_deref(), Some("user-42"));
    assert!(verifier
        .authorize(Some(token), &ChannelName::parse("room-2").unwrap(), now)
        .is_err());

    // AND the JWKS lists both keys, the signing one first
    let jwks = handle(event(http_event("get_jwks.json")), &deps).await;
    assert_eq!(jwks.status_code, 200);
    assert_eq!(
        jwks.headers
            .get("cache-control")
            .and_then(|v| v.to_str().ok()),
        Some("public, max-age=300")
    );
    let doc = json_of(&jwks);
    let kids: Vec<&str> = doc["keys"]
        .as_array()
        .unwrap()
        .iter()
        .map(|k| k["kid"].as_str().unwrap())
        .collect();
    assert_eq!(kids, [verifier.keys()[0].kid(), old.public_key().kid()]);
    for key in doc["keys"].as_array().unwrap() {
        assert_eq!(
            (&key["kty"], &key["crv"], &key["use"], &key["alg"]),
            (
                &json!("EC"),
                &json!("P-256"),
                &json!("sig"),
                &json!("ES256")
            )
        );
        assert_eq!(key["x"].as_str().unwrap().len(), 43);
        assert_eq!(key["y"].as_str().unwrap().len(), 43);
    }
}

#[tokio::test]
async fn every_bad_mint_request_is_400_with_a_clear_message() {
    let signer = LocalSigner::generate().unwrap();
    let verifier = Verifier::new(vec![signer.public_key().clone()], AUD, ISS);
    let minter = minter(&signer);
    let deps = deps(signer, minter, &verifier);
    let cases = [
        (
            r#"{"channels":[]}"#,
            "channels must name 1 to 16 channel patterns",
        ),
        (
            r#"{"channels":["a"],"publish":["room-*-x"]}"#,
            "publish[0]: pattern \"room-*-x\": a '*' may only end a pattern",
        ),
        (
            r#"{"channels":["a b"]}"#,
            "channels[0]: channel name contains ' '",
        ),
        (
            r#"{"channels":["a"],"ttlSeconds":7201}"#,
            "ttlSeconds must be from 1 to 7200; it is 7201",
        ),
        (
            r#"{"channels":["a"],"subject":""}"#,
            "subject must be 1 to 256 bytes",
        ),
        (r#"{"channels":["a"],"ttl":5}"#, "unknown field `ttl`"),
        ("", "missing field `channels`"),
        ("{", "the body must be JSON like"),
    ];
    for (body, expected) in cases {
        let response = handle(
            event(with_body(http_event("post_tokens.json"), body)),
            &deps,
        )
        .await;
        assert_eq!(response.status_code, 400, "{body}");
        let message = json_of(&response)["message"].as_str().unwrap().to_owned();
        assert!(message.contains(expected), "{body}: {message}");
    }
}

/// A signer that cannot reach its key.
struct Unreachable;

impl TokenSigner for Unreachable {
    async fn sign(&self, _: &[u8]) -> Result<[u8; SIGNATURE_LEN], SignError> {
        Err(SignError::Unavailable(
            "Sign: dispatch failure: arn:aws:kms:secret".into(),
        ))
    }
}

#[tokio::test]
async fn a_signer_failure_is_503_and_a_key_mismatch_500_and_neither_leaks() {
    let key = LocalSigner::generate().unwrap();
    let verifier = Verifier::new(vec![key.public_key().clone()], AUD, ISS);
    let down = deps(Unreachable, minter(&key), &verifier);
    let response = handle(event(http_event("post_tokens.json")), &down).await;
    assert_eq!(response.status_code, 503);
    assert_eq!(
        json_of(&response),
        json!({"message": "the token signer is unavailable; try again"})
    );
    // A signer holding another key than the one published: caught at mint.
    let wrong = deps(LocalSigner::generate().unwrap(), minter(&key), &verifier);
    let response = handle(event(http_event("post_tokens.json")), &wrong).await;
    assert_eq!(response.status_code, 500);
    assert_eq!(
        json_of(&response),
        json!({"message": "the token signer is misconfigured"})
    );
}

#[tokio::test]
async fn with_tokens_off_both_token_routes_answer_404() {
    let deps: Deps<_, _, LocalSigner> = Deps {
        tokens: None,
        ..Deps::new(Fanout::new(
            MemoryStore::new(),
            MemoryNotifier::new(),
            PublishOptions::default(),
        ))
    };
    for name in ["post_tokens.json", "get_jwks.json"] {
        let response = handle(event(http_event(name)), &deps).await;
        assert_eq!(response.status_code, 404, "{name}");
        let message = json_of(&response)["message"].as_str().unwrap().to_owned();
        assert!(message.contains("SUBSCRIBER_AUTH=none"), "{message}");
    }
}
