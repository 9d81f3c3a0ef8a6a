//! Bounded fetching: a flood of unknown kids, an unreachable or silent
//! JWKS, keys rotated in and withdrawn, an issuer outage.

use super::*;

fn random_kid_token(signer: &Rsa, claims: &Value) -> String {
    let kid: String = std::iter::repeat_with(fastrand::alphanumeric)
        .take(20)
        .collect();
    signer.sign(&json!({"alg":"RS256","kid":kid}), claims)
}

#[tokio::test]
async fn a_thousand_random_kids_cost_the_issuer_one_fetch() {
    let (server, keys, issuers) = deployment().await;
    let flood: Vec<String> = (0..1000)
        .map(|_| random_kid_token(&keys.auth0, &auth0_claims()))
        .collect();

    // WHEN 500 arrive at once and 500 more one after the other
    let concurrent =
        futures::future::join_all(flood[..500].iter().map(|token| issuers.verify(token, NOW)))
            .await;
    let mut outcomes = concurrent;
    for token in &flood[500..] {
        outcomes.push(issuers.verify(token, NOW).await);
    }

    // THEN every one is refused, and the issuer saw a single request
    assert!(outcomes.iter().all(|o| o == &Err(IssuerError::UnknownKey)));
    assert_eq!(server.hits("/auth0/.well-known/jwks.json"), 1);
    // AND real tokens are still verified, from the cache
    issuers
        .verify(&keys.auth0.token(&auth0_claims()), NOW)
        .await
        .unwrap();
    assert_eq!(server.hits("/auth0/.well-known/jwks.json"), 1);
    assert_eq!(server.hits("/cognito/.well-known/jwks.json"), 0);
}

fn one_issuer(jwks_url: &str, extra: Value) -> Vec<IssuerConfig> {
    let mut entry = json!({
        "issuer": AUTH0,
        "jwks_url": jwks_url,
        "audience": AUTH0_API,
        "channels_claim": "https://channels.example.com/channels",
    });
    for (k, v) in extra.as_object().unwrap() {
        entry[k] = v.clone();
    }
    parse_issuers(&json!([entry]).to_string()).unwrap()
}

#[tokio::test]
async fn an_unreachable_jwks_answers_unavailable_at_once_and_is_not_retried_at_once() {
    // GIVEN a JWKS URL on a port nobody listens on
    let port = {
        let listener = TcpListener::bind("127.0.0.1:0").await.unwrap();
        listener.local_addr().unwrap().port()
    };
    let issuers = Issuers::new(
        one_issuer(&format!("http://127.0.0.1:{port}/jwks"), json!({})),
        LoopbackFetcher,
        MAX_LIFETIME,
    );
    let keys = keys();
    let token = keys.auth0.token(&auth0_claims());

    // WHEN a token arrives THEN it is answered 503 (unavailable)
    let error = issuers.verify(&token, NOW).await.unwrap_err();
    assert!(matches!(error, IssuerError::Unavailable(_)), "{error}");
    assert_eq!(error.status(), 503);
    assert!(!error.to_string().contains(&token));
    // AND the next ones too, without another attempt until the interval
    for _ in 0..10 {
        assert!(matches!(
            issuers.verify(&token, NOW).await,
            Err(IssuerError::Unavailable(_))
        ));
    }
    assert_eq!(issuers.fetches(AUTH0), 1);
}

#[tokio::test(start_paused = true)]
async fn a_silent_jwks_answers_unavailable_after_the_timeout() {
    // GIVEN a JWKS server that accepts and never answers, and a 1.5 s timeout
    let server = JwksServer::start().await;
    let issuers = Issuers::new(
        one_issuer(&server.url("/silent"), json!({"jwks_timeout_ms": 1500})),
        LoopbackFetcher,
        MAX_LIFETIME,
    );
    let token = keys().auth0.token(&auth0_claims());

    // WHEN a token arrives
    let started = tokio::time::Instant::now();
    let error = issuers.verify(&token, NOW).await.unwrap_err();

    // THEN it returns "unavailable" once the timeout has passed (tokio's
    // clock: the test does not wait for real)
    assert!(
        matches!(&error, IssuerError::Unavailable(reason) if reason.contains("no answer within 1500 ms")),
        "{error}"
    );
    let waited = started.elapsed();
    assert!(
        waited >= Duration::from_millis(1500) && waited < Duration::from_millis(1600),
        "{waited:?}"
    );
}

/// A JWKS held in memory, counting its fetches; a `None` document fails.
#[derive(Default)]
pub(super) struct Scripted {
    document: Mutex<Option<Vec<u8>>>,
    calls: AtomicU64,
    hang: std::sync::atomic::AtomicBool,
}

impl Scripted {
    pub(super) fn serve(&self, keys: &[Value]) {
        *self.document.lock().unwrap() =
            Some(serde_json::to_vec(&json!({ "keys": keys })).unwrap());
    }

    fn fail(&self) {
        *self.document.lock().unwrap() = None;
    }

    fn calls(&self) -> u64 {
        self.calls.load(Ordering::SeqCst)
    }
}

impl JwksFetcher for Scripted {
    async fn fetch(&self, _url: &str) -> Result<Vec<u8>, FetchError> {
        self.calls.fetch_add(1, Ordering::SeqCst);
        if self.hang.load(Ordering::SeqCst) {
            std::future::pending::<()>().await;
        }
        let document = self.document.lock().unwrap().clone();
        document.ok_or(FetchError::Status(500))
    }
}

pub(super) const EC_ISSUER: &str = "https://idp.example.org/";

pub(super) fn scripted_issuers(fetcher: Arc<Scripted>, extra: Value) -> Issuers<Arc<Scripted>> {
    let mut entry = json!({
        "issuer": EC_ISSUER,
        "jwks_url": "https://idp.example.org/jwks",
        "audience": "lrw",
        "channels": ["user:{sub}:*"],
    });
    for (k, v) in extra.as_object().unwrap() {
        entry[k] = v.clone();
    }
    Issuers::new(
        parse_issuers(&json!([entry]).to_string()).unwrap(),
        fetcher,
        MAX_LIFETIME,
    )
}

fn ec_claims(now: i64) -> Value {
    json!({"iss": EC_ISSUER, "aud": "lrw", "sub": "u1", "iat": now, "exp": now + 600})
}

#[tokio::test(start_paused = true)]
async fn random_kids_over_ten_minutes_cost_one_fetch_per_interval() {
    // GIVEN an issuer that may be fetched once every 30 s
    let fetcher = Arc::new(Scripted::default());
    let key = Ec::generate("k1");
    fetcher.serve(&[key.jwk()]);
    let issuers = scripted_issuers(fetcher.clone(), json!({"jwks_min_refresh_seconds": 30}));

    // WHEN a random kid arrives every 100 ms for 10 minutes
    for _ in 0..6000 {
        let kid: String = std::iter::repeat_with(fastrand::alphanumeric)
            .take(12)
            .collect();
        let token = key.sign(&json!({"alg":"ES256","kid":kid}), &ec_claims(NOW));
        assert_eq!(
            issuers.verify(&token, NOW).await,
            Err(IssuerError::UnknownKey)
        );
        tokio::time::advance(Duration::from_millis(100)).await;
    }

    // THEN the issuer was asked at most once per 30 s
    assert!((20..=21).contains(&fetcher.calls()), "{}", fetcher.calls());
}

#[tokio::test(start_paused = true)]
async fn new_keys_are_picked_up_and_withdrawn_keys_dropped() {
    let fetcher = Arc::new(Scripted::default());
    let (k1, k2) = (Ec::generate("k1"), Ec::generate("k2"));
    fetcher.serve(&[k1.jwk()]);
    let issuers = scripted_issuers(fetcher.clone(), json!({}));
    assert_eq!(fetcher.calls(), 0, "nothing fetched at init");

    issuers
        .verify(&k1.token(&ec_claims(NOW)), NOW)
        .await
        .unwrap();
    assert_eq!(fetcher.calls(), 1);

    // GIVEN the issuer starts publishing k2 right after our fetch
    fetcher.serve(&[k1.jwk(), k2.jwk()]);
    // THEN k2 is unknown until the refresh interval has passed
    assert_eq!(
        issuers.verify(&k2.token(&ec_claims(NOW)), NOW).await,
        Err(IssuerError::UnknownKey)
    );
    tokio::time::advance(Duration::from_secs(30)).await;
    issuers
        .verify(&k2.token(&ec_claims(NOW)), NOW)
        .await
        .unwrap();
    assert_eq!(fetcher.calls(), 2);

    // GIVEN the issuer withdraws k1: it verifies until the set is an hour old
    fetcher.serve(&[k2.jwk()]);
    issuers
        .verify(&k1.token(&ec_claims(NOW)), NOW)
        .await
        .unwrap();
    assert_eq!(fetcher.calls(), 2);
    tokio::time::advance(Duration::from_secs(3600)).await;
    assert_eq!(
        issuers.verify(&k1.token(&ec_claims(NOW)), NOW).await,
        Err(IssuerError::UnknownKey)
    );
    assert_eq!(fetcher.calls(), 3);
}

#[tokio::test(start_paused = true)]
async fn known_keys_outlive_an_issuer_outage() {
    let fetcher = Arc::new(Scripted::default());
    let key = Ec::generate("k1");
    fetcher.serve(&[key.jwk()]);
    let issuers = scripted_issuers(fetcher.clone(), json!({}));
    issuers
        .verify(&key.token(&ec_claims(NOW)), NOW)
        .await
        .unwrap();

    // GIVEN the issuer fails, and the set is past its age
    fetcher.fail();
    tokio::time::advance(Duration::from_secs(3601)).await;
    // THEN the known key still verifies (the refresh failed), an unknown kid
    // is "unavailable" (the set may be out of date), not "unknown"
    issuers
        .verify(&key.token(&ec_claims(NOW)), NOW)
        .await
        .unwrap();
    let other = Ec::generate("k9");
    assert!(matches!(
        issuers.verify(&other.token(&ec_claims(NOW)), NOW).await,
        Err(IssuerError::Unavailable(_))
    ));
    assert_eq!(fetcher.calls(), 2);
}

#[tokio::test(start_paused = true)]
async fn concurrent_misses_wait_for_one_fetch_that_times_out() {
    // GIVEN a fetch that never completes, and the default 2 s timeout
    let fetcher = Arc::new(Scripted::default());
    fetcher.hang.store(true, Ordering::SeqCst);
    let issuers = scripted_issuers(fetcher.clone(), json!({}));
    let key = Ec::generate("k1");
    let token = key.token(&ec_claims(NOW));

    // WHEN 100 tokens arrive together
    let started = tokio::time::Instant::now();
    let outcomes = futures::future::join_all((0..100).map(|_| issuers.verify(&token, NOW))).await;

    // THEN one fetch was made, and all answer "unavailable" after 2 s
    assert_eq!(fetcher.calls(), 1);
    assert!(outcomes
        .iter()
        .all(|o| matches!(o, Err(IssuerError::Unavailable(_)))));
    assert_eq!(started.elapsed(), Duration::from_secs(2));
}
