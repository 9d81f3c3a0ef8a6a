//! Another issuer for the tests: a Cognito-style user pool whose key set is
//! served on 127.0.0.1, and its RS256 access tokens.

#![allow(clippy::unwrap_used, clippy::expect_used)] // a test fails by panicking

use axum::routing::get;
use axum::{Json, Router};
use channels::testing::issuer::{cognito_access_claims, RsaSigner, COGNITO_ACCESS_KEY};
use serde_json::json;

pub const ISSUER: &str = "https://cognito-idp.eu-west-1.amazonaws.com/eu-west-1_Local1";
pub const CLIENT_ID: &str = "3example4client5id6";
pub const SUB: &str = "7c9e4d2a-1111-2222-3333-444455556666";
pub const KID: &str = "cognito-test-key-1";

/// The committed test-only RSA key the domain's issuer tests use.
pub fn key() -> RsaSigner {
    RsaSigner::load(COGNITO_ACCESS_KEY, KID)
}

/// A Cognito access token of the pool, signed RS256 under `kid` (published
/// or not).
pub fn access_token(key: &RsaSigner, kid: &str) -> String {
    key.token_with_kid(kid, &cognito_access_claims(ISSUER, CLIENT_ID, SUB))
}

/// Serves the key set at `/jwks.json` on 127.0.0.1; its URL.
pub async fn jwks_server(key: &RsaSigner) -> String {
    let jwks = key.jwks();
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
