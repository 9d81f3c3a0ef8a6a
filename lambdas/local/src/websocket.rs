//! The WebSocket API: `$connect`, `$default` and `$disconnect` events for
//! the rx handler, and the socket of each connection.
//!
//! Each connection has a reader (this module's `read` loop, which also owns
//! the timers) and a writer task fed by a bounded queue: route responses and
//! `@connections` posts go through the queue, in order. The registry entry
//! goes as soon as either side ends; `$disconnect` then fires exactly once.

use std::collections::HashMap;
use std::net::SocketAddr;
use std::sync::Arc;
use std::time::Duration;

use aws_lambda_events::apigw::{ApiGatewayProxyResponse, ApiGatewayWebsocketProxyRequest};
use aws_lambda_events::encodings::Body;
use axum::extract::ws::{CloseFrame, Message, WebSocket, WebSocketUpgrade};
use axum::extract::{FromRequestParts, Query, Request};
use axum::response::{IntoResponse, Response};
use base64::Engine as _;
use channels::{now_millis, MAX_MESSAGE_BYTES};
use futures::stream::{SplitSink, SplitStream};
use futures::{SinkExt, StreamExt};
use http::{header, HeaderMap, HeaderName, HeaderValue, StatusCode, Uri};
use lambda_runtime::LambdaEvent;
use tokio::sync::{mpsc, oneshot};
use tokio::task::JoinHandle;
use tokio::time::{sleep_until, Instant};
use tracing::{info, warn};

use crate::registry::{Closing, ConnectionHandle, Outbound};
use crate::util::{clf_time, new_id};
use crate::{lambda_context, GatewayEvent, Shared};

/// Frames up to this size are read whole, so that a message over the
/// 128 KiB limit is refused with a clean close handshake (1009). Bigger ones
/// break off the connection (still with a 1009 close frame, best effort).
const SOCKET_READ_LIMIT: usize = 16 * 1024 * 1024;

/// How long a close handshake may take before the socket is dropped.
const CLOSE_GRACE: Duration = Duration::from_secs(2);

const TOO_BIG: Closing = Closing {
    code: 1009,
    reason: "Message too big",
};
const BINARY: Closing = Closing {
    code: 1003,
    reason: "Unsupported data: binary frames are not supported",
};
const IDLE: Closing = Closing {
    code: 1001,
    reason: "Going away: idle timeout",
};
const LIFETIME: Closing = Closing {
    code: 1001,
    reason: "Going away: maximum connection duration",
};
const SHUTDOWN: Closing = Closing {
    code: 1001,
    reason: "Going away",
};
/// Sent and reported when `DELETE @connections/{id}` closes a connection.
pub(crate) const DELETED: Closing = Closing {
    code: 1000,
    reason: "Connection deleted",
};

/// Whether the request asks for a WebSocket upgrade.
pub(crate) fn is_upgrade(headers: &HeaderMap) -> bool {
    headers
        .get_all(header::UPGRADE)
        .iter()
        .filter_map(|v| v.to_str().ok())
        .flat_map(|v| v.split(','))
        .any(|p| p.trim().eq_ignore_ascii_case("websocket"))
}

/// The handshake: `$connect` first; a non-2xx answer refuses the upgrade
/// with that status and body, as API Gateway does.
pub(crate) async fn connect(shared: Arc<Shared>, peer: SocketAddr, request: Request) -> Response {
    let (mut parts, _body) = request.into_parts();
    let ws = match WebSocketUpgrade::from_request_parts(&mut parts, &()).await {
        Ok(ws) => ws,
        Err(rejection) => return rejection.into_response(),
    };
    if *shared.shutdown.borrow() {
        return (
            StatusCode::SERVICE_UNAVAILABLE,
            [(header::CONTENT_TYPE, "application/json")],
            r#"{"message":"the gateway is shutting down"}"#,
        )
            .into_response();
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
        return crate::httpapi::proxy_response(
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
        .max_frame_size(SOCKET_READ_LIMIT);
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
        .on_upgrade(move |socket| run(conn, socket, outbound_rx));
    // From here on the upgrade (or its failure) ends the connection.
    let _ = accepted.send(());
    upgrade
}

/// One connection. Counted in `Shared::live` from `$connect` until it is
/// dropped: after its `$disconnect`, or at once when `$connect` refused it.
#[derive(Debug)]
struct Conn {
    shared: Arc<Shared>,
    handle: Arc<ConnectionHandle>,
}

impl Conn {
    fn new(shared: Arc<Shared>, handle: Arc<ConnectionHandle>) -> Self {
        shared.live.send_modify(|n| *n += 1);
        Self { shared, handle }
    }

    /// Routes one message to `$default`; the route response goes back to
    /// this connection only.
    async fn message(&self, body: String) {
        let bytes = body.len();
        let mut event = event(&self.shared, &self.handle, "$default", "MESSAGE");
        event.request_context.message_id = Some(new_id());
        event.body = Some(body);
        let response = invoke(&self.shared, event).await;
        info!(route = "$default", connection_id = %self.handle.id, status = response.status_code, bytes, "routed");
        if let Some(reply) = route_response(response) {
            if let Err(mpsc::error::TrySendError::Full(_)) =
                self.handle.outbound.try_send(Outbound::Message(reply))
            {
                warn!(connection_id = %self.handle.id, "route response dropped: the client is not reading");
            }
        }
    }

    /// Forgets the connection and fires `$disconnect`.
    async fn end(&self, status_code: u16, reason: &str) {
        self.shared.registry.remove(&self.handle.id);
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

    /// Reads until the connection must end, and says how it ended.
    async fn read(
        &self,
        stream: &mut SplitStream<WebSocket>,
        writer: &mut JoinHandle<()>,
    ) -> Ending {
        let shared = &self.shared;
        let handle = &self.handle;
        let mut close = handle.close.subscribe();
        let mut shutdown = shared.shutdown.subscribe();
        let lifetime_end = Instant::now() + shared.max_lifetime;
        loop {
            let idle_end = idle_deadline(handle, shared.idle_timeout);
            tokio::select! {
                frame = stream.next() => match frame {
                    Some(Ok(Message::Text(text))) => {
                        if text.len() > MAX_MESSAGE_BYTES {
                            return Ending::Server(TOO_BIG);
                        }
                        handle.touch();
                        self.message(text.as_str().to_owned()).await;
                    }
                    // As on AWS: WebSocket APIs take no binary frames and
                    // disconnect the client with 1003.
                    Some(Ok(Message::Binary(_))) => return Ending::Server(BINARY),
                    // Control frames are answered by the socket itself and,
                    // as on API Gateway, do not count as activity.
                    Some(Ok(Message::Ping(_) | Message::Pong(_))) => {}
                    Some(Ok(Message::Close(frame))) => {
                        return match frame {
                            Some(frame) => Ending::Client { code: frame.code, reason: frame.reason.as_str().to_owned() },
                            None => Ending::Client { code: 1005, reason: String::new() },
                        };
                    }
                    Some(Err(err)) => {
                        // axum does not expose tungstenite's error kinds; its
                        // capacity error reads "Space limit exceeded: …".
                        let text = err.to_string();
                        return if text.contains("Space limit exceeded") || text.contains("too long") {
                            Ending::Broken(TOO_BIG)
                        } else {
                            Ending::Lost(format!("Connection lost: {text}"))
                        };
                    }
                    None => return Ending::Lost("Connection lost".to_owned()),
                },
                () = sleep_until(idle_end) => {
                    // A post may have reset the clock meanwhile.
                    if idle_deadline(handle, shared.idle_timeout) <= Instant::now() {
                        return Ending::Server(IDLE);
                    }
                }
                () = sleep_until(lifetime_end) => return Ending::Server(LIFETIME),
                closing = async { close.wait_for(Option::is_some).await.ok().and_then(|c| c.clone()) } => {
                    return Ending::Server(closing.unwrap_or(DELETED));
                }
                () = async { let _ = shutdown.wait_for(|s| *s).await; } => return Ending::Server(SHUTDOWN),
                _ = &mut *writer => return Ending::Lost("Connection lost while sending".to_owned()),
            }
        }
    }
}

impl Drop for Conn {
    fn drop(&mut self) {
        self.shared.live.send_modify(|n| *n = n.saturating_sub(1));
    }
}

/// How a connection ended.
#[derive(Debug)]
enum Ending {
    /// The client sent a close frame (1005: without a code).
    Client { code: u16, reason: String },
    /// The gateway closes, with a close handshake.
    Server(Closing),
    /// The gateway closes a socket it can no longer read: close frame only.
    Broken(Closing),
    /// The connection dropped without a close frame (1006).
    Lost(String),
}

async fn run(conn: Arc<Conn>, socket: WebSocket, outbound: mpsc::Receiver<Outbound>) {
    let (sink, mut stream) = socket.split();
    let (abort_tx, abort_rx) = oneshot::channel();
    let mut writer = tokio::spawn(write(sink, outbound, abort_rx, Arc::clone(&conn.handle)));
    let ending = conn.read(&mut stream, &mut writer).await;
    // From here on `@connections` answers 410 Gone.
    conn.shared.registry.remove(&conn.handle.id);
    let (code, reason) = match ending {
        Ending::Client { code, reason } => {
            // Reading on sends the reply to the client's close frame.
            drain(&mut stream).await;
            (code, reason)
        }
        Ending::Server(closing) => {
            send_close(&conn.handle, &closing, abort_tx);
            drain(&mut stream).await;
            (closing.code, closing.reason.to_owned())
        }
        Ending::Broken(closing) => {
            send_close(&conn.handle, &closing, abort_tx);
            let _ = tokio::time::timeout(CLOSE_GRACE, &mut writer).await;
            (closing.code, closing.reason.to_owned())
        }
        Ending::Lost(reason) => (1006, reason),
    };
    writer.abort();
    drop(stream);
    conn.end(code, &reason).await;
}

/// Queues the close frame behind what is already queued; when the queue is
/// full, it goes first.
fn send_close(handle: &ConnectionHandle, closing: &Closing, abort: oneshot::Sender<CloseFrame>) {
    let frame = CloseFrame {
        code: closing.code,
        reason: closing.reason.into(),
    };
    if let Err(err) = handle.outbound.try_send(Outbound::Close(frame)) {
        if let Outbound::Close(frame) = err.into_inner() {
            let _ = abort.send(frame);
        }
    }
}

/// Reads until the close handshake completes (the stream ends), for at most
/// [`CLOSE_GRACE`].
async fn drain(stream: &mut SplitStream<WebSocket>) {
    let _ = tokio::time::timeout(CLOSE_GRACE, async {
        while let Some(Ok(_)) = stream.next().await {}
    })
    .await;
}

async fn write(
    mut sink: SplitSink<WebSocket, Message>,
    mut outbound: mpsc::Receiver<Outbound>,
    mut abort: oneshot::Receiver<CloseFrame>,
    handle: Arc<ConnectionHandle>,
) {
    let mut abort_open = true;
    loop {
        tokio::select! {
            biased;
            frame = &mut abort, if abort_open => match frame {
                Ok(frame) => {
                    let _ = sink.send(Message::Close(Some(frame))).await;
                    return;
                }
                // No override coming: keep sending the queue in order.
                Err(_) => abort_open = false,
            },
            next = outbound.recv() => match next {
                Some(Outbound::Message(message)) => {
                    if sink.send(message).await.is_err() {
                        return;
                    }
                    handle.touch();
                }
                Some(Outbound::Close(frame)) => {
                    let _ = sink.send(Message::Close(Some(frame))).await;
                    return;
                }
                None => return,
            },
        }
    }
}

fn idle_deadline(handle: &ConnectionHandle, idle_timeout: Duration) -> Instant {
    let quiet = u64::try_from(now_millis().saturating_sub(handle.last_active_ms())).unwrap_or(0);
    Instant::now() + idle_timeout.saturating_sub(Duration::from_millis(quiet))
}

/// The parts every WebSocket event of a connection shares.
fn event(
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
    ctx.apiid = Some(crate::API_ID.to_owned());
    ctx.identity.source_ip = Some(handle.source_ip.clone());
    ctx.identity.user_agent = handle.user_agent.clone();
    event
}

async fn invoke(
    shared: &Shared,
    event: ApiGatewayWebsocketProxyRequest,
) -> ApiGatewayProxyResponse {
    let request_id = event.request_context.request_id.clone().unwrap_or_default();
    rx::handle(
        LambdaEvent::new(event, lambda_context(&request_id)),
        &shared.store,
    )
    .await
}

/// The request's headers plus the ones API Gateway adds.
pub(crate) fn forwarded_headers(headers: &HeaderMap, peer: SocketAddr, domain: &str) -> HeaderMap {
    let mut headers = headers.clone();
    let port = domain.rsplit(':').next().unwrap_or("80");
    for (name, value) in [
        ("x-forwarded-for", peer.ip().to_string()),
        ("x-forwarded-port", port.to_owned()),
        ("x-forwarded-proto", "http".to_owned()),
    ] {
        if let Ok(value) = HeaderValue::from_str(&value) {
            headers.insert(HeaderName::from_static(name), value);
        }
    }
    headers
}

/// Query parameters by name, every value kept in order. A query string that
/// does not parse counts as none.
pub(crate) fn query_parameters(uri: &Uri) -> HashMap<String, Vec<String>> {
    let pairs = Query::<Vec<(String, String)>>::try_from_uri(uri)
        .map(|Query(pairs)| pairs)
        .unwrap_or_default();
    let mut map: HashMap<String, Vec<String>> = HashMap::new();
    for (name, value) in pairs {
        map.entry(name).or_default().push(value);
    }
    map
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
