//! The publish queue, as SQS plays it on AWS (its workers are in
//! `workers.rs`):
//!
//! - [`QueueConfig::Memory`] (default): an in-memory queue;
//! - [`QueueConfig::Sqs`]: a real SQS queue at an endpoint (moto, say),
//!   created when absent.

use channels::job::{MemoryQueue, PublishQueue, QueueError, ShardJob};
use tokio::sync::mpsc;

/// Where the gateway queues shard jobs.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum QueueConfig {
    /// In memory, with this many workers.
    Memory { workers: usize },
    /// An SQS queue named `queue` at `endpoint`, with this many pollers.
    /// Needs the gateway built with feature `aws`.
    Sqs {
        endpoint: String,
        queue: String,
        workers: usize,
    },
}

impl Default for QueueConfig {
    fn default() -> Self {
        Self::Memory { workers: 4 }
    }
}

impl std::fmt::Display for QueueConfig {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            Self::Memory { workers } => write!(f, "in-memory queue, {workers} workers"),
            Self::Sqs {
                endpoint,
                queue,
                workers,
            } => write!(f, "SQS queue {queue} at {endpoint}, {workers} workers"),
        }
    }
}

/// The queue both the http handler and the workers enqueue to.
#[derive(Clone, Debug)]
pub enum LocalQueue {
    Memory(MemoryQueue),
    #[cfg(feature = "aws")]
    Sqs(channels_aws::sqs::SqsQueue),
}

impl PublishQueue for LocalQueue {
    async fn enqueue(&self, jobs: Vec<ShardJob>) -> Result<(), QueueError> {
        match self {
            Self::Memory(queue) => queue.enqueue(jobs).await,
            #[cfg(feature = "aws")]
            Self::Sqs(queue) => queue.enqueue(jobs).await,
        }
    }
}

/// A record waiting in the in-memory queue.
pub(crate) type Waiting = mpsc::UnboundedReceiver<ShardJob>;

/// Opens the queue `config` describes; for SQS, creates the queue when
/// absent. The receiver is the in-memory queue's far end (for the workers).
pub(crate) async fn open(
    config: &QueueConfig,
) -> Result<(LocalQueue, Option<Waiting>), QueueError> {
    match config {
        QueueConfig::Memory { .. } => {
            let (queue, waiting) = MemoryQueue::new();
            Ok((LocalQueue::Memory(queue), Some(waiting)))
        }
        #[cfg(not(feature = "aws"))]
        QueueConfig::Sqs { .. } => Err(QueueError(
            "an SQS endpoint needs the gateway built with the `aws` feature: run it through \
             `make local` with AWS_ENDPOINT_URL_SQS set, or `cargo run -p local-gateway --features aws`"
                .to_owned(),
        )),
        #[cfg(feature = "aws")]
        QueueConfig::Sqs {
            endpoint, queue, ..
        } => {
            let sdk = crate::aws::local_sdk_config().await;
            let conf = aws_sdk_sqs::config::Builder::from(&sdk)
                .endpoint_url(endpoint)
                .build();
            let client = aws_sdk_sqs::Client::from_conf(conf);
            let created = client
                .create_queue()
                .queue_name(queue)
                .send()
                .await
                .map_err(|e| {
                    QueueError(format!(
                        "CreateQueue: {}",
                        aws_sdk_sqs::error::DisplayErrorContext(e)
                    ))
                })?;
            let url = created
                .queue_url()
                .ok_or_else(|| QueueError("CreateQueue returned no URL".to_owned()))?;
            Ok((
                LocalQueue::Sqs(channels_aws::sqs::SqsQueue::new(client, url)),
                None,
            ))
        }
    }
}
