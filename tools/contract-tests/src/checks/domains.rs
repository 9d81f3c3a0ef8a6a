//! Custom domains, rendered three ways: none (the default), both with a
//! Route 53 zone (certificates requested and DNS-validated here), both with
//! certificates given by ARN and no zone. Each time: which domain resources
//! exist and what they say, the URLs the outputs print, and what must not
//! move: `MANAGEMENT_ENDPOINT` (always the execute-api endpoint, which is
//! never disabled) and the token identity.

use std::collections::BTreeMap;

use channels::config::{MANAGEMENT_ENDPOINT, TOKEN_AUDIENCE, TOKEN_ISSUER};
use hcl::Body;

use super::tokens::evaluated_environment;
use super::{deployed, fill, instances, AWS, FUNCTIONS};
use crate::eval::{to_string, Frame, Scope, Value};
use crate::terraform::{attr, blocks};
use crate::Terraform;

/// The names the rendering with domains uses.
pub const WEBSOCKET_DOMAIN: &str = "ws.example.com";
pub const HTTP_DOMAIN: &str = "api.example.com";
pub const ZONE: &str = "Z0123456789EXAMPLE";
pub const WEBSOCKET_CERTIFICATE: &str =
    "arn:aws:acm:us-east-1:123456789012:certificate/11111111-2222-3333-4444-555555555555";
pub const HTTP_CERTIFICATE: &str =
    "arn:aws:acm:us-east-1:123456789012:certificate/66666666-7777-8888-9999-000000000000";

/// One way of setting the domain variables.
#[derive(Clone, Copy, Debug)]
pub enum Domains {
    None,
    WithZone,
    WithCertificates,
}

impl Domains {
    fn vars(self) -> Vec<(&'static str, Value)> {
        let s = |v: &str| Value::String(v.to_owned());
        match self {
            Domains::None => Vec::new(),
            Domains::WithZone => vec![
                ("websocket_domain", s(WEBSOCKET_DOMAIN)),
                ("http_domain", s(HTTP_DOMAIN)),
                ("route53_zone_id", s(ZONE)),
            ],
            Domains::WithCertificates => vec![
                ("websocket_domain", s(WEBSOCKET_DOMAIN)),
                ("http_domain", s(HTTP_DOMAIN)),
                ("websocket_certificate_arn", s(WEBSOCKET_CERTIFICATE)),
                ("http_certificate_arn", s(HTTP_CERTIFICATE)),
            ],
        }
    }
}

/// A deployed scope with the domain variables set as `domains` says, and
/// the refusals of their validations (none expected).
pub fn rendered(tf: &Terraform, domains: Domains) -> Result<(Scope<'_>, Vec<String>), String> {
    let mut scope = deployed(tf, AWS)?;
    let vars = domains.vars();
    for (name, value) in &vars {
        scope.set(name, value.clone())?;
    }
    fill(tf, &mut scope, AWS)?;
    let mut refused = Vec::new();
    for name in [
        "websocket_domain",
        "http_domain",
        "websocket_certificate_arn",
        "http_certificate_arn",
        "route53_zone_id",
    ] {
        refused.extend(scope.refusals(name)?);
    }
    Ok((scope, refused))
}

/// An attribute of an instance (or of a nested block, `a.b`), evaluated to a string.
fn text(scope: &Scope<'_>, body: &Body, frame: &Frame, path: &str) -> Option<String> {
    let mut body = body;
    let mut parts: Vec<&str> = path.split('.').collect();
    let last = parts.pop()?;
    for block in parts {
        body = blocks(body, block).first().copied()?;
    }
    attr(body, last)
        .and_then(|e| scope.eval_in(e, frame).ok())
        .and_then(|v| to_string(&v).ok())
}

/// An output's value, evaluated.
fn output(tf: &Terraform, scope: &Scope<'_>, name: &str) -> Option<String> {
    tf.block("output", &[name])
        .ok()
        .and_then(|(_, body)| attr(body, "value"))
        .and_then(|e| scope.eval(e).ok())
        .and_then(|v| to_string(&v).ok())
}

/// The custom domains are built, mapped and printed as described in this
/// module's documentation, with domains and without.
pub fn domain_problems(tf: &Terraform) -> Vec<String> {
    let mut problems = Vec::new();
    let mut identities: BTreeMap<String, Vec<(Domains, String)>> = BTreeMap::new();
    for domains in [Domains::None, Domains::WithZone, Domains::WithCertificates] {
        let (scope, refused) = match rendered(tf, domains) {
            Ok(rendered) => rendered,
            Err(e) => {
                problems.push(format!("{domains:?}: {e}"));
                continue;
            }
        };
        if !refused.is_empty() {
            problems.push(format!(
                "the domain variables' validations refuse the {domains:?} setting: {refused:?}"
            ));
        }
        let eval = |text: &str| {
            scope
                .eval_text(text)
                .and_then(|v| to_string(&v))
                .unwrap_or_default()
        };
        let ws_stage = eval("\"${aws_apigatewayv2_api.websocket.api_endpoint}/${var.stage_name}\"");
        let http_stage = eval("\"${aws_apigatewayv2_api.http.api_endpoint}/${var.stage_name}\"");
        let management = ws_stage.replacen("wss://", "https://", 1);
        let (ws_url, http_url) = match domains {
            Domains::None => (ws_stage.clone(), http_stage.clone()),
            _ => (
                format!("wss://{WEBSOCKET_DOMAIN}"),
                format!("https://{HTTP_DOMAIN}"),
            ),
        };
        let when = format!("with domains {domains:?}");

        // The execute-api endpoints stay on.
        for api in ["websocket", "http"] {
            if let Ok((file, body)) = tf.block("resource", &["aws_apigatewayv2_api", api]) {
                let disabled =
                    attr(body, "disable_execute_api_endpoint").and_then(|e| scope.eval(e).ok());
                if disabled == Some(Value::Bool(true)) {
                    problems.push(format!(
                        "aws_apigatewayv2_api.{api} ({file}) disables its execute-api endpoint {when}: \
                         {MANAGEMENT_ENDPOINT} (@connections) is served there only, and the functions could no \
                         longer deliver (Forbidden)"
                    ));
                }
            }
        }

        // The domain resources.
        let names: Vec<(&str, &str, &str, &str)> = match domains {
            Domains::None => Vec::new(),
            _ => vec![
                (
                    "websocket",
                    WEBSOCKET_DOMAIN,
                    WEBSOCKET_CERTIFICATE,
                    "aws_apigatewayv2_stage.websocket",
                ),
                (
                    "http",
                    HTTP_DOMAIN,
                    HTTP_CERTIFICATE,
                    "aws_apigatewayv2_stage.http",
                ),
            ],
        };
        let domain_names = instances(tf, &scope, "aws_apigatewayv2_domain_name");
        let mappings = instances(tf, &scope, "aws_apigatewayv2_api_mapping");
        let certificates = instances(tf, &scope, "aws_acm_certificate");
        let records = instances(tf, &scope, "aws_route53_record");
        let expected_domains = names.len();
        if domain_names.len() != expected_domains || mappings.len() != expected_domains {
            problems.push(format!(
                "{} aws_apigatewayv2_domain_name and {} aws_apigatewayv2_api_mapping {when}, expected {expected_domains} \
                 of each (one per custom domain)",
                domain_names.len(),
                mappings.len()
            ));
        }
        let requested = matches!(domains, Domains::WithZone);
        let wanted_certificates = if requested { expected_domains } else { 0 };
        if certificates.len() != wanted_certificates {
            problems.push(format!(
                "{} aws_acm_certificate {when}, expected {wanted_certificates}: a certificate is requested for a \
                 domain whose certificate ARN is not given, and only then",
                certificates.len()
            ));
        }
        let wanted_records = if requested { 2 * expected_domains } else { 0 };
        if records.len() != wanted_records {
            problems.push(format!(
                "{} aws_route53_record {when}, expected {wanted_records}: with a zone, each domain's certificate \
                 validation record and its alias; without one, none",
                records.len()
            ));
        }
        for (api, name, certificate, stage) in &names {
            let api_id = eval(&format!("aws_apigatewayv2_api.{api}.id"));
            let domain = domain_names.iter().find(|(_, body, frame)| {
                text(&scope, body, frame, "domain_name").as_deref() == Some(*name)
            });
            let Some((address, body, frame)) = domain else {
                problems.push(format!("no aws_apigatewayv2_domain_name for {name} {when}"));
                continue;
            };
            for (path, wanted) in [
                ("domain_name_configuration.endpoint_type", "REGIONAL"),
                ("domain_name_configuration.security_policy", "TLS_1_2"),
            ] {
                let got = text(&scope, body, frame, path);
                if got.as_deref() != Some(wanted) {
                    problems.push(format!(
                        "{address}: {path} is {got:?} {when}, but a WebSocket custom domain is Regional with TLS 1.2 \
                         (and the HTTP one follows suit): {wanted:?}"
                    ));
                }
            }
            let cert = text(
                &scope,
                body,
                frame,
                "domain_name_configuration.certificate_arn",
            )
            .unwrap_or_default();
            let cert_ok = if requested {
                cert.contains("aws_acm_certificate_validation.")
                    && cert.ends_with(".certificate_arn⟩")
            } else {
                cert == *certificate
            };
            if !cert_ok {
                problems.push(format!(
                    "{address}: its certificate is {cert:?} {when}, but it must be {}",
                    if requested {
                        "the certificate_arn of its aws_acm_certificate_validation (so that the domain waits until DNS validated it)"
                    } else {
                        "the given certificate ARN"
                    }
                ));
            }
            let mapped = mappings.iter().any(|(_, body, frame)| {
                text(&scope, body, frame, "api_id").as_deref() == Some(api_id.as_str())
                    && text(&scope, body, frame, "stage")
                        .is_some_and(|s| s.contains(stage) || s == "staging")
                    && text(&scope, body, frame, "api_mapping_key").is_none_or(|k| k.is_empty())
            });
            if !mapped {
                problems.push(format!(
                    "no aws_apigatewayv2_api_mapping maps aws_apigatewayv2_api.{api} ({api_id}) to {stage} at the root \
                     of {name} {when}"
                ));
            }
            if requested {
                let aliased = records.iter().any(|(_, body, frame)| {
                    text(&scope, body, frame, "zone_id").as_deref() == Some(ZONE)
                        && text(&scope, body, frame, "alias.name")
                            .is_some_and(|n| n.contains("target_domain_name"))
                        && text(&scope, body, frame, "name")
                            .is_some_and(|n| n.contains(&format!("[{api:?}]")) || n == *name)
                });
                if !aliased {
                    problems.push(format!("no alias aws_route53_record in {ZONE} points {name} at its custom domain {when}"));
                }
            }
        }

        // What the outputs print.
        for (output_name, wanted) in [("websocket_url", &ws_url), ("http_url", &http_url)] {
            let got = output(tf, &scope, output_name);
            if got.as_deref() != Some(wanted.as_str()) {
                problems.push(format!(
                    "output {output_name} is {got:?} {when}, but clients use {wanted:?}"
                ));
            }
        }
        for (output_name, wanted) in [
            ("wscat", &ws_url),
            ("curl", &http_url),
            ("token", &http_url),
            ("wscat", &http_url),
        ] {
            let got = output(tf, &scope, output_name).unwrap_or_default();
            // (execute-api also names SigV4's service in --aws-sigv4: only hosts count.)
            if !got.contains(wanted.as_str())
                || (!matches!(domains, Domains::None) && got.contains(".execute-api."))
            {
                problems.push(format!(
                    "output {output_name} is {got:?} {when}: the printed line uses {wanted} (and no execute-api URL when \
                     a custom domain is set)"
                ));
            }
        }
        let printed = output(tf, &scope, "management_endpoint");
        if printed.as_deref() != Some(management.as_str()) {
            problems.push(format!(
                "output management_endpoint is {printed:?} {when}, but it stays {management:?}"
            ));
        }

        // What the functions read.
        for f in &FUNCTIONS {
            let Ok((place, env)) = evaluated_environment(tf, &scope, f.name) else {
                continue;
            };
            if let Some(value) = env.get(MANAGEMENT_ENDPOINT) {
                if value.as_deref() != Ok(management.as_str()) {
                    problems.push(format!(
                        "{place}: {MANAGEMENT_ENDPOINT} is {value:?} {when}, but @connections is served on the WebSocket \
                         API's own endpoint only: {management:?}"
                    ));
                }
            }
            for key in [TOKEN_AUDIENCE, TOKEN_ISSUER] {
                if let Some(value) = env.get(key) {
                    let value = value.clone().unwrap_or_else(|e| format!("<{e}>"));
                    identities
                        .entry(format!("{place}: {key}"))
                        .or_default()
                        .push((domains, value));
                }
            }
        }
    }
    for (what, values) in identities {
        if values.windows(2).any(|w| w[0].1 != w[1].1) {
            problems.push(format!(
                "{what} changes with the custom domains ({values:?}): adding or changing a domain would invalidate \
                 every token"
            ));
        }
    }
    problems
}
