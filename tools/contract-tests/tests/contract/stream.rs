//! The presence function's trigger on the table's stream.

use contract_tests::checks::filter_matches;
use serde_json::json;

use crate::*;

const MAPPING: &str = "terraform/lambda.tf:aws_lambda_event_source_mapping.presence";

#[test]
fn presence_runs_on_the_membership_records_it_asks_for() {
    let (tf, _) = parsed(&sources());
    report("presence stream", &presence_stream_problems(&tf));
}

#[test]
fn the_filter_matcher_follows_lambda_rules() {
    let pattern = json!({"eventName": ["INSERT"], "dynamodb": {"Keys": {"sk": {"S": ["sub#a", {"prefix": "sub#r-"}]}}}});
    let record = |event: &str, sk: &str| json!({"eventName": event, "dynamodb": {"Keys": {"sk": {"S": sk}, "pk": {"S": "x"}}}});
    assert!(filter_matches(&pattern, &record("INSERT", "sub#a")));
    assert!(filter_matches(&pattern, &record("INSERT", "sub#r-1")));
    assert!(!filter_matches(&pattern, &record("INSERT", "sub#ab")));
    assert!(!filter_matches(&pattern, &record("REMOVE", "sub#a")));
    assert!(!filter_matches(&pattern, &json!({"eventName": "INSERT"})));
}

#[test]
fn presence_stream_check_catches_mutations() {
    assert_caught(
        "presence stream",
        |tf, _| presence_stream_problems(tf),
        &[
            // Always on, even without patterns.
            m(MAPPING, "  count = length(var.presence_events) > 0 ? 1 : 0\n", "", &[
                "aws_lambda_event_source_mapping.presence (terraform/lambda.tf) reads the table's stream with presence_events = []",
            ]),
            // Never on.
            m(MAPPING, "  count = length(var.presence_events) > 0 ? 1 : 0\n", "  count = 0\n", &[
                "no aws_lambda_event_source_mapping reads the table's stream",
                "with presence_events = [\"lobby\"]",
            ]),
            m(MAPPING, "  starting_position                  = \"LATEST\"\n", "  starting_position                  = \"TRIM_HORIZON\"\n", &[
                "starting_position is Some(\"TRIM_HORIZON\")",
            ]),
            m(MAPPING, "  bisect_batch_on_function_error = true\n", "", &["bisect_batch_on_function_error is None"]),
            m(MAPPING, "  maximum_retry_attempts         = var.presence_max_retry_attempts\n", "  maximum_retry_attempts         = -1\n", &[
                "maximum_retry_attempts is Some(-1.0)",
            ]),
            m(MAPPING, "  maximum_record_age_in_seconds  = var.presence_max_record_age_seconds\n", "", &[
                "maximum_record_age_in_seconds is None",
            ]),
            m(MAPPING, "  function_response_types = [\"ReportBatchItemFailures\"]\n", "", &["batchItemFailures"]),
            m(MAPPING, "      destination_arn = aws_sqs_queue.presence_dlq.arn\n", "      destination_arn = aws_sqs_queue.publish_dlq.arn\n", &[
                "aws_lambda_function.presence (terraform/lambda.tf): its role's policy",
                "does not allow sqs:SendMessage on arn:aws:sqs:us-east-1:123456789012:lambda-rust-websocket-publish-dlq",
            ]),
            m(MAPPING, "  destination_config {\n", "  xdestination_config {\n", &["has no destination_config.on_failure"]),
            // The filter: prefixes taken as exact names, ...
            m(
                "terraform/lambda.tf",
                "            [for pattern in var.presence_events : { prefix = \"sub#${trimsuffix(pattern, \"*\")}\" } if endswith(pattern, \"*\")],\n",
                "            [for pattern in var.presence_events : \"sub#${pattern}\" if endswith(pattern, \"*\")],\n",
                &["drops the INSERT of the membership \"sub#room-1\"", "with presence_events = [\"room-*\"]"],
            ),
            // ... every item type, ...
            m("terraform/lambda.tf", "{ prefix = \"sub#${trimsuffix(pattern, \"*\")}\" }", "{ prefix = \"\" }", &[
                "lets through the INSERT of \"conn\"",
                "a connection item is not a membership",
            ]),
            // ... updates too, ...
            m("terraform/lambda.tf", "    eventName = [\"INSERT\", \"REMOVE\"]\n", "    eventName = [\"INSERT\", \"MODIFY\", \"REMOVE\"]\n", &[
                "lets through the MODIFY",
            ]),
            // ... no leave events.
            m("terraform/lambda.tf", "    eventName = [\"INSERT\", \"REMOVE\"]\n", "    eventName = [\"INSERT\"]\n", &[
                "drops the REMOVE of the membership \"sub#lobby\"",
            ]),
            m(MAPPING, "  filter_criteria {\n", "  xfilter_criteria {\n", &["has no filter_criteria"]),
        ],
    );
}
