//! The DynamoDB table against `channels_aws::schema`: keys, the channel
//! index and its projection, TTL, billing, the stream the presence function
//! reads, deletion protection on by default; and every function names the
//! same table.

use std::collections::{BTreeMap, BTreeSet};

use channels::config::LAMBDA_TABLE;
use channels_aws::schema::{
    CHANNEL_INDEX, INDEX_HASH_KEY, INDEX_PROJECTED, INDEX_RANGE_KEY, PK, SK, TTL_ATTRIBUTE,
};
use hcl::{Body, Expression};

use super::{environment, named, through_locals, FUNCTIONS};
use crate::eval::{Scope, Value};
use crate::terraform::{attr, blocks, string_attr, string_list};
use crate::Terraform;

/// The stream view the presence function needs: a membership's `subject`
/// on inserts (new image) and on removes, TTL deletions included (old image).
pub const STREAM_VIEW: &str = "NEW_AND_OLD_IMAGES";

/// The table every function's `LAMBDA_TABLE` names (`aws_dynamodb_table.NAME.name`):
/// its resource name, file and body.
pub(crate) fn table(tf: &Terraform) -> Result<(String, String, &Body), String> {
    let mut names = BTreeMap::new();
    for f in &FUNCTIONS {
        let (place, entries) = environment(tf, f.name)?;
        let value = entries
            .iter()
            .find(|(k, _)| k == LAMBDA_TABLE)
            .map(|(_, v)| *v)
            .ok_or_else(|| format!("{place} sets no {LAMBDA_TABLE}"))?;
        let table = named(
            through_locals(tf, value),
            &["aws_dynamodb_table"],
            &["name", "id"],
        )
        .ok_or_else(|| {
            format!("{place}: {LAMBDA_TABLE} = `{value}` is not the name of an aws_dynamodb_table")
        })?;
        names.entry(table).or_insert_with(Vec::new).push(place);
    }
    match names.len() {
        1 => {
            let name = names.into_keys().next().unwrap_or_default();
            let (file, body) = tf.block("resource", &["aws_dynamodb_table", &name])?;
            Ok((name, file.to_owned(), body))
        }
        0 => Err("no function sets LAMBDA_TABLE".to_owned()),
        _ => Err(format!(
            "the functions name different tables in {LAMBDA_TABLE}: {names:?}; every function \
             reads and writes the same items (channels_aws::schema)"
        )),
    }
}

/// The table has the keys, index, projection, TTL, billing mode and stream
/// the DynamoDB adapter and the presence function rely on
/// (`channels_aws::schema`), and deletion protection on by default.
pub fn table_problems(tf: &Terraform) -> Vec<String> {
    let (name, file, table) = match table(tf) {
        Ok(found) => found,
        Err(e) => {
            return vec![format!(
                "{e}, but channels_aws::schema keys the table by {PK:?}/{SK:?}"
            )]
        }
    };
    let place = format!("aws_dynamodb_table.{name} ({file})");
    let mut problems = Vec::new();
    let mut expect = |what: &str, terraform: Option<String>, code_name: &str, code: &str| {
        if terraform.as_deref() != Some(code) {
            problems.push(format!(
                "{place}: {what} is {terraform:?} but {code_name} is {code:?}"
            ));
        }
    };
    let text = |body: &Body, name: &str| attr(body, name).map(Expression::to_string);

    expect(
        "hash_key",
        string_attr(table, "hash_key"),
        "channels_aws::schema::PK",
        PK,
    );
    expect(
        "range_key",
        string_attr(table, "range_key"),
        "channels_aws::schema::SK",
        SK,
    );
    expect(
        "billing_mode",
        string_attr(table, "billing_mode"),
        "the on-demand design of channels_aws::schema",
        "PAY_PER_REQUEST",
    );
    let ttl = blocks(table, "ttl");
    expect(
        "ttl.attribute_name",
        ttl.first().and_then(|b| string_attr(b, "attribute_name")),
        "channels_aws::schema::TTL_ATTRIBUTE",
        TTL_ATTRIBUTE,
    );
    expect(
        "ttl.enabled",
        ttl.first().and_then(|b| text(b, "enabled")),
        "what the adapter, which writes the TTL attribute on every item but a counter, needs",
        "true",
    );
    expect(
        "stream_enabled",
        text(table, "stream_enabled"),
        "what the presence function (its event source) needs",
        "true",
    );
    expect(
        "stream_view_type",
        string_attr(table, "stream_view_type"),
        "what the presence function needs (a membership's subject on insert and on remove, TTL deletions included)",
        STREAM_VIEW,
    );

    let indexes = blocks(table, "global_secondary_index");
    match indexes
        .iter()
        .find(|b| string_attr(b, "name").as_deref() == Some(CHANNEL_INDEX))
    {
        None => {
            let names: Vec<Option<String>> =
                indexes.iter().map(|b| string_attr(b, "name")).collect();
            problems.push(format!(
                "{place} has no global_secondary_index named {CHANNEL_INDEX:?} \
                 (channels_aws::schema::CHANNEL_INDEX); it has {names:?}"
            ));
        }
        Some(index) => {
            let mut expect =
                |what: &str, terraform: Option<String>, code_name: &str, code: &str| {
                    if terraform.as_deref() != Some(code) {
                        problems.push(format!(
                        "{place}: the index's {what} is {terraform:?} but {code_name} is {code:?}"
                    ));
                    }
                };
            expect(
                "hash_key",
                string_attr(index, "hash_key"),
                "channels_aws::schema::INDEX_HASH_KEY",
                INDEX_HASH_KEY,
            );
            expect(
                "range_key",
                string_attr(index, "range_key"),
                "channels_aws::schema::INDEX_RANGE_KEY",
                INDEX_RANGE_KEY,
            );
            expect(
                "projection_type",
                string_attr(index, "projection_type"),
                "channels_aws::schema::INDEX_PROJECTED (an INCLUDE projection)",
                "INCLUDE",
            );
            let code: BTreeSet<String> = INDEX_PROJECTED.iter().map(|s| s.to_string()).collect();
            let projected = attr(index, "non_key_attributes").map(string_list);
            match projected {
                Some(Ok(list)) if list.iter().cloned().collect::<BTreeSet<_>>() == code && list.len() == code.len() => {}
                other => problems.push(format!(
                    "{place}: the index projects {:?} but channels_aws::schema::INDEX_PROJECTED is {code:?}",
                    other.map(|r| r.unwrap_or_default())
                )),
            }
        }
    }

    // Attribute definitions: exactly the key attributes, all strings.
    let defined: BTreeMap<Option<String>, Option<String>> = blocks(table, "attribute")
        .iter()
        .map(|b| (string_attr(b, "name"), string_attr(b, "type")))
        .collect();
    let keys: BTreeSet<&str> = [PK, SK, INDEX_HASH_KEY, INDEX_RANGE_KEY]
        .into_iter()
        .collect();
    let defined_names: BTreeSet<&str> = defined.keys().flatten().map(String::as_str).collect();
    if defined_names != keys || defined.contains_key(&None) {
        problems.push(format!(
            "{place} defines attributes {defined_names:?} but the keys in channels_aws::schema \
             (PK, SK, INDEX_HASH_KEY, INDEX_RANGE_KEY) are {keys:?}"
        ));
    }
    for (name, kind) in &defined {
        if kind.as_deref() != Some("S") {
            problems.push(format!(
                "{place}: attribute {name:?} has type {kind:?}; channels_aws::schema stores keys as strings (S)"
            ));
        }
    }

    // The table keeps offsets and history: protected unless the deployer says otherwise.
    let protection = attr(table, "deletion_protection_enabled");
    let at_default = Scope::new(tf).and_then(|scope| match protection {
        Some(expr) => scope.eval(expr),
        None => Ok(Value::Bool(false)),
    });
    if at_default != Ok(Value::Bool(true)) {
        problems.push(format!(
            "{place}: deletion_protection_enabled = `{}` is {at_default:?} with the variables at their \
             defaults, but the table holds every channel's offset and history: deletion protection is \
             on by default (table_deletion_protection)",
            super::display(protection)
        ));
    }
    problems
}
