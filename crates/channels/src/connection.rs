use crate::ChannelName;

/// API Gateway closes every WebSocket connection after two hours.
pub const MAX_CONNECTION_SECS: i64 = 2 * 60 * 60;

/// How long a stored connection lives when its `$disconnect` never arrives
/// (API Gateway delivers it on a best-effort basis): the two-hour connection
/// limit plus ten minutes of margin. DynamoDB TTL deletes the item some time
/// after that; reads filter out expired items in the meantime.
pub const CONNECTION_TTL_SECS: i64 = MAX_CONNECTION_SECS + 10 * 60;

/// API Gateway's WebSocket message limit, 128 KiB; the publish API holds to it.
pub const MAX_MESSAGE_BYTES: usize = 128 * 1024;

/// One WebSocket connection and the channel it joined.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Connection {
    pub id: String,
    pub channel: ChannelName,
    /// Epoch milliseconds, as API Gateway reports `connectedAt`.
    pub connected_at_ms: i64,
    /// Epoch seconds after which the connection is treated as gone.
    pub expires_at: i64,
}

impl Connection {
    /// A connection accepted at `connected_at_ms`, expiring
    /// [`CONNECTION_TTL_SECS`] later.
    pub fn new(id: impl Into<String>, channel: ChannelName, connected_at_ms: i64) -> Self {
        Self {
            id: id.into(),
            channel,
            connected_at_ms,
            expires_at: connected_at_ms
                .div_euclid(1000)
                .saturating_add(CONNECTION_TTL_SECS),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn expiry_is_two_hours_and_a_margin_after_connect() {
        let c = Connection::new("abc=", ChannelName::default_channel(), 1_700_000_000_123);
        assert_eq!(c.expires_at, 1_700_000_000 + 7_800);
        assert!(c.expires_at > 1_700_000_000 + MAX_CONNECTION_SECS);
    }
}
