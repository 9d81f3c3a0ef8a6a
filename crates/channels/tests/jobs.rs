//! The asynchronous path on the in-memory adapters: sharding spreads and
//! finds every member, a shard job continues itself before its deadline, a
//! worker that dies mid-page leaves every live member delivered at least
//! once after redelivery, and the brake slows down under 429s and recovers.

#![allow(clippy::unwrap_used, clippy::expect_used)] // a test fails by panicking

mod support;

use std::collections::HashSet;
use std::time::Duration;

use channels::brake::Brake;
use channels::fanout::{Delivery, Plan};
use channels::job::{JobFailure, MemoryQueue, ShardJob};
use channels::memory::MemoryStore;
use channels::message::{Position, Publication};
use channels::testing::{FailingStore, MemoryNotifier, ThrottledEndpoint};
use channels::{Connection, ConnectionNotifier, Fanout, PublishOptions, Shards, Store};
use support::{channel, fast};
use tokio::time::Instant;

/// A store of `members` connections of `room`, over `shards`, in pages of
/// `page` items.
async fn room(members: usize, shards: u16, page: usize) -> (MemoryStore, Vec<String>) {
    let store = MemoryStore::with_page_size(page).with_shards(Shards::new(shards).unwrap());
    // Connected a minute ago: past the grace of connections still connecting.
    let now = channels::now_millis() - 60_000;
    let mut ids = Vec::new();
    for i in 0..members {
        let id = format!("m{i:05}=");
        store
            .connect(&Connection::new(id.clone(), now), Some(&channel("room")))
            .await
            .unwrap();
        ids.push(id);
    }
    (store, ids)
}

/// A fan-out over `store` and `notifier` with `queue` for continuations.
fn fanout<S: Store, N: ConnectionNotifier>(
    store: S,
    notifier: N,
    queue: &MemoryQueue,
) -> Fanout<S, N> {
    let mut fanout = Fanout::new(store, notifier, fast());
    fanout.queue = Some(queue.clone());
    fanout
}

/// The jobs of a raw publish of `body` to `room` at offset 1.
fn jobs(publish_id: &str, shards: Shards, body: &[u8]) -> Vec<ShardJob> {
    let publication = Publication::http(channel("room"), body.to_vec(), false);
    let position = Position {
        offset: 1,
        epoch: "e".into(),
    };
    ShardJob::for_publish(publish_id, &publication, &position, None, shards)
}

/// Runs `job` and its continuations to the end (as workers would), each
/// with an already-passed deadline so that every job stops after one page.
async fn run_to_the_end(
    store: &MemoryStore,
    notifier: &MemoryNotifier,
    first: ShardJob,
) -> (u64, u32) {
    let (queue, mut waiting) = MemoryQueue::new();
    let fanout = fanout(store, notifier, &queue);
    let brake = Brake::new(16, 1, 64);
    let (mut delivered, mut jobs) = (0, 0);
    let mut next = Some(first);
    while let Some(job) = next.take() {
        let run = fanout
            .run_job(&job, &brake, Some(Instant::now()))
            .await
            .unwrap();
        delivered += run.report.delivered;
        jobs += 1;
        if run.continued.is_some() {
            next = Some(waiting.try_recv().unwrap());
        }
    }
    (delivered, jobs)
}

#[tokio::test]
async fn sharding_spreads_members_and_a_publish_finds_every_one() {
    let (store, ids) = room(1000, 8, 1000).await;
    let shards = store.shards();
    let mut per_shard = vec![0; 8];
    for id in &ids {
        per_shard[usize::from(store.shard_of(id))] += 1;
        assert_eq!(store.shard_of(id), shards.of(id));
    }
    assert!(
        per_shard.iter().all(|n| (80..=170).contains(n)),
        "{per_shard:?}"
    );
    assert_eq!(
        channels::count(&store, &channel("room")).await.unwrap(),
        1000
    );
    let notifier = MemoryNotifier::new();
    let fanout = Fanout::<_, _>::new(&store, &notifier, fast());
    let delivery = Delivery {
        channel: channel("room"),
        framed: Publication::http(channel("room"), b"hi".to_vec(), false).framed(&Position {
            offset: 1,
            epoch: "e".into(),
        }),
        exclude: None,
    };
    let report = fanout.deliver_channel(&delivery).await.unwrap();
    assert_eq!((report.recipients, report.delivered), (1000, 1000));
    assert_eq!(notifier.recipients().len(), 1000);
}

#[tokio::test]
async fn a_shard_job_hands_the_rest_on_before_its_deadline_and_each_member_gets_it_once() {
    // GIVEN one shard of 95 members read in pages of 10
    let (store, ids) = room(95, 1, 10).await;
    let notifier = MemoryNotifier::new();
    let job = jobs("p1", Shards::ONE, b"hello").pop().unwrap();

    // WHEN each job may only finish the page it holds (deadline passed)
    let (delivered, jobs) = run_to_the_end(&store, &notifier, job).await;

    // THEN the shard went out in 10 jobs (the first and 9 continuations),
    // each member got the message exactly once
    assert_eq!((delivered, jobs), (95, 10));
    for id in &ids {
        assert_eq!(notifier.delivered(id), vec![b"hello".to_vec()], "{id}");
    }
}

#[tokio::test]
async fn without_a_deadline_a_job_delivers_its_whole_shard_and_only_it() {
    let (store, _) = room(300, 4, 25).await;
    let notifier = MemoryNotifier::new();
    let (queue, mut waiting) = MemoryQueue::new();
    let fanout = fanout(&store, &notifier, &queue);
    let brake = Brake::new(16, 1, 64);
    let mut total = 0;
    for job in jobs("p2", store.shards(), b"x") {
        let run = fanout.run_job(&job, &brake, None).await.unwrap();
        assert!(run.continued.is_none());
        // Only members of this job's shard.
        for id in notifier.recipients() {
            if store.shard_of(&id) == job.shard {
                assert_eq!(notifier.delivered(&id).len(), 1);
            }
        }
        total += run.report.delivered;
    }
    assert_eq!(total, 300);
    assert!(waiting.try_recv().is_err(), "no continuation");
}

#[tokio::test]
async fn a_worker_dying_mid_page_is_made_good_by_redelivery() {
    // GIVEN a shard of 200 members, 20 of them gone, in pages of 50
    let (store, ids) = room(200, 1, 50).await;
    let gone: HashSet<&String> = ids.iter().step_by(10).collect();
    let job = jobs("p3", Shards::ONE, b"m").pop().unwrap();
    let (queue, _waiting) = MemoryQueue::new();
    let brake = Brake::new(8, 1, 8);

    // WHEN the first worker dies after 70 posts (in the middle of page 2)
    let dying = MemoryNotifier::new().hang_after(70);
    for id in &gone {
        dying.gone(id);
    }
    let crashed = tokio::time::timeout(
        Duration::from_millis(300),
        fanout(&store, &dying, &queue).run_job(&job, &brake, None),
    )
    .await;
    assert!(crashed.is_err(), "the worker never finished");
    assert!(dying.recipients().len() < 70);

    // AND the queue redelivers the same job to another worker
    let healthy = MemoryNotifier::new();
    for id in &gone {
        healthy.gone(id);
    }
    let run = fanout(&store, &healthy, &queue)
        .run_job(&job, &Brake::new(8, 1, 8), None)
        .await
        .unwrap();

    // THEN every live member got the message at least once (some twice)
    for id in ids.iter().filter(|id| !gone.contains(id)) {
        let times = dying.delivered(id).len() + healthy.delivered(id).len();
        assert!((1..=2).contains(&times), "{id}: {times}");
    }
    // AND every gone member is removed from the store
    for id in &gone {
        assert!(store.get(id).is_none(), "{id} still stored");
    }
    assert_eq!(run.report.recipients, 200 - dying_removed(&dying, &gone));
}

/// Gone members the dying worker had already removed (the redelivery no
/// longer finds them).
fn dying_removed(dying: &MemoryNotifier, gone: &HashSet<&String>) -> u64 {
    gone.iter().filter(|id| dying.attempts(id) > 0).count() as u64
}

#[tokio::test]
async fn a_store_failure_before_any_page_fails_the_job_for_a_retry() {
    let job = jobs("p4", Shards::ONE, b"m").pop().unwrap();
    let (queue, mut waiting) = MemoryQueue::new();
    let result = fanout(FailingStore, MemoryNotifier::new(), &queue)
        .run_job(&job, &Brake::new(8, 1, 8), None)
        .await;
    assert!(matches!(result, Err(JobFailure::Store(_))), "{result:?}");
    assert!(
        waiting.try_recv().is_err(),
        "no continuation without progress"
    );
}

#[tokio::test]
async fn an_invalid_job_is_refused_for_good() {
    let mut job = jobs("p5", Shards::ONE, b"m").pop().unwrap();
    job.channel = "no spaces".into();
    let (queue, _) = MemoryQueue::new();
    let (store, _) = room(1, 1, 10).await;
    let result = fanout(&store, MemoryNotifier::new(), &queue)
        .run_job(&job, &Brake::new(1, 1, 1), None)
        .await;
    assert!(matches!(result, Err(JobFailure::Invalid(_))), "{result:?}");
    assert!(ShardJob::parse("{not json").is_err());
    let round_trip = ShardJob::parse(&job.continuation(Some("c".into())).to_json()).unwrap();
    assert_eq!(
        (round_trip.part, round_trip.cursor.as_deref()),
        (1, Some("c"))
    );
}

#[tokio::test]
async fn small_channels_are_planned_synchronous_and_big_ones_async() {
    let (store, mut ids) = room(40, 4, 1000).await;
    let mut fanout = Fanout::<_, _>::new(store, MemoryNotifier::new(), fast());
    fanout.sync_max = 40;
    let Plan::Sync(found) = fanout.plan(&channel("room")).await.unwrap() else {
        panic!("40 members fit a sync_max of 40");
    };
    let mut found: Vec<String> = found.into_iter().map(|m| m.connection_id).collect();
    found.sort();
    ids.sort();
    assert_eq!(found, ids);
    fanout.sync_max = 39;
    assert_eq!(fanout.plan(&channel("room")).await.unwrap(), Plan::Async);
    fanout.sync_max = 10;
    assert_eq!(
        fanout.plan(&channel("empty")).await.unwrap(),
        Plan::Sync(Vec::new())
    );
}

#[tokio::test(start_paused = true)]
async fn the_brake_slows_down_under_429s_and_recovers() {
    // GIVEN an endpoint that admits 1,000 posts/s (bursts of 50), 20 ms each
    let endpoint = ThrottledEndpoint::new(1000.0, 50, Duration::from_millis(20));
    let (store, _) = room(3000, 1, 3000).await;
    // AND a brake that starts far above what the endpoint takes (1,000/s at
    // 20 ms is 20 in flight)
    let brake = Brake::new(200, 1, 400);
    let options = PublishOptions {
        max_attempts: 10,
        ..fast()
    };

    // WHEN a shard of 3,000 members is delivered
    let begin = Instant::now();
    let fanout = Fanout::<_, _>::new(store, &endpoint, options);
    let delivery = Delivery {
        channel: channel("room"),
        framed: Publication::http(channel("room"), b"m".to_vec(), false).framed(&Position {
            offset: 1,
            epoch: "e".into(),
        }),
        exclude: None,
    };
    let run = fanout.deliver_shard(&delivery, 0, None, &brake, None).await;
    let took = begin.elapsed();

    // THEN the 429s lowered the in-flight limit, and everyone got it
    assert!(brake.decreases() >= 2, "decreases: {}", brake.decreases());
    assert!(brake.throttles() > 0);
    assert_eq!(run.report.delivered, 3000, "{:?}", run.report);
    // AND the throughput stayed near what the endpoint admits (3 s ideal)
    assert!(took < Duration::from_secs(5), "{took:?}");
    // AND with the throttling gone, the limit grows back
    let low = brake.limit();
    for _ in 0..(low * 20) {
        brake.succeeded();
    }
    assert!(brake.limit() > low + 10, "{} -> {}", low, brake.limit());
}

/// Compiles only if the fan-out's futures are `Send` for concrete
/// adapters: the local gateway and the Lambda runtime move them between
/// threads. (A borrowed slice in a stream item once made them not.)
#[allow(dead_code)]
fn fanout_futures_are_send(
    fanout: &Fanout<MemoryStore, MemoryNotifier, MemoryQueue>,
    publish: channels::fanout::Publish,
    delivery: &Delivery,
    job: &ShardJob,
    brake: &Brake,
) {
    fn is_send<T: Send>(_: &T) {}
    is_send(&fanout.publish(publish));
    is_send(&fanout.deliver_channel(delivery));
    is_send(&fanout.deliver(delivery, Vec::new(), brake));
    is_send(&fanout.run_job(job, brake, None));
    is_send(&fanout.plan(&delivery.channel));
}
