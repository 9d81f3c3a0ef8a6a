# One role per function, each allowed only the calls its binary makes, on
# this deployment's table, its index, its stream, the stage's @connections
# and its queues. The contract tests (tools/contract-tests) evaluate these
# documents and hold each role to the calls its code makes.

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

# --- What every function needs: its environment decrypted at start-up
# (Lambda does it with the role's identity), its own log group, X-Ray, and
# the table's key, which DynamoDB uses on the caller's behalf.
data "aws_iam_policy_document" "function_basics" {
  for_each = local.function_log_groups

  statement {
    sid       = "KeyDecrypt"
    actions   = ["kms:Decrypt"]
    resources = [aws_kms_key.this.arn]
  }

  statement {
    sid       = "TableKeyThroughDynamoDb"
    actions   = ["kms:DescribeKey", "kms:Encrypt", "kms:GenerateDataKey*", "kms:ReEncrypt*"]
    resources = [aws_kms_key.this.arn]

    condition {
      test     = "StringEquals"
      variable = "kms:ViaService"
      values   = ["dynamodb.${var.region}.${local.dns_suffix}"]
    }
  }

  statement {
    sid       = "OwnLogGroup"
    actions   = ["logs:CreateLogStream", "logs:PutLogEvents"]
    resources = ["${aws_cloudwatch_log_group.function[each.key].arn}:*"]
  }

  statement {
    # X-Ray has no resource-level permissions for these actions.
    sid       = "XRayTraces"
    actions   = ["xray:PutTraceSegments", "xray:PutTelemetryRecords"]
    resources = ["*"]
  }
}

# --- Delivering to a channel, which http and commands (a synchronous
# publish), the worker (a shard job) and presence (a join or leave event) do
# with the same fan-out code: Query the channel index shard by shard, POST
# @connections on this stage, and for a connection API Gateway reports gone
# (410) Query its items (pk conn#{id}) and delete them (BatchWriteItem).
data "aws_iam_policy_document" "fan_out" {
  statement {
    sid       = "ChannelMembersAndConnectionItemsQuery"
    actions   = ["dynamodb:Query"]
    resources = [aws_dynamodb_table.channels.arn, "${aws_dynamodb_table.channels.arn}/index/channel-shard-index"]
  }

  # A connection API Gateway reports gone (410) is read first (one still
  # connecting is kept), then its items are deleted.
  statement {
    sid       = "GoneConnectionItems"
    actions   = ["dynamodb:GetItem", "dynamodb:BatchWriteItem"]
    resources = [aws_dynamodb_table.channels.arn]
  }

  statement {
    sid       = "PostToConnection"
    actions   = ["execute-api:ManageConnections"]
    resources = [local.manage_connections_arn]
  }
}

# --- Handing a big publish to the workers: one shard job per shard sent to
# the publish queue (SendMessageBatch needs sqs:SendMessage), encrypted by SQS
# with the data key on the caller's behalf (GenerateDataKey, and Decrypt of a
# cached one).
data "aws_iam_policy_document" "publish_queue_send" {
  statement {
    sid       = "PublishQueueSend"
    actions   = ["sqs:SendMessage"]
    resources = [aws_sqs_queue.publish.arn]
  }

  statement {
    sid       = "QueueKeyThroughSqs"
    actions   = ["kms:GenerateDataKey", "kms:Decrypt"]
    resources = [aws_kms_key.this.arn]

    condition {
      test     = "StringEquals"
      variable = "kms:ViaService"
      values   = ["sqs.${var.region}.${local.dns_suffix}"]
    }
  }
}

# --- rx: $connect writes the connection item and its first membership
# (PutItem, BatchWriteItem), $disconnect finds every item of the connection
# (Query on pk conn#{id}) and deletes them (BatchWriteItem); $default echoes
# through the route response, so no @connections permission at all.
# Subscriber tokens are verified with the public keys in TOKEN_PUBLIC_KEYS:
# no KMS call, no permission.
resource "aws_iam_role" "rx" {
  name               = "${var.name}-${var.region}-rx"
  description        = "Lambda ${local.rx_function_name}: WebSocket connect/disconnect/echo"
  assume_role_policy = data.aws_iam_policy_document.lambda_assume.json
}

data "aws_iam_policy_document" "rx" {
  source_policy_documents = [data.aws_iam_policy_document.function_basics["rx"].json]

  statement {
    sid       = "ConnectionItems"
    actions   = ["dynamodb:PutItem", "dynamodb:Query", "dynamodb:BatchWriteItem"]
    resources = [aws_dynamodb_table.channels.arn]
  }
}

resource "aws_iam_role_policy" "rx" {
  name   = "rx"
  role   = aws_iam_role.rx.id
  policy = data.aws_iam_policy_document.rx.json
}

# --- http: publishes (the channel's counter, history and publish key items,
# then fan_out, or the publish queue for a big channel), counts, reads
# history and presence, mints tokens.
#
# It also signs subscriber tokens (kms:Sign on aws_kms_key.tokens), but that
# permission is in the key's policy (kms.tf), which names this role directly,
# and deliberately not here: a key policy that names a principal needs no IAM
# statement besides it, and keeping kms:Sign out of the account's statement
# there means no IAM policy, this one included, can hand it to anyone else.
resource "aws_iam_role" "http" {
  name               = "${var.name}-${var.region}-http"
  description        = "Lambda ${local.http_function_name}: publish to a channel, count it, read its history and presence, mint subscriber tokens"
  assume_role_policy = data.aws_iam_policy_document.lambda_assume.json
}

data "aws_iam_policy_document" "http" {
  source_policy_documents = [
    data.aws_iam_policy_document.function_basics["http"].json,
    data.aws_iam_policy_document.fan_out.json,
    data.aws_iam_policy_document.publish_queue_send.json,
  ]

  statement {
    sid       = "ChannelItems"
    actions   = ["dynamodb:GetItem", "dynamodb:PutItem", "dynamodb:UpdateItem", "dynamodb:DeleteItem"]
    resources = [aws_dynamodb_table.channels.arn]
  }
}

resource "aws_iam_role_policy" "http" {
  name   = "http"
  role   = aws_iam_role.http.id
  policy = data.aws_iam_policy_document.http.json
}

# --- commands: what http does for a socket publish, plus subscriptions: a
# subscribe checks the connection item and adds a membership in one
# transaction (TransactWriteItems, which IAM authorizes per item: here Put,
# Update and Delete; there is no dynamodb:TransactWriteItems).
resource "aws_iam_role" "commands" {
  name               = "${var.name}-${var.region}-commands"
  description        = "Lambda ${local.commands_function_name}: WebSocket subscribe, unsubscribe, publish and presence"
  assume_role_policy = data.aws_iam_policy_document.lambda_assume.json
}

data "aws_iam_policy_document" "commands" {
  source_policy_documents = [
    data.aws_iam_policy_document.function_basics["commands"].json,
    data.aws_iam_policy_document.fan_out.json,
    data.aws_iam_policy_document.publish_queue_send.json,
  ]

  statement {
    sid = "ChannelAndConnectionItems"
    actions = [
      "dynamodb:GetItem",
      "dynamodb:PutItem",
      "dynamodb:UpdateItem",
      "dynamodb:DeleteItem",
    ]
    resources = [aws_dynamodb_table.channels.arn]
  }
}

resource "aws_iam_role_policy" "commands" {
  name   = "commands"
  role   = aws_iam_role.commands.id
  policy = data.aws_iam_policy_document.commands.json
}

# --- worker: delivers the shard jobs of the publish queue (fan_out, and the
# queue to hand the rest of a shard on), and its event source mapping
# receives and deletes them with this role.
resource "aws_iam_role" "worker" {
  name               = "${var.name}-${var.region}-worker"
  description        = "Lambda ${local.worker_function_name}: deliver the shard jobs of the publish queue"
  assume_role_policy = data.aws_iam_policy_document.lambda_assume.json
}

data "aws_iam_policy_document" "worker" {
  source_policy_documents = [
    data.aws_iam_policy_document.function_basics["worker"].json,
    data.aws_iam_policy_document.fan_out.json,
    data.aws_iam_policy_document.publish_queue_send.json,
  ]

  statement {
    # What Lambda's event source mapping calls with the function's role, and
    # ChangeMessageVisibility: the worker makes a failed job visible again
    # after 10 s, 20 s, 40 s... rather than after the visibility timeout. The
    # mapping decrypts what it receives with the role's kms:Decrypt
    # (function_basics).
    sid       = "PublishQueueConsume"
    actions   = ["sqs:ReceiveMessage", "sqs:DeleteMessage", "sqs:GetQueueAttributes", "sqs:ChangeMessageVisibility"]
    resources = [aws_sqs_queue.publish.arn]
  }
}

resource "aws_iam_role_policy" "worker" {
  name   = "worker"
  role   = aws_iam_role.worker.id
  policy = data.aws_iam_policy_document.worker.json
}

# --- presence: turns the stream's membership records into join and leave
# events (fan_out). Its event source mapping reads the stream with this role
# and records a batch that keeps failing in the presence dead-letter queue
# (queue.tf), also with this role.
resource "aws_iam_role" "presence" {
  name               = "${var.name}-${var.region}-presence"
  description        = "Lambda ${local.presence_function_name}: join and leave events from the table's stream"
  assume_role_policy = data.aws_iam_policy_document.lambda_assume.json
}

data "aws_iam_policy_document" "presence" {
  source_policy_documents = [
    data.aws_iam_policy_document.function_basics["presence"].json,
    data.aws_iam_policy_document.fan_out.json,
  ]

  statement {
    # The table's streams only (a stream's ARN is the table's ARN +
    # /stream/<label>; a new one replaces it if the stream is ever turned off
    # and on), as in the DynamoDB guide's policy for a Lambda trigger.
    sid       = "TableStreamRead"
    actions   = ["dynamodb:DescribeStream", "dynamodb:GetRecords", "dynamodb:GetShardIterator", "dynamodb:ListStreams"]
    resources = ["${aws_dynamodb_table.channels.arn}/stream/*"]
  }

  statement {
    sid       = "PresenceDeadLetterSend"
    actions   = ["sqs:SendMessage"]
    resources = [aws_sqs_queue.presence_dlq.arn]
  }

  statement {
    sid       = "QueueKeyThroughSqs"
    actions   = ["kms:GenerateDataKey", "kms:Decrypt"]
    resources = [aws_kms_key.this.arn]

    condition {
      test     = "StringEquals"
      variable = "kms:ViaService"
      values   = ["sqs.${var.region}.${local.dns_suffix}"]
    }
  }
}

resource "aws_iam_role_policy" "presence" {
  name   = "presence"
  role   = aws_iam_role.presence.id
  policy = data.aws_iam_policy_document.presence.json
}

# --- API Gateway's account-level CloudWatch Logs role (one per account and
# Region), which WebSocket stages need to write access logs.
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
