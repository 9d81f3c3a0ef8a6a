//! In-memory adapter of [`ConnectionStore`]: the embedded store of the local
//! gateway and of the domain tests.

use std::collections::{BTreeMap, BTreeSet, HashMap};
use std::sync::{Mutex, MutexGuard};

use crate::{now_millis, ChannelName, Connection, ConnectionStore, Page, Shards, StoreError};

pub(crate) fn lock<T>(mutex: &Mutex<T>) -> MutexGuard<'_, T> {
    // A panic while holding the lock cannot leave these maps half-updated
    // (each update is a single insert or remove), so poisoning is ignored.
    mutex
        .lock()
        .unwrap_or_else(std::sync::PoisonError::into_inner)
}

/// Connections in memory, indexed both ways like the DynamoDB table: by id,
/// and by channel and shard.
#[derive(Debug)]
pub struct MemoryStore {
    inner: Mutex<Tables>,
    page_size: usize,
    shards: Shards,
}

/// A channel's shard: the index partition.
type Partition = (ChannelName, u16);

#[derive(Debug, Default)]
struct Tables {
    by_id: HashMap<String, (Connection, u16)>,
    by_partition: BTreeMap<Partition, BTreeSet<String>>,
}

impl Default for MemoryStore {
    fn default() -> Self {
        Self::with_page_size(1000)
    }
}

impl MemoryStore {
    pub fn new() -> Self {
        Self::default()
    }

    /// A store whose member listings come in pages of `page_size` (at least 1).
    pub fn with_page_size(page_size: usize) -> Self {
        Self {
            inner: Mutex::new(Tables::default()),
            page_size: page_size.max(1),
            shards: Shards::ONE,
        }
    }

    /// Spreads every channel over `shards`.
    pub fn with_shards(mut self, shards: Shards) -> Self {
        self.shards = shards;
        self
    }

    /// The stored connection with this id, expired or not.
    pub fn get(&self, connection_id: &str) -> Option<Connection> {
        lock(&self.inner)
            .by_id
            .get(connection_id)
            .map(|(c, _)| c.clone())
    }

    /// The shard the connection with this id is stored in.
    pub fn shard_of(&self, connection_id: &str) -> Option<u16> {
        lock(&self.inner)
            .by_id
            .get(connection_id)
            .map(|(_, shard)| *shard)
    }

    /// How many connections are stored, expired or not.
    pub fn len(&self) -> usize {
        lock(&self.inner).by_id.len()
    }

    pub fn is_empty(&self) -> bool {
        self.len() == 0
    }
}

impl Tables {
    /// Forgets a connection, and its partition once that is empty.
    fn forget(&mut self, connection_id: &str) {
        if let Some((old, shard)) = self.by_id.remove(connection_id) {
            let partition = (old.channel, shard);
            let now_empty = self.by_partition.get_mut(&partition).is_some_and(|ids| {
                ids.remove(connection_id);
                ids.is_empty()
            });
            if now_empty {
                self.by_partition.remove(&partition);
            }
        }
    }

    fn is_live(&self, connection_id: &str, now: i64) -> bool {
        self.by_id
            .get(connection_id)
            .is_some_and(|(c, _)| c.expires_at > now)
    }
}

impl ConnectionStore for MemoryStore {
    fn shards(&self) -> Shards {
        self.shards
    }

    async fn put(&self, connection: &Connection) -> Result<(), StoreError> {
        let shard = self.shards.of(&connection.id);
        let mut tables = lock(&self.inner);
        // A connection lives in one channel: a repeated put may move it.
        tables.forget(&connection.id);
        tables
            .by_id
            .insert(connection.id.clone(), (connection.clone(), shard));
        tables
            .by_partition
            .entry((connection.channel.clone(), shard))
            .or_default()
            .insert(connection.id.clone());
        Ok(())
    }

    async fn remove(&self, connection_id: &str) -> Result<(), StoreError> {
        lock(&self.inner).forget(connection_id);
        Ok(())
    }

    async fn members(
        &self,
        channel: &ChannelName,
        shard: u16,
        cursor: Option<String>,
        limit: Option<u32>,
    ) -> Result<Page, StoreError> {
        let now = now_millis() / 1000;
        let page_size = limit.map_or(self.page_size, |l| (l as usize).clamp(1, self.page_size));
        let mut tables = lock(&self.inner);
        let Some(ids) = tables.by_partition.get(&(channel.clone(), shard)) else {
            return Ok(Page::default());
        };
        let range = match &cursor {
            Some(after) => ids
                .range::<String, _>((std::ops::Bound::Excluded(after), std::ops::Bound::Unbounded)),
            None => ids.range::<String, _>(..),
        };
        // Like a DynamoDB page: a fixed number of items is examined, the
        // expired ones are filtered out after that.
        let examined: Vec<String> = range.take(page_size).cloned().collect();
        let next = (examined.len() == page_size)
            .then(|| examined.last().cloned())
            .flatten();
        let (connection_ids, expired): (Vec<String>, Vec<String>) =
            examined.into_iter().partition(|id| tables.is_live(id, now));
        // What DynamoDB's TTL does some time after expiry, done here on read
        // so that lost $disconnects do not pile up in memory.
        for id in &expired {
            tables.forget(id);
        }
        Ok(Page {
            connection_ids,
            next,
        })
    }

    async fn count(&self, channel: &ChannelName, shard: u16) -> Result<u64, StoreError> {
        let now = now_millis() / 1000;
        let tables = lock(&self.inner);
        let live = tables
            .by_partition
            .get(&(channel.clone(), shard))
            .map_or(0, |ids| {
                ids.iter().filter(|id| tables.is_live(id, now)).count()
            });
        Ok(live as u64)
    }
}
