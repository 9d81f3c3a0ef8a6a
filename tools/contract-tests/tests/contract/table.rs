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
    const PLACE: &str = "aws_dynamodb_table.connections (terraform/dynamodb.tf)";
    assert_caught(
        "table",
        |tf, _| table_problems(tf),
        &[
            m(
                TF,
                "  hash_key                    = \"connectionId\"",
                "  hash_key                    = \"id\"",
                &[
                    PLACE,
                    "hash_key is Some(\"id\")",
                    "TABLE_HASH_KEY is \"connectionId\"",
                ],
            ),
            m(
                TF,
                "\"PAY_PER_REQUEST\"",
                "\"PROVISIONED\"",
                &[
                    PLACE,
                    "billing_mode is Some(\"PROVISIONED\")",
                    "PAY_PER_REQUEST",
                ],
            ),
            m(
                TF,
                "    attribute_name = \"expiresAt\"",
                "    attribute_name = \"ttl\"",
                &[
                    PLACE,
                    "ttl.attribute_name is Some(\"ttl\")",
                    "TTL_ATTRIBUTE is \"expiresAt\"",
                ],
            ),
            m(
                TF,
                "    attribute_name = \"expiresAt\"\n    enabled        = true",
                "    attribute_name = \"expiresAt\"\n    enabled        = false",
                &[PLACE, "ttl.enabled is Some(\"false\")"],
            ),
            m(
                TF,
                "    name               = \"channel-shard-index\"",
                "    name               = \"by-channel\"",
                &[
                    PLACE,
                    "no global_secondary_index named \"channel-shard-index\"",
                    "CHANNEL_INDEX",
                    "by-channel",
                ],
            ),
            m(
                TF,
                "    hash_key           = \"channelShard\"",
                "    hash_key           = \"topic\"",
                &[
                    PLACE,
                    "the index's hash_key is Some(\"topic\")",
                    "INDEX_HASH_KEY",
                ],
            ),
            m(
                TF,
                "    range_key          = \"connectionId\"",
                "    range_key          = \"connectedAt\"",
                &[
                    PLACE,
                    "the index's range_key is Some(\"connectedAt\")",
                    "INDEX_RANGE_KEY",
                ],
            ),
            m(
                TF,
                "projection_type    = \"INCLUDE\"",
                "projection_type    = \"ALL\"",
                &[PLACE, "projection_type is Some(\"ALL\")", "INDEX_PROJECTED"],
            ),
            m(
                TF,
                "non_key_attributes = [\"expiresAt\"]",
                "non_key_attributes = [\"expiresAt\", \"connectedAt\"]",
                &[
                    PLACE,
                    "the index projects",
                    "connectedAt",
                    "INDEX_PROJECTED is {\"expiresAt\"}",
                ],
            ),
            m(
                TF,
                "  hash_key                    = \"connectionId\"\n",
                "  hash_key                    = \"connectionId\"\n  range_key = \"channelShard\"\n",
                &[PLACE, "has a range_key", "TABLE_HASH_KEY"],
            ),
            m(
                TF,
                "    name = \"channelShard\"\n    type = \"S\"",
                "    name = \"channelShard\"\n    type = \"N\"",
                &[
                    PLACE,
                    "attribute Some(\"channelShard\") has type Some(\"N\")",
                    "strings (S)",
                ],
            ),
            m(
                TF,
                "  attribute {\n    name = \"channelShard\"\n    type = \"S\"\n  }\n",
                "",
                &[
                    PLACE,
                    "defines attributes {\"connectionId\"}",
                    "\"channelShard\"",
                ],
            ),
        ],
    );
}
