//! Tokens of another issuer, end to end: a gateway started with
//! `token_issuers` pointing at a JWKS server on 127.0.0.1 accepts a
//! Cognito-style access token (RS256, `client_id`, `token_use`) on
//! `$connect` (as the `token.<JWT>` subprotocol) and in `subscribe`, with
//! the grants its templates give, beside its own tokens.

#![allow(clippy::unwrap_used, clippy::expect_used)]

mod support;

use axum::routing::get;
use axum::{Json, Router};
use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use base64::Engine as _;
use channels::token::issuers::parse_issuers;
use local_gateway::SubscriberAuthMode;
use ring::rand::SystemRandom;
use ring::signature::{RsaKeyPair, RsaPublicKeyComponents, RSA_PKCS1_SHA256};
use serde_json::{json, Value};
use support::{start, Backend};

const ISSUER: &str = "https://cognito-idp.eu-west-1.amazonaws.com/eu-west-1_Local1";
const CLIENT_ID: &str = "3example4client5id6";
const SUB: &str = "7c9e4d2a-1111-2222-3333-444455556666";
const KID: &str = "cognito-test-key-1";

fn b64(bytes: &[u8]) -> String {
    URL_SAFE_NO_PAD.encode(bytes)
}

/// The committed test-only RSA key the domain's issuer tests use.
fn key() -> RsaKeyPair {
    let path = format!(
        "{}/../../crates/channels/tests/data/test-only-rsa2048-cognito-access.pk8.der",
        env!("CARGO_MANIFEST_DIR")
    );
    RsaKeyPair::from_pkcs8(&std::fs::read(path).unwrap()).unwrap()
}

/// A Cognito access token's claims, as a user pool writes them.
fn access_token(key: &RsaKeyPair, kid: &str) -> String {
    let now = channels::now_millis() / 1000;
    let claims = json!({
        "sub": SUB, "iss": ISSUER, "client_id": CLIENT_ID, "origin_jti": "o-1",
        "event_id": "e-1", "token_use": "access", "scope": "aws.cognito.signin.user.admin",
        "auth_time": now, "exp": now + 3600, "iat": now, "jti": "j-1", "username": "alice"
    });
    let input = format!(
        "{}.{}",
        b64(&serde_json::to_vec(&json!({"kid": kid, "alg": "RS256"})).unwrap()),
        b64(&serde_json::to_vec(&claims).unwrap())
    );
    let mut signature = vec![0; key.public().modulus_len()];
    key.sign(
        &RSA_PKCS1_SHA256,
        &SystemRandom::new(),
        input.as_bytes(),
        &mut signature,
    )
    .unwrap();
    format!("{input}.{}", b64(&signature))
}

/// Serves the key set at `/jwks.json` on 127.0.0.1; its URL.
async fn jwks_server(key: &RsaKeyPair) -> String {
    let public: RsaPublicKeyComponents<Vec<u8>> = key.public().into();
    let jwks = json!({"keys": [{
        "alg": "RS256", "e": b64(&public.e), "kid": KID, "kty": "RSA", "n": b64(&public.n), "use": "sig"
    }]});
    let app = Router::new().route("/jwks.json", get(move || async move { Json(jwks.clone()) }));
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let addr = listener.local_addr().unwrap();
    tokio::spawn(async move { axum::serve(listener, app).await });
    format!("http://{addr}/jwks.json")
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn an_issuer_token_connects_and_subscribes_with_its_templates() {
    // GIVEN a user pool's key set on 127.0.0.1, and a gateway that accepts
    // its access tokens, each granting the user's own channels
    let key = key();
    let jwks_url = jwks_server(&key).await;
    let issuers = parse_issuers(
        &json!([{
            "issuer": ISSUER, "jwks_url": jwks_url, "client_id": CLIENT_ID,
            "token_use": "access", "channels": ["user:{sub}:*"], "publish": ["user:{sub}:*"]
        }])
        .to_string(),
    )
    .unwrap();
    let mut env = start(Backend::Memory, |b| {
        b.subscriber_auth(SubscriberAuthMode::Token)
            .token_issuers(issuers)
    })
    .await;
    let token = access_token(&key, KID);
    let inbox = format!("user:{SUB}:inbox");

    // WHEN the user connects with it as the subprotocol, to their inbox
    let mut client = env.connect_v1(Some(&inbox), Some(&token)).await;

    // THEN their channels are granted, others are not
    let reply = client
        .call(json!({"action": "subscribe", "channel": format!("user:{SUB}:alerts")}))
        .await;
    assert_eq!(reply["type"], "subscribed", "{reply}");
    let reply = client
        .call(json!({"action": "subscribe", "channel": "user:someone-else:inbox"}))
        .await;
    assert_eq!(reply["code"], 403, "{reply}");
    // AND a fresh token of the same user in a subscribe is taken
    let reply = client
        .call(json!({"action": "subscribe", "channel": format!("user:{SUB}:news"), "token": access_token(&key, KID)}))
        .await;
    assert_eq!(reply["type"], "subscribed", "{reply}");
    // AND they may publish to their channels, their sub stamped as from
    let reply = client
        .call(json!({"action": "publish", "channel": inbox, "data": "note", "self": true}))
        .await;
    assert_eq!(reply["type"], "published", "{reply}");
    let own: Value = client.next().await;
    assert_eq!(
        (own["data"].clone(), own["from"].clone()),
        (json!("note"), json!(SUB))
    );

    // AND a token with a kid the issuer never published is refused (401)
    let stranger = access_token(&key, "not-a-published-kid");
    let err = env
        .handshake_v1(Some(&inbox), Some(&stranger))
        .await
        .expect_err("refused");
    let tokio_tungstenite::tungstenite::Error::Http(response) = err else {
        panic!("expected an HTTP refusal, got {err:?}");
    };
    assert_eq!(response.status(), 401);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn an_https_key_set_needs_the_aws_build() {
    let issuers = parse_issuers(
        &json!([{
            "issuer": ISSUER, "jwks_url": format!("{ISSUER}/.well-known/jwks.json"),
            "client_id": CLIENT_ID, "channels": ["user:{sub}:*"]
        }])
        .to_string(),
    )
    .unwrap();
    let started = local_gateway::Gateway::builder()
        .subscriber_auth(SubscriberAuthMode::Token)
        .token_issuers(issuers)
        .bind("127.0.0.1:0")
        .await;
    if cfg!(feature = "aws") {
        assert!(started.is_ok(), "the aws build fetches over HTTPS");
    } else {
        let err = started.expect_err("refused at start").to_string();
        assert!(err.contains("aws"), "{err}");
    }
}
