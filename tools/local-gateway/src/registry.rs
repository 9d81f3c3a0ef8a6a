//! Open connections by id: what `@connections` needs to reach a socket,
//! and why the gateway closes one (the close codes).

use std::collections::HashMap;
use std::sync::atomic::{AtomicI64, Ordering};
use std::sync::{Arc, Mutex, MutexGuard, PoisonError};

use axum::extract::ws::{CloseFrame, Message};
use tokio::sync::mpsc::error::TrySendError;
use tokio::sync::{mpsc, watch};

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
}

impl Closing {
    fn frame(&self) -> CloseFrame {
        CloseFrame {
            code: self.code,
            reason: self.reason.into(),
        }
    }
}

/// A message over the 128 KiB limit.
pub(crate) const TOO_BIG: Closing = Closing {
    code: 1009,
    reason: "Message too big",
};
/// A binary frame: API Gateway takes none.
pub(crate) const BINARY: Closing = Closing {
    code: 1003,
    reason: "Unsupported data: binary frames are not supported",
};
/// No message either way for the idle timeout.
pub(crate) const IDLE: Closing = Closing {
    code: 1001,
    reason: "Going away: idle timeout",
};
/// The maximum connection lifetime is over.
pub(crate) const LIFETIME: Closing = Closing {
    code: 1001,
    reason: "Going away: maximum connection duration",
};
/// The gateway shuts down.
pub(crate) const SHUTDOWN: Closing = Closing {
    code: 1001,
    reason: "Going away",
};
/// Sent and reported when `DELETE @connections/{id}` closes a connection.
pub(crate) const DELETED: Closing = Closing {
    code: 1000,
    reason: "Connection deleted",
};

/// Why a message could not be queued for a connection.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(crate) enum Refused {
    /// The queue is full: the client does not read (429).
    Full,
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
}

impl ConnectionHandle {
    pub(crate) fn new(
        id: String,
        outbound: mpsc::Sender<Outbound>,
        connected_at_ms: i64,
        source_ip: String,
        user_agent: Option<String>,
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
        }
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

    /// Queues a message for the client, behind what is already queued.
    pub(crate) fn send(&self, message: Message) -> Result<(), Refused> {
        let outbound = self.outbound();
        let Some(sender) = outbound.as_ref() else {
            return Err(Refused::Closed);
        };
        sender
            .try_send(Outbound::Message(message))
            .map_err(|err| match err {
                TrySendError::Full(_) => Refused::Full,
                TrySendError::Closed(_) => Refused::Closed,
            })
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
    fn close_outbound(&self, closing: Option<&Closing>) -> Option<CloseFrame> {
        let sender = self.outbound().take()?;
        let frame = closing?.frame();
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
        let handle = ConnectionHandle::new("id=".into(), outbound, 0, "127.0.0.1".into(), None);
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
        assert!(matches!(queue.try_recv(), Ok(Outbound::Close(f)) if f.code == 1000));
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
        assert_eq!((frame.code, frame.reason.as_str()), (1001, IDLE.reason));
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
}
