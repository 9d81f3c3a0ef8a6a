//! Who is in a channel, and when a subject joins or leaves it.
//!
//! Presence is derived from the memberships, never kept in counters that
//! could drift: [`presence`] lists a channel's members (from the channel
//! index, which is eventually consistent: it may lag by about a second);
//! [`events`] turns membership changes (the table's stream on AWS: inserted
//! and removed membership items, TTL deletions included) into join and
//! leave events, deciding from the memberships that exist now — each read
//! strongly consistent ([`existing`]), not from the index — and when they
//! were subscribed ([`join_leave`]) which change was a subject's first
//! join or last leave.

use std::collections::{BTreeMap, BTreeSet};

use serde::Serialize;

use crate::message::PresenceChange;
use crate::store::{all_members, Member, Store, StoreError};
use crate::{ChannelName, Membership};

/// Most consistent membership reads [`existing`] has in flight at once
/// (a subject with many connections is read in rounds of this many).
const READS_IN_FLIGHT: usize = 16;

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

/// The subjects of `changes` in `channel`, in the order they first appear.
fn subjects<'a>(channel: &ChannelName, changes: &'a [MembershipChange]) -> Vec<&'a str> {
    let mut subjects: Vec<&str> = Vec::new();
    for change in changes.iter().filter(|c| &c.membership.channel == channel) {
        if let Some(subject) = change.membership.subject.as_deref() {
            if !subjects.contains(&subject) {
                subjects.push(subject);
            }
        }
    }
    subjects
}

/// The memberships of `channel` that exist now, of the subjects `changes`
/// touch there: every candidate — a connection of the changes, or a member
/// the channel index lists (`members`, read after the changes) with one of
/// those subjects — read strongly consistent from the table
/// ([`Store::membership`]). The index alone may still list a membership
/// just removed, or not list one just added; this read is exact. One read
/// per candidate, up to [`READS_IN_FLIGHT`] at once: usually one to three.
pub async fn existing<S: Store>(
    store: &S,
    channel: &ChannelName,
    changes: &[MembershipChange],
    members: &[Member],
) -> Result<Vec<Membership>, StoreError> {
    let subjects = subjects(channel, changes);
    if subjects.is_empty() {
        return Ok(Vec::new());
    }
    let of_subject = |subject: Option<&str>| subject.is_some_and(|s| subjects.contains(&s));
    let candidates: Vec<&str> = changes
        .iter()
        .map(|c| &c.membership)
        .filter(|m| &m.channel == channel && of_subject(m.subject.as_deref()))
        .map(|m| m.connection_id.as_str())
        .chain(
            members
                .iter()
                .filter(|m| of_subject(m.subject.as_deref()))
                .map(|m| m.connection_id.as_str()),
        )
        .collect::<BTreeSet<&str>>()
        .into_iter()
        .collect();
    let mut existing = Vec::new();
    for chunk in candidates.chunks(READS_IN_FLIGHT) {
        let read =
            futures::future::try_join_all(chunk.iter().map(|id| store.membership(id, channel)))
                .await?;
        existing.extend(
            read.into_iter()
                .flatten()
                .filter(|m| of_subject(m.subject.as_deref())),
        );
    }
    Ok(existing)
}

/// The join and leave events of `changes` (one batch of the stream) in
/// `channel`: [`existing`] read from `store`, then [`join_leave`].
/// `members` are the channel's members as the index lists them now.
pub async fn events<S: Store>(
    store: &S,
    channel: &ChannelName,
    changes: &[MembershipChange],
    members: &[Member],
) -> Result<Vec<PresenceEvent>, StoreError> {
    let existing = existing(store, channel, changes, members).await?;
    Ok(join_leave(channel, changes, &existing))
}

/// Which of two memberships was subscribed first: by subscribe time, then
/// by connection id, so that every batch orders them alike.
fn order(m: &Membership) -> (i64, &str) {
    (m.subscribed_at_ms, m.connection_id.as_str())
}

/// The join and leave events of `changes` (one batch of the stream) for
/// one channel, given `existing`: the channel's memberships that exist now
/// (read strongly consistent after the batch, see [`existing`]; those of
/// other subjects are ignored).
///
/// Per subject, from the batch's net effect (the stream orders each item's
/// records, not records of different items, so the order within a batch
/// says little), with at most one join and one leave per batch:
///
/// - **there before** the batch: a connection whose first record in the
///   batch is a removal (it was inserted in an earlier batch), or an
///   existing membership outside the batch subscribed before the batch's
///   first insert (by [`Membership::subscribed_at_ms`], then connection
///   id). An existing membership subscribed later is not: it belongs to
///   another batch (another shard, or one handled in parallel), which
///   decides its own join — so two connections whose inserts land in two
///   batches join once, whichever batch runs first and whatever both see.
/// - **there after**: an existing membership (but a later one of a
///   connection whose last record here is a removal: its own insert is
///   still to come, in order, in a later batch), or a connection whose last
///   record here is an insert (when it is gone already, its removal comes
///   in a later batch, which makes the leave).
///
/// Not there before and there after is a join; there before and not after
/// is a leave; neither but changes in the batch is a join and a leave (in
/// that order); both is nothing, whatever happened between. So a subject
/// with several connections joins once and leaves when its last membership
/// goes. Changes without a subject (open mode) make no events.
///
/// When batches of one subject's connections run side by side, a join or
/// leave may come twice (at least once, never lost to a lagging index). A
/// leave decided while the index does not list yet a connection of the
/// subject opened that second may be wrong until the subject's next change
/// (`docs/presence.md` says so).
pub fn join_leave(
    channel: &ChannelName,
    changes: &[MembershipChange],
    existing: &[Membership],
) -> Vec<PresenceEvent> {
    let mut events = Vec::new();
    for subject in subjects(channel, changes) {
        let of_subject =
            |m: &Membership| &m.channel == channel && m.subject.as_deref() == Some(subject);
        let records: Vec<&MembershipChange> = changes
            .iter()
            .filter(|c| of_subject(&c.membership))
            .collect();
        // Each connection's first and last record in the batch.
        let mut first: BTreeMap<&str, ChangeKind> = BTreeMap::new();
        let mut last: BTreeMap<&str, ChangeKind> = BTreeMap::new();
        for change in &records {
            let id = change.membership.connection_id.as_str();
            first.entry(id).or_insert(change.kind);
            last.insert(id, change.kind);
        }
        let first_insert = records
            .iter()
            .filter(|c| c.kind == ChangeKind::Insert)
            .map(|c| order(&c.membership))
            .min();
        let existing: Vec<&Membership> = existing.iter().filter(|m| of_subject(m)).collect();
        let before = first.values().any(|k| *k == ChangeKind::Remove)
            || first_insert.is_some_and(|first_insert| {
                existing.iter().any(|m| {
                    !last.contains_key(m.connection_id.as_str()) && order(m) < first_insert
                })
            });
        let after = last.values().any(|k| *k == ChangeKind::Insert)
            || existing
                .iter()
                .any(|m| last.get(m.connection_id.as_str()) != Some(&ChangeKind::Remove));
        let kinds: &[PresenceChange] = match (before, after) {
            (false, true) => &[PresenceChange::Join],
            (true, false) => &[PresenceChange::Leave],
            (false, false) => &[PresenceChange::Join, PresenceChange::Leave],
            (true, true) => &[],
        };
        events.extend(kinds.iter().map(|kind| PresenceEvent {
            kind: *kind,
            channel: channel.clone(),
            subject: subject.to_owned(),
        }));
    }
    events
}
