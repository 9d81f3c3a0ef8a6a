//! SQS adapter of [`PublishQueue`]: one message per shard job.

use std::time::Duration;

use aws_sdk_sqs::error::DisplayErrorContext;
use aws_sdk_sqs::types::SendMessageBatchRequestEntry;
use aws_sdk_sqs::Client;
use channels::job::{PublishQueue, QueueError, ShardJob};

/// SQS's limits on one `SendMessageBatch`: entries, and bytes of all bodies.
const MAX_BATCH_ENTRIES: usize = 10;
const MAX_BATCH_BYTES: usize = 256 * 1024;

/// Sends shard jobs to one queue.
#[derive(Clone, Debug)]
pub struct SqsQueue {
    client: Client,
    queue_url: String,
}

impl SqsQueue {
    pub fn new(client: Client, queue_url: impl Into<String>) -> Self {
        Self {
            client,
            queue_url: queue_url.into(),
        }
    }

    /// A client for `queue_url`, configured from `sdk` (and
    /// `AWS_ENDPOINT_URL_SQS`, as the SDKs honour it).
    pub fn from_conf(sdk: &aws_types::SdkConfig, queue_url: impl Into<String>) -> Self {
        let mut config = aws_sdk_sqs::config::Builder::from(sdk);
        if let Some(url) = crate::sdk::service_endpoint("SQS") {
            config = config.endpoint_url(url);
        }
        Self::new(Client::from_conf(config.build()), queue_url)
    }

    pub fn client(&self) -> &Client {
        &self.client
    }

    pub fn queue_url(&self) -> &str {
        &self.queue_url
    }

    async fn send(&self, bodies: Vec<String>) -> Result<(), QueueError> {
        let entries = bodies
            .into_iter()
            .enumerate()
            .map(|(i, body)| {
                SendMessageBatchRequestEntry::builder()
                    .id(i.to_string())
                    .message_body(body)
                    .build()
                    .map_err(|e| QueueError(format!("SendMessageBatch: {e}")))
            })
            .collect::<Result<Vec<_>, _>>()?;
        let output = self
            .client
            .send_message_batch()
            .queue_url(&self.queue_url)
            .set_entries(Some(entries))
            .send()
            .await
            .map_err(|e| QueueError(format!("SendMessageBatch: {}", DisplayErrorContext(e))))?;
        match output.failed().first() {
            None => Ok(()),
            Some(failed) => Err(QueueError(format!(
                "SendMessageBatch: {} of the batch failed, the first with {}: {}",
                output.failed().len(),
                failed.code(),
                failed.message().unwrap_or("")
            ))),
        }
    }
}

/// Groups message bodies into batches SQS accepts.
fn batches(bodies: Vec<String>) -> Vec<Vec<String>> {
    let mut batches: Vec<Vec<String>> = Vec::new();
    let mut bytes = 0;
    for body in bodies {
        let fits = batches
            .last()
            .is_some_and(|b| b.len() < MAX_BATCH_ENTRIES && bytes + body.len() <= MAX_BATCH_BYTES);
        if !fits {
            batches.push(Vec::new());
            bytes = 0;
        }
        bytes += body.len();
        if let Some(batch) = batches.last_mut() {
            batch.push(body);
        }
    }
    batches
}

impl PublishQueue for SqsQueue {
    /// Every job, in as few `SendMessageBatch` calls as SQS allows, sent at
    /// once.
    async fn enqueue(&self, jobs: Vec<ShardJob>) -> Result<(), QueueError> {
        let bodies = jobs.iter().map(ShardJob::to_json).collect();
        futures::future::try_join_all(batches(bodies).into_iter().map(|b| self.send(b))).await?;
        Ok(())
    }

    /// `ChangeMessageVisibility`: the message is received again after
    /// `delay` (at most SQS's 12 hours).
    async fn retry_after(&self, receipt_handle: &str, delay: Duration) -> Result<(), QueueError> {
        let seconds = i32::try_from(delay.as_secs().min(12 * 60 * 60)).unwrap_or(0);
        self.client
            .change_message_visibility()
            .queue_url(&self.queue_url)
            .receipt_handle(receipt_handle)
            .visibility_timeout(seconds)
            .send()
            .await
            .map(|_| ())
            .map_err(|e| {
                QueueError(format!(
                    "ChangeMessageVisibility: {}",
                    DisplayErrorContext(e)
                ))
            })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn batches_respect_the_entry_and_byte_limits() {
        let small: Vec<String> = (0..25).map(|i| format!("job {i}")).collect();
        let sizes: Vec<usize> = batches(small).iter().map(Vec::len).collect();
        assert_eq!(sizes, [10, 10, 5]);
        // 172 KiB jobs (a 128 KiB message, base64): one per batch.
        let big: Vec<String> = (0..3).map(|_| "x".repeat(172 * 1024)).collect();
        let sizes: Vec<usize> = batches(big).iter().map(Vec::len).collect();
        assert_eq!(sizes, [1, 1, 1]);
        // 200 + 60 KiB is over 256 KiB; 60 KiB and 10 bytes fit together.
        let mixed = vec![
            "x".repeat(200 * 1024),
            "y".repeat(60 * 1024),
            "z".repeat(10),
        ];
        let sizes: Vec<usize> = batches(mixed).iter().map(Vec::len).collect();
        assert_eq!(sizes, [1, 2]);
        let exact = vec!["x".repeat(200 * 1024), "y".repeat(56 * 1024)];
        assert_eq!(batches(exact).len(), 1, "exactly 256 KiB fits");
        assert!(batches(Vec::new()).is_empty());
    }
}
