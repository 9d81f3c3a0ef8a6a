# One item per connection; see crates/channels-aws/src/schema.rs for the key
# design. The names below are checked against that file by
# tools/contract-tests.
resource "aws_dynamodb_table" "connections" {
  name                        = local.table_name
  billing_mode                = "PAY_PER_REQUEST"
  hash_key                    = "connectionId"
  deletion_protection_enabled = var.table_deletion_protection

  attribute {
    name = "connectionId"
    type = "S"
  }

  attribute {
    name = "channelShard"
    type = "S"
  }

  # Members of a channel: one Query per shard on "{channel}#{shard}",
  # paginated by connectionId (var.channel_shards shards per channel).
  # `hash_key`/`range_key` rather than `key_schema`: they work on every 6.x
  # provider, while `key_schema` only arrived late in 6.x.
  global_secondary_index {
    name               = "channel-shard-index"
    hash_key           = "channelShard"
    range_key          = "connectionId"
    projection_type    = "INCLUDE"
    non_key_attributes = ["expiresAt"]
  }

  # Connections whose $disconnect never arrived expire (epoch seconds).
  ttl {
    attribute_name = "expiresAt"
    enabled        = true
  }

  point_in_time_recovery {
    enabled = true
  }

  server_side_encryption {
    enabled     = true
    kms_key_arn = aws_kms_key.this.arn
  }
}
