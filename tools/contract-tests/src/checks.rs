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

const FUNCTIONS: [Function; 3] = [
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
fn function<'a>(tf: &'a Terraform, name: &str) -> Result<(String, &'a Body), String> {
    tf.block("resource", &["aws_lambda_function", name])
        .map(|(file, body)| (format!("aws_lambda_function.{name} ({file})"), body))
}

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

    // One package may serve several functions (http and the worker): each once.
    let mut seen = BTreeSet::new();
    for f in FUNCTIONS.iter().filter(|f| seen.insert(f.package)) {
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

/// The functions that read channel members with the DynamoDB adapter: http
/// (a synchronous publish, a count) and the worker (a shard job).
const QUERYING: [&str; 2] = ["http", "worker"];

/// The roles of the functions that query may Query exactly the index the
/// adapter queries, wherever their policy documents take the statement from.
pub fn query_index_problems(tf: &Terraform) -> Vec<String> {
    let mut problems = Vec::new();
    let suffix = format!("/index/{CHANNEL_INDEX}");
    for name in QUERYING {
        let policy = match Policy::of_function(tf, name) {
            Ok(policy) => policy,
            Err(e) => {
                problems.push(format!(
                    "{e}, but the {name} binary queries the index {CHANNEL_INDEX:?} \
                     (channels_aws::schema::CHANNEL_INDEX)"
                ));
                continue;
            }
        };
        let resources: Vec<String> = policy
            .statements
            .iter()
            .filter(|s| s.actions().iter().any(|a| a == "dynamodb:Query"))
            .flat_map(|s| match attr(s.body, "resources").map(string_list) {
                Some(Ok(list)) => list,
                Some(Err(e)) => vec![format!("<{e}>")],
                None => vec!["<no resources>".to_string()],
            })
            .collect();
        if resources.is_empty() || !resources.iter().all(|r| r.ends_with(&suffix)) {
            problems.push(format!(
                "{}: {} allows dynamodb:Query on {resources:?}, but the adapter queries the index \
                 {CHANNEL_INDEX:?} (channels_aws::schema::CHANNEL_INDEX), so the resources should \
                 end in {suffix:?}",
                policy.function, policy.documents
            ));
        }
    }
    problems
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
    let token_variables = [TOKEN_AUDIENCE, TOKEN_ISSUER, TOKEN_PUBLIC_KEYS];
    for f in &FUNCTIONS {
        if !f.env.iter().any(|v| token_variables.contains(v)) {
            continue; // the worker: it only delivers
        }
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

// ---------------------------------------------------------------------------
// IAM: what a function's role may do
// ---------------------------------------------------------------------------

/// One `statement` block of a `data.aws_iam_policy_document`.
struct Statement<'a> {
    body: &'a Body,
}

impl<'a> Statement<'a> {
    /// Its `actions`, when they are a list of strings.
    fn actions(&self) -> Vec<String> {
        attr(self.body, "actions")
            .and_then(|a| string_list(a).ok())
            .unwrap_or_default()
    }

    /// Whether it allows (`effect` is "Allow" or not set).
    fn allows(&self) -> bool {
        string_attr(self.body, "effect").is_none_or(|e| e == "Allow")
    }

    /// Whether it allows `action` (IAM wildcards in its actions) on a resource
    /// for which `resource` is true, or on `*`, when the call comes through
    /// the AWS service `via` (a KMS call SQS makes for its caller: "sqs"), or
    /// directly (None). Of its conditions only `kms:ViaService` is judged: it
    /// must name `via` ("sqs.<region>.amazonaws.com").
    fn allows_on(
        &self,
        action: &str,
        resource: &dyn Fn(&Expression) -> bool,
        via: Option<&str>,
    ) -> bool {
        let action = action.to_ascii_lowercase();
        let through_via = blocks(self.body, "condition")
            .into_iter()
            .filter(|c| string_attr(c, "variable").as_deref() == Some("kms:ViaService"))
            .all(|c| {
                via.is_some_and(|via| {
                    attr(c, "values").is_some_and(|values| {
                        strings_in(values)
                            .iter()
                            .any(|v| v.starts_with(&format!("{via}.")))
                    })
                })
            });
        self.allows()
            && through_via
            && self
                .actions()
                .iter()
                .any(|a| wildcard_match(&a.to_ascii_lowercase(), &action))
            && match attr(self.body, "resources").map(unparen) {
                Some(Expression::Array(items)) => items
                    .iter()
                    .any(|item| resource(item) || string(item).as_deref() == Some("*")),
                _ => false,
            }
    }
}

/// The inline policy of a function's role: `role = aws_iam_role.R.arn`, each
/// `aws_iam_role_policy` with `role = aws_iam_role.R.id` and `policy =
/// data.aws_iam_policy_document.D.json`, and the statements of those
/// documents and of every document they merge (`source_policy_documents`,
/// `override_policy_documents`).
struct Policy<'a> {
    /// "aws_lambda_function.worker (terraform/lambda.tf)"
    function: String,
    /// "data.aws_iam_policy_document.worker (terraform/iam.tf) with
    /// data.aws_iam_policy_document.fan_out"
    documents: String,
    statements: Vec<Statement<'a>>,
}

impl<'a> Policy<'a> {
    fn of_function(tf: &'a Terraform, name: &str) -> Result<Self, String> {
        let (function, body) = function(tf, name)?;
        let role = attr(body, "role")
            .and_then(|r| named(r, &["aws_iam_role"], &["arn"]))
            .ok_or_else(|| {
                format!(
                    "{function}: role = `{}` is not the arn of an aws_iam_role",
                    display(attr(body, "role"))
                )
            })?;
        let mut roots = Vec::new();
        for (file, block) in tf.top_blocks() {
            let labels: Vec<&str> = block.labels().iter().map(|l| l.as_str()).collect();
            if block.identifier() != "resource" || labels.first() != Some(&"aws_iam_role_policy") {
                continue;
            }
            let policy = block.body();
            let of_role = attr(policy, "role")
                .and_then(|r| named(r, &["aws_iam_role"], &["id", "name"]))
                .is_some_and(|r| r == role);
            if !of_role {
                continue;
            }
            let document = attr(policy, "policy")
                .and_then(|p| named(p, &["data", "aws_iam_policy_document"], &["json"]))
                .ok_or_else(|| {
                    format!(
                        "aws_iam_role_policy.{} ({file}), the policy of {function}'s role: policy = \
                         `{}` is not the json of a data.aws_iam_policy_document",
                        labels.get(1).unwrap_or(&"?"),
                        display(attr(policy, "policy"))
                    )
                })?;
            roots.push(document);
        }
        if roots.is_empty() {
            return Err(format!(
                "{function}: its role aws_iam_role.{role} has no aws_iam_role_policy"
            ));
        }
        let mut names: Vec<String> = roots.clone();
        let mut labels = Vec::new();
        let mut statements = Vec::new();
        let mut next = 0;
        while next < names.len() && next < 16 {
            let name = names[next].clone();
            let (file, document) = tf.block("data", &["aws_iam_policy_document", &name])?;
            if next < roots.len() {
                labels.push(format!("data.aws_iam_policy_document.{name} ({file})"));
            }
            statements.extend(
                blocks(document, "statement")
                    .into_iter()
                    .map(|body| Statement { body }),
            );
            for merged in ["source_policy_documents", "override_policy_documents"] {
                if let Some(list) = attr(document, merged) {
                    walk(list, &mut |e| {
                        if let Some(other) =
                            named(e, &["data", "aws_iam_policy_document"], &["json"])
                        {
                            if !names.contains(&other) {
                                names.push(other);
                            }
                        }
                    });
                }
            }
            next += 1;
        }
        let mut documents = labels.join(" and ");
        if names.len() > roots.len() {
            let merged: Vec<String> = names[roots.len()..]
                .iter()
                .map(|n| format!("data.aws_iam_policy_document.{n}"))
                .collect();
            documents = format!("{documents} with {}", merged.join(", "));
        }
        Ok(Self {
            function,
            documents,
            statements,
        })
    }

    /// Whether some statement allows `action` on a resource `resource`
    /// accepts, called directly or through the service `via`.
    fn allows(
        &self,
        action: &str,
        resource: &dyn Fn(&Expression) -> bool,
        via: Option<&str>,
    ) -> bool {
        self.statements
            .iter()
            .any(|s| s.allows_on(action, resource, via))
    }
}

// ---------------------------------------------------------------------------
// The publish queue and its worker
// ---------------------------------------------------------------------------

/// `expr`, or what the `local.NAME` it names holds (and so on).
fn through_locals<'a>(tf: &'a Terraform, expr: &'a Expression) -> &'a Expression {
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

/// The `aws_sqs_queue` whose URL a function's `PUBLISH_QUEUE_URL` holds
/// (`aws_sqs_queue.NAME.url`, or `.id`, which is the URL too), or why none.
fn queue_url_of(tf: &Terraform, function: &str) -> Result<(String, String), String> {
    let (place, entries) = environment(tf, function)?;
    let expr = entries
        .iter()
        .find(|(k, _)| k == PUBLISH_QUEUE_URL)
        .map(|(_, v)| *v)
        .ok_or_else(|| format!("{place} sets no {PUBLISH_QUEUE_URL}"))?;
    match named(through_locals(tf, expr), &["aws_sqs_queue"], &["url", "id"]) {
        Some(queue) => Ok((place, queue)),
        None => Err(format!(
            "{place}: {PUBLISH_QUEUE_URL} = `{expr}` is not the url of an aws_sqs_queue, but \
             channels::config::{PUBLISH_QUEUE_URL} is the SQS queue of shard jobs"
        )),
    }
}

/// The publish queue: the one the http function sends shard jobs to.
fn publish_queue(tf: &Terraform) -> Result<String, String> {
    queue_url_of(tf, "http").map(|(_, queue)| queue)
}

/// A number Terraform computes as `constant + Σ factor × var.NAME`, from
/// number literals, `var.NAME`, `local.NAME`, `+`, `-` and `*` or `/` by a
/// constant. Enough to compare a timeout with a multiple of another
/// whatever the variables' values.
#[derive(Clone, Debug, Default, PartialEq)]
struct Linear {
    constant: f64,
    factors: BTreeMap<String, f64>,
}

impl Linear {
    fn of(tf: &Terraform, expr: &Expression) -> Option<Self> {
        Self::at(tf, expr, 0)
    }

    fn at(tf: &Terraform, expr: &Expression, depth: usize) -> Option<Self> {
        let expr = unparen(expr);
        if depth > 8 {
            return None;
        }
        match expr {
            Expression::Number(n) => Some(Self {
                constant: n.as_f64()?,
                factors: BTreeMap::new(),
            }),
            Expression::Operation(op) => match op.as_ref() {
                Operation::Unary(u) if u.operator == UnaryOperator::Neg => {
                    Some(Self::at(tf, &u.expr, depth + 1)?.scaled(-1.0))
                }
                Operation::Unary(_) => None,
                Operation::Binary(b) => {
                    let lhs = Self::at(tf, &b.lhs_expr, depth + 1)?;
                    let rhs = Self::at(tf, &b.rhs_expr, depth + 1)?;
                    match b.operator {
                        BinaryOperator::Plus => Some(lhs.plus(&rhs, 1.0)),
                        BinaryOperator::Minus => Some(lhs.plus(&rhs, -1.0)),
                        BinaryOperator::Mul if rhs.factors.is_empty() => {
                            Some(lhs.scaled(rhs.constant))
                        }
                        BinaryOperator::Mul if lhs.factors.is_empty() => {
                            Some(rhs.scaled(lhs.constant))
                        }
                        BinaryOperator::Div if rhs.factors.is_empty() && rhs.constant != 0.0 => {
                            Some(lhs.scaled(1.0 / rhs.constant))
                        }
                        _ => None,
                    }
                }
            },
            _ => {
                let name = reference(expr)?;
                if let Some(variable) = name.strip_prefix("var.") {
                    Some(Self {
                        constant: 0.0,
                        factors: BTreeMap::from([(variable.to_owned(), 1.0)]),
                    })
                } else {
                    let local = name.strip_prefix("local.")?;
                    let (_, value) = tf.local(local).ok()?;
                    Self::at(tf, value, depth + 1)
                }
            }
        }
    }

    fn scaled(mut self, by: f64) -> Self {
        self.constant *= by;
        self.factors.values_mut().for_each(|f| *f *= by);
        self
    }

    /// `self + by × other`
    fn plus(mut self, other: &Self, by: f64) -> Self {
        self.constant += by * other.constant;
        for (name, factor) in &other.factors {
            *self.factors.entry(name.clone()).or_insert(0.0) += by * factor;
        }
        self
    }

    /// The number, when no variable is in it.
    fn number(&self) -> Option<f64> {
        self.factors
            .values()
            .all(|f| *f == 0.0)
            .then_some(self.constant)
    }

    /// Whether it is at least 0 for every value of its variables that is at
    /// least 0 (timeouts and counts are).
    fn never_negative(&self) -> bool {
        self.constant >= 0.0 && self.factors.values().all(|f| *f >= 0.0)
    }
}

/// A number argument of a block, resolved, with SQS's default when unset.
fn number_attr(tf: &Terraform, body: &Body, name: &str, default: f64) -> Result<f64, String> {
    match attr(body, name) {
        None => Ok(default),
        Some(expr) => Linear::of(tf, expr)
            .and_then(|l| l.number())
            .ok_or_else(|| format!("{name} = `{expr}` is not a number this check can resolve")),
    }
}

/// SQS's default `MessageRetentionPeriod`: four days.
const SQS_DEFAULT_RETENTION: f64 = 345_600.0;

/// Both functions that read `PUBLISH_QUEUE_URL` (http sends to it, the worker
/// hands the rest of a shard on to it) name the same `aws_sqs_queue`; its
/// `redrive_policy` moves what keeps failing to another queue, the
/// dead-letter queue, after as many receives as the local gateway tries
/// (`channels::job::MAX_RECEIVES`, `max_receives`), and the dead-letter
/// queue keeps messages longer than the queue (a moved message keeps its
/// enqueue time).
pub fn publish_queue_problems(tf: &Terraform, max_receives: u32) -> Vec<String> {
    let mut problems = Vec::new();
    let mut named_queues: Vec<(String, String)> = Vec::new();
    for f in FUNCTIONS
        .iter()
        .filter(|f| f.env.contains(&PUBLISH_QUEUE_URL))
    {
        match queue_url_of(tf, f.name) {
            Ok((place, queue)) => named_queues.push((place, queue)),
            Err(e) => problems.push(e),
        }
    }
    let queue = match publish_queue(tf) {
        Ok(queue) => queue,
        Err(_) => return problems, // reported above
    };
    for (place, other) in &named_queues {
        if *other != queue {
            problems.push(format!(
                "{place}: {PUBLISH_QUEUE_URL} is the url of aws_sqs_queue.{other}, but the http \
                 function sends shard jobs to aws_sqs_queue.{queue}, which the worker consumes and \
                 hands the rest of a shard back to (channels::config::{PUBLISH_QUEUE_URL})"
            ));
        }
    }

    let (file, body) = match tf.block("resource", &["aws_sqs_queue", &queue]) {
        Ok(found) => found,
        Err(e) => {
            problems.push(format!(
                "{e}, but the http function's {PUBLISH_QUEUE_URL} names it"
            ));
            return problems;
        }
    };
    let place = format!("aws_sqs_queue.{queue} ({file})");
    let redrive = attr(body, "redrive_policy")
        .and_then(|p| calls(p, "jsonencode").first().and_then(|args| args.first()));
    let Some(redrive) = redrive else {
        problems.push(format!(
            "{place}: redrive_policy = `{}` is not `jsonencode({{ deadLetterTargetArn, \
             maxReceiveCount }})`: a shard job that keeps failing would be retried until it \
             expires, instead of moving to a dead-letter queue",
            display(attr(body, "redrive_policy"))
        ));
        return problems;
    };
    let target = object_get(redrive, "deadLetterTargetArn");
    let dlq = target.and_then(|t| named(through_locals(tf, t), &["aws_sqs_queue"], &["arn"]));
    match &dlq {
        Some(dlq) if *dlq != queue => {}
        _ => problems.push(format!(
            "{place}: redrive_policy's deadLetterTargetArn = `{}` is not the arn of another \
             aws_sqs_queue (the dead-letter queue)",
            display(target)
        )),
    }
    let count = object_get(redrive, "maxReceiveCount");
    let resolved = count
        .and_then(|c| Linear::of(tf, c))
        .and_then(|l| l.number());
    match resolved {
        Some(n) if n == f64::from(max_receives) => {}
        _ => problems.push(format!(
            "{place}: redrive_policy's maxReceiveCount = `{}` is not {max_receives}, \
             channels::job::MAX_RECEIVES, which the local gateway's queue plays as Terraform \
             sets it up",
            display(count),
        )),
    }

    // A moved message keeps its enqueue time: the dead-letter queue must keep
    // messages longer than the queue did.
    if let Some(dlq) = dlq.filter(|d| *d != queue) {
        match tf.block("resource", &["aws_sqs_queue", &dlq]) {
            Err(e) => problems.push(format!(
                "{e}, but {place}'s redrive_policy moves failed shard jobs there"
            )),
            Ok((dlq_file, dlq_body)) => {
                let retention =
                    |b| number_attr(tf, b, "message_retention_seconds", SQS_DEFAULT_RETENTION);
                match (retention(body), retention(dlq_body)) {
                    (Ok(kept), Ok(dlq_kept)) if dlq_kept > kept => {}
                    (Ok(kept), Ok(dlq_kept)) => problems.push(format!(
                        "aws_sqs_queue.{dlq} ({dlq_file}): message_retention_seconds is {dlq_kept}, \
                         not more than the {kept} of {place}: SQS keeps a message's enqueue time \
                         when it moves it to the dead-letter queue, where it would expire at once"
                    )),
                    (Err(e), _) => problems.push(format!("{place}: {e}")),
                    (_, Err(e)) => problems.push(format!("aws_sqs_queue.{dlq} ({dlq_file}): {e}")),
                }
            }
        }
    }
    problems
}

/// AWS's advice for an SQS event source: a visibility timeout of at least six
/// times the function's timeout.
pub const VISIBILITY_TIMEOUT_FACTOR: f64 = 6.0;

/// The publish queue's `visibility_timeout_seconds` is at least six times the
/// worker's `timeout`, for every value of the variables they are made of:
/// both are resolved (literals, `var.NAME`, `local.NAME`, `+ - *` and `/` by a
/// constant) to `constant + Σ factor × var.NAME`, and the difference must have
/// no negative part. `var.worker_timeout * 6` against `var.worker_timeout`
/// passes whatever the variable; `1800` against `var.worker_timeout` does
/// not, as a timeout of 301 s would break it.
pub fn visibility_timeout_problems(tf: &Terraform) -> Vec<String> {
    let queue = match publish_queue(tf) {
        Ok(queue) => queue,
        Err(e) => {
            return vec![format!(
                "{e}, whose visibility timeout the worker's timeout bounds"
            )]
        }
    };
    let (file, body) = match tf.block("resource", &["aws_sqs_queue", &queue]) {
        Ok(found) => found,
        Err(e) => return vec![format!("{e}: the publish queue")],
    };
    let (worker, function) = match function(tf, "worker") {
        Ok(found) => found,
        Err(e) => return vec![format!("{e}, which consumes aws_sqs_queue.{queue}")],
    };
    let place = format!("aws_sqs_queue.{queue} ({file})");
    // SQS's and Lambda's defaults when unset: 30 s and 3 s.
    let default_visibility = Expression::from(30);
    let default_timeout = Expression::from(3);
    let visibility = attr(body, "visibility_timeout_seconds").unwrap_or(&default_visibility);
    let timeout = attr(function, "timeout").unwrap_or(&default_timeout);
    let (Some(v), Some(t)) = (Linear::of(tf, visibility), Linear::of(tf, timeout)) else {
        return vec![format!(
            "{place}: visibility_timeout_seconds = `{visibility}` and {worker}: timeout = \
             `{timeout}` cannot both be resolved to numbers and variables; write the visibility \
             timeout as `var.worker_timeout * 6` (AWS advises six times the timeout of a Lambda \
             function an SQS queue invokes)"
        )];
    };
    if v.plus(&t, -VISIBILITY_TIMEOUT_FACTOR).never_negative() {
        Vec::new()
    } else {
        vec![format!(
            "{place}: visibility_timeout_seconds = `{visibility}` is not always at least 6 × the \
             timeout of {worker} (`{timeout}`): AWS advises six times the function's timeout for \
             an SQS event source, so that a batch whose invocation is being retried is not handed \
             to another worker meanwhile; write it as `{timeout} * 6`"
        )]
    }
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

/// The event source mappings that read the publish queue, with their file.
fn mappings_of<'a>(tf: &'a Terraform, queue: &str) -> Vec<(String, &'a Body)> {
    tf.top_blocks()
        .filter(|(_, b)| {
            b.identifier() == "resource"
                && b.labels().first().map(|l| l.as_str()) == Some("aws_lambda_event_source_mapping")
        })
        .filter(|(_, b)| {
            attr(b.body(), "event_source_arn")
                .and_then(|e| named(through_locals(tf, e), &["aws_sqs_queue"], &["arn"]))
                .is_some_and(|q| q == queue)
        })
        .map(|(file, b)| {
            let name = b.labels().get(1).map_or("?", |l| l.as_str());
            (
                format!("aws_lambda_event_source_mapping.{name} ({file})"),
                b.body(),
            )
        })
        .collect()
}

/// The function an event source mapping invokes.
fn mapping_target(body: &Body) -> Option<String> {
    attr(body, "function_name").and_then(|f| {
        named(
            f,
            &["aws_lambda_function"],
            &["arn", "function_name", "qualified_arn"],
        )
    })
}

/// The publish queue invokes the worker: an event source mapping reads it,
/// targets `aws_lambda_function.worker`, lets the worker report partial batch
/// failures (it answers `batchItemFailures`) and caps the workers at the
/// number the worker divides the target rate by: its
/// `scaling_config.maximum_concurrency` is the expression inside the
/// worker's `WORKER_MAX_CONCURRENCY = tostring(...)`.
pub fn event_source_problems(tf: &Terraform) -> Vec<String> {
    let mut problems = Vec::new();
    let queue = match publish_queue(tf) {
        Ok(queue) => queue,
        Err(e) => return vec![format!("{e}, which an event source mapping should read")],
    };
    let mappings = mappings_of(tf, &queue);
    if mappings.is_empty() {
        return vec![format!(
            "no aws_lambda_event_source_mapping reads aws_sqs_queue.{queue} (event_source_arn = \
             aws_sqs_queue.{queue}.arn), so nothing runs the shard jobs the http function sends \
             there: the worker (aws_lambda_function.worker) should"
        )];
    }
    // What the worker divides the target rate by.
    let workers = environment(tf, "worker").ok().and_then(|(place, entries)| {
        entries
            .iter()
            .find(|(k, _)| k == WORKER_MAX_CONCURRENCY)
            .map(|(_, v)| (place, *v))
    });
    for (place, body) in mappings {
        let target = mapping_target(body);
        if target.as_deref() != Some("worker") {
            problems.push(format!(
                "{place}: function_name = `{}`, but the function that runs shard jobs is the \
                 worker (aws_lambda_function.worker, handler http_lambda::WORKER_HANDLER)",
                display(attr(body, "function_name"))
            ));
        }
        let types = attr(body, "function_response_types").map(string_list);
        if !matches!(&types, Some(Ok(list)) if list.iter().any(|t| t == "ReportBatchItemFailures"))
        {
            problems.push(format!(
                "{place}: function_response_types = `{}` lacks \"ReportBatchItemFailures\": the \
                 worker answers the jobs to retry (batchItemFailures), which Lambda ignores \
                 without it, deleting failed jobs with the rest of the batch",
                display(attr(body, "function_response_types"))
            ));
        }
        let maximum = blocks(body, "scaling_config")
            .first()
            .and_then(|b| attr(b, "maximum_concurrency"));
        let Some((worker, workers)) = &workers else {
            continue; // the environment check reports it
        };
        let inside = match unparen(workers) {
            Expression::FuncCall(call)
                if !call.name.is_namespaced() && call.name.name.as_str() == "tostring" =>
            {
                call.args.first().map(unparen)
            }
            _ => None,
        };
        let Some(inside) = inside else {
            problems.push(format!(
                "{worker}: {WORKER_MAX_CONCURRENCY} = `{workers}` is not `tostring(...)` of the \
                 number {place} caps the workers at (scaling_config.maximum_concurrency)"
            ));
            continue;
        };
        if maximum.map(unparen) != Some(inside) {
            problems.push(format!(
                "{place}: scaling_config.maximum_concurrency = `{}`, but {worker} sets \
                 {WORKER_MAX_CONCURRENCY} = `{workers}`: each worker paces itself at \
                 PUBLISH_TARGET_RATE / {WORKER_MAX_CONCURRENCY}, so the two must be the same \
                 `{inside}`",
                display(maximum)
            ));
        }
    }
    problems
}

/// Actions a role needs, each on the queue or (true) on the queue's key.
type Needs = &'static [(&'static str, bool)];

/// What the roles need for the publish queue, SSE-KMS included: every
/// function that reads `PUBLISH_QUEUE_URL` sends to it (`sqs:SendMessage`,
/// which `SendMessageBatch` needs; `kms:GenerateDataKey` and `kms:Decrypt`
/// on the queue's key), and the function an event source mapping invokes
/// from it receives with its role (`sqs:ReceiveMessage`, `sqs:DeleteMessage`,
/// `sqs:GetQueueAttributes`; `kms:Decrypt`) and hands failed jobs back
/// early (`sqs:ChangeMessageVisibility`, which the worker calls). SQS makes the KMS calls for its
/// caller: a KMS statement conditioned on `kms:ViaService` counts when it
/// names SQS (`sqs.<region>.amazonaws.com`); other conditions are not
/// judged, and a `*` resource counts.
pub fn queue_permission_problems(tf: &Terraform) -> Vec<String> {
    let mut problems = Vec::new();
    let queue = match publish_queue(tf) {
        Ok(queue) => queue,
        Err(e) => return vec![format!("{e}, which the roles need permissions on")],
    };
    let key = tf
        .block("resource", &["aws_sqs_queue", &queue])
        .ok()
        .and_then(|(_, body)| attr(body, "kms_master_key_id"))
        .and_then(|k| {
            named(
                through_locals(tf, k),
                &["aws_kms_key"],
                &["arn", "id", "key_id"],
            )
        });
    let on_queue =
        |e: &Expression| named(e, &["aws_sqs_queue"], &["arn"]).as_deref() == Some(&*queue);
    let on_key = |e: &Expression| {
        key.is_some() && named(e, &["aws_kms_key"], &["arn"]).as_deref() == key.as_deref()
    };

    const SEND: Needs = &[
        ("sqs:SendMessage", false),
        ("kms:GenerateDataKey", true),
        ("kms:Decrypt", true),
    ];
    const RECEIVE: Needs = &[
        ("sqs:ReceiveMessage", false),
        ("sqs:DeleteMessage", false),
        ("sqs:GetQueueAttributes", false),
        ("sqs:ChangeMessageVisibility", false),
        ("kms:Decrypt", true),
    ];
    // (function, why, what it needs)
    let mut needs: Vec<(&str, String, Needs)> = Vec::new();
    for f in FUNCTIONS
        .iter()
        .filter(|f| f.env.contains(&PUBLISH_QUEUE_URL))
    {
        let why = format!(
            "the {} binary sends shard jobs to {PUBLISH_QUEUE_URL} (SendMessageBatch)",
            f.name
        );
        needs.push((f.name, why, SEND));
    }
    for (place, body) in mappings_of(tf, &queue) {
        let target = mapping_target(body);
        if let Some(f) = FUNCTIONS.iter().find(|f| Some(f.name) == target.as_deref()) {
            let why = format!("{place} receives and deletes shard jobs with its role");
            needs.push((f.name, why, RECEIVE));
        }
    }
    for (name, why, actions) in needs {
        let policy = match Policy::of_function(tf, name) {
            Ok(policy) => policy,
            Err(e) => {
                problems.push(format!("{e}, but {why}"));
                continue;
            }
        };
        for &(action, needs_key) in actions {
            let (allowed, on) = if needs_key {
                match &key {
                    None => continue, // an SQS-managed key: no KMS permission
                    Some(key) => (
                        policy.allows(action, &on_key, Some("sqs")),
                        format!("aws_kms_key.{key}, the queue's key, through SQS"),
                    ),
                }
            } else {
                (
                    policy.allows(action, &on_queue, None),
                    format!("aws_sqs_queue.{queue}"),
                )
            };
            if !allowed {
                problems.push(format!(
                    "{}: its role's policy ({}) does not allow {action} on {on}, but {why}",
                    policy.function, policy.documents
                ));
            }
        }
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
