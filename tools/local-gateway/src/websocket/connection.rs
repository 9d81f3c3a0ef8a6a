//! One connection as the rx handler sees it: the events API Gateway builds
//! for it (`$connect`, `$default`, `$disconnect`) and their invocations.

use std::sync::Arc;

use aws_lambda_events::apigw::{ApiGatewayProxyResponse, ApiGatewayWebsocketProxyRequest};
use aws_lambda_events::encodings::Body;
use base64::Engine as _;
use channels::now_millis;
use http::{header, HeaderMap, HeaderName, HeaderValue};
use lambda_runtime::LambdaEvent;
use tokio_tungstenite::tungstenite::Message;
use tracing::{info, warn};

use http_lambda::{COMMAND_ROUTES, PING_ROUTE, PONG};

use crate::proxy::{lambda_context, API_ID};
use crate::registry::{ConnectionHandle, Refused};
use crate::state::{GatewayEvent, Shared};
use crate::util::{clf_time, new_id};

/// One connection. Counted in `Shared::live` from `$connect` until it is
/// dropped: after its `$disconnect`, or at once when `$connect` refused it.
#[derive(Debug)]
pub(super) struct Conn {
    pub(super) shared: Arc<Shared>,
    pub(super) handle: Arc<ConnectionHandle>,
}

impl Conn {
    pub(super) fn new(shared: Arc<Shared>, handle: Arc<ConnectionHandle>) -> Self {
        shared.live.send_modify(|n| *n += 1);
        Self { shared, handle }
    }

    /// Routes one message as API Gateway does with the selection expression
    /// `$request.body.action` ([`select_route`]); the route response goes
    /// back to this connection only.
    pub(super) async fn message(&self, body: String) {
        let bytes = body.len();
        let route = select_route(&body);
        let response = match route {
            // The MOCK integration: answered without a function.
            PING_ROUTE => {
                let mut response = ApiGatewayProxyResponse::default();
                response.status_code = 200;
                response.body = Some(Body::Text(PONG.to_owned()));
                response
            }
            _ => {
                let mut event = event(&self.shared, &self.handle, route, "MESSAGE");
                event.request_context.message_id = Some(new_id());
                event.body = Some(body);
                let request_id = event.request_context.request_id.clone().unwrap_or_default();
                let lambda = LambdaEvent::new(event, lambda_context(&request_id));
                let _running = self.shared.invocation().await;
                if route == DEFAULT_ROUTE {
                    rx::handle(lambda, &self.shared.rx).await
                } else {
                    Box::pin(http_lambda::commands::handle(lambda, &self.shared.commands)).await
                }
            }
        };
        info!(route, connection_id = %self.handle.id, status = response.status_code, bytes, "routed");
        if let Some(reply) = route_response(response) {
            match self.handle.send(reply) {
                Err(Refused::Full) => {
                    warn!(connection_id = %self.handle.id, "route response dropped: the client is not reading");
                }
                Err(Refused::Overflow) => {
                    warn!(connection_id = %self.handle.id, "route response dropped: the client is not reading; closing it (1008)");
                }
                Ok(()) | Err(Refused::Closed) => {}
            }
        }
    }

    /// Forgets the connection (when the socket loop has not already) and
    /// fires `$disconnect`.
    pub(super) async fn end(&self, status_code: u16, reason: &str) {
        self.shared.registry.close(&self.handle, None);
        let mut event = event(&self.shared, &self.handle, "$disconnect", "DISCONNECT");
        event.request_context.disconnect_status_code = Some(i64::from(status_code));
        event.request_context.disconnect_reason = Some(reason.to_owned());
        let mut headers = HeaderMap::new();
        if let Ok(host) = HeaderValue::from_str(&self.shared.domain) {
            headers.insert(header::HOST, host);
        }
        if let Ok(ip) = HeaderValue::from_str(&self.handle.source_ip) {
            headers.insert(HeaderName::from_static("x-forwarded-for"), ip);
        }
        event.multi_value_headers = headers.clone();
        event.headers = headers;
        let response = invoke(&self.shared, event).await;
        info!(route = "$disconnect", connection_id = %self.handle.id, status_code, reason, status = response.status_code, "routed");
        self.shared.emit(GatewayEvent::Disconnected {
            connection_id: self.handle.id.clone(),
            status_code,
            reason: reason.to_owned(),
        });
    }
}

impl Drop for Conn {
    fn drop(&mut self) {
        self.shared.live.send_modify(|n| *n = n.saturating_sub(1));
    }
}

/// The parts every WebSocket event of a connection shares.
pub(super) fn event(
    shared: &Shared,
    handle: &ConnectionHandle,
    route_key: &str,
    event_type: &str,
) -> ApiGatewayWebsocketProxyRequest {
    let now = now_millis();
    let request_id = new_id();
    let mut event = ApiGatewayWebsocketProxyRequest::default();
    let ctx = &mut event.request_context;
    ctx.route_key = Some(route_key.to_owned());
    ctx.event_type = Some(event_type.to_owned());
    ctx.message_direction = Some("IN".to_owned());
    ctx.connection_id = Some(handle.id.clone());
    ctx.connected_at = handle.connected_at_ms;
    ctx.request_time_epoch = now;
    ctx.request_time = Some(clf_time(now));
    ctx.extended_request_id = Some(request_id.clone());
    ctx.request_id = Some(request_id);
    ctx.domain_name = Some(shared.domain.clone());
    ctx.stage = Some(shared.stage.clone());
    ctx.apiid = Some(API_ID.to_owned());
    ctx.identity.source_ip = Some(handle.source_ip.clone());
    ctx.identity.user_agent = handle.user_agent.clone();
    event
}

/// The route of `$default`.
const DEFAULT_ROUTE: &str = "$default";

/// The route API Gateway selects for a frame with `$request.body.action`:
/// a declared route when the frame is a JSON object whose `action` names
/// one ([`COMMAND_ROUTES`] or [`PING_ROUTE`]), `$default` otherwise.
pub(super) fn select_route(frame: &str) -> &'static str {
    #[derive(serde::Deserialize)]
    struct Selection {
        action: Option<serde_json::Value>,
    }
    // An object: serde would read a struct from an array too.
    if !frame.trim_start().starts_with('{') {
        return DEFAULT_ROUTE;
    }
    let Ok(Selection {
        action: Some(serde_json::Value::String(action)),
    }) = serde_json::from_str::<Selection>(frame)
    else {
        return DEFAULT_ROUTE;
    };
    COMMAND_ROUTES
        .iter()
        .chain(std::iter::once(&PING_ROUTE))
        .find(|route| **route == action)
        .copied()
        .unwrap_or(DEFAULT_ROUTE)
}

/// Calls the rx handler.
pub(super) async fn invoke(
    shared: &Shared,
    event: ApiGatewayWebsocketProxyRequest,
) -> ApiGatewayProxyResponse {
    let request_id = event.request_context.request_id.clone().unwrap_or_default();
    let _running = shared.invocation().await;
    rx::handle(
        LambdaEvent::new(event, lambda_context(&request_id)),
        &shared.rx,
    )
    .await
}

/// What a route response sends back: its body, as a text frame, or a binary
/// one when the response is flagged base64.
fn route_response(response: ApiGatewayProxyResponse) -> Option<Message> {
    match response.body? {
        Body::Text(text) if response.is_base64_encoded => {
            match base64::engine::general_purpose::STANDARD.decode(&text) {
                Ok(bytes) => Some(Message::Binary(bytes.into())),
                Err(_) => Some(Message::Text(text.into())),
            }
        }
        Body::Text(text) => Some(Message::Text(text.into())),
        Body::Binary(bytes) => Some(Message::Binary(bytes.into())),
        _ => None,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn routes_are_selected_by_the_action_as_api_gateway_does() {
        assert_eq!(
            select_route(r#"{"action":"subscribe","channel":"a"}"#),
            "subscribe"
        );
        assert_eq!(
            select_route(r#"{"channel":"a","action":"publish"}"#),
            "publish"
        );
        assert_eq!(select_route(r#"{"action":"ping"}"#), "ping");
        for frame in [
            "hello",
            "",
            r#"{"action":"dance"}"#,
            r#"{"action":5}"#,
            r#"["subscribe"]"#,
            r#"{"Action":"subscribe"}"#,
            r#"{"action":"Subscribe"}"#,
        ] {
            assert_eq!(select_route(frame), "$default", "{frame}");
        }
    }
}
