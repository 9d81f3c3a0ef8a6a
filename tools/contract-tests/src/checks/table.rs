//! The DynamoDB table against `channels_aws::schema`.

use super::*;

/// `aws_dynamodb_table.connections` has the keys, index, projection, TTL and
/// billing mode the DynamoDB adapter (`channels_aws::schema`) relies on.
pub fn table_problems(tf: &Terraform) -> Vec<String> {
    let mut problems = Vec::new();
    let (file, table) = match tf.block("resource", &["aws_dynamodb_table", "connections"]) {
        Ok(found) => found,
        Err(e) => {
            return vec![format!(
                "{e}, but channels_aws::schema reads the table keyed by {TABLE_HASH_KEY:?}"
            )]
        }
    };
    let place = format!("aws_dynamodb_table.connections ({file})");
    let expect = |problems: &mut Vec<String>,
                  what: &str,
                  terraform: Option<String>,
                  code_name: &str,
                  code: &str| {
        if terraform.as_deref() != Some(code) {
            problems.push(format!(
                "{place}: {what} is {terraform:?} but {code_name} is {code:?}"
            ));
        }
    };

    expect(
        &mut problems,
        "hash_key",
        string_attr(table, "hash_key"),
        "channels_aws::schema::TABLE_HASH_KEY",
        TABLE_HASH_KEY,
    );
    expect(
        &mut problems,
        "billing_mode",
        string_attr(table, "billing_mode"),
        "the on-demand design in channels_aws::schema",
        "PAY_PER_REQUEST",
    );

    let ttl = blocks(table, "ttl");
    expect(
        &mut problems,
        "ttl.attribute_name",
        ttl.first().and_then(|b| string_attr(b, "attribute_name")),
        "channels_aws::schema::TTL_ATTRIBUTE",
        TTL_ATTRIBUTE,
    );
    expect(
        &mut problems,
        "ttl.enabled",
        ttl.first()
            .and_then(|b| attr(b, "enabled"))
            .map(Expression::to_string),
        "the adapter, which writes the TTL attribute,",
        "true",
    );

    let indexes = blocks(table, "global_secondary_index");
    let index = indexes
        .iter()
        .find(|b| string_attr(b, "name").as_deref() == Some(CHANNEL_INDEX));
    match index {
        None => {
            let names: Vec<Option<String>> =
                indexes.iter().map(|b| string_attr(b, "name")).collect();
            problems.push(format!(
                "{place} has no global_secondary_index named {CHANNEL_INDEX:?} \
                 (channels_aws::schema::CHANNEL_INDEX); it has {names:?}"
            ));
        }
        Some(index) => {
            expect(
                &mut problems,
                "the index's hash_key",
                string_attr(index, "hash_key"),
                "channels_aws::schema::INDEX_HASH_KEY",
                INDEX_HASH_KEY,
            );
            expect(
                &mut problems,
                "the index's range_key",
                string_attr(index, "range_key"),
                "channels_aws::schema::INDEX_RANGE_KEY",
                INDEX_RANGE_KEY,
            );
            expect(
                &mut problems,
                "the index's projection_type",
                string_attr(index, "projection_type"),
                "channels_aws::schema::INDEX_PROJECTED (an INCLUDE projection)",
                "INCLUDE",
            );
            let code: BTreeSet<String> = INDEX_PROJECTED.iter().map(|s| s.to_string()).collect();
            match attr(index, "non_key_attributes").map(string_list) {
                Some(Ok(list)) => {
                    let projected: BTreeSet<String> = list.into_iter().collect();
                    if projected != code {
                        problems.push(format!(
                            "{place}: the index projects {projected:?} but \
                             channels_aws::schema::INDEX_PROJECTED is {code:?}"
                        ));
                    }
                }
                Some(Err(e)) => problems.push(format!(
                    "{place}: the index's non_key_attributes: {e}; channels_aws::schema::INDEX_PROJECTED is {code:?}"
                )),
                None => problems.push(format!(
                    "{place}: the index has no non_key_attributes but \
                     channels_aws::schema::INDEX_PROJECTED is {code:?}"
                )),
            }
        }
    }

    if attr(table, "range_key").is_some() {
        problems.push(format!(
            "{place} has a range_key, but channels_aws::schema keys the table by TABLE_HASH_KEY \
             ({TABLE_HASH_KEY:?}) alone"
        ));
    }

    // Attribute definitions: exactly the key attributes, all strings.
    let defined: BTreeMap<Option<String>, Option<String>> = blocks(table, "attribute")
        .iter()
        .map(|b| (string_attr(b, "name"), string_attr(b, "type")))
        .collect();
    let keys: BTreeSet<&str> = [TABLE_HASH_KEY, INDEX_HASH_KEY, INDEX_RANGE_KEY]
        .into_iter()
        .collect();
    let defined_names: BTreeSet<&str> = defined.keys().flatten().map(String::as_str).collect();
    if defined_names != keys || defined.contains_key(&None) {
        problems.push(format!(
            "{place} defines attributes {defined_names:?} but the keys in channels_aws::schema \
             (TABLE_HASH_KEY, INDEX_HASH_KEY, INDEX_RANGE_KEY) are {keys:?}"
        ));
    }
    for (name, kind) in &defined {
        if kind.as_deref() != Some("S") {
            problems.push(format!(
                "{place}: attribute {name:?} has type {kind:?}; channels_aws::schema stores keys as strings (S)"
            ));
        }
    }
    problems
}
