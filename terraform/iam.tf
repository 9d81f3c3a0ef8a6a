# One role per function, each allowed only the calls its binary makes.

data "aws_iam_policy_document" "lambda_assume" {
  statement {
    sid     = "LambdaAssumesRole"
    actions = ["sts:AssumeRole"]

    principals {
      type        = "Service"
      identifiers = ["lambda.amazonaws.com"]
    }
  }
}

# --- rx: $connect PutItem, $disconnect DeleteItem; $default echoes through the
# route response, so no @connections permission at all. Subscriber tokens are
# verified with the public key in TOKEN_PUBLIC_KEYS: no KMS call, no permission.
resource "aws_iam_role" "rx" {
  name               = "${var.name}-${var.region}-rx"
  description        = "Lambda ${local.rx_function_name}: WebSocket connect/disconnect/echo"
  assume_role_policy = data.aws_iam_policy_document.lambda_assume.json
}

data "aws_iam_policy_document" "rx" {
  statement {
    sid       = "ConnectionsWrite"
    actions   = ["dynamodb:PutItem", "dynamodb:DeleteItem"]
    resources = [aws_dynamodb_table.channels.arn]
  }

  statement {
    # Lambda decrypts the environment with the role's identity at start-up.
    sid       = "KeyDecrypt"
    actions   = ["kms:Decrypt"]
    resources = [aws_kms_key.this.arn]
  }

  statement {
    # DynamoDB uses the table key on the caller's behalf.
    sid       = "TableKeyThroughDynamoDb"
    actions   = ["kms:DescribeKey", "kms:Encrypt", "kms:GenerateDataKey*", "kms:ReEncrypt*"]
    resources = [aws_kms_key.this.arn]

    condition {
      test     = "StringEquals"
      variable = "kms:ViaService"
      values   = ["dynamodb.${var.region}.amazonaws.com"]
    }
  }

  statement {
    sid       = "OwnLogGroup"
    actions   = ["logs:CreateLogStream", "logs:PutLogEvents"]
    resources = ["${aws_cloudwatch_log_group.rx.arn}:*"]
  }

  statement {
    # X-Ray has no resource-level permissions for these actions.
    sid       = "XRayTraces"
    actions   = ["xray:PutTraceSegments", "xray:PutTelemetryRecords"]
    resources = ["*"]
  }
}

resource "aws_iam_role_policy" "rx" {
  name   = "rx"
  role   = aws_iam_role.rx.id
  policy = data.aws_iam_policy_document.rx.json
}

# --- Delivering a publish, which the http function (synchronously, and when
# it hands a big one to the workers) and the worker (asynchronously) both do
# with the same fan-out code: Query the channel index, PostToConnection on this
# stage, delete the connections API Gateway reports as gone (410), and send
# shard jobs to the publish queue (SendMessageBatch needs sqs:SendMessage).
# Both roles' policies start from this document (source_policy_documents), so
# that what the fan-out calls is granted in one place.
data "aws_iam_policy_document" "fan_out" {
  statement {
    sid       = "ChannelMembersQuery"
    actions   = ["dynamodb:Query"]
    resources = ["${aws_dynamodb_table.channels.arn}/index/channel-shard-index"]
  }

  statement {
    sid       = "GoneConnectionsDelete"
    actions   = ["dynamodb:DeleteItem"]
    resources = [aws_dynamodb_table.channels.arn]
  }

  statement {
    sid       = "PostToConnection"
    actions   = ["execute-api:ManageConnections"]
    resources = [local.manage_connections_arn]
  }

  statement {
    # DynamoDB uses the table key on the caller's behalf.
    sid       = "TableKeyThroughDynamoDb"
    actions   = ["kms:DescribeKey", "kms:Encrypt", "kms:GenerateDataKey*", "kms:ReEncrypt*"]
    resources = [aws_kms_key.this.arn]

    condition {
      test     = "StringEquals"
      variable = "kms:ViaService"
      values   = ["dynamodb.${var.region}.amazonaws.com"]
    }
  }

  statement {
    sid       = "PublishQueueSend"
    actions   = ["sqs:SendMessage"]
    resources = [aws_sqs_queue.publish.arn]
  }

  statement {
    # SQS uses the queue key on the caller's behalf: a data key to encrypt
    # what it sends (GenerateDataKey, and Decrypt of a cached one).
    sid       = "QueueKeyThroughSqs"
    actions   = ["kms:GenerateDataKey", "kms:Decrypt"]
    resources = [aws_kms_key.this.arn]

    condition {
      test     = "StringEquals"
      variable = "kms:ViaService"
      values   = ["sqs.${var.region}.amazonaws.com"]
    }
  }
}

# --- http: delivers publishes up to var.publish_sync_max members, hands bigger
# ones to the workers (fan_out above), counts channels.
#
# It also signs subscriber tokens (kms:Sign on aws_kms_key.tokens), but that
# permission is in the key's policy (kms.tf), which names this role directly,
# and deliberately not here: a key policy that names a principal needs no IAM
# statement besides it, and keeping kms:Sign out of the account's statement
# there means no IAM policy, this one included, can hand it to anyone else.
resource "aws_iam_role" "http" {
  name               = "${var.name}-${var.region}-http"
  description        = "Lambda ${local.http_function_name}: publish to a channel, count a channel, mint subscriber tokens"
  assume_role_policy = data.aws_iam_policy_document.lambda_assume.json
}

data "aws_iam_policy_document" "http" {
  source_policy_documents = [data.aws_iam_policy_document.fan_out.json]

  statement {
    # Lambda decrypts the environment with the role's identity at start-up.
    sid       = "KeyDecrypt"
    actions   = ["kms:Decrypt"]
    resources = [aws_kms_key.this.arn]
  }

  statement {
    sid       = "OwnLogGroup"
    actions   = ["logs:CreateLogStream", "logs:PutLogEvents"]
    resources = ["${aws_cloudwatch_log_group.http.arn}:*"]
  }

  statement {
    sid       = "XRayTraces"
    actions   = ["xray:PutTraceSegments", "xray:PutTelemetryRecords"]
    resources = ["*"]
  }
}

resource "aws_iam_role_policy" "http" {
  name   = "http"
  role   = aws_iam_role.http.id
  policy = data.aws_iam_policy_document.http.json
}

# --- worker: delivers the shard jobs of the publish queue (fan_out above, which
# also lets it hand the rest of a shard on), and its event source mapping
# receives and deletes them with this role.
resource "aws_iam_role" "worker" {
  name               = "${var.name}-${var.region}-worker"
  description        = "Lambda ${local.worker_function_name}: deliver the shard jobs of the publish queue"
  assume_role_policy = data.aws_iam_policy_document.lambda_assume.json
}

data "aws_iam_policy_document" "worker" {
  source_policy_documents = [data.aws_iam_policy_document.fan_out.json]

  statement {
    # What Lambda's event source mapping calls with the function's role, and
    # ChangeMessageVisibility: the worker makes a failed job visible again
    # after 10 s, 20 s, 40 s... rather than after the visibility timeout.
    sid       = "PublishQueueConsume"
    actions   = ["sqs:ReceiveMessage", "sqs:DeleteMessage", "sqs:GetQueueAttributes", "sqs:ChangeMessageVisibility"]
    resources = [aws_sqs_queue.publish.arn]
  }

  statement {
    # Lambda decrypts the environment with the role's identity at start-up;
    # the event source mapping decrypts the messages it receives (SQS).
    sid       = "KeyDecrypt"
    actions   = ["kms:Decrypt"]
    resources = [aws_kms_key.this.arn]
  }

  statement {
    sid       = "OwnLogGroup"
    actions   = ["logs:CreateLogStream", "logs:PutLogEvents"]
    resources = ["${aws_cloudwatch_log_group.worker.arn}:*"]
  }

  statement {
    sid       = "XRayTraces"
    actions   = ["xray:PutTraceSegments", "xray:PutTelemetryRecords"]
    resources = ["*"]
  }
}

resource "aws_iam_role_policy" "worker" {
  name   = "worker"
  role   = aws_iam_role.worker.id
  policy = data.aws_iam_policy_document.worker.json
}

# --- API Gateway's account-level CloudWatch Logs role (one per account and
# Region). WebSocket stages cannot write access logs without it.
data "aws_iam_policy_document" "apigateway_assume" {
  statement {
    sid     = "ApiGatewayAssumesRole"
    actions = ["sts:AssumeRole"]

    principals {
      type        = "Service"
      identifiers = ["apigateway.amazonaws.com"]
    }
  }
}

resource "aws_iam_role" "apigateway_cloudwatch" {
  count = var.manage_api_gateway_account ? 1 : 0

  name               = "${var.name}-${var.region}-apigw-logs"
  description        = "API Gateway account setting: push stage logs to CloudWatch Logs"
  assume_role_policy = data.aws_iam_policy_document.apigateway_assume.json
}

resource "aws_iam_role_policy_attachment" "apigateway_cloudwatch" {
  count = var.manage_api_gateway_account ? 1 : 0

  role       = aws_iam_role.apigateway_cloudwatch[0].name
  policy_arn = "arn:${local.partition}:iam::aws:policy/service-role/AmazonAPIGatewayPushToCloudWatchLogs"
}

resource "aws_api_gateway_account" "this" {
  count = var.manage_api_gateway_account ? 1 : 0

  cloudwatch_role_arn = aws_iam_role.apigateway_cloudwatch[0].arn

  depends_on = [aws_iam_role_policy_attachment.apigateway_cloudwatch]
}
