//! Open connections by id: what `@connections` needs to reach a socket.

use std::collections::HashMap;
use std::sync::atomic::{AtomicI64, Ordering};
use std::sync::{Arc, Mutex, MutexGuard};

use axum::extract::ws::{CloseFrame, Message};
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

/// One open connection, as the management API sees it.
#[derive(Debug)]
pub(crate) struct ConnectionHandle {
    pub(crate) id: String,
    /// Bounded: a full queue answers 429.
    pub(crate) outbound: mpsc::Sender<Outbound>,
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
            outbound,
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
            .unwrap_or_else(std::sync::PoisonError::into_inner)
    }

    pub(crate) fn insert(&self, handle: Arc<ConnectionHandle>) {
        self.lock().insert(handle.id.clone(), handle);
    }

    pub(crate) fn get(&self, id: &str) -> Option<Arc<ConnectionHandle>> {
        self.lock().get(id).cloned()
    }

    pub(crate) fn remove(&self, id: &str) -> Option<Arc<ConnectionHandle>> {
        self.lock().remove(id)
    }

    pub(crate) fn ids(&self) -> Vec<String> {
        let mut ids: Vec<String> = self.lock().keys().cloned().collect();
        ids.sort();
        ids
    }
}
