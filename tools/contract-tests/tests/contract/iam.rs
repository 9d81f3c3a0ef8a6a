//! What the roles may do.

use crate::*;

#[test]
fn http_and_worker_roles_query_the_channel_index() {
    let (tf, _) = parsed(&sources());
    report("query index", &query_index_problems(&tf));
}

#[test]
fn the_roles_may_send_to_and_receive_from_the_publish_queue() {
    let (tf, _) = parsed(&sources());
    report("queue permissions", &queue_permission_problems(&tf));
}

#[test]
fn query_index_check_catches_mutations() {
    assert_caught(
        "query index",
        |tf, _| query_index_problems(tf),
        &[
            m(
                "terraform/iam.tf",
                "\"${aws_dynamodb_table.channels.arn}/index/channel-shard-index\"",
                "\"${aws_dynamodb_table.channels.arn}/index/other-index\"",
                &[
                    "data.aws_iam_policy_document.http (terraform/iam.tf)",
                    "/index/other-index",
                    "CHANNEL_INDEX",
                ],
            ),
            // Query on the whole table instead of the index.
            m(
                "terraform/iam.tf",
                "\"${aws_dynamodb_table.channels.arn}/index/channel-shard-index\"",
                "aws_dynamodb_table.channels.arn",
                &[
                    "data.aws_iam_policy_document.http (terraform/iam.tf)",
                    "\"channel-shard-index\"",
                ],
            ),
            // The statement is shared: the worker's role gets the wrong index too.
            m(
                "terraform/iam.tf",
                "\"${aws_dynamodb_table.channels.arn}/index/channel-shard-index\"",
                "\"${aws_dynamodb_table.channels.arn}/index/other-index\"",
                &[
                    "aws_lambda_function.worker (terraform/lambda.tf)",
                    "data.aws_iam_policy_document.worker (terraform/iam.tf) with data.aws_iam_policy_document.fan_out",
                    "/index/other-index",
                ],
            ),
            // The worker's policy no longer merges the fan-out statements.
            m(
                "terraform/iam.tf",
                "data \"aws_iam_policy_document\" \"worker\" {\n  source_policy_documents = [data.aws_iam_policy_document.fan_out.json]\n",
                "data \"aws_iam_policy_document\" \"worker\" {\n",
                &[
                    "aws_lambda_function.worker (terraform/lambda.tf)",
                    "data.aws_iam_policy_document.worker (terraform/iam.tf) allows dynamodb:Query on []",
                    "CHANNEL_INDEX",
                ],
            ),
            // The worker runs with a role that has no policy.
            m(
                "terraform/iam.tf",
                "  role   = aws_iam_role.worker.id\n",
                "  role   = aws_iam_role.rx.id\n",
                &[
                    "aws_lambda_function.worker (terraform/lambda.tf): its role aws_iam_role.worker has no aws_iam_role_policy",
                ],
            ),
        ],
    );
}

#[test]
fn queue_permission_check_catches_mutations() {
    const IAM: &str = "terraform/iam.tf";
    assert_caught(
        "queue permissions",
        |tf, _| queue_permission_problems(tf),
        &[
            // Nobody may send: both the http function and the worker are told.
            m(
                IAM,
                "    actions   = [\"sqs:SendMessage\"]\n",
                "    actions   = [\"sqs:GetQueueUrl\"]\n",
                &[
                    "aws_lambda_function.http (terraform/lambda.tf): its role's policy (data.aws_iam_policy_document.http (terraform/iam.tf) with data.aws_iam_policy_document.fan_out) does not allow sqs:SendMessage on aws_sqs_queue.publish",
                    "the http binary sends shard jobs to PUBLISH_QUEUE_URL",
                ],
            ),
            m(
                IAM,
                "    actions   = [\"sqs:SendMessage\"]\n",
                "    actions   = [\"sqs:GetQueueUrl\"]\n",
                &[
                    "aws_lambda_function.worker (terraform/lambda.tf)",
                    "does not allow sqs:SendMessage on aws_sqs_queue.publish",
                ],
            ),
            // Sending to the wrong queue.
            m(
                IAM,
                "    actions   = [\"sqs:SendMessage\"]\n    resources = [aws_sqs_queue.publish.arn]\n",
                "    actions   = [\"sqs:SendMessage\"]\n    resources = [aws_sqs_queue.publish_dlq.arn]\n",
                &["aws_lambda_function.http", "does not allow sqs:SendMessage on aws_sqs_queue.publish"],
            ),
            // The event source mapping cannot delete what the worker delivered.
            m(
                IAM,
                "[\"sqs:ReceiveMessage\", \"sqs:DeleteMessage\", \"sqs:GetQueueAttributes\", \"sqs:ChangeMessageVisibility\"]",
                "[\"sqs:ReceiveMessage\", \"sqs:GetQueueAttributes\", \"sqs:ChangeMessageVisibility\"]",
                &[
                    "aws_lambda_function.worker (terraform/lambda.tf)",
                    "does not allow sqs:DeleteMessage on aws_sqs_queue.publish",
                    "aws_lambda_event_source_mapping.worker (terraform/lambda.tf) receives and deletes",
                ],
            ),
            // The worker cannot hand a failed job back early.
            m(
                IAM,
                ", \"sqs:ChangeMessageVisibility\"]",
                "]",
                &[
                    "aws_lambda_function.worker (terraform/lambda.tf)",
                    "does not allow sqs:ChangeMessageVisibility on aws_sqs_queue.publish",
                ],
            ),
            // SSE-KMS: no data key for what is sent (the DynamoDB statement's
            // kms:GenerateDataKey* does not count: its kms:ViaService is DynamoDB).
            m(
                IAM,
                "    actions   = [\"kms:GenerateDataKey\", \"kms:Decrypt\"]\n",
                "    actions   = [\"kms:Decrypt\"]\n",
                &[
                    "aws_lambda_function.http",
                    "does not allow kms:GenerateDataKey on aws_kms_key.this, the queue's key, through SQS",
                ],
            ),
            // ... nor when the statement is conditioned on another service.
            m(
                IAM,
                "      values   = [\"sqs.${var.region}.amazonaws.com\"]\n",
                "      values   = [\"sns.${var.region}.amazonaws.com\"]\n",
                &[
                    "aws_lambda_function.worker",
                    "does not allow kms:GenerateDataKey on aws_kms_key.this",
                ],
            ),
            // A wildcard counts, on the right resource only.
            m(
                IAM,
                "    actions   = [\"sqs:SendMessage\"]\n    resources = [aws_sqs_queue.publish.arn]\n",
                "    actions   = [\"sqs:Send*\"]\n    resources = [aws_sqs_queue.publish_dlq.arn]\n",
                &["aws_lambda_function.worker", "does not allow sqs:SendMessage"],
            ),
        ],
    );
    // ... and a wildcard on the right resource is enough.
    let mutated = sources()
        .mutated(
            IAM,
            "    actions   = [\"sqs:SendMessage\"]\n",
            "    actions   = [\"sqs:Send*\"]\n",
        )
        .unwrap_or_else(|e| panic!("{e}"));
    let (tf, _) = parsed(&mutated);
    report("queue permissions", &queue_permission_problems(&tf));
}
