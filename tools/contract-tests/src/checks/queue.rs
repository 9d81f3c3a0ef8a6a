//! The publish queue, its dead-letter queue, its visibility timeout and the
//! event source mapping that runs the worker.

use std::collections::BTreeMap;

use channels::config::{PUBLISH_QUEUE_URL, WORKER_MAX_CONCURRENCY};
use hcl::expr::{BinaryOperator, Operation, UnaryOperator};
use hcl::{Body, Expression};

use super::{display, environment, function, named, through_locals, FUNCTIONS};
use crate::terraform::{attr, blocks, calls, object_get, reference, string_list, unparen};
use crate::Terraform;

/// The `aws_sqs_queue` whose URL a function's `PUBLISH_QUEUE_URL` holds
/// (`aws_sqs_queue.NAME.url`, or `.id`, which is the URL too), or why none.
pub(crate) fn queue_url_of(tf: &Terraform, function: &str) -> Result<(String, String), String> {
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
pub(crate) fn publish_queue(tf: &Terraform) -> Result<String, String> {
    queue_url_of(tf, "http").map(|(_, queue)| queue)
}

/// A number Terraform computes as `constant + Σ factor × var.NAME`, from
/// number literals, `var.NAME`, `local.NAME`, `+`, `-` and `*` or `/` by a
/// constant. Enough to compare a timeout with a multiple of another
/// whatever the variables' values.
#[derive(Clone, Debug, Default, PartialEq)]
pub(crate) struct Linear {
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
pub(crate) fn number_attr(
    tf: &Terraform,
    body: &Body,
    name: &str,
    default: f64,
) -> Result<f64, String> {
    match attr(body, name) {
        None => Ok(default),
        Some(expr) => Linear::of(tf, expr)
            .and_then(|l| l.number())
            .ok_or_else(|| format!("{name} = `{expr}` is not a number this check can resolve")),
    }
}

/// SQS's default `MessageRetentionPeriod`: four days.
pub(crate) const SQS_DEFAULT_RETENTION: f64 = 345_600.0;

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

/// The event source mappings that read the publish queue, with their file.
pub(crate) fn mappings_of<'a>(tf: &'a Terraform, queue: &str) -> Vec<(String, &'a Body)> {
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
pub(crate) fn mapping_target(body: &Body) -> Option<String> {
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
