//! The publish queue's workers: what Lambda's SQS event source mapping does
//! on AWS, around the very same worker handler
//! ([`http_lambda::worker::handle`]).
//!
//! - in memory: a pool of worker tasks; a record the handler reports as
//!   failed comes back after a visibility delay, up to [`MAX_RECEIVES`]
//!   times, then is dropped with a log line (the dead-letter queue);
//! - on SQS: pollers with long polling; failed records are left for SQS to
//!   redeliver, the rest deleted.

use std::sync::Arc;
use std::time::Duration;

use http_lambda::sqs::{SqsEvent, SqsMessage};
use lambda_runtime::LambdaEvent;
use tokio::sync::{watch, Mutex};
use tracing::error;
#[cfg(feature = "aws")]
use tracing::warn;

use crate::proxy::lambda_context;
#[cfg(feature = "aws")]
use crate::queue::LocalQueue;
use crate::queue::{QueueConfig, Waiting};
use crate::state::Shared;
use crate::util::new_id;

pub use channels::job::MAX_RECEIVES;
/// How long a failed record stays out of sight before it is tried again.
const VISIBILITY_DELAY: Duration = Duration::from_secs(1);

/// Starts the workers; they stop when `shutdown` turns true.
pub(crate) fn start_workers(
    shared: &Arc<Shared>,
    config: &QueueConfig,
    waiting: Option<Waiting>,
    shutdown: watch::Receiver<bool>,
) {
    match (config, waiting) {
        (QueueConfig::Memory { workers }, Some(waiting)) => {
            let waiting = Arc::new(Mutex::new(waiting));
            for _ in 0..(*workers).max(1) {
                let (shared, waiting, shutdown) =
                    (Arc::clone(shared), Arc::clone(&waiting), shutdown.clone());
                tokio::spawn(memory_worker(shared, waiting, shutdown));
            }
        }
        #[cfg(feature = "aws")]
        (QueueConfig::Sqs { workers, .. }, _) => {
            for _ in 0..(*workers).max(1) {
                tokio::spawn(sqs_worker(Arc::clone(shared), shutdown.clone()));
            }
        }
        #[cfg(not(feature = "aws"))]
        (QueueConfig::Sqs { .. }, _) => {}
        (QueueConfig::Memory { .. }, None) => {}
    }
}

/// Runs `records` through the worker handler as one SQS event; the message
/// ids it asks to retry.
async fn invoke(shared: &Shared, records: Vec<SqsMessage>) -> Vec<String> {
    let event = SqsEvent { records };
    let request_id = new_id();
    let response = http_lambda::worker::handle(
        LambdaEvent::new(event, lambda_context(&request_id)),
        &shared.worker,
    )
    .await;
    response
        .batch_item_failures
        .into_iter()
        .map(|f| f.item_identifier)
        .collect()
}

fn record(id: String, body: String) -> SqsMessage {
    SqsMessage {
        message_id: Some(id),
        body: Some(body),
        event_source: Some("aws:sqs".to_owned()),
        ..SqsMessage::default()
    }
}

async fn memory_worker(
    shared: Arc<Shared>,
    waiting: Arc<Mutex<Waiting>>,
    mut shutdown: watch::Receiver<bool>,
) {
    loop {
        let job = tokio::select! {
            job = async { waiting.lock().await.recv().await } => match job {
                Some(job) => job,
                None => return,
            },
            _ = shutdown.wait_for(|s| *s) => return,
        };
        let body = job.to_json();
        let mut receives = 1;
        loop {
            let id = new_id();
            let failed = invoke(&shared, vec![record(id.clone(), body.clone())]).await;
            if !failed.contains(&id) {
                break;
            }
            if receives >= MAX_RECEIVES {
                error!(publish_id = %job.publish_id, shard = job.shard, part = job.part, receives, "shard job dead-lettered: it failed on every try");
                break;
            }
            receives += 1;
            tokio::time::sleep(VISIBILITY_DELAY).await;
        }
    }
}

#[cfg(feature = "aws")]
async fn sqs_worker(shared: Arc<Shared>, mut shutdown: watch::Receiver<bool>) {
    let Some(LocalQueue::Sqs(queue)) = shared.http.fanout.queue.clone() else {
        return;
    };
    loop {
        let received = tokio::select! {
            r = queue
                .client()
                .receive_message()
                .queue_url(queue.queue_url())
                .max_number_of_messages(10)
                .wait_time_seconds(1)
                .visibility_timeout(30)
                .send() => r,
            _ = shutdown.wait_for(|s| *s) => return,
        };
        let messages = match received {
            Ok(output) => output.messages.unwrap_or_default(),
            Err(err) => {
                warn!(error = %aws_sdk_sqs::error::DisplayErrorContext(err), "ReceiveMessage failed");
                tokio::time::sleep(VISIBILITY_DELAY).await;
                continue;
            }
        };
        if messages.is_empty() {
            continue;
        }
        let records: Vec<SqsMessage> = messages
            .iter()
            .map(|m| {
                record(
                    m.message_id().unwrap_or_default().to_owned(),
                    m.body().unwrap_or_default().to_owned(),
                )
            })
            .collect();
        let failed = invoke(&shared, records).await;
        for message in &messages {
            let id = message.message_id().unwrap_or_default();
            if failed.iter().any(|f| f == id) {
                continue;
            }
            if let Some(handle) = message.receipt_handle() {
                let deleted = queue
                    .client()
                    .delete_message()
                    .queue_url(queue.queue_url())
                    .receipt_handle(handle)
                    .send()
                    .await;
                if let Err(err) = deleted {
                    warn!(error = %aws_sdk_sqs::error::DisplayErrorContext(err), "DeleteMessage failed; the job may run again");
                }
            }
        }
    }
}
