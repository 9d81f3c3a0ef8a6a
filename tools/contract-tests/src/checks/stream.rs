//! The presence function's trigger: an event source mapping on the table's
//! stream, evaluated for several values of `presence_events`: none without a
//! pattern; otherwise from the latest record, bounded retries and record
//! age, split batches, partial batch failures, an on-failure destination the
//! role may send to, and a filter that lets through exactly the membership
//! records of the channels the patterns name. The filter is checked by what
//! it does: Lambda's filter rules applied to stream records built with
//! `channels_aws::schema::membership_sk`.

use channels_aws::schema::{membership_sk, CONNECTION_SK, SK};
use hcl::Body;
use serde_json::{json, Value as Json};

use super::iam::Policy;
use super::table::table;
use super::{deployed, fill, AWS};
use crate::eval::{to_number, to_string, Frame, Scope, Value};
use crate::terraform::{attr, blocks};
use crate::Terraform;

/// Channels whose memberships must (true) or must not (false) reach the
/// presence function.
pub type Expected = &'static [(&'static str, bool)];

/// `presence_events` values and, for each, what they let through.
pub const PATTERN_CASES: &[(&[&str], Expected)] = &[
    (
        &["lobby"],
        &[
            ("lobby", true),
            ("lobby2", false),
            ("lobb", false),
            ("room-1", false),
        ],
    ),
    (
        &["room-*"],
        &[
            ("room-1", true),
            ("room-", true),
            ("room", false),
            ("lobby", false),
        ],
    ),
    (
        &["room-*", "lobby", "user:42:*"],
        &[
            ("room-9", true),
            ("lobby", true),
            ("user:42:inbox", true),
            ("user:4", false),
            ("other", false),
        ],
    ),
    (&["*"], &[("lobby", true), ("a", true)]),
];

/// Lambda's event filtering on one record: every key of the pattern must be
/// in the record; an object matches an object key by key, an array matches a
/// value equal to one of its strings or starting with one of its
/// `{"prefix": …}` (other rules are not used here and never match).
pub fn filter_matches(pattern: &Json, record: &Json) -> bool {
    match (pattern, record) {
        (Json::Object(pattern), Json::Object(record)) => pattern.iter().all(|(key, rule)| {
            record
                .get(key)
                .is_some_and(|value| filter_matches(rule, value))
        }),
        (Json::Array(rules), value) => rules.iter().any(|rule| match (rule, value) {
            (Json::String(wanted), Json::String(got)) => wanted == got,
            (Json::Object(rule), Json::String(got)) => {
                rule.len() == 1
                    && rule
                        .get("prefix")
                        .and_then(Json::as_str)
                        .is_some_and(|p| got.starts_with(p))
            }
            (rule, value) => rule == value && !rule.is_object(),
        }),
        _ => false,
    }
}

/// A DynamoDB stream record as Lambda filters it: `eventName` and the
/// item's keys (`Keys.sk.S`).
fn record(event: &str, sk: &str) -> Json {
    json!({
        "eventName": event,
        "eventSource": "aws:dynamodb",
        "dynamodb": {"Keys": {"pk": {"S": "conn#AbCd="}, SK: {"S": sk}}},
    })
}

/// The mappings whose source is the table's stream, each instance with the
/// frame it is evaluated in.
fn stream_mappings<'a>(
    tf: &'a Terraform,
    scope: &Scope<'_>,
    stream_arn: &str,
) -> Vec<(String, &'a Body, Frame)> {
    let mut out = Vec::new();
    for (file, block) in tf.top_blocks() {
        let labels: Vec<&str> = block.labels().iter().map(|l| l.as_str()).collect();
        if block.identifier() != "resource"
            || labels.first() != Some(&"aws_lambda_event_source_mapping")
        {
            continue;
        }
        let body = block.body();
        let count = match attr(body, "count").map(|c| scope.eval(c).and_then(|n| to_number(&n))) {
            None => 1,
            Some(Ok(n)) => n as usize,
            Some(Err(_)) => continue,
        };
        for i in 0..count {
            let frame = if attr(body, "count").is_some() {
                Frame::count(i)
            } else {
                Frame::default()
            };
            let source = attr(body, "event_source_arn")
                .and_then(|e| scope.eval_in(e, &frame).ok())
                .and_then(|v| to_string(&v).ok());
            if source.as_deref() == Some(stream_arn) {
                out.push((
                    format!(
                        "aws_lambda_event_source_mapping.{} ({file})",
                        labels.get(1).unwrap_or(&"?")
                    ),
                    body,
                    frame,
                ));
            }
        }
    }
    out
}

/// The presence function runs on the table's stream exactly when
/// `presence_events` names a channel, and its mapping is as described in
/// this module's documentation.
pub fn presence_stream_problems(tf: &Terraform) -> Vec<String> {
    let mut problems = Vec::new();
    let table = match table(tf) {
        Ok((name, _, _)) => name,
        Err(e) => return vec![e],
    };
    let mut cases: Vec<(Vec<&str>, Expected)> = vec![(Vec::new(), &[])];
    cases.extend(PATTERN_CASES.iter().map(|(p, c)| (p.to_vec(), *c)));
    for (patterns, channels) in cases {
        let scope = deployed(tf, AWS).and_then(|mut scope| {
            let list = Value::Array(
                patterns
                    .iter()
                    .map(|p| Value::String((*p).to_owned()))
                    .collect(),
            );
            scope.set("presence_events", list)?;
            fill(tf, &mut scope, AWS)?;
            Ok(scope)
        });
        let scope = match scope {
            Ok(scope) => scope,
            Err(e) => return vec![format!("presence_events = {patterns:?}: {e}")],
        };
        let eval = |text: &str| {
            scope
                .eval_text(text)
                .and_then(|v| to_string(&v))
                .unwrap_or_default()
        };
        let stream_arn = eval(&format!("aws_dynamodb_table.{table}.stream_arn"));
        let presence_arn = eval("aws_lambda_function.presence.arn");
        let mappings = stream_mappings(tf, &scope, &stream_arn);
        let when = format!("with presence_events = {patterns:?}");
        match (patterns.is_empty(), mappings.as_slice()) {
            (true, []) => continue,
            (true, found) => {
                for (place, _, _) in found {
                    problems.push(format!(
                        "{place} reads the table's stream {when}: no channel asks for join and leave events, \
                         and each record would cost an invocation (count = 0 when presence_events is empty)"
                    ));
                }
                continue;
            }
            (false, []) => {
                problems.push(format!(
                    "no aws_lambda_event_source_mapping reads the table's stream (aws_dynamodb_table.{table}.stream_arn) \
                     {when}: the presence function would send no join or leave event"
                ));
                continue;
            }
            (false, [_]) => {}
            (false, found) => problems.push(format!(
                "{} mappings read the table's stream {when}; one runs the presence function",
                found.len()
            )),
        }
        let (place, body, frame) = &mappings[0];
        let value = |name: &str| attr(body, name).and_then(|e| scope.eval_in(e, frame).ok());
        let text = |name: &str| value(name).and_then(|v| to_string(&v).ok());
        let number = |name: &str| value(name).and_then(|v| to_number(&v).ok());
        if text("function_name").as_deref() != Some(presence_arn.as_str()) {
            problems.push(format!(
                "{place}: function_name is {:?} {when}, not the presence function ({presence_arn})",
                text("function_name")
            ));
        }
        if text("starting_position").as_deref() != Some("LATEST") {
            problems.push(format!(
                "{place}: starting_position is {:?}: presence events start from the LATEST record (old joins and \
                 leaves are news to no one)",
                text("starting_position")
            ));
        }
        if text("bisect_batch_on_function_error").as_deref() != Some("true") {
            problems.push(format!(
                "{place}: bisect_batch_on_function_error is {:?}: without it one bad record fails its whole batch \
                 until the batch expires",
                text("bisect_batch_on_function_error")
            ));
        }
        match number("maximum_retry_attempts") {
            Some(n) if (0.0..=10.0).contains(&n) => {}
            other => problems.push(format!(
                "{place}: maximum_retry_attempts is {other:?} with the variables at their defaults: unset or -1 \
                 retries a failing batch until its records expire (24 hours), stalling the shard; bound it"
            )),
        }
        match number("maximum_record_age_in_seconds") {
            Some(n) if (60.0..=3600.0).contains(&n) => {}
            other => problems.push(format!(
                "{place}: maximum_record_age_in_seconds is {other:?}: unset or -1 keeps retrying a record as long as \
                 the stream keeps it (24 hours); bound it (60-3600 s)"
            )),
        }
        let types = value("function_response_types");
        if !matches!(&types, Some(Value::Array(items)) if items.iter().any(|t| t == &Value::String("ReportBatchItemFailures".into())))
        {
            problems.push(format!(
                "{place}: function_response_types is {types:?}: the presence function answers the records to \
                 retry (batchItemFailures), which Lambda ignores without \"ReportBatchItemFailures\""
            ));
        }

        // The on-failure destination, and the role's right to use it.
        let destination = blocks(body, "destination_config")
            .first()
            .and_then(|d| blocks(d, "on_failure").first().copied())
            .and_then(|f| attr(f, "destination_arn"))
            .and_then(|e| scope.eval_in(e, frame).ok())
            .and_then(|v| to_string(&v).ok());
        match &destination {
            None => problems.push(format!(
                "{place} has no destination_config.on_failure: a batch that keeps failing would be dropped without \
                 a trace"
            )),
            Some(arn) if arn.contains(":sqs:") => match Policy::of_function(tf, &scope, "presence") {
                Ok(policy) if policy.allows("sqs:SendMessage", arn, None) => {}
                Ok(policy) => problems.push(format!(
                    "{}: its role's policy ({}) does not allow sqs:SendMessage on {arn}, where {place} records the \
                     batches it gives up on (with the function's role)",
                    policy.function, policy.documents
                )),
                Err(e) => problems.push(e),
            },
            Some(arn) => problems.push(format!("{place}: the on-failure destination {arn} is not an SQS queue")),
        }

        // The filter, by what it lets through.
        let filters: Vec<Json> = blocks(body, "filter_criteria")
            .iter()
            .flat_map(|c| blocks(c, "filter"))
            .filter_map(|f| attr(f, "pattern"))
            .filter_map(|p| scope.eval_in(p, frame).ok())
            .filter_map(|v| to_string(&v).ok())
            .filter_map(|s| serde_json::from_str(&s).ok())
            .collect();
        if filters.is_empty() {
            problems.push(format!(
                "{place} has no filter_criteria {when}: every write to the table (messages, counters, connections) \
                 would invoke the presence function"
            ));
            continue;
        }
        let passes = |record: &Json| filters.iter().any(|f| filter_matches(f, record));
        for (channel, wanted) in channels {
            let sk = membership_sk(channel);
            for event in ["INSERT", "REMOVE"] {
                if passes(&record(event, &sk)) != *wanted {
                    problems.push(format!(
                        "{place}: its filter {} the {event} of the membership {sk:?} {when}, but the channel {channel:?} \
                         {} (filters: {})",
                        if *wanted { "drops" } else { "lets through" },
                        if *wanted { "matches a pattern" } else { "matches no pattern" },
                        serde_json::to_string(&filters).unwrap_or_default()
                    ));
                }
            }
        }
        for (event, sk, why) in [
            (
                "MODIFY",
                membership_sk(channels.first().map_or("lobby", |c| c.0)),
                "a membership's update is neither a join nor a leave",
            ),
            (
                "INSERT",
                CONNECTION_SK.to_owned(),
                "a connection item is not a membership",
            ),
            (
                "INSERT",
                "msg#00000000000000000001".to_owned(),
                "a history message is not a membership",
            ),
        ] {
            if passes(&record(event, &sk)) {
                problems.push(format!(
                    "{place}: its filter lets through the {event} of {sk:?} {when}: {why}"
                ));
            }
        }
    }
    problems
}
