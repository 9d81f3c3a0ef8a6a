//! The WebSocket API against `http_lambda`'s route constants: routes by the
//! frame's `action`, each to the integration the code expects (rx, the
//! commands function, or a MOCK that answers `PONG`), two-way where the
//! sender gets an answer, invokable by API Gateway, and redeployed when any
//! of it changes. Evaluated in a [`deployed`] scope, `for_each` instances
//! one by one.

use std::collections::{BTreeMap, BTreeSet};

use hcl::{Body, Expression};
use http_lambda::{COMMAND_ROUTES, PING_ROUTE, PONG, RX_ROUTES};

use super::{deployed, display, AWS};
use crate::eval::{to_string, Frame, Scope, Value};
use crate::terraform::{attr, traversal_names, walk};
use crate::Terraform;

/// The route selection the code's routes are values of: the frame's `action`.
pub const ROUTE_SELECTION: &str = "$request.body.action";

/// `(type, name)` of the resource a placeholder names:
/// `⟨aws_apigatewayv2_integration.rx.id⟩` gives `("aws_apigatewayv2_integration", "rx")`.
fn placeholder_resource(text: &str) -> Option<(String, String)> {
    let inner = text.trim_start_matches('⟨');
    let end = inner.find('⟩')?;
    let mut parts = inner[..end].split('.');
    let kind = parts.next()?.to_owned();
    let name = parts.next()?;
    let name = name.split('[').next()?.to_owned();
    Some((kind, name))
}

/// The instances of every `resource "KIND" ...` of the API named `api`
/// (its `api_id`): (address, body, frame of the instance).
fn of_api<'a>(
    tf: &'a Terraform,
    scope: &Scope<'_>,
    kind: &str,
    api: &str,
) -> Vec<(String, &'a Body, Frame)> {
    super::instances(tf, scope, kind)
        .into_iter()
        .filter(|(_, body, _)| {
            attr(body, "api_id")
                .and_then(traversal_names)
                .is_some_and(|names| names.get(1).map(String::as_str) == Some(api))
        })
        .collect()
}

/// A string attribute of an instance, evaluated; None when unset.
fn text(
    scope: &Scope<'_>,
    body: &Body,
    frame: &Frame,
    name: &str,
) -> Result<Option<String>, String> {
    match attr(body, name) {
        None => Ok(None),
        Some(expr) => match scope.eval_in(expr, frame)? {
            Value::Null => Ok(None),
            value => to_string(&value).map(Some),
        },
    }
}

/// A map attribute (`request_templates`) of an instance, evaluated.
fn map(scope: &Scope<'_>, body: &Body, frame: &Frame, name: &str) -> BTreeMap<String, String> {
    attr(body, name)
        .and_then(|e| scope.eval_in(e, frame).ok())
        .and_then(|v| match v {
            Value::Object(object) => Some(
                object
                    .into_iter()
                    .filter_map(|(k, v)| to_string(&v).ok().map(|v| (k, v)))
                    .collect(),
            ),
            _ => None,
        })
        .unwrap_or_default()
}

/// What a template selection expression selects: `\$default` is a literal
/// `$default`; a static value is itself.
fn selected(expression: Option<&str>) -> String {
    match expression {
        None => "$default".to_owned(),
        Some(e) => e.replace("\\$", "$"),
    }
}

/// An integration of the API, evaluated.
struct Integration {
    kind: Option<String>,
    uri: Option<String>,
    /// The request template its template selection expression selects.
    request_template: Option<String>,
}

/// The WebSocket API's routes and integrations agree with `http_lambda`:
/// `RX_ROUTES` go to rx, `COMMAND_ROUTES` to the commands function and are
/// two-way, `PING_ROUTE` goes to a MOCK integration that answers `PONG`
/// without invoking a function, `$default` is two-way (echo); every route
/// response exists; the functions may be invoked from the stage; and the
/// deployment's triggers cover every route, integration and response.
pub fn websocket_problems(tf: &Terraform) -> Vec<String> {
    let scope = match deployed(tf, AWS) {
        Ok(scope) => scope,
        Err(e) => return vec![e],
    };
    let api = super::api(tf, "WEBSOCKET");
    let Some((file, api, api_body)) = api else {
        return vec!["terraform/*.tf has no aws_apigatewayv2_api with protocol_type = \"WEBSOCKET\", but rx and the commands function serve one".to_owned()];
    };
    let mut problems = Vec::new();
    let selection = attr(api_body, "route_selection_expression").and_then(crate::terraform::string);
    if selection.as_deref() != Some(ROUTE_SELECTION) {
        problems.push(format!(
            "aws_apigatewayv2_api.{api} ({file}): route_selection_expression is {selection:?}, but the \
             code's routes (http_lambda::COMMAND_ROUTES, PING_ROUTE) are values of the frame's `action`: \
             {ROUTE_SELECTION:?}"
        ));
    }

    let mut integrations: BTreeMap<String, Integration> = BTreeMap::new();
    for (address, body, frame) in of_api(tf, &scope, "aws_apigatewayv2_integration", &api) {
        let name = address
            .trim_start_matches("aws_apigatewayv2_integration.")
            .to_owned();
        let selection = selected(
            text(&scope, body, &frame, "template_selection_expression")
                .unwrap_or(None)
                .as_deref(),
        );
        let integration = Integration {
            kind: text(&scope, body, &frame, "integration_type").unwrap_or(None),
            uri: text(&scope, body, &frame, "integration_uri").unwrap_or(None),
            request_template: map(&scope, body, &frame, "request_templates").remove(&selection),
        };
        integrations.insert(name, integration);
    }
    let mut answers: BTreeMap<String, Vec<String>> = BTreeMap::new();
    for (_, body, frame) in of_api(tf, &scope, "aws_apigatewayv2_integration_response", &api) {
        let Some(integration) = text(&scope, body, &frame, "integration_id")
            .ok()
            .flatten()
            .and_then(|t| placeholder_resource(&t))
        else {
            continue;
        };
        let selection = selected(
            text(&scope, body, &frame, "template_selection_expression")
                .unwrap_or(None)
                .as_deref(),
        );
        if let Some(template) = map(&scope, body, &frame, "response_templates").remove(&selection) {
            answers.entry(integration.1).or_default().push(template);
        }
    }
    let invoke_arn = |function: &str| {
        scope
            .eval_text(&format!("aws_lambda_function.{function}.invoke_arn"))
            .and_then(|v| to_string(&v))
            .unwrap_or_default()
    };

    // Routes: key => (address, integration name, two-way).
    let mut routes: BTreeMap<String, (String, Option<String>, bool)> = BTreeMap::new();
    for (address, body, frame) in of_api(tf, &scope, "aws_apigatewayv2_route", &api) {
        let key = text(&scope, body, &frame, "route_key")
            .ok()
            .flatten()
            .unwrap_or_default();
        let target = text(&scope, body, &frame, "target")
            .ok()
            .flatten()
            .unwrap_or_default();
        let integration = target
            .strip_prefix("integrations/")
            .and_then(placeholder_resource)
            .map(|(_, n)| n);
        let two_way = text(&scope, body, &frame, "route_response_selection_expression")
            .ok()
            .flatten()
            .is_some();
        routes.insert(key, (address, integration, two_way));
    }
    let mut responded = BTreeSet::new();
    for (_, body, frame) in of_api(tf, &scope, "aws_apigatewayv2_route_response", &api) {
        let route = text(&scope, body, &frame, "route_id")
            .ok()
            .flatten()
            .unwrap_or_default();
        let key = text(&scope, body, &frame, "route_response_key")
            .ok()
            .flatten();
        if key.as_deref() == Some("$default") {
            responded.insert(route);
        }
    }

    let expected: Vec<(&str, &str, bool)> = RX_ROUTES
        .iter()
        .map(|r| (*r, "rx", *r == "$default"))
        .chain(COMMAND_ROUTES.iter().map(|r| (*r, "commands", true)))
        .chain([(PING_ROUTE, "MOCK", true)])
        .collect();
    for (key, goes_to, two_way) in &expected {
        let Some((address, integration, is_two_way)) = routes.get(*key) else {
            problems.push(format!(
                "the WebSocket API (aws_apigatewayv2_api.{api}, {file}) has no route {key:?}, which the \
                 code serves ({})",
                origin(key)
            ));
            continue;
        };
        let found = integration
            .as_ref()
            .and_then(|i| integrations.get(i).map(|v| (i, v)));
        let ok = match (found, *goes_to) {
            (
                Some((
                    _,
                    Integration {
                        kind,
                        request_template: template,
                        ..
                    },
                )),
                "MOCK",
            ) => {
                let pong = answers
                    .get(integration.as_deref().unwrap_or_default())
                    .is_some_and(|a| a.iter().any(|t| t == PONG));
                let status = template
                    .as_deref()
                    .and_then(|t| serde_json::from_str::<serde_json::Value>(t).ok());
                if kind.as_deref() != Some("MOCK")
                    || !pong
                    || status != Some(serde_json::json!({"statusCode": 200}))
                {
                    problems.push(format!(
                        "{address} ({key:?}) goes to {:?}, but http_lambda::PING_ROUTE is answered by API Gateway \
                         itself: a MOCK integration whose selected request template is {{\"statusCode\":200}} and \
                         whose integration response's selected template is http_lambda::PONG = {PONG:?} (found: \
                         type {kind:?}, request template {template:?}, responses {:?})",
                        integration,
                        answers.get(integration.as_deref().unwrap_or_default())
                    ));
                }
                true
            }
            (Some((_, Integration { uri, .. })), function) => {
                uri.as_deref() == Some(invoke_arn(function).as_str())
            }
            (None, _) => false,
        };
        if !ok {
            problems.push(format!(
                "{address} ({key:?}) targets integration {integration:?}, but {} serves it: its integration_uri \
                 must be aws_lambda_function.{goes_to}.invoke_arn",
                origin(key)
            ));
        }
        if *two_way && !is_two_way {
            problems.push(format!(
                "{address} ({key:?}) has no route_response_selection_expression, so its answer never reaches \
                 the sender; {} answers every frame (a two-way route: \"$default\" and a route response)",
                origin(key)
            ));
        }
        if *two_way
            && !responded
                .iter()
                .any(|r| r.contains(&format!("[{key:?}]")) || r == &format!("⟨{address}.id⟩"))
        {
            problems.push(format!(
                "{address} ({key:?}) has no aws_apigatewayv2_route_response with route_response_key \
                 \"$default\": API Gateway drops the answer {} gives",
                origin(key)
            ));
        }
    }
    for (key, (address, _, _)) in &routes {
        if !expected.iter().any(|(k, _, _)| k == key) {
            problems.push(format!(
                "{address} declares route {key:?}, which the code does not serve (http_lambda::RX_ROUTES, \
                 COMMAND_ROUTES, PING_ROUTE)"
            ));
        }
    }

    problems.extend(permission_problems(tf, &scope, &api));
    problems.extend(trigger_problems(tf, &api));
    problems
}

fn origin(key: &str) -> &'static str {
    if RX_ROUTES.contains(&key) {
        "rx (http_lambda::RX_ROUTES)"
    } else if COMMAND_ROUTES.contains(&key) {
        "the commands function (http_lambda::COMMAND_ROUTES)"
    } else {
        "API Gateway's MOCK (http_lambda::PING_ROUTE)"
    }
}

/// rx and commands may be invoked from the WebSocket stage.
fn permission_problems(tf: &Terraform, scope: &Scope<'_>, api: &str) -> Vec<String> {
    let stage = scope
        .eval_text(&format!(
            "\"${{aws_apigatewayv2_api.{api}.execution_arn}}/${{var.stage_name}}/\""
        ))
        .and_then(|v| to_string(&v))
        .unwrap_or_default();
    let mut problems = Vec::new();
    for function in ["rx", "commands"] {
        let allowed = tf.top_blocks().any(|(_, b)| {
            b.identifier() == "resource"
                && b.labels().first().map(|l| l.as_str()) == Some("aws_lambda_permission")
                && attr(b.body(), "function_name")
                    .and_then(traversal_names)
                    .is_some_and(|n| n.get(1).map(String::as_str) == Some(function))
                && attr(b.body(), "source_arn")
                    .and_then(|s| scope.eval(s).ok())
                    .and_then(|v| to_string(&v).ok())
                    .is_some_and(|s| s.starts_with(&stage))
                && attr(b.body(), "principal")
                    .and_then(crate::terraform::string)
                    .as_deref()
                    == Some("apigateway.amazonaws.com")
        });
        if !allowed {
            problems.push(format!(
                "no aws_lambda_permission lets apigateway.amazonaws.com invoke aws_lambda_function.{function} \
                 from the WebSocket stage ({stage}*), which its routes target"
            ));
        }
    }
    problems
}

/// The deployment is redeployed when any route, integration, integration
/// response or route response of the API changes: its `triggers` name them all.
fn trigger_problems(tf: &Terraform, api: &str) -> Vec<String> {
    let kinds = [
        "aws_apigatewayv2_route",
        "aws_apigatewayv2_integration",
        "aws_apigatewayv2_integration_response",
        "aws_apigatewayv2_route_response",
    ];
    let parts: BTreeSet<String> = tf
        .top_blocks()
        .filter(|(_, b)| {
            b.identifier() == "resource"
                && b.labels()
                    .first()
                    .is_some_and(|l| kinds.contains(&l.as_str()))
        })
        .filter(|(_, b)| {
            attr(b.body(), "api_id")
                .and_then(traversal_names)
                .is_some_and(|n| n.get(1).map(String::as_str) == Some(api))
        })
        .map(|(_, b)| {
            b.labels()
                .iter()
                .map(|l| l.as_str())
                .collect::<Vec<_>>()
                .join(".")
        })
        .collect();
    let deployment = tf.top_blocks().find(|(_, b)| {
        b.identifier() == "resource"
            && b.labels().first().map(|l| l.as_str()) == Some("aws_apigatewayv2_deployment")
            && attr(b.body(), "api_id")
                .and_then(traversal_names)
                .is_some_and(|n| n.get(1).map(String::as_str) == Some(api))
    });
    let Some((file, deployment)) = deployment else {
        return vec![format!(
            "the WebSocket API aws_apigatewayv2_api.{api} has no aws_apigatewayv2_deployment"
        )];
    };
    let place = format!(
        "aws_apigatewayv2_deployment.{} ({file})",
        deployment.labels().get(1).map_or("?", |l| l.as_str())
    );
    let triggers = attr(deployment.body(), "triggers");
    let mut named = BTreeSet::new();
    if let Some(triggers) = triggers {
        walk(triggers, &mut |e: &Expression| {
            if let Some(names) = traversal_names(e) {
                if names.len() >= 2 && kinds.contains(&names[0].as_str()) {
                    named.insert(format!("{}.{}", names[0], names[1]));
                }
            }
        });
    }
    parts
        .difference(&named)
        .map(|missing| {
            format!(
                "{place}: triggers = `{}` does not cover {missing}: a change to it would not be deployed \
                 (WebSocket stages do not auto-deploy)",
                display(triggers)
            )
        })
        .collect()
}
