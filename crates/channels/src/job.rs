//! The asynchronous publish: a channel too big for one invocation is handed
//! to workers, one [`ShardJob`] per shard, through the [`PublishQueue`] port
//! (SQS on AWS, [`MemoryQueue`] locally).
//!
//! A worker runs a job with [`run_job`]: it delivers its shard page by page
//! with the same fan-out code as a synchronous publish, and before its time
//! runs out it enqueues the rest of the shard as a continuation (same
//! publish, same shard, the next page's cursor), so that a retried or
//! continued shard resumes rather than restarts. Delivery is at least once:
//! a worker that dies mid-page has its job redelivered from the job's own
//! cursor, and the members of the pages it had already served get the
//! message again.

use std::future::Future;
use std::sync::Arc;

use base64::engine::general_purpose::STANDARD;
use base64::Engine as _;
use serde::{Deserialize, Serialize};
use tokio::sync::mpsc;

use crate::message::{Delivery, Kind, Position, Publication};
use crate::report::PublishReport;
use crate::{ChannelName, Shards, StoreError};

/// One shard of one publish: what a queue message carries.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct ShardJob {
    pub publish_id: String,
    pub channel: String,
    pub shard: u16,
    pub shards: u16,
    /// Where in the shard to start: `None` for its first page.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub cursor: Option<String>,
    /// The body, base64 (up to 128 KiB, so ~171 KiB here: a queue message
    /// of up to 256 KiB holds it); both forms are rebuilt from it.
    pub body: String,
    pub kind: Kind,
    pub offset: u64,
    pub epoch: String,
    /// The sender's `sub` (socket publishes).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub from: Option<String>,
    /// The sender's connection, which does not get it.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub exclude: Option<String>,
    /// 0 for the first job of a shard, then 1, 2, … for its continuations.
    #[serde(default)]
    pub part: u32,
}

/// A job that cannot be run, whatever the retries.
#[derive(Clone, Debug, PartialEq, Eq, thiserror::Error)]
pub enum JobError {
    #[error("not a shard job: {0}")]
    Malformed(String),
    #[error("shard job for channel {channel:?}: {reason}")]
    Invalid { channel: String, reason: String },
}

impl ShardJob {
    /// The jobs of a publish: one per shard.
    pub fn for_publish(
        publish_id: &str,
        publication: &Publication,
        position: &Position,
        exclude: Option<&str>,
        shards: Shards,
    ) -> Vec<Self> {
        let body = STANDARD.encode(&publication.body);
        shards
            .all()
            .map(|shard| Self {
                publish_id: publish_id.to_owned(),
                channel: publication.channel.to_string(),
                shard,
                shards: shards.count(),
                cursor: None,
                body: body.clone(),
                kind: publication.kind,
                offset: position.offset,
                epoch: position.epoch.clone(),
                from: publication.from.clone(),
                exclude: exclude.map(str::to_owned),
                part: 0,
            })
            .collect()
    }

    /// Parses a queue message body.
    pub fn parse(body: &str) -> Result<Self, JobError> {
        serde_json::from_str(body).map_err(|e| JobError::Malformed(e.to_string()))
    }

    /// The queue message body.
    pub fn to_json(&self) -> String {
        // A struct of strings and numbers always serialises.
        serde_json::to_string(self).unwrap_or_default()
    }

    /// The rest of this shard, from `cursor`.
    pub fn continuation(&self, cursor: Option<String>) -> Self {
        Self {
            cursor,
            part: self.part + 1,
            ..self.clone()
        }
    }

    /// What to deliver, rebuilt once per job.
    pub fn delivery(&self) -> Result<Delivery, JobError> {
        let invalid = |reason: String| JobError::Invalid {
            channel: self.channel.clone(),
            reason,
        };
        let channel = ChannelName::parse(&self.channel).map_err(|e| invalid(e.to_string()))?;
        if self.shard >= self.shards {
            return Err(invalid(format!("shard {} of {}", self.shard, self.shards)));
        }
        let body = STANDARD
            .decode(&self.body)
            .map_err(|_| invalid("the body is not base64".to_owned()))?;
        let publication = Publication {
            channel: channel.clone(),
            kind: self.kind,
            body,
            from: self.from.clone(),
        };
        let valid_kind = match self.kind {
            Kind::Json => {
                serde_json::from_slice::<serde::de::IgnoredAny>(&publication.body).is_ok()
            }
            Kind::Text => std::str::from_utf8(&publication.body).is_ok(),
            Kind::Binary => true,
        };
        if publication.body.is_empty() || !valid_kind {
            return Err(invalid(format!(
                "the body is not a {} message",
                self.kind.as_str()
            )));
        }
        publication
            .check_size()
            .map_err(|e| invalid(e.to_string()))?;
        let position = Position {
            offset: self.offset,
            epoch: self.epoch.clone(),
        };
        Ok(Delivery {
            framed: publication.framed(&position),
            channel,
            exclude: self.exclude.clone(),
        })
    }
}

/// A queue failure. Its message names the operation; it never goes to clients.
#[derive(Clone, Debug, PartialEq, Eq, thiserror::Error)]
#[error("publish queue: {0}")]
pub struct QueueError(pub String);

/// Port: where shard jobs wait for a worker.
pub trait PublishQueue: Send + Sync {
    /// Enqueues every job, or fails (some may have been enqueued).
    fn enqueue(&self, jobs: Vec<ShardJob>) -> impl Future<Output = Result<(), QueueError>> + Send;

    /// Makes a received message that failed visible again after `delay`
    /// rather than after the queue's whole visibility timeout (a queue
    /// that redelivers on its own needs nothing: the default does nothing).
    fn retry_after(
        &self,
        _receipt_handle: &str,
        _delay: std::time::Duration,
    ) -> impl Future<Output = Result<(), QueueError>> + Send {
        async { Ok(()) }
    }
}

/// How often a shard job is received before it goes to the dead-letter
/// queue: the publish queue's `maxReceiveCount` in Terraform, and what the
/// local gateway's in-memory queue plays.
pub const MAX_RECEIVES: u32 = 5;

/// How long a job that failed on its `receives`-th delivery waits before the
/// next: 10 s, 20 s, 40 s… up to 5 minutes.
pub fn retry_delay(receives: u32) -> std::time::Duration {
    let exponent = receives.saturating_sub(1).min(5);
    std::time::Duration::from_secs((10u64 << exponent).min(300))
}

/// An in-memory queue: a channel to the local worker pool.
#[derive(Clone, Debug)]
pub struct MemoryQueue {
    sender: mpsc::UnboundedSender<ShardJob>,
}

impl MemoryQueue {
    /// The queue and its receiving end (for the workers).
    pub fn new() -> (Self, mpsc::UnboundedReceiver<ShardJob>) {
        let (sender, receiver) = mpsc::unbounded_channel();
        (Self { sender }, receiver)
    }
}

impl PublishQueue for MemoryQueue {
    async fn enqueue(&self, jobs: Vec<ShardJob>) -> Result<(), QueueError> {
        for job in jobs {
            self.sender
                .send(job)
                .map_err(|_| QueueError("the workers are gone".to_owned()))?;
        }
        Ok(())
    }
}

impl<Q: PublishQueue> PublishQueue for Arc<Q> {
    fn enqueue(&self, jobs: Vec<ShardJob>) -> impl Future<Output = Result<(), QueueError>> + Send {
        (**self).enqueue(jobs)
    }

    fn retry_after(
        &self,
        receipt_handle: &str,
        delay: std::time::Duration,
    ) -> impl Future<Output = Result<(), QueueError>> + Send {
        (**self).retry_after(receipt_handle, delay)
    }
}

/// What running a job did.
#[derive(Debug)]
pub struct JobRun {
    pub report: PublishReport,
    pub pages: u32,
    /// The continuation enqueued for the rest of the shard, if any.
    pub continued: Option<ShardJob>,
}

/// Why a job has to be retried (its queue message is not done with).
#[derive(Debug, thiserror::Error)]
pub enum JobFailure {
    /// It can never succeed: the message should go to the dead-letter queue.
    #[error(transparent)]
    Invalid(#[from] JobError),
    /// The store failed before any page was delivered.
    #[error(transparent)]
    Store(StoreError),
    /// The rest of the shard could not be handed on.
    #[error("{error}; delivered before: {report:?}")]
    Queue {
        error: QueueError,
        report: PublishReport,
    },
}

/// A new publish id: 128 random bits, hex.
pub fn new_publish_id() -> String {
    format!("{:016x}{:016x}", fastrand::u64(..), fastrand::u64(..))
}
