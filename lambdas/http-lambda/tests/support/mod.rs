//! What the handler tests share: fixtures (real event JSON in tests/data),
//! the Lambda event around them, the JSON of an answer, the deployment's
//! audience and issuer with its minter and verifier, channel names, publish
//! options whose retries do not wait.

#![allow(dead_code)]

use std::time::Duration;

use aws_lambda_events::apigw::{ApiGatewayV2httpRequest, ApiGatewayV2httpResponse};
use aws_lambda_events::encodings::Body;
use channels::token::{LocalSigner, Minter, Verifier};
use channels::{ChannelName, PublishOptions};
use lambda_runtime::{Context, LambdaEvent};
use serde::de::DeserializeOwned;
use serde_json::Value;

pub const AUD: &str = "wss://abcd123456.execute-api.us-east-1.amazonaws.com/staging";
pub const ISS: &str = "https://wxyz987654.execute-api.us-east-1.amazonaws.com/staging";

/// The fixture `name` (tests/data) as `T`: an event type, or `Value`.
pub fn fixture<T: DeserializeOwned>(name: &str) -> T {
    let path = format!("{}/tests/data/{name}", env!("CARGO_MANIFEST_DIR"));
    let text = std::fs::read_to_string(&path).unwrap_or_else(|e| panic!("{path}: {e}"));
    serde_json::from_str(&text).unwrap_or_else(|e| {
        panic!(
            "{path} is not a {}: {e}",
            std::any::type_name::<T>()
                .rsplit("::")
                .next()
                .unwrap_or("value")
        )
    })
}

/// `payload` in a Lambda event with a request id.
pub fn event<T>(payload: T) -> LambdaEvent<T> {
    let mut context = Context::default();
    context.request_id = "c6af9ac6-7b61-11e6-9a41-93e8deadbeef".into();
    LambdaEvent::new(payload, context)
}

/// An HTTP API answer's JSON body; every answer is JSON.
pub fn json_of(response: &ApiGatewayV2httpResponse) -> Value {
    assert_eq!(
        response
            .headers
            .get("content-type")
            .and_then(|v| v.to_str().ok()),
        Some("application/json"),
        "every answer is JSON"
    );
    match &response.body {
        Some(Body::Text(text)) => serde_json::from_str(text).expect("JSON body"),
        other => panic!("expected a text body, got {other:?}"),
    }
}

/// The fixture `name` as the HTTP API event.
pub fn http_event(name: &str) -> ApiGatewayV2httpRequest {
    fixture(name)
}

/// The deployment's minter, with `key`: tokens of two hours at most.
pub fn minter(key: &LocalSigner) -> Minter {
    Minter {
        key: key.public_key().clone(),
        audience: AUD.into(),
        issuer: ISS.into(),
        max_ttl_secs: 7200,
    }
}

/// The deployment's verifier, with `signer`'s key.
pub fn verifier(signer: &LocalSigner) -> Verifier {
    Verifier::new(vec![signer.public_key().clone()], AUD, ISS)
}

/// The channel `name`, which must be valid.
pub fn channel(name: &str) -> ChannelName {
    ChannelName::parse(name).unwrap_or_else(|e| panic!("{name:?} is a valid channel: {e}"))
}

/// Publish options whose retries start after 1 ms.
pub fn fast() -> PublishOptions {
    PublishOptions {
        backoff_base: Duration::from_millis(1),
        ..PublishOptions::default()
    }
}
