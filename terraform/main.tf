locals {
  account_id = data.aws_caller_identity.current.account_id
  partition  = data.aws_partition.current.partition
  # amazonaws.com, or amazonaws.com.cn in the China Regions: service
  # endpoints and the Regional service principal of CloudWatch Logs.
  dns_suffix = data.aws_partition.current.dns_suffix

  # Packages as `make` writes them (Makefile: BUILD, RX_ZIP, HTTP_ZIP, and
  # $(BUILD)/ARCH). Checked against the Makefile by the contract tests
  # (tools/contract-tests).
  package_dir  = var.package_dir != null ? var.package_dir : "${path.module}/../build"
  rx_package   = "${local.package_dir}/rx.zip"
  http_package = "${local.package_dir}/http.zip"
  arch_file    = "${local.package_dir}/ARCH"
  built_arch   = fileexists(local.arch_file) ? trimspace(file(local.arch_file)) : null
  architecture = coalesce(var.architecture, local.built_arch, "arm64")

  # Subscriber tokens (var.subscriber_auth): the signing key, its public key
  # and the token routes' outputs exist only then (tokens.tf, lambda.tf).
  tokens_on = var.subscriber_auth == "token"

  # TOKEN_PUBLIC_KEYS of rx, http and commands: the signing key's public key
  # first (base64 DER, as KMS GetPublicKey gives it), then the keys of
  # replaced signing keys whose tokens are still valid.
  token_public_keys = local.tokens_on ? join(",", concat(
    [data.aws_kms_public_key.tokens[0].public_key],
    var.token_previous_public_keys,
  )) : ""

  # TOKEN_ISSUERS of rx and commands: the identity providers whose tokens
  # they accept besides this deployment's own, as a JSON array of the
  # attributes each one sets (optional ones left unset are left out).
  token_issuers = local.tokens_on && length(var.token_issuers) > 0 ? jsonencode([
    for issuer in var.token_issuers : { for key, value in issuer : key => value if value != null }
  ]) : ""

  table_name             = "${var.name}-channels"
  rx_function_name       = "${var.name}-rx"
  http_function_name     = "${var.name}-http"
  worker_function_name   = "${var.name}-worker"
  commands_function_name = "${var.name}-commands"
  presence_function_name = "${var.name}-presence"

  # Log group names are fixed here (not read from the resources) because the
  # KMS key policy names them and the log groups use the key.
  function_log_groups = {
    rx       = "/aws/lambda/${local.rx_function_name}"
    http     = "/aws/lambda/${local.http_function_name}"
    worker   = "/aws/lambda/${local.worker_function_name}"
    commands = "/aws/lambda/${local.commands_function_name}"
    presence = "/aws/lambda/${local.presence_function_name}"
  }
  log_groups = merge(local.function_log_groups, {
    websocket_access = "/aws/apigateway/${var.name}-websocket/${var.stage_name}"
    http_access      = "/aws/apigateway/${var.name}-http/${var.stage_name}"
  })

  # The stage URLs on the APIs' own (execute-api) endpoints, which always
  # answer: the default endpoint is never disabled (domains.tf).
  websocket_stage_url = "${aws_apigatewayv2_api.websocket.api_endpoint}/${var.stage_name}"
  http_stage_url      = "${aws_apigatewayv2_api.http.api_endpoint}/${var.stage_name}"

  # aud and iss of this deployment's tokens: fixed identifiers (tokens.tf).
  token_audience = terraform_data.token_identity.output.audience
  token_issuer   = terraform_data.token_identity.output.issuer

  # The URLs clients use: the custom domains when set (domains.tf), which
  # map to the stage at their root.
  websocket_url = var.websocket_domain != null ? "wss://${var.websocket_domain}" : local.websocket_stage_url
  http_url      = var.http_domain != null ? "https://${var.http_domain}" : local.http_stage_url

  # The WebSocket stage's @connections endpoint (https, same host and stage),
  # always on execute-api: a custom domain does not serve @connections.
  management_endpoint = "${replace(aws_apigatewayv2_api.websocket.api_endpoint, "wss://", "https://")}/${var.stage_name}"

  # What the functions that deliver may call: POST @connections/{id} on this
  # stage only.
  manage_connections_arn = "${aws_apigatewayv2_api.websocket.execution_arn}/${var.stage_name}/POST/@connections/*"
}
