//! The socket of one connection once the handshake is done: a reader (the
//! `read` loop, which also owns the timers) and a writer task fed by the
//! connection's bounded queue, so that route responses and `@connections`
//! posts go out in order.
//!
//! When either side ends, the queue is closed (behind the close frame, if
//! the gateway sends one) before the registry forgets the connection, so
//! that a post either lands ahead of the close frame or answers 410 Gone;
//! `$disconnect` then fires exactly once.

use std::sync::Arc;
use std::time::Duration;

use channels::{now_millis, MAX_MESSAGE_BYTES};
use futures::stream::{SplitSink, SplitStream};
use futures::{SinkExt, StreamExt};
use hyper::upgrade::Upgraded;
use hyper_util::rt::TokioIo;
use tokio::sync::{mpsc, oneshot};
use tokio::task::JoinHandle;
use tokio::time::{sleep_until, Instant};
use tokio_tungstenite::tungstenite::error::ProtocolError;
use tokio_tungstenite::tungstenite::protocol::CloseFrame;
use tokio_tungstenite::tungstenite::{Error as WsError, Message};
use tokio_tungstenite::WebSocketStream;

use super::connection::Conn;
use super::metered::Metered;
use crate::registry::{
    frame_bytes, Closing, ConnectionHandle, Outbound, BINARY, DELETED, IDLE, INVALID_UTF8,
    LIFETIME, NOT_READING, PROTOCOL, SHUTDOWN, TOO_BIG,
};

/// The socket of one connection.
pub(super) type WebSocket = WebSocketStream<Metered<TokioIo<Upgraded>>>;

/// How long a close handshake may take before the socket is dropped.
const CLOSE_GRACE: Duration = Duration::from_secs(2);

/// How a connection ended.
#[derive(Debug)]
enum Ending {
    /// The client sent a close frame (1005: without a code).
    Client { code: u16, reason: String },
    /// The gateway closes, with a close handshake.
    Server(Closing),
    /// The gateway closes a socket it can no longer read, or that does not
    /// read: close frame only (an urgent one ahead of the queue).
    Broken(Closing),
    /// The connection dropped without a close frame (1006).
    Lost(String),
    /// The writer stopped (the client does not read): reported with this
    /// closing's code, no close frame.
    Dropped(Closing),
}

/// Serves the connection until it ends, then fires its `$disconnect`.
pub(super) async fn run(conn: Arc<Conn>, socket: WebSocket, outbound: mpsc::Receiver<Outbound>) {
    let (sink, mut stream) = socket.split();
    let (abort_tx, abort_rx) = oneshot::channel();
    let mut writer = tokio::spawn(write(sink, outbound, abort_rx, Arc::clone(&conn.handle)));
    let ending = read(&conn, &mut stream, &mut writer).await;
    // From here on `@connections` answers 410 Gone; what was queued before
    // goes out ahead of the close frame.
    let closing = match &ending {
        Ending::Server(closing) | Ending::Broken(closing) => Some(closing),
        Ending::Client { .. } | Ending::Lost(_) | Ending::Dropped(_) => None,
    };
    if let Some(frame) = conn.shared.registry.close(&conn.handle, closing) {
        // The queue is full, or the client does not read: the close frame
        // goes first.
        let _ = abort_tx.send(frame);
    }
    let (code, reason) = match ending {
        Ending::Client { code, reason } => {
            // Reading on sends the reply to the client's close frame.
            drain(&mut stream).await;
            (code, reason)
        }
        Ending::Server(closing) => {
            drain(&mut stream).await;
            (closing.code, closing.reason.to_owned())
        }
        Ending::Broken(closing) => {
            let _ = tokio::time::timeout(CLOSE_GRACE, &mut writer).await;
            (closing.code, closing.reason.to_owned())
        }
        Ending::Lost(reason) => (1006, reason),
        Ending::Dropped(closing) => (closing.code, closing.reason.to_owned()),
    };
    writer.abort();
    drop(stream);
    // Boxed, as the handlers below: an idle connection's task then holds
    // only its own state, not room for a handler's (tens of KiB each).
    Box::pin(conn.end(code, &reason)).await;
}

/// Reads until the connection must end, and says how it ended.
async fn read(
    conn: &Conn,
    stream: &mut SplitStream<WebSocket>,
    writer: &mut JoinHandle<()>,
) -> Ending {
    let shared = &conn.shared;
    let handle = &conn.handle;
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
                    Box::pin(conn.message(text.as_str().to_owned())).await;
                }
                // As on AWS: WebSocket APIs take no binary frames and
                // disconnect the client with 1003.
                Some(Ok(Message::Binary(_))) => return Ending::Server(BINARY),
                // The socket answers a ping by itself with a pong of the same
                // payload: counted in the backlog, which a client that pings
                // and never reads soon passes. As on API Gateway, control
                // frames do not count as activity.
                Some(Ok(Message::Ping(payload))) => {
                    if !handle.backlog.add(frame_bytes(payload.len())) {
                        return Ending::Broken(NOT_READING);
                    }
                }
                Some(Ok(Message::Pong(_) | Message::Frame(_))) => {}
                Some(Ok(Message::Close(frame))) => {
                    return match frame {
                        Some(frame) => Ending::Client { code: frame.code.into(), reason: frame.reason.as_str().to_owned() },
                        None => Ending::Client { code: 1005, reason: String::new() },
                    };
                }
                Some(Err(err)) => return read_error(err),
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
                let closing = closing.unwrap_or(DELETED);
                return if closing.urgent { Ending::Broken(closing) } else { Ending::Server(closing) };
            }
            () = async { let _ = shutdown.wait_for(|s| *s).await; } => return Ending::Server(SHUTDOWN),
            _ = &mut *writer => {
                // The writer stops itself at its write limit.
                let closing = handle.close.borrow().clone().filter(|c| c.urgent);
                return match closing {
                    Some(closing) => Ending::Dropped(closing),
                    None => Ending::Lost("Connection lost while sending".to_owned()),
                };
            }
        }
    }
}

/// How a read error ends the connection (RFC 6455, 7.4.1).
fn read_error(err: WsError) -> Ending {
    match err {
        // A frame over 32 KiB, a message over the read limit.
        WsError::Capacity(_) => Ending::Broken(TOO_BIG),
        // A text message (one frame or several) that is not UTF-8.
        WsError::Utf8(_) => Ending::Broken(INVALID_UTF8),
        WsError::Protocol(ProtocolError::ResetWithoutClosingHandshake) => {
            Ending::Lost("Connection lost".to_owned())
        }
        WsError::Protocol(_) => Ending::Broken(PROTOCOL),
        WsError::WriteBufferFull(_) => Ending::Broken(NOT_READING),
        other => Ending::Lost(format!("Connection lost: {other}")),
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

/// Sends the queue in order until a close frame or the queue's end; a frame
/// on `abort` goes out first and ends it.
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
                    match sink.send(message).await {
                        Ok(()) => handle.touch(),
                        // The socket's own write limit (a backstop behind
                        // the backlog's).
                        Err(WsError::WriteBufferFull(_)) => {
                            handle.request_close(NOT_READING);
                            return;
                        }
                        Err(_) => return,
                    }
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
