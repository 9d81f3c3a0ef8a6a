//! Another issuer, for the tests of every crate: an RS256 signer on one of
//! the committed test-only keys (`tests/data`, see its README), the key set
//! an issuer publishes for it, a Cognito access token's claims, and the head
//! of an HTTP request as a loopback JWKS server reads it.

#![allow(clippy::unwrap_used)] // test support: a broken fixture fails the test

use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use base64::Engine as _;
use ring::rand::SystemRandom;
use ring::signature::{RsaKeyPair, RsaPublicKeyComponents, RSA_PKCS1_SHA256};
use serde_json::{json, Value};
use tokio::io::{AsyncRead, AsyncReadExt as _};

/// The committed Cognito access-token key (2048-bit RSA, test only).
pub const COGNITO_ACCESS_KEY: &str = "test-only-rsa2048-cognito-access.pk8.der";

fn b64(bytes: &[u8]) -> String {
    URL_SAFE_NO_PAD.encode(bytes)
}

fn b64_json(value: &Value) -> String {
    b64(&serde_json::to_vec(value).unwrap())
}

/// An RS256 signer whose key an issuer publishes under `kid`.
pub struct RsaSigner {
    pub pair: RsaKeyPair,
    pub kid: String,
}

impl RsaSigner {
    /// `file` of this crate's `tests/data`.
    pub fn load(file: &str, kid: &str) -> Self {
        let path = format!("{}/tests/data/{file}", env!("CARGO_MANIFEST_DIR"));
        let der = std::fs::read(&path).unwrap_or_else(|e| panic!("{path}: {e}"));
        Self {
            pair: RsaKeyPair::from_pkcs8(&der).unwrap(),
            kid: kid.to_owned(),
        }
    }

    /// The public key as an issuer publishes it.
    pub fn jwk(&self) -> Value {
        let public: RsaPublicKeyComponents<Vec<u8>> = self.pair.public().into();
        json!({"alg":"RS256","e":b64(&public.e),"kid":self.kid,"kty":"RSA","n":b64(&public.n),"use":"sig"})
    }

    /// The key set holding [`Self::jwk`] alone.
    pub fn jwks(&self) -> Value {
        json!({"keys": [self.jwk()]})
    }

    /// A JWT of `header` and `claims`, signed RS256 whatever the header says.
    pub fn sign(&self, header: &Value, claims: &Value) -> String {
        let input = format!("{}.{}", b64_json(header), b64_json(claims));
        let mut signature = vec![0; self.pair.public().modulus_len()];
        self.pair
            .sign(
                &RSA_PKCS1_SHA256,
                &SystemRandom::new(),
                input.as_bytes(),
                &mut signature,
            )
            .unwrap();
        format!("{input}.{}", b64(&signature))
    }

    /// A JWT of `claims` under this signer's `kid`.
    pub fn token(&self, claims: &Value) -> String {
        self.token_with_kid(&self.kid, claims)
    }

    /// A JWT of `claims` under `kid`, published or not.
    pub fn token_with_kid(&self, kid: &str, claims: &Value) -> String {
        self.sign(&json!({"kid": kid, "alg": "RS256"}), claims)
    }
}

/// A Cognito access token's claims, as a user pool writes them, issued now
/// for an hour.
pub fn cognito_access_claims(issuer: &str, client_id: &str, sub: &str) -> Value {
    let now = crate::now_millis() / 1000;
    json!({
        "sub": sub, "iss": issuer, "client_id": client_id, "origin_jti": "o-1",
        "event_id": "e-1", "token_use": "access", "scope": "aws.cognito.signin.user.admin",
        "auth_time": now, "exp": now + 3600, "iat": now, "jti": "j-1", "username": "alice"
    })
}

/// Reads an HTTP request up to the end of its head; `None` when the peer
/// closes or fails first.
pub async fn read_request_head<S: AsyncRead + Unpin>(stream: &mut S) -> Option<Vec<u8>> {
    let mut request = Vec::new();
    let mut buf = [0u8; 1024];
    while !request.windows(4).any(|w| w == b"\r\n\r\n") {
        match stream.read(&mut buf).await {
            Ok(0) | Err(_) => return None,
            Ok(n) => request.extend_from_slice(&buf[..n]),
        }
    }
    Some(request)
}
