//! The table against `channels_aws::schema`.

use crate::*;

#[test]
fn table_matches_the_dynamodb_adapter() {
    let (tf, _) = parsed(&sources());
    report("table", &table_problems(&tf));
}

#[test]
fn table_check_catches_mutations() {
    const TF: &str = "terraform/dynamodb.tf";
    const PLACE: &str = "aws_dynamodb_table.channels (terraform/dynamodb.tf)";
    assert_caught(
        "table",
        |tf, _| table_problems(tf),
        &[
            m(TF, "  hash_key                    = \"pk\"", "  hash_key                    = \"id\"", &[
                PLACE,
                "hash_key is Some(\"id\")",
                "channels_aws::schema::PK is \"pk\"",
            ]),
            // The old layout: no sort key.
            m(TF, "  range_key                   = \"sk\"\n", "", &[
                PLACE,
                "range_key is None",
                "channels_aws::schema::SK is \"sk\"",
            ]),
            m(TF, "\"PAY_PER_REQUEST\"", "\"PROVISIONED\"", &[PLACE, "billing_mode is Some(\"PROVISIONED\")", "PAY_PER_REQUEST"]),
            m(TF, "    attribute_name = \"expiresAt\"", "    attribute_name = \"ttl\"", &[
                PLACE,
                "ttl.attribute_name is Some(\"ttl\")",
                "TTL_ATTRIBUTE is \"expiresAt\"",
            ]),
            m(
                TF,
                "    attribute_name = \"expiresAt\"\n    enabled        = true",
                "    attribute_name = \"expiresAt\"\n    enabled        = false",
                &[PLACE, "ttl.enabled is Some(\"false\")"],
            ),
            m(TF, "    name               = \"channel-shard-index\"", "    name               = \"by-channel\"", &[
                PLACE,
                "no global_secondary_index named \"channel-shard-index\"",
                "by-channel",
            ]),
            m(TF, "    hash_key           = \"channelShard\"", "    hash_key           = \"topic\"", &[
                PLACE,
                "the index's hash_key is Some(\"topic\")",
                "INDEX_HASH_KEY",
            ]),
            m(TF, "    range_key          = \"connectionId\"", "    range_key          = \"connectedAt\"", &[
                PLACE,
                "the index's range_key is Some(\"connectedAt\")",
                "INDEX_RANGE_KEY",
            ]),
            m(TF, "projection_type    = \"INCLUDE\"", "projection_type    = \"ALL\"", &[
                PLACE,
                "projection_type is Some(\"ALL\")",
                "INDEX_PROJECTED",
            ]),
            // Presence needs the subject in the index; fan-out the protocol.
            m(
                TF,
                "non_key_attributes = [\"protocol\", \"subject\", \"expiresAt\"]",
                "non_key_attributes = [\"protocol\", \"expiresAt\"]",
                &[PLACE, "the index projects", "INDEX_PROJECTED is {\"expiresAt\", \"protocol\", \"subject\"}"],
            ),
            m(
                TF,
                "non_key_attributes = [\"protocol\", \"subject\", \"expiresAt\"]",
                "non_key_attributes = [\"protocol\", \"subject\", \"expiresAt\", \"grants\"]",
                &[PLACE, "the index projects", "grants"],
            ),
            m(TF, "    name = \"channelShard\"\n    type = \"S\"", "    name = \"channelShard\"\n    type = \"N\"", &[
                PLACE,
                "attribute Some(\"channelShard\") has type Some(\"N\")",
                "strings (S)",
            ]),
            m(TF, "  attribute {\n    name = \"sk\"\n    type = \"S\"\n  }\n", "", &[
                PLACE,
                "defines attributes {\"channelShard\", \"connectionId\", \"pk\"}",
            ]),
            // The presence function's stream.
            m(TF, "  stream_enabled   = true\n", "", &[PLACE, "stream_enabled is None", "presence"]),
            m(TF, "\"NEW_AND_OLD_IMAGES\"", "\"NEW_IMAGE\"", &[
                PLACE,
                "stream_view_type is Some(\"NEW_IMAGE\")",
                "TTL deletions included",
            ]),
            // Unprotected by default.
            m(
                "terraform/variables.tf",
                "Protect the channels table from deletion (DynamoDB deletion protection). It holds each channel's offset counter and recent history as well as live connections: losing it gives every channel a new epoch, which clients see as lost history. `terraform destroy` fails while it is on: set it to false and apply first (docs/deploy.md).\"\n  default     = true",
                "Protect the channels table from deletion.\"\n  default     = false",
                &[PLACE, "deletion_protection_enabled = `var.table_deletion_protection` is Ok(Bool(false))"],
            ),
            // A function that reads another table.
            m(
                "terraform/lambda.tf",
                "      LAMBDA_TABLE           = aws_dynamodb_table.channels.name\n",
                "      LAMBDA_TABLE           = \"connections\"\n",
                &["aws_lambda_function.worker (terraform/lambda.tf): LAMBDA_TABLE = `\"connections\"` is not the name of an aws_dynamodb_table"],
            ),
        ],
    );
}
