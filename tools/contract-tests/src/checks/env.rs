//! What each function runs with: its environment (exactly the variables its
//! binary reads), JSON logs, and the handler that starts it.

use std::collections::BTreeSet;

use hcl::Map;

use super::{deployed, function, Partition, FUNCTIONS};
use crate::eval::{Scope, Value};
use crate::terraform::{attr, blocks, object_keys, string_attr};
use crate::Terraform;

/// Each function's `environment.variables` holds exactly the variables its
/// binary reads (`RX_ENV` / `HTTP_ENV` / `WORKER_ENV`). (A key set twice does not parse:
/// `hcl-rs` rejects a redefined object key, as Terraform does.)
pub fn env_problems(tf: &Terraform) -> Vec<String> {
    let mut problems = Vec::new();
    for f in &FUNCTIONS {
        let binary: BTreeSet<&str> = f.env.iter().copied().collect();
        let (place, body) = match function(tf, f.name) {
            Ok(found) => found,
            Err(e) => {
                problems.push(format!(
                    "{e}, but the {} binary reads {} = {binary:?}",
                    f.name, f.env_name
                ));
                continue;
            }
        };
        let environments = blocks(body, "environment");
        let [environment] = environments.as_slice() else {
            problems.push(format!(
                "{place} has {} `environment` blocks, expected 1 (the binary reads {} = {binary:?})",
                environments.len(),
                f.env_name
            ));
            continue;
        };
        let Some(variables) = attr(environment, "variables") else {
            problems.push(format!(
                "{place}: `environment` has no `variables`, but the binary reads {} = {binary:?}",
                f.env_name
            ));
            continue;
        };
        let keys = match object_keys(variables) {
            Ok(keys) => keys,
            Err(e) => {
                problems.push(format!(
                    "{place}: environment.variables: {e}; the binary reads {} = {binary:?}",
                    f.env_name
                ));
                continue;
            }
        };
        let terraform: BTreeSet<&str> = keys.iter().map(String::as_str).collect();
        for missing in binary.difference(&terraform) {
            problems.push(format!(
                "{place}: environment.variables lacks {missing}, which the {} binary reads ({})",
                f.name, f.env_name
            ));
        }
        for extra in terraform.difference(&binary) {
            problems.push(format!(
                "{place}: environment.variables sets {extra}, which the {} binary does not read \
                 (not in {} = {binary:?})",
                f.name, f.env_name
            ));
        }
    }
    problems
}

/// The binaries log JSON because Lambda sets AWS_LAMBDA_LOG_FORMAT from
/// `logging_config.log_format` (never from `environment`, checked above).
pub fn log_format_problems(tf: &Terraform) -> Vec<String> {
    let mut problems = Vec::new();
    for f in &FUNCTIONS {
        let (place, body) = match function(tf, f.name) {
            Ok(found) => found,
            Err(e) => {
                problems.push(format!("{e}, where the binaries expect JSON logs"));
                continue;
            }
        };
        let log_format = blocks(body, "logging_config")
            .first()
            .and_then(|b| string_attr(b, "log_format"));
        if log_format.as_deref() != Some("JSON") {
            problems.push(format!(
                "{place}: logging_config.log_format is {log_format:?}, but the binaries expect \
                 Lambda to set AWS_LAMBDA_LOG_FORMAT=JSON (tracing's JSON output)"
            ));
        }
    }
    problems
}

/// Each function starts as what it is: the http package runs the worker,
/// the commands or presence function exactly when Lambda passes it
/// `http_lambda::WORKER_HANDLER`, `COMMANDS_HANDLER` or `PRESENCE_HANDLER`
/// as `_HANDLER` (the function's `handler`), and the HTTP API handler with
/// any other (the http function keeps "bootstrap").
pub fn handler_problems(tf: &Terraform) -> Vec<String> {
    let mut problems = Vec::new();
    for f in &FUNCTIONS {
        match function(tf, f.name) {
            Err(e) => problems.push(format!(
                "{e}, but the {} package runs it as a function of its own (handler = {} = {:?})",
                f.make_var, f.handler_name, f.handler
            )),
            Ok((place, body)) => {
                let handler = string_attr(body, "handler");
                if handler.as_deref() != Some(f.handler) {
                    problems.push(format!(
                        "{place}: handler is {handler:?}, but the {} binary starts as the {} function \
                         only with {} = {:?} (Lambda passes it as _HANDLER); otherwise it would \
                         answer this function's events as another one",
                        f.make_var, f.name, f.handler_name, f.handler
                    ));
                }
            }
        }
    }
    problems
}

/// Lambda's limit on a function's environment: 4 KB for all variables.
pub const ENVIRONMENT_LIMIT: usize = 4096;

/// Where the longest values come from: a China Region (the longest DNS
/// suffix) with one of the longest Region names.
const WORST: Partition = Partition {
    name: "aws-cn",
    region: "cn-northwest-1",
    dns_suffix: "amazonaws.com.cn",
};

/// The largest value of each variable an environment carries that the
/// validations accept: the longest name and stage, ten earlier token keys,
/// identity providers up to their JSON limit. Returns the scope and the
/// variables it set.
fn worst_case(tf: &Terraform) -> Result<Scope<'_>, String> {
    let mut scope = deployed(tf, WORST)?;
    scope.set(
        "name",
        Value::String("abcdefghij-abcdefghij-abcdefghij".into()),
    )?;
    scope.set("stage_name", Value::String("S".repeat(64)))?;
    // As many earlier keys as the validation accepts (up to 64).
    let count = (0..=64)
        .rev()
        .find(|&n| {
            let keys = vec![Value::String(super::tokens::PREVIOUS_KEY.into()); n];
            scope
                .set("token_previous_public_keys", Value::Array(keys))
                .is_ok()
                && scope.refusals("token_previous_public_keys") == Ok(vec![])
        })
        .unwrap_or(0);
    let keys = vec![Value::String(super::tokens::PREVIOUS_KEY.into()); count];
    scope.set("token_previous_public_keys", Value::Array(keys))?;
    // Identity providers: as long as their validations allow.
    let mut best = None;
    for pad in (0..400).rev().step_by(2) {
        let issuer = |i: usize| {
            let host = format!("login{i}.{}.example.com", "x".repeat(pad / 10));
            hcl::value!({
                issuer = (format!("https://{host}/")),
                jwks_url = (format!("https://{host}/.well-known/jwks.json")),
                audience = (format!("aud-{}", "y".repeat(pad / 20))),
                channels_claim = "channels"
            })
        };
        let issuers = Value::Array((0..5).map(issuer).collect());
        if scope.set("token_issuers", issuers.clone()).is_ok()
            && scope.refusals("token_issuers") == Ok(vec![])
        {
            best = Some(issuers);
            break;
        }
    }
    scope.set(
        "token_issuers",
        best.ok_or("no token_issuers value passes its validations")?,
    )?;
    super::fill(tf, &mut scope, WORST)?;
    // What Terraform reads at apply time: the fixed identity and the public key.
    let identity = tf
        .block("resource", &["terraform_data", "token_identity"])
        .ok()
        .and_then(|(_, body)| attr(body, "input"))
        .map(|input| scope.eval(input))
        .transpose()?;
    if let Some(identity) = identity {
        let mut value = Map::new();
        value.insert("output".to_owned(), identity.clone());
        value.insert("input".to_owned(), identity);
        scope.resource("terraform_data.token_identity", Value::Object(value));
    }
    let mut key = Map::new();
    key.insert(
        "public_key".to_owned(),
        Value::String(super::tokens::PREVIOUS_KEY.into()),
    );
    scope.resource(
        "data.aws_kms_public_key.tokens",
        Value::Array(vec![Value::Object(key)]),
    );
    Ok(scope)
}

/// Each function's environment in the worst case the validations accept:
/// its label and the size of its variables' JSON, or the problems that
/// keep it from being sized.
pub fn environment_sizes(tf: &Terraform) -> Result<Vec<(String, usize)>, Vec<String>> {
    let scope =
        worst_case(tf).map_err(|e| vec![format!("the worst case cannot be set up: {e}")])?;
    let mut sizes = Vec::new();
    let mut problems = Vec::new();
    for f in &FUNCTIONS {
        let (place, env) = match super::tokens::evaluated_environment(tf, &scope, f.name) {
            Ok(found) => found,
            Err(e) => {
                problems.push(e);
                continue;
            }
        };
        let mut json = serde_json::Map::new();
        for (key, value) in env {
            match value {
                Ok(value) if !value.contains('⟨') => {
                    json.insert(key, serde_json::Value::String(value));
                }
                Ok(value) => problems.push(format!(
                    "{place}: {key} = {value:?} cannot be sized: it holds what only AWS knows"
                )),
                Err(e) => problems.push(format!("{place}: {key} does not evaluate: {e}")),
            }
        }
        sizes.push((place, serde_json::Value::Object(json).to_string().len()));
    }
    if problems.is_empty() {
        Ok(sizes)
    } else {
        Err(problems)
    }
}

/// Every function's environment fits in Lambda's 4 KB
/// ([`ENVIRONMENT_LIMIT`], counted as the JSON of the variables) with every
/// variable at the largest value its validations accept: otherwise a value
/// Terraform accepts fails the apply.
pub fn environment_size_problems(tf: &Terraform) -> Vec<String> {
    match environment_sizes(tf) {
        Err(problems) => problems,
        Ok(sizes) => sizes
            .into_iter()
            .filter(|(_, size)| *size > ENVIRONMENT_LIMIT)
            .map(|(place, size)| {
                format!(
                    "{place}: its environment takes {size} bytes with every variable at the largest value its \
                     validation accepts (name, stage_name, token_previous_public_keys, token_issuers), over \
                     Lambda's {ENVIRONMENT_LIMIT}: narrow those validations"
                )
            })
            .collect(),
    }
}
