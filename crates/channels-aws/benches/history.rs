//! What keeping history costs a publish: a publish to a channel of one
//! member, through the DynamoDB adapter at a moto_server on 127.0.0.1, with
//! history on (600 s, 1,000 messages) and off, interleaved publish by
//! publish. Prints the median time of each, their ratio, and the store calls
//! of one publish in order: history adds one `append` (a `PutItem`), between
//! the offset and the members, and nothing else.
//!
//! `cargo bench -p channels-aws --bench history` (`PUBLISHES=` overrides the
//! 200 measured pairs; moto from `make test-tools`, or `MOTO_SERVER=`).
//! moto answers on loopback in a fraction of DynamoDB's ~5 ms a call: the
//! ratio shows the extra round trip, not AWS latency.

#![allow(clippy::unwrap_used, clippy::expect_used)]

use std::time::{Duration, Instant};

use channels::fanout::{Publish, Published};
use channels::message::Publication;
use channels::testing::{MemoryNotifier, Tamper};
use channels::{ChannelName, Connection, Fanout, History, PublishOptions, Shards, Store};
use channels_aws::dynamo::{ensure_table, DynamoStore};
use channels_aws::testing::MotoServer;

fn median(samples: &mut [Duration]) -> Duration {
    samples.sort_unstable();
    samples[samples.len() / 2]
}

/// One publish of `hello` to `channel`; how long it took.
async fn publish(
    fanout: &Fanout<&Tamper<DynamoStore>, &MemoryNotifier>,
    channel: &ChannelName,
) -> Duration {
    let publish = Publish {
        publication: Publication::http(channel.clone(), b"hello".to_vec(), false),
        exclude: None,
        key: None,
        publish_id: "bench".into(),
    };
    let started = Instant::now();
    let published = fanout.publish(publish).await.expect("publish");
    assert!(matches!(published, Published::Sync { ref report, .. } if report.delivered == 1));
    started.elapsed()
}

#[tokio::main]
async fn main() {
    let publishes = std::env::var("PUBLISHES")
        .ok()
        .and_then(|v| v.parse().ok())
        .unwrap_or(200usize);
    let moto =
        MotoServer::start().expect("moto_server (run `make test-tools`, or set MOTO_SERVER)");
    let client = moto.dynamodb_client();
    ensure_table(&client, "history-bench").await.unwrap();
    let shards = Shards::new(channels::config::DEFAULT_CHANNEL_SHARDS).unwrap();
    let store = Tamper::new(DynamoStore::new(client, "history-bench").with_shards(shards));
    let channel = ChannelName::parse("bench").unwrap();
    let member = Connection::new("member=", channels::now_millis() - 60_000);
    store.connect(&member, Some(&channel)).await.unwrap();
    let notifier = MemoryNotifier::new();
    let fanout = |history: History| {
        let mut fanout = Fanout::<_, _>::new(&store, &notifier, PublishOptions::default());
        fanout.history = history;
        fanout
    };
    let (on, off) = (fanout(History::default()), fanout(History::OFF));
    // Warm up both, and record the calls of one publish each.
    let mut calls = Vec::new();
    for (name, fanout) in [("on", &on), ("off", &off)] {
        store.clear_calls();
        publish(fanout, &channel).await;
        calls.push((name, store.calls()));
    }
    let (mut with, mut without) = (Vec::new(), Vec::new());
    for _ in 0..publishes {
        with.push(publish(&on, &channel).await);
        without.push(publish(&off, &channel).await);
    }
    let (with, without) = (median(&mut with), median(&mut without));
    for (name, calls) in &calls {
        let members = calls.iter().filter(|c| **c == "members").count();
        let rest: Vec<&str> = calls.iter().copied().filter(|c| *c != "members").collect();
        println!(
            "history={name} store calls of one publish: {} then members x{members} (one per shard, in parallel)",
            rest.join(", ")
        );
    }
    println!(
        "history publishes={publishes} members=1 shards={} on_ms={:.2} off_ms={:.2} ratio={:.2} (moto on 127.0.0.1)",
        shards.count(),
        with.as_secs_f64() * 1e3,
        without.as_secs_f64() * 1e3,
        with.as_secs_f64() / without.as_secs_f64()
    );
}
