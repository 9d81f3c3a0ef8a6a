# Custom domains, each optional: var.websocket_domain (wss://ws.example.com)
# and var.http_domain (https://api.example.com). Two names, because one API
# Gateway custom domain cannot serve both a WebSocket and an HTTP API. Each is
# a Regional endpoint with TLS 1.2 (what WebSocket custom domains support),
# with an ACM certificate in this Region: the one given by ARN, or one
# requested here and validated by DNS in var.route53_zone_id. The API mapping
# has no path: the domain's root is the stage (wss://ws.example.com?channel=x,
# https://api.example.com/channels/x). With a zone, an alias record points the
# name at the domain's Regional endpoint; without one, create it yourself from
# the custom_domain_targets output.
#
# The APIs keep their execute-api endpoints (disable_execute_api_endpoint is
# never set): the functions post to connections through the WebSocket API's
# own endpoint (MANAGEMENT_ENDPOINT), which a custom domain does not serve,
# and the token identity stays what it was (tokens.tf).

locals {
  custom_domains = {
    for api, domain in {
      websocket = {
        name            = var.websocket_domain
        certificate_arn = var.websocket_certificate_arn
        api_id          = aws_apigatewayv2_api.websocket.id
        stage           = aws_apigatewayv2_stage.websocket.id
      }
      http = {
        name            = var.http_domain
        certificate_arn = var.http_certificate_arn
        api_id          = aws_apigatewayv2_api.http.id
        stage           = aws_apigatewayv2_stage.http.id
      }
    } : api => domain if domain.name != null
  }

  # The domains without a certificate ARN: Terraform requests theirs.
  requested_certificates = {
    for api, domain in local.custom_domains : api => domain.name if domain.certificate_arn == null
  }

  # Each domain's certificate: given, or requested and validated.
  certificate_arns = merge(
    { for api, domain in local.custom_domains : api => domain.certificate_arn if domain.certificate_arn != null },
    { for api, validation in aws_acm_certificate_validation.api : api => validation.certificate_arn },
  )
}

resource "aws_acm_certificate" "api" {
  for_each = local.requested_certificates

  domain_name       = each.value
  validation_method = "DNS"

  options {
    certificate_transparency_logging_preference = "ENABLED"
  }

  # A certificate in use by a custom domain cannot be deleted: a new one
  # (another name) is created and swapped in first.
  lifecycle {
    create_before_destroy = true
  }
}

# ACM's DNS validation record, in the zone of var.route53_zone_id (the
# variables' validations require a zone for a domain without a certificate).
resource "aws_route53_record" "certificate_validation" {
  for_each = {
    for api, certificate in aws_acm_certificate.api : api => one(certificate.domain_validation_options)
  }

  zone_id         = var.route53_zone_id
  name            = each.value.resource_record_name
  type            = each.value.resource_record_type
  records         = [each.value.resource_record_value]
  ttl             = 300
  allow_overwrite = true
}

resource "aws_acm_certificate_validation" "api" {
  for_each = aws_acm_certificate.api

  certificate_arn         = each.value.arn
  validation_record_fqdns = [aws_route53_record.certificate_validation[each.key].fqdn]
}

resource "aws_apigatewayv2_domain_name" "api" {
  for_each = local.custom_domains

  domain_name = each.value.name

  domain_name_configuration {
    certificate_arn = local.certificate_arns[each.key]
    endpoint_type   = "REGIONAL"
    security_policy = "TLS_1_2"
  }
}

resource "aws_apigatewayv2_api_mapping" "api" {
  for_each = local.custom_domains

  api_id      = each.value.api_id
  domain_name = aws_apigatewayv2_domain_name.api[each.key].id
  stage       = each.value.stage
}

# The name itself, in the zone, when there is one.
resource "aws_route53_record" "api" {
  for_each = { for api, domain in local.custom_domains : api => domain if var.route53_zone_id != null }

  zone_id = var.route53_zone_id
  name    = aws_apigatewayv2_domain_name.api[each.key].domain_name
  type    = "A"

  alias {
    name                   = aws_apigatewayv2_domain_name.api[each.key].domain_name_configuration[0].target_domain_name
    zone_id                = aws_apigatewayv2_domain_name.api[each.key].domain_name_configuration[0].hosted_zone_id
    evaluate_target_health = false
  }
}
