//! Where the token variables come from, and the key that signs tokens.

use crate::*;

const TOKENS: &str = "terraform/tokens.tf";

#[test]
fn token_variables_come_from_the_fixed_identity_and_the_kms_public_key() {
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
                "      TOKEN_AUDIENCE        = local.tokens_on ? local.token_audience : \"\"\n",
                "      TOKEN_AUDIENCE        = local.tokens_on ? local.token_issuer : \"\"\n",
                &["TOKEN_AUDIENCE differs between the functions"],
            ),
            // The audience follows the URL again: a custom domain would invalidate every token.
            m("terraform/main.tf", "  token_audience = terraform_data.token_identity.output.audience\n", "  token_audience = local.websocket_url\n", &[
                "aws_lambda_function.rx (terraform/lambda.tf), aws_lambda_function.http (terraform/lambda.tf), aws_lambda_function.commands (terraform/lambda.tf): TOKEN_AUDIENCE is \"wss://websocket1.execute-api.us-east-1.amazonaws.com/staging\"",
                "a deployment identity fixed at the first apply",
            ]),
            // ... or changes when the stage URL does.
            m(TOKENS, "    ignore_changes = [input]\n", "    ignore_changes = []\n", &[
                "terraform_data.token_identity (terraform/tokens.tf) gives TOKEN_AUDIENCE but does not ignore changes to its input",
            ]),
            // An identity new to existing deployments: the tokens they minted would be refused.
            m(TOKENS, "    audience = local.websocket_stage_url\n", "    audience = \"urn:lrw:${aws_apigatewayv2_api.websocket.id}\"\n", &[
                "terraform_data.token_identity (terraform/tokens.tf): the audience it fixes at its first apply is Some(\"urn:lrw:websocket1\")",
                "keeps accepting the tokens it had minted",
            ]),
            // The audience set only when tokens are off.
            m(
                "terraform/lambda.tf:aws_lambda_function.http",
                "      TOKEN_AUDIENCE        = local.tokens_on ? local.token_audience : \"\"\n",
                "      TOKEN_AUDIENCE        = var.subscriber_auth == \"none\" ? local.token_audience : \"\"\n",
                &["aws_lambda_function.http (terraform/lambda.tf): TOKEN_AUDIENCE is Ok(\"⟨terraform_data.token_identity.output.audience⟩\") with subscriber_auth = \"none\""],
            ),
            // rx gets no public key.
            m(
                "terraform/lambda.tf:aws_lambda_function.rx",
                "      TOKEN_PUBLIC_KEYS     = local.token_public_keys\n",
                "      TOKEN_PUBLIC_KEYS     = \"\"\n",
                &["aws_lambda_function.rx (terraform/lambda.tf): TOKEN_PUBLIC_KEYS starts with \"\"", "data.aws_kms_public_key"],
            ),
            // The keys no longer come from KMS (every function reads the local).
            m("terraform/main.tf", "    [data.aws_kms_public_key.tokens[0].public_key],\n", "    [],\n", &[
                "aws_lambda_function.commands (terraform/lambda.tf): TOKEN_PUBLIC_KEYS",
                "data.aws_kms_public_key",
            ]),
            // The public key read from another key than the one that signs.
            m(TOKENS, "  key_id = aws_kms_key.tokens[0].arn\n", "  key_id = aws_kms_key.this.arn\n", &[
                "TOKEN_PUBLIC_KEYS holds data.aws_kms_public_key.tokens (terraform/tokens.tf), which reads key_id = `aws_kms_key.this.arn`",
                "not the signing key",
            ]),
            // Earlier keys forgotten: tokens they signed are refused after a rotation.
            m("terraform/main.tf", "    var.token_previous_public_keys,\n", "", &[
                "aws_lambda_function.rx (terraform/lambda.tf): TOKEN_PUBLIC_KEYS",
                "the earlier keys, which verifiers keep accepting",
            ]),
            // Inverted: public keys only when tokens are off.
            m("terraform/main.tf", "  token_public_keys = local.tokens_on ? join(", "  token_public_keys = !local.tokens_on ? join(", &[
                "aws_lambda_function.rx (terraform/lambda.tf): TOKEN_PUBLIC_KEYS",
            ]),
            // Issuers with null attributes, which the verifier would read as set.
            m(
                "terraform/main.tf",
                "    for issuer in var.token_issuers : { for key, value in issuer : key => value if value != null }\n",
                "    for issuer in var.token_issuers : issuer\n",
                &["aws_lambda_function.rx (terraform/lambda.tf): TOKEN_ISSUERS", "the attributes it sets"],
            ),
            // The verifiers' lifetime cap pinned.
            m(
                "terraform/lambda.tf:aws_lambda_function.commands",
                "      TOKEN_MAX_TTL_SECONDS = local.tokens_on ? tostring(var.token_max_ttl_seconds) : \"\"\n",
                "      TOKEN_MAX_TTL_SECONDS = local.tokens_on ? \"86400\" : \"\"\n",
                &["aws_lambda_function.commands (terraform/lambda.tf): TOKEN_MAX_TTL_SECONDS is Ok(\"86400\")"],
            ),
        ],
    );
}

#[test]
fn token_key_check_catches_mutations() {
    const PLACE: &str = "aws_kms_key.tokens (terraform/tokens.tf)";
    assert_caught(
        "token signing key",
        |tf, _| token_key_problems(tf),
        &[
            // An encryption key cannot sign.
            m(TOKENS, "  key_usage                = \"SIGN_VERIFY\"\n", "  key_usage                = \"ENCRYPT_DECRYPT\"\n", &[
                PLACE,
                "key_usage is Some(\"ENCRYPT_DECRYPT\")",
                "\"SIGN_VERIFY\"",
            ]),
            // An RSA key does not make ES256 signatures.
            m(TOKENS, "\"ECC_NIST_P256\"", "\"RSA_2048\"", &[PLACE, "customer_master_key_spec is Some(\"RSA_2048\")", "ES256"]),
            // http signs with something that is not a KMS key of this configuration.
            m(
                "terraform/lambda.tf",
                "local.tokens_on ? aws_kms_key.tokens[0].arn : \"\"",
                "local.tokens_on ? aws_kms_alias.tokens[0].arn : \"\"",
                &[
                    "aws_lambda_function.http (terraform/lambda.tf): TOKEN_SIGNING_KEY is \"⟨aws_kms_alias.tokens[0].arn⟩\"",
                    "not the arn of an aws_kms_key",
                ],
            ),
            // Rotation deletes the old key first: minting fails until the new one is in.
            m(TOKENS, "  lifecycle {\n    create_before_destroy = true\n  }\n", "", &[
                PLACE,
                "create_before_destroy = true",
                "503",
            ]),
            // rx's role signs instead.
            m(TOKENS, "        Principal = { AWS = aws_iam_role.http.arn }\n", "        Principal = { AWS = aws_iam_role.rx.arn }\n", &[
                PLACE,
                "statement OnlyHttpFunctionSigns lets {\"AWS\":\"arn:aws:iam::123456789012:role/lambda-rust-websocket-us-east-1-rx\"} kms:Sign",
                "only the http function's role (arn:aws:iam::123456789012:role/lambda-rust-websocket-us-east-1-http)",
            ]),
            // The account may sign too (and so any IAM principal it allows).
            m(TOKENS, "          \"kms:DescribeKey\",\n", "          \"kms:DescribeKey\",\n          \"kms:Sign\",\n", &[
                PLACE,
                "statement AccountAdministersAndReadsPublicKey lets",
                ":root",
                "only the http function's role",
            ]),
            // ... or through a wildcard.
            m(TOKENS, "          \"kms:DescribeKey\",\n", "          \"kms:*\",\n", &[PLACE, "statement AccountAdministersAndReadsPublicKey lets", "kms:*"]),
            // Any algorithm.
            m(
                TOKENS,
                "            \"kms:SigningAlgorithm\" = \"ECDSA_SHA_256\"\n",
                "            \"kms:SigningAlgorithm\" = [\"ECDSA_SHA_256\", \"ECDSA_SHA_384\"]\n",
                &[PLACE, "statement OnlyHttpFunctionSigns lets", "kms:SigningAlgorithm", "ECDSA_SHA_384", "ECDSA_SHA_256 only"],
            ),
            // Nobody may sign: minting fails.
            m(TOKENS, "        Action    = \"kms:Sign\"\n", "        Action    = \"kms:Verify\"\n", &[
                PLACE,
                "no statement of its policy lets the http function's role",
            ]),
        ],
    );
}
