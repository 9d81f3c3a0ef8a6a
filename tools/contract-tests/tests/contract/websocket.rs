//! The WebSocket API's routes, integrations and deployment against
//! `http_lambda`'s route constants.

use crate::*;

const WS: &str = "terraform/websocket.tf";

#[test]
fn websocket_routes_match_the_code() {
    let (tf, _) = parsed(&sources());
    report("websocket", &websocket_problems(&tf));
}

#[test]
fn websocket_check_catches_mutations() {
    assert_caught(
        "websocket",
        |tf, _| websocket_problems(tf),
        &[
            m(WS, "  route_selection_expression = \"$request.body.action\"\n", "  route_selection_expression = \"$request.body.type\"\n", &[
                "aws_apigatewayv2_api.websocket (terraform/websocket.tf): route_selection_expression is Some(\"$request.body.type\")",
                "\"$request.body.action\"",
            ]),
            // A command route dropped: its frames would echo.
            m(WS, "    unsubscribe   = \"commands\"\n", "", &[
                "has no route \"unsubscribe\"",
                "http_lambda::COMMAND_ROUTES",
            ]),
            // A command served by rx.
            m(WS, "    publish       = \"commands\"\n", "    publish       = \"rx\"\n", &[
                "aws_apigatewayv2_route.websocket[\"publish\"] (\"publish\") targets integration Some(\"rx\")",
                "aws_lambda_function.commands.invoke_arn",
            ]),
            // ping invokes the commands function instead of the MOCK.
            m(WS, "    ping          = \"ping\"\n", "    ping          = \"commands\"\n", &[
                "aws_apigatewayv2_route.websocket[\"ping\"] (\"ping\") goes to Some(\"commands\")",
                "a MOCK integration",
            ]),
            // The MOCK answers something else.
            m(WS, "    \"$default\" = jsonencode({ type = \"pong\" })\n", "    \"$default\" = jsonencode({ type = \"pong\", ok = true })\n", &[
                "http_lambda::PONG = \"{\\\"type\\\":\\\"pong\\\"}\"",
            ]),
            // ... or no template is selected.
            m(
                "terraform/websocket.tf:aws_apigatewayv2_integration_response.ping",
                "  template_selection_expression = \"\\\\$default\"\n",
                "  template_selection_expression = \"200\"\n",
                &["\"ping\"", "integration response's selected template"],
            ),
            m(WS, "    \"$default\" = jsonencode({ statusCode = 200 })\n", "    \"$default\" = jsonencode({ statusCode = 500 })\n", &[
                "selected request template is {\"statusCode\":200}",
            ]),
            // A command's answer never reaches the sender.
            m(
                WS,
                "  websocket_two_way_routes = toset([\n    for key, _ in local.websocket_routes : key if !contains([\"$connect\", \"$disconnect\"], key)\n  ])\n",
                "  websocket_two_way_routes = toset([\"$default\", \"ping\"])\n",
                &["aws_apigatewayv2_route.websocket[\"subscribe\"] (\"subscribe\") has no route_response_selection_expression", "the commands function"],
            ),
            m(WS, "  for_each = local.websocket_two_way_routes\n", "  for_each = toset([\"$default\"])\n", &[
                "aws_apigatewayv2_route.websocket[\"presence\"] (\"presence\") has no aws_apigatewayv2_route_response",
            ]),
            // A route the code does not serve.
            m(WS, "    ping          = \"ping\"\n", "    ping          = \"ping\"\n    shout         = \"commands\"\n", &[
                "declares route \"shout\", which the code does not serve",
            ]),
            // A change of the MOCK's answer would not be deployed.
            m(WS, "      aws_apigatewayv2_integration_response.ping,\n      aws_apigatewayv2_route.websocket,\n", "      aws_apigatewayv2_route.websocket,\n", &[
                "aws_apigatewayv2_deployment.websocket (terraform/websocket.tf): triggers",
                "does not cover aws_apigatewayv2_integration_response.ping",
            ]),
            m(WS, "      aws_apigatewayv2_integration.commands,\n", "", &["does not cover aws_apigatewayv2_integration.commands"]),
            // API Gateway may not invoke the commands function.
            m(
                "terraform/lambda.tf:aws_lambda_permission.commands_websocket",
                "  source_arn    = \"${aws_apigatewayv2_api.websocket.execution_arn}/${var.stage_name}/*\"\n",
                "  source_arn    = \"${aws_apigatewayv2_api.http.execution_arn}/${var.stage_name}/*\"\n",
                &["no aws_lambda_permission", "aws_lambda_function.commands from the WebSocket stage"],
            ),
        ],
    );
}
