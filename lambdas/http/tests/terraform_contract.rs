//! Terraform and the code must agree. These tests read `terraform/*.tf` and the
//! `Makefile` as text (std only, no provider, no network) and compare them with
//! the constants the binaries use:
//!
//! - the `environment` of each `aws_lambda_function` with
//!   `channels::config::RX_ENV` / `HTTP_ENV`;
//! - the package paths Terraform reads with the `RX_ZIP` / `HTTP_ZIP` / ARCH
//!   file `make` writes, and the architectures both accept;
//! - the table's keys, index, projection and TTL attribute with
//!   `channels_aws::schema`;
//! - the HTTP API route keys with `http_lambda::ROUTES` (plus `$default`).
//!
//! Every mismatch names both sides. The small HCL reader below understands
//! blocks, attributes, strings with `${…}` templates, heredocs and comments:
//! enough for this repository's Terraform, and it fails loudly on anything else.

#![allow(clippy::unwrap_used, clippy::expect_used)] // a test fails by panicking

use std::collections::{BTreeMap, BTreeSet};
use std::fs;
use std::path::{Component, Path, PathBuf};

use channels::config::{HTTP_ENV, RX_ENV};
use channels_aws::schema::{
    CHANNEL_INDEX, INDEX_HASH_KEY, INDEX_PROJECTED, INDEX_RANGE_KEY, TABLE_HASH_KEY, TTL_ATTRIBUTE,
};
use http_lambda::ROUTES;

// ---------------------------------------------------------------------------
// Tests
// ---------------------------------------------------------------------------

#[test]
fn lambda_environment_is_exactly_what_the_binaries_read() {
    let tf = Terraform::load();
    let mut problems = Vec::new();

    for (function, code, code_name) in [
        ("rx", RX_ENV, "channels::config::RX_ENV"),
        ("http", HTTP_ENV, "channels::config::HTTP_ENV"),
    ] {
        let (file, body) = tf.block(&["resource", "aws_lambda_function", function]);
        let place = format!("aws_lambda_function.{function} ({file})");

        let environments = blocks(body, "environment");
        let [environment] = environments.as_slice() else {
            problems.push(format!(
                "{place} has {} `environment` blocks, expected 1 (the binary reads {code_name} = {code:?})",
                environments.len()
            ));
            continue;
        };
        let Some(variables) = attr(environment, "variables") else {
            problems.push(format!(
                "{place}: `environment` has no `variables`, but the binary reads {code_name} = {code:?}"
            ));
            continue;
        };
        let keys: Vec<String> = match object_entries(variables) {
            Ok(entries) => entries.into_iter().map(|(key, _)| key).collect(),
            Err(e) => {
                problems.push(format!("{place}: environment.variables: {e}"));
                continue;
            }
        };
        let terraform: BTreeSet<&str> = keys.iter().map(String::as_str).collect();
        let binary: BTreeSet<&str> = code.iter().copied().collect();
        if keys.len() != terraform.len() {
            problems.push(format!(
                "{place}: environment.variables repeats a key: {keys:?}"
            ));
        }
        if terraform != binary {
            problems.push(format!(
                "{place} sets {terraform:?} but {code_name} is {binary:?}: \
                 missing in Terraform {:?}, not read by the binary {:?}",
                binary.difference(&terraform).collect::<Vec<_>>(),
                terraform.difference(&binary).collect::<Vec<_>>(),
            ));
        }

        // The binaries log JSON because Lambda sets AWS_LAMBDA_LOG_FORMAT from
        // logging_config (never from `environment`, checked above).
        let log_format = blocks(body, "logging_config")
            .first()
            .and_then(|b| attr(b, "log_format"))
            .and_then(unquote);
        if log_format.as_deref() != Some("JSON") {
            problems.push(format!(
                "{place}: logging_config.log_format is {log_format:?}, but the binaries expect \
                 Lambda to set AWS_LAMBDA_LOG_FORMAT=JSON"
            ));
        }
    }

    report(&problems);
}

#[test]
fn packages_are_read_where_make_writes_them() {
    let tf = Terraform::load();
    let make = Makefile::load();
    let mut problems = Vec::new();

    // The directory Terraform falls back to: "${path.module}/../build".
    let (locals_file, package_dir) = tf.local("package_dir");
    let default_dir = string_literals(package_dir)
        .into_iter()
        .find(|s| s.contains("${path.module}"))
        .map(|s| normalize(&s.replace("${path.module}", "terraform")));
    let Some(default_dir) = default_dir else {
        report(&[format!(
            "local.package_dir ({locals_file}) = `{package_dir}` has no \"${{path.module}}/…\" default"
        )]);
        return;
    };
    let resolve = |local: &str| -> Option<String> {
        let (_, expr) = tf.local(local);
        unquote(expr).map(|s| normalize(&s.replace("${local.package_dir}", &default_dir)))
    };

    for (local, make_var) in [("rx_package", "RX_ZIP"), ("http_package", "HTTP_ZIP")] {
        let terraform = resolve(local);
        let makefile = make.value(make_var).map(|v| normalize(&v));
        if terraform.is_none() || terraform != makefile {
            problems.push(format!(
                "Terraform reads local.{local} = {terraform:?} ({locals_file}) but the Makefile writes \
                 {make_var} = {makefile:?}"
            ));
        }
    }

    // The architecture file `make` writes next to the zips.
    let terraform_arch = resolve("arch_file");
    let make_arch = make.arch_file().map(|v| normalize(&v));
    if terraform_arch.is_none() || terraform_arch != make_arch {
        problems.push(format!(
            "Terraform reads local.arch_file = {terraform_arch:?} ({locals_file}) but the Makefile \
             writes the architecture to {make_arch:?}"
        ));
    }

    // Each function deploys its own package and redeploys when it changes.
    for (function, local) in [("rx", "rx_package"), ("http", "http_package")] {
        let (file, body) = tf.block(&["resource", "aws_lambda_function", function]);
        let filename = attr(body, "filename").unwrap_or_default();
        let hash = attr(body, "source_code_hash").unwrap_or_default();
        if filename != format!("local.{local}") {
            problems.push(format!(
                "aws_lambda_function.{function} ({file}): filename = `{filename}`, expected local.{local}"
            ));
        }
        if !hash.contains(&format!("filebase64sha256(local.{local})")) {
            problems.push(format!(
                "aws_lambda_function.{function} ({file}): source_code_hash = `{hash}` does not hash local.{local}"
            ));
        }
    }

    // `make ARCH=…` and `architecture = …` accept the same values, with the same default.
    let (variables_file, architecture) = tf.block(&["variable", "architecture"]);
    let terraform_values: BTreeSet<String> = blocks(architecture, "validation")
        .iter()
        .filter_map(|v| attr(v, "condition"))
        .flat_map(|condition| list_after(condition, "contains("))
        .collect();
    let make_values: BTreeSet<String> = make.arch_values().into_iter().collect();
    if terraform_values.is_empty() || terraform_values != make_values {
        problems.push(format!(
            "variable \"architecture\" ({variables_file}) accepts {terraform_values:?} but the \
             Makefile's ARCH accepts {make_values:?}"
        ));
    }
    let (_, architecture_local) = tf.local("architecture");
    let terraform_default = string_literals(architecture_local).pop();
    let make_default = make.value("ARCH");
    if terraform_default.is_none() || terraform_default != make_default {
        problems.push(format!(
            "local.architecture ({locals_file}) falls back to {terraform_default:?} but the \
             Makefile's ARCH defaults to {make_default:?}"
        ));
    }

    report(&problems);
}

#[test]
fn table_matches_the_dynamodb_adapter() {
    let tf = Terraform::load();
    let mut problems = Vec::new();
    let (file, table) = tf.block(&["resource", "aws_dynamodb_table", "connections"]);
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
            .map(str::to_string),
        "the adapter, which writes the TTL attribute,",
        "true",
    );

    let indexes = blocks(table, "global_secondary_index");
    let index = indexes
        .iter()
        .find(|b| string_attr(b, "name").as_deref() == Some(CHANNEL_INDEX));
    match index {
        None => problems.push(format!(
            "{place} has no global_secondary_index named {CHANNEL_INDEX:?} \
             (channels_aws::schema::CHANNEL_INDEX); it has {:?}",
            indexes
                .iter()
                .map(|b| string_attr(b, "name"))
                .collect::<Vec<_>>()
        )),
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
            let projected: BTreeSet<String> = attr(index, "non_key_attributes")
                .map(string_list)
                .unwrap_or_else(|| Ok(Vec::new()))
                .unwrap_or_else(|e| {
                    problems.push(format!("{place}: non_key_attributes: {e}"));
                    Vec::new()
                })
                .into_iter()
                .collect();
            let code: BTreeSet<String> = INDEX_PROJECTED.iter().map(|s| s.to_string()).collect();
            if projected != code {
                problems.push(format!(
                    "{place}: the index projects {projected:?} but channels_aws::schema::INDEX_PROJECTED is {code:?}"
                ));
            }
        }
    }

    if attr(table, "range_key").is_some() {
        problems.push(format!(
            "{place} has a range_key, but channels_aws::schema keys the table by TABLE_HASH_KEY alone"
        ));
    }

    // Attribute definitions: exactly the key attributes, all strings.
    let defined: BTreeMap<String, Option<String>> = blocks(table, "attribute")
        .iter()
        .filter_map(|b| Some((string_attr(b, "name")?, string_attr(b, "type"))))
        .collect();
    let keys: BTreeSet<&str> = [TABLE_HASH_KEY, INDEX_HASH_KEY, INDEX_RANGE_KEY]
        .into_iter()
        .collect();
    let defined_names: BTreeSet<&str> = defined.keys().map(String::as_str).collect();
    if defined_names != keys {
        problems.push(format!(
            "{place} defines attributes {defined_names:?} but the keys in channels_aws::schema are {keys:?}"
        ));
    }
    for (name, kind) in &defined {
        if kind.as_deref() != Some("S") {
            problems.push(format!(
                "{place}: attribute {name:?} has type {kind:?}; channels_aws::schema stores keys as strings (S)"
            ));
        }
    }

    // The http role may Query exactly this index.
    let (iam_file, http_policy) = tf.block(&["data", "aws_iam_policy_document", "http"]);
    let query_resources: Vec<String> = blocks(http_policy, "statement")
        .iter()
        .filter(|s| attr(s, "actions").is_some_and(|a| a.contains("\"dynamodb:Query\"")))
        .filter_map(|s| attr(s, "resources").map(str::to_string))
        .collect();
    let index_suffix = format!("/index/{CHANNEL_INDEX}\"");
    if query_resources.is_empty() || !query_resources.iter().all(|r| r.contains(&index_suffix)) {
        problems.push(format!(
            "data.aws_iam_policy_document.http ({iam_file}) allows dynamodb:Query on {query_resources:?}, \
             but the adapter queries the index {CHANNEL_INDEX:?} (channels_aws::schema::CHANNEL_INDEX)"
        ));
    }

    report(&problems);
}

#[test]
fn http_routes_match_the_handler() {
    let tf = Terraform::load();
    let mut problems = Vec::new();

    let (locals_file, routes) = tf.local("http_routes");
    let terraform = match string_list(routes) {
        Ok(list) => list,
        Err(e) => {
            report(&[format!("local.http_routes ({locals_file}): {e}")]);
            return;
        }
    };
    let mut code: Vec<String> = ROUTES
        .iter()
        .map(|(method, path)| format!("{method} {path}"))
        .collect();
    code.push("$default".to_string());

    let terraform_set: BTreeSet<&String> = terraform.iter().collect();
    let code_set: BTreeSet<&String> = code.iter().collect();
    if terraform_set.len() != terraform.len() {
        problems.push(format!(
            "local.http_routes ({locals_file}) repeats a route: {terraform:?}"
        ));
    }
    if terraform_set != code_set {
        problems.push(format!(
            "local.http_routes ({locals_file}) is {terraform_set:?} but http_lambda::ROUTES + $default is \
             {code_set:?}: missing in Terraform {:?}, not served by the handler {:?}",
            code_set.difference(&terraform_set).collect::<Vec<_>>(),
            terraform_set.difference(&code_set).collect::<Vec<_>>(),
        ));
    }

    let (file, route) = tf.block(&["resource", "aws_apigatewayv2_route", "http"]);
    if !attr(route, "for_each").is_some_and(|v| v.contains("local.http_routes"))
        || attr(route, "route_key") != Some("each.key")
    {
        problems.push(format!(
            "aws_apigatewayv2_route.http ({file}) must create one route per local.http_routes entry \
             (for_each = toset(local.http_routes), route_key = each.key)"
        ));
    }

    let (file, integration) = tf.block(&["resource", "aws_apigatewayv2_integration", "http"]);
    let version = attr(integration, "payload_format_version").and_then(unquote);
    if version.as_deref() != Some("2.0") {
        problems.push(format!(
            "aws_apigatewayv2_integration.http ({file}): payload_format_version is {version:?}, \
             but the handler parses API Gateway HTTP API 2.0 events"
        ));
    }

    report(&problems);
}

#[test]
fn the_reader_fails_on_a_mismatch() {
    // GIVEN an environment block that sets one variable too many
    let body = parse(
        "test.tf",
        r#"resource "aws_lambda_function" "rx" {
  # a comment with "quotes" and { braces
  environment {
    variables = {
      LAMBDA_TABLE = aws_dynamodb_table.connections.name // trailing
      EXTRA        = "${format("%s}", "x")}"
    }
  }
  ttl { enabled = true }
}
"#,
    );
    // WHEN it is read
    let [Item::Block { body, .. }] = body.as_slice() else {
        panic!("expected one block, got {body:?}");
    };
    let environment = blocks(body, "environment");
    let variables = environment.first().and_then(|b| attr(b, "variables"));
    let keys: Vec<String> = object_entries(variables.unwrap_or_default())
        .unwrap_or_else(|e| panic!("{e}"))
        .into_iter()
        .map(|(k, _)| k)
        .collect();
    // THEN both keys are seen (so a comparison with RX_ENV would fail), and a
    // one-line block is read too
    assert_eq!(keys, ["LAMBDA_TABLE", "EXTRA"]);
    assert_ne!(
        keys.iter().map(String::as_str).collect::<BTreeSet<_>>(),
        RX_ENV.iter().copied().collect::<BTreeSet<_>>()
    );
    assert_eq!(
        blocks(body, "ttl").first().and_then(|b| attr(b, "enabled")),
        Some("true")
    );
}

fn string_attr(body: &[Item], name: &str) -> Option<String> {
    attr(body, name).and_then(unquote)
}

fn report(problems: &[String]) {
    assert!(
        problems.is_empty(),
        "Terraform and the code disagree:\n  - {}",
        problems.join("\n  - ")
    );
}

// ---------------------------------------------------------------------------
// The Terraform configuration
// ---------------------------------------------------------------------------

fn repo_root() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("../..")
}

struct Terraform {
    /// (file name relative to the repository, top-level items)
    files: Vec<(String, Vec<Item>)>,
}

impl Terraform {
    fn load() -> Self {
        let dir = repo_root().join("terraform");
        let entries =
            fs::read_dir(&dir).unwrap_or_else(|e| panic!("cannot list {}: {e}", dir.display()));
        let mut paths: Vec<PathBuf> = entries
            .filter_map(Result::ok)
            .map(|entry| entry.path())
            .filter(|p| p.extension().is_some_and(|ext| ext == "tf"))
            .collect();
        paths.sort();
        assert!(!paths.is_empty(), "no .tf files in {}", dir.display());
        let files = paths
            .iter()
            .map(|path| {
                let name = format!(
                    "terraform/{}",
                    path.file_name().unwrap_or_default().to_string_lossy()
                );
                let text = fs::read_to_string(path)
                    .unwrap_or_else(|e| panic!("cannot read {}: {e}", path.display()));
                let items = parse(&name, &text);
                (name, items)
            })
            .collect();
        Self { files }
    }

    /// The body of the one top-level block `kind "label" "label"`.
    fn block(&self, header: &[&str]) -> (&str, &[Item]) {
        let Some((kind, labels)) = header.split_first() else {
            panic!("a block header needs a kind");
        };
        let found: Vec<(&str, &[Item])> = self
            .files
            .iter()
            .flat_map(|(file, items)| items.iter().map(move |item| (file.as_str(), item)))
            .filter_map(|(file, item)| match item {
                Item::Block {
                    kind: k,
                    labels: l,
                    body,
                } if k == kind && l.iter().map(String::as_str).eq(labels.iter().copied()) => {
                    Some((file, body.as_slice()))
                }
                _ => None,
            })
            .collect();
        match found.as_slice() {
            [one] => *one,
            [] => panic!(
                "Terraform has no `{}` block in terraform/*.tf",
                header.join(" ")
            ),
            _ => panic!("Terraform declares `{}` more than once", header.join(" ")),
        }
    }

    /// The expression of `local.<name>` and the file that defines it.
    fn local(&self, name: &str) -> (&str, &str) {
        let found: Vec<(&str, &str)> = self
            .files
            .iter()
            .flat_map(|(file, items)| items.iter().map(move |item| (file.as_str(), item)))
            .filter_map(|(file, item)| match item {
                Item::Block { kind, body, .. } if kind == "locals" => {
                    attr(body, name).map(|value| (file, value))
                }
                _ => None,
            })
            .collect();
        match found.as_slice() {
            [one] => *one,
            [] => panic!("Terraform defines no local.{name} in terraform/*.tf"),
            _ => panic!("Terraform defines local.{name} more than once"),
        }
    }
}

#[derive(Debug)]
enum Item {
    Attr {
        name: String,
        value: String,
    },
    Block {
        kind: String,
        labels: Vec<String>,
        body: Vec<Item>,
    },
}

fn attr<'a>(body: &'a [Item], name: &str) -> Option<&'a str> {
    body.iter().find_map(|item| match item {
        Item::Attr { name: n, value } if n == name => Some(value.as_str()),
        _ => None,
    })
}

fn blocks<'a>(body: &'a [Item], kind: &str) -> Vec<&'a [Item]> {
    body.iter()
        .filter_map(|item| match item {
            Item::Block { kind: k, body, .. } if k == kind => Some(body.as_slice()),
            _ => None,
        })
        .collect()
}

// ---------------------------------------------------------------------------
// A small HCL reader
// ---------------------------------------------------------------------------

fn parse(file: &str, text: &str) -> Vec<Item> {
    let chars = strip_comments(text);
    let mut parser = Parser {
        s: &chars,
        i: 0,
        file,
    };
    let items = parser.body().unwrap_or_else(|e| panic!("{e}"));
    if parser.i < chars.len() {
        panic!("{file}: unexpected '}}' at {}", parser.position());
    }
    items
}

struct Parser<'a> {
    s: &'a [char],
    i: usize,
    file: &'a str,
}

impl Parser<'_> {
    fn peek(&self) -> Option<char> {
        self.s.get(self.i).copied()
    }

    fn position(&self) -> String {
        let line = self.s[..self.i.min(self.s.len())]
            .iter()
            .filter(|&&c| c == '\n')
            .count()
            + 1;
        format!("line {line}")
    }

    fn skip_blanks(&mut self, newlines: bool) {
        while let Some(c) = self.peek() {
            if c == ' ' || c == '\t' || c == '\r' || (newlines && c == '\n') {
                self.i += 1;
            } else {
                break;
            }
        }
    }

    fn ident(&mut self) -> String {
        let start = self.i;
        while self
            .peek()
            .is_some_and(|c| c.is_alphanumeric() || c == '_' || c == '-')
        {
            self.i += 1;
        }
        self.s[start..self.i].iter().collect()
    }

    /// Items up to the end of input or a `}` (left for the caller).
    fn body(&mut self) -> Result<Vec<Item>, String> {
        let mut items = Vec::new();
        loop {
            self.skip_blanks(true);
            match self.peek() {
                None | Some('}') => return Ok(items),
                Some(c) if c.is_alphabetic() || c == '_' => {}
                Some(c) => {
                    return Err(format!(
                        "{}: unexpected {c:?} at {}",
                        self.file,
                        self.position()
                    ))
                }
            }
            let name = self.ident();
            self.skip_blanks(false);
            if self.peek() == Some('=') && self.s.get(self.i + 1) != Some(&'=') {
                self.i += 1;
                let value = self.expression();
                items.push(Item::Attr { name, value });
                continue;
            }
            let mut labels = Vec::new();
            loop {
                self.skip_blanks(false);
                match self.peek() {
                    Some('"') => {
                        let start = self.i;
                        self.i = skip_string(self.s, self.i);
                        let raw: String = self.s[start..self.i].iter().collect();
                        labels.push(unquote(&raw).unwrap_or(raw));
                    }
                    Some('{') => {
                        self.i += 1;
                        let body = self.body()?;
                        if self.peek() != Some('}') {
                            return Err(format!(
                                "{}: block `{name}` {labels:?} is not closed",
                                self.file
                            ));
                        }
                        self.i += 1;
                        items.push(Item::Block {
                            kind: name,
                            labels,
                            body,
                        });
                        break;
                    }
                    Some(c) if c.is_alphabetic() || c == '_' => labels.push(self.ident()),
                    other => {
                        return Err(format!(
                            "{}: expected a label or '{{' after `{name}` at {}, found {other:?}",
                            self.file,
                            self.position()
                        ))
                    }
                }
            }
        }
    }

    /// An attribute's expression: up to a newline outside brackets, or the `}`
    /// closing a one-line block.
    fn expression(&mut self) -> String {
        let start = self.i;
        let mut depth = 0usize;
        while let Some(c) = self.peek() {
            if c == '"' {
                self.i = skip_string(self.s, self.i);
                continue;
            }
            if let Some(end) = heredoc_end(self.s, self.i) {
                self.i = end;
                continue;
            }
            match c {
                '(' | '[' | '{' => depth += 1,
                ')' | ']' => depth = depth.saturating_sub(1),
                '}' if depth == 0 => break,
                '}' => depth -= 1,
                '\n' if depth == 0 => break,
                _ => {}
            }
            self.i += 1;
        }
        self.s[start..self.i]
            .iter()
            .collect::<String>()
            .trim()
            .to_string()
    }
}

/// The text with `#`, `//` and `/* */` comments blanked out (strings, templates
/// and heredocs kept), as chars.
fn strip_comments(text: &str) -> Vec<char> {
    let s: Vec<char> = text.chars().collect();
    let mut out = Vec::with_capacity(s.len());
    let mut i = 0;
    while i < s.len() {
        let c = s[i];
        let next = s.get(i + 1).copied();
        if c == '"' {
            let end = skip_string(&s, i);
            out.extend_from_slice(&s[i..end]);
            i = end;
        } else if let Some(end) = heredoc_end(&s, i) {
            out.extend_from_slice(&s[i..end]);
            i = end;
        } else if c == '#' || (c == '/' && next == Some('/')) {
            while i < s.len() && s[i] != '\n' {
                i += 1;
            }
        } else if c == '/' && next == Some('*') {
            i += 2;
            while i < s.len() && !(s[i] == '*' && s.get(i + 1) == Some(&'/')) {
                if s[i] == '\n' {
                    out.push('\n');
                }
                i += 1;
            }
            i = (i + 2).min(s.len());
            out.push(' ');
        } else {
            out.push(c);
            i += 1;
        }
    }
    out
}

/// Index just past the string literal that starts at `i` (a `"`), following
/// `${…}` / `%{…}` templates, which may hold strings of their own.
fn skip_string(s: &[char], start: usize) -> usize {
    let mut i = start + 1;
    while i < s.len() {
        match (s[i], s.get(i + 1).copied(), s.get(i + 2).copied()) {
            ('\\', _, _) => i += 2,
            ('"', _, _) => return i + 1,
            ('$' | '%', Some('$' | '%'), Some('{')) if s[i] == s[i + 1] => i += 3, // escaped
            ('$' | '%', Some('{'), _) => i = skip_template(s, i + 2),
            _ => i += 1,
        }
    }
    s.len()
}

/// Index just past the `}` that closes a template whose body starts at `i`.
fn skip_template(s: &[char], start: usize) -> usize {
    let mut depth = 1usize;
    let mut i = start;
    while i < s.len() {
        match s[i] {
            '"' => {
                i = skip_string(s, i);
                continue;
            }
            '{' => depth += 1,
            '}' => {
                depth -= 1;
                if depth == 0 {
                    return i + 1;
                }
            }
            _ => {}
        }
        i += 1;
    }
    s.len()
}

/// If a heredoc (`<<EOF` / `<<-EOF`) starts at `i`, the index past its closing line.
fn heredoc_end(s: &[char], i: usize) -> Option<usize> {
    if s.get(i) != Some(&'<') || s.get(i + 1) != Some(&'<') {
        return None;
    }
    let mut j = i + 2;
    if s.get(j) == Some(&'-') {
        j += 1;
    }
    let start = j;
    while s.get(j).is_some_and(|c| c.is_alphanumeric() || *c == '_') {
        j += 1;
    }
    if j == start || s.get(j) != Some(&'\n') {
        return None;
    }
    let marker: String = s[start..j].iter().collect();
    let mut line_start = j + 1;
    while line_start < s.len() {
        let line_end = s[line_start..]
            .iter()
            .position(|&c| c == '\n')
            .map_or(s.len(), |p| line_start + p);
        let line: String = s[line_start..line_end].iter().collect();
        if line.trim() == marker {
            return Some(line_end);
        }
        line_start = line_end + 1;
    }
    Some(s.len())
}

/// The value of a string-literal expression (templates left as written), or
/// None for any other expression.
fn unquote(expr: &str) -> Option<String> {
    let s: Vec<char> = expr.trim().chars().collect();
    if s.first() != Some(&'"') || skip_string(&s, 0) != s.len() || s.len() < 2 {
        return None;
    }
    let mut out = String::new();
    let mut i = 1;
    while i < s.len() - 1 {
        if s[i] == '\\' && i + 1 < s.len() - 1 {
            out.push(match s[i + 1] {
                'n' => '\n',
                't' => '\t',
                other => other,
            });
            i += 2;
        } else {
            out.push(s[i]);
            i += 1;
        }
    }
    Some(out)
}

/// Every string literal in an expression, in order.
fn string_literals(expr: &str) -> Vec<String> {
    let s: Vec<char> = expr.chars().collect();
    let mut found = Vec::new();
    let mut i = 0;
    while i < s.len() {
        if s[i] == '"' {
            let end = skip_string(&s, i);
            let raw: String = s[i..end].iter().collect();
            found.extend(unquote(&raw));
            i = end;
        } else {
            i += 1;
        }
    }
    found
}

/// The parts of `inner` separated by commas or newlines outside brackets and strings.
fn split_top_level(inner: &[char]) -> Vec<String> {
    let mut parts = Vec::new();
    let mut depth = 0usize;
    let mut start = 0;
    let mut i = 0;
    while i < inner.len() {
        match inner[i] {
            '"' => {
                i = skip_string(inner, i);
                continue;
            }
            '(' | '[' | '{' => depth += 1,
            ')' | ']' | '}' => depth = depth.saturating_sub(1),
            ',' | '\n' if depth == 0 => {
                parts.push(inner[start..i].iter().collect::<String>());
                start = i + 1;
            }
            _ => {}
        }
        i += 1;
    }
    parts.push(inner[start..].iter().collect::<String>());
    parts
        .into_iter()
        .map(|p| p.trim().to_string())
        .filter(|p| !p.is_empty())
        .collect()
}

/// The inside of a bracketed expression (`open` … `close`).
fn bracketed(expr: &str, open: char, close: char) -> Result<Vec<char>, String> {
    let s: Vec<char> = expr.trim().chars().collect();
    if s.len() < 2 || s[0] != open || s[s.len() - 1] != close {
        return Err(format!("expected `{open} … {close}`, found `{expr}`"));
    }
    Ok(s[1..s.len() - 1].to_vec())
}

/// `(key, value)` pairs of an object constructor `{ key = value, … }`.
fn object_entries(expr: &str) -> Result<Vec<(String, String)>, String> {
    let inner = bracketed(expr, '{', '}')?;
    split_top_level(&inner)
        .into_iter()
        .map(|entry| {
            let chars: Vec<char> = entry.chars().collect();
            let mut i = 0;
            while i < chars.len() {
                match chars[i] {
                    '"' => {
                        i = skip_string(&chars, i);
                        continue;
                    }
                    '=' | ':' if chars.get(i + 1) != Some(&'=') => {
                        let key: String = chars[..i].iter().collect();
                        let value: String = chars[i + 1..].iter().collect();
                        let key = unquote(&key).unwrap_or_else(|| key.trim().to_string());
                        return Ok((key, value.trim().to_string()));
                    }
                    _ => i += 1,
                }
            }
            Err(format!("object entry without `=`: `{entry}`"))
        })
        .collect()
}

/// The strings of a list of string literals `["a", "b"]`.
fn string_list(expr: &str) -> Result<Vec<String>, String> {
    let inner = bracketed(expr, '[', ']')?;
    split_top_level(&inner)
        .into_iter()
        .map(|item| unquote(&item).ok_or_else(|| format!("not a string literal: `{item}`")))
        .collect()
}

/// The string literals of the list that follows `marker` in `expr`, e.g. the
/// allowed values in `contains(["a", "b"], var.x)`.
fn list_after(expr: &str, marker: &str) -> Vec<String> {
    let Some(at) = expr.find(marker) else {
        return Vec::new();
    };
    let rest = &expr[at + marker.len()..];
    match rest.find(']') {
        Some(end) => string_list(&rest[..=end]).unwrap_or_default(),
        None => Vec::new(),
    }
}

/// `a/b/../c` → `a/c`, without touching the file system.
fn normalize(path: &str) -> String {
    let mut parts: Vec<String> = Vec::new();
    for component in Path::new(path).components() {
        match component {
            Component::ParentDir if parts.last().is_some_and(|p| p != "..") => {
                parts.pop();
            }
            Component::CurDir => {}
            other => parts.push(other.as_os_str().to_string_lossy().into_owned()),
        }
    }
    parts.join("/")
}

// ---------------------------------------------------------------------------
// The Makefile
// ---------------------------------------------------------------------------

struct Makefile {
    text: String,
    /// First assignment of each variable (`:=`, `?=` or `=`), unexpanded.
    vars: BTreeMap<String, String>,
}

impl Makefile {
    fn load() -> Self {
        let path = repo_root().join("Makefile");
        let text = fs::read_to_string(&path)
            .unwrap_or_else(|e| panic!("cannot read {}: {e}", path.display()));
        let mut vars = BTreeMap::new();
        for line in text.lines() {
            if line.starts_with('\t') || line.trim_start().starts_with('#') {
                continue;
            }
            for op in [":=", "?=", "="] {
                if let Some((name, value)) = line.split_once(op) {
                    let name = name.trim();
                    if !name.is_empty()
                        && name.chars().all(|c| c.is_ascii_alphanumeric() || c == '_')
                    {
                        vars.entry(name.to_string())
                            .or_insert_with(|| value.trim().to_string());
                    }
                    break;
                }
            }
        }
        Self { text, vars }
    }

    /// `$(NAME)` references expanded from the Makefile's own assignments.
    fn expand(&self, value: &str) -> String {
        let mut out = value.to_string();
        for _ in 0..10 {
            let Some(start) = out.find("$(") else { break };
            let Some(len) = out[start..].find(')') else {
                break;
            };
            let name = &out[start + 2..start + len];
            let replacement = self.vars.get(name).cloned().unwrap_or_default();
            out.replace_range(start..=start + len, &replacement);
        }
        out
    }

    fn value(&self, name: &str) -> Option<String> {
        self.vars.get(name).map(|v| self.expand(v))
    }

    /// Where a recipe writes the architecture: the target of `> …/ARCH`.
    fn arch_file(&self) -> Option<String> {
        self.text
            .lines()
            .filter(|line| line.starts_with('\t'))
            .find_map(|line| {
                let (_, target) = line.rsplit_once('>')?;
                let target = target.trim();
                target.ends_with("/ARCH").then(|| self.expand(target))
            })
    }

    /// The values of ARCH the Makefile accepts (`ifeq ($(ARCH),value)`).
    fn arch_values(&self) -> Vec<String> {
        self.text
            .lines()
            .filter_map(|line| {
                let rest = line.split_once("ifeq ($(ARCH),")?.1;
                Some(rest.split_once(')')?.0.trim().to_string())
            })
            .collect()
    }
}
