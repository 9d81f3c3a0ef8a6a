//! Who is in a channel, and when a subject joins or leaves it.
//!
//! Presence is derived from the memberships, never kept in counters that
//! could drift: [`presence`] lists a channel's members; [`join_leave`] turns
//! membership changes (the table's stream on AWS: inserted and removed
//! membership items, TTL deletions included) into join and leave events,
//! deciding from the memberships that exist now which change was a
//! subject's first join or last leave.

use std::collections::BTreeSet;

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

/// The join and leave events of `changes` (one batch of the stream) for
/// one channel, given `now`, the channel's members read after the changes.
///
/// Per subject, decided from the memberships, in whatever order the stream
/// gave records of different connections (it orders each item's records,
/// not records of different items): the connections it had before the
/// batch are `now`'s with the batch undone (inserted ones taken out,
/// removed ones put back). A subject with none before and some now joins;
/// one with some before and none now leaves; one with none either side but
/// changes in the batch joined and left (both, in that order); one with
/// some on both sides neither joined nor left, whatever happened between.
/// So a subject with several connections joins once and leaves once.
/// Changes without a subject (open mode) make no events.
pub fn join_leave(
    channel: &ChannelName,
    changes: &[MembershipChange],
    now: &[Member],
) -> Vec<PresenceEvent> {
    // Subjects in the order they first appear in the batch.
    let mut subjects: Vec<&str> = Vec::new();
    for change in changes.iter().filter(|c| &c.membership.channel == channel) {
        if let Some(subject) = change.membership.subject.as_deref() {
            if !subjects.contains(&subject) {
                subjects.push(subject);
            }
        }
    }
    let mut events = Vec::new();
    for subject in subjects {
        let after: BTreeSet<&str> = now
            .iter()
            .filter(|m| m.subject.as_deref() == Some(subject))
            .map(|m| m.connection_id.as_str())
            .collect();
        let mut before = after.clone();
        for change in changes.iter().rev().filter(|c| {
            &c.membership.channel == channel && c.membership.subject.as_deref() == Some(subject)
        }) {
            let id = change.membership.connection_id.as_str();
            match change.kind {
                ChangeKind::Insert => before.remove(id),
                ChangeKind::Remove => before.insert(id),
            };
        }
        let kinds: &[PresenceChange] = match (before.is_empty(), after.is_empty()) {
            (true, false) => &[PresenceChange::Join],
            (false, true) => &[PresenceChange::Leave],
            (true, true) => &[PresenceChange::Join, PresenceChange::Leave],
            (false, false) => &[],
        };
        events.extend(kinds.iter().map(|kind| PresenceEvent {
            kind: *kind,
            channel: channel.clone(),
            subject: subject.to_owned(),
        }));
    }
    events
}
