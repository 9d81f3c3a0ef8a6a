//! The worker on an SQS event as Lambda sends it (tests/data/sqs_batch.json:
//! a good job, a body that is not a job, and a job whose shard cannot be
//! read): it delivers the good one, reports exactly the two others as batch
//! item failures, and asks the queue to show them again soon, by how often
//! they were received.

#![allow(clippy::unwrap_used, clippy::expect_used)] // a test fails by panicking

mod support;

use std::sync::Mutex;
use std::time::Duration;

use channels::job::{retry_delay, PublishQueue, QueueError, ShardJob};
use channels::memory::MemoryStore;
use channels::testing::{MemoryNotifier, Tamper};
use channels::{ChannelName, Connection, Fanout, PublishOptions, Store};
use http_lambda::sqs::{BatchItemFailure, SqsBatchResponse, SqsEvent};
use http_lambda::worker::{handle, worker_brake, WorkerDeps};
use lambda_runtime::{Context, LambdaEvent};

/// A queue that records what the worker asks of it.
#[derive(Default)]
struct RecordingQueue {
    enqueued: Mutex<Vec<ShardJob>>,
    retries: Mutex<Vec<(String, Duration)>>,
}

impl PublishQueue for RecordingQueue {
    async fn enqueue(&self, jobs: Vec<ShardJob>) -> Result<(), QueueError> {
        self.enqueued.lock().unwrap().extend(jobs);
        Ok(())
    }
    async fn retry_after(&self, receipt: &str, delay: Duration) -> Result<(), QueueError> {
        self.retries
            .lock()
            .unwrap()
            .push((receipt.to_owned(), delay));
        Ok(())
    }
}

fn queue<S, N>(deps: &WorkerDeps<S, N, RecordingQueue>) -> &RecordingQueue {
    deps.fanout.queue.as_ref().expect("a queue")
}

fn batch() -> SqsEvent {
    support::fixture("sqs_batch.json")
}

#[tokio::test]
async fn a_batch_reports_exactly_its_failed_records_and_they_come_back_soon() {
    // GIVEN two members of room, and the batch of the fixture
    let store = MemoryStore::new();
    for id in ["a=", "b="] {
        let room = ChannelName::parse("room").unwrap();
        store
            .connect(&Connection::new(id, channels::now_millis()), Some(&room))
            .await
            .unwrap();
    }
    // AND a store whose channel `broken` cannot be read
    let mut fanout = Fanout::new(
        Tamper::new(store).breaking("broken"),
        MemoryNotifier::new(),
        PublishOptions::default(),
    );
    fanout.queue = Some(RecordingQueue::default());
    let deps = WorkerDeps {
        fanout,
        brake: worker_brake(16, 1000.0),
        metrics: false,
    };

    // WHEN the worker handles it
    let response = handle(LambdaEvent::new(batch(), Context::default()), &deps).await;

    // THEN exactly the malformed record and the unreadable shard are failures
    let mut failed: Vec<String> = response
        .batch_item_failures
        .iter()
        .map(|f| f.item_identifier.clone())
        .collect();
    failed.sort();
    assert_eq!(
        failed,
        [
            "2e1424d4-f796-459a-8184-9c92662be6da",
            "c80e8021-a70a-42c7-a470-796e1186f753"
        ]
    );
    // AND the good job was delivered to both members of room
    for id in ["a=", "b="] {
        assert_eq!(
            deps.fanout.notifier.delivered(id),
            vec![b"hello room".to_vec()]
        );
    }
    // AND the failed ones come back after a delay set by their receive count
    let mut retries = queue(&deps).retries.lock().unwrap().clone();
    retries.sort();
    assert_eq!(
        retries,
        [
            (
                "AQEBwJnKyrHigUMZj6rYigCg-receipt-3".to_owned(),
                retry_delay(2)
            ),
            ("AQEBzWwaftRI0KuVm4tP-receipt-2".to_owned(), retry_delay(3)),
        ]
    );
    assert!(
        queue(&deps).enqueued.lock().unwrap().is_empty(),
        "no continuation"
    );
}

#[test]
fn retries_back_off_from_ten_seconds_to_five_minutes() {
    let delays: Vec<u64> = (1..=8).map(|n| retry_delay(n).as_secs()).collect();
    assert_eq!(delays, [10, 20, 40, 80, 160, 300, 300, 300]);
    assert_eq!(retry_delay(0).as_secs(), 10);
}

#[test]
fn the_event_and_answer_read_as_aws_lambda_events_reads_them() {
    // GIVEN the fixture read with these types and with aws_lambda_events's
    let ours = batch();
    let theirs: aws_lambda_events::sqs::SqsEvent = support::fixture("sqs_batch.json");

    // THEN every field the worker uses is the same
    assert_eq!(ours.records.len(), theirs.records.len());
    for (a, b) in ours.records.iter().zip(&theirs.records) {
        assert_eq!(a.message_id, b.message_id);
        assert_eq!(a.receipt_handle, b.receipt_handle);
        assert_eq!(a.body, b.body);
        assert_eq!(a.event_source, b.event_source);
        assert_eq!(a.attributes, b.attributes);
    }
    assert_eq!(
        ours.records[1].attributes.get("ApproximateReceiveCount"),
        Some(&"3".to_owned())
    );

    // AND the answer reads back as theirs, failures in order
    let answer = SqsBatchResponse {
        batch_item_failures: ["x", "y"]
            .map(|id| BatchItemFailure {
                item_identifier: id.to_owned(),
            })
            .to_vec(),
    };
    let read: aws_lambda_events::sqs::SqsBatchResponse =
        serde_json::from_value(serde_json::to_value(&answer).unwrap()).unwrap();
    let ids: Vec<_> = read
        .batch_item_failures
        .iter()
        .map(|f| f.item_identifier.as_str())
        .collect();
    assert_eq!(ids, ["x", "y"]);
}
