//! `make bench`, sharded run: how close the asynchronous publish gets to
//! the throttle that should bound it.
//!
//! A channel of `MEMBERS` (default 1,000,000) connections spread over
//! `SHARDS` (default 8) is published through the real job code
//! (`Fanout::run_job`): one job per shard on an in-memory queue, `WORKERS`
//! (default 8) workers taking jobs off it, each with its own brake paced at
//! `TARGET_RATE / WORKERS` (default 10,000/s in all) and AIMD on 429s, each
//! job stopping after `BUDGET_S` (default 60 s, a worker invocation) and
//! handing the rest of its shard on as a continuation. `@connections` is
//! simulated: every post takes 20 ms, and a token bucket of 10,000 posts/s
//! (bursts of 5,000, API Gateway's default account quota) answers 429 to
//! the rest. The ideal is `MEMBERS / 10,000` seconds; the run prints one line
//!
//! `sharded members=… shards=… workers=… wall_s=… ideal_s=… throttle_fraction=… throttled=… peak_mib=…`
//!
//! where `throttle_fraction = ideal_s / wall_s`. Bounded: it gives up after
//! 3 minutes (`MEMBERS=100000` makes a quick run).

#![allow(clippy::unwrap_used, clippy::expect_used)] // a benchmark stops on any failure

use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::Arc;
use std::time::Duration;

use channels::brake::Brake;
use channels::job::{MemoryQueue, PublishQueue, ShardJob};
use channels::memory::MemoryStore;
use channels::message::{Position, Publication};
use channels::testing::ThrottledEndpoint;
use channels::{ChannelName, Connection, Fanout, PublishOptions, Shards, Store};
use tokio::sync::{Mutex, Notify};
use tokio::time::Instant;

/// API Gateway's default account throttle: requests a second, and burst.
const THROTTLE_RATE: f64 = 10_000.0;
const THROTTLE_BURST: u32 = 5_000;
const LATENCY: Duration = Duration::from_millis(20);
/// Items per page: what one 1 MB DynamoDB Query page holds (~100 B each).
const PAGE: usize = 10_000;
const GIVE_UP: Duration = Duration::from_secs(180);

fn env<T: std::str::FromStr>(name: &str, default: T) -> T {
    std::env::var(name)
        .ok()
        .and_then(|v| v.parse().ok())
        .unwrap_or(default)
}

fn peak_rss_mib() -> f64 {
    std::fs::read_to_string("/proc/self/status")
        .ok()
        .and_then(|s| {
            s.lines()
                .find(|l| l.starts_with("VmHWM:"))?
                .split_whitespace()
                .nth(1)?
                .parse::<f64>()
                .ok()
        })
        .unwrap_or(0.0)
        / 1024.0
}

#[tokio::main]
async fn main() {
    let members: usize = env("MEMBERS", 1_000_000);
    let shards = Shards::new(env("SHARDS", 8)).expect("SHARDS is 1-256");
    let workers: usize = env("WORKERS", 8);
    let target: f64 = env("TARGET_RATE", THROTTLE_RATE);
    let budget = Duration::from_secs(env("BUDGET_S", 60));

    let store = Arc::new(MemoryStore::with_page_size(PAGE).with_shards(shards));
    let channel = ChannelName::parse("crowd").unwrap();
    let now = channels::now_millis();
    for i in 0..members {
        store
            .connect(&Connection::new(format!("c{i:07}="), now), Some(&channel))
            .await
            .unwrap();
    }
    let endpoint = Arc::new(ThrottledEndpoint::new(
        THROTTLE_RATE,
        THROTTLE_BURST,
        LATENCY,
    ));
    let (queue, waiting) = MemoryQueue::new();
    let waiting = Arc::new(Mutex::new(waiting));
    // Jobs enqueued and not yet run; the publish is done when it is 0.
    let outstanding = Arc::new(AtomicUsize::new(0));
    let done = Arc::new(Notify::new());
    let delivered = Arc::new(AtomicUsize::new(0));
    let failed = Arc::new(AtomicUsize::new(0));
    let options = PublishOptions {
        // Up to 10 tries: a throttled post waits and goes again.
        max_attempts: 10,
        ..PublishOptions::default()
    };

    for _ in 0..workers {
        let waiting = Arc::clone(&waiting);
        let (outstanding, done, delivered, failed, options) = (
            Arc::clone(&outstanding),
            Arc::clone(&done),
            Arc::clone(&delivered),
            Arc::clone(&failed),
            options.clone(),
        );
        // As the worker function does: its share of the target rate, bursts
        // of a tenth of a second's worth, AIMD from 128 in flight.
        let rate = target / workers as f64;
        let brake = Brake::new(options.concurrency, 1, 1024).with_rate(rate, (rate / 10.0) as u32);
        // Continuations are counted before the job is.
        let mut fanout = Fanout::new(Arc::clone(&store), Arc::clone(&endpoint), options);
        fanout.queue = Some(Counting {
            queue: queue.clone(),
            outstanding: Arc::clone(&outstanding),
        });
        tokio::spawn(async move {
            loop {
                let Some(job) = waiting.lock().await.recv().await else {
                    return;
                };
                let deadline = Instant::now() + budget;
                let run = fanout
                    .run_job(&job, &brake, Some(deadline))
                    .await
                    .expect("the job runs");
                delivered.fetch_add(run.report.delivered as usize, Ordering::SeqCst);
                failed.fetch_add(run.report.failed as usize, Ordering::SeqCst);
                if outstanding.fetch_sub(1, Ordering::SeqCst) == 1 {
                    done.notify_one();
                }
            }
        });
    }

    let started = Instant::now();
    let publication = Publication::http(channel.clone(), b"a message to a million".to_vec(), false);
    let position = Position {
        offset: 1,
        epoch: "bench".into(),
    };
    let jobs = ShardJob::for_publish("bench", &publication, &position, None, shards);
    outstanding.fetch_add(jobs.len(), Ordering::SeqCst);
    queue.enqueue(jobs).await.unwrap();
    let finished = tokio::time::timeout(GIVE_UP, done.notified()).await;
    let wall = started.elapsed().as_secs_f64();
    let ideal = members as f64 / THROTTLE_RATE;
    let delivered = delivered.load(Ordering::SeqCst);
    println!(
        "sharded members={members} shards={} workers={workers} wall_s={wall:.1} ideal_s={ideal:.1} throttle_fraction={:.3} throttled={} peak_mib={:.0}",
        shards.count(),
        ideal / wall,
        endpoint.throttled(),
        peak_rss_mib()
    );
    if finished.is_err() {
        eprintln!("gave up after {GIVE_UP:?}: {delivered} of {members} delivered");
        std::process::exit(1);
    }
    assert_eq!(delivered, members, "every member once");
    assert_eq!(failed.load(Ordering::SeqCst), 0);
    assert_eq!(endpoint.delivered() as usize, members);
}

/// The queue as the workers see it: continuations count as outstanding jobs.
struct Counting {
    queue: MemoryQueue,
    outstanding: Arc<AtomicUsize>,
}

impl PublishQueue for Counting {
    async fn enqueue(&self, jobs: Vec<ShardJob>) -> Result<(), channels::job::QueueError> {
        self.outstanding.fetch_add(jobs.len(), Ordering::SeqCst);
        self.queue.enqueue(jobs).await
    }
}
