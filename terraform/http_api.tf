# HTTP API: publish, count, history, presence, mint subscriber tokens and
# publish their verification keys, all served by the http function. The route
# keys are http_lambda::ROUTES plus $default (so unknown paths and methods get
# the handler's JSON 404/405), each with its authorization: NONE exactly for
# http_lambda::OPEN_ROUTES (the JWKS, which verifiers fetch anonymously),
# POST /tokens its own (var.token_authorization, AWS_IAM by default, never
# NONE while subscriber tokens are on), and var.publish_authorization
# (AWS_IAM by default) for every other route, $default included. Checked by
# the contract tests (tools/contract-tests) for every combination the
# variables' validations accept.

locals {
  # Who may mint: its own setting, else the publish authorization.
  token_authorization = coalesce(var.token_authorization, var.publish_authorization)

  # Route key => authorization_type.
  http_routes = {
    "POST /"                           = var.publish_authorization
    "POST /channels/{channel}"         = var.publish_authorization
    "GET /channels/{channel}"          = var.publish_authorization
    "GET /channels/{channel}/messages" = var.publish_authorization
    "GET /channels/{channel}/presence" = var.publish_authorization
    "POST /tokens"                     = local.token_authorization
    "GET /.well-known/jwks.json"       = "NONE"
    "$default"                         = var.publish_authorization
  }
}

resource "aws_apigatewayv2_api" "http" {
  name          = "${var.name}-http"
  description   = "Publish to a channel (POST / and POST /channels/{channel}), count it (GET /channels/{channel}), read its history and presence (GET /channels/{channel}/messages, /presence), mint subscriber tokens (POST /tokens) and serve their verification keys (GET /.well-known/jwks.json)"
  protocol_type = "HTTP"

  # Browsers on the origins of var.cors_allowed_origins may call the API:
  # API Gateway answers their preflight requests itself (the http function
  # never sees an OPTIONS) and adds the CORS headers to every answer. The
  # headers are those of a SigV4-signed request (a browser signs with, say,
  # Cognito identity pool credentials) and of a publish (Idempotency-Key).
  # No CORS configuration at all while the list is empty (the default).
  dynamic "cors_configuration" {
    for_each = length(var.cors_allowed_origins) > 0 ? [var.cors_allowed_origins] : []

    content {
      allow_origins     = cors_configuration.value
      allow_methods     = ["GET", "POST"]
      allow_headers     = ["authorization", "content-type", "idempotency-key", "x-amz-content-sha256", "x-amz-date", "x-amz-security-token"]
      allow_credentials = false
      max_age           = 3600
    }
  }
}

resource "aws_apigatewayv2_integration" "http" {
  api_id                 = aws_apigatewayv2_api.http.id
  integration_type       = "AWS_PROXY"
  integration_method     = "POST"
  integration_uri        = aws_lambda_function.http.invoke_arn
  payload_format_version = "2.0"
  timeout_milliseconds   = 30000
}

resource "aws_apigatewayv2_route" "http" {
  #checkov:skip=CKV_AWS_309:Only GET /.well-known/jwks.json is NONE, by design: it serves the public keys that verify subscriber tokens, to anyone (RFC 7517); POST /tokens takes var.token_authorization (AWS_IAM by default, never NONE with subscriber tokens on) and every other route var.publish_authorization (AWS_IAM by default), route by route, as tools/contract-tests checks against http_lambda::OPEN_ROUTES.
  for_each = local.http_routes

  api_id    = aws_apigatewayv2_api.http.id
  route_key = each.key
  target    = "integrations/${aws_apigatewayv2_integration.http.id}"
  # AWS_IAM by default: callers sign with SigV4 and need execute-api:Invoke.
  # NONE for the JWKS: public keys, for anyone who verifies tokens.
  authorization_type = each.value
}

resource "aws_cloudwatch_log_group" "http_access" {
  #checkov:skip=CKV_AWS_338:Retention is var.log_retention_days (default 30): access logs of the publish API; set 365+ where a policy asks for a year.
  name              = local.log_groups.http_access
  retention_in_days = var.log_retention_days
  kms_key_id        = aws_kms_key.this.arn
}

resource "aws_apigatewayv2_stage" "http" {
  api_id      = aws_apigatewayv2_api.http.id
  name        = var.stage_name
  description = "HTTP publish and token stage"
  auto_deploy = true

  default_route_settings {
    throttling_rate_limit    = var.http_throttling_rate_limit
    throttling_burst_limit   = var.http_throttling_burst_limit
    detailed_metrics_enabled = false
  }

  access_log_settings {
    destination_arn = aws_cloudwatch_log_group.http_access.arn
    format = jsonencode({
      requestId          = "$context.requestId"
      routeKey           = "$context.routeKey"
      status             = "$context.status"
      responseLength     = "$context.responseLength"
      requestTimeEpoch   = "$context.requestTimeEpoch"
      sourceIp           = "$context.identity.sourceIp"
      caller             = "$context.identity.userArn"
      integrationLatency = "$context.integrationLatency"
      error              = "$context.error.message"
      integrationError   = "$context.integrationErrorMessage"
    })
  }

  depends_on = [aws_api_gateway_account.this]
}
