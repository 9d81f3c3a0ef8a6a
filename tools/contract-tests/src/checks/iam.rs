//! What each function's role may do. The role's inline policy documents are
//! evaluated (every merged document, `for_each` instances included) in a
//! [`deployed`] scope, so statements are plain strings: actions, resource
//! ARNs, condition values. A small matcher then answers "may this role call
//! that action on that ARN", with IAM's wildcards, `Deny` and `NotAction`
//! taken as problems rather than interpreted.

use std::collections::BTreeSet;

use channels::config::{MANAGEMENT_ENDPOINT, PUBLISH_QUEUE_URL};
use channels_aws::schema::CHANNEL_INDEX;
use hcl::{Body, Expression};

use super::queue::{mapping_target, mappings_of, publish_queue};
use super::table::table;
use super::{deployed, display, function, named, Partition, AWS, AWS_CN, FUNCTIONS};
use crate::eval::{to_string, Frame, Scope, Value};
use crate::terraform::{attr, blocks, string_attr, traversal_names};
use crate::Terraform;

/// One `statement` of a `data.aws_iam_policy_document`, evaluated.
#[derive(Clone, Debug)]
pub(crate) struct Statement {
    pub(crate) sid: String,
    pub(crate) allow: bool,
    pub(crate) actions: Vec<String>,
    pub(crate) resources: Vec<String>,
    /// `(variable, values)` of each `condition`.
    pub(crate) conditions: Vec<(String, Vec<String>)>,
    /// What this evaluator does not interpret (NotAction, NotResource).
    pub(crate) unsupported: Vec<String>,
}

impl Statement {
    /// Whether it allows `action` on `resource` when the call comes through
    /// the AWS service endpoint `via` (a KMS call SQS makes for its caller:
    /// "sqs.us-east-1.amazonaws.com"), or directly (None). Of the conditions
    /// only `kms:ViaService` is judged.
    fn allows(&self, action: &str, resource: &str, via: Option<&str>) -> bool {
        let through = self
            .conditions
            .iter()
            .filter(|(variable, _)| variable == "kms:ViaService")
            .all(|(_, values)| via.is_some_and(|via| values.iter().any(|v| v == via)));
        self.allow
            && through
            && self
                .actions
                .iter()
                .any(|a| wildcard_match(&a.to_ascii_lowercase(), &action.to_ascii_lowercase()))
            && self.resources.iter().any(|r| wildcard_match(r, resource))
    }
}

/// The inline policy of a function's role: `role = aws_iam_role.R.arn`, each
/// `aws_iam_role_policy` with `role = aws_iam_role.R.id` and `policy =
/// data.aws_iam_policy_document.D.json`, and the statements of those
/// documents and of every document they merge (`source_policy_documents`,
/// `override_policy_documents`), each evaluated.
pub(crate) struct Policy {
    /// "aws_lambda_function.worker (terraform/lambda.tf)"
    pub(crate) function: String,
    /// "data.aws_iam_policy_document.worker (terraform/iam.tf) with
    /// data.aws_iam_policy_document.fan_out"
    pub(crate) documents: String,
    pub(crate) statements: Vec<Statement>,
}

/// `data.aws_iam_policy_document.NAME.json` or `...NAME["key"].json`: NAME and the key.
fn document_ref(scope: &Scope<'_>, expr: &Expression) -> Option<(String, Option<String>)> {
    let names = traversal_names(expr)?;
    let [data, kind, name, json] = names.as_slice() else {
        return None;
    };
    if data != "data" || kind != "aws_iam_policy_document" || json != "json" {
        return None;
    }
    let key = match expr {
        Expression::Traversal(t) => t.operators.iter().find_map(|op| match op {
            hcl::expr::TraversalOperator::Index(i) => {
                scope.eval(i).ok().and_then(|v| to_string(&v).ok())
            }
            _ => None,
        }),
        _ => None,
    };
    Some((name.clone(), key))
}

impl Policy {
    pub(crate) fn of_function(
        tf: &Terraform,
        scope: &Scope<'_>,
        name: &str,
    ) -> Result<Self, String> {
        let (function, body) = function(tf, name)?;
        let role = attr(body, "role")
            .and_then(|r| named(r, &["aws_iam_role"], &["arn"]))
            .ok_or_else(|| {
                format!(
                    "{function}: role = `{}` is not the arn of an aws_iam_role",
                    display(attr(body, "role"))
                )
            })?;
        let mut queue: Vec<(String, Option<String>)> = Vec::new();
        let mut roots = 0;
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
                .and_then(|p| document_ref(scope, p))
                .ok_or_else(|| {
                    format!(
                        "aws_iam_role_policy.{} ({file}), the policy of {function}'s role: policy = \
                         `{}` is not the json of a data.aws_iam_policy_document",
                        labels.get(1).unwrap_or(&"?"),
                        display(attr(policy, "policy"))
                    )
                })?;
            queue.push(document);
            roots += 1;
        }
        if queue.is_empty() {
            return Err(format!(
                "{function}: its role aws_iam_role.{role} has no aws_iam_role_policy"
            ));
        }
        let mut labels = Vec::new();
        let mut statements = Vec::new();
        let mut next = 0;
        while next < queue.len() && next < 16 {
            let (name, key) = queue[next].clone();
            let (file, document) = tf.block("data", &["aws_iam_policy_document", &name])?;
            let frame = match (&key, attr(document, "for_each")) {
                (Some(key), Some(for_each)) => {
                    let value = scope
                        .eval(for_each)
                        .ok()
                        .and_then(|v| match v {
                            Value::Object(mut map) => map.shift_remove(key),
                            _ => None,
                        })
                        .unwrap_or(Value::Null);
                    Frame::each(Value::String(key.clone()), value)
                }
                _ => Frame::default(),
            };
            let label = match &key {
                Some(key) => format!("data.aws_iam_policy_document.{name}[{key:?}]"),
                None => format!("data.aws_iam_policy_document.{name}"),
            };
            if next < roots {
                labels.push(format!("{label} ({file})"));
            } else {
                labels.push(label.clone());
            }
            for statement in blocks(document, "statement") {
                statements.push(
                    evaluate(scope, statement, &frame)
                        .map_err(|e| format!("{label} ({file}): {e}"))?,
                );
            }
            for merged in ["source_policy_documents", "override_policy_documents"] {
                if let Some(Expression::Array(items)) = attr(document, merged) {
                    for item in items {
                        if let Some(other) = document_ref(scope, item) {
                            if !queue.contains(&other) {
                                queue.push(other);
                            }
                        }
                    }
                }
            }
            next += 1;
        }
        let documents = match labels.split_at(roots.min(labels.len())) {
            (roots, []) => roots.join(" and "),
            (roots, merged) => format!("{} with {}", roots.join(" and "), merged.join(", ")),
        };
        Ok(Self {
            function,
            documents,
            statements,
        })
    }

    /// Whether some statement allows `action` on `resource`, directly or
    /// through the service endpoint `via`.
    pub(crate) fn allows(&self, action: &str, resource: &str, via: Option<&str>) -> bool {
        self.statements
            .iter()
            .any(|s| s.allows(action, resource, via))
    }

    /// Every `(action, resource)` an Allow statement names whose action is
    /// of `service` ("dynamodb"), with the statement's sid.
    fn granted(&self, service: &str) -> Vec<(String, String, String)> {
        let prefix = format!("{service}:");
        self.statements
            .iter()
            .filter(|s| s.allow)
            .flat_map(|s| {
                s.actions
                    .iter()
                    .filter(|a| a.to_ascii_lowercase().starts_with(&prefix) || a == &"*")
                    .flat_map(move |a| {
                        s.resources
                            .iter()
                            .map(move |r| (s.sid.clone(), a.clone(), r.clone()))
                    })
            })
            .collect()
    }

    /// Problems of statements this evaluator does not interpret.
    fn unsupported(&self) -> Vec<String> {
        self.statements
            .iter()
            .flat_map(|s| {
                s.unsupported
                    .iter()
                    .map(move |u| format!("{}: statement {} of {} uses {u}, which this check does not interpret: name actions and resources", self.function, s.sid, self.documents))
            })
            .collect()
    }
}

fn evaluate(scope: &Scope<'_>, body: &Body, frame: &Frame) -> Result<Statement, String> {
    let strings = |name: &str| -> Result<Vec<String>, String> {
        match attr(body, name) {
            None => Ok(Vec::new()),
            Some(expr) => match scope.eval_in(expr, frame)? {
                Value::Array(items) => items.iter().map(to_string).collect(),
                other => Err(format!("{name} is {other:?}, not a list")),
            },
        }
    };
    let sid = attr(body, "sid")
        .map(|s| scope.eval_in(s, frame).and_then(|v| to_string(&v)))
        .transpose()?
        .unwrap_or_else(|| "(no sid)".to_owned());
    let mut conditions = Vec::new();
    for condition in blocks(body, "condition") {
        let variable = string_attr(condition, "variable").unwrap_or_default();
        let values = match attr(condition, "values") {
            Some(values) => match scope.eval_in(values, frame)? {
                Value::Array(items) => items.iter().map(to_string).collect::<Result<_, _>>()?,
                other => vec![to_string(&other)?],
            },
            None => Vec::new(),
        };
        conditions.push((variable, values));
    }
    let unsupported = ["not_actions", "not_resources", "not_principals"]
        .into_iter()
        .filter(|a| attr(body, a).is_some())
        .map(str::to_owned)
        .collect();
    Ok(Statement {
        sid,
        allow: string_attr(body, "effect").is_none_or(|e| e == "Allow"),
        actions: strings("actions")?,
        resources: strings("resources")?,
        conditions,
        unsupported,
    })
}

/// The DynamoDB actions each function's code calls, on the table, on the
/// channel index, on the table's stream.
pub use channels::schema::DYNAMODB_ACTIONS;

/// Each role may call exactly the DynamoDB actions its code calls
/// ([`DYNAMODB_ACTIONS`]): on the table, on the channel index
/// (`channels_aws::schema::CHANNEL_INDEX`), on the table's stream; no
/// other action, no other resource, no wildcard action.
pub fn table_permission_problems(tf: &Terraform) -> Vec<String> {
    let (scope, (table_name, _, _)) =
        match deployed(tf, AWS).and_then(|s| table(tf).map(|t| (s, t))) {
            Ok(found) => found,
            Err(e) => return vec![format!("{e}, which the roles need permissions on")],
        };
    let arn_of = |attribute: &str| {
        scope
            .eval_text(&format!("aws_dynamodb_table.{table_name}.{attribute}"))
            .and_then(|v| to_string(&v))
            .unwrap_or_default()
    };
    let table_arn = arn_of("arn");
    let resources = [
        ("the table", table_arn.clone()),
        (
            "the channel index",
            format!("{table_arn}/index/{CHANNEL_INDEX}"),
        ),
        ("the table's stream", arn_of("stream_arn")),
    ];
    let mut problems = Vec::new();
    for (name, expected) in DYNAMODB_ACTIONS {
        let policy = match Policy::of_function(tf, &scope, name) {
            Ok(policy) => policy,
            Err(e) => {
                problems.push(format!("{e}, but the {name} binary calls DynamoDB"));
                continue;
            }
        };
        problems.extend(policy.unsupported());
        for ((what, resource), actions) in resources.iter().zip(expected) {
            for action in *actions {
                if !policy.allows(&format!("dynamodb:{action}"), resource, None) {
                    problems.push(format!(
                        "{}: its role's policy ({}) does not allow dynamodb:{action} on {what} ({resource}), \
                         which the {name} binary calls",
                        policy.function, policy.documents
                    ));
                }
            }
        }
        // Nothing more: each granted action is one the code calls on that
        // resource, named, on that resource's exact ARN (the stream's may be
        // the table's streams, `<table>/stream/*`).
        let stream_pattern = format!("{table_arn}/stream/*");
        for (sid, action, resource) in policy.granted("dynamodb") {
            let bare = action.split_once(':').map_or(action.as_str(), |(_, a)| a);
            let class = resources
                .iter()
                .position(|(_, arn)| *arn == resource)
                .or((resource == stream_pattern).then_some(2));
            let called =
                class.is_some_and(|c| expected[c].iter().any(|a| a.eq_ignore_ascii_case(bare)));
            if action.contains(['*', '?']) || !called {
                problems.push(format!(
                    "{}: statement {sid} of {} allows {action} on {resource}, but the {name} binary calls \
                     only {} (least privilege: each action named, on the table, the index or the \
                     stream it is called on)",
                    policy.function,
                    policy.documents,
                    describe(expected)
                ));
            }
        }
    }
    problems
}

fn describe(expected: &[&[&str]; 3]) -> String {
    ["the table", "the index", "the stream"]
        .iter()
        .zip(expected)
        .filter(|(_, a)| !a.is_empty())
        .map(|(what, actions)| format!("{} on {what}", actions.join(", ")))
        .collect::<Vec<_>>()
        .join("; ")
}

/// The functions that deliver (their binary reads `MANAGEMENT_ENDPOINT`) may
/// POST to this stage's connections and nothing else of `execute-api`; the
/// others (rx) may call no `execute-api` action at all.
pub fn connection_permission_problems(tf: &Terraform) -> Vec<String> {
    let scope = match deployed(tf, AWS) {
        Ok(scope) => scope,
        Err(e) => return vec![e],
    };
    // A connection of this deployment's WebSocket stage, written from the
    // API's execution ARN and the stage, as API Gateway authorizes a POST.
    let api = super::api(tf, "WEBSOCKET").map(|(_, name, _)| name);
    let Some(api) = api else {
        return vec![
            "terraform/*.tf has no aws_apigatewayv2_api with protocol_type = \"WEBSOCKET\""
                .to_owned(),
        ];
    };
    let stage_arn = scope
        .eval_text(&format!(
            "\"${{aws_apigatewayv2_api.{api}.execution_arn}}/${{var.stage_name}}\""
        ))
        .and_then(|v| to_string(&v));
    let stage_arn = match stage_arn {
        Ok(arn) => arn,
        Err(e) => return vec![e],
    };
    let connection = format!("{stage_arn}/POST/@connections/AbCdEf12345=");
    let delete = format!("{stage_arn}/DELETE/@connections/AbCdEf12345=");
    let mut problems = Vec::new();
    for f in &FUNCTIONS {
        let policy = match Policy::of_function(tf, &scope, f.name) {
            Ok(policy) => policy,
            Err(e) => {
                problems.push(e);
                continue;
            }
        };
        let delivers = f.env.contains(&MANAGEMENT_ENDPOINT);
        let posts = policy.allows("execute-api:ManageConnections", &connection, None);
        if delivers && !posts {
            problems.push(format!(
                "{}: its role's policy ({}) does not allow execute-api:ManageConnections on {connection}, \
                 but the {} binary posts to connections ({MANAGEMENT_ENDPOINT} is in {})",
                policy.function, policy.documents, f.name, f.env_name
            ));
        }
        if delivers && policy.allows("execute-api:ManageConnections", &delete, None) {
            problems.push(format!(
                "{}: its role's policy ({}) allows execute-api:ManageConnections on {delete}, but the {} \
                 binary only POSTs to connections (least privilege: .../POST/@connections/*)",
                policy.function, policy.documents, f.name
            ));
        }
        if !delivers {
            for (sid, action, resource) in policy.granted("execute-api") {
                problems.push(format!(
                    "{}: statement {sid} of {} allows {action} on {resource}, but the {} binary makes no \
                     execute-api call ({MANAGEMENT_ENDPOINT} is not in {})",
                    policy.function, policy.documents, f.name, f.env_name
                ));
            }
        }
    }
    problems
}

/// What the roles need for the publish queue, SSE-KMS included: every
/// function that reads `PUBLISH_QUEUE_URL` sends to it (`sqs:SendMessage`,
/// which `SendMessageBatch` needs; `kms:GenerateDataKey` and `kms:Decrypt`
/// on the queue's key, through SQS), and the function an event source
/// mapping invokes from it receives with its role (`sqs:ReceiveMessage`,
/// `sqs:DeleteMessage`, `sqs:GetQueueAttributes`; `kms:Decrypt`) and hands
/// failed jobs back early (`sqs:ChangeMessageVisibility`, which the worker
/// calls). A function that does not read `PUBLISH_QUEUE_URL` may not send.
pub fn queue_permission_problems(tf: &Terraform) -> Vec<String> {
    let scope = match deployed(tf, AWS) {
        Ok(scope) => scope,
        Err(e) => return vec![e],
    };
    let queue = match publish_queue(tf) {
        Ok(queue) => queue,
        Err(e) => return vec![format!("{e}, which the roles need permissions on")],
    };
    let queue_arn = scope
        .eval_text(&format!("aws_sqs_queue.{queue}.arn"))
        .and_then(|v| to_string(&v))
        .unwrap_or_default();
    let key = tf
        .block("resource", &["aws_sqs_queue", &queue])
        .ok()
        .and_then(|(_, body)| attr(body, "kms_master_key_id"))
        .and_then(|k| scope.eval(k).ok())
        .and_then(|v| to_string(&v).ok());
    let via = format!("sqs.{}.{}", AWS.region, AWS.dns_suffix);

    /// Actions a role needs, each on the queue or (true) on the queue's key.
    type Needs = &'static [(&'static str, bool)];
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
    let mut problems = Vec::new();
    for f in &FUNCTIONS {
        let policy = match Policy::of_function(tf, &scope, f.name) {
            Ok(policy) => policy,
            Err(e) => {
                problems.push(e);
                continue;
            }
        };
        let mine: Vec<_> = needs
            .iter()
            .filter(|(name, _, _)| *name == f.name)
            .collect();
        if mine.is_empty() && policy.allows("sqs:SendMessage", &queue_arn, None) {
            problems.push(format!(
                "{}: its role's policy ({}) allows sqs:SendMessage on aws_sqs_queue.{queue}, but the {} \
                 binary does not send shard jobs ({PUBLISH_QUEUE_URL} is not in {})",
                policy.function, policy.documents, f.name, f.env_name
            ));
        }
        for (_, why, actions) in mine {
            for &(action, on_key) in *actions {
                let allowed = if on_key {
                    match &key {
                        None => continue, // an SQS-managed key: no KMS permission
                        Some(key) => policy.allows(action, key, Some(&via)),
                    }
                } else {
                    policy.allows(action, &queue_arn, None)
                };
                if !allowed {
                    let on = if on_key {
                        format!(
                            "the queue's key ({}), through SQS ({via})",
                            key.as_deref().unwrap_or("?")
                        )
                    } else {
                        format!("aws_sqs_queue.{queue}")
                    };
                    problems.push(format!(
                        "{}: its role's policy ({}) does not allow {action} on {on}, but {why}",
                        policy.function, policy.documents
                    ));
                }
            }
        }
    }
    problems
}

/// In every partition: each `kms:ViaService` a role names is the service's
/// endpoint in this Region and partition (`sqs.cn-north-1.amazonaws.com.cn`
/// in China), and the data key's policy names CloudWatch Logs' Regional
/// principal of the partition. Evaluated as in `aws` and in `aws-cn`.
pub fn partition_problems(tf: &Terraform) -> Vec<String> {
    let mut problems = BTreeSet::new();
    for partition in [AWS, AWS_CN] {
        let scope = match deployed(tf, partition) {
            Ok(scope) => scope,
            Err(e) => return vec![e],
        };
        let suffix = format!(".{}.{}", partition.region, partition.dns_suffix);
        for f in &FUNCTIONS {
            let Ok(policy) = Policy::of_function(tf, &scope, f.name) else {
                continue; // the other checks say why
            };
            for s in &policy.statements {
                for (variable, values) in &s.conditions {
                    for value in values.iter().filter(|_| variable == "kms:ViaService") {
                        let ok = value
                            .strip_suffix(&suffix)
                            .is_some_and(|service| !service.is_empty() && !service.contains('.'));
                        if !ok {
                            problems.insert(format!(
                                "{}: statement {} of {} has kms:ViaService {value:?} in {} ({}), where \
                                 services answer at <service>{suffix}: use the partition's DNS suffix \
                                 (data.aws_partition's dns_suffix)",
                                policy.function, s.sid, policy.documents, partition.name, partition.region
                            ));
                        }
                    }
                }
            }
        }
        problems.extend(logs_principal_problems(tf, &scope, partition));
    }
    problems.into_iter().collect()
}

/// CloudWatch Logs' principal in the key policy of every `aws_kms_key` whose
/// policy names one: `logs.<region>.<dns suffix>`.
fn logs_principal_problems(tf: &Terraform, scope: &Scope<'_>, partition: Partition) -> Vec<String> {
    let wanted = format!("logs.{}.{}", partition.region, partition.dns_suffix);
    let mut problems = Vec::new();
    for (file, block) in tf.top_blocks() {
        let labels: Vec<&str> = block.labels().iter().map(|l| l.as_str()).collect();
        if block.identifier() != "resource" || labels.first() != Some(&"aws_kms_key") {
            continue;
        }
        let Some(policy) = attr(block.body(), "policy") else {
            continue;
        };
        let frame = if attr(block.body(), "count").is_some() {
            Frame::count(0)
        } else {
            Frame::default()
        };
        let text = match scope.eval_in(policy, &frame).and_then(|v| to_string(&v)) {
            Ok(text) => text,
            Err(e) => {
                problems.push(format!(
                    "aws_kms_key.{} ({file}): its policy does not evaluate: {e}",
                    labels[1]
                ));
                continue;
            }
        };
        let Ok(json) = serde_json::from_str::<serde_json::Value>(&text) else {
            continue;
        };
        let mut services = Vec::new();
        collect_services(&json, &mut services);
        for service in services.iter().filter(|s| s.starts_with("logs.")) {
            if *service != wanted {
                problems.push(format!(
                    "aws_kms_key.{} ({file}): its policy names the principal {service:?} in {} ({}), but \
                     CloudWatch Logs' principal there is {wanted:?}: use the partition's DNS suffix",
                    labels[1], partition.name, partition.region
                ));
            }
        }
    }
    problems
}

fn collect_services(json: &serde_json::Value, out: &mut Vec<String>) {
    match json {
        serde_json::Value::Object(map) => {
            for (key, value) in map {
                if key == "Service" {
                    match value {
                        serde_json::Value::String(s) => out.push(s.clone()),
                        serde_json::Value::Array(items) => {
                            out.extend(items.iter().filter_map(|i| i.as_str().map(str::to_owned)))
                        }
                        _ => {}
                    }
                } else {
                    collect_services(value, out);
                }
            }
        }
        serde_json::Value::Array(items) => items.iter().for_each(|i| collect_services(i, out)),
        _ => {}
    }
}

/// IAM-style matching: `*` any run of characters, `?` one character.
pub(crate) fn wildcard_match(pattern: &str, text: &str) -> bool {
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
