//! The HTTP API: its routes, who may call each, and the event version.

use std::collections::BTreeSet;

use http_lambda::{OPEN_ROUTES, ROUTES};

use super::display;
use crate::terraform::{
    attr, object_entries, object_keys, reference, string, string_attr, unparen, walk,
};
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

/// Who may call each route: `local.http_routes` gives `"NONE"` exactly to
/// `http_lambda::OPEN_ROUTES` and `var.publish_authorization` to every other
/// route, `$default` included, and the route resource applies it
/// (`authorization_type = each.value`).
pub fn route_authorization_problems(tf: &Terraform) -> Vec<String> {
    let mut problems = Vec::new();
    let open: BTreeSet<String> = OPEN_ROUTES.iter().map(route_key).collect();
    match tf.local("http_routes") {
        Err(e) => problems.push(format!(
            "{e}, but http_lambda::OPEN_ROUTES ({open:?}) take \"NONE\" and every other route \
             var.publish_authorization"
        )),
        Ok((file, routes)) => match object_entries(routes) {
            Err(e) => problems.push(format!(
                "local.http_routes ({file}): {e}; it should give http_lambda::OPEN_ROUTES ({open:?}) \
                 \"NONE\" and every other route var.publish_authorization"
            )),
            // A route of OPEN_ROUTES missing from the map is the route check's business.
            Ok(entries) => {
                for (route, value) in entries {
                    let value = unparen(value);
                    if open.contains(&route) {
                        if string(value).as_deref() != Some("NONE") {
                            problems.push(format!(
                                "local.http_routes ({file}): {route:?} takes `{value}`, but it is in \
                                 http_lambda::OPEN_ROUTES ({open:?}), which anyone may call: it takes \"NONE\""
                            ));
                        }
                    } else if reference(value).as_deref() != Some("var.publish_authorization") {
                        problems.push(format!(
                            "local.http_routes ({file}): {route:?} takes `{value}`, but only \
                             http_lambda::OPEN_ROUTES ({open:?}) are open: every other route, $default \
                             included, takes var.publish_authorization"
                        ));
                    }
                }
            }
        },
    }

    match tf.block("resource", &["aws_apigatewayv2_route", "http"]) {
        Err(e) => problems.push(format!(
            "{e}, which should give each route the authorization local.http_routes maps it to"
        )),
        Ok((file, route)) => {
            let authorization = attr(route, "authorization_type");
            if authorization.and_then(reference).as_deref() != Some("each.value") {
                problems.push(format!(
                    "aws_apigatewayv2_route.http ({file}): authorization_type = `{}`, but each route \
                     takes the authorization local.http_routes maps it to (each.value): \"NONE\" for \
                     http_lambda::OPEN_ROUTES ({open:?}) only",
                    display(authorization)
                ));
            }
        }
    }
    problems
}

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
