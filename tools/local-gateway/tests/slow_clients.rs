//! Clients that start a request and never finish it, or keep a connection
//! open doing nothing, are closed: half-sent heads, half-sent bodies, idle
//! keep-alive connections, handshakes that never complete. Timeouts are
//! shortened to 1 s here; every wait is bounded.

#![allow(clippy::unwrap_used, clippy::expect_used)]

mod support;

use std::time::Duration;

use local_gateway::{
    GatewayEvent, DEFAULT_BODY_TIMEOUT, DEFAULT_HANDSHAKE_TIMEOUT, DEFAULT_HEADER_TIMEOUT,
};
use support::{first_status, read_until_closed, recv_text, send, start, Backend, Env};
use tokio::io::AsyncWriteExt as _;
use tokio::net::TcpStream;

const SHORT: Duration = Duration::from_secs(1);

async fn env() -> Env {
    start(Backend::Memory, |b| {
        b.header_timeout(SHORT)
            .body_timeout(SHORT)
            .handshake_timeout(SHORT)
    })
    .await
}

async fn open(env: &Env, first_bytes: &str) -> TcpStream {
    let mut stream = TcpStream::connect(env.gateway.addr()).await.unwrap();
    stream.write_all(first_bytes.as_bytes()).await.unwrap();
    stream
}

/// The gateway still serves: an echo on a fresh WebSocket.
async fn still_serves(env: &mut Env) {
    let (mut client, _) = env.connect(None).await;
    send(&mut client, "still here").await;
    assert_eq!(recv_text(&mut client).await, "still here");
}

#[test]
fn the_default_timeouts_are_at_most_30_seconds() {
    for timeout in [
        DEFAULT_HEADER_TIMEOUT,
        DEFAULT_BODY_TIMEOUT,
        DEFAULT_HANDSHAKE_TIMEOUT,
    ] {
        assert!(timeout <= Duration::from_secs(30), "{timeout:?}");
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn half_sent_request_heads_are_closed() {
    // GIVEN clients that send part of a request head and stop
    let mut env = env().await;
    let host = env.gateway.addr().to_string();
    let mut streams = Vec::new();
    for i in 0..30 {
        let partial = match i % 3 {
            0 => "GET /config.json HTTP/1.1\r\n".to_owned(),
            1 => format!("POST /staging/channels/a HTTP/1.1\r\nhost: {host}\r\ncontent-le"),
            _ => "GE".to_owned(),
        };
        streams.push(open(&env, &partial).await);
    }

    // THEN the gateway closes each (after the header timeout), answering
    // nothing but perhaps 408
    for stream in &mut streams {
        let seen = read_until_closed(stream).await;
        assert!(
            seen.is_empty() || first_status(&seen) == Some(408),
            "{:?}",
            String::from_utf8_lossy(&seen)
        );
    }
    still_serves(&mut env).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn half_sent_bodies_are_answered_408_and_closed() {
    // GIVEN a connection to post to
    let mut env = env().await;
    let (mut client, id) = env.connect(Some("a")).await;
    let host = env.gateway.addr().to_string();

    // WHEN clients announce 100 bytes of body and send 10, to the HTTP API
    // and to @connections
    let mut streams = Vec::new();
    for i in 0..20 {
        let path = if i % 2 == 0 {
            "/staging/channels/a".to_owned()
        } else {
            format!("/staging/@connections/{id}")
        };
        let head = format!(
            "POST {path} HTTP/1.1\r\nhost: {host}\r\ncontent-type: text/plain\r\n\
             content-length: 100\r\n\r\n0123456789"
        );
        streams.push(open(&env, &head).await);
    }

    // THEN each is answered 408 and closed
    for stream in &mut streams {
        let seen = read_until_closed(stream).await;
        assert_eq!(
            first_status(&seen),
            Some(408),
            "{:?}",
            String::from_utf8_lossy(&seen)
        );
    }
    // AND nothing was published or posted: the member's next message is
    // the next real one
    let (status, report) = env.publish(Some("a"), "whole").await;
    assert_eq!((status, &report["delivered"]), (200, &serde_json::json!(1)));
    assert_eq!(recv_text(&mut client).await, "whole");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_body_a_route_does_not_read_does_not_hold_the_connection() {
    // A route that answers without reading (the page) leaves the body; the
    // connection is closed rather than kept waiting for it.
    let env = env().await;
    let host = env.gateway.addr().to_string();
    let mut stream = open(
        &env,
        &format!("POST /config.json HTTP/1.1\r\nhost: {host}\r\ncontent-length: 100\r\n\r\n01234"),
    )
    .await;
    let seen = read_until_closed(&mut stream).await;
    assert_eq!(first_status(&seen), Some(405));
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn idle_keep_alive_connections_are_closed() {
    // GIVEN clients that make one request on a kept-alive connection, read
    // the answer, and then do nothing
    let env = env().await;
    let host = env.gateway.addr().to_string();
    let mut streams = Vec::new();
    for _ in 0..20 {
        let stream = open(
            &env,
            &format!("GET /config.json HTTP/1.1\r\nhost: {host}\r\n\r\n"),
        )
        .await;
        streams.push(stream);
    }
    // THEN each got its answer, and then the gateway closed the connection
    for stream in &mut streams {
        let seen = read_until_closed(stream).await;
        assert_eq!(first_status(&seen), Some(200));
        let text = String::from_utf8_lossy(&seen);
        assert!(
            !text.to_ascii_lowercase().contains("connection: close"),
            "kept alive at first: {text}"
        );
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_websocket_handshake_that_does_not_complete_is_closed() {
    // GIVEN clients that start a WebSocket handshake and stop half-way
    let mut env = env().await;
    let host = env.gateway.addr().to_string();
    let mut streams = Vec::new();
    for _ in 0..20 {
        let partial = format!(
            "GET /staging HTTP/1.1\r\nhost: {host}\r\nconnection: upgrade\r\nupgrade: websocket\r\n\
             sec-websocket-version: 13\r\n"
        );
        streams.push(open(&env, &partial).await);
    }
    // THEN each is closed, and none became a connection
    for stream in &mut streams {
        let seen = read_until_closed(stream).await;
        assert_ne!(first_status(&seen), Some(101));
    }
    assert!(env.gateway.connections().is_empty());
    assert!(!env
        .drain_events()
        .iter()
        .any(|e| matches!(e, GatewayEvent::Connected { .. })));
    still_serves(&mut env).await;
}
