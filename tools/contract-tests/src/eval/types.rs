//! Type constraints of variables: a value converted as Terraform converts
//! an input variable's value to its `type`. Primitives convert between one
//! another where Terraform does (`"5"` to a number, `5` to a string),
//! collections convert element by element, an object gets every attribute
//! of its type (an `optional` one missing is null, or its default) and
//! loses attributes its type does not name.

use hcl::{Expression, Map, ObjectKey, Value};

use super::{number, to_string};

/// `value` converted to the type `ty` (a type expression such as
/// `list(object({ issuer = string, audience = optional(string) }))`).
pub fn convert(value: Value, ty: &Expression) -> Result<Value, String> {
    if matches!(value, Value::Null) {
        return Ok(Value::Null);
    }
    match ty {
        Expression::Variable(name) => primitive(value, name.as_str()),
        Expression::FuncCall(call) if !call.name.is_namespaced() => {
            let kind = call.name.name.as_str();
            match (kind, call.args.as_slice()) {
                ("list" | "set", [element]) => {
                    let Value::Array(items) = value else {
                        return Err(format!("a {kind} is required, not {value:?}"));
                    };
                    let mut out = items
                        .into_iter()
                        .map(|item| convert(item, element))
                        .collect::<Result<Vec<_>, _>>()?;
                    if kind == "set" {
                        let mut unique: Vec<Value> = Vec::new();
                        for item in out.drain(..) {
                            if !unique.iter().any(|u| super::equal(u, &item)) {
                                unique.push(item);
                            }
                        }
                        out = unique;
                    }
                    Ok(Value::Array(out))
                }
                ("map", [element]) => {
                    let Value::Object(object) = value else {
                        return Err(format!("a map is required, not {value:?}"));
                    };
                    object
                        .into_iter()
                        .map(|(k, v)| convert(v, element).map(|v| (k, v)))
                        .collect::<Result<Map<_, _>, _>>()
                        .map(Value::Object)
                }
                ("object", [Expression::Object(attributes)]) => {
                    let Value::Object(mut object) = value else {
                        return Err(format!("an object is required, not {value:?}"));
                    };
                    let mut out = Map::new();
                    for (key, attribute_type) in attributes {
                        let name = match key {
                            ObjectKey::Identifier(ident) => ident.as_str().to_owned(),
                            ObjectKey::Expression(Expression::String(s)) => s.clone(),
                            other => return Err(format!("unsupported attribute name `{other}`")),
                        };
                        let (attribute_type, optional, default) = match attribute_type {
                            Expression::FuncCall(call) if call.name.name.as_str() == "optional" => {
                                (
                                    call.args.first().ok_or("optional() needs a type")?,
                                    true,
                                    call.args.get(1),
                                )
                            }
                            other => (other, false, None),
                        };
                        let value = match object.shift_remove(&name) {
                            Some(Value::Null) | None if optional => match default {
                                Some(default) => super::literal(default)?,
                                None => Value::Null,
                            },
                            Some(value) => value,
                            None => return Err(format!("attribute \"{name}\" is required")),
                        };
                        out.insert(
                            name.clone(),
                            convert(value, attribute_type)
                                .map_err(|e| format!("attribute \"{name}\": {e}"))?,
                        );
                    }
                    Ok(Value::Object(out))
                }
                ("tuple", [Expression::Array(elements)]) => {
                    let Value::Array(items) = value else {
                        return Err(format!("a tuple is required, not {value:?}"));
                    };
                    if items.len() != elements.len() {
                        return Err(format!(
                            "a tuple of {} elements is required",
                            elements.len()
                        ));
                    }
                    items
                        .into_iter()
                        .zip(elements)
                        .map(|(item, ty)| convert(item, ty))
                        .collect::<Result<Vec<_>, _>>()
                        .map(Value::Array)
                }
                _ => Err(format!("unsupported type constraint `{ty}`")),
            }
        }
        other => Err(format!("unsupported type constraint `{other}`")),
    }
}

fn primitive(value: Value, name: &str) -> Result<Value, String> {
    match (name, value) {
        ("any", value) => Ok(value),
        ("string", value @ (Value::String(_) | Value::Number(_) | Value::Bool(_))) => {
            to_string(&value).map(Value::String)
        }
        ("number", Value::Number(n)) => Ok(Value::Number(n)),
        ("number", Value::String(s)) => s
            .trim()
            .parse::<f64>()
            .map(number)
            .map_err(|_| format!("{s:?} is not a number")),
        ("bool", Value::Bool(b)) => Ok(Value::Bool(b)),
        ("bool", Value::String(s)) if s == "true" || s == "false" => Ok(Value::Bool(s == "true")),
        (name, value) => Err(format!("a {name} is required, not {value:?}")),
    }
}
