//! Test support (feature `testing`), for this crate's tests and every other
//! crate's: a notifier that records and can be scripted to fail, a store
//! whose every call fails, and a runner for built binaries.

use std::collections::{BTreeSet, HashMap, HashSet, VecDeque};
use std::process::Command;
use std::sync::atomic::{AtomicU64, AtomicUsize, Ordering};
use std::sync::Mutex;
use std::time::Duration;

use crate::memory::lock;
use crate::{
    ChannelName, Connection, ConnectionNotifier, ConnectionStore, NotifyError, Page, Shards,
    StoreError,
};

/// A notifier that records every delivered message, and can be told to fail.
///
/// Unscripted connections receive every message. [`MemoryNotifier::gone`]
/// makes one answer 410 forever; [`MemoryNotifier::fail_next`] queues failures
/// a connection returns before it succeeds.
#[derive(Debug, Default)]
pub struct MemoryNotifier {
    state: Mutex<NotifierState>,
    in_flight: AtomicUsize,
    peak_in_flight: AtomicUsize,
    delay: Option<Duration>,
    /// Posts that have started; past `hang_after`, posts never complete.
    started: AtomicUsize,
    hang_after: Option<usize>,
}

#[derive(Debug, Default)]
struct NotifierState {
    delivered: HashMap<String, Vec<Vec<u8>>>,
    gone: HashSet<String>,
    scripted: HashMap<String, VecDeque<NotifyError>>,
    attempts: HashMap<String, usize>,
}

impl MemoryNotifier {
    pub fn new() -> Self {
        Self::default()
    }

    /// Every post takes `delay`, so that posts overlap (to observe concurrency).
    pub fn with_delay(delay: Duration) -> Self {
        Self {
            delay: Some(delay),
            ..Self::default()
        }
    }

    /// After `posts` posts have started, every further post hangs forever,
    /// as when the process running the fan-out dies mid-page.
    pub fn hang_after(mut self, posts: usize) -> Self {
        self.hang_after = Some(posts);
        self
    }

    /// `connection_id` answers [`NotifyError::Gone`] from now on.
    pub fn gone(&self, connection_id: &str) {
        lock(&self.state).gone.insert(connection_id.to_owned());
    }

    /// `connection_id` fails with `errors`, in order, before it succeeds.
    pub fn fail_next(&self, connection_id: &str, errors: impl IntoIterator<Item = NotifyError>) {
        lock(&self.state)
            .scripted
            .entry(connection_id.to_owned())
            .or_default()
            .extend(errors);
    }

    /// Messages delivered to `connection_id`, in order.
    pub fn delivered(&self, connection_id: &str) -> Vec<Vec<u8>> {
        lock(&self.state)
            .delivered
            .get(connection_id)
            .cloned()
            .unwrap_or_default()
    }

    /// Posts attempted to `connection_id`, failed ones included.
    pub fn attempts(&self, connection_id: &str) -> usize {
        lock(&self.state)
            .attempts
            .get(connection_id)
            .copied()
            .unwrap_or(0)
    }

    /// Connections that received at least one message.
    pub fn recipients(&self) -> BTreeSet<String> {
        lock(&self.state).delivered.keys().cloned().collect()
    }

    /// The most posts that were ever in flight at once.
    pub fn peak_in_flight(&self) -> usize {
        self.peak_in_flight.load(Ordering::SeqCst)
    }
}

impl ConnectionNotifier for MemoryNotifier {
    async fn post(&self, connection_id: &str, data: &[u8]) -> Result<(), NotifyError> {
        let started = self.started.fetch_add(1, Ordering::SeqCst);
        if self.hang_after.is_some_and(|limit| started >= limit) {
            std::future::pending::<()>().await;
        }
        let now = self.in_flight.fetch_add(1, Ordering::SeqCst) + 1;
        self.peak_in_flight.fetch_max(now, Ordering::SeqCst);
        if let Some(delay) = self.delay {
            tokio::time::sleep(delay).await;
        }
        let result = {
            let mut state = lock(&self.state);
            *state.attempts.entry(connection_id.to_owned()).or_default() += 1;
            if state.gone.contains(connection_id) {
                Err(NotifyError::Gone)
            } else if let Some(err) = state
                .scripted
                .get_mut(connection_id)
                .and_then(VecDeque::pop_front)
            {
                Err(err)
            } else {
                state
                    .delivered
                    .entry(connection_id.to_owned())
                    .or_default()
                    .push(data.to_vec());
                Ok(())
            }
        };
        self.in_flight.fetch_sub(1, Ordering::SeqCst);
        result
    }
}

/// Runs `program` with exactly `env` (nothing inherited) and returns whether
/// it succeeded and what it printed, stdout then stderr.
pub fn run_with_env(program: &str, env: &[(&str, &str)]) -> (bool, String) {
    match Command::new(program)
        .env_clear()
        .envs(env.iter().copied())
        .output()
    {
        Ok(output) => (
            output.status.success(),
            format!(
                "{}{}",
                String::from_utf8_lossy(&output.stdout),
                String::from_utf8_lossy(&output.stderr)
            ),
        ),
        Err(err) => (false, format!("cannot run {program}: {err}")),
    }
}

/// A store whose every call fails, as when DynamoDB is unreachable.
#[derive(Debug, Default, Clone, Copy)]
pub struct FailingStore;

impl ConnectionStore for FailingStore {
    fn shards(&self) -> Shards {
        Shards::ONE
    }

    async fn put(&self, _: &Connection) -> Result<(), StoreError> {
        Err(StoreError::new(
            "PutItem",
            "ResourceNotFoundException: secret table arn:aws:dynamodb:…",
        ))
    }
    async fn remove(&self, _: &str) -> Result<(), StoreError> {
        Err(StoreError::new(
            "DeleteItem",
            "ResourceNotFoundException: secret table arn:aws:dynamodb:…",
        ))
    }
    async fn members(
        &self,
        _: &ChannelName,
        _: u16,
        _: Option<String>,
        _: Option<u32>,
    ) -> Result<Page, StoreError> {
        Err(StoreError::new(
            "Query",
            "ResourceNotFoundException: secret table arn:aws:dynamodb:…",
        ))
    }
    async fn count(&self, _: &ChannelName, _: u16) -> Result<u64, StoreError> {
        Err(StoreError::new(
            "Query",
            "ResourceNotFoundException: secret table arn:aws:dynamodb:…",
        ))
    }
}

/// A simulated `@connections` endpoint: every post takes `latency`, and
/// posts arriving faster than a token bucket allows (`rate` a second, bursts
/// of `burst`) are answered 429 [`NotifyError::Throttled`], as API Gateway's
/// account throttle does. Counts what it delivered and refused.
#[derive(Debug)]
pub struct ThrottledEndpoint {
    rate: f64,
    burst: f64,
    latency: Duration,
    bucket: Mutex<(f64, Option<tokio::time::Instant>)>,
    delivered: AtomicU64,
    throttled: AtomicU64,
    /// Deliveries per connection, when tracked.
    per_connection: Option<Mutex<HashMap<String, u32>>>,
}

impl ThrottledEndpoint {
    pub fn new(rate: f64, burst: u32, latency: Duration) -> Self {
        Self {
            rate,
            burst: f64::from(burst.max(1)),
            latency,
            bucket: Mutex::new((f64::from(burst.max(1)), None)),
            delivered: AtomicU64::new(0),
            throttled: AtomicU64::new(0),
            per_connection: None,
        }
    }

    /// Also counts deliveries per connection ([`Self::deliveries_to`]).
    pub fn tracking(mut self) -> Self {
        self.per_connection = Some(Mutex::new(HashMap::new()));
        self
    }

    pub fn delivered(&self) -> u64 {
        self.delivered.load(Ordering::SeqCst)
    }

    pub fn throttled(&self) -> u64 {
        self.throttled.load(Ordering::SeqCst)
    }

    /// How many times `connection_id` got a message (0 unless tracking).
    pub fn deliveries_to(&self, connection_id: &str) -> u32 {
        self.per_connection
            .as_ref()
            .and_then(|m| lock(m).get(connection_id).copied())
            .unwrap_or(0)
    }

    /// Takes a token if one is left.
    fn admit(&self) -> bool {
        let now = tokio::time::Instant::now();
        let mut bucket = lock(&self.bucket);
        let (tokens, last) = *bucket;
        let refilled = last.map_or(tokens, |last| {
            (tokens + now.duration_since(last).as_secs_f64() * self.rate).min(self.burst)
        });
        if refilled >= 1.0 {
            *bucket = (refilled - 1.0, Some(now));
            true
        } else {
            *bucket = (refilled, Some(now));
            false
        }
    }
}

impl ConnectionNotifier for ThrottledEndpoint {
    async fn post(&self, connection_id: &str, _data: &[u8]) -> Result<(), NotifyError> {
        let admitted = self.admit();
        tokio::time::sleep(self.latency).await;
        if !admitted {
            self.throttled.fetch_add(1, Ordering::SeqCst);
            return Err(NotifyError::Throttled);
        }
        self.delivered.fetch_add(1, Ordering::SeqCst);
        if let Some(map) = &self.per_connection {
            *lock(map).entry(connection_id.to_owned()).or_default() += 1;
        }
        Ok(())
    }
}
