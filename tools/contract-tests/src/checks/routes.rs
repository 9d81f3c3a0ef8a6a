//! The HTTP API: its routes, who may call each (for every combination of
//! the authorization variables), CORS, and the event version.

use std::collections::{BTreeMap, BTreeSet};

use http_lambda::{OPEN_ROUTES, ROUTES};

use super::display;
use crate::eval::{to_string, Frame, Scope, Value};
use crate::terraform::{attr, object_keys, reference, string_attr, walk};
use crate::Terraform;

/// `"METHOD /path"`, API Gateway's route key.
pub(crate) fn route_key((method, path): &(&str, &str)) -> String {
    format!("{method} {path}")
}

/// `local.http_routes` maps exactly `http_lambda::ROUTES` plus `$default` (each
/// to its authorization), and the HTTP API creates one route per entry. (A
/// route key given twice does not parse: `hcl-rs` rejects a redefined object
/// key, as Terraform does.)
pub fn route_problems(tf: &Terraform) -> Vec<String> {
    let mut problems = Vec::new();
    let mut code: Vec<String> = ROUTES.iter().map(route_key).collect();
    code.push("$default".to_string());
    let code_set: BTreeSet<&String> = code.iter().collect();

    match tf.local("http_routes") {
        Err(e) => problems.push(format!(
            "{e}, but http_lambda::ROUTES + $default is {code_set:?}"
        )),
        Ok((file, routes)) => match object_keys(routes) {
            Err(e) => problems.push(format!(
                "local.http_routes ({file}): {e}; it should map each route key of \
                 http_lambda::ROUTES + $default ({code_set:?}) to its authorization"
            )),
            Ok(terraform) => {
                let terraform_set: BTreeSet<&String> = terraform.iter().collect();
                for missing in code_set.difference(&terraform_set) {
                    problems.push(format!(
                        "local.http_routes ({file}) lacks {missing:?}, which the handler serves \
                         (http_lambda::ROUTES + $default)"
                    ));
                }
                for extra in terraform_set.difference(&code_set) {
                    problems.push(format!(
                        "local.http_routes ({file}) has {extra:?}, which the handler does not serve \
                         (not in http_lambda::ROUTES + $default = {code_set:?})"
                    ));
                }
            }
        },
    }

    match tf.block("resource", &["aws_apigatewayv2_route", "http"]) {
        Err(e) => problems.push(format!(
            "{e}, but the handler serves http_lambda::ROUTES through it"
        )),
        Ok((file, route)) => {
            let mut for_each_routes = false;
            if let Some(for_each) = attr(route, "for_each") {
                walk(for_each, &mut |e| {
                    for_each_routes |= reference(e).as_deref() == Some("local.http_routes");
                });
            }
            let route_key = attr(route, "route_key").and_then(reference);
            if !for_each_routes || route_key.as_deref() != Some("each.key") {
                problems.push(format!(
                    "aws_apigatewayv2_route.http ({file}) must create one route per local.http_routes \
                     entry (for_each = local.http_routes, route_key = each.key); it has \
                     for_each = `{}`, route_key = `{}`",
                    display(attr(route, "for_each")),
                    display(attr(route, "route_key")),
                ));
            }
        }
    }
    problems
}

/// The authorization combinations the route authorization check tries:
/// (publish_authorization, token_authorization, subscriber_auth).
pub const AUTHORIZATION_CASES: &[(&str, Option<&str>, &str)] = &[
    ("AWS_IAM", Some("AWS_IAM"), "token"),
    ("NONE", Some("AWS_IAM"), "token"),
    ("AWS_IAM", None, "token"),
    ("NONE", None, "token"),
    ("AWS_IAM", Some("NONE"), "token"),
    ("NONE", Some("NONE"), "token"),
    ("AWS_IAM", Some("AWS_IAM"), "none"),
    ("NONE", None, "none"),
    ("NONE", Some("NONE"), "none"),
];

/// Who may call each route, for every combination of publish_authorization,
/// token_authorization and subscriber_auth ([`AUTHORIZATION_CASES`]): the
/// validations refuse exactly the combinations that leave POST /tokens open
/// while subscriber tokens are on (open minting undoes the tokens), and with
/// the others each route of the HTTP API, as created, takes "NONE" exactly
/// when it is in `http_lambda::OPEN_ROUTES`, POST /tokens its own
/// token_authorization (or, null, publish_authorization), and every other
/// route, `$default` included, publish_authorization.
pub fn route_authorization_problems(tf: &Terraform) -> Vec<String> {
    let mut problems = Vec::new();
    let open: BTreeSet<String> = OPEN_ROUTES.iter().map(route_key).collect();
    let (file, route) = match tf.block("resource", &["aws_apigatewayv2_route", "http"]) {
        Ok(found) => found,
        Err(e) => {
            return vec![format!(
                "{e}, which gives each route of http_lambda::ROUTES its authorization"
            )]
        }
    };
    let place = format!("aws_apigatewayv2_route.http ({file})");
    for &(publish, token, auth) in AUTHORIZATION_CASES {
        let when = format!(
            "publish_authorization = {publish:?}, token_authorization = {}, subscriber_auth = {auth:?}",
            token.map_or("null".to_owned(), |t| format!("{t:?}"))
        );
        let scope = Scope::new(tf).and_then(|mut scope| {
            scope.set("publish_authorization", Value::String(publish.to_owned()))?;
            scope.set(
                "token_authorization",
                token.map_or(Value::Null, |t| Value::String(t.to_owned())),
            )?;
            scope.set("subscriber_auth", Value::String(auth.to_owned()))?;
            Ok(scope)
        });
        let scope = match scope {
            Ok(scope) => scope,
            Err(e) => {
                problems.push(format!("{when}: {e}"));
                continue;
            }
        };
        let mut refused = Vec::new();
        for variable in [
            "publish_authorization",
            "token_authorization",
            "subscriber_auth",
        ] {
            match scope.refusals(variable) {
                Ok(r) => refused.extend(r),
                Err(e) => refused.push(e),
            }
        }
        // Each route as created: route_key => authorization_type.
        let routes = match attr(route, "for_each").map(|f| scope.eval(f)) {
            Some(Ok(Value::Object(instances))) => instances
                .into_iter()
                .map(|(key, value)| {
                    let frame = Frame::each(Value::String(key.clone()), value);
                    let eval = |name: &str| {
                        attr(route, name)
                            .map(|e| scope.eval_in(e, &frame).and_then(|v| to_string(&v)))
                            .unwrap_or_else(|| Ok("(not set)".to_owned()))
                            .unwrap_or_else(|e| format!("<{e}>"))
                    };
                    (eval("route_key"), eval("authorization_type"))
                })
                .collect::<BTreeMap<_, _>>(),
            other => {
                problems.push(format!(
                    "{place}: for_each = `{}` gives {other:?} with {when}",
                    display(attr(route, "for_each"))
                ));
                continue;
            }
        };
        let minting = routes.get("POST /tokens").map(String::as_str);
        let open_minting = auth == "token" && minting == Some("NONE");
        match (refused.is_empty(), open_minting) {
            (true, true) => problems.push(format!(
                "the variables' validations accept {when}, which leaves POST /tokens open (authorization                  \"NONE\") while subscriber tokens are on: anyone could mint a token for any channel"
            )),
            (false, false) => problems.push(format!(
                "the variables' validations refuse {when}, which opens no token minting: {refused:?}"
            )),
            (false, true) => {}
            (true, false) => {
                for (key, authorization) in &routes {
                    let wanted = if open.contains(key) {
                        "NONE"
                    } else if key == "POST /tokens" {
                        token.unwrap_or(publish)
                    } else {
                        publish
                    };
                    if authorization != wanted {
                        let why = if open.contains(key) {
                            format!("it is in http_lambda::OPEN_ROUTES ({open:?}), which anyone may call")
                        } else if key == "POST /tokens" {
                            "minting takes token_authorization (null: publish_authorization)".to_owned()
                        } else {
                            "only http_lambda::OPEN_ROUTES are open and POST /tokens has its own: every other route, \
                             $default included, takes publish_authorization"
                                .to_owned()
                        };
                        problems.push(format!(
                            "{place}: the route {key:?} takes {authorization:?} with {when}, but {why}: {wanted:?}"
                        ));
                    }
                }
            }
        }
    }
    problems
}

/// Browsers may call the HTTP API from exactly the origins of
/// `cors_allowed_origins`: no CORS configuration while the list is empty;
/// otherwise those origins, the methods of `http_lambda::ROUTES`, the
/// headers of a SigV4-signed request and of a publish, and no credentials
/// (cookies: IAM signs each request instead). Evaluated with the list empty
/// and with two origins.
pub fn cors_problems(tf: &Terraform) -> Vec<String> {
    let (file, api) = match tf.block("resource", &["aws_apigatewayv2_api", "http"]) {
        Ok(found) => found,
        Err(e) => return vec![e],
    };
    let place = format!("aws_apigatewayv2_api.http ({file})");
    let mut problems = Vec::new();
    let origins = ["https://app.example.com", "http://localhost:5173"];
    for listed in [&origins[..0], &origins[..]] {
        let scope = Scope::new(tf).and_then(|mut scope| {
            let list = Value::Array(
                listed
                    .iter()
                    .map(|o| Value::String((*o).to_owned()))
                    .collect(),
            );
            scope.set("cors_allowed_origins", list)?;
            Ok(scope)
        });
        let scope = match scope {
            Ok(scope) => scope,
            Err(e) => return vec![e],
        };
        if let Ok(refused) = scope.refusals("cors_allowed_origins") {
            if !refused.is_empty() {
                problems.push(format!(
                    "var.cors_allowed_origins refuses {listed:?}: {refused:?}"
                ));
            }
        }
        // Static blocks, and dynamic ones expanded.
        let mut configurations: Vec<BTreeMap<String, Value>> = Vec::new();
        for block in api.blocks() {
            let (content, frames) = match (
                block.identifier(),
                block.labels().first().map(|l| l.as_str()),
            ) {
                ("cors_configuration", _) => (block.body(), vec![Frame::default()]),
                ("dynamic", Some("cors_configuration")) => {
                    let Some(content) = crate::terraform::blocks(block.body(), "content")
                        .first()
                        .copied()
                    else {
                        continue;
                    };
                    let items = attr(block.body(), "for_each").map(|f| scope.eval(f));
                    let frames = match items {
                        Some(Ok(Value::Array(items))) => items
                            .into_iter()
                            .enumerate()
                            .map(|(i, v)| {
                                Frame::named(
                                    "cors_configuration",
                                    Value::Object(
                                        [
                                            ("key".to_owned(), crate::eval::number(i as f64)),
                                            ("value".to_owned(), v),
                                        ]
                                        .into_iter()
                                        .collect(),
                                    ),
                                )
                            })
                            .collect(),
                        other => {
                            problems.push(format!(
                                "{place}: dynamic \"cors_configuration\" for_each gives {other:?}"
                            ));
                            continue;
                        }
                    };
                    (content, frames)
                }
                _ => continue,
            };
            for frame in frames {
                let mut values = BTreeMap::new();
                for attribute in content.attributes() {
                    let value = scope
                        .eval_in(attribute.expr(), &frame)
                        .unwrap_or(Value::Null);
                    values.insert(attribute.key().to_owned(), value);
                }
                configurations.push(values);
            }
        }
        let when = format!("with cors_allowed_origins = {listed:?}");
        match (listed.is_empty(), configurations.as_slice()) {
            (true, []) => {}
            (true, _) => problems.push(format!(
                "{place} has a CORS configuration {when}: browsers on any origin it names could call the API, \
                 which the empty list (the default) forbids"
            )),
            (false, [one]) => {
                let strings = |name: &str| -> BTreeSet<String> {
                    match one.get(name) {
                        Some(Value::Array(items)) => items.iter().filter_map(|v| to_string(v).ok()).collect(),
                        _ => BTreeSet::new(),
                    }
                };
                let allowed: BTreeSet<String> = listed.iter().map(|o| (*o).to_owned()).collect();
                if strings("allow_origins") != allowed {
                    problems.push(format!(
                        "{place}: allow_origins is {:?} {when}: it must be exactly the listed origins",
                        strings("allow_origins")
                    ));
                }
                let methods: BTreeSet<String> = ROUTES.iter().map(|(m, _)| (*m).to_owned()).collect();
                let allow_methods = strings("allow_methods");
                if !methods.is_subset(&allow_methods) || allow_methods.contains("*") {
                    problems.push(format!(
                        "{place}: allow_methods is {allow_methods:?} {when}, but the routes (http_lambda::ROUTES) \
                         take {methods:?}, named"
                    ));
                }
                let headers = strings("allow_headers");
                let lower: BTreeSet<String> = headers.iter().map(|h| h.to_ascii_lowercase()).collect();
                for needed in CORS_HEADERS {
                    if !lower.contains(*needed) {
                        problems.push(format!(
                            "{place}: allow_headers {headers:?} lacks {needed:?} {when}: a browser's SigV4-signed \
                             request or publish sends it, and the preflight would refuse it"
                        ));
                    }
                }
                if one.get("allow_credentials") == Some(&Value::Bool(true)) {
                    problems.push(format!(
                        "{place}: allow_credentials is true {when}: the API authenticates with SigV4, not \
                         cookies; credentials would only widen what a listed origin's page may send"
                    ));
                }
            }
            (false, found) => problems.push(format!(
                "{place} has {} CORS configurations {when}; the listed origins need one",
                found.len()
            )),
        }
    }
    problems
}

/// The request headers a browser page sends: SigV4's, and a publish's.
pub const CORS_HEADERS: &[&str] = &[
    "authorization",
    "content-type",
    "idempotency-key",
    "x-amz-content-sha256",
    "x-amz-date",
    "x-amz-security-token",
];

/// The HTTP API sends the handler the event version it parses.
pub fn payload_format_problems(tf: &Terraform) -> Vec<String> {
    match tf.block("resource", &["aws_apigatewayv2_integration", "http"]) {
        Err(e) => vec![format!(
            "{e}, but http_lambda parses API Gateway HTTP API 2.0 events"
        )],
        Ok((file, integration)) => {
            let version = string_attr(integration, "payload_format_version");
            if version.as_deref() == Some("2.0") {
                Vec::new()
            } else {
                vec![format!(
                    "aws_apigatewayv2_integration.http ({file}): payload_format_version is {version:?}, \
                     but http_lambda parses API Gateway HTTP API 2.0 events (ApiGatewayV2httpRequest)"
                )]
            }
        }
    }
}
