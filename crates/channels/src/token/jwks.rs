//! Fetching and caching the keys of other issuers.
//!
//! - The [`JwksFetcher`] port fetches a JWKS document; this crate names no
//!   HTTP client. Adapters: [`LoopbackFetcher`](super::loopback::LoopbackFetcher)
//!   here (plain HTTP to 127.0.0.1, for tests and the local gateway), and an
//!   HTTPS fetcher in `channels-aws` (feature `jwks`).
//! - [`IssuerKeys`] holds one issuer's keys. Every issuer has its own, so a
//!   key is found by (issuer, kid), never by `kid` alone: a `kid` copied from
//!   another issuer's token finds nothing here.
//!
//! # When a JWKS is fetched
//!
//! Never at start: on the first token whose `kid` is not in the cache (or
//! when the cached set is older than [`RefreshPolicy::max_age`]). Fetches are
//! bounded per issuer:
//!
//! - at most one every [`RefreshPolicy::min_interval`], whatever the tokens
//!   say: a flood of made-up `kid`s costs the issuer one request per
//!   interval per execution environment, and the other tokens get "unknown
//!   key" from memory;
//! - concurrent misses wait for the one fetch in flight instead of starting
//!   their own;
//! - each fetch is cut after [`RefreshPolicy::timeout`]: an issuer that does
//!   not answer makes `$connect` answer 503 within the timeout, and the
//!   tokens that arrive until the next allowed attempt get 503 at once.
//!
//! A set that could not be refreshed keeps serving the keys it has (an
//! issuer outage does not log out holders of known keys); a set is replaced
//! whole by each successful fetch, so a key the issuer withdrew stops
//! verifying at the next refresh.

use std::future::Future;
use std::sync::{Arc, Mutex, PoisonError};
use std::time::Duration;

use tokio::time::Instant;

use super::jwk::{IssuerKey, JwksError, KeySet};

/// Largest JWKS document accepted, in bytes (the body; headers apart).
/// Cognito's is under 1 KB, Auth0's (with `x5c` certificates) ~3 KB.
pub const MAX_JWKS_BYTES: usize = 128 * 1024;

/// Why a JWKS could not be fetched. Safe to log: URLs of JWKS documents are
/// public, and nothing here comes from a token.
#[derive(Clone, Debug, PartialEq, Eq, thiserror::Error)]
pub enum FetchError {
    #[error("this fetcher cannot fetch that URL: {0}")]
    Url(&'static str),
    #[error("cannot connect: {0}")]
    Connect(String),
    #[error("answered HTTP {0}")]
    Status(u16),
    #[error("answer larger than {MAX_JWKS_BYTES} bytes")]
    TooLarge,
    #[error("malformed HTTP answer: {0}")]
    Protocol(&'static str),
    #[error("{0}")]
    Io(String),
    #[error("no answer within {0} ms")]
    Timeout(u128),
}

/// Port: fetches the JWKS document at `url` (`https://…`, or `http://` on a
/// loopback address). Answers the body of a 200 answer, at most
/// [`MAX_JWKS_BYTES`]; anything else is an error. The caller applies the
/// timeout (it drops the future).
pub trait JwksFetcher: Send + Sync {
    fn fetch(&self, url: &str) -> impl Future<Output = Result<Vec<u8>, FetchError>> + Send;
}

impl<T: JwksFetcher> JwksFetcher for Arc<T> {
    fn fetch(&self, url: &str) -> impl Future<Output = Result<Vec<u8>, FetchError>> + Send {
        (**self).fetch(url)
    }
}

impl<T: JwksFetcher> JwksFetcher for &T {
    fn fetch(&self, url: &str) -> impl Future<Output = Result<Vec<u8>, FetchError>> + Send {
        (**self).fetch(url)
    }
}

/// How often one issuer's JWKS may be fetched, and how long a fetch may take.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct RefreshPolicy {
    /// Least time between two fetches of the same JWKS (successful or not).
    pub min_interval: Duration,
    /// Longest a fetch may take before the token is answered "unavailable".
    pub timeout: Duration,
    /// Age after which a cached set is fetched again on the next token.
    pub max_age: Duration,
}

/// Default [`RefreshPolicy::min_interval`]: 30 s. At most two fetches a
/// minute per issuer and execution environment however many unknown `kid`s
/// arrive; a key an issuer starts signing with right after a fetch is
/// accepted at most 30 s later (providers publish new keys before they use
/// them, so in practice at once).
pub const DEFAULT_MIN_REFRESH: Duration = Duration::from_secs(30);
/// Default [`RefreshPolicy::timeout`]: 2 s. A JWKS is one small document
/// from a CDN; a provider that has not answered in 2 s is unlikely to answer
/// before the client gives up, and API Gateway waits at most 29 s for
/// `$connect`.
pub const DEFAULT_FETCH_TIMEOUT: Duration = Duration::from_secs(2);
/// Default [`RefreshPolicy::max_age`]: one hour, so that a key the issuer
/// withdraws stops verifying within the hour.
pub const DEFAULT_MAX_KEY_AGE: Duration = Duration::from_secs(3600);

impl Default for RefreshPolicy {
    fn default() -> Self {
        Self {
            min_interval: DEFAULT_MIN_REFRESH,
            timeout: DEFAULT_FETCH_TIMEOUT,
            max_age: DEFAULT_MAX_KEY_AGE,
        }
    }
}

/// The outcome of looking up a `kid`.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum Lookup {
    Found(IssuerKey),
    /// The issuer's current set has no such key (and it may not be fetched
    /// again yet).
    Unknown,
    /// The set could not be fetched; the reason is for the log.
    Unavailable(String),
}

#[derive(Debug, Default)]
struct State {
    keys: Arc<KeySet>,
    /// When the current set was fetched.
    fetched_at: Option<Instant>,
    /// When the last fetch started, whatever its outcome.
    attempted_at: Option<Instant>,
    /// Why the last fetch failed, if it did.
    failure: Option<String>,
    fetches: u64,
}

/// One issuer's keys: fetched lazily, replaced whole, refreshed within the
/// bounds of its [`RefreshPolicy`].
#[derive(Debug)]
pub struct IssuerKeys {
    url: String,
    policy: RefreshPolicy,
    state: Mutex<State>,
    /// Held while a fetch is in flight: misses queue here and then find the
    /// new set (or the answer of the attempt) instead of fetching again.
    fetching: tokio::sync::Mutex<()>,
}

impl IssuerKeys {
    pub fn new(jwks_url: impl Into<String>, policy: RefreshPolicy) -> Self {
        Self {
            url: jwks_url.into(),
            policy,
            state: Mutex::new(State::default()),
            fetching: tokio::sync::Mutex::new(()),
        }
    }

    pub fn url(&self) -> &str {
        &self.url
    }

    pub fn policy(&self) -> RefreshPolicy {
        self.policy
    }

    /// How many fetches were started (for tests and metrics).
    pub fn fetches(&self) -> u64 {
        self.state().fetches
    }

    /// The key named `kid`, fetching the issuer's JWKS first when the cache
    /// lacks it and the policy allows a fetch now.
    pub async fn lookup<F: JwksFetcher>(&self, kid: &str, fetcher: &F) -> Lookup {
        if let Some(key) = self.fresh(kid) {
            return Lookup::Found(key);
        }
        let _in_flight = self.fetching.lock().await;
        // Another task may have fetched while this one waited.
        if let Some(key) = self.fresh(kid) {
            return Lookup::Found(key);
        }
        let may_fetch = {
            let state = self.state();
            state
                .attempted_at
                .is_none_or(|at| at.elapsed() >= self.policy.min_interval)
        };
        if may_fetch {
            self.refresh(fetcher).await;
        }
        let state = self.state();
        if let Some(key) = state.keys.get(kid) {
            // Fresh, or stale but the refresh failed or is not allowed yet.
            return Lookup::Found(key.clone());
        }
        match &state.failure {
            Some(reason) => Lookup::Unavailable(reason.clone()),
            None => Lookup::Unknown,
        }
    }

    /// `kid` from a set younger than `max_age`.
    fn fresh(&self, kid: &str) -> Option<IssuerKey> {
        let state = self.state();
        let fresh = state
            .fetched_at
            .is_some_and(|at| at.elapsed() < self.policy.max_age);
        if fresh {
            state.keys.get(kid).cloned()
        } else {
            None
        }
    }

    async fn refresh<F: JwksFetcher>(&self, fetcher: &F) {
        {
            let mut state = self.state();
            state.attempted_at = Some(Instant::now());
            state.fetches += 1;
        }
        let outcome = match tokio::time::timeout(self.policy.timeout, fetcher.fetch(&self.url))
            .await
        {
            Err(_elapsed) => Err(FetchError::Timeout(self.policy.timeout.as_millis()).to_string()),
            Ok(Err(error)) => Err(error.to_string()),
            Ok(Ok(body)) => KeySet::parse(&body).map_err(|e: JwksError| e.to_string()),
        };
        let mut state = self.state();
        match outcome {
            Ok(keys) => {
                for (kid, reason) in keys.skipped() {
                    tracing::warn!(jwks = %self.url, kid = kid.as_deref().unwrap_or("-"), %reason, "JWKS key skipped");
                }
                tracing::info!(jwks = %self.url, keys = keys.len(), "JWKS fetched");
                state.keys = Arc::new(keys);
                state.fetched_at = Some(Instant::now());
                state.failure = None;
            }
            Err(reason) => {
                tracing::warn!(jwks = %self.url, %reason, "JWKS fetch failed");
                state.failure = Some(format!("JWKS {}: {reason}", self.url));
            }
        }
    }

    fn state(&self) -> std::sync::MutexGuard<'_, State> {
        // Nothing panics while holding it; a poisoned lock still holds a
        // consistent state.
        self.state.lock().unwrap_or_else(PoisonError::into_inner)
    }
}
