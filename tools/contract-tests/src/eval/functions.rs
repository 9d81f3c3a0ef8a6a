//! Terraform's built-in functions, those this configuration calls and a few
//! neighbours, with Terraform's behaviour on the cases the checks meet:
//! a null argument is an error except where Terraform allows it, `can` and
//! `try` catch errors, `regex` fails when nothing matches, `keys` and
//! `values` go in lexical key order, `jsonencode` sorts object keys and
//! escapes `<`, `>` and `&` as Terraform does. Results only Terraform can
//! compute (hashes of packages, timestamps) are placeholders.

use hcl::{Expression, Map, Value};
use regex_lite::Regex;

use super::{
    equal, file_exists, number, placeholder, placeholder_address, to_number, to_string, Frame,
    Scope,
};

/// Calls function `name` on the unevaluated `args`.
pub(super) fn call(
    scope: &Scope<'_>,
    name: &str,
    args: &[Expression],
    expand_final: bool,
    frame: &Frame,
) -> Result<Value, String> {
    // The two that see their arguments' errors.
    match name {
        "can" => {
            let [arg] = args else {
                return Err("can() takes one argument".to_owned());
            };
            return Ok(Value::Bool(scope.eval_in(arg, frame).is_ok()));
        }
        "try" => {
            let mut last = "try() needs at least one argument".to_owned();
            for arg in args {
                match scope.eval_in(arg, frame) {
                    Ok(value) => return Ok(value),
                    Err(e) => last = e,
                }
            }
            return Err(format!(
                "no argument of try() could be evaluated; the last: {last}"
            ));
        }
        _ => {}
    }
    let mut values = args
        .iter()
        .map(|a| scope.eval_in(a, frame))
        .collect::<Result<Vec<_>, _>>()?;
    if expand_final {
        match values.pop() {
            Some(Value::Array(items)) => values.extend(items),
            other => return Err(format!("`...` needs a list, not {other:?}")),
        }
    }
    apply(name, values).map_err(|e| format!("{name}(): {e}"))
}

fn apply(name: &str, args: Vec<Value>) -> Result<Value, String> {
    // Functions whose arguments may be null.
    match name {
        "coalesce" => {
            return args
                .into_iter()
                .find(|v| {
                    !matches!(v, Value::Null) && !matches!(v, Value::String(s) if s.is_empty())
                })
                .ok_or_else(|| "no non-null, non-empty-string arguments".to_owned())
        }
        "coalescelist" => {
            return args
                .into_iter()
                .find(|v| matches!(v, Value::Array(items) if !items.is_empty()))
                .ok_or_else(|| "no non-empty list arguments".to_owned())
        }
        "jsonencode" => return Ok(Value::String(json(&one_arg(args)?))),
        "tostring" | "tonumber" | "tobool" if matches!(args.as_slice(), [Value::Null]) => {
            return Ok(Value::Null)
        }
        "merge" => {
            let mut out = Map::new();
            for arg in args {
                match arg {
                    Value::Null => {}
                    Value::Object(object) => out.extend(object),
                    other => {
                        return Err(format!("arguments must be maps or objects, not {other:?}"))
                    }
                }
            }
            return Ok(Value::Object(out));
        }
        "compact" => {
            let list = list(one_arg(args)?)?;
            return Ok(Value::Array(
                list.into_iter()
                    .filter(|v| {
                        !matches!(v, Value::Null) && !matches!(v, Value::String(s) if s.is_empty())
                    })
                    .collect(),
            ));
        }
        "one" => {
            return match one_arg(args)? {
                Value::Null => Ok(Value::Null),
                Value::Array(mut items) if items.len() <= 1 => {
                    Ok(items.pop().unwrap_or(Value::Null))
                }
                Value::Array(items) => Err(format!(
                    "must be a list of at most one element, not {}",
                    items.len()
                )),
                other if placeholder_address(&other).is_some() => Ok(placeholder(&format!(
                    "one({})",
                    placeholder_address(&other).unwrap_or_default()
                ))),
                other => Err(format!("needs a list, not {other:?}")),
            }
        }
        _ => {}
    }
    if let Some(i) = args.iter().position(|v| matches!(v, Value::Null)) {
        return Err(format!("argument {} must not be null", i + 1));
    }
    let mut args = args.into_iter();
    let mut next = || args.next().ok_or_else(|| "too few arguments".to_owned());
    Ok(match name {
        // Numbers.
        "abs" => number(to_number(&next()?)?.abs()),
        "ceil" => number(to_number(&next()?)?.ceil()),
        "floor" => number(to_number(&next()?)?.floor()),
        "max" | "min" => {
            let mut numbers = Vec::new();
            while let Ok(v) = next() {
                numbers.push(to_number(&v)?);
            }
            let pick = if name == "max" { f64::max } else { f64::min };
            number(
                numbers
                    .into_iter()
                    .reduce(pick)
                    .ok_or("needs at least one number")?,
            )
        }
        "sum" => number(
            list(next()?)?
                .iter()
                .map(to_number)
                .sum::<Result<f64, _>>()?,
        ),
        "tonumber" => number(to_number(&next()?)?),
        // Strings.
        "tostring" => Value::String(to_string(&next()?)?),
        "tobool" => match next()? {
            Value::Bool(b) => Value::Bool(b),
            Value::String(s) if s == "true" || s == "false" => Value::Bool(s == "true"),
            other => return Err(format!("{other:?} is not a bool")),
        },
        "lower" => Value::String(text(next()?)?.to_lowercase()),
        "upper" => Value::String(text(next()?)?.to_uppercase()),
        "trimspace" => Value::String(text(next()?)?.trim().to_owned()),
        "trim" => {
            let s = text(next()?)?;
            let chars: Vec<char> = text(next()?)?.chars().collect();
            Value::String(s.trim_matches(|c| chars.contains(&c)).to_owned())
        }
        "trimprefix" => {
            let s = text(next()?)?;
            let prefix = text(next()?)?;
            Value::String(s.strip_prefix(prefix.as_str()).unwrap_or(&s).to_owned())
        }
        "trimsuffix" => {
            let s = text(next()?)?;
            let suffix = text(next()?)?;
            Value::String(s.strip_suffix(suffix.as_str()).unwrap_or(&s).to_owned())
        }
        "startswith" => {
            let s = text(next()?)?;
            Value::Bool(s.starts_with(text(next()?)?.as_str()))
        }
        "endswith" => {
            let s = text(next()?)?;
            Value::Bool(s.ends_with(text(next()?)?.as_str()))
        }
        "strcontains" => {
            let s = text(next()?)?;
            Value::Bool(s.contains(text(next()?)?.as_str()))
        }
        "replace" => {
            let s = text(next()?)?;
            let search = text(next()?)?;
            let replacement = text(next()?)?;
            match search.strip_prefix('/').and_then(|r| r.strip_suffix('/')) {
                Some(pattern) if search.len() > 1 => Value::String(
                    regex(pattern)?
                        .replace_all(&s, replacement.replace("${", "$").as_str())
                        .into_owned(),
                ),
                _ => Value::String(s.replace(search.as_str(), &replacement)),
            }
        }
        "split" => {
            let separator = text(next()?)?;
            let s = text(next()?)?;
            Value::Array(
                s.split(separator.as_str())
                    .map(|p| Value::String(p.to_owned()))
                    .collect(),
            )
        }
        "join" => {
            let separator = text(next()?)?;
            let mut parts = Vec::new();
            while let Ok(l) = next() {
                for item in list(l)? {
                    parts.push(to_string(&item)?);
                }
            }
            Value::String(parts.join(&separator))
        }
        "substr" => {
            let s: Vec<char> = text(next()?)?.chars().collect();
            let offset = to_number(&next()?)? as i64;
            let length = to_number(&next()?)? as i64;
            let start = if offset < 0 {
                (s.len() as i64 + offset).max(0)
            } else {
                offset.min(s.len() as i64)
            } as usize;
            let end = if length < 0 {
                s.len()
            } else {
                (start + length as usize).min(s.len())
            };
            Value::String(s[start..end].iter().collect())
        }
        "format" => {
            let spec = text(next()?)?;
            let mut rest = Vec::new();
            while let Ok(v) = next() {
                rest.push(v);
            }
            Value::String(format_string(&spec, &rest)?)
        }
        "regex" => {
            let pattern = text(next()?)?;
            let s = text(next()?)?;
            let re = regex(&pattern)?;
            let caps = re
                .captures(&s)
                .ok_or_else(|| format!("pattern {pattern:?} did not match {s:?}"))?;
            captures_value(&re, &caps)
        }
        "regexall" => {
            let pattern = text(next()?)?;
            let s = text(next()?)?;
            let re = regex(&pattern)?;
            Value::Array(
                re.captures_iter(&s)
                    .map(|caps| captures_value(&re, &caps))
                    .collect(),
            )
        }
        "sha1" | "sha256" | "md5" | "base64sha256" | "filebase64sha256" | "filemd5"
        | "filesha256" => {
            let arg = next()?;
            placeholder(&format!("{name}:{:016x}", fnv(&json(&arg))))
        }
        // Collections.
        "length" => number(match next()? {
            Value::String(s) => s.chars().count(),
            Value::Array(items) => items.len(),
            Value::Object(object) => object.len(),
            other => return Err(format!("{other:?} has no length")),
        } as f64),
        "contains" => {
            let items = list(next()?)?;
            let wanted = next()?;
            Value::Bool(items.iter().any(|v| equal(v, &wanted)))
        }
        "alltrue" | "anytrue" => {
            let bools = list(next()?)?
                .into_iter()
                .map(|v| match v {
                    Value::Bool(b) => Ok(b),
                    Value::String(s) if s == "true" || s == "false" => Ok(s == "true"),
                    other => Err(format!("{other:?} is not a bool")),
                })
                .collect::<Result<Vec<_>, _>>()?;
            Value::Bool(if name == "alltrue" {
                bools.iter().all(|b| *b)
            } else {
                bools.iter().any(|b| *b)
            })
        }
        "concat" => {
            let mut out = Vec::new();
            while let Ok(l) = next() {
                out.extend(list(l)?);
            }
            Value::Array(out)
        }
        "distinct" => Value::Array(dedupe(list(next()?)?)),
        "toset" => {
            let mut items = dedupe(list(next()?)?);
            if items.iter().all(|v| matches!(v, Value::String(_))) {
                items.sort_by_key(|v| to_string(v).unwrap_or_default());
            }
            Value::Array(items)
        }
        "tolist" => Value::Array(list(next()?)?),
        "tomap" => match next()? {
            Value::Object(object) => Value::Object(object),
            other => return Err(format!("{other:?} is not a map")),
        },
        "flatten" => Value::Array(flatten(list(next()?)?)),
        "element" => {
            let items = list(next()?)?;
            let i = to_number(&next()?)? as usize;
            if items.is_empty() {
                return Err("cannot use element() on an empty list".to_owned());
            }
            items[i % items.len()].clone()
        }
        "index" => {
            let items = list(next()?)?;
            let wanted = next()?;
            number(
                items
                    .iter()
                    .position(|v| equal(v, &wanted))
                    .ok_or("item not found")? as f64,
            )
        }
        "keys" => Value::Array(
            sorted(object(next()?)?)
                .into_iter()
                .map(|(k, _)| Value::String(k))
                .collect(),
        ),
        "values" => Value::Array(
            sorted(object(next()?)?)
                .into_iter()
                .map(|(_, v)| v)
                .collect(),
        ),
        "lookup" => {
            let mut map = object(next()?)?;
            let key = text(next()?)?;
            match (map.shift_remove(&key), next()) {
                (Some(v), _) => v,
                (None, Ok(default)) => default,
                (None, Err(_)) => return Err(format!("no key {key:?} and no default")),
            }
        }
        "range" => {
            let mut bounds = Vec::new();
            while let Ok(v) = next() {
                bounds.push(to_number(&v)?);
            }
            let (start, end, step) = match bounds.as_slice() {
                [end] => (0.0, *end, 1.0),
                [start, end] => (*start, *end, if end >= start { 1.0 } else { -1.0 }),
                [start, end, step] if *step != 0.0 => (*start, *end, *step),
                _ => return Err("range() takes 1 to 3 numbers, a step not 0".to_owned()),
            };
            let mut out = Vec::new();
            let mut n = start;
            while (step > 0.0 && n < end) || (step < 0.0 && n > end) {
                out.push(number(n));
                n += step;
            }
            Value::Array(out)
        }
        "reverse" => Value::Array(list(next()?)?.into_iter().rev().collect()),
        "slice" => {
            let items = list(next()?)?;
            let start = to_number(&next()?)? as usize;
            let end = to_number(&next()?)? as usize;
            if start > end || end > items.len() {
                return Err(format!(
                    "slice({start}, {end}) of a list of {}",
                    items.len()
                ));
            }
            Value::Array(items[start..end].to_vec())
        }
        "sort" => {
            let mut items = list(next()?)?
                .iter()
                .map(to_string)
                .collect::<Result<Vec<_>, _>>()?;
            items.sort();
            Value::Array(items.into_iter().map(Value::String).collect())
        }
        "jsondecode" => {
            let s = text(next()?)?;
            let json: serde_json::Value = serde_json::from_str(&s).map_err(|e| e.to_string())?;
            hcl::to_value(json).map_err(|e| e.to_string())?
        }
        "fileexists" => Value::Bool(file_exists(&text(next()?)?)),
        "file" => {
            let path = text(next()?)?;
            Value::String(std::fs::read_to_string(&path).map_err(|e| format!("{path}: {e}"))?)
        }
        other => {
            return Err(format!(
                "the function `{other}` is not supported by this evaluator"
            ))
        }
    })
}

/// The one argument, or an error.
fn one_arg(args: Vec<Value>) -> Result<Value, String> {
    match <[Value; 1]>::try_from(args) {
        Ok([v]) => Ok(v),
        Err(args) => Err(format!("takes one argument, not {}", args.len())),
    }
}

fn text(value: Value) -> Result<String, String> {
    match value {
        Value::Array(_) | Value::Object(_) => Err(format!("a string is required, not {value:?}")),
        other => to_string(&other),
    }
}

fn list(value: Value) -> Result<Vec<Value>, String> {
    match value {
        Value::Array(items) => Ok(items),
        other => Err(format!("a list is required, not {other:?}")),
    }
}

fn object(value: Value) -> Result<Map<String, Value>, String> {
    match value {
        Value::Object(object) => Ok(object),
        other => Err(format!("a map or object is required, not {other:?}")),
    }
}

fn sorted(object: Map<String, Value>) -> Vec<(String, Value)> {
    let mut entries: Vec<_> = object.into_iter().collect();
    entries.sort_by(|a, b| a.0.cmp(&b.0));
    entries
}

fn dedupe(items: Vec<Value>) -> Vec<Value> {
    let mut out: Vec<Value> = Vec::new();
    for item in items {
        if !out.iter().any(|v| equal(v, &item)) {
            out.push(item);
        }
    }
    out
}

fn flatten(items: Vec<Value>) -> Vec<Value> {
    items
        .into_iter()
        .flat_map(|v| match v {
            Value::Array(inner) => flatten(inner),
            other => vec![other],
        })
        .collect()
}

fn regex(pattern: &str) -> Result<Regex, String> {
    Regex::new(pattern).map_err(|e| format!("invalid pattern {pattern:?}: {e}"))
}

/// What `regex` gives for one match: the match without capture groups, a
/// list of the groups, or an object of the named groups.
fn captures_value(re: &Regex, caps: &regex_lite::Captures<'_>) -> Value {
    let group = |m: Option<regex_lite::Match<'_>>| {
        m.map_or(Value::Null, |m| Value::String(m.as_str().to_owned()))
    };
    let names: Vec<Option<&str>> = re.capture_names().skip(1).collect();
    if names.is_empty() {
        group(caps.get(0))
    } else if names.iter().all(Option::is_some) {
        Value::Object(
            names
                .iter()
                .flatten()
                .map(|n| ((*n).to_owned(), group(caps.name(n))))
                .collect(),
        )
    } else {
        Value::Array((1..=names.len()).map(|i| group(caps.get(i))).collect())
    }
}

/// `format` for the verbs `%s`, `%d`, `%v`, `%q` and `%%`.
fn format_string(spec: &str, args: &[Value]) -> Result<String, String> {
    let mut out = String::new();
    let mut args = args.iter();
    let mut chars = spec.chars();
    while let Some(c) = chars.next() {
        if c != '%' {
            out.push(c);
            continue;
        }
        match chars.next() {
            Some('%') => out.push('%'),
            Some(verb @ ('s' | 'd' | 'v' | 'q')) => {
                let arg = args.next().ok_or("too few arguments for the format")?;
                let s = to_string(arg)?;
                if verb == 'q' {
                    out.push_str(&serde_json::Value::String(s).to_string());
                } else {
                    out.push_str(&s);
                }
            }
            other => return Err(format!("unsupported format verb {other:?}")),
        }
    }
    Ok(out)
}

/// Terraform's `jsonencode`: object keys sorted, `<`, `>` and `&` escaped.
pub fn json(value: &Value) -> String {
    fn to_json(value: &Value) -> serde_json::Value {
        match value {
            Value::Null => serde_json::Value::Null,
            Value::Bool(b) => serde_json::Value::Bool(*b),
            Value::Number(n) => {
                let f = n.as_f64().unwrap_or_default();
                if f.fract() == 0.0 && f.abs() < 9.0e15 {
                    serde_json::Value::from(f as i64)
                } else {
                    serde_json::Value::from(f)
                }
            }
            Value::String(s) => serde_json::Value::String(s.clone()),
            Value::Array(items) => serde_json::Value::Array(items.iter().map(to_json).collect()),
            // Sorted here: the workspace's serde_json keeps insertion order.
            Value::Object(object) => {
                let mut entries: Vec<(&String, &Value)> = object.iter().collect();
                entries.sort_by(|a, b| a.0.cmp(b.0));
                serde_json::Value::Object(
                    entries
                        .into_iter()
                        .map(|(k, v)| (k.clone(), to_json(v)))
                        .collect(),
                )
            }
        }
    }
    to_json(value)
        .to_string()
        .replace('<', "\\u003c")
        .replace('>', "\\u003e")
        .replace('&', "\\u0026")
}

/// FNV-1a, 64 bits: a stable stand-in for the hashes Terraform computes.
fn fnv(text: &str) -> u64 {
    text.bytes().fold(0xcbf2_9ce4_8422_2325, |hash, byte| {
        (hash ^ u64::from(byte)).wrapping_mul(0x0100_0000_01b3)
    })
}
