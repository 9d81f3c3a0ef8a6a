//! The asynchronous publish end to end through the local gateway, with real
//! WebSocket clients: a channel bigger than `sync_max`, spread over shards,
//! gets a 202 and every member gets the message exactly once, through the
//! in-memory queue and worker pool, and through SQS (moto).

#![allow(clippy::unwrap_used, clippy::expect_used)]

mod support;

use std::time::Duration;

use futures::{SinkExt as _, StreamExt as _};
use local_gateway::QueueConfig;
use serde_json::json;
use support::{start, Backend, Client, Env};
use tokio_tungstenite::tungstenite::Message;

/// Every wait for a bulk operation is bounded by this.
const BULK_WAIT: Duration = Duration::from_secs(90);

/// Connects `n` clients to `channel`, 64 handshakes at a time.
async fn connect_many(env: &Env, channel: &str, n: usize) -> Vec<Client> {
    let url = format!("{}?channel={channel}", env.gateway.ws_url());
    let clients: Vec<Client> = tokio::time::timeout(
        BULK_WAIT,
        futures::stream::iter(0..n)
            .map(|_| {
                let url = url.clone();
                async move {
                    let (client, response) = tokio_tungstenite::connect_async(url.as_str())
                        .await
                        .expect("the handshake succeeds");
                    assert_eq!(response.status(), 101);
                    client
                }
            })
            .buffer_unordered(64)
            .collect(),
    )
    .await
    .expect("every client connects in time");
    assert_eq!(env.count(channel).await, n as u64, "all stored");
    clients
}

/// The next data message of `client`, as text.
async fn next_text(client: &mut Client) -> String {
    loop {
        match client.next().await.expect("open").expect("a frame") {
            Message::Text(text) => return text.as_str().to_owned(),
            Message::Ping(_) | Message::Pong(_) => {}
            other => panic!("unexpected {other:?}"),
        }
    }
}

/// Every client gets `expected` once, and nothing else before its own echo
/// (a duplicate would arrive before it: a connection's messages keep their
/// order).
async fn each_gets_it_exactly_once(clients: &mut [Client], expected: &str) {
    tokio::time::timeout(BULK_WAIT, async {
        for client in clients.iter_mut() {
            assert_eq!(next_text(client).await, expected);
        }
        for client in clients.iter_mut() {
            client.send(Message::text("echo")).await.expect("send");
        }
        for client in clients.iter_mut() {
            assert_eq!(next_text(client).await, "echo", "a duplicate came first");
        }
    })
    .await
    .expect("every member got the message in time");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn five_thousand_members_over_the_async_path_each_get_it_exactly_once() {
    // GIVEN 5,000 members of one channel over 8 shards, and a gateway that
    // keeps publishes of more than 100 members for its 4 workers
    let env = start(Backend::Memory, |b| {
        b.sync_max(100)
            .channel_shards(channels::Shards::new(8).unwrap())
            .queue(QueueConfig::Memory { workers: 4 })
    })
    .await;
    let mut clients = connect_many(&env, "crowd", 5000).await;

    // WHEN a message is published to it
    let (status, body) = env.publish(Some("crowd"), "to the crowd").await;

    // THEN the answer is 202 with the publish id and the shards
    assert_eq!(status, 202, "{body}");
    assert_eq!(body["channel"], "crowd");
    assert_eq!(body["mode"], "async");
    assert_eq!(body["shards"], 8);
    assert_eq!(body["publishId"].as_str().map(str::len), Some(32), "{body}");
    assert_eq!(body["offset"], 1, "the channel's first offset: {body}");
    // AND every member gets it exactly once
    each_gets_it_exactly_once(&mut clients, "to the crowd").await;

    // AND a small channel stays synchronous, with its exact report
    let (status, body) = env.publish(Some("quiet"), "nobody").await;
    assert_eq!(status, 200);
    assert_eq!(
        body,
        json!({"channel": "quiet", "offset": 1, "recipients": 0, "delivered": 0, "gone": 0, "failed": 0})
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
#[cfg(feature = "aws")]
#[ignore = "needs moto_server; `make test` runs it"]
async fn moto_sqs_the_async_path_delivers_to_every_member_once() {
    // GIVEN an SQS queue at a moto_server, 300 members over 4 shards, and
    // the workers posting through the real @connections client, as on AWS
    let moto = channels_aws::testing::MotoServer::start().expect("moto_server");
    let endpoint = moto.endpoint();
    let env = start(Backend::Memory, |b| {
        b.sync_max(10)
            .notifier(local_gateway::NotifierMode::Sdk)
            .channel_shards(channels::Shards::new(4).unwrap())
            .queue(QueueConfig::Sqs {
                endpoint,
                queue: "publish-test".into(),
                workers: 2,
            })
    })
    .await;
    let mut clients = connect_many(&env, "room", 300).await;

    // WHEN a message is published, THEN 202 and each member gets it once
    let (status, body) = env.publish(Some("room"), "via SQS").await;
    assert_eq!(status, 202, "{body}");
    assert_eq!(body["shards"], 4);
    each_gets_it_exactly_once(&mut clients, "via SQS").await;
    drop(moto);
}
