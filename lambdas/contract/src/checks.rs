//! The contract between `terraform/`, the `Makefile` and the code. Each check
//! returns its problems (none when both sides agree); every problem names the
//! Terraform side with its file and the code (or Makefile) side it disagrees
//! with. Expectations come from the code's constants, so an environment
//! variable or route added to the code is checked without touching this file.

use std::collections::{BTreeMap, BTreeSet};

use channels::config::{
    HTTP_ENV, RX_ENV, TOKEN_AUDIENCE, TOKEN_ISSUER, TOKEN_PUBLIC_KEYS, TOKEN_SIGNING_KEY,
};
use channels_aws::schema::{
    CHANNEL_INDEX, INDEX_HASH_KEY, INDEX_PROJECTED, INDEX_RANGE_KEY, TABLE_HASH_KEY, TTL_ATTRIBUTE,
};
use hcl::expr::{BinaryOperator, Operation};
use hcl::{Body, Expression};
use http_lambda::{OPEN_ROUTES, ROUTES};

use crate::terraform::{
    attr, blocks, calls, normalize, object_entries, object_get, object_keys, reference, string,
    string_attr, string_list, strings_in, traversal_names, unparen, walk,
};
use crate::{Makefile, Terraform};

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
];

/// The problems of every check.
pub fn all_problems(tf: &Terraform, make: &Makefile) -> Vec<String> {
    CHECKS
        .iter()
        .flat_map(|(_, check)| check(tf, make))
        .collect()
}

/// A Lambda function of `terraform/lambda.tf` and what the code says about it.
struct Function {
    /// `aws_lambda_function.<name>`
    name: &'static str,
    /// The environment variables its binary reads, and where the code says so.
    env: &'static [&'static str],
    env_name: &'static str,
    /// The `local.<package>` holding its zip, and the Makefile variable that writes it.
    package: &'static str,
    make_var: &'static str,
}

const FUNCTIONS: [Function; 2] = [
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
];

/// The body of `aws_lambda_function.<name>` and a label "aws_lambda_function.rx (terraform/lambda.tf)".
fn function<'a>(tf: &'a Terraform, name: &str) -> Result<(String, &'a Body), String> {
    tf.block("resource", &["aws_lambda_function", name])
        .map(|(file, body)| (format!("aws_lambda_function.{name} ({file})"), body))
}

/// Each function's `environment.variables` holds exactly the variables its
/// binary reads (`RX_ENV` / `HTTP_ENV`). (A key set twice does not parse:
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

/// Terraform reads the packages and the architecture file where `make` writes
/// them, and each function deploys (and redeploys on a change of) its own zip.
pub fn package_problems(tf: &Terraform, make: &Makefile) -> Vec<String> {
    let mut problems = Vec::new();

    // The directory Terraform falls back to: "${path.module}/../build".
    let default_dir = match tf.local("package_dir") {
        Err(e) => Err(e),
        Ok((file, expr)) => strings_in(expr)
            .into_iter()
            .find(|s| s.contains("${path.module}"))
            .map(|s| normalize(&s.replace("${path.module}", "terraform")))
            .ok_or_else(|| {
                format!(
                    "local.package_dir ({file}) = `{expr}` has no \"${{path.module}}/…\" default"
                )
            }),
    };
    let default_dir = match default_dir {
        Ok(dir) => dir,
        Err(e) => {
            problems.push(format!(
                "{e}, but the Makefile writes the packages to BUILD = {:?}",
                make.value("BUILD")
            ));
            return problems;
        }
    };
    let resolve = |local: &str| -> (String, Option<String>) {
        match tf.local(local) {
            Ok((file, expr)) => (
                file.to_string(),
                string(expr).map(|s| normalize(&s.replace("${local.package_dir}", &default_dir))),
            ),
            Err(e) => (e, None),
        }
    };

    for f in &FUNCTIONS {
        let (file, terraform) = resolve(f.package);
        let makefile = make.value(f.make_var).map(|v| normalize(&v));
        if terraform.is_none() || terraform != makefile {
            problems.push(format!(
                "Terraform reads local.{} = {terraform:?} ({file}) but the Makefile writes {} = {makefile:?}",
                f.package, f.make_var
            ));
        }
    }

    // The architecture file `make` writes next to the zips.
    let (file, terraform_arch) = resolve("arch_file");
    let make_arch = make.arch_file().map(|v| normalize(&v));
    if terraform_arch.is_none() || terraform_arch != make_arch {
        problems.push(format!(
            "Terraform reads local.arch_file = {terraform_arch:?} ({file}) but the Makefile \
             writes the architecture to {make_arch:?}"
        ));
    }

    // Each function deploys its own package and redeploys when it changes.
    for f in &FUNCTIONS {
        let (place, body) = match function(tf, f.name) {
            Ok(found) => found,
            Err(e) => {
                problems.push(format!("{e}, which should deploy local.{}", f.package));
                continue;
            }
        };
        let wanted = format!("local.{}", f.package);
        let filename = attr(body, "filename");
        if filename.and_then(reference).as_deref() != Some(wanted.as_str()) {
            problems.push(format!(
                "{place}: filename = `{}`, but the package `make` writes ({}) is {wanted}",
                display(filename),
                f.make_var
            ));
        }
        let hash = attr(body, "source_code_hash");
        let hashes_package = hash.is_some_and(|h| {
            calls(h, "filebase64sha256")
                .iter()
                .any(|args| args.first().and_then(reference).as_deref() == Some(wanted.as_str()))
        });
        if !hashes_package {
            problems.push(format!(
                "{place}: source_code_hash = `{}` does not hash {wanted} (filebase64sha256), so a new \
                 {} would not be deployed",
                display(hash),
                f.make_var
            ));
        }
    }
    problems
}

/// `make ARCH=…` and `var.architecture` accept the same values, and
/// `local.architecture` falls back to the Makefile's default ARCH.
pub fn architecture_problems(tf: &Terraform, make: &Makefile) -> Vec<String> {
    let mut problems = Vec::new();
    let make_values: BTreeSet<String> = make.arch_values().into_iter().collect();
    match tf.block("variable", &["architecture"]) {
        Err(e) => problems.push(format!(
            "{e}, but the Makefile's ARCH accepts {make_values:?}"
        )),
        Ok((file, variable)) => {
            let terraform_values: BTreeSet<String> = blocks(variable, "validation")
                .iter()
                .filter_map(|v| attr(v, "condition"))
                .flat_map(|condition| calls(condition, "contains"))
                .filter_map(|args| args.first().and_then(|list| string_list(list).ok()))
                .flatten()
                .collect();
            if terraform_values.is_empty() || terraform_values != make_values {
                problems.push(format!(
                    "variable \"architecture\" ({file}) accepts {terraform_values:?} (its validation's \
                     contains([…], …)) but the Makefile's ARCH accepts {make_values:?}"
                ));
            }
        }
    }

    let make_default = make.value("ARCH");
    match tf.local("architecture") {
        Err(e) => problems.push(format!(
            "{e}, but the Makefile's ARCH defaults to {make_default:?}"
        )),
        Ok((file, expr)) => {
            // coalesce(var.architecture, local.built_arch, "arm64"): the last argument.
            let terraform_default = calls(expr, "coalesce")
                .first()
                .and_then(|args| args.last())
                .and_then(string);
            if terraform_default.is_none() || terraform_default != make_default {
                problems.push(format!(
                    "local.architecture ({file}) = `{expr}` falls back to {terraform_default:?} but the \
                     Makefile's ARCH defaults to {make_default:?}"
                ));
            }
        }
    }
    problems
}

/// `aws_dynamodb_table.connections` has the keys, index, projection, TTL and
/// billing mode the DynamoDB adapter (`channels_aws::schema`) relies on.
pub fn table_problems(tf: &Terraform) -> Vec<String> {
    let mut problems = Vec::new();
    let (file, table) = match tf.block("resource", &["aws_dynamodb_table", "connections"]) {
        Ok(found) => found,
        Err(e) => {
            return vec![format!(
                "{e}, but channels_aws::schema reads the table keyed by {TABLE_HASH_KEY:?}"
            )]
        }
    };
    let place = format!("aws_dynamodb_table.connections ({file})");
    let expect = |problems: &mut Vec<String>,
                  what: &str,
                  terraform: Option<String>,
                  code_name: &str,
                  code: &str| {
        if terraform.as_deref() != Some(code) {
            problems.push(format!(
                "{place}: {what} is {terraform:?} but {code_name} is {code:?}"
            ));
        }
    };

    expect(
        &mut problems,
        "hash_key",
        string_attr(table, "hash_key"),
        "channels_aws::schema::TABLE_HASH_KEY",
        TABLE_HASH_KEY,
    );
    expect(
        &mut problems,
        "billing_mode",
        string_attr(table, "billing_mode"),
        "the on-demand design in channels_aws::schema",
        "PAY_PER_REQUEST",
    );

    let ttl = blocks(table, "ttl");
    expect(
        &mut problems,
        "ttl.attribute_name",
        ttl.first().and_then(|b| string_attr(b, "attribute_name")),
        "channels_aws::schema::TTL_ATTRIBUTE",
        TTL_ATTRIBUTE,
    );
    expect(
        &mut problems,
        "ttl.enabled",
        ttl.first()
            .and_then(|b| attr(b, "enabled"))
            .map(Expression::to_string),
        "the adapter, which writes the TTL attribute,",
        "true",
    );

    let indexes = blocks(table, "global_secondary_index");
    let index = indexes
        .iter()
        .find(|b| string_attr(b, "name").as_deref() == Some(CHANNEL_INDEX));
    match index {
        None => {
            let names: Vec<Option<String>> =
                indexes.iter().map(|b| string_attr(b, "name")).collect();
            problems.push(format!(
                "{place} has no global_secondary_index named {CHANNEL_INDEX:?} \
                 (channels_aws::schema::CHANNEL_INDEX); it has {names:?}"
            ));
        }
        Some(index) => {
            expect(
                &mut problems,
                "the index's hash_key",
                string_attr(index, "hash_key"),
                "channels_aws::schema::INDEX_HASH_KEY",
                INDEX_HASH_KEY,
            );
            expect(
                &mut problems,
                "the index's range_key",
                string_attr(index, "range_key"),
                "channels_aws::schema::INDEX_RANGE_KEY",
                INDEX_RANGE_KEY,
            );
            expect(
                &mut problems,
                "the index's projection_type",
                string_attr(index, "projection_type"),
                "channels_aws::schema::INDEX_PROJECTED (an INCLUDE projection)",
                "INCLUDE",
            );
            let code: BTreeSet<String> = INDEX_PROJECTED.iter().map(|s| s.to_string()).collect();
            match attr(index, "non_key_attributes").map(string_list) {
                Some(Ok(list)) => {
                    let projected: BTreeSet<String> = list.into_iter().collect();
                    if projected != code {
                        problems.push(format!(
                            "{place}: the index projects {projected:?} but \
                             channels_aws::schema::INDEX_PROJECTED is {code:?}"
                        ));
                    }
                }
                Some(Err(e)) => problems.push(format!(
                    "{place}: the index's non_key_attributes: {e}; channels_aws::schema::INDEX_PROJECTED is {code:?}"
                )),
                None => problems.push(format!(
                    "{place}: the index has no non_key_attributes but \
                     channels_aws::schema::INDEX_PROJECTED is {code:?}"
                )),
            }
        }
    }

    if attr(table, "range_key").is_some() {
        problems.push(format!(
            "{place} has a range_key, but channels_aws::schema keys the table by TABLE_HASH_KEY \
             ({TABLE_HASH_KEY:?}) alone"
        ));
    }

    // Attribute definitions: exactly the key attributes, all strings.
    let defined: BTreeMap<Option<String>, Option<String>> = blocks(table, "attribute")
        .iter()
        .map(|b| (string_attr(b, "name"), string_attr(b, "type")))
        .collect();
    let keys: BTreeSet<&str> = [TABLE_HASH_KEY, INDEX_HASH_KEY, INDEX_RANGE_KEY]
        .into_iter()
        .collect();
    let defined_names: BTreeSet<&str> = defined.keys().flatten().map(String::as_str).collect();
    if defined_names != keys || defined.contains_key(&None) {
        problems.push(format!(
            "{place} defines attributes {defined_names:?} but the keys in channels_aws::schema \
             (TABLE_HASH_KEY, INDEX_HASH_KEY, INDEX_RANGE_KEY) are {keys:?}"
        ));
    }
    for (name, kind) in &defined {
        if kind.as_deref() != Some("S") {
            problems.push(format!(
                "{place}: attribute {name:?} has type {kind:?}; channels_aws::schema stores keys as strings (S)"
            ));
        }
    }
    problems
}

/// The http role may Query exactly the index the adapter queries.
pub fn query_index_problems(tf: &Terraform) -> Vec<String> {
    let (file, policy) = match tf.block("data", &["aws_iam_policy_document", "http"]) {
        Ok(found) => found,
        Err(e) => {
            return vec![format!(
                "{e}, but the http binary queries the index {CHANNEL_INDEX:?} \
                 (channels_aws::schema::CHANNEL_INDEX)"
            )]
        }
    };
    let queries = |statement: &&&Body| {
        attr(statement, "actions")
            .and_then(|a| string_list(a).ok())
            .is_some_and(|actions| actions.iter().any(|a| a == "dynamodb:Query"))
    };
    let resources: Vec<String> = blocks(policy, "statement")
        .iter()
        .filter(queries)
        .flat_map(|s| match attr(s, "resources").map(string_list) {
            Some(Ok(list)) => list,
            Some(Err(e)) => vec![format!("<{e}>")],
            None => vec!["<no resources>".to_string()],
        })
        .collect();
    let suffix = format!("/index/{CHANNEL_INDEX}");
    if resources.is_empty() || !resources.iter().all(|r| r.ends_with(&suffix)) {
        return vec![format!(
            "data.aws_iam_policy_document.http ({file}) allows dynamodb:Query on {resources:?}, \
             but the adapter queries the index {CHANNEL_INDEX:?} (channels_aws::schema::CHANNEL_INDEX), \
             so the resources should end in {suffix:?}"
        )];
    }
    Vec::new()
}

/// `"METHOD /path"`, API Gateway's route key.
fn route_key((method, path): &(&str, &str)) -> String {
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

/// A function's label and its `environment.variables`, name and value.
type Environment<'a> = (String, Vec<(String, &'a Expression)>);

/// The entries of `environment.variables` of `aws_lambda_function.<name>`,
/// or why there are none (the environment check says more).
fn environment<'a>(tf: &'a Terraform, name: &str) -> Result<Environment<'a>, String> {
    let (place, body) = function(tf, name)?;
    let variables = blocks(body, "environment")
        .first()
        .and_then(|environment| attr(environment, "variables"))
        .ok_or_else(|| format!("{place} has no environment.variables"))?;
    let entries = object_entries(variables).map_err(|e| format!("{place}: {e}"))?;
    Ok((place, entries))
}

/// Whether `cond` is true exactly with subscriber tokens on:
/// `var.subscriber_auth == "token"`, or a `local` holding it.
fn tokens_on(tf: &Terraform, cond: &Expression, depth: usize) -> bool {
    let cond = unparen(cond);
    if let Expression::Operation(op) = cond {
        if let Operation::Binary(binary) = op.as_ref() {
            let is_token = |var: &Expression, value: &Expression| {
                reference(var).as_deref() == Some("var.subscriber_auth")
                    && string(value).as_deref() == Some("token")
            };
            return binary.operator == BinaryOperator::Eq
                && (is_token(&binary.lhs_expr, &binary.rhs_expr)
                    || is_token(&binary.rhs_expr, &binary.lhs_expr));
        }
    }
    match reference(cond)
        .as_deref()
        .and_then(|r| r.strip_prefix("local."))
    {
        Some(name) if depth < 8 => tf
            .local(name)
            .is_ok_and(|(_, value)| tokens_on(tf, value, depth + 1)),
        _ => false,
    }
}

/// Whether `expr`, as Terraform computes it with subscriber tokens on, is
/// something `want` accepts. `want` is asked about `expr` itself and, when
/// `expr` is a `local.NAME`, about that local's value; a conditional must be
/// `<tokens on> ? X : ""` (the variable is empty with subscriber_auth =
/// "none", which the binaries ignore then), and `want` is asked about `X`.
fn yields(tf: &Terraform, expr: &Expression, want: &mut dyn FnMut(&Expression) -> bool) -> bool {
    fn at(
        tf: &Terraform,
        expr: &Expression,
        want: &mut dyn FnMut(&Expression) -> bool,
        depth: usize,
    ) -> bool {
        let expr = unparen(expr);
        if depth > 8 {
            return false;
        }
        if let Expression::Conditional(c) = expr {
            return string(&c.false_expr).as_deref() == Some("")
                && tokens_on(tf, &c.cond_expr, 0)
                && at(tf, &c.true_expr, want, depth + 1);
        }
        if want(expr) {
            return true;
        }
        match reference(expr)
            .as_deref()
            .and_then(|r| r.strip_prefix("local."))
        {
            Some(name) => tf
                .local(name)
                .is_ok_and(|(_, value)| at(tf, value, want, depth + 1)),
            None => false,
        }
    }
    at(tf, expr, want, 0)
}

/// The resource or data source a traversal reads an attribute of, when its
/// names are `prefix` + [NAME, attribute in `attributes`]: NAME.
fn named(expr: &Expression, prefix: &[&str], attributes: &[&str]) -> Option<String> {
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

/// The `data.aws_kms_public_key` sources whose `public_key` `expr` yields.
fn public_key_sources(tf: &Terraform, expr: &Expression) -> BTreeSet<String> {
    let mut sources = BTreeSet::new();
    yields(tf, expr, &mut |value| {
        walk(value, &mut |e| {
            sources.extend(named(e, &["data", "aws_kms_public_key"], &["public_key"]));
        });
        !sources.is_empty()
    });
    sources
}

/// The `aws_kms_key` whose ARN (or id) `expr` yields.
fn kms_key(tf: &Terraform, expr: &Expression) -> Option<String> {
    let mut key = None;
    yields(tf, expr, &mut |value| {
        key = named(value, &["aws_kms_key"], &["arn", "key_id", "id"]);
        key.is_some()
    });
    key
}

/// The subscriber-token variables of both functions come from where the
/// code expects them: `TOKEN_AUDIENCE` is `local.websocket_url` (the stage a
/// token opens), `TOKEN_ISSUER` is `local.http_url` (the stage that mints),
/// and `TOKEN_PUBLIC_KEYS` holds the `public_key` of a
/// `data.aws_kms_public_key`. Each may be `<tokens on> ? X : ""` or go
/// through a `local`.
pub fn token_env_problems(tf: &Terraform) -> Vec<String> {
    let mut problems = Vec::new();
    let urls = [
        (
            TOKEN_AUDIENCE,
            "local.websocket_url",
            "the WebSocket stage URL (a token opens this deployment's stage only)",
        ),
        (
            TOKEN_ISSUER,
            "local.http_url",
            "the HTTP API stage URL (where tokens are minted)",
        ),
    ];
    for f in &FUNCTIONS {
        let (place, entries) = match environment(tf, f.name) {
            Ok(found) => found,
            Err(e) => {
                problems.push(format!(
                    "{e}, but the {} binary reads the token variables of {}",
                    f.name, f.env_name
                ));
                continue;
            }
        };
        let value = |name: &str| entries.iter().find(|(k, _)| k == name).map(|(_, v)| *v);
        for (variable, wanted, meaning) in urls {
            if !f.env.contains(&variable) {
                continue;
            }
            let Some(expr) = value(variable) else {
                continue; // the environment check reports it
            };
            if !yields(tf, expr, &mut |e| reference(e).as_deref() == Some(wanted)) {
                problems.push(format!(
                    "{place}: {variable} = `{expr}`, but channels::config::{variable} is {meaning}, \
                     so it should be {wanted} (or `local.tokens_on ? {wanted} : \"\"`)"
                ));
            }
        }
        if f.env.contains(&TOKEN_PUBLIC_KEYS) {
            if let Some(expr) = value(TOKEN_PUBLIC_KEYS) {
                if public_key_sources(tf, expr).is_empty() {
                    problems.push(format!(
                        "{place}: {TOKEN_PUBLIC_KEYS} = `{expr}` does not hold the public_key of a \
                         data.aws_kms_public_key, but channels::config::{TOKEN_PUBLIC_KEYS} starts with \
                         the signing key's public key, read from KMS at deploy time"
                    ));
                }
            }
        }
    }
    problems
}

/// The KMS key named by http's `TOKEN_SIGNING_KEY` is what the KMS signer
/// (`channels_aws::kms`) needs: an `ECC_NIST_P256` / `SIGN_VERIFY` key, whose
/// public key is the one `TOKEN_PUBLIC_KEYS` gives both functions, and whose
/// policy lets the http function's role, and no one else, `kms:Sign` with
/// `ECDSA_SHA_256`.
pub fn token_key_problems(tf: &Terraform) -> Vec<String> {
    let mut problems = Vec::new();
    let (place, entries) = match environment(tf, "http") {
        Ok(found) => found,
        Err(e) => {
            return vec![format!(
                "{e}, but the http binary signs tokens with {TOKEN_SIGNING_KEY}"
            )]
        }
    };
    if !HTTP_ENV.contains(&TOKEN_SIGNING_KEY) {
        return problems;
    }
    let signing = entries
        .iter()
        .find(|(k, _)| k == TOKEN_SIGNING_KEY)
        .map(|(_, v)| *v);
    let Some(signing) = signing else {
        return problems; // the environment check reports it
    };
    let Some(key) = kms_key(tf, signing) else {
        return vec![format!(
            "{place}: {TOKEN_SIGNING_KEY} = `{signing}` does not name an aws_kms_key (its arn), \
             but the http binary signs tokens with that KMS key (channels_aws::kms)"
        )];
    };
    let key_name = format!("aws_kms_key.{key}");

    // TOKEN_PUBLIC_KEYS, in both functions, reads the public key of that key.
    for f in &FUNCTIONS {
        let Ok((place, entries)) = environment(tf, f.name) else {
            continue;
        };
        let Some((_, expr)) = entries.iter().find(|(k, _)| k == TOKEN_PUBLIC_KEYS) else {
            continue;
        };
        for source in public_key_sources(tf, expr) {
            let read = tf
                .block("data", &["aws_kms_public_key", &source])
                .map(|(file, data)| (file, attr(data, "key_id")));
            match read {
                Err(e) => problems.push(format!("{place}: {TOKEN_PUBLIC_KEYS}: {e}")),
                Ok((file, key_id)) => {
                    let reads = key_id.and_then(|k| kms_key(tf, k));
                    if reads.as_deref() != Some(key.as_str()) {
                        problems.push(format!(
                            "{place}: {TOKEN_PUBLIC_KEYS} holds data.aws_kms_public_key.{source} ({file}), \
                             which reads key_id = `{}`, not the signing key {key_name} \
                             ({TOKEN_SIGNING_KEY}): tokens would be signed with one key and verified \
                             with another",
                            display(key_id)
                        ));
                    }
                }
            }
        }
    }

    let (file, body) = match tf.block("resource", &["aws_kms_key", &key]) {
        Ok(found) => found,
        Err(e) => {
            problems.push(format!("{e}, but {TOKEN_SIGNING_KEY} names it"));
            return problems;
        }
    };
    let key_place = format!("{key_name} ({file})");
    for (argument, wanted) in [
        ("customer_master_key_spec", "ECC_NIST_P256"),
        ("key_usage", "SIGN_VERIFY"),
    ] {
        let value = string_attr(body, argument);
        if value.as_deref() != Some(wanted) {
            problems.push(format!(
                "{key_place}: {argument} is {value:?}, but the tokens are ES256 (P-256, \
                 channels::token) signed with kms:Sign: {wanted:?}"
            ));
        }
    }

    // Who may sign.
    let role = function(tf, "http")
        .ok()
        .and_then(|(_, f)| attr(f, "role").and_then(reference));
    let Some(role) = role else {
        problems.push(format!(
            "aws_lambda_function.http has no role reference, which {key_place}'s policy should let sign"
        ));
        return problems;
    };
    let statements = attr(body, "policy")
        .and_then(|p| calls(p, "jsonencode").first().and_then(|args| args.first()))
        .and_then(|doc| object_get(doc, "Statement"))
        .map(unparen);
    let Some(Expression::Array(statements)) = statements else {
        problems.push(format!(
            "{key_place}: policy is not `jsonencode({{ Statement = [...] }})`, so who may kms:Sign \
             cannot be checked; only the http function's role ({role}) may"
        ));
        return problems;
    };
    let mut http_signs = false;
    for (index, statement) in statements.iter().enumerate() {
        let sid = object_get(statement, "Sid")
            .and_then(string)
            .unwrap_or_else(|| format!("#{index}"));
        if object_get(statement, "Effect").and_then(string).as_deref() != Some("Allow") {
            continue;
        }
        if object_get(statement, "NotAction").is_some()
            || object_get(statement, "NotPrincipal").is_some()
        {
            problems.push(format!(
                "{key_place}: statement {sid} allows with NotAction/NotPrincipal, which may let \
                 others kms:Sign; only the http function's role ({role}) may"
            ));
            continue;
        }
        let actions = match object_get(statement, "Action").map(unparen) {
            Some(Expression::Array(items)) => items.iter().map(string).collect::<Option<Vec<_>>>(),
            Some(other) => string(other).map(|a| vec![a]),
            None => Some(Vec::new()),
        };
        let Some(actions) = actions else {
            problems.push(format!(
                "{key_place}: statement {sid} has actions that are not strings"
            ));
            continue;
        };
        let signing: Vec<&String> = actions
            .iter()
            .filter(|a| wildcard_match(&a.to_ascii_lowercase(), "kms:sign"))
            .collect();
        if signing.is_empty() {
            continue;
        }
        let principal = object_get(statement, "Principal");
        let aws = principal.and_then(|p| object_get(p, "AWS"));
        if aws.and_then(reference).as_deref() != Some(role.as_str()) {
            problems.push(format!(
                "{key_place}: statement {sid} lets `{}` kms:Sign (through {signing:?}), but only \
                 the http function's role ({role}) may sign tokens",
                display(principal)
            ));
            continue;
        }
        http_signs = true;
        let algorithm = object_get(statement, "Condition")
            .and_then(|c| object_get(c, "StringEquals"))
            .and_then(|c| object_get(c, "kms:SigningAlgorithm"))
            .map(unparen);
        let algorithms = match algorithm {
            Some(Expression::Array(items)) => items.iter().map(string).collect(),
            Some(other) => vec![string(other)],
            None => Vec::new(),
        };
        if algorithms != [Some("ECDSA_SHA_256".to_string())] {
            problems.push(format!(
                "{key_place}: statement {sid} lets {role} kms:Sign with kms:SigningAlgorithm \
                 {algorithms:?}, but the http binary signs with ECDSA_SHA_256 only \
                 (channels_aws::kms), and the condition should allow nothing else"
            ));
        }
    }
    if !http_signs {
        problems.push(format!(
            "{key_place}: no statement of its policy lets the http function's role ({role}) kms:Sign, \
             which the http binary calls to mint tokens (channels_aws::kms)"
        ));
    }
    problems
}

/// IAM-style matching: `*` any run of characters, `?` one character.
fn wildcard_match(pattern: &str, text: &str) -> bool {
    match pattern.split_once(['*', '?']) {
        None => pattern == text,
        Some((prefix, _)) => {
            let Some(rest) = text.strip_prefix(prefix) else {
                return false;
            };
            let after = &pattern[prefix.len() + 1..];
            if pattern.as_bytes()[prefix.len()] == b'?' {
                let mut chars = rest.chars();
                chars.next().is_some() && wildcard_match(after, chars.as_str())
            } else {
                (0..=rest.len())
                    .filter(|&i| rest.is_char_boundary(i))
                    .any(|i| wildcard_match(after, &rest[i..]))
            }
        }
    }
}

/// An expression as written, on one line (objects print over several).
fn display(expr: Option<&Expression>) -> String {
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

#[cfg(test)]
mod tests {
    use super::wildcard_match;

    #[test]
    fn wildcards_match_as_in_iam() {
        for pattern in [
            "kms:sign", "kms:*", "*", "kms:s*", "kms:sig?", "kms:*n", "k*:*",
        ] {
            assert!(wildcard_match(pattern, "kms:sign"), "{pattern}");
        }
        for pattern in [
            "kms:verify",
            "kms:get*",
            "kms:sign?",
            "kms:sig",
            "s*",
            "kms:signx",
        ] {
            assert!(!wildcard_match(pattern, "kms:sign"), "{pattern}");
        }
    }
}
