//! The gateway's resident memory under a hostile flood: before it, at its
//! peak, and 10 s after it ends, beside a baseline: the same gateway with
//! the settings it had before it was hardened (tungstenite's 128 KiB socket
//! buffers, no byte limit on what waits for a client, freed memory left to
//! the allocator).
//!
//! `cargo bench -p local-gateway --bench memory` (test-sized by default;
//! `HANDSHAKES=`, `PINGS=`, `PING_CLIENTS=`, `PUBLISHES=`, `POST_CLIENTS=`
//! override; `ROUNDS=2` floods twice before "after"; `MEMORY_RUNS=` picks
//! some of `baseline,gateway`).
//!
//! - Each server runs in a child process of its own (this binary again,
//!   with `--serve RUN`), so that each measures only itself, from
//!   `/proc/self/status`: `VmRSS` before the flood and 10 s after it ends,
//!   `VmHWM` (the most it was resident) for the peak. History is off in
//!   both (a publish kept for recovery is memory held on purpose).
//! - The flood comes from this process, all at once, to 127.0.0.1:
//!   `HANDSHAKES` WebSocket handshakes that never read (not even the 101),
//!   `PING_CLIENTS` clients that never read sending `PINGS` pings of 125
//!   bytes between them, and `PUBLISHES` publishes of 64 KiB to a channel
//!   of `POST_CLIENTS` members that never read. Then every socket is
//!   closed: the flood has ended.

#![allow(clippy::unwrap_used, clippy::expect_used)]

use std::collections::BTreeMap;
use std::io::{BufRead as _, BufReader, Write as _};
use std::net::SocketAddr;
use std::process::{ChildStdin, Command, Stdio};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use channels::History;
use futures::StreamExt as _;
use local_gateway::{Gateway, GatewayBuilder, GatewayEvent};
use tokio::io::AsyncWriteExt as _;
use tokio::net::{TcpSocket, TcpStream};

/// Every wait is bounded by this.
const WAIT: Duration = Duration::from_secs(120);
/// When "after" is measured.
const AFTER: Duration = Duration::from_secs(10);
const CHANNEL: &str = "flood";
const PING_PAYLOAD: usize = 125;
const POST_BYTES: usize = 64 * 1024;
/// Handshakes in flight at once.
const AT_ONCE: usize = 64;

fn main() {
    let args: Vec<String> = std::env::args().collect();
    if let Some(at) = args.iter().position(|a| a == "--serve") {
        serve(&args[at + 1]);
        return;
    }
    let flood = Flood::from_env();
    let runs = std::env::var("MEMORY_RUNS").unwrap_or_else(|_| "baseline,gateway".to_owned());
    let runs: Vec<&str> = runs.split(',').map(str::trim).collect();
    for run in &runs {
        assert!(
            ["baseline", "gateway"].contains(run),
            "MEMORY_RUNS: {run:?} is neither baseline nor gateway"
        );
    }
    println!(
        "flood: {} handshakes that never read; {} pings of {PING_PAYLOAD} B from {} clients that never read; \
         {} publishes of {} KiB to {} members that never read",
        flood.handshakes,
        flood.pings,
        flood.ping_clients,
        flood.publishes,
        POST_BYTES / 1024,
        flood.post_clients
    );
    println!("load average before: {}", load_average());
    let runtime = tokio::runtime::Builder::new_multi_thread()
        .enable_all()
        .build()
        .expect("a runtime");
    let mut measured = Vec::new();
    for run in runs {
        let figures = runtime.block_on(measure(run, &flood));
        println!(
            "{run}: before {:.1} MiB, peak {:.1} MiB, 10 s after {:.1} MiB; {}",
            mib(figures.before_kb),
            mib(figures.peak_kb),
            mib(figures.after_kb),
            figures.notes
        );
        measured.push((run, figures));
    }
    println!("load average after: {}", load_average());
    let line: Vec<String> = measured
        .iter()
        .map(|(run, f)| {
            format!(
                "{run}_before_mib={:.1} {run}_peak_mib={:.1} {run}_after_mib={:.1}",
                mib(f.before_kb),
                mib(f.peak_kb),
                mib(f.after_kb)
            )
        })
        .collect();
    println!("memory {}", line.join(" "));
}

fn mib(kb: u64) -> f64 {
    kb as f64 / 1024.0
}

fn load_average() -> String {
    std::fs::read_to_string("/proc/loadavg")
        .ok()
        .map(|l| l.split(' ').take(3).collect::<Vec<_>>().join(" "))
        .unwrap_or_else(|| "unknown".to_owned())
}

fn env_number(name: &str, default: usize) -> usize {
    std::env::var(name)
        .ok()
        .and_then(|v| v.trim().parse().ok())
        .unwrap_or(default)
}

/// The size of the flood.
struct Flood {
    handshakes: usize,
    pings: usize,
    ping_clients: usize,
    publishes: usize,
    post_clients: usize,
    /// Floods one after the other before "after" (memory reused rather
    /// than leaked stays at one flood's worth).
    rounds: usize,
}

impl Flood {
    fn from_env() -> Self {
        Self {
            handshakes: env_number("HANDSHAKES", 2_000),
            pings: env_number("PINGS", 600_000),
            ping_clients: env_number("PING_CLIENTS", 4).max(1),
            publishes: env_number("PUBLISHES", 200),
            post_clients: env_number("POST_CLIENTS", 8),
            rounds: env_number("ROUNDS", 1).max(1),
        }
    }
}

/// `(VmRSS, VmHWM)` of this process, in kB.
fn resident() -> (u64, u64) {
    let status = std::fs::read_to_string("/proc/self/status").expect("/proc/self/status");
    let field = |name: &str| {
        status
            .lines()
            .find_map(|l| l.strip_prefix(name))
            .and_then(|v| v.trim().trim_end_matches("kB").trim().parse().ok())
            .unwrap_or(0)
    };
    (field("VmRSS:"), field("VmHWM:"))
}

/// What one run measured.
struct Figures {
    before_kb: u64,
    peak_kb: u64,
    after_kb: u64,
    notes: String,
}

/// The server side: `--serve baseline|gateway`. Prints `ready ADDR RSS_KB`,
/// waits for `ended` on stdin, then 10 s, and prints
/// `after RSS_KB PEAK_KB NOTES`.
fn serve(run: &str) {
    let runtime = tokio::runtime::Builder::new_multi_thread()
        .worker_threads(2)
        .enable_all()
        .build()
        .expect("a runtime");
    runtime.block_on(async {
        let builder = Gateway::builder().history(History::OFF);
        let builder: GatewayBuilder = match run {
            // As before issue 20: tungstenite's own buffer sizes, nothing
            // bounding the bytes that wait for a client, freed memory kept
            // by the allocator.
            "baseline" => builder
                .socket_buffers(128 * 1024, 128 * 1024)
                .outbound_bytes(usize::MAX)
                .release_memory(false),
            _ => builder,
        };
        let gateway = builder
            .bind("127.0.0.1:0")
            .await
            .expect("the gateway starts");
        let codes = Arc::new(Mutex::new(BTreeMap::<u16, usize>::new()));
        let mut events = gateway.events();
        let tally = Arc::clone(&codes);
        tokio::spawn(async move {
            loop {
                match events.recv().await {
                    Ok(GatewayEvent::Disconnected { status_code, .. }) => {
                        *tally.lock().unwrap().entry(status_code).or_default() += 1;
                    }
                    Ok(_) => {}
                    // Counted as missed: the tally is a note, not a figure.
                    Err(tokio::sync::broadcast::error::RecvError::Lagged(n)) => {
                        *tally.lock().unwrap().entry(0).or_default() +=
                            usize::try_from(n).unwrap_or(usize::MAX);
                    }
                    Err(tokio::sync::broadcast::error::RecvError::Closed) => return,
                }
            }
        });
        let (rss, _) = resident();
        println!("ready {} {rss}", gateway.addr());
        let mut line = String::new();
        tokio::task::spawn_blocking(move || {
            let _ = std::io::stdin().read_line(&mut line);
        })
        .await
        .expect("stdin");
        tokio::time::sleep(AFTER).await;
        let (rss, peak) = resident();
        let codes = codes.lock().unwrap().clone();
        println!(
            "after {rss} {peak} open after: {}; $disconnect codes (0: events missed): {codes:?}",
            gateway.connections().len()
        );
        gateway.shutdown().await;
    });
}

/// Runs one server, floods it, and collects its figures.
async fn measure(run: &str, flood: &Flood) -> Figures {
    let mut child = Command::new(std::env::current_exe().expect("this binary"))
        .args(["--serve", run])
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .stderr(Stdio::null())
        .spawn()
        .expect("the server starts");
    let stdin = child.stdin.take().expect("piped");
    let mut lines = BufReader::new(child.stdout.take().expect("piped")).lines();
    let ready = lines.next().expect("a ready line").expect("stdout");
    let mut words = ready.split(' ');
    assert_eq!(words.next(), Some("ready"), "{ready}");
    let addr: SocketAddr = words
        .next()
        .and_then(|a| a.parse().ok())
        .expect("an address");
    let before_kb: u64 = words.next().and_then(|w| w.parse().ok()).expect("RSS");

    let started = Instant::now();
    let mut notes = String::new();
    for _ in 0..flood.rounds {
        notes = tokio::time::timeout(WAIT, flood_it(addr, flood))
            .await
            .expect("the flood ends in time");
    }
    let flood_secs = started.elapsed().as_secs_f64();
    ended(stdin);

    let after = lines.next().expect("an after line").expect("stdout");
    let mut words = after.splitn(4, ' ');
    assert_eq!(words.next(), Some("after"), "{after}");
    let after_kb: u64 = words.next().and_then(|w| w.parse().ok()).expect("RSS");
    let peak_kb: u64 = words.next().and_then(|w| w.parse().ok()).expect("HWM");
    let server_notes = words.next().unwrap_or("");
    let deadline = Instant::now() + Duration::from_secs(20);
    while Instant::now() < deadline {
        if let Ok(Some(_)) = child.try_wait() {
            break;
        }
        std::thread::sleep(Duration::from_millis(50));
    }
    if let Ok(None) = child.try_wait() {
        let _ = child.kill();
        let _ = child.wait();
    }
    Figures {
        before_kb,
        peak_kb,
        after_kb,
        notes: format!("flood took {flood_secs:.1} s; {notes}; {server_notes}"),
    }
}

fn ended(mut stdin: ChildStdin) {
    let _ = stdin.write_all(b"ended\n");
    let _ = stdin.flush();
}

/// A TCP connection that has sent a WebSocket handshake for `target` and
/// will read nothing (its receive buffer small, as a client's that does not
/// read soon is).
async fn never_reads(addr: SocketAddr, target: &str) -> std::io::Result<TcpStream> {
    let socket = TcpSocket::new_v4()?;
    socket.set_recv_buffer_size(4096)?;
    let mut stream = socket.connect(addr).await?;
    let request = format!(
        "GET {target} HTTP/1.1\r\nhost: {addr}\r\nconnection: upgrade\r\nupgrade: websocket\r\n\
         sec-websocket-version: 13\r\nsec-websocket-key: dGhlIHNhbXBsZSBub25jZQ==\r\n\r\n"
    );
    stream.write_all(request.as_bytes()).await?;
    Ok(stream)
}

async fn connect_many(addr: SocketAddr, target: &str, n: usize) -> Vec<TcpStream> {
    futures::stream::iter(0..n)
        .map(|_| async move { never_reads(addr, target).await.expect("a connection") })
        .buffer_unordered(AT_ONCE)
        .collect()
        .await
}

/// A client's ping: masked (with a zero key, so the payload reads as is).
fn ping_frames(count: usize) -> Vec<u8> {
    let mut frame = vec![0x89, 0x80 | PING_PAYLOAD as u8, 0, 0, 0, 0];
    frame.extend(std::iter::repeat_n(b'p', PING_PAYLOAD));
    frame.repeat(count)
}

/// Floods the server at `addr`; says what happened.
async fn flood_it(addr: SocketAddr, flood: &Flood) -> String {
    let stage = "/staging";
    let http = reqwest::Client::new();
    let count_url = format!("http://{addr}{stage}/channels/{CHANNEL}");

    // The members that will be published to, first: they must have joined.
    let members = connect_many(
        addr,
        &format!("{stage}?channel={CHANNEL}"),
        flood.post_clients,
    )
    .await;
    let deadline = Instant::now() + WAIT;
    loop {
        let counted = async {
            let body = http.get(&count_url).send().await.ok()?.text().await.ok()?;
            serde_json::from_str::<serde_json::Value>(&body).ok()?["connections"].as_u64()
        }
        .await;
        if counted == Some(flood.post_clients as u64) {
            break;
        }
        assert!(Instant::now() < deadline, "members joined: {counted:?}");
        tokio::time::sleep(Duration::from_millis(20)).await;
    }

    let handshakes = connect_many(addr, stage, flood.handshakes);

    let per_client = flood.pings.div_ceil(flood.ping_clients);
    let pingers = futures::future::join_all((0..flood.ping_clients).map(|_| async move {
        let mut stream = never_reads(addr, stage).await.expect("a connection");
        let batch = ping_frames(1000);
        let mut sent = 0;
        while sent < per_client {
            if stream.write_all(&batch).await.is_err() {
                break;
            }
            sent += 1000;
        }
        (stream, sent.min(per_client))
    }));

    let publishes = async {
        let body = "x".repeat(POST_BYTES);
        let mut answers = BTreeMap::<u16, usize>::new();
        for _ in 0..flood.publishes {
            let status = http
                .post(&count_url)
                .header("content-type", "text/plain")
                .body(body.clone())
                .send()
                .await
                .map(|r| r.status().as_u16())
                .unwrap_or(0);
            *answers.entry(status).or_default() += 1;
        }
        answers
    };

    let (handshakes, pingers, answers) = tokio::join!(handshakes, pingers, publishes);
    let sent: usize = pingers.iter().map(|(_, sent)| sent).sum();
    let notes = format!(
        "{} handshakes open; {sent} pings written before the gateway stopped taking them; publish answers {answers:?}",
        handshakes.len()
    );
    // The flood ends: every socket closes.
    drop(handshakes);
    drop(pingers);
    drop(members);
    notes
}
