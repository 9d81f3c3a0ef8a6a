//! What the roles may do: exactly the DynamoDB calls of each binary, the
//! stage's @connections for those that deliver, the publish queue for those
//! that send or receive, in every partition.

use crate::*;

const IAM: &str = "terraform/iam.tf";
const INDEX: &str = "\"${aws_dynamodb_table.channels.arn}/index/channel-shard-index\"";

#[test]
fn each_role_may_make_exactly_its_dynamodb_calls() {
    let (tf, _) = parsed(&sources());
    report("table permissions", &table_permission_problems(&tf));
}

#[test]
fn the_roles_that_deliver_may_post_to_connections() {
    let (tf, _) = parsed(&sources());
    report(
        "@connections permissions",
        &connection_permission_problems(&tf),
    );
}

#[test]
fn the_roles_may_send_to_and_receive_from_the_publish_queue() {
    let (tf, _) = parsed(&sources());
    report("queue permissions", &queue_permission_problems(&tf));
}

#[test]
fn service_names_follow_the_partition() {
    let (tf, _) = parsed(&sources());
    report("partition", &partition_problems(&tf));
}

#[test]
fn table_permission_check_catches_mutations() {
    assert_caught(
        "table permissions",
        |tf, _| table_permission_problems(tf),
        &[
            // Another index: fan-out's Query is refused, and the grant is one
            // no code calls.
            m(IAM, INDEX, "\"${aws_dynamodb_table.channels.arn}/index/other-index\"", &[
                "aws_lambda_function.http (terraform/lambda.tf)",
                "does not allow dynamodb:Query on the channel index",
                "data.aws_iam_policy_document.http (terraform/iam.tf) with data.aws_iam_policy_document.function_basics[\"http\"], data.aws_iam_policy_document.fan_out",
            ]),
            m(IAM, INDEX, "\"${aws_dynamodb_table.channels.arn}/index/other-index\"", &[
                "aws_lambda_function.worker (terraform/lambda.tf)",
                "statement ChannelMembersAndConnectionItemsQuery",
                "allows dynamodb:Query on arn:aws:dynamodb:us-east-1:123456789012:table/lambda-rust-websocket-channels/index/other-index",
            ]),
            // Query on the whole table only, not on the index.
            m(
                IAM,
                "    resources = [aws_dynamodb_table.channels.arn, \"${aws_dynamodb_table.channels.arn}/index/channel-shard-index\"]\n",
                "    resources = [aws_dynamodb_table.channels.arn]\n",
                &["aws_lambda_function.worker (terraform/lambda.tf)", "does not allow dynamodb:Query on the channel index"],
            ),
            // Every index of the table.
            m(IAM, INDEX, "\"${aws_dynamodb_table.channels.arn}/index/*\"", &[
                "aws_lambda_function.presence (terraform/lambda.tf)",
                "allows dynamodb:Query on arn:aws:dynamodb:us-east-1:123456789012:table/lambda-rust-websocket-channels/index/*",
                "least privilege",
            ]),
            // The worker's policy no longer merges the fan-out statements.
            m(
                IAM,
                "data \"aws_iam_policy_document\" \"worker\" {\n  source_policy_documents = [\n    data.aws_iam_policy_document.function_basics[\"worker\"].json,\n    data.aws_iam_policy_document.fan_out.json,\n",
                "data \"aws_iam_policy_document\" \"worker\" {\n  source_policy_documents = [\n    data.aws_iam_policy_document.function_basics[\"worker\"].json,\n",
                &[
                    "aws_lambda_function.worker (terraform/lambda.tf)",
                    "does not allow dynamodb:BatchWriteItem on the table",
                    "which the worker binary calls",
                ],
            ),
            // The worker runs with a role that has no policy.
            m(IAM, "  role   = aws_iam_role.worker.id\n", "  role   = aws_iam_role.rx.id\n", &[
                "aws_lambda_function.worker (terraform/lambda.tf): its role aws_iam_role.worker has no aws_iam_role_policy",
            ]),
            // rx may no longer clean up on $disconnect.
            m(
                IAM,
                "    actions   = [\"dynamodb:PutItem\", \"dynamodb:Query\", \"dynamodb:BatchWriteItem\"]\n",
                "    actions   = [\"dynamodb:PutItem\", \"dynamodb:DeleteItem\"]\n",
                &["aws_lambda_function.rx (terraform/lambda.tf)", "does not allow dynamodb:BatchWriteItem on the table"],
            ),
            m(
                IAM,
                "    actions   = [\"dynamodb:PutItem\", \"dynamodb:Query\", \"dynamodb:BatchWriteItem\"]\n",
                "    actions   = [\"dynamodb:PutItem\", \"dynamodb:Query\", \"dynamodb:BatchWriteItem\", \"dynamodb:DeleteItem\"]\n",
                &["aws_lambda_function.rx (terraform/lambda.tf)", "statement ConnectionItems", "allows dynamodb:DeleteItem"],
            ),
            // A wildcard action.
            m(
                IAM,
                "    actions   = [\"dynamodb:PutItem\", \"dynamodb:Query\", \"dynamodb:BatchWriteItem\"]\n",
                "    actions   = [\"dynamodb:*\"]\n",
                &["aws_lambda_function.rx", "allows dynamodb:* on"],
            ),
            // The whole account's tables.
            m(
                IAM,
                "    actions   = [\"dynamodb:PutItem\", \"dynamodb:Query\", \"dynamodb:BatchWriteItem\"]\n    resources = [aws_dynamodb_table.channels.arn]\n",
                "    actions   = [\"dynamodb:PutItem\", \"dynamodb:Query\", \"dynamodb:BatchWriteItem\"]\n    resources = [\"*\"]\n",
                &["aws_lambda_function.rx", "allows dynamodb:PutItem on *"],
            ),
            // commands loses a per-item action TransactWriteItems needs.
            m(IAM, "      \"dynamodb:DeleteItem\",\n    ]\n    resources = [aws_dynamodb_table.channels.arn]\n  }\n}\n\nresource \"aws_iam_role_policy\" \"commands\"", "    ]\n    resources = [aws_dynamodb_table.channels.arn]\n  }\n}\n\nresource \"aws_iam_role_policy\" \"commands\"", &[
                "aws_lambda_function.commands (terraform/lambda.tf)",
                "does not allow dynamodb:DeleteItem on the table",
            ]),
            // ... and http gains one it never calls.
            m(
                IAM,
                "    actions   = [\"dynamodb:GetItem\", \"dynamodb:PutItem\", \"dynamodb:UpdateItem\", \"dynamodb:DeleteItem\"]\n",
                "    actions   = [\"dynamodb:GetItem\", \"dynamodb:PutItem\", \"dynamodb:UpdateItem\", \"dynamodb:DeleteItem\", \"dynamodb:Scan\"]\n",
                &["aws_lambda_function.http", "statement ChannelItems", "allows dynamodb:Scan"],
            ),
            // The presence mapping cannot read the stream.
            m(IAM, "    resources = [\"${aws_dynamodb_table.channels.arn}/stream/*\"]\n", "    resources = [aws_dynamodb_table.channels.arn]\n", &[
                "aws_lambda_function.presence (terraform/lambda.tf)",
                "does not allow dynamodb:GetRecords on the table's stream",
            ]),
        ],
    );
}

#[test]
fn connection_permission_check_catches_mutations() {
    assert_caught(
        "@connections permissions",
        |tf, _| connection_permission_problems(tf),
        &[
            // Nobody may post.
            m(IAM, "    actions   = [\"execute-api:ManageConnections\"]\n", "    actions   = [\"execute-api:Invoke\"]\n", &[
                "aws_lambda_function.presence (terraform/lambda.tf)",
                "does not allow execute-api:ManageConnections",
                "MANAGEMENT_ENDPOINT is in channels::config::PRESENCE_ENV",
            ]),
            // Any method: a function could close connections.
            m(
                "terraform/main.tf",
                "/${var.stage_name}/POST/@connections/*\"",
                "/${var.stage_name}/*/@connections/*\"",
                &["aws_lambda_function.commands", "allows execute-api:ManageConnections on", "/DELETE/@connections/", "only POSTs"],
            ),
            // rx gets to post: it makes no execute-api call.
            m(
                IAM,
                "    sid       = \"ConnectionItems\"\n",
                "    sid       = \"Post\"\n    actions   = [\"execute-api:ManageConnections\"]\n    resources = [local.manage_connections_arn]\n  }\n\n  statement {\n    sid       = \"ConnectionItems\"\n",
                &[
                    "aws_lambda_function.rx (terraform/lambda.tf)",
                    "statement Post",
                    "the rx binary makes no execute-api call",
                ],
            ),
        ],
    );
}

#[test]
fn queue_permission_check_catches_mutations() {
    assert_caught(
        "queue permissions",
        |tf, _| queue_permission_problems(tf),
        &[
            // Nobody may send: the http function, commands and the worker are told.
            m(IAM, "    actions   = [\"sqs:SendMessage\"]\n    resources = [aws_sqs_queue.publish.arn]\n", "    actions   = [\"sqs:GetQueueUrl\"]\n    resources = [aws_sqs_queue.publish.arn]\n", &[
                "aws_lambda_function.http (terraform/lambda.tf): its role's policy (data.aws_iam_policy_document.http (terraform/iam.tf) with data.aws_iam_policy_document.function_basics[\"http\"], data.aws_iam_policy_document.fan_out, data.aws_iam_policy_document.publish_queue_send) does not allow sqs:SendMessage on aws_sqs_queue.publish",
                "the http binary sends shard jobs to PUBLISH_QUEUE_URL",
            ]),
            m(IAM, "    actions   = [\"sqs:SendMessage\"]\n    resources = [aws_sqs_queue.publish.arn]\n", "    actions   = [\"sqs:GetQueueUrl\"]\n    resources = [aws_sqs_queue.publish.arn]\n", &[
                "aws_lambda_function.commands (terraform/lambda.tf)",
                "does not allow sqs:SendMessage on aws_sqs_queue.publish",
            ]),
            // Sending to the wrong queue.
            m(
                IAM,
                "    actions   = [\"sqs:SendMessage\"]\n    resources = [aws_sqs_queue.publish.arn]\n",
                "    actions   = [\"sqs:SendMessage\"]\n    resources = [aws_sqs_queue.publish_dlq.arn]\n",
                &["aws_lambda_function.worker", "does not allow sqs:SendMessage on aws_sqs_queue.publish"],
            ),
            // A wildcard on the wrong resource counts for nothing.
            m(
                IAM,
                "    actions   = [\"sqs:SendMessage\"]\n    resources = [aws_sqs_queue.publish.arn]\n",
                "    actions   = [\"sqs:Send*\"]\n    resources = [aws_sqs_queue.publish_dlq.arn]\n",
                &["aws_lambda_function.worker", "does not allow sqs:SendMessage"],
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
            m(IAM, ", \"sqs:ChangeMessageVisibility\"]", "]", &[
                "aws_lambda_function.worker (terraform/lambda.tf)",
                "does not allow sqs:ChangeMessageVisibility on aws_sqs_queue.publish",
            ]),
            // SSE-KMS: no data key for what is sent (the DynamoDB statement's
            // kms:GenerateDataKey* does not count: its kms:ViaService is DynamoDB).
            m(
                IAM,
                "data \"aws_iam_policy_document\" \"publish_queue_send\" {\n  statement {\n    sid       = \"PublishQueueSend\"\n    actions   = [\"sqs:SendMessage\"]\n    resources = [aws_sqs_queue.publish.arn]\n  }\n\n  statement {\n    sid       = \"QueueKeyThroughSqs\"\n    actions   = [\"kms:GenerateDataKey\", \"kms:Decrypt\"]\n",
                "data \"aws_iam_policy_document\" \"publish_queue_send\" {\n  statement {\n    sid       = \"PublishQueueSend\"\n    actions   = [\"sqs:SendMessage\"]\n    resources = [aws_sqs_queue.publish.arn]\n  }\n\n  statement {\n    sid       = \"QueueKeyThroughSqs\"\n    actions   = [\"kms:Decrypt\"]\n",
                &[
                    "aws_lambda_function.http",
                    "does not allow kms:GenerateDataKey on the queue's key (arn:aws:kms:us-east-1:123456789012:key/this-0000-1111-2222-333333333333), through SQS (sqs.us-east-1.amazonaws.com)",
                ],
            ),
            // ... nor when the statement is conditioned on another service.
            m(
                IAM,
                "  statement {\n    sid       = \"QueueKeyThroughSqs\"\n    actions   = [\"kms:GenerateDataKey\", \"kms:Decrypt\"]\n    resources = [aws_kms_key.this.arn]\n\n    condition {\n      test     = \"StringEquals\"\n      variable = \"kms:ViaService\"\n      values   = [\"sqs.${var.region}.${local.dns_suffix}\"]\n    }\n  }\n}\n\n# --- rx",
                "  statement {\n    sid       = \"QueueKeyThroughSqs\"\n    actions   = [\"kms:GenerateDataKey\", \"kms:Decrypt\"]\n    resources = [aws_kms_key.this.arn]\n\n    condition {\n      test     = \"StringEquals\"\n      variable = \"kms:ViaService\"\n      values   = [\"sns.${var.region}.${local.dns_suffix}\"]\n    }\n  }\n}\n\n# --- rx",
                &["aws_lambda_function.worker", "does not allow kms:GenerateDataKey on the queue's key"],
            ),
            // A function that sends no shard job may not send any.
            m(
                IAM,
                "  source_policy_documents = [\n    data.aws_iam_policy_document.function_basics[\"presence\"].json,\n    data.aws_iam_policy_document.fan_out.json,\n  ]\n",
                "  source_policy_documents = [\n    data.aws_iam_policy_document.function_basics[\"presence\"].json,\n    data.aws_iam_policy_document.fan_out.json,\n    data.aws_iam_policy_document.publish_queue_send.json,\n  ]\n",
                &["aws_lambda_function.presence", "allows sqs:SendMessage on aws_sqs_queue.publish", "does not send shard jobs"],
            ),
        ],
    );
    // ... and a wildcard on the right resource is enough.
    let mutated = sources()
        .mutated(
            IAM,
            "    actions   = [\"sqs:SendMessage\"]\n    resources = [aws_sqs_queue.publish.arn]\n",
            "    actions   = [\"sqs:Send*\"]\n    resources = [aws_sqs_queue.publish.arn]\n",
        )
        .unwrap_or_else(|e| panic!("{e}"));
    let (tf, _) = parsed(&mutated);
    report("queue permissions", &queue_permission_problems(&tf));
}

#[test]
fn partition_check_catches_mutations() {
    assert_caught(
        "partition",
        |tf, _| partition_problems(tf),
        &[
            m(IAM, "      values   = [\"dynamodb.${var.region}.${local.dns_suffix}\"]\n", "      values   = [\"dynamodb.${var.region}.amazonaws.com\"]\n", &[
                "aws_lambda_function.rx (terraform/lambda.tf): statement TableKeyThroughDynamoDb",
                "kms:ViaService \"dynamodb.cn-north-1.amazonaws.com\" in aws-cn",
                "dns_suffix",
            ]),
            m(
                "terraform/kms.tf",
                "Principal = { Service = \"logs.${var.region}.${local.dns_suffix}\" }",
                "Principal = { Service = \"logs.${var.region}.amazonaws.com\" }",
                &[
                    "aws_kms_key.this (terraform/kms.tf)",
                    "\"logs.cn-north-1.amazonaws.com\" in aws-cn",
                    "\"logs.cn-north-1.amazonaws.com.cn\"",
                ],
            ),
        ],
    );
}
