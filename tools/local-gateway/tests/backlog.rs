//! What waits to be written to one connection is bounded in bytes, pongs
//! included: a client that does not read is closed with 1008 once its
//! backlog passes the limit, a full queue in messages still answers 429 and
//! keeps the connection, and a client that reads is never closed, however
//! much goes through it.

#![allow(clippy::unwrap_used, clippy::expect_used)]

mod support;

use std::time::Duration;

use futures::{SinkExt as _, StreamExt as _};
use local_gateway::GatewayEvent;
use support::{recv_text, send, start, Backend, Env, WAIT};
use tokio_tungstenite::tungstenite::Message;

/// A flood is bounded by this too.
const FLOOD_WAIT: Duration = Duration::from_secs(60);

async fn post(env: &Env, id: &str, body: Vec<u8>) -> (u16, serde_json::Value) {
    let response = env
        .http
        .post(env.url(&format!("/@connections/{id}")))
        .body(body)
        .send()
        .await
        .expect("an answer");
    support::json(response).await
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_client_that_floods_pings_and_never_reads_is_closed_with_1008() {
    // GIVEN a client that never reads (a small receive buffer), on the
    // default backlog limit (4 MiB)
    let mut env = start(Backend::Memory, |b| b).await;
    let (mut flooder, id) = env.connect_slow_reader(Some("a")).await;

    // WHEN it sends up to 600,000 pings of 125 bytes (76 MB of pongs owed)
    let ping = Message::Ping(vec![b'p'; 125].into());
    let mut sent = 0usize;
    tokio::time::timeout(FLOOD_WAIT, async {
        while sent < 600_000 {
            for _ in 0..500 {
                if flooder.feed(ping.clone()).await.is_err() {
                    return;
                }
                sent += 1;
            }
            if flooder.flush().await.is_err() {
                return;
            }
        }
    })
    .await
    .expect("the flood ends in time");

    // THEN the gateway closed it with 1008 long before the flood's end
    let (code, reason) = env.disconnected(&id).await;
    assert_eq!(code, 1008, "{reason}");
    assert!(reason.contains("does not read"), "{reason}");
    assert!(sent < 600_000, "still open after {sent} pings");
    assert!(!env.gateway.connections().contains(&id));
    assert_eq!(env.count("a").await, 0);
    // AND the gateway serves others as before
    let (mut other, _) = env.connect(None).await;
    send(&mut other, "hello").await;
    assert_eq!(recv_text(&mut other).await, "hello");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn posts_past_the_byte_limit_close_a_client_that_does_not_read_with_1008() {
    // GIVEN a queue long in messages but a backlog limit of 1 MiB, and a
    // client that does not read
    let mut env = start(Backend::Memory, |b| {
        b.outbound_buffer(10_000).outbound_bytes(1024 * 1024)
    })
    .await;
    let (_silent, id) = env.connect_slow_reader(None).await;

    // WHEN 64 KiB messages are posted to it
    let mut refused = None;
    for _ in 0..2000 {
        let (status, body) = post(&env, &id, vec![b'x'; 64 * 1024]).await;
        match status {
            200 => {}
            429 => {
                refused = Some(body);
                break;
            }
            other => panic!("unexpected {other}: {body}"),
        }
    }

    // THEN the post that would pass the limit is refused 429, saying why
    let refused = refused.expect("a post is refused");
    let message = refused["message"].as_str().unwrap();
    assert!(
        message.contains("bytes") && message.contains("1008"),
        "{message}"
    );
    // AND the connection is closed with 1008, and later posts find it gone
    let (code, _) = env.disconnected(&id).await;
    assert_eq!(code, 1008);
    let (status, _) = post(&env, &id, b"late".to_vec()).await;
    assert_eq!(status, 410);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_full_queue_answers_429_and_keeps_the_connection() {
    // GIVEN room for one queued message, and a client that is not reading
    // for now
    let mut env = start(Backend::Memory, |b| b.outbound_buffer(1)).await;
    let (mut client, id) = env.connect_slow_reader(None).await;

    // WHEN posts keep coming until the queue is full
    let mut refused = None;
    let mut delivered = 0;
    for _ in 0..2000 {
        let (status, body) = post(&env, &id, vec![b'x'; 128 * 1024]).await;
        match status {
            200 => delivered += 1,
            429 => {
                refused = Some(body);
                break;
            }
            other => panic!("unexpected {other}: {body}"),
        }
    }

    // THEN 429 says the queue is full, and the connection stays
    let message = refused.expect("a post is refused")["message"]
        .as_str()
        .unwrap()
        .to_owned();
    assert!(message.contains("messages"), "{message}");
    assert!(env.gateway.connections().contains(&id));
    // AND once the client reads, it gets every accepted message, and the
    // connection works as before
    for _ in 0..delivered {
        assert_eq!(recv_text(&mut client).await.len(), 128 * 1024);
    }
    send(&mut client, "echo").await;
    assert_eq!(recv_text(&mut client).await, "echo");
    assert!(!env
        .drain_events()
        .iter()
        .any(|e| matches!(e, GatewayEvent::Disconnected { .. })));
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_client_that_reads_is_never_closed_however_much_passes_through() {
    // GIVEN the smallest backlog limit (one 128 KiB message) and a client
    // that reads, through a small receive buffer
    let mut env = start(Backend::Memory, |b| b.outbound_bytes(0)).await;
    let (mut client, id) = env.connect_slow_reader(None).await;

    // WHEN 200 messages of 32 KiB are posted (50 times the limit), each
    // once the previous one arrived
    for i in 0..200 {
        let (status, body) = post(&env, &id, vec![b'0' + (i % 10) as u8; 32 * 1024]).await;
        assert_eq!(status, 200, "post {i}: {body}");
        assert_eq!(recv_text(&mut client).await.len(), 32 * 1024);
    }
    // AND 10,000 pings are answered (1.2 MiB of pongs), 500 at a time
    let ping = Message::Ping(vec![b'p'; 125].into());
    for _ in 0..20 {
        for _ in 0..500 {
            client.feed(ping.clone()).await.unwrap();
        }
        client.flush().await.unwrap();
        let mut pongs = 0;
        tokio::time::timeout(WAIT, async {
            while pongs < 500 {
                match client.next().await {
                    Some(Ok(Message::Pong(_))) => pongs += 1,
                    other => panic!("expected a pong, got {other:?}"),
                }
            }
        })
        .await
        .expect("the pongs in time");
    }

    // THEN the backlog came back to nothing each time: still open
    let (status, _) = post(&env, &id, b"last".to_vec()).await;
    assert_eq!(status, 200);
    assert_eq!(recv_text(&mut client).await, "last");
    assert!(!env
        .drain_events()
        .iter()
        .any(|e| matches!(e, GatewayEvent::Disconnected { .. })));
}
