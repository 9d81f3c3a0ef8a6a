# One customer managed key encrypts the table, the publish queues, the log
# groups and the functions' environment variables: $1/month, rotated yearly,
# usable only by this account's IAM principals and by CloudWatch Logs for these
# log groups. DynamoDB and SQS use it with the permissions of their callers
# (iam.tf: each statement conditioned on kms:ViaService), so neither needs a
# statement here.
resource "aws_kms_key" "this" {
  description             = "${var.name}: DynamoDB table, SQS publish queues, CloudWatch log groups, Lambda environment"
  enable_key_rotation     = true
  deletion_window_in_days = var.kms_deletion_window_days

  policy = jsonencode({
    Version = "2012-10-17"
    Statement = [
      {
        # Delegates to IAM: only principals whose IAM policies allow it (the
        # deployer, and the Lambda roles via DynamoDB and SQS, see iam.tf) use
        # the key.
        Sid       = "AccountAdministersThroughIam"
        Effect    = "Allow"
        Principal = { AWS = "arn:${local.partition}:iam::${local.account_id}:root" }
        Action    = "kms:*"
        Resource  = "*"
      },
      {
        # Every log group of local.log_groups (main.tf): the functions' and
        # the two APIs' access logs. CloudWatch Logs' Regional principal ends
        # in the partition's DNS suffix (amazonaws.com.cn in China).
        Sid       = "CloudWatchLogsForTheseLogGroups"
        Effect    = "Allow"
        Principal = { Service = "logs.${var.region}.${local.dns_suffix}" }
        Action = [
          "kms:Encrypt*",
          "kms:Decrypt*",
          "kms:ReEncrypt*",
          "kms:GenerateDataKey*",
          "kms:Describe*",
        ]
        Resource = "*"
        Condition = {
          ArnEquals = {
            "kms:EncryptionContext:aws:logs:arn" = [
              for name in values(local.log_groups) :
              "arn:${local.partition}:logs:${var.region}:${local.account_id}:log-group:${name}"
            ]
          }
        }
      },
    ]
  })
}

resource "aws_kms_alias" "this" {
  name          = "alias/${var.name}"
  target_key_id = aws_kms_key.this.key_id
}

# --- Subscriber tokens (subscriber_auth = "token"): an asymmetric P-256 key
# whose private half never leaves KMS. The http function signs tokens with it
# (kms:Sign, ES256); everyone else verifies with the public half, which
# Terraform reads once (data.aws_kms_public_key.tokens) and hands both functions
# as TOKEN_PUBLIC_KEYS, so rx makes no KMS call and holds no KMS permission for
# it. $1/month plus $0.15 per 10,000 signatures (one per minted token).
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
