//! The store the gateway hands to every handler: the domain's in-memory
//! one, or (feature `aws`) the DynamoDB adapter against any
//! DynamoDB-compatible endpoint.
//!
//! Either way the membership changes reach the presence handler as a
//! stream would: the in-memory store reports every membership it inserts or
//! removes, expiries included; on DynamoDB the gateway reports the changes
//! it makes itself (joins, leaves, disconnects and 410 clean-ups), but not
//! TTL deletions, which only the table's real stream would carry.

use std::sync::Arc;

use channels::memory::MemoryStore;
use channels::message::{Position, StoredMessage};
use channels::presence::MembershipChange;
use channels::{
    ChannelName, Connection, Grants, KeyClaim, Membership, Page, Shards, Store, StoreError,
    Subscribed,
};
use tokio::sync::mpsc;

/// Which store the gateway runs on.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub enum StoreConfig {
    /// The embedded in-memory store: nothing to install, gone on exit.
    #[default]
    Memory,
    /// The DynamoDB adapter the Lambda functions use, against any
    /// DynamoDB-compatible endpoint (DynamoDB Local, moto, LocalStack, or
    /// DynamoDB itself). The table is created when absent, with the layout
    /// Terraform declares. Needs the gateway built with feature `aws`.
    Dynamo { endpoint: String, table: String },
}

impl std::fmt::Display for StoreConfig {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            Self::Memory => f.write_str("in-memory store"),
            Self::Dynamo { endpoint, table } => write!(f, "DynamoDB table {table} at {endpoint}"),
        }
    }
}

/// Where membership changes go (the presence handler), when anywhere.
pub(crate) type Changes = Option<mpsc::UnboundedSender<MembershipChange>>;

/// The store every handler shares. The port's traits return `impl Future`,
/// so they cannot be boxed as `dyn`; this enum delegates instead.
#[derive(Clone, Debug)]
pub enum LocalStore {
    Memory(Arc<MemoryStore>),
    #[cfg(feature = "aws")]
    Dynamo(channels_aws::dynamo::DynamoStore, Changes),
}

/// Why the gateway cannot open its store.
#[derive(Debug, thiserror::Error)]
pub enum OpenError {
    #[error(transparent)]
    Store(#[from] StoreError),
    #[error("{0} needs the gateway built with the `aws` feature: run it through `make local` with the endpoint set, or `cargo run -p local-gateway --features aws`")]
    NotBuilt(&'static str),
}

impl LocalStore {
    /// Builds the store `config` describes, spreading channels over
    /// `shards` and reporting membership changes to `changes`; for
    /// DynamoDB, creates the table when it is absent.
    pub(crate) async fn open(
        config: &StoreConfig,
        shards: Shards,
        changes: Changes,
    ) -> Result<Self, OpenError> {
        match config {
            StoreConfig::Memory => {
                let mut store = MemoryStore::new().with_shards(shards);
                if let Some(changes) = changes {
                    store = store.with_changes(changes);
                }
                Ok(Self::Memory(Arc::new(store)))
            }
            #[cfg(feature = "aws")]
            StoreConfig::Dynamo { endpoint, table } => {
                let client = crate::aws::dynamodb_client(endpoint).await;
                channels_aws::dynamo::ensure_table(&client, table).await?;
                Ok(Self::Dynamo(
                    channels_aws::dynamo::DynamoStore::new(client, table.clone())
                        .with_shards(shards),
                    changes,
                ))
            }
            #[cfg(not(feature = "aws"))]
            StoreConfig::Dynamo { .. } => Err(OpenError::NotBuilt("a DynamoDB endpoint")),
        }
    }

    /// The in-memory store, when that is the one.
    pub fn memory(&self) -> Option<Arc<MemoryStore>> {
        match self {
            Self::Memory(store) => Some(Arc::clone(store)),
            #[cfg(feature = "aws")]
            Self::Dynamo(..) => None,
        }
    }
}

#[cfg(feature = "aws")]
fn report(changes: &Changes, kind: channels::presence::ChangeKind, memberships: Vec<Membership>) {
    if let Some(sink) = changes {
        for membership in memberships {
            let _ = sink.send(MembershipChange {
                kind,
                membership,
                expired: false,
            });
        }
    }
}

/// The membership just stored for `connection` in `channel`, read back so
/// that its report carries the subscribe time the item has (the stream's
/// new image would); the connection's own, subscribed now, if it is gone
/// again already.
#[cfg(feature = "aws")]
async fn stored(
    store: &channels_aws::dynamo::DynamoStore,
    connection: &Connection,
    channel: &ChannelName,
) -> Result<Membership, StoreError> {
    Ok(store
        .membership(&connection.id, channel)
        .await?
        .unwrap_or_else(|| connection.membership(channel)))
}

/// Runs `$call` on whichever store this is.
macro_rules! each {
    ($self:ident, $store:ident => $call:expr) => {
        match $self {
            Self::Memory($store) => $call,
            #[cfg(feature = "aws")]
            Self::Dynamo($store, _) => $call,
        }
    };
}

impl Store for LocalStore {
    fn shards(&self) -> Shards {
        each!(self, store => store.shards())
    }

    async fn connect(
        &self,
        connection: &Connection,
        first: Option<&ChannelName>,
    ) -> Result<(), StoreError> {
        #[cfg(feature = "aws")]
        if let Self::Dynamo(store, changes) = self {
            store.connect(connection, first).await?;
            if let (Some(channel), Some(_)) = (first, changes) {
                let inserted = stored(store, connection, channel).await?;
                report(
                    changes,
                    channels::presence::ChangeKind::Insert,
                    vec![inserted],
                );
            }
            return Ok(());
        }
        each!(self, store => store.connect(connection, first).await)
    }

    async fn connection(&self, connection_id: &str) -> Result<Option<Connection>, StoreError> {
        each!(self, store => store.connection(connection_id).await)
    }

    async fn membership(
        &self,
        connection_id: &str,
        channel: &ChannelName,
    ) -> Result<Option<Membership>, StoreError> {
        each!(self, store => store.membership(connection_id, channel).await)
    }

    async fn subscribe(
        &self,
        connection: &Connection,
        channel: &ChannelName,
    ) -> Result<Subscribed, StoreError> {
        #[cfg(feature = "aws")]
        if let Self::Dynamo(store, changes) = self {
            let subscribed = store.subscribe(connection, channel).await?;
            if let (Subscribed::Added, Some(_)) = (subscribed, changes) {
                let inserted = stored(store, connection, channel).await?;
                report(
                    changes,
                    channels::presence::ChangeKind::Insert,
                    vec![inserted],
                );
            }
            return Ok(subscribed);
        }
        each!(self, store => store.subscribe(connection, channel).await)
    }

    async fn unsubscribe(
        &self,
        connection_id: &str,
        channel: &ChannelName,
    ) -> Result<bool, StoreError> {
        #[cfg(feature = "aws")]
        if let Self::Dynamo(store, changes) = self {
            // The item as stored (its subscribe time included), read
            // before it goes, is what the stream's old image would carry.
            let held = match changes {
                Some(_) => store.membership(connection_id, channel).await?,
                None => None,
            };
            let was = store.unsubscribe(connection_id, channel).await?;
            if let (true, Some(held)) = (was, held) {
                report(changes, channels::presence::ChangeKind::Remove, vec![held]);
            }
            return Ok(was);
        }
        each!(self, store => store.unsubscribe(connection_id, channel).await)
    }

    async fn add_grants(
        &self,
        connection_id: &str,
        grants: &Grants,
        token_expires_at: i64,
    ) -> Result<(), StoreError> {
        each!(self, store => store.add_grants(connection_id, grants, token_expires_at).await)
    }

    async fn disconnect(&self, connection_id: &str) -> Result<Vec<Membership>, StoreError> {
        #[cfg(feature = "aws")]
        if let Self::Dynamo(store, changes) = self {
            let removed = store.disconnect(connection_id).await?;
            report(
                changes,
                channels::presence::ChangeKind::Remove,
                removed.clone(),
            );
            return Ok(removed);
        }
        each!(self, store => store.disconnect(connection_id).await)
    }

    async fn members(
        &self,
        channel: &ChannelName,
        shard: u16,
        cursor: Option<String>,
        limit: Option<u32>,
    ) -> Result<Page, StoreError> {
        each!(self, store => store.members(channel, shard, cursor, limit).await)
    }

    async fn count(&self, channel: &ChannelName, shard: u16) -> Result<u64, StoreError> {
        each!(self, store => store.count(channel, shard).await)
    }

    async fn next_offset(&self, channel: &ChannelName) -> Result<Position, StoreError> {
        each!(self, store => store.next_offset(channel).await)
    }

    async fn position(&self, channel: &ChannelName) -> Result<Position, StoreError> {
        each!(self, store => store.position(channel).await)
    }

    async fn append(&self, message: &StoredMessage, expires_at: i64) -> Result<(), StoreError> {
        each!(self, store => store.append(message, expires_at).await)
    }

    async fn messages(
        &self,
        channel: &ChannelName,
        after: u64,
        limit: u32,
    ) -> Result<Vec<StoredMessage>, StoreError> {
        each!(self, store => store.messages(channel, after, limit).await)
    }

    async fn claim_key(
        &self,
        channel: &ChannelName,
        key: &str,
        now: i64,
    ) -> Result<KeyClaim, StoreError> {
        each!(self, store => store.claim_key(channel, key, now).await)
    }

    async fn settle_key(
        &self,
        channel: &ChannelName,
        key: &str,
        offset: u64,
    ) -> Result<(), StoreError> {
        each!(self, store => store.settle_key(channel, key, offset).await)
    }

    async fn release_key(&self, channel: &ChannelName, key: &str) -> Result<(), StoreError> {
        each!(self, store => store.release_key(channel, key).await)
    }
}
