//! How the handlers' fan-out reaches the sockets locally.
//!
//! By default in process: the same delivery as `POST @connections` (the same
//! registry, the same 410 / 413 / 429 outcomes), without signing, sending and
//! parsing an HTTP request per member, which cost ~100 µs of CPU per post and
//! made a local broadcast eight times slower than a bare one. With
//! `--notifier sdk` the handlers post through the real
//! `aws-sdk-apigatewaymanagement` client to this gateway's own `@connections`
//! endpoint instead, as they do on AWS.

use std::str::FromStr;
use std::sync::Arc;

use channels::{ConnectionNotifier, NotifyError, MAX_MESSAGE_BYTES};

use crate::registry::{Refused, Registry};

/// Which way the handlers' posts go.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub enum NotifierMode {
    /// Straight into the connection registry.
    #[default]
    Direct,
    /// Through the SDK client and the `@connections` endpoint (feature `aws`).
    Sdk,
}

impl FromStr for NotifierMode {
    type Err = String;

    fn from_str(value: &str) -> Result<Self, Self::Err> {
        match value {
            "direct" => Ok(Self::Direct),
            "sdk" => Ok(Self::Sdk),
            other => Err(format!("{other:?} is neither direct nor sdk")),
        }
    }
}

/// The handlers' [`ConnectionNotifier`] in the local gateway.
#[derive(Clone, Debug)]
pub(crate) enum LocalNotifier {
    Direct(Arc<Registry>),
    #[cfg(feature = "aws")]
    Sdk(channels_aws::apigw::ApiGatewayNotifier),
}

impl ConnectionNotifier for LocalNotifier {
    async fn post(&self, connection_id: &str, data: &[u8]) -> Result<(), NotifyError> {
        match self {
            #[cfg(feature = "aws")]
            Self::Sdk(sdk) => sdk.post(connection_id, data).await,
            Self::Direct(registry) => post(registry, connection_id, data),
        }
    }
}

/// What `POST @connections` does with a body (`management::post`).
fn post(registry: &Registry, connection_id: &str, data: &[u8]) -> Result<(), NotifyError> {
    let handle = registry.get(connection_id).ok_or(NotifyError::Gone)?;
    if data.len() > MAX_MESSAGE_BYTES {
        return Err(NotifyError::PayloadTooLarge);
    }
    handle.post(data).map_err(|refused| match refused {
        Refused::Full | Refused::Overflow => NotifyError::Throttled,
        Refused::Closed => NotifyError::Gone,
    })
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::registry::{ConnectionHandle, Outbound, DELETED};
    use tokio::sync::mpsc;
    use tokio_tungstenite::tungstenite::Message;

    fn connect(registry: &Registry, id: &str, buffer: usize) -> mpsc::Receiver<Outbound> {
        let (outbound, queue) = mpsc::channel(buffer);
        let handle =
            ConnectionHandle::new(id.into(), outbound, 0, "127.0.0.1".into(), None, usize::MAX);
        registry.insert(Arc::new(handle));
        queue
    }

    #[test]
    fn delivers_text_and_binary_frames_as_post_to_connection_does() {
        let registry = Registry::default();
        let mut queue = connect(&registry, "a=", 8);
        assert_eq!(post(&registry, "a=", "héllo".as_bytes()), Ok(()));
        assert_eq!(post(&registry, "a=", &[0xff, 0x00]), Ok(()));
        assert!(
            matches!(queue.try_recv(), Ok(Outbound::Message(Message::Text(t))) if t.as_str() == "héllo")
        );
        assert!(
            matches!(queue.try_recv(), Ok(Outbound::Message(Message::Binary(b))) if b.as_ref() == [0xff, 0x00])
        );
    }

    #[test]
    fn refuses_as_api_gateway_would() {
        let registry = Registry::default();
        let _queue = connect(&registry, "full=", 1);
        // An unknown connection is gone (410).
        assert_eq!(post(&registry, "nobody=", b"x"), Err(NotifyError::Gone));
        // Over 128 KiB: 413; exactly 128 KiB is taken.
        let big = vec![b'x'; MAX_MESSAGE_BYTES + 1];
        assert_eq!(
            post(&registry, "full=", &big),
            Err(NotifyError::PayloadTooLarge)
        );
        assert_eq!(post(&registry, "full=", &big[1..]), Ok(()));
        // A client that does not read: 429, worth retrying.
        assert_eq!(post(&registry, "full=", b"x"), Err(NotifyError::Throttled));
        // A closing connection: gone.
        let _closing = connect(&registry, "closing=", 8);
        let handle = registry.get("closing=").expect("registered");
        let _ = registry.close(&handle, Some(&DELETED));
        assert_eq!(post(&registry, "closing=", b"x"), Err(NotifyError::Gone));
    }
}
