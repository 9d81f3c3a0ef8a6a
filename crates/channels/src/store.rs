use std::future::Future;

use crate::{ChannelName, Connection, Shards};

/// One page of a channel's members.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct Page {
    pub connection_ids: Vec<String>,
    /// Where the next page starts; `None` on the last page.
    pub next: Option<String>,
}

/// A store failure. Its message names the operation and never goes to clients.
#[derive(Debug, thiserror::Error)]
#[error("connection store: {operation} failed: {message}")]
pub struct StoreError {
    pub operation: &'static str,
    pub message: String,
}

impl StoreError {
    pub fn new(operation: &'static str, message: impl Into<String>) -> Self {
        Self {
            operation,
            message: message.into(),
        }
    }
}

/// Port: where connections are kept, by channel and shard
/// ([`Shards::of`] the connection id).
pub trait ConnectionStore: Send + Sync {
    /// How many shards each channel is spread over.
    fn shards(&self) -> Shards;

    /// Stores (or replaces) a connection, in its shard.
    fn put(&self, connection: &Connection) -> impl Future<Output = Result<(), StoreError>> + Send;

    /// Removes a connection by id. Removing one that is not there succeeds.
    fn remove(&self, connection_id: &str) -> impl Future<Output = Result<(), StoreError>> + Send;

    /// One page of the live (unexpired) members of one shard of `channel`,
    /// starting after `cursor` (a [`Page::next`] from the previous call). A
    /// `limit` caps how many items the page examines (the store's own page
    /// size otherwise).
    fn members(
        &self,
        channel: &ChannelName,
        shard: u16,
        cursor: Option<String>,
        limit: Option<u32>,
    ) -> impl Future<Output = Result<Page, StoreError>> + Send;

    /// How many live members one shard of `channel` has.
    fn count(
        &self,
        channel: &ChannelName,
        shard: u16,
    ) -> impl Future<Output = Result<u64, StoreError>> + Send;
}

/// How many live members `channel` has: every shard counted, in parallel.
pub async fn count<S: ConnectionStore>(
    store: &S,
    channel: &ChannelName,
) -> Result<u64, StoreError> {
    let counts = futures::future::try_join_all(
        store
            .shards()
            .all()
            .map(|shard| store.count(channel, shard)),
    )
    .await?;
    Ok(counts.into_iter().sum())
}
