# WebSocket API: every route goes to rx. $default echoes by returning the
# message as the Lambda response, which API Gateway sends back to the client
# because the route has a route response.

locals {
  websocket_routes = ["$connect", "$disconnect", "$default"]
}

resource "aws_apigatewayv2_api" "websocket" {
  name                       = "${var.name}-websocket"
  description                = "Channels over WebSocket: connect with ?channel=NAME, messages echo back"
  protocol_type              = "WEBSOCKET"
  route_selection_expression = "$request.body.action"
}

resource "aws_apigatewayv2_integration" "rx" {
  api_id             = aws_apigatewayv2_api.websocket.id
  integration_type   = "AWS_PROXY"
  integration_method = "POST"
  integration_uri    = aws_lambda_function.rx.invoke_arn
}

resource "aws_apigatewayv2_route" "websocket" {
  #checkov:skip=CKV_AWS_309:A public WebSocket by design (wscat connects without credentials); only $connect can carry an authorizer, and the handler validates the channel.
  for_each = toset(local.websocket_routes)

  api_id             = aws_apigatewayv2_api.websocket.id
  route_key          = each.key
  target             = "integrations/${aws_apigatewayv2_integration.rx.id}"
  authorization_type = "NONE"

  # Two-way route: the Lambda response of $default goes back to the sender.
  route_response_selection_expression = each.key == "$default" ? "$default" : null
}

resource "aws_apigatewayv2_route_response" "websocket_default" {
  api_id             = aws_apigatewayv2_api.websocket.id
  route_id           = aws_apigatewayv2_route.websocket["$default"].id
  route_response_key = "$default"
}

# WebSocket stages do not auto-deploy: a new deployment whenever a route,
# its integration or the route response changes.
resource "aws_apigatewayv2_deployment" "websocket" {
  api_id      = aws_apigatewayv2_api.websocket.id
  description = "routes ${join(", ", local.websocket_routes)}"

  triggers = {
    redeployment = sha1(jsonencode([
      aws_apigatewayv2_integration.rx,
      aws_apigatewayv2_route.websocket,
      aws_apigatewayv2_route_response.websocket_default,
    ]))
  }

  lifecycle {
    create_before_destroy = true
  }

  depends_on = [
    aws_apigatewayv2_route.websocket,
    aws_apigatewayv2_route_response.websocket_default,
  ]
}

resource "aws_cloudwatch_log_group" "websocket_access" {
  #checkov:skip=CKV_AWS_338:Retention is var.log_retention_days (default 30): access logs of a public relay; set 365+ where a policy asks for a year.
  name              = local.log_groups.websocket_access
  retention_in_days = var.log_retention_days
  kms_key_id        = aws_kms_key.this.arn
}

resource "aws_apigatewayv2_stage" "websocket" {
  #checkov:skip=CKV2_AWS_51:A client certificate lets an HTTP backend verify calls from API Gateway; the only integration is Lambda, invoked under aws_lambda_permission.
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
