//! The publish queue, its dead-letter queue and the worker's trigger.

use crate::*;

#[test]
fn the_publish_queue_is_shared_and_dead_letters_like_the_local_gateway() {
    let (tf, _) = parsed(&sources());
    report(
        "publish queue",
        &publish_queue_problems(&tf, channels::job::MAX_RECEIVES),
    );
}

#[test]
fn the_visibility_timeout_is_six_worker_timeouts() {
    let (tf, _) = parsed(&sources());
    report("visibility timeout", &visibility_timeout_problems(&tf));
}

#[test]
fn the_publish_queue_invokes_the_worker() {
    let (tf, _) = parsed(&sources());
    report("event source mapping", &event_source_problems(&tf));
}

#[test]
fn publish_queue_check_catches_mutations() {
    const QUEUE: &str = "aws_sqs_queue.publish (terraform/queue.tf)";
    assert_caught(
        "publish queue",
        |tf, _| publish_queue_problems(tf, channels::job::MAX_RECEIVES),
        &[
            // The worker hands the rest of a shard on to another queue.
            m(
                "terraform/lambda.tf",
                "      PUBLISH_QUEUE_URL      = aws_sqs_queue.publish.url\n",
                "      PUBLISH_QUEUE_URL      = aws_sqs_queue.publish_dlq.url\n",
                &[
                    "aws_lambda_function.worker (terraform/lambda.tf)",
                    "PUBLISH_QUEUE_URL is the url of aws_sqs_queue.publish_dlq",
                    "sends shard jobs to aws_sqs_queue.publish",
                ],
            ),
            // http's queue is not a queue of this configuration.
            m(
                "terraform/lambda.tf:aws_lambda_function.http",
                "      PUBLISH_QUEUE_URL     = aws_sqs_queue.publish.url\n",
                "      PUBLISH_QUEUE_URL     = \"https://sqs.us-east-1.amazonaws.com/123456789012/jobs\"\n",
                &[
                    "aws_lambda_function.http (terraform/lambda.tf)",
                    "is not the url of an aws_sqs_queue",
                    "channels::config::PUBLISH_QUEUE_URL",
                ],
            ),
            // The queue dead-letters into itself.
            m(
                "terraform/queue.tf",
                "    deadLetterTargetArn = aws_sqs_queue.publish_dlq.arn\n",
                "    deadLetterTargetArn = aws_sqs_queue.publish.arn\n",
                &[QUEUE, "deadLetterTargetArn = `aws_sqs_queue.publish.arn`", "another aws_sqs_queue"],
            ),
            // No dead-letter queue at all.
            m(
                "terraform/queue.tf",
                "  redrive_policy = jsonencode({\n    deadLetterTargetArn = aws_sqs_queue.publish_dlq.arn\n    maxReceiveCount     = local.publish_max_receives\n  })\n",
                "",
                &[QUEUE, "redrive_policy = `(not set)`", "dead-letter queue"],
            ),
            // Fewer tries than the local gateway makes.
            m(
                "terraform/queue.tf",
                "  publish_max_receives = 5\n",
                "  publish_max_receives = 3\n",
                &[
                    QUEUE,
                    "maxReceiveCount = `local.publish_max_receives` is not 5",
                    "channels::job::MAX_RECEIVES",
                ],
            ),
            // The dead-letter queue forgets before the queue does.
            m(
                "terraform/queue.tf:aws_sqs_queue.publish_dlq",
                "  message_retention_seconds         = 1209600\n",
                "  message_retention_seconds         = 3600\n",
                &[
                    "aws_sqs_queue.publish_dlq (terraform/queue.tf): message_retention_seconds is 3600",
                    "not more than the 86400 of aws_sqs_queue.publish",
                ],
            ),
        ],
    );
}

#[test]
fn visibility_timeout_check_catches_mutations() {
    const QUEUE: &str = "aws_sqs_queue.publish (terraform/queue.tf)";
    assert_caught(
        "visibility timeout",
        |tf, _| visibility_timeout_problems(tf),
        &[
            m(
                "terraform/queue.tf",
                "  visibility_timeout_seconds = var.worker_timeout * 6\n",
                "  visibility_timeout_seconds = var.worker_timeout * 5\n",
                &[
                    QUEUE,
                    "visibility_timeout_seconds = `var.worker_timeout * 5` is not always at least 6",
                    "aws_lambda_function.worker (terraform/lambda.tf) (`var.worker_timeout`)",
                ],
            ),
            // Right at the default (300 s), wrong for a longer worker timeout.
            m(
                "terraform/queue.tf",
                "  visibility_timeout_seconds = var.worker_timeout * 6\n",
                "  visibility_timeout_seconds = 1800\n",
                &[QUEUE, "`1800` is not always at least 6", "`var.worker_timeout * 6`"],
            ),
            m(
                "terraform/queue.tf",
                "  visibility_timeout_seconds = var.worker_timeout * 6\n",
                "  visibility_timeout_seconds = var.worker_timeout + 600\n",
                &[QUEUE, "`var.worker_timeout + 600` is not always"],
            ),
            // The worker's timeout grows past what the queue allows for.
            m(
                "terraform/lambda.tf",
                "  timeout                        = var.worker_timeout\n",
                "  timeout                        = var.worker_timeout * 2\n",
                &[QUEUE, "(`var.worker_timeout * 2`)"],
            ),
            // A form the check cannot resolve.
            m(
                "terraform/queue.tf",
                "  visibility_timeout_seconds = var.worker_timeout * 6\n",
                "  visibility_timeout_seconds = max(1800, var.worker_timeout * 6)\n",
                &[QUEUE, "cannot both be resolved", "var.worker_timeout * 6"],
            ),
        ],
    );
}

#[test]
fn visibility_timeout_check_accepts_equivalent_forms() {
    // (queue.tf, lambda.tf) replacements that keep visibility >= 6 × timeout.
    let cases: &[(&str, &str)] = &[
        ("6 * var.worker_timeout", "var.worker_timeout"),
        ("(var.worker_timeout * 6) + 30", "var.worker_timeout"),
        ("var.worker_timeout * 12 / 2", "var.worker_timeout"),
        ("1800", "300"),
        ("local.visibility", "var.worker_timeout"),
    ];
    for (visibility, timeout) in cases {
        let mutated = sources()
            .mutated(
                "terraform/queue.tf",
                "  visibility_timeout_seconds = var.worker_timeout * 6\n",
                &format!("  visibility_timeout_seconds = {visibility}\n"),
            )
            .and_then(|s| {
                s.mutated(
                    "terraform/lambda.tf",
                    "  timeout                        = var.worker_timeout\n",
                    &format!("  timeout                        = {timeout}\n"),
                )
            })
            .and_then(|s| {
                s.mutated(
                    "terraform/queue.tf",
                    "  publish_max_receives = 5\n",
                    "  publish_max_receives = 5\n  visibility           = var.worker_timeout * 6\n",
                )
            })
            .unwrap_or_else(|e| panic!("{e}"));
        let (tf, _) = parsed(&mutated);
        let problems = visibility_timeout_problems(&tf);
        assert!(
            problems.is_empty(),
            "{visibility} vs {timeout}: {problems:#?}"
        );
    }
}

#[test]
fn event_source_check_catches_mutations() {
    const TF: &str = "terraform/lambda.tf:aws_lambda_event_source_mapping.worker";
    const PLACE: &str = "aws_lambda_event_source_mapping.worker (terraform/lambda.tf)";
    assert_caught(
        "event source mapping",
        |tf, _| event_source_problems(tf),
        &[
            // The queue invokes the http function instead.
            m(
                TF,
                "  function_name    = aws_lambda_function.worker.arn\n",
                "  function_name    = aws_lambda_function.http.arn\n",
                &[
                    PLACE,
                    "function_name = `aws_lambda_function.http.arn`",
                    "aws_lambda_function.worker",
                ],
            ),
            // The mapping reads the dead-letter queue: nothing reads the publish queue.
            m(
                TF,
                "  event_source_arn = aws_sqs_queue.publish.arn\n",
                "  event_source_arn = aws_sqs_queue.publish_dlq.arn\n",
                &[
                    "no aws_lambda_event_source_mapping reads aws_sqs_queue.publish",
                    "aws_lambda_function.worker",
                ],
            ),
            // Partial batch failures ignored.
            m(
                TF,
                "  function_response_types = [\"ReportBatchItemFailures\"]\n",
                "",
                &[PLACE, "lacks \"ReportBatchItemFailures\"", "batchItemFailures"],
            ),
            // The cap and the worker's divisor drift apart.
            m(
                TF,
                "    maximum_concurrency = var.worker_max_concurrency\n",
                "    maximum_concurrency = 8\n",
                &[
                    PLACE,
                    "scaling_config.maximum_concurrency = `8`",
                    "WORKER_MAX_CONCURRENCY = `tostring(var.worker_max_concurrency)`",
                    "PUBLISH_TARGET_RATE / WORKER_MAX_CONCURRENCY",
                ],
            ),
            m(
                "terraform/lambda.tf",
                "      WORKER_MAX_CONCURRENCY = tostring(var.worker_max_concurrency)\n",
                "      WORKER_MAX_CONCURRENCY = tostring(var.worker_max_concurrency * 2)\n",
                &[PLACE, "the same `var.worker_max_concurrency * 2`"],
            ),
            // No cap at all.
            m(
                TF,
                "  scaling_config {\n    maximum_concurrency = var.worker_max_concurrency\n  }\n",
                "",
                &[PLACE, "scaling_config.maximum_concurrency = `(not set)`"],
            ),
            // The divisor not written as tostring(...).
            m(
                "terraform/lambda.tf",
                "      WORKER_MAX_CONCURRENCY = tostring(var.worker_max_concurrency)\n",
                "      WORKER_MAX_CONCURRENCY = \"8\"\n",
                &[
                    "aws_lambda_function.worker (terraform/lambda.tf): WORKER_MAX_CONCURRENCY = `\"8\"`",
                    "is not `tostring(...)`",
                ],
            ),
        ],
    );
}
