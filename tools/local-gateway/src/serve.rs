//! Accepts and serves the HTTP connections (axum's `serve`, with hyper's
//! timer set: `axum::serve` sets none, so hyper's header read timeout never
//! ran and a client could hold a connection open forever).
//!
//! - A request head must arrive whole within the header timeout, and a
//!   kept-alive connection may wait that long for its next request: hyper
//!   starts the same timer when it starts reading a head, whether bytes
//!   came or not.
//! - Request bodies are read under the body timeout where they are read
//!   ([`crate::proxy::read_body`]); a route that does not read its body
//!   answers at once, and hyper closes a connection whose body was left
//!   unread.
//! - Upgraded (WebSocket) connections leave hyper and its timers; the
//!   WebSocket side has its own (idle timeout, lifetime, backlog).

use std::convert::Infallible;
use std::time::Duration;

use axum::extract::ConnectInfo;
use axum::Router;
use hyper::body::Incoming;
use hyper::server::conn::http1;
use hyper_util::rt::{TokioIo, TokioTimer};
use tokio::net::TcpListener;
use tokio::sync::{oneshot, watch};
use tokio::task::JoinHandle;
use tower_service::Service as _;
use tracing::{debug, warn};

/// Open HTTP connections (not upgraded ones); dropping it counts one less.
struct Open(watch::Sender<usize>);

impl Open {
    fn new(count: &watch::Sender<usize>) -> Self {
        count.send_modify(|n| *n += 1);
        Self(count.clone())
    }
}

impl Drop for Open {
    fn drop(&mut self) {
        self.0.send_modify(|n| *n = n.saturating_sub(1));
    }
}

/// Serves `router` on `listener` until `stop`; then stops accepting, lets
/// every open HTTP connection finish its request (idle ones close at once)
/// and returns once they are all closed. Every request carries
/// `ConnectInfo<SocketAddr>`.
pub(crate) fn spawn(
    listener: TcpListener,
    router: Router,
    header_timeout: Duration,
    mut stop: oneshot::Receiver<()>,
) -> JoinHandle<std::io::Result<()>> {
    tokio::spawn(async move {
        let mut builder = http1::Builder::new();
        builder
            .timer(TokioTimer::new())
            .header_read_timeout(header_timeout)
            .keep_alive(true);
        let (close_all, _) = watch::channel(false);
        let (open, _) = watch::channel(0usize);
        loop {
            let (tcp, peer) = tokio::select! {
                _ = &mut stop => break,
                accepted = listener.accept() => match accepted {
                    Ok(accepted) => accepted,
                    Err(err) => {
                        // As axum::serve: per-connection errors are the
                        // client's; others (out of file descriptors) wait a
                        // moment rather than spin.
                        if !is_connection_error(&err) {
                            warn!(error = %err, "accept failed");
                            tokio::time::sleep(Duration::from_millis(100)).await;
                        }
                        continue;
                    }
                },
            };
            let router = router.clone();
            let service =
                hyper::service::service_fn(move |mut request: http::Request<Incoming>| {
                    request.extensions_mut().insert(ConnectInfo(peer));
                    let mut router = router.clone();
                    async move {
                        let response: Result<_, Infallible> =
                            router.call(request.map(axum::body::Body::new)).await;
                        response
                    }
                });
            let connection = builder
                .serve_connection(TokioIo::new(tcp), service)
                .with_upgrades();
            let mut closing = close_all.subscribe();
            let counted = Open::new(&open);
            tokio::spawn(async move {
                let _counted = counted;
                tokio::pin!(connection);
                let result = tokio::select! {
                    result = connection.as_mut() => result,
                    () = async { let _ = closing.wait_for(|c| *c).await; } => {
                        connection.as_mut().graceful_shutdown();
                        connection.await
                    }
                };
                if let Err(err) = result {
                    // Timeouts and clients hanging up land here.
                    debug!(%peer, error = %err, "HTTP connection ended");
                }
            });
        }
        drop(listener);
        close_all.send_replace(true);
        let mut open = open.subscribe();
        let _ = open.wait_for(|n| *n == 0).await;
        Ok(())
    })
}

fn is_connection_error(err: &std::io::Error) -> bool {
    use std::io::ErrorKind;
    matches!(
        err.kind(),
        ErrorKind::ConnectionRefused | ErrorKind::ConnectionAborted | ErrorKind::ConnectionReset
    )
}
