//! A client built on first use, not at init: for the SDK clients only some
//! invocations of a function need (KMS for `POST /tokens`, SQS for a big
//! publish), so that a cold start does not pay for them.

use std::future::Future;
use std::sync::OnceLock;

use channels::job::{PublishQueue, QueueError, ShardJob};
use channels::token::{SignError, TokenSigner, SIGNATURE_LEN};
use channels::{ConnectionNotifier, NotifyError};

/// `T`, made by `make` the first time it is used.
pub struct Lazy<T> {
    cell: OnceLock<T>,
    make: Box<dyn Fn() -> T + Send + Sync>,
}

impl<T> Lazy<T> {
    pub fn new(make: impl Fn() -> T + Send + Sync + 'static) -> Self {
        Self {
            cell: OnceLock::new(),
            make: Box::new(make),
        }
    }

    /// The value, made now if it was not yet.
    pub fn get(&self) -> &T {
        self.cell.get_or_init(|| (self.make)())
    }

    /// Whether it has been made.
    pub fn is_made(&self) -> bool {
        self.cell.get().is_some()
    }
}

impl<T> std::fmt::Debug for Lazy<T> {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Lazy")
            .field("made", &self.is_made())
            .finish()
    }
}

impl<T: TokenSigner> TokenSigner for Lazy<T> {
    fn sign(
        &self,
        message: &[u8],
    ) -> impl Future<Output = Result<[u8; SIGNATURE_LEN], SignError>> + Send {
        self.get().sign(message)
    }
}

impl<T: PublishQueue> PublishQueue for Lazy<T> {
    fn enqueue(&self, jobs: Vec<ShardJob>) -> impl Future<Output = Result<(), QueueError>> + Send {
        self.get().enqueue(jobs)
    }

    fn retry_after(
        &self,
        receipt_handle: &str,
        delay: std::time::Duration,
    ) -> impl Future<Output = Result<(), QueueError>> + Send {
        self.get().retry_after(receipt_handle, delay)
    }
}

impl<T: ConnectionNotifier> ConnectionNotifier for Lazy<T> {
    fn post(
        &self,
        connection_id: &str,
        data: &[u8],
    ) -> impl Future<Output = Result<(), NotifyError>> + Send {
        self.get().post(connection_id, data)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::sync::atomic::{AtomicUsize, Ordering};
    use std::sync::Arc;

    #[test]
    fn made_once_on_first_use_only() {
        let made = Arc::new(AtomicUsize::new(0));
        let counter = Arc::clone(&made);
        let lazy = Lazy::new(move || counter.fetch_add(1, Ordering::SeqCst));
        assert!(!lazy.is_made());
        assert_eq!(
            made.load(Ordering::SeqCst),
            0,
            "nothing made at construction"
        );
        assert_eq!(*lazy.get(), 0);
        assert_eq!(*lazy.get(), 0);
        assert_eq!(made.load(Ordering::SeqCst), 1);
        assert!(lazy.is_made());
    }
}
