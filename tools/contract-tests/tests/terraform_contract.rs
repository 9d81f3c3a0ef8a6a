//! Terraform and the code must agree: `terraform/*.tf` (parsed with hcl-rs) and
//! the `Makefile` against the constants the binaries use. Each check runs on
//! the real tree (no problems) and on mutated copies of it: one targeted edit
//! of a `.tf` file or the Makefile, which the check must report, naming the
//! right thing.

use contract_tests::checks::{
    all_problems, architecture_problems, env_problems, event_source_problems, handler_problems,
    log_format_problems, package_problems, payload_format_problems, publish_queue_problems,
    query_index_problems, queue_permission_problems, route_authorization_problems, route_problems,
    table_problems, token_env_problems, token_key_problems, visibility_timeout_problems, Check,
    CHECKS,
};
use contract_tests::{Makefile, Sources, Terraform};

fn sources() -> Sources {
    Sources::load().unwrap_or_else(|e| panic!("{e}"))
}

fn parsed(sources: &Sources) -> (Terraform, Makefile) {
    let tf = sources.terraform().unwrap_or_else(|e| panic!("{e}"));
    (tf, sources.makefile())
}

fn report(check: &str, problems: &[String]) {
    assert!(
        problems.is_empty(),
        "Terraform and the code disagree ({check}):\n  - {}",
        problems.join("\n  - ")
    );
}

// ---------------------------------------------------------------------------
// The real tree
// ---------------------------------------------------------------------------

#[test]
fn every_terraform_file_parses() {
    let sources = sources();
    let (tf, _) = parsed(&sources);
    let parsed: Vec<&str> = tf.files().map(|(name, _)| name).collect();
    let read: Vec<&str> = sources.terraform.iter().map(|(n, _)| n.as_str()).collect();
    assert_eq!(parsed, read);
    for (name, body) in tf.files() {
        assert!(body.iter().next().is_some(), "{name} parsed to nothing");
    }
    // The files the checks read are among them.
    for file in [
        "lambda.tf",
        "main.tf",
        "dynamodb.tf",
        "iam.tf",
        "http_api.tf",
        "kms.tf",
        "queue.tf",
        "variables.tf",
    ] {
        assert!(
            read.contains(&format!("terraform/{file}").as_str()),
            "no terraform/{file}"
        );
    }
}

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
fn packages_are_read_where_make_writes_them() {
    let (tf, make) = parsed(&sources());
    report("packages", &package_problems(&tf, &make));
}

#[test]
fn architectures_and_default_match_the_makefile() {
    let (tf, make) = parsed(&sources());
    report("architecture", &architecture_problems(&tf, &make));
}

#[test]
fn table_matches_the_dynamodb_adapter() {
    let (tf, _) = parsed(&sources());
    report("table", &table_problems(&tf));
}

#[test]
fn http_and_worker_roles_query_the_channel_index() {
    let (tf, _) = parsed(&sources());
    report("query index", &query_index_problems(&tf));
}

#[test]
fn http_routes_match_the_handler() {
    let (tf, _) = parsed(&sources());
    report("routes", &route_problems(&tf));
}

#[test]
fn only_the_open_routes_skip_the_publish_authorization() {
    let (tf, _) = parsed(&sources());
    report("route authorization", &route_authorization_problems(&tf));
}

#[test]
fn http_integration_sends_payload_format_2_0() {
    let (tf, _) = parsed(&sources());
    report("payload format", &payload_format_problems(&tf));
}

#[test]
fn token_variables_come_from_the_stages_and_the_kms_public_key() {
    let (tf, _) = parsed(&sources());
    report("token environment", &token_env_problems(&tf));
}

#[test]
fn only_the_http_function_signs_with_the_token_key() {
    let (tf, _) = parsed(&sources());
    report("token signing key", &token_key_problems(&tf));
}

#[test]
fn the_worker_and_http_start_the_right_handler() {
    let (tf, _) = parsed(&sources());
    report("handlers", &handler_problems(&tf));
}

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
fn the_roles_may_send_to_and_receive_from_the_publish_queue() {
    let (tf, _) = parsed(&sources());
    report("queue permissions", &queue_permission_problems(&tf));
}

#[test]
fn all_checks_pass_on_the_real_tree() {
    let (tf, make) = parsed(&sources());
    report("all", &all_problems(&tf, &make));
    assert_eq!(CHECKS.len(), 16);
}

// ---------------------------------------------------------------------------
// Mutations: each check reports a targeted change of the real files
// ---------------------------------------------------------------------------

/// Replace `from` (which must occur exactly once) by `to` in `file`; the check
/// must report a problem that contains every string of `expect`.
struct Mutation {
    file: &'static str,
    from: &'static str,
    to: &'static str,
    expect: &'static [&'static str],
}

const fn m(
    file: &'static str,
    from: &'static str,
    to: &'static str,
    expect: &'static [&'static str],
) -> Mutation {
    Mutation {
        file,
        from,
        to,
        expect,
    }
}

/// Each mutation must make `check` report a problem that it does not report on
/// the real tree and that contains every string of the mutation's `expect`.
/// (The real tree's own problems are the business of the tests above; a drift
/// there does not hide what a mutation proves.)
fn assert_caught(name: &str, check: Check, mutations: &[Mutation]) {
    let base = sources();
    let (tf, make) = parsed(&base);
    let before = check(&tf, &make);
    let mut missed = Vec::new();
    for mutation in mutations {
        let mutated = base
            .mutated(mutation.file, mutation.from, mutation.to)
            .unwrap_or_else(|e| panic!("{e}"));
        let (tf, make) = parsed(&mutated);
        let problems = check(&tf, &make);
        if !problems
            .iter()
            .any(|p| !before.contains(p) && mutation.expect.iter().all(|e| p.contains(e)))
        {
            missed.push(format!(
                "{}: {:?} -> {:?}: expected a new problem with {:?}, got {problems:#?}",
                mutation.file, mutation.from, mutation.to, mutation.expect
            ));
        }
    }
    assert!(
        missed.is_empty(),
        "the {name} check missed mutations:\n{}",
        missed.join("\n")
    );
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
                "      LAMBDA_TABLE      = aws_dynamodb_table.connections.name\n",
                "      TABLE_NAME        = aws_dynamodb_table.connections.name\n",
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
                "  environment {\n    variables = {\n      LAMBDA_TABLE      = aws_dynamodb_table.connections.name\n      CHANNEL_SHARDS    = tostring(var.channel_shards)\n      SUBSCRIBER_AUTH   = var.subscriber_auth\n      TOKEN_PUBLIC_KEYS = local.token_public_keys\n      TOKEN_AUDIENCE    = local.tokens_on ? local.websocket_url : \"\"\n      TOKEN_ISSUER      = local.tokens_on ? local.http_url : \"\"\n    }\n  }\n",
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
            "      LAMBDA_TABLE      = aws_dynamodb_table.connections.name\n",
            "      LAMBDA_TABLE      = aws_dynamodb_table.connections.name\n      LAMBDA_TABLE = \"other\"\n",
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
fn package_check_catches_mutations() {
    assert_caught(
        "packages",
        package_problems,
        &[
            // The default package directory moves away from the Makefile's BUILD.
            m(
                "terraform/main.tf",
                "\"${path.module}/../build\"",
                "\"${path.module}/../dist\"",
                &[
                    "local.rx_package = Some(\"dist/rx.zip\")",
                    "terraform/main.tf",
                    "RX_ZIP = Some(\"build/rx.zip\")",
                ],
            ),
            // One package renamed in Terraform.
            m(
                "terraform/main.tf",
                "\"${local.package_dir}/http.zip\"",
                "\"${local.package_dir}/http-lambda.zip\"",
                &[
                    "local.http_package = Some(\"build/http-lambda.zip\")",
                    "HTTP_ZIP = Some(\"build/http.zip\")",
                ],
            ),
            // ... or in the Makefile.
            m(
                "Makefile",
                "RX_ZIP   := $(BUILD)/rx.zip",
                "RX_ZIP   := $(BUILD)/rx-lambda.zip",
                &[
                    "local.rx_package = Some(\"build/rx.zip\")",
                    "RX_ZIP = Some(\"build/rx-lambda.zip\")",
                ],
            ),
            // The architecture file.
            m(
                "terraform/main.tf",
                "\"${local.package_dir}/ARCH\"",
                "\"${local.package_dir}/arch.txt\"",
                &[
                    "local.arch_file = Some(\"build/arch.txt\")",
                    "terraform/main.tf",
                    "Some(\"build/ARCH\")",
                ],
            ),
            // A function deploys the other function's package.
            m(
                "terraform/lambda.tf",
                "  filename         = local.rx_package\n",
                "  filename         = local.http_package\n",
                &[
                    "aws_lambda_function.rx (terraform/lambda.tf): filename = `local.http_package`",
                    "RX_ZIP",
                    "local.rx_package",
                ],
            ),
            // A function stops redeploying when its package changes.
            m(
                "terraform/lambda.tf",
                "fileexists(local.http_package) ? filebase64sha256(local.http_package) : null\n\n  memory_size                    = var.http_memory_size",
                "null\n\n  memory_size                    = var.http_memory_size",
                &[
                    "aws_lambda_function.http (terraform/lambda.tf): source_code_hash = `null`",
                    "local.http_package",
                    "HTTP_ZIP",
                ],
            ),
            // The worker deploys rx's package (its binary has no worker) ...
            m(
                "terraform/lambda.tf",
                "  filename         = local.http_package\n  source_code_hash = fileexists(local.http_package) ? filebase64sha256(local.http_package) : null\n\n  memory_size                    = var.worker_memory_size",
                "  filename         = local.rx_package\n  source_code_hash = fileexists(local.rx_package) ? filebase64sha256(local.rx_package) : null\n\n  memory_size                    = var.worker_memory_size",
                &[
                    "aws_lambda_function.worker (terraform/lambda.tf): filename = `local.rx_package`",
                    "HTTP_ZIP",
                    "local.http_package",
                ],
            ),
            // ... or stays on an old http.zip.
            m(
                "terraform/lambda.tf",
                "fileexists(local.http_package) ? filebase64sha256(local.http_package) : null\n\n  memory_size                    = var.worker_memory_size",
                "fileexists(local.http_package) ? filebase64sha256(local.rx_package) : null\n\n  memory_size                    = var.worker_memory_size",
                &[
                    "aws_lambda_function.worker (terraform/lambda.tf): source_code_hash",
                    "does not hash local.http_package",
                ],
            ),
        ],
    );
}

#[test]
fn architecture_check_catches_mutations() {
    assert_caught(
        "architecture",
        architecture_problems,
        &[
            // Terraform accepts one architecture fewer than `make ARCH=…`.
            m(
                "terraform/variables.tf",
                "contains([\"arm64\", \"x86_64\"], coalesce(var.architecture, \"arm64\"))",
                "contains([\"arm64\"], coalesce(var.architecture, \"arm64\"))",
                &[
                    "variable \"architecture\" (terraform/variables.tf) accepts {\"arm64\"}",
                    "Makefile's ARCH accepts {\"arm64\", \"x86_64\"}",
                ],
            ),
            // The defaults differ.
            m(
                "terraform/main.tf",
                "coalesce(var.architecture, local.built_arch, \"arm64\")",
                "coalesce(var.architecture, local.built_arch, \"x86_64\")",
                &[
                    "local.architecture (terraform/main.tf)",
                    "falls back to Some(\"x86_64\")",
                    "ARCH defaults to Some(\"arm64\")",
                ],
            ),
            m(
                "Makefile",
                "ARCH  ?= arm64",
                "ARCH  ?= x86_64",
                &[
                    "falls back to Some(\"arm64\")",
                    "ARCH defaults to Some(\"x86_64\")",
                ],
            ),
        ],
    );
}

#[test]
fn table_check_catches_mutations() {
    const TF: &str = "terraform/dynamodb.tf";
    const PLACE: &str = "aws_dynamodb_table.connections (terraform/dynamodb.tf)";
    assert_caught(
        "table",
        |tf, _| table_problems(tf),
        &[
            m(
                TF,
                "  hash_key                    = \"connectionId\"",
                "  hash_key                    = \"id\"",
                &[
                    PLACE,
                    "hash_key is Some(\"id\")",
                    "TABLE_HASH_KEY is \"connectionId\"",
                ],
            ),
            m(
                TF,
                "\"PAY_PER_REQUEST\"",
                "\"PROVISIONED\"",
                &[
                    PLACE,
                    "billing_mode is Some(\"PROVISIONED\")",
                    "PAY_PER_REQUEST",
                ],
            ),
            m(
                TF,
                "    attribute_name = \"expiresAt\"",
                "    attribute_name = \"ttl\"",
                &[
                    PLACE,
                    "ttl.attribute_name is Some(\"ttl\")",
                    "TTL_ATTRIBUTE is \"expiresAt\"",
                ],
            ),
            m(
                TF,
                "    attribute_name = \"expiresAt\"\n    enabled        = true",
                "    attribute_name = \"expiresAt\"\n    enabled        = false",
                &[PLACE, "ttl.enabled is Some(\"false\")"],
            ),
            m(
                TF,
                "    name               = \"channel-shard-index\"",
                "    name               = \"by-channel\"",
                &[
                    PLACE,
                    "no global_secondary_index named \"channel-shard-index\"",
                    "CHANNEL_INDEX",
                    "by-channel",
                ],
            ),
            m(
                TF,
                "    hash_key           = \"channelShard\"",
                "    hash_key           = \"topic\"",
                &[
                    PLACE,
                    "the index's hash_key is Some(\"topic\")",
                    "INDEX_HASH_KEY",
                ],
            ),
            m(
                TF,
                "    range_key          = \"connectionId\"",
                "    range_key          = \"connectedAt\"",
                &[
                    PLACE,
                    "the index's range_key is Some(\"connectedAt\")",
                    "INDEX_RANGE_KEY",
                ],
            ),
            m(
                TF,
                "projection_type    = \"INCLUDE\"",
                "projection_type    = \"ALL\"",
                &[PLACE, "projection_type is Some(\"ALL\")", "INDEX_PROJECTED"],
            ),
            m(
                TF,
                "non_key_attributes = [\"expiresAt\"]",
                "non_key_attributes = [\"expiresAt\", \"connectedAt\"]",
                &[
                    PLACE,
                    "the index projects",
                    "connectedAt",
                    "INDEX_PROJECTED is {\"expiresAt\"}",
                ],
            ),
            m(
                TF,
                "  hash_key                    = \"connectionId\"\n",
                "  hash_key                    = \"connectionId\"\n  range_key = \"channelShard\"\n",
                &[PLACE, "has a range_key", "TABLE_HASH_KEY"],
            ),
            m(
                TF,
                "    name = \"channelShard\"\n    type = \"S\"",
                "    name = \"channelShard\"\n    type = \"N\"",
                &[
                    PLACE,
                    "attribute Some(\"channelShard\") has type Some(\"N\")",
                    "strings (S)",
                ],
            ),
            m(
                TF,
                "  attribute {\n    name = \"channelShard\"\n    type = \"S\"\n  }\n",
                "",
                &[
                    PLACE,
                    "defines attributes {\"connectionId\"}",
                    "\"channelShard\"",
                ],
            ),
        ],
    );
}

#[test]
fn query_index_check_catches_mutations() {
    assert_caught(
        "query index",
        |tf, _| query_index_problems(tf),
        &[
            m(
                "terraform/iam.tf",
                "\"${aws_dynamodb_table.connections.arn}/index/channel-shard-index\"",
                "\"${aws_dynamodb_table.connections.arn}/index/other-index\"",
                &[
                    "data.aws_iam_policy_document.http (terraform/iam.tf)",
                    "/index/other-index",
                    "CHANNEL_INDEX",
                ],
            ),
            // Query on the whole table instead of the index.
            m(
                "terraform/iam.tf",
                "\"${aws_dynamodb_table.connections.arn}/index/channel-shard-index\"",
                "aws_dynamodb_table.connections.arn",
                &[
                    "data.aws_iam_policy_document.http (terraform/iam.tf)",
                    "\"channel-shard-index\"",
                ],
            ),
            // The statement is shared: the worker's role gets the wrong index too.
            m(
                "terraform/iam.tf",
                "\"${aws_dynamodb_table.connections.arn}/index/channel-shard-index\"",
                "\"${aws_dynamodb_table.connections.arn}/index/other-index\"",
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
                "terraform/lambda.tf",
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
                "terraform/queue.tf",
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
    const TF: &str = "terraform/lambda.tf";
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
                TF,
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
                TF,
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

#[test]
fn route_check_catches_mutations() {
    assert_caught(
        "routes",
        |tf, _| route_problems(tf),
        &[
            // A route of http_lambda::ROUTES dropped.
            m(
                "terraform/http_api.tf",
                "    \"GET /channels/{channel}\"    = var.publish_authorization\n",
                "",
                &[
                    "local.http_routes (terraform/http_api.tf)",
                    "lacks \"GET /channels/{channel}\", which the handler serves",
                    "http_lambda::ROUTES",
                ],
            ),
            // A token route dropped.
            m(
                "terraform/http_api.tf",
                "    \"POST /tokens\"               = var.publish_authorization\n",
                "",
                &[
                    "local.http_routes (terraform/http_api.tf)",
                    "lacks \"POST /tokens\", which the handler serves",
                ],
            ),
            // A route the handler does not serve.
            m(
                "terraform/http_api.tf",
                "    \"$default\"                   = var.publish_authorization\n",
                "    \"$default\"                   = var.publish_authorization\n    \"DELETE /channels/{channel}\" = var.publish_authorization\n",
                &[
                    "local.http_routes (terraform/http_api.tf)",
                    "has \"DELETE /channels/{channel}\", which the handler does not serve",
                    "http_lambda::ROUTES",
                ],
            ),
            // $default dropped.
            m(
                "terraform/http_api.tf",
                "    \"$default\"                   = var.publish_authorization\n",
                "",
                &["local.http_routes (terraform/http_api.tf) lacks \"$default\""],
            ),
            // Back to a list: the authorizations are gone.
            m(
                "terraform/http_api.tf",
                "  http_routes = {\n    \"POST /\"                     = var.publish_authorization\n",
                "  http_routes = [\"POST /\"]\n  unused = {\n",
                &[
                    "local.http_routes (terraform/http_api.tf)",
                    "expected an object",
                    "to its authorization",
                ],
            ),
            // The route resource no longer iterates over the map.
            m(
                "terraform/http_api.tf",
                "  for_each = local.http_routes\n",
                "  for_each = toset([\"POST /\"])\n",
                &[
                    "aws_apigatewayv2_route.http (terraform/http_api.tf)",
                    "local.http_routes",
                ],
            ),
        ],
    );
}

#[test]
fn a_repeated_route_does_not_parse() {
    // hcl-rs refuses the file (Terraform refuses a duplicated key in an object
    // constructor too), naming it; the route check never sees the repeat.
    let mutated = sources()
        .mutated(
            "terraform/http_api.tf",
            "    \"POST /\"                     = var.publish_authorization\n",
            "    \"POST /\"                     = var.publish_authorization\n    \"POST /\" = \"NONE\"\n",
        )
        .unwrap_or_else(|e| panic!("{e}"));
    let error = mutated
        .terraform()
        .expect_err("a repeated route key must not parse");
    assert!(
        error.contains("terraform/http_api.tf") && error.contains("redefined object key"),
        "{error}"
    );
}

#[test]
fn route_authorization_check_catches_mutations() {
    const TF: &str = "terraform/http_api.tf";
    assert_caught(
        "route authorization",
        |tf, _| route_authorization_problems(tf),
        &[
            // The JWKS behind the publish authorization: verifiers cannot fetch it.
            m(
                TF,
                "    \"GET /.well-known/jwks.json\" = \"NONE\"\n",
                "    \"GET /.well-known/jwks.json\" = var.publish_authorization\n",
                &[
                    "local.http_routes (terraform/http_api.tf)",
                    "\"GET /.well-known/jwks.json\" takes `var.publish_authorization`",
                    "http_lambda::OPEN_ROUTES",
                    "\"NONE\"",
                ],
            ),
            // Minting opened to the internet.
            m(
                TF,
                "    \"POST /tokens\"               = var.publish_authorization\n",
                "    \"POST /tokens\"               = \"NONE\"\n",
                &[
                    "local.http_routes (terraform/http_api.tf)",
                    "\"POST /tokens\" takes `\"NONE\"`",
                    "only http_lambda::OPEN_ROUTES",
                    "var.publish_authorization",
                ],
            ),
            // Publishing pinned to AWS_IAM, ignoring the variable.
            m(
                TF,
                "    \"POST /\"                     = var.publish_authorization\n",
                "    \"POST /\"                     = \"AWS_IAM\"\n",
                &[
                    "\"POST /\" takes `\"AWS_IAM\"`",
                    "var.publish_authorization",
                ],
            ),
            // $default opened: unknown paths would reach the handler unsigned.
            m(
                TF,
                "    \"$default\"                   = var.publish_authorization\n",
                "    \"$default\"                   = \"NONE\"\n",
                &["\"$default\" takes `\"NONE\"`", "$default included"],
            ),
            // The resource ignores the map's authorizations.
            m(
                TF,
                "  authorization_type = each.value\n",
                "  authorization_type = var.publish_authorization\n",
                &[
                    "aws_apigatewayv2_route.http (terraform/http_api.tf)",
                    "authorization_type = `var.publish_authorization`",
                    "each.value",
                ],
            ),
        ],
    );
}

#[test]
fn token_env_check_catches_mutations() {
    const TF: &str = "terraform/lambda.tf";
    assert_caught(
        "token environment",
        |tf, _| token_env_problems(tf),
        &[
            // rx checks tokens against the wrong audience.
            m(
                TF,
                "      TOKEN_AUDIENCE    = local.tokens_on ? local.websocket_url : \"\"\n",
                "      TOKEN_AUDIENCE    = local.tokens_on ? local.http_url : \"\"\n",
                &[
                    "aws_lambda_function.rx (terraform/lambda.tf)",
                    "TOKEN_AUDIENCE = `local.tokens_on ? local.http_url : \"\"`",
                    "local.websocket_url",
                ],
            ),
            // http mints with the wrong issuer.
            m(
                TF,
                "      TOKEN_ISSUER          = local.tokens_on ? local.http_url : \"\"\n",
                "      TOKEN_ISSUER          = local.tokens_on ? local.websocket_url : \"\"\n",
                &[
                    "aws_lambda_function.http (terraform/lambda.tf)",
                    "TOKEN_ISSUER",
                    "local.http_url",
                ],
            ),
            // The audience set only when tokens are off.
            m(
                TF,
                "      TOKEN_AUDIENCE        = local.tokens_on ? local.websocket_url : \"\"\n",
                "      TOKEN_AUDIENCE        = var.subscriber_auth == \"none\" ? local.websocket_url : \"\"\n",
                &[
                    "aws_lambda_function.http (terraform/lambda.tf)",
                    "TOKEN_AUDIENCE",
                    "local.websocket_url",
                ],
            ),
            // rx gets no public key.
            m(
                TF,
                "      TOKEN_PUBLIC_KEYS = local.token_public_keys\n",
                "      TOKEN_PUBLIC_KEYS = \"\"\n",
                &[
                    "aws_lambda_function.rx (terraform/lambda.tf)",
                    "TOKEN_PUBLIC_KEYS = `\"\"`",
                    "data.aws_kms_public_key",
                ],
            ),
            // The keys no longer come from KMS (both functions read the local).
            m(
                "terraform/main.tf",
                "    [data.aws_kms_public_key.tokens[0].public_key],\n",
                "    [],\n",
                &[
                    "aws_lambda_function.http (terraform/lambda.tf)",
                    "TOKEN_PUBLIC_KEYS = `local.token_public_keys`",
                    "data.aws_kms_public_key",
                ],
            ),
            // Inverted: public keys only when tokens are off.
            m(
                "terraform/main.tf",
                "  token_public_keys = local.tokens_on ? join(",
                "  token_public_keys = !local.tokens_on ? join(",
                &["aws_lambda_function.rx (terraform/lambda.tf)", "TOKEN_PUBLIC_KEYS"],
            ),
        ],
    );
}

#[test]
fn token_key_check_catches_mutations() {
    const KMS: &str = "terraform/kms.tf";
    const PLACE: &str = "aws_kms_key.tokens (terraform/kms.tf)";
    assert_caught(
        "token signing key",
        |tf, _| token_key_problems(tf),
        &[
            // An encryption key cannot sign.
            m(
                KMS,
                "  key_usage                = \"SIGN_VERIFY\"\n",
                "  key_usage                = \"ENCRYPT_DECRYPT\"\n",
                &[PLACE, "key_usage is Some(\"ENCRYPT_DECRYPT\")", "\"SIGN_VERIFY\""],
            ),
            // An RSA key does not make ES256 signatures.
            m(
                KMS,
                "\"ECC_NIST_P256\"",
                "\"RSA_2048\"",
                &[PLACE, "customer_master_key_spec is Some(\"RSA_2048\")", "ES256"],
            ),
            // The public key read from another key than the one that signs.
            m(
                KMS,
                "  key_id = aws_kms_key.tokens[0].arn\n",
                "  key_id = aws_kms_key.this.arn\n",
                &[
                    "TOKEN_PUBLIC_KEYS holds data.aws_kms_public_key.tokens (terraform/kms.tf)",
                    "key_id = `aws_kms_key.this.arn`",
                    "not the signing key aws_kms_key.tokens",
                ],
            ),
            // http signs with something that is not a KMS key of this configuration.
            m(
                "terraform/lambda.tf",
                "local.tokens_on ? aws_kms_key.tokens[0].arn : \"\"",
                "local.tokens_on ? aws_kms_alias.tokens[0].arn : \"\"",
                &[
                    "aws_lambda_function.http (terraform/lambda.tf)",
                    "TOKEN_SIGNING_KEY = `local.tokens_on ? aws_kms_alias.tokens[0].arn : \"\"`",
                    "does not name an aws_kms_key",
                ],
            ),
            // rx's role signs instead.
            m(
                KMS,
                "        Principal = { AWS = aws_iam_role.http.arn }\n",
                "        Principal = { AWS = aws_iam_role.rx.arn }\n",
                &[
                    PLACE,
                    "statement OnlyHttpFunctionSigns lets `{ AWS = aws_iam_role.rx.arn }` kms:Sign",
                    "only the http function's role (aws_iam_role.http.arn)",
                ],
            ),
            // The account may sign too (and so any IAM principal it allows).
            m(
                KMS,
                "          \"kms:DescribeKey\",\n",
                "          \"kms:DescribeKey\",\n          \"kms:Sign\",\n",
                &[
                    PLACE,
                    "statement AccountAdministersAndReadsPublicKey lets",
                    ":root",
                    "only the http function's role",
                ],
            ),
            // ... or through a wildcard.
            m(
                KMS,
                "          \"kms:DescribeKey\",\n",
                "          \"kms:*\",\n",
                &[PLACE, "statement AccountAdministersAndReadsPublicKey lets", "kms:*"],
            ),
            // Any algorithm.
            m(
                KMS,
                "            \"kms:SigningAlgorithm\" = \"ECDSA_SHA_256\"\n",
                "            \"kms:SigningAlgorithm\" = [\"ECDSA_SHA_256\", \"ECDSA_SHA_384\"]\n",
                &[
                    PLACE,
                    "statement OnlyHttpFunctionSigns lets aws_iam_role.http.arn kms:Sign with kms:SigningAlgorithm",
                    "ECDSA_SHA_384",
                    "ECDSA_SHA_256 only",
                ],
            ),
            // Nobody may sign: minting fails.
            m(
                KMS,
                "        Action    = \"kms:Sign\"\n",
                "        Action    = \"kms:Verify\"\n",
                &[
                    PLACE,
                    "no statement of its policy lets the http function's role (aws_iam_role.http.arn) kms:Sign",
                ],
            ),
        ],
    );
}

#[test]
fn payload_format_check_catches_mutations() {
    assert_caught(
        "payload format",
        |tf, _| payload_format_problems(tf),
        &[m(
            "terraform/http_api.tf",
            "payload_format_version = \"2.0\"",
            "payload_format_version = \"1.0\"",
            &[
                "aws_apigatewayv2_integration.http (terraform/http_api.tf)",
                "payload_format_version is Some(\"1.0\")",
                "2.0",
            ],
        )],
    );
}

#[test]
fn a_missing_block_is_a_problem_not_a_panic() {
    // Renaming the rx function: every check that reads it says so.
    let mutated = sources()
        .mutated(
            "terraform/lambda.tf",
            "resource \"aws_lambda_function\" \"rx\" {",
            "resource \"aws_lambda_function\" \"relay\" {",
        )
        .unwrap_or_else(|e| panic!("{e}"));
    let (tf, make) = parsed(&mutated);
    for (name, check) in [
        ("environment", (|tf, _| env_problems(tf)) as Check),
        ("log format", |tf, _| log_format_problems(tf)),
        ("packages", package_problems),
        ("token environment", |tf, _| token_env_problems(tf)),
    ] {
        let problems = check(&tf, &make);
        assert!(
            problems.iter().any(|p| p
                .contains("terraform/*.tf has no `resource \"aws_lambda_function\" \"rx\"` block")),
            "{name}: {problems:#?}"
        );
    }
}

#[test]
fn a_mutation_that_does_not_apply_is_an_error() {
    let error = sources()
        .mutated("terraform/lambda.tf", "no such text", "x")
        .expect_err("must fail");
    assert!(error.contains("0 times"), "{error}");
}
