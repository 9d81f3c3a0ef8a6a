//! Fan-out: deliver one message to every live member of a channel.

use std::time::Duration;

use futures::stream::{self, StreamExt};
use serde::Serialize;
use tracing::{debug, warn};

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
    /// ~20 ms a post, 128 in flight allows ~6,400 posts/s (`make bench`
    /// measured ~4,800 through the SDK on two cores): 100,000 members in
    /// ~21 s, inside the HTTP API's 30 s limit, while leaving a third or more
    /// of the account's budget to connects and other traffic. 256 in flight
    /// would reach the throttle on its own.
    pub const DEFAULT_CONCURRENCY: usize = 128;
    /// One try and three retries: with a 50 ms base the retries wait up to
    /// 50 + 100 + 200 ms, well inside the invocation's budget.
    pub const DEFAULT_MAX_ATTEMPTS: u32 = 4;
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
    fn count(&mut self, outcome: Outcome) {
        self.recipients += 1;
        match outcome {
            Outcome::Delivered => self.delivered += 1,
            Outcome::Gone => self.gone += 1,
            Outcome::Failed => self.failed += 1,
        }
    }
}

/// Posts `message` to every live member of `channel`.
///
/// Members are read page by page; while one page is being delivered the next
/// one is already being read. At most `options.concurrency` posts are in
/// flight. A connection reported gone is removed from the store.
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
    let mut report = PublishReport {
        channel: channel.to_string(),
        ..PublishReport::default()
    };
    let mut page = store.members(channel, None).await?;
    loop {
        let ids = std::mem::take(&mut page.connection_ids);
        let deliveries = deliver_page(store, notifier, ids, message, options, &mut report);
        match page.next.take() {
            None => {
                deliveries.await;
                break;
            }
            Some(cursor) => {
                let (_, next) = tokio::join!(deliveries, store.members(channel, Some(cursor)));
                page = next.inspect_err(|err| {
                    warn!(channel = %channel, ?report, error = %err, "publish stopped: could not read the next page of members");
                })?;
            }
        }
    }
    debug!(channel = %channel, ?report, "published");
    Ok(report)
}

async fn deliver_page<S, N>(
    store: &S,
    notifier: &N,
    ids: Vec<String>,
    message: &[u8],
    options: &PublishOptions,
    report: &mut PublishReport,
) where
    S: ConnectionStore,
    N: ConnectionNotifier,
{
    let mut outcomes = stream::iter(ids)
        .map(|id| async move { deliver_one(store, notifier, &id, message, options).await })
        .buffer_unordered(options.concurrency.max(1));
    while let Some(outcome) = outcomes.next().await {
        report.count(outcome);
    }
}

async fn deliver_one<S, N>(
    store: &S,
    notifier: &N,
    connection_id: &str,
    message: &[u8],
    options: &PublishOptions,
) -> Outcome
where
    S: ConnectionStore,
    N: ConnectionNotifier,
{
    let max_attempts = options.max_attempts.max(1);
    let mut attempt = 1;
    loop {
        match notifier.post(connection_id, message).await {
            Ok(()) => return Outcome::Delivered,
            Err(NotifyError::Gone) => {
                if let Err(err) = store.remove(connection_id).await {
                    // Counted as gone all the same: API Gateway will not take
                    // it back, and TTL removes the item later.
                    warn!(connection_id, error = %err, "could not remove a gone connection");
                }
                return Outcome::Gone;
            }
            Err(err) if err.is_retryable() && attempt < max_attempts => {
                let wait = backoff(options, attempt);
                debug!(connection_id, attempt, error = %err, ?wait, "retrying post");
                tokio::time::sleep(wait).await;
                attempt += 1;
            }
            Err(err) => {
                warn!(connection_id, attempt, error = %err, "post failed");
                return Outcome::Failed;
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
