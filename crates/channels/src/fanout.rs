//! Fan-out: one value, [`Fanout`], holds what delivering a message takes —
//! the store, the notifier, the queue for big channels, the options — and
//! every path goes through it: an HTTP publish, a socket publish, a
//! worker's shard job, a presence event, a replay.
//!
//! A publish ([`Fanout::publish`]) takes the channel's next offset, keeps
//! the message in the history **before** it reads the members, then plans:
//! a channel of at most `sync_max` members is delivered at once (the one
//! synchronous path, [`Fanout::deliver`]); a bigger one is handed to the
//! workers, one [`ShardJob`] per shard, each a **shard run**
//! ([`Fanout::deliver_shard`]): one shard's members page by page, the next
//! page read while the current one is being delivered.
//!
//! Every post goes through a [`Brake`]: a place under its in-flight limit
//! (halved on 429s, grown back one by one) and, if set, its target rate.

use std::time::Duration;

use futures::stream::{self, StreamExt};
use tokio::time::Instant;
use tracing::{debug, warn};

use crate::brake::Brake;
use crate::job::{JobFailure, JobRun, MemoryQueue, PublishQueue, QueueError, ShardJob};
pub use crate::message::Delivery;
use crate::message::{Position, Publication, StoredMessage, TooLarge};
use crate::report::Outcome;
pub use crate::report::PublishReport;
use crate::store::{Member, Store};
use crate::{now_millis, ChannelName, ConnectionNotifier, NotifyError, Protocol, StoreError};

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

/// Members up to which a publish is synchronous, by default
/// (`PUBLISH_SYNC_MAX`). See docs/performance.md, "Where one invocation
/// stops": at the http function's default 256 MB a post costs it about a
/// millisecond of its CPU share, so 2,000 members take ~2 s.
pub const DEFAULT_PUBLISH_SYNC_MAX: u32 = 2_000;
pub const DEFAULT_HISTORY_TTL_SECONDS: u64 = 600;
pub const DEFAULT_HISTORY_MAX: u64 = 1_000;

/// How long a channel's messages are kept, and how many a replay may take.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct History {
    /// Seconds a message is kept (its TTL); 0: history is off.
    pub ttl_secs: u64,
    /// Only the latest `max` offsets of a channel are read (trimmed
    /// logically: TTL removes the rest); 0: history is off.
    pub max: u64,
}

impl History {
    /// No history: offsets are still taken.
    pub const OFF: Self = Self {
        ttl_secs: 0,
        max: 0,
    };

    pub fn enabled(&self) -> bool {
        self.ttl_secs > 0 && self.max > 0
    }
}

impl Default for History {
    fn default() -> Self {
        Self {
            ttl_secs: DEFAULT_HISTORY_TTL_SECONDS,
            max: DEFAULT_HISTORY_MAX,
        }
    }
}

/// How a publish goes.
#[derive(Debug, PartialEq, Eq)]
pub enum Plan {
    /// Small enough for this invocation: these are all its members.
    Sync(Vec<Member>),
    /// Too big: one shard run per shard.
    Async,
}

/// Where a shard run ended.
#[derive(Debug)]
pub struct ShardRun {
    pub report: PublishReport,
    /// Pages delivered in full.
    pub pages: u32,
    /// Where the rest of the shard starts, when the run stopped before its
    /// end (asked to, or the store failed): the cursor of the first page not
    /// delivered (`Some(None)`: the shard's first page). `None` when the
    /// shard was delivered to its end.
    pub resume: Option<Option<String>>,
    /// Why the run stopped early, if the store failed.
    pub error: Option<StoreError>,
}

/// One publish: what, and how.
#[derive(Clone, Debug)]
pub struct Publish {
    pub publication: Publication,
    /// A connection not to send it to: the sender of a socket publish.
    pub exclude: Option<String>,
    /// The idempotency key: a publish with a key seen on the channel in the
    /// last [`KEY_WINDOW_SECS`] is not delivered again.
    pub key: Option<String>,
    /// Identifies the publish in logs, metrics and the asynchronous answer.
    pub publish_id: String,
}

/// How long after its `$connect` began a connection reported gone (410) is
/// kept: API Gateway refuses posts to a connection until `$connect` has
/// answered, while the store has it already.
pub const CONNECTING_GRACE_MS: i64 = 30_000;

pub use crate::store::{KEY_CLAIM_STALE_SECS, KEY_WINDOW_SECS};
/// Longest publish key, in characters.
pub const MAX_KEY_CHARS: usize = 64;

/// What a publish did.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum Published {
    /// Delivered by this call.
    Sync {
        position: Position,
        report: PublishReport,
    },
    /// Handed to the workers: one job per shard.
    Async {
        position: Position,
        publish_id: String,
        shards: u16,
    },
    /// The key was seen: nothing delivered; the first publish's offset.
    Duplicate { offset: u64 },
}

/// Why a publish did not go out.
#[derive(Debug, thiserror::Error)]
pub enum PublishError {
    /// 413: its envelope or body is over 128 KiB. Nothing was done.
    #[error(transparent)]
    TooLarge(#[from] TooLarge),
    /// 503: the store failed; what was delivered before stays delivered.
    #[error(transparent)]
    Store(#[from] StoreError),
    /// 503: the queue failed; jobs already enqueued still run.
    #[error(transparent)]
    Queue(#[from] QueueError),
    /// 409: a publish with the same key is under way and has no offset
    /// yet; nothing was done (a retry a moment later gets its answer).
    #[error("a publish with this key is under way; retry in a moment for its answer")]
    KeyInProgress,
}

/// The fan-out of a deployment.
#[derive(Debug)]
pub struct Fanout<S, N, Q = MemoryQueue> {
    pub store: S,
    pub notifier: N,
    /// Where big publishes go; `None`: a big channel is delivered shard by
    /// shard within the call.
    pub queue: Option<Q>,
    pub options: PublishOptions,
    /// Members up to which a publish is synchronous.
    pub sync_max: u32,
    pub history: History,
}

impl<S, N, Q> Fanout<S, N, Q> {
    /// A fan-out without a queue, with the default sync size and history;
    /// the fields are public to set the rest.
    pub fn new(store: S, notifier: N, options: PublishOptions) -> Self {
        Self {
            store,
            notifier,
            queue: None,
            options,
            sync_max: DEFAULT_PUBLISH_SYNC_MAX,
            history: History::default(),
        }
    }
}

impl<S: Store, N: ConnectionNotifier, Q: PublishQueue> Fanout<S, N, Q> {
    /// Publishes: size check, key, offset, history, then the members.
    pub async fn publish(&self, publish: Publish) -> Result<Published, PublishError> {
        let Publish {
            publication,
            exclude,
            key,
            publish_id,
        } = publish;
        publication.check_size()?;
        let channel = publication.channel.clone();
        if let Some(key) = &key {
            match self
                .store
                .claim_key(&channel, key, now_millis() / 1000)
                .await?
            {
                crate::KeyClaim::Claimed => {}
                crate::KeyClaim::Seen { offset } => return Ok(Published::Duplicate { offset }),
                crate::KeyClaim::InProgress => return Err(PublishError::KeyInProgress),
            }
        }
        let result = self
            .publish_claimed(publication, exclude, key.as_deref(), publish_id)
            .await;
        if let (Err(_), Some(key)) = (&result, &key) {
            // A retry must go ahead: the first one did not.
            if let Err(err) = self.store.release_key(&channel, key).await {
                warn!(error = %err, "could not release the publish key of a failed publish");
            }
        }
        result
    }

    async fn publish_claimed(
        &self,
        publication: Publication,
        exclude: Option<String>,
        key: Option<&str>,
        publish_id: String,
    ) -> Result<Published, PublishError> {
        let channel = publication.channel.clone();
        let position = self.store.next_offset(&channel).await?;
        let keep = async {
            if self.history.enabled() {
                let expires_at = now_millis() / 1000
                    + i64::try_from(self.history.ttl_secs).unwrap_or(i64::MAX / 2);
                let message = StoredMessage {
                    publication: publication.clone(),
                    position: position.clone(),
                };
                self.store.append(&message, expires_at).await?;
            }
            Ok::<_, StoreError>(())
        };
        let settle = async {
            match key {
                Some(key) => self.store.settle_key(&channel, key, position.offset).await,
                None => Ok(()),
            }
        };
        let (kept, settled) = tokio::join!(keep, settle);
        kept?;
        if let Err(err) = settled {
            // A duplicate would then answer without the offset; not worth failing for.
            warn!(error = %err, "could not record the offset of a publish key");
        }
        match self.plan(&channel).await? {
            Plan::Sync(members) => {
                let delivery = Delivery {
                    framed: publication.framed(&position),
                    channel,
                    exclude,
                };
                let brake = self.options.brake();
                let report = Box::pin(self.deliver(&delivery, members, &brake)).await;
                Ok(Published::Sync { position, report })
            }
            Plan::Async => match &self.queue {
                Some(queue) => {
                    let shards = self.store.shards();
                    let jobs = ShardJob::for_publish(
                        &publish_id,
                        &publication,
                        &position,
                        exclude.as_deref(),
                        shards,
                    );
                    queue.enqueue(jobs).await?;
                    Ok(Published::Async {
                        position,
                        publish_id,
                        shards: shards.count(),
                    })
                }
                None => {
                    let delivery = Delivery {
                        framed: publication.framed(&position),
                        channel,
                        exclude,
                    };
                    let report = Box::pin(self.deliver_channel(&delivery)).await?;
                    Ok(Published::Sync { position, report })
                }
            },
        }
    }

    /// Decides how to deliver to `channel`: reads the first page of every
    /// shard at once, each capped at `sync_max + 1` items; when every shard
    /// fits in its page and all of them hold at most `sync_max` members,
    /// the delivery is synchronous and needs no second read.
    pub async fn plan(&self, channel: &ChannelName) -> Result<Plan, StoreError> {
        let limit = self.sync_max.saturating_add(1);
        let pages = futures::future::try_join_all(
            self.store
                .shards()
                .all()
                .map(|shard| self.store.members(channel, shard, None, Some(limit))),
        )
        .await?;
        let total: usize = pages.iter().map(|p| p.members.len()).sum();
        if pages.iter().all(|p| p.next.is_none()) && total <= self.sync_max as usize {
            Ok(Plan::Sync(
                pages.into_iter().flat_map(|p| p.members).collect(),
            ))
        } else {
            Ok(Plan::Async)
        }
    }

    /// Every shard of `channel` delivered within this call, page by page.
    /// Fails only when the store cannot list the members; what was
    /// delivered before that stays delivered (and is logged).
    pub async fn deliver_channel(&self, delivery: &Delivery) -> Result<PublishReport, StoreError> {
        let channel = &delivery.channel;
        let brake = self.options.brake();
        let runs = futures::future::join_all(
            self.store
                .shards()
                .all()
                .map(|shard| self.deliver_shard(delivery, shard, None, &brake, None)),
        )
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
        Ok(report)
    }

    /// Delivers one shard of `channel` from `start` (a page cursor; `None`
    /// for the first page). With a `deadline`, it stops before a page it
    /// might not finish in time (less time left than twice the longest page
    /// so far, plus a second) and returns with [`ShardRun::resume`] set. A
    /// store failure also ends the run, with `resume` at the page it could
    /// not read.
    pub async fn deliver_shard(
        &self,
        delivery: &Delivery,
        shard: u16,
        start: Option<String>,
        brake: &Brake,
        deadline: Option<Instant>,
    ) -> ShardRun {
        let channel = &delivery.channel;
        let mut run = ShardRun {
            report: PublishReport::new(channel),
            pages: 0,
            resume: None,
            error: None,
        };
        let mut page = match self
            .store
            .members(channel, shard, start.clone(), None)
            .await
        {
            Ok(page) => page,
            Err(err) => {
                run.resume = Some(start);
                run.error = Some(err);
                return run;
            }
        };
        let mut longest = Duration::ZERO;
        let mut started = Instant::now();
        loop {
            let members = std::mem::take(&mut page.members);
            let deliveries = self.deliver(delivery, members, brake);
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
                    run.resume = Some(Some(cursor));
                    return run;
                }
                Some(cursor) => {
                    let next = self
                        .store
                        .members(channel, shard, Some(cursor.clone()), None);
                    let (delivered, next) = tokio::join!(deliveries, next);
                    run.report.add(&delivered);
                    run.pages += 1;
                    longest = longest.max(started.elapsed());
                    started = Instant::now();
                    match next {
                        Ok(next) => page = next,
                        Err(err) => {
                            warn!(channel = %channel, shard, report = ?run.report, error = %err, "shard run stopped: could not read the next page of members");
                            run.resume = Some(Some(cursor));
                            run.error = Some(err);
                            return run;
                        }
                    }
                }
            }
        }
    }

    /// Posts to each of `members` but the excluded one through `brake`: the
    /// envelope to `lrw.v1` members, the raw form to raw ones (none when
    /// `framed` has no raw form: they are skipped, not counted).
    pub async fn deliver(
        &self,
        delivery: &Delivery,
        members: Vec<Member>,
        brake: &Brake,
    ) -> PublishReport {
        let Delivery {
            channel,
            framed,
            exclude,
        } = delivery;
        let mut report = PublishReport::new(channel);
        let targets = members.into_iter().filter(|member| {
            exclude.as_deref() != Some(member.connection_id.as_str())
                && (member.protocol == Protocol::V1 || framed.raw.is_some())
        });
        // Every post waits for its place in `brake`: the stream may hold
        // more futures than places without posting more than the limit.
        let mut outcomes = stream::iter(targets)
            .map(|member| async move {
                let body = match member.protocol {
                    Protocol::V1 => framed.envelope.as_slice(),
                    Protocol::Raw => framed.raw.as_deref().unwrap_or_default(),
                };
                self.deliver_one(&member.connection_id, body, brake).await
            })
            .buffer_unordered(brake.max().max(1));
        while let Some(outcome) = outcomes.next().await {
            report.count(outcome);
        }
        report
    }

    /// Removes a connection `@connections` reported gone (410), unless it
    /// connected less than [`CONNECTING_GRACE_MS`] ago: a connection whose
    /// `$connect` is still running is in the store already but cannot be
    /// posted to yet, and must not lose its subscriptions for it.
    async fn forget_gone(&self, connection_id: &str) -> Result<(), StoreError> {
        if let Some(connection) = self.store.connection(connection_id).await? {
            if now_millis() - connection.connected_at_ms < CONNECTING_GRACE_MS {
                debug!(connection_id, "gone while connecting: kept");
                return Ok(());
            }
        }
        self.store.disconnect(connection_id).await.map(|_| ())
    }

    async fn deliver_one(&self, connection_id: &str, message: &[u8], brake: &Brake) -> Outcome {
        let max_attempts = self.options.max_attempts.max(1);
        let mut attempt = 1;
        loop {
            let permit = brake.acquire().await;
            let result = self.notifier.post(connection_id, message).await;
            let ticket = permit.ticket();
            drop(permit);
            match result {
                Ok(()) => {
                    brake.succeeded();
                    return Outcome::Delivered;
                }
                Err(NotifyError::Gone) => {
                    if let Err(err) = self.forget_gone(connection_id).await {
                        // Counted as gone all the same: API Gateway will not
                        // take it back, and TTL removes the items later.
                        warn!(connection_id, error = %err, "could not remove a gone connection");
                    }
                    return Outcome::Gone;
                }
                Err(err) => {
                    if err == NotifyError::Throttled {
                        brake.throttled(ticket);
                    }
                    if err.is_retryable() && attempt < max_attempts {
                        let wait = backoff(&self.options, attempt);
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
}

impl<S: Store, N: ConnectionNotifier, Q: PublishQueue> Fanout<S, N, Q> {
    /// Runs one shard job: delivers its shard from its cursor until the
    /// end, or until `deadline` is near, when it enqueues the rest as a
    /// continuation.
    ///
    /// A store failure after some pages also hands the rest on (from the
    /// page that could not be read), so that a retry does not deliver those
    /// pages again; a failure before any page fails the job, and the queue
    /// retries it.
    pub async fn run_job(
        &self,
        job: &ShardJob,
        brake: &Brake,
        deadline: Option<Instant>,
    ) -> Result<JobRun, JobFailure> {
        let delivery = job.delivery()?;
        let run = self
            .deliver_shard(&delivery, job.shard, job.cursor.clone(), brake, deadline)
            .await;
        let Some(cursor) = run.resume else {
            return Ok(JobRun {
                report: run.report,
                pages: run.pages,
                continued: None,
            });
        };
        if let (Some(error), 0) = (run.error, run.pages) {
            return Err(JobFailure::Store(error));
        }
        let next = job.continuation(cursor);
        let queued = match &self.queue {
            Some(queue) => queue.enqueue(vec![next.clone()]).await,
            None => Err(QueueError(
                "no queue to hand the rest of the shard on to".to_owned(),
            )),
        };
        match queued {
            Ok(()) => Ok(JobRun {
                report: run.report,
                pages: run.pages,
                continued: Some(next),
            }),
            Err(error) => Err(JobFailure::Queue {
                error,
                report: run.report,
            }),
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
