//! Who may talk to the gateway. It runs on the machine of someone whose
//! browser is open: any page they visit can send requests to
//! `http://127.0.0.1:PORT` (a cross-site `POST`, a WebSocket), and a page
//! on a name the attacker resolves to 127.0.0.1 (DNS rebinding) even reads
//! the answers. So every request, HTTP or WebSocket handshake, is checked
//! before it is routed:
//!
//! - `Host` must name the gateway itself: `127.0.0.1`, `localhost` or
//!   `[::1]` with its port (or the address it is bound to). Otherwise 421
//!   Misdirected Request (400 when there is no `Host`): a rebound name never
//!   gets through.
//! - `Origin`, when the request has one (browsers send it on every
//!   WebSocket handshake and every cross-origin request), must be the
//!   gateway's own (`http://127.0.0.1:PORT`, `http://localhost:PORT`,
//!   `http://[::1]:PORT`: the page it serves) or one allowed with
//!   `--allowed-origin URL` ([`GatewayBuilder::allowed_origin`]).
//!   Otherwise 403. Requests without `Origin` (curl, the SDKs, wscat, a
//!   browser's same-origin `GET`) pass.
//!
//! An allowed origin also gets CORS answers (a preflight `OPTIONS` is
//! answered 204, and every answer carries `Access-Control-Allow-Origin`),
//! so that a page served elsewhere (a dev server) can mint tokens and
//! publish.
//!
//! [`GatewayBuilder::allowed_origin`]: crate::GatewayBuilder::allowed_origin

use std::net::SocketAddr;
use std::sync::Arc;

use axum::extract::{Request, State};
use axum::middleware::Next;
use axum::response::{IntoResponse, Response};
use http::{header, HeaderMap, HeaderValue, Method, StatusCode};
use tracing::warn;

use crate::proxy::json_message;

/// The longest header value quoted back in a refusal or a log line.
const QUOTED_MAX: usize = 100;

/// The hosts and origins the gateway answers.
#[derive(Clone, Debug)]
pub(crate) struct Guard {
    /// `host:port` (and `host` alone on port 80), lowercase.
    hosts: Vec<String>,
    /// Normalised origins ([`parse_origin`]): the gateway's own, then the
    /// listed ones.
    origins: Vec<String>,
}

impl Guard {
    /// The gateway listening on `local`, with the extra origins (already
    /// normalised by [`parse_origin`]).
    pub(crate) fn new(local: SocketAddr, listed: &[String]) -> Self {
        let port = local.port();
        let mut names = vec![
            "127.0.0.1".to_owned(),
            "localhost".to_owned(),
            "[::1]".to_owned(),
        ];
        let bound = match local {
            SocketAddr::V4(v4) => v4.ip().to_string(),
            SocketAddr::V6(v6) => format!("[{}]", v6.ip()),
        };
        if !names.contains(&bound) {
            names.push(bound);
        }
        let mut hosts = Vec::new();
        let mut origins = Vec::new();
        for name in &names {
            hosts.push(format!("{name}:{port}"));
            if port == 80 {
                hosts.push(name.clone());
                origins.push(format!("http://{name}"));
            } else {
                origins.push(format!("http://{name}:{port}"));
            }
        }
        for origin in listed {
            if !origins.contains(origin) {
                origins.push(origin.clone());
            }
        }
        Self { hosts, origins }
    }

    /// The origins allowed, the gateway's own first.
    pub(crate) fn origins(&self) -> &[String] {
        &self.origins
    }

    fn host_allowed(&self, host: &str) -> bool {
        let host = host.trim().to_ascii_lowercase();
        self.hosts.contains(&host)
    }

    fn origin_allowed(&self, origin: &str) -> bool {
        parse_origin(origin).is_ok_and(|origin| self.origins.contains(&origin))
    }

    /// Why `headers` may not be served, as the answer to give; `Ok` with the
    /// request's allowed origin, if it has one.
    fn check(&self, uri: &http::Uri, headers: &HeaderMap) -> Result<Option<String>, Refusal> {
        let host = match single(headers, header::HOST) {
            Single::One(host) => host,
            Single::None => return Err(Refusal::NoHost),
            Single::Many | Single::Invalid => return Err(Refusal::BadHost),
        };
        if !self.host_allowed(host) {
            return Err(Refusal::Host(host.to_owned()));
        }
        // An absolute request target names the host too (and wins).
        if let Some(authority) = uri.authority() {
            if !self.host_allowed(authority.as_str()) {
                return Err(Refusal::Host(authority.to_string()));
            }
        }
        match single(headers, header::ORIGIN) {
            Single::None => Ok(None),
            Single::One(origin) if self.origin_allowed(origin) => Ok(Some(origin.to_owned())),
            Single::One(origin) => Err(Refusal::Origin(origin.to_owned())),
            Single::Many | Single::Invalid => Err(Refusal::Origin("(several)".to_owned())),
        }
    }
}

enum Single<'a> {
    None,
    One(&'a str),
    Many,
    Invalid,
}

fn single(headers: &HeaderMap, name: header::HeaderName) -> Single<'_> {
    let mut values = headers.get_all(name).iter();
    match (values.next(), values.next()) {
        (None, _) => Single::None,
        (Some(_), Some(_)) => Single::Many,
        (Some(value), None) => match value.to_str() {
            Ok(text) => Single::One(text),
            Err(_) => Single::Invalid,
        },
    }
}

/// Why a request is refused.
#[derive(Debug, PartialEq, Eq)]
enum Refusal {
    NoHost,
    BadHost,
    /// A `Host` (or request target) that is not the gateway.
    Host(String),
    /// An `Origin` neither the gateway's nor listed.
    Origin(String),
}

fn quoted(value: &str) -> String {
    let mut quoted: String = value.chars().take(QUOTED_MAX).collect();
    if quoted.len() < value.len() {
        quoted.push('…');
    }
    quoted
}

impl Refusal {
    fn response(&self, guard: &Guard) -> Response {
        match self {
            Self::NoHost => json_message(
                StatusCode::BAD_REQUEST,
                "Bad Request: a request needs a Host header",
            ),
            Self::BadHost => json_message(
                StatusCode::BAD_REQUEST,
                "Bad Request: a request needs one Host header",
            ),
            Self::Host(host) => json_message(
                StatusCode::MISDIRECTED_REQUEST,
                &format!(
                    "Misdirected Request: this gateway answers to {} only, not to host {}",
                    guard.hosts.join(", "),
                    quoted(host)
                ),
            ),
            Self::Origin(origin) => json_message(
                StatusCode::FORBIDDEN,
                &format!(
                    "Forbidden: pages from origin {} may not use this gateway; \
                     start it with --allowed-origin {} to allow them",
                    quoted(origin),
                    quoted(origin)
                ),
            ),
        }
    }
}

/// Normalises an origin (`scheme://host[:port]`, as browsers send it and as
/// `--allowed-origin` takes it): scheme and host lowercase, the scheme's
/// default port dropped, one trailing `/` tolerated. No path, query,
/// user or `*`.
pub fn parse_origin(text: &str) -> Result<String, String> {
    let invalid = |why: &str| {
        Err(format!(
            "{:?} is not an origin ({why}); expected scheme://host[:port], e.g. http://localhost:5173",
            quoted(text)
        ))
    };
    let trimmed = text.trim();
    let trimmed = trimmed.strip_suffix('/').unwrap_or(trimmed);
    let Some((scheme, rest)) = trimmed.split_once("://") else {
        return invalid("no scheme");
    };
    let scheme = scheme.to_ascii_lowercase();
    let scheme_ok = scheme.starts_with(|c: char| c.is_ascii_alphabetic())
        && scheme
            .chars()
            .all(|c| c.is_ascii_alphanumeric() || matches!(c, '+' | '-' | '.'));
    if !scheme_ok {
        return invalid("a bad scheme");
    }
    if rest.is_empty() {
        return invalid("no host");
    }
    if rest.contains(['/', '?', '#', '@', '*', ' ']) {
        return invalid("only scheme, host and port");
    }
    let rest = rest.to_ascii_lowercase();
    let (host, port) = match rest.rsplit_once(':') {
        // `[::1]` alone has colons but no port.
        Some((host, port)) if !port.contains(']') => (host, Some(port)),
        _ => (rest.as_str(), None),
    };
    if host.is_empty() {
        return invalid("no host");
    }
    let port = match port {
        None => None,
        Some(port) => match port.parse::<u16>() {
            Ok(port) => Some(port),
            Err(_) => return invalid("a bad port"),
        },
    };
    let default_port = match scheme.as_str() {
        "http" | "ws" => Some(80),
        "https" | "wss" => Some(443),
        _ => None,
    };
    Ok(match port {
        Some(port) if Some(port) != default_port => format!("{scheme}://{host}:{port}"),
        _ => format!("{scheme}://{host}"),
    })
}

/// The middleware: refuses what [`Guard`] does not allow, answers CORS
/// preflights from allowed origins, and marks their answers.
pub(crate) async fn check(
    State(guard): State<Arc<Guard>>,
    request: Request,
    next: Next,
) -> Response {
    let origin = match guard.check(request.uri(), request.headers()) {
        Ok(origin) => origin,
        Err(refusal) => {
            // The path only: a query may carry a token.
            warn!(method = %request.method(), path = request.uri().path(), refused = ?refusal, "refused");
            return refusal.response(&guard);
        }
    };
    let Some(origin) = origin else {
        return next.run(request).await;
    };
    let Ok(allow) = HeaderValue::from_str(&origin) else {
        return next.run(request).await;
    };
    let mut response = if request.method() == Method::OPTIONS
        && request
            .headers()
            .contains_key(header::ACCESS_CONTROL_REQUEST_METHOD)
    {
        preflight(request.headers())
    } else {
        next.run(request).await
    };
    let headers = response.headers_mut();
    headers.insert(header::ACCESS_CONTROL_ALLOW_ORIGIN, allow);
    headers.append(header::VARY, HeaderValue::from_static("origin"));
    response
}

fn preflight(request: &HeaderMap) -> Response {
    let mut response = StatusCode::NO_CONTENT.into_response();
    let headers = response.headers_mut();
    headers.insert(
        header::ACCESS_CONTROL_ALLOW_METHODS,
        HeaderValue::from_static("GET, POST, DELETE"),
    );
    if let Some(asked) = request.get(header::ACCESS_CONTROL_REQUEST_HEADERS) {
        headers.insert(header::ACCESS_CONTROL_ALLOW_HEADERS, asked.clone());
    }
    headers.insert(
        header::ACCESS_CONTROL_MAX_AGE,
        HeaderValue::from_static("600"),
    );
    response
}

#[cfg(test)]
mod tests {
    use super::*;

    fn guard(port: u16, listed: &[&str]) -> Guard {
        let listed: Vec<String> = listed
            .iter()
            .map(|o| parse_origin(o).expect("an origin"))
            .collect();
        Guard::new(SocketAddr::from(([127, 0, 0, 1], port)), &listed)
    }

    fn headers(pairs: &[(&'static str, &str)]) -> HeaderMap {
        let mut headers = HeaderMap::new();
        for (name, value) in pairs {
            headers.append(*name, HeaderValue::from_str(value).expect("a value"));
        }
        headers
    }

    fn check(guard: &Guard, pairs: &[(&'static str, &str)]) -> Result<Option<String>, Refusal> {
        guard.check(&http::Uri::from_static("/"), &headers(pairs))
    }

    #[test]
    fn only_the_gateways_own_hosts_pass() {
        let guard = guard(8080, &[]);
        for host in [
            "127.0.0.1:8080",
            "localhost:8080",
            "LOCALHOST:8080",
            "[::1]:8080",
        ] {
            assert_eq!(check(&guard, &[("host", host)]), Ok(None), "{host}");
        }
        for host in [
            "evil.example:8080",
            "127.0.0.1",
            "localhost:8081",
            "127.0.0.1.nip.io:8080",
            "localhost.:8080",
            "",
        ] {
            assert_eq!(
                check(&guard, &[("host", host)]),
                Err(Refusal::Host(host.to_owned())),
                "{host}"
            );
        }
        assert_eq!(check(&guard, &[]), Err(Refusal::NoHost));
        assert_eq!(
            check(&guard, &[("host", "127.0.0.1:8080"), ("host", "evil:1")]),
            Err(Refusal::BadHost)
        );
        // An absolute target must be the gateway too.
        let absolute = http::Uri::from_static("http://evil.example:8080/staging");
        assert!(guard
            .check(&absolute, &headers(&[("host", "127.0.0.1:8080")]))
            .is_err());
        // On port 80 a browser leaves the port out.
        assert_eq!(
            check(&self::guard(80, &[]), &[("host", "localhost")]),
            Ok(None)
        );
    }

    #[test]
    fn only_own_and_listed_origins_pass() {
        let guard = guard(8080, &["http://localhost:5173", "HTTPS://App.Example/"]);
        let host = ("host", "127.0.0.1:8080");
        for origin in [
            "http://127.0.0.1:8080",
            "http://localhost:8080",
            "http://[::1]:8080",
            "http://localhost:5173",
            "https://app.example",
            "https://app.example:443",
        ] {
            assert_eq!(
                check(&guard, &[host, ("origin", origin)]),
                Ok(Some(origin.to_owned())),
                "{origin}"
            );
        }
        for origin in [
            "http://evil.example",
            "null",
            "http://127.0.0.1:8081",
            "https://127.0.0.1:8080",
            "http://app.example",
            "http://localhost:5173.evil.example",
            "",
        ] {
            assert_eq!(
                check(&guard, &[host, ("origin", origin)]),
                Err(Refusal::Origin(origin.to_owned())),
                "{origin}"
            );
        }
    }

    #[test]
    fn origins_are_normalised_and_junk_is_refused() {
        assert_eq!(
            parse_origin("HTTP://LocalHost:5173/").as_deref(),
            Ok("http://localhost:5173")
        );
        assert_eq!(
            parse_origin("http://example.com:80").as_deref(),
            Ok("http://example.com")
        );
        assert_eq!(parse_origin("http://[::1]").as_deref(), Ok("http://[::1]"));
        assert_eq!(
            parse_origin("http://[::1]:3000").as_deref(),
            Ok("http://[::1]:3000")
        );
        for junk in [
            "localhost:5173",
            "*",
            "http://",
            "http://a.example/path",
            "http://user@a.example",
            "http://a.example:99999",
            "http://*.example",
            "1http://a",
        ] {
            assert!(parse_origin(junk).is_err(), "{junk}");
        }
    }
}
