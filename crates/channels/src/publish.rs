//! Fan-out: deliver one message to every live member of a channel.
//!
//! The unit of work is a **shard run** ([`deliver_shard`]): one shard's
//! members, page by page, the next page read while the current one is being
//! delivered. A synchronous publish ([`publish`]) runs every shard at once; a
//! worker of the asynchronous path runs one shard of one publish, and may
//! stop between pages and hand the rest on ([`ShardRun::resume`]).
//!
//! Every post goes through a [`Brake`]: a place under its in-flight limit
//! (halved on 429s, grown back one by one) and, if set, its target rate.

use std::time::Duration;

use futures::stream::{self, StreamExt};
use serde::Serialize;
use tokio::time::Instant;
use tracing::{debug, warn};

use crate::brake::Brake;
use crate::{ChannelName, ConnectionNotifier, ConnectionStore, NotifyError, StoreError};

/// How a publish fans out.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct PublishOptions {
    /// Posts in flight at once. See [`PublishOptions::DEFAULT_CONCURRENCY`].
    pub concurrency: usize,
    /// Tries per connection, the first included, for retryable failures
    /// (429 throttling, 5xx, timeouts).
    pub max_attempts: u32,
    /// First backoff step; step *n* waits a random time up to
    /// `min(backoff_cap, backoff_base * 2^(n-1))` ("full jitter").
    pub backoff_base: Duration,
    pub backoff_cap: Duration,
}

impl PublishOptions {
    /// 128 posts in flight. API Gateway allows 10,000 requests/s per account
    /// and Region, shared with `@connections` calls and every other API. At
    /// ~20 ms a post, 128 in flight allows ~6,400 posts/s, leaving a third
    /// or more of the account's budget to connects and other traffic; 256
    /// in flight would reach the throttle on its own.
    pub const DEFAULT_CONCURRENCY: usize = 128;
    /// One try and three retries: with a 50 ms base the retries wait up to
    /// 50 + 100 + 200 ms, well inside the invocation's budget.
    pub const DEFAULT_MAX_ATTEMPTS: u32 = 4;

    /// The brake of one synchronous publish: `concurrency` in flight at
    /// most, halved on 429s.
    pub fn brake(&self) -> Brake {
        Brake::new(self.concurrency, 1, self.concurrency)
    }
}

impl Default for PublishOptions {
    fn default() -> Self {
        Self {
            concurrency: Self::DEFAULT_CONCURRENCY,
            max_attempts: Self::DEFAULT_MAX_ATTEMPTS,
            backoff_base: Duration::from_millis(50),
            backoff_cap: Duration::from_secs(1),
        }
    }
}

/// What a publish did, connection by connection:
/// `recipients == delivered + gone + failed`.
#[derive(Clone, Debug, Default, PartialEq, Eq, Serialize)]
pub struct PublishReport {
    pub channel: String,
    /// Live members found in the store.
    pub recipients: u64,
    /// Posted successfully.
    pub delivered: u64,
    /// Reported gone (410) by API Gateway, and removed from the store.
    pub gone: u64,
    /// Still failing after the retries, or failing in a way retries cannot fix.
    pub failed: u64,
}

#[derive(Clone, Copy, Debug, PartialEq, Eq)]
enum Outcome {
    Delivered,
    Gone,
    Failed,
}

impl PublishReport {
    pub fn new(channel: &ChannelName) -> Self {
        Self {
            channel: channel.to_string(),
            ..Self::default()
        }
    }

    fn count(&mut self, outcome: Outcome) {
        self.recipients += 1;
        match outcome {
            Outcome::Delivered => self.delivered += 1,
            Outcome::Gone => self.gone += 1,
            Outcome::Failed => self.failed += 1,
        }
    }

    /// Adds another report's counts to this one.
    pub fn add(&mut self, other: &PublishReport) {
        self.recipients += other.recipients;
        self.delivered += other.delivered;
        self.gone += other.gone;
        self.failed += other.failed;
    }
}

/// Where a shard run ended.
#[derive(Debug)]
pub struct ShardRun {
    pub report: PublishReport,
    /// Pages delivered in full.
    pub pages: u32,
    /// Where the rest of the shard starts, when the run stopped before its
    /// end (asked to, or the store failed): the cursor of the first page not
    /// delivered. `None` when the shard was delivered to its end.
    pub resume: Option<Resume>,
    /// Why the run stopped early, if the store failed.
    pub error: Option<StoreError>,
}

/// The start of the part of a shard a run did not deliver.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Resume {
    /// `None`: the shard's first page.
    pub cursor: Option<String>,
}

/// Delivers one shard of `channel` from `start` (a page cursor; `None` for
/// the first page). With a `deadline`, it stops before a page it might not
/// finish in time (less time left than twice the longest page so far, plus
/// a second) and returns with [`ShardRun::resume`] set. A store failure
/// also ends the run, with `resume` at the page it could not read.
#[allow(clippy::too_many_arguments)]
pub async fn deliver_shard<S, N>(
    store: &S,
    notifier: &N,
    channel: &ChannelName,
    shard: u16,
    start: Option<String>,
    message: &[u8],
    options: &PublishOptions,
    brake: &Brake,
    deadline: Option<Instant>,
) -> ShardRun
where
    S: ConnectionStore,
    N: ConnectionNotifier,
{
    let mut run = ShardRun {
        report: PublishReport::new(channel),
        pages: 0,
        resume: None,
        error: None,
    };
    let mut page = match store.members(channel, shard, start.clone(), None).await {
        Ok(page) => page,
        Err(err) => {
            run.resume = Some(Resume { cursor: start });
            run.error = Some(err);
            return run;
        }
    };
    let mut longest = Duration::ZERO;
    let mut started = Instant::now();
    loop {
        let ids = std::mem::take(&mut page.connection_ids);
        let deliveries = deliver_ids(store, notifier, ids, message, options, brake);
        let out_of_time = deadline.is_some_and(|deadline| {
            let reserve = longest.saturating_mul(2) + Duration::from_secs(1);
            Instant::now() + reserve >= deadline
        });
        match page.next.take() {
            None => {
                run.report.add(&deliveries.await);
                run.pages += 1;
                return run;
            }
            Some(cursor) if out_of_time => {
                run.report.add(&deliveries.await);
                run.pages += 1;
                run.resume = Some(Resume {
                    cursor: Some(cursor),
                });
                return run;
            }
            Some(cursor) => {
                let next = store.members(channel, shard, Some(cursor.clone()), None);
                let (delivered, next) = tokio::join!(deliveries, next);
                run.report.add(&delivered);
                run.pages += 1;
                longest = longest.max(started.elapsed());
                started = Instant::now();
                match next {
                    Ok(next) => page = next,
                    Err(err) => {
                        warn!(channel = %channel, shard, report = ?run.report, error = %err, "shard run stopped: could not read the next page of members");
                        run.resume = Some(Resume {
                            cursor: Some(cursor),
                        });
                        run.error = Some(err);
                        return run;
                    }
                }
            }
        }
    }
}

/// Posts `message` to every live member of `channel`, every shard at once.
/// At most `options.concurrency` posts are in flight (fewer while API
/// Gateway throttles). A connection reported gone is removed from the store.
///
/// Fails only when the store cannot list the members; what was delivered
/// before that stays delivered (and is logged).
pub async fn publish<S, N>(
    store: &S,
    notifier: &N,
    channel: &ChannelName,
    message: &[u8],
    options: &PublishOptions,
) -> Result<PublishReport, StoreError>
where
    S: ConnectionStore,
    N: ConnectionNotifier,
{
    let brake = options.brake();
    let runs = futures::future::join_all(store.shards().all().map(|shard| {
        deliver_shard(
            store, notifier, channel, shard, None, message, options, &brake, None,
        )
    }))
    .await;
    let mut report = PublishReport::new(channel);
    let mut error = None;
    for run in runs {
        report.add(&run.report);
        error = error.or(run.error);
    }
    if let Some(err) = error {
        warn!(channel = %channel, ?report, error = %err, "publish stopped: could not read the members");
        return Err(err);
    }
    debug!(channel = %channel, ?report, "published");
    Ok(report)
}

/// Posts `message` to each of `ids` through `brake`; their report.
pub async fn deliver_ids<S, N>(
    store: &S,
    notifier: &N,
    ids: Vec<String>,
    message: &[u8],
    options: &PublishOptions,
    brake: &Brake,
) -> PublishReport
where
    S: ConnectionStore,
    N: ConnectionNotifier,
{
    let mut report = PublishReport::default();
    // Every post waits for its place in `brake`: the stream may hold more
    // futures than places without posting more than the limit.
    let mut outcomes = stream::iter(ids)
        .map(|id| async move { deliver_one(store, notifier, &id, message, options, brake).await })
        .buffer_unordered(brake.max().max(1));
    while let Some(outcome) = outcomes.next().await {
        report.count(outcome);
    }
    report
}

async fn deliver_one<S, N>(
    store: &S,
    notifier: &N,
    connection_id: &str,
    message: &[u8],
    options: &PublishOptions,
    brake: &Brake,
) -> Outcome
where
    S: ConnectionStore,
    N: ConnectionNotifier,
{
    let max_attempts = options.max_attempts.max(1);
    let mut attempt = 1;
    loop {
        let permit = brake.acquire().await;
        let result = notifier.post(connection_id, message).await;
        let ticket = permit.ticket();
        drop(permit);
        match result {
            Ok(()) => {
                brake.succeeded();
                return Outcome::Delivered;
            }
            Err(NotifyError::Gone) => {
                if let Err(err) = store.remove(connection_id).await {
                    // Counted as gone all the same: API Gateway will not take
                    // it back, and TTL removes the item later.
                    warn!(connection_id, error = %err, "could not remove a gone connection");
                }
                return Outcome::Gone;
            }
            Err(err) => {
                if err == NotifyError::Throttled {
                    brake.throttled(ticket);
                }
                if err.is_retryable() && attempt < max_attempts {
                    let wait = backoff(options, attempt);
                    debug!(connection_id, attempt, error = %err, ?wait, "retrying post");
                    tokio::time::sleep(wait).await;
                    attempt += 1;
                } else {
                    warn!(connection_id, attempt, error = %err, "post failed");
                    return Outcome::Failed;
                }
            }
        }
    }
}

/// Full-jitter exponential backoff before retry number `attempt` (1-based).
fn backoff(options: &PublishOptions, attempt: u32) -> Duration {
    let ceiling = options
        .backoff_base
        .saturating_mul(1u32 << (attempt - 1).min(16))
        .min(options.backoff_cap);
    let nanos = u64::try_from(ceiling.as_nanos()).unwrap_or(u64::MAX);
    Duration::from_nanos(fastrand::u64(0..=nanos))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn backoff_stays_under_its_exponential_ceiling_and_the_cap() {
        let options = PublishOptions {
            backoff_base: Duration::from_millis(10),
            backoff_cap: Duration::from_millis(35),
            ..PublishOptions::default()
        };
        for _ in 0..200 {
            assert!(backoff(&options, 1) <= Duration::from_millis(10));
            assert!(backoff(&options, 2) <= Duration::from_millis(20));
            assert!(backoff(&options, 3) <= Duration::from_millis(35));
            assert!(backoff(&options, 40) <= Duration::from_millis(35));
        }
    }
}
