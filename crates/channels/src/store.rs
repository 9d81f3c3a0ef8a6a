//! The store port: connections and their subscriptions, and each channel's
//! counter, history and publish keys. DynamoDB on AWS (`channels-aws`), in
//! memory locally ([`crate::memory::MemoryStore`]).

use std::future::Future;

use crate::message::{Position, StoredMessage};
use crate::{ChannelName, Connection, Grants, Membership, Protocol, Shards};

/// One member of a channel, as the channel index lists it.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Member {
    pub connection_id: String,
    pub protocol: Protocol,
    pub subject: Option<String>,
}

/// One page of a channel's members.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct Page {
    pub members: Vec<Member>,
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

/// What [`Store::subscribe`] did.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Subscribed {
    /// A new membership; the connection's counter went up.
    Added,
    /// It was a member already: nothing changed.
    Already,
    /// The connection holds [`crate::MAX_SUBSCRIPTIONS`] already.
    Full,
    /// The connection is not stored (gone, or expired).
    NoConnection,
}

/// How long a publish key is remembered: 10 minutes.
pub const KEY_WINDOW_SECS: i64 = 600;
/// How long a claimed key may wait for its publish's offset: a claim older
/// than this without one belongs to a publish that died between the claim
/// and its offset (a crashed or timed-out function), and a retry takes it
/// over instead of being refused for the rest of the window. Longer than
/// any function's timeout, so a live publish is never taken over.
pub const KEY_CLAIM_STALE_SECS: i64 = 120;

/// What [`Store::claim_key`] found.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum KeyClaim {
    /// The key is new on this channel (or its claim went stale): this
    /// publish goes ahead.
    Claimed,
    /// A publish with this key took `offset` in the window.
    Seen { offset: u64 },
    /// A publish with this key is under way and has no offset yet.
    InProgress,
}

/// Port: where connections, subscriptions and channel logs are kept.
///
/// Memberships are spread over the channel's shards ([`Shards::of`] the
/// connection id). Every read filters out expired items.
pub trait Store: Send + Sync {
    /// How many shards each channel is spread over.
    fn shards(&self) -> Shards;

    /// Stores a new connection and, with `first`, its first membership (the
    /// connection's `subscriptions` counts it already).
    fn connect(
        &self,
        connection: &Connection,
        first: Option<&ChannelName>,
    ) -> impl Future<Output = Result<(), StoreError>> + Send;

    /// The connection with this id, read strongly consistent; `None` when it
    /// is not stored or has expired.
    fn connection(
        &self,
        connection_id: &str,
    ) -> impl Future<Output = Result<Option<Connection>, StoreError>> + Send;

    /// The connection's membership in `channel`, read strongly consistent
    /// from the table (not the channel index, which may lag); `None` when it
    /// is not stored or has expired.
    fn membership(
        &self,
        connection_id: &str,
        channel: &ChannelName,
    ) -> impl Future<Output = Result<Option<Membership>, StoreError>> + Send;

    /// Adds `connection` to `channel`, unless it is a member already or
    /// holds [`crate::MAX_SUBSCRIPTIONS`] (one conditional counter, no count
    /// query).
    fn subscribe(
        &self,
        connection: &Connection,
        channel: &ChannelName,
    ) -> impl Future<Output = Result<Subscribed, StoreError>> + Send;

    /// Removes the connection from `channel`; `false` when it was not a member.
    fn unsubscribe(
        &self,
        connection_id: &str,
        channel: &ChannelName,
    ) -> impl Future<Output = Result<bool, StoreError>> + Send;

    /// Adds `grants` to the connection's and moves its token expiry to
    /// `token_expires_at` when that is later.
    fn add_grants(
        &self,
        connection_id: &str,
        grants: &Grants,
        token_expires_at: i64,
    ) -> impl Future<Output = Result<(), StoreError>> + Send;

    /// Removes the connection and every membership; returns the memberships
    /// removed. Removing one that is not there succeeds.
    fn disconnect(
        &self,
        connection_id: &str,
    ) -> impl Future<Output = Result<Vec<Membership>, StoreError>> + Send;

    /// One page of the live members of one shard of `channel`, starting after
    /// `cursor` (a [`Page::next`] from the previous call). A `limit` caps how
    /// many items the page examines (the store's own page size otherwise).
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

    /// Takes the channel's next offset: one atomic counter update, which
    /// creates the counter (offset 1, a new epoch) when there is none.
    fn next_offset(
        &self,
        channel: &ChannelName,
    ) -> impl Future<Output = Result<Position, StoreError>> + Send;

    /// The channel's latest offset and epoch; creates the counter (offset 0,
    /// a new epoch) when there is none, so that an epoch is fixed from the
    /// first subscription.
    fn position(
        &self,
        channel: &ChannelName,
    ) -> impl Future<Output = Result<Position, StoreError>> + Send;

    /// Keeps `message` in the channel's history until `expires_at` (epoch
    /// seconds).
    fn append(
        &self,
        message: &StoredMessage,
        expires_at: i64,
    ) -> impl Future<Output = Result<(), StoreError>> + Send;

    /// The kept, unexpired messages of `channel` with an offset above
    /// `after`, in offset order, at most `limit` of them.
    fn messages(
        &self,
        channel: &ChannelName,
        after: u64,
        limit: u32,
    ) -> impl Future<Output = Result<Vec<StoredMessage>, StoreError>> + Send;

    /// Claims a publish key on `channel` at `now` (Unix seconds) for
    /// [`KEY_WINDOW_SECS`] (one conditional write), unless a publish with it
    /// was seen in the window; a claim without an offset older than
    /// [`KEY_CLAIM_STALE_SECS`] is taken over.
    fn claim_key(
        &self,
        channel: &ChannelName,
        key: &str,
        now: i64,
    ) -> impl Future<Output = Result<KeyClaim, StoreError>> + Send;

    /// Records the offset the publish with a claimed key took.
    fn settle_key(
        &self,
        channel: &ChannelName,
        key: &str,
        offset: u64,
    ) -> impl Future<Output = Result<(), StoreError>> + Send;

    /// Forgets a claimed key whose publish failed, so that a retry goes ahead.
    fn release_key(
        &self,
        channel: &ChannelName,
        key: &str,
    ) -> impl Future<Output = Result<(), StoreError>> + Send;
}

/// How many live members `channel` has: every shard counted, in parallel.
pub async fn count<S: Store>(store: &S, channel: &ChannelName) -> Result<u64, StoreError> {
    let counts = futures::future::try_join_all(
        store
            .shards()
            .all()
            .map(|shard| store.count(channel, shard)),
    )
    .await?;
    Ok(counts.into_iter().sum())
}

/// Every live member of `channel`, every shard read in parallel, page by page.
pub async fn all_members<S: Store>(
    store: &S,
    channel: &ChannelName,
) -> Result<Vec<Member>, StoreError> {
    let shards = futures::future::try_join_all(store.shards().all().map(|shard| async move {
        let mut members = Vec::new();
        let mut cursor = None;
        loop {
            let page = store.members(channel, shard, cursor, None).await?;
            members.extend(page.members);
            match page.next {
                Some(next) => cursor = Some(next),
                None => return Ok::<_, StoreError>(members),
            }
        }
    }))
    .await?;
    Ok(shards.into_iter().flatten().collect())
}

/// Delegates every [`Store`] method to the store behind a pointer.
macro_rules! delegate_store {
    ($pointer:ty) => {
        impl<S: Store> Store for $pointer {
            fn shards(&self) -> Shards {
                (**self).shards()
            }
            fn connect(
                &self,
                connection: &Connection,
                first: Option<&ChannelName>,
            ) -> impl Future<Output = Result<(), StoreError>> + Send {
                (**self).connect(connection, first)
            }
            fn connection(
                &self,
                connection_id: &str,
            ) -> impl Future<Output = Result<Option<Connection>, StoreError>> + Send {
                (**self).connection(connection_id)
            }
            fn membership(
                &self,
                connection_id: &str,
                channel: &ChannelName,
            ) -> impl Future<Output = Result<Option<Membership>, StoreError>> + Send {
                (**self).membership(connection_id, channel)
            }
            fn subscribe(
                &self,
                connection: &Connection,
                channel: &ChannelName,
            ) -> impl Future<Output = Result<Subscribed, StoreError>> + Send {
                (**self).subscribe(connection, channel)
            }
            fn unsubscribe(
                &self,
                connection_id: &str,
                channel: &ChannelName,
            ) -> impl Future<Output = Result<bool, StoreError>> + Send {
                (**self).unsubscribe(connection_id, channel)
            }
            fn add_grants(
                &self,
                connection_id: &str,
                grants: &Grants,
                token_expires_at: i64,
            ) -> impl Future<Output = Result<(), StoreError>> + Send {
                (**self).add_grants(connection_id, grants, token_expires_at)
            }
            fn disconnect(
                &self,
                connection_id: &str,
            ) -> impl Future<Output = Result<Vec<Membership>, StoreError>> + Send {
                (**self).disconnect(connection_id)
            }
            fn members(
                &self,
                channel: &ChannelName,
                shard: u16,
                cursor: Option<String>,
                limit: Option<u32>,
            ) -> impl Future<Output = Result<Page, StoreError>> + Send {
                (**self).members(channel, shard, cursor, limit)
            }
            fn count(
                &self,
                channel: &ChannelName,
                shard: u16,
            ) -> impl Future<Output = Result<u64, StoreError>> + Send {
                (**self).count(channel, shard)
            }
            fn next_offset(
                &self,
                channel: &ChannelName,
            ) -> impl Future<Output = Result<Position, StoreError>> + Send {
                (**self).next_offset(channel)
            }
            fn position(
                &self,
                channel: &ChannelName,
            ) -> impl Future<Output = Result<Position, StoreError>> + Send {
                (**self).position(channel)
            }
            fn append(
                &self,
                message: &StoredMessage,
                expires_at: i64,
            ) -> impl Future<Output = Result<(), StoreError>> + Send {
                (**self).append(message, expires_at)
            }
            fn messages(
                &self,
                channel: &ChannelName,
                after: u64,
                limit: u32,
            ) -> impl Future<Output = Result<Vec<StoredMessage>, StoreError>> + Send {
                (**self).messages(channel, after, limit)
            }
            fn claim_key(
                &self,
                channel: &ChannelName,
                key: &str,
                now: i64,
            ) -> impl Future<Output = Result<KeyClaim, StoreError>> + Send {
                (**self).claim_key(channel, key, now)
            }
            fn settle_key(
                &self,
                channel: &ChannelName,
                key: &str,
                offset: u64,
            ) -> impl Future<Output = Result<(), StoreError>> + Send {
                (**self).settle_key(channel, key, offset)
            }
            fn release_key(
                &self,
                channel: &ChannelName,
                key: &str,
            ) -> impl Future<Output = Result<(), StoreError>> + Send {
                (**self).release_key(channel, key)
            }
        }
    };
}

delegate_store!(std::sync::Arc<S>);
delegate_store!(&S);
