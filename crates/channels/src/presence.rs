//! Who is in a channel, and when a subject joins or leaves it.
//!
//! Presence is derived from the memberships, never kept in counters that
//! could drift: [`presence`] lists a channel's members; [`join_leave`] turns
//! membership changes (the table's stream on AWS: inserted and removed
//! membership items, TTL deletions included) into join and leave events,
//! deciding from the memberships that exist now which change was a
//! subject's first join or last leave.

use std::collections::{BTreeMap, BTreeSet};

use serde::Serialize;

use crate::message::PresenceChange;
use crate::store::{all_members, Member, Store, StoreError};
use crate::{ChannelName, Membership};

/// Most subjects a presence answer lists.
pub const MAX_PRESENCE_SUBJECTS: usize = 100;

/// Who is in a channel: its live connections, and up to
/// [`MAX_PRESENCE_SUBJECTS`] distinct token subjects among them (sorted).
/// Connections without a subject (open mode) count but are not listed.
#[derive(Clone, Debug, PartialEq, Eq, Serialize)]
pub struct Presence {
    pub channel: String,
    pub connections: u64,
    pub subjects: Vec<String>,
}

impl Presence {
    pub fn of(channel: &ChannelName, members: &[Member]) -> Self {
        let subjects: BTreeSet<&str> = members
            .iter()
            .filter_map(|m| m.subject.as_deref())
            .collect();
        Self {
            channel: channel.to_string(),
            connections: members.len() as u64,
            subjects: subjects
                .into_iter()
                .take(MAX_PRESENCE_SUBJECTS)
                .map(str::to_owned)
                .collect(),
        }
    }
}

/// Reads every member of `channel` and summarises them.
pub async fn presence<S: Store>(store: &S, channel: &ChannelName) -> Result<Presence, StoreError> {
    let members = all_members(store, channel).await?;
    Ok(Presence::of(channel, &members))
}

/// A membership inserted or removed.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum ChangeKind {
    Insert,
    Remove,
}

/// One change of the membership table, in the order the stream gave it.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct MembershipChange {
    pub kind: ChangeKind,
    pub membership: Membership,
    /// Removed by TTL (a lost `$disconnect`), not by the service.
    pub expired: bool,
}

/// A join or leave to send to a channel's `lrw.v1` members.
#[derive(Clone, Debug, PartialEq, Eq, Hash)]
pub struct PresenceEvent {
    pub kind: PresenceChange,
    pub channel: ChannelName,
    pub subject: String,
}

/// The join and leave events of `changes` (stream order) for one channel,
/// given `now`, the channel's members read after the changes.
///
/// Per subject, the connections it had before the batch are `now`'s with
/// the batch undone (inserted ones taken out, removed ones put back, from
/// the last change to the first); replaying the changes over that, a
/// subject joins when it goes from no connection to one and leaves when its
/// last connection goes. So a subject with several connections joins once
/// and leaves once, whatever order its connections come and go in. Changes
/// without a subject (open mode) make no events.
pub fn join_leave(
    channel: &ChannelName,
    changes: &[MembershipChange],
    now: &[Member],
) -> Vec<PresenceEvent> {
    let mut by_subject: BTreeMap<&str, Vec<&MembershipChange>> = BTreeMap::new();
    for change in changes.iter().filter(|c| &c.membership.channel == channel) {
        if let Some(subject) = change.membership.subject.as_deref() {
            by_subject.entry(subject).or_default().push(change);
        }
    }
    let mut events = Vec::new();
    for (subject, changes) in by_subject {
        let mut connections: BTreeSet<&str> = now
            .iter()
            .filter(|m| m.subject.as_deref() == Some(subject))
            .map(|m| m.connection_id.as_str())
            .collect();
        for change in changes.iter().rev() {
            let id = change.membership.connection_id.as_str();
            match change.kind {
                ChangeKind::Insert => connections.remove(id),
                ChangeKind::Remove => connections.insert(id),
            };
        }
        for change in &changes {
            let id = change.membership.connection_id.as_str();
            let was_empty = connections.is_empty();
            let changed = match change.kind {
                ChangeKind::Insert => connections.insert(id),
                ChangeKind::Remove => connections.remove(id),
            };
            let kind = match change.kind {
                ChangeKind::Insert if changed && was_empty => PresenceChange::Join,
                ChangeKind::Remove if changed && connections.is_empty() => PresenceChange::Leave,
                _ => continue,
            };
            events.push(PresenceEvent {
                kind,
                channel: channel.clone(),
                subject: subject.to_owned(),
            });
        }
    }
    events
}
