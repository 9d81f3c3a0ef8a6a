//! The contract between `terraform/`, the `Makefile` and the code. Each check
//! returns its problems (none when both sides agree); every problem names the
//! Terraform side with its file and the code (or Makefile) side it disagrees
//! with. Expectations come from the code's constants, so an environment
//! variable or route added to the code is checked without touching this file.
//!
//! Most checks read the parsed files; those about values (policies, URLs,
//! validations) evaluate them with [`crate::eval`] in a [`deployed`] scope,
//! where the resources Terraform would create have realistic attributes.

mod domains;
mod env;
mod iam;
mod packages;
mod queue;
mod routes;
mod stream;
mod table;
mod tokens;
mod validations;
mod websocket;

use hcl::{Body, Expression, Map};

use channels::config::{COMMANDS_ENV, HTTP_ENV, PRESENCE_ENV, RX_ENV, WORKER_ENV};
use http_lambda::{COMMANDS_HANDLER, PRESENCE_HANDLER, WORKER_HANDLER};

use crate::eval::{Frame, Scope, Value};
use crate::terraform::{attr, blocks, reference, string, traversal_names, unparen};
use crate::{Makefile, Terraform};

pub use domains::{
    domain_problems, rendered, Domains, HTTP_CERTIFICATE, HTTP_DOMAIN, WEBSOCKET_CERTIFICATE,
    WEBSOCKET_DOMAIN, ZONE,
};
pub use env::{
    env_problems, environment_size_problems, environment_sizes, handler_problems,
    log_format_problems, ENVIRONMENT_LIMIT,
};
pub use iam::{
    connection_permission_problems, partition_problems, queue_permission_problems,
    table_permission_problems, DYNAMODB_ACTIONS,
};
pub use packages::{architecture_problems, package_problems};
pub use queue::{
    event_source_problems, publish_queue_problems, visibility_timeout_problems,
    VISIBILITY_TIMEOUT_FACTOR,
};
pub use routes::{
    cors_problems, payload_format_problems, route_authorization_problems, route_problems,
    AUTHORIZATION_CASES, CORS_HEADERS,
};
pub use stream::{filter_matches, presence_stream_problems, PATTERN_CASES};
pub use table::{table_problems, STREAM_VIEW};
pub use tokens::{token_env_problems, token_key_problems, PREVIOUS_KEY};
pub use validations::{variable_problems, version_problems, TERRAFORM_MINIMUM};
pub use websocket::{websocket_problems, ROUTE_SELECTION};

/// A check: the parsed Terraform and Makefile in, the problems out.
pub type Check = fn(&Terraform, &Makefile) -> Vec<String>;

/// Every check, by name.
pub const CHECKS: &[(&str, Check)] = &[
    ("variables", |tf, _| variable_problems(tf)),
    ("versions", version_problems),
    ("environment", |tf, _| env_problems(tf)),
    ("log format", |tf, _| log_format_problems(tf)),
    ("handlers", |tf, _| handler_problems(tf)),
    ("environment size", |tf, _| environment_size_problems(tf)),
    ("packages", package_problems),
    ("architecture", architecture_problems),
    ("table", |tf, _| table_problems(tf)),
    ("table permissions", |tf, _| table_permission_problems(tf)),
    ("@connections permissions", |tf, _| {
        connection_permission_problems(tf)
    }),
    ("queue permissions", |tf, _| queue_permission_problems(tf)),
    ("partition", |tf, _| partition_problems(tf)),
    ("routes", |tf, _| route_problems(tf)),
    ("route authorization", |tf, _| {
        route_authorization_problems(tf)
    }),
    ("payload format", |tf, _| payload_format_problems(tf)),
    ("cors", |tf, _| cors_problems(tf)),
    ("custom domains", |tf, _| domain_problems(tf)),
    ("websocket", |tf, _| websocket_problems(tf)),
    ("token environment", |tf, _| token_env_problems(tf)),
    ("token signing key", |tf, _| token_key_problems(tf)),
    ("publish queue", |tf, _| {
        publish_queue_problems(tf, channels::job::MAX_RECEIVES)
    }),
    ("visibility timeout", |tf, _| {
        visibility_timeout_problems(tf)
    }),
    ("event source mapping", |tf, _| event_source_problems(tf)),
    ("presence stream", |tf, _| presence_stream_problems(tf)),
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
    pub(crate) name: &'static str,
    /// The environment variables its binary reads, and where the code says so.
    pub(crate) env: &'static [&'static str],
    pub(crate) env_name: &'static str,
    /// The `local.<package>` holding its zip, and the Makefile variable that writes it.
    pub(crate) package: &'static str,
    pub(crate) make_var: &'static str,
    /// The `handler` that starts its binary as this function, and where the
    /// code says so; "bootstrap" (rx, and the http package's HTTP API
    /// handler) starts the package's default.
    pub(crate) handler: &'static str,
    pub(crate) handler_name: &'static str,
}

pub(crate) const FUNCTIONS: [Function; 5] = [
    Function {
        name: "rx",
        env: RX_ENV,
        env_name: "channels::config::RX_ENV",
        package: "rx_package",
        make_var: "RX_ZIP",
        handler: "bootstrap",
        handler_name: "the rx binary's only handler",
    },
    Function {
        name: "http",
        env: HTTP_ENV,
        env_name: "channels::config::HTTP_ENV",
        package: "http_package",
        make_var: "HTTP_ZIP",
        handler: "bootstrap",
        handler_name: "the http package's default, the HTTP API handler",
    },
    // The http binary again, started as the publish queue's worker,
    Function {
        name: "worker",
        env: WORKER_ENV,
        env_name: "channels::config::WORKER_ENV",
        package: "http_package",
        make_var: "HTTP_ZIP",
        handler: WORKER_HANDLER,
        handler_name: "http_lambda::WORKER_HANDLER",
    },
    // ... as the WebSocket API's command routes,
    Function {
        name: "commands",
        env: COMMANDS_ENV,
        env_name: "channels::config::COMMANDS_ENV",
        package: "http_package",
        make_var: "HTTP_ZIP",
        handler: COMMANDS_HANDLER,
        handler_name: "http_lambda::COMMANDS_HANDLER",
    },
    // ... and as the table stream's presence events.
    Function {
        name: "presence",
        env: PRESENCE_ENV,
        env_name: "channels::config::PRESENCE_ENV",
        package: "http_package",
        make_var: "HTTP_ZIP",
        handler: PRESENCE_HANDLER,
        handler_name: "http_lambda::PRESENCE_HANDLER",
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
    let entries =
        crate::terraform::object_entries(variables).map_err(|e| format!("{place}: {e}"))?;
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

/// The `aws_apigatewayv2_api` of `protocol` ("WEBSOCKET", "HTTP"): its
/// file, name and body.
pub(crate) fn api<'a>(tf: &'a Terraform, protocol: &str) -> Option<(&'a str, String, &'a Body)> {
    tf.top_blocks().find_map(|(file, b)| {
        let is_api = b.identifier() == "resource"
            && b.labels().first().map(|l| l.as_str()) == Some("aws_apigatewayv2_api")
            && attr(b.body(), "protocol_type").and_then(string).as_deref() == Some(protocol);
        is_api.then(|| {
            (
                file,
                b.labels().get(1).map_or("?", |l| l.as_str()).to_owned(),
                b.body(),
            )
        })
    })
}

/// Every instance of the resources of type `kind`: (address, body, frame).
pub(crate) fn instances<'a>(
    tf: &'a Terraform,
    scope: &Scope<'_>,
    kind: &str,
) -> Vec<(String, &'a Body, Frame)> {
    let mut out = Vec::new();
    for (_, block) in tf.top_blocks() {
        let labels: Vec<&str> = block.labels().iter().map(|l| l.as_str()).collect();
        if block.identifier() != "resource" || labels.first() != Some(&kind) {
            continue;
        }
        let body = block.body();
        let address = format!("{kind}.{}", labels.get(1).unwrap_or(&"?"));
        if let Some(count) = attr(body, "count") {
            let n = scope
                .eval(count)
                .ok()
                .and_then(|n| crate::eval::to_number(&n).ok())
                .unwrap_or(0.0);
            out.extend((0..n as usize).map(|i| (format!("{address}[{i}]"), body, Frame::count(i))));
        } else if let Some(for_each) = attr(body, "for_each") {
            match scope.eval(for_each) {
                Ok(Value::Object(map)) => out.extend(map.into_iter().map(|(k, v)| {
                    (
                        format!("{address}[{k:?}]"),
                        body,
                        Frame::each(Value::String(k), v),
                    )
                })),
                Ok(Value::Array(items)) => out.extend(items.into_iter().map(|v| {
                    let k = crate::eval::to_string(&v).unwrap_or_default();
                    (
                        format!("{address}[{k:?}]"),
                        body,
                        Frame::each(Value::String(k), v),
                    )
                })),
                other => out.push((
                    format!("{address} (for_each: {other:?})"),
                    body,
                    Frame::default(),
                )),
            }
        } else {
            out.push((address, body, Frame::default()));
        }
    }
    out
}

/// Where a [`deployed`] scope pretends to be.
#[derive(Clone, Copy, Debug)]
pub struct Partition {
    pub name: &'static str,
    pub region: &'static str,
    pub dns_suffix: &'static str,
}

/// The commercial partition.
pub const AWS: Partition = Partition {
    name: "aws",
    region: "us-east-1",
    dns_suffix: "amazonaws.com",
};

/// The China partition: other service domains, same service principals
/// where IAM trust policies are concerned.
pub const AWS_CN: Partition = Partition {
    name: "aws-cn",
    region: "cn-north-1",
    dns_suffix: "amazonaws.com.cn",
};

/// The account a [`deployed`] scope pretends to be in.
pub const ACCOUNT: &str = "123456789012";

/// A scope with the variables at their defaults (`region` set to the
/// partition's), and the resources Terraform would create given the values
/// AWS would give them: ARNs, names, URLs and ids of tables, queues, keys,
/// APIs, functions and roles, for every instance of `count` and `for_each`.
/// Other resources stay placeholders.
pub fn deployed(tf: &Terraform, partition: Partition) -> Result<Scope<'_>, String> {
    let mut scope = Scope::new(tf)?;
    scope.set("region", Value::String(partition.region.to_owned()))?;
    fill(tf, &mut scope, partition)?;
    Ok(scope)
}

/// Gives every resource of `tf` that AWS would name its attributes in
/// `scope` (again after a test changed variables that names depend on).
pub fn fill(tf: &Terraform, scope: &mut Scope<'_>, partition: Partition) -> Result<(), String> {
    let Partition {
        name: p,
        region,
        dns_suffix,
    } = partition;
    let object = |pairs: &[(&str, String)]| {
        Value::Object(
            pairs
                .iter()
                .map(|(k, v)| ((*k).to_owned(), Value::String(v.clone())))
                .collect::<Map<_, _>>(),
        )
    };
    scope.resource(
        "data.aws_partition.current",
        object(&[
            ("partition", p.to_owned()),
            ("dns_suffix", dns_suffix.to_owned()),
        ]),
    );
    scope.resource(
        "data.aws_caller_identity.current",
        object(&[("account_id", ACCOUNT.to_owned())]),
    );
    // First the resources whose names do not depend on other resources.
    let resources: Vec<(String, String, &Body)> = tf
        .top_blocks()
        .filter(|(_, b)| b.identifier() == "resource" && b.labels().len() == 2)
        .map(|(_, b)| {
            (
                b.labels()[0].as_str().to_owned(),
                b.labels()[1].as_str().to_owned(),
                b.body(),
            )
        })
        .collect();
    for (kind, name, body) in &resources {
        let named_as = |scope: &Scope<'_>, frame: &Frame, fallback: &str| -> String {
            ["name", "function_name"]
                .iter()
                .find_map(|a| attr(body, a))
                .and_then(|e| scope.eval_in(e, frame).ok())
                .and_then(|v| crate::eval::to_string(&v).ok())
                .unwrap_or_else(|| fallback.to_owned())
        };
        let instance = |scope: &Scope<'_>, frame: &Frame, key: &str| -> Option<Value> {
            // The key as it may stand in a name or an id: letters and digits.
            let plain: String = key.chars().filter(char::is_ascii_alphanumeric).collect();
            let real = named_as(scope, frame, &format!("{name}{plain}"));
            Some(match kind.as_str() {
                "aws_dynamodb_table" => {
                    let arn = format!("arn:{p}:dynamodb:{region}:{ACCOUNT}:table/{real}");
                    object(&[
                        ("name", real.clone()),
                        ("id", real.clone()),
                        (
                            "stream_arn",
                            format!("{arn}/stream/2026-01-01T00:00:00.000"),
                        ),
                        ("arn", arn),
                    ])
                }
                "aws_sqs_queue" => {
                    let url = format!("https://sqs.{region}.{dns_suffix}/{ACCOUNT}/{real}");
                    object(&[
                        ("name", real.clone()),
                        ("arn", format!("arn:{p}:sqs:{region}:{ACCOUNT}:{real}")),
                        ("id", url.clone()),
                        ("url", url),
                    ])
                }
                "aws_kms_key" => {
                    let id = format!("{name}{plain}-0000-1111-2222-333333333333");
                    object(&[
                        ("arn", format!("arn:{p}:kms:{region}:{ACCOUNT}:key/{id}")),
                        ("key_id", id.clone()),
                        ("id", id),
                    ])
                }
                "aws_apigatewayv2_api" => {
                    let id = format!("{name}{plain}1");
                    let scheme = match attr(body, "protocol_type").and_then(string).as_deref() {
                        Some("WEBSOCKET") => "wss",
                        _ => "https",
                    };
                    object(&[
                        (
                            "api_endpoint",
                            format!("{scheme}://{id}.execute-api.{region}.{dns_suffix}"),
                        ),
                        (
                            "execution_arn",
                            format!("arn:{p}:execute-api:{region}:{ACCOUNT}:{id}"),
                        ),
                        ("arn", format!("arn:{p}:apigateway:{region}::/apis/{id}")),
                        ("id", id),
                    ])
                }
                "aws_lambda_function" => {
                    let arn = format!("arn:{p}:lambda:{region}:{ACCOUNT}:function:{real}");
                    object(&[
                        ("function_name", real.clone()),
                        ("invoke_arn", format!("arn:{p}:apigateway:{region}:lambda:path/2015-03-31/functions/{arn}/invocations")),
                        ("arn", arn),
                    ])
                }
                "aws_iam_role" => object(&[
                    ("name", real.clone()),
                    ("id", real.clone()),
                    ("arn", format!("arn:{p}:iam::{ACCOUNT}:role/{real}")),
                ]),
                "aws_cloudwatch_log_group" => object(&[
                    ("name", real.clone()),
                    (
                        "arn",
                        format!("arn:{p}:logs:{region}:{ACCOUNT}:log-group:{real}"),
                    ),
                ]),
                // Any other type: what Terraform knows only after the apply,
                // per instance (so that a `for` over the instances works).
                _ if !key.is_empty() => crate::eval::placeholder(&format!("{kind}.{name}{key}")),
                _ => return None,
            })
        };
        let value = if let Some(count) = attr(body, "count") {
            let n = scope.eval(count).and_then(|n| crate::eval::to_number(&n))?;
            (0..n as usize)
                .map(|i| instance(scope, &Frame::count(i), &format!("[{i}]")))
                .collect::<Option<Vec<_>>>()
                .map(Value::Array)
        } else if let Some(for_each) = attr(body, "for_each") {
            match scope.eval(for_each) {
                Ok(Value::Object(map)) => map
                    .into_iter()
                    .map(|(k, v)| {
                        let frame = Frame::each(Value::String(k.clone()), v);
                        instance(scope, &frame, &format!("[{k:?}]")).map(|value| (k, value))
                    })
                    .collect::<Option<Map<_, _>>>()
                    .map(Value::Object),
                // A for_each this scope cannot resolve (it depends on another
                // resource): leave the placeholder.
                _ => None,
            }
        } else {
            instance(scope, &Frame::default(), "")
        };
        if let Some(value) = value {
            scope.resource(&format!("{kind}.{name}"), value);
        }
    }
    Ok(())
}
