//! The built `rx` binary refuses to start on bad configuration, naming the
//! variable (this is what a Lambda init failure shows in CloudWatch).

#![allow(clippy::unwrap_used, clippy::expect_used)] // a test fails by panicking

fn run_rx(env: &[(&str, &str)]) -> (bool, String) {
    channels::testing::run_with_env(env!("CARGO_BIN_EXE_rx"), env)
}

#[test]
fn a_missing_table_variable_fails_init_with_its_name() {
    // The Go reference set LAMDBA_TABLE and read LAMBDA_TABLE.
    let (ok, text) = run_rx(&[("LAMDBA_TABLE", "connections")]);
    assert!(!ok);
    assert!(
        text.contains("environment variable LAMBDA_TABLE is not set"),
        "{text}"
    );
    assert!(
        !text.contains("Missing("),
        "the message is shown, not a Debug form: {text}"
    );
}

#[test]
fn an_invalid_table_name_fails_init_with_its_name() {
    let (ok, text) = run_rx(&[("LAMBDA_TABLE", "not a table")]);
    assert!(!ok);
    assert!(
        text.contains("LAMBDA_TABLE=\"not a table\" is invalid"),
        "{text}"
    );
}
