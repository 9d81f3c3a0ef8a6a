# Subscriber tokens (subscriber_auth = "token"): the key that signs them, its
# public half, and the identity (aud, iss) they carry.
#
# The signing key is an asymmetric P-256 key whose private half never leaves
# KMS. The http function signs tokens with it (kms:Sign, ES256); everyone else
# verifies with the public half, which Terraform reads once
# (data.aws_kms_public_key.tokens) and hands rx, http and commands as
# TOKEN_PUBLIC_KEYS, so rx makes no KMS call and holds no KMS permission for
# it. $1/month plus $0.15 per 10,000 signatures (one per minted token).
#
# Rotation (docs/deploy.md): `terraform apply -replace='aws_kms_key.tokens[0]'
# -var 'token_previous_public_keys=["<the token_public_key output>"]'`.
# create_before_destroy makes that apply create the new key, point the alias
# and the functions at it, and only then schedule the old one for deletion:
# POST /tokens keeps signing throughout (with the old key until the http
# function is updated), and rx keeps accepting the tokens the old key signed.
resource "aws_kms_key" "tokens" {
  #checkov:skip=CKV_AWS_7:Asymmetric KMS keys cannot rotate (KMS rotates symmetric encryption keys only). It is replaced instead (terraform apply -replace), with its public key kept in var.token_previous_public_keys until the tokens it signed expire (token_max_ttl_seconds).
  count = local.tokens_on ? 1 : 0

  description              = "${var.name}: signs subscriber tokens (ES256) for the http function"
  customer_master_key_spec = "ECC_NIST_P256"
  key_usage                = "SIGN_VERIFY"
  deletion_window_in_days  = var.kms_deletion_window_days

  policy = jsonencode({
    Version = "2012-10-17"
    Statement = [
      {
        # The account (the deployer, through IAM policies) manages the key and
        # reads its public half, but may not sign: kms:Sign is absent here, so
        # no IAM policy can grant it, and without kms:CreateGrant no grant can
        # either. Terraform needs the Describe/Get/List actions to read the
        # key, PutKeyPolicy to update this policy (and CreateKey's lockout
        # check), the alias actions for aws_kms_alias.tokens and GetPublicKey
        # for data.aws_kms_public_key.tokens.
        Sid       = "AccountAdministersAndReadsPublicKey"
        Effect    = "Allow"
        Principal = { AWS = "arn:${local.partition}:iam::${local.account_id}:root" }
        Action = [
          "kms:DescribeKey",
          "kms:GetPublicKey",
          "kms:GetKeyPolicy",
          "kms:GetKeyRotationStatus",
          "kms:ListKeyPolicies",
          "kms:ListResourceTags",
          "kms:ListGrants",
          "kms:PutKeyPolicy",
          "kms:UpdateKeyDescription",
          "kms:EnableKey",
          "kms:DisableKey",
          "kms:TagResource",
          "kms:UntagResource",
          "kms:CreateAlias",
          "kms:UpdateAlias",
          "kms:DeleteAlias",
          "kms:ScheduleKeyDeletion",
          "kms:CancelKeyDeletion",
        ]
        Resource = "*"
      },
      {
        # The only signer: the http function's role, named here directly, so
        # its IAM policy needs no KMS statement (iam.tf). ES256 only.
        Sid       = "OnlyHttpFunctionSigns"
        Effect    = "Allow"
        Principal = { AWS = aws_iam_role.http.arn }
        Action    = "kms:Sign"
        Resource  = "*"
        Condition = {
          StringEquals = {
            "kms:SigningAlgorithm" = "ECDSA_SHA_256"
          }
        }
      },
    ]
  })

  lifecycle {
    create_before_destroy = true
  }
}

resource "aws_kms_alias" "tokens" {
  count = local.tokens_on ? 1 : 0

  name          = "alias/${var.name}-tokens"
  target_key_id = aws_kms_key.tokens[0].key_id
}

# The public key as base64 DER (SubjectPublicKeyInfo): TOKEN_PUBLIC_KEYS.
data "aws_kms_public_key" "tokens" {
  count = local.tokens_on ? 1 : 0

  key_id = aws_kms_key.tokens[0].arn
}

# The `aud` and `iss` of every token this deployment mints and accepts
# (TOKEN_AUDIENCE, TOKEN_ISSUER): identifiers of the deployment, fixed at the
# first apply that creates this resource and never changed afterwards
# (ignore_changes), whatever happens to the URLs: a custom domain added or
# changed (domains.tf), a new stage_name. They are the execute-api stage URLs
# of that first apply because those were the audience and issuer before this
# resource existed: a deployment upgraded to it keeps accepting the tokens it
# had minted. `terraform apply -replace=terraform_data.token_identity`
# re-reads them from the current stages, which invalidates every token.
resource "terraform_data" "token_identity" {
  input = {
    audience = local.websocket_stage_url
    issuer   = local.http_stage_url
  }

  lifecycle {
    ignore_changes = [input]
  }
}
