//! What a request to the HTTP API carries: its body, its content type, its
//! `Idempotency-Key`; each read or refused with a [`Rejection`].

use aws_lambda_events::apigw::ApiGatewayV2httpRequest;
use base64::Engine as _;
use channels::fanout::MAX_KEY_CHARS;

use crate::respond::Rejection;

/// The request body as bytes, decoded from base64 when API Gateway says so.
pub(crate) fn body(request: &ApiGatewayV2httpRequest) -> Result<Vec<u8>, Rejection> {
    let body = request.body.as_deref().unwrap_or("");
    if request.is_base64_encoded {
        base64::engine::general_purpose::STANDARD
            .decode(body)
            .map_err(|_| Rejection::new(400, "the body is flagged base64 but does not decode"))
    } else {
        Ok(body.as_bytes().to_vec())
    }
}

/// Whether the body was sent as `application/json`.
pub(crate) fn is_json(request: &ApiGatewayV2httpRequest) -> bool {
    request
        .headers
        .get(http::header::CONTENT_TYPE)
        .and_then(|v| v.to_str().ok())
        .and_then(|v| v.split(';').next())
        .is_some_and(|v| v.trim().eq_ignore_ascii_case("application/json"))
}

/// The `Idempotency-Key` header: 1 to 64 characters.
pub(crate) fn idempotency_key(
    request: &ApiGatewayV2httpRequest,
) -> Result<Option<String>, Rejection> {
    let Some(value) = request.headers.get("idempotency-key") else {
        return Ok(None);
    };
    match value.to_str().map(str::trim) {
        Ok(key) if !key.is_empty() && key.chars().count() <= MAX_KEY_CHARS => {
            Ok(Some(key.to_owned()))
        }
        _ => Err(Rejection::new(
            400,
            "Idempotency-Key must be 1 to 64 visible ASCII characters",
        )),
    }
}
