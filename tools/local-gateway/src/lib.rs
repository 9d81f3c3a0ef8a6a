//! The local gateway: plays API Gateway on one machine around the very
//! same handler code the Lambda functions run.
//!
//! | URL (stage `staging`)                      | plays                          | calls                  |
//! |--------------------------------------------|--------------------------------|------------------------|
//! | `ws://HOST/staging`                        | the WebSocket API              | [`rx::handle`], and for the command routes `http_lambda::commands::handle` |
//! | `http://HOST/staging/…` (anything else)    | the HTTP API (payload 2.0)     | [`http_lambda::handle`]|
//! | `http://HOST/staging/@connections/{id}`    | the management API             | the connection registry|
//! | `http://HOST/` (outside the stage)          | a page built on the browser client | (`clients/js`)     |
//!
//! A frame is routed as API Gateway routes it with the selection expression
//! `$request.body.action`: `subscribe`, `unsubscribe`, `publish` and
//! `presence` to the commands function, `ping` answered `{"type":"pong"}`
//! as the MOCK integration does, anything else to `$default`. The
//! subprotocol `lrw.v1` is selected when `$connect`'s answer names it.
//!
//! The handlers' posts go straight into the connection registry, as
//! `POST @connections` does ([`NotifierMode::Direct`]), or through the real
//! `aws-sdk-apigatewaymanagement` client to the gateway's own `@connections`
//! endpoint, as on AWS ([`NotifierMode::Sdk`], feature `aws`). The store is
//! the embedded in-memory one, or (feature `aws`) the DynamoDB adapter
//! against any DynamoDB-compatible endpoint ([`StoreConfig`]). Membership
//! changes reach the presence handler as the table's stream would.
//!
//! API Gateway's limits hold: 32 KiB per frame and 128 KiB per message
//! (close 1009), an idle
//! timeout (10 minutes) and a maximum connection lifetime (2 hours), both
//! settable. `$disconnect` fires exactly once per connection; its
//! `disconnectStatusCode` is:
//!
//! | how the connection ended                      | status | close frame sent |
//! |-----------------------------------------------|--------|------------------|
//! | the client sent a close frame with a code     | that code | (the reply)   |
//! | the client sent a close frame without a code  | 1005   | (the reply)      |
//! | the TCP connection dropped without a close    | 1006   | none             |
//! | a message over 128 KiB                        | 1009   | 1009             |
//! | idle timeout / maximum lifetime               | 1001   | 1001             |
//! | `DELETE @connections/{id}`                    | 1000   | 1000             |
//! | the gateway shuts down                        | 1001   | 1001             |
//! | a text message that is not UTF-8              | 1007   | 1007             |
//! | a frame that breaks RFC 6455                  | 1002   | 1002             |
//! | the client does not read (its backlog is full)| 1008   | 1008, best effort |
//!
//! ## Hostile clients
//!
//! The gateway runs where a browser is open, so it does not trust its
//! callers ([`guard`] has the details; `SECURITY.md` beside this crate
//! says the same for users):
//!
//! - **Host and Origin.** A request whose `Host` is not the gateway's own
//!   (`127.0.0.1`, `localhost` or `[::1]` with its port) is refused 421
//!   (DNS rebinding); one whose `Origin` is neither the gateway's own
//!   (`http://127.0.0.1:PORT`, `http://localhost:PORT`, `http://[::1]:PORT`,
//!   the page it serves) nor allowed with `--allowed-origin URL`
//!   ([`GatewayBuilder::allowed_origin`]) is refused 403, HTTP requests and
//!   WebSocket handshakes alike: another site's page can neither mint
//!   tokens nor publish nor reach `@connections`.
//! - **Slow clients.** A request head must arrive within 10 s, and a
//!   kept-alive connection is closed after 10 s without a request
//!   ([`DEFAULT_HEADER_TIMEOUT`]); a body must arrive whole within 30 s
//!   ([`DEFAULT_BODY_TIMEOUT`], answered 408); `$connect` and then the
//!   upgrade each get 10 s ([`DEFAULT_HANDSHAKE_TIMEOUT`]).
//! - **Clients that do not read.** Everything waiting to be written to a
//!   connection (queued messages, the frame being written, the pongs the
//!   socket answers pings with) is counted in bytes; past 4 MiB
//!   ([`DEFAULT_OUTBOUND_BYTES`]) the connection is closed with 1008. Posts
//!   past the queue's length in messages still get 429, and keep the
//!   connection.
//! - **Memory.** Each connection's read buffer starts at 4 KiB
//!   ([`DEFAULT_SOCKET_READ_BUFFER`]) instead of tungstenite's 128 KiB, and
//!   its task does not carry room for the handlers it calls: an idle
//!   connection takes about 13 KiB (it took over 160). glibc keeps much of
//!   what a flood of connections took, for reuse rather than returned
//!   (`cargo bench --bench memory` has the figures).
//!
//! ```no_run
//! # async fn demo() -> Result<(), local_gateway::GatewayError> {
//! use std::time::Duration;
//! use local_gateway::{Gateway, StoreConfig};
//!
//! let gateway = Gateway::builder()
//!     .stage("staging")
//!     .idle_timeout(Duration::from_secs(2))
//!     .store(StoreConfig::Memory)
//!     .bind("127.0.0.1:0")
//!     .await?;
//! println!("{}", gateway.ws_url());
//! gateway.shutdown().await;
//! # Ok(()) }
//! ```

#[cfg(feature = "aws")]
mod aws;
mod buffers;
mod guard;
mod httpapi;
mod management;
mod notifier;
mod page;
mod proxy;
mod queue;
mod registry;
mod serve;
mod state;
mod store;
mod stream;
mod trim;
mod util;
mod websocket;
mod workers;

use std::net::SocketAddr;
use std::sync::Arc;
use std::time::Duration;

use axum::extract::{ConnectInfo, Request, State};
use axum::response::Response;
use axum::routing::{any, get};
use axum::Router;
use channels::config::{
    SubscriberAuth, DEFAULT_CHANNEL_SHARDS, DEFAULT_PUBLISH_SYNC_MAX, DEFAULT_TOKEN_MAX_TTL_SECS,
};
use channels::job::QueueError;
use channels::token::auth::Auth;
use channels::token::issuers::{IssuerConfig, Issuers};
use channels::token::{mint, LocalSigner, MintRequest, Minted, Minter, SignError, Verifier};
use channels::{Fanout, History, Pattern, PublishOptions, Shards};
use http_lambda::commands::CommandsDeps;
use http_lambda::presence::PresenceDeps;
use http_lambda::worker::WorkerDeps;
use http_lambda::{Deps, Tokens};
use notifier::LocalNotifier;
use tokio::sync::{broadcast, mpsc, oneshot, watch};
use tokio::task::JoinHandle;
use tracing::{info, warn};

#[cfg(feature = "aws")]
pub use aws::local_sdk_config;
pub use guard::parse_origin;
pub use notifier::NotifierMode;
pub use proxy::API_ID;
pub use queue::{LocalQueue, QueueConfig};
pub use state::GatewayEvent;
pub use store::{LocalStore, OpenError, StoreConfig};
pub use workers::MAX_RECEIVES;

use registry::Registry;
use state::Shared;

/// `--port` when none is given.
pub const DEFAULT_PORT: u16 = 8080;
/// The stage when none is given; Terraform's default too.
pub const DEFAULT_STAGE: &str = "staging";
/// The SQS queue when none is given: the name Terraform gives it.
pub const DEFAULT_QUEUE: &str = "lambda-rust-websocket-publish";
/// The DynamoDB table when none is given: the name Terraform gives it.
pub const DEFAULT_TABLE: &str = "lambda-rust-websocket-channels";
/// API Gateway closes a WebSocket connection that carried no message for
/// 10 minutes.
pub const DEFAULT_IDLE_TIMEOUT: Duration = Duration::from_secs(10 * 60);
/// API Gateway closes every WebSocket connection after 2 hours.
pub const DEFAULT_MAX_LIFETIME: Duration = Duration::from_secs(2 * 60 * 60);
/// Messages waiting for one slow client before `@connections` answers 429.
pub const DEFAULT_OUTBOUND_BUFFER: usize = 256;
/// Bytes waiting for one client (queued messages, the frame being written,
/// pongs) past which it is closed with 1008: 32 messages of the largest
/// size, four of the largest recovery replays (1 MiB). What a client that
/// does not read can make the gateway hold.
pub const DEFAULT_OUTBOUND_BYTES: usize = 4 * 1024 * 1024;
/// How long a request head may take to arrive, and a kept-alive connection
/// may wait for its next request. A client on this machine sends its head
/// in one write; browsers and HTTP clients reopen a closed idle connection
/// by themselves. Short, because every half-open connection costs a socket
/// and its buffers.
pub const DEFAULT_HEADER_TIMEOUT: Duration = Duration::from_secs(10);
/// How long a request body may take to arrive whole: API Gateway's own
/// limit on a whole request (its 30 s integration timeout); the largest
/// body (10 MB) takes milliseconds on this machine.
pub const DEFAULT_BODY_TIMEOUT: Duration = Duration::from_secs(30);
/// How long `$connect` may take, and then the upgrade (the 101 written and
/// the socket handed over).
pub const DEFAULT_HANDSHAKE_TIMEOUT: Duration = Duration::from_secs(10);
/// Handler invocations (`$connect`, `$disconnect`, routes, the HTTP API)
/// running at once, as Lambda's concurrency limits them on AWS. Without a
/// limit, 1,000 clients dropping at once ran 1,000 `$disconnect`s at once,
/// each opening its own connection to the store: moto and DynamoDB Local
/// stopped accepting them, and the members stayed in the table.
pub const DEFAULT_MAX_INVOCATIONS: usize = 64;
/// Each connection's read buffer when it opens: a command or a small
/// message fits; a bigger frame (up to 32 KiB) grows it. tungstenite's
/// default, 128 KiB, made 10,000 idle connections take 1.3 GiB.
pub const DEFAULT_SOCKET_READ_BUFFER: usize = 4 * 1024;

/// How long shutdown waits for the connections to finish their close
/// handshake and `$disconnect`.
const SHUTDOWN_GRACE: Duration = Duration::from_secs(10);

/// Why the gateway could not start.
#[derive(Debug, thiserror::Error)]
pub enum GatewayError {
    #[error("stage {0:?} is invalid: use 1-64 characters of A-Z a-z 0-9 _ -")]
    Stage(String),
    #[error("cannot listen on {addr}: {source}")]
    Bind {
        addr: String,
        source: std::io::Error,
    },
    #[error(transparent)]
    Store(#[from] OpenError),
    #[error("the SDK notifier needs the gateway built with the `aws` feature: `cargo run -p local-gateway --features aws`")]
    NotifierNotBuilt,
    #[error("cannot make a token signing key: {0}")]
    Signer(#[from] SignError),
    #[error(transparent)]
    Queue(#[from] QueueError),
    #[error("allowed origin: {0}")]
    Origin(String),
    #[error("token issuer {0}")]
    Issuers(String),
}

/// Who may listen, as `SUBSCRIBER_AUTH` says on AWS.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub enum SubscriberAuthMode {
    /// Anyone may join any channel (the seed's `wscat --connect` demo).
    #[default]
    None,
    /// `$connect` needs a token; the gateway generates a P-256 key at start,
    /// mints with it at `POST /tokens` and publishes it at
    /// `/.well-known/jwks.json`.
    Token,
}

/// Entry point: [`Gateway::builder`].
#[derive(Debug)]
pub struct Gateway;

impl Gateway {
    pub fn builder() -> GatewayBuilder {
        GatewayBuilder::default()
    }
}

/// Settings of a gateway; [`GatewayBuilder::bind`] starts it.
#[derive(Clone, Debug)]
pub struct GatewayBuilder {
    stage: String,
    idle_timeout: Duration,
    max_lifetime: Duration,
    store: StoreConfig,
    outbound_buffer: usize,
    publish: PublishOptions,
    auth: SubscriberAuthMode,
    token_max_ttl_secs: u64,
    token_issuers: Vec<IssuerConfig>,
    shards: Shards,
    queue: QueueConfig,
    sync_max: u32,
    notifier: NotifierMode,
    history: History,
    presence_events: Vec<Pattern>,
    allowed_origins: Vec<String>,
    header_timeout: Duration,
    body_timeout: Duration,
    handshake_timeout: Duration,
    outbound_bytes: usize,
    socket_read_buffer: usize,
    socket_write_buffer: usize,
    max_invocations: usize,
    release_memory: bool,
}

impl Default for GatewayBuilder {
    fn default() -> Self {
        Self {
            stage: DEFAULT_STAGE.to_owned(),
            idle_timeout: DEFAULT_IDLE_TIMEOUT,
            max_lifetime: DEFAULT_MAX_LIFETIME,
            store: StoreConfig::Memory,
            outbound_buffer: DEFAULT_OUTBOUND_BUFFER,
            publish: PublishOptions::default(),
            auth: SubscriberAuthMode::None,
            token_max_ttl_secs: DEFAULT_TOKEN_MAX_TTL_SECS,
            token_issuers: Vec::new(),
            shards: Shards::new(DEFAULT_CHANNEL_SHARDS).unwrap_or_default(),
            queue: QueueConfig::default(),
            sync_max: DEFAULT_PUBLISH_SYNC_MAX,
            notifier: NotifierMode::Direct,
            history: History::default(),
            presence_events: Vec::new(),
            allowed_origins: Vec::new(),
            header_timeout: DEFAULT_HEADER_TIMEOUT,
            body_timeout: DEFAULT_BODY_TIMEOUT,
            handshake_timeout: DEFAULT_HANDSHAKE_TIMEOUT,
            outbound_bytes: DEFAULT_OUTBOUND_BYTES,
            socket_read_buffer: DEFAULT_SOCKET_READ_BUFFER,
            socket_write_buffer: 0,
            max_invocations: DEFAULT_MAX_INVOCATIONS,
            release_memory: true,
        }
    }
}

impl GatewayBuilder {
    /// The stage both URLs end in: 1-64 characters of `A-Z a-z 0-9 _ -`.
    pub fn stage(mut self, stage: impl Into<String>) -> Self {
        self.stage = stage.into();
        self
    }

    /// Close a connection that carried no message (either way) for this long.
    pub fn idle_timeout(mut self, idle_timeout: Duration) -> Self {
        self.idle_timeout = idle_timeout;
        self
    }

    /// Close every connection this long after it opened.
    pub fn max_lifetime(mut self, max_lifetime: Duration) -> Self {
        self.max_lifetime = max_lifetime;
        self
    }

    pub fn store(mut self, store: StoreConfig) -> Self {
        self.store = store;
        self
    }

    /// Messages queued for one connection before `@connections` answers
    /// 429 LimitExceededException (at least 1).
    pub fn outbound_buffer(mut self, messages: usize) -> Self {
        self.outbound_buffer = messages.max(1);
        self
    }

    /// How the http handler fans out.
    pub fn publish_options(mut self, publish: PublishOptions) -> Self {
        self.publish = publish;
        self
    }

    /// Shards every channel is spread over (default 8, as deployed).
    pub fn channel_shards(mut self, shards: Shards) -> Self {
        self.shards = shards;
        self
    }

    /// Where big publishes go (default: in memory, 4 workers).
    pub fn queue(mut self, queue: QueueConfig) -> Self {
        self.queue = queue;
        self
    }

    /// Members up to which a publish is synchronous (default 2,000, as on
    /// AWS); above, it is handed to the workers.
    pub fn sync_max(mut self, members: u32) -> Self {
        self.sync_max = members.max(1);
        self
    }

    /// Who may listen (default: anyone).
    pub fn subscriber_auth(mut self, auth: SubscriberAuthMode) -> Self {
        self.auth = auth;
        self
    }

    /// How the handlers' posts reach the sockets (default: in process; see
    /// [`NotifierMode`]).
    pub fn notifier(mut self, mode: NotifierMode) -> Self {
        self.notifier = mode;
        self
    }

    /// How long messages are kept for recovery and how many a replay may
    /// take (default 600 s and 1,000, as deployed; `History::OFF`: none).
    pub fn history(mut self, history: History) -> Self {
        self.history = history;
        self
    }

    /// Channels whose subscribers get join and leave events (default none).
    pub fn presence_events(mut self, patterns: Vec<Pattern>) -> Self {
        self.presence_events = patterns;
        self
    }

    /// The longest lifetime `POST /tokens` grants (default one day).
    pub fn token_max_ttl_secs(mut self, secs: u64) -> Self {
        self.token_max_ttl_secs = secs.max(1);
        self
    }

    /// With tokens on, other issuers whose tokens are accepted beside ours
    /// (`TOKEN_ISSUERS` on AWS): their keys are fetched on a first token.
    pub fn token_issuers(mut self, issuers: Vec<IssuerConfig>) -> Self {
        self.token_issuers = issuers;
        self
    }

    /// Lets pages from `origin` (`scheme://host[:port]`, e.g.
    /// `http://localhost:5173`) use the gateway, besides its own page:
    /// WebSocket handshakes, and HTTP requests with CORS answers. Repeatable;
    /// [`GatewayBuilder::bind`] refuses one that is not an origin.
    pub fn allowed_origin(mut self, origin: impl Into<String>) -> Self {
        self.allowed_origins.push(origin.into());
        self
    }

    /// How long a request head may take, and a kept-alive connection may
    /// stay idle (default [`DEFAULT_HEADER_TIMEOUT`]; at least 10 ms).
    pub fn header_timeout(mut self, timeout: Duration) -> Self {
        self.header_timeout = timeout.max(Duration::from_millis(10));
        self
    }

    /// How long a request body may take to arrive whole (default
    /// [`DEFAULT_BODY_TIMEOUT`]; at least 10 ms).
    pub fn body_timeout(mut self, timeout: Duration) -> Self {
        self.body_timeout = timeout.max(Duration::from_millis(10));
        self
    }

    /// How long `$connect` may take, and then the upgrade (default
    /// [`DEFAULT_HANDSHAKE_TIMEOUT`]; at least 10 ms).
    pub fn handshake_timeout(mut self, timeout: Duration) -> Self {
        self.handshake_timeout = timeout.max(Duration::from_millis(10));
        self
    }

    /// Bytes that may wait for one client before it is closed with 1008
    /// (default [`DEFAULT_OUTBOUND_BYTES`]; at least one message of the
    /// largest size).
    pub fn outbound_bytes(mut self, bytes: usize) -> Self {
        self.outbound_bytes = bytes.max(registry::frame_bytes(channels::MAX_MESSAGE_BYTES));
        self
    }

    /// Whether memory freed after connections close goes back to the system
    /// (default on; see `trim.rs`). The memory bench turns it off for its
    /// baseline.
    pub fn release_memory(mut self, release: bool) -> Self {
        self.release_memory = release;
        self
    }

    /// Handler invocations that may run at once (default
    /// [`DEFAULT_MAX_INVOCATIONS`]; at least 1); more wait their turn.
    pub fn max_invocations(mut self, invocations: usize) -> Self {
        self.max_invocations = invocations.max(1);
        self
    }

    /// Each connection's socket buffers: the read buffer it opens with
    /// (default [`DEFAULT_SOCKET_READ_BUFFER`], at least 256), and how many
    /// bytes of frames are gathered before a write (default 0: each frame
    /// at once). `(128 KiB, 128 KiB)` are tungstenite's own defaults.
    pub fn socket_buffers(mut self, read: usize, write: usize) -> Self {
        self.socket_read_buffer = read.max(256);
        self.socket_write_buffer = write;
        self
    }

    /// Listens on `addr` (`127.0.0.1:0` picks a free port), opens the store
    /// and serves until [`RunningGateway::shutdown`].
    pub async fn bind(self, addr: &str) -> Result<RunningGateway, GatewayError> {
        if !valid_stage(&self.stage) {
            return Err(GatewayError::Stage(self.stage));
        }
        check_issuers(&self.token_issuers)?;
        let listed = self
            .allowed_origins
            .iter()
            .map(|origin| guard::parse_origin(origin))
            .collect::<Result<Vec<_>, _>>()
            .map_err(GatewayError::Origin)?;
        let bind_error = |source| GatewayError::Bind {
            addr: addr.to_owned(),
            source,
        };
        let listener = tokio::net::TcpListener::bind(addr)
            .await
            .map_err(bind_error)?;
        let local = listener.local_addr().map_err(bind_error)?;
        let (changes, changed) = if self.presence_events.is_empty() {
            (None, None)
        } else {
            let (sender, receiver) = mpsc::unbounded_channel();
            (Some(sender), Some(receiver))
        };
        let store = LocalStore::open(&self.store, self.shards, changes).await?;
        info!(store = %self.store, "store ready");

        let domain = local.to_string();
        let stage_url = format!("http://{domain}/{}", self.stage);
        let registry = Arc::new(Registry::default());
        let notifier = match self.notifier {
            NotifierMode::Direct => LocalNotifier::Direct(Arc::clone(&registry)),
            #[cfg(feature = "aws")]
            NotifierMode::Sdk => {
                LocalNotifier::Sdk(channels_aws::apigw::ApiGatewayNotifier::from_conf(
                    &local_sdk_config().await,
                    &stage_url,
                ))
            }
            #[cfg(not(feature = "aws"))]
            NotifierMode::Sdk => return Err(GatewayError::NotifierNotBuilt),
        };
        // As Terraform sets them: the audience identifies the deployment,
        // the issuer who mints; here the stage URLs.
        let (auth, tokens) = match self.auth {
            SubscriberAuthMode::None => (SubscriberAuth::None, None),
            SubscriberAuthMode::Token => {
                let signer = LocalSigner::generate()?;
                let verifier = Verifier::new(
                    vec![signer.public_key().clone()],
                    format!("ws://{domain}/{}", self.stage),
                    stage_url.clone(),
                )
                .with_max_lifetime(self.token_max_ttl_secs);
                let minter = Minter {
                    key: signer.public_key().clone(),
                    audience: verifier.audience().to_owned(),
                    issuer: verifier.issuer().to_owned(),
                    max_ttl_secs: self.token_max_ttl_secs,
                };
                let tokens = Tokens::new(signer, minter, &verifier);
                (SubscriberAuth::Token(verifier), Some(tokens))
            }
        };
        let (queue, waiting) = queue::open(&self.queue).await?;
        info!(queue = %self.queue, sync_max = self.sync_max, "publish queue ready");
        let fanout = |queue: Option<LocalQueue>| Fanout {
            store: store.clone(),
            notifier: notifier.clone(),
            queue,
            options: self.publish.clone(),
            sync_max: self.sync_max,
            history: self.history,
        };
        let (shutdown, _) = watch::channel(false);
        let (live, _) = watch::channel(0usize);
        let (events, _) = broadcast::channel(1024);
        let shared = Arc::new(Shared {
            stage: self.stage.clone(),
            domain,
            idle_timeout: self.idle_timeout,
            max_lifetime: self.max_lifetime,
            outbound_buffer: self.outbound_buffer,
            buffers: buffers::SocketBuffers {
                read: self.socket_read_buffer,
                write: self.socket_write_buffer,
                outbound_bytes: self.outbound_bytes,
            },
            handshake_timeout: self.handshake_timeout,
            body_timeout: self.body_timeout,
            invocations: Arc::new(tokio::sync::Semaphore::new(self.max_invocations)),
            rx: rx::Deps {
                store: store.clone(),
                auth: issuer_auth(&auth, &self.token_issuers, self.token_max_ttl_secs),
            },
            worker: WorkerDeps {
                fanout: fanout(Some(queue.clone())),
                // Locally nothing throttles by rate: AIMD alone.
                brake: channels::brake::Brake::new(self.publish.concurrency, 1, 1024),
                metrics: false,
            },
            commands: CommandsDeps {
                fanout: fanout(Some(queue.clone())),
                auth: issuer_auth(&auth, &self.token_issuers, self.token_max_ttl_secs),
                metrics: false,
            },
            presence: PresenceDeps {
                fanout: Fanout {
                    store: store.clone(),
                    notifier: notifier.clone(),
                    queue: None,
                    options: self.publish.clone(),
                    sync_max: self.sync_max,
                    history: self.history,
                },
                events: self.presence_events.clone(),
            },
            http: Deps {
                fanout: fanout(Some(queue)),
                tokens,
                metrics: false,
            },
            store,
            registry,
            events,
            shutdown,
            live,
        });

        if let Some(changed) = changed {
            stream::start(&shared, changed, shared.shutdown.subscribe());
        }
        workers::start_workers(&shared, &self.queue, waiting, shared.shutdown.subscribe());
        if self.release_memory {
            trim::start(shared.live.subscribe(), shared.shutdown.subscribe());
        }
        let guard = Arc::new(guard::Guard::new(local, &listed));
        info!(origins = ?guard.origins(), "allowed origins");
        let router = router(&shared).layer(axum::middleware::from_fn_with_state(
            Arc::clone(&guard),
            guard::check,
        ));
        let (stop_tx, stop_rx) = oneshot::channel::<()>();
        let server = serve::spawn(listener, router, self.header_timeout, stop_rx);
        Ok(RunningGateway {
            addr: local,
            shared,
            guard,
            server: Some(server),
            stop_server: Some(stop_tx),
        })
    }
}

/// How the gateway fetches other issuers' keys: over HTTPS with feature
/// `aws` (it brings the HTTPS client), else from loopback HTTP servers only.
#[cfg(feature = "aws")]
pub(crate) type JwksClient = channels_aws::jwks::HttpsJwksFetcher;
#[cfg(not(feature = "aws"))]
pub(crate) type JwksClient = channels::token::loopback::LoopbackFetcher;

fn jwks_client() -> JwksClient {
    #[cfg(feature = "aws")]
    return channels_aws::jwks::HttpsJwksFetcher::new();
    #[cfg(not(feature = "aws"))]
    return channels::token::loopback::LoopbackFetcher;
}

/// Who may listen, for the handlers: our tokens, and in token mode the
/// tokens of `issuers` beside them.
fn issuer_auth(
    auth: &SubscriberAuth,
    issuers: &[IssuerConfig],
    max_ttl_secs: u64,
) -> Auth<JwksClient> {
    let issuers = match auth {
        SubscriberAuth::Token(_) => issuers.to_vec(),
        SubscriberAuth::None => Vec::new(),
    };
    Auth::new(
        auth.clone(),
        Issuers::new(issuers, jwks_client(), max_ttl_secs),
    )
}

/// Refuses issuers this build cannot fetch the keys of.
fn check_issuers(issuers: &[IssuerConfig]) -> Result<(), GatewayError> {
    if cfg!(feature = "aws") {
        return Ok(());
    }
    match issuers.iter().find(|i| i.jwks_url.starts_with("https://")) {
        Some(issuer) => Err(GatewayError::Issuers(format!(
            "{}: its jwks_url is https://, which needs the gateway built with the `aws` feature \
             (the HTTPS client): `cargo run -p local-gateway --features aws`",
            issuer.issuer
        ))),
        None => Ok(()),
    }
}

fn valid_stage(stage: &str) -> bool {
    (1..=64).contains(&stage.len())
        && stage
            .chars()
            .all(|c| c.is_ascii_alphanumeric() || c == '_' || c == '-')
}

/// A gateway that is serving.
#[derive(Debug)]
pub struct RunningGateway {
    addr: SocketAddr,
    shared: Arc<Shared>,
    guard: Arc<guard::Guard>,
    server: Option<JoinHandle<std::io::Result<()>>>,
    stop_server: Option<oneshot::Sender<()>>,
}

impl RunningGateway {
    /// Where it listens (with the real port when bound to port 0).
    pub fn addr(&self) -> SocketAddr {
        self.addr
    }

    pub fn stage(&self) -> &str {
        &self.shared.stage
    }

    /// The WebSocket stage URL, `ws://127.0.0.1:PORT/staging`.
    pub fn ws_url(&self) -> String {
        format!("ws://{}/{}", self.addr, self.shared.stage)
    }

    /// The HTTP API stage URL, `http://127.0.0.1:PORT/staging`.
    pub fn http_url(&self) -> String {
        format!("http://{}/{}", self.addr, self.shared.stage)
    }

    /// The management API endpoint (what the SDKs and the AWS CLI take as
    /// their endpoint URL; they append `/@connections/{id}`). The same as
    /// [`RunningGateway::http_url`], as on AWS the WebSocket stage URL is.
    pub fn management_endpoint(&self) -> String {
        self.http_url()
    }

    /// The store every handler uses.
    pub fn store(&self) -> &LocalStore {
        &self.shared.store
    }

    /// Who may listen.
    pub fn subscriber_auth(&self) -> SubscriberAuthMode {
        match self.shared.http.tokens {
            Some(_) => SubscriberAuthMode::Token,
            None => SubscriberAuthMode::None,
        }
    }

    /// A token for `channels`, valid for `ttl_secs`, minted as `POST /tokens`
    /// mints it; `None` when subscriber tokens are off.
    pub async fn mint(&self, channels: &[&str], ttl_secs: u64) -> Option<Result<Minted, String>> {
        let tokens = self.shared.http.tokens.as_ref()?;
        let request = MintRequest {
            channels: channels.iter().map(|c| (*c).to_owned()).collect(),
            ttl_seconds: Some(ttl_secs),
            ..MintRequest::default()
        };
        let minted = match request.validate(tokens.minter.max_ttl_secs) {
            Ok(valid) => mint(
                &tokens.signer,
                &tokens.minter,
                valid,
                channels::now_millis() / 1000,
            )
            .await
            .map_err(|e| e.to_string()),
            Err(err) => Err(err.to_string()),
        };
        Some(minted)
    }

    /// The origins whose pages may use the gateway: its own, then those
    /// allowed with [`GatewayBuilder::allowed_origin`], normalised.
    pub fn allowed_origins(&self) -> &[String] {
        self.guard.origins()
    }

    /// What the gateway does from now on.
    pub fn events(&self) -> broadcast::Receiver<GatewayEvent> {
        self.shared.events.subscribe()
    }

    /// Ids of the open connections.
    pub fn connections(&self) -> Vec<String> {
        self.shared.registry.ids()
    }

    /// Closes every connection with 1001 "Going away", runs each one's
    /// `$disconnect`, stops accepting, and returns once all of that is done
    /// (or after a grace period of 10 s, logging what was left).
    pub async fn shutdown(mut self) {
        self.stop().await;
    }

    async fn stop(&mut self) {
        self.shared.shutdown.send_replace(true);
        if let Some(stop) = self.stop_server.take() {
            let _ = stop.send(());
        }
        let mut live = self.shared.live.subscribe();
        if tokio::time::timeout(SHUTDOWN_GRACE, live.wait_for(|n| *n == 0))
            .await
            .is_err()
        {
            warn!(
                open = *live.borrow(),
                "connections still closing after the grace period"
            );
        }
        if let Some(server) = self.server.take() {
            match tokio::time::timeout(SHUTDOWN_GRACE, server).await {
                Ok(Ok(Ok(()))) => {}
                Ok(Ok(Err(err))) => warn!(error = %err, "the server stopped with an error"),
                Ok(Err(err)) => warn!(error = %err, "the server task failed"),
                Err(_) => warn!("HTTP requests still running after the grace period"),
            }
        }
        info!("stopped");
    }
}

impl Drop for RunningGateway {
    fn drop(&mut self) {
        // Not shut down: at least stop serving and close the sockets.
        self.shared.shutdown.send_replace(true);
        if let Some(stop) = self.stop_server.take() {
            let _ = stop.send(());
        }
    }
}

/// Routes the stage: `/{stage}` (and `/{stage}/`) to [`stage_root`],
/// `@connections` to the management API, anything else to the HTTP API.
fn router(shared: &Arc<Shared>) -> Router {
    let stage = &shared.stage;
    Router::new()
        .route("/", get(page::index))
        .route("/client.js", get(page::client))
        .route("/page.js", get(page::page_js))
        .route("/page.css", get(page::page_css))
        .route("/config.json", get(page::config))
        .route(&format!("/{stage}"), any(stage_root))
        // Lenient where API Gateway is strict: a WebSocket client that adds
        // a trailing slash to the stage URL is served all the same.
        .route(&format!("/{stage}/"), any(stage_root))
        .route(
            &format!("/{stage}/@connections/{{connection_id}}"),
            any(management::handle),
        )
        .fallback(httpapi::handle)
        .with_state(Arc::clone(shared))
}

/// The stage URL itself: the WebSocket API when the request asks for an
/// upgrade, the HTTP API (`POST /`) otherwise.
async fn stage_root(
    State(shared): State<Arc<Shared>>,
    ConnectInfo(peer): ConnectInfo<SocketAddr>,
    request: Request,
) -> Response {
    if proxy::is_upgrade(request.headers()) {
        websocket::connect(shared, peer, request).await
    } else {
        httpapi::route(&shared, peer, request).await
    }
}
