//! API Gateway Management API adapter of [`ConnectionNotifier`].

use std::time::Duration;

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
