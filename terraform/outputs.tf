locals {
  # SigV4 with the caller's credentials from the environment. The session token
  # of temporary credentials (SSO, an assumed role) goes in a header, added only
  # when AWS_SESSION_TOKEN is set: `${VAR:+word}` expands to nothing for
  # long-term keys. (Relying on curl dropping an empty `-H name:` is not enough:
  # curl before 8.3.0 still names the dropped header in SignedHeaders, and AWS
  # rejects the signature.) `-Hname:value` is one word in bash, zsh and sh alike.
  # No double quotes and no backslashes in any printed command: keys and tokens
  # hold no blanks, and Terraform prints a `"` inside an output as `\"` and a
  # `\` as `\\`, which would break the line when copied from `terraform apply`.
  sigv4_options = join(" ", [
    "--aws-sigv4 aws:amz:${var.region}:execute-api",
    "--user $AWS_ACCESS_KEY_ID:$AWS_SECRET_ACCESS_KEY",
    "$${AWS_SESSION_TOKEN:+-Hx-amz-security-token:$AWS_SESSION_TOKEN}",
  ])
  curl_auth       = var.publish_authorization == "AWS_IAM" ? " ${local.sigv4_options}" : ""
  token_curl_auth = local.token_authorization == "AWS_IAM" ? " ${local.sigv4_options}" : ""

  # POST /tokens answers {"token":"<JWT>","expiresAt":…,"channels":[…]}, token
  # first: the first comma-separated field is {"token":"<JWT>", its second
  # colon-separated field is "<JWT>", and tr keeps only the characters of a JWT
  # (base64url and dots), dropping the quotes. No jq needed. -f turns an HTTP
  # error into an empty token (and a message on stderr) rather than a token
  # made of the error's words.
  mint_default_token = join(" | ", [
    "curl -fsS -XPOST -d channels=default${local.token_curl_auth} ${local.http_url}/tokens",
    "cut -d, -f1",
    "cut -d: -f2",
    "tr -dc A-Za-z0-9._-",
  ])
}

output "wscat" {
  description = "Connect to the default channel. With subscriber_auth = \"token\" the line first mints a token for it with curl (signed with the AWS credentials of the shell when publish_authorization = \"AWS_IAM\"; curl 7.75 or later); for another channel, change both `default`s. With \"none\", append ?channel=NAME for another channel."
  value = (local.tokens_on
    ? "wscat --connect '${local.websocket_url}?channel=default&token='$(${local.mint_default_token})"
    : "wscat --connect ${local.websocket_url}"
  )
}

output "curl" {
  description = "Publish 'message' to the default channel (POST /channels/NAME for another)."
  value       = "curl -XPOST -d'message'${local.curl_auth} ${local.http_url}/"
}

output "token" {
  description = "Mint a subscriber token (POST /tokens, form-encoded or JSON {\"channels\",\"ttlSeconds\",\"subject\"}): channels is a comma-separated list, ttlSeconds at most token_max_ttl_seconds. The answer is {\"token\",\"expiresAt\",\"channels\"}; connect with wss://.../STAGE?channel=NAME&token=TOKEN. null with subscriber_auth = \"none\"."
  value       = local.tokens_on ? "curl -XPOST -d channels=default -d ttlSeconds=3600${local.token_curl_auth} ${local.http_url}/tokens" : null
}

output "jwks_url" {
  description = "The token verification keys as a JSON Web Key Set (RFC 7517), open to anyone, for services that verify the same tokens. null with subscriber_auth = \"none\"."
  value       = local.tokens_on ? "${local.http_url}/.well-known/jwks.json" : null
}

output "subscriber_auth" {
  description = "Who may listen: token (a token from POST /tokens on $connect) or none (anyone with the URL)."
  value       = var.subscriber_auth
}

output "token_audience" {
  description = "The aud of every token this deployment mints and accepts (TOKEN_AUDIENCE): a fixed identifier of the deployment (the WebSocket stage's execute-api URL at its first apply), not its current URL; a token minted elsewhere must carry it. null with subscriber_auth = \"none\"."
  value       = local.tokens_on ? local.token_audience : null
}

output "token_issuer" {
  description = "The iss of every token this deployment mints (TOKEN_ISSUER): a fixed identifier, like token_audience. null with subscriber_auth = \"none\"."
  value       = local.tokens_on ? local.token_issuer : null
}

output "token_public_key" {
  description = "Public key of the token signing key (base64 DER). Keep it in token_previous_public_keys when replacing the key, until its tokens expire. null with subscriber_auth = \"none\"."
  value       = local.tokens_on ? data.aws_kms_public_key.tokens[0].public_key : null
}

output "token_signing_key_arn" {
  description = "The KMS key that signs subscriber tokens (TOKEN_SIGNING_KEY); only the http function's role may use it to sign. null with subscriber_auth = \"none\"."
  value       = local.tokens_on ? aws_kms_key.tokens[0].arn : null
}

output "websocket_url" {
  description = "WebSocket URL clients connect to: wss://<websocket_domain> when set, else the stage's execute-api URL."
  value       = local.websocket_url
}

output "http_url" {
  description = "HTTP API URL: https://<http_domain> when set, else the stage's execute-api URL."
  value       = local.http_url
}

output "websocket_stage_url" {
  description = "The WebSocket stage on its execute-api endpoint, which answers with or without a custom domain."
  value       = local.websocket_stage_url
}

output "http_stage_url" {
  description = "The HTTP stage on its execute-api endpoint, which answers with or without a custom domain."
  value       = local.http_stage_url
}

output "custom_domain_targets" {
  description = "For each custom domain, the Regional endpoint its DNS name must point to (an alias A record, or a CNAME), which Terraform does itself with route53_zone_id. Empty without custom domains."
  value = {
    for api, domain in aws_apigatewayv2_domain_name.api :
    domain.domain_name => domain.domain_name_configuration[0].target_domain_name
  }
}

output "management_endpoint" {
  description = "The WebSocket stage's @connections endpoint (MANAGEMENT_ENDPOINT of the functions that deliver): always the execute-api URL, which a custom domain does not replace."
  value       = local.management_endpoint
}

output "publish_authorization" {
  description = "Authorization of the HTTP routes that publish, count and read history and presence: AWS_IAM or NONE (the JWKS route is always open)."
  value       = var.publish_authorization
}

output "token_authorization" {
  description = "Authorization of POST /tokens: AWS_IAM unless subscriber tokens are off (it cannot be NONE while they are on)."
  value       = local.token_authorization
}

output "publish_invoke_arn" {
  description = "Resource for an IAM policy that lets a caller use every route of the HTTP API (publish, count, history, presence, mint tokens): execute-api:Invoke on this ARN."
  value       = "${aws_apigatewayv2_api.http.execution_arn}/${var.stage_name}/*"
}

output "token_invoke_arn" {
  description = "Resource for an IAM policy that lets a caller (say, the backend that logs users in) mint subscriber tokens and nothing else: execute-api:Invoke on this ARN. null with subscriber_auth = \"none\"."
  value       = local.tokens_on ? "${aws_apigatewayv2_api.http.execution_arn}/${var.stage_name}/POST/tokens" : null
}

output "table_name" {
  description = "DynamoDB table of connections, channel memberships, offsets and history (crates/channels-aws/src/schema.rs)."
  value       = aws_dynamodb_table.channels.name
}

output "rx_function_name" {
  description = "Lambda function behind the WebSocket API."
  value       = aws_lambda_function.rx.function_name
}

output "http_function_name" {
  description = "Lambda function behind the HTTP API."
  value       = aws_lambda_function.http.function_name
}

output "worker_function_name" {
  description = "Lambda function that delivers big publishes from the publish queue (the http package, handler \"worker\")."
  value       = aws_lambda_function.worker.function_name
}

output "commands_function_name" {
  description = "Lambda function behind the WebSocket API's command routes (subscribe, unsubscribe, publish, presence): the http package, handler \"commands\"."
  value       = aws_lambda_function.commands.function_name
}

output "presence_function_name" {
  description = "Lambda function that turns the table's stream into join and leave events for the channels of presence_events (the http package, handler \"presence\"); idle while presence_events is empty."
  value       = aws_lambda_function.presence.function_name
}

output "presence_dlq_url" {
  description = "SQS queue where the stream's event source mapping records the batches of membership changes the presence function kept failing on (shard and sequence numbers, not the records)."
  value       = aws_sqs_queue.presence_dlq.url
}

output "presence_dlq_alarm_name" {
  description = "CloudWatch alarm that is in ALARM while the presence dead-letter queue holds a record (no notification is configured)."
  value       = aws_cloudwatch_metric_alarm.dead_letters["presence_dlq"].alarm_name
}

output "publish_queue_url" {
  description = "SQS queue of shard jobs: the http function sends one per shard of a publish bigger than publish_sync_max (answered 202), the workers consume them."
  value       = aws_sqs_queue.publish.url
}

output "publish_dlq_url" {
  description = "SQS dead-letter queue of the shard jobs that failed 5 times (their subscribers missed the message). Inspect with the SQS console or `aws sqs receive-message --queue-url URL`; send them back with the console's \"Start DLQ redrive\" once the cause is fixed."
  value       = aws_sqs_queue.publish_dlq.url
}

output "publish_dlq_alarm_name" {
  description = "CloudWatch alarm that is in ALARM while the dead-letter queue holds a job (no notification is configured)."
  value       = aws_cloudwatch_metric_alarm.dead_letters["publish_dlq"].alarm_name
}

output "log_groups" {
  description = "CloudWatch log groups: functions and API access logs."
  value       = local.log_groups
}

output "architecture" {
  description = "Instruction set the functions run on."
  value       = local.architecture
}
