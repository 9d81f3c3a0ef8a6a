//! The docs and the code must agree where both hold the same table. Each
//! table the code also holds is written once in `docs/`, after a marker
//! comment that names the constant it is checked against:
//!
//! | marker in the docs                                   | file                   | checked against |
//! |------------------------------------------------------|------------------------|-----------------|
//! | `<!-- checked: http_lambda::ROUTES … -->`            | `docs/api.md`          | the HTTP API's routes |
//! | `<!-- checked: http_lambda::RX_ROUTES … -->`         | `docs/api.md`          | the WebSocket routes and who serves each (`RX_ROUTES`, `COMMAND_ROUTES`, `PING_ROUTE`) |
//! | `<!-- checked: channels::config::*_ENV … -->`        | `docs/configuration.md`| which function reads which variable (`RX_ENV`, `HTTP_ENV`, `COMMANDS_ENV`, `WORKER_ENV`, `PRESENCE_ENV`), and the defaults the code declares |
//! | `<!-- checked: workspace members … -->`              | `docs/design.md`       | every crate of the workspace (`Cargo.toml`) has its line in the layout |
//! | `<!-- checked: channels::schema … -->`               | `docs/design.md`       | each item type of the data model, with its `pk` and `sk` |
//!
//! Besides, the copy of the route table in `lambdas/http-lambda/src/routes.rs`'s
//! doc comment, while there is one, must list the same routes.
//!
//! Every check is a function from the files' text to its problems (empty
//! when all agree); the tests run each on the real files and on mutated
//! copies (a row missing, a row extra, a cell changed), which it must report.

use std::collections::{BTreeMap, BTreeSet};
use std::fs;

use channels::config::{self, COMMANDS_ENV, HTTP_ENV, PRESENCE_ENV, RX_ENV, WORKER_ENV};
use channels::schema::{self, ItemType};
use channels::PublishOptions;
use contract_tests::terraform::repo_root;
use http_lambda::{COMMAND_ROUTES, PING_ROUTE, ROUTES, RX_ROUTES};

const API_MD: &str = "docs/api.md";
const CONFIGURATION_MD: &str = "docs/configuration.md";
const DESIGN_MD: &str = "docs/design.md";
const ROUTES_RS: &str = "lambdas/http-lambda/src/routes.rs";
const CARGO_TOML: &str = "Cargo.toml";

const HTTP_ROUTES_MARKER: &str = "<!-- checked: http_lambda::ROUTES";
const WEBSOCKET_ROUTES_MARKER: &str = "<!-- checked: http_lambda::RX_ROUTES";
const ENV_MARKER: &str = "<!-- checked: channels::config::*_ENV";
const LAYOUT_MARKER: &str = "<!-- checked: workspace members";
const SCHEMA_MARKER: &str = "<!-- checked: channels::schema";

/// The functions, as the docs name them, and the variables each reads.
const FUNCTIONS: [(&str, &[&str]); 5] = [
    ("rx", RX_ENV),
    ("http", HTTP_ENV),
    ("commands", COMMANDS_ENV),
    ("worker", WORKER_ENV),
    ("presence", PRESENCE_ENV),
];

fn read(path: &str) -> String {
    let full = repo_root().join(path);
    fs::read_to_string(&full).unwrap_or_else(|e| panic!("cannot read {}: {e}", full.display()))
}

// --- Markdown tables -----------------------------------------------------------

/// The cells of a table row (`| a | b |`), trimmed; `None` for a line that
/// is not a row. A `|` inside backticks or escaped as `\|` stays in its cell.
fn cells(line: &str) -> Option<Vec<String>> {
    let line = line.trim();
    let inner = line.strip_prefix('|')?;
    let inner = inner.strip_suffix('|').unwrap_or(inner);
    let mut cells = Vec::new();
    let mut cell = String::new();
    let mut in_code = false;
    let mut chars = inner.chars().peekable();
    while let Some(c) = chars.next() {
        match c {
            '`' => {
                in_code = !in_code;
                cell.push(c);
            }
            '\\' if chars.peek() == Some(&'|') => {
                cell.push('|');
                chars.next();
            }
            '|' if !in_code => cells.push(std::mem::take(&mut cell).trim().to_owned()),
            _ => cell.push(c),
        }
    }
    cells.push(cell.trim().to_owned());
    Some(cells)
}

/// Whether `row` is a table's delimiter row (`|---|:--:|`).
fn is_delimiter(row: &[String]) -> bool {
    row.iter()
        .all(|c| !c.is_empty() && c.chars().all(|ch| matches!(ch, '-' | ':' | ' ')))
}

/// A table: its header cells and its body rows.
#[derive(Debug)]
struct Table {
    header: Vec<String>,
    rows: Vec<Vec<String>>,
}

impl Table {
    /// The index of the column whose header is `name` (case-insensitive).
    fn column(&self, name: &str) -> Result<usize, String> {
        self.header
            .iter()
            .position(|h| h.eq_ignore_ascii_case(name))
            .ok_or_else(|| format!("has no column {name:?} (its columns: {:?})", self.header))
    }
}

/// The first table after the line holding `marker` in `text`.
fn table_after(text: &str, marker: &str) -> Result<Table, String> {
    let mut lines = text.lines().skip_while(|l| !l.contains(marker));
    if lines.next().is_none() {
        return Err(format!("has no marker {marker:?} -->"));
    }
    // The table follows its marker, blank lines apart.
    let mut lines = lines.skip_while(|l| l.trim().is_empty());
    let header = lines
        .next()
        .and_then(cells)
        .ok_or_else(|| format!("has no table after {marker:?} -->"))?;
    match lines.next().and_then(cells) {
        Some(delimiter) if is_delimiter(&delimiter) => {}
        _ => {
            return Err(format!(
                "the table after {marker:?} --> has no delimiter row"
            ))
        }
    }
    let rows = lines.map_while(cells).collect();
    Ok(Table { header, rows })
}

/// Cell `i` of `row`, empty when the row is short.
fn cell(row: &[String], i: usize) -> &str {
    row.get(i).map_or("", String::as_str)
}

/// The first `` `code` `` span of a cell, or the cell itself.
fn code(cell: &str) -> &str {
    let mut parts = cell.split('`');
    match (parts.next(), parts.next()) {
        (Some(_), Some(inside)) => inside.trim(),
        _ => cell.trim(),
    }
}

/// Names listed in a cell, `a, b and c`, without backticks.
fn names(cell: &str) -> BTreeSet<String> {
    cell.replace(" and ", ",")
        .split(',')
        .map(|n| n.trim().trim_matches('`').trim().to_owned())
        .filter(|n| !n.is_empty())
        .collect()
}

/// Problems of a list of keys against what the code holds: each key of
/// `code` once in `docs`, nothing else.
fn compare(
    what: &str,
    file: &str,
    docs: &[String],
    code: &BTreeSet<String>,
    source: &str,
) -> Vec<String> {
    let mut problems = Vec::new();
    let mut seen = BTreeSet::new();
    for key in docs {
        if !seen.insert(key.clone()) {
            problems.push(format!("{file}: the {what} table lists {key:?} twice"));
        }
    }
    for key in code.difference(&seen) {
        problems.push(format!(
            "{file}: the {what} table lacks {key:?}, which {source} has"
        ));
    }
    for key in seen.difference(code) {
        problems.push(format!(
            "{file}: the {what} table has {key:?}, which {source} does not have"
        ));
    }
    problems
}

// --- The checks -------------------------------------------------------------------

/// The HTTP route table of `docs/api.md`: its first column, `` `METHOD /path` ``,
/// is exactly `http_lambda::ROUTES`.
fn http_route_problems(api_md: &str) -> Vec<String> {
    let table = match table_after(api_md, HTTP_ROUTES_MARKER) {
        Ok(table) => table,
        Err(e) => return vec![format!("{API_MD} {e}")],
    };
    let docs: Vec<String> = table
        .rows
        .iter()
        .map(|row| {
            code(cell(row, 0))
                .split_whitespace()
                .collect::<Vec<_>>()
                .join(" ")
        })
        .collect();
    let routes = ROUTES.iter().map(|(m, p)| format!("{m} {p}")).collect();
    compare("HTTP route", API_MD, &docs, &routes, "http_lambda::ROUTES")
}

/// Who serves a WebSocket route, as the docs' "served by" cell says.
fn served_by(cell: &str) -> Option<&'static str> {
    let cell = cell.trim_matches('`').trim();
    ["rx", "commands", "API Gateway"]
        .into_iter()
        .find(|who| cell.starts_with(who))
}

/// The WebSocket route table of `docs/api.md`: its `route` column is every
/// route of `RX_ROUTES`, `COMMAND_ROUTES` and `PING_ROUTE`, and its
/// `served by` column says rx, commands, or API Gateway (the MOCK) for each.
fn websocket_route_problems(api_md: &str) -> Vec<String> {
    let table = match table_after(api_md, WEBSOCKET_ROUTES_MARKER) {
        Ok(table) => table,
        Err(e) => return vec![format!("{API_MD} {e}")],
    };
    let columns = table.column("route").and_then(|route| {
        let by = table.column("served by")?;
        Ok((route, by))
    });
    let (route, by) = match columns {
        Ok(columns) => columns,
        Err(e) => return vec![format!("{API_MD}: the WebSocket route table {e}")],
    };
    let mut expected: BTreeMap<String, &str> = BTreeMap::new();
    for r in RX_ROUTES {
        expected.insert((*r).to_owned(), "rx");
    }
    for r in COMMAND_ROUTES {
        expected.insert((*r).to_owned(), "commands");
    }
    expected.insert(PING_ROUTE.to_owned(), "API Gateway");
    let docs: Vec<String> = table
        .rows
        .iter()
        .map(|row| code(cell(row, route)).to_owned())
        .collect();
    let keys = expected.keys().cloned().collect();
    let mut problems = compare(
        "WebSocket route",
        API_MD,
        &docs,
        &keys,
        "http_lambda::{RX_ROUTES, COMMAND_ROUTES, PING_ROUTE}",
    );
    for row in &table.rows {
        let key = code(cell(row, route));
        let Some(&want) = expected.get(key) else {
            continue;
        };
        let says = cell(row, by);
        if served_by(says) != Some(want) {
            problems.push(format!(
                "{API_MD}: the WebSocket route {key:?} is served by {want}, the table says {says:?}"
            ));
        }
    }
    problems
}

/// The defaults the code declares, by variable: the `default` column of
/// the environment table must show each as `` `N` ``.
fn declared_defaults() -> BTreeMap<&'static str, u64> {
    BTreeMap::from([
        (
            config::CHANNEL_SHARDS,
            u64::from(config::DEFAULT_CHANNEL_SHARDS),
        ),
        (
            config::PUBLISH_SYNC_MAX,
            u64::from(config::DEFAULT_PUBLISH_SYNC_MAX),
        ),
        (
            config::PUBLISH_TARGET_RATE,
            u64::from(config::DEFAULT_PUBLISH_TARGET_RATE),
        ),
        (
            config::WORKER_MAX_CONCURRENCY,
            u64::from(config::DEFAULT_WORKER_MAX_CONCURRENCY),
        ),
        (
            config::HISTORY_TTL_SECONDS,
            config::DEFAULT_HISTORY_TTL_SECONDS,
        ),
        (config::HISTORY_MAX, config::DEFAULT_HISTORY_MAX),
        (
            config::TOKEN_MAX_TTL_SECONDS,
            config::DEFAULT_TOKEN_MAX_TTL_SECS,
        ),
        (
            config::PUBLISH_CONCURRENCY,
            PublishOptions::DEFAULT_CONCURRENCY as u64,
        ),
        (
            config::PUBLISH_MAX_ATTEMPTS,
            u64::from(PublishOptions::DEFAULT_MAX_ATTEMPTS),
        ),
    ])
}

/// The environment table of `docs/configuration.md`: one row per variable
/// some function reads, whose `read by` column names exactly the functions
/// whose `*_ENV` lists it, and whose `default` column shows the code's
/// default where it declares one.
fn env_problems(configuration_md: &str) -> Vec<String> {
    let table = match table_after(configuration_md, ENV_MARKER) {
        Ok(table) => table,
        Err(e) => return vec![format!("{CONFIGURATION_MD} {e}")],
    };
    let columns = table.column("variable").and_then(|variable| {
        let by = table.column("read by")?;
        let default = table.column("default")?;
        Ok((variable, by, default))
    });
    let (variable, by, default) = match columns {
        Ok(columns) => columns,
        Err(e) => return vec![format!("{CONFIGURATION_MD}: the environment table {e}")],
    };
    let mut readers: BTreeMap<String, BTreeSet<String>> = BTreeMap::new();
    for (function, env) in FUNCTIONS {
        for name in env {
            readers
                .entry((*name).to_owned())
                .or_default()
                .insert(function.to_owned());
        }
    }
    let docs: Vec<String> = table
        .rows
        .iter()
        .map(|row| code(cell(row, variable)).to_owned())
        .collect();
    let keys = readers.keys().cloned().collect();
    let mut problems = compare(
        "environment",
        CONFIGURATION_MD,
        &docs,
        &keys,
        "channels::config::*_ENV",
    );
    let defaults = declared_defaults();
    for row in &table.rows {
        let name = code(cell(row, variable));
        let Some(want) = readers.get(name) else {
            continue;
        };
        let says = cell(row, by);
        if &names(says) != want {
            problems.push(format!(
                "{CONFIGURATION_MD}: {name} is read by {}, the table says {says:?}",
                want.iter().cloned().collect::<Vec<_>>().join(", ")
            ));
        }
        if let Some(want) = defaults.get(name) {
            let says = cell(row, default);
            let shown: String = code(says).chars().filter(|c| *c != ',').collect();
            if shown.parse::<u64>().ok() != Some(*want) {
                problems.push(format!(
                    "{CONFIGURATION_MD}: {name} defaults to `{want}` in channels::config, the table says {says:?}"
                ));
            }
        }
    }
    problems
}

/// The workspace's members, from the root `Cargo.toml`.
fn workspace_members(cargo_toml: &str) -> Vec<String> {
    let Some(start) = cargo_toml.find("members = [") else {
        return Vec::new();
    };
    let rest = &cargo_toml[start..];
    let end = rest.find(']').unwrap_or(rest.len());
    rest[..end]
        .split('"')
        .skip(1)
        .step_by(2)
        .map(str::to_owned)
        .collect()
}

/// The layout table of `docs/design.md` lists every workspace member (and
/// `clients/js`), and nothing that is not there.
fn layout_problems(design_md: &str, cargo_toml: &str) -> Vec<String> {
    let table = match table_after(design_md, LAYOUT_MARKER) {
        Ok(table) => table,
        Err(e) => return vec![format!("{DESIGN_MD} {e}")],
    };
    let docs: Vec<String> = table
        .rows
        .iter()
        .map(|row| code(cell(row, 0)).trim_end_matches('/').to_owned())
        .collect();
    let mut members: BTreeSet<String> = workspace_members(cargo_toml).into_iter().collect();
    if members.is_empty() {
        return vec![format!("{CARGO_TOML}: no workspace members found")];
    }
    members.insert("clients/js".to_owned());
    compare(
        "layout",
        DESIGN_MD,
        &docs,
        &members,
        "the workspace (Cargo.toml members, and clients/js)",
    )
}

/// Every item type, and its keys as `channels::schema` builds them, with
/// `{id}`, `{channel}`, `{key}` and `{offset:020}` standing for the values.
fn item_keys() -> Vec<(&'static str, String, String)> {
    let keys = |item: ItemType| match item {
        ItemType::Connection => (
            schema::connection_pk("{id}"),
            schema::CONNECTION_SK.to_owned(),
        ),
        ItemType::Membership => (
            schema::connection_pk("{id}"),
            schema::membership_sk("{channel}"),
        ),
        ItemType::Counter => (
            schema::channel_pk("{channel}"),
            schema::COUNTER_SK.to_owned(),
        ),
        ItemType::Message => (
            schema::channel_pk("{channel}"),
            format!("{}{{offset:020}}", schema::MESSAGE_SK_PREFIX),
        ),
        ItemType::PublishKey => (
            schema::channel_pk("{channel}"),
            schema::publish_key_sk("{key}"),
        ),
    };
    // A new item type fails to compile above until it is listed here.
    [
        ItemType::Connection,
        ItemType::Membership,
        ItemType::Counter,
        ItemType::Message,
        ItemType::PublishKey,
    ]
    .into_iter()
    .map(|item| {
        let (pk, sk) = keys(item);
        (item.name(), pk, sk)
    })
    .collect()
}

/// The data model table of `docs/design.md`: one row per item type (its
/// `type` column), with the `pk` and `sk` the code builds.
fn schema_problems(design_md: &str) -> Vec<String> {
    let table = match table_after(design_md, SCHEMA_MARKER) {
        Ok(table) => table,
        Err(e) => return vec![format!("{DESIGN_MD} {e}")],
    };
    let columns = table.column("type").and_then(|t| {
        let pk = table.column("`pk`")?;
        let sk = table.column("`sk`")?;
        Ok((t, pk, sk))
    });
    let (type_column, pk, sk) = match columns {
        Ok(columns) => columns,
        Err(e) => return vec![format!("{DESIGN_MD}: the data model table {e}")],
    };
    let expected = item_keys();
    let docs: Vec<String> = table
        .rows
        .iter()
        .map(|row| code(cell(row, type_column)).to_owned())
        .collect();
    let names = expected.iter().map(|(n, _, _)| (*n).to_owned()).collect();
    let mut problems = compare(
        "data model",
        DESIGN_MD,
        &docs,
        &names,
        "channels::schema::ItemType",
    );
    for row in &table.rows {
        let name = code(cell(row, type_column));
        let Some((_, want_pk, want_sk)) = expected.iter().find(|(n, _, _)| *n == name) else {
            continue;
        };
        for (column, want) in [("pk", want_pk), ("sk", want_sk)] {
            let says = code(cell(row, if column == "pk" { pk } else { sk }));
            if says != want {
                problems.push(format!(
                    "{DESIGN_MD}: the {column} of a {name} item is `{want}` in channels::schema, the table says `{says}`"
                ));
            }
        }
    }
    problems
}

/// The route table in `routes.rs`'s doc comment, while there is one, lists
/// the routes of `ROUTES`.
fn routes_doc_comment_problems(routes_rs: &str) -> Vec<String> {
    let rows: Vec<Vec<String>> = routes_rs
        .lines()
        .filter_map(|l| l.trim_start().strip_prefix("//!"))
        .filter_map(cells)
        .collect();
    let Some((_header, rest)) = rows.split_first() else {
        return Vec::new();
    };
    let docs: Vec<String> = rest
        .iter()
        .filter(|row| !is_delimiter(row))
        .map(|row| code(cell(row, 0)).to_owned())
        .collect();
    let routes = ROUTES.iter().map(|(m, p)| format!("{m} {p}")).collect();
    compare(
        "doc-comment route",
        ROUTES_RS,
        &docs,
        &routes,
        "http_lambda::ROUTES",
    )
}

fn report(check: &str, problems: &[String]) {
    assert!(
        problems.is_empty(),
        "the docs and the code disagree ({check}):\n  - {}",
        problems.join("\n  - ")
    );
}

// --- On the real files -----------------------------------------------------------

#[test]
fn the_http_route_table_is_http_lambda_routes() {
    report("HTTP routes", &http_route_problems(&read(API_MD)));
}

#[test]
fn the_websocket_route_table_is_the_routes_each_function_serves() {
    report("WebSocket routes", &websocket_route_problems(&read(API_MD)));
}

#[test]
fn the_environment_table_is_what_each_function_reads() {
    report("environment", &env_problems(&read(CONFIGURATION_MD)));
}

#[test]
fn the_layout_lists_every_crate() {
    report(
        "layout",
        &layout_problems(&read(DESIGN_MD), &read(CARGO_TOML)),
    );
}

#[test]
fn the_data_model_table_is_channels_schema() {
    report("data model", &schema_problems(&read(DESIGN_MD)));
}

#[test]
fn the_route_doc_comment_lists_http_lambda_routes() {
    report("routes.rs", &routes_doc_comment_problems(&read(ROUTES_RS)));
}

// --- On mutated copies: each check must catch a row missing or extra ---------------

/// `text` with the one line containing `needle` replaced by `to` (which may
/// hold several lines, or none).
fn replace_line(text: &str, needle: &str, to: &str) -> String {
    let hits = text.lines().filter(|l| l.contains(needle)).count();
    assert_eq!(hits, 1, "expected one line with {needle:?}, found {hits}");
    let mut out = Vec::new();
    for line in text.lines() {
        match (line.contains(needle), to.is_empty()) {
            (false, _) => out.push(line),
            (true, true) => {}
            (true, false) => out.push(to),
        }
    }
    out.join("\n")
}

/// The row whose first cell is `` `key` `` in the table after `marker`.
fn row_of(text: &str, marker: &str, key: &str) -> String {
    let after = text
        .split_once(marker)
        .unwrap_or_else(|| panic!("no marker {marker:?}"))
        .1;
    after
        .lines()
        .find(|l| cells(l).is_some_and(|c| code(&c[0]) == key))
        .unwrap_or_else(|| panic!("no row `{key}` after {marker:?}"))
        .to_owned()
}

fn assert_caught(problems: &[String], expected: &[&str]) {
    assert!(!problems.is_empty(), "a mutation went unnoticed");
    let all = problems.join("\n");
    for part in expected {
        assert!(all.contains(part), "expected {part:?} in:\n{all}");
    }
}

#[test]
fn the_http_route_check_catches_a_row_missing_or_extra() {
    let api = read(API_MD);
    let row = row_of(&api, HTTP_ROUTES_MARKER, "GET /channels/{channel}/messages");
    let missing = replace_line(&api, &row, "");
    assert_caught(
        &http_route_problems(&missing),
        &[
            "lacks \"GET /channels/{channel}/messages\"",
            "http_lambda::ROUTES",
        ],
    );
    let extra = replace_line(
        &api,
        &row,
        &format!("{row}\n| `DELETE /channels/{{channel}}` | not served |"),
    );
    assert_caught(
        &http_route_problems(&extra),
        &["has \"DELETE /channels/{channel}\", which http_lambda::ROUTES does not have"],
    );
    let twice = replace_line(&api, &row, &format!("{row}\n{row}"));
    assert_caught(&http_route_problems(&twice), &["twice"]);
    let unmarked = api.replace(HTTP_ROUTES_MARKER, "<!-- ");
    assert_caught(&http_route_problems(&unmarked), &["has no marker"]);
}

#[test]
fn the_websocket_route_check_catches_a_row_missing_extra_or_moved() {
    let api = read(API_MD);
    let row = row_of(&api, WEBSOCKET_ROUTES_MARKER, "presence");
    let missing = replace_line(&api, &row, "");
    assert_caught(
        &websocket_route_problems(&missing),
        &["lacks \"presence\"", "COMMAND_ROUTES"],
    );
    let extra = replace_line(&api, &row, &format!("{row}\n| `history` | commands | |"));
    assert_caught(
        &websocket_route_problems(&extra),
        &["has \"history\", which"],
    );
    let moved = replace_line(&api, &row, &row.replacen("commands", "rx", 1));
    assert_caught(
        &websocket_route_problems(&moved),
        &["\"presence\" is served by commands"],
    );
    let ping = row_of(&api, WEBSOCKET_ROUTES_MARKER, "ping");
    let invoked = replace_line(&api, &ping, &ping.replacen("API Gateway", "commands", 1));
    assert_caught(
        &websocket_route_problems(&invoked),
        &["\"ping\" is served by API Gateway"],
    );
}

#[test]
fn the_environment_check_catches_a_row_missing_extra_or_a_wrong_reader() {
    let doc = read(CONFIGURATION_MD);
    let row = row_of(&doc, ENV_MARKER, "PRESENCE_EVENTS");
    let missing = replace_line(&doc, &row, "");
    assert_caught(
        &env_problems(&missing),
        &["lacks \"PRESENCE_EVENTS\"", "channels::config::*_ENV"],
    );
    let extra = replace_line(
        &doc,
        &row,
        &format!("{row}\n| `PUBLISH_TIMEOUT` | http | `5` | not read by anyone |"),
    );
    assert_caught(
        &env_problems(&extra),
        &["has \"PUBLISH_TIMEOUT\", which channels::config::*_ENV does not have"],
    );
    let issuers = row_of(&doc, ENV_MARKER, "TOKEN_ISSUERS");
    // TOKEN_ISSUERS is read by rx and commands, not by http.
    let wrong = replace_line(
        &doc,
        &issuers,
        &issuers.replacen("rx, commands", "rx, http, commands", 1),
    );
    assert_caught(
        &env_problems(&wrong),
        &["TOKEN_ISSUERS is read by commands, rx"],
    );
    let sync = row_of(&doc, ENV_MARKER, "PUBLISH_SYNC_MAX");
    let default = replace_line(&doc, &sync, &sync.replacen("`2000`", "`1000`", 1));
    assert_caught(
        &env_problems(&default),
        &["PUBLISH_SYNC_MAX defaults to `2000`"],
    );
}

#[test]
fn the_layout_check_catches_a_crate_missing_or_extra() {
    let doc = read(DESIGN_MD);
    let cargo = read(CARGO_TOML);
    let row = row_of(&doc, LAYOUT_MARKER, "tools/coldstart/");
    let missing = replace_line(&doc, &row, "");
    assert_caught(
        &layout_problems(&missing, &cargo),
        &["lacks \"tools/coldstart\""],
    );
    let new_crate = cargo.replace(
        "\"tools/coldstart\",",
        "\"tools/coldstart\",\n    \"tools/loadtest\",",
    );
    assert_caught(
        &layout_problems(&doc, &new_crate),
        &["lacks \"tools/loadtest\""],
    );
    let extra = replace_line(&doc, &row, &format!("{row}\n| `lambdas/worker/` | gone |"));
    assert_caught(
        &layout_problems(&extra, &cargo),
        &["has \"lambdas/worker\", which the workspace"],
    );
}

#[test]
fn the_data_model_check_catches_a_type_missing_extra_or_a_key_changed() {
    let doc = read(DESIGN_MD);
    let row = row_of(&doc, SCHEMA_MARKER, "publishKey");
    let missing = replace_line(&doc, &row, "");
    assert_caught(
        &schema_problems(&missing),
        &["lacks \"publishKey\"", "ItemType"],
    );
    let extra = replace_line(
        &doc,
        &row,
        &format!("{row}\n| `presence` | `chan#{{channel}}` | `presence` | | no |"),
    );
    assert_caught(&schema_problems(&extra), &["has \"presence\", which"]);
    let message = row_of(&doc, SCHEMA_MARKER, "message");
    let moved = replace_line(
        &doc,
        &message,
        &message.replacen("`msg#{offset:020}`", "`msg#{offset}`", 1),
    );
    assert_caught(
        &schema_problems(&moved),
        &["the sk of a message item is `msg#{offset:020}`"],
    );
}

#[test]
fn the_doc_comment_check_catches_a_route_missing() {
    let text = read(ROUTES_RS);
    let missing = replace_line(&text, "//! | `GET /channels/{channel}/presence`", "");
    assert_caught(
        &routes_doc_comment_problems(&missing),
        &["lacks \"GET /channels/{channel}/presence\""],
    );
    // No table in the doc comment (a link instead): nothing to hold.
    let linked: String = text
        .lines()
        .filter(|l| !(l.trim_start().starts_with("//! |")))
        .collect::<Vec<_>>()
        .join("\n");
    assert!(routes_doc_comment_problems(&linked).is_empty());
}

#[test]
fn cells_keep_pipes_inside_code_and_escaped() {
    assert_eq!(
        cells("| `a|b` | c \\| d |").unwrap_or_default(),
        vec!["`a|b`".to_owned(), "c | d".to_owned()]
    );
    assert_eq!(cells("not a row"), None);
    assert_eq!(
        names("`rx`, `http` and `worker`"),
        BTreeSet::from(["rx".to_owned(), "http".to_owned(), "worker".to_owned()])
    );
}
