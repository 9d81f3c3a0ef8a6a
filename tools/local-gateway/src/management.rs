//! The management API, `/{stage}/@connections/{id}`, with AWS's status codes
//! and rest-json error shape (the error type in `x-amzn-ErrorType`), so the
//! SDKs and the AWS CLI work against it unchanged. Signatures are not checked.

use std::sync::Arc;

use axum::extract::{Path, Request, State};
use axum::response::{IntoResponse, Response};
use channels::MAX_MESSAGE_BYTES;
use http::{header, HeaderName, Method, StatusCode};
use serde_json::json;
use tracing::info;

use crate::proxy::{body_timed_out, read_body, BodyError};
use crate::registry::{Refused, DELETED};
use crate::state::Shared;
use crate::util::{iso8601, new_id};

pub(crate) async fn handle(
    State(shared): State<Arc<Shared>>,
    Path(connection_id): Path<String>,
    request: Request,
) -> Response {
    let method = request.method().clone();
    let response = match method {
        Method::POST => post(&shared, &connection_id, request).await,
        Method::GET => get(&shared, &connection_id),
        Method::DELETE => delete(&shared, &connection_id),
        _ => aws_error(
            StatusCode::FORBIDDEN,
            "MissingAuthenticationTokenException",
            "Missing Authentication Token",
        ),
    };
    info!(api = "@connections", %method, %connection_id, status = response.status().as_u16(), "routed");
    response
}

/// `PostToConnection`: the body goes to the connection as one message, a
/// text frame when it is UTF-8, a binary frame otherwise.
async fn post(shared: &Shared, connection_id: &str, request: Request) -> Response {
    // The connection may start closing while the body arrives: then
    // `send` below refuses, and the answer is 410 all the same.
    let Some(handle) = shared.registry.get(connection_id) else {
        return gone();
    };
    let data = match read_body(request.into_body(), MAX_MESSAGE_BYTES, shared.body_timeout).await {
        Ok(data) => data,
        Err(BodyError::TooLarge) => {
            return aws_error(
                StatusCode::PAYLOAD_TOO_LARGE,
                "PayloadTooLargeException",
                "Message too long",
            )
        }
        Err(BodyError::TimedOut) => return body_timed_out(),
    };
    // A connection that closed meanwhile refuses it: it is gone.
    match handle.post(&data) {
        Ok(()) => StatusCode::OK.into_response(),
        Err(Refused::Full) => aws_error(
            StatusCode::TOO_MANY_REQUESTS,
            "LimitExceededException",
            "Too many messages are waiting for this connection",
        ),
        Err(Refused::Overflow) => aws_error(
            StatusCode::TOO_MANY_REQUESTS,
            "LimitExceededException",
            "Too many bytes are waiting for this connection: it does not read, and is being closed (1008)",
        ),
        Err(Refused::Closed) => gone(),
    }
}

/// `GetConnection`.
fn get(shared: &Shared, connection_id: &str) -> Response {
    let Some(handle) = shared.registry.get(connection_id) else {
        return gone();
    };
    let mut identity = json!({ "sourceIp": handle.source_ip });
    if let Some(user_agent) = &handle.user_agent {
        identity["userAgent"] = json!(user_agent);
    }
    let body = json!({
        "connectedAt": iso8601(handle.connected_at_ms),
        "lastActiveAt": iso8601(handle.last_active_ms()),
        "identity": identity,
    });
    (
        StatusCode::OK,
        [
            (header::CONTENT_TYPE, "application/json".to_owned()),
            (HeaderName::from_static("x-amzn-requestid"), new_id()),
        ],
        body.to_string(),
    )
        .into_response()
}

/// `DeleteConnection`: closes the socket (close code 1000); `$disconnect`
/// follows once the close handshake is over.
fn delete(shared: &Shared, connection_id: &str) -> Response {
    let Some(handle) = shared.registry.get(connection_id) else {
        return gone();
    };
    handle.close.send_replace(Some(DELETED));
    StatusCode::NO_CONTENT.into_response()
}

fn gone() -> Response {
    aws_error(StatusCode::GONE, "GoneException", "Gone")
}

/// An AWS rest-json error: status, `x-amzn-ErrorType`, `{"message":"…"}`.
fn aws_error(status: StatusCode, error_type: &'static str, message: &str) -> Response {
    (
        status,
        [
            (header::CONTENT_TYPE, "application/json".to_owned()),
            (
                HeaderName::from_static("x-amzn-errortype"),
                error_type.to_owned(),
            ),
            (HeaderName::from_static("x-amzn-requestid"), new_id()),
        ],
        json!({ "message": message }).to_string(),
    )
        .into_response()
}
