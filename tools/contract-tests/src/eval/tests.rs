//! The evaluator against what Terraform 1.11's `terraform console` answers
//! for the same expressions (recorded by hand; the tests need no Terraform).

use super::*;

const CONFIG: &str = r#"
variable "name" {
  type    = string
  default = "demo"
  validation {
    condition     = can(regex("^[a-z]+$", var.name))
    error_message = "name must be lowercase letters, not ${var.name}."
  }
}

variable "count_of" {
  type    = number
  default = 3
  validation {
    condition     = var.count_of >= 1 && floor(var.count_of) == var.count_of
    error_message = "count_of must be a whole number >= 1."
  }
}

variable "issuers" {
  type = list(object({
    issuer   = string
    audience = optional(string)
    use      = optional(string, "access")
  }))
  default = []
  validation {
    condition     = alltrue([for i in var.issuers : i.audience != null])
    error_message = "every issuer needs an audience."
  }
  validation {
    # Terraform 1.11 does not short-circuit ||: length(null) fails here.
    condition     = alltrue([for i in var.issuers : i.audience == null || length(i.audience) > 0])
    error_message = "audiences are not empty."
  }
}

variable "maybe" {
  type     = string
  default  = "fallback"
  nullable = false
}

locals {
  greeting = "hello ${var.name}"
  url      = "${aws_apigatewayv2_api.websocket.api_endpoint}/${var.name}"
  first    = aws_kms_key.tokens[0].arn
  nested   = local.greeting
  patterns = concat([for p in ["x*", "y"] : "sub#${p}" if !endswith(p, "*")], [for p in ["x*", "y"] : { prefix = "sub#${trimsuffix(p, "*")}" } if endswith(p, "*")])
  loop     = local.loop
}
"#;

fn tf() -> Terraform {
    Terraform::parse(&[("terraform/test.tf".to_owned(), CONFIG.to_owned())])
        .unwrap_or_else(|e| panic!("{e}"))
}

fn expr(text: &str) -> Expression {
    hcl::from_str::<Body>(&format!("x = {text}"))
        .ok()
        .and_then(|body| attr(&body, "x").cloned())
        .unwrap_or_else(|| panic!("does not parse: {text}"))
}

fn eval(scope: &Scope<'_>, text: &str) -> Result<Value, String> {
    scope.eval(&expr(text))
}

fn ok(scope: &Scope<'_>, text: &str) -> Value {
    eval(scope, text).unwrap_or_else(|e| panic!("{text}: {e}"))
}

fn json_of(value: &Value) -> String {
    functions::json(value)
}

#[test]
fn values_as_terraform_console_prints_them() {
    let tf = tf();
    let scope = Scope::new(&tf).unwrap_or_else(|e| panic!("{e}"));
    let cases: &[(&str, &str)] = &[
        (
            r#"jsonencode({b = "<a&>", a = [1, 2.5, true, null]})"#,
            r#""{\"a\":[1,2.5,true,null],\"b\":\"\\u003ca\\u0026\\u003e\"}""#,
        ),
        ("local.patterns", r#"["sub#y",{"prefix":"sub#x"}]"#),
        (r#"regex("^a(b)?(c)$", "ac")"#, r#"[null,"c"]"#),
        ("keys({b = 1, a = 2})", r#"["a","b"]"#),
        ("[for k, v in {b = 1, a = 2} : k]", r#"["a","b"]"#),
        ("tostring(5.0)", r#""5""#),
        ("5 / 2", "2.5"),
        (r#""${1.5}""#, r#""1.5""#),
        ("false ? length(null) : 1", "1"),
        (r#"coalesce(null, "", "x")"#, r#""x""#),
        (r#"toset(["b", "a", "b"])"#, r#"["a","b"]"#),
        ("one(toset([]))", "null"),
        (r#""a" == "a" && 1 == 1.0"#, "true"),
        (r#"can(regex("x", null))"#, "false"),
        (
            r#"length(jsonencode([{issuer = "x", audience = null}]))"#,
            "32",
        ),
        (
            "[for i in [{a = 1, b = null}] : { for k, v in i : k => v if v != null }]",
            r#"[{"a":1}]"#,
        ),
        (r#"try(regex("z", "abc"), "none")"#, r#""none""#),
        (r#"[for s in ["a", "b"] : upper(s)][*]"#, r#"["A","B"]"#),
        (r#"[{ n = 1 }, { n = 2 }][*].n"#, "[1,2]"),
        (
            r#""$${AWS_SESSION_TOKEN:+x}""#,
            r#""${AWS_SESSION_TOKEN:+x}""#,
        ),
        (
            r#"replace("wss://a/b", "wss://", "https://")"#,
            r#""https://a/b""#,
        ),
        (
            r#"{ for k, v in { a = 1, b = 2 } : k => v if k != "a" }"#,
            r#"{"b":2}"#,
        ),
    ];
    let mut wrong = Vec::new();
    for (text, want) in cases {
        match eval(&scope, text) {
            Ok(value) if json_of(&value) == *want => {}
            other => wrong.push(format!(
                "{text}: want {want}, got {:?}",
                other.map(|v| json_of(&v))
            )),
        }
    }
    assert!(wrong.is_empty(), "{}", wrong.join("\n"));
}

#[test]
fn errors_where_terraform_errors() {
    let tf = tf();
    let scope = Scope::new(&tf).unwrap_or_else(|e| panic!("{e}"));
    for text in [
        r#"contains(["a"], null)"#,
        // No short-circuit: the right side is evaluated and fails.
        "true || length(null) > 0",
        r#"regex("z", "abc")"#,
        "var.nope",
        "local.loop",
        "[1][3]",
        r#"{ a = 1 }.b"#,
        "null.attr",
    ] {
        assert!(
            eval(&scope, text).is_err(),
            "{text} should fail: {:?}",
            eval(&scope, text)
        );
    }
}

#[test]
fn locals_resources_and_placeholders() {
    let tf = tf();
    let mut scope = Scope::new(&tf).unwrap_or_else(|e| panic!("{e}"));
    assert_eq!(
        ok(&scope, "local.nested"),
        Value::String("hello demo".into())
    );
    assert_eq!(
        ok(&scope, "local.url"),
        Value::String("⟨aws_apigatewayv2_api.websocket.api_endpoint⟩/demo".into())
    );
    assert_eq!(
        ok(&scope, "local.first"),
        placeholder("aws_kms_key.tokens[0].arn")
    );
    let mut api = Map::new();
    api.insert("api_endpoint".to_owned(), Value::String("wss://abc".into()));
    scope.resource("aws_apigatewayv2_api.websocket", Value::Object(api));
    scope
        .set("name", Value::String("prod".into()))
        .unwrap_or_else(|e| panic!("{e}"));
    assert_eq!(
        ok(&scope, "local.url"),
        Value::String("wss://abc/prod".into())
    );
    let each = Frame::each(Value::String("k".into()), Value::String("v".into()));
    assert_eq!(
        scope.eval_in(&expr(r#""${each.key}=${each.value}""#), &each),
        Ok(Value::String("k=v".into()))
    );
}

#[test]
fn variables_convert_to_their_types() {
    let tf = tf();
    let mut scope = Scope::new(&tf).unwrap_or_else(|e| panic!("{e}"));
    scope
        .set("count_of", Value::String("7".into()))
        .unwrap_or_else(|e| panic!("{e}"));
    assert_eq!(ok(&scope, "var.count_of + 1"), number(8.0));
    let issuers = hcl::value!([{ issuer = "https://a", audience = "x", extra = 1 }]);
    scope
        .set("issuers", issuers)
        .unwrap_or_else(|e| panic!("{e}"));
    assert_eq!(
        json_of(&ok(&scope, "var.issuers")),
        r#"[{"audience":"x","issuer":"https://a","use":"access"}]"#
    );
    assert!(
        scope
            .set("issuers", hcl::value!([{ audience = "x" }]))
            .is_err(),
        "issuer is required"
    );
    scope
        .set("maybe", Value::Null)
        .unwrap_or_else(|e| panic!("{e}"));
    assert_eq!(ok(&scope, "var.maybe"), Value::String("fallback".into()));
}

#[test]
fn validations_accept_and_refuse() {
    let tf = tf();
    let mut scope = Scope::new(&tf).unwrap_or_else(|e| panic!("{e}"));
    for name in ["name", "count_of", "issuers"] {
        assert_eq!(scope.refusals(name), Ok(vec![]), "{name} at its default");
    }
    scope
        .set("name", Value::String("Bad1".into()))
        .unwrap_or_else(|e| panic!("{e}"));
    assert_eq!(
        scope.refusals("name"),
        Ok(vec!["name must be lowercase letters, not Bad1.".to_owned()])
    );
    scope
        .set("count_of", number(2.5))
        .unwrap_or_else(|e| panic!("{e}"));
    assert_eq!(scope.refusals("count_of").map(|r| r.len()), Ok(1));
    // An issuer without audience: the first validation refuses it, and the
    // second fails to evaluate (length(null)), which refuses it too.
    scope
        .set("issuers", hcl::value!([{ issuer = "https://a" }]))
        .unwrap_or_else(|e| panic!("{e}"));
    let refused = scope.refusals("issuers").unwrap_or_default();
    assert_eq!(refused.len(), 2, "{refused:#?}");
    assert!(refused[1].starts_with("condition fails"), "{refused:#?}");
}
