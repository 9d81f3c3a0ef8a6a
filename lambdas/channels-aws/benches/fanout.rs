//! `make bench`: how fast one invocation fans out, through the real
//! aws-sdk-apigatewaymanagement client, to a server on 127.0.0.1 that
//! answers each post after a fixed latency (API Gateway's is ~10-30 ms).
//!
//! Bounded: a few thousand posts per run, a handful of runs. Prints one row
//! per run: members, concurrency, latency, wall time, posts/s, and the
//! process's peak resident memory so far.

#![allow(clippy::unwrap_used, clippy::expect_used)] // a benchmark stops on any failure

use std::time::{Duration, Instant};

use axum::http::StatusCode;
use axum::routing::post;
use axum::Router;
use channels::memory::MemoryStore;
use channels::{publish, ChannelName, Connection, ConnectionStore, PublishOptions};
use channels_aws::apigw::ApiGatewayNotifier;

fn peak_rss_kib() -> u64 {
    std::fs::read_to_string("/proc/self/status")
        .ok()
        .and_then(|s| {
            s.lines()
                .find(|l| l.starts_with("VmHWM:"))?
                .split_whitespace()
                .nth(1)?
                .parse()
                .ok()
        })
        .unwrap_or(0)
}

async fn server(latency: Duration) -> String {
    let app = Router::new().route(
        "/{stage}/@connections/{id}",
        post(move || async move {
            tokio::time::sleep(latency).await;
            StatusCode::OK
        }),
    );
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0")
        .await
        .expect("bind 127.0.0.1:0");
    let addr = listener.local_addr().expect("local addr");
    tokio::spawn(async move {
        let _ = axum::serve(listener, app).await;
    });
    format!("http://{addr}/staging")
}

#[tokio::main]
async fn main() {
    let sdk = channels_aws::testing::sdk_config();
    let message = vec![b'x'; 256];
    println!(
        "{:>8} {:>11} {:>8} {:>9} {:>9} {:>9}",
        "members", "concurrency", "latency", "wall_ms", "posts/s", "peak_MiB"
    );
    for (members, concurrency, latency_ms) in [
        (2000, 16, 20),
        (4000, 64, 20),
        (8000, 128, 20),
        (8000, 256, 20),
        (8000, 128, 0),
    ] {
        let endpoint = server(Duration::from_millis(latency_ms)).await;
        let notifier = ApiGatewayNotifier::from_conf(&sdk, &endpoint);
        let store = MemoryStore::new();
        let channel = ChannelName::parse("bench").expect("channel");
        for i in 0..members {
            store
                .put(&Connection::new(
                    format!("c{i:06}="),
                    channel.clone(),
                    channels::now_millis(),
                ))
                .await
                .expect("put");
        }
        let options = PublishOptions {
            concurrency,
            ..PublishOptions::default()
        };
        let started = Instant::now();
        let report = publish(&store, &notifier, &channel, &message, &options)
            .await
            .expect("publish");
        let wall = started.elapsed();
        assert_eq!(report.delivered, members as u64, "{report:?}");
        println!(
            "{members:>8} {concurrency:>11} {:>6}ms {:>9} {:>9.0} {:>9.1}",
            latency_ms,
            wall.as_millis(),
            members as f64 / wall.as_secs_f64(),
            peak_rss_kib() as f64 / 1024.0
        );
    }
}
