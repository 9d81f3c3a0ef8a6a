use std::future::Future;

/// Why a message could not be delivered to one connection.
#[derive(Clone, Debug, PartialEq, Eq, thiserror::Error)]
pub enum NotifyError {
    /// 410: the connection no longer exists; it should be forgotten.
    #[error("connection is gone")]
    Gone,
    /// 429: API Gateway throttled the call; worth retrying after a pause.
    #[error("throttled")]
    Throttled,
    /// 413: the message is over the connection's limit.
    #[error("payload too large")]
    PayloadTooLarge,
    /// 403: the caller may not post to this connection.
    #[error("forbidden")]
    Forbidden,
    /// 5xx, a timeout or a network failure; worth retrying.
    #[error("unavailable: {0}")]
    Unavailable(String),
    /// Any other refusal; retrying would not help.
    #[error("rejected: {0}")]
    Rejected(String),
}

impl NotifyError {
    /// Whether the same call may succeed later.
    pub fn is_retryable(&self) -> bool {
        matches!(self, Self::Throttled | Self::Unavailable(_))
    }
}

/// Port: sends bytes to one connection.
pub trait ConnectionNotifier: Send + Sync {
    fn post(
        &self,
        connection_id: &str,
        data: &[u8],
    ) -> impl Future<Output = Result<(), NotifyError>> + Send;
}

impl<N: ConnectionNotifier> ConnectionNotifier for &N {
    fn post(
        &self,
        connection_id: &str,
        data: &[u8],
    ) -> impl Future<Output = Result<(), NotifyError>> + Send {
        (**self).post(connection_id, data)
    }
}

impl<N: ConnectionNotifier> ConnectionNotifier for std::sync::Arc<N> {
    fn post(
        &self,
        connection_id: &str,
        data: &[u8],
    ) -> impl Future<Output = Result<(), NotifyError>> + Send {
        (**self).post(connection_id, data)
    }
}
