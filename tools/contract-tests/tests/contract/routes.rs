//! The HTTP API's routes and who may call them.

use crate::*;

#[test]
fn http_routes_match_the_handler() {
    let (tf, _) = parsed(&sources());
    report("routes", &route_problems(&tf));
}

#[test]
fn each_route_takes_its_authorization_and_minting_stays_closed() {
    let (tf, _) = parsed(&sources());
    report("route authorization", &route_authorization_problems(&tf));
}

#[test]
fn http_integration_sends_payload_format_2_0() {
    let (tf, _) = parsed(&sources());
    report("payload format", &payload_format_problems(&tf));
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
                "    \"GET /channels/{channel}\"          = var.publish_authorization\n",
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
                "    \"POST /tokens\"                     = local.token_authorization\n",
                "",
                &[
                    "local.http_routes (terraform/http_api.tf)",
                    "lacks \"POST /tokens\", which the handler serves",
                ],
            ),
            // A route the handler does not serve.
            m(
                "terraform/http_api.tf",
                "    \"$default\"                         = var.publish_authorization\n",
                "    \"$default\"                         = var.publish_authorization\n    \"DELETE /channels/{channel}\"       = var.publish_authorization\n",
                &[
                    "local.http_routes (terraform/http_api.tf)",
                    "has \"DELETE /channels/{channel}\", which the handler does not serve",
                    "http_lambda::ROUTES",
                ],
            ),
            // $default dropped.
            m(
                "terraform/http_api.tf",
                "    \"$default\"                         = var.publish_authorization\n",
                "",
                &["local.http_routes (terraform/http_api.tf) lacks \"$default\""],
            ),
            // Back to a list: the authorizations are gone.
            m(
                "terraform/http_api.tf",
                "  http_routes = {\n    \"POST /\"                           = var.publish_authorization\n",
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
            "    \"POST /\"                           = var.publish_authorization\n",
            "    \"POST /\"                           = var.publish_authorization\n    \"POST /\"                           = \"NONE\"\n",
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
    const VARS: &str = "terraform/variables.tf";
    assert_caught(
        "route authorization",
        |tf, _| route_authorization_problems(tf),
        &[
            // The JWKS behind the publish authorization: verifiers cannot fetch it.
            m(
                TF,
                "    \"GET /.well-known/jwks.json\"       = \"NONE\"\n",
                "    \"GET /.well-known/jwks.json\"       = var.publish_authorization\n",
                &[
                    "aws_apigatewayv2_route.http (terraform/http_api.tf): the route \"GET /.well-known/jwks.json\" takes \"AWS_IAM\"",
                    "http_lambda::OPEN_ROUTES",
                    "\"NONE\"",
                ],
            ),
            // Minting opened to the internet, whatever the variables say.
            m(
                TF,
                "    \"POST /tokens\"                     = local.token_authorization\n",
                "    \"POST /tokens\"                     = \"NONE\"\n",
                &[
                    "the variables' validations accept publish_authorization = \"AWS_IAM\", token_authorization = \"AWS_IAM\", subscriber_auth = \"token\"",
                    "leaves POST /tokens open",
                ],
            ),
            // Minting back on the publish authorization: opening publishing opens it.
            m(
                TF,
                "    \"POST /tokens\"                     = local.token_authorization\n",
                "    \"POST /tokens\"                     = var.publish_authorization\n",
                &[
                    "validations accept publish_authorization = \"NONE\", token_authorization = \"AWS_IAM\", subscriber_auth = \"token\"",
                    "leaves POST /tokens open",
                ],
            ),
            // The safe default refused: nothing stops open minting any more.
            m(
                VARS,
                "    condition     = var.subscriber_auth == \"none\" || var.token_authorization != \"NONE\"\n",
                "    condition     = true\n",
                &["validations accept publish_authorization = \"AWS_IAM\", token_authorization = \"NONE\", subscriber_auth = \"token\""],
            ),
            m(
                VARS,
                "    condition     = var.publish_authorization == \"AWS_IAM\" || var.subscriber_auth == \"none\" || var.token_authorization == \"AWS_IAM\"\n",
                "    condition     = true\n",
                &["validations accept publish_authorization = \"NONE\", token_authorization = null, subscriber_auth = \"token\""],
            ),
            // ... or too strict: open publishing refused although minting keeps IAM.
            m(
                VARS,
                "    condition     = var.publish_authorization == \"AWS_IAM\" || var.subscriber_auth == \"none\" || var.token_authorization == \"AWS_IAM\"\n",
                "    condition     = var.publish_authorization == \"AWS_IAM\" || var.subscriber_auth == \"none\"\n",
                &["validations refuse publish_authorization = \"NONE\", token_authorization = \"AWS_IAM\", subscriber_auth = \"token\", which opens no token minting"],
            ),
            // Publishing pinned to AWS_IAM, ignoring the variable.
            m(
                TF,
                "    \"POST /\"                           = var.publish_authorization\n",
                "    \"POST /\"                           = \"AWS_IAM\"\n",
                &["the route \"POST /\" takes \"AWS_IAM\" with publish_authorization = \"NONE\"", "publish_authorization"],
            ),
            // $default opened: unknown paths would reach the handler unsigned.
            m(
                TF,
                "    \"$default\"                         = var.publish_authorization\n",
                "    \"$default\"                         = \"NONE\"\n",
                &["the route \"$default\" takes \"NONE\" with publish_authorization = \"AWS_IAM\"", "$default included"],
            ),
            // The resource ignores the map's authorizations.
            m(
                TF,
                "  authorization_type = each.value\n",
                "  authorization_type = var.publish_authorization\n",
                &["aws_apigatewayv2_route.http (terraform/http_api.tf): the route \"GET /.well-known/jwks.json\" takes \"AWS_IAM\""],
            ),
        ],
    );
}

#[test]
fn browsers_may_call_from_the_listed_origins_only() {
    let (tf, _) = parsed(&sources());
    report("cors", &cors_problems(&tf));
}

#[test]
fn cors_check_catches_mutations() {
    const API: &str = "terraform/http_api.tf:aws_apigatewayv2_api.http";
    assert_caught(
        "cors",
        |tf, _| cors_problems(tf),
        &[
            // Always on.
            m(
                API,
                "    for_each = length(var.cors_allowed_origins) > 0 ? [var.cors_allowed_origins] : []\n",
                "    for_each = [var.cors_allowed_origins]\n",
                &["has a CORS configuration with cors_allowed_origins = []"],
            ),
            // Every origin.
            m(API, "      allow_origins     = cors_configuration.value\n", "      allow_origins     = [\"*\"]\n", &[
                "allow_origins is {\"*\"}",
                "exactly the listed origins",
            ]),
            m(API, "      allow_methods     = [\"GET\", \"POST\"]\n", "      allow_methods     = [\"POST\"]\n", &[
                "allow_methods is {\"POST\"}",
                "http_lambda::ROUTES",
            ]),
            m(API, "\"x-amz-security-token\"]", "]", &["lacks \"x-amz-security-token\""]),
            m(API, "      allow_credentials = false\n", "      allow_credentials = true\n", &["allow_credentials is true"]),
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
