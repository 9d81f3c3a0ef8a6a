//! Subscriber tokens: what the token variables of rx, http and commands
//! evaluate to, and the KMS key that signs tokens (and who may sign), all
//! evaluated in a [`deployed`] scope.

use std::collections::BTreeMap;

use channels::config::{
    TOKEN_AUDIENCE, TOKEN_ISSUER, TOKEN_ISSUERS, TOKEN_MAX_TTL_SECONDS, TOKEN_PUBLIC_KEYS,
    TOKEN_SIGNING_KEY,
};
use hcl::Body;
use serde_json::Value as Json;

use super::iam::wildcard_match;
use super::{deployed, display, function, Partition, AWS, FUNCTIONS};
use crate::eval::{to_string, Frame, Scope, Value};
use crate::terraform::{attr, blocks, string_attr, traversal_names};
use crate::Terraform;

/// The token variables, of which each function reads some.
const TOKEN_VARIABLES: &[&str] = &[
    TOKEN_PUBLIC_KEYS,
    TOKEN_AUDIENCE,
    TOKEN_ISSUER,
    TOKEN_ISSUERS,
    TOKEN_MAX_TTL_SECONDS,
    TOKEN_SIGNING_KEY,
];

/// A valid P-256 public key as KMS gives it (what `token_previous_public_keys` holds).
pub const PREVIOUS_KEY: &str = "MFkwEwYHKoZIzj0CAQYIKoZIzj0DAQcDQgAEaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaa==";

/// Each variable of an environment and its value, or why it has none.
pub(crate) type Evaluated = BTreeMap<String, Result<String, String>>;

/// A function's environment, evaluated: its label and each variable's value
/// (or why it does not evaluate).
pub(crate) fn evaluated_environment(
    tf: &Terraform,
    scope: &Scope<'_>,
    name: &str,
) -> Result<(String, Evaluated), String> {
    let (place, entries) = super::environment(tf, name)?;
    Ok((
        place,
        entries
            .into_iter()
            .map(|(key, expr)| (key, scope.eval(expr).and_then(|v| to_string(&v))))
            .collect(),
    ))
}

/// A scope deployed in `partition` with some variables set.
fn scope_with<'a>(
    tf: &'a Terraform,
    partition: Partition,
    vars: &[(&str, Value)],
) -> Result<Scope<'a>, String> {
    let mut scope = deployed(tf, partition)?;
    for (name, value) in vars {
        scope.set(name, value.clone())?;
    }
    super::fill(tf, &mut scope, partition)?;
    Ok(scope)
}

/// The resource a placeholder value names, `⟨terraform_data.token_identity.output.audience⟩`:
/// its type, its name and the rest of the path.
fn placeholder_parts(value: &str) -> Option<(String, String, String)> {
    let inner = value.strip_prefix('⟨')?.strip_suffix('⟩')?;
    let mut parts = inner.splitn(3, '.');
    Some((
        parts.next()?.to_owned(),
        parts.next()?.to_owned(),
        parts.next().unwrap_or_default().to_owned(),
    ))
}

/// Whether a resource's `lifecycle.ignore_changes` covers `attribute` (or `all`).
fn ignores_changes(body: &Body, attribute: &str) -> bool {
    blocks(body, "lifecycle").iter().any(|lifecycle| {
        attr(lifecycle, "ignore_changes").is_some_and(|ignored| {
            ignored.to_string().trim() == "all"
                || matches!(ignored, hcl::Expression::Array(items)
                    if items.iter().any(|i| traversal_names(i).is_some_and(|n| n.first().map(String::as_str) == Some(attribute))))
        })
    })
}

/// The token variables of every function come from where the code expects
/// them, with subscriber tokens on and off:
/// - all empty with `subscriber_auth = "none"` (the binaries ignore them then);
/// - `TOKEN_AUDIENCE` and `TOKEN_ISSUER` the same in every function, and a
///   deployment identity fixed at its first apply, not a URL that a custom
///   domain changes: the output of a `terraform_data` that ignores changes
///   to its input, the input being the execute-api stage URLs (the audience
///   and issuer of the tokens minted before it existed, which stay valid);
/// - `TOKEN_PUBLIC_KEYS` the public key of the KMS key that signs
///   (`TOKEN_SIGNING_KEY`), then `token_previous_public_keys`;
/// - `TOKEN_ISSUERS` the JSON of `token_issuers` without the attributes left
///   unset, or empty without issuers;
/// - `TOKEN_MAX_TTL_SECONDS` the `token_max_ttl_seconds` verifiers and the
///   minter cap a token's lifetime at.
pub fn token_env_problems(tf: &Terraform) -> Vec<String> {
    let mut problems = Vec::new();
    let readers: Vec<_> = FUNCTIONS
        .iter()
        .filter(|f| f.env.iter().any(|v| TOKEN_VARIABLES.contains(v)))
        .collect();

    // Tokens off: nothing.
    match scope_with(
        tf,
        AWS,
        &[("subscriber_auth", Value::String("none".into()))],
    ) {
        Err(e) => problems.push(e),
        Ok(scope) => {
            for f in &readers {
                let Ok((place, env)) = evaluated_environment(tf, &scope, f.name) else {
                    continue; // the environment check says why
                };
                for (key, value) in env
                    .iter()
                    .filter(|(k, _)| TOKEN_VARIABLES.contains(&k.as_str()))
                {
                    if value.as_deref() != Ok("") {
                        problems.push(format!(
                            "{place}: {key} is {value:?} with subscriber_auth = \"none\", where no token is \
                             minted or verified: it should be \"\""
                        ));
                    }
                }
            }
        }
    }

    // Tokens on, with an earlier key, identity providers and a lifetime cap.
    let issuers = hcl::value!([
        { issuer = "https://cognito-idp.us-east-1.amazonaws.com/us-east-1_Example", jwks_url = "https://cognito-idp.us-east-1.amazonaws.com/us-east-1_Example/.well-known/jwks.json", client_id = "abc123", token_use = "access", channels = ["user:{sub}:*"] },
        { issuer = "https://login.example.com/", jwks_url = "https://login.example.com/.well-known/jwks.json", audience = "channels", channels_claim = "channels", jwks_timeout_ms = 1500 }
    ]);
    let vars = [
        (
            "token_previous_public_keys",
            Value::Array(vec![Value::String(PREVIOUS_KEY.into())]),
        ),
        ("token_issuers", issuers.clone()),
        ("token_max_ttl_seconds", crate::eval::number(1234.0)),
    ];
    let scope = match scope_with(tf, AWS, &vars) {
        Ok(scope) => scope,
        Err(e) => return vec![e],
    };
    // Compared as JSON: the order of an object's keys does not matter.
    let wanted_issuers = scope.var("token_issuers").map(strip_nulls);
    let signing = evaluated_environment(tf, &scope, "http")
        .ok()
        .and_then(|(_, env)| env.get(TOKEN_SIGNING_KEY).cloned())
        .and_then(Result::ok);
    let mut identity: BTreeMap<&str, BTreeMap<String, Vec<String>>> = BTreeMap::new();
    for f in &readers {
        let (place, env) = match evaluated_environment(tf, &scope, f.name) {
            Ok(found) => found,
            Err(e) => {
                problems.push(format!(
                    "{e}, but the {} binary reads the token variables of {}",
                    f.name, f.env_name
                ));
                continue;
            }
        };
        let get = |key: &str| env.get(key).cloned();
        for key in [TOKEN_AUDIENCE, TOKEN_ISSUER] {
            if let Some(value) = get(key) {
                let value = value.unwrap_or_else(|e| format!("<{e}>"));
                identity
                    .entry(key)
                    .or_default()
                    .entry(value)
                    .or_default()
                    .push(place.clone());
            }
        }
        if let Some(value) = get(TOKEN_PUBLIC_KEYS) {
            problems.extend(public_keys_problems(
                tf,
                &scope,
                &place,
                &value,
                signing.as_deref(),
            ));
        }
        if let Some(value) = get(TOKEN_ISSUERS) {
            let got = value
                .clone()
                .ok()
                .and_then(|v| serde_json::from_str::<Json>(&v).ok());
            if got.is_none() || got != wanted_issuers {
                let wanted = wanted_issuers
                    .as_ref()
                    .map(ToString::to_string)
                    .unwrap_or_default();
                problems.push(format!(
                    "{place}: {TOKEN_ISSUERS} is {value:?} with token_issuers = {issuers:?}, but \
                     channels::config::{TOKEN_ISSUERS} is the JSON array of the issuers, each with the \
                     attributes it sets: {wanted}"
                ));
            }
        }
        if let Some(value) = get(TOKEN_MAX_TTL_SECONDS) {
            if value.as_deref() != Ok("1234") {
                problems.push(format!(
                    "{place}: {TOKEN_MAX_TTL_SECONDS} is {value:?} with token_max_ttl_seconds = 1234: the \
                     verifiers and the minter cap a token's lifetime at that variable"
                ));
            }
        }
    }
    for (key, values) in identity {
        if values.len() > 1 {
            problems.push(format!(
                "{key} differs between the functions ({values:?}): a token minted by one would be refused by another"
            ));
        }
        for (value, places) in values {
            problems.extend(identity_problems(tf, &scope, key, &value, &places));
        }
    }
    problems
}

/// `token_issuers` as TOKEN_ISSUERS carries it: null attributes left out.
fn strip_nulls(value: &Value) -> Json {
    fn json(value: &Value) -> Json {
        match value {
            Value::Null => Json::Null,
            Value::Bool(b) => Json::Bool(*b),
            // Whole numbers as Terraform's jsonencode writes them: 1500, not 1500.0.
            Value::Number(n) => match (n.as_i64(), n.as_f64()) {
                (Some(i), _) => Json::from(i),
                (None, f) => serde_json::json!(f),
            },
            Value::String(s) => Json::String(s.clone()),
            Value::Array(items) => Json::Array(items.iter().map(json).collect()),
            Value::Object(object) => Json::Object(
                object
                    .iter()
                    .filter(|(_, v)| !matches!(v, Value::Null))
                    .map(|(k, v)| (k.clone(), json(v)))
                    .collect(),
            ),
        }
    }
    json(value)
}

/// TOKEN_AUDIENCE or TOKEN_ISSUER is a fixed deployment identity.
fn identity_problems(
    tf: &Terraform,
    scope: &Scope<'_>,
    key: &str,
    value: &str,
    places: &[String],
) -> Vec<String> {
    let (field, stage) = if key == TOKEN_AUDIENCE {
        ("audience", stage_url(tf, scope, "WEBSOCKET"))
    } else {
        ("issuer", stage_url(tf, scope, "HTTP"))
    };
    let fixed = placeholder_parts(value)
        .filter(|(kind, _, path)| kind == "terraform_data" && path.starts_with("output"));
    let Some((_, name, path)) = fixed else {
        return vec![format!(
            "{}: {key} is {value:?}, which changes with the deployment's URLs (a custom domain, a stage): \
             every token would be refused after such a change. channels::config::{key} is a deployment \
             identity fixed at the first apply: the output of a terraform_data that ignores changes to its input",
            places.join(", ")
        )];
    };
    let Ok((file, body)) = tf.block("resource", &["terraform_data", &name]) else {
        return vec![format!(
            "{key} reads terraform_data.{name}, which does not exist"
        )];
    };
    let mut problems = Vec::new();
    if !ignores_changes(body, "input") {
        problems.push(format!(
            "terraform_data.{name} ({file}) gives {key} but does not ignore changes to its input \
             (lifecycle {{ ignore_changes = [input] }}): a new URL would change the identity and invalidate \
             every token"
        ));
    }
    let initial = attr(body, "input")
        .and_then(|i| scope.eval(i).ok())
        .and_then(|v| match v {
            Value::Object(mut o) => {
                o.shift_remove(path.trim_start_matches("output").trim_start_matches('.'))
            }
            other => Some(other),
        })
        .and_then(|v| to_string(&v).ok());
    if initial != stage {
        problems.push(format!(
            "terraform_data.{name} ({file}): the {field} it fixes at its first apply is {initial:?}, but it must \
             be the execute-api stage URL ({stage:?}): that was every token's {key} before, so that a \
             deployment upgraded to it keeps accepting the tokens it had minted"
        ));
    }
    problems
}

/// The stage URL of the API of `protocol` on its own endpoint.
fn stage_url(tf: &Terraform, scope: &Scope<'_>, protocol: &str) -> Option<String> {
    let (_, api, _) = super::api(tf, protocol)?;
    scope
        .eval_text(&format!(
            "\"${{aws_apigatewayv2_api.{api}.api_endpoint}}/${{var.stage_name}}\""
        ))
        .and_then(|v| to_string(&v))
        .ok()
}

/// TOKEN_PUBLIC_KEYS is the signing key's public key, then the earlier ones.
fn public_keys_problems(
    tf: &Terraform,
    scope: &Scope<'_>,
    place: &str,
    value: &Result<String, String>,
    signing: Option<&str>,
) -> Vec<String> {
    let Ok(value) = value else {
        return vec![format!(
            "{place}: {TOKEN_PUBLIC_KEYS} does not evaluate: {value:?}"
        )];
    };
    let keys: Vec<&str> = value.split(',').collect();
    let mut problems = Vec::new();
    if keys.get(1..) != Some(&[PREVIOUS_KEY][..]) {
        problems.push(format!(
            "{place}: {TOKEN_PUBLIC_KEYS} is {value:?} with token_previous_public_keys = [\"{PREVIOUS_KEY}\"]: \
             after the signing key's public key come the earlier keys, which verifiers keep accepting"
        ));
    }
    let first = keys.first().copied().unwrap_or_default();
    let source = placeholder_parts(first).filter(|(kind, ty, path)| {
        kind == "data" && ty == "aws_kms_public_key" && path.ends_with("public_key")
    });
    let Some((_, _, path)) = source else {
        return vec![format!(
            "{place}: {TOKEN_PUBLIC_KEYS} starts with {first:?}, not the public_key of a data.aws_kms_public_key: \
             channels::config::{TOKEN_PUBLIC_KEYS} starts with the signing key's public key, read from KMS at \
             deploy time"
        )];
    };
    // data.aws_kms_public_key.NAME[...].public_key: what key_id it reads.
    let name = path.split(['[', '.']).next().unwrap_or_default().to_owned();
    let read = tf
        .block("data", &["aws_kms_public_key", &name])
        .ok()
        .map(|(file, body)| {
            let frame = if attr(body, "count").is_some() {
                Frame::count(0)
            } else {
                Frame::default()
            };
            let key_id = attr(body, "key_id")
                .and_then(|k| scope.eval_in(k, &frame).ok())
                .and_then(|v| to_string(&v).ok());
            (file, key_id, display(attr(body, "key_id")))
        });
    match (read, signing) {
        (Some((_, Some(key), _)), Some(signing)) if key == signing => {}
        (Some((file, key, written)), signing) => problems.push(format!(
            "{place}: {TOKEN_PUBLIC_KEYS} holds data.aws_kms_public_key.{name} ({file}), which reads key_id = \
             `{written}` ({key:?}), not the signing key ({TOKEN_SIGNING_KEY} = {signing:?}): tokens would be \
             signed with one key and verified with another"
        )),
        (None, _) => problems.push(format!("{place}: {TOKEN_PUBLIC_KEYS} reads data.aws_kms_public_key.{name}, which does not exist")),
    }
    problems
}

/// The KMS key named by http's `TOKEN_SIGNING_KEY` is what the KMS signer
/// (`channels_aws::kms`) needs: an `ECC_NIST_P256` / `SIGN_VERIFY` key whose
/// policy lets the http function's role, and no one else, `kms:Sign` with
/// `ECDSA_SHA_256`; and it is replaced with `create_before_destroy`, so that
/// rotating it never leaves the http function without a key to sign with.
pub fn token_key_problems(tf: &Terraform) -> Vec<String> {
    let scope = match deployed(tf, AWS) {
        Ok(scope) => scope,
        Err(e) => return vec![e],
    };
    let (place, env) = match evaluated_environment(tf, &scope, "http") {
        Ok(found) => found,
        Err(e) => {
            return vec![format!(
                "{e}, but the http binary signs tokens with {TOKEN_SIGNING_KEY}"
            )]
        }
    };
    let Some(Ok(signing)) = env.get(TOKEN_SIGNING_KEY).cloned() else {
        return Vec::new(); // the environment check reports it
    };
    // Which aws_kms_key has that ARN.
    let key =
        tf.top_blocks()
            .filter(|(_, b)| {
                b.identifier() == "resource"
                    && b.labels().first().map(|l| l.as_str()) == Some("aws_kms_key")
            })
            .find_map(|(file, b)| {
                let name = b.labels().get(1)?.as_str().to_owned();
                let arn = scope
                    .eval_text(&format!("aws_kms_key.{name}"))
                    .ok()
                    .map(|v| match v {
                        Value::Array(items) => items.into_iter().next().unwrap_or(Value::Null),
                        other => other,
                    });
                let arn = arn.and_then(|v| match v {
                    Value::Object(mut o) => o.shift_remove("arn"),
                    _ => None,
                });
                (arn.and_then(|a| to_string(&a).ok()).as_deref() == Some(signing.as_str()))
                    .then_some((file, name, b.body()))
            });
    let Some((file, key, body)) = key else {
        return vec![format!(
            "{place}: {TOKEN_SIGNING_KEY} is {signing:?}, not the arn of an aws_kms_key of this configuration, \
             but the http binary signs tokens with that KMS key (channels_aws::kms)"
        )];
    };
    let key_place = format!("aws_kms_key.{key} ({file})");
    let mut problems = Vec::new();
    for (argument, wanted) in [
        ("customer_master_key_spec", "ECC_NIST_P256"),
        ("key_usage", "SIGN_VERIFY"),
    ] {
        let value = string_attr(body, argument);
        if value.as_deref() != Some(wanted) {
            problems.push(format!(
                "{key_place}: {argument} is {value:?}, but the tokens are ES256 (P-256, channels::token) signed \
                 with kms:Sign: {wanted:?}"
            ));
        }
    }
    let replaces_first = blocks(body, "lifecycle").iter().any(|l| {
        attr(l, "create_before_destroy")
            .map(|e| e.to_string())
            .as_deref()
            == Some("true")
    });
    if !replaces_first {
        problems.push(format!(
            "{key_place} has no lifecycle {{ create_before_destroy = true }}: rotating it (terraform apply -replace) \
             would delete the old key before the new one exists, and POST /tokens would answer 503 meanwhile"
        ));
    }

    // Who may sign: the key policy, evaluated.
    let role = function(tf, "http")
        .ok()
        .and_then(|(_, f)| attr(f, "role").and_then(|r| scope.eval(r).ok()))
        .and_then(|v| to_string(&v).ok())
        .unwrap_or_default();
    let frame = if attr(body, "count").is_some() {
        Frame::count(0)
    } else {
        Frame::default()
    };
    let policy = attr(body, "policy")
        .and_then(|p| scope.eval_in(p, &frame).ok())
        .and_then(|v| to_string(&v).ok())
        .and_then(|text| serde_json::from_str::<Json>(&text).ok());
    let Some(statements) = policy
        .as_ref()
        .and_then(|p| p.get("Statement"))
        .and_then(Json::as_array)
    else {
        problems.push(format!(
            "{key_place}: its policy does not evaluate to a JSON document with a Statement list, so who may \
             kms:Sign cannot be checked; only the http function's role ({role}) may"
        ));
        return problems;
    };
    let list = |v: Option<&Json>| -> Vec<String> {
        match v {
            Some(Json::String(s)) => vec![s.clone()],
            Some(Json::Array(items)) => items
                .iter()
                .filter_map(|i| i.as_str().map(str::to_owned))
                .collect(),
            _ => Vec::new(),
        }
    };
    let mut http_signs = false;
    for (index, statement) in statements.iter().enumerate() {
        let sid = statement
            .get("Sid")
            .and_then(Json::as_str)
            .map_or(format!("#{index}"), str::to_owned);
        if statement.get("Effect").and_then(Json::as_str) != Some("Allow") {
            continue;
        }
        if statement.get("NotAction").is_some() || statement.get("NotPrincipal").is_some() {
            problems.push(format!(
                "{key_place}: statement {sid} allows with NotAction/NotPrincipal, which may let others kms:Sign; \
                 only the http function's role ({role}) may"
            ));
            continue;
        }
        let signing: Vec<String> = list(statement.get("Action"))
            .into_iter()
            .filter(|a| wildcard_match(&a.to_ascii_lowercase(), "kms:sign"))
            .collect();
        if signing.is_empty() {
            continue;
        }
        let principals = list(statement.get("Principal").and_then(|p| p.get("AWS")));
        let others = statement
            .get("Principal")
            .and_then(Json::as_object)
            .is_some_and(|p| p.keys().any(|k| k != "AWS"));
        if principals != [role.clone()] || others {
            problems.push(format!(
                "{key_place}: statement {sid} lets {} kms:Sign (through {signing:?}), but only the http function's \
                 role ({role}) may sign tokens",
                statement.get("Principal").map_or("(no principal)".to_owned(), Json::to_string)
            ));
            continue;
        }
        http_signs = true;
        let algorithms = list(
            statement
                .get("Condition")
                .and_then(|c| c.get("StringEquals"))
                .and_then(|c| c.get("kms:SigningAlgorithm")),
        );
        if algorithms != ["ECDSA_SHA_256"] {
            problems.push(format!(
                "{key_place}: statement {sid} lets {role} kms:Sign with kms:SigningAlgorithm {algorithms:?}, but the \
                 http binary signs with ECDSA_SHA_256 only (channels_aws::kms), and the condition should allow \
                 nothing else"
            ));
        }
    }
    if !http_signs {
        problems.push(format!(
            "{key_place}: no statement of its policy lets the http function's role ({role}) kms:Sign, which the \
             http binary calls to mint tokens (channels_aws::kms)"
        ));
    }
    problems
}
