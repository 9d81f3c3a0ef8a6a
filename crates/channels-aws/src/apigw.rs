//! API Gateway Management API adapter of [`ConnectionNotifier`].

use std::sync::{Arc, Mutex, PoisonError};
use std::time::Duration;

use aws_runtime::auth::PayloadSigningOverride;
use aws_sdk_apigatewaymanagement::config::interceptors::BeforeTransmitInterceptorContextMut;
use aws_sdk_apigatewaymanagement::config::{ConfigBag, Intercept, RuntimeComponents};
use aws_smithy_runtime_api::box_error::BoxError;

use aws_sdk_apigatewaymanagement::config::http::HttpResponse;
use aws_sdk_apigatewaymanagement::config::retry::RetryConfig;
use aws_sdk_apigatewaymanagement::config::timeout::TimeoutConfig;
use aws_sdk_apigatewaymanagement::error::{DisplayErrorContext, SdkError};
use aws_sdk_apigatewaymanagement::operation::post_to_connection::PostToConnectionError;
use aws_sdk_apigatewaymanagement::primitives::Blob;
use aws_sdk_apigatewaymanagement::Client;

use channels::{ConnectionNotifier, NotifyError};

/// Posts through `@connections` of one WebSocket API stage.
#[derive(Clone, Debug)]
pub struct ApiGatewayNotifier {
    client: Client,
}

impl ApiGatewayNotifier {
    pub fn new(client: Client) -> Self {
        Self { client }
    }

    /// A client for the stage at `endpoint`
    /// (`https://{api-id}.execute-api.{region}.amazonaws.com/{stage}`).
    ///
    /// The SDK's own retries are off: the fan-out retries throttled and
    /// failing posts itself, with jittered backoff, and counts each try;
    /// both layers retrying would multiply the calls made under throttling.
    pub fn from_conf(sdk: &aws_types::SdkConfig, endpoint: &str) -> Self {
        let config = aws_sdk_apigatewaymanagement::config::Builder::from(sdk)
            .endpoint_url(endpoint)
            .interceptor(PayloadHashCache::default())
            .retry_config(RetryConfig::disabled())
            .timeout_config(
                TimeoutConfig::builder()
                    .connect_timeout(Duration::from_secs(2))
                    .operation_attempt_timeout(Duration::from_secs(5))
                    .build(),
            )
            .build();
        Self::new(Client::from_conf(config))
    }
}

impl ConnectionNotifier for ApiGatewayNotifier {
    async fn post(&self, connection_id: &str, data: &[u8]) -> Result<(), NotifyError> {
        self.client
            .post_to_connection()
            .connection_id(connection_id)
            .data(Blob::new(data))
            .send()
            .await
            .map(|_| ())
            .map_err(classify)
    }
}

/// Bodies below this size are hashed for every request: cheaper than
/// looking them up.
const MIN_CACHED_BODY: usize = 4 * 1024;

/// SigV4 signs the SHA-256 of each request's body. A fan-out posts the same
/// message to every member: this interceptor hashes a (large) body once and
/// hands the signer the hash for every request with the same bytes
/// (compared in full, so a different body is never signed with a stale
/// hash).
#[derive(Debug, Default)]
struct PayloadHashCache {
    last: Mutex<Option<Arc<HashedBody>>>,
}

/// A body and its lowercase hex SHA-256.
type HashedBody = (Vec<u8>, String);

impl Intercept for PayloadHashCache {
    fn name(&self) -> &'static str {
        "PayloadHashCache"
    }

    fn modify_before_signing(
        &self,
        context: &mut BeforeTransmitInterceptorContextMut<'_>,
        _components: &RuntimeComponents,
        cfg: &mut ConfigBag,
    ) -> Result<(), BoxError> {
        let Some(body) = context.request().body().bytes() else {
            return Ok(());
        };
        if body.len() < MIN_CACHED_BODY {
            return Ok(());
        }
        let lock = || self.last.lock().unwrap_or_else(PoisonError::into_inner);
        let cached = lock().clone();
        let hash = match cached {
            Some(entry) if entry.0 == body => entry.1.clone(),
            _ => {
                let hash = hex_sha256(body);
                *lock() = Some(Arc::new((body.to_vec(), hash.clone())));
                hash
            }
        };
        cfg.interceptor_state()
            .store_put(PayloadSigningOverride::Precomputed(hash));
        Ok(())
    }
}

/// Lowercase hex of the SHA-256 of `bytes`, as SigV4 wants it.
fn hex_sha256(bytes: &[u8]) -> String {
    use std::fmt::Write as _;
    let digest = ring::digest::digest(&ring::digest::SHA256, bytes);
    digest
        .as_ref()
        .iter()
        .fold(String::with_capacity(64), |mut hex, b| {
            let _ = write!(hex, "{b:02x}");
            hex
        })
}

fn classify(err: SdkError<PostToConnectionError, HttpResponse>) -> NotifyError {
    let status = match &err {
        SdkError::ServiceError(service) => {
            match service.err() {
                PostToConnectionError::GoneException(_) => return NotifyError::Gone,
                PostToConnectionError::LimitExceededException(_) => return NotifyError::Throttled,
                PostToConnectionError::PayloadTooLargeException(_) => {
                    return NotifyError::PayloadTooLarge
                }
                PostToConnectionError::ForbiddenException(_) => return NotifyError::Forbidden,
                _ => {}
            }
            Some(service.raw().status().as_u16())
        }
        SdkError::TimeoutError(_) | SdkError::DispatchFailure(_) => {
            return NotifyError::Unavailable(DisplayErrorContext(&err).to_string())
        }
        _ => None,
    };
    let message = DisplayErrorContext(&err).to_string();
    match status {
        Some(410) => NotifyError::Gone,
        Some(429) => NotifyError::Throttled,
        Some(s) if s >= 500 => NotifyError::Unavailable(message),
        // A response that could not be read is worth another try.
        None if matches!(err, SdkError::ResponseError(_)) => NotifyError::Unavailable(message),
        _ => NotifyError::Rejected(message),
    }
}

#[cfg(test)]
mod tests {
    use super::hex_sha256;

    #[test]
    fn hashes_are_lowercase_hex_sha256() {
        assert_eq!(
            hex_sha256(b""),
            "e3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852b855"
        );
        assert_eq!(
            hex_sha256(b"abc"),
            "ba7816bf8f01cfea414140de5dae2223b00361a396177a9cb410ff61f20015ad"
        );
    }
}
