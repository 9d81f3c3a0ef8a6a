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
