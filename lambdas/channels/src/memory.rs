//! In-memory adapters: the embedded store of the local gateway, and a
//! notifier that records what it was asked to send (for tests).

use std::collections::{BTreeMap, BTreeSet, HashMap, HashSet, VecDeque};
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::{Arc, Mutex, MutexGuard};
use std::time::Duration;

use crate::{
    now_millis, ChannelName, Connection, ConnectionNotifier, ConnectionStore, NotifyError, Page,
    StoreError,
};

fn lock<T>(mutex: &Mutex<T>) -> MutexGuard<'_, T> {
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

/// A notifier that records every delivered message, and can be told to fail.
///
/// Unscripted connections receive every message. [`MemoryNotifier::gone`]
/// makes one answer 410 forever; [`MemoryNotifier::fail_next`] queues failures
/// a connection returns before it succeeds.
#[derive(Debug, Default)]
pub struct MemoryNotifier {
    state: Mutex<NotifierState>,
    in_flight: AtomicUsize,
    peak_in_flight: AtomicUsize,
    delay: Option<Duration>,
}

#[derive(Debug, Default)]
struct NotifierState {
    delivered: HashMap<String, Vec<Vec<u8>>>,
    gone: HashSet<String>,
    scripted: HashMap<String, VecDeque<NotifyError>>,
    attempts: HashMap<String, usize>,
}

impl MemoryNotifier {
    pub fn new() -> Self {
        Self::default()
    }

    /// Every post takes `delay`, so that posts overlap (to observe concurrency).
    pub fn with_delay(delay: Duration) -> Self {
        Self {
            delay: Some(delay),
            ..Self::default()
        }
    }

    pub fn shared() -> Arc<Self> {
        Arc::new(Self::new())
    }

    /// `connection_id` answers [`NotifyError::Gone`] from now on.
    pub fn gone(&self, connection_id: &str) {
        lock(&self.state).gone.insert(connection_id.to_owned());
    }

    /// `connection_id` fails with `errors`, in order, before it succeeds.
    pub fn fail_next(&self, connection_id: &str, errors: impl IntoIterator<Item = NotifyError>) {
        lock(&self.state)
            .scripted
            .entry(connection_id.to_owned())
            .or_default()
            .extend(errors);
    }

    /// Messages delivered to `connection_id`, in order.
    pub fn delivered(&self, connection_id: &str) -> Vec<Vec<u8>> {
        lock(&self.state)
            .delivered
            .get(connection_id)
            .cloned()
            .unwrap_or_default()
    }

    /// Posts attempted to `connection_id`, failed ones included.
    pub fn attempts(&self, connection_id: &str) -> usize {
        lock(&self.state)
            .attempts
            .get(connection_id)
            .copied()
            .unwrap_or(0)
    }

    /// Connections that received at least one message.
    pub fn recipients(&self) -> BTreeSet<String> {
        lock(&self.state).delivered.keys().cloned().collect()
    }

    /// The most posts that were ever in flight at once.
    pub fn peak_in_flight(&self) -> usize {
        self.peak_in_flight.load(Ordering::SeqCst)
    }
}

impl ConnectionNotifier for MemoryNotifier {
    async fn post(&self, connection_id: &str, data: &[u8]) -> Result<(), NotifyError> {
        let now = self.in_flight.fetch_add(1, Ordering::SeqCst) + 1;
        self.peak_in_flight.fetch_max(now, Ordering::SeqCst);
        if let Some(delay) = self.delay {
            tokio::time::sleep(delay).await;
        }
        let result = {
            let mut state = lock(&self.state);
            *state.attempts.entry(connection_id.to_owned()).or_default() += 1;
            if state.gone.contains(connection_id) {
                Err(NotifyError::Gone)
            } else if let Some(err) = state
                .scripted
                .get_mut(connection_id)
                .and_then(VecDeque::pop_front)
            {
                Err(err)
            } else {
                state
                    .delivered
                    .entry(connection_id.to_owned())
                    .or_default()
                    .push(data.to_vec());
                Ok(())
            }
        };
        self.in_flight.fetch_sub(1, Ordering::SeqCst);
        result
    }
}
