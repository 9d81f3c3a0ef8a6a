//! Terraform and the code must agree: `terraform/*.tf` (parsed with hcl-rs) and
//! the `Makefile` against the constants the binaries use. Each check runs on
//! the real tree (no problems) and on mutated copies of it: one targeted edit
//! of a `.tf` file or the Makefile, which the check must report, naming the
//! right thing.

// Every check, its constants and `Check`/`CHECKS`: the modules below test them.
use contract_tests::checks::*;
use contract_tests::{Makefile, Sources, Terraform};

mod domains;
mod env;
mod iam;
mod packages;
mod queue;
mod routes;
mod stream;
mod table;
mod tokens;
mod validations;
mod websocket;

fn sources() -> Sources {
    Sources::load().unwrap_or_else(|e| panic!("{e}"))
}

fn parsed(sources: &Sources) -> (Terraform, Makefile) {
    let tf = sources.terraform().unwrap_or_else(|e| panic!("{e}"));
    (tf, sources.makefile())
}

fn report(check: &str, problems: &[String]) {
    assert!(
        problems.is_empty(),
        "Terraform and the code disagree ({check}):\n  - {}",
        problems.join("\n  - ")
    );
}

/// Replace `from` (which must occur exactly once) by `to` in `file`; the check
/// must report a problem that contains every string of `expect`.
struct Mutation {
    file: &'static str,
    from: &'static str,
    to: &'static str,
    expect: &'static [&'static str],
}

const fn m(
    file: &'static str,
    from: &'static str,
    to: &'static str,
    expect: &'static [&'static str],
) -> Mutation {
    Mutation {
        file,
        from,
        to,
        expect,
    }
}

/// Each mutation must make `check` report a problem that it does not report on
/// the real tree and that contains every string of the mutation's `expect`.
/// (The real tree's own problems are the business of the tests above; a drift
/// there does not hide what a mutation proves.)
fn assert_caught(name: &str, check: Check, mutations: &[Mutation]) {
    let base = sources();
    let (tf, make) = parsed(&base);
    let before = check(&tf, &make);
    let mut missed = Vec::new();
    for mutation in mutations {
        let mutated = base
            .mutated(mutation.file, mutation.from, mutation.to)
            .unwrap_or_else(|e| panic!("{e}"));
        let (tf, make) = parsed(&mutated);
        let problems = check(&tf, &make);
        if !problems
            .iter()
            .any(|p| !before.contains(p) && mutation.expect.iter().all(|e| p.contains(e)))
        {
            missed.push(format!(
                "{}: {:?} -> {:?}: expected a new problem with {:?}, got {problems:#?}",
                mutation.file, mutation.from, mutation.to, mutation.expect
            ));
        }
    }
    assert!(
        missed.is_empty(),
        "the {name} check missed mutations:\n{}",
        missed.join("\n")
    );
}

#[test]
fn every_terraform_file_parses() {
    let sources = sources();
    let (tf, _) = parsed(&sources);
    let parsed: Vec<&str> = tf.files().map(|(name, _)| name).collect();
    let read: Vec<&str> = sources.terraform.iter().map(|(n, _)| n.as_str()).collect();
    assert_eq!(parsed, read);
    for (name, body) in tf.files() {
        assert!(body.iter().next().is_some(), "{name} parsed to nothing");
    }
    // The files the checks read are among them.
    for file in [
        "lambda.tf",
        "main.tf",
        "dynamodb.tf",
        "iam.tf",
        "http_api.tf",
        "kms.tf",
        "queue.tf",
        "variables.tf",
    ] {
        assert!(
            read.contains(&format!("terraform/{file}").as_str()),
            "no terraform/{file}"
        );
    }
}

#[test]
fn all_checks_pass_on_the_real_tree() {
    let (tf, make) = parsed(&sources());
    report("all", &all_problems(&tf, &make));
    assert_eq!(CHECKS.len(), 25);
}

#[test]
fn a_missing_block_is_a_problem_not_a_panic() {
    // Renaming the rx function: every check that reads it says so.
    let mutated = sources()
        .mutated(
            "terraform/lambda.tf",
            "resource \"aws_lambda_function\" \"rx\" {",
            "resource \"aws_lambda_function\" \"relay\" {",
        )
        .unwrap_or_else(|e| panic!("{e}"));
    let (tf, make) = parsed(&mutated);
    for (name, check) in [
        ("environment", (|tf, _| env_problems(tf)) as Check),
        ("log format", |tf, _| log_format_problems(tf)),
        ("packages", package_problems),
        ("token environment", |tf, _| token_env_problems(tf)),
    ] {
        let problems = check(&tf, &make);
        assert!(
            problems.iter().any(|p| p
                .contains("terraform/*.tf has no `resource \"aws_lambda_function\" \"rx\"` block")),
            "{name}: {problems:#?}"
        );
    }
}

#[test]
fn a_mutation_that_does_not_apply_is_an_error() {
    let error = sources()
        .mutated("terraform/lambda.tf", "no such text", "x")
        .expect_err("must fail");
    assert!(error.contains("0 times"), "{error}");
}
