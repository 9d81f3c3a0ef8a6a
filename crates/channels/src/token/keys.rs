//! P-256 public keys: read from what KMS hands out (SubjectPublicKeyInfo,
//! DER), named by their RFC 7638 thumbprint, published as JWKs, and used to
//! verify ES256 signatures. Also the conversion of a DER ECDSA signature (what
//! KMS `Sign` returns) to the JWS form `r‖s`.

use base64::engine::general_purpose::{STANDARD, URL_SAFE_NO_PAD};
use base64::Engine as _;
use ring::signature::{UnparsedPublicKey, ECDSA_P256_SHA256_FIXED};
use serde::Serialize;

/// The DER prefix of every P-256 SubjectPublicKeyInfo: SEQUENCE {
/// SEQUENCE { OID id-ecPublicKey, OID prime256v1 }, BIT STRING (66 bytes) }.
/// An uncompressed point (`0x04`, x, y) follows it.
const P256_SPKI_PREFIX: [u8; 26] = [
    0x30, 0x59, 0x30, 0x13, 0x06, 0x07, 0x2a, 0x86, 0x48, 0xce, 0x3d, 0x02, 0x01, 0x06, 0x08, 0x2a,
    0x86, 0x48, 0xce, 0x3d, 0x03, 0x01, 0x07, 0x03, 0x42, 0x00,
];

/// Length of an uncompressed SEC1 point on P-256.
const POINT_LEN: usize = 65;

/// Length of an ES256 signature in JWS form: r and s, 32 bytes each.
pub const SIGNATURE_LEN: usize = 64;

/// Why a public key was refused. The message is safe to log.
#[derive(Clone, Debug, PartialEq, Eq, thiserror::Error)]
pub enum KeyError {
    #[error("not base64")]
    Base64,
    #[error("not a P-256 (ECC_NIST_P256) SubjectPublicKeyInfo")]
    NotP256,
    #[error("not an uncompressed P-256 point")]
    Point,
}

/// A P-256 public key that verifies ES256 signatures.
#[derive(Clone, PartialEq, Eq)]
pub struct PublicKey {
    point: [u8; POINT_LEN],
    kid: String,
}

impl std::fmt::Debug for PublicKey {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("PublicKey").field("kid", &self.kid).finish()
    }
}

impl PublicKey {
    /// From an uncompressed SEC1 point (`0x04 ‖ x ‖ y`), as `ring` gives it.
    pub fn from_sec1(point: &[u8]) -> Result<Self, KeyError> {
        let point: [u8; POINT_LEN] = point.try_into().map_err(|_| KeyError::Point)?;
        if point[0] != 0x04 {
            return Err(KeyError::Point);
        }
        let kid = thumbprint(&point);
        Ok(Self { point, kid })
    }

    /// From a DER SubjectPublicKeyInfo, as KMS `GetPublicKey` returns it.
    pub fn from_spki_der(der: &[u8]) -> Result<Self, KeyError> {
        let point = der
            .strip_prefix(P256_SPKI_PREFIX.as_slice())
            .ok_or(KeyError::NotP256)?;
        Self::from_sec1(point)
    }

    /// From base64 (standard alphabet) DER: the `public_key` attribute of
    /// Terraform's `aws_kms_public_key`, and the format of `TOKEN_PUBLIC_KEYS`.
    pub fn from_spki_base64(text: &str) -> Result<Self, KeyError> {
        let der = STANDARD.decode(text.trim()).map_err(|_| KeyError::Base64)?;
        Self::from_spki_der(&der)
    }

    /// The DER SubjectPublicKeyInfo.
    pub fn to_spki_der(&self) -> Vec<u8> {
        [P256_SPKI_PREFIX.as_slice(), self.point.as_slice()].concat()
    }

    /// [`Self::to_spki_der`] in standard base64.
    pub fn to_spki_base64(&self) -> String {
        STANDARD.encode(self.to_spki_der())
    }

    /// The key id: the RFC 7638 JWK thumbprint (SHA-256, base64url). It is
    /// derived from the key itself, so a signer and a verifier configured
    /// with the same key always agree on it.
    pub fn kid(&self) -> &str {
        &self.kid
    }

    /// The key as a JWK (RFC 7517/7518) for a JWKS document.
    pub fn jwk(&self) -> Jwk {
        let (x, y) = self.coordinates();
        Jwk {
            kty: "EC",
            crv: "P-256",
            kid: self.kid.clone(),
            use_: "sig",
            alg: super::ALGORITHM,
            x,
            y,
        }
    }

    /// Whether `signature` (`r‖s`) is this key's ES256 signature of `message`.
    pub fn verifies(&self, message: &[u8], signature: &[u8]) -> bool {
        UnparsedPublicKey::new(&ECDSA_P256_SHA256_FIXED, &self.point)
            .verify(message, signature)
            .is_ok()
    }

    fn coordinates(&self) -> (String, String) {
        let (x, y) = self.point[1..].split_at(32);
        (URL_SAFE_NO_PAD.encode(x), URL_SAFE_NO_PAD.encode(y))
    }
}

/// RFC 7638: SHA-256 of the required members in lexicographic order, no
/// white space, base64url.
fn thumbprint(point: &[u8; POINT_LEN]) -> String {
    let (x, y) = point[1..].split_at(32);
    let canonical = format!(
        r#"{{"crv":"P-256","kty":"EC","x":"{}","y":"{}"}}"#,
        URL_SAFE_NO_PAD.encode(x),
        URL_SAFE_NO_PAD.encode(y)
    );
    URL_SAFE_NO_PAD.encode(ring::digest::digest(
        &ring::digest::SHA256,
        canonical.as_bytes(),
    ))
}

/// One key of a JWKS document.
#[derive(Clone, Debug, PartialEq, Eq, Serialize)]
pub struct Jwk {
    pub kty: &'static str,
    pub crv: &'static str,
    pub kid: String,
    #[serde(rename = "use")]
    pub use_: &'static str,
    pub alg: &'static str,
    pub x: String,
    pub y: String,
}

/// A JWKS document (RFC 7517 §5): `{"keys":[…]}`.
#[derive(Clone, Debug, PartialEq, Eq, Serialize)]
pub struct Jwks {
    pub keys: Vec<Jwk>,
}

impl Jwks {
    pub fn new(keys: &[PublicKey]) -> Self {
        Self {
            keys: keys.iter().map(PublicKey::jwk).collect(),
        }
    }
}

/// The JWS form (`r‖s`, 64 bytes) of a DER ECDSA-Sig-Value
/// (`SEQUENCE { INTEGER r, INTEGER s }`), which KMS `Sign` returns. `None`
/// when `der` is not one for P-256: wrong tags or lengths, trailing bytes, or
/// an integer that is negative or longer than 32 bytes.
pub fn der_signature_to_jws(der: &[u8]) -> Option<[u8; SIGNATURE_LEN]> {
    let body = match der {
        // Short-form length: the whole value is at most 2 + 2 × 35 bytes.
        [0x30, len, body @ ..] if usize::from(*len) == body.len() && *len < 0x80 => body,
        _ => return None,
    };
    let (r, rest) = der_integer(body)?;
    let (s, rest) = der_integer(rest)?;
    if !rest.is_empty() {
        return None;
    }
    let mut out = [0u8; SIGNATURE_LEN];
    out[32 - r.len()..32].copy_from_slice(r);
    out[64 - s.len()..].copy_from_slice(s);
    Some(out)
}

/// One DER INTEGER at the start of `input`: its magnitude without the sign
/// padding (at most 32 bytes), and what follows it.
fn der_integer(input: &[u8]) -> Option<(&[u8], &[u8])> {
    let [0x02, len, rest @ ..] = input else {
        return None;
    };
    let len = usize::from(*len);
    if len == 0 || len >= 0x80 || rest.len() < len {
        return None;
    }
    let (value, rest) = rest.split_at(len);
    if value[0] & 0x80 != 0 {
        return None; // negative
    }
    let magnitude = match value {
        // A leading zero is allowed only to keep the sign bit clear.
        [0x00, next, ..] if next & 0x80 != 0 => &value[1..],
        [0x00, _, ..] => return None,
        _ => value,
    };
    (magnitude.len() <= 32).then_some((magnitude, rest))
}

#[cfg(test)]
mod tests {
    use super::*;

    /// A DER encoding of `r‖s`, the way KMS writes it.
    fn der(sig: &[u8; 64]) -> Vec<u8> {
        fn integer(bytes: &[u8]) -> Vec<u8> {
            let first = bytes
                .iter()
                .position(|b| *b != 0)
                .unwrap_or(bytes.len() - 1);
            let mut v = bytes[first..].to_vec();
            if v[0] & 0x80 != 0 {
                v.insert(0, 0);
            }
            let mut out = vec![0x02, v.len() as u8];
            out.extend(v);
            out
        }
        let mut body = integer(&sig[..32]);
        body.extend(integer(&sig[32..]));
        let mut out = vec![0x30, body.len() as u8];
        out.extend(body);
        out
    }

    #[test]
    fn der_signatures_convert_whatever_their_integers_look_like() {
        let mut cases = vec![[0x11u8; 64], [0xffu8; 64], [0u8; 64]];
        // Short r (leading zero bytes), high-bit s.
        let mut mixed = [0x7fu8; 64];
        mixed[..3].fill(0);
        mixed[32] = 0x80;
        cases.push(mixed);
        for _ in 0..500 {
            let mut sig = [0u8; 64];
            for b in &mut sig {
                *b = fastrand::u8(..);
            }
            if fastrand::bool() {
                sig[..fastrand::usize(0..4)].fill(0);
            }
            cases.push(sig);
        }
        for sig in cases {
            assert_eq!(der_signature_to_jws(&der(&sig)), Some(sig), "{sig:?}");
        }
    }

    #[test]
    fn bad_der_signatures_are_refused() {
        let good = der(&[0x22; 64]);
        assert!(der_signature_to_jws(&good).is_some());
        let mut trailing = good.clone();
        trailing.push(0);
        let mut wrong_tag = good.clone();
        wrong_tag[0] = 0x31;
        let mut negative = good.clone();
        negative[4] = 0x80; // r's first byte, no padding
        let long_r = {
            let mut body = vec![0x02, 33, 0x01];
            body.extend([0x22; 32]);
            body.extend([0x02, 1, 1]);
            let mut out = vec![0x30, body.len() as u8];
            out.extend(body);
            out
        };
        let needless_zero = [0x30, 0x06, 0x02, 0x02, 0x00, 0x01, 0x02, 0x01, 0x01];
        for bad in [
            &[][..],
            &[0x30][..],
            &good[..good.len() - 1],
            &trailing,
            &wrong_tag,
            &negative,
            &long_r,
            &needless_zero,
            &[0x30, 0x00][..],
        ] {
            assert_eq!(der_signature_to_jws(bad), None, "{bad:02x?}");
        }
    }

    #[test]
    fn keys_round_trip_through_spki_and_have_rfc7638_kids() {
        // RFC 7638 has no P-256 example; this one is checked against an
        // independent implementation (PyJWT's thumbprint) in the gateway tests.
        let mut point = [0u8; 65];
        point[0] = 4;
        point[1..].fill(7);
        let key = PublicKey::from_sec1(&point).expect("a point");
        let again = PublicKey::from_spki_base64(&key.to_spki_base64()).expect("round trip");
        assert_eq!(key, again);
        assert_eq!(key.kid().len(), 43); // 32 bytes, base64url without padding
        let jwk = key.jwk();
        assert_eq!(
            (jwk.kty, jwk.crv, jwk.use_, jwk.alg),
            ("EC", "P-256", "sig", "ES256")
        );
        assert_eq!(jwk.x, URL_SAFE_NO_PAD.encode([7u8; 32]));
    }

    #[test]
    fn other_keys_are_refused() {
        assert_eq!(
            PublicKey::from_spki_base64("not base64!"),
            Err(KeyError::Base64)
        );
        // An Ed25519 SubjectPublicKeyInfo.
        assert_eq!(
            PublicKey::from_spki_base64(
                "MCowBQYDK2VwAyEAGb9ECWmEzf6FQbrBZ9w7lshQhqowtrbLDFw4rXAxZuE="
            ),
            Err(KeyError::NotP256)
        );
        let mut compressed = P256_SPKI_PREFIX.to_vec();
        compressed.push(0x02);
        compressed.extend([1u8; 64]);
        assert_eq!(PublicKey::from_spki_der(&compressed), Err(KeyError::Point));
        assert_eq!(PublicKey::from_sec1(&[4u8; 64]), Err(KeyError::Point));
    }
}
