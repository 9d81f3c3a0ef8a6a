//! Terraform's expression language, as much of it as this configuration
//! uses, evaluated without Terraform: variables (at their defaults or at
//! values a test sets, converted to their declared types), locals, the
//! operators, conditionals, `for` expressions, splats, templates and the
//! built-in functions (`eval/functions.rs`).
//!
//! What Terraform knows only at apply time, a resource's or data source's
//! attribute, evaluates to a placeholder string naming it, `⟨aws_sqs_queue.publish.url⟩`,
//! unless the test gives the resource a value ([`Scope::resource`]). A
//! placeholder can be read further (`⟨…⟩.attr`, `⟨…⟩[0]`), interpolated and
//! compared, which is what the checks need: "TOKEN_AUDIENCE is the same
//! placeholder with and without a custom domain".
//!
//! Semantics follow Terraform 1.9–1.11, the oldest versions `versions.tf`
//! allows: `&&` and `||` evaluate both sides (an error on either side is an
//! error; Terraform 1.12 started short-circuiting), a conditional evaluates
//! the branch it selects, `can` and `try` catch evaluation errors, object
//! and map keys iterate in lexical order.

mod functions;
mod types;

use std::cell::RefCell;
use std::collections::BTreeMap;
use std::path::Path;

use hcl::expr::{
    BinaryOperator, Conditional, ForExpr, Operation, TemplateExpr, TraversalOperator, UnaryOperator,
};
use hcl::template::{Directive, Element, Template};
pub use hcl::Value;
use hcl::{Body, Expression, Map, ObjectKey};

use crate::terraform::{attr, blocks, string_attr};
use crate::Terraform;

pub use types::convert;

/// The opening and closing marks of a placeholder.
const OPEN: char = '⟨';
const CLOSE: char = '⟩';

/// The placeholder of an address: `⟨aws_sqs_queue.publish.url⟩`.
pub fn placeholder(address: &str) -> Value {
    Value::String(format!("{OPEN}{address}{CLOSE}"))
}

/// The address inside a placeholder, when `value` is one.
fn placeholder_address(value: &Value) -> Option<&str> {
    match value {
        Value::String(s) => s.strip_prefix(OPEN)?.strip_suffix(CLOSE),
        _ => None,
    }
}

/// The names a `for` expression or `each`/`count` binds, innermost last.
#[derive(Clone, Debug, Default)]
pub struct Frame {
    names: Vec<(String, Value)>,
}

impl Frame {
    /// `each.key` and `each.value` of a `for_each` instance.
    pub fn each(key: Value, value: Value) -> Self {
        let mut each = Map::new();
        each.insert("key".to_owned(), key);
        each.insert("value".to_owned(), value);
        Self {
            names: vec![("each".to_owned(), Value::Object(each))],
        }
    }

    /// `count.index` of a `count` instance.
    pub fn count(index: usize) -> Self {
        let mut count = Map::new();
        count.insert("index".to_owned(), number(index as f64));
        Self {
            names: vec![("count".to_owned(), Value::Object(count))],
        }
    }

    /// One name bound to `value` (a `dynamic` block's iterator).
    pub fn named(name: &str, value: Value) -> Self {
        Self {
            names: vec![(name.to_owned(), value)],
        }
    }

    fn with(&self, bound: impl IntoIterator<Item = (String, Value)>) -> Self {
        let mut names = self.names.clone();
        names.extend(bound);
        Self { names }
    }

    fn get(&self, name: &str) -> Option<&Value> {
        self.names
            .iter()
            .rev()
            .find(|(n, _)| n == name)
            .map(|(_, v)| v)
    }
}

/// One configuration's variables, locals and resources, ready to evaluate
/// expressions of it.
pub struct Scope<'tf> {
    tf: &'tf Terraform,
    vars: Map<String, Value>,
    resources: BTreeMap<String, Value>,
    /// Evaluated locals; `None` while one is being evaluated (a cycle).
    locals: RefCell<BTreeMap<String, Option<Result<Value, String>>>>,
    module_path: String,
}

impl<'tf> Scope<'tf> {
    /// Every variable at its default, converted to its type.
    pub fn new(tf: &'tf Terraform) -> Result<Self, String> {
        let mut scope = Self {
            tf,
            vars: Map::new(),
            resources: BTreeMap::new(),
            locals: RefCell::new(BTreeMap::new()),
            module_path: crate::terraform::repo_root()
                .join("terraform")
                .to_string_lossy()
                .into_owned(),
        };
        for (name, body) in variables(tf) {
            let value = scope.default_of(&name, body)?;
            scope.vars.insert(name, value);
        }
        Ok(scope)
    }

    /// `var.NAME` set to `value`, converted to the variable's type (null
    /// gives the default where the variable is `nullable = false`).
    pub fn set(&mut self, name: &str, value: Value) -> Result<&mut Self, String> {
        let body = variable(self.tf, name)?;
        let value = match value {
            Value::Null
                if attr(body, "nullable").map(Expression::to_string).as_deref()
                    == Some("false") =>
            {
                self.default_of(name, body)?
            }
            value => match attr(body, "type") {
                Some(ty) => convert(value, ty).map_err(|e| format!("var.{name}: {e}"))?,
                None => value,
            },
        };
        self.vars.insert(name.to_owned(), value);
        self.locals.borrow_mut().clear();
        Ok(self)
    }

    /// Gives a resource or data source (`aws_apigatewayv2_api.websocket`,
    /// `data.aws_partition.current`) a value in place of its placeholder.
    pub fn resource(&mut self, address: &str, value: Value) -> &mut Self {
        self.resources.insert(address.to_owned(), value);
        self.locals.borrow_mut().clear();
        self
    }

    /// The current value of `var.NAME`.
    pub fn var(&self, name: &str) -> Option<&Value> {
        self.vars.get(name)
    }

    /// `expr`, evaluated.
    pub fn eval(&self, expr: &Expression) -> Result<Value, String> {
        self.eval_in(expr, &Frame::default())
    }

    /// `expr`, evaluated with `each` or `count` (or other names) bound.
    pub fn eval_in(&self, expr: &Expression, frame: &Frame) -> Result<Value, String> {
        match expr {
            Expression::Null => Ok(Value::Null),
            Expression::Bool(b) => Ok(Value::Bool(*b)),
            Expression::Number(n) => Ok(Value::Number(*n)),
            Expression::String(s) => Ok(Value::String(s.clone())),
            Expression::Array(items) => items
                .iter()
                .map(|e| self.eval_in(e, frame))
                .collect::<Result<_, _>>()
                .map(Value::Array),
            Expression::Object(object) => {
                let mut out = Map::new();
                for (key, value) in object {
                    let key = match key {
                        ObjectKey::Identifier(ident) => ident.as_str().to_owned(),
                        ObjectKey::Expression(key) => to_string(&self.eval_in(key, frame)?)?,
                        other => return Err(format!("unsupported object key `{other}`")),
                    };
                    out.insert(key, self.eval_in(value, frame)?);
                }
                Ok(Value::Object(out))
            }
            Expression::TemplateExpr(template) => self.template(template, frame),
            Expression::Variable(var) => self.root(var.as_str(), &[], frame),
            Expression::Traversal(traversal) => match &traversal.expr {
                Expression::Variable(var) => self.root(var.as_str(), &traversal.operators, frame),
                other => {
                    let value = self.eval_in(other, frame)?;
                    self.traverse(value, &traversal.operators, frame)
                }
            },
            Expression::FuncCall(call) => {
                if !call.name.is_namespaced() {
                    functions::call(
                        self,
                        call.name.name.as_str(),
                        &call.args,
                        call.expand_final,
                        frame,
                    )
                } else {
                    Err(format!(
                        "provider function `{}` is not supported",
                        call.name
                    ))
                }
            }
            Expression::Parenthesis(inner) => self.eval_in(inner, frame),
            Expression::Conditional(c) => self.conditional(c, frame),
            Expression::Operation(op) => self.operation(op, frame),
            Expression::ForExpr(for_expr) => self.for_expr(for_expr, frame),
            other => Err(format!("unsupported expression `{other}`")),
        }
    }

    /// The expression written as `text`, evaluated:
    /// `scope.eval_text("aws_sqs_queue.publish.arn")`.
    pub fn eval_text(&self, text: &str) -> Result<Value, String> {
        let body = hcl::parse(&format!("x = {text}\n")).map_err(|e| format!("`{text}`: {e}"))?;
        let expr = attr(&body, "x").ok_or_else(|| format!("`{text}` is not an expression"))?;
        self.eval(expr)
    }

    /// `local.NAME`, evaluated once.
    pub fn local(&self, name: &str) -> Result<Value, String> {
        if let Some(known) = self.locals.borrow().get(name) {
            return match known {
                Some(result) => result.clone(),
                None => Err(format!("local.{name} refers to itself")),
            };
        }
        let (_, expr) = self.tf.local(name)?;
        self.locals.borrow_mut().insert(name.to_owned(), None);
        let result = self.eval(expr).map_err(|e| format!("local.{name}: {e}"));
        self.locals
            .borrow_mut()
            .insert(name.to_owned(), Some(result.clone()));
        result
    }

    /// The `error_message` of every `validation` of variable `name` that
    /// refuses its current value (a condition that fails to evaluate
    /// refuses it too, as in Terraform). Empty: the value is accepted.
    pub fn refusals(&self, name: &str) -> Result<Vec<String>, String> {
        let body = variable(self.tf, name)?;
        let mut refused = Vec::new();
        for validation in blocks(body, "validation") {
            let message = || {
                attr(validation, "error_message")
                    .map(|m| {
                        self.eval(m)
                            .and_then(|v| to_string(&v))
                            .unwrap_or_else(|_| m.to_string())
                    })
                    .unwrap_or_else(|| "(no error_message)".to_owned())
            };
            let Some(condition) = attr(validation, "condition") else {
                refused.push(format!("a validation of var.{name} has no condition"));
                continue;
            };
            match self.eval(condition) {
                Ok(Value::Bool(true)) => {}
                Ok(Value::Bool(false)) => refused.push(message()),
                Ok(other) => {
                    refused.push(format!("condition is {other:?}, not a bool: {}", message()))
                }
                Err(e) => refused.push(format!("condition fails ({e}): {}", message())),
            }
        }
        Ok(refused)
    }

    fn default_of(&self, name: &str, body: &Body) -> Result<Value, String> {
        let value = match attr(body, "default") {
            Some(default) => self
                .eval(default)
                .map_err(|e| format!("var.{name} default: {e}"))?,
            None => return Ok(Value::Null),
        };
        match attr(body, "type") {
            Some(ty) => convert(value, ty).map_err(|e| format!("var.{name} default: {e}")),
            None => Ok(value),
        }
    }

    /// A traversal starting at the name `root`.
    fn root(&self, root: &str, ops: &[TraversalOperator], frame: &Frame) -> Result<Value, String> {
        if let Some(value) = frame.get(root) {
            return self.traverse(value.clone(), ops, frame);
        }
        let attr_name = |i: usize| match ops.get(i) {
            Some(TraversalOperator::GetAttr(ident)) => Ok(ident.as_str()),
            _ => Err(format!("`{root}` must be followed by an attribute name")),
        };
        match root {
            "var" => {
                let name = attr_name(0)?;
                let value = self
                    .vars
                    .get(name)
                    .cloned()
                    .ok_or_else(|| format!("there is no variable \"{name}\""))?;
                self.traverse(value, &ops[1..], frame)
            }
            "local" => {
                let value = self.local(attr_name(0)?)?;
                self.traverse(value, &ops[1..], frame)
            }
            "path" => {
                let name = attr_name(0)?;
                let value = match name {
                    "module" | "root" | "cwd" => Value::String(self.module_path.clone()),
                    other => return Err(format!("path.{other} does not exist")),
                };
                self.traverse(value, &ops[1..], frame)
            }
            "terraform" => match attr_name(0)? {
                "workspace" => Ok(Value::String("default".to_owned())),
                other => Err(format!("terraform.{other} is not supported")),
            },
            "each" | "count" | "self" => Err(format!("`{root}` is not bound here")),
            "data" => {
                let address = format!("data.{}.{}", attr_name(0)?, attr_name(1)?);
                let value = self.resource_value(&address);
                self.traverse(value, &ops[2..], frame)
            }
            resource_type if resource_type.contains('_') => {
                let address = format!("{resource_type}.{}", attr_name(0)?);
                let value = self.resource_value(&address);
                self.traverse(value, &ops[1..], frame)
            }
            other => Err(format!("unknown name `{other}`")),
        }
    }

    fn resource_value(&self, address: &str) -> Value {
        self.resources
            .get(address)
            .cloned()
            .unwrap_or_else(|| placeholder(address))
    }

    fn traverse(
        &self,
        mut value: Value,
        ops: &[TraversalOperator],
        frame: &Frame,
    ) -> Result<Value, String> {
        for (i, op) in ops.iter().enumerate() {
            value = match op {
                TraversalOperator::GetAttr(name) => get_attr(value, name.as_str())?,
                TraversalOperator::Index(index) => {
                    index_value(value, &self.eval_in(index, frame)?)?
                }
                TraversalOperator::LegacyIndex(index) => {
                    index_value(value, &number(*index as f64))?
                }
                TraversalOperator::AttrSplat | TraversalOperator::FullSplat => {
                    // `.*` applies the attribute names that follow to each
                    // element; `[*]` applies everything that follows.
                    let rest = &ops[i + 1..];
                    let (each, after) = match op {
                        TraversalOperator::AttrSplat => {
                            let n = rest
                                .iter()
                                .take_while(|o| matches!(o, TraversalOperator::GetAttr(_)))
                                .count();
                            rest.split_at(n)
                        }
                        _ => (rest, &[][..]),
                    };
                    let items = match value {
                        Value::Null => Vec::new(),
                        Value::Array(items) => items,
                        other if placeholder_address(&other).is_some() => {
                            let address = placeholder_address(&other).unwrap_or_default();
                            let splat = placeholder(&format!("{address}[*]"));
                            return self.traverse(splat, rest, frame);
                        }
                        other => vec![other],
                    };
                    let mapped = items
                        .into_iter()
                        .map(|item| self.traverse(item, each, frame))
                        .collect::<Result<Vec<_>, _>>()?;
                    return self.traverse(Value::Array(mapped), after, frame);
                }
            };
        }
        Ok(value)
    }

    fn conditional(&self, c: &Conditional, frame: &Frame) -> Result<Value, String> {
        match self.eval_in(&c.cond_expr, frame)? {
            Value::Bool(true) => self.eval_in(&c.true_expr, frame),
            Value::Bool(false) => self.eval_in(&c.false_expr, frame),
            other if placeholder_address(&other).is_some() => Ok(placeholder(&format!(
                "{} ? … : …",
                placeholder_address(&other).unwrap_or_default()
            ))),
            other => Err(format!(
                "the condition `{}` is {other:?}, not a bool",
                c.cond_expr
            )),
        }
    }

    fn operation(&self, op: &Operation, frame: &Frame) -> Result<Value, String> {
        match op {
            Operation::Unary(unary) => {
                let value = self.eval_in(&unary.expr, frame)?;
                match (unary.operator, value) {
                    (UnaryOperator::Not, Value::Bool(b)) => Ok(Value::Bool(!b)),
                    (UnaryOperator::Neg, value) => Ok(number(-to_number(&value)?)),
                    (operator, value) => Err(format!("cannot apply {operator:?} to {value:?}")),
                }
            }
            Operation::Binary(binary) => {
                // Both sides, always: Terraform before 1.12 does not short-circuit.
                let lhs = self.eval_in(&binary.lhs_expr, frame)?;
                let rhs = self.eval_in(&binary.rhs_expr, frame)?;
                binary_op(binary.operator, &lhs, &rhs)
            }
        }
    }

    fn for_expr(&self, f: &ForExpr, frame: &Frame) -> Result<Value, String> {
        let collection = self.eval_in(&f.collection_expr, frame)?;
        let pairs = iterate(collection)?;
        let mut array = Vec::new();
        let mut object: Map<String, Value> = Map::new();
        for (key, value) in pairs {
            let mut bound = Vec::new();
            if let Some(key_var) = &f.key_var {
                bound.push((key_var.as_str().to_owned(), key));
            }
            bound.push((f.value_var.as_str().to_owned(), value));
            let inner = frame.with(bound);
            if let Some(cond) = &f.cond_expr {
                match self.eval_in(cond, &inner)? {
                    Value::Bool(true) => {}
                    Value::Bool(false) => continue,
                    other => return Err(format!("a `for` condition is {other:?}, not a bool")),
                }
            }
            let value = self.eval_in(&f.value_expr, &inner)?;
            match &f.key_expr {
                None => array.push(value),
                Some(key_expr) => {
                    let key = to_string(&self.eval_in(key_expr, &inner)?)?;
                    if f.grouping {
                        match object
                            .entry(key)
                            .or_insert_with(|| Value::Array(Vec::new()))
                        {
                            Value::Array(group) => group.push(value),
                            _ => unreachable!("groups are arrays"),
                        }
                    } else if object.insert(key.clone(), value).is_some() {
                        return Err(format!(
                            "duplicate object key {key:?} in a `for` expression"
                        ));
                    }
                }
            }
        }
        Ok(match f.key_expr {
            None => Value::Array(array),
            Some(_) => Value::Object(object),
        })
    }

    fn template(&self, template: &TemplateExpr, frame: &Frame) -> Result<Value, String> {
        let parsed = Template::from_expr(template).map_err(|e| format!("template: {e}"))?;
        let mut out = String::new();
        self.render(&parsed, frame, &mut out)?;
        Ok(Value::String(out))
    }

    fn render(&self, template: &Template, frame: &Frame, out: &mut String) -> Result<(), String> {
        for element in template.elements() {
            match element {
                Element::Literal(text) => out.push_str(text),
                Element::Interpolation(interpolation) => {
                    let value = self.eval_in(&interpolation.expr, frame)?;
                    out.push_str(&to_string(&value).map_err(|e| {
                        format!("cannot interpolate `{}`: {e}", interpolation.expr)
                    })?);
                }
                Element::Directive(directive) => match directive.as_ref() {
                    Directive::If(d) => match self.eval_in(&d.cond_expr, frame)? {
                        Value::Bool(true) => self.render(&d.true_template, frame, out)?,
                        Value::Bool(false) => {
                            if let Some(f) = &d.false_template {
                                self.render(f, frame, out)?;
                            }
                        }
                        other => return Err(format!("an %{{if}} condition is {other:?}")),
                    },
                    Directive::For(d) => {
                        for (key, value) in iterate(self.eval_in(&d.collection_expr, frame)?)? {
                            let mut bound = Vec::new();
                            if let Some(key_var) = &d.key_var {
                                bound.push((key_var.as_str().to_owned(), key));
                            }
                            bound.push((d.value_var.as_str().to_owned(), value));
                            self.render(&d.template, &frame.with(bound), out)?;
                        }
                    }
                },
            }
        }
        Ok(())
    }
}

/// The `variable` blocks, by name.
fn variables(tf: &Terraform) -> Vec<(String, &Body)> {
    tf.top_blocks()
        .filter(|(_, b)| b.identifier() == "variable")
        .filter_map(|(_, b)| Some((b.labels().first()?.as_str().to_owned(), b.body())))
        .collect()
}

fn variable<'a>(tf: &'a Terraform, name: &str) -> Result<&'a Body, String> {
    tf.block("variable", &[name]).map(|(_, body)| body)
}

/// A variable's `description`, if it is a string.
pub fn description(tf: &Terraform, name: &str) -> Option<String> {
    variable(tf, name)
        .ok()
        .and_then(|b| string_attr(b, "description"))
}

/// `(key, value)` of each element of a collection, as a `for` sees them:
/// arrays by index, objects by key in lexical order.
fn iterate(collection: Value) -> Result<Vec<(Value, Value)>, String> {
    match collection {
        Value::Array(items) => Ok(items
            .into_iter()
            .enumerate()
            .map(|(i, v)| (number(i as f64), v))
            .collect()),
        Value::Object(object) => {
            let mut entries: Vec<(String, Value)> = object.into_iter().collect();
            entries.sort_by(|a, b| a.0.cmp(&b.0));
            Ok(entries
                .into_iter()
                .map(|(k, v)| (Value::String(k), v))
                .collect())
        }
        other if placeholder_address(&other).is_some() => Err(format!(
            "cannot iterate over {}, which is known only at apply time",
            placeholder_address(&other).unwrap_or_default()
        )),
        other => Err(format!("cannot iterate over {other:?}")),
    }
}

fn get_attr(value: Value, name: &str) -> Result<Value, String> {
    match value {
        Value::Object(mut object) => object
            .shift_remove(name)
            .ok_or_else(|| format!("this object has no attribute \"{name}\"")),
        Value::Null => Err(format!("cannot read attribute \"{name}\" of null")),
        other => match placeholder_address(&other) {
            Some(address) => Ok(placeholder(&format!("{address}.{name}"))),
            None => Err(format!("cannot read attribute \"{name}\" of {other:?}")),
        },
    }
}

fn index_value(value: Value, index: &Value) -> Result<Value, String> {
    if let Some(address) = placeholder_address(&value) {
        let index = match index {
            Value::String(s) => format!("{s:?}"),
            other => to_string(other)?,
        };
        return Ok(placeholder(&format!("{address}[{index}]")));
    }
    match (value, index) {
        (Value::Array(mut items), index) => {
            let i = to_number(index)?;
            if i < 0.0 || i.fract() != 0.0 || i as usize >= items.len() {
                return Err(format!(
                    "index {i} is out of range for a list of {}",
                    items.len()
                ));
            }
            Ok(items.swap_remove(i as usize))
        }
        (Value::Object(mut object), Value::String(key)) => object
            .shift_remove(key.as_str())
            .ok_or_else(|| format!("the given key {key:?} does not identify an element")),
        (value, index) => Err(format!("cannot index {value:?} with {index:?}")),
    }
}

fn binary_op(operator: BinaryOperator, lhs: &Value, rhs: &Value) -> Result<Value, String> {
    use BinaryOperator::*;
    Ok(match operator {
        Eq => Value::Bool(equal(lhs, rhs)),
        NotEq => Value::Bool(!equal(lhs, rhs)),
        And | Or => match (lhs, rhs) {
            (Value::Bool(a), Value::Bool(b)) => {
                Value::Bool(if operator == And { *a && *b } else { *a || *b })
            }
            _ => {
                return Err(format!(
                    "{operator:?} needs two bools, not {lhs:?} and {rhs:?}"
                ))
            }
        },
        Less | LessEq | Greater | GreaterEq => {
            let (a, b) = (to_number(lhs)?, to_number(rhs)?);
            Value::Bool(match operator {
                Less => a < b,
                LessEq => a <= b,
                Greater => a > b,
                _ => a >= b,
            })
        }
        Plus | Minus | Mul | Div | Mod => {
            let (a, b) = (to_number(lhs)?, to_number(rhs)?);
            let result = match operator {
                Plus => a + b,
                Minus => a - b,
                Mul => a * b,
                Div if b == 0.0 => return Err("division by zero".to_owned()),
                Div => a / b,
                _ if b == 0.0 => return Err("modulo by zero".to_owned()),
                _ => a % b,
            };
            number(result)
        }
    })
}

/// Terraform's `==`: same type and value (numbers by value).
pub fn equal(a: &Value, b: &Value) -> bool {
    match (a, b) {
        (Value::Number(x), Value::Number(y)) => x.as_f64() == y.as_f64(),
        (Value::Array(x), Value::Array(y)) => {
            x.len() == y.len() && x.iter().zip(y).all(|(a, b)| equal(a, b))
        }
        (Value::Object(x), Value::Object(y)) => {
            x.len() == y.len() && x.iter().all(|(k, v)| y.get(k).is_some_and(|w| equal(v, w)))
        }
        _ => a == b,
    }
}

/// A number value, an integer when it is one.
pub fn number(n: f64) -> Value {
    if n.fract() == 0.0 && n.abs() < 9.0e15 {
        Value::Number(hcl::Number::from(n as i64))
    } else {
        hcl::Number::from_f64(n).map_or(Value::Null, Value::Number)
    }
}

/// A value as a number, converting a numeric string as Terraform does.
pub fn to_number(value: &Value) -> Result<f64, String> {
    match value {
        Value::Number(n) => n.as_f64().ok_or_else(|| format!("{n} is not a number")),
        Value::String(s) => s
            .trim()
            .parse::<f64>()
            .map_err(|_| format!("{s:?} is not a number")),
        other => Err(format!("a number is required, not {other:?}")),
    }
}

/// A primitive value as the string Terraform interpolates.
pub fn to_string(value: &Value) -> Result<String, String> {
    match value {
        Value::String(s) => Ok(s.clone()),
        Value::Bool(b) => Ok(b.to_string()),
        Value::Number(n) => {
            let f = n.as_f64().unwrap_or_default();
            Ok(if f.fract() == 0.0 && f.abs() < 9.0e15 {
                format!("{}", f as i64)
            } else {
                format!("{f}")
            })
        }
        Value::Null => Err("a null value cannot be used as a string".to_owned()),
        other => Err(format!("{other:?} cannot be used as a string")),
    }
}

/// A constant expression's value (an `optional` attribute's default).
fn literal(expr: &Expression) -> Result<Value, String> {
    use hcl::eval::Evaluate;
    expr.evaluate(&hcl::eval::Context::new())
        .map_err(|e| e.to_string())
}

/// Whether `path` exists relative to the current directory or is absolute.
fn file_exists(path: &str) -> bool {
    Path::new(path).is_file()
}

#[cfg(test)]
mod tests;
