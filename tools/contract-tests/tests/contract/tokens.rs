//! Where the token variables come from, and the key that signs tokens.

use crate::*;

#[test]
fn token_variables_come_from_the_stages_and_the_kms_public_key() {
    let (tf, _) = parsed(&sources());
    report("token environment", &token_env_problems(&tf));
}

#[test]
fn only_the_http_function_signs_with_the_token_key() {
    let (tf, _) = parsed(&sources());
    report("token signing key", &token_key_problems(&tf));
}

#[test]
fn token_env_check_catches_mutations() {
    assert_caught(
        "token environment",
        |tf, _| token_env_problems(tf),
        &[
            // rx checks tokens against the wrong audience.
            m(
                "terraform/lambda.tf:aws_lambda_function.rx",
                "      TOKEN_AUDIENCE        = local.tokens_on ? local.websocket_url : \"\"\n",
                "      TOKEN_AUDIENCE        = local.tokens_on ? local.http_url : \"\"\n",
                &[
                    "aws_lambda_function.rx (terraform/lambda.tf)",
                    "TOKEN_AUDIENCE = `local.tokens_on ? local.http_url : \"\"`",
                    "local.websocket_url",
                ],
            ),
            // http mints with the wrong issuer.
            m(
                "terraform/lambda.tf:aws_lambda_function.http",
                "      TOKEN_ISSUER          = local.tokens_on ? local.http_url : \"\"\n",
                "      TOKEN_ISSUER          = local.tokens_on ? local.websocket_url : \"\"\n",
                &[
                    "aws_lambda_function.http (terraform/lambda.tf)",
                    "TOKEN_ISSUER",
                    "local.http_url",
                ],
            ),
            // The audience set only when tokens are off.
            m(
                "terraform/lambda.tf:aws_lambda_function.http",
                "      TOKEN_AUDIENCE        = local.tokens_on ? local.websocket_url : \"\"\n",
                "      TOKEN_AUDIENCE        = var.subscriber_auth == \"none\" ? local.websocket_url : \"\"\n",
                &[
                    "aws_lambda_function.http (terraform/lambda.tf)",
                    "TOKEN_AUDIENCE",
                    "local.websocket_url",
                ],
            ),
            // rx gets no public key.
            m(
                "terraform/lambda.tf:aws_lambda_function.rx",
                "      TOKEN_PUBLIC_KEYS     = local.token_public_keys\n",
                "      TOKEN_PUBLIC_KEYS     = \"\"\n",
                &[
                    "aws_lambda_function.rx (terraform/lambda.tf)",
                    "TOKEN_PUBLIC_KEYS = `\"\"`",
                    "data.aws_kms_public_key",
                ],
            ),
            // The keys no longer come from KMS (both functions read the local).
            m(
                "terraform/main.tf",
                "    [data.aws_kms_public_key.tokens[0].public_key],\n",
                "    [],\n",
                &[
                    "aws_lambda_function.http (terraform/lambda.tf)",
                    "TOKEN_PUBLIC_KEYS = `local.token_public_keys`",
                    "data.aws_kms_public_key",
                ],
            ),
            // Inverted: public keys only when tokens are off.
            m(
                "terraform/main.tf",
                "  token_public_keys = local.tokens_on ? join(",
                "  token_public_keys = !local.tokens_on ? join(",
                &["aws_lambda_function.rx (terraform/lambda.tf)", "TOKEN_PUBLIC_KEYS"],
            ),
        ],
    );
}

#[test]
fn token_key_check_catches_mutations() {
    const KMS: &str = "terraform/kms.tf";
    const PLACE: &str = "aws_kms_key.tokens (terraform/kms.tf)";
    assert_caught(
        "token signing key",
        |tf, _| token_key_problems(tf),
        &[
            // An encryption key cannot sign.
            m(
                KMS,
                "  key_usage                = \"SIGN_VERIFY\"\n",
                "  key_usage                = \"ENCRYPT_DECRYPT\"\n",
                &[PLACE, "key_usage is Some(\"ENCRYPT_DECRYPT\")", "\"SIGN_VERIFY\""],
            ),
            // An RSA key does not make ES256 signatures.
            m(
                KMS,
                "\"ECC_NIST_P256\"",
                "\"RSA_2048\"",
                &[PLACE, "customer_master_key_spec is Some(\"RSA_2048\")", "ES256"],
            ),
            // The public key read from another key than the one that signs.
            m(
                KMS,
                "  key_id = aws_kms_key.tokens[0].arn\n",
                "  key_id = aws_kms_key.this.arn\n",
                &[
                    "TOKEN_PUBLIC_KEYS holds data.aws_kms_public_key.tokens (terraform/kms.tf)",
                    "key_id = `aws_kms_key.this.arn`",
                    "not the signing key aws_kms_key.tokens",
                ],
            ),
            // http signs with something that is not a KMS key of this configuration.
            m(
                "terraform/lambda.tf",
                "local.tokens_on ? aws_kms_key.tokens[0].arn : \"\"",
                "local.tokens_on ? aws_kms_alias.tokens[0].arn : \"\"",
                &[
                    "aws_lambda_function.http (terraform/lambda.tf)",
                    "TOKEN_SIGNING_KEY = `local.tokens_on ? aws_kms_alias.tokens[0].arn : \"\"`",
                    "does not name an aws_kms_key",
                ],
            ),
            // rx's role signs instead.
            m(
                KMS,
                "        Principal = { AWS = aws_iam_role.http.arn }\n",
                "        Principal = { AWS = aws_iam_role.rx.arn }\n",
                &[
                    PLACE,
                    "statement OnlyHttpFunctionSigns lets `{ AWS = aws_iam_role.rx.arn }` kms:Sign",
                    "only the http function's role (aws_iam_role.http.arn)",
                ],
            ),
            // The account may sign too (and so any IAM principal it allows).
            m(
                KMS,
                "          \"kms:DescribeKey\",\n",
                "          \"kms:DescribeKey\",\n          \"kms:Sign\",\n",
                &[
                    PLACE,
                    "statement AccountAdministersAndReadsPublicKey lets",
                    ":root",
                    "only the http function's role",
                ],
            ),
            // ... or through a wildcard.
            m(
                KMS,
                "          \"kms:DescribeKey\",\n",
                "          \"kms:*\",\n",
                &[PLACE, "statement AccountAdministersAndReadsPublicKey lets", "kms:*"],
            ),
            // Any algorithm.
            m(
                KMS,
                "            \"kms:SigningAlgorithm\" = \"ECDSA_SHA_256\"\n",
                "            \"kms:SigningAlgorithm\" = [\"ECDSA_SHA_256\", \"ECDSA_SHA_384\"]\n",
                &[
                    PLACE,
                    "statement OnlyHttpFunctionSigns lets aws_iam_role.http.arn kms:Sign with kms:SigningAlgorithm",
                    "ECDSA_SHA_384",
                    "ECDSA_SHA_256 only",
                ],
            ),
            // Nobody may sign: minting fails.
            m(
                KMS,
                "        Action    = \"kms:Sign\"\n",
                "        Action    = \"kms:Verify\"\n",
                &[
                    PLACE,
                    "no statement of its policy lets the http function's role (aws_iam_role.http.arn) kms:Sign",
                ],
            ),
        ],
    );
}
