//! Another issuer for the tests: a Cognito-style user pool whose key set is
//! served on 127.0.0.1, and its RS256 access tokens.

#![allow(clippy::unwrap_used, clippy::expect_used)] // a test fails by panicking

use axum::routing::get;
use axum::{Json, Router};
use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use base64::Engine as _;
use ring::rand::SystemRandom;
use ring::signature::{RsaKeyPair, RsaPublicKeyComponents, RSA_PKCS1_SHA256};
use serde_json::json;

pub const ISSUER: &str = "https://cognito-idp.eu-west-1.amazonaws.com/eu-west-1_Local1";
pub const CLIENT_ID: &str = "3example4client5id6";
pub const SUB: &str = "7c9e4d2a-1111-2222-3333-444455556666";
pub const KID: &str = "cognito-test-key-1";

fn b64(bytes: &[u8]) -> String {
    URL_SAFE_NO_PAD.encode(bytes)
}

/// The committed test-only RSA key the domain's issuer tests use.
pub fn key() -> RsaKeyPair {
    let path = format!(
        "{}/../../crates/channels/tests/data/test-only-rsa2048-cognito-access.pk8.der",
        env!("CARGO_MANIFEST_DIR")
    );
    RsaKeyPair::from_pkcs8(&std::fs::read(path).unwrap()).unwrap()
}

/// A Cognito access token's claims, as a user pool writes them.
pub fn access_token(key: &RsaKeyPair, kid: &str) -> String {
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
pub async fn jwks_server(key: &RsaKeyPair) -> String {
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

/// TOKEN_ISSUERS accepting the pool's access tokens, each granting the
/// user's own channels (`user:{sub}:*`), to subscribe and publish.
pub fn token_issuers(jwks_url: &str) -> String {
    json!([{
        "issuer": ISSUER, "jwks_url": jwks_url, "client_id": CLIENT_ID,
        "token_use": "access", "channels": ["user:{sub}:*"], "publish": ["user:{sub}:*"]
    }])
    .to_string()
}
