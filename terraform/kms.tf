# One customer managed key encrypts the table, the log groups and the functions'
# environment variables: $1/month, rotated yearly, usable only by this account's
# IAM principals and by CloudWatch Logs for these log groups.
resource "aws_kms_key" "this" {
  description             = "${var.name}: DynamoDB table, CloudWatch log groups, Lambda environment"
  enable_key_rotation     = true
  deletion_window_in_days = var.kms_deletion_window_days

  policy = jsonencode({
    Version = "2012-10-17"
    Statement = [
      {
        # Delegates to IAM: only principals whose IAM policies allow it (the
        # deployer, and the Lambda roles via DynamoDB, see iam.tf) use the key.
        Sid       = "AccountAdministersThroughIam"
        Effect    = "Allow"
        Principal = { AWS = "arn:${local.partition}:iam::${local.account_id}:root" }
        Action    = "kms:*"
        Resource  = "*"
      },
      {
        Sid       = "CloudWatchLogsForTheseLogGroups"
        Effect    = "Allow"
        Principal = { Service = "logs.${var.region}.amazonaws.com" }
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
