//! What each function runs with: its environment (exactly the variables its
//! binary reads), JSON logs, and the handler that starts it.

use super::*;

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

/// The worker starts as the queue's worker and http as the HTTP API handler:
/// the http binary runs the worker exactly when Lambda passes it
/// `http_lambda::WORKER_HANDLER` as `_HANDLER` (the function's `handler`).
pub fn handler_problems(tf: &Terraform) -> Vec<String> {
    let mut problems = Vec::new();
    match function(tf, "worker") {
        Err(e) => problems.push(format!(
            "{e}, but the http binary runs the publish queue's worker in a function of its own \
             (handler = http_lambda::WORKER_HANDLER = {WORKER_HANDLER:?})"
        )),
        Ok((place, body)) => {
            let handler = string_attr(body, "handler");
            if handler.as_deref() != Some(WORKER_HANDLER) {
                problems.push(format!(
                    "{place}: handler is {handler:?}, but the http binary starts as the publish \
                     queue's worker only when Lambda passes it http_lambda::WORKER_HANDLER = \
                     {WORKER_HANDLER:?} (_HANDLER); otherwise it would answer SQS events as the \
                     HTTP API handler"
                ));
            }
        }
    }
    match function(tf, "http") {
        Err(e) => problems.push(format!("{e}, the HTTP API handler")),
        Ok((place, body)) => {
            let handler = string_attr(body, "handler");
            if handler.as_deref() == Some(WORKER_HANDLER) {
                problems.push(format!(
                    "{place}: handler is {handler:?}, which is http_lambda::WORKER_HANDLER: the \
                     http binary would start as the publish queue's worker, not as the HTTP API \
                     handler"
                ));
            }
        }
    }
    problems
}
