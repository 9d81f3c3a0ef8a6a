//! The table's stream, played: membership changes from the store go to the
//! presence handler ([`http_lambda::presence::handle`]) as DynamoDB Stream
//! records, in batches, as the event source mapping delivers them on AWS.

use std::sync::Arc;

use channels::presence::MembershipChange;
use channels::Store;
use http_lambda::presence::{stream_record, StreamEvent};
use lambda_runtime::LambdaEvent;
use tokio::sync::{mpsc, watch};
use tracing::warn;

use crate::proxy::lambda_context;
use crate::state::Shared;
use crate::util::new_id;

/// Most records in one batch (the mapping's batch size on AWS is a setting).
const BATCH: usize = 100;

/// Feeds the presence handler until the changes end or shutdown begins.
pub(crate) fn start(
    shared: &Arc<Shared>,
    mut changes: mpsc::UnboundedReceiver<MembershipChange>,
    mut shutdown: watch::Receiver<bool>,
) {
    let shared = Arc::clone(shared);
    tokio::spawn(async move {
        let mut sequence = 0u64;
        loop {
            let first = tokio::select! {
                change = changes.recv() => match change {
                    Some(change) => change,
                    None => return,
                },
                _ = shutdown.wait_for(|s| *s) => return,
            };
            let mut batch = vec![first];
            while batch.len() < BATCH {
                match changes.try_recv() {
                    Ok(change) => batch.push(change),
                    Err(_) => break,
                }
            }
            let shards = shared.store.shards();
            let records = batch
                .iter()
                .map(|change| {
                    sequence += 1;
                    stream_record(change, shards, sequence)
                })
                .collect();
            let request_id = new_id();
            let response = http_lambda::presence::handle(
                LambdaEvent::new(StreamEvent { records }, lambda_context(&request_id)),
                &shared.presence,
            )
            .await;
            if !response.batch_item_failures.is_empty() {
                // On AWS the mapping retries; here the events are dropped.
                warn!(
                    failed = response.batch_item_failures.len(),
                    "presence events failed"
                );
            }
        }
    });
}
