//! `terraform/*.tf` and the `Makefile` as text, and the `.tf` files parsed with
//! `hcl-rs`, with the few accessors the checks need.

use std::fs;
use std::path::{Component, Path, PathBuf};

use hcl::expr::{Operation, TemplateExpr, TraversalOperator};
use hcl::{Block, Body, Expression, ObjectKey};

use crate::Makefile;

/// The repository root (this crate is `tools/contract-tests`).
pub fn repo_root() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("../..")
}

/// The text of `terraform/*.tf`, of the `Makefile` and of `terraform.mk`: as
/// in the repository, or mutated by a test.
#[derive(Clone, Debug)]
pub struct Sources {
    /// `("terraform/<name>.tf", text)`, sorted by name.
    pub terraform: Vec<(String, String)>,
    /// The `Makefile`.
    pub makefile: String,
    /// `terraform.mk`, which the Makefile includes.
    pub terraform_mk: String,
}

impl Sources {
    /// `terraform/*.tf` and the `Makefile` of this repository.
    pub fn load() -> Result<Self, String> {
        Self::load_from(&repo_root())
    }

    /// `terraform/*.tf` and the `Makefile` under `root`.
    pub fn load_from(root: &Path) -> Result<Self, String> {
        let dir = root.join("terraform");
        let entries =
            fs::read_dir(&dir).map_err(|e| format!("cannot list {}: {e}", dir.display()))?;
        let mut terraform = Vec::new();
        for entry in entries {
            let path = entry
                .map_err(|e| format!("cannot list {}: {e}", dir.display()))?
                .path();
            if path.extension().is_none_or(|ext| ext != "tf") {
                continue;
            }
            let name = format!(
                "terraform/{}",
                path.file_name().unwrap_or_default().to_string_lossy()
            );
            let text = fs::read_to_string(&path)
                .map_err(|e| format!("cannot read {}: {e}", path.display()))?;
            terraform.push((name, text));
        }
        if terraform.is_empty() {
            return Err(format!("no .tf files in {}", dir.display()));
        }
        terraform.sort();
        let path = root.join("Makefile");
        let makefile = fs::read_to_string(&path)
            .map_err(|e| format!("cannot read {}: {e}", path.display()))?;
        let path = root.join("terraform.mk");
        let terraform_mk = fs::read_to_string(&path)
            .map_err(|e| format!("cannot read {}: {e}", path.display()))?;
        Ok(Self {
            terraform,
            makefile,
            terraform_mk,
        })
    }

    /// A copy in which the one occurrence of `from` in `file`
    /// (`"terraform/<name>.tf"`, `"Makefile"` or `"terraform.mk"`) is replaced
    /// by `to`. `file` may name one top-level block after a colon,
    /// `"terraform/lambda.tf:aws_lambda_function.http"` (also `data.TYPE.NAME`,
    /// `variable.NAME`, `output.NAME`), and then `from` is looked for in that
    /// block only. Fails when `from` does not occur exactly once there, so that
    /// a mutation cannot silently stop applying when the files change.
    pub fn mutated(&self, file: &str, from: &str, to: &str) -> Result<Self, String> {
        let (path, block) = match file.split_once(':') {
            Some((path, block)) => (path, Some(block)),
            None => (file, None),
        };
        let mut copy = self.clone();
        let text = match path {
            "Makefile" => &mut copy.makefile,
            "terraform.mk" => &mut copy.terraform_mk,
            _ => match copy.terraform.iter_mut().find(|(name, _)| name == path) {
                Some((_, text)) => text,
                None => return Err(format!("no file {path} to mutate")),
            },
        };
        let (start, end) = match block {
            None => (0, text.len()),
            Some(address) => {
                block_span(text, address).ok_or_else(|| format!("{path} has no block {address}"))?
            }
        };
        match text[start..end].matches(from).count() {
            1 => {
                let region = text[start..end].replacen(from, to, 1);
                text.replace_range(start..end, &region);
                Ok(copy)
            }
            n => Err(format!(
                "{file} contains {from:?} {n} times; a mutation needs exactly one"
            )),
        }
    }

    /// The `.tf` files, parsed; the first file that does not parse is an error.
    pub fn terraform(&self) -> Result<Terraform, String> {
        Terraform::parse(&self.terraform)
    }

    /// The variables and recipes of the `Makefile` and of the `terraform.mk`
    /// it includes.
    pub fn makefile(&self) -> Makefile {
        Makefile::parse(&format!("{}\n{}", self.makefile, self.terraform_mk))
    }
}

/// Where the top-level block `address` (`TYPE.NAME`, `data.TYPE.NAME`,
/// `variable.NAME`, `output.NAME`) starts and ends in `text`.
fn block_span(text: &str, address: &str) -> Option<(usize, usize)> {
    let parts: Vec<&str> = address.split('.').collect();
    let header = match parts.as_slice() {
        ["data", kind, name] => format!("data \"{kind}\" \"{name}\" {{"),
        [kind @ ("variable" | "output"), name] => format!("{kind} \"{name}\" {{"),
        [kind, name] => format!("resource \"{kind}\" \"{name}\" {{"),
        _ => return None,
    };
    let start = text
        .match_indices(&header)
        .map(|(i, _)| i)
        .find(|&i| i == 0 || text[..i].ends_with('\n'))?;
    let end = text[start..].find("\n}\n").map(|i| start + i + 3)?;
    Some((start, end))
}

/// The parsed `.tf` files of one configuration.
#[derive(Debug)]
pub struct Terraform {
    /// `("terraform/<name>.tf", body)`.
    files: Vec<(String, Body)>,
}

impl Terraform {
    /// Parses every file; an error names the file and the position.
    pub fn parse(files: &[(String, String)]) -> Result<Self, String> {
        let files = files
            .iter()
            .map(|(name, text)| {
                hcl::parse(text)
                    .map(|body| (name.clone(), body))
                    .map_err(|e| format!("{name} does not parse: {e}"))
            })
            .collect::<Result<Vec<_>, _>>()?;
        Ok(Self { files })
    }

    /// Each file's name and body.
    pub fn files(&self) -> impl Iterator<Item = (&str, &Body)> {
        self.files.iter().map(|(name, body)| (name.as_str(), body))
    }

    /// Every top-level block with the file that holds it.
    pub fn top_blocks(&self) -> impl Iterator<Item = (&str, &Block)> {
        self.files()
            .flat_map(|(file, body)| body.blocks().map(move |block| (file, block)))
    }

    /// The body of the one top-level block `ident "label" "label"`, and its file.
    pub fn block(&self, ident: &str, labels: &[&str]) -> Result<(&str, &Body), String> {
        let found: Vec<(&str, &Body)> = self
            .top_blocks()
            .filter(|(_, block)| {
                block.identifier() == ident
                    && block
                        .labels()
                        .iter()
                        .map(|l| l.as_str())
                        .eq(labels.iter().copied())
            })
            .map(|(file, block)| (file, block.body()))
            .collect();
        let header = std::iter::once(ident.to_string())
            .chain(labels.iter().map(|l| format!("{l:?}")))
            .collect::<Vec<_>>()
            .join(" ");
        match found.as_slice() {
            [one] => Ok(*one),
            [] => Err(format!("terraform/*.tf has no `{header}` block")),
            _ => Err(format!("terraform/*.tf declares `{header}` more than once")),
        }
    }

    /// The expression of `local.<name>` and the file that defines it.
    pub fn local(&self, name: &str) -> Result<(&str, &Expression), String> {
        let found: Vec<(&str, &Expression)> = self
            .top_blocks()
            .filter(|(_, block)| block.identifier() == "locals")
            .filter_map(|(file, block)| attr(block.body(), name).map(|expr| (file, expr)))
            .collect();
        match found.as_slice() {
            [one] => Ok(*one),
            [] => Err(format!("terraform/*.tf defines no local.{name}")),
            _ => Err(format!(
                "terraform/*.tf defines local.{name} more than once"
            )),
        }
    }
}

/// The expression of attribute `name` in `body`.
pub fn attr<'a>(body: &'a Body, name: &str) -> Option<&'a Expression> {
    body.attributes()
        .find(|a| a.key() == name)
        .map(|a| a.expr())
}

/// The blocks `ident { … }` directly in `body`.
pub fn blocks<'a>(body: &'a Body, ident: &str) -> Vec<&'a Body> {
    body.blocks()
        .filter(|b| b.identifier() == ident)
        .map(|b| b.body())
        .collect()
}

/// The value of a string literal, or the text of a template as written
/// (`"${local.package_dir}/rx.zip"` gives `${local.package_dir}/rx.zip`); None
/// for any other expression.
pub fn string(expr: &Expression) -> Option<String> {
    match expr {
        Expression::String(s) => Some(s.clone()),
        Expression::TemplateExpr(template) => Some(match template.as_ref() {
            TemplateExpr::QuotedString(s) => s.clone(),
            TemplateExpr::Heredoc(heredoc) => heredoc.template.clone(),
        }),
        _ => None,
    }
}

/// The string of attribute `name` in `body`, if it is a string.
pub fn string_attr(body: &Body, name: &str) -> Option<String> {
    attr(body, name).and_then(string)
}

/// The strings of a list of string literals.
pub fn string_list(expr: &Expression) -> Result<Vec<String>, String> {
    match expr {
        Expression::Array(items) => items
            .iter()
            .map(|item| string(item).ok_or_else(|| format!("not a string: `{item}`")))
            .collect(),
        other => Err(format!("expected a list of strings, found `{other}`")),
    }
}

/// The keys of an object constructor `{ KEY = value, … }`.
pub fn object_keys(expr: &Expression) -> Result<Vec<String>, String> {
    object_entries(expr).map(|entries| entries.into_iter().map(|(key, _)| key).collect())
}

/// The text of an object key: a bare identifier or a string.
fn key_text(key: &ObjectKey) -> Result<String, String> {
    match key {
        ObjectKey::Identifier(ident) => Ok(ident.as_str().to_string()),
        ObjectKey::Expression(expr) => {
            string(expr).ok_or_else(|| format!("a computed key `{expr}`"))
        }
        other => Err(format!("an unexpected key `{other}`")),
    }
}

/// The entries of an object constructor `{ KEY = value, … }`, keys as text.
pub fn object_entries(expr: &Expression) -> Result<Vec<(String, &Expression)>, String> {
    match expr {
        Expression::Object(object) => object
            .iter()
            .map(|(key, value)| key_text(key).map(|key| (key, value)))
            .collect(),
        other => Err(format!(
            "expected an object `{{ KEY = value }}`, found `{other}`"
        )),
    }
}

/// The value of `key` in an object constructor (a bare or a quoted key).
pub fn object_get<'a>(expr: &'a Expression, key: &str) -> Option<&'a Expression> {
    match unparen(expr) {
        Expression::Object(object) => object
            .iter()
            .find_map(|(k, value)| (key_text(k).ok().as_deref() == Some(key)).then_some(value)),
        _ => None,
    }
}

/// `expr` without the parentheses around it.
pub fn unparen(mut expr: &Expression) -> &Expression {
    while let Expression::Parenthesis(inner) = expr {
        expr = inner;
    }
    expr
}

/// The names along a traversal, skipping indexes and splats:
/// `data.aws_kms_public_key.tokens[0].public_key` gives `["data",
/// "aws_kms_public_key", "tokens", "public_key"]`, `local.tokens_on` gives
/// `["local", "tokens_on"]`; None for any other expression.
pub fn traversal_names(expr: &Expression) -> Option<Vec<String>> {
    match unparen(expr) {
        Expression::Variable(var) => Some(vec![var.as_str().to_string()]),
        Expression::Traversal(traversal) => {
            let mut names = traversal_names(&traversal.expr)?;
            for op in &traversal.operators {
                if let TraversalOperator::GetAttr(ident) = op {
                    names.push(ident.as_str().to_string());
                }
            }
            Some(names)
        }
        _ => None,
    }
}

/// The reference a plain traversal names, such as `local.rx_package` or
/// `each.key`; None for any other expression.
pub fn reference(expr: &Expression) -> Option<String> {
    match expr {
        Expression::Variable(var) => Some(var.as_str().to_string()),
        Expression::Traversal(traversal) => {
            let mut out = reference(&traversal.expr)?;
            for op in &traversal.operators {
                match op {
                    TraversalOperator::GetAttr(ident) => {
                        out.push('.');
                        out.push_str(ident.as_str());
                    }
                    _ => return None,
                }
            }
            Some(out)
        }
        _ => None,
    }
}

/// Calls `visit` on `expr` and on every expression nested in it (function
/// arguments, operands, list items, object keys and values, …). Template
/// interpolations are text here and not visited.
pub fn walk<'a>(expr: &'a Expression, visit: &mut dyn FnMut(&'a Expression)) {
    visit(expr);
    match expr {
        Expression::Array(items) => items.iter().for_each(|e| walk(e, visit)),
        Expression::Object(object) => {
            for (key, value) in object {
                if let ObjectKey::Expression(key) = key {
                    walk(key, visit);
                }
                walk(value, visit);
            }
        }
        Expression::Traversal(traversal) => {
            walk(&traversal.expr, visit);
            for op in &traversal.operators {
                if let TraversalOperator::Index(index) = op {
                    walk(index, visit);
                }
            }
        }
        Expression::FuncCall(call) => call.args.iter().for_each(|e| walk(e, visit)),
        Expression::Parenthesis(inner) => walk(inner, visit),
        Expression::Conditional(c) => {
            walk(&c.cond_expr, visit);
            walk(&c.true_expr, visit);
            walk(&c.false_expr, visit);
        }
        Expression::Operation(op) => match op.as_ref() {
            Operation::Unary(unary) => walk(&unary.expr, visit),
            Operation::Binary(binary) => {
                walk(&binary.lhs_expr, visit);
                walk(&binary.rhs_expr, visit);
            }
        },
        Expression::ForExpr(for_expr) => {
            walk(&for_expr.collection_expr, visit);
            if let Some(key) = &for_expr.key_expr {
                walk(key, visit);
            }
            walk(&for_expr.value_expr, visit);
            if let Some(cond) = &for_expr.cond_expr {
                walk(cond, visit);
            }
        }
        _ => {}
    }
}

/// The argument lists of every call of function `name` in `expr`.
pub fn calls<'a>(expr: &'a Expression, name: &str) -> Vec<&'a [Expression]> {
    let mut found = Vec::new();
    walk(expr, &mut |e| {
        if let Expression::FuncCall(call) = e {
            if !call.name.is_namespaced() && call.name.name.as_str() == name {
                found.push(call.args.as_slice());
            }
        }
    });
    found
}

/// Every string literal and template in `expr`, in order.
pub fn strings_in(expr: &Expression) -> Vec<String> {
    let mut found = Vec::new();
    walk(expr, &mut |e| found.extend(string(e)));
    found
}

/// `a/b/../c` → `a/c`, without touching the file system.
pub fn normalize(path: &str) -> String {
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
