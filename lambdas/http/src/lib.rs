//! http: the API Gateway HTTP API (payload v2) handler that publishes.
//!
//! | route                         | answer                                                  |
//! |-------------------------------|---------------------------------------------------------|
//! | `POST /`                      | publish the body to the `default` channel               |
//! | `POST /channels/{channel}`    | publish the body to that channel                        |
//! | `GET /channels/{channel}`     | `{"channel","connections"}`                             |
//!
//! Publish answers `200 {"channel","recipients","delivered","gone","failed"}`.
//! Errors are JSON `{"message"}`: 400 bad channel, empty body or bad base64;
//! 404 unknown path; 405 wrong method; 413 body over 128 KiB; 503 when the
//! connection store fails (details go to the log, not to the client).

use aws_lambda_events::apigw::{ApiGatewayV2httpRequest, ApiGatewayV2httpResponse};
use aws_lambda_events::encodings::Body;
use base64::Engine as _;
use channels::{
    publish, ChannelName, ConnectionNotifier, ConnectionStore, PublishOptions, MAX_MESSAGE_BYTES,
};
use http::{HeaderValue, Method};
use lambda_runtime::LambdaEvent;
use serde_json::json;
use tracing::{error, info, Instrument};

/// The routes this handler serves, as `(method, path)` in API Gateway's
/// route-key syntax. Terraform declares exactly these (checked by a test),
/// plus `$default`, whose events this handler answers with 404 or 405.
pub const ROUTES: &[(&str, &str)] = &[
    ("POST", "/"),
    ("POST", "/channels/{channel}"),
    ("GET", "/channels/{channel}"),
];

/// What the handler needs, built once per execution environment.
#[derive(Debug)]
pub struct Deps<S, N> {
    pub store: S,
    pub notifier: N,
    pub publish: PublishOptions,
}

#[derive(Debug, PartialEq, Eq)]
enum Route<'a> {
    Publish(&'a str),
    Count(&'a str),
    MethodNotAllowed(&'static str),
    NotFound,
}

/// Handles one HTTP API request. Always answers.
pub async fn handle<S, N>(
    event: LambdaEvent<ApiGatewayV2httpRequest>,
    deps: &Deps<S, N>,
) -> ApiGatewayV2httpResponse
where
    S: ConnectionStore,
    N: ConnectionNotifier,
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
            Route::MethodNotAllowed(allow) => {
                let mut response = error_response(
                    405,
                    &format!("method {method} is not allowed here; use {allow}"),
                );
                response
                    .headers
                    .insert("allow", HeaderValue::from_static(allow));
                response
            }
            Route::NotFound => error_response(
                404,
                "no such route; use POST /, POST /channels/{channel} or GET /channels/{channel}",
            ),
        }
    }
    .instrument(span)
    .await
}

/// Finds the route: from API Gateway's route key and path parameters when a
/// declared route matched, from the path otherwise (the `$default` route).
fn resolve<'a>(request: &'a ApiGatewayV2httpRequest, method: &Method, path: &'a str) -> Route<'a> {
    let route_key = request
        .route_key
        .as_deref()
        .or(request.request_context.route_key.as_deref());
    let param = || {
        request
            .path_parameters
            .get("channel")
            .map_or("", String::as_str)
    };
    match route_key {
        Some("POST /") => return Route::Publish(channels::DEFAULT_CHANNEL),
        Some("POST /channels/{channel}") => return Route::Publish(param()),
        Some("GET /channels/{channel}") => return Route::Count(param()),
        _ => {}
    }
    // With a named stage, API Gateway's rawPath starts with it.
    let stage = request
        .request_context
        .stage
        .as_deref()
        .filter(|s| !s.is_empty() && *s != "$default");
    let path = match stage.and_then(|s| path.strip_prefix('/')?.strip_prefix(s)) {
        Some(rest) if rest.is_empty() || rest.starts_with('/') => rest,
        _ => path,
    };
    let path = path.trim_end_matches('/');
    if path.is_empty() {
        return if method == Method::POST {
            Route::Publish(channels::DEFAULT_CHANNEL)
        } else {
            Route::MethodNotAllowed("POST")
        };
    }
    match path.strip_prefix("/channels/") {
        Some(channel) if !channel.is_empty() && !channel.contains('/') => match *method {
            Method::POST => Route::Publish(channel),
            Method::GET => Route::Count(channel),
            _ => Route::MethodNotAllowed("GET, POST"),
        },
        _ => Route::NotFound,
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
fn message(request: &ApiGatewayV2httpRequest) -> Result<Vec<u8>, Rejection> {
    let body = request.body.as_deref().unwrap_or("");
    let bytes = if request.is_base64_encoded {
        base64::engine::general_purpose::STANDARD
            .decode(body)
            .map_err(|_| Rejection::new(400, "the body is flagged base64 but does not decode"))?
    } else {
        body.as_bytes().to_vec()
    };
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

async fn publish_to<S, N>(
    request: &ApiGatewayV2httpRequest,
    name: &str,
    deps: &Deps<S, N>,
) -> ApiGatewayV2httpResponse
where
    S: ConnectionStore,
    N: ConnectionNotifier,
{
    let (channel, message) = match (channel(name), message(request)) {
        (Ok(channel), Ok(message)) => (channel, message),
        (Err(rejection), _) | (_, Err(rejection)) => return rejection.response(),
    };
    // Boxed: the fan-out future is deep, and keeping it off the stack of
    // every caller keeps their futures small.
    match Box::pin(publish(
        &deps.store,
        &deps.notifier,
        &channel,
        &message,
        &deps.publish,
    ))
    .await
    {
        Ok(report) => {
            info!(
                bytes = message.len(),
                recipients = report.recipients,
                delivered = report.delivered,
                gone = report.gone,
                failed = report.failed,
                "published"
            );
            json_response(200, &report)
        }
        Err(err) => {
            error!(error = %err, "publish failed");
            error_response(503, "the connection store is unavailable; try again")
        }
    }
}

async fn count<S, N>(name: &str, deps: &Deps<S, N>) -> ApiGatewayV2httpResponse
where
    S: ConnectionStore,
{
    let channel = match channel(name) {
        Ok(channel) => channel,
        Err(rejection) => return rejection.response(),
    };
    match deps.store.count(&channel).await {
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
