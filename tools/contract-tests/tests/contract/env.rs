//! Each function's environment, log format and handler.

use crate::*;

#[test]
fn lambda_environment_is_exactly_what_the_binaries_read() {
    let (tf, _) = parsed(&sources());
    report("environment", &env_problems(&tf));
}

#[test]
fn functions_log_json() {
    let (tf, _) = parsed(&sources());
    report("log format", &log_format_problems(&tf));
}

#[test]
fn the_worker_and_http_start_the_right_handler() {
    let (tf, _) = parsed(&sources());
    report("handlers", &handler_problems(&tf));
}

#[test]
fn env_check_catches_mutations() {
    assert_caught(
        "environment",
        |tf, _| env_problems(tf),
        &[
            // rx: LAMBDA_TABLE renamed.
            m(
                "terraform/lambda.tf",
                "      LAMBDA_TABLE      = aws_dynamodb_table.channels.name\n",
                "      TABLE_NAME        = aws_dynamodb_table.channels.name\n",
                &[
                    "aws_lambda_function.rx (terraform/lambda.tf)",
                    "lacks LAMBDA_TABLE, which the rx binary reads (channels::config::RX_ENV)",
                ],
            ),
            // http: one variable dropped.
            m(
                "terraform/lambda.tf",
                "      PUBLISH_MAX_ATTEMPTS  = tostring(var.publish_max_attempts)\n",
                "",
                &[
                    "aws_lambda_function.http (terraform/lambda.tf)",
                    "lacks PUBLISH_MAX_ATTEMPTS, which the http binary reads (channels::config::HTTP_ENV)",
                ],
            ),
            // http: one variable too many.
            m(
                "terraform/lambda.tf",
                "      MANAGEMENT_ENDPOINT   = local.management_endpoint\n",
                "      MANAGEMENT_ENDPOINT   = local.management_endpoint\n      RUST_LOG = \"debug\"\n",
                &[
                    "aws_lambda_function.http (terraform/lambda.tf)",
                    "sets RUST_LOG, which the http binary does not read",
                    "channels::config::HTTP_ENV",
                ],
            ),
            // rx: a token variable dropped.
            m(
                "terraform/lambda.tf",
                "      TOKEN_ISSUER      = local.tokens_on ? local.http_url : \"\"\n",
                "",
                &[
                    "aws_lambda_function.rx (terraform/lambda.tf)",
                    "lacks TOKEN_ISSUER, which the rx binary reads (channels::config::RX_ENV)",
                ],
            ),
            // rx: the signing key, which only http reads.
            m(
                "terraform/lambda.tf",
                "      TOKEN_ISSUER      = local.tokens_on ? local.http_url : \"\"\n",
                "      TOKEN_ISSUER      = local.tokens_on ? local.http_url : \"\"\n      TOKEN_SIGNING_KEY = aws_kms_key.tokens[0].arn\n",
                &[
                    "aws_lambda_function.rx (terraform/lambda.tf)",
                    "sets TOKEN_SIGNING_KEY, which the rx binary does not read",
                ],
            ),
            // worker: the number it divides the target rate by, dropped.
            m(
                "terraform/lambda.tf",
                "      WORKER_MAX_CONCURRENCY = tostring(var.worker_max_concurrency)\n",
                "",
                &[
                    "aws_lambda_function.worker (terraform/lambda.tf)",
                    "lacks WORKER_MAX_CONCURRENCY, which the worker binary reads (channels::config::WORKER_ENV)",
                ],
            ),
            // worker: a token variable, which it does not read.
            m(
                "terraform/lambda.tf",
                "      PUBLISH_TARGET_RATE    = tostring(var.publish_target_rate)\n",
                "      PUBLISH_TARGET_RATE    = tostring(var.publish_target_rate)\n      SUBSCRIBER_AUTH        = var.subscriber_auth\n",
                &[
                    "aws_lambda_function.worker (terraform/lambda.tf)",
                    "sets SUBSCRIBER_AUTH, which the worker binary does not read",
                    "channels::config::WORKER_ENV",
                ],
            ),
            // http: the threshold of asynchronous publishes, dropped.
            m(
                "terraform/lambda.tf",
                "      PUBLISH_SYNC_MAX      = tostring(var.publish_sync_max)\n",
                "",
                &[
                    "aws_lambda_function.http (terraform/lambda.tf)",
                    "lacks PUBLISH_SYNC_MAX, which the http binary reads",
                ],
            ),
            // rx: no environment block at all.
            m(
                "terraform/lambda.tf",
                "  environment {\n    variables = {\n      LAMBDA_TABLE      = aws_dynamodb_table.channels.name\n      CHANNEL_SHARDS    = tostring(var.channel_shards)\n      SUBSCRIBER_AUTH   = var.subscriber_auth\n      TOKEN_PUBLIC_KEYS = local.token_public_keys\n      TOKEN_AUDIENCE    = local.tokens_on ? local.websocket_url : \"\"\n      TOKEN_ISSUER      = local.tokens_on ? local.http_url : \"\"\n    }\n  }\n",
                "",
                &[
                    "aws_lambda_function.rx (terraform/lambda.tf) has 0 `environment` blocks",
                    "RX_ENV",
                ],
            ),
        ],
    );
}

#[test]
fn a_repeated_environment_variable_does_not_parse() {
    // The old hand-written reader reported a key set twice; hcl-rs refuses the
    // file (Terraform would take the last value silently), naming it.
    let mutated = sources()
        .mutated(
            "terraform/lambda.tf",
            "      LAMBDA_TABLE      = aws_dynamodb_table.channels.name\n",
            "      LAMBDA_TABLE      = aws_dynamodb_table.channels.name\n      LAMBDA_TABLE = \"other\"\n",
        )
        .unwrap_or_else(|e| panic!("{e}"));
    let error = mutated
        .terraform()
        .expect_err("a repeated key must not parse");
    assert!(
        error.contains("terraform/lambda.tf") && error.contains("redefined object key"),
        "{error}"
    );
}

#[test]
fn log_format_check_catches_mutations() {
    assert_caught(
        "log format",
        |tf, _| log_format_problems(tf),
        &[
            m(
                "terraform/lambda.tf",
                "    log_format            = \"JSON\"\n    log_group             = aws_cloudwatch_log_group.http.name\n",
                "    log_format            = \"Text\"\n    log_group             = aws_cloudwatch_log_group.http.name\n",
                &[
                    "aws_lambda_function.http (terraform/lambda.tf)",
                    "log_format is Some(\"Text\")",
                    "AWS_LAMBDA_LOG_FORMAT=JSON",
                ],
            ),
            m(
                "terraform/lambda.tf",
                "    log_format            = \"JSON\"\n    log_group             = aws_cloudwatch_log_group.rx.name\n",
                "    log_group             = aws_cloudwatch_log_group.rx.name\n",
                &["aws_lambda_function.rx (terraform/lambda.tf)", "log_format is None"],
            ),
            m(
                "terraform/lambda.tf",
                "    log_format            = \"JSON\"\n    log_group             = aws_cloudwatch_log_group.worker.name\n",
                "    log_format            = \"Text\"\n    log_group             = aws_cloudwatch_log_group.worker.name\n",
                &[
                    "aws_lambda_function.worker (terraform/lambda.tf)",
                    "log_format is Some(\"Text\")",
                ],
            ),
        ],
    );
}

#[test]
fn handler_check_catches_mutations() {
    const TF: &str = "terraform/lambda.tf";
    assert_caught(
        "handlers",
        |tf, _| handler_problems(tf),
        &[
            // The worker starts as the HTTP API handler.
            m(
                TF,
                "  handler       = \"worker\"\n",
                "  handler       = \"bootstrap\"\n",
                &[
                    "aws_lambda_function.worker (terraform/lambda.tf): handler is Some(\"bootstrap\")",
                    "http_lambda::WORKER_HANDLER = \"worker\"",
                ],
            ),
            // http starts as the worker.
            m(
                TF,
                "  handler       = \"bootstrap\"\n  architectures = [local.architecture]\n\n  filename         = local.http_package\n",
                "  handler       = \"worker\"\n  architectures = [local.architecture]\n\n  filename         = local.http_package\n",
                &[
                    "aws_lambda_function.http (terraform/lambda.tf): handler is Some(\"worker\")",
                    "http_lambda::WORKER_HANDLER",
                    "not as the HTTP API handler",
                ],
            ),
            // No worker function at all.
            m(
                TF,
                "resource \"aws_lambda_function\" \"worker\" {",
                "resource \"aws_lambda_function\" \"consumer\" {",
                &[
                    "terraform/*.tf has no `resource \"aws_lambda_function\" \"worker\"` block",
                    "WORKER_HANDLER",
                ],
            ),
        ],
    );
}
