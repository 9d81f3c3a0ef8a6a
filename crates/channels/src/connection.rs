use std::fmt;

use crate::{ChannelName, Grants};

/// API Gateway closes every WebSocket connection after two hours.
pub const MAX_CONNECTION_SECS: i64 = 2 * 60 * 60;

/// How long a stored connection lives when its `$disconnect` never arrives
/// (API Gateway delivers it on a best-effort basis): the two-hour connection
/// limit plus ten minutes of margin. DynamoDB TTL deletes the items some
/// time after that; reads filter out expired items in the meantime.
pub const CONNECTION_TTL_SECS: i64 = MAX_CONNECTION_SECS + 10 * 60;

/// API Gateway's WebSocket message limit, 128 KiB; the publish API holds to it.
pub const MAX_MESSAGE_BYTES: usize = 128 * 1024;

/// API Gateway's WebSocket frame limit, 32 KiB: a client frame over it
/// closes the connection (1009). A browser sends each message as one frame.
pub const MAX_FRAME_BYTES: usize = 32 * 1024;

/// Most subscriptions one connection may hold.
pub const MAX_SUBSCRIPTIONS: u32 = 100;

/// The subprotocol of the client protocol, `lrw.v1`.
pub const SUBPROTOCOL: &str = "lrw.v1";

/// How a connection speaks.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, Hash)]
pub enum Protocol {
    /// The seed's demo: one channel, every frame echoed, publishes arrive as
    /// their raw body.
    #[default]
    Raw,
    /// `lrw.v1`: JSON commands, many channels, message envelopes.
    V1,
}

impl Protocol {
    pub const fn as_str(self) -> &'static str {
        match self {
            Self::Raw => "raw",
            Self::V1 => SUBPROTOCOL,
        }
    }

    /// The stored form back; anything unknown is raw.
    pub fn parse(text: &str) -> Self {
        if text == SUBPROTOCOL {
            Self::V1
        } else {
            Self::Raw
        }
    }
}

impl fmt::Display for Protocol {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

/// One WebSocket connection: how it speaks, what it may do, who holds it.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Connection {
    pub id: String,
    pub protocol: Protocol,
    pub grants: Grants,
    /// The token's `sub`, when it has one (open mode: none).
    pub subject: Option<String>,
    /// The identity provider that issued the token (`TOKEN_ISSUERS`);
    /// `None` for our own tokens. A `sub` is unique within its issuer only.
    pub issuer: Option<String>,
    /// The token's `exp`: commands after it answer 401 until a fresh token
    /// comes. `None` in open mode.
    pub token_expires_at: Option<i64>,
    /// How many channels it is subscribed to.
    pub subscriptions: u32,
    /// Epoch milliseconds, as API Gateway reports `connectedAt`.
    pub connected_at_ms: i64,
    /// Epoch seconds after which the connection is treated as gone.
    pub expires_at: i64,
}

impl Connection {
    /// A raw connection accepted at `connected_at_ms` with every grant,
    /// expiring [`CONNECTION_TTL_SECS`] later; the fields are public to set
    /// the rest.
    pub fn new(id: impl Into<String>, connected_at_ms: i64) -> Self {
        Self {
            id: id.into(),
            protocol: Protocol::Raw,
            grants: Grants::all(),
            subject: None,
            issuer: None,
            token_expires_at: None,
            subscriptions: 0,
            connected_at_ms,
            expires_at: connected_at_ms
                .div_euclid(1000)
                .saturating_add(CONNECTION_TTL_SECS),
        }
    }

    /// The membership of this connection in `channel`, subscribed now.
    pub fn membership(&self, channel: &ChannelName) -> Membership {
        self.membership_at(channel, crate::now_millis())
    }

    /// The membership of this connection in `channel`, subscribed at
    /// `subscribed_at_ms` (epoch milliseconds).
    pub fn membership_at(&self, channel: &ChannelName, subscribed_at_ms: i64) -> Membership {
        Membership {
            connection_id: self.id.clone(),
            channel: channel.clone(),
            protocol: self.protocol,
            subject: self.subject.clone(),
            expires_at: self.expires_at,
            subscribed_at_ms,
        }
    }

    /// Whether its token has expired at `now` (seconds).
    pub fn token_expired(&self, now: i64) -> bool {
        self.token_expires_at
            .is_some_and(|exp| now > exp.saturating_add(crate::token::LEEWAY_SECS))
    }
}

/// A connection's subscription to one channel: what fan-out and presence
/// read from the channel index.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Membership {
    pub connection_id: String,
    pub channel: ChannelName,
    pub protocol: Protocol,
    pub subject: Option<String>,
    pub expires_at: i64,
    /// When it was stored, epoch milliseconds: which of a subject's
    /// memberships came first, for its join event. 0 for an item stored
    /// before memberships carried it.
    pub subscribed_at_ms: i64,
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn expiry_is_two_hours_and_a_margin_after_connect() {
        let c = Connection::new("abc=", 1_700_000_000_123);
        assert_eq!(c.expires_at, 1_700_000_000 + 7_800);
        assert!(c.expires_at > 1_700_000_000 + MAX_CONNECTION_SECS);
    }

    #[test]
    fn the_protocol_round_trips_and_unknown_is_raw() {
        assert_eq!(Protocol::parse(Protocol::V1.as_str()), Protocol::V1);
        assert_eq!(Protocol::parse("raw"), Protocol::Raw);
        assert_eq!(Protocol::parse("lrw.v2"), Protocol::Raw);
    }
}
