//! Which binary links which AWS SDK client, from `cargo tree` on the
//! workspace's lock file: rx links no `@connections`, SQS or KMS client; the
//! handler libraries and the local gateway's default build link no AWS SDK
//! at all; the domain crate never does; the gateway's default build, what
//! the first `make local` compiles, has no `serde_with` or regex engine.

#![allow(clippy::unwrap_used, clippy::expect_used)] // a test fails by panicking

use std::process::Command;

/// The normal (not dev, not build) dependency tree of `package` with `args`.
fn tree(package: &str, args: &[&str]) -> String {
    let cargo = std::env::var("CARGO").unwrap_or_else(|_| "cargo".to_owned());
    let root = contract_tests::terraform::repo_root();
    let output = Command::new(cargo)
        .current_dir(&root)
        .args([
            "tree",
            "--locked",
            "--offline",
            "-e",
            "normal",
            "-p",
            package,
        ])
        .args(args)
        .output()
        .expect("cargo tree runs");
    assert!(
        output.status.success(),
        "cargo tree -p {package} {args:?}: {}",
        String::from_utf8_lossy(&output.stderr)
    );
    String::from_utf8(output.stdout).expect("UTF-8")
}

fn crates_in(tree: &str, prefix: &str) -> Vec<String> {
    let mut found: Vec<String> = tree
        .lines()
        .filter_map(|line| {
            let name = line
                .trim_start_matches(|c: char| !c.is_ascii_alphanumeric())
                .split(' ')
                .next()?;
            name.starts_with(prefix).then(|| name.to_owned())
        })
        .collect();
    found.sort();
    found.dedup();
    found
}

#[test]
fn rx_links_dynamodb_only() {
    let rx = tree("rx", &[]);
    assert_eq!(crates_in(&rx, "aws-sdk-"), ["aws-sdk-dynamodb"], "{rx}");
    assert!(crates_in(&rx, "aws-config").is_empty());
}

#[test]
fn the_handler_libraries_and_the_domain_link_no_aws_sdk() {
    for (package, args) in [
        ("rx", &["--no-default-features"][..]),
        ("http-lambda", &["--no-default-features"][..]),
        ("channels", &[][..]),
    ] {
        let tree = tree(package, args);
        assert!(crates_in(&tree, "aws-sdk-").is_empty(), "{package}: {tree}");
        assert!(crates_in(&tree, "aws-config").is_empty(), "{package}");
        assert!(crates_in(&tree, "channels-aws").is_empty(), "{package}");
    }
}

#[test]
fn the_local_gateway_links_the_sdk_only_with_its_aws_feature() {
    let default = tree("local-gateway", &[]);
    assert!(crates_in(&default, "aws-sdk-").is_empty(), "{default}");
    assert!(crates_in(&default, "aws-config").is_empty(), "{default}");
    let aws = tree("local-gateway", &["--features", "aws"]);
    assert_eq!(
        crates_in(&aws, "aws-sdk-"),
        [
            "aws-sdk-apigatewaymanagement",
            "aws-sdk-dynamodb",
            "aws-sdk-sqs",
            // aws-config's credential chain (assume-role, web identity).
            "aws-sdk-sts",
        ]
    );
    assert_eq!(crates_in(&aws, "aws-config"), ["aws-config"]);
}

/// The crates the first `make local` no longer compiles
/// (docs/performance.md#the-first-make-local): `serde_with` and `darling`
/// came with `aws_lambda_events`'s SQS types, the regex engine with
/// `tracing-subscriber`'s env-filter.
#[test]
fn the_local_gateway_builds_no_serde_with_and_no_regex_engine() {
    let default = tree("local-gateway", &[]);
    for heavy in ["serde_with", "darling", "regex"] {
        assert!(crates_in(&default, heavy).is_empty(), "{heavy}: {default}");
    }
}
