//! The HTTP API: routes a request as API Gateway does (once, with the
//! handler's own matcher, `http_lambda::match_route`), builds the payload
//! format 2.0 event for the http handler, and maps its answer back to HTTP.

use std::collections::HashMap;
use std::net::SocketAddr;
use std::sync::Arc;

use aws_lambda_events::apigw::ApiGatewayV2httpRequest;
use axum::extract::{ConnectInfo, Request, State};
use axum::response::Response;
use base64::Engine as _;
use channels::now_millis;
use http::{header, HeaderMap, HeaderValue, Method, StatusCode, Version};
use http_lambda::{match_route, RouteMatch};
use lambda_runtime::LambdaEvent;
use tracing::info;

use crate::proxy::{
    body_timed_out, forwarded_headers, json_message, lambda_context, proxy_response,
    query_parameters, read_body, BodyError, API_ID,
};
use crate::state::Shared;
use crate::util::{clf_time, new_id, percent_decode};

/// The HTTP API's payload limit, 10 MB.
const MAX_HTTP_BODY: usize = 10 * 1024 * 1024;

/// Every request the other routes do not take.
pub(crate) async fn handle(
    State(shared): State<Arc<Shared>>,
    ConnectInfo(peer): ConnectInfo<SocketAddr>,
    request: Request,
) -> Response {
    route(&shared, peer, request).await
}

/// Builds the event API Gateway would send for `request`, calls the http
/// handler, and answers with what it returned.
pub(crate) async fn route(shared: &Shared, peer: SocketAddr, request: Request) -> Response {
    let raw_path = request.uri().path().to_owned();
    // With a named stage, only paths under it exist.
    let Some(rest) = strip_stage(&raw_path, &shared.stage) else {
        return json_message(StatusCode::NOT_FOUND, "Not Found");
    };
    let route_path = if rest.is_empty() { "/" } else { rest };
    let (parts, body) = request.into_parts();
    let body = match read_body(body, MAX_HTTP_BODY, shared.body_timeout).await {
        Ok(body) => body,
        Err(BodyError::TooLarge) => {
            return json_message(StatusCode::PAYLOAD_TOO_LARGE, "Request Entity Too Large")
        }
        Err(BodyError::TimedOut) => return body_timed_out(),
    };
    let (route_key, path_parameters) = route_of(&parts.method, route_path);
    let request_id = new_id();
    let now = now_millis();

    let mut headers = HeaderMap::new();
    let mut cookies = Vec::new();
    for name in parts.headers.keys() {
        let values = parts
            .headers
            .get_all(name)
            .iter()
            .filter_map(|v| v.to_str().ok());
        if name == header::COOKIE {
            cookies.extend(
                values
                    .flat_map(|v| v.split(';'))
                    .map(str::trim)
                    .filter(|c| !c.is_empty())
                    .map(str::to_owned),
            );
        } else if let Ok(joined) = HeaderValue::from_str(&values.collect::<Vec<_>>().join(",")) {
            // Payload 2.0 joins repeated headers with commas.
            headers.insert(name.clone(), joined);
        }
    }
    let headers = forwarded_headers(&headers, peer, &shared.domain);
    let query: HashMap<String, String> = query_parameters(&parts.uri)
        .into_iter()
        .map(|(name, values)| (name, values.join(",")))
        .collect();
    let (body, is_base64_encoded) = encode_body(&parts.headers, &body);

    let mut event = ApiGatewayV2httpRequest::default();
    event.version = Some("2.0".to_owned());
    event.route_key = Some(route_key.clone());
    event.raw_path = Some(raw_path.clone());
    event.raw_query_string = Some(parts.uri.query().unwrap_or("").to_owned());
    event.cookies = (!cookies.is_empty()).then_some(cookies);
    event.query_string_parameters = query.into();
    event.path_parameters = path_parameters;
    event.body = body;
    event.is_base64_encoded = is_base64_encoded;
    let ctx = &mut event.request_context;
    ctx.route_key = Some(route_key.clone());
    ctx.account_id = Some("000000000000".to_owned());
    ctx.stage = Some(shared.stage.clone());
    ctx.request_id = Some(request_id.clone());
    ctx.apiid = Some(API_ID.to_owned());
    ctx.domain_name = Some(shared.domain.clone());
    ctx.domain_prefix = shared.domain.split('.').next().map(str::to_owned);
    ctx.time = Some(clf_time(now));
    ctx.time_epoch = now;
    ctx.http.method = parts.method.clone();
    ctx.http.path = Some(raw_path.clone());
    ctx.http.protocol = Some(protocol(parts.version).to_owned());
    ctx.http.source_ip = Some(peer.ip().to_string());
    ctx.http.user_agent = headers
        .get(header::USER_AGENT)
        .and_then(|v| v.to_str().ok())
        .map(str::to_owned);
    event.headers = headers;

    let running = shared.invocation().await;
    let response = http_lambda::handle(
        LambdaEvent::new(event, lambda_context(&request_id)),
        &shared.http,
    )
    .await;
    drop(running);
    info!(route_key = %route_key, method = %parts.method, path = %raw_path, status = response.status_code, %request_id, "routed");
    let mut answer = proxy_response(
        response.status_code,
        response.headers,
        response.multi_value_headers,
        response.body,
        response.is_base64_encoded,
    );
    for cookie in response.cookies {
        if let Ok(value) = HeaderValue::from_str(&cookie) {
            answer.headers_mut().append(header::SET_COOKIE, value);
        }
    }
    answer
}

/// The path after `/{stage}`: `""` or `/…`. `None` when outside the stage.
fn strip_stage<'a>(path: &'a str, stage: &str) -> Option<&'a str> {
    let rest = path.strip_prefix('/')?.strip_prefix(stage)?;
    (rest.is_empty() || rest.starts_with('/')).then_some(rest)
}

/// The route key and path parameters API Gateway puts in the event: those
/// of the declared route (`http_lambda::ROUTES`) `method path` matches, the
/// parameters percent-decoded; `$default` and none when no route matches.
fn route_of(method: &Method, path: &str) -> (String, HashMap<String, String>) {
    let matched = match_route(method.as_str(), path);
    let parameters = match &matched {
        RouteMatch::Route { parameters, .. } => parameters
            .iter()
            .map(|(name, value)| ((*name).to_owned(), percent_decode(value)))
            .collect(),
        RouteMatch::MethodNotAllowed(_) | RouteMatch::NotFound => HashMap::new(),
    };
    (matched.route_key(), parameters)
}

/// As API Gateway does (checked against AWS by others): the body arrives as
/// text only for `text/*`, `application/json`, `application/xml` and
/// `application/javascript`; anything else, a missing content type and form
/// posts (`curl -d`) included, arrives base64-encoded.
fn encode_body(headers: &HeaderMap, body: &[u8]) -> (Option<String>, bool) {
    if body.is_empty() {
        return (None, false);
    }
    let content_type = headers
        .get(header::CONTENT_TYPE)
        .and_then(|v| v.to_str().ok())
        .and_then(|v| v.split(';').next())
        .map(|v| v.trim().to_ascii_lowercase())
        .unwrap_or_default();
    let textual = content_type.starts_with("text/")
        || matches!(
            content_type.as_str(),
            "application/json" | "application/xml" | "application/javascript"
        );
    if textual {
        if let Ok(text) = std::str::from_utf8(body) {
            return (Some(text.to_owned()), false);
        }
    }
    (
        Some(base64::engine::general_purpose::STANDARD.encode(body)),
        true,
    )
}

fn protocol(version: Version) -> &'static str {
    match version {
        Version::HTTP_10 => "HTTP/1.0",
        Version::HTTP_2 => "HTTP/2.0",
        _ => "HTTP/1.1",
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn fills_the_route_key_and_decoded_path_parameters_as_api_gateway_does() {
        let (key, params) = route_of(&Method::POST, "/channels/a%3Ab");
        assert_eq!(key, "POST /channels/{channel}");
        assert_eq!(params.get("channel").map(String::as_str), Some("a:b"));
        assert_eq!(params.len(), 1);
        assert_eq!(
            route_of(&Method::POST, "/"),
            ("POST /".to_owned(), HashMap::new())
        );
        assert_eq!(
            route_of(&Method::GET, "/channels/x").0,
            "GET /channels/{channel}"
        );
        // Nothing matched: `$default`, and no path parameters.
        for (method, path) in [
            (Method::GET, "/"),
            (Method::DELETE, "/channels/x"),
            (Method::POST, "/channels/"),
            (Method::POST, "/channels/x/"),
            (Method::POST, "/nope"),
        ] {
            assert_eq!(
                route_of(&method, path),
                ("$default".to_owned(), HashMap::new()),
                "{method} {path}"
            );
        }
    }

    #[test]
    fn strips_the_stage() {
        assert_eq!(strip_stage("/staging", "staging"), Some(""));
        assert_eq!(strip_stage("/staging/", "staging"), Some("/"));
        assert_eq!(strip_stage("/staging/x", "staging"), Some("/x"));
        assert_eq!(strip_stage("/stagingx", "staging"), None);
        assert_eq!(strip_stage("/", "staging"), None);
    }

    #[test]
    fn bodies_are_text_only_for_textual_types() {
        let with = |ct: &'static str| {
            let mut h = HeaderMap::new();
            h.insert(header::CONTENT_TYPE, HeaderValue::from_static(ct));
            h
        };
        assert_eq!(
            encode_body(&with("application/json; charset=utf-8"), b"{}"),
            (Some("{}".to_owned()), false)
        );
        assert_eq!(
            encode_body(&with("text/plain"), b"hi"),
            (Some("hi".to_owned()), false)
        );
        assert_eq!(
            encode_body(&with("application/x-www-form-urlencoded"), b"hi"),
            (Some("aGk=".to_owned()), true)
        );
        assert_eq!(
            encode_body(&HeaderMap::new(), b"hi"),
            (Some("aGk=".to_owned()), true)
        );
        assert_eq!(
            encode_body(&with("text/plain"), &[0xff]),
            (Some("/w==".to_owned()), true)
        );
        assert_eq!(encode_body(&HeaderMap::new(), b""), (None, false));
    }
}
