//! Terraform deploys the packages `make` builds, for the architecture it built.

use crate::*;

#[test]
fn packages_are_read_where_make_writes_them() {
    let (tf, make) = parsed(&sources());
    report("packages", &package_problems(&tf, &make));
}

#[test]
fn architectures_and_default_match_the_makefile() {
    let (tf, make) = parsed(&sources());
    report("architecture", &architecture_problems(&tf, &make));
}

#[test]
fn package_check_catches_mutations() {
    assert_caught(
        "packages",
        package_problems,
        &[
            // The default package directory moves away from the Makefile's BUILD.
            m(
                "terraform/main.tf",
                "\"${path.module}/../build\"",
                "\"${path.module}/../dist\"",
                &[
                    "local.rx_package = Some(\"dist/rx.zip\")",
                    "terraform/main.tf",
                    "RX_ZIP = Some(\"build/rx.zip\")",
                ],
            ),
            // One package renamed in Terraform.
            m(
                "terraform/main.tf",
                "\"${local.package_dir}/http.zip\"",
                "\"${local.package_dir}/http-lambda.zip\"",
                &[
                    "local.http_package = Some(\"build/http-lambda.zip\")",
                    "HTTP_ZIP = Some(\"build/http.zip\")",
                ],
            ),
            // ... or in the Makefile.
            m(
                "Makefile",
                "RX_ZIP   := $(BUILD)/rx.zip",
                "RX_ZIP   := $(BUILD)/rx-lambda.zip",
                &[
                    "local.rx_package = Some(\"build/rx.zip\")",
                    "RX_ZIP = Some(\"build/rx-lambda.zip\")",
                ],
            ),
            // The architecture file.
            m(
                "terraform/main.tf",
                "\"${local.package_dir}/ARCH\"",
                "\"${local.package_dir}/arch.txt\"",
                &[
                    "local.arch_file = Some(\"build/arch.txt\")",
                    "terraform/main.tf",
                    "Some(\"build/ARCH\")",
                ],
            ),
            // A function deploys the other function's package.
            m(
                "terraform/lambda.tf",
                "  filename         = local.rx_package\n",
                "  filename         = local.http_package\n",
                &[
                    "aws_lambda_function.rx (terraform/lambda.tf): filename = `local.http_package`",
                    "RX_ZIP",
                    "local.rx_package",
                ],
            ),
            // A function stops redeploying when its package changes.
            m(
                "terraform/lambda.tf",
                "fileexists(local.http_package) ? filebase64sha256(local.http_package) : null\n\n  memory_size                    = var.http_memory_size",
                "null\n\n  memory_size                    = var.http_memory_size",
                &[
                    "aws_lambda_function.http (terraform/lambda.tf): source_code_hash = `null`",
                    "local.http_package",
                    "HTTP_ZIP",
                ],
            ),
            // The worker deploys rx's package (its binary has no worker) ...
            m(
                "terraform/lambda.tf",
                "  filename         = local.http_package\n  source_code_hash = fileexists(local.http_package) ? filebase64sha256(local.http_package) : null\n\n  memory_size                    = var.worker_memory_size",
                "  filename         = local.rx_package\n  source_code_hash = fileexists(local.rx_package) ? filebase64sha256(local.rx_package) : null\n\n  memory_size                    = var.worker_memory_size",
                &[
                    "aws_lambda_function.worker (terraform/lambda.tf): filename = `local.rx_package`",
                    "HTTP_ZIP",
                    "local.http_package",
                ],
            ),
            // ... or stays on an old http.zip.
            m(
                "terraform/lambda.tf",
                "fileexists(local.http_package) ? filebase64sha256(local.http_package) : null\n\n  memory_size                    = var.worker_memory_size",
                "fileexists(local.http_package) ? filebase64sha256(local.rx_package) : null\n\n  memory_size                    = var.worker_memory_size",
                &[
                    "aws_lambda_function.worker (terraform/lambda.tf): source_code_hash",
                    "does not hash local.http_package",
                ],
            ),
        ],
    );
}

#[test]
fn architecture_check_catches_mutations() {
    assert_caught(
        "architecture",
        architecture_problems,
        &[
            // Terraform accepts one architecture fewer than `make ARCH=…`.
            m(
                "terraform/variables.tf",
                "contains([\"arm64\", \"x86_64\"], coalesce(var.architecture, \"arm64\"))",
                "contains([\"arm64\"], coalesce(var.architecture, \"arm64\"))",
                &[
                    "variable \"architecture\" (terraform/variables.tf) accepts {\"arm64\"}",
                    "Makefile's ARCH accepts {\"arm64\", \"x86_64\"}",
                ],
            ),
            // The defaults differ.
            m(
                "terraform/main.tf",
                "coalesce(var.architecture, local.built_arch, \"arm64\")",
                "coalesce(var.architecture, local.built_arch, \"x86_64\")",
                &[
                    "local.architecture (terraform/main.tf)",
                    "falls back to Some(\"x86_64\")",
                    "ARCH defaults to Some(\"arm64\")",
                ],
            ),
            m(
                "Makefile",
                "ARCH  ?= arm64",
                "ARCH  ?= x86_64",
                &[
                    "falls back to Some(\"arm64\")",
                    "ARCH defaults to Some(\"x86_64\")",
                ],
            ),
        ],
    );
}
