// SPDX-License-Identifier: GPL-2.0

//! X.509 certificate chains for SPDM (DSP0274 1.2 §10.7, "Certificate chain format"):
//! generation for the emulated device (root CA -> device leaf, ECDSA P-384) and
//! verification of a received chain against a configured trust anchor.
//!
//! The SPDM certificate chain is `Length (u16) | Reserved (u16) | RootHash (H) |
//! Certificates (DER, root first)`; `Length` covers the whole structure. Certificates are
//! built and parsed with `x509-cert`/`der`, signed and checked with `p384`.

use std::str::FromStr;
use std::time::Duration;

use der::asn1::{BitString, UtcTime};
use der::{Encode, Reader as _};
use p384::ecdsa::{DerSignature, VerifyingKey};
use x509_cert::certificate::{Certificate, TbsCertificate, Version as CertVersion};
use x509_cert::ext::pkix::BasicConstraints;
use x509_cert::ext::{AsExtension, Extension};
use x509_cert::name::Name;
use x509_cert::serial_number::SerialNumber;
use x509_cert::spki::{AlgorithmIdentifierOwned, ObjectIdentifier, SubjectPublicKeyInfoOwned};
use x509_cert::time::{Time, Validity};

use super::crypto::{self, KeyPair, HASH_LEN};

/// ecdsa-with-SHA384 (RFC 5758).
const ECDSA_SHA384: ObjectIdentifier = ObjectIdentifier::new_unwrap("1.2.840.10045.4.3.3");

/// Size of the SPDM chain header before the certificates: Length, Reserved, RootHash.
pub const CHAIN_HEADER_LEN: usize = 4 + HASH_LEN;

/// Why a certificate chain could not be built or was rejected.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum CertError {
    /// DER encoding or decoding failed.
    #[error("DER: {0}")]
    Der(String),
    /// The SPDM chain structure is malformed (length, root hash).
    #[error("malformed SPDM certificate chain: {0}")]
    Malformed(&'static str),
    /// The chain's root is not the trust anchor.
    #[error("root certificate is not the trust anchor")]
    UntrustedRoot,
    /// A certificate's signature does not verify with its issuer's key.
    #[error("certificate {index} is not signed by its issuer")]
    BadSignature {
        /// Position in the chain, root = 0.
        index: usize,
    },
    /// A certificate's issuer is not the subject of the previous certificate.
    #[error("certificate {index} issuer does not match")]
    IssuerMismatch {
        /// Position in the chain.
        index: usize,
    },
    /// A public key is not a P-384 key.
    #[error("certificate {index} key is not ECDSA P-384")]
    BadKey {
        /// Position in the chain.
        index: usize,
    },
}

fn der_err(e: der::Error) -> CertError {
    CertError::Der(e.to_string())
}

/// A device identity: its certificate chain (DER certificates) and the leaf key.
#[derive(Debug, Clone)]
pub struct Identity {
    /// Root CA certificate, DER: the trust anchor to give the requester.
    pub root_der: Vec<u8>,
    /// The SPDM certificate chain of slot 0.
    pub spdm_chain: Vec<u8>,
    /// The device (leaf) key that signs SPDM messages.
    pub leaf_key: KeyPair,
}

/// id-ecPublicKey (RFC 5480).
const EC_PUBLIC_KEY: ObjectIdentifier = ObjectIdentifier::new_unwrap("1.2.840.10045.2.1");
/// secp384r1 (RFC 5480).
const SECP384R1: ObjectIdentifier = ObjectIdentifier::new_unwrap("1.3.132.0.34");

fn spki_of(key: &KeyPair) -> Result<SubjectPublicKeyInfoOwned, CertError> {
    let point = key.public().to_encoded_point(false);
    Ok(SubjectPublicKeyInfoOwned {
        algorithm: AlgorithmIdentifierOwned {
            oid: EC_PUBLIC_KEY,
            parameters: Some(der::Any::from(&SECP384R1)),
        },
        subject_public_key: BitString::from_bytes(point.as_bytes()).map_err(der_err)?,
    })
}

fn make_cert(
    serial: u8,
    issuer: &Name,
    subject: &Name,
    subject_key: &KeyPair,
    issuer_key: &KeyPair,
    ca: bool,
) -> Result<Certificate, CertError> {
    let alg = AlgorithmIdentifierOwned {
        oid: ECDSA_SHA384,
        parameters: None,
    };
    // 2024-01-01 to 2124-01-01: fixed, so chains are reproducible given the keys.
    let nb = UtcTime::from_unix_duration(Duration::from_secs(1_704_067_200)).map_err(der_err)?;
    let na = der::asn1::GeneralizedTime::from_unix_duration(Duration::from_secs(4_859_827_200))
        .map_err(der_err)?;
    let bc = BasicConstraints {
        ca,
        path_len_constraint: None,
    };
    let ext: Extension = bc.to_extension(subject, &[]).map_err(der_err)?;
    let tbs = TbsCertificate {
        version: CertVersion::V3,
        serial_number: SerialNumber::new(&[serial]).map_err(der_err)?,
        signature: alg.clone(),
        issuer: issuer.clone(),
        validity: Validity {
            not_before: Time::UtcTime(nb),
            not_after: Time::GeneralTime(na),
        },
        subject: subject.clone(),
        subject_public_key_info: spki_of(subject_key)?,
        issuer_unique_id: None,
        subject_unique_id: None,
        extensions: Some(vec![ext]),
    };
    let tbs_der = tbs.to_der().map_err(der_err)?;
    let sig: DerSignature = {
        use p384::ecdsa::signature::Signer;
        let s: p384::ecdsa::Signature = issuer_key.signing_key().sign(&tbs_der);
        s.to_der()
    };
    Ok(Certificate {
        tbs_certificate: tbs,
        signature_algorithm: alg,
        signature: BitString::from_bytes(sig.as_bytes()).map_err(der_err)?,
    })
}

/// Wraps DER certificates (root first) into the SPDM chain format.
pub fn spdm_chain(certs: &[Vec<u8>]) -> Result<Vec<u8>, CertError> {
    let root = certs
        .first()
        .ok_or(CertError::Malformed("no certificate"))?;
    let body: usize = certs.iter().map(Vec::len).sum();
    let total = CHAIN_HEADER_LEN + body;
    let len = u16::try_from(total).map_err(|_| CertError::Malformed("chain too long"))?;
    let mut out = Vec::with_capacity(total);
    out.extend_from_slice(&len.to_le_bytes());
    out.extend_from_slice(&[0, 0]);
    out.extend_from_slice(&crypto::sha384(root));
    for c in certs {
        out.extend_from_slice(c);
    }
    Ok(out)
}

impl Identity {
    /// Generates a fresh root CA and device leaf, both P-384.
    pub fn generate(device_name: &str) -> Result<Self, CertError> {
        let root_key = KeyPair::generate();
        let leaf_key = KeyPair::generate();
        let root_name =
            Name::from_str("CN=tsm-dsm emulated root CA,O=tsm-vfio").map_err(der_err)?;
        let leaf_name = Name::from_str(&format!("CN={device_name},O=tsm-vfio emulated DSM"))
            .map_err(der_err)?;
        let root = make_cert(1, &root_name, &root_name, &root_key, &root_key, true)?;
        let leaf = make_cert(2, &root_name, &leaf_name, &leaf_key, &root_key, false)?;
        let root_der = root.to_der().map_err(der_err)?;
        let leaf_der = leaf.to_der().map_err(der_err)?;
        let spdm_chain = spdm_chain(&[root_der.clone(), leaf_der])?;
        Ok(Self {
            root_der,
            spdm_chain,
            leaf_key,
        })
    }
}

/// Checks that `der` is one well-formed certificate (e.g. a configured trust anchor).
pub fn check_certificate(der: &[u8]) -> Result<(), CertError> {
    use der::Decode;
    Certificate::from_der(der).map(|_| ()).map_err(der_err)
}

/// Files of a saved identity.
const ROOT_DER: &str = "root.der";
const ROOT_PEM: &str = "root.pem";
const CHAIN: &str = "chain.spdm";
const LEAF_KEY: &str = "leaf.key";

impl Identity {
    /// Loads the identity saved in `dir`, or generates one and saves it there
    /// (`root.der`, `root.pem`: the trust anchor; `chain.spdm`: the SPDM chain;
    /// `leaf.key`: the device key's raw scalar, mode 0600).
    pub fn load_or_create(dir: &std::path::Path, device_name: &str) -> Result<Self, CertError> {
        let io = |e: std::io::Error| CertError::Der(format!("{}: {e}", dir.display()));
        if dir.join(LEAF_KEY).exists() {
            let root_der = std::fs::read(dir.join(ROOT_DER)).map_err(io)?;
            let spdm_chain = std::fs::read(dir.join(CHAIN)).map_err(io)?;
            let key = std::fs::read(dir.join(LEAF_KEY)).map_err(io)?;
            let leaf_key = KeyPair::from_bytes(&key).map_err(|_| CertError::BadKey { index: 1 })?;
            let leaf = verify_chain(&spdm_chain, &root_der)?;
            if leaf != leaf_key.public() {
                return Err(CertError::Malformed("leaf.key does not match the chain"));
            }
            return Ok(Self {
                root_der,
                spdm_chain,
                leaf_key,
            });
        }
        let id = Self::generate(device_name)?;
        std::fs::create_dir_all(dir).map_err(io)?;
        std::fs::write(dir.join(ROOT_DER), &id.root_der).map_err(io)?;
        std::fs::write(dir.join(ROOT_PEM), pem_from_der(&id.root_der)?).map_err(io)?;
        std::fs::write(dir.join(CHAIN), &id.spdm_chain).map_err(io)?;
        {
            use std::io::Write;
            use std::os::unix::fs::OpenOptionsExt;
            let mut f = std::fs::OpenOptions::new()
                .write(true)
                .create(true)
                .truncate(true)
                .mode(0o600)
                .open(dir.join(LEAF_KEY))
                .map_err(io)?;
            f.write_all(&id.leaf_key.to_bytes()).map_err(io)?;
        }
        Ok(id)
    }
}

fn key_of(cert: &Certificate, index: usize) -> Result<VerifyingKey, CertError> {
    let spki = &cert.tbs_certificate.subject_public_key_info;
    let bytes = spki
        .subject_public_key
        .as_bytes()
        .ok_or(CertError::BadKey { index })?;
    VerifyingKey::from_sec1_bytes(bytes).map_err(|_| CertError::BadKey { index })
}

fn check_signed_by(
    cert: &Certificate,
    issuer: &VerifyingKey,
    index: usize,
) -> Result<(), CertError> {
    use p384::ecdsa::signature::Verifier;
    if cert.signature_algorithm.oid != ECDSA_SHA384 {
        return Err(CertError::BadSignature { index });
    }
    let tbs = cert.tbs_certificate.to_der().map_err(der_err)?;
    let sig_bytes = cert
        .signature
        .as_bytes()
        .ok_or(CertError::BadSignature { index })?;
    let sig = p384::ecdsa::Signature::from_der(sig_bytes)
        .map_err(|_| CertError::BadSignature { index })?;
    crypto::timed(|| issuer.verify(&tbs, &sig)).map_err(|_| CertError::BadSignature { index })
}

/// Verifies an SPDM certificate chain against `anchor_der` (the trusted root
/// certificate) and returns the leaf's public key.
///
/// Checks: the Length field, the RootHash against the first certificate, that the first
/// certificate is the anchor, and that every certificate names and is signed by the one
/// before it.
pub fn verify_chain(chain: &[u8], anchor_der: &[u8]) -> Result<VerifyingKey, CertError> {
    let len = chain
        .get(..2)
        .and_then(|b| <[u8; 2]>::try_from(b).ok())
        .map(|b| usize::from(u16::from_le_bytes(b)))
        .ok_or(CertError::Malformed("short"))?;
    if len != chain.len() || len <= CHAIN_HEADER_LEN {
        return Err(CertError::Malformed("length"));
    }
    let root_hash = chain
        .get(4..CHAIN_HEADER_LEN)
        .ok_or(CertError::Malformed("short"))?;
    let mut rest = chain
        .get(CHAIN_HEADER_LEN..)
        .ok_or(CertError::Malformed("short"))?;
    let mut certs = Vec::new();
    while !rest.is_empty() {
        let mut reader = der::SliceReader::new(rest).map_err(der_err)?;
        let cert: Certificate = der::Decode::decode(&mut reader).map_err(der_err)?;
        let used = usize::try_from(u32::from(reader.position()))
            .map_err(|_| CertError::Malformed("length"))?;
        let raw = rest.get(..used).ok_or(CertError::Malformed("length"))?;
        certs.push((cert, raw));
        rest = rest.get(used..).ok_or(CertError::Malformed("length"))?;
        if certs.len() > 8 {
            return Err(CertError::Malformed("too many certificates"));
        }
    }
    let (root, root_raw) = certs
        .first()
        .ok_or(CertError::Malformed("no certificate"))?;
    if crypto::sha384(root_raw).as_slice() != root_hash {
        return Err(CertError::Malformed("root hash"));
    }
    if *root_raw != anchor_der {
        return Err(CertError::UntrustedRoot);
    }
    let mut issuer_key = key_of(root, 0)?;
    check_signed_by(root, &issuer_key, 0)?;
    let mut issuer_name = &root.tbs_certificate.subject;
    for (i, (c, _)) in certs.iter().enumerate().skip(1) {
        if &c.tbs_certificate.issuer != issuer_name {
            return Err(CertError::IssuerMismatch { index: i });
        }
        check_signed_by(c, &issuer_key, i)?;
        issuer_key = key_of(c, i)?;
        issuer_name = &c.tbs_certificate.subject;
    }
    Ok(issuer_key)
}

/// Reads the DER bytes of a certificate from PEM or DER file contents.
pub fn der_from_file_bytes(bytes: &[u8]) -> Result<Vec<u8>, CertError> {
    if bytes.starts_with(b"-----BEGIN") {
        let (_label, der) =
            der::pem::decode_vec(bytes).map_err(|e| CertError::Der(e.to_string()))?;
        Ok(der)
    } else {
        Ok(bytes.to_vec())
    }
}

/// Encodes DER as a PEM certificate.
pub fn pem_from_der(der: &[u8]) -> Result<String, CertError> {
    der::pem::encode_string("CERTIFICATE", der::pem::LineEnding::LF, der)
        .map_err(|e| CertError::Der(e.to_string()))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn generated_chain_verifies_against_its_root() {
        let id = Identity::generate("dev").unwrap();
        let key = verify_chain(&id.spdm_chain, &id.root_der).unwrap();
        assert_eq!(key, id.leaf_key.public());
    }

    #[test]
    fn other_root_is_untrusted_and_tampering_is_caught() {
        let a = Identity::generate("a").unwrap();
        let b = Identity::generate("b").unwrap();
        assert_eq!(
            verify_chain(&a.spdm_chain, &b.root_der),
            Err(CertError::UntrustedRoot)
        );
        let mut bad = a.spdm_chain.clone();
        let n = bad.len();
        bad[n - 5] ^= 0x40;
        assert!(verify_chain(&bad, &a.root_der).is_err());
        assert!(verify_chain(&a.spdm_chain[..n - 1], &a.root_der).is_err());
        assert!(verify_chain(&[], &a.root_der).is_err());
    }

    #[test]
    fn identity_saved_and_reloaded() {
        let dir = std::env::temp_dir().join(format!("tsm-id-{}", std::process::id()));
        let _ = std::fs::remove_dir_all(&dir);
        let a = Identity::load_or_create(&dir, "x").unwrap();
        let b = Identity::load_or_create(&dir, "x").unwrap();
        assert_eq!(a.spdm_chain, b.spdm_chain);
        assert_eq!(a.leaf_key.public(), b.leaf_key.public());
        let pem = std::fs::read(dir.join("root.pem")).unwrap();
        assert_eq!(der_from_file_bytes(&pem).unwrap(), a.root_der);
        std::fs::remove_dir_all(&dir).unwrap();
    }

    #[test]
    fn pem_round_trip() {
        let id = Identity::generate("p").unwrap();
        let pem = pem_from_der(&id.root_der).unwrap();
        assert_eq!(der_from_file_bytes(pem.as_bytes()).unwrap(), id.root_der);
        assert_eq!(der_from_file_bytes(&id.root_der).unwrap(), id.root_der);
    }
}
