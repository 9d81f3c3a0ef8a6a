//! Custom domains, rendered with and without them.

use contract_tests::eval::to_string;

use crate::*;

const DOMAINS: &str = "terraform/domains.tf";

#[test]
fn custom_domains_are_built_mapped_and_printed() {
    let (tf, _) = parsed(&sources());
    report("custom domains", &domain_problems(&tf));
}

/// The printed lines, for the record (cargo test -- --nocapture), and a
/// direct look at what changes and what does not.
#[test]
fn outputs_with_and_without_domains() {
    let (tf, _) = parsed(&sources());
    let output = |scope: &contract_tests::eval::Scope<'_>, name: &str| {
        let (_, body) = tf
            .block("output", &[name])
            .unwrap_or_else(|e| panic!("{e}"));
        let value = contract_tests::terraform::attr(body, "value")
            .unwrap_or_else(|| panic!("output {name} has no value"));
        scope
            .eval(value)
            .and_then(|v| to_string(&v))
            .unwrap_or_else(|e| panic!("output {name}: {e}"))
    };
    let (off, _) = rendered(&tf, Domains::None).unwrap_or_else(|e| panic!("{e}"));
    let (on, _) = rendered(&tf, Domains::WithZone).unwrap_or_else(|e| panic!("{e}"));
    for name in [
        "wscat",
        "curl",
        "token",
        "websocket_url",
        "http_url",
        "management_endpoint",
    ] {
        println!("{name} (no domain) = {}", output(&off, name));
        println!("{name} (domains)   = {}", output(&on, name));
    }
    assert_eq!(
        output(&on, "websocket_url"),
        format!("wss://{WEBSOCKET_DOMAIN}")
    );
    assert_eq!(output(&on, "http_url"), format!("https://{HTTP_DOMAIN}"));
    assert!(output(&off, "websocket_url").contains(".execute-api."));
    assert_eq!(
        output(&on, "management_endpoint"),
        output(&off, "management_endpoint")
    );
    assert!(output(&on, "curl").ends_with(&format!("https://{HTTP_DOMAIN}/")));
}

#[test]
fn domain_check_catches_mutations() {
    assert_caught(
        "custom domains",
        |tf, _| domain_problems(tf),
        &[
            // Edge endpoints: WebSocket custom domains are Regional only.
            m(DOMAINS, "    endpoint_type   = \"REGIONAL\"\n", "    endpoint_type   = \"EDGE\"\n", &[
                "aws_apigatewayv2_domain_name.api[\"websocket\"]",
                "endpoint_type is Some(\"EDGE\")",
            ]),
            m(DOMAINS, "    security_policy = \"TLS_1_2\"\n", "    security_policy = \"TLS_1_0\"\n", &["security_policy is Some(\"TLS_1_0\")"]),
            // The domain does not wait for its certificate's validation.
            m(
                DOMAINS,
                "    { for api, validation in aws_acm_certificate_validation.api : api => validation.certificate_arn },\n",
                "    { for api, certificate in aws_acm_certificate.api : api => certificate.arn },\n",
                &["its certificate is", "aws_acm_certificate_validation", "with domains WithZone"],
            ),
            // A certificate requested although one was given.
            m(
                DOMAINS,
                "    for api, domain in local.custom_domains : api => domain.name if domain.certificate_arn == null\n",
                "    for api, domain in local.custom_domains : api => domain.name\n",
                &["2 aws_acm_certificate with domains WithCertificates, expected 0"],
            ),
            // Mapped under the stage name: the printed URLs would 404.
            m(DOMAINS, "  stage       = each.value.stage\n", "  stage           = each.value.stage\n  api_mapping_key = \"staging\"\n", &[
                "no aws_apigatewayv2_api_mapping maps aws_apigatewayv2_api.websocket",
            ]),
            // The HTTP domain mapped to the WebSocket API.
            m(DOMAINS, "        api_id          = aws_apigatewayv2_api.http.id\n", "        api_id          = aws_apigatewayv2_api.websocket.id\n", &[
                "no aws_apigatewayv2_api_mapping maps aws_apigatewayv2_api.http",
            ]),
            // No alias record although the zone is given.
            m(DOMAINS, "  for_each = { for api, domain in local.custom_domains : api => domain if var.route53_zone_id != null }\n", "  for_each = {}\n", &[
                "2 aws_route53_record with domains WithZone, expected 4",
            ]),
            // The default endpoint disabled: @connections answers Forbidden.
            m(
                "terraform/websocket.tf",
                "  route_selection_expression = \"$request.body.action\"\n",
                "  route_selection_expression   = \"$request.body.action\"\n  disable_execute_api_endpoint = var.websocket_domain != null\n",
                &["aws_apigatewayv2_api.websocket (terraform/websocket.tf) disables its execute-api endpoint with domains WithZone"],
            ),
            // MANAGEMENT_ENDPOINT follows the custom domain, which does not serve @connections.
            m(
                "terraform/main.tf",
                "  management_endpoint = \"${replace(aws_apigatewayv2_api.websocket.api_endpoint, \"wss://\", \"https://\")}/${var.stage_name}\"\n",
                "  management_endpoint = replace(local.websocket_url, \"wss://\", \"https://\")\n",
                &["MANAGEMENT_ENDPOINT is Ok(\"https://ws.example.com\") with domains WithZone"],
            ),
            // The printed lines stay on execute-api.
            m("terraform/main.tf", "  http_url      = var.http_domain != null ? \"https://${var.http_domain}\" : local.http_stage_url\n", "  http_url      = local.http_stage_url\n", &[
                "output http_url",
                "but clients use \"https://api.example.com\"",
            ]),
            // Tokens follow the URL: a domain invalidates them all.
            m("terraform/main.tf", "  token_audience = terraform_data.token_identity.output.audience\n", "  token_audience = local.websocket_url\n", &[
                "TOKEN_AUDIENCE changes with the custom domains",
            ]),
            // One name for both APIs: refused by AWS, so by the validations.
            m(
                "terraform/variables.tf",
                "    condition     = var.http_domain == null || var.http_domain != var.websocket_domain\n",
                "    condition     = var.http_domain == null || var.http_domain != \"api.example.com\"\n",
                &["the domain variables' validations refuse the WithZone setting"],
            ),
        ],
    );
}
