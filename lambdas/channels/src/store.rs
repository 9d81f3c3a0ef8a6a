use std::future::Future;

use crate::{ChannelName, Connection};

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

/// Port: where connections are kept, by channel.
pub trait ConnectionStore: Send + Sync {
    /// Stores (or replaces) a connection.
    fn put(&self, connection: &Connection) -> impl Future<Output = Result<(), StoreError>> + Send;

    /// Removes a connection by id. Removing one that is not there succeeds.
    fn remove(&self, connection_id: &str) -> impl Future<Output = Result<(), StoreError>> + Send;

    /// One page of the live (unexpired) members of `channel`, starting after
    /// `cursor` (a [`Page::next`] from the previous call).
    fn members(
        &self,
        channel: &ChannelName,
        cursor: Option<String>,
    ) -> impl Future<Output = Result<Page, StoreError>> + Send;

    /// How many live members `channel` has.
    fn count(&self, channel: &ChannelName) -> impl Future<Output = Result<u64, StoreError>> + Send;
}
