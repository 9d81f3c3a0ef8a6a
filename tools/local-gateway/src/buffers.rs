//! How each connection's socket is sized: tungstenite's buffers, its
//! message and frame limits, and the backlog a client that does not read
//! may leave before it is closed.

use tokio_tungstenite::tungstenite::protocol::WebSocketConfig;

use crate::registry::frame_bytes;

/// Messages (fragments together) up to this size are read whole, so that a
/// message over the 128 KiB limit is refused with a clean close handshake
/// (1009). Bigger ones break off the connection (still with a 1009 close
/// frame, best effort), as does a single frame over API Gateway's 32 KiB.
const SOCKET_READ_LIMIT: usize = 16 * 1024 * 1024;

/// How each connection's socket buffers are sized.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(crate) struct SocketBuffers {
    /// Allocated for every connection when it opens (tungstenite's read
    /// buffer); a bigger frame grows it as it arrives.
    pub(crate) read: usize,
    /// Frames are written out once this many bytes are buffered (0: at once;
    /// the writer flushes after every message anyway).
    pub(crate) write: usize,
    /// The backlog limit: see [`crate::registry::Backlog`].
    pub(crate) outbound_bytes: usize,
}

impl SocketBuffers {
    pub(crate) fn config(&self) -> WebSocketConfig {
        // tungstenite's own hard limit on its write buffer, a backstop past
        // the backlog limit: the backlog counts those bytes and closes the
        // connection first (a pong it would refuse is dropped, not an error).
        let backstop = self
            .outbound_bytes
            .saturating_add(2 * frame_bytes(channels::MAX_MESSAGE_BYTES))
            .max(self.write.saturating_add(1));
        WebSocketConfig::default()
            .read_buffer_size(self.read)
            .write_buffer_size(self.write)
            .max_write_buffer_size(backstop)
            .max_message_size(Some(SOCKET_READ_LIMIT))
            .max_frame_size(Some(channels::MAX_FRAME_BYTES))
    }
}
