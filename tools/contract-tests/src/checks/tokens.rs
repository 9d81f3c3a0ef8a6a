//! Subscriber tokens: where the token variables come from, and the KMS key
//! that signs them (and who may sign).

use super::iam::wildcard_match;
use std::collections::BTreeSet;

use channels::config::{
    HTTP_ENV, TOKEN_AUDIENCE, TOKEN_ISSUER, TOKEN_PUBLIC_KEYS, TOKEN_SIGNING_KEY,
};
use hcl::expr::{BinaryOperator, Operation};
use hcl::Expression;

use super::{display, environment, function, named, FUNCTIONS};
use crate::terraform::{attr, calls, object_get, reference, string, string_attr, unparen, walk};
use crate::Terraform;

/// Whether `cond` is true exactly with subscriber tokens on:
/// `var.subscriber_auth == "token"`, or a `local` holding it.
pub(crate) fn tokens_on(tf: &Terraform, cond: &Expression, depth: usize) -> bool {
    let cond = unparen(cond);
    if let Expression::Operation(op) = cond {
        if let Operation::Binary(binary) = op.as_ref() {
            let is_token = |var: &Expression, value: &Expression| {
                reference(var).as_deref() == Some("var.subscriber_auth")
                    && string(value).as_deref() == Some("token")
            };
            return binary.operator == BinaryOperator::Eq
                && (is_token(&binary.lhs_expr, &binary.rhs_expr)
                    || is_token(&binary.rhs_expr, &binary.lhs_expr));
        }
    }
    match reference(cond)
        .as_deref()
        .and_then(|r| r.strip_prefix("local."))
    {
        Some(name) if depth < 8 => tf
            .local(name)
            .is_ok_and(|(_, value)| tokens_on(tf, value, depth + 1)),
        _ => false,
    }
}

/// Whether `expr`, as Terraform computes it with subscriber tokens on, is
/// something `want` accepts. `want` is asked about `expr` itself and, when
/// `expr` is a `local.NAME`, about that local's value; a conditional must be
/// `<tokens on> ? X : ""` (the variable is empty with subscriber_auth =
/// "none", which the binaries ignore then), and `want` is asked about `X`.
pub(crate) fn yields(
    tf: &Terraform,
    expr: &Expression,
    want: &mut dyn FnMut(&Expression) -> bool,
) -> bool {
    fn at(
        tf: &Terraform,
        expr: &Expression,
        want: &mut dyn FnMut(&Expression) -> bool,
        depth: usize,
    ) -> bool {
        let expr = unparen(expr);
        if depth > 8 {
            return false;
        }
        if let Expression::Conditional(c) = expr {
            return string(&c.false_expr).as_deref() == Some("")
                && tokens_on(tf, &c.cond_expr, 0)
                && at(tf, &c.true_expr, want, depth + 1);
        }
        if want(expr) {
            return true;
        }
        match reference(expr)
            .as_deref()
            .and_then(|r| r.strip_prefix("local."))
        {
            Some(name) => tf
                .local(name)
                .is_ok_and(|(_, value)| at(tf, value, want, depth + 1)),
            None => false,
        }
    }
    at(tf, expr, want, 0)
}

/// The `data.aws_kms_public_key` sources whose `public_key` `expr` yields.
pub(crate) fn public_key_sources(tf: &Terraform, expr: &Expression) -> BTreeSet<String> {
    let mut sources = BTreeSet::new();
    yields(tf, expr, &mut |value| {
        walk(value, &mut |e| {
            sources.extend(named(e, &["data", "aws_kms_public_key"], &["public_key"]));
        });
        !sources.is_empty()
    });
    sources
}

/// The `aws_kms_key` whose ARN (or id) `expr` yields.
pub(crate) fn kms_key(tf: &Terraform, expr: &Expression) -> Option<String> {
    let mut key = None;
    yields(tf, expr, &mut |value| {
        key = named(value, &["aws_kms_key"], &["arn", "key_id", "id"]);
        key.is_some()
    });
    key
}

/// The subscriber-token variables of both functions come from where the
/// code expects them: `TOKEN_AUDIENCE` is `local.websocket_url` (the stage a
/// token opens), `TOKEN_ISSUER` is `local.http_url` (the stage that mints),
/// and `TOKEN_PUBLIC_KEYS` holds the `public_key` of a
/// `data.aws_kms_public_key`. Each may be `<tokens on> ? X : ""` or go
/// through a `local`.
pub fn token_env_problems(tf: &Terraform) -> Vec<String> {
    let mut problems = Vec::new();
    let urls = [
        (
            TOKEN_AUDIENCE,
            "local.websocket_url",
            "the WebSocket stage URL (a token opens this deployment's stage only)",
        ),
        (
            TOKEN_ISSUER,
            "local.http_url",
            "the HTTP API stage URL (where tokens are minted)",
        ),
    ];
    let token_variables = [TOKEN_AUDIENCE, TOKEN_ISSUER, TOKEN_PUBLIC_KEYS];
    for f in &FUNCTIONS {
        if !f.env.iter().any(|v| token_variables.contains(v)) {
            continue; // the worker: it only delivers
        }
        let (place, entries) = match environment(tf, f.name) {
            Ok(found) => found,
            Err(e) => {
                problems.push(format!(
                    "{e}, but the {} binary reads the token variables of {}",
                    f.name, f.env_name
                ));
                continue;
            }
        };
        let value = |name: &str| entries.iter().find(|(k, _)| k == name).map(|(_, v)| *v);
        for (variable, wanted, meaning) in urls {
            if !f.env.contains(&variable) {
                continue;
            }
            let Some(expr) = value(variable) else {
                continue; // the environment check reports it
            };
            if !yields(tf, expr, &mut |e| reference(e).as_deref() == Some(wanted)) {
                problems.push(format!(
                    "{place}: {variable} = `{expr}`, but channels::config::{variable} is {meaning}, \
                     so it should be {wanted} (or `local.tokens_on ? {wanted} : \"\"`)"
                ));
            }
        }
        if f.env.contains(&TOKEN_PUBLIC_KEYS) {
            if let Some(expr) = value(TOKEN_PUBLIC_KEYS) {
                if public_key_sources(tf, expr).is_empty() {
                    problems.push(format!(
                        "{place}: {TOKEN_PUBLIC_KEYS} = `{expr}` does not hold the public_key of a \
                         data.aws_kms_public_key, but channels::config::{TOKEN_PUBLIC_KEYS} starts with \
                         the signing key's public key, read from KMS at deploy time"
                    ));
                }
            }
        }
    }
    problems
}

/// The KMS key named by http's `TOKEN_SIGNING_KEY` is what the KMS signer
/// (`channels_aws::kms`) needs: an `ECC_NIST_P256` / `SIGN_VERIFY` key, whose
/// public key is the one `TOKEN_PUBLIC_KEYS` gives both functions, and whose
/// policy lets the http function's role, and no one else, `kms:Sign` with
/// `ECDSA_SHA_256`.
pub fn token_key_problems(tf: &Terraform) -> Vec<String> {
    let mut problems = Vec::new();
    let (place, entries) = match environment(tf, "http") {
        Ok(found) => found,
        Err(e) => {
            return vec![format!(
                "{e}, but the http binary signs tokens with {TOKEN_SIGNING_KEY}"
            )]
        }
    };
    if !HTTP_ENV.contains(&TOKEN_SIGNING_KEY) {
        return problems;
    }
    let signing = entries
        .iter()
        .find(|(k, _)| k == TOKEN_SIGNING_KEY)
        .map(|(_, v)| *v);
    let Some(signing) = signing else {
        return problems; // the environment check reports it
    };
    let Some(key) = kms_key(tf, signing) else {
        return vec![format!(
            "{place}: {TOKEN_SIGNING_KEY} = `{signing}` does not name an aws_kms_key (its arn), \
             but the http binary signs tokens with that KMS key (channels_aws::kms)"
        )];
    };
    let key_name = format!("aws_kms_key.{key}");

    // TOKEN_PUBLIC_KEYS, in both functions, reads the public key of that key.
    for f in &FUNCTIONS {
        let Ok((place, entries)) = environment(tf, f.name) else {
            continue;
        };
        let Some((_, expr)) = entries.iter().find(|(k, _)| k == TOKEN_PUBLIC_KEYS) else {
            continue;
        };
        for source in public_key_sources(tf, expr) {
            let read = tf
                .block("data", &["aws_kms_public_key", &source])
                .map(|(file, data)| (file, attr(data, "key_id")));
            match read {
                Err(e) => problems.push(format!("{place}: {TOKEN_PUBLIC_KEYS}: {e}")),
                Ok((file, key_id)) => {
                    let reads = key_id.and_then(|k| kms_key(tf, k));
                    if reads.as_deref() != Some(key.as_str()) {
                        problems.push(format!(
                            "{place}: {TOKEN_PUBLIC_KEYS} holds data.aws_kms_public_key.{source} ({file}), \
                             which reads key_id = `{}`, not the signing key {key_name} \
                             ({TOKEN_SIGNING_KEY}): tokens would be signed with one key and verified \
                             with another",
                            display(key_id)
                        ));
                    }
                }
            }
        }
    }

    let (file, body) = match tf.block("resource", &["aws_kms_key", &key]) {
        Ok(found) => found,
        Err(e) => {
            problems.push(format!("{e}, but {TOKEN_SIGNING_KEY} names it"));
            return problems;
        }
    };
    let key_place = format!("{key_name} ({file})");
    for (argument, wanted) in [
        ("customer_master_key_spec", "ECC_NIST_P256"),
        ("key_usage", "SIGN_VERIFY"),
    ] {
        let value = string_attr(body, argument);
        if value.as_deref() != Some(wanted) {
            problems.push(format!(
                "{key_place}: {argument} is {value:?}, but the tokens are ES256 (P-256, \
                 channels::token) signed with kms:Sign: {wanted:?}"
            ));
        }
    }

    // Who may sign.
    let role = function(tf, "http")
        .ok()
        .and_then(|(_, f)| attr(f, "role").and_then(reference));
    let Some(role) = role else {
        problems.push(format!(
            "aws_lambda_function.http has no role reference, which {key_place}'s policy should let sign"
        ));
        return problems;
    };
    let statements = attr(body, "policy")
        .and_then(|p| calls(p, "jsonencode").first().and_then(|args| args.first()))
        .and_then(|doc| object_get(doc, "Statement"))
        .map(unparen);
    let Some(Expression::Array(statements)) = statements else {
        problems.push(format!(
            "{key_place}: policy is not `jsonencode({{ Statement = [...] }})`, so who may kms:Sign \
             cannot be checked; only the http function's role ({role}) may"
        ));
        return problems;
    };
    let mut http_signs = false;
    for (index, statement) in statements.iter().enumerate() {
        let sid = object_get(statement, "Sid")
            .and_then(string)
            .unwrap_or_else(|| format!("#{index}"));
        if object_get(statement, "Effect").and_then(string).as_deref() != Some("Allow") {
            continue;
        }
        if object_get(statement, "NotAction").is_some()
            || object_get(statement, "NotPrincipal").is_some()
        {
            problems.push(format!(
                "{key_place}: statement {sid} allows with NotAction/NotPrincipal, which may let \
                 others kms:Sign; only the http function's role ({role}) may"
            ));
            continue;
        }
        let actions = match object_get(statement, "Action").map(unparen) {
            Some(Expression::Array(items)) => items.iter().map(string).collect::<Option<Vec<_>>>(),
            Some(other) => string(other).map(|a| vec![a]),
            None => Some(Vec::new()),
        };
        let Some(actions) = actions else {
            problems.push(format!(
                "{key_place}: statement {sid} has actions that are not strings"
            ));
            continue;
        };
        let signing: Vec<&String> = actions
            .iter()
            .filter(|a| wildcard_match(&a.to_ascii_lowercase(), "kms:sign"))
            .collect();
        if signing.is_empty() {
            continue;
        }
        let principal = object_get(statement, "Principal");
        let aws = principal.and_then(|p| object_get(p, "AWS"));
        if aws.and_then(reference).as_deref() != Some(role.as_str()) {
            problems.push(format!(
                "{key_place}: statement {sid} lets `{}` kms:Sign (through {signing:?}), but only \
                 the http function's role ({role}) may sign tokens",
                display(principal)
            ));
            continue;
        }
        http_signs = true;
        let algorithm = object_get(statement, "Condition")
            .and_then(|c| object_get(c, "StringEquals"))
            .and_then(|c| object_get(c, "kms:SigningAlgorithm"))
            .map(unparen);
        let algorithms = match algorithm {
            Some(Expression::Array(items)) => items.iter().map(string).collect(),
            Some(other) => vec![string(other)],
            None => Vec::new(),
        };
        if algorithms != [Some("ECDSA_SHA_256".to_string())] {
            problems.push(format!(
                "{key_place}: statement {sid} lets {role} kms:Sign with kms:SigningAlgorithm \
                 {algorithms:?}, but the http binary signs with ECDSA_SHA_256 only \
                 (channels_aws::kms), and the condition should allow nothing else"
            ));
        }
    }
    if !http_signs {
        problems.push(format!(
            "{key_place}: no statement of its policy lets the http function's role ({role}) kms:Sign, \
             which the http binary calls to mint tokens (channels_aws::kms)"
        ));
    }
    problems
}
