# The publish queue: a publish to a channel bigger than var.publish_sync_max is
# answered 202 by the http function (or the commands function, for a socket
# publish), which sends one message per shard here (a JSON shard job, up to
# ~172 KiB for a 128 KiB message). The worker function (lambda.tf) consumes it
# through an event source mapping, and hands the rest of a shard it could not
# finish before its deadline back as a new message. What keeps failing lands
# in the dead-letter queue, and an alarm says so.
#
# The presence dead-letter queue: where the stream's event source mapping
# (lambda.tf) records a batch of membership changes that kept failing.
#
# Every queue is encrypted with the CMK of kms.tf. SQS uses the key with the
# permissions of whoever calls it (iam.tf: senders with kms:GenerateDataKey
# and kms:Decrypt through SQS; the worker's event source mapping receives,
# with kms:Decrypt), which the key policy delegates to IAM: it needs no
# statement for SQS.

locals {
  publish_queue_name = "${var.name}-publish"
  publish_dlq_name   = "${var.name}-publish-dlq"
  presence_dlq_name  = "${var.name}-presence-dlq"

  # How often SQS hands a job to a worker before moving it to the dead-letter
  # queue. A job fails as a whole only when nothing of it could be delivered
  # (the store failed before its first page, or the rest of the shard could
  # not be handed on) or when its invocation crashed or timed out; five tries
  # a visibility timeout apart ride out a throttled table or queue, or a brief
  # outage, without keeping a broken job for hours. The local gateway retries
  # five times too (tools/local-gateway: MAX_RECEIVES; checked by
  # tools/contract-tests).
  publish_max_receives = 5
}

resource "aws_sqs_queue" "publish_dlq" {
  name = local.publish_dlq_name
  # SQS keeps a message's original enqueue time when it moves it here, so the
  # retention counts from the publish: 14 days (the most SQS allows) leaves
  # about 13 to look at it and redrive it.
  message_retention_seconds         = 1209600
  max_message_size                  = 262144
  kms_master_key_id                 = aws_kms_key.this.arn
  kms_data_key_reuse_period_seconds = 300
}

# Only the publish queue may use the dead-letter queue as one.
resource "aws_sqs_queue_redrive_allow_policy" "publish_dlq" {
  queue_url = aws_sqs_queue.publish_dlq.id
  redrive_allow_policy = jsonencode({
    redrivePermission = "byQueue"
    sourceQueueArns   = [aws_sqs_queue.publish.arn]
  })
}

resource "aws_sqs_queue" "publish" {
  name = local.publish_queue_name
  # AWS's advice for a Lambda event source: at least six times the function's
  # timeout, so that a batch whose invocation is retried (throttled, or timed
  # out) is not visible to another worker meanwhile. 6 × 900 s at most, well
  # under SQS's 12 hours.
  visibility_timeout_seconds = var.worker_timeout * 6
  # A broadcast delivered a day late is of little use, and a job that fails
  # reaches the dead-letter queue long before: at most 5 receives × 6 × 900 s
  # = 7.5 h. Shorter than the dead-letter queue's 14 days, as AWS advises:
  # a moved message keeps its age, and would expire there at once otherwise.
  message_retention_seconds         = 86400
  max_message_size                  = 262144
  kms_master_key_id                 = aws_kms_key.this.arn
  kms_data_key_reuse_period_seconds = 300

  redrive_policy = jsonencode({
    deadLetterTargetArn = aws_sqs_queue.publish_dlq.arn
    maxReceiveCount     = local.publish_max_receives
  })
}

# The presence events' dead letters: what Lambda sends here for a batch of
# stream records it gave up on (after var.presence_max_retry_attempts retries
# or var.presence_max_record_age_seconds) is a description of the batch (the
# stream's shard and the sequence numbers of its first and last record), not
# the records: the stream keeps them 24 hours. Their subscribers missed a join
# or leave event; presence itself (the action and GET .../presence) stays
# exact, since it reads the memberships. Its own queue rather than the publish
# dead-letter queue, whose jobs are redriven into the publish queue.
resource "aws_sqs_queue" "presence_dlq" {
  name                              = local.presence_dlq_name
  message_retention_seconds         = 1209600
  kms_master_key_id                 = aws_kms_key.this.arn
  kms_data_key_reuse_period_seconds = 300
}

# Every queue refuses requests that do not come over TLS, whoever makes them.
# Everything else is up to IAM (iam.tf): the queues trust nobody outside the
# account, and inside it only principals whose IAM policies allow it.
locals {
  queues = {
    publish      = aws_sqs_queue.publish
    publish_dlq  = aws_sqs_queue.publish_dlq
    presence_dlq = aws_sqs_queue.presence_dlq
  }
}

data "aws_iam_policy_document" "queue_tls_only" {
  for_each = local.queues

  statement {
    sid       = "DenyInsecureTransport"
    effect    = "Deny"
    actions   = ["sqs:*"]
    resources = [each.value.arn]

    principals {
      type        = "*"
      identifiers = ["*"]
    }

    condition {
      test     = "Bool"
      variable = "aws:SecureTransport"
      values   = ["false"]
    }
  }
}

resource "aws_sqs_queue_policy" "queue" {
  for_each = local.queues

  queue_url = each.value.id
  policy    = data.aws_iam_policy_document.queue_tls_only[each.key].json
}

moved {
  from = aws_sqs_queue_policy.publish
  to   = aws_sqs_queue_policy.queue["publish"]
}

moved {
  from = aws_sqs_queue_policy.publish_dlq
  to   = aws_sqs_queue_policy.queue["publish_dlq"]
}

# A message in a dead-letter queue is a delivery that did not reach its
# subscribers. Each alarm turns ALARM while its queue holds any message: the
# CloudWatch console's Alarms page lists it (`aws cloudwatch describe-alarms
# --state-value ALARM` does too); no notification is sent (add an SNS topic to
# alarm_actions for one). The messages themselves: the SQS console's "Send and
# receive messages" on the queue; publish jobs go back with "Start DLQ
# redrive" once the cause is fixed.
locals {
  dead_letter_queues = {
    publish_dlq = {
      queue       = aws_sqs_queue.publish_dlq
      description = "Shard jobs of asynchronous publishes failed ${local.publish_max_receives} times and wait in ${local.publish_dlq_name}: their subscribers missed a message. Read the worker's log (${local.log_groups.worker}) for why; redrive them from the SQS console once fixed."
    }
    presence_dlq = {
      queue       = aws_sqs_queue.presence_dlq
      description = "Batches of membership changes the presence function kept failing on are recorded in ${local.presence_dlq_name}: their channels' subscribers missed join or leave events (presence queries stay exact). Read the presence function's log (${local.log_groups.presence}) for why."
    }
  }
}

resource "aws_cloudwatch_metric_alarm" "dead_letters" {
  for_each = local.dead_letter_queues

  alarm_name        = "${each.value.queue.name}-not-empty"
  alarm_description = each.value.description
  namespace         = "AWS/SQS"
  metric_name       = "ApproximateNumberOfMessagesVisible"
  dimensions = {
    QueueName = each.value.queue.name
  }
  statistic           = "Maximum"
  period              = 300
  evaluation_periods  = 1
  comparison_operator = "GreaterThanThreshold"
  threshold           = 0
  # SQS publishes no metric for a queue that has been empty and idle for six
  # hours: no data means no message.
  treat_missing_data = "notBreaching"
}

moved {
  from = aws_cloudwatch_metric_alarm.publish_dlq
  to   = aws_cloudwatch_metric_alarm.dead_letters["publish_dlq"]
}
