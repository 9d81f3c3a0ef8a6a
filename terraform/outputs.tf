locals {
  # SigV4 with the caller's credentials from the environment. The session token
  # of temporary credentials (SSO, an assumed role) goes in a header, added only
  # when AWS_SESSION_TOKEN is set: `${VAR:+word}` expands to nothing for
  # long-term keys. (Relying on curl dropping an empty `-H name:` is not enough:
  # curl before 8.3.0 still names the dropped header in SignedHeaders, and AWS
  # rejects the signature.) `-Hname:value` is one word in bash, zsh and sh alike.
  # No double quotes: keys and tokens hold no blanks, and Terraform prints a `"`
  # inside an output as `\"`, which would break the line when copied.
  sigv4_options = join(" ", [
    "--aws-sigv4 aws:amz:${var.region}:execute-api",
    "--user $AWS_ACCESS_KEY_ID:$AWS_SECRET_ACCESS_KEY",
    "$${AWS_SESSION_TOKEN:+-Hx-amz-security-token:$AWS_SESSION_TOKEN}",
  ])
  curl_auth = var.publish_authorization == "AWS_IAM" ? " ${local.sigv4_options}" : ""
}

output "wscat" {
  description = "Connect to the default channel (append ?channel=NAME for another)."
  value       = "wscat --connect ${local.websocket_url}"
}

output "curl" {
  description = "Publish 'message' to the default channel (POST /channels/NAME for another)."
  value       = "curl -XPOST -d'message'${local.curl_auth} ${local.http_url}/"
}

output "websocket_url" {
  description = "WebSocket stage URL."
  value       = local.websocket_url
}

output "http_url" {
  description = "HTTP publish API stage URL."
  value       = local.http_url
}

output "management_endpoint" {
  description = "The WebSocket stage's @connections endpoint (MANAGEMENT_ENDPOINT of the http function)."
  value       = local.management_endpoint
}

output "publish_authorization" {
  description = "Authorization of the HTTP routes: AWS_IAM or NONE."
  value       = var.publish_authorization
}

output "publish_invoke_arn" {
  description = "Resource for an IAM policy that lets a caller publish and count: execute-api:Invoke on this ARN."
  value       = "${aws_apigatewayv2_api.http.execution_arn}/${var.stage_name}/*"
}

output "table_name" {
  description = "DynamoDB table of live connections."
  value       = aws_dynamodb_table.connections.name
}

output "rx_function_name" {
  description = "Lambda function behind the WebSocket API."
  value       = aws_lambda_function.rx.function_name
}

output "http_function_name" {
  description = "Lambda function behind the HTTP API."
  value       = aws_lambda_function.http.function_name
}

output "log_groups" {
  description = "CloudWatch log groups: functions and API access logs."
  value       = local.log_groups
}

output "architecture" {
  description = "Instruction set the functions run on."
  value       = local.architecture
}
