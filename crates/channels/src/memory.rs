//! In-memory adapter of [`Store`]: the embedded store of the local gateway
//! and of the domain tests. It keeps the DynamoDB adapter's semantics:
//! memberships indexed by channel and shard, expired items invisible (and
//! forgotten when met, as TTL would delete them), one counter per channel.
//!
//! With [`MemoryStore::with_changes`] it reports every membership it inserts
//! or removes, expiries included, as the table's stream does on AWS.

use std::collections::{BTreeMap, BTreeSet, HashMap};
use std::sync::{Mutex, MutexGuard};

use tokio::sync::mpsc;

use crate::message::{new_epoch, Position, StoredMessage};
use crate::presence::{ChangeKind, MembershipChange};
use crate::store::{
    KeyClaim, Member, Page, Store, StoreError, Subscribed, KEY_CLAIM_STALE_SECS, KEY_WINDOW_SECS,
};
use crate::{now_millis, ChannelName, Connection, Grants, Membership, Shards, MAX_SUBSCRIPTIONS};

pub(crate) fn lock<T>(mutex: &Mutex<T>) -> MutexGuard<'_, T> {
    // A panic while holding the lock cannot leave these maps half-updated
    // (each update completes before the guard drops), so poisoning is ignored.
    mutex
        .lock()
        .unwrap_or_else(std::sync::PoisonError::into_inner)
}

/// Everything in memory, indexed like the DynamoDB table.
#[derive(Debug)]
pub struct MemoryStore {
    inner: Mutex<Tables>,
    page_size: usize,
    shards: Shards,
    changes: Option<mpsc::UnboundedSender<MembershipChange>>,
}

/// A channel's shard: the index partition.
type Partition = (ChannelName, u16);

/// A publish key: the offset once its publish took one, when it was
/// claimed and when its window ends (Unix seconds).
#[derive(Debug)]
struct KeyEntry {
    offset: Option<u64>,
    claimed_at: i64,
    expires_at: i64,
}

#[derive(Debug, Default)]
struct Tables {
    connections: HashMap<String, Connection>,
    /// Memberships by connection, then channel.
    memberships: HashMap<String, BTreeMap<ChannelName, Membership>>,
    by_partition: BTreeMap<Partition, BTreeSet<String>>,
    counters: HashMap<ChannelName, Position>,
    history: HashMap<ChannelName, BTreeMap<u64, (StoredMessage, i64)>>,
    keys: HashMap<ChannelName, HashMap<String, KeyEntry>>,
    /// Memberships member reads do not see yet (feature `testing`).
    #[cfg(feature = "testing")]
    lagging: Option<std::collections::HashSet<(String, ChannelName)>>,
}

impl Default for MemoryStore {
    fn default() -> Self {
        Self::with_page_size(1000)
    }
}

fn now_secs() -> i64 {
    now_millis() / 1000
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
            changes: None,
        }
    }

    /// Spreads every channel over `shards`.
    pub fn with_shards(mut self, shards: Shards) -> Self {
        self.shards = shards;
        self
    }

    /// Reports every membership inserted or removed to `changes`.
    pub fn with_changes(mut self, changes: mpsc::UnboundedSender<MembershipChange>) -> Self {
        self.changes = Some(changes);
        self
    }

    /// The stored connection with this id, expired or not.
    pub fn get(&self, connection_id: &str) -> Option<Connection> {
        lock(&self.inner).connections.get(connection_id).cloned()
    }

    /// The channels the connection with this id is a member of.
    pub fn channels_of(&self, connection_id: &str) -> Vec<ChannelName> {
        lock(&self.inner)
            .memberships
            .get(connection_id)
            .map(|m| m.keys().cloned().collect())
            .unwrap_or_default()
    }

    /// The shard the memberships of this connection id are stored in.
    pub fn shard_of(&self, connection_id: &str) -> u16 {
        self.shards.of(connection_id)
    }

    /// How many connections are stored, expired or not.
    pub fn len(&self) -> usize {
        lock(&self.inner).connections.len()
    }

    pub fn is_empty(&self) -> bool {
        self.len() == 0
    }

    /// How many memberships are stored, expired or not.
    pub fn memberships(&self) -> usize {
        lock(&self.inner)
            .memberships
            .values()
            .map(BTreeMap::len)
            .sum()
    }

    /// From now on, new memberships stay out of member reads until
    /// [`Self::catch_up_index`], as a global secondary index (eventually
    /// consistent) may leave them out for a while. Test support.
    #[cfg(feature = "testing")]
    pub fn lag_index(&self) {
        lock(&self.inner).lagging = Some(Default::default());
    }

    /// Member reads see every membership again. Test support.
    #[cfg(feature = "testing")]
    pub fn catch_up_index(&self) {
        lock(&self.inner).lagging = None;
    }

    fn report(&self, changes: Vec<MembershipChange>) {
        if let Some(sink) = &self.changes {
            for change in changes {
                // Nobody listening any more is fine.
                let _ = sink.send(change);
            }
        }
    }
}

impl Tables {
    fn insert_membership(&mut self, membership: Membership, shard: u16) {
        #[cfg(feature = "testing")]
        if let Some(lagging) = &mut self.lagging {
            lagging.insert((membership.connection_id.clone(), membership.channel.clone()));
        }
        self.by_partition
            .entry((membership.channel.clone(), shard))
            .or_default()
            .insert(membership.connection_id.clone());
        self.memberships
            .entry(membership.connection_id.clone())
            .or_default()
            .insert(membership.channel.clone(), membership);
    }

    /// Forgets one membership, and its partition once that is empty.
    fn remove_membership(
        &mut self,
        connection_id: &str,
        channel: &ChannelName,
        shard: u16,
    ) -> Option<Membership> {
        let removed = self.memberships.get_mut(connection_id)?.remove(channel)?;
        if self
            .memberships
            .get(connection_id)
            .is_some_and(BTreeMap::is_empty)
        {
            self.memberships.remove(connection_id);
        }
        let partition = (channel.clone(), shard);
        let now_empty = self.by_partition.get_mut(&partition).is_some_and(|ids| {
            ids.remove(connection_id);
            ids.is_empty()
        });
        if now_empty {
            self.by_partition.remove(&partition);
        }
        Some(removed)
    }

    /// Forgets a connection and every membership of it.
    fn forget(&mut self, connection_id: &str, shard: u16) -> Vec<Membership> {
        self.connections.remove(connection_id);
        let channels: Vec<ChannelName> = self
            .memberships
            .get(connection_id)
            .map(|m| m.keys().cloned().collect())
            .unwrap_or_default();
        channels
            .iter()
            .filter_map(|channel| self.remove_membership(connection_id, channel, shard))
            .collect()
    }

    fn live_membership(
        &self,
        connection_id: &str,
        channel: &ChannelName,
        now: i64,
    ) -> Option<&Membership> {
        self.memberships
            .get(connection_id)?
            .get(channel)
            .filter(|m| m.expires_at > now)
    }
}

fn removed(memberships: Vec<Membership>, expired: bool) -> Vec<MembershipChange> {
    memberships
        .into_iter()
        .map(|membership| MembershipChange {
            kind: ChangeKind::Remove,
            membership,
            expired,
        })
        .collect()
}

impl Store for MemoryStore {
    fn shards(&self) -> Shards {
        self.shards
    }

    async fn connect(
        &self,
        connection: &Connection,
        first: Option<&ChannelName>,
    ) -> Result<(), StoreError> {
        let shard = self.shards.of(&connection.id);
        let mut changes;
        {
            let mut tables = lock(&self.inner);
            // A connection id is new on every connect; a repeated one starts afresh.
            changes = removed(tables.forget(&connection.id, shard), false);
            let mut connection = connection.clone();
            connection.subscriptions = u32::from(first.is_some());
            tables
                .connections
                .insert(connection.id.clone(), connection.clone());
            if let Some(channel) = first {
                let membership = connection.membership(channel);
                tables.insert_membership(membership.clone(), shard);
                changes.push(MembershipChange {
                    kind: ChangeKind::Insert,
                    membership,
                    expired: false,
                });
            }
        }
        self.report(changes);
        Ok(())
    }

    async fn connection(&self, connection_id: &str) -> Result<Option<Connection>, StoreError> {
        let now = now_secs();
        Ok(lock(&self.inner)
            .connections
            .get(connection_id)
            .filter(|c| c.expires_at > now)
            .cloned())
    }

    async fn membership(
        &self,
        connection_id: &str,
        channel: &ChannelName,
    ) -> Result<Option<Membership>, StoreError> {
        let now = now_secs();
        let shard = self.shards.of(connection_id);
        let (live, expired) = {
            let mut tables = lock(&self.inner);
            match tables
                .memberships
                .get(connection_id)
                .and_then(|m| m.get(channel))
            {
                None => (None, Vec::new()),
                Some(m) if m.expires_at > now => (Some(m.clone()), Vec::new()),
                // Expired: forgotten, as on a member read.
                Some(_) => (None, tables.forget(connection_id, shard)),
            }
        };
        self.report(removed(expired, true));
        Ok(live)
    }

    async fn subscribe(
        &self,
        connection: &Connection,
        channel: &ChannelName,
    ) -> Result<Subscribed, StoreError> {
        let now = now_secs();
        let shard = self.shards.of(&connection.id);
        let membership;
        {
            let mut tables = lock(&self.inner);
            let Some(stored) = tables
                .connections
                .get(&connection.id)
                .filter(|c| c.expires_at > now)
            else {
                return Ok(Subscribed::NoConnection);
            };
            if tables
                .live_membership(&connection.id, channel, now)
                .is_some()
            {
                return Ok(Subscribed::Already);
            }
            if stored.subscriptions >= MAX_SUBSCRIPTIONS {
                return Ok(Subscribed::Full);
            }
            let stored = stored.clone();
            membership = stored.membership(channel);
            tables.insert_membership(membership.clone(), shard);
            if let Some(c) = tables.connections.get_mut(&connection.id) {
                c.subscriptions += 1;
            }
        }
        self.report(vec![MembershipChange {
            kind: ChangeKind::Insert,
            membership,
            expired: false,
        }]);
        Ok(Subscribed::Added)
    }

    async fn unsubscribe(
        &self,
        connection_id: &str,
        channel: &ChannelName,
    ) -> Result<bool, StoreError> {
        let shard = self.shards.of(connection_id);
        let gone = {
            let mut tables = lock(&self.inner);
            let gone = tables.remove_membership(connection_id, channel, shard);
            if gone.is_some() {
                if let Some(c) = tables.connections.get_mut(connection_id) {
                    c.subscriptions = c.subscriptions.saturating_sub(1);
                }
            }
            gone
        };
        let was_member = gone.is_some();
        self.report(removed(gone.into_iter().collect(), false));
        Ok(was_member)
    }

    async fn add_grants(
        &self,
        connection_id: &str,
        grants: &Grants,
        token_expires_at: i64,
    ) -> Result<(), StoreError> {
        if let Some(c) = lock(&self.inner).connections.get_mut(connection_id) {
            c.grants.extend(grants);
            c.token_expires_at = Some(
                c.token_expires_at
                    .map_or(token_expires_at, |old| old.max(token_expires_at)),
            );
        }
        Ok(())
    }

    async fn disconnect(&self, connection_id: &str) -> Result<Vec<Membership>, StoreError> {
        let shard = self.shards.of(connection_id);
        let gone = lock(&self.inner).forget(connection_id, shard);
        self.report(removed(gone.clone(), false));
        Ok(gone)
    }

    async fn members(
        &self,
        channel: &ChannelName,
        shard: u16,
        cursor: Option<String>,
        limit: Option<u32>,
    ) -> Result<Page, StoreError> {
        let now = now_secs();
        let page_size = limit.map_or(self.page_size, |l| (l as usize).clamp(1, self.page_size));
        let (page, expired) = {
            let mut tables = lock(&self.inner);
            let Some(ids) = tables.by_partition.get(&(channel.clone(), shard)) else {
                return Ok(Page::default());
            };
            let range = match &cursor {
                Some(after) => ids.range::<String, _>((
                    std::ops::Bound::Excluded(after),
                    std::ops::Bound::Unbounded,
                )),
                None => ids.range::<String, _>(..),
            };
            // Like a DynamoDB page: a fixed number of items is examined, the
            // expired ones are filtered out after that.
            let examined: Vec<String> = range.take(page_size).cloned().collect();
            let next = (examined.len() == page_size)
                .then(|| examined.last().cloned())
                .flatten();
            let mut members = Vec::with_capacity(examined.len());
            let mut expired = Vec::new();
            #[cfg(feature = "testing")]
            let examined: Vec<String> = examined
                .into_iter()
                .filter(|id| {
                    tables
                        .lagging
                        .as_ref()
                        .is_none_or(|l| !l.contains(&(id.clone(), channel.clone())))
                })
                .collect();
            for id in examined {
                match tables.live_membership(&id, channel, now) {
                    Some(m) => members.push(Member {
                        connection_id: id,
                        protocol: m.protocol,
                        subject: m.subject.clone(),
                    }),
                    None => expired.push(id),
                }
            }
            // What DynamoDB's TTL does some time after expiry, done here on
            // read so that lost $disconnects do not pile up in memory.
            let mut gone = Vec::new();
            for id in &expired {
                gone.extend(tables.forget(id, shard));
            }
            (Page { members, next }, gone)
        };
        self.report(removed(expired, true));
        Ok(page)
    }

    async fn count(&self, channel: &ChannelName, shard: u16) -> Result<u64, StoreError> {
        let now = now_secs();
        let tables = lock(&self.inner);
        let live = tables
            .by_partition
            .get(&(channel.clone(), shard))
            .map_or(0, |ids| {
                ids.iter()
                    .filter(|id| tables.live_membership(id, channel, now).is_some())
                    .count()
            });
        Ok(live as u64)
    }

    async fn next_offset(&self, channel: &ChannelName) -> Result<Position, StoreError> {
        let mut tables = lock(&self.inner);
        let position = tables
            .counters
            .entry(channel.clone())
            .or_insert_with(|| Position {
                offset: 0,
                epoch: new_epoch(),
            });
        position.offset += 1;
        Ok(position.clone())
    }

    async fn position(&self, channel: &ChannelName) -> Result<Position, StoreError> {
        Ok(lock(&self.inner)
            .counters
            .entry(channel.clone())
            .or_insert_with(|| Position {
                offset: 0,
                epoch: new_epoch(),
            })
            .clone())
    }

    async fn append(&self, message: &StoredMessage, expires_at: i64) -> Result<(), StoreError> {
        let now = now_secs();
        let mut tables = lock(&self.inner);
        let history = tables
            .history
            .entry(message.publication.channel.clone())
            .or_default();
        // TTL's work: drop what expired from the old end.
        while history
            .first_key_value()
            .is_some_and(|(_, (_, expires))| *expires <= now)
        {
            history.pop_first();
        }
        history.insert(message.position.offset, (message.clone(), expires_at));
        Ok(())
    }

    async fn messages(
        &self,
        channel: &ChannelName,
        after: u64,
        limit: u32,
    ) -> Result<Vec<StoredMessage>, StoreError> {
        let now = now_secs();
        let tables = lock(&self.inner);
        let Some(history) = tables.history.get(channel) else {
            return Ok(Vec::new());
        };
        Ok(history
            .range(after.saturating_add(1)..)
            .filter(|(_, (_, expires))| *expires > now)
            .take(limit as usize)
            .map(|(_, (message, _))| message.clone())
            .collect())
    }

    async fn claim_key(
        &self,
        channel: &ChannelName,
        key: &str,
        now: i64,
    ) -> Result<KeyClaim, StoreError> {
        let mut tables = lock(&self.inner);
        let keys = tables.keys.entry(channel.clone()).or_default();
        keys.retain(|_, entry| entry.expires_at > now);
        match keys.get(key) {
            Some(KeyEntry {
                offset: Some(offset),
                ..
            }) => return Ok(KeyClaim::Seen { offset: *offset }),
            Some(entry) if entry.claimed_at > now - KEY_CLAIM_STALE_SECS => {
                return Ok(KeyClaim::InProgress)
            }
            _ => {}
        }
        keys.insert(
            key.to_owned(),
            KeyEntry {
                offset: None,
                claimed_at: now,
                expires_at: now + KEY_WINDOW_SECS,
            },
        );
        Ok(KeyClaim::Claimed)
    }

    async fn settle_key(
        &self,
        channel: &ChannelName,
        key: &str,
        offset: u64,
    ) -> Result<(), StoreError> {
        if let Some(KeyEntry { offset: stored, .. }) = lock(&self.inner)
            .keys
            .get_mut(channel)
            .and_then(|keys| keys.get_mut(key))
        {
            *stored = Some(offset);
        }
        Ok(())
    }

    async fn release_key(&self, channel: &ChannelName, key: &str) -> Result<(), StoreError> {
        if let Some(keys) = lock(&self.inner).keys.get_mut(channel) {
            keys.remove(key);
        }
        Ok(())
    }
}
