//! The built `http` binary refuses to start on bad configuration, naming the
//! variable.

#![allow(clippy::unwrap_used, clippy::expect_used)] // a test fails by panicking

fn run_http(env: &[(&str, &str)]) -> (bool, String) {
    channels::testing::run_with_env(env!("CARGO_BIN_EXE_http"), env)
}

#[test]
fn each_bad_variable_fails_init_with_its_name() {
    let cases: &[(&[(&str, &str)], &str)] = &[
        (&[], "environment variable LAMBDA_TABLE is not set"),
        (
            &[("LAMBDA_TABLE", "connections")],
            "environment variable MANAGEMENT_ENDPOINT is not set",
        ),
        (
            &[
                ("LAMBDA_TABLE", "connections"),
                (
                    "MANAGEMENT_ENDPOINT",
                    "wss://abc.execute-api.us-east-1.amazonaws.com/staging",
                ),
            ],
            "MANAGEMENT_ENDPOINT=\"wss://",
        ),
        (
            &[
                ("LAMBDA_TABLE", "connections"),
                (
                    "MANAGEMENT_ENDPOINT",
                    "https://abc.execute-api.us-east-1.amazonaws.com/staging",
                ),
                ("PUBLISH_CONCURRENCY", "0"),
            ],
            "PUBLISH_CONCURRENCY=\"0\" is invalid: expected a whole number from 1 to 1024",
        ),
    ];
    for (env, expected) in cases {
        let (ok, text) = run_http(env);
        assert!(!ok, "{env:?} should fail");
        assert!(
            text.contains(expected),
            "{env:?}: expected {expected:?} in {text}"
        );
    }
}
