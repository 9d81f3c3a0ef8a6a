//! The WebSocket API: the handshake, with its `$connect` event for the rx
//! handler. Each accepted connection then runs in [`socket`], which routes
//! its messages to `$default` and fires its `$disconnect` through
//! [`connection`].

mod connection;
mod socket;

use std::collections::HashMap;
use std::net::SocketAddr;
use std::sync::Arc;

use aws_lambda_events::apigw::ApiGatewayProxyResponse;
use axum::extract::ws::WebSocketUpgrade;
use axum::extract::{FromRequestParts, Request};
use axum::response::{IntoResponse, Response};
use channels::now_millis;
use http::{header, StatusCode};
use tokio::sync::{mpsc, oneshot};
use tracing::{info, warn};

use crate::proxy::{forwarded_headers, json_message, proxy_response, query_parameters};
use crate::registry::ConnectionHandle;
use crate::state::{GatewayEvent, Shared};
use crate::util::new_id;
use connection::{event, invoke, Conn};

/// Messages (fragments together) up to this size are read whole, so that a
/// message over the 128 KiB limit is refused with a clean close handshake
/// (1009). Bigger ones break off the connection (still with a 1009 close
/// frame, best effort), as does a single frame over API Gateway's 32 KiB.
const SOCKET_READ_LIMIT: usize = 16 * 1024 * 1024;

/// The handshake: `$connect` first; a non-2xx answer refuses the upgrade
/// with that status and body, as API Gateway does.
pub(crate) async fn connect(shared: Arc<Shared>, peer: SocketAddr, request: Request) -> Response {
    let (mut parts, _body) = request.into_parts();
    let ws = match WebSocketUpgrade::from_request_parts(&mut parts, &()).await {
        Ok(ws) => ws,
        Err(rejection) => return rejection.into_response(),
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
    let Ok((response, accepted)) = answer_rx.await else {
        return StatusCode::INTERNAL_SERVER_ERROR.into_response();
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
        .and_then(|v| v.to_str().ok())
        .map(str::to_owned);
    let mut ws = ws
        .max_message_size(SOCKET_READ_LIMIT)
        .max_frame_size(channels::MAX_FRAME_BYTES);
    if let Some(protocol) = protocol {
        ws = ws.protocols([protocol]);
    }

    shared.registry.insert(handle);
    shared.emit(GatewayEvent::Connected { connection_id });
    let failed = Arc::clone(&conn);
    let upgrade = ws
        .on_failed_upgrade(move |err| {
            warn!(connection_id = %failed.handle.id, error = %err, "WebSocket handshake failed");
            tokio::spawn(async move { failed.end(1006, "Handshake failed").await });
        })
        .on_upgrade(move |socket| socket::run(conn, socket, outbound_rx));
    // From here on the upgrade (or its failure) ends the connection.
    let _ = accepted.send(());
    upgrade
}
