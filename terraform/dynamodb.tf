# One table, generic keys, five item types (connection, membership, channel
# counter, history message, publish key): the data model of
# crates/channels-aws/src/schema.rs, whose names the contract tests
# (tools/contract-tests) hold this table to. A key schema and an index
# projection cannot change in place, so this is a new table beside the
# `${var.name}-connections` one of earlier versions, which the first apply of
# this version deletes (docs/deploy.md: "Upgrading").
resource "aws_dynamodb_table" "channels" {
  name                        = local.table_name
  billing_mode                = "PAY_PER_REQUEST"
  hash_key                    = "pk"
  range_key                   = "sk"
  deletion_protection_enabled = var.table_deletion_protection

  attribute {
    name = "pk"
    type = "S"
  }

  attribute {
    name = "sk"
    type = "S"
  }

  attribute {
    name = "channelShard"
    type = "S"
  }

  attribute {
    name = "connectionId"
    type = "S"
  }

  # Members of a channel: one Query per shard on "{channel}#{shard}",
  # paginated by connectionId (var.channel_shards shards per channel). Sparse:
  # only membership items carry channelShard. It projects what fan-out and
  # presence read (schema.rs: INDEX_PROJECTED).
  # `hash_key`/`range_key` rather than `key_schema`: they work on every 6.x
  # provider, while `key_schema` only arrived late in 6.x.
  global_secondary_index {
    name               = "channel-shard-index"
    hash_key           = "channelShard"
    range_key          = "connectionId"
    projection_type    = "INCLUDE"
    non_key_attributes = ["protocol", "subject", "expiresAt"]
  }

  # Every item but a channel's counter expires (epoch seconds): connections
  # whose $disconnect never arrived, history past history_ttl_seconds, old
  # publish keys.
  ttl {
    attribute_name = "expiresAt"
    enabled        = true
  }

  # The presence function reads join and leave events from here (lambda.tf:
  # aws_lambda_event_source_mapping.presence). NEW_AND_OLD_IMAGES because it
  # needs a membership's `subject` both when the item is inserted (the new
  # image) and when it is removed, by $disconnect, a 410 clean-up or a TTL
  # deletion (only the old image has it then).
  stream_enabled   = true
  stream_view_type = "NEW_AND_OLD_IMAGES"

  point_in_time_recovery {
    enabled = true
  }

  server_side_encryption {
    enabled     = true
    kms_key_arn = aws_kms_key.this.arn
  }
}
