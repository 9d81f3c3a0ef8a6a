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

use axum::extract::ws::{CloseFrame, Message, WebSocket};
use channels::{now_millis, MAX_MESSAGE_BYTES};
use futures::stream::{SplitSink, SplitStream};
use futures::{SinkExt, StreamExt};
use tokio::sync::{mpsc, oneshot};
use tokio::task::JoinHandle;
use tokio::time::{sleep_until, Instant};

use super::connection::Conn;
use crate::registry::{
    Closing, ConnectionHandle, Outbound, BINARY, DELETED, IDLE, LIFETIME, SHUTDOWN, TOO_BIG,
};

/// How long a close handshake may take before the socket is dropped.
const CLOSE_GRACE: Duration = Duration::from_secs(2);

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
        Ending::Client { .. } | Ending::Lost(_) => None,
    };
    if let Some(frame) = conn.shared.registry.close(&conn.handle, closing) {
        // The queue is full: the close frame goes first.
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
    };
    writer.abort();
    drop(stream);
    conn.end(code, &reason).await;
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
                    conn.message(text.as_str().to_owned()).await;
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
