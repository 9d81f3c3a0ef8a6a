//! rx: the API Gateway WebSocket handler of `$connect`, `$disconnect` and
//! `$default`. It takes its store through the domain's port and links no
//! AWS SDK; the `rx` binary wires in the DynamoDB adapter.
//!
//! - `$connect` negotiates the protocol: a client offering the subprotocol
//!   `lrw.v1` (`Sec-WebSocket-Protocol`) gets it back in the answer's
//!   header, which is all API Gateway needs; any other connection is raw
//!   (the seed's demo). A second offered subprotocol `token.<JWT>` carries
//!   the subscriber token (never echoed; without `lrw.v1` it is refused with
//!   400), beside `?token=` and `Authorization: Bearer`. `?channel=NAME` is
//!   a raw connection's channel (`default` when absent) and an `lrw.v1`
//!   connection's first subscription (none when absent). With subscriber
//!   tokens on, the token must be valid (401) and grant that channel (403);
//!   its grants, subject and expiry are stored with the connection. A bad
//!   channel name answers 400. Nothing is stored on a refusal.
//! - `$disconnect` removes the connection and every membership.
//! - `$default` echoes the message to its sender as the route response (no
//!   extra API call, no permission on `@connections`): every frame of a raw
//!   connection, and whatever an `lrw.v1` client sends that is not a
//!   command.
//!
//! Errors never panic and never reach the client in detail: bad input gets a
//! 4xx with a short reason, a store failure a 500 and a log line carrying
//! the connection id, channel and request id. The token never reaches a log.

use aws_lambda_events::apigw::{ApiGatewayProxyResponse, ApiGatewayWebsocketProxyRequest};
use aws_lambda_events::encodings::Body;
pub use channels::config::SubscriberAuth;
use channels::token::auth::Auth;
use channels::token::jwks::JwksFetcher;
use channels::token::loopback::LoopbackFetcher;
use channels::{ChannelName, Connection, Protocol, Store, SUBPROTOCOL};
use http::HeaderValue;
use lambda_runtime::LambdaEvent;
use tracing::{error, info, warn, Instrument};

/// What the handler needs, built once per execution environment.
#[derive(Debug)]
pub struct Deps<S, F = LoopbackFetcher> {
    pub store: S,
    /// Who may listen: open, our tokens, and other issuers' tokens.
    pub auth: Auth<F>,
}

/// The prefix of the subprotocol that carries a token: `token.<JWT>`.
pub const TOKEN_SUBPROTOCOL_PREFIX: &str = "token.";

/// Handles one WebSocket event. Always answers; the status tells API Gateway
/// (and, on `$connect`, the client) what happened.
pub async fn handle<S: Store, F: JwksFetcher>(
    event: LambdaEvent<ApiGatewayWebsocketProxyRequest>,
    deps: &Deps<S, F>,
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
        protocol = tracing::field::Empty,
    );
    route_event(request, route, connection_id, deps)
        .instrument(span)
        .await
}

async fn route_event<S: Store, F: JwksFetcher>(
    request: ApiGatewayWebsocketProxyRequest,
    route: String,
    connection_id: String,
    deps: &Deps<S, F>,
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

/// What the client offered in `Sec-WebSocket-Protocol`.
#[derive(Debug, Default, PartialEq, Eq)]
struct Offer<'a> {
    v1: bool,
    token: Option<&'a str>,
}

fn offer(request: &ApiGatewayWebsocketProxyRequest) -> Offer<'_> {
    let mut offer = Offer::default();
    for value in request
        .headers
        .get_all(http::header::SEC_WEBSOCKET_PROTOCOL)
        .iter()
        .filter_map(|v| v.to_str().ok())
    {
        for protocol in value.split(',').map(str::trim) {
            if protocol == SUBPROTOCOL {
                offer.v1 = true;
            } else if let Some(token) = protocol.strip_prefix(TOKEN_SUBPROTOCOL_PREFIX) {
                offer.token = Some(token);
            }
        }
    }
    offer
}

async fn connect<S: Store, F: JwksFetcher>(
    request: &ApiGatewayWebsocketProxyRequest,
    connection_id: String,
    deps: &Deps<S, F>,
) -> ApiGatewayProxyResponse {
    let offer = offer(request);
    if offer.token.is_some() && !offer.v1 {
        info!("connection refused: a token subprotocol without lrw.v1");
        return respond(
            400,
            "the token.<JWT> subprotocol needs lrw.v1 offered beside it",
        );
    }
    let protocol = if offer.v1 {
        Protocol::V1
    } else {
        Protocol::Raw
    };
    tracing::Span::current().record("protocol", protocol.as_str());
    let named = request.query_string_parameters.first("channel");
    let channel = match (named, protocol) {
        (None, Protocol::V1) => None,
        (named, _) => match ChannelName::parse_or_default(named) {
            Ok(channel) => Some(channel),
            Err(err) => {
                info!(error = %err, "connection refused: bad channel");
                return respond(400, &err.to_string());
            }
        },
    };
    if let Some(channel) = &channel {
        tracing::Span::current().record("channel", channel.as_str());
    }
    let ctx = &request.request_context;
    let connected_at = if ctx.connected_at > 0 {
        ctx.connected_at
    } else {
        channels::now_millis()
    };
    let mut connection = Connection::new(connection_id, connected_at);
    connection.protocol = protocol;
    let now = channels::now_millis() / 1000;
    let token = offer.token.or_else(|| token(request));
    let holder = deps
        .auth
        .check(token, now)
        .await
        .and_then(|holder| match &channel {
            Some(channel) if !holder.grants.can_subscribe(channel) => {
                Err(channels::token::auth::Refusal {
                    status: 403,
                    category: "Forbidden",
                    reason: format!("channel {channel} is not granted by the token"),
                })
            }
            _ => Ok(holder),
        });
    match holder {
        Ok(holder) => {
            if let Some(subject) = &holder.subject {
                tracing::Span::current().record("subject", subject.as_str());
            }
            connection.grants = holder.grants;
            connection.subject = holder.subject;
            connection.issuer = holder.issuer;
            connection.token_expires_at = holder.expires_at;
        }
        Err(refusal) => {
            // The reason, never the token.
            info!(reason = %refusal.reason, status = refusal.status, "connection refused: subscriber token");
            return respond(i64::from(refusal.status), refusal.category);
        }
    }
    match deps.store.connect(&connection, channel.as_ref()).await {
        Ok(()) => {
            info!("connected");
            let mut answer = response(200, None, false);
            if protocol == Protocol::V1 {
                answer.headers.insert(
                    http::header::SEC_WEBSOCKET_PROTOCOL,
                    HeaderValue::from_static(SUBPROTOCOL),
                );
            }
            answer
        }
        Err(err) => {
            error!(error = %err, "could not store the connection");
            respond(500, "internal error")
        }
    }
}

async fn disconnect<S: Store>(
    request: &ApiGatewayWebsocketProxyRequest,
    connection_id: &str,
    store: &S,
) -> ApiGatewayProxyResponse {
    let ctx = &request.request_context;
    match store.disconnect(connection_id).await {
        Ok(memberships) => {
            info!(
                status_code = ctx.disconnect_status_code,
                reason = ctx.disconnect_reason.as_deref().unwrap_or(""),
                subscriptions = memberships.len(),
                "disconnected"
            );
            response(200, None, false)
        }
        Err(err) => {
            // TTL removes the items later; the fan-out removes them sooner on 410.
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
