//! What the handler tests share: fixtures (real event JSON in tests/data),
//! the Lambda event around them, the JSON of an answer, the deployment's
//! audience and issuer.

#![allow(dead_code)]

use aws_lambda_events::apigw::ApiGatewayV2httpResponse;
use aws_lambda_events::encodings::Body;
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
