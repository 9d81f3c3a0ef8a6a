//! Recovery: what a client that comes back missed, or the certainty that it
//! cannot have it.
//!
//! A client names the last position it holds (`since`: offset and epoch).
//! The kept messages after it are read, then the channel's latest position;
//! the client gets what could be replayed, in offset order, and
//! `recovered: true` only when that is every offset from `since` to the
//! latest. Anything else — another epoch (the counter, and so the history,
//! was lost), history off, expired or trimmed messages, a hole a failed
//! publish left, more than [`MAX_REPLAY_MESSAGES`] or [`MAX_REPLAY_BYTES`]
//! to replay, a publish racing the read — answers `recovered: false`. A
//! false alarm is possible; a silent loss is not.

use crate::fanout::History;
use crate::message::{Position, StoredMessage};
use crate::store::{Store, StoreError};
use crate::ChannelName;

/// Most messages one replay sends.
pub const MAX_REPLAY_MESSAGES: u32 = 100;
/// Most bytes (of envelopes) one replay sends: 1 MiB.
pub const MAX_REPLAY_BYTES: usize = 1024 * 1024;

/// Where a client says it stands.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Since {
    pub offset: u64,
    /// `None` (HTTP catch-up without `epoch`): the channel's current epoch.
    pub epoch: Option<String>,
}

/// One replayed message: its offset and `lrw.v1` envelope.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Replayed {
    pub offset: u64,
    pub envelope: Vec<u8>,
}

/// What a recovery found.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Recovery {
    /// What can be replayed, in offset order.
    pub messages: Vec<Replayed>,
    /// The channel's latest position, read after the messages.
    pub position: Position,
    /// Whether `messages` is every offset after `since` up to `position`.
    pub recovered: bool,
}

/// Reads the kept messages after `since`, then the latest position, and
/// decides ([`decide`]).
pub async fn recover<S: Store>(
    store: &S,
    history: &History,
    channel: &ChannelName,
    since: &Since,
) -> Result<Recovery, StoreError> {
    let fetched = if history.enabled() {
        store
            .messages(channel, since.offset, MAX_REPLAY_MESSAGES + 1)
            .await?
    } else {
        Vec::new()
    };
    let position = store.position(channel).await?;
    Ok(decide(history, since, fetched, position))
}

/// What of `fetched` (read before `position`) a client at `since` gets,
/// and whether that is all it missed.
pub fn decide(
    history: &History,
    since: &Since,
    fetched: Vec<StoredMessage>,
    position: Position,
) -> Recovery {
    let same_epoch = since.epoch.as_deref().is_none_or(|e| e == position.epoch);
    if !same_epoch {
        return Recovery {
            messages: Vec::new(),
            position,
            recovered: false,
        };
    }
    // Logical trimming: only the latest `max` offsets are read.
    let floor = position.offset.saturating_sub(history.max);
    let mut messages: Vec<Replayed> = Vec::new();
    let mut bytes = 0usize;
    let mut truncated = false;
    for message in fetched {
        let offset = message.position.offset;
        // Stale items of an older epoch, trimmed ones, and anything past
        // the position (read after) are not replayed.
        if message.position.epoch != position.epoch
            || offset <= floor
            || offset <= since.offset
            || offset > position.offset
        {
            continue;
        }
        let envelope = message.publication.envelope(&message.position);
        if messages.len() >= MAX_REPLAY_MESSAGES as usize
            || bytes + envelope.len() > MAX_REPLAY_BYTES
        {
            truncated = true;
            break;
        }
        bytes += envelope.len();
        messages.push(Replayed { offset, envelope });
    }
    let missed = position.offset.checked_sub(since.offset);
    let complete = match missed {
        None => false,
        Some(0) => true,
        Some(_) if !history.enabled() || since.offset < floor => false,
        Some(missed) => {
            !truncated
                && messages.len() as u64 == missed
                && messages
                    .iter()
                    .zip(since.offset + 1..)
                    .all(|(m, expected)| m.offset == expected)
        }
    };
    Recovery {
        messages,
        position,
        recovered: complete,
    }
}
