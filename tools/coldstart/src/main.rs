//! `coldstart`: how long a function takes to start, measured the way Lambda
//! sees it, against a hello-world baseline built with the same profile.
//!
//! It plays the Lambda Runtime API on 127.0.0.1 and spawns each `bootstrap`
//! binary as Lambda does (environment only, `AWS_LAMBDA_RUNTIME_API` pointing
//! here), then times:
//!
//! - **init**: spawn → the first `GET /runtime/invocation/next` (Lambda's
//!   init phase ends there);
//! - **first response**: spawn → the response to a first event that needs no
//!   network (rx `$default`, http's 404), so that work moved out of init into
//!   the first invocation still shows;
//! - **peak RSS**: `VmHWM` of the process after that response;
//! - **first call vs warm call**: a fresh process handles an event that calls
//!   DynamoDB twice in a row (rx `$connect`, http `GET /channels/{channel}`);
//!   the same emulator answers as DynamoDB, over plain HTTP on 127.0.0.1. A
//!   set-up deferred to the first SDK call shows as first ≫ warm.
//!
//! Runs are interleaved (hello, rx, http, hello, …) so that a machine that
//! drifts affects all alike; medians are printed with ratios to hello.
//! Nothing leaves 127.0.0.1: the functions get dummy credentials and every
//! endpoint they could call points here.

use std::collections::HashMap;
use std::net::SocketAddr;
use std::path::PathBuf;
use std::process::{Command, Stdio};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use axum::extract::{Path, State};
use axum::http::{HeaderMap, HeaderValue, StatusCode};
use axum::response::{IntoResponse, Response};
use axum::routing::{get, post};
use axum::Router;
use channels::token::{LocalSigner, TokenSigner as _};
use clap::Parser;
use serde_json::{json, Value};
use tokio::sync::mpsc;

/// Times cold starts of rx, http, commands, worker and presence against a
/// hello-world Lambda.
#[derive(Debug, Parser)]
#[command(name = "coldstart")]
struct Args {
    /// The hello-world baseline binary.
    #[arg(long, default_value = "target/release/hello")]
    hello: PathBuf,
    /// The rx `bootstrap` binary, built for this machine.
    #[arg(long, default_value = "target/release/rx")]
    rx: PathBuf,
    /// The http `bootstrap` binary, built for this machine.
    #[arg(long, default_value = "target/release/http")]
    http: PathBuf,
    /// Cold starts per binary and measurement.
    #[arg(long, default_value_t = 20, value_parser = clap::value_parser!(u32).range(1..=500))]
    runs: u32,
}

const AUDIENCE: &str = "wss://bench.execute-api.us-east-1.amazonaws.com/staging";
const ISSUER: &str = "https://bench.execute-api.us-east-1.amazonaws.com/staging";
/// Every wait on a child is bounded by this.
const WAIT: Duration = Duration::from_secs(20);

/// What the Runtime API saw of one process.
#[derive(Debug)]
enum Signal {
    Next(usize, Instant),
    Response(usize, Instant),
    Error(String),
}

#[derive(Clone)]
struct Api {
    events: Arc<Vec<Value>>,
    served: Arc<Mutex<usize>>,
    signals: mpsc::UnboundedSender<Signal>,
}

async fn next(State(api): State<Api>) -> Response {
    let now = Instant::now();
    let n = {
        let mut served = api
            .served
            .lock()
            .unwrap_or_else(std::sync::PoisonError::into_inner);
        *served += 1;
        *served - 1
    };
    let _ = api.signals.send(Signal::Next(n, now));
    let Some(event) = api.events.get(n) else {
        // No more events: hold the request until the process is killed.
        std::future::pending::<()>().await;
        return StatusCode::GONE.into_response();
    };
    let deadline = channels::now_millis() + 30_000;
    let mut headers = HeaderMap::new();
    let mut set = |name: &'static str, value: String| {
        if let Ok(value) = HeaderValue::from_str(&value) {
            headers.insert(name, value);
        }
    };
    set("lambda-runtime-aws-request-id", format!("req-{n}"));
    set("lambda-runtime-deadline-ms", deadline.to_string());
    set(
        "lambda-runtime-invoked-function-arn",
        "arn:aws:lambda:us-east-1:000000000000:function:bench".to_owned(),
    );
    set(
        "lambda-runtime-trace-id",
        "Root=1-65c6645f-5f0b8c4e1b1b3b6e4b7e6f0a;Parent=53995c3f42cd8ad8;Sampled=0".to_owned(),
    );
    set("content-type", "application/json".to_owned());
    (StatusCode::OK, headers, event.to_string()).into_response()
}

async fn response(State(api): State<Api>, Path(id): Path<String>) -> StatusCode {
    let now = Instant::now();
    match id.strip_prefix("req-").and_then(|n| n.parse().ok()) {
        Some(n) => {
            let _ = api.signals.send(Signal::Response(n, now));
        }
        None => {
            let _ = api
                .signals
                .send(Signal::Error(format!("response for unknown request {id}")));
        }
    }
    StatusCode::ACCEPTED
}

async fn invocation_error(
    State(api): State<Api>,
    Path(id): Path<String>,
    body: String,
) -> StatusCode {
    let _ = api
        .signals
        .send(Signal::Error(format!("invocation {id} failed: {body}")));
    StatusCode::ACCEPTED
}

async fn init_error(State(api): State<Api>, body: String) -> StatusCode {
    let _ = api
        .signals
        .send(Signal::Error(format!("init failed: {body}")));
    StatusCode::ACCEPTED
}

/// Plays DynamoDB (JSON protocol 1.0) for the calls the handlers make. It
/// closes every connection after answering, so that the warm call connects
/// anew just as the first one does, and the two differ only by what the
/// first call sets up.
async fn dynamodb(headers: HeaderMap) -> Response {
    let target = headers
        .get("x-amz-target")
        .and_then(|v| v.to_str().ok())
        .unwrap_or("");
    let body = match target.rsplit('.').next() {
        Some("PutItem" | "DeleteItem" | "TransactWriteItems") => json!({}),
        Some("Query") => json!({"Count": 0, "ScannedCount": 0, "Items": []}),
        // An lrw.v1 connection that may subscribe anywhere.
        Some("GetItem") => json!({"Item": {
            "pk": {"S": "conn#bench"}, "sk": {"S": "conn"}, "protocol": {"S": "lrw.v1"},
            "grants": {"SS": ["*"]}, "subscriptions": {"N": "0"},
            "connectedAt": {"N": "0"}, "expiresAt": {"N": "99999999999"}
        }}),
        // A channel counter.
        Some("UpdateItem") => json!({"Attributes": {
            "offset": {"N": "1"}, "epoch": {"S": "0123456789abcdef"}
        }}),
        _ => {
            return (
                StatusCode::BAD_REQUEST,
                format!("unexpected call {target:?}"),
            )
                .into_response()
        }
    };
    (
        StatusCode::OK,
        [
            ("content-type", "application/x-amz-json-1.0"),
            ("connection", "close"),
        ],
        body.to_string(),
    )
        .into_response()
}

/// One binary under test: how to run it and the two events it gets.
struct Subject {
    name: &'static str,
    path: PathBuf,
    env: Vec<(String, String)>,
    /// Needs no network: measured from spawn.
    offline_event: Value,
    /// Calls DynamoDB: measured first versus warm.
    network_event: Option<Value>,
}

/// One cold start.
#[derive(Debug, Default)]
struct Sample {
    init: Duration,
    first_response: Duration,
    peak_rss_kib: u64,
    /// (first, second) handling times of the events, next → response.
    handling: Vec<Duration>,
}

async fn cold_start(subject: &Subject, events: Vec<Value>) -> Result<Sample, String> {
    let count = events.len();
    let (signals, mut received) = mpsc::unbounded_channel();
    let api = Api {
        events: Arc::new(events),
        served: Arc::new(Mutex::new(0)),
        signals,
    };
    let router = Router::new()
        .route("/2018-06-01/runtime/invocation/next", get(next))
        .route(
            "/2018-06-01/runtime/invocation/{id}/response",
            post(response),
        )
        .route(
            "/2018-06-01/runtime/invocation/{id}/error",
            post(invocation_error),
        )
        .route("/2018-06-01/runtime/init/error", post(init_error))
        .route("/", post(dynamodb))
        .with_state(api);
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0")
        .await
        .map_err(|e| format!("bind: {e}"))?;
    let addr: SocketAddr = listener.local_addr().map_err(|e| e.to_string())?;
    let server = tokio::spawn(async move { axum::serve(listener, router).await });

    let mut env = base_env(addr);
    env.extend(subject.env.iter().map(|(k, v)| {
        (
            k.replace("{addr}", &addr.to_string()),
            v.replace("{addr}", &addr.to_string()),
        )
    }));
    let started = Instant::now();
    let mut child = Command::new(&subject.path)
        .env_clear()
        .envs(env)
        .stdin(Stdio::null())
        .stdout(Stdio::null())
        .stderr(Stdio::null())
        .spawn()
        .map_err(|e| format!("cannot start {}: {e}", subject.path.display()))?;

    let mut sample = Sample::default();
    let mut nexts: HashMap<usize, Instant> = HashMap::new();
    let outcome = tokio::time::timeout(WAIT, async {
        while let Some(signal) = received.recv().await {
            match signal {
                Signal::Next(n, at) => {
                    if n == 0 {
                        sample.init = at - started;
                    }
                    nexts.insert(n, at);
                }
                Signal::Response(n, at) => {
                    if n == 0 {
                        sample.first_response = at - started;
                    }
                    if let Some(asked) = nexts.get(&n) {
                        sample.handling.push(at - *asked);
                    }
                    if n + 1 == count {
                        return Ok(());
                    }
                }
                Signal::Error(message) => return Err(message),
            }
        }
        Err("the Runtime API stopped".to_owned())
    })
    .await;
    sample.peak_rss_kib = peak_rss_kib(child.id()).unwrap_or(0);
    let _ = child.kill();
    let _ = child.wait();
    server.abort();
    match outcome {
        Ok(Ok(())) => Ok(sample),
        Ok(Err(message)) => Err(format!("{}: {message}", subject.name)),
        Err(_) => Err(format!("{}: no answer within {WAIT:?}", subject.name)),
    }
}

/// `VmHWM` (peak resident set) of a live process, in KiB.
fn peak_rss_kib(pid: u32) -> Option<u64> {
    let status = std::fs::read_to_string(format!("/proc/{pid}/status")).ok()?;
    status
        .lines()
        .find_map(|line| line.strip_prefix("VmHWM:"))?
        .split_whitespace()
        .next()?
        .parse()
        .ok()
}

/// What Lambda sets for every function, with dummy credentials and every
/// endpoint on this emulator.
fn base_env(addr: SocketAddr) -> Vec<(String, String)> {
    [
        ("AWS_LAMBDA_RUNTIME_API", addr.to_string()),
        ("AWS_LAMBDA_FUNCTION_NAME", "bench".to_owned()),
        ("AWS_LAMBDA_FUNCTION_VERSION", "$LATEST".to_owned()),
        ("AWS_LAMBDA_FUNCTION_MEMORY_SIZE", "256".to_owned()),
        ("AWS_LAMBDA_LOG_GROUP_NAME", "/aws/lambda/bench".to_owned()),
        (
            "AWS_LAMBDA_LOG_STREAM_NAME",
            "2026/01/01/[$LATEST]bench".to_owned(),
        ),
        ("AWS_LAMBDA_LOG_FORMAT", "JSON".to_owned()),
        ("AWS_LAMBDA_LOG_LEVEL", "INFO".to_owned()),
        ("AWS_REGION", "us-east-1".to_owned()),
        ("AWS_DEFAULT_REGION", "us-east-1".to_owned()),
        ("AWS_ACCESS_KEY_ID", "ASIABENCHBENCHBENCH0".to_owned()),
        ("AWS_SECRET_ACCESS_KEY", "bench".to_owned()),
        ("AWS_SESSION_TOKEN", "bench".to_owned()),
        ("AWS_EXECUTION_ENV", "AWS_Lambda_provided.al2023".to_owned()),
        ("_HANDLER", "bootstrap".to_owned()),
        ("LAMBDA_TASK_ROOT", "/var/task".to_owned()),
        ("AWS_EC2_METADATA_DISABLED", "true".to_owned()),
        ("AWS_ENDPOINT_URL_DYNAMODB", format!("http://{addr}")),
        // Any other call lands here too (and is answered 400), never on AWS.
        ("AWS_ENDPOINT_URL", format!("http://{addr}")),
        ("PATH", "/usr/local/bin:/usr/bin:/bin".to_owned()),
        ("TZ", ":UTC".to_owned()),
    ]
    .into_iter()
    .map(|(k, v)| (k.to_owned(), v))
    .collect()
}

fn event(text: &str) -> Result<Value, String> {
    serde_json::from_str(text).map_err(|e| format!("bad event fixture: {e}"))
}

/// A `$connect` for `lobby` carrying a token minted by `signer`.
async fn connect_event(signer: &LocalSigner) -> Result<Value, String> {
    let minter = channels::token::Minter {
        key: signer.public_key().clone(),
        audience: AUDIENCE.to_owned(),
        issuer: ISSUER.to_owned(),
        max_ttl_secs: 86_400,
    };
    let request = channels::token::MintRequest::parse(br#"{"channels":["lobby"]}"#, 86_400)
        .map_err(|e| e.to_string())?;
    let minted = channels::token::mint(signer, &minter, request, channels::now_millis() / 1000)
        .await
        .map_err(|e| e.to_string())?;
    let mut event = event(include_str!("../../../lambdas/rx/tests/data/connect.json"))?;
    event["queryStringParameters"]["token"] = json!(minted.token);
    event["multiValueQueryStringParameters"]["token"] = json!([minted.token]);
    Ok(event)
}

fn median(mut values: Vec<Duration>) -> Duration {
    values.sort();
    values.get(values.len() / 2).copied().unwrap_or_default()
}

fn millis(d: Duration) -> f64 {
    d.as_secs_f64() * 1000.0
}

async fn subjects(args: &Args) -> Result<Vec<Subject>, String> {
    let signer = LocalSigner::generate().map_err(|e| e.to_string())?;
    // Proves the key works before any run depends on it.
    signer.sign(b"probe").await.map_err(|e| e.to_string())?;
    let token_env = |extra: &[(&str, &str)]| -> Vec<(String, String)> {
        let mut env = vec![
            ("LAMBDA_TABLE".to_owned(), "bench-connections".to_owned()),
            ("SUBSCRIBER_AUTH".to_owned(), "token".to_owned()),
            (
                "TOKEN_PUBLIC_KEYS".to_owned(),
                signer.public_key().to_spki_base64(),
            ),
            ("TOKEN_AUDIENCE".to_owned(), AUDIENCE.to_owned()),
            ("TOKEN_ISSUER".to_owned(), ISSUER.to_owned()),
        ];
        env.extend(
            extra
                .iter()
                .map(|(k, v)| ((*k).to_owned(), (*v).to_owned())),
        );
        env
    };
    let mut not_found = event(include_str!(
        "../../../lambdas/http-lambda/tests/data/get_channel.json"
    ))?;
    not_found["routeKey"] = json!("$default");
    not_found["requestContext"]["routeKey"] = json!("$default");
    not_found["rawPath"] = json!("/staging/nope");
    not_found["requestContext"]["http"]["path"] = json!("/staging/nope");
    not_found["pathParameters"] = json!({});
    // The commands function's frame without a connection id: answered
    // without the store. With one: a subscribe (read, transaction, counter).
    let mut no_connection = event(include_str!(
        "../../../lambdas/http-lambda/tests/data/command_subscribe.json"
    ))?;
    no_connection["requestContext"]["connectionId"] = Value::Null;
    let subscribe = event(include_str!(
        "../../../lambdas/http-lambda/tests/data/command_subscribe.json"
    ))?;
    // A job for a channel with no member: one Query per shard.
    let job = json!({"Records": [{
        "messageId": "bench-1", "receiptHandle": "bench", "eventSource": "aws:sqs",
        "attributes": {"ApproximateReceiveCount": "1"},
        "body": json!({"publishId": "b", "channel": "nobody", "shard": 0, "shards": 1,
                       "body": "aGk=", "kind": "text", "offset": 1, "epoch": "e"}).to_string()
    }]});
    // A membership inserted in a channel with events: one Query per shard.
    let inserted = event(include_str!(
        "../../../lambdas/http-lambda/tests/data/stream_inserts.json"
    ))?;
    let handler = |name: &str| ("_HANDLER", name.to_owned());
    let with_handler = |name: &str, extra: &[(&str, &str)]| {
        let mut env = token_env(extra);
        env.retain(|(k, _)| k != "_HANDLER");
        let (k, v) = handler(name);
        env.push((k.to_owned(), v));
        env
    };
    Ok(vec![
        Subject {
            name: "hello",
            path: args.hello.clone(),
            env: Vec::new(),
            offline_event: json!({"hello": "world"}),
            network_event: None,
        },
        Subject {
            name: "rx",
            path: args.rx.clone(),
            env: token_env(&[]),
            offline_event: event(include_str!("../../../lambdas/rx/tests/data/message.json"))?,
            network_event: Some(connect_event(&signer).await?),
        },
        Subject {
            name: "http",
            path: args.http.clone(),
            env: token_env(&[
                ("MANAGEMENT_ENDPOINT", "http://{addr}/staging"),
                ("TOKEN_SIGNING_KEY", "alias/bench"),
            ]),
            offline_event: not_found,
            network_event: Some(event(include_str!(
                "../../../lambdas/http-lambda/tests/data/get_channel.json"
            ))?),
        },
        Subject {
            name: "commands",
            path: args.http.clone(),
            env: with_handler(
                http_lambda::COMMANDS_HANDLER,
                &[("MANAGEMENT_ENDPOINT", "http://{addr}/staging")],
            ),
            offline_event: no_connection,
            network_event: Some(subscribe),
        },
        Subject {
            name: "worker",
            path: args.http.clone(),
            env: with_handler(
                http_lambda::WORKER_HANDLER,
                &[
                    ("MANAGEMENT_ENDPOINT", "http://{addr}/staging"),
                    ("PUBLISH_QUEUE_URL", "http://{addr}/000000000000/bench"),
                    ("CHANNEL_SHARDS", "1"),
                ],
            ),
            offline_event: json!({"Records": []}),
            network_event: Some(job),
        },
        Subject {
            name: "presence",
            path: args.http.clone(),
            env: with_handler(
                http_lambda::PRESENCE_HANDLER,
                &[
                    ("MANAGEMENT_ENDPOINT", "http://{addr}/staging"),
                    ("PRESENCE_EVENTS", "*"),
                ],
            ),
            offline_event: json!({"Records": []}),
            network_event: Some(inserted),
        },
    ])
}

#[tokio::main]
async fn main() -> std::process::ExitCode {
    let args = Args::parse();
    match bench(&args).await {
        Ok(()) => std::process::ExitCode::SUCCESS,
        Err(message) => {
            eprintln!("coldstart: {message}");
            std::process::ExitCode::FAILURE
        }
    }
}

async fn bench(args: &Args) -> Result<(), String> {
    let subjects = subjects(args).await?;
    for subject in &subjects {
        if !subject.path.is_file() {
            return Err(format!(
                "{} not found (run `make bench-init`)",
                subject.path.display()
            ));
        }
    }
    let mut offline: Vec<Vec<Sample>> = subjects.iter().map(|_| Vec::new()).collect();
    let mut network: Vec<Vec<Sample>> = subjects.iter().map(|_| Vec::new()).collect();
    // One warm-up round, not counted: page cache, first exec of each file.
    for subject in &subjects {
        cold_start(subject, vec![subject.offline_event.clone()]).await?;
    }
    for _ in 0..args.runs {
        for (i, subject) in subjects.iter().enumerate() {
            offline[i].push(cold_start(subject, vec![subject.offline_event.clone()]).await?);
        }
        for (i, subject) in subjects.iter().enumerate() {
            if let Some(event) = &subject.network_event {
                network[i].push(cold_start(subject, vec![event.clone(), event.clone()]).await?);
            }
        }
    }

    let init = |i: usize| median(offline[i].iter().map(|s| s.init).collect());
    let first = |i: usize| median(offline[i].iter().map(|s| s.first_response).collect());
    let (hello_init, hello_first) = (init(0), first(0));
    println!(
        "cold start: {} runs each, interleaved; medians; ratios to hello (same profile, this machine)",
        args.runs
    );
    println!(
        "{:<8} {:>9} {:>9} {:>15} {:>15} {:>9}",
        "binary", "init_ms", "vs_hello", "first_resp_ms", "first_vs_hello", "peak_mib"
    );
    for (i, subject) in subjects.iter().enumerate() {
        let rss = offline[i].iter().map(|s| s.peak_rss_kib).max().unwrap_or(0);
        println!(
            "{:<8} {:>9.2} {:>9.2} {:>15.2} {:>15.2} {:>9.1}",
            subject.name,
            millis(init(i)),
            millis(init(i)) / millis(hello_init),
            millis(first(i)),
            millis(first(i)) / millis(hello_first),
            rss as f64 / 1024.0
        );
    }
    println!("first DynamoDB call of a fresh process vs the same call warm, each on a new connection (DynamoDB played on 127.0.0.1, plain HTTP):");
    for (i, subject) in subjects.iter().enumerate() {
        if network[i].is_empty() {
            continue;
        }
        let first = median(
            network[i]
                .iter()
                .filter_map(|s| s.handling.first().copied())
                .collect(),
        );
        let warm = median(
            network[i]
                .iter()
                .filter_map(|s| s.handling.get(1).copied())
                .collect(),
        );
        println!(
            "{:<8} first_call_ms={:.2} warm_call_ms={:.2} first_vs_warm={:.2}",
            subject.name,
            millis(first),
            millis(warm),
            millis(first) / millis(warm)
        );
    }
    Ok(())
}
