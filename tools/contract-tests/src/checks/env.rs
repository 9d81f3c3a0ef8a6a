//! What each function runs with: its environment (exactly the variables its
//! binary reads), JSON logs, and the handler that starts it.

use std::collections::BTreeSet;

use super::{function, FUNCTIONS};
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
