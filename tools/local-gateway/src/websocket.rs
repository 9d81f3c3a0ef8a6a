//! The WebSocket API: the handshake, with its `$connect` event for the rx
//! handler. Each accepted connection then runs in [`socket`], which routes
//! its messages to `$default` and fires its `$disconnect` through
//! [`connection`].
//!
//! The upgrade is done here rather than by axum's `WebSocketUpgrade`, so
//! that the socket is built on a [`metered::Metered`] stream: every byte the
//! kernel takes is taken off the connection's backlog, pongs included,
//! which is what lets a client that does not read be closed (1008) once its
//! backlog passes [`GatewayBuilder::outbound_bytes`](crate::GatewayBuilder::outbound_bytes).

mod connection;
mod metered;
mod socket;

use std::collections::HashMap;
use std::net::SocketAddr;
use std::sync::Arc;

use aws_lambda_events::apigw::ApiGatewayProxyResponse;
use axum::extract::Request;
use axum::response::{IntoResponse, Response};
use channels::now_millis;
use http::request::Parts;
use http::{header, HeaderMap, HeaderValue, Method, StatusCode, Version};
use hyper_util::rt::TokioIo;
use tokio::sync::{mpsc, oneshot};
use tokio_tungstenite::tungstenite::handshake::derive_accept_key;
use tokio_tungstenite::tungstenite::protocol::Role;
use tokio_tungstenite::WebSocketStream;
use tracing::{info, warn};

use crate::proxy::{forwarded_headers, json_message, proxy_response, query_parameters};
use crate::registry::ConnectionHandle;
use crate::state::{GatewayEvent, Shared};
use crate::util::new_id;
use connection::{event, invoke, Conn};
use metered::Metered;

/// What makes a request a WebSocket handshake (RFC 6455, 4.2.1), with the
/// answers axum's `WebSocketUpgrade` gives when it is not one.
struct Handshake {
    accept: String,
    offered_protocols: Vec<String>,
    on_upgrade: hyper::upgrade::OnUpgrade,
}

/// Why a request is not a WebSocket handshake: the status and message.
type NotAHandshake = (StatusCode, &'static str);

impl Handshake {
    fn from_parts(parts: &mut Parts) -> Result<Self, NotAHandshake> {
        let refuse = |status, message| Err((status, message));
        if parts.version > Version::HTTP_11 {
            return refuse(StatusCode::BAD_REQUEST, "WebSocket needs HTTP/1.1");
        }
        if parts.method != Method::GET {
            return refuse(
                StatusCode::METHOD_NOT_ALLOWED,
                "Request method must be `GET`",
            );
        }
        if !header_has_token(&parts.headers, header::CONNECTION, "upgrade") {
            return refuse(
                StatusCode::BAD_REQUEST,
                "Connection header did not include 'upgrade'",
            );
        }
        if !header_is(&parts.headers, header::UPGRADE, "websocket") {
            return refuse(
                StatusCode::BAD_REQUEST,
                "`Upgrade` header did not include 'websocket'",
            );
        }
        if !header_is(&parts.headers, header::SEC_WEBSOCKET_VERSION, "13") {
            return refuse(
                StatusCode::BAD_REQUEST,
                "`Sec-WebSocket-Version` header did not include '13'",
            );
        }
        let Some(key) = parts.headers.get(header::SEC_WEBSOCKET_KEY) else {
            return refuse(
                StatusCode::BAD_REQUEST,
                "`Sec-WebSocket-Key` header missing",
            );
        };
        let accept = derive_accept_key(key.as_bytes());
        let Some(on_upgrade) = parts.extensions.remove::<hyper::upgrade::OnUpgrade>() else {
            return refuse(
                StatusCode::UPGRADE_REQUIRED,
                "WebSocket request couldn't be upgraded since no upgrade state was present",
            );
        };
        let offered_protocols = parts
            .headers
            .get_all(header::SEC_WEBSOCKET_PROTOCOL)
            .iter()
            .filter_map(|v| v.to_str().ok())
            .flat_map(|v| v.split(','))
            .map(|p| p.trim().to_owned())
            .filter(|p| !p.is_empty())
            .collect();
        Ok(Self {
            accept,
            offered_protocols,
            on_upgrade,
        })
    }

    /// The 101 answer, selecting `protocol` when the client offered it.
    fn response(&self, protocol: Option<&str>) -> Response {
        let mut response = StatusCode::SWITCHING_PROTOCOLS.into_response();
        let headers = response.headers_mut();
        headers.insert(header::CONNECTION, HeaderValue::from_static("upgrade"));
        headers.insert(header::UPGRADE, HeaderValue::from_static("websocket"));
        if let Ok(accept) = HeaderValue::from_str(&self.accept) {
            headers.insert(header::SEC_WEBSOCKET_ACCEPT, accept);
        }
        let selected = protocol.filter(|p| self.offered_protocols.iter().any(|o| o == p));
        if let Some(value) = selected.and_then(|p| HeaderValue::from_str(p).ok()) {
            headers.insert(header::SEC_WEBSOCKET_PROTOCOL, value);
        }
        response
    }
}

fn header_is(headers: &HeaderMap, name: header::HeaderName, value: &str) -> bool {
    headers
        .get(name)
        .is_some_and(|v| v.as_bytes().eq_ignore_ascii_case(value.as_bytes()))
}

fn header_has_token(headers: &HeaderMap, name: header::HeaderName, token: &str) -> bool {
    headers
        .get_all(name)
        .iter()
        .filter_map(|v| v.to_str().ok())
        .flat_map(|v| v.split(','))
        .any(|t| t.trim().eq_ignore_ascii_case(token))
}

/// The handshake: `$connect` first; a non-2xx answer refuses the upgrade
/// with that status and body, as API Gateway does. `$connect` and the
/// upgrade each have [`Shared::handshake_timeout`]: a `$connect` still
/// running then is answered 504 (its `$disconnect` follows if it accepts
/// later), an upgrade that does not complete ends the connection (1006).
pub(crate) async fn connect(shared: Arc<Shared>, peer: SocketAddr, request: Request) -> Response {
    let (mut parts, _body) = request.into_parts();
    let handshake = match Handshake::from_parts(&mut parts) {
        Ok(handshake) => handshake,
        Err((status, message)) => return json_message(status, message),
    };
    if *shared.shutdown.borrow() {
        return json_message(
            StatusCode::SERVICE_UNAVAILABLE,
            "the gateway is shutting down",
        );
    }
    let user_agent = parts
        .headers
        .get(header::USER_AGENT)
        .and_then(|v| v.to_str().ok())
        .map(str::to_owned);
    let (outbound, outbound_rx) = mpsc::channel(shared.outbound_buffer);
    let handle = Arc::new(ConnectionHandle::new(
        new_id(),
        outbound,
        now_millis(),
        peer.ip().to_string(),
        user_agent,
        shared.buffers.outbound_bytes,
    ));
    let connection_id = handle.id.clone();
    // Counted as live from here, so that a shutdown waits for it.
    let conn = Arc::new(Conn::new(Arc::clone(&shared), Arc::clone(&handle)));

    let mut event = event(&shared, &handle, "$connect", "CONNECT");
    let headers = forwarded_headers(&parts.headers, peer, &shared.domain);
    event.multi_value_headers = headers.clone();
    event.headers = headers;
    let query = query_parameters(&parts.uri);
    // As on API Gateway: all values in the multi-value map, the last one of
    // each name in the single-value map.
    let last: HashMap<String, String> = query
        .iter()
        .filter_map(|(name, values)| Some((name.clone(), values.last()?.clone())))
        .collect();
    event.query_string_parameters = last.into();
    event.multi_value_query_string_parameters = query.into();

    // $connect runs in a task of its own, so that a client hanging up during
    // it cannot cancel it half-way (after the store has the connection). If
    // the client is gone by the time the upgrade is set up (`accepted` is
    // dropped unsent), the task fires the $disconnect the connection is owed.
    let (answer_tx, answer_rx) =
        oneshot::channel::<(ApiGatewayProxyResponse, oneshot::Sender<()>)>();
    let connect = Arc::clone(&conn);
    tokio::spawn(async move {
        let response = invoke(&connect.shared, event).await;
        let allowed = (200..300).contains(&response.status_code);
        let (accepted, upgraded) = oneshot::channel();
        let _ = answer_tx.send((response, accepted));
        if allowed && upgraded.await.is_err() {
            connect.end(1006, "Client left during $connect").await;
        }
    });
    let (response, accepted) = match tokio::time::timeout(shared.handshake_timeout, answer_rx).await
    {
        Ok(Ok(answer)) => answer,
        Ok(Err(_)) => return StatusCode::INTERNAL_SERVER_ERROR.into_response(),
        Err(_) => {
            warn!(route = "$connect", %connection_id, "routed: $connect timed out");
            return json_message(StatusCode::GATEWAY_TIMEOUT, "Endpoint request timed out");
        }
    };
    if !(200..300).contains(&response.status_code) {
        info!(route = "$connect", %connection_id, status = response.status_code, "routed: connection refused");
        return proxy_response(
            response.status_code,
            response.headers,
            response.multi_value_headers,
            response.body,
            response.is_base64_encoded,
        );
    }
    info!(route = "$connect", %connection_id, status = response.status_code, source_ip = %handle.source_ip, "routed");

    // An accepted subprotocol comes back as a header of the $connect answer.
    let protocol = response
        .headers
        .get(header::SEC_WEBSOCKET_PROTOCOL)
        .and_then(|v| v.to_str().ok());
    let answer = handshake.response(protocol);

    shared.registry.insert(handle);
    shared.emit(GatewayEvent::Connected { connection_id });
    let config = shared.buffers.config();
    let timeout = shared.handshake_timeout;
    let on_upgrade = handshake.on_upgrade;
    tokio::spawn(async move {
        match tokio::time::timeout(timeout, on_upgrade).await {
            Ok(Ok(upgraded)) => {
                let io = Metered::new(TokioIo::new(upgraded), Arc::clone(&conn.handle));
                let socket = WebSocketStream::from_raw_socket(io, Role::Server, Some(config)).await;
                socket::run(conn, socket, outbound_rx).await;
            }
            Ok(Err(err)) => {
                warn!(connection_id = %conn.handle.id, error = %err, "WebSocket handshake failed");
                Box::pin(conn.end(1006, "Handshake failed")).await;
            }
            Err(_) => {
                warn!(connection_id = %conn.handle.id, "WebSocket handshake did not complete in time");
                Box::pin(conn.end(1006, "Handshake timed out")).await;
            }
        }
    });
    // From here on the upgrade (or its failure) ends the connection.
    let _ = accepted.send(());
    answer
}
