//! Open connections by id: what `@connections` needs to reach a socket,
//! why the gateway closes one (the close codes), and how many bytes each
//! one has waiting to be written (its [`Backlog`]).

use std::collections::HashMap;
use std::sync::atomic::{AtomicI64, Ordering};
use std::sync::{Arc, Mutex, MutexGuard, PoisonError};

use tokio::sync::mpsc::error::TrySendError;
use tokio::sync::{mpsc, watch};
use tokio_tungstenite::tungstenite::protocol::CloseFrame;
use tokio_tungstenite::tungstenite::Message;

/// What the writer task of a connection sends, in order.
#[derive(Debug)]
pub(crate) enum Outbound {
    Message(Message),
    /// Sends this close frame, then stops.
    Close(CloseFrame),
}

/// Why the gateway closes a connection: the close code sent to the client
/// and reported as `disconnectStatusCode`, and the reason.
#[derive(Clone, Debug, PartialEq, Eq)]
pub(crate) struct Closing {
    pub(crate) code: u16,
    pub(crate) reason: &'static str,
    /// The client is not reading: the close frame goes ahead of what is
    /// queued (which is dropped), and no close handshake is waited for.
    pub(crate) urgent: bool,
}

impl Closing {
    const fn new(code: u16, reason: &'static str) -> Self {
        Self {
            code,
            reason,
            urgent: false,
        }
    }

    fn frame(&self) -> CloseFrame {
        CloseFrame {
            code: self.code.into(),
            reason: self.reason.into(),
        }
    }
}

/// A message over the 128 KiB limit.
pub(crate) const TOO_BIG: Closing = Closing::new(1009, "Message too big");
/// A binary frame: API Gateway takes none.
pub(crate) const BINARY: Closing =
    Closing::new(1003, "Unsupported data: binary frames are not supported");
/// A text message that is not UTF-8 (RFC 6455, 8.1).
pub(crate) const INVALID_UTF8: Closing =
    Closing::new(1007, "Invalid frame payload data: text is not UTF-8");
/// A frame that breaks RFC 6455 (reserved bits, an unmasked frame, a
/// fragmented control frame, ...).
pub(crate) const PROTOCOL: Closing = Closing::new(1002, "Protocol error");
/// No message either way for the idle timeout.
pub(crate) const IDLE: Closing = Closing::new(1001, "Going away: idle timeout");
/// The maximum connection lifetime is over.
pub(crate) const LIFETIME: Closing = Closing::new(1001, "Going away: maximum connection duration");
/// The gateway shuts down.
pub(crate) const SHUTDOWN: Closing = Closing::new(1001, "Going away");
/// Sent and reported when `DELETE @connections/{id}` closes a connection.
pub(crate) const DELETED: Closing = Closing::new(1000, "Connection deleted");
/// More bytes wait for the client than its [`Backlog`] takes: it does not
/// read. 1008 (policy violation) rather than 1011 (internal error): the
/// gateway is fine, the client broke a rule of the connection, and a client
/// that retries on 1011 as on a server fault would only do it again.
pub(crate) const NOT_READING: Closing = Closing {
    code: 1008,
    reason: "Policy violation: the client does not read what is sent to it",
    urgent: true,
};

/// Bytes a WebSocket frame of `payload` bytes takes on the wire from the
/// gateway (unmasked): a 2-byte header, plus 2 or 8 for the length.
pub(crate) fn frame_bytes(payload: usize) -> usize {
    payload
        + match payload {
            0..=125 => 2,
            126..=0xffff => 4,
            _ => 10,
        }
}

/// Bytes produced for one connection that the kernel has not taken yet:
/// the messages in its queue, the frame its writer is sending, and the
/// pongs the socket answers pings with. Added when a message is queued (or
/// a ping read), taken off as the socket's writes complete
/// (`websocket::metered`). Signed: a pong may be written before the reader
/// counts it.
#[derive(Debug)]
pub(crate) struct Backlog {
    bytes: AtomicI64,
    limit: i64,
}

impl Backlog {
    pub(crate) fn new(limit: usize) -> Self {
        Self {
            bytes: AtomicI64::new(0),
            limit: i64::try_from(limit).unwrap_or(i64::MAX),
        }
    }

    fn size(bytes: usize) -> i64 {
        i64::try_from(bytes).unwrap_or(i64::MAX)
    }

    /// Counts `bytes` when they fit under the limit.
    fn try_add(&self, bytes: usize) -> bool {
        let bytes = Self::size(bytes);
        self.bytes
            .fetch_update(Ordering::AcqRel, Ordering::Acquire, |now| {
                let after = now.saturating_add(bytes);
                (after <= self.limit).then_some(after)
            })
            .is_ok()
    }

    /// Counts `bytes` already produced (a pong); `false` once past the limit.
    pub(crate) fn add(&self, bytes: usize) -> bool {
        let bytes = Self::size(bytes);
        self.bytes
            .fetch_add(bytes, Ordering::AcqRel)
            .saturating_add(bytes)
            <= self.limit
    }

    /// The kernel took `bytes`.
    pub(crate) fn written(&self, bytes: usize) {
        self.bytes.fetch_sub(Self::size(bytes), Ordering::AcqRel);
    }

    #[cfg(test)]
    pub(crate) fn bytes(&self) -> i64 {
        self.bytes.load(Ordering::Acquire)
    }
}

/// Why a message could not be queued for a connection.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(crate) enum Refused {
    /// The queue is full: the client does not read (429).
    Full,
    /// The message would take the connection's [`Backlog`] past its limit:
    /// refused (429), and the connection is closing with 1008.
    Overflow,
    /// The connection is closing or closed (410).
    Closed,
}

/// One open connection, as the management API sees it.
#[derive(Debug)]
pub(crate) struct ConnectionHandle {
    pub(crate) id: String,
    /// The writer's queue. Bounded: a full queue answers 429. `None` once
    /// the connection closes it: nothing is queued after that.
    outbound: Mutex<Option<mpsc::Sender<Outbound>>>,
    /// Set to ask the connection to close (DELETE).
    pub(crate) close: watch::Sender<Option<Closing>>,
    pub(crate) connected_at_ms: i64,
    last_active_ms: AtomicI64,
    pub(crate) source_ip: String,
    pub(crate) user_agent: Option<String>,
    /// What waits to be written, in bytes.
    pub(crate) backlog: Backlog,
}

impl ConnectionHandle {
    pub(crate) fn new(
        id: String,
        outbound: mpsc::Sender<Outbound>,
        connected_at_ms: i64,
        source_ip: String,
        user_agent: Option<String>,
        backlog_limit: usize,
    ) -> Self {
        let (close, _) = watch::channel(None);
        Self {
            id,
            outbound: Mutex::new(Some(outbound)),
            close,
            connected_at_ms,
            last_active_ms: AtomicI64::new(connected_at_ms),
            source_ip,
            user_agent,
            backlog: Backlog::new(backlog_limit),
        }
    }

    /// Asks the connection to close, unless it is closing already.
    pub(crate) fn request_close(&self, closing: Closing) {
        self.close.send_if_modified(|now| {
            if now.is_some() {
                return false;
            }
            *now = Some(closing);
            true
        });
    }

    /// A message went either way.
    pub(crate) fn touch(&self) {
        self.last_active_ms
            .fetch_max(channels::now_millis(), Ordering::Relaxed);
    }

    pub(crate) fn last_active_ms(&self) -> i64 {
        self.last_active_ms.load(Ordering::Relaxed)
    }

    fn outbound(&self) -> MutexGuard<'_, Option<mpsc::Sender<Outbound>>> {
        // Every update is a single take: nothing half-done to see.
        self.outbound.lock().unwrap_or_else(PoisonError::into_inner)
    }

    /// Queues a message for the client, behind what is already queued. A
    /// full queue refuses it ([`Refused::Full`]); so does a [`Backlog`] it
    /// would take past its limit ([`Refused::Overflow`]), which also starts
    /// closing the connection with 1008 ([`NOT_READING`]).
    pub(crate) fn send(&self, message: Message) -> Result<(), Refused> {
        let bytes = frame_bytes(message.len());
        let outbound = self.outbound();
        let Some(sender) = outbound.as_ref() else {
            return Err(Refused::Closed);
        };
        let permit = sender.try_reserve().map_err(|err| match err {
            TrySendError::Full(()) => Refused::Full,
            TrySendError::Closed(()) => Refused::Closed,
        })?;
        if !self.backlog.try_add(bytes) {
            drop(permit);
            drop(outbound);
            self.request_close(NOT_READING);
            return Err(Refused::Overflow);
        }
        permit.send(Outbound::Message(message));
        Ok(())
    }

    /// What `PostToConnection` does with a body: one message, a text frame
    /// when the bytes are UTF-8, a binary frame otherwise.
    pub(crate) fn post(&self, data: &[u8]) -> Result<(), Refused> {
        let message = match std::str::from_utf8(data) {
            Ok(text) => Message::Text(text.into()),
            Err(_) => Message::Binary(data.to_vec().into()),
        };
        self.send(message)
    }

    /// Closes the queue: from here on [`ConnectionHandle::send`] answers
    /// [`Refused::Closed`], and what was queued before stays queued. With
    /// `closing`, its close frame goes last, behind what is queued; when the
    /// queue is full it comes back instead, for the writer to send first.
    /// Closing again does nothing.
    /// An urgent closing (the client does not read) always comes back.
    fn close_outbound(&self, closing: Option<&Closing>) -> Option<CloseFrame> {
        let sender = self.outbound().take()?;
        let closing = closing?;
        let frame = closing.frame();
        if closing.urgent {
            return Some(frame);
        }
        // Counted, so that a connection that ends with a close frame ends
        // with an empty backlog.
        self.backlog.add(frame_bytes(2 + closing.reason.len()));
        match sender.try_send(Outbound::Close(frame)) {
            Ok(()) => None,
            Err(TrySendError::Full(Outbound::Close(frame))) => Some(frame),
            // The writer is gone: nobody to send it.
            Err(_) => None,
        }
    }
}

#[derive(Debug, Default)]
pub(crate) struct Registry {
    connections: Mutex<HashMap<String, Arc<ConnectionHandle>>>,
}

impl Registry {
    fn lock(&self) -> MutexGuard<'_, HashMap<String, Arc<ConnectionHandle>>> {
        // Every update is a single insert or remove: nothing half-done to see.
        self.connections
            .lock()
            .unwrap_or_else(PoisonError::into_inner)
    }

    pub(crate) fn insert(&self, handle: Arc<ConnectionHandle>) {
        self.lock().insert(handle.id.clone(), handle);
    }

    pub(crate) fn get(&self, id: &str) -> Option<Arc<ConnectionHandle>> {
        self.lock().get(id).cloned()
    }

    /// Forgets a connection that is ending: first closes its queue (see
    /// [`ConnectionHandle::close_outbound`]), then removes it. A post that
    /// got the handle before either lands ahead of the close frame or is
    /// refused [`Refused::Closed`] (410 Gone), never queued behind it.
    /// Returns the close frame when the queue was full.
    pub(crate) fn close(
        &self,
        handle: &ConnectionHandle,
        closing: Option<&Closing>,
    ) -> Option<CloseFrame> {
        let overflow = handle.close_outbound(closing);
        self.lock().remove(&handle.id);
        overflow
    }

    pub(crate) fn ids(&self) -> Vec<String> {
        let mut ids: Vec<String> = self.lock().keys().cloned().collect();
        ids.sort();
        ids
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn handle(buffer: usize) -> (Arc<ConnectionHandle>, mpsc::Receiver<Outbound>) {
        let (outbound, queue) = mpsc::channel(buffer);
        let handle = ConnectionHandle::new(
            "id=".into(),
            outbound,
            0,
            "127.0.0.1".into(),
            None,
            usize::MAX,
        );
        (Arc::new(handle), queue)
    }

    fn text(message: &str) -> Message {
        Message::Text(message.into())
    }

    #[test]
    fn a_post_with_a_handle_taken_before_the_close_is_refused_after_it() {
        // GIVEN a connection whose writer has not caught up, and a post that
        // got its handle from the registry
        let registry = Registry::default();
        let (handle, mut queue) = handle(8);
        registry.insert(Arc::clone(&handle));
        let post = registry.get("id=").expect("registered");
        assert_eq!(post.send(text("before")), Ok(()));

        // WHEN the connection closes with a close frame
        assert!(registry.close(&handle, Some(&DELETED)).is_none());

        // THEN the post is refused as Gone, not queued behind the close frame
        assert_eq!(post.send(text("after")), Err(Refused::Closed));
        assert!(registry.get("id=").is_none());
        // AND the writer sends what came before, then the close frame, then stops
        assert!(matches!(queue.try_recv(), Ok(Outbound::Message(m)) if m == text("before")));
        assert!(matches!(queue.try_recv(), Ok(Outbound::Close(f)) if u16::from(f.code) == 1000));
        assert!(matches!(
            queue.try_recv(),
            Err(mpsc::error::TryRecvError::Disconnected)
        ));
    }

    #[test]
    fn a_full_queue_gives_the_close_frame_back_and_still_closes() {
        let registry = Registry::default();
        let (handle, mut queue) = handle(1);
        registry.insert(Arc::clone(&handle));
        assert_eq!(handle.send(text("queued")), Ok(()));
        assert_eq!(handle.send(text("one too many")), Err(Refused::Full));

        let frame = registry
            .close(&handle, Some(&IDLE))
            .expect("the frame comes back");
        assert_eq!(
            (u16::from(frame.code), frame.reason.as_str()),
            (1001, IDLE.reason)
        );
        assert_eq!(handle.send(text("late")), Err(Refused::Closed));
        assert!(matches!(queue.try_recv(), Ok(Outbound::Message(_))));
        assert!(matches!(
            queue.try_recv(),
            Err(mpsc::error::TryRecvError::Disconnected)
        ));
    }

    #[test]
    fn closing_without_a_frame_or_twice_only_closes() {
        let registry = Registry::default();
        let (handle, mut queue) = handle(4);
        registry.insert(Arc::clone(&handle));
        assert!(registry.close(&handle, None).is_none());
        assert!(registry.close(&handle, Some(&SHUTDOWN)).is_none());
        assert_eq!(handle.send(text("late")), Err(Refused::Closed));
        assert!(matches!(
            queue.try_recv(),
            Err(mpsc::error::TryRecvError::Disconnected)
        ));
        assert!(registry.ids().is_empty());
    }

    #[test]
    fn frames_are_counted_with_their_headers() {
        assert_eq!(frame_bytes(0), 2);
        assert_eq!(frame_bytes(125), 127);
        assert_eq!(frame_bytes(126), 130);
        assert_eq!(frame_bytes(0xffff), 0xffff + 4);
        assert_eq!(frame_bytes(0x10000), 0x10000 + 10);
    }

    #[test]
    fn past_the_byte_limit_a_message_is_refused_and_the_connection_closes_with_1008() {
        // GIVEN a queue with room for many messages but 300 bytes of backlog
        let (outbound, mut queue) = mpsc::channel(64);
        let handle = ConnectionHandle::new("id=".into(), outbound, 0, "::1".into(), None, 300);
        let mut close = handle.close.subscribe();

        // WHEN two 100-byte messages are queued, then a third
        let message = || text(&"x".repeat(100));
        assert_eq!(handle.send(message()), Ok(()));
        assert_eq!(handle.send(message()), Ok(()));
        assert_eq!(handle.backlog.bytes(), 2 * 102);
        // THEN the third would pass 300 bytes: refused, and the connection
        // is asked to close with 1008, urgently
        assert_eq!(handle.send(message()), Err(Refused::Overflow));
        assert!(close.has_changed().unwrap_or(false));
        assert_eq!(close.borrow_and_update().clone(), Some(NOT_READING));
        // AND the backlog only counts what was queued
        assert_eq!(handle.backlog.bytes(), 2 * 102);

        // WHEN the writer hands the first message to the kernel
        assert!(matches!(queue.try_recv(), Ok(Outbound::Message(_))));
        handle.backlog.written(102);
        // THEN a small message fits again
        assert_eq!(handle.send(text("ok")), Ok(()));

        // AND an urgent closing hands its frame back rather than queueing it
        let registry = Registry::default();
        let handle = Arc::new(handle);
        registry.insert(Arc::clone(&handle));
        let frame = registry.close(&handle, Some(&NOT_READING)).expect("urgent");
        assert_eq!(u16::from(frame.code), 1008);
    }

    #[test]
    fn pongs_count_and_say_when_the_limit_is_passed() {
        let backlog = Backlog::new(254);
        assert!(backlog.add(127));
        assert!(backlog.add(127));
        assert!(!backlog.add(127));
        backlog.written(381);
        assert_eq!(backlog.bytes(), 0);
        // Written before counted: negative for a moment, never wrapped.
        backlog.written(10);
        assert_eq!(backlog.bytes(), -10);
    }
}
