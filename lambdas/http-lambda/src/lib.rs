//! http: the API Gateway HTTP API (payload v2) handler that publishes.
//!
//! | route                         | answer                                                  |
//! |-------------------------------|---------------------------------------------------------|
//! | `POST /`                      | publish the body to the `default` channel               |
//! | `POST /channels/{channel}`    | publish the body to that channel                        |
//! | `GET /channels/{channel}`     | `{"channel","connections"}`                             |
//! | `POST /tokens`                | mint a subscriber token: `{"token","expiresAt","channels"}` |
//! | `GET /.well-known/jwks.json`  | the token verification keys (RFC 7517)                  |
//!
//! Publish answers `200 {"channel","recipients","delivered","gone","failed"}`.
//! With subscriber tokens off, the two token routes answer 404.
//! Errors are JSON `{"message"}`: 400 bad channel, empty body or bad base64;
//! 404 unknown path; 405 wrong method; 413 body over 128 KiB; 503 when the
//! connection store fails (details go to the log, not to the client).
//!
//! A declared route ([`ROUTES`]) is served from the event's `routeKey` and
//! `pathParameters` only, on AWS and behind the local gateway alike (which
//! routes with [`match_route`]). The `$default` route, which API Gateway
//! takes when no declared route matched, only ever answers 405 (the path has
//! routes under other methods, listed in `Allow`) or 404: it never publishes.

pub mod worker;

/// The Lambda `handler` setting that starts this binary as the publish
/// queue's worker (Lambda passes it as `_HANDLER`); any other runs the HTTP
/// API handler.
pub const WORKER_HANDLER: &str = "worker";
/// The `handler` setting of the commands function: the WebSocket API's
/// command routes ([`COMMAND_ROUTES`]).
pub const COMMANDS_HANDLER: &str = "commands";
/// The `handler` setting of the presence function: the table's stream
/// (membership inserted or removed) turned into join and leave events.
pub const PRESENCE_HANDLER: &str = "presence";

/// The WebSocket routes rx serves (`$default` echoes).
pub const RX_ROUTES: &[&str] = &["$connect", "$disconnect", "$default"];
/// The WebSocket routes (values of `action`, the route selection
/// expression `$request.body.action`) the commands function serves.
pub const COMMAND_ROUTES: &[&str] = &["subscribe", "unsubscribe", "publish", "presence"];
/// The WebSocket route API Gateway answers itself (a MOCK integration with
/// the response `{"type":"pong"}`), without invoking any function.
pub const PING_ROUTE: &str = "ping";
/// What the `ping` route answers.
pub const PONG: &str = r#"{"type":"pong"}"#;

use aws_lambda_events::apigw::{ApiGatewayV2httpRequest, ApiGatewayV2httpResponse};
use aws_lambda_events::encodings::Body;
use base64::Engine as _;
use channels::job::{new_publish_id, plan, MemoryQueue, Plan, PublishQueue, ShardJob};
use channels::publish::deliver_ids;
use channels::token::{
    mint, Jwks, LocalSigner, MintRequest, Minter, SignError, TokenSigner, Verifier,
};
use channels::{
    publish, ChannelName, ConnectionNotifier, ConnectionStore, PublishOptions, StoreError,
    MAX_MESSAGE_BYTES,
};
use http::{HeaderValue, Method};
use lambda_runtime::LambdaEvent;
use serde_json::json;
use tracing::{error, info, warn, Instrument};

/// `POST /`: publish to the default channel.
const POST_ROOT: (&str, &str) = ("POST", "/");
/// `POST /channels/{channel}`: publish to that channel.
const POST_CHANNEL: (&str, &str) = ("POST", "/channels/{channel}");
/// `GET /channels/{channel}`: count its connections.
const GET_CHANNEL: (&str, &str) = ("GET", "/channels/{channel}");
/// `GET /channels/{channel}/messages`: the kept messages after an offset.
const GET_MESSAGES: (&str, &str) = ("GET", "/channels/{channel}/messages");
/// `GET /channels/{channel}/presence`: who is in the channel.
const GET_PRESENCE: (&str, &str) = ("GET", "/channels/{channel}/presence");
/// `POST /tokens`: mint a subscriber token.
const POST_TOKENS: (&str, &str) = ("POST", "/tokens");
/// `GET /.well-known/jwks.json`: the verification keys, for anyone.
const GET_JWKS: (&str, &str) = ("GET", "/.well-known/jwks.json");

/// The routes this handler serves, as `(method, path)` in API Gateway's
/// route-key syntax. Terraform declares exactly these (checked by a test),
/// plus `$default`, whose events this handler answers with 404 or 405.
pub const ROUTES: &[(&str, &str)] = &[
    POST_ROOT,
    POST_CHANNEL,
    GET_CHANNEL,
    GET_MESSAGES,
    GET_PRESENCE,
    POST_TOKENS,
    GET_JWKS,
];

/// The routes anyone may call: Terraform gives them no authorization, and
/// every other route the publish authorization (checked by a test).
pub const OPEN_ROUTES: &[(&str, &str)] = &[GET_JWKS];

/// The route key of an event no declared route matched.
pub const DEFAULT_ROUTE_KEY: &str = "$default";

/// Where a request goes among [`ROUTES`]: what [`match_route`] answers.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum RouteMatch<'a> {
    /// A declared route, with its path parameters by name, as they appear in
    /// the path (still percent-encoded).
    Route {
        route: (&'static str, &'static str),
        parameters: Vec<(&'static str, &'a str)>,
    },
    /// No route takes this method on this path, but routes with these
    /// methods (sorted, for an `Allow` header) do.
    MethodNotAllowed(Vec<&'static str>),
    /// No route has this path.
    NotFound,
}

impl RouteMatch<'_> {
    /// The `routeKey` API Gateway puts in the event: `POST /channels/{channel}`
    /// for a declared route, `$default` otherwise.
    pub fn route_key(&self) -> String {
        match self {
            Self::Route {
                route: (method, path),
                ..
            } => format!("{method} {path}"),
            Self::MethodNotAllowed(_) | Self::NotFound => DEFAULT_ROUTE_KEY.to_owned(),
        }
    }
}

/// Matches `method path` against [`ROUTES`] as API Gateway matches routes:
/// segment by segment, exactly (a trailing slash is a segment of its own),
/// `{name}` taking one non-empty segment, `ANY` taking every method. `path`
/// is the path after the stage, starting with `/`.
///
/// The local gateway routes with it; the handler answers `$default` events
/// with it (404 or 405).
pub fn match_route<'a>(method: &str, path: &'a str) -> RouteMatch<'a> {
    let mut allow: Vec<&'static str> = Vec::new();
    for &(route_method, pattern) in ROUTES {
        let Some(parameters) = match_path(pattern, path) else {
            continue;
        };
        if route_method == "ANY" || route_method == method {
            return RouteMatch::Route {
                route: (route_method, pattern),
                parameters,
            };
        }
        allow.push(route_method);
    }
    if allow.is_empty() {
        return RouteMatch::NotFound;
    }
    allow.sort_unstable();
    allow.dedup();
    RouteMatch::MethodNotAllowed(allow)
}

/// The path parameters of `path` when it matches `pattern`.
fn match_path<'a>(pattern: &'static str, path: &'a str) -> Option<Vec<(&'static str, &'a str)>> {
    let mut expected = pattern.split('/');
    let mut actual = path.split('/');
    let mut parameters = Vec::new();
    loop {
        match (expected.next(), actual.next()) {
            (None, None) => return Some(parameters),
            (Some(expected), Some(actual)) => {
                match expected.strip_prefix('{').and_then(|p| p.strip_suffix('}')) {
                    Some(name) if !actual.is_empty() => parameters.push((name, actual)),
                    Some(_) => return None,
                    None if expected == actual => {}
                    None => return None,
                }
            }
            _ => return None,
        }
    }
}

/// What the handler needs, built once per execution environment.
#[derive(Debug)]
pub struct Deps<S, N, K = LocalSigner, Q = MemoryQueue> {
    pub store: S,
    pub notifier: N,
    pub publish: PublishOptions,
    /// Minting and the JWKS; `None` when subscriber tokens are off.
    pub tokens: Option<Tokens<K>>,
    /// Where big publishes go; `None`: every publish is synchronous.
    pub queue: Option<Q>,
    /// Members up to which a publish is synchronous.
    pub sync_max: u32,
    /// Whether to print CloudWatch metrics (EMF lines) on standard output.
    pub metrics: bool,
}

impl<S, N, K, Q> Deps<S, N, K, Q> {
    /// Dependencies with tokens off, no queue (every publish synchronous)
    /// and no metrics; the fields are public to set the rest.
    pub fn new(store: S, notifier: N, publish: PublishOptions) -> Self {
        Self {
            store,
            notifier,
            publish,
            tokens: None,
            queue: None,
            sync_max: channels::config::DEFAULT_PUBLISH_SYNC_MAX,
            metrics: false,
        }
    }
}

/// What the token routes need.
#[derive(Debug)]
pub struct Tokens<K> {
    pub signer: K,
    pub minter: Minter,
    /// The JWKS document, written once.
    jwks: String,
}

impl<K> Tokens<K> {
    /// `signer` signs with the private half of `minter.key`; `verifier`
    /// holds every key tokens may be verified with (the JWKS).
    pub fn new(signer: K, minter: Minter, verifier: &Verifier) -> Self {
        let jwks = serde_json::to_string(&Jwks::new(verifier.keys())).unwrap_or_default();
        Self {
            signer,
            minter,
            jwks,
        }
    }
}

#[derive(Debug, PartialEq, Eq)]
enum Route<'a> {
    Publish(&'a str),
    Count(&'a str),
    Mint,
    Jwks,
    MethodNotAllowed(String),
    NotFound,
}

/// Handles one HTTP API request. Always answers.
pub async fn handle<S, N, K, Q>(
    event: LambdaEvent<ApiGatewayV2httpRequest>,
    deps: &Deps<S, N, K, Q>,
) -> ApiGatewayV2httpResponse
where
    S: ConnectionStore,
    N: ConnectionNotifier,
    K: TokenSigner,
    Q: PublishQueue,
{
    let LambdaEvent {
        payload: request,
        context,
    } = event;
    let method = request.request_context.http.method.clone();
    let path = request
        .raw_path
        .clone()
        .or_else(|| request.request_context.http.path.clone())
        .unwrap_or_else(|| "/".to_owned());
    let span = tracing::info_span!(
        "http",
        request_id = %context.request_id,
        method = %method,
        path = %path,
        channel = tracing::field::Empty,
    );
    async {
        match resolve(&request, &method, &path) {
            Route::Publish(channel) => publish_to(&request, channel, deps).await,
            Route::Count(channel) => count(channel, deps).await,
            Route::Mint => match &deps.tokens {
                Some(tokens) => mint_token(&request, tokens).await,
                None => tokens_off(),
            },
            Route::Jwks => match &deps.tokens {
                Some(tokens) => jwks_response(tokens),
                None => tokens_off(),
            },
            Route::MethodNotAllowed(allow) => {
                let mut response = error_response(
                    405,
                    &format!("method {method} is not allowed here; use {allow}"),
                );
                if let Ok(value) = HeaderValue::from_str(&allow) {
                    response.headers.insert(http::header::ALLOW, value);
                }
                response
            }
            Route::NotFound => error_response(404, &not_found_message()),
        }
    }
    .instrument(span)
    .await
}

/// Finds the route. A declared route is taken from API Gateway's route key
/// and path parameters only; anything else (the `$default` route, which API
/// Gateway takes only when no declared route matched) is a 405 when the path
/// has routes under other methods, a 404 otherwise: it never publishes.
fn resolve<'a>(request: &'a ApiGatewayV2httpRequest, method: &Method, path: &'a str) -> Route<'a> {
    let route_key = request
        .route_key
        .as_deref()
        .or(request.request_context.route_key.as_deref());
    let declared = ROUTES
        .iter()
        .find(|(m, p)| route_key.and_then(|k| k.strip_prefix(*m)?.strip_prefix(' ')) == Some(*p));
    let param = || {
        request
            .path_parameters
            .get("channel")
            .map_or("", String::as_str)
    };
    match declared.copied() {
        Some(POST_ROOT) => return Route::Publish(channels::DEFAULT_CHANNEL),
        Some(POST_CHANNEL) => return Route::Publish(param()),
        Some(GET_CHANNEL) => return Route::Count(param()),
        Some(POST_TOKENS) => return Route::Mint,
        Some(GET_JWKS) => return Route::Jwks,
        _ => {}
    }
    match match_route(method.as_str(), route_path(request, path)) {
        RouteMatch::MethodNotAllowed(allow) => Route::MethodNotAllowed(allow.join(", ")),
        RouteMatch::Route { route, .. } => {
            // API Gateway would have taken the declared route: the API's
            // routes and ROUTES disagree.
            warn!(
                route_key = route_key.unwrap_or_default(),
                route = %format!("{} {}", route.0, route.1),
                "a declared route arrived under another route key; is the API up to date?"
            );
            Route::NotFound
        }
        RouteMatch::NotFound => Route::NotFound,
    }
}

/// The path the routes are matched on: the raw path without the stage
/// (API Gateway's rawPath starts with a named stage), `/` when empty.
fn route_path<'a>(request: &ApiGatewayV2httpRequest, path: &'a str) -> &'a str {
    let stage = request
        .request_context
        .stage
        .as_deref()
        .filter(|s| !s.is_empty() && *s != "$default");
    let path = match stage.and_then(|s| path.strip_prefix('/')?.strip_prefix(s)) {
        Some(rest) if rest.is_empty() || rest.starts_with('/') => rest,
        _ => path,
    };
    if path.is_empty() {
        "/"
    } else {
        path
    }
}

/// A request refused before any work: its status and the reason for the client.
#[derive(Debug)]
struct Rejection {
    status: i64,
    message: String,
}

impl Rejection {
    fn new(status: i64, message: impl Into<String>) -> Self {
        Self {
            status,
            message: message.into(),
        }
    }

    fn response(&self) -> ApiGatewayV2httpResponse {
        error_response(self.status, &self.message)
    }
}

fn channel(name: &str) -> Result<ChannelName, Rejection> {
    let channel = ChannelName::parse(name).map_err(|err| Rejection::new(400, err.to_string()))?;
    tracing::Span::current().record("channel", channel.as_str());
    Ok(channel)
}

/// The request body as bytes, decoded from base64 when API Gateway says so.
fn body(request: &ApiGatewayV2httpRequest) -> Result<Vec<u8>, Rejection> {
    let body = request.body.as_deref().unwrap_or("");
    if request.is_base64_encoded {
        base64::engine::general_purpose::STANDARD
            .decode(body)
            .map_err(|_| Rejection::new(400, "the body is flagged base64 but does not decode"))
    } else {
        Ok(body.as_bytes().to_vec())
    }
}

/// The message to publish: the body, 1 byte to 128 KiB.
fn message(request: &ApiGatewayV2httpRequest) -> Result<Vec<u8>, Rejection> {
    let bytes = body(request)?;
    if bytes.is_empty() {
        return Err(Rejection::new(
            400,
            "the message is empty; send it as the request body",
        ));
    }
    if bytes.len() > MAX_MESSAGE_BYTES {
        return Err(Rejection::new(
            413,
            format!(
                "the message is {} bytes; the limit is {MAX_MESSAGE_BYTES} (128 KiB)",
                bytes.len()
            ),
        ));
    }
    Ok(bytes)
}

/// Every publish gets an id first, and everything it logs (the fan-out's
/// warnings included) carries it in the `publish` span.
async fn publish_to<S, N, K, Q>(
    request: &ApiGatewayV2httpRequest,
    name: &str,
    deps: &Deps<S, N, K, Q>,
) -> ApiGatewayV2httpResponse
where
    S: ConnectionStore,
    N: ConnectionNotifier,
    Q: PublishQueue,
{
    let publish_id = new_publish_id();
    let span = tracing::info_span!("publish", publish_id = %publish_id);
    Box::pin(publish_with_id(request, name, deps, &publish_id))
        .instrument(span)
        .await
}

async fn publish_with_id<S, N, K, Q>(
    request: &ApiGatewayV2httpRequest,
    name: &str,
    deps: &Deps<S, N, K, Q>,
    publish_id: &str,
) -> ApiGatewayV2httpResponse
where
    S: ConnectionStore,
    N: ConnectionNotifier,
    Q: PublishQueue,
{
    let (channel, message) = match (channel(name), message(request)) {
        (Ok(channel), Ok(message)) => (channel, message),
        (Err(rejection), _) | (_, Err(rejection)) => return rejection.response(),
    };
    let started = std::time::Instant::now();
    let store_down = |err: StoreError| {
        error!(error = %err, "publish failed");
        error_response(503, "the connection store is unavailable; try again")
    };
    // Boxed: the fan-out futures are deep, and keeping them off the stack
    // of every caller keeps their futures small.
    let report = match &deps.queue {
        None => match Box::pin(publish(
            &deps.store,
            &deps.notifier,
            &channel,
            &message,
            &deps.publish,
        ))
        .await
        {
            Ok(report) => report,
            Err(err) => return store_down(err),
        },
        Some(queue) => match plan(&deps.store, &channel, deps.sync_max).await {
            Err(err) => return store_down(err),
            Ok(Plan::Async) => {
                return hand_to_workers(queue, &channel, &message, deps, publish_id).await
            }
            Ok(Plan::Sync(ids)) => {
                let brake = deps.publish.brake();
                let mut report = Box::pin(deliver_ids(
                    &deps.store,
                    &deps.notifier,
                    ids,
                    &message,
                    &deps.publish,
                    &brake,
                ))
                .await;
                report.channel = channel.to_string();
                report
            }
        },
    };
    let duration_ms = u64::try_from(started.elapsed().as_millis()).unwrap_or(u64::MAX);
    // Not in the answer (its shape predates async publishes): in the log and
    // the metrics line.
    info!(
        mode = "sync",
        publish_id = %publish_id,
        bytes = message.len(),
        recipients = report.recipients,
        delivered = report.delivered,
        gone = report.gone,
        failed = report.failed,
        duration_ms,
        "published"
    );
    if deps.metrics {
        let properties = [
            ("channel", json!(channel.as_str())),
            ("publishId", json!(publish_id)),
        ];
        channels_aws::emf::print_fanout("sync", &report, duration_ms, &properties);
    }
    json_response(200, &report)
}

/// The asynchronous publish: one job per shard on the queue, 202.
async fn hand_to_workers<S, N, K, Q>(
    queue: &Q,
    channel: &ChannelName,
    message: &[u8],
    deps: &Deps<S, N, K, Q>,
    publish_id: &str,
) -> ApiGatewayV2httpResponse
where
    S: ConnectionStore,
    Q: PublishQueue,
{
    let shards = deps.store.shards();
    let jobs = ShardJob::for_publish(publish_id, channel, shards, message);
    match queue.enqueue(jobs).await {
        Ok(()) => {
            info!(mode = "async", publish_id = %publish_id, shards = shards.count(), bytes = message.len(), "published: handed to the workers");
            json_response(
                202,
                &AsyncAccepted {
                    channel: channel.as_str(),
                    publish_id,
                    mode: "async",
                    shards: shards.count(),
                },
            )
        }
        Err(err) => {
            // Jobs already enqueued still run: the message may reach part of
            // the channel. Said in the answer, in words.
            error!(publish_id = %publish_id, error = %err, "could not hand the publish to the workers");
            error_response(
                503,
                "the publish queue is unavailable; part of the channel may get the message, try again",
            )
        }
    }
}

/// The answer to an asynchronous publish.
#[derive(Debug, serde::Serialize)]
#[serde(rename_all = "camelCase")]
struct AsyncAccepted<'a> {
    channel: &'a str,
    publish_id: &'a str,
    mode: &'static str,
    shards: u16,
}

async fn count<S, N, K, Q>(name: &str, deps: &Deps<S, N, K, Q>) -> ApiGatewayV2httpResponse
where
    S: ConnectionStore,
{
    let channel = match channel(name) {
        Ok(channel) => channel,
        Err(rejection) => return rejection.response(),
    };
    match channels::count(&deps.store, &channel).await {
        Ok(connections) => json_response(
            200,
            &ChannelCount {
                channel: channel.as_str(),
                connections,
            },
        ),
        Err(err) => {
            error!(error = %err, "count failed");
            error_response(503, "the connection store is unavailable; try again")
        }
    }
}

/// `POST /tokens`: validates the request, signs, answers
/// `{"token","expiresAt","channels"}`. The token itself is never logged.
async fn mint_token<K: TokenSigner>(
    request: &ApiGatewayV2httpRequest,
    tokens: &Tokens<K>,
) -> ApiGatewayV2httpResponse {
    let body = match body(request) {
        Ok(body) => body,
        Err(rejection) => return rejection.response(),
    };
    let mint_request = match MintRequest::parse(&body, tokens.minter.max_ttl_secs) {
        Ok(valid) => valid,
        Err(err) => return error_response(400, &err.to_string()),
    };
    let subject = mint_request.subject.clone().unwrap_or_default();
    let now = channels::now_millis() / 1000;
    match mint(&tokens.signer, &tokens.minter, mint_request, now).await {
        Ok(minted) => {
            info!(
                channels = ?minted.channels,
                expires_at = minted.expires_at,
                subject = %subject,
                kid = tokens.minter.key.kid(),
                "token minted"
            );
            json_response(200, &minted)
        }
        Err(err @ SignError::Unavailable(_)) => {
            error!(error = %err, "could not sign a token");
            error_response(503, "the token signer is unavailable; try again")
        }
        Err(err @ SignError::KeyMismatch { .. }) => {
            error!(error = %err, "could not sign a token");
            error_response(500, "the token signer is misconfigured")
        }
    }
}

/// `GET /.well-known/jwks.json`.
fn jwks_response<K>(tokens: &Tokens<K>) -> ApiGatewayV2httpResponse {
    let mut response = ApiGatewayV2httpResponse::default();
    response.status_code = 200;
    response.headers.insert(
        http::header::CONTENT_TYPE,
        HeaderValue::from_static("application/json"),
    );
    // Keys change only with a deployment; let verifiers cache them a while.
    response.headers.insert(
        http::header::CACHE_CONTROL,
        HeaderValue::from_static("public, max-age=300"),
    );
    response.body = Some(Body::Text(tokens.jwks.clone()));
    response
}

/// "no such route; use POST /, …, or GET /.well-known/jwks.json", from [`ROUTES`].
fn not_found_message() -> String {
    let routes: Vec<String> = ROUTES.iter().map(|(m, p)| format!("{m} {p}")).collect();
    match routes.split_last() {
        Some((last, [])) => format!("no such route; use {last}"),
        Some((last, rest)) => format!("no such route; use {} or {last}", rest.join(", ")),
        None => "no such route".to_owned(),
    }
}

fn tokens_off() -> ApiGatewayV2httpResponse {
    error_response(
        404,
        "subscriber tokens are off in this deployment (SUBSCRIBER_AUTH=none): anyone may connect",
    )
}

fn error_response(status: i64, message: &str) -> ApiGatewayV2httpResponse {
    json_response(status, &json!({ "message": message }))
}

/// The answer to `GET /channels/{channel}`.
#[derive(Debug, serde::Serialize)]
struct ChannelCount<'a> {
    channel: &'a str,
    connections: u64,
}

/// A JSON answer; fields keep their declared order (`channel` first).
fn json_response(status: i64, body: &impl serde::Serialize) -> ApiGatewayV2httpResponse {
    let mut response = ApiGatewayV2httpResponse::default();
    response.status_code = status;
    response.headers.insert(
        http::header::CONTENT_TYPE,
        HeaderValue::from_static("application/json"),
    );
    // Serializing these plain structs cannot fail; an empty body would be the
    // visible sign if it ever did.
    response.body = Some(Body::Text(serde_json::to_string(body).unwrap_or_default()));
    response
}

#[cfg(test)]
mod tests {
    use super::*;

    fn key(method: &str, path: &str) -> String {
        match_route(method, path).route_key()
    }

    #[test]
    fn matches_declared_routes_with_parameters() {
        assert_eq!(
            match_route("POST", "/channels/a%3Ab"),
            RouteMatch::Route {
                route: POST_CHANNEL,
                parameters: vec![("channel", "a%3Ab")],
            }
        );
        assert_eq!(key("POST", "/"), "POST /");
        assert_eq!(key("GET", "/channels/x"), "GET /channels/{channel}");
        assert_eq!(key("GET", "/"), "$default");
        assert_eq!(key("DELETE", "/channels/x"), "$default");
        assert_eq!(key("POST", "/channels/"), "$default");
        assert_eq!(key("POST", "/channels/x/"), "$default");
        assert_eq!(key("POST", "/nope"), "$default");
        assert_eq!(key("POST", ""), "$default");
    }

    #[test]
    fn a_path_with_routes_under_other_methods_is_method_not_allowed() {
        assert_eq!(
            match_route("GET", "/"),
            RouteMatch::MethodNotAllowed(vec!["POST"])
        );
        assert_eq!(
            match_route("DELETE", "/channels/x"),
            RouteMatch::MethodNotAllowed(vec!["GET", "POST"])
        );
        for path in [
            "/nope",
            "/channels",
            "/channels/",
            "/channels/x/",
            "/channels/a/b",
        ] {
            assert_eq!(match_route("DELETE", path), RouteMatch::NotFound, "{path}");
        }
    }
}
