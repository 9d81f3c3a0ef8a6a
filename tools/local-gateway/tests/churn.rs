//! Churn: 2,000 clients connect to one channel; 40 % close politely, 40 %
//! drop their TCP connection without a close frame, the rest stay. Then
//! nothing has leaked (the gateway and the store hold exactly the clients
//! that stayed, each `$disconnect` fired once with its code) and nothing is
//! lost (a publish reaches every client that stayed, once). On the in-memory
//! store (`memory::…`) and on DynamoDB in moto with every post through the
//! real `@connections` client (`moto::…`, ignored by plain `cargo test`;
//! `make test` runs it).

#![allow(clippy::unwrap_used, clippy::expect_used)]

mod support;

use std::collections::{BTreeMap, BTreeSet};
use std::sync::{Arc, Mutex};
use std::time::Duration;

use channels::{ChannelName, Store};
use futures::StreamExt as _;
use local_gateway::GatewayEvent;
use support::{recv_text, start, Backend, Client, WAIT};
use tokio::sync::{broadcast, watch};
use tokio_tungstenite::tungstenite::protocol::frame::coding::CloseCode;
use tokio_tungstenite::tungstenite::protocol::CloseFrame;

const CONNECTS: usize = 2000;
const POLITE: usize = CONNECTS * 2 / 5;
const DROPPED: usize = CONNECTS * 2 / 5;
const KEPT: usize = CONNECTS - POLITE - DROPPED;
/// Handshakes or closes in flight at once.
const AT_ONCE: usize = 32;
/// The whole scenario is bounded by this. On moto it takes about 3 minutes
/// on a 2-core machine (moto answers a few hundred requests a second); in
/// memory, seconds.
const CHURN_WAIT: Duration = Duration::from_secs(480);
const CHANNEL: &str = "churn";

mod memory {
    #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
    async fn two_thousand_connects_with_churn_leak_nothing_and_lose_nothing() {
        super::churn(super::Backend::Memory).await;
    }
}

#[cfg(feature = "aws")]
mod moto {
    #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
    #[ignore = "needs moto_server; `make test` runs it"]
    async fn two_thousand_connects_with_churn_leak_nothing_and_lose_nothing() {
        super::churn(super::Backend::Moto).await;
    }
}

/// Every gateway event, collected as it comes (the gateway's event channel
/// holds 1,024: 2,000 connects would overflow a reader that waits), with
/// the number of `$disconnect`s so far to wait on.
struct Collector {
    seen: Arc<Mutex<Vec<GatewayEvent>>>,
    disconnects: watch::Receiver<usize>,
}

impl Collector {
    fn start(mut events: broadcast::Receiver<GatewayEvent>) -> Self {
        let seen = Arc::new(Mutex::new(Vec::new()));
        let (count, disconnects) = watch::channel(0);
        let into = Arc::clone(&seen);
        tokio::spawn(async move {
            loop {
                match events.recv().await {
                    Ok(event) => {
                        let disconnect = matches!(event, GatewayEvent::Disconnected { .. });
                        // Kept before it is counted: a waiter then sees it.
                        into.lock().unwrap().push(event);
                        if disconnect {
                            count.send_modify(|n| *n += 1);
                        }
                    }
                    Err(broadcast::error::RecvError::Lagged(n)) => {
                        panic!("{n} gateway events were missed")
                    }
                    Err(broadcast::error::RecvError::Closed) => return,
                }
            }
        });
        Self { seen, disconnects }
    }

    async fn wait_disconnects(&mut self, n: usize) {
        let waited = tokio::time::timeout(CHURN_WAIT, async {
            let _ = self.disconnects.wait_for(|d| *d >= n).await;
        })
        .await;
        let seen = *self.disconnects.borrow();
        assert!(waited.is_ok() && seen >= n, "{seen} of {n} $disconnects");
    }

    /// Connected ids, and `$disconnect` codes by id (each id once).
    fn tally(&self) -> (BTreeSet<String>, BTreeMap<String, u16>) {
        let mut connected = BTreeSet::new();
        let mut disconnected = BTreeMap::new();
        for event in self.seen.lock().unwrap().iter() {
            match event {
                GatewayEvent::Connected { connection_id } => {
                    assert!(
                        connected.insert(connection_id.clone()),
                        "{connection_id} twice"
                    );
                }
                GatewayEvent::Disconnected {
                    connection_id,
                    status_code,
                    ..
                } => {
                    let before = disconnected.insert(connection_id.clone(), *status_code);
                    assert!(before.is_none(), "two $disconnects for {connection_id}");
                }
                _ => {}
            }
        }
        (connected, disconnected)
    }
}

enum Leave {
    Polite(Client),
    Drop(Client),
}

async fn churn(backend: Backend) {
    let env = start(backend, |b| b).await;
    let mut collector = Collector::start(env.gateway.events());
    tokio::time::timeout(CHURN_WAIT, scenario(env, &mut collector))
        .await
        .expect("the churn is over in time");
}

async fn scenario(env: support::Env, collector: &mut Collector) {
    // GIVEN 2,000 clients of one channel
    let url = format!("{}?channel={CHANNEL}", env.gateway.ws_url());
    let mut clients: Vec<Client> = futures::stream::iter(0..CONNECTS)
        .map(|_| {
            let url = url.clone();
            async move {
                tokio::time::timeout(WAIT, tokio_tungstenite::connect_async(url))
                    .await
                    .expect("a handshake in time")
                    .expect("the handshake succeeds")
                    .0
            }
        })
        .buffer_unordered(AT_ONCE)
        .collect()
        .await;
    assert_eq!(env.count(CHANNEL).await, CONNECTS as u64);

    // WHEN 40 % close politely and 40 % drop without a close frame, mixed
    let kept: Vec<Client> = clients.split_off(POLITE + DROPPED);
    let mut leaving: Vec<Leave> = clients
        .into_iter()
        .enumerate()
        .map(|(i, c)| {
            if i < POLITE {
                Leave::Polite(c)
            } else {
                Leave::Drop(c)
            }
        })
        .collect();
    fastrand::shuffle(&mut leaving);
    futures::stream::iter(leaving)
        .for_each_concurrent(AT_ONCE, |leave| async move {
            match leave {
                Leave::Polite(mut client) => {
                    let frame = CloseFrame {
                        code: CloseCode::Normal,
                        reason: "bye".into(),
                    };
                    let _ = client.close(Some(frame)).await;
                    let _ = tokio::time::timeout(WAIT, async {
                        while let Some(Ok(_)) = client.next().await {}
                    })
                    .await;
                }
                Leave::Drop(client) => drop(client),
            }
        })
        .await;
    collector.wait_disconnects(POLITE + DROPPED).await;

    // THEN each of the 2,000 connected once, each that left got one
    // $disconnect with its code, and none that stayed got one
    let (connected, disconnected) = collector.tally();
    assert_eq!(connected.len(), CONNECTS);
    assert_eq!(disconnected.len(), POLITE + DROPPED);
    let codes = disconnected
        .values()
        .fold(BTreeMap::new(), |mut codes, code| {
            *codes.entry(*code).or_insert(0usize) += 1;
            codes
        });
    assert_eq!(codes, BTreeMap::from([(1000, POLITE), (1006, DROPPED)]));
    let stayed: BTreeSet<String> = connected
        .difference(&disconnected.keys().cloned().collect())
        .cloned()
        .collect();
    assert_eq!(stayed.len(), KEPT);
    // AND nothing leaked: the gateway and the store hold exactly those
    let open: BTreeSet<String> = env.gateway.connections().into_iter().collect();
    assert_eq!(open, stayed);
    let store = env.gateway.store();
    let channel = ChannelName::parse(CHANNEL).unwrap();
    let mut members = BTreeSet::new();
    for shard in store.shards().all() {
        let mut after = None;
        loop {
            let page = store
                .members(&channel, shard, after.take(), None)
                .await
                .unwrap();
            members.extend(page.members.into_iter().map(|m| m.connection_id));
            match page.next {
                Some(next) => after = Some(next),
                None => break,
            }
        }
    }
    assert_eq!(members, stayed);
    assert_eq!(env.count(CHANNEL).await, KEPT as u64);

    // AND nothing is lost: a publish reaches each of them, once
    let mut kept = kept;
    for body in ["after the churn", "and once more"] {
        let (status, report) = env.publish(Some(CHANNEL), body).await;
        assert_eq!(status, 200, "{report}");
        assert_eq!(
            (
                &report["recipients"],
                &report["delivered"],
                &report["gone"],
                &report["failed"]
            ),
            (
                &serde_json::json!(KEPT),
                &serde_json::json!(KEPT),
                &serde_json::json!(0),
                &serde_json::json!(0)
            ),
            "{report}"
        );
        for client in &mut kept {
            assert_eq!(recv_text(client).await, body);
        }
    }

    // AND when the gateway stops, the rest leave as cleanly
    let store = store.clone();
    let support::Env {
        gateway,
        moto: _moto,
        ..
    } = env;
    gateway.shutdown().await;
    collector.wait_disconnects(CONNECTS).await;
    let (_, disconnected) = collector.tally();
    assert_eq!(disconnected.len(), CONNECTS);
    assert_eq!(channels::count(&store, &channel).await.unwrap(), 0);
    for client in &mut kept {
        let _ = client.close(None).await;
    }
}
