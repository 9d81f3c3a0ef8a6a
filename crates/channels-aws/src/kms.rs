//! KMS adapter of [`TokenSigner`]: ES256 signatures made by an asymmetric KMS
//! key (`ECC_NIST_P256`, `SIGN_VERIFY`). The private key never leaves KMS.

use aws_sdk_kms::error::DisplayErrorContext;
use aws_sdk_kms::primitives::Blob;
use aws_sdk_kms::types::{MessageType, SigningAlgorithmSpec};
use aws_sdk_kms::Client;
use channels::token::{der_signature_to_jws, PublicKey, SignError, TokenSigner, SIGNATURE_LEN};

/// Signs with one KMS key.
#[derive(Clone, Debug)]
pub struct KmsSigner {
    client: Client,
    key_id: String,
}

impl KmsSigner {
    /// `key_id`: a key id, key ARN, alias name or alias ARN.
    pub fn new(client: Client, key_id: impl Into<String>) -> Self {
        Self {
            client,
            key_id: key_id.into(),
        }
    }

    /// A client for the key `key_id`, configured from `sdk` (and
    /// `AWS_ENDPOINT_URL_KMS`, as the SDKs honour it).
    pub fn from_conf(sdk: &aws_types::SdkConfig, key_id: impl Into<String>) -> Self {
        let mut config = aws_sdk_kms::config::Builder::from(sdk);
        if let Some(url) = crate::sdk::service_endpoint("KMS") {
            config = config.endpoint_url(url);
        }
        Self::new(Client::from_conf(config.build()), key_id)
    }

    /// The key's public half, from `GetPublicKey` (for tools and tests: the
    /// functions get it from their configuration, with no call at start).
    pub async fn public_key(&self) -> Result<PublicKey, SignError> {
        let output = self
            .client
            .get_public_key()
            .key_id(&self.key_id)
            .send()
            .await
            .map_err(|e| {
                SignError::Unavailable(format!("GetPublicKey: {}", DisplayErrorContext(e)))
            })?;
        let der = output
            .public_key()
            .ok_or_else(|| SignError::Unavailable("GetPublicKey returned no key".to_owned()))?;
        PublicKey::from_spki_der(der.as_ref())
            .map_err(|e| SignError::Unavailable(format!("GetPublicKey: {e}")))
    }
}

/// Longest message KMS `Sign` takes as `MessageType::Raw`.
const MAX_RAW_MESSAGE: usize = 4096;

/// What goes to KMS for `message`: the message itself when KMS takes it raw
/// (every token with a few channels), its SHA-256 digest otherwise (16 long
/// channel names and a long subject can pass 4 KB). Both give the same
/// ES256 signature.
fn kms_message(message: &[u8]) -> (Vec<u8>, MessageType) {
    if message.len() <= MAX_RAW_MESSAGE {
        (message.to_vec(), MessageType::Raw)
    } else {
        let digest = ring::digest::digest(&ring::digest::SHA256, message);
        (digest.as_ref().to_vec(), MessageType::Digest)
    }
}

impl TokenSigner for KmsSigner {
    /// KMS `Sign` with `ECDSA_SHA_256`, converted from DER to the JWS form `r‖s`.
    async fn sign(&self, message: &[u8]) -> Result<[u8; SIGNATURE_LEN], SignError> {
        let (message, message_type) = kms_message(message);
        let output = self
            .client
            .sign()
            .key_id(&self.key_id)
            .message(Blob::new(message))
            .message_type(message_type)
            .signing_algorithm(SigningAlgorithmSpec::EcdsaSha256)
            .send()
            .await
            .map_err(|e| SignError::Unavailable(format!("Sign: {}", DisplayErrorContext(e))))?;
        let der = output
            .signature()
            .ok_or_else(|| SignError::Unavailable("Sign returned no signature".to_owned()))?;
        der_signature_to_jws(der.as_ref()).ok_or_else(|| {
            SignError::Unavailable(
                "Sign returned a signature that is not DER ECDSA P-256".to_owned(),
            )
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn long_messages_go_to_kms_as_their_digest() {
        let short = vec![b'a'; MAX_RAW_MESSAGE];
        assert_eq!(kms_message(&short), (short.clone(), MessageType::Raw));
        let long = vec![b'a'; MAX_RAW_MESSAGE + 1];
        let (sent, kind) = kms_message(&long);
        assert_eq!(kind, MessageType::Digest);
        assert_eq!(
            sent,
            ring::digest::digest(&ring::digest::SHA256, &long).as_ref()
        );
    }
}
