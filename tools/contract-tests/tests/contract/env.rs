//! Each function's environment, log format and handler.

use crate::*;

const RX: &str = "terraform/lambda.tf:aws_lambda_function.rx";
const HTTP: &str = "terraform/lambda.tf:aws_lambda_function.http";
const WORKER: &str = "terraform/lambda.tf:aws_lambda_function.worker";
const COMMANDS: &str = "terraform/lambda.tf:aws_lambda_function.commands";
const PRESENCE: &str = "terraform/lambda.tf:aws_lambda_function.presence";

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
fn each_function_starts_the_right_handler() {
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
            m(RX, "      LAMBDA_TABLE          = ", "      TABLE_NAME            = ", &[
                "aws_lambda_function.rx (terraform/lambda.tf)",
                "lacks LAMBDA_TABLE, which the rx binary reads (channels::config::RX_ENV)",
            ]),
            // http: one variable dropped.
            m(HTTP, "      PUBLISH_MAX_ATTEMPTS  = tostring(var.publish_max_attempts)\n", "", &[
                "aws_lambda_function.http (terraform/lambda.tf)",
                "lacks PUBLISH_MAX_ATTEMPTS, which the http binary reads (channels::config::HTTP_ENV)",
            ]),
            // http: one variable too many.
            m(
                HTTP,
                "      MANAGEMENT_ENDPOINT   = local.management_endpoint\n",
                "      MANAGEMENT_ENDPOINT   = local.management_endpoint\n      RUST_LOG = \"debug\"\n",
                &[
                    "aws_lambda_function.http (terraform/lambda.tf)",
                    "sets RUST_LOG, which the http binary does not read",
                    "channels::config::HTTP_ENV",
                ],
            ),
            // rx: a token variable dropped.
            m(RX, "      TOKEN_ISSUER          = local.tokens_on ? local.token_issuer : \"\"\n", "", &[
                "aws_lambda_function.rx (terraform/lambda.tf)",
                "lacks TOKEN_ISSUER, which the rx binary reads (channels::config::RX_ENV)",
            ]),
            // rx: the verifier's lifetime cap, dropped.
            m(RX, "      TOKEN_MAX_TTL_SECONDS = local.tokens_on ? tostring(var.token_max_ttl_seconds) : \"\"\n", "", &[
                "aws_lambda_function.rx (terraform/lambda.tf)",
                "lacks TOKEN_MAX_TTL_SECONDS",
            ]),
            // rx: the signing key, which only http reads.
            m(
                RX,
                "      TOKEN_ISSUERS         = local.token_issuers\n",
                "      TOKEN_ISSUERS         = local.token_issuers\n      TOKEN_SIGNING_KEY     = aws_kms_key.tokens[0].arn\n",
                &[
                    "aws_lambda_function.rx (terraform/lambda.tf)",
                    "sets TOKEN_SIGNING_KEY, which the rx binary does not read",
                ],
            ),
            // worker: the number it divides the target rate by, dropped.
            m(WORKER, "      WORKER_MAX_CONCURRENCY = tostring(var.worker_max_concurrency)\n", "", &[
                "aws_lambda_function.worker (terraform/lambda.tf)",
                "lacks WORKER_MAX_CONCURRENCY, which the worker binary reads (channels::config::WORKER_ENV)",
            ]),
            // worker: a token variable, which it does not read.
            m(
                WORKER,
                "      PUBLISH_TARGET_RATE    = tostring(var.publish_target_rate)\n",
                "      PUBLISH_TARGET_RATE    = tostring(var.publish_target_rate)\n      SUBSCRIBER_AUTH        = var.subscriber_auth\n",
                &[
                    "aws_lambda_function.worker (terraform/lambda.tf)",
                    "sets SUBSCRIBER_AUTH, which the worker binary does not read",
                    "channels::config::WORKER_ENV",
                ],
            ),
            // http: the threshold of asynchronous publishes, dropped.
            m(HTTP, "      PUBLISH_SYNC_MAX      = tostring(var.publish_sync_max)\n", "", &[
                "aws_lambda_function.http (terraform/lambda.tf)",
                "lacks PUBLISH_SYNC_MAX, which the http binary reads",
            ]),
            // commands: no history, no identity providers.
            m(COMMANDS, "      HISTORY_MAX           = tostring(var.history_max)\n", "", &[
                "aws_lambda_function.commands (terraform/lambda.tf)",
                "lacks HISTORY_MAX, which the commands binary reads (channels::config::COMMANDS_ENV)",
            ]),
            m(COMMANDS, "      TOKEN_ISSUERS         = local.token_issuers\n", "", &[
                "aws_lambda_function.commands (terraform/lambda.tf)",
                "lacks TOKEN_ISSUERS",
            ]),
            // presence: no patterns.
            m(PRESENCE, "      PRESENCE_EVENTS      = join(\",\", var.presence_events)\n", "", &[
                "aws_lambda_function.presence (terraform/lambda.tf)",
                "lacks PRESENCE_EVENTS, which the presence binary reads (channels::config::PRESENCE_ENV)",
            ]),
            // presence: a queue it never sends to.
            m(
                PRESENCE,
                "      PRESENCE_EVENTS      = join(\",\", var.presence_events)\n",
                "      PRESENCE_EVENTS      = join(\",\", var.presence_events)\n      PUBLISH_QUEUE_URL    = aws_sqs_queue.publish.url\n",
                &["aws_lambda_function.presence (terraform/lambda.tf)", "sets PUBLISH_QUEUE_URL"],
            ),
            // rx: no environment block at all.
            m(RX, "  environment {\n", "  xenvironment {\n", &[
                "aws_lambda_function.rx (terraform/lambda.tf) has 0 `environment` blocks",
                "RX_ENV",
            ]),
        ],
    );
}

#[test]
fn a_repeated_environment_variable_does_not_parse() {
    // hcl-rs refuses the file (Terraform would take the last value silently),
    // naming it.
    let mutated = sources()
        .mutated(
            RX,
            "      LAMBDA_TABLE          = aws_dynamodb_table.channels.name\n",
            "      LAMBDA_TABLE          = aws_dynamodb_table.channels.name\n      LAMBDA_TABLE = \"other\"\n",
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
                HTTP,
                "    log_format            = \"JSON\"\n",
                "    log_format            = \"Text\"\n",
                &[
                    "aws_lambda_function.http (terraform/lambda.tf)",
                    "log_format is Some(\"Text\")",
                    "AWS_LAMBDA_LOG_FORMAT=JSON",
                ],
            ),
            m(
                RX,
                "    log_format            = \"JSON\"\n",
                "",
                &[
                    "aws_lambda_function.rx (terraform/lambda.tf)",
                    "log_format is None",
                ],
            ),
            m(
                WORKER,
                "    log_format            = \"JSON\"\n",
                "    log_format            = \"Text\"\n",
                &[
                    "aws_lambda_function.worker (terraform/lambda.tf)",
                    "log_format is Some(\"Text\")",
                ],
            ),
            m(
                PRESENCE,
                "    log_format            = \"JSON\"\n",
                "",
                &[
                    "aws_lambda_function.presence (terraform/lambda.tf)",
                    "log_format is None",
                ],
            ),
        ],
    );
}

#[test]
fn handler_check_catches_mutations() {
    assert_caught(
        "handlers",
        |tf, _| handler_problems(tf),
        &[
            // The worker starts as the HTTP API handler.
            m(WORKER, "  handler       = \"worker\"\n", "  handler       = \"bootstrap\"\n", &[
                "aws_lambda_function.worker (terraform/lambda.tf): handler is Some(\"bootstrap\")",
                "http_lambda::WORKER_HANDLER = \"worker\"",
            ]),
            // http starts as the worker.
            m(HTTP, "  handler       = \"bootstrap\"\n", "  handler       = \"worker\"\n", &[
                "aws_lambda_function.http (terraform/lambda.tf): handler is Some(\"worker\")",
                "the http package's default, the HTTP API handler = \"bootstrap\"",
            ]),
            // commands answer stream records, presence answers frames.
            m(COMMANDS, "  handler       = \"commands\"\n", "  handler       = \"presence\"\n", &[
                "aws_lambda_function.commands (terraform/lambda.tf): handler is Some(\"presence\")",
                "http_lambda::COMMANDS_HANDLER = \"commands\"",
            ]),
            m(PRESENCE, "  handler       = \"presence\"\n", "  handler       = \"bootstrap\"\n", &[
                "aws_lambda_function.presence (terraform/lambda.tf): handler is Some(\"bootstrap\")",
                "http_lambda::PRESENCE_HANDLER",
            ]),
            // No worker function at all.
            m(WORKER, "resource \"aws_lambda_function\" \"worker\" {", "resource \"aws_lambda_function\" \"consumer\" {", &[
                "terraform/*.tf has no `resource \"aws_lambda_function\" \"worker\"` block",
                "WORKER_HANDLER",
            ]),
        ],
    );
}

#[test]
fn environments_fit_in_4_kb_at_the_largest_accepted_values() {
    let (tf, _) = parsed(&sources());
    report("environment size", &environment_size_problems(&tf));
    let sizes = environment_sizes(&tf).unwrap_or_else(|p| panic!("{p:#?}"));
    // The numbers, for the record (cargo test -- --nocapture).
    for (place, size) in &sizes {
        println!("environment size: {place}: {size} of {ENVIRONMENT_LIMIT} bytes");
    }
    assert_eq!(sizes.len(), 5);
}

#[test]
fn environment_size_check_catches_mutations() {
    assert_caught(
        "environment size",
        |tf, _| environment_size_problems(tf),
        &[
            // No bound on earlier keys: 30 of them pass Lambda's limit.
            m(
                "terraform/variables.tf",
                "    condition     = length(var.token_previous_public_keys) <= 10\n",
                "    condition     = length(var.token_previous_public_keys) <= 30\n",
                &[
                    "aws_lambda_function.commands (terraform/lambda.tf): its environment takes",
                    "over Lambda's 4096",
                ],
            ),
        ],
    );
}
