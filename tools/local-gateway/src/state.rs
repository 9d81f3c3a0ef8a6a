//! What every request and connection shares: the gateway's settings, the
//! handlers' dependencies, the open connections, and the events it emits.

use std::sync::Arc;
use std::time::Duration;

use channels::token::LocalSigner;
use http_lambda::commands::CommandsDeps;
use http_lambda::presence::PresenceDeps;
use http_lambda::worker::WorkerDeps;
use http_lambda::Deps;
use tokio::sync::{broadcast, watch, OwnedSemaphorePermit, Semaphore};

use crate::buffers::SocketBuffers;
use crate::notifier::LocalNotifier;
use crate::queue::LocalQueue;
use crate::registry::Registry;
use crate::store::LocalStore;

/// Something the gateway did, for tests and tools that watch it.
#[derive(Clone, Debug, PartialEq, Eq)]
#[non_exhaustive]
pub enum GatewayEvent {
    /// `$connect` accepted the connection; the handshake follows.
    Connected { connection_id: String },
    /// `$disconnect` has been handled (the store no longer has the connection).
    Disconnected {
        connection_id: String,
        status_code: u16,
        reason: String,
    },
}

/// State shared by every request and connection.
#[derive(Debug)]
pub(crate) struct Shared {
    pub(crate) stage: String,
    /// `requestContext.domainName`: `127.0.0.1:PORT`.
    pub(crate) domain: String,
    pub(crate) idle_timeout: Duration,
    pub(crate) max_lifetime: Duration,
    pub(crate) outbound_buffer: usize,
    /// Each connection's socket buffers and backlog limit.
    pub(crate) buffers: SocketBuffers,
    /// How long `$connect`, and then the upgrade, may each take.
    pub(crate) handshake_timeout: Duration,
    /// How long a request body may take to arrive whole.
    pub(crate) body_timeout: Duration,
    /// Handler invocations that may run at once (see
    /// [`crate::GatewayBuilder::max_invocations`]).
    pub(crate) invocations: Arc<Semaphore>,
    pub(crate) store: LocalStore,
    /// What the rx handler gets: the store and who may listen.
    pub(crate) rx: rx::Deps<LocalStore, crate::JwksClient>,
    /// What the http handler gets; its signer is a key made at start.
    pub(crate) http: Deps<LocalStore, LocalNotifier, LocalSigner, LocalQueue>,
    /// What the commands function gets.
    pub(crate) commands: CommandsDeps<LocalStore, LocalNotifier, LocalQueue, crate::JwksClient>,
    /// What the publish queue's workers get.
    pub(crate) worker: WorkerDeps<LocalStore, LocalNotifier, LocalQueue>,
    /// What the presence function gets.
    pub(crate) presence: PresenceDeps<LocalStore, LocalNotifier>,
    /// The open connections; the in-process notifier holds it too.
    pub(crate) registry: Arc<Registry>,
    pub(crate) events: broadcast::Sender<GatewayEvent>,
    /// `true` once shutdown began.
    pub(crate) shutdown: watch::Sender<bool>,
    /// Connections accepted by `$connect` whose `$disconnect` has not finished.
    pub(crate) live: watch::Sender<usize>,
}

impl Shared {
    /// Waits for a turn to invoke a handler; the turn ends when the permit
    /// is dropped.
    pub(crate) async fn invocation(&self) -> Option<OwnedSemaphorePermit> {
        // Never closed; `None` would only mean no limit.
        Arc::clone(&self.invocations).acquire_owned().await.ok()
    }

    pub(crate) fn emit(&self, event: GatewayEvent) {
        // Nobody listening is fine.
        let _ = self.events.send(event);
    }
}
