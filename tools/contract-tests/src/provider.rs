//! `terraform/` against the hashicorp/aws provider schema: every resource,
//! data source and ephemeral resource type exists, every argument and nested
//! block used exists for that type (recursively; `dynamic "x"` counts as block
//! `x`), and every required argument and block is set.
//!
//! The schema is the compact JSON that `provider_schema/distill.py` writes from
//! the provider's CDK for Terraform bindings (see that script for the format);
//! `make tf-setup` downloads and distills it.

use std::collections::BTreeSet;
use std::fs;
use std::path::Path;

use hcl::{Block, Body, Structure};
use serde_json::{Map, Value};

use crate::Terraform;

/// Meta-arguments Terraform itself handles in `resource`, `data` and
/// `ephemeral` blocks (not in nested blocks): never in a provider's schema.
const META_ARGUMENTS: &[&str] = &["count", "for_each", "depends_on", "provider"];
const META_BLOCKS: &[&str] = &["lifecycle", "provisioner", "connection"];
/// Meta-arguments of a `provider` block (`alias` is also in the schema).
const PROVIDER_META_ARGUMENTS: &[&str] = &["alias", "version"];

/// The resources of Terraform's built-in provider
/// (`terraform.io/builtin/terraform`), which needs no download: their schema,
/// in the distilled format.
const BUILTIN: &str = r#"{
  "source": "Terraform", "provider": "terraform.io/builtin/terraform", "version": "built in",
  "provider_config": {"arguments": {}, "blocks": {}},
  "resource": {"terraform_data": {"arguments": {"id": false, "input": false, "triggers_replace": false}, "blocks": {}}},
  "data": {}, "ephemeral": {}, "structs": {}
}"#;

/// The distilled schema of one provider.
#[derive(Debug)]
pub struct ProviderSchema {
    json: Value,
}

/// One block's schema: `{"arguments": {name: required}, "blocks": {name: {"required", "schema"}}}`.
#[derive(Clone, Copy)]
struct Schema<'a> {
    arguments: &'a Map<String, Value>,
    blocks: &'a Map<String, Value>,
}

impl ProviderSchema {
    /// Reads the distilled JSON at `path`.
    pub fn load(path: &Path) -> Result<Self, String> {
        let text = fs::read_to_string(path)
            .map_err(|e| format!("cannot read the provider schema {}: {e}", path.display()))?;
        Self::from_json(&text).map_err(|e| format!("{}: {e}", path.display()))
    }

    /// Parses distilled JSON; fails unless it has the expected shape.
    pub fn from_json(text: &str) -> Result<Self, String> {
        let json: Value = serde_json::from_str(text).map_err(|e| format!("not JSON: {e}"))?;
        let schema = Self { json };
        for key in ["resource", "data", "structs"] {
            if !schema.json.get(key).is_some_and(Value::is_object) {
                return Err(format!(
                    "not a distilled provider schema: no {key:?} object"
                ));
            }
        }
        if schema.schema(schema.json.get("provider_config")).is_none() {
            return Err("not a distilled provider schema: no \"provider_config\"".to_string());
        }
        Ok(schema)
    }

    /// "hashicorp/aws 6.62.0 (@cdktn/aws 0.3.0)"
    pub fn describe(&self) -> String {
        format!("{} ({})", self.provider(), self.text("source"))
    }

    /// "hashicorp/aws 6.62.0"
    pub fn provider(&self) -> String {
        format!("{} {}", self.text("provider"), self.text("version"))
    }

    /// How many types of `kind` ("resource", "data", "ephemeral") the schema has.
    pub fn count(&self, kind: &str) -> usize {
        self.json
            .get(kind)
            .and_then(Value::as_object)
            .map_or(0, Map::len)
    }

    fn text(&self, key: &str) -> &str {
        self.json.get(key).and_then(Value::as_str).unwrap_or("?")
    }

    fn schema<'a>(&'a self, value: Option<&'a Value>) -> Option<Schema<'a>> {
        let value = value?;
        Some(Schema {
            arguments: value.get("arguments")?.as_object()?,
            blocks: value.get("blocks")?.as_object()?,
        })
    }

    fn type_schema(&self, kind: &str, type_name: &str) -> Option<Schema<'_>> {
        self.schema(self.json.get(kind)?.get(type_name))
    }

    /// The schema of nested block `name` of `parent`, and whether it is required.
    fn nested(&self, parent: Schema<'_>, name: &str) -> Option<(bool, Schema<'_>)> {
        let block = parent.blocks.get(name)?;
        let required = block.get("required")?.as_bool()?;
        let id = block.get("schema")?.as_str()?;
        Some((required, self.schema(self.json.get("structs")?.get(id))?))
    }
}

/// Where a problem is: "aws_dynamodb_table.connections (terraform/dynamodb.tf)"
/// plus the path of nested blocks.
struct Place<'a> {
    address: &'a str,
    file: &'a str,
    type_name: &'a str,
    path: Vec<String>,
}

impl Place<'_> {
    fn describe(&self) -> String {
        if self.path.is_empty() {
            format!("{} ({})", self.address, self.file)
        } else {
            format!(
                "{} ({}), in block `{}`",
                self.address,
                self.file,
                self.path.join(".")
            )
        }
    }

    fn what(&self) -> String {
        if self.path.is_empty() {
            self.type_name.to_string()
        } else {
            format!("{}'s `{}`", self.type_name, self.path.join("."))
        }
    }
}

/// Every problem of `tf` against `schema` (and, for `terraform_data`,
/// against Terraform's built-in provider).
pub fn schema_problems(tf: &Terraform, aws: &ProviderSchema) -> Vec<String> {
    let builtin = match ProviderSchema::from_json(BUILTIN) {
        Ok(builtin) => builtin,
        Err(e) => {
            return vec![format!(
                "the built-in provider's schema (tools/contract-tests/src/provider.rs): {e}"
            )]
        }
    };
    let mut problems = Vec::new();
    for (file, block) in tf.top_blocks() {
        let is_builtin = block.identifier() == "resource"
            && block
                .labels()
                .first()
                .is_some_and(|t| builtin.type_schema("resource", t.as_str()).is_some());
        let schema = if is_builtin { &builtin } else { aws };
        block_problems(schema, file, block, &mut problems);
    }
    problems
}

/// The problems of one top-level block against `schema`.
fn block_problems(schema: &ProviderSchema, file: &str, block: &Block, problems: &mut Vec<String>) {
    let provider = schema.provider();
    let prefix = schema
        .json
        .get("provider")
        .and_then(Value::as_str)
        .and_then(|p| p.rsplit('/').next())
        .unwrap_or("aws")
        .to_string();
    {
        let labels: Vec<&str> = block.labels().iter().map(|l| l.as_str()).collect();
        let (kind, type_name, address, top_meta_arguments, top_meta_blocks) =
            match (block.identifier(), labels.as_slice()) {
                ("resource", [type_name, name]) => (
                    "resource",
                    *type_name,
                    format!("{type_name}.{name}"),
                    META_ARGUMENTS,
                    META_BLOCKS,
                ),
                ("data", [type_name, name]) => (
                    "data",
                    *type_name,
                    format!("data.{type_name}.{name}"),
                    META_ARGUMENTS,
                    META_BLOCKS,
                ),
                ("ephemeral", [type_name, name]) => (
                    "ephemeral",
                    *type_name,
                    format!("ephemeral.{type_name}.{name}"),
                    META_ARGUMENTS,
                    META_BLOCKS,
                ),
                ("provider", [name]) => (
                    "provider",
                    *name,
                    format!("provider {name:?}"),
                    PROVIDER_META_ARGUMENTS,
                    &[][..],
                ),
                _ => return,
            };
        let root = if kind == "provider" {
            if type_name != prefix {
                problems.push(format!(
                    "{address} ({file}): only the {provider} schema is known to this check \
                     (tools/contract-tests/src/provider.rs)"
                ));
                return;
            }
            schema.schema(schema.json.get("provider_config"))
        } else {
            schema.type_schema(kind, type_name)
        };
        let Some(root) = root else {
            let hint = if type_name.starts_with(&format!("{prefix}_")) {
                suggestion(
                    type_name,
                    schema
                        .json
                        .get(kind)
                        .and_then(Value::as_object)
                        .into_iter()
                        .flat_map(|types| types.keys().map(String::as_str)),
                )
            } else {
                format!(" (only the {provider} schema is known to this check)")
            };
            problems.push(format!(
                "{address} ({file}): {provider} has no {kind} type `{type_name}`{hint}"
            ));
            return;
        };
        let place = Place {
            address: &address,
            file,
            type_name,
            path: Vec::new(),
        };
        check_body(
            schema,
            root,
            block.body(),
            &place,
            (top_meta_arguments, top_meta_blocks),
            &provider,
            problems,
        );
    }
}

/// Checks one (nested) block body against its schema.
fn check_body(
    schema: &ProviderSchema,
    node: Schema<'_>,
    body: &Body,
    place: &Place<'_>,
    (meta_arguments, meta_blocks): (&[&str], &[&str]),
    provider: &str,
    problems: &mut Vec<String>,
) {
    let names = || {
        node.arguments
            .keys()
            .chain(node.blocks.keys())
            .map(String::as_str)
    };
    let mut present: BTreeSet<&str> = BTreeSet::new();
    for structure in body.iter() {
        match structure {
            Structure::Attribute(attribute) => {
                let name = attribute.key();
                if meta_arguments.contains(&name) {
                    continue;
                }
                present.insert(name);
                if node.arguments.contains_key(name) {
                    continue;
                }
                if node.blocks.contains_key(name) {
                    problems.push(format!(
                        "{}: `{name}` is a nested block of {} in {provider}: write `{name} {{ … }}`, not `{name} = …`",
                        place.describe(),
                        place.what()
                    ));
                } else {
                    problems.push(format!(
                        "{}: {provider} has no argument `{name}` for {}{}",
                        place.describe(),
                        place.what(),
                        suggestion(name, names())
                    ));
                }
            }
            Structure::Block(block) => {
                if meta_blocks.contains(&block.identifier()) {
                    continue;
                }
                let Some((name, content)) = block_content(block, place, problems) else {
                    continue;
                };
                present.insert(name);
                if let Some((_, nested)) = schema.nested(node, name) {
                    let mut path = place.path.clone();
                    path.push(name.to_string());
                    let inner = Place { path, ..*place };
                    check_body(
                        schema,
                        nested,
                        content,
                        &inner,
                        (&[], &[]),
                        provider,
                        problems,
                    );
                } else if node.arguments.contains_key(name) {
                    problems.push(format!(
                        "{}: `{name}` is an argument of {} in {provider}: write `{name} = …`, not a block",
                        place.describe(),
                        place.what()
                    ));
                } else {
                    problems.push(format!(
                        "{}: {provider} has no block `{name}` in {}{}",
                        place.describe(),
                        place.what(),
                        suggestion(name, names())
                    ));
                }
            }
        }
    }
    for (name, required) in node.arguments {
        if required.as_bool() == Some(true) && !present.contains(name.as_str()) {
            problems.push(format!(
                "{}: the required argument `{name}` of {} ({provider}) is not set",
                place.describe(),
                place.what()
            ));
        }
    }
    for name in node.blocks.keys() {
        let required = schema.nested(node, name).is_some_and(|(r, _)| r);
        if required && !present.contains(name.as_str()) {
            problems.push(format!(
                "{}: the required block `{name}` of {} ({provider}) is missing",
                place.describe(),
                place.what()
            ));
        }
    }
}

/// A block's schema name and body: `x { … }` is block `x`; `dynamic "x" { content { … } }`
/// is block `x` with the body of `content`.
fn block_content<'a>(
    block: &'a Block,
    place: &Place<'_>,
    problems: &mut Vec<String>,
) -> Option<(&'a str, &'a Body)> {
    if block.identifier() != "dynamic" {
        return Some((block.identifier(), block.body()));
    }
    let [label] = block.labels() else {
        problems.push(format!(
            "{}: a `dynamic` block needs exactly one label (the block type)",
            place.describe()
        ));
        return None;
    };
    let contents: Vec<&Block> = block
        .body()
        .blocks()
        .filter(|b| b.identifier() == "content")
        .collect();
    let [content] = contents.as_slice() else {
        problems.push(format!(
            "{}: dynamic {:?} needs exactly one `content` block, has {}",
            place.describe(),
            label.as_str(),
            contents.len()
        ));
        return None;
    };
    Some((label.as_str(), content.body()))
}

/// " (did you mean `x`?)" for the closest name, if one is close.
fn suggestion<'a>(name: &str, candidates: impl Iterator<Item = &'a str>) -> String {
    candidates
        .map(|c| (edit_distance(name, c), c))
        .filter(|(d, c)| *d <= 3.max(name.len() / 4) && *d < c.len())
        .min()
        .map(|(_, c)| format!(" (did you mean `{c}`?)"))
        .unwrap_or_default()
}

fn edit_distance(a: &str, b: &str) -> usize {
    let b: Vec<char> = b.chars().collect();
    let mut row: Vec<usize> = (0..=b.len()).collect();
    for (i, ca) in a.chars().enumerate() {
        let mut previous = row[0];
        row[0] = i + 1;
        for (j, cb) in b.iter().enumerate() {
            let substitute = previous + usize::from(ca != *cb);
            previous = row[j + 1];
            row[j + 1] = substitute.min(row[j] + 1).min(previous + 1);
        }
    }
    row[b.len()]
}
