//! The HTTP API's answers: JSON, with `{"message"}` for errors.

use aws_lambda_events::apigw::ApiGatewayV2httpResponse;
use aws_lambda_events::encodings::Body;
use http::HeaderValue;
use serde_json::json;

/// A request refused before any work: its status and the reason for the client.
#[derive(Debug)]
pub(crate) struct Rejection {
    pub(crate) status: i64,
    pub(crate) message: String,
}

impl Rejection {
    pub(crate) fn new(status: i64, message: impl Into<String>) -> Self {
        Self {
            status,
            message: message.into(),
        }
    }

    pub(crate) fn response(&self) -> ApiGatewayV2httpResponse {
        error_response(self.status, &self.message)
    }
}

pub(crate) fn error_response(status: i64, message: &str) -> ApiGatewayV2httpResponse {
    json_response(status, &json!({ "message": message }))
}

/// A JSON answer; struct fields keep their declared order (`channel` first).
pub(crate) fn json_response(status: i64, body: &impl serde::Serialize) -> ApiGatewayV2httpResponse {
    // Serializing these plain structs cannot fail; an empty body would be the
    // visible sign if it ever did.
    json_text(status, serde_json::to_string(body).unwrap_or_default())
}

/// An answer whose body is JSON text already.
pub(crate) fn json_text(status: i64, body: String) -> ApiGatewayV2httpResponse {
    let mut response = ApiGatewayV2httpResponse::default();
    response.status_code = status;
    response.headers.insert(
        http::header::CONTENT_TYPE,
        HeaderValue::from_static("application/json"),
    );
    response.body = Some(Body::Text(body));
    response
}
