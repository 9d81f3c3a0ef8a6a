# WebSocket API. The route is the frame's `action` (route selection
# `$request.body.action`); each route key goes to an integration:
#   rx        $connect, $disconnect, $default (http_lambda::RX_ROUTES): store,
#             remove, echo (a frame with no known action echoes, as the seed did)
#   commands  subscribe, unsubscribe, publish, presence (COMMAND_ROUTES)
#   ping      ping (PING_ROUTE): a MOCK integration that answers
#             http_lambda::PONG without invoking any function
# Every route but $connect and $disconnect is two-way: it has a route
# response, so what the integration answers (the Lambda function's response,
# or the MOCK's integration response) goes back to the sender. The contract
# tests (tools/contract-tests) hold these to the code's constants.

locals {
  # Route key => integration.
  websocket_routes = {
    "$connect"    = "rx"
    "$disconnect" = "rx"
    "$default"    = "rx"
    subscribe     = "commands"
    unsubscribe   = "commands"
    publish       = "commands"
    presence      = "commands"
    ping          = "ping"
  }

  # The routes that answer their sender.
  websocket_two_way_routes = toset([
    for key, _ in local.websocket_routes : key if !contains(["$connect", "$disconnect"], key)
  ])

  websocket_integration_ids = {
    rx       = aws_apigatewayv2_integration.rx.id
    commands = aws_apigatewayv2_integration.commands.id
    ping     = aws_apigatewayv2_integration.ping.id
  }
}

resource "aws_apigatewayv2_api" "websocket" {
  name                       = "${var.name}-websocket"
  description                = "Channels over WebSocket: connect with ?channel=NAME (echo), or negotiate lrw.v1 and send subscribe, unsubscribe, publish, presence and ping frames"
  protocol_type              = "WEBSOCKET"
  route_selection_expression = "$request.body.action"
}

resource "aws_apigatewayv2_integration" "rx" {
  api_id             = aws_apigatewayv2_api.websocket.id
  integration_type   = "AWS_PROXY"
  integration_method = "POST"
  integration_uri    = aws_lambda_function.rx.invoke_arn
}

resource "aws_apigatewayv2_integration" "commands" {
  api_id             = aws_apigatewayv2_api.websocket.id
  integration_type   = "AWS_PROXY"
  integration_method = "POST"
  integration_uri    = aws_lambda_function.commands.invoke_arn
}

# `ping` costs no invocation: a MOCK integration whose request template
# answers status 200 (the template is selected by the static expression
# `\$default`, a literal $default), and whose integration response sends
# http_lambda::PONG back through the route response. API Gateway's MOCK
# cannot read the frame's `id`, so this pong has none (the protocol allows
# that where API Gateway answers ping itself).
resource "aws_apigatewayv2_integration" "ping" {
  api_id                        = aws_apigatewayv2_api.websocket.id
  integration_type              = "MOCK"
  passthrough_behavior          = "WHEN_NO_MATCH"
  template_selection_expression = "\\$default"
  request_templates = {
    "$default" = jsonencode({ statusCode = 200 })
  }
}

resource "aws_apigatewayv2_integration_response" "ping" {
  api_id                        = aws_apigatewayv2_api.websocket.id
  integration_id                = aws_apigatewayv2_integration.ping.id
  integration_response_key      = "$default"
  template_selection_expression = "\\$default"
  response_templates = {
    "$default" = jsonencode({ type = "pong" })
  }
}

resource "aws_apigatewayv2_route" "websocket" {
  #checkov:skip=CKV_AWS_309:A public WebSocket by design (wscat connects without credentials); who may listen is decided by the subscriber token rx checks on $connect (subscriber_auth), and every later frame of the connection is judged by the grants stored on its item.
  for_each = local.websocket_routes

  api_id             = aws_apigatewayv2_api.websocket.id
  route_key          = each.key
  target             = "integrations/${local.websocket_integration_ids[each.value]}"
  authorization_type = "NONE"

  # Two-way routes: the integration's answer goes back to the sender.
  route_response_selection_expression = contains(local.websocket_two_way_routes, each.key) ? "$default" : null
}

resource "aws_apigatewayv2_route_response" "websocket" {
  for_each = local.websocket_two_way_routes

  api_id             = aws_apigatewayv2_api.websocket.id
  route_id           = aws_apigatewayv2_route.websocket[each.key].id
  route_response_key = "$default"
}

moved {
  from = aws_apigatewayv2_route_response.websocket_default
  to   = aws_apigatewayv2_route_response.websocket["$default"]
}

# WebSocket stages do not auto-deploy: a new deployment whenever a route, an
# integration, an integration response or a route response changes.
resource "aws_apigatewayv2_deployment" "websocket" {
  api_id      = aws_apigatewayv2_api.websocket.id
  description = "routes ${join(", ", sort(keys(local.websocket_routes)))}"

  triggers = {
    redeployment = sha1(jsonencode([
      aws_apigatewayv2_integration.rx,
      aws_apigatewayv2_integration.commands,
      aws_apigatewayv2_integration.ping,
      aws_apigatewayv2_integration_response.ping,
      aws_apigatewayv2_route.websocket,
      aws_apigatewayv2_route_response.websocket,
    ]))
  }

  lifecycle {
    create_before_destroy = true
  }

  depends_on = [
    aws_apigatewayv2_route.websocket,
    aws_apigatewayv2_route_response.websocket,
    aws_apigatewayv2_integration_response.ping,
  ]
}

resource "aws_cloudwatch_log_group" "websocket_access" {
  #checkov:skip=CKV_AWS_338:Retention is var.log_retention_days (default 30): access logs of a public relay; set 365+ where a policy asks for a year.
  name              = local.log_groups.websocket_access
  retention_in_days = var.log_retention_days
  kms_key_id        = aws_kms_key.this.arn
}

resource "aws_apigatewayv2_stage" "websocket" {
  #checkov:skip=CKV2_AWS_51:A client certificate lets an HTTP backend verify calls from API Gateway; the integrations are Lambda, invoked under aws_lambda_permission, and a MOCK.
  api_id        = aws_apigatewayv2_api.websocket.id
  name          = var.stage_name
  description   = "WebSocket stage"
  deployment_id = aws_apigatewayv2_deployment.websocket.id

  default_route_settings {
    throttling_rate_limit  = var.websocket_throttling_rate_limit
    throttling_burst_limit = var.websocket_throttling_burst_limit
    # Execution logs would go to a log group API Gateway creates without
    # retention or encryption; access logs below are enough.
    logging_level            = "OFF"
    data_trace_enabled       = false
    detailed_metrics_enabled = false
  }

  access_log_settings {
    destination_arn = aws_cloudwatch_log_group.websocket_access.arn
    format = jsonencode({
      requestId          = "$context.requestId"
      connectionId       = "$context.connectionId"
      eventType          = "$context.eventType"
      routeKey           = "$context.routeKey"
      status             = "$context.status"
      requestTimeEpoch   = "$context.requestTimeEpoch"
      sourceIp           = "$context.identity.sourceIp"
      integrationLatency = "$context.integrationLatency"
      error              = "$context.error.message"
    })
  }

  # Access logging needs the account's CloudWatch role in place first.
  depends_on = [aws_api_gateway_account.this]
}
