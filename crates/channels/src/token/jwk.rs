//! Keys of other issuers, read from their JWKS documents (RFC 7517, RFC 7518
//! §6): RSA keys for RS256 and EC P-256 keys for ES256, nothing else.
//!
//! A key verifies exactly one algorithm, the one its JWK declares: `alg` when
//! present, otherwise derived from the key type (`RSA` → RS256, `EC` on
//! `P-256` → ES256). A token whose header names another algorithm than its
//! key's is refused before any signature is checked, so an RSA key is never
//! asked to check an ES256 signature or the reverse, and no key is ever used
//! as an HMAC secret.
//!
//! Keys a document holds but this module cannot use — encryption keys, other
//! curves or algorithms, RSA moduli under 2048 bits, keys without `kid`,
//! malformed members — are skipped (RFC 7517 §5 asks implementations to
//! ignore what they do not understand) and listed in [`KeySet::skipped`] for
//! the log. A `kid` that appears more than once is dropped altogether: which
//! key it names would be a guess.

use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use base64::Engine as _;
use ring::signature::{
    RsaPublicKeyComponents, UnparsedPublicKey, ECDSA_P256_SHA256_FIXED, RSA_PKCS1_2048_8192_SHA256,
};
use serde_json::{Map, Value};

/// Smallest RSA modulus accepted, in bits.
pub const MIN_RSA_BITS: usize = 2048;
/// Largest RSA modulus accepted, in bits (ring's limit for verification).
pub const MAX_RSA_BITS: usize = 8192;
/// Most keys one JWKS document may hold. Identity providers publish two to a
/// handful; a document with more is refused as a whole.
pub const MAX_JWKS_KEYS: usize = 100;
/// Longest `kid` kept, in bytes.
pub const MAX_KID_BYTES: usize = 256;

/// The signature algorithms an issuer key may verify.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub enum Algorithm {
    /// RSASSA-PKCS1-v1_5 with SHA-256, 2048–8192-bit keys.
    Rs256,
    /// ECDSA on P-256 with SHA-256, signature `r‖s`.
    Es256,
}

impl Algorithm {
    /// From a JWS `alg` name: `RS256` or `ES256`, nothing else.
    pub fn from_name(name: &str) -> Option<Self> {
        match name {
            "RS256" => Some(Self::Rs256),
            "ES256" => Some(Self::Es256),
            _ => None,
        }
    }

    pub fn name(self) -> &'static str {
        match self {
            Self::Rs256 => "RS256",
            Self::Es256 => "ES256",
        }
    }
}

impl std::fmt::Display for Algorithm {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(self.name())
    }
}

#[derive(Clone, PartialEq, Eq)]
enum Material {
    /// Modulus and exponent, big-endian, without leading zeros.
    Rsa { n: Vec<u8>, e: Vec<u8> },
    /// Uncompressed SEC1 point `0x04 ‖ x ‖ y`.
    Ec { point: [u8; 65] },
}

/// One usable key of an issuer, with the one algorithm it verifies.
#[derive(Clone, PartialEq, Eq)]
pub struct IssuerKey {
    kid: String,
    algorithm: Algorithm,
    material: Material,
}

impl std::fmt::Debug for IssuerKey {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("IssuerKey")
            .field("kid", &self.kid)
            .field("algorithm", &self.algorithm)
            .finish()
    }
}

impl IssuerKey {
    pub fn kid(&self) -> &str {
        &self.kid
    }

    /// The only algorithm this key verifies.
    pub fn algorithm(&self) -> Algorithm {
        self.algorithm
    }

    /// The modulus size of an RSA key, in bits.
    pub fn rsa_bits(&self) -> Option<usize> {
        match &self.material {
            Material::Rsa { n, .. } => Some(bit_length(n)),
            Material::Ec { .. } => None,
        }
    }

    /// Whether `signature` is this key's `algorithm` signature of `message`.
    /// False, without any cryptography, when `algorithm` is not the key's.
    pub fn verifies(&self, algorithm: Algorithm, message: &[u8], signature: &[u8]) -> bool {
        if algorithm != self.algorithm {
            return false;
        }
        match &self.material {
            Material::Rsa { n, e } => RsaPublicKeyComponents { n, e }
                .verify(&RSA_PKCS1_2048_8192_SHA256, message, signature)
                .is_ok(),
            Material::Ec { point } => {
                signature.len() == 64
                    && UnparsedPublicKey::new(&ECDSA_P256_SHA256_FIXED, point)
                        .verify(message, signature)
                        .is_ok()
            }
        }
    }

    /// Reads one JWK (a JSON object). `Err` names, for the log, why the key
    /// cannot be used; it never contains key material.
    pub fn from_jwk(jwk: &Map<String, Value>) -> Result<Self, SkipReason> {
        let text = |name: &'static str| -> Result<Option<&str>, SkipReason> {
            match jwk.get(name) {
                None | Some(Value::Null) => Ok(None),
                Some(Value::String(s)) => Ok(Some(s)),
                Some(_) => Err(SkipReason::Malformed(name)),
            }
        };
        let kid = text("kid")?.ok_or(SkipReason::NoKid)?;
        if kid.is_empty() || kid.len() > MAX_KID_BYTES {
            return Err(SkipReason::NoKid);
        }
        if let Some(usage) = text("use")? {
            if usage != "sig" {
                return Err(SkipReason::NotForSignatures);
            }
        }
        if let Some(ops) = jwk.get("key_ops") {
            let verifies = ops
                .as_array()
                .is_some_and(|ops| ops.iter().any(|op| op == "verify"));
            if !verifies {
                return Err(SkipReason::NotForSignatures);
            }
        }
        let declared = text("alg")?;
        let (algorithm, material) = match text("kty")? {
            Some("RSA") => {
                if declared.is_some_and(|alg| alg != "RS256") {
                    return Err(SkipReason::Algorithm);
                }
                let n = strip_leading_zeros(member(jwk, "n")?);
                let e = strip_leading_zeros(member(jwk, "e")?);
                let bits = bit_length(&n);
                if !(MIN_RSA_BITS..=MAX_RSA_BITS).contains(&bits) {
                    return Err(SkipReason::RsaSize(bits));
                }
                // ring takes exponents from 3 to 2^33 - 1; anything else is
                // not a key a provider publishes.
                if e.is_empty() || e.len() > 5 || e.last().is_some_and(|b| b & 1 == 0) {
                    return Err(SkipReason::Malformed("e"));
                }
                (Algorithm::Rs256, Material::Rsa { n, e })
            }
            Some("EC") => {
                if text("crv")? != Some("P-256") {
                    return Err(SkipReason::Curve);
                }
                if declared.is_some_and(|alg| alg != "ES256") {
                    return Err(SkipReason::Algorithm);
                }
                let x = member(jwk, "x")?;
                let y = member(jwk, "y")?;
                let mut point = [0u8; 65];
                point[0] = 0x04;
                match (x.len(), y.len()) {
                    (32, 32) => {
                        point[1..33].copy_from_slice(&x);
                        point[33..].copy_from_slice(&y);
                    }
                    (32, _) => return Err(SkipReason::Malformed("y")),
                    _ => return Err(SkipReason::Malformed("x")),
                }
                (Algorithm::Es256, Material::Ec { point })
            }
            Some(_) => return Err(SkipReason::KeyType),
            None => return Err(SkipReason::Malformed("kty")),
        };
        Ok(Self {
            kid: kid.to_owned(),
            algorithm,
            material,
        })
    }

    /// An RS256 key from its modulus and exponent (big-endian), as `ring`
    /// hands them out. For tests and tools; issuers' keys come from
    /// [`KeySet::parse`].
    pub fn rsa(kid: impl Into<String>, n: &[u8], e: &[u8]) -> Result<Self, SkipReason> {
        let mut jwk = Map::new();
        jwk.insert("kty".into(), "RSA".into());
        jwk.insert("kid".into(), Value::String(kid.into()));
        jwk.insert("n".into(), URL_SAFE_NO_PAD.encode(n).into());
        jwk.insert("e".into(), URL_SAFE_NO_PAD.encode(e).into());
        Self::from_jwk(&jwk)
    }
}

/// Why a JWK was skipped. Safe to log: no key material.
#[derive(Clone, Debug, PartialEq, Eq, thiserror::Error)]
pub enum SkipReason {
    #[error("no usable kid")]
    NoKid,
    #[error("not a signature key (use or key_ops)")]
    NotForSignatures,
    #[error("kty is neither RSA nor EC")]
    KeyType,
    #[error("curve is not P-256")]
    Curve,
    #[error("alg is not the one its key type verifies (RS256 for RSA, ES256 for EC P-256)")]
    Algorithm,
    #[error("RSA modulus of {0} bits, outside 2048 to 8192")]
    RsaSize(usize),
    #[error("member {0} is missing or malformed")]
    Malformed(&'static str),
    #[error("kid appears more than once")]
    DuplicateKid,
}

/// Why a JWKS document was refused as a whole. Safe to log.
#[derive(Clone, Debug, PartialEq, Eq, thiserror::Error)]
pub enum JwksError {
    #[error("not a JSON object with a \"keys\" array")]
    NotJwks,
    #[error("more than {MAX_JWKS_KEYS} keys")]
    TooManyKeys,
}

/// The usable keys of one JWKS document, by `kid`.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct KeySet {
    keys: Vec<IssuerKey>,
    skipped: Vec<(Option<String>, SkipReason)>,
}

impl KeySet {
    /// Reads a JWKS document: `{"keys":[…]}`. Unusable keys are skipped;
    /// only a document that is not a JWKS at all, or holds more than
    /// [`MAX_JWKS_KEYS`] keys, is an error.
    pub fn parse(document: &[u8]) -> Result<Self, JwksError> {
        #[derive(serde::Deserialize)]
        struct Document {
            keys: Vec<Value>,
        }
        let document: Document =
            serde_json::from_slice(document).map_err(|_| JwksError::NotJwks)?;
        if document.keys.len() > MAX_JWKS_KEYS {
            return Err(JwksError::TooManyKeys);
        }
        let mut set = Self::default();
        for jwk in &document.keys {
            let kid = jwk
                .get("kid")
                .and_then(Value::as_str)
                .filter(|kid| kid.len() <= MAX_KID_BYTES)
                .map(str::to_owned);
            let Some(object) = jwk.as_object() else {
                set.skipped.push((kid, SkipReason::Malformed("key")));
                continue;
            };
            match IssuerKey::from_jwk(object) {
                Ok(key) => set.keys.push(key),
                Err(reason) => set.skipped.push((kid, reason)),
            }
        }
        let mut duplicated: Vec<String> = Vec::new();
        for (i, key) in set.keys.iter().enumerate() {
            if set.keys[..i].iter().any(|k| k.kid == key.kid) && !duplicated.contains(&key.kid) {
                duplicated.push(key.kid.clone());
            }
        }
        if !duplicated.is_empty() {
            set.keys.retain(|k| !duplicated.contains(&k.kid));
            set.skipped.extend(
                duplicated
                    .into_iter()
                    .map(|kid| (Some(kid), SkipReason::DuplicateKid)),
            );
        }
        Ok(set)
    }

    /// A set of the given keys (tests, tools). Later keys with a `kid`
    /// already present are dropped.
    pub fn from_keys(keys: impl IntoIterator<Item = IssuerKey>) -> Self {
        let mut set = Self::default();
        for key in keys {
            if set.get(&key.kid).is_none() {
                set.keys.push(key);
            }
        }
        set
    }

    pub fn get(&self, kid: &str) -> Option<&IssuerKey> {
        self.keys.iter().find(|k| k.kid == kid)
    }

    pub fn keys(&self) -> &[IssuerKey] {
        &self.keys
    }

    pub fn len(&self) -> usize {
        self.keys.len()
    }

    pub fn is_empty(&self) -> bool {
        self.keys.is_empty()
    }

    /// The keys that were skipped, with their `kid` when they had one.
    pub fn skipped(&self) -> &[(Option<String>, SkipReason)] {
        &self.skipped
    }
}

/// A base64url member of a JWK (padding tolerated), decoded.
fn member(jwk: &Map<String, Value>, name: &'static str) -> Result<Vec<u8>, SkipReason> {
    let text = jwk
        .get(name)
        .and_then(Value::as_str)
        .ok_or(SkipReason::Malformed(name))?;
    URL_SAFE_NO_PAD
        .decode(text.trim_end_matches('='))
        .map_err(|_| SkipReason::Malformed(name))
}

fn strip_leading_zeros(mut bytes: Vec<u8>) -> Vec<u8> {
    let zeros = bytes.iter().take_while(|b| **b == 0).count();
    bytes.drain(..zeros);
    bytes
}

/// Bits of a big-endian magnitude without leading zero bytes.
fn bit_length(bytes: &[u8]) -> usize {
    match bytes.first() {
        None => 0,
        Some(first) => bytes.len() * 8 - first.leading_zeros() as usize,
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    fn b64(bytes: &[u8]) -> String {
        URL_SAFE_NO_PAD.encode(bytes)
    }

    fn rsa_jwk(bits: usize) -> Value {
        let mut n = vec![0xC5u8; bits / 8];
        n[0] = 0x80 | 0x45;
        json!({"kty":"RSA","kid":"r","use":"sig","alg":"RS256","n":b64(&n),"e":"AQAB"})
    }

    fn ec_jwk() -> Value {
        json!({"kty":"EC","crv":"P-256","kid":"e","x":b64(&[1; 32]),"y":b64(&[2; 32])})
    }

    fn parse(keys: Vec<Value>) -> KeySet {
        KeySet::parse(&serde_json::to_vec(&json!({ "keys": keys })).unwrap()).unwrap()
    }

    #[test]
    fn each_key_gets_the_algorithm_its_type_declares() {
        let mut no_alg = rsa_jwk(2048);
        no_alg["alg"] = Value::Null;
        no_alg["kid"] = json!("r2");
        let set = parse(vec![rsa_jwk(2048), no_alg, ec_jwk()]);
        let algs: Vec<_> = set
            .keys()
            .iter()
            .map(|k| (k.kid(), k.algorithm()))
            .collect();
        assert_eq!(
            algs,
            [
                ("r", Algorithm::Rs256),
                ("r2", Algorithm::Rs256),
                ("e", Algorithm::Es256)
            ]
        );
        assert_eq!(set.get("r").and_then(IssuerKey::rsa_bits), Some(2048));
        assert!(set.skipped().is_empty());
    }

    #[test]
    fn unusable_keys_are_skipped_with_their_reason() {
        let with = |mut v: Value, k: &str, x: Value| {
            v[k] = x;
            v
        };
        let cases = vec![
            (
                with(rsa_jwk(1024), "kid", json!("small")),
                SkipReason::RsaSize(1024),
            ),
            (
                with(rsa_jwk(2040), "kid", json!("odd")),
                SkipReason::RsaSize(2040),
            ),
            (
                with(rsa_jwk(2048), "e", json!("AQAA")),
                SkipReason::Malformed("e"),
            ),
            (
                with(rsa_jwk(2048), "use", json!("enc")),
                SkipReason::NotForSignatures,
            ),
            (
                with(rsa_jwk(2048), "alg", json!("RS384")),
                SkipReason::Algorithm,
            ),
            (
                with(rsa_jwk(2048), "alg", json!("HS256")),
                SkipReason::Algorithm,
            ),
            (with(ec_jwk(), "alg", json!("RS256")), SkipReason::Algorithm),
            (with(ec_jwk(), "crv", json!("P-384")), SkipReason::Curve),
            (
                with(ec_jwk(), "x", json!(b64(&[1; 31]))),
                SkipReason::Malformed("x"),
            ),
            (
                with(ec_jwk(), "key_ops", json!(["encrypt"])),
                SkipReason::NotForSignatures,
            ),
            (
                json!({"kty":"oct","kid":"h","k":"c2VjcmV0"}),
                SkipReason::KeyType,
            ),
            (
                json!({"kty":"OKP","kid":"o","crv":"Ed25519","x":"AA"}),
                SkipReason::KeyType,
            ),
            (with(ec_jwk(), "kid", Value::Null), SkipReason::NoKid),
        ];
        for (jwk, reason) in cases {
            let set = parse(vec![jwk.clone()]);
            assert!(set.is_empty(), "{jwk}");
            assert_eq!(set.skipped()[0].1, reason, "{jwk}");
        }
    }

    #[test]
    fn a_duplicated_kid_names_no_key() {
        let mut second = ec_jwk();
        second["kid"] = json!("r");
        let set = parse(vec![rsa_jwk(2048), second, ec_jwk()]);
        assert_eq!(set.len(), 1);
        assert!(set.get("r").is_none());
        assert!(set.get("e").is_some());
        assert_eq!(
            set.skipped(),
            [(Some("r".to_owned()), SkipReason::DuplicateKid)]
        );
    }

    #[test]
    fn documents_that_are_not_a_jwks_are_refused() {
        for doc in [&b""[..], b"[]", b"{}", b"{\"keys\":{}}", b"null", b"\xff"] {
            assert_eq!(KeySet::parse(doc), Err(JwksError::NotJwks));
        }
        let many = json!({ "keys": vec![ec_jwk(); MAX_JWKS_KEYS + 1] });
        assert_eq!(
            KeySet::parse(&serde_json::to_vec(&many).unwrap()),
            Err(JwksError::TooManyKeys)
        );
    }

    #[test]
    fn a_key_never_verifies_another_algorithm() {
        let set = parse(vec![ec_jwk()]);
        let key = set.get("e").unwrap();
        assert!(!key.verifies(Algorithm::Rs256, b"m", &[0; 256]));
        assert!(!key.verifies(Algorithm::Es256, b"m", &[0; 64]));
        assert_eq!(Algorithm::from_name("HS256"), None);
        assert_eq!(Algorithm::from_name("none"), None);
        assert_eq!(Algorithm::from_name("PS256"), None);
        assert_eq!(Algorithm::from_name("es256"), None);
    }
}
