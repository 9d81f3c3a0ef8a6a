//! What an `lrw.v1` subscribe costs on the local gateway (in memory) beside
//! the cheapest round trip it serves, an echo: both from a client on
//! 127.0.0.1, over the same kind of socket, interleaved pair by pair so
//! that both see the same machine.
//!
//! `cargo bench --profile local -p local-gateway --bench subscribe`
//! (`ROUNDS=` overrides the 2,000 measured pairs). A subscribe here is the
//! commands handler's whole path: the connection read, the conditional
//! membership write, the channel's position; it is followed (unmeasured) by
//! an unsubscribe, so that every measured subscribe adds a membership.

#![allow(clippy::unwrap_used, clippy::expect_used)]

use std::time::{Duration, Instant};

use futures::{SinkExt as _, StreamExt as _};
use local_gateway::Gateway;
use tokio_tungstenite::tungstenite::client::IntoClientRequest as _;
use tokio_tungstenite::tungstenite::Message;

type Client =
    tokio_tungstenite::WebSocketStream<tokio_tungstenite::MaybeTlsStream<tokio::net::TcpStream>>;

const WAIT: Duration = Duration::from_secs(10);

fn main() {
    let rounds = std::env::var("ROUNDS")
        .ok()
        .and_then(|v| v.parse().ok())
        .unwrap_or(2000usize);
    let runtime = tokio::runtime::Builder::new_multi_thread()
        .enable_all()
        .build()
        .expect("a runtime");
    runtime.block_on(run(rounds));
}

async fn connect(url: &str, v1: bool) -> Client {
    let mut request = url.into_client_request().expect("a URL");
    if v1 {
        request.headers_mut().insert(
            "sec-websocket-protocol",
            http::HeaderValue::from_static("lrw.v1"),
        );
    }
    tokio_tungstenite::connect_async(request)
        .await
        .expect("connect")
        .0
}

async fn round_trip(client: &mut Client, frame: &str) -> (Duration, String) {
    let started = Instant::now();
    client.send(Message::text(frame)).await.expect("send");
    let reply = tokio::time::timeout(WAIT, async {
        loop {
            match client.next().await {
                Some(Ok(Message::Text(text))) => return text.as_str().to_owned(),
                Some(Ok(_)) => {}
                other => panic!("the socket ended: {other:?}"),
            }
        }
    })
    .await
    .expect("a reply in time");
    (started.elapsed(), reply)
}

fn median(samples: &mut [Duration]) -> Duration {
    samples.sort_unstable();
    samples[samples.len() / 2]
}

async fn run(rounds: usize) {
    let gateway = Gateway::builder()
        .bind("127.0.0.1:0")
        .await
        .expect("the gateway starts");
    let mut raw = connect(&format!("{}?channel=echo", gateway.ws_url()), false).await;
    let mut v1 = connect(&gateway.ws_url(), true).await;
    let (mut echoes, mut subscribes) = (Vec::new(), Vec::new());
    // One warm-up pair, then the measured ones.
    for i in 0..=rounds {
        let channel = format!("room-{}", i % 50);
        let (echo, reply) = round_trip(&mut raw, "hello").await;
        assert_eq!(reply, "hello");
        let subscribe = format!(r#"{{"action":"subscribe","id":"s","channel":"{channel}"}}"#);
        let (took, reply) = round_trip(&mut v1, &subscribe).await;
        assert!(reply.contains(r#""type":"subscribed""#), "{reply}");
        let unsubscribe = format!(r#"{{"action":"unsubscribe","id":"u","channel":"{channel}"}}"#);
        let (_, reply) = round_trip(&mut v1, &unsubscribe).await;
        assert!(reply.contains(r#""type":"unsubscribed""#), "{reply}");
        if i > 0 {
            echoes.push(echo);
            subscribes.push(took);
        }
    }
    let (echo, subscribe) = (median(&mut echoes), median(&mut subscribes));
    println!(
        "subscribe rounds={rounds} subscribe_us={:.1} echo_us={:.1} ratio={:.2}",
        subscribe.as_secs_f64() * 1e6,
        echo.as_secs_f64() * 1e6,
        subscribe.as_secs_f64() / echo.as_secs_f64()
    );
    gateway.shutdown().await;
}
