//! What a fan-out did, member by member.

use serde::Serialize;

use crate::ChannelName;

/// What a fan-out did, connection by connection:
/// `recipients == delivered + gone + failed`.
#[derive(Clone, Debug, Default, PartialEq, Eq, Serialize)]
pub struct PublishReport {
    pub channel: String,
    /// Live members it was sent to (the sender of a socket publish excluded).
    pub recipients: u64,
    /// Posted successfully.
    pub delivered: u64,
    /// Reported gone (410) by API Gateway, and removed from the store.
    pub gone: u64,
    /// Still failing after the retries, or failing in a way retries cannot fix.
    pub failed: u64,
}

#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(crate) enum Outcome {
    Delivered,
    Gone,
    Failed,
}

impl PublishReport {
    pub fn new(channel: &ChannelName) -> Self {
        Self {
            channel: channel.to_string(),
            ..Self::default()
        }
    }

    pub(crate) fn count(&mut self, outcome: Outcome) {
        self.recipients += 1;
        match outcome {
            Outcome::Delivered => self.delivered += 1,
            Outcome::Gone => self.gone += 1,
            Outcome::Failed => self.failed += 1,
        }
    }

    /// Adds another report's counts to this one.
    pub fn add(&mut self, other: &PublishReport) {
        self.recipients += other.recipients;
        self.delivered += other.delivered;
        self.gone += other.gone;
        self.failed += other.failed;
    }
}
