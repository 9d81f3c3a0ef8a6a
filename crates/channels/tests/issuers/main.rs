//! Tokens of other issuers: a JWKS server on 127.0.0.1 serving RSA and EC
//! keys; tokens shaped like Cognito ID and access tokens and Auth0 access
//! tokens; confusion across issuers and algorithms; the bounds on fetching
//! (a flood of random `kid`s, an unreachable or silent JWKS); every claim
//! check; the `TOKEN_ISSUERS` parser; and property tests that no input
//! panics the parsers or the verifier.

#![allow(clippy::unwrap_used, clippy::expect_used)] // a test fails by panicking

use std::collections::HashMap;
use std::net::SocketAddr;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, Mutex};
use std::time::Duration;

use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use base64::Engine as _;
use channels::testing::issuer::{read_request_head, RsaSigner as Rsa};
use channels::token::issuers::{
    parse_issuers, unverified_issuer, IssuerConfig, IssuerError, IssuerGrants, Issuers,
    IssuersError,
};
use channels::token::jwk::KeySet;
use channels::token::jwks::{FetchError, JwksFetcher};
use channels::token::loopback::LoopbackFetcher;
use proptest::prelude::*;
use ring::rand::SystemRandom;
use ring::signature::{
    EcdsaKeyPair, KeyPair as _, RsaPublicKeyComponents, ECDSA_P256_SHA256_FIXED_SIGNING,
};
use serde_json::{json, Value};
use tokio::io::AsyncWriteExt as _;
use tokio::net::{TcpListener, TcpStream};

const NOW: i64 = 1_800_000_000;
const MAX_LIFETIME: u64 = 86_400;

const COGNITO: &str = "https://cognito-idp.eu-west-1.amazonaws.com/eu-west-1_Example1";
const COGNITO_CLIENT: &str = "7example23456789abcdefghij";
const AUTH0: &str = "https://example-tenant.eu.auth0.com/";
const AUTH0_API: &str = "https://channels.example.com";
const KEYCLOAK: &str = "https://idp.example.org/realms/lrw";

fn b64(bytes: &[u8]) -> String {
    URL_SAFE_NO_PAD.encode(bytes)
}

fn b64_json(value: &Value) -> String {
    b64(&serde_json::to_vec(value).unwrap())
}

// --- signers ---------------------------------------------------------------

/// An ES256 signer with a fresh P-256 key.
struct Ec {
    pair: EcdsaKeyPair,
    kid: String,
}

impl Ec {
    fn generate(kid: &str) -> Self {
        let rng = SystemRandom::new();
        let pkcs8 = EcdsaKeyPair::generate_pkcs8(&ECDSA_P256_SHA256_FIXED_SIGNING, &rng).unwrap();
        Self {
            pair: EcdsaKeyPair::from_pkcs8(&ECDSA_P256_SHA256_FIXED_SIGNING, pkcs8.as_ref(), &rng)
                .unwrap(),
            kid: kid.to_owned(),
        }
    }

    fn jwk(&self) -> Value {
        let point = self.pair.public_key().as_ref();
        json!({"kty":"EC","crv":"P-256","kid":self.kid,"use":"sig","x":b64(&point[1..33]),"y":b64(&point[33..])})
    }

    fn sign(&self, header: &Value, claims: &Value) -> String {
        let input = format!("{}.{}", b64_json(header), b64_json(claims));
        let signature = self
            .pair
            .sign(&SystemRandom::new(), input.as_bytes())
            .unwrap();
        format!("{input}.{}", b64(signature.as_ref()))
    }

    fn token(&self, claims: &Value) -> String {
        self.sign(
            &json!({"alg": "ES256", "typ": "JWT", "kid": self.kid}),
            claims,
        )
    }
}

struct Keys {
    cognito_id: Rsa,
    cognito_access: Rsa,
    auth0: Rsa,
    keycloak: Ec,
}

fn keys() -> Keys {
    Keys {
        // Cognito's kids are base64 with padding; it signs ID and access
        // tokens with different keys of the same JWKS.
        cognito_id: Rsa::load(
            "test-only-rsa2048-cognito-id.pk8.der",
            "abcdefghijklmnopqrsexample1Id=",
        ),
        cognito_access: Rsa::load(
            "test-only-rsa2048-cognito-access.pk8.der",
            "ABCDEFGHIJKLMNOPQRSexample2Ac=",
        ),
        auth0: Rsa::load(
            "test-only-rsa2048-auth0.pk8.der",
            "dGVzdC1vbmx5LWF1dGgwLWtpZA",
        ),
        keycloak: Ec::generate("kc-es256-1"),
    }
}

// --- the JWKS server -------------------------------------------------------

/// Serves JWKS documents by path on 127.0.0.1 and counts the requests per
/// path. `/chunked/…` answers in chunked coding, `/silent` accepts and never
/// answers. It stops with the test's runtime.
struct JwksServer {
    addr: SocketAddr,
    docs: Arc<Mutex<HashMap<String, Vec<u8>>>>,
    hits: Arc<Mutex<HashMap<String, u64>>>,
}

impl JwksServer {
    async fn start() -> Self {
        let listener = TcpListener::bind("127.0.0.1:0").await.unwrap();
        let addr = listener.local_addr().unwrap();
        let docs: Arc<Mutex<HashMap<String, Vec<u8>>>> = Arc::default();
        let hits: Arc<Mutex<HashMap<String, u64>>> = Arc::default();
        let (d, h) = (docs.clone(), hits.clone());
        tokio::spawn(async move {
            while let Ok((stream, _)) = listener.accept().await {
                tokio::spawn(serve(stream, d.clone(), h.clone()));
            }
        });
        Self { addr, docs, hits }
    }

    fn url(&self, path: &str) -> String {
        format!("http://{}{path}", self.addr)
    }

    fn set(&self, path: &str, keys: &[Value]) {
        let body = serde_json::to_vec(&json!({ "keys": keys })).unwrap();
        self.docs.lock().unwrap().insert(path.to_owned(), body);
    }

    fn hits(&self, path: &str) -> u64 {
        self.hits.lock().unwrap().get(path).copied().unwrap_or(0)
    }
}

async fn serve(
    mut stream: TcpStream,
    docs: Arc<Mutex<HashMap<String, Vec<u8>>>>,
    hits: Arc<Mutex<HashMap<String, u64>>>,
) {
    let Some(request) = read_request_head(&mut stream).await else {
        return;
    };
    let text = String::from_utf8_lossy(&request);
    let path = text.split(' ').nth(1).unwrap_or("").to_owned();
    *hits.lock().unwrap().entry(path.clone()).or_default() += 1;
    if path == "/silent" {
        // Hold the connection open, answer nothing.
        std::future::pending::<()>().await;
    }
    let body = docs.lock().unwrap().get(&path).cloned();
    let answer = match body {
        None => b"HTTP/1.1 404 Not Found\r\nContent-Length: 0\r\n\r\n".to_vec(),
        Some(body) if path.starts_with("/chunked/") => {
            let (a, b) = body.split_at(body.len() / 2);
            let mut out = b"HTTP/1.1 200 OK\r\nContent-Type: application/json\r\nTransfer-Encoding: chunked\r\n\r\n".to_vec();
            for part in [a, b] {
                out.extend(format!("{:x}\r\n", part.len()).as_bytes());
                out.extend(part);
                out.extend(b"\r\n");
            }
            out.extend(b"0\r\n\r\n");
            out
        }
        Some(body) => {
            let mut out = format!(
                "HTTP/1.1 200 OK\r\nContent-Type: application/json\r\nContent-Length: {}\r\n\r\n",
                body.len()
            )
            .into_bytes();
            out.extend(body);
            out
        }
    };
    let _ = stream.write_all(&answer).await;
}

// --- the deployment under test ---------------------------------------------

fn config(server: &JwksServer) -> String {
    json!([
        {
            "issuer": COGNITO,
            "jwks_url": server.url("/cognito/.well-known/jwks.json"),
            "audience": COGNITO_CLIENT,
            "token_use": "id",
            "channels_claim": "cognito:groups",
            "channels": ["user:{sub}:*"]
        },
        {
            "issuer": COGNITO,
            "jwks_url": server.url("/cognito/.well-known/jwks.json"),
            "client_id": COGNITO_CLIENT,
            "token_use": "access",
            "channels": ["user:{sub}:*", "lobby"],
            "publish": "user:{sub}:*"
        },
        {
            "issuer": AUTH0,
            "jwks_url": server.url("/auth0/.well-known/jwks.json"),
            "audience": AUTH0_API,
            "channels_claim": "https://channels.example.com/channels",
            "publish_claim": "https://channels.example.com/publish"
        },
        {
            "issuer": KEYCLOAK,
            "jwks_url": server.url("/chunked/keycloak/certs"),
            "audience": "lrw-channels",
            "channels": ["user:{sub}:*", "lobby"],
            "publish_claim": "scope"
        }
    ])
    .to_string()
}

async fn deployment() -> (JwksServer, Keys, Issuers<LoopbackFetcher>) {
    let server = JwksServer::start().await;
    let keys = keys();
    server.set(
        "/cognito/.well-known/jwks.json",
        &[keys.cognito_id.jwk(), keys.cognito_access.jwk()],
    );
    server.set("/auth0/.well-known/jwks.json", &[keys.auth0.jwk()]);
    server.set("/chunked/keycloak/certs", &[keys.keycloak.jwk()]);
    let configs = parse_issuers(&config(&server)).unwrap();
    let issuers = Issuers::new(configs, LoopbackFetcher, MAX_LIFETIME);
    (server, keys, issuers)
}

const SUB: &str = "aaaaaaaa-bbbb-cccc-dddd-example00001";

/// A Cognito user pool ID token, claim for claim.
fn cognito_id_claims() -> Value {
    json!({
        "sub": SUB,
        "cognito:groups": ["lobby", "room-*"],
        "email_verified": true,
        "iss": COGNITO,
        "cognito:username": "janedoe",
        "origin_jti": "aaaaaaaa-bbbb-cccc-dddd-example00002",
        "aud": COGNITO_CLIENT,
        "event_id": "aaaaaaaa-bbbb-cccc-dddd-example00003",
        "token_use": "id",
        "auth_time": NOW - 10,
        "exp": NOW + 3590,
        "iat": NOW - 10,
        "jti": "aaaaaaaa-bbbb-cccc-dddd-example00004",
        "email": "janedoe@example.com"
    })
}

/// A Cognito user pool access token: no `aud`; `client_id`, `scope`.
fn cognito_access_claims() -> Value {
    json!({
        "sub": SUB,
        "cognito:groups": ["lobby"],
        "iss": COGNITO,
        "version": 2,
        "client_id": COGNITO_CLIENT,
        "origin_jti": "aaaaaaaa-bbbb-cccc-dddd-example00002",
        "event_id": "aaaaaaaa-bbbb-cccc-dddd-example00003",
        "token_use": "access",
        "scope": "openid profile email",
        "auth_time": NOW - 10,
        "exp": NOW + 3590,
        "iat": NOW - 10,
        "jti": "aaaaaaaa-bbbb-cccc-dddd-example00005",
        "username": "janedoe"
    })
}

/// An Auth0 access token for a custom API, with namespaced custom claims
/// (added by a post-login Action) and RBAC permissions.
fn auth0_claims() -> Value {
    json!({
        "https://channels.example.com/channels": ["lobby", "team:42:*"],
        "https://channels.example.com/publish": ["team:42:*"],
        "iss": AUTH0,
        "sub": "auth0|64f1c2a9e0b1d2c3a4b5c6d7",
        "aud": [AUTH0_API, "https://example-tenant.eu.auth0.com/userinfo"],
        "iat": NOW - 10,
        "exp": NOW + 86_390,
        "scope": "openid profile email",
        "azp": "AbCdEf0123456789AbCdEf0123456789",
        "permissions": ["publish:team-42"]
    })
}

fn keycloak_claims() -> Value {
    json!({
        "exp": NOW + 300,
        "iat": NOW - 10,
        "jti": "5c2f2a70-0000-4000-8000-000000000001",
        "iss": KEYCLOAK,
        "aud": "lrw-channels",
        "sub": "f6f1f2f3-0000-4000-8000-00000000000a",
        "typ": "Bearer",
        "azp": "lrw-web",
        "scope": "profile email",
    })
}

fn with(mut claims: Value, key: &str, value: Value) -> Value {
    claims[key] = value;
    claims
}

fn without(mut claims: Value, key: &str) -> Value {
    claims.as_object_mut().unwrap().remove(key);
    claims
}

// --- accepted tokens -------------------------------------------------------

#[tokio::test]
async fn cognito_id_and_access_tokens_and_auth0_access_tokens_get_their_grants() {
    // GIVEN a Cognito pool (ID and access tokens), an Auth0 tenant and an
    // ES256 issuer, none fetched yet
    let (server, keys, issuers) = deployment().await;
    assert_eq!(
        server.hits("/cognito/.well-known/jwks.json"),
        0,
        "nothing at init"
    );

    // WHEN each presents its kind of token THEN each gets its grants
    let id = issuers
        .verify(&keys.cognito_id.token(&cognito_id_claims()), NOW)
        .await
        .unwrap();
    assert_eq!(
        id,
        IssuerGrants {
            issuer: COGNITO.to_owned(),
            subject: Some(SUB.to_owned()),
            channels: vec!["lobby".into(), "room-*".into(), format!("user:{SUB}:*")],
            publish: vec![],
            expires_at: NOW + 3590,
        }
    );

    let access = issuers
        .verify(&keys.cognito_access.token(&cognito_access_claims()), NOW)
        .await
        .unwrap();
    assert_eq!(access.channels, [format!("user:{SUB}:*"), "lobby".into()]);
    assert_eq!(access.publish, [format!("user:{SUB}:*")]);
    assert_eq!(access.subject.as_deref(), Some(SUB));

    let auth0 = issuers
        .verify(
            &keys.auth0.sign(
                &json!({"alg":"RS256","typ":"JWT","kid":keys.auth0.kid}),
                &auth0_claims(),
            ),
            NOW,
        )
        .await
        .unwrap();
    assert_eq!(
        auth0,
        IssuerGrants {
            issuer: AUTH0.to_owned(),
            subject: Some("auth0|64f1c2a9e0b1d2c3a4b5c6d7".into()),
            channels: vec!["lobby".into(), "team:42:*".into()],
            publish: vec!["team:42:*".into()],
            expires_at: NOW + 86_390,
        }
    );

    // ES256, its JWKS served in chunked coding; `scope` as a publish claim
    // (a string of patterns separated by spaces).
    let kc = issuers
        .verify(
            &keys
                .keycloak
                .token(&with(keycloak_claims(), "scope", json!("room-1  room-2"))),
            NOW,
        )
        .await
        .unwrap();
    assert_eq!(
        kc.channels,
        ["user:f6f1f2f3-0000-4000-8000-00000000000a:*", "lobby"]
    );
    assert_eq!(kc.publish, ["room-1", "room-2"]);

    // AND each JWKS was fetched once, the Cognito one for both token kinds
    assert_eq!(server.hits("/cognito/.well-known/jwks.json"), 1);
    assert_eq!(server.hits("/auth0/.well-known/jwks.json"), 1);
    assert_eq!(server.hits("/chunked/keycloak/certs"), 1);
    assert_eq!(issuers.fetches(COGNITO), 1);

    // AND the caller can route by the unverified iss
    assert_eq!(
        unverified_issuer(&keys.auth0.token(&auth0_claims())).as_deref(),
        Some(AUTH0)
    );
    assert!(issuers.knows(AUTH0) && !issuers.knows("https://other/"));
}

// --- confusion across issuers and algorithms -------------------------------

#[tokio::test]
async fn a_kid_of_another_issuer_finds_nothing() {
    let (server, keys, issuers) = deployment().await;
    // GIVEN both JWKS documents are cached
    issuers
        .verify(&keys.auth0.token(&auth0_claims()), NOW)
        .await
        .unwrap();
    issuers
        .verify(&keys.cognito_id.token(&cognito_id_claims()), NOW)
        .await
        .unwrap();

    // WHEN Auth0 claims are signed by a Cognito key, with the Cognito kid
    let forged = keys.cognito_id.token(&auth0_claims());
    // THEN Auth0's keys are searched, and none has that kid
    assert_eq!(
        issuers.verify(&forged, NOW).await,
        Err(IssuerError::UnknownKey)
    );
    // AND the reverse
    let forged = keys.auth0.token(&cognito_id_claims());
    assert_eq!(
        issuers.verify(&forged, NOW).await,
        Err(IssuerError::UnknownKey)
    );
    // AND a Cognito-signed token naming Auth0's kid does not verify either
    let forged = keys.cognito_id.sign(
        &json!({"alg":"RS256","kid":keys.auth0.kid}),
        &cognito_id_claims(),
    );
    assert_eq!(
        issuers.verify(&forged, NOW).await,
        Err(IssuerError::UnknownKey)
    );
    let forged = keys.cognito_id.sign(
        &json!({"alg":"RS256","kid":keys.auth0.kid}),
        &auth0_claims(),
    );
    assert_eq!(
        issuers.verify(&forged, NOW).await,
        Err(IssuerError::BadSignature)
    );
    assert_eq!(server.hits("/auth0/.well-known/jwks.json"), 1);
}

#[tokio::test]
async fn a_key_verifies_only_the_algorithm_its_jwk_declares() {
    let (_server, keys, issuers) = deployment().await;
    // An RSA key's kid under an ES256 header.
    let es_on_rsa = keys.keycloak.sign(
        &json!({"alg":"ES256","kid":keys.auth0.kid}),
        &auth0_claims(),
    );
    assert_eq!(
        issuers.verify(&es_on_rsa, NOW).await,
        Err(IssuerError::KeyAlgorithm {
            header: "ES256",
            key: "RS256"
        })
    );
    // An EC key's kid under an RS256 header.
    let rs_on_ec = keys.auth0.sign(
        &json!({"alg":"RS256","kid":keys.keycloak.kid}),
        &keycloak_claims(),
    );
    assert_eq!(
        issuers.verify(&rs_on_ec, NOW).await,
        Err(IssuerError::KeyAlgorithm {
            header: "RS256",
            key: "ES256"
        })
    );
    // HS256 keyed with the RSA key's public bytes: refused before any key.
    let input = format!(
        "{}.{}",
        b64_json(&json!({"alg":"HS256","kid":keys.auth0.kid})),
        b64_json(&auth0_claims())
    );
    let public: RsaPublicKeyComponents<Vec<u8>> = keys.auth0.pair.public().into();
    let mac = ring::hmac::sign(
        &ring::hmac::Key::new(ring::hmac::HMAC_SHA256, &public.n),
        input.as_bytes(),
    );
    let hs = format!("{input}.{}", b64(mac.as_ref()));
    assert_eq!(
        issuers.verify(&hs, NOW).await,
        Err(IssuerError::Algorithm("HS256".into()))
    );
    let none = format!(
        "{}.{}.",
        b64_json(&json!({"alg":"none"})),
        b64_json(&auth0_claims())
    );
    assert_eq!(
        issuers.verify(&none, NOW).await,
        Err(IssuerError::Algorithm("none".into()))
    );
    for alg in ["RS512", "PS256", "ES384", "EdDSA", "rs256"] {
        let token = keys
            .auth0
            .sign(&json!({"alg":alg,"kid":keys.auth0.kid}), &auth0_claims());
        assert_eq!(
            issuers.verify(&token, NOW).await,
            Err(IssuerError::Algorithm(alg.into())),
            "{alg}"
        );
    }
}

mod claims;
mod fetching;

use fetching::{scripted_issuers, Scripted, EC_ISSUER};

// --- TOKEN_ISSUERS ---------------------------------------------------------

#[test]
fn token_issuers_mistakes_name_the_entry_and_field() {
    let good = json!({"issuer":"https://i.example/","jwks_url":"https://i.example/jwks","audience":"a","channels":["lobby"]});
    let entry = |k: &str, v: Value| {
        let mut e = good.clone();
        if v.is_null() {
            e.as_object_mut().unwrap().remove(k);
        } else {
            e[k] = v;
        }
        json!([e]).to_string()
    };
    assert_eq!(parse_issuers("").unwrap(), vec![]);
    assert_eq!(parse_issuers("  \n").unwrap(), vec![]);
    assert_eq!(parse_issuers("[]").unwrap(), vec![]);
    assert_eq!(parse_issuers(&json!([good]).to_string()).unwrap().len(), 1);

    let cases: Vec<(String, &str)> = vec![
        ("{".into(), "not a JSON array"),
        ("{}".into(), "not a JSON array"),
        ("[1]".into(), "entry 0: not a JSON object"),
        (entry("jwks_url", json!("http://i.example/jwks")), r#"entry 0 ("https://i.example/"): jwks_url: must be https://…, or http:// on 127.0.0.1, localhost or [::1]"#),
        (entry("jwks_url", json!("http://10.0.0.1/jwks")), "jwks_url: must be https://"),
        (entry("jwks_url", Value::Null), "jwks_url: is required"),
        (entry("issuer", Value::Null), "entry 0: issuer: is required"),
        (entry("issuer", json!("")), "issuer: is empty"),
        (entry("issuer", json!(7)), "issuer: must be a string"),
        (entry("audience", Value::Null), "audience: one of audience or client_id is required"),
        (entry("client_id", json!("c")), "client_id: give audience or client_id, not both"),
        (entry("audiance", json!("typo")), r#"entry 0 ("https://i.example/"): audiance: unknown field; the fields are issuer, jwks_url, audience"#),
        (entry("channels", json!("user:{id}:*")), r#"channels[0]: "user:{id}:*" has a placeholder other than {sub}"#),
        (entry("channels", json!(["ok", "a*b"])), "channels[1]: \"a*b\" has a * that is not its last character"),
        (entry("channels", json!([1])), "channels: must be a string or an array of strings"),
        (entry("publish", json!("a b")), "publish[0]: \"a b\" has characters outside"),
        (entry("channels", json!([])), "channels: the issuer grants nothing"),
        (entry("channels_claim", json!("")), "channels_claim: is empty"),
        (entry("jwks_timeout_ms", json!(50)), "jwks_timeout_ms: must be a whole number from 100 to 10000"),
        (entry("jwks_min_refresh_seconds", json!(0)), "jwks_min_refresh_seconds: must be a whole number from 1 to 3600"),
        (entry("jwks_max_age_seconds", json!("1h")), "jwks_max_age_seconds: must be a whole number"),
        (
            json!([good, {"issuer":"https://i.example/","jwks_url":"https://other.example/jwks","client_id":"c","channels":"x"}]).to_string(),
            r#"entry 1 ("https://i.example/"): jwks_url: entry 0 names the same issuer with another jwks_url"#,
        ),
        (json!([good, good]).to_string(), "entry 1 (\"https://i.example/\"): audience: entry 0 has the same issuer, audience and token_use"),
        (json!(vec![good.clone(); 33]).to_string(), "more than 32 issuers"),
    ];
    for (text, expected) in cases {
        let error: IssuersError = parse_issuers(&text).unwrap_err();
        assert!(
            error.to_string().contains(expected),
            "{text}\n  got: {error}\n  expected: {expected}"
        );
    }
}

#[test]
fn token_issuers_defaults_and_settings() {
    let configs = parse_issuers(
        &json!([
            {"issuer":"https://i.example/","jwks_url":"http://localhost:9/jwks","audience":"a","channels_claim":"groups"},
            {"issuer":"https://i.example/","jwks_url":"http://localhost:9/jwks","client_id":"c","token_use":"access","publish":"p:{sub}",
             "jwks_min_refresh_seconds":5,"jwks_timeout_ms":500,"jwks_max_age_seconds":600}
        ])
        .to_string(),
    )
    .unwrap();
    let defaults = &configs[0].refresh;
    assert_eq!(
        (defaults.min_interval, defaults.timeout, defaults.max_age),
        (
            Duration::from_secs(30),
            Duration::from_secs(2),
            Duration::from_secs(3600)
        )
    );
    let set = &configs[1].refresh;
    assert_eq!(
        (set.min_interval, set.timeout, set.max_age),
        (
            Duration::from_secs(5),
            Duration::from_millis(500),
            Duration::from_secs(600)
        )
    );
    assert_eq!(configs[1].publish, ["p:{sub}"]);
    assert_eq!(configs[1].token_use.as_deref(), Some("access"));
}

// --- no input panics -------------------------------------------------------

fn json_value() -> impl Strategy<Value = Value> {
    let leaf = prop_oneof![
        Just(Value::Null),
        any::<bool>().prop_map(Value::from),
        any::<i64>().prop_map(Value::from),
        any::<f64>().prop_map(|f| json!(f)),
        "[a-z_:{}*./-]{0,12}".prop_map(Value::from),
        prop_oneof![
            Just("https://i.example/jwks"),
            Just("http://127.0.0.1:1/j"),
            Just("RSA"),
            Just("EC"),
            Just("P-256"),
            Just("RS256"),
            Just("ES256"),
            Just("AQAB"),
            Just("sig"),
        ]
        .prop_map(Value::from),
    ];
    leaf.prop_recursive(3, 32, 6, |inner| {
        let keys = prop_oneof![
            Just("issuer".to_owned()),
            Just("jwks_url".to_owned()),
            Just("audience".to_owned()),
            Just("client_id".to_owned()),
            Just("channels".to_owned()),
            Just("publish_claim".to_owned()),
            Just("jwks_timeout_ms".to_owned()),
            Just("keys".to_owned()),
            Just("kty".to_owned()),
            Just("kid".to_owned()),
            Just("alg".to_owned()),
            Just("crv".to_owned()),
            Just("n".to_owned()),
            Just("e".to_owned()),
            Just("x".to_owned()),
            Just("y".to_owned()),
            "[a-z]{1,4}",
        ];
        prop_oneof![
            prop::collection::vec(inner.clone(), 0..4).prop_map(Value::from),
            prop::collection::btree_map(keys, inner, 0..6)
                .prop_map(|m| Value::Object(m.into_iter().collect())),
        ]
    })
}

proptest! {
    #![proptest_config(ProptestConfig::with_cases(1000))]

    #[test]
    fn no_string_panics_the_token_issuers_parser(text in ".{0,300}") {
        let _ = parse_issuers(&text);
    }

    #[test]
    fn no_json_panics_the_token_issuers_parser(value in json_value()) {
        let _ = parse_issuers(&value.to_string());
        let _ = parse_issuers(&json!([value]).to_string());
    }

    #[test]
    fn no_bytes_panic_the_jwks_parser(bytes in prop::collection::vec(any::<u8>(), 0..300)) {
        let _ = KeySet::parse(&bytes);
    }

    #[test]
    fn no_json_panics_the_jwks_parser(value in json_value()) {
        let _ = KeySet::parse(value.to_string().as_bytes());
        let _ = KeySet::parse(json!({"keys": [value]}).to_string().as_bytes());
    }

    #[test]
    fn no_token_panics_the_verifier(
        header in json_value(),
        claims in json_value(),
        signature in "[A-Za-z0-9_-]{0,90}",
        raw in ".{0,200}",
    ) {
        let runtime = tokio::runtime::Builder::new_current_thread().enable_time().build().unwrap();
        let fetcher = Arc::new(Scripted::default());
        fetcher.serve(&[Ec::generate("k").jwk()]);
        let issuers = scripted_issuers(fetcher, json!({"channels_claim": "kty"}));
        let token = format!("{}.{}.{signature}", b64_json(&header), b64_json(&claims));
        let mut with_iss = claims.clone();
        if let Some(object) = with_iss.as_object_mut() {
            object.insert("iss".into(), EC_ISSUER.into());
        }
        let routed = format!(
            "{}.{}.{signature}",
            b64_json(&json!({"alg":"ES256","kid":"k"})),
            b64_json(&with_iss)
        );
        runtime.block_on(async {
            let _ = issuers.verify(&token, NOW).await;
            let _ = issuers.verify(&routed, NOW).await;
            let _ = issuers.verify(&raw, NOW).await;
        });
        let _ = unverified_issuer(&raw);
        let _ = unverified_issuer(&token);
    }
}
