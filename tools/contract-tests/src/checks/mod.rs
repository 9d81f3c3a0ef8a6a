//! The contract between `terraform/`, the `Makefile` and the code. Each check
//! returns its problems (none when both sides agree); every problem names the
//! Terraform side with its file and the code (or Makefile) side it disagrees
//! with. Expectations come from the code's constants, so an environment
//! variable or route added to the code is checked without touching this file.

use std::collections::{BTreeMap, BTreeSet};

use channels::config::{
    HTTP_ENV, PUBLISH_QUEUE_URL, RX_ENV, TOKEN_AUDIENCE, TOKEN_ISSUER, TOKEN_PUBLIC_KEYS,
    TOKEN_SIGNING_KEY, WORKER_ENV, WORKER_MAX_CONCURRENCY,
};
use channels_aws::schema::{
    CHANNEL_INDEX, INDEX_HASH_KEY, INDEX_PROJECTED, INDEX_RANGE_KEY, TABLE_HASH_KEY, TTL_ATTRIBUTE,
};
use hcl::expr::{BinaryOperator, Operation, UnaryOperator};
use hcl::{Body, Expression};
use http_lambda::{OPEN_ROUTES, ROUTES, WORKER_HANDLER};

use crate::terraform::{
    attr, blocks, calls, normalize, object_entries, object_get, object_keys, reference, string,
    string_attr, string_list, strings_in, traversal_names, unparen, walk,
};
use crate::{Makefile, Terraform};

mod env;
mod iam;
mod packages;
mod queue;
mod routes;
mod table;
mod tokens;

pub use env::{env_problems, handler_problems, log_format_problems};
pub use iam::{query_index_problems, queue_permission_problems};
pub use packages::{architecture_problems, package_problems};
pub use queue::{
    event_source_problems, publish_queue_problems, visibility_timeout_problems,
    VISIBILITY_TIMEOUT_FACTOR,
};
pub use routes::{payload_format_problems, route_authorization_problems, route_problems};
pub use table::table_problems;
pub use tokens::{token_env_problems, token_key_problems};

/// A check: the parsed Terraform and Makefile in, the problems out.
pub type Check = fn(&Terraform, &Makefile) -> Vec<String>;

/// Every check, by name.
pub const CHECKS: &[(&str, Check)] = &[
    ("environment", |tf, _| env_problems(tf)),
    ("log format", |tf, _| log_format_problems(tf)),
    ("packages", package_problems),
    ("architecture", architecture_problems),
    ("table", |tf, _| table_problems(tf)),
    ("query index", |tf, _| query_index_problems(tf)),
    ("routes", |tf, _| route_problems(tf)),
    ("route authorization", |tf, _| {
        route_authorization_problems(tf)
    }),
    ("payload format", |tf, _| payload_format_problems(tf)),
    ("token environment", |tf, _| token_env_problems(tf)),
    ("token signing key", |tf, _| token_key_problems(tf)),
    ("handlers", |tf, _| handler_problems(tf)),
    ("publish queue", |tf, _| {
        publish_queue_problems(tf, channels::job::MAX_RECEIVES)
    }),
    ("visibility timeout", |tf, _| {
        visibility_timeout_problems(tf)
    }),
    ("event source mapping", |tf, _| event_source_problems(tf)),
    ("queue permissions", |tf, _| queue_permission_problems(tf)),
];

/// The problems of every check.
pub fn all_problems(tf: &Terraform, make: &Makefile) -> Vec<String> {
    CHECKS
        .iter()
        .flat_map(|(_, check)| check(tf, make))
        .collect()
}

/// A Lambda function of `terraform/lambda.tf` and what the code says about it.
pub(crate) struct Function {
    /// `aws_lambda_function.<name>`
    name: &'static str,
    /// The environment variables its binary reads, and where the code says so.
    env: &'static [&'static str],
    env_name: &'static str,
    /// The `local.<package>` holding its zip, and the Makefile variable that writes it.
    package: &'static str,
    make_var: &'static str,
}

pub(crate) const FUNCTIONS: [Function; 3] = [
    Function {
        name: "rx",
        env: RX_ENV,
        env_name: "channels::config::RX_ENV",
        package: "rx_package",
        make_var: "RX_ZIP",
    },
    Function {
        name: "http",
        env: HTTP_ENV,
        env_name: "channels::config::HTTP_ENV",
        package: "http_package",
        make_var: "HTTP_ZIP",
    },
    // The http binary again, started as the publish queue's worker.
    Function {
        name: "worker",
        env: WORKER_ENV,
        env_name: "channels::config::WORKER_ENV",
        package: "http_package",
        make_var: "HTTP_ZIP",
    },
];

/// The body of `aws_lambda_function.<name>` and a label "aws_lambda_function.rx (terraform/lambda.tf)".
pub(crate) fn function<'a>(tf: &'a Terraform, name: &str) -> Result<(String, &'a Body), String> {
    tf.block("resource", &["aws_lambda_function", name])
        .map(|(file, body)| (format!("aws_lambda_function.{name} ({file})"), body))
}

/// A function's label and its `environment.variables`, name and value.
pub(crate) type Environment<'a> = (String, Vec<(String, &'a Expression)>);

/// The entries of `environment.variables` of `aws_lambda_function.<name>`,
/// or why there are none (the environment check says more).
pub(crate) fn environment<'a>(tf: &'a Terraform, name: &str) -> Result<Environment<'a>, String> {
    let (place, body) = function(tf, name)?;
    let variables = blocks(body, "environment")
        .first()
        .and_then(|environment| attr(environment, "variables"))
        .ok_or_else(|| format!("{place} has no environment.variables"))?;
    let entries = object_entries(variables).map_err(|e| format!("{place}: {e}"))?;
    Ok((place, entries))
}

/// The resource or data source a traversal reads an attribute of, when its
/// names are `prefix` + [NAME, attribute in `attributes`]: NAME.
pub(crate) fn named(expr: &Expression, prefix: &[&str], attributes: &[&str]) -> Option<String> {
    let names = traversal_names(expr)?;
    match names.as_slice() {
        [head @ .., name, attribute]
            if head.iter().map(String::as_str).eq(prefix.iter().copied())
                && attributes.contains(&attribute.as_str()) =>
        {
            Some(name.clone())
        }
        _ => None,
    }
}

/// `expr`, or what the `local.NAME` it names holds (and so on).
pub(crate) fn through_locals<'a>(tf: &'a Terraform, expr: &'a Expression) -> &'a Expression {
    let mut expr = unparen(expr);
    for _ in 0..8 {
        let Some(name) = reference(expr).and_then(|r| r.strip_prefix("local.").map(str::to_owned))
        else {
            break;
        };
        match tf.local(&name) {
            Ok((_, value)) => expr = unparen(value),
            Err(_) => break,
        }
    }
    expr
}

/// An expression as written, on one line (objects print over several).
pub(crate) fn display(expr: Option<&Expression>) -> String {
    expr.map_or_else(
        || "(not set)".to_string(),
        |e| {
            e.to_string()
                .split_whitespace()
                .collect::<Vec<_>>()
                .join(" ")
        },
    )
}
