//! Test support (feature `testing`), for this crate's tests and every other
//! crate's: a notifier that records and can be scripted to fail, a store
//! whose every call fails, a store that lags or fails as real ones do, a throttled
//! endpoint, a runner for built binaries, and another token issuer
//! ([`issuer`]).

use std::collections::{BTreeSet, HashMap, HashSet, VecDeque};
use std::process::Command;
use std::sync::atomic::{AtomicU64, AtomicUsize, Ordering};
use std::sync::Mutex;
use std::time::Duration;

pub mod issuer;

use crate::memory::lock;
use crate::message::{Position, StoredMessage};
use crate::{
    ChannelName, Connection, ConnectionNotifier, Grants, KeyClaim, Member, Membership, NotifyError,
    Page, Shards, Store, StoreError, Subscribed,
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

/// A store whose every call fails, as when DynamoDB is unreachable. The
/// failure's message carries a table ARN: it must reach the log, never a
/// client.
#[derive(Debug, Default, Clone, Copy)]
pub struct FailingStore;

fn down<T>(operation: &'static str) -> Result<T, StoreError> {
    Err(StoreError::new(
        operation,
        "ResourceNotFoundException: secret table arn:aws:dynamodb:…",
    ))
}

impl Store for FailingStore {
    fn shards(&self) -> Shards {
        Shards::ONE
    }
    async fn connect(&self, _: &Connection, _: Option<&ChannelName>) -> Result<(), StoreError> {
        down("PutItem")
    }
    async fn connection(&self, _: &str) -> Result<Option<Connection>, StoreError> {
        down("GetItem")
    }
    async fn membership(&self, _: &str, _: &ChannelName) -> Result<Option<Membership>, StoreError> {
        down("GetItem")
    }
    async fn subscribe(&self, _: &Connection, _: &ChannelName) -> Result<Subscribed, StoreError> {
        down("TransactWriteItems")
    }
    async fn unsubscribe(&self, _: &str, _: &ChannelName) -> Result<bool, StoreError> {
        down("TransactWriteItems")
    }
    async fn add_grants(&self, _: &str, _: &Grants, _: i64) -> Result<(), StoreError> {
        down("UpdateItem")
    }
    async fn disconnect(&self, _: &str) -> Result<Vec<Membership>, StoreError> {
        down("Query")
    }
    async fn members(
        &self,
        _: &ChannelName,
        _: u16,
        _: Option<String>,
        _: Option<u32>,
    ) -> Result<Page, StoreError> {
        down("Query")
    }
    async fn count(&self, _: &ChannelName, _: u16) -> Result<u64, StoreError> {
        down("Query")
    }
    async fn next_offset(&self, _: &ChannelName) -> Result<Position, StoreError> {
        down("UpdateItem")
    }
    async fn position(&self, _: &ChannelName) -> Result<Position, StoreError> {
        down("UpdateItem")
    }
    async fn append(&self, _: &StoredMessage, _: i64) -> Result<(), StoreError> {
        down("PutItem")
    }
    async fn messages(
        &self,
        _: &ChannelName,
        _: u64,
        _: u32,
    ) -> Result<Vec<StoredMessage>, StoreError> {
        down("Query")
    }
    async fn claim_key(&self, _: &ChannelName, _: &str, _: i64) -> Result<KeyClaim, StoreError> {
        down("PutItem")
    }
    async fn settle_key(&self, _: &ChannelName, _: &str, _: u64) -> Result<(), StoreError> {
        down("UpdateItem")
    }
    async fn release_key(&self, _: &ChannelName, _: &str) -> Result<(), StoreError> {
        down("DeleteItem")
    }
}

/// A store that misbehaves as a real one can, around an inner store:
///
/// - its channel index may lag ([`Tamper::lag`]): a membership added
///   through it stays out of member reads, and one removed through it stays
///   in them, until [`Tamper::catch_up`], as a global secondary index
///   (eventually consistent) may for a while; a consistent read of one
///   membership ([`Store::membership`], the table itself) never lags;
/// - member reads of one channel may fail ([`Tamper::breaking`]), as under
///   throttling;
/// - any method may be made to fail until mended ([`Tamper::fail`],
///   [`Tamper::mend`]).
///
/// It records the name of every [`Store`] method called through it, in
/// order ([`Tamper::calls`]). Everything else goes to the inner store as it
/// is.
#[derive(Debug)]
pub struct Tamper<S> {
    inner: S,
    hidden: Mutex<HashSet<(String, ChannelName)>>,
    /// Members removed while lagging, still listed: (channel, shard, member).
    lingering: Mutex<Vec<(ChannelName, u16, Member)>>,
    stale: std::sync::atomic::AtomicBool,
    broken: Option<String>,
    calls: Mutex<Vec<&'static str>>,
    failing: Mutex<HashSet<&'static str>>,
}

impl<S> Tamper<S> {
    pub fn new(inner: S) -> Self {
        Self {
            inner,
            hidden: Mutex::new(HashSet::new()),
            lingering: Mutex::new(Vec::new()),
            stale: std::sync::atomic::AtomicBool::new(false),
            broken: None,
            calls: Mutex::new(Vec::new()),
            failing: Mutex::new(HashSet::new()),
        }
    }

    /// The [`Store`] methods called through it so far (`"members"`,
    /// `"append"`, …), in the order they were called.
    pub fn calls(&self) -> Vec<&'static str> {
        lock(&self.calls).clone()
    }

    /// Forgets the calls recorded so far.
    pub fn clear_calls(&self) {
        lock(&self.calls).clear();
    }

    /// From now on, the [`Store`] method named `method` (`"append"`,
    /// `"next_offset"`, …) fails without reaching the inner store.
    pub fn fail(&self, method: &'static str) {
        lock(&self.failing).insert(method);
    }

    /// `method` reaches the inner store again.
    pub fn mend(&self, method: &'static str) {
        lock(&self.failing).remove(method);
    }

    /// Records a call of `method`; fails when it was told to.
    fn call(&self, method: &'static str) -> Result<(), StoreError> {
        lock(&self.calls).push(method);
        if lock(&self.failing).contains(method) {
            return Err(StoreError::new(
                method,
                "InternalServerError: the tamper store was told to fail",
            ));
        }
        Ok(())
    }

    /// Member reads (and counts) of `channel` fail.
    pub fn breaking(mut self, channel: &str) -> Self {
        self.broken = Some(channel.to_owned());
        self
    }

    fn check(&self, channel: &ChannelName) -> Result<(), StoreError> {
        if self.broken.as_deref() == Some(channel.as_str()) {
            return Err(StoreError::new(
                "Query",
                "ProvisionedThroughputExceededException",
            ));
        }
        Ok(())
    }

    /// From now on, new memberships are hidden from member reads, and
    /// removed ones still listed.
    pub fn lag(&self) {
        self.stale.store(true, Ordering::SeqCst);
    }

    /// Member reads list what is stored again; the index no longer lags.
    pub fn catch_up(&self) {
        self.stale.store(false, Ordering::SeqCst);
        lock(&self.hidden).clear();
        lock(&self.lingering).clear();
    }

    pub fn inner(&self) -> &S {
        &self.inner
    }

    fn hide(&self, connection_id: &str, channel: &ChannelName) {
        if self.stale.load(Ordering::SeqCst) {
            lock(&self.hidden).insert((connection_id.to_owned(), channel.clone()));
        }
    }
}

impl<S: Store> Tamper<S> {
    /// Keeps `removed` listed in member reads while the index lags.
    fn linger(&self, removed: &[Membership]) {
        if !self.stale.load(Ordering::SeqCst) {
            return;
        }
        let shards = self.inner.shards();
        let mut lingering = lock(&self.lingering);
        for m in removed {
            lingering.push((
                m.channel.clone(),
                shards.of(&m.connection_id),
                Member {
                    connection_id: m.connection_id.clone(),
                    protocol: m.protocol,
                    subject: m.subject.clone(),
                },
            ));
        }
    }
}

impl<S: Store> Store for Tamper<S> {
    fn shards(&self) -> Shards {
        self.inner.shards()
    }
    async fn connect(&self, c: &Connection, first: Option<&ChannelName>) -> Result<(), StoreError> {
        self.call("connect")?;
        if let Some(channel) = first {
            self.hide(&c.id, channel);
        }
        self.inner.connect(c, first).await
    }
    async fn connection(&self, id: &str) -> Result<Option<Connection>, StoreError> {
        self.call("connection")?;
        self.inner.connection(id).await
    }
    async fn membership(
        &self,
        id: &str,
        channel: &ChannelName,
    ) -> Result<Option<Membership>, StoreError> {
        self.call("membership")?;
        self.inner.membership(id, channel).await
    }
    async fn subscribe(
        &self,
        c: &Connection,
        channel: &ChannelName,
    ) -> Result<Subscribed, StoreError> {
        self.call("subscribe")?;
        self.hide(&c.id, channel);
        self.inner.subscribe(c, channel).await
    }
    async fn unsubscribe(&self, id: &str, channel: &ChannelName) -> Result<bool, StoreError> {
        self.call("unsubscribe")?;
        let held = match self.stale.load(Ordering::SeqCst) {
            true => self.inner.membership(id, channel).await?,
            false => None,
        };
        let was = self.inner.unsubscribe(id, channel).await?;
        if was {
            self.linger(held.as_slice());
        }
        Ok(was)
    }
    async fn add_grants(&self, id: &str, grants: &Grants, exp: i64) -> Result<(), StoreError> {
        self.call("add_grants")?;
        self.inner.add_grants(id, grants, exp).await
    }
    async fn disconnect(&self, id: &str) -> Result<Vec<Membership>, StoreError> {
        self.call("disconnect")?;
        let removed = self.inner.disconnect(id).await?;
        self.linger(&removed);
        Ok(removed)
    }
    async fn members(
        &self,
        channel: &ChannelName,
        shard: u16,
        cursor: Option<String>,
        limit: Option<u32>,
    ) -> Result<Page, StoreError> {
        self.call("members")?;
        self.check(channel)?;
        let mut page = self.inner.members(channel, shard, cursor, limit).await?;
        let hidden = lock(&self.hidden);
        page.members
            .retain(|m| !hidden.contains(&(m.connection_id.clone(), channel.clone())));
        if page.next.is_none() {
            for (c, s, member) in lock(&self.lingering).iter() {
                if c == channel
                    && *s == shard
                    && !page
                        .members
                        .iter()
                        .any(|m| m.connection_id == member.connection_id)
                {
                    page.members.push(member.clone());
                }
            }
        }
        Ok(page)
    }
    async fn count(&self, channel: &ChannelName, shard: u16) -> Result<u64, StoreError> {
        self.call("count")?;
        self.check(channel)?;
        self.inner.count(channel, shard).await
    }
    async fn next_offset(&self, channel: &ChannelName) -> Result<Position, StoreError> {
        self.call("next_offset")?;
        self.inner.next_offset(channel).await
    }
    async fn position(&self, channel: &ChannelName) -> Result<Position, StoreError> {
        self.call("position")?;
        self.inner.position(channel).await
    }
    async fn append(&self, message: &StoredMessage, expires_at: i64) -> Result<(), StoreError> {
        self.call("append")?;
        self.inner.append(message, expires_at).await
    }
    async fn messages(
        &self,
        channel: &ChannelName,
        after: u64,
        limit: u32,
    ) -> Result<Vec<StoredMessage>, StoreError> {
        self.call("messages")?;
        self.inner.messages(channel, after, limit).await
    }
    async fn claim_key(
        &self,
        channel: &ChannelName,
        key: &str,
        now: i64,
    ) -> Result<KeyClaim, StoreError> {
        self.call("claim_key")?;
        self.inner.claim_key(channel, key, now).await
    }
    async fn settle_key(
        &self,
        channel: &ChannelName,
        key: &str,
        offset: u64,
    ) -> Result<(), StoreError> {
        self.call("settle_key")?;
        self.inner.settle_key(channel, key, offset).await
    }
    async fn release_key(&self, channel: &ChannelName, key: &str) -> Result<(), StoreError> {
        self.call("release_key")?;
        self.inner.release_key(channel, key).await
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
