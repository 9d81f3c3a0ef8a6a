//! `$connect` with a token of another issuer (`TOKEN_ISSUERS`), through the
//! handler the rx binary runs, with the loopback JWKS fetcher the library
//! takes (the binary gives it the HTTPS one): a key set served on
//! 127.0.0.1, a Cognito-style access token (RS256, `client_id`,
//! `token_use`) accepted with its grants stored; a JWKS that refuses the
//! connection or never answers makes `$connect` answer 503 within the
//! issuer's timeout, storing nothing.

#![allow(clippy::unwrap_used, clippy::expect_used)] // a test fails by panicking

mod support;

use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::Arc;
use std::time::{Duration, Instant};

use aws_lambda_events::apigw::ApiGatewayWebsocketProxyRequest;
use channels::memory::MemoryStore;
use channels::testing::issuer::{
    cognito_access_claims, read_request_head, RsaSigner, COGNITO_ACCESS_KEY,
};
use channels::token::auth::Auth;
use channels::token::issuers::{parse_issuers, Issuers};
use channels::token::loopback::LoopbackFetcher;
use channels::token::{LocalSigner, Verifier};
use channels::{Pattern, Protocol};
use serde_json::{json, Value};
use support::{fixture, lambda_event, message, AUD, CONNECTION_ID, ISS};
use tokio::io::AsyncWriteExt as _;
use tokio::net::TcpListener;

const ISSUER: &str = "https://cognito-idp.eu-west-1.amazonaws.com/eu-west-1_RxTest1";
const CLIENT_ID: &str = "4example5client6id7";
const SUB: &str = "0f1e2d3c-4444-5555-6666-777788889999";
const KID: &str = "rx-test-key-1";

/// The committed test-only RSA key of the domain's issuer tests.
fn key() -> RsaSigner {
    RsaSigner::load(COGNITO_ACCESS_KEY, KID)
}

/// A Cognito access token of the pool, signed RS256.
fn access_token(key: &RsaSigner) -> String {
    key.token(&cognito_access_claims(ISSUER, CLIENT_ID, SUB))
}

/// A JWKS server on 127.0.0.1: `/jwks.json` serves `key`, `/silent`
/// accepts and never answers. Counts the requests.
struct JwksServer {
    base: String,
    hits: Arc<AtomicU64>,
}

impl JwksServer {
    async fn start(key: &RsaSigner) -> Self {
        let body = serde_json::to_vec(&key.jwks()).unwrap();
        let listener = TcpListener::bind("127.0.0.1:0").await.unwrap();
        let base = format!("http://{}", listener.local_addr().unwrap());
        let hits = Arc::new(AtomicU64::new(0));
        let counted = hits.clone();
        tokio::spawn(async move {
            while let Ok((mut stream, _)) = listener.accept().await {
                let body = body.clone();
                let hits = counted.clone();
                tokio::spawn(async move {
                    let Some(request) = read_request_head(&mut stream).await else {
                        return;
                    };
                    hits.fetch_add(1, Ordering::SeqCst);
                    if String::from_utf8_lossy(&request).starts_with("GET /silent ") {
                        std::future::pending::<()>().await;
                    }
                    let mut answer = format!(
                        "HTTP/1.1 200 OK\r\nContent-Type: application/json\r\nContent-Length: {}\r\n\r\n",
                        body.len()
                    )
                    .into_bytes();
                    answer.extend(body);
                    let _ = stream.write_all(&answer).await;
                });
            }
        });
        Self { base, hits }
    }

    fn url(&self, path: &str) -> String {
        format!("{}{path}", self.base)
    }

    fn hits(&self) -> u64 {
        self.hits.load(Ordering::SeqCst)
    }
}

/// rx's dependencies as main.rs builds them from TOKEN_ISSUERS (our own
/// tokens on, the issuer beside them), with the loopback fetcher.
fn issuer_deps(jwks_url: &str, extra: Value) -> rx::Deps<MemoryStore> {
    let mut entry = json!({
        "issuer": ISSUER, "jwks_url": jwks_url, "client_id": CLIENT_ID, "token_use": "access",
        "channels": ["user:{sub}:*", "lobby"], "publish": ["user:{sub}:*"]
    });
    for (field, value) in extra.as_object().unwrap() {
        entry[field] = value.clone();
    }
    let configs = parse_issuers(&json!([entry]).to_string()).unwrap();
    let ours = LocalSigner::generate().unwrap();
    let verifier = Verifier::new(vec![ours.public_key().clone()], AUD, ISS);
    rx::Deps {
        store: MemoryStore::new(),
        auth: Auth::new(
            rx::SubscriberAuth::Token(verifier),
            Issuers::new(configs, LoopbackFetcher, 86_400),
        ),
    }
}

/// connect.json, connected now, to `channel`, with the token as a browser
/// sends a long one: the `token.<JWT>` subprotocol beside `lrw.v1`.
fn connect(channel: &str, token: &str) -> ApiGatewayWebsocketProxyRequest {
    let mut event = fixture("connect.json");
    event["requestContext"]["connectedAt"] = json!(channels::now_millis());
    event["queryStringParameters"] = json!({ "channel": channel });
    event["multiValueQueryStringParameters"] = json!({ "channel": [channel] });
    let protocols = format!("lrw.v1, token.{token}");
    event["headers"]["Sec-WebSocket-Protocol"] = json!(protocols);
    event["multiValueHeaders"]["Sec-WebSocket-Protocol"] = json!([protocols]);
    serde_json::from_value(event).unwrap()
}

fn patterns(texts: &[&str]) -> Vec<Pattern> {
    texts.iter().map(|t| Pattern::parse(t).unwrap()).collect()
}

#[tokio::test]
async fn an_issuer_token_connects_with_its_grants() {
    // GIVEN the user pool's key set on 127.0.0.1, and rx accepting its
    // access tokens beside its own
    let key = key();
    let server = JwksServer::start(&key).await;
    let deps = issuer_deps(&server.url("/jwks.json"), json!({}));
    let token = access_token(&key);
    let inbox = format!("user:{SUB}:inbox");

    // WHEN the user connects to their inbox with an access token
    let response = rx::handle(lambda_event(connect(&inbox, &token)), &deps).await;

    // THEN 200, lrw.v1 selected (the token never echoed), and the
    // connection stored with the token's grants, subject, issuer and expiry
    assert_eq!(response.status_code, 200, "{:?}", response.body);
    let selected = response
        .headers
        .get("sec-websocket-protocol")
        .map(|v| v.to_str().unwrap().to_owned());
    assert_eq!(selected.as_deref(), Some("lrw.v1"));
    let stored = deps.store.get(CONNECTION_ID).expect("stored");
    assert_eq!(stored.protocol, Protocol::V1);
    assert_eq!(
        stored.grants.subscribe,
        patterns(&[&format!("user:{SUB}:*"), "lobby"])
    );
    assert_eq!(stored.grants.publish, patterns(&[&format!("user:{SUB}:*")]));
    assert_eq!(stored.subject.as_deref(), Some(SUB));
    assert_eq!(stored.issuer.as_deref(), Some(ISSUER));
    assert!(stored.token_expires_at.unwrap() > channels::now_millis() / 1000);
    assert_eq!(deps.store.channels_of(CONNECTION_ID).len(), 1);
    assert_eq!(server.hits(), 1, "the key set was fetched once");

    // AND a channel the token does not grant is refused 403, storing nothing
    let other = issuer_deps(&server.url("/jwks.json"), json!({}));
    let response = rx::handle(
        lambda_event(connect("user:someone-else:inbox", &token)),
        &other,
    )
    .await;
    assert_eq!(response.status_code, 403);
    assert!(other.store.get(CONNECTION_ID).is_none());
}

#[tokio::test]
async fn an_unreachable_jwks_answers_503_at_once() {
    // GIVEN an issuer whose JWKS URL is a 127.0.0.1 port nobody listens on
    let port = {
        let listener = TcpListener::bind("127.0.0.1:0").await.unwrap();
        listener.local_addr().unwrap().port()
    };
    let deps = issuer_deps(&format!("http://127.0.0.1:{port}/jwks.json"), json!({}));
    let token = access_token(&key());

    // WHEN a user connects with its token
    let started = Instant::now();
    let response = rx::handle(lambda_event(connect("lobby", &token)), &deps).await;

    // THEN 503, well within the default 2 s timeout, with the category only,
    // and nothing stored
    let waited = started.elapsed();
    assert_eq!(response.status_code, 503, "{:?}", response.body);
    assert!(waited < Duration::from_secs(2), "{waited:?}");
    assert_eq!(
        message(&response),
        json!({"message": "Service Unavailable"})
    );
    assert!(deps.store.get(CONNECTION_ID).is_none());
}

#[tokio::test]
async fn a_silent_jwks_answers_503_within_the_timeout() {
    // GIVEN an issuer whose JWKS server accepts and never answers, and a
    // fetch timeout of 300 ms
    let key = key();
    let server = JwksServer::start(&key).await;
    let timeout = Duration::from_millis(300);
    let deps = issuer_deps(&server.url("/silent"), json!({"jwks_timeout_ms": 300}));
    let token = access_token(&key);

    // WHEN a user connects with its token
    let started = Instant::now();
    let response = rx::handle(lambda_event(connect("lobby", &token)), &deps).await;

    // THEN 503 once the timeout has passed, not long after (API Gateway
    // would wait 29 s), and nothing stored
    let waited = started.elapsed();
    assert_eq!(response.status_code, 503, "{:?}", response.body);
    assert!(
        waited >= timeout && waited < timeout + Duration::from_millis(1500),
        "{waited:?}"
    );
    assert_eq!(
        message(&response),
        json!({"message": "Service Unavailable"})
    );
    assert!(deps.store.get(CONNECTION_ID).is_none());
    assert_eq!(server.hits(), 1);

    // AND the next connect, before another fetch is allowed, answers 503 at once
    let started = Instant::now();
    let response = rx::handle(lambda_event(connect("lobby", &token)), &deps).await;
    assert_eq!(response.status_code, 503);
    assert!(started.elapsed() < timeout, "{:?}", started.elapsed());
    assert_eq!(server.hits(), 1);
}
