//! The HTTP API's routes: one table ([`ROUTES`]) that the handler serves,
//! the local gateway routes with ([`match_route`]) and Terraform declares
//! (checked by the contract tests); and the WebSocket API's routes.
//!
//! | route                                  | answer                                                        |
//! |----------------------------------------|---------------------------------------------------------------|
//! | `POST /`                               | publish the body to the `default` channel                     |
//! | `POST /channels/{channel}`             | publish the body to that channel                              |
//! | `GET /channels/{channel}`              | `{"channel","connections"}`                                   |
//! | `GET /channels/{channel}/messages`     | the kept messages after `?since=N` (`&epoch=E`)               |
//! | `GET /channels/{channel}/presence`     | `{"type":"presence","channel","connections","subjects"}`      |
//! | `POST /tokens`                         | mint a subscriber token: `{"token","expiresAt","channels"}`   |
//! | `GET /.well-known/jwks.json`           | the token verification keys (RFC 7517)                        |

/// The WebSocket routes rx serves (`$default` echoes).
pub const RX_ROUTES: &[&str] = &["$connect", "$disconnect", "$default"];
/// The WebSocket routes (values of `action`, the route selection
/// expression `$request.body.action`) the commands function serves.
pub const COMMAND_ROUTES: &[&str] = &["subscribe", "unsubscribe", "publish", "presence"];
/// The WebSocket route API Gateway answers itself (a MOCK integration with
/// the response [`PONG`]), without invoking any function.
pub const PING_ROUTE: &str = "ping";
/// What the `ping` route answers.
pub const PONG: &str = r#"{"type":"pong"}"#;

/// `POST /`: publish to the default channel.
pub(crate) const POST_ROOT: (&str, &str) = ("POST", "/");
/// `POST /channels/{channel}`: publish to that channel.
pub(crate) const POST_CHANNEL: (&str, &str) = ("POST", "/channels/{channel}");
/// `GET /channels/{channel}`: count its connections.
pub(crate) const GET_CHANNEL: (&str, &str) = ("GET", "/channels/{channel}");
/// `GET /channels/{channel}/messages`: the kept messages after an offset.
pub(crate) const GET_MESSAGES: (&str, &str) = ("GET", "/channels/{channel}/messages");
/// `GET /channels/{channel}/presence`: who is in the channel.
pub(crate) const GET_PRESENCE: (&str, &str) = ("GET", "/channels/{channel}/presence");
/// `POST /tokens`: mint a subscriber token.
pub(crate) const POST_TOKENS: (&str, &str) = ("POST", "/tokens");
/// `GET /.well-known/jwks.json`: the verification keys, for anyone.
pub(crate) const GET_JWKS: (&str, &str) = ("GET", "/.well-known/jwks.json");

/// The routes this handler serves, as `(method, path)` in API Gateway's
/// route-key syntax. Terraform declares exactly these (checked by a test),
/// plus `$default`, whose events this handler answers with 404 or 405.
pub const ROUTES: &[(&str, &str)] = &[
    POST_ROOT,
    POST_CHANNEL,
    GET_CHANNEL,
    GET_MESSAGES,
    GET_PRESENCE,
    POST_TOKENS,
    GET_JWKS,
];

/// The routes anyone may call: Terraform gives them no authorization, and
/// every other route the publish authorization (checked by a test).
pub const OPEN_ROUTES: &[(&str, &str)] = &[GET_JWKS];

/// The route key of an event no declared route matched.
pub const DEFAULT_ROUTE_KEY: &str = "$default";

/// Where a request goes among [`ROUTES`]: what [`match_route`] answers.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum RouteMatch<'a> {
    /// A declared route, with its path parameters by name, as they appear in
    /// the path (still percent-encoded).
    Route {
        route: (&'static str, &'static str),
        parameters: Vec<(&'static str, &'a str)>,
    },
    /// No route takes this method on this path, but routes with these
    /// methods (sorted, for an `Allow` header) do.
    MethodNotAllowed(Vec<&'static str>),
    /// No route has this path.
    NotFound,
}

impl RouteMatch<'_> {
    /// The `routeKey` API Gateway puts in the event: `POST /channels/{channel}`
    /// for a declared route, `$default` otherwise.
    pub fn route_key(&self) -> String {
        match self {
            Self::Route {
                route: (method, path),
                ..
            } => format!("{method} {path}"),
            Self::MethodNotAllowed(_) | Self::NotFound => DEFAULT_ROUTE_KEY.to_owned(),
        }
    }
}

/// Matches `method path` against [`ROUTES`] as API Gateway matches routes:
/// segment by segment, exactly (a trailing slash is a segment of its own),
/// `{name}` taking one non-empty segment, `ANY` taking every method. `path`
/// is the path after the stage, starting with `/`.
///
/// The local gateway routes with it; the handler answers `$default` events
/// with it (404 or 405).
pub fn match_route<'a>(method: &str, path: &'a str) -> RouteMatch<'a> {
    let mut allow: Vec<&'static str> = Vec::new();
    for &(route_method, pattern) in ROUTES {
        let Some(parameters) = match_path(pattern, path) else {
            continue;
        };
        if route_method == "ANY" || route_method == method {
            return RouteMatch::Route {
                route: (route_method, pattern),
                parameters,
            };
        }
        allow.push(route_method);
    }
    if allow.is_empty() {
        return RouteMatch::NotFound;
    }
    allow.sort_unstable();
    allow.dedup();
    RouteMatch::MethodNotAllowed(allow)
}

/// The path parameters of `path` when it matches `pattern`.
fn match_path<'a>(pattern: &'static str, path: &'a str) -> Option<Vec<(&'static str, &'a str)>> {
    let mut expected = pattern.split('/');
    let mut actual = path.split('/');
    let mut parameters = Vec::new();
    loop {
        match (expected.next(), actual.next()) {
            (None, None) => return Some(parameters),
            (Some(expected), Some(actual)) => {
                match expected.strip_prefix('{').and_then(|p| p.strip_suffix('}')) {
                    Some(name) if !actual.is_empty() => parameters.push((name, actual)),
                    Some(_) => return None,
                    None if expected == actual => {}
                    None => return None,
                }
            }
            _ => return None,
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn key(method: &str, path: &str) -> String {
        match_route(method, path).route_key()
    }

    #[test]
    fn matches_declared_routes_with_parameters() {
        assert_eq!(
            match_route("POST", "/channels/a%3Ab"),
            RouteMatch::Route {
                route: POST_CHANNEL,
                parameters: vec![("channel", "a%3Ab")],
            }
        );
        assert_eq!(key("POST", "/"), "POST /");
        assert_eq!(key("GET", "/channels/x"), "GET /channels/{channel}");
        assert_eq!(key("GET", "/"), "$default");
        assert_eq!(key("DELETE", "/channels/x"), "$default");
        assert_eq!(key("POST", "/channels/"), "$default");
        assert_eq!(key("POST", "/channels/x/"), "$default");
        assert_eq!(key("POST", "/nope"), "$default");
        assert_eq!(key("POST", ""), "$default");
    }

    #[test]
    fn a_path_with_routes_under_other_methods_is_method_not_allowed() {
        assert_eq!(
            match_route("GET", "/"),
            RouteMatch::MethodNotAllowed(vec!["POST"])
        );
        assert_eq!(
            match_route("DELETE", "/channels/x"),
            RouteMatch::MethodNotAllowed(vec!["GET", "POST"])
        );
        for path in [
            "/nope",
            "/channels",
            "/channels/",
            "/channels/x/",
            "/channels/a/b",
        ] {
            assert_eq!(match_route("DELETE", path), RouteMatch::NotFound, "{path}");
        }
    }
}
