//! What each function's role may do: a small evaluator of the role's inline
//! policy documents, and the checks built on it.

use super::queue::{mapping_target, mappings_of, publish_queue};
use super::*;

/// One `statement` block of a `data.aws_iam_policy_document`.
pub(crate) struct Statement<'a> {
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
pub(crate) struct Policy<'a> {
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

/// The functions that read channel members with the DynamoDB adapter: http
/// (a synchronous publish, a count) and the worker (a shard job).
pub(crate) const QUERYING: [&str; 2] = ["http", "worker"];

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

/// Actions a role needs, each on the queue or (true) on the queue's key.
pub(crate) type Needs = &'static [(&'static str, bool)];

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
