//! What playing API Gateway around a Lambda handler takes, whichever API:
//! the request parts an event carries (forwarded headers, query
//! parameters), the Lambda context of an invocation, and the way back from
//! a proxy answer to HTTP (and API Gateway's own JSON errors).

use std::collections::HashMap;
use std::net::SocketAddr;
use std::time::Duration;

use aws_lambda_events::encodings::Body;
use axum::extract::Query;
use axum::response::{IntoResponse, Response};
use base64::Engine as _;
use http::{header, HeaderMap, HeaderName, HeaderValue, StatusCode, Uri};
use tracing::error;

/// `requestContext.apiId` of every event.
pub const API_ID: &str = "local";

/// The Lambda context of one invocation: the request id, and API Gateway's
/// 30-second integration timeout as the deadline.
pub(crate) fn lambda_context(request_id: &str) -> lambda_runtime::Context {
    let mut context = lambda_runtime::Context::default();
    context.request_id = request_id.to_owned();
    context.deadline = u64::try_from(channels::now_millis()).unwrap_or(0) + 30_000;
    context
}

/// Whether the request asks for a WebSocket upgrade.
pub(crate) fn is_upgrade(headers: &HeaderMap) -> bool {
    headers
        .get_all(header::UPGRADE)
        .iter()
        .filter_map(|v| v.to_str().ok())
        .flat_map(|v| v.split(','))
        .any(|p| p.trim().eq_ignore_ascii_case("websocket"))
}

/// The request's headers plus the ones API Gateway adds.
pub(crate) fn forwarded_headers(headers: &HeaderMap, peer: SocketAddr, domain: &str) -> HeaderMap {
    let mut headers = headers.clone();
    let port = domain.rsplit(':').next().unwrap_or("80");
    for (name, value) in [
        ("x-forwarded-for", peer.ip().to_string()),
        ("x-forwarded-port", port.to_owned()),
        ("x-forwarded-proto", "http".to_owned()),
    ] {
        if let Ok(value) = HeaderValue::from_str(&value) {
            headers.insert(HeaderName::from_static(name), value);
        }
    }
    headers
}

/// Query parameters by name, every value kept in order. A query string that
/// does not parse counts as none.
pub(crate) fn query_parameters(uri: &Uri) -> HashMap<String, Vec<String>> {
    let pairs = Query::<Vec<(String, String)>>::try_from_uri(uri)
        .map(|Query(pairs)| pairs)
        .unwrap_or_default();
    let mut map: HashMap<String, Vec<String>> = HashMap::new();
    for (name, value) in pairs {
        map.entry(name).or_default().push(value);
    }
    map
}

/// Why a request body could not be read.
#[derive(Debug)]
pub(crate) enum BodyError {
    /// Over the limit (or the client hung up meanwhile).
    TooLarge,
    /// Not all there within the body timeout.
    TimedOut,
}

/// Reads a request body whole: at most `limit` bytes, within `timeout`.
pub(crate) async fn read_body(
    body: axum::body::Body,
    limit: usize,
    timeout: Duration,
) -> Result<axum::body::Bytes, BodyError> {
    match tokio::time::timeout(timeout, axum::body::to_bytes(body, limit)).await {
        Ok(Ok(bytes)) => Ok(bytes),
        Ok(Err(_)) => Err(BodyError::TooLarge),
        Err(_) => Err(BodyError::TimedOut),
    }
}

/// 408, closing the connection (the rest of the body never came).
pub(crate) fn body_timed_out() -> Response {
    let mut response = json_message(StatusCode::REQUEST_TIMEOUT, "Request Timeout");
    response
        .headers_mut()
        .insert(header::CONNECTION, HeaderValue::from_static("close"));
    response
}

/// An API Gateway-style error answer, `{"message":"…"}`.
pub(crate) fn json_message(status: StatusCode, message: &str) -> Response {
    (
        status,
        [(header::CONTENT_TYPE, "application/json")],
        serde_json::json!({ "message": message }).to_string(),
    )
        .into_response()
}

/// A Lambda proxy answer as HTTP. An answer API Gateway could not use (a
/// status outside 100-599, a body flagged base64 that does not decode)
/// becomes 502 `{"message":"Internal Server Error"}`, as on AWS.
pub(crate) fn proxy_response(
    status_code: i64,
    headers: HeaderMap,
    multi_value_headers: HeaderMap,
    body: Option<Body>,
    is_base64_encoded: bool,
) -> Response {
    let Some(status) = u16::try_from(status_code)
        .ok()
        .and_then(|code| StatusCode::from_u16(code).ok())
    else {
        error!(status_code, "the handler answered an invalid status");
        return json_message(StatusCode::BAD_GATEWAY, "Internal Server Error");
    };
    let bytes = match body {
        Some(Body::Text(text)) if is_base64_encoded => {
            match base64::engine::general_purpose::STANDARD.decode(&text) {
                Ok(bytes) => bytes,
                Err(_) => {
                    error!("the handler flagged a body base64 that does not decode");
                    return json_message(StatusCode::BAD_GATEWAY, "Internal Server Error");
                }
            }
        }
        Some(Body::Text(text)) => text.into_bytes(),
        Some(Body::Binary(bytes)) => bytes,
        _ => Vec::new(),
    };
    let mut response = Response::new(axum::body::Body::from(bytes));
    *response.status_mut() = status;
    let out = response.headers_mut();
    for (name, value) in &headers {
        out.append(name.clone(), value.clone());
    }
    for (name, value) in &multi_value_headers {
        if !headers.get_all(name).iter().any(|v| v == value) {
            out.append(name.clone(), value.clone());
        }
    }
    response
}
