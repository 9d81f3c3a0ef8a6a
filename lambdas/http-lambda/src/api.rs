//! The HTTP API (payload format 2.0) handler: publish, count, catch up,
//! presence, and the token routes ([`crate::routes`] lists them).
//!
//! Publish answers `200 {"channel","offset","recipients","delivered","gone","failed"}`,
//! or `202 {"channel","publishId","mode":"async","shards","offset"}` for a
//! channel past the synchronous size; a repeated `Idempotency-Key` answers
//! the first publish's offset with `"duplicate":true` and zero counts.
//! Errors are JSON `{"message"}`: 400 bad channel, empty body, bad base64 or
//! key; 404 unknown path; 405 wrong method; 413 when the body or its
//! `lrw.v1` envelope would pass 128 KiB; 503 when the store or the queue
//! fails (details go to the log, not to the client).
//!
//! A declared route is served from the event's `routeKey` and
//! `pathParameters` only, on AWS and behind the local gateway alike. The
//! `$default` route, which API Gateway takes when no declared route matched,
//! only ever answers 405 (the path has routes under other methods, listed in
//! `Allow`) or 404: it never publishes.

use aws_lambda_events::apigw::{ApiGatewayV2httpRequest, ApiGatewayV2httpResponse};
use channels::fanout::{Publish, PublishError, Published};
use channels::history::{recover, Since};
use channels::job::{new_publish_id, MemoryQueue, PublishQueue};
use channels::message::Publication;
use channels::presence::presence;
use channels::token::{LocalSigner, TokenSigner};
use channels::{ChannelName, ConnectionNotifier, Fanout, Store, StoreError};
use http::{HeaderValue, Method};
use lambda_runtime::LambdaEvent;
use serde_json::{json, Map, Value};
use tracing::{error, warn, Instrument};

use crate::request::{body, idempotency_key, is_json};
use crate::respond::{error_response, json_response, json_text, Rejection};
use crate::routes::{
    match_route, RouteMatch, GET_CHANNEL, GET_JWKS, GET_MESSAGES, GET_PRESENCE, POST_CHANNEL,
    POST_ROOT, POST_TOKENS, ROUTES,
};
use crate::tokens::{jwks_response, mint_token, tokens_off, Tokens};

/// What the handler needs, built once per execution environment.
#[derive(Debug)]
pub struct Deps<S, N, K = LocalSigner, Q = MemoryQueue> {
    pub fanout: Fanout<S, N, Q>,
    /// Minting and the JWKS; `None` when subscriber tokens are off.
    pub tokens: Option<Tokens<K>>,
    /// Whether to print CloudWatch metrics (EMF lines) on standard output.
    pub metrics: bool,
}

impl<S, N, K, Q> Deps<S, N, K, Q> {
    /// Dependencies with tokens off and no metrics; the fields are public to
    /// set the rest.
    pub fn new(fanout: Fanout<S, N, Q>) -> Self {
        Self {
            fanout,
            tokens: None,
            metrics: false,
        }
    }
}

#[derive(Debug, PartialEq, Eq)]
enum Route<'a> {
    Publish(&'a str),
    Count(&'a str),
    Messages(&'a str),
    Presence(&'a str),
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
    S: Store,
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
            Route::Count(channel) => count(channel, &deps.fanout.store).await,
            Route::Messages(channel) => messages(&request, channel, &deps.fanout).await,
            Route::Presence(channel) => who(channel, &deps.fanout.store).await,
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
        Some(GET_MESSAGES) => return Route::Messages(param()),
        Some(GET_PRESENCE) => return Route::Presence(param()),
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

fn channel(name: &str) -> Result<ChannelName, Rejection> {
    let channel = ChannelName::parse(name).map_err(|err| Rejection::new(400, err.to_string()))?;
    tracing::Span::current().record("channel", channel.as_str());
    Ok(channel)
}

/// The publication: the body, not empty.
fn publication(
    request: &ApiGatewayV2httpRequest,
    channel: ChannelName,
) -> Result<Publication, Rejection> {
    let bytes = body(request)?;
    if bytes.is_empty() {
        return Err(Rejection::new(
            400,
            "the message is empty; send it as the request body",
        ));
    }
    Ok(Publication::http(channel, bytes, is_json(request)))
}

/// Every publish gets an id first, and everything it logs (the fan-out's
/// warnings included) carries it in the `publish` span.
async fn publish_to<S, N, K, Q>(
    request: &ApiGatewayV2httpRequest,
    name: &str,
    deps: &Deps<S, N, K, Q>,
) -> ApiGatewayV2httpResponse
where
    S: Store,
    N: ConnectionNotifier,
    Q: PublishQueue,
{
    let publish_id = new_publish_id();
    let span = tracing::info_span!("publish", publish_id = %publish_id);
    Box::pin(publish_with_id(request, name, deps, publish_id))
        .instrument(span)
        .await
}

async fn publish_with_id<S, N, K, Q>(
    request: &ApiGatewayV2httpRequest,
    name: &str,
    deps: &Deps<S, N, K, Q>,
    publish_id: String,
) -> ApiGatewayV2httpResponse
where
    S: Store,
    N: ConnectionNotifier,
    Q: PublishQueue,
{
    let prepared = channel(name)
        .and_then(|channel| Ok((publication(request, channel)?, idempotency_key(request)?)));
    let (publication, key) = match prepared {
        Ok(prepared) => prepared,
        Err(rejection) => return rejection.response(),
    };
    let channel = publication.channel.clone();
    let bytes = publication.body.len();
    let started = std::time::Instant::now();
    let publish = Publish {
        publication,
        exclude: None,
        key,
        publish_id: publish_id.clone(),
    };
    let published = match deps.fanout.publish(publish).await {
        Ok(published) => published,
        Err(err) => return publish_failed(&err),
    };
    crate::metrics::log_published(
        &channel,
        &publish_id,
        bytes,
        &published,
        started,
        deps.metrics,
    );
    let (status, answer) = publish_answer(&channel, &published);
    json_text(status, answer)
}

/// What a publish answers over HTTP: its status and JSON body.
pub(crate) fn publish_answer(channel: &ChannelName, published: &Published) -> (i64, String) {
    let mut answer = Map::new();
    answer.insert("channel".into(), json!(channel.as_str()));
    let status = match published {
        Published::Sync { position, report } => {
            answer.insert("offset".into(), json!(position.offset));
            answer.insert("recipients".into(), json!(report.recipients));
            answer.insert("delivered".into(), json!(report.delivered));
            answer.insert("gone".into(), json!(report.gone));
            answer.insert("failed".into(), json!(report.failed));
            200
        }
        Published::Async {
            position,
            publish_id,
            shards,
        } => {
            answer.insert("publishId".into(), json!(publish_id));
            answer.insert("mode".into(), json!("async"));
            answer.insert("shards".into(), json!(shards));
            answer.insert("offset".into(), json!(position.offset));
            202
        }
        Published::Duplicate { offset } => {
            answer.insert("offset".into(), json!(offset));
            answer.insert("duplicate".into(), json!(true));
            for name in ["recipients", "delivered", "gone", "failed"] {
                answer.insert(name.into(), json!(0));
            }
            200
        }
    };
    (status, Value::Object(answer).to_string())
}

/// A publish that did not go out: 413 for its size, 503 for the store or
/// queue (logged with the details).
pub(crate) fn publish_failed(err: &PublishError) -> ApiGatewayV2httpResponse {
    match err {
        PublishError::TooLarge(too_large) => error_response(413, &too_large.to_string()),
        PublishError::KeyInProgress => error_response(409, &err.to_string()),
        PublishError::Store(_) => {
            error!(error = %err, "publish failed");
            error_response(503, "the connection store is unavailable; try again")
        }
        PublishError::Queue(_) => {
            // Jobs already enqueued still run: the message may reach part of
            // the channel. Said in the answer, in words.
            error!(error = %err, "could not hand the publish to the workers");
            error_response(
                503,
                "the publish queue is unavailable; part of the channel may get the message, try again",
            )
        }
    }
}

fn store_down(err: &StoreError, what: &str) -> ApiGatewayV2httpResponse {
    error!(error = %err, "{what} failed");
    error_response(503, "the connection store is unavailable; try again")
}

/// `GET /channels/{channel}`.
async fn count<S: Store>(name: &str, store: &S) -> ApiGatewayV2httpResponse {
    let channel = match channel(name) {
        Ok(channel) => channel,
        Err(rejection) => return rejection.response(),
    };
    match channels::count(store, &channel).await {
        Ok(connections) => json_response(
            200,
            &json!({ "channel": channel.as_str(), "connections": connections }),
        ),
        Err(err) => store_down(&err, "count"),
    }
}

/// `GET /channels/{channel}/presence`.
async fn who<S: Store>(name: &str, store: &S) -> ApiGatewayV2httpResponse {
    let channel = match channel(name) {
        Ok(channel) => channel,
        Err(rejection) => return rejection.response(),
    };
    match presence(store, &channel).await {
        Ok(presence) => json_text(200, channels::protocol::presence(None, &presence)),
        Err(err) => store_down(&err, "presence"),
    }
}

/// `GET /channels/{channel}/messages?since=N&epoch=E`: the kept messages
/// after offset N as `lrw.v1` envelopes, with the same bounds as a
/// recovery: `{"channel","epoch","offset","recovered","messages"}`.
async fn messages<S, N, Q>(
    request: &ApiGatewayV2httpRequest,
    name: &str,
    fanout: &Fanout<S, N, Q>,
) -> ApiGatewayV2httpResponse
where
    S: Store,
{
    let channel = match channel(name) {
        Ok(channel) => channel,
        Err(rejection) => return rejection.response(),
    };
    let query = &request.query_string_parameters;
    let Some(offset) = query
        .first("since")
        .and_then(|s| s.trim().parse::<u64>().ok())
    else {
        return error_response(
            400,
            "since must be the last offset you hold, a whole number: ?since=41&epoch=…",
        );
    };
    let epoch = query
        .first("epoch")
        .filter(|e| !e.is_empty())
        .map(str::to_owned);
    let since = Since { offset, epoch };
    match recover(&fanout.store, &fanout.history, &channel, &since).await {
        Ok(recovery) => {
            let mut body = format!(
                "{{\"channel\":{},\"epoch\":{},\"offset\":{},\"recovered\":{},\"messages\":[",
                json!(channel.as_str()),
                json!(recovery.position.epoch),
                recovery.position.offset,
                recovery.recovered
            );
            for (i, message) in recovery.messages.iter().enumerate() {
                if i > 0 {
                    body.push(',');
                }
                body.push_str(&String::from_utf8_lossy(&message.envelope));
            }
            body.push_str("]}");
            json_text(200, body)
        }
        Err(err) => store_down(&err, "catch-up"),
    }
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
