//! In-memory adapter of [`ConnectionStore`]: the embedded store of the local
//! gateway and of the domain tests.

use std::collections::{BTreeMap, BTreeSet, HashMap};
use std::sync::{Mutex, MutexGuard};

use crate::{now_millis, ChannelName, Connection, ConnectionStore, Page, StoreError};

pub(crate) fn lock<T>(mutex: &Mutex<T>) -> MutexGuard<'_, T> {
    // A panic while holding the lock cannot leave these maps half-updated
    // (each update is a single insert or remove), so poisoning is ignored.
    mutex
        .lock()
        .unwrap_or_else(std::sync::PoisonError::into_inner)
}

/// Connections in memory, indexed both ways like the DynamoDB table.
#[derive(Debug)]
pub struct MemoryStore {
    inner: Mutex<Tables>,
    page_size: usize,
}

#[derive(Debug, Default)]
struct Tables {
    by_id: HashMap<String, Connection>,
    by_channel: BTreeMap<ChannelName, BTreeSet<String>>,
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
        }
    }

    /// The stored connection with this id, expired or not.
    pub fn get(&self, connection_id: &str) -> Option<Connection> {
        lock(&self.inner).by_id.get(connection_id).cloned()
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
    /// Forgets a connection, and its channel once that is empty.
    fn forget(&mut self, connection_id: &str) {
        if let Some(old) = self.by_id.remove(connection_id) {
            let now_empty = self.by_channel.get_mut(&old.channel).is_some_and(|ids| {
                ids.remove(connection_id);
                ids.is_empty()
            });
            if now_empty {
                self.by_channel.remove(&old.channel);
            }
        }
    }

    fn is_live(&self, connection_id: &str, now: i64) -> bool {
        self.by_id
            .get(connection_id)
            .is_some_and(|c| c.expires_at > now)
    }
}

impl ConnectionStore for MemoryStore {
    async fn put(&self, connection: &Connection) -> Result<(), StoreError> {
        let mut tables = lock(&self.inner);
        // A connection lives in one channel: a repeated put may move it.
        tables.forget(&connection.id);
        tables
            .by_id
            .insert(connection.id.clone(), connection.clone());
        tables
            .by_channel
            .entry(connection.channel.clone())
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
        cursor: Option<String>,
    ) -> Result<Page, StoreError> {
        let now = now_millis() / 1000;
        let mut tables = lock(&self.inner);
        let Some(ids) = tables.by_channel.get(channel) else {
            return Ok(Page::default());
        };
        let range = match &cursor {
            Some(after) => ids
                .range::<String, _>((std::ops::Bound::Excluded(after), std::ops::Bound::Unbounded)),
            None => ids.range::<String, _>(..),
        };
        // Like a DynamoDB page: a fixed number of items is examined, the
        // expired ones are filtered out after that.
        let examined: Vec<String> = range.take(self.page_size).cloned().collect();
        let next = (examined.len() == self.page_size)
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

    async fn count(&self, channel: &ChannelName) -> Result<u64, StoreError> {
        let now = now_millis() / 1000;
        let tables = lock(&self.inner);
        let live = tables.by_channel.get(channel).map_or(0, |ids| {
            ids.iter().filter(|id| tables.is_live(id, now)).count()
        });
        Ok(live as u64)
    }
}
