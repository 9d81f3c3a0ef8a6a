//! `local-gateway`: the whole service on 127.0.0.1 (`make local`).
//!
//! Prints the lines `terraform apply` prints (`wscat`, `curl`, and with
//! `--auth token` a `token` line), then the management endpoint, on stdout;
//! logs every routed event on stderr. Ctrl-C (or SIGTERM) closes every
//! connection with 1001 and runs its `$disconnect`.
//!
//! Only requests addressed to 127.0.0.1, localhost or [::1] (with the port)
//! are served, and only pages from the gateway's own origin or one given
//! with `--allowed-origin URL` may use it (see `SECURITY.md`).

use std::io::Write as _;
use std::process::ExitCode;
use std::time::Duration;

use channels::pattern::parse_all;
use channels::{History, Shards};
use clap::Parser;
use local_gateway::{
    parse_origin, Gateway, QueueConfig, StoreConfig, SubscriberAuthMode, DEFAULT_PORT,
    DEFAULT_QUEUE, DEFAULT_STAGE, DEFAULT_TABLE,
};
use tracing::{error, info};

/// Plays API Gateway (WebSocket API, HTTP API and @connections) on
/// 127.0.0.1 around the rx and http handlers.
#[derive(Debug, Parser)]
#[command(name = "local-gateway", version)]
struct Args {
    /// Port on 127.0.0.1; 0 picks a free one (the printed lines show it).
    #[arg(long, default_value_t = DEFAULT_PORT)]
    port: u16,
    /// Stage: both URLs end in /STAGE.
    #[arg(long, default_value = DEFAULT_STAGE)]
    stage: String,
    /// Keep connections in DynamoDB at this endpoint (DynamoDB Local, moto,
    /// ...) instead of in memory; the table is created when absent.
    #[arg(long, env = "AWS_ENDPOINT_URL_DYNAMODB", value_name = "URL")]
    dynamodb_endpoint: Option<String>,
    /// DynamoDB table (with --dynamodb-endpoint).
    #[arg(long, default_value = DEFAULT_TABLE)]
    table: String,
    /// Close a connection that carried no message for this long (API Gateway: 600).
    #[arg(long, default_value_t = 600, value_name = "SECS", value_parser = clap::value_parser!(u64).range(1..))]
    idle_timeout_secs: u64,
    /// Close every connection this long after it opened (API Gateway: 7200).
    #[arg(long, default_value_t = 7200, value_name = "SECS", value_parser = clap::value_parser!(u64).range(1..))]
    max_lifetime_secs: u64,
    /// Who may listen: `none` (anyone), or `token` (a subscriber token on
    /// $connect, signed with a key generated at start).
    #[arg(long, env = "SUBSCRIBER_AUTH", default_value = "none", value_parser = ["none", "token"], ignore_case = true)]
    auth: String,
    /// Queue shard jobs in SQS at this endpoint (moto, ...) instead of in
    /// memory; the queue is created when absent.
    #[arg(long, env = "AWS_ENDPOINT_URL_SQS", value_name = "URL")]
    sqs_endpoint: Option<String>,
    /// The SQS queue (with --sqs-endpoint).
    #[arg(long, default_value = DEFAULT_QUEUE)]
    queue: String,
    /// Workers taking shard jobs off the queue.
    #[arg(long, default_value_t = 4, value_parser = clap::value_parser!(u16).range(1..=64))]
    workers: u16,
    /// Members up to which a publish is synchronous (PUBLISH_SYNC_MAX on AWS).
    #[arg(long, default_value_t = 2000, value_parser = clap::value_parser!(u32).range(1..=1_000_000))]
    sync_max: u32,
    /// Shards every channel is spread over (CHANNEL_SHARDS on AWS).
    #[arg(long, env = "CHANNEL_SHARDS", default_value_t = 8, value_parser = clap::value_parser!(u16).range(1..=256))]
    shards: u16,
    /// How publishes reach the sockets: `direct` (in process, the default) or
    /// `sdk` (through the real aws-sdk-apigatewaymanagement client and this
    /// gateway's @connections endpoint, as on AWS; slower).
    #[arg(long, default_value = "direct", value_parser = ["direct", "sdk"])]
    notifier: String,
    /// With --auth token: the longest lifetime POST /tokens grants and a
    /// token may have (exp - iat).
    #[arg(long, default_value_t = 86_400, value_name = "SECS", value_parser = clap::value_parser!(u64).range(1..=604_800))]
    token_max_ttl_secs: u64,
    /// With --auth token: other issuers whose tokens are accepted beside the
    /// gateway's own (TOKEN_ISSUERS on AWS), a JSON array such as
    /// [{"issuer":"https://…","jwks_url":"http://127.0.0.1:9000/jwks.json","audience":"…","channels":["user:{sub}:*"]}];
    /// https:// key sets need the gateway built with feature aws.
    #[arg(long, env = "TOKEN_ISSUERS", default_value = "", value_name = "JSON")]
    token_issuers: String,
    /// How long a channel's messages are kept for recovery (HISTORY_TTL_SECONDS
    /// on AWS); 0 turns history off.
    #[arg(long, env = "HISTORY_TTL_SECONDS", default_value_t = 600, value_name = "SECS", value_parser = clap::value_parser!(u64).range(0..=86_400))]
    history_ttl_secs: u64,
    /// How many of a channel's latest messages a replay may take
    /// (HISTORY_MAX on AWS); 0 turns history off.
    #[arg(long, env = "HISTORY_MAX", default_value_t = 1000, value_parser = clap::value_parser!(u64).range(0..=100_000))]
    history_max: u64,
    /// Channel patterns whose subscribers get join and leave events, comma
    /// separated, e.g. `lobby,room-*` (PRESENCE_EVENTS on AWS).
    #[arg(
        long,
        env = "PRESENCE_EVENTS",
        default_value = "",
        value_name = "PATTERNS"
    )]
    presence_events: String,
    /// Lets pages from this origin (scheme://host[:port], e.g.
    /// http://localhost:5173) use the gateway besides its own page at /:
    /// WebSocket handshakes and HTTP requests (with CORS answers). Repeat it
    /// for several. Requests from any other origin are refused 403.
    #[arg(long = "allowed-origin", value_name = "URL", value_parser = parse_origin)]
    allowed_origins: Vec<String>,
}

/// The lifetime of the token in the printed wscat line: an hour, or the
/// longest `--token-max-ttl-secs` allows when that is less (as `POST /tokens`
/// takes the maximum when its default is longer).
const DEMO_TOKEN_TTL_SECS: u64 = 3600;

#[tokio::main]
async fn main() -> ExitCode {
    let args = Args::parse();
    // Logs go to stderr: stdout carries only the three lines above.
    init_logs();
    let store = match args.dynamodb_endpoint.filter(|e| !e.trim().is_empty()) {
        Some(endpoint) => StoreConfig::Dynamo {
            endpoint,
            table: args.table,
        },
        None => StoreConfig::Memory,
    };
    let auth = if args.auth.eq_ignore_ascii_case("token") {
        SubscriberAuthMode::Token
    } else {
        SubscriberAuthMode::None
    };
    let patterns: Vec<&str> = args
        .presence_events
        .split(',')
        .map(str::trim)
        .filter(|p| !p.is_empty())
        .collect();
    let presence_events = match parse_all(&patterns) {
        Ok(patterns) => patterns,
        Err(err) => {
            error!(error = %err, "--presence-events: expected channel patterns such as lobby,room-*");
            return ExitCode::FAILURE;
        }
    };
    let token_issuers = match channels::token::issuers::parse_issuers(&args.token_issuers) {
        Ok(issuers) => issuers,
        Err(err) => {
            error!(error = %err, "--token-issuers");
            return ExitCode::FAILURE;
        }
    };
    let workers = usize::from(args.workers);
    let queue = match args.sqs_endpoint.filter(|e| !e.trim().is_empty()) {
        Some(endpoint) => QueueConfig::Sqs {
            endpoint,
            queue: args.queue,
            workers,
        },
        None => QueueConfig::Memory { workers },
    };
    let mut builder = Gateway::builder();
    for origin in args.allowed_origins {
        builder = builder.allowed_origin(origin);
    }
    let started = builder
        .queue(queue)
        .sync_max(args.sync_max)
        .notifier(args.notifier.parse().unwrap_or_default())
        .stage(args.stage)
        .subscriber_auth(auth)
        .channel_shards(Shards::new(args.shards).unwrap_or_default())
        .token_max_ttl_secs(args.token_max_ttl_secs)
        .token_issuers(token_issuers)
        .history(History {
            ttl_secs: args.history_ttl_secs,
            max: args.history_max,
        })
        .presence_events(presence_events)
        .idle_timeout(Duration::from_secs(args.idle_timeout_secs))
        .max_lifetime(Duration::from_secs(args.max_lifetime_secs))
        .store(store)
        .bind(&format!("127.0.0.1:{}", args.port))
        .await;
    let gateway = match started {
        Ok(gateway) => gateway,
        Err(err) => {
            error!(error = %err, "cannot start");
            return ExitCode::FAILURE;
        }
    };
    // The lines `terraform apply` prints; with tokens on, the wscat line
    // carries a fresh token for `default` (valid for an hour, or less when
    // --token-max-ttl-secs says so).
    let mut lines = Vec::new();
    let demo_ttl = DEMO_TOKEN_TTL_SECS.min(args.token_max_ttl_secs);
    match gateway.mint(&["default"], demo_ttl).await {
        None => lines.push(format!("wscat = \"wscat --connect {}\"", gateway.ws_url())),
        Some(Ok(minted)) => lines.push(format!(
            "wscat = \"wscat --connect '{}?channel=default&token={}'\"",
            gateway.ws_url(),
            minted.token
        )),
        Some(Err(err)) => {
            error!(error = %err, "cannot mint the demo token");
            return ExitCode::FAILURE;
        }
    }
    lines.push(format!(
        "curl = \"curl -XPOST -d'message' {}/\"",
        gateway.http_url()
    ));
    if auth == SubscriberAuthMode::Token {
        // Form-encoded, as Terraform's token output: the line has no double
        // quote, so it works pasted from between the printed quotes.
        lines.push(format!(
            "token = \"curl -XPOST -d channels=default {}/tokens\"",
            gateway.http_url()
        ));
    }
    lines.push(format!(
        "management_endpoint = \"{}\"",
        gateway.management_endpoint()
    ));
    let mut stdout = std::io::stdout().lock();
    for line in lines {
        let _ = writeln!(stdout, "{line}");
    }
    let _ = stdout.flush();
    drop(stdout);
    info!(addr = %gateway.addr(), stage = gateway.stage(), origins = ?gateway.allowed_origins(), "serving; Ctrl-C stops");

    wait_for_signal().await;
    info!("shutting down: closing every connection");
    gateway.shutdown().await;
    ExitCode::SUCCESS
}

async fn wait_for_signal() {
    #[cfg(unix)]
    {
        use tokio::signal::unix::{signal, SignalKind};
        match signal(SignalKind::terminate()) {
            Ok(mut term) => {
                tokio::select! {
                    _ = tokio::signal::ctrl_c() => {}
                    _ = term.recv() => {}
                }
            }
            Err(_) => {
                let _ = tokio::signal::ctrl_c().await;
            }
        }
    }
    #[cfg(not(unix))]
    {
        let _ = tokio::signal::ctrl_c().await;
    }
}

/// Logs on stderr at `RUST_LOG`'s level (`info` by default), as a Lambda
/// function prints them: no time, no target. `RUST_LOG` takes a level or
/// `target=level` directives (`warn,local_gateway=debug`); when it is unset,
/// empty or cannot be read, `info`. Lambda's own subscriber would also take
/// span filters, at the price of a regex engine in every first build.
fn init_logs() {
    use tracing_subscriber::prelude::*;

    tracing_subscriber::registry()
        .with(
            tracing_subscriber::fmt::layer()
                .with_writer(std::io::stderr)
                .with_target(false)
                .without_time(),
        )
        .with(log_filter(std::env::var("RUST_LOG").ok().as_deref()))
        .init();
}

/// `RUST_LOG` read as directives, empty ones (`info,`) skipped; `info` when
/// there is none or one cannot be read.
fn log_filter(rust_log: Option<&str>) -> tracing_subscriber::filter::Targets {
    use tracing_subscriber::filter::{LevelFilter, Targets};

    let directives: Vec<&str> = rust_log
        .unwrap_or_default()
        .split(',')
        .map(str::trim)
        .filter(|d| !d.is_empty())
        .collect();
    let info = || Targets::new().with_default(LevelFilter::INFO);
    if directives.is_empty() {
        return info();
    }
    directives.join(",").parse().unwrap_or_else(|_| info())
}

#[cfg(test)]
mod tests {
    use tracing::Level;

    use super::log_filter;

    #[test]
    fn rust_log_reads_as_levels_and_directives_with_info_otherwise() {
        let info = |f: &tracing_subscriber::filter::Targets| {
            (
                f.would_enable("local_gateway", &Level::INFO),
                f.would_enable("local_gateway", &Level::DEBUG),
            )
        };
        assert_eq!(info(&log_filter(None)), (true, false));
        assert_eq!(info(&log_filter(Some(""))), (true, false));
        assert_eq!(info(&log_filter(Some("info,"))), (true, false));
        assert_eq!(info(&log_filter(Some("warn"))), (false, false));
        assert_eq!(info(&log_filter(Some("=="))), (true, false));
        let f = log_filter(Some("warn, local_gateway=debug"));
        assert_eq!(info(&f), (true, true));
        assert!(!f.would_enable("hyper", &Level::INFO));
    }
}
