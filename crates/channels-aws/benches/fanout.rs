//! `make bench`: how fast one invocation fans out, through the real
//! aws-sdk-apigatewaymanagement client (signing every request), to a server
//! on 127.0.0.1 that answers each post after a fixed latency (API Gateway's
//! is ~10-30 ms).
//!
//! The server runs in a child process, so that this process's CPU time is the
//! client's alone: the fan-out, the SDK (serialising, signing, HTTP) and the
//! store. From that CPU per post it derives how many members one synchronous
//! publish reaches within the http function's budget at each Lambda memory
//! size (Lambda gives 1 vCPU per 1,769 MB, in proportion below that).
//!
//! Bounded: a few thousand posts per row, a handful of rows.

#![allow(clippy::unwrap_used, clippy::expect_used)] // a benchmark stops on any failure

use std::io::{BufRead, BufReader};
use std::process::{Command, Stdio};
use std::time::{Duration, Instant};

use axum::http::StatusCode;
use axum::routing::post;
use axum::Router;
use channels::fanout::Delivery;
use channels::memory::MemoryStore;
use channels::message::Framed;
use channels::{ChannelName, Connection, Fanout, PublishOptions, Store};
use channels_aws::apigw::ApiGatewayNotifier;

/// What a synchronous publish may spend: the http function's 29 s timeout
/// minus reading the members and answering.
const SYNC_BUDGET_SECS: f64 = 25.0;
/// Lambda memory sizes to state the synchronous reach for, MB.
const MEMORY_SIZES: &[u32] = &[128, 256, 512, 1024, 1769, 3008];

fn peak_rss_kib() -> u64 {
    status_field("VmHWM:").unwrap_or(0)
}

fn status_field(name: &str) -> Option<u64> {
    std::fs::read_to_string("/proc/self/status")
        .ok()?
        .lines()
        .find(|l| l.starts_with(name))?
        .split_whitespace()
        .nth(1)?
        .parse()
        .ok()
}

/// User + system CPU time of this process so far (all threads).
fn cpu_time() -> Duration {
    let stat = std::fs::read_to_string("/proc/self/stat").unwrap();
    // Fields after the command name (which is in parentheses).
    let rest = &stat[stat.rfind(')').unwrap() + 2..];
    let fields: Vec<&str> = rest.split_whitespace().collect();
    // utime and stime are fields 14 and 15 of the whole line: 11 and 12 here.
    let ticks: u64 = fields[11].parse::<u64>().unwrap() + fields[12].parse::<u64>().unwrap();
    Duration::from_secs_f64(ticks as f64 / 100.0)
}

/// The child: serves `@connections` with `latency`, prints its address.
async fn serve(latency: Duration) {
    let app = Router::new().route(
        "/{stage}/@connections/{id}",
        post(move || async move {
            tokio::time::sleep(latency).await;
            StatusCode::OK
        }),
    );
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    println!("{}", listener.local_addr().unwrap());
    // Stops with the parent: reading stdin ends when the parent goes.
    tokio::spawn(async move {
        let _ = axum::serve(listener, app).await;
    });
    let _ = tokio::task::spawn_blocking(|| {
        let mut line = String::new();
        let _ = std::io::stdin().read_line(&mut line);
    })
    .await;
}

struct Server {
    child: std::process::Child,
    endpoint: String,
}

impl Server {
    fn start(latency_ms: u64) -> Self {
        let mut child = Command::new(std::env::current_exe().unwrap())
            .args(["--serve", &latency_ms.to_string()])
            .stdin(Stdio::piped())
            .stdout(Stdio::piped())
            .spawn()
            .unwrap();
        let mut line = String::new();
        BufReader::new(child.stdout.as_mut().unwrap())
            .read_line(&mut line)
            .unwrap();
        Self {
            child,
            endpoint: format!("http://{}/staging", line.trim()),
        }
    }
}

impl Drop for Server {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

#[tokio::main]
async fn main() {
    let args: Vec<String> = std::env::args().collect();
    if let Some(i) = args.iter().position(|a| a == "--serve") {
        let ms = args[i + 1].parse().unwrap();
        serve(Duration::from_millis(ms)).await;
        return;
    }
    let sdk = channels_aws::testing::sdk_config();
    println!(
        "{:>8} {:>6} {:>11} {:>8} {:>9} {:>9} {:>14} {:>9}",
        "members",
        "bytes",
        "concurrency",
        "latency",
        "wall_ms",
        "posts/s",
        "client_cpu_us",
        "peak_MiB"
    );
    let mut cpu_per_post = Vec::new();
    for (members, bytes, concurrency, latency_ms) in [
        (2000, 256, 16, 20),
        (4000, 256, 64, 20),
        (8000, 256, 128, 20),
        (8000, 256, 256, 20),
        (8000, 256, 128, 0),
        (4000, 128 * 1024, 128, 0),
    ] {
        let server = Server::start(latency_ms);
        let notifier = ApiGatewayNotifier::from_conf(&sdk, &server.endpoint);
        let store = MemoryStore::new();
        let channel = ChannelName::parse("bench").unwrap();
        for i in 0..members {
            store
                .connect(
                    &Connection::new(format!("c{i:06}="), channels::now_millis()),
                    Some(&channel),
                )
                .await
                .unwrap();
        }
        let options = PublishOptions {
            concurrency,
            ..PublishOptions::default()
        };
        // Raw members: each gets the body as it is (a 128 KiB body is
        // delivered here, past the envelope check a publish makes first).
        let delivery = Delivery {
            channel: channel.clone(),
            framed: Framed {
                raw: Some(vec![b'x'; bytes]),
                envelope: Vec::new(),
            },
            exclude: None,
        };
        let fanout = Fanout::<_, _>::new(&store, &notifier, options);
        let (cpu_before, started) = (cpu_time(), Instant::now());
        let report = fanout.deliver_channel(&delivery).await.unwrap();
        let (wall, cpu) = (started.elapsed(), cpu_time() - cpu_before);
        assert_eq!(report.delivered, members as u64, "{report:?}");
        let per_post = cpu / members;
        if bytes == 256 && latency_ms == 0 {
            cpu_per_post.push(per_post);
        }
        println!(
            "{members:>8} {bytes:>6} {concurrency:>11} {:>6}ms {:>9} {:>9.0} {:>14.1} {:>9.1}",
            latency_ms,
            wall.as_millis(),
            members as f64 / wall.as_secs_f64(),
            per_post.as_secs_f64() * 1e6,
            peak_rss_kib() as f64 / 1024.0
        );
    }
    // What one synchronous publish reaches: the posts its CPU share allows
    // in the budget, or what 128 in flight at 20 ms allow, whichever is less.
    let per_post = cpu_per_post[0].as_secs_f64();
    println!(
        "sync reach (client CPU {:.0} us/post on this machine's cores, {SYNC_BUDGET_SECS} s budget, 128 in flight at 20 ms):",
        per_post * 1e6
    );
    for mb in MEMORY_SIZES {
        let vcpu = (f64::from(*mb) / 1769.0).min(1.0);
        let cpu_rate = vcpu / per_post;
        let latency_rate = 128.0 / 0.020;
        let rate = cpu_rate.min(latency_rate);
        println!(
            "  memory={mb:>4}MB vcpu={vcpu:.2} posts_per_s={rate:>6.0} members_in_budget={:>7.0} bound_by={}",
            rate * SYNC_BUDGET_SECS,
            if cpu_rate < latency_rate { "cpu" } else { "latency" }
        );
    }
}
