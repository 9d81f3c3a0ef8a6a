//! rx: the API Gateway WebSocket handler.
//!
//! - `$connect` stores the connection under the channel named by the
//!   `channel` query parameter (`default` when absent). A bad name answers
//!   400, which refuses the handshake. With subscriber tokens on
//!   ([`SubscriberAuth::Token`]), the connection also needs a token granting
//!   that channel, as `?token=JWT` or `Authorization: Bearer JWT`: 401
//!   `{"message":"Unauthorized"}` without a valid one, 403
//!   `{"message":"Forbidden"}` when it does not grant the channel; the
//!   reason goes to the log (never the token), and nothing is stored.
//! - `$disconnect` removes the connection (an unknown one is fine).
//! - `$default` echoes the message to its sender as the route response: no
//!   extra API call, and rx needs no permission on `@connections`.
//!
//! Errors never panic and never reach the client in detail: bad input gets a
//! 4xx with a short reason, a store failure a 500 and a log line carrying
//! the connection id, channel and request id.

use aws_lambda_events::apigw::{ApiGatewayProxyResponse, ApiGatewayWebsocketProxyRequest};
use aws_lambda_events::encodings::Body;
pub use channels::config::SubscriberAuth;
use channels::{ChannelName, Connection, ConnectionStore};
use lambda_runtime::LambdaEvent;
use tracing::{error, info, warn, Instrument};

/// What the handler needs, built once per execution environment.
#[derive(Debug)]
pub struct Deps<S> {
    pub store: S,
    pub auth: SubscriberAuth,
}

/// Handles one WebSocket event. Always answers; the status tells API Gateway
/// (and, on `$connect`, the client) what happened.
pub async fn handle<S: ConnectionStore>(
    event: LambdaEvent<ApiGatewayWebsocketProxyRequest>,
    deps: &Deps<S>,
) -> ApiGatewayProxyResponse {
    let LambdaEvent {
        payload: request,
        context,
    } = event;
    let ctx = &request.request_context;
    let route = ctx.route_key.clone().unwrap_or_default();
    let connection_id = ctx.connection_id.clone().unwrap_or_default();
    let span = tracing::info_span!(
        "rx",
        request_id = %context.request_id,
        route = %route,
        connection_id = %connection_id,
        channel = tracing::field::Empty,
        subject = tracing::field::Empty,
    );
    route_event(request, route, connection_id, deps)
        .instrument(span)
        .await
}

async fn route_event<S: ConnectionStore>(
    request: ApiGatewayWebsocketProxyRequest,
    route: String,
    connection_id: String,
    deps: &Deps<S>,
) -> ApiGatewayProxyResponse {
    if connection_id.is_empty() {
        warn!("event without requestContext.connectionId");
        return respond(400, "missing connection id");
    }
    match route.as_str() {
        "$connect" => connect(&request, connection_id, deps).await,
        "$disconnect" => disconnect(&request, &connection_id, &deps.store).await,
        "$default" => echo(request),
        "" => {
            warn!("event without requestContext.routeKey");
            respond(400, "missing route")
        }
        other => {
            warn!(route = other, "unsupported route");
            respond(400, "unsupported route")
        }
    }
}

async fn connect<S: ConnectionStore>(
    request: &ApiGatewayWebsocketProxyRequest,
    connection_id: String,
    deps: &Deps<S>,
) -> ApiGatewayProxyResponse {
    let channel =
        match ChannelName::parse_or_default(request.query_string_parameters.first("channel")) {
            Ok(channel) => channel,
            Err(err) => {
                info!(error = %err, "connection refused: bad channel");
                return respond(400, &err.to_string());
            }
        };
    tracing::Span::current().record("channel", channel.as_str());
    if let SubscriberAuth::Token(verifier) = &deps.auth {
        let now = channels::now_millis() / 1000;
        match verifier.authorize(token(request), &channel, now) {
            Ok(claims) => {
                if let Some(subject) = &claims.sub {
                    tracing::Span::current().record("subject", subject.as_str());
                }
            }
            Err(err) => {
                // The reason, never the token.
                info!(reason = %err, status = err.status(), "connection refused: subscriber token");
                return respond(i64::from(err.status()), err.category());
            }
        }
    }
    let ctx = &request.request_context;
    let connected_at = if ctx.connected_at > 0 {
        ctx.connected_at
    } else {
        channels::now_millis()
    };
    let connection = Connection::new(connection_id, channel, connected_at);
    match deps.store.put(&connection).await {
        Ok(()) => {
            info!("connected");
            response(200, None, false)
        }
        Err(err) => {
            error!(error = %err, "could not store the connection");
            respond(500, "internal error")
        }
    }
}

async fn disconnect<S: ConnectionStore>(
    request: &ApiGatewayWebsocketProxyRequest,
    connection_id: &str,
    store: &S,
) -> ApiGatewayProxyResponse {
    let ctx = &request.request_context;
    match store.remove(connection_id).await {
        Ok(()) => {
            info!(
                status_code = ctx.disconnect_status_code,
                reason = ctx.disconnect_reason.as_deref().unwrap_or(""),
                "disconnected"
            );
            response(200, None, false)
        }
        Err(err) => {
            // TTL removes the item later; the fan-out removes it sooner on 410.
            error!(error = %err, "could not remove the connection");
            respond(500, "internal error")
        }
    }
}

/// The subscriber token: `?token=`, else `Authorization: Bearer …`.
fn token(request: &ApiGatewayWebsocketProxyRequest) -> Option<&str> {
    if let Some(token) = request.query_string_parameters.first("token") {
        return Some(token);
    }
    let value = request
        .headers
        .get(http::header::AUTHORIZATION)?
        .to_str()
        .ok()?
        .trim();
    let (scheme, token) = value.split_once(' ')?;
    scheme
        .eq_ignore_ascii_case("bearer")
        .then_some(token.trim())
}

/// The message goes back verbatim as the route response.
fn echo(request: ApiGatewayWebsocketProxyRequest) -> ApiGatewayProxyResponse {
    let body = request.body.map(Body::Text);
    response(200, body, request.is_base64_encoded)
}

fn respond(status_code: i64, message: &str) -> ApiGatewayProxyResponse {
    let body = serde_json::json!({ "message": message }).to_string();
    response(status_code, Some(Body::Text(body)), false)
}

fn response(
    status_code: i64,
    body: Option<Body>,
    is_base64_encoded: bool,
) -> ApiGatewayProxyResponse {
    let mut response = ApiGatewayProxyResponse::default();
    response.status_code = status_code;
    response.body = body;
    response.is_base64_encoded = is_base64_encoded;
    response
}
