# Every function runs the `bootstrap` binary that `make` packs into a zip, on
# provided.al2023: rx its own rx.zip; http, the worker, commands and presence
# the same http.zip, which Lambda starts as the function its `handler` names
# (passed to the binary as _HANDLER: http_lambda::WORKER_HANDLER,
# COMMANDS_HANDLER, PRESENCE_HANDLER; "bootstrap" runs the HTTP API handler).
# Each `environment` holds exactly the variables its binary reads
# (channels::config::RX_ENV, HTTP_ENV, WORKER_ENV, COMMANDS_ENV, PRESENCE_ENV;
# checked by the contract tests, tools/contract-tests). Logs are JSON
# (logging_config): the runtime sets AWS_LAMBDA_LOG_FORMAT and
# AWS_LAMBDA_LOG_LEVEL itself.
#
# Subscriber tokens: rx, http and commands verify them with the same
# TOKEN_PUBLIC_KEYS (the KMS signing key's public key, read at deploy time,
# then earlier keys), TOKEN_AUDIENCE and TOKEN_ISSUER (the deployment's fixed
# identity, tokens.tf: not its URLs, which a custom domain changes); rx and commands also
# accept the identity providers of TOKEN_ISSUERS, and all three cap a token's
# lifetime at TOKEN_MAX_TTL_SECONDS. With subscriber_auth = "none" the TOKEN_*
# values are empty strings, which the binaries ignore then; the keys stay, so
# each set is always its binary's list. The worker and presence only deliver.

resource "aws_cloudwatch_log_group" "function" {
  #checkov:skip=CKV_AWS_338:Retention is var.log_retention_days (default 30): operational logs of a stateless relay; set 365+ where a policy asks for a year.
  for_each = local.function_log_groups

  name              = each.value
  retention_in_days = var.log_retention_days
  kms_key_id        = aws_kms_key.this.arn
}

moved {
  from = aws_cloudwatch_log_group.rx
  to   = aws_cloudwatch_log_group.function["rx"]
}

moved {
  from = aws_cloudwatch_log_group.http
  to   = aws_cloudwatch_log_group.function["http"]
}

moved {
  from = aws_cloudwatch_log_group.worker
  to   = aws_cloudwatch_log_group.function["worker"]
}

resource "aws_lambda_function" "rx" {
  #checkov:skip=CKV_AWS_116:Invoked synchronously by API Gateway only; a dead-letter queue applies to asynchronous invocations.
  #checkov:skip=CKV_AWS_117:Calls only public AWS endpoints (DynamoDB); a VPC would add NAT or endpoint costs and cold-start latency and protect nothing.
  #checkov:skip=CKV_AWS_272:The package is built locally by make and deployed from a file; there is no signing profile in this pipeline.
  #checkov:skip=CKV_AWS_115:var.rx_reserved_concurrency sets it; default -1 because fresh accounts can have a quota of 10, from which nothing can be reserved.
  function_name = local.rx_function_name
  description   = "WebSocket $connect/$disconnect/$default: check the subscriber token, store, remove, echo"
  role          = aws_iam_role.rx.arn
  runtime       = "provided.al2023"
  handler       = "bootstrap"
  architectures = [local.architecture]

  filename         = local.rx_package
  source_code_hash = fileexists(local.rx_package) ? filebase64sha256(local.rx_package) : null

  memory_size                    = var.rx_memory_size
  timeout                        = var.rx_timeout
  reserved_concurrent_executions = var.rx_reserved_concurrency
  kms_key_arn                    = aws_kms_key.this.arn

  environment {
    variables = {
      LAMBDA_TABLE          = aws_dynamodb_table.channels.name
      CHANNEL_SHARDS        = tostring(var.channel_shards)
      SUBSCRIBER_AUTH       = var.subscriber_auth
      TOKEN_PUBLIC_KEYS     = local.token_public_keys
      TOKEN_AUDIENCE        = local.tokens_on ? local.token_audience : ""
      TOKEN_ISSUER          = local.tokens_on ? local.token_issuer : ""
      TOKEN_ISSUERS         = local.token_issuers
      TOKEN_MAX_TTL_SECONDS = local.tokens_on ? tostring(var.token_max_ttl_seconds) : ""
    }
  }

  logging_config {
    log_format            = "JSON"
    log_group             = aws_cloudwatch_log_group.function["rx"].name
    application_log_level = var.log_level
    system_log_level      = var.system_log_level
  }

  tracing_config {
    mode = var.tracing_mode
  }

  lifecycle {
    precondition {
      condition     = fileexists(local.rx_package)
      error_message = "${local.rx_package} does not exist: run `make` (or `make ARCH=x86_64`) in the repository root first, or set package_dir."
    }
    precondition {
      condition     = contains(["arm64", "x86_64"], local.architecture)
      error_message = "${local.arch_file} says '${coalesce(local.built_arch, "?")}'; it must be arm64 or x86_64."
    }
    precondition {
      condition     = local.built_arch == null || local.built_arch == local.architecture
      error_message = "The packages were built for ${coalesce(local.built_arch, "?")} (${local.arch_file}) but architecture is ${local.architecture}: run `make ARCH=${local.architecture}` or drop the architecture variable."
    }
  }

  depends_on = [aws_iam_role_policy.rx]
}

resource "aws_lambda_function" "http" {
  #checkov:skip=CKV_AWS_116:Invoked synchronously by the HTTP API only; a dead-letter queue applies to asynchronous invocations.
  #checkov:skip=CKV_AWS_117:Calls only public AWS endpoints (DynamoDB, the @connections API, SQS, KMS); a VPC would add NAT or endpoint costs and protect nothing.
  #checkov:skip=CKV_AWS_272:The package is built locally by make and deployed from a file; there is no signing profile in this pipeline.
  #checkov:skip=CKV_AWS_115:var.http_reserved_concurrency sets it; default -1 because fresh accounts can have a quota of 10, from which nothing can be reserved.
  function_name = local.http_function_name
  description   = "HTTP API: publish to a channel (a big one through the publish queue), count it, its history and presence, mint subscriber tokens"
  role          = aws_iam_role.http.arn
  runtime       = "provided.al2023"
  handler       = "bootstrap"
  architectures = [local.architecture]

  filename         = local.http_package
  source_code_hash = fileexists(local.http_package) ? filebase64sha256(local.http_package) : null

  memory_size                    = var.http_memory_size
  timeout                        = var.http_timeout
  reserved_concurrent_executions = var.http_reserved_concurrency
  kms_key_arn                    = aws_kms_key.this.arn

  environment {
    variables = {
      LAMBDA_TABLE          = aws_dynamodb_table.channels.name
      CHANNEL_SHARDS        = tostring(var.channel_shards)
      MANAGEMENT_ENDPOINT   = local.management_endpoint
      PUBLISH_CONCURRENCY   = tostring(var.publish_concurrency)
      PUBLISH_MAX_ATTEMPTS  = tostring(var.publish_max_attempts)
      PUBLISH_QUEUE_URL     = aws_sqs_queue.publish.url
      PUBLISH_SYNC_MAX      = tostring(var.publish_sync_max)
      SUBSCRIBER_AUTH       = var.subscriber_auth
      TOKEN_PUBLIC_KEYS     = local.token_public_keys
      TOKEN_AUDIENCE        = local.tokens_on ? local.token_audience : ""
      TOKEN_ISSUER          = local.tokens_on ? local.token_issuer : ""
      TOKEN_SIGNING_KEY     = local.tokens_on ? aws_kms_key.tokens[0].arn : ""
      TOKEN_MAX_TTL_SECONDS = local.tokens_on ? tostring(var.token_max_ttl_seconds) : ""
      HISTORY_TTL_SECONDS   = tostring(var.history_ttl_seconds)
      HISTORY_MAX           = tostring(var.history_max)
    }
  }

  logging_config {
    log_format            = "JSON"
    log_group             = aws_cloudwatch_log_group.function["http"].name
    application_log_level = var.log_level
    system_log_level      = var.system_log_level
  }

  tracing_config {
    mode = var.tracing_mode
  }

  lifecycle {
    precondition {
      condition     = fileexists(local.http_package)
      error_message = "${local.http_package} does not exist: run `make` (or `make ARCH=x86_64`) in the repository root first, or set package_dir."
    }
  }

  depends_on = [aws_iam_role_policy.http]
}

# The publish queue's consumer: the http package with the handler "worker",
# its own function and role. Each invocation delivers a batch of shard jobs
# page by page, paced at var.publish_target_rate / var.worker_max_concurrency
# posts a second, and hands the rest of a shard on (a new message) before its
# deadline; it answers the jobs to retry (ReportBatchItemFailures).
resource "aws_lambda_function" "worker" {
  #checkov:skip=CKV_AWS_116:Invoked synchronously by the SQS event source mapping only; a function dead-letter queue applies to asynchronous invocations. Jobs that keep failing go to the publish queue's own dead-letter queue (queue.tf: redrive_policy).
  #checkov:skip=CKV_AWS_117:Calls only public AWS endpoints (DynamoDB, the @connections API, SQS); a VPC would add NAT or endpoint costs and cold-start latency and protect nothing.
  #checkov:skip=CKV_AWS_272:The package is built locally by make and deployed from a file; there is no signing profile in this pipeline.
  #checkov:skip=CKV_AWS_115:var.worker_reserved_concurrency sets it; default -1 because fresh accounts can have a quota of 10, from which nothing can be reserved. The event source mapping's maximum concurrency (var.worker_max_concurrency) caps the workers either way.
  function_name = local.worker_function_name
  description   = "Publish queue worker: delivers the shards of big publishes, page by page, at a shared target rate"
  role          = aws_iam_role.worker.arn
  runtime       = "provided.al2023"
  # http_lambda::WORKER_HANDLER: Lambda passes it to the binary as _HANDLER.
  handler       = "worker"
  architectures = [local.architecture]

  filename         = local.http_package
  source_code_hash = fileexists(local.http_package) ? filebase64sha256(local.http_package) : null

  memory_size                    = var.worker_memory_size
  timeout                        = var.worker_timeout
  reserved_concurrent_executions = var.worker_reserved_concurrency
  kms_key_arn                    = aws_kms_key.this.arn

  environment {
    variables = {
      LAMBDA_TABLE           = aws_dynamodb_table.channels.name
      CHANNEL_SHARDS         = tostring(var.channel_shards)
      MANAGEMENT_ENDPOINT    = local.management_endpoint
      PUBLISH_QUEUE_URL      = aws_sqs_queue.publish.url
      PUBLISH_CONCURRENCY    = tostring(var.publish_concurrency)
      PUBLISH_MAX_ATTEMPTS   = tostring(var.publish_max_attempts)
      PUBLISH_TARGET_RATE    = tostring(var.publish_target_rate)
      WORKER_MAX_CONCURRENCY = tostring(var.worker_max_concurrency)
    }
  }

  logging_config {
    log_format            = "JSON"
    log_group             = aws_cloudwatch_log_group.function["worker"].name
    application_log_level = var.log_level
    system_log_level      = var.system_log_level
  }

  tracing_config {
    mode = var.tracing_mode
  }

  lifecycle {
    precondition {
      condition     = fileexists(local.http_package)
      error_message = "${local.http_package} does not exist: run `make` (or `make ARCH=x86_64`) in the repository root first, or set package_dir."
    }
    precondition {
      condition     = var.worker_reserved_concurrency == -1 || var.worker_reserved_concurrency >= var.worker_max_concurrency
      error_message = "worker_reserved_concurrency (${var.worker_reserved_concurrency}) is below worker_max_concurrency (${var.worker_max_concurrency}): the event source mapping would start workers Lambda throttles, and each throttled batch counts as a receive toward the dead-letter queue. Raise it, or leave it -1."
    }
  }

  depends_on = [aws_iam_role_policy.worker]
}

# The WebSocket API's command routes (http_lambda::COMMAND_ROUTES: subscribe,
# unsubscribe, publish, presence; websocket.tf): the http package with the
# handler "commands". Each frame is one invocation; the function's answer is
# the reply to its sender (the routes are two-way).
resource "aws_lambda_function" "commands" {
  #checkov:skip=CKV_AWS_116:Invoked synchronously by the WebSocket API only; a dead-letter queue applies to asynchronous invocations.
  #checkov:skip=CKV_AWS_117:Calls only public AWS endpoints (DynamoDB, the @connections API, SQS); a VPC would add NAT or endpoint costs and cold-start latency and protect nothing.
  #checkov:skip=CKV_AWS_272:The package is built locally by make and deployed from a file; there is no signing profile in this pipeline.
  #checkov:skip=CKV_AWS_115:var.commands_reserved_concurrency sets it; default -1 because fresh accounts can have a quota of 10, from which nothing can be reserved.
  function_name = local.commands_function_name
  description   = "WebSocket commands of lrw.v1 connections: subscribe (with recovery), unsubscribe, publish, presence"
  role          = aws_iam_role.commands.arn
  runtime       = "provided.al2023"
  # http_lambda::COMMANDS_HANDLER.
  handler       = "commands"
  architectures = [local.architecture]

  filename         = local.http_package
  source_code_hash = fileexists(local.http_package) ? filebase64sha256(local.http_package) : null

  memory_size                    = var.commands_memory_size
  timeout                        = var.commands_timeout
  reserved_concurrent_executions = var.commands_reserved_concurrency
  kms_key_arn                    = aws_kms_key.this.arn

  environment {
    variables = {
      LAMBDA_TABLE          = aws_dynamodb_table.channels.name
      CHANNEL_SHARDS        = tostring(var.channel_shards)
      MANAGEMENT_ENDPOINT   = local.management_endpoint
      PUBLISH_CONCURRENCY   = tostring(var.publish_concurrency)
      PUBLISH_MAX_ATTEMPTS  = tostring(var.publish_max_attempts)
      PUBLISH_QUEUE_URL     = aws_sqs_queue.publish.url
      PUBLISH_SYNC_MAX      = tostring(var.publish_sync_max)
      SUBSCRIBER_AUTH       = var.subscriber_auth
      TOKEN_PUBLIC_KEYS     = local.token_public_keys
      TOKEN_AUDIENCE        = local.tokens_on ? local.token_audience : ""
      TOKEN_ISSUER          = local.tokens_on ? local.token_issuer : ""
      TOKEN_ISSUERS         = local.token_issuers
      TOKEN_MAX_TTL_SECONDS = local.tokens_on ? tostring(var.token_max_ttl_seconds) : ""
      HISTORY_TTL_SECONDS   = tostring(var.history_ttl_seconds)
      HISTORY_MAX           = tostring(var.history_max)
    }
  }

  logging_config {
    log_format            = "JSON"
    log_group             = aws_cloudwatch_log_group.function["commands"].name
    application_log_level = var.log_level
    system_log_level      = var.system_log_level
  }

  tracing_config {
    mode = var.tracing_mode
  }

  lifecycle {
    precondition {
      condition     = fileexists(local.http_package)
      error_message = "${local.http_package} does not exist: run `make` (or `make ARCH=x86_64`) in the repository root first, or set package_dir."
    }
  }

  depends_on = [aws_iam_role_policy.commands]
}

# Join and leave events from the table's stream (dynamodb.tf): the http
# package with the handler "presence". It exists whatever var.presence_events
# says (idle, it costs nothing); only its event source mapping below is
# created when some channel pattern asks for events.
resource "aws_lambda_function" "presence" {
  #checkov:skip=CKV_AWS_116:Invoked synchronously by the stream's event source mapping only; a function dead-letter queue applies to asynchronous invocations. Batches that keep failing are recorded by the mapping's on-failure destination (queue.tf: presence_dlq).
  #checkov:skip=CKV_AWS_117:Calls only public AWS endpoints (DynamoDB, the @connections API); a VPC would add NAT or endpoint costs and cold-start latency and protect nothing.
  #checkov:skip=CKV_AWS_272:The package is built locally by make and deployed from a file; there is no signing profile in this pipeline.
  #checkov:skip=CKV_AWS_115:var.presence_reserved_concurrency sets it; default -1 because fresh accounts can have a quota of 10, from which nothing can be reserved. The stream's shards bound its concurrency (one invocation per shard at a time).
  function_name = local.presence_function_name
  description   = "Presence: join and leave events for the channels of presence_events, from the table's stream"
  role          = aws_iam_role.presence.arn
  runtime       = "provided.al2023"
  # http_lambda::PRESENCE_HANDLER.
  handler       = "presence"
  architectures = [local.architecture]

  filename         = local.http_package
  source_code_hash = fileexists(local.http_package) ? filebase64sha256(local.http_package) : null

  memory_size                    = var.presence_memory_size
  timeout                        = var.presence_timeout
  reserved_concurrent_executions = var.presence_reserved_concurrency
  kms_key_arn                    = aws_kms_key.this.arn

  environment {
    variables = {
      LAMBDA_TABLE         = aws_dynamodb_table.channels.name
      CHANNEL_SHARDS       = tostring(var.channel_shards)
      MANAGEMENT_ENDPOINT  = local.management_endpoint
      PUBLISH_CONCURRENCY  = tostring(var.publish_concurrency)
      PUBLISH_MAX_ATTEMPTS = tostring(var.publish_max_attempts)
      PUBLISH_SYNC_MAX     = tostring(var.publish_sync_max)
      PRESENCE_EVENTS      = join(",", var.presence_events)
    }
  }

  logging_config {
    log_format            = "JSON"
    log_group             = aws_cloudwatch_log_group.function["presence"].name
    application_log_level = var.log_level
    system_log_level      = var.system_log_level
  }

  tracing_config {
    mode = var.tracing_mode
  }

  lifecycle {
    precondition {
      condition     = fileexists(local.http_package)
      error_message = "${local.http_package} does not exist: run `make` (or `make ARCH=x86_64`) in the repository root first, or set package_dir."
    }
  }

  depends_on = [aws_iam_role_policy.presence]
}

# API Gateway may invoke each function only from its own API and stage.
resource "aws_lambda_permission" "rx_websocket" {
  statement_id  = "AllowWebSocketApiStage"
  action        = "lambda:InvokeFunction"
  function_name = aws_lambda_function.rx.function_name
  principal     = "apigateway.amazonaws.com"
  source_arn    = "${aws_apigatewayv2_api.websocket.execution_arn}/${var.stage_name}/*"
}

resource "aws_lambda_permission" "commands_websocket" {
  statement_id  = "AllowWebSocketApiStage"
  action        = "lambda:InvokeFunction"
  function_name = aws_lambda_function.commands.function_name
  principal     = "apigateway.amazonaws.com"
  source_arn    = "${aws_apigatewayv2_api.websocket.execution_arn}/${var.stage_name}/*"
}

resource "aws_lambda_permission" "http_api" {
  statement_id  = "AllowHttpApiStage"
  action        = "lambda:InvokeFunction"
  function_name = aws_lambda_function.http.function_name
  principal     = "apigateway.amazonaws.com"
  source_arn    = "${aws_apigatewayv2_api.http.execution_arn}/${var.stage_name}/*"
}

# The publish queue invokes the worker (with the worker role's permission to
# receive and delete, iam.tf), a batch at a time, at most
# var.worker_max_concurrency at once: the same number the worker divides the
# target rate by (WORKER_MAX_CONCURRENCY), checked by the contract tests.
resource "aws_lambda_event_source_mapping" "worker" {
  event_source_arn = aws_sqs_queue.publish.arn
  function_name    = aws_lambda_function.worker.arn
  batch_size       = var.worker_batch_size
  # No waiting to fill a batch: a publish's shards start at once.
  maximum_batching_window_in_seconds = 0
  # The worker answers the jobs to retry; the others are deleted.
  function_response_types = ["ReportBatchItemFailures"]

  scaling_config {
    maximum_concurrency = var.worker_max_concurrency
  }
}

# The table's stream runs the presence function for membership items only
# (schema.rs: `sk` = "sub#{channel}", inserted by a subscribe or $connect,
# removed by an unsubscribe, $disconnect, a 410 clean-up or TTL) of the
# channels var.presence_events names: an exact name matches `sub#<name>`, a
# prefix `room-*` every `sub#room-…`, `*` every membership. Lambda drops the
# other records before invoking (no charge for them). No pattern, no mapping.
locals {
  presence_filter = {
    eventName = ["INSERT", "REMOVE"]
    dynamodb = {
      Keys = {
        sk = {
          S = concat(
            [for pattern in var.presence_events : "sub#${pattern}" if !endswith(pattern, "*")],
            [for pattern in var.presence_events : { prefix = "sub#${trimsuffix(pattern, "*")}" } if endswith(pattern, "*")],
          )
        }
      }
    }
  }
}

resource "aws_lambda_event_source_mapping" "presence" {
  count = length(var.presence_events) > 0 ? 1 : 0

  event_source_arn = aws_dynamodb_table.channels.stream_arn
  function_name    = aws_lambda_function.presence.arn
  # Events from now on: a join or leave of the past is of no use to anyone.
  starting_position                  = "LATEST"
  batch_size                         = var.presence_batch_size
  maximum_batching_window_in_seconds = var.presence_batching_window_seconds
  # A failing batch is split in two until the record that fails is alone,
  # retried a bounded number of times and for a bounded time, then recorded
  # in the presence dead-letter queue; the shard moves on either way.
  bisect_batch_on_function_error = true
  maximum_retry_attempts         = var.presence_max_retry_attempts
  maximum_record_age_in_seconds  = var.presence_max_record_age_seconds
  # The function answers the records to retry (batchItemFailures).
  function_response_types = ["ReportBatchItemFailures"]

  destination_config {
    on_failure {
      destination_arn = aws_sqs_queue.presence_dlq.arn
    }
  }

  filter_criteria {
    filter {
      pattern = jsonencode(local.presence_filter)
    }
  }
}
