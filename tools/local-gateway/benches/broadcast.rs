//! How long the local gateway takes to deliver one publish to many real
//! WebSocket clients, against a bare broadcast: the floor cost of writing
//! one message to that many sockets.
//!
//! `cargo bench -p local-gateway --bench broadcast` (`CLIENTS=` and
//! `PUBLISHES=` override the 10,000 clients and 5 measured publishes;
//! `BROADCAST_RUNS=` picks some of `bare,sync,async`, e.g.
//! `BROADCAST_RUNS=sync` to profile;
//! `CLIENTS_EXE=` runs the clients from another build of this benchmark).
//!
//! - Against the gateway, half the clients speak `lrw.v1` (they get the
//!   publish as an envelope, the others as its raw body); against the bare
//!   server, which knows no subprotocol, all are raw.
//! - The clients run in a child process (this binary again, with
//!   `--clients N URL [v1]`): one process holding both ends of 10,000
//!   connections would need more file descriptors than `ulimit -n` gives.
//!   The child connects them 64 handshakes at a time, prints `connected N`,
//!   then `got SEQ UNIX_NANOS` when the last of its clients has message SEQ.
//! - The server runs in this process: the gateway (in-memory store), once
//!   with `sync_max` above the channel (the fan-out runs in the http
//!   handler; 16 shards, as 8 cannot hold 10,000 members in one page each)
//!   and once with the default `sync_max` and 8 shards (the publish goes to
//!   the in-memory queue and its workers); or the bare broadcast server
//!   ([`bare`]), shaped like the gateway's connection handling. Both sides
//!   share the machine's cores, as they would with `make local`.
//! - A sample is the time from sending the publish to the child's
//!   timestamp for the last client; the clock is the same on both sides.
//!   After one warm-up publish, the median of the measured ones counts.

#![allow(clippy::unwrap_used, clippy::expect_used)]

use std::future::Future;
use std::io::{BufRead as _, BufReader, Read as _};
use std::process::{Child, ChildStdin, Command, Stdio};
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::Arc;
use std::time::{Duration, Instant, SystemTime, UNIX_EPOCH};

use channels::config::DEFAULT_PUBLISH_SYNC_MAX;
use channels::Shards;
use futures::StreamExt as _;
use local_gateway::Gateway;
use tokio::sync::mpsc;

const DEFAULT_CLIENTS: usize = 10_000;
const DEFAULT_PUBLISHES: usize = 5;
/// Handshakes in flight at once: well inside the listen backlog.
const CONNECT_AT_ONCE: usize = 64;
/// Every wait is bounded by this.
const WAIT: Duration = Duration::from_secs(90);
/// Messages are `m{seq} ` and padding up to this many bytes.
const MESSAGE_BYTES: usize = 64;
/// The most messages one child counts.
const MAX_SEQ: usize = 64;
const CHANNEL: &str = "bench";

fn main() {
    let args: Vec<String> = std::env::args().collect();
    if let Some(at) = args.iter().position(|a| a == "--clients") {
        let n = args[at + 1].parse().expect("--clients N URL [v1]");
        let url = args[at + 2].clone();
        let half_v1 = args.get(at + 3).is_some_and(|a| a == "v1");
        clients::run(n, &url, half_v1);
        return;
    }
    let clients = env_number("CLIENTS", DEFAULT_CLIENTS);
    let publishes = env_number("PUBLISHES", DEFAULT_PUBLISHES).clamp(1, MAX_SEQ - 1);
    let runtime = tokio::runtime::Builder::new_multi_thread()
        .enable_all()
        .build()
        .expect("a runtime");
    let runs = std::env::var("BROADCAST_RUNS").unwrap_or_else(|_| "bare,sync,async".to_owned());
    for run in runs.split(',') {
        assert!(
            ["bare", "sync", "async"].contains(&run.trim()),
            "BROADCAST_RUNS: {run:?} is none of bare, sync, async"
        );
    }
    runtime.block_on(parent(clients, publishes, &runs));
}

fn env_number(name: &str, default: usize) -> usize {
    std::env::var(name)
        .ok()
        .and_then(|v| v.trim().parse().ok())
        .filter(|n| *n > 0)
        .unwrap_or(default)
}

async fn parent(n: usize, publishes: usize, runs: &str) {
    let started = Instant::now();
    let wanted = |run: &str| runs.split(',').any(|r| r.trim() == run);
    println!("load average before: {}", load_average());
    let bare = if wanted("bare") {
        let bare = bare::run(n, publishes).await;
        report_run("bare", &bare);
        Some(bare)
    } else {
        None
    };
    let mut gateway = Vec::new();
    if wanted("sync") {
        // A publish is synchronous only when every shard's first page of
        // members (1,000 in the in-memory store, as a DynamoDB page) holds
        // all of that shard: with 8 shards that stops at ~8,000 members,
        // whatever sync_max says. So the synchronous run spreads the
        // channel over more shards when it has to.
        let shards = u16::try_from(n.div_ceil(750).next_power_of_two())
            .unwrap_or(256)
            .clamp(8, 256);
        let sync_max = u32::try_from(n).unwrap_or(u32::MAX).saturating_mul(2);
        let run = gateway_run(n, publishes, sync_max, shards).await;
        report_run(
            &format!("gateway mode=sync (sync_max={sync_max}, shards={shards})"),
            &run,
        );
        let answer = run.answer.as_deref().unwrap_or("");
        println!("publish answer (sync): {answer}");
        let body = answer
            .split_once(' ')
            .map_or(answer, |(_status, body)| body);
        let delivered = serde_json::from_str::<serde_json::Value>(body)
            .ok()
            .and_then(|v| v["delivered"].as_u64());
        assert!(answer.starts_with("200 "), "the publish is synchronous");
        assert_eq!(delivered, Some(n as u64), "every client delivered");
        gateway.push(("sync", run));
    }
    if wanted("async") {
        // Above sync_max the publish goes to the queue: the default, or
        // below the channel for a quick run with fewer clients.
        let sync_max =
            DEFAULT_PUBLISH_SYNC_MAX.min(u32::try_from(n - 1).unwrap_or(u32::MAX).max(1));
        let run = gateway_run(n, publishes, sync_max, 8).await;
        report_run(
            &format!("gateway mode=async (sync_max={sync_max}, shards=8)"),
            &run,
        );
        let answer = run.answer.as_deref().unwrap_or("");
        println!("publish answer (async): {answer}");
        assert!(answer.starts_with("202 "), "the publish is queued");
        gateway.push(("async", run));
    }
    println!("load average after: {}", load_average());
    for (mode, run) in &gateway {
        match &bare {
            Some(bare) => println!(
                "broadcast clients={n} mode={mode} gateway_ms={:.1} bare_ms={:.1} ratio={:.2}",
                run.median_ms(),
                bare.median_ms(),
                run.median_ms() / bare.median_ms()
            ),
            None => println!(
                "broadcast clients={n} mode={mode} gateway_ms={:.1}",
                run.median_ms()
            ),
        }
    }
    println!("total {:.1}s", started.elapsed().as_secs_f64());
}

/// The 1, 5 and 15 minute load averages: the samples mean little on a
/// busy machine.
fn load_average() -> String {
    std::fs::read_to_string("/proc/loadavg")
        .ok()
        .map(|l| l.split(' ').take(3).collect::<Vec<_>>().join(" "))
        .unwrap_or_else(|| "unknown".to_owned())
}

/// What one server run measured.
struct Run {
    connect_secs: f64,
    /// Milliseconds from publish to the last client, measured publishes only.
    samples: Vec<f64>,
    /// The answer to the first measured publish.
    answer: Option<String>,
}

impl Run {
    fn median_ms(&self) -> f64 {
        let mut sorted = self.samples.clone();
        sorted.sort_by(f64::total_cmp);
        let mid = sorted.len() / 2;
        if sorted.len() % 2 == 1 {
            sorted[mid]
        } else {
            (sorted[mid - 1] + sorted[mid]) / 2.0
        }
    }
}

fn report_run(name: &str, run: &Run) {
    let samples: Vec<String> = run.samples.iter().map(|s| format!("{s:.1}")).collect();
    println!(
        "{name}: connected in {:.1}s; publish → last client (ms): [{}] median {:.1}",
        run.connect_secs,
        samples.join(", "),
        run.median_ms()
    );
}

fn message(seq: usize) -> String {
    let mut text = format!("m{seq} ");
    while text.len() < MESSAGE_BYTES {
        text.push('x');
    }
    text
}

/// Publishes `publishes + 1` messages (the first a warm-up) with
/// `publish`, each once the previous one reached every client.
async fn measure<F, Fut>(clients: &mut Clients, publishes: usize, mut publish: F) -> Run
where
    F: FnMut(String) -> Fut,
    Fut: Future<Output = String>,
{
    let mut samples = Vec::new();
    let mut answer = None;
    for seq in 0..=publishes {
        let sent = SystemTime::now();
        let got = publish(message(seq)).await;
        let last = clients.all_got(seq).await;
        let ms = last.duration_since(sent).unwrap_or_default().as_secs_f64() * 1000.0;
        if seq > 0 {
            samples.push(ms);
            answer.get_or_insert(got);
        }
    }
    Run {
        connect_secs: clients.connect_secs,
        samples,
        answer,
    }
}

async fn gateway_run(n: usize, publishes: usize, sync_max: u32, shards: u16) -> Run {
    let gateway = Gateway::builder()
        .sync_max(sync_max)
        .channel_shards(Shards::new(shards).expect("1 to 256 shards"))
        .bind("127.0.0.1:0")
        .await
        .expect("the gateway starts");
    let mut clients =
        Clients::spawn(n, &format!("{}?channel={CHANNEL}", gateway.ws_url()), true).await;
    let http = reqwest::Client::new();
    let url = format!("{}/channels/{CHANNEL}", gateway.http_url());
    let (client, count_url) = (&http, &url);
    wait_for_count(n, move || async move {
        let body = client.get(count_url).send().await.ok()?.text().await.ok()?;
        let value: serde_json::Value = serde_json::from_str(&body).ok()?;
        value["connections"].as_u64()
    })
    .await;
    let run = measure(&mut clients, publishes, |body| {
        let request = http.post(&url).body(body);
        async move {
            let response = request.send().await.expect("the publish is answered");
            let status = response.status();
            let text = response.text().await.unwrap_or_default();
            assert!(status.is_success(), "publish answered {status}: {text}");
            format!("{} {text}", status.as_u16())
        }
    })
    .await;
    clients.stop();
    gateway.shutdown().await;
    run
}

/// Polls `count` until it says `n`.
async fn wait_for_count<F, Fut>(n: usize, mut count: F)
where
    F: FnMut() -> Fut,
    Fut: Future<Output = Option<u64>>,
{
    let deadline = Instant::now() + WAIT;
    loop {
        let seen = count().await;
        if seen == Some(n as u64) {
            return;
        }
        assert!(
            Instant::now() < deadline,
            "the server counts {seen:?} of {n} clients"
        );
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
}

/// The child process of clients, as the parent sees it.
struct Clients {
    child: Child,
    stdin: Option<ChildStdin>,
    lines: mpsc::UnboundedReceiver<String>,
    connect_secs: f64,
}

impl Clients {
    /// Starts `n` clients on `url` (half of them on `lrw.v1` with
    /// `half_v1`) and returns once all are connected.
    async fn spawn(n: usize, url: &str, half_v1: bool) -> Self {
        let started = Instant::now();
        // CLIENTS_EXE: the clients of another build of this benchmark, to
        // compare servers built with different profiles against the same
        // clients.
        let exe = std::env::var_os("CLIENTS_EXE")
            .map_or_else(|| std::env::current_exe().expect("this binary"), Into::into);
        let mut child = Command::new(exe)
            .args(["--clients", &n.to_string(), url])
            .args(half_v1.then_some("v1"))
            .stdin(Stdio::piped())
            .stdout(Stdio::piped())
            .stderr(Stdio::inherit())
            .spawn()
            .expect("the clients start");
        let stdout = child.stdout.take().expect("piped");
        let (tx, lines) = mpsc::unbounded_channel();
        // A thread, so that reading never waits for the busy runtime; the
        // times come from the child anyway.
        std::thread::spawn(move || {
            for line in BufReader::new(stdout).lines() {
                let Ok(line) = line else { break };
                if tx.send(line).is_err() {
                    break;
                }
            }
        });
        let mut clients = Self {
            stdin: child.stdin.take(),
            child,
            lines,
            connect_secs: 0.0,
        };
        let line = clients.next_line().await;
        assert_eq!(line, format!("connected {n}"), "the clients connect");
        clients.connect_secs = started.elapsed().as_secs_f64();
        clients
    }

    async fn next_line(&mut self) -> String {
        tokio::time::timeout(WAIT, self.lines.recv())
            .await
            .expect("the clients answer in time")
            .expect("the clients are running")
    }

    /// When the last client got message `seq`.
    async fn all_got(&mut self, seq: usize) -> SystemTime {
        let line = self.next_line().await;
        let mut words = line.split(' ');
        assert_eq!(words.next(), Some("got"), "unexpected {line:?}");
        assert_eq!(words.next(), Some(seq.to_string().as_str()), "{line:?}");
        let nanos: u64 = words.next().and_then(|w| w.parse().ok()).expect("a time");
        UNIX_EPOCH + Duration::from_nanos(nanos)
    }

    /// Closing its stdin ends the child (and with it every client).
    fn stop(mut self) {
        drop(self.stdin.take());
        let deadline = Instant::now() + Duration::from_secs(10);
        while Instant::now() < deadline {
            if let Ok(Some(_)) = self.child.try_wait() {
                return;
            }
            std::thread::sleep(Duration::from_millis(20));
        }
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

/// The child: `n` WebSocket clients on `url`.
mod clients {
    use super::*;
    use tokio_tungstenite::tungstenite::Message;

    pub(super) fn run(n: usize, url: &str, half_v1: bool) {
        // The parent closes stdin to stop the clients (or dies).
        std::thread::spawn(|| {
            let mut sink = Vec::new();
            let _ = std::io::stdin().read_to_end(&mut sink);
            std::process::exit(0);
        });
        let runtime = tokio::runtime::Builder::new_multi_thread()
            .enable_all()
            .build()
            .expect("a runtime");
        runtime.block_on(connect_and_count(n, url.to_owned(), half_v1));
    }

    /// The sequence number of a message: `m{seq} …` raw, or the same as an
    /// envelope's `data`.
    fn sequence(text: &str) -> Option<usize> {
        let body = match text.find(r#""data":"m"#) {
            Some(at) => &text[at + 8..],
            None => text,
        };
        body.strip_prefix('m')
            .and_then(|t| t.split(' ').next())
            .and_then(|s| s.parse::<usize>().ok())
            .filter(|s| *s < MAX_SEQ)
    }

    async fn connect_and_count(n: usize, url: String, half_v1: bool) {
        use tokio_tungstenite::tungstenite::client::IntoClientRequest as _;
        let sockets: Vec<_> = futures::stream::iter(0..n)
            .map(|i| {
                let url = url.clone();
                async move {
                    let mut tries = 0;
                    loop {
                        let mut request = url.as_str().into_client_request().expect("a URL");
                        if half_v1 && i % 2 == 0 {
                            request.headers_mut().insert(
                                "sec-websocket-protocol",
                                http::HeaderValue::from_static("lrw.v1"),
                            );
                        }
                        match tokio_tungstenite::connect_async(request).await {
                            Ok((socket, _)) => return socket,
                            Err(err) if tries < 3 => {
                                tries += 1;
                                eprintln!("connect failed ({err}); retrying");
                                tokio::time::sleep(Duration::from_millis(100)).await;
                            }
                            Err(err) => panic!("cannot connect: {err}"),
                        }
                    }
                }
            })
            .buffer_unordered(CONNECT_AT_ONCE)
            .collect()
            .await;
        let counts: Arc<Vec<AtomicUsize>> =
            Arc::new((0..MAX_SEQ).map(|_| AtomicUsize::new(0)).collect());
        let mut readers = Vec::with_capacity(n);
        for mut socket in sockets {
            let counts = Arc::clone(&counts);
            readers.push(tokio::spawn(async move {
                while let Some(frame) = socket.next().await {
                    match frame {
                        Ok(Message::Text(text)) => {
                            let Some(seq) = sequence(text.as_str()) else {
                                continue;
                            };
                            if counts[seq].fetch_add(1, Ordering::AcqRel) + 1 == n {
                                let nanos = SystemTime::now()
                                    .duration_since(UNIX_EPOCH)
                                    .unwrap_or_default()
                                    .as_nanos();
                                println!("got {seq} {nanos}");
                            }
                        }
                        Ok(Message::Close(_)) | Err(_) => break,
                        Ok(_) => {}
                    }
                }
                let _ = socket.close(None).await;
            }));
        }
        println!("connected {n}");
        for reader in readers {
            let _ = reader.await;
        }
    }
}

/// The baseline: a minimal WebSocket server shaped like the gateway's
/// connection handling (a bounded queue per connection in a registry map,
/// a writer task per socket); `POST /broadcast` clones the message into
/// every queue.
mod bare {
    use std::collections::HashMap;
    use std::sync::atomic::AtomicU64;
    use std::sync::Mutex;

    use axum::extract::ws::{Message, WebSocket, WebSocketUpgrade};
    use axum::extract::State;
    use axum::response::Response;
    use axum::routing::{get, post};
    use axum::Router;
    use futures::SinkExt as _;

    use super::*;

    /// As the gateway's outbound buffer.
    const QUEUE: usize = 256;

    #[derive(Default)]
    struct Registry {
        next: AtomicU64,
        senders: Mutex<HashMap<u64, mpsc::Sender<Message>>>,
    }

    pub(super) async fn run(n: usize, publishes: usize) -> Run {
        let registry = Arc::new(Registry::default());
        let router = Router::new()
            .route("/ws", get(upgrade))
            .route("/broadcast", post(broadcast))
            .route("/count", get(count))
            .with_state(Arc::clone(&registry));
        let listener = tokio::net::TcpListener::bind("127.0.0.1:0")
            .await
            .expect("bind");
        let addr = listener.local_addr().expect("an address");
        let (stop, stopped) = tokio::sync::oneshot::channel::<()>();
        let server = tokio::spawn(async move {
            axum::serve(listener, router)
                .with_graceful_shutdown(async move {
                    let _ = stopped.await;
                })
                .await
        });
        let mut clients = Clients::spawn(n, &format!("ws://{addr}/ws"), false).await;
        let http = reqwest::Client::new();
        let count_url = format!("http://{addr}/count");
        let (client, count_url) = (&http, &count_url);
        wait_for_count(n, move || async move {
            client
                .get(count_url)
                .send()
                .await
                .ok()?
                .text()
                .await
                .ok()?
                .parse()
                .ok()
        })
        .await;
        let url = format!("http://{addr}/broadcast");
        let run = measure(&mut clients, publishes, |body| {
            let request = http.post(&url).body(body);
            async move {
                let response = request.send().await.expect("the broadcast is answered");
                response.text().await.unwrap_or_default()
            }
        })
        .await;
        clients.stop();
        let _ = stop.send(());
        let _ = tokio::time::timeout(Duration::from_secs(10), server).await;
        run
    }

    async fn upgrade(State(registry): State<Arc<Registry>>, ws: WebSocketUpgrade) -> Response {
        ws.on_upgrade(move |socket| connection(registry, socket))
    }

    async fn connection(registry: Arc<Registry>, socket: WebSocket) {
        let (mut sink, mut stream) = socket.split();
        let (tx, mut rx) = mpsc::channel::<Message>(QUEUE);
        let id = registry.next.fetch_add(1, Ordering::Relaxed);
        registry.senders.lock().expect("lock").insert(id, tx);
        let writer = tokio::spawn(async move {
            while let Some(message) = rx.recv().await {
                if sink.send(message).await.is_err() {
                    return;
                }
            }
        });
        while let Some(Ok(_)) = stream.next().await {}
        registry.senders.lock().expect("lock").remove(&id);
        writer.abort();
    }

    async fn broadcast(State(registry): State<Arc<Registry>>, body: String) -> String {
        let message = Message::Text(body.into());
        let senders = registry.senders.lock().expect("lock");
        let delivered = senders
            .values()
            .filter(|tx| tx.try_send(message.clone()).is_ok())
            .count();
        delivered.to_string()
    }

    async fn count(State(registry): State<Arc<Registry>>) -> String {
        registry.senders.lock().expect("lock").len().to_string()
    }
}
