//! The worker: the http binary started as the publish queue's consumer
//! (`_HANDLER=worker`), its own function with its own role.
//!
//! Each SQS record is one [`ShardJob`]: one shard of one publish, from a
//! cursor. The records of a batch run at once through one brake (AIMD on the
//! in-flight limit, paced at this worker's share of the target rate), which
//! lives as long as the execution environment, so what it learnt of API
//! Gateway's throttling carries over to the next batch. A job stops before
//! the invocation's deadline and hands the rest of its shard on as a new
//! message. The answer lists the records to retry (`ReportBatchItemFailures`):
//! a job that cannot be parsed or made progress; after the queue's
//! `maxReceiveCount` tries, SQS moves it to the dead-letter queue.

use std::time::Duration;

use channels::brake::Brake;
use channels::job::{retry_delay, JobError, JobFailure, PublishQueue, ShardJob};
use channels::{ConnectionNotifier, Fanout, Store};
use lambda_runtime::LambdaEvent;
use serde_json::json;
use tokio::time::Instant;
use tracing::{error, info, warn, Instrument};

use crate::sqs::{BatchItemFailure, SqsBatchResponse, SqsEvent, SqsMessage};

/// What the worker needs, built once per execution environment.
#[derive(Debug)]
pub struct WorkerDeps<S, N, Q> {
    /// With the queue, to hand the rest of a shard on.
    pub fanout: Fanout<S, N, Q>,
    /// Shared by every job of every batch this environment runs.
    pub brake: Brake,
    /// Whether to print CloudWatch metrics (EMF lines) on standard output.
    pub metrics: bool,
}

/// The brake of a worker: `concurrency` in flight to start with (AIMD
/// between 1 and 1,024), paced at `rate_per_worker` posts a second with
/// bursts of a tenth of a second's worth.
pub fn worker_brake(concurrency: usize, rate_per_worker: f64) -> Brake {
    let burst = (rate_per_worker / 10.0).clamp(1.0, f64::from(u32::MAX)) as u32;
    Brake::new(concurrency, 1, 1024).with_rate(rate_per_worker, burst)
}

/// Handles one batch of shard jobs; answers the records SQS should retry.
pub async fn handle<S, N, Q>(
    event: LambdaEvent<SqsEvent>,
    deps: &WorkerDeps<S, N, Q>,
) -> SqsBatchResponse
where
    S: Store,
    N: ConnectionNotifier,
    Q: PublishQueue,
{
    let LambdaEvent { payload, context } = event;
    let deadline = deadline(context.deadline);
    let span = tracing::info_span!("worker", request_id = %context.request_id);
    let failures = futures::future::join_all(payload.records.iter().map(|record| async move {
        let failed = run_record(record, deps, deadline).await?;
        if let Some(queue) = &deps.fanout.queue {
            come_back_soon(record, queue).await;
        }
        Some(failed)
    }))
    .instrument(span)
    .await;
    SqsBatchResponse {
        batch_item_failures: failures
            .into_iter()
            .flatten()
            .map(|item_identifier| BatchItemFailure { item_identifier })
            .collect(),
    }
}

/// A failed record comes back after [`retry_delay`] of its receive count
/// rather than after the queue's visibility timeout (six worker timeouts).
async fn come_back_soon<Q: PublishQueue>(record: &SqsMessage, queue: &Q) {
    let Some(receipt) = record.receipt_handle.as_deref() else {
        return;
    };
    let receives = record
        .attributes
        .get("ApproximateReceiveCount")
        .and_then(|n| n.parse().ok())
        .unwrap_or(1);
    let delay = retry_delay(receives);
    if let Err(err) = queue.retry_after(receipt, delay).await {
        warn!(error = %err, "the failed job comes back after the visibility timeout instead");
    }
}

/// The invocation's deadline (epoch milliseconds; 0 when there is none) as
/// an instant of this process's clock.
fn deadline(deadline_ms: u64) -> Option<Instant> {
    if deadline_ms == 0 {
        return None;
    }
    let now = u64::try_from(channels::now_millis()).unwrap_or(0);
    Some(Instant::now() + Duration::from_millis(deadline_ms.saturating_sub(now)))
}

/// Runs one record's job; its message id when SQS should retry it.
async fn run_record<S, N, Q>(
    record: &SqsMessage,
    deps: &WorkerDeps<S, N, Q>,
    deadline: Option<Instant>,
) -> Option<String>
where
    S: Store,
    N: ConnectionNotifier,
    Q: PublishQueue,
{
    let message_id = record.message_id.clone().unwrap_or_default();
    let job = match record.body.as_deref().map(ShardJob::parse) {
        Some(Ok(job)) => job,
        Some(Err(err)) => {
            error!(%message_id, error = %err, "not a shard job; it goes to the dead-letter queue after its retries");
            return Some(message_id);
        }
        None => {
            let err = JobError::Malformed("no body".to_owned());
            error!(%message_id, error = %err, "not a shard job");
            return Some(message_id);
        }
    };
    let started = std::time::Instant::now();
    let result = Box::pin(deps.fanout.run_job(&job, &deps.brake, deadline)).await;
    let duration_ms = u64::try_from(started.elapsed().as_millis()).unwrap_or(u64::MAX);
    match result {
        Ok(run) => {
            let r = &run.report;
            info!(
                publish_id = %job.publish_id, channel = %job.channel, shard = job.shard, part = job.part,
                recipients = r.recipients, delivered = r.delivered, gone = r.gone, failed = r.failed,
                pages = run.pages, continued = run.continued.is_some(), duration_ms,
                in_flight_limit = deps.brake.limit(), throttled = deps.brake.throttles(),
                "shard delivered"
            );
            if deps.metrics {
                let properties = [
                    ("publishId", json!(job.publish_id)),
                    ("channel", json!(job.channel)),
                    ("shard", json!(job.shard)),
                    ("part", json!(job.part)),
                ];
                crate::metrics::print_fanout("async", r, duration_ms, &properties);
            }
            None
        }
        Err(JobFailure::Invalid(err)) => {
            error!(%message_id, publish_id = %job.publish_id, error = %err, "invalid shard job; it goes to the dead-letter queue after its retries");
            Some(message_id)
        }
        Err(err) => {
            warn!(%message_id, publish_id = %job.publish_id, shard = job.shard, part = job.part, error = %err, "shard job failed; SQS retries it");
            Some(message_id)
        }
    }
}
