// SPDX-License-Identifier: GPL-2.0

//! The device's leaf public key out of an SPDM certificate chain, for
//! RMI_PDEV_SET_PUBKEY.
//!
//! On Arm CCA the RMM reads the device's certificate chain over SPDM and has the host
//! cache it; the host then hands the RMM the leaf certificate's public key
//! ([`super::rmi::PubkeyParams`]), with which the RMM checks the device's signatures.
//! [`leaf_public_key`] takes that key out of a chain in the SPDM format (DSP0274
//! "Certificate chain format": `Length` (u16, little-endian, the whole structure),
//! `Reserved` (u16), `RootHash` (the negotiated hash size), then the DER certificates,
//! root first and leaf last); [`certificate_public_key`] does the same for one DER
//! certificate. [`LeafKey::pubkey_params`] turns the key into the call's parameters.
//!
//! What it reads: the X.509 `Certificate` structure (RFC 5280 §4.1) down to the
//! `SubjectPublicKeyInfo` of the `TBSCertificate`. The keys it knows are
//! `id-ecPublicKey` on the named curves `prime256v1` (P-256) and `secp384r1` (P-384),
//! whose key is the uncompressed point `04 || X || Y` (RFC 5480 §2.1.1 and §2.2), and
//! `rsaEncryption` with NULL parameters and a 3072-bit modulus, whose key is the DER
//! `RSAPublicKey ::= SEQUENCE { modulus INTEGER, publicExponent INTEGER }` (RFC 8017
//! Appendix A.1.1). These are the RMM's three signature algorithms
//! ([`SignatureAlgo`]); any other algorithm or curve is an [`Error::UnknownCode`].
//!
//! What it does not do: it verifies no signature and no chain, checks no validity
//! period, name, extension or `RootHash`, and trusts nothing. The RMM only needs the key
//! that the device signs with; whether the chain (and so the key) is to be trusted is
//! the Realm's business, through attestation. Of the certificates before the leaf it
//! checks only that each is one DER SEQUENCE, to find the next; the leaf it walks in full,
//! element by element.
//!
//! The DER walker is minimal and strict: one-byte tags compared exactly (so a constructed
//! encoding where DER wants a primitive one is a wrong tag), definite lengths only, in
//! the short form or the shortest long form of at most four length bytes, no element
//! past its enclosing one, no bytes after the last element of a structure. Every
//! function is total: any input gives `Ok` or an [`Error`], with `Truncated` offsets
//! counted from the start of the caller's input.

use super::codec::{Error, Reader, Result};
use super::rmi::{PubkeyParams, SignatureAlgo};

/// The most certificates [`leaf_public_key`] accepts in one chain.
pub const MAX_CHAIN_CERTS: usize = 16;

/// The count [`leaf_public_key`] reports for a chain of more than [`MAX_CHAIN_CERTS`].
const TOO_MANY_CERTS: u64 = MAX_CHAIN_CERTS as u64 + 1;

/// The most length bytes of a long-form DER length.
const MAX_LENGTH_BYTES: usize = 4;

// DER tags (one byte: class, constructed bit, number).
const INTEGER: u8 = 0x02;
const BIT_STRING: u8 = 0x03;
const NULL: u8 = 0x05;
const OBJECT_IDENTIFIER: u8 = 0x06;
const SEQUENCE: u8 = 0x30;
/// `[0] EXPLICIT`: the TBSCertificate's version.
const VERSION: u8 = 0xa0;
/// The TBSCertificate's optional fields after the SubjectPublicKeyInfo, in order:
/// `issuerUniqueID [1] IMPLICIT`, `subjectUniqueID [2] IMPLICIT`, `extensions [3]
/// EXPLICIT`.
const TBS_TAIL: [(u8, &str); 3] = [
    (0x81, "x509.issuer_unique_id"),
    (0x82, "x509.subject_unique_id"),
    (0xa3, "x509.extensions"),
];

// The object identifiers this module knows, as the content octets of their DER encodings.

/// id-ecPublicKey, 1.2.840.10045.2.1 (RFC 5480).
const ID_EC_PUBLIC_KEY: &[u8] = &[0x2a, 0x86, 0x48, 0xce, 0x3d, 0x02, 0x01];
/// prime256v1 (secp256r1, P-256), 1.2.840.10045.3.1.7 (RFC 5480).
const PRIME256V1: &[u8] = &[0x2a, 0x86, 0x48, 0xce, 0x3d, 0x03, 0x01, 0x07];
/// secp384r1 (P-384), 1.3.132.0.34 (RFC 5480).
const SECP384R1: &[u8] = &[0x2b, 0x81, 0x04, 0x00, 0x22];
/// rsaEncryption, 1.2.840.113549.1.1.1 (RFC 8017).
const RSA_ENCRYPTION: &[u8] = &[0x2a, 0x86, 0x48, 0x86, 0xf7, 0x0d, 0x01, 0x01, 0x01];

/// The first byte of an uncompressed elliptic-curve point (SEC 1, RFC 5480 §2.2).
const UNCOMPRESSED_POINT: u8 = 0x04;

/// The public key of a certificate's SubjectPublicKeyInfo.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum LeafKey<'a> {
    /// id-ecPublicKey on P-256 or P-384: the uncompressed point.
    Ec {
        /// [`SignatureAlgo::EcdsaP256`] or [`SignatureAlgo::EcdsaP384`], by the curve.
        algo: SignatureAlgo,
        /// `04 || X || Y`: 65 bytes on P-256, 97 on P-384.
        point: &'a [u8],
    },
    /// rsaEncryption (3072-bit): modulus and exponent, big-endian, leading zeros stripped.
    Rsa {
        /// The modulus: 384 bytes, the first one not zero.
        modulus: &'a [u8],
        /// The public exponent: at least one byte, at most as many as the modulus.
        exponent: &'a [u8],
    },
}

impl<'a> LeafKey<'a> {
    /// The RMI_PDEV_SET_PUBKEY parameters of this key.
    pub fn pubkey_params(&self) -> PubkeyParams<'a> {
        match *self {
            Self::Ec { algo, point } => PubkeyParams::ecdsa(algo, point),
            Self::Rsa { modulus, exponent } => PubkeyParams::rsa(modulus, exponent),
        }
    }
}

/// The leaf (last) certificate's public key of an SPDM certificate chain
/// (DSP0274 CertChain: u16 LE total length, u16 reserved, root hash of `hash_len` bytes, then
/// DER certificates, root first, leaf last). Checks the length field equals `chain.len()`.
///
/// A `Length` other than `chain.len()` is an [`Error::LengthMismatch`]
/// (`"spdm.cert_chain.length"`); no certificate, or more than [`MAX_CHAIN_CERTS`], an
/// [`Error::InvalidField`] (`"spdm.cert_chain.certificates"`, carrying 0 or
/// `MAX_CHAIN_CERTS + 1`). `Reserved` and `RootHash` are skipped, not checked.
pub fn leaf_public_key(chain: &[u8], hash_len: usize) -> Result<LeafKey<'_>> {
    let mut r = Reader::new(chain);
    let declared = usize::from(r.u16()?);
    if declared != chain.len() {
        return Err(Error::LengthMismatch {
            field: "spdm.cert_chain.length",
            declared,
            actual: chain.len(),
        });
    }
    r.skip(2)?;
    r.skip(hash_len)?;
    let at = r.position();
    let mut certs = Der::new(r.rest(), at);
    let mut leaf = None;
    for _ in 0..MAX_CHAIN_CERTS {
        if certs.is_empty() {
            break;
        }
        leaf = Some(certs.whole(SEQUENCE, "x509.certificate")?);
    }
    if !certs.is_empty() {
        return Err(Error::InvalidField {
            field: "spdm.cert_chain.certificates",
            value: TOO_MANY_CERTS,
        });
    }
    let leaf = leaf.ok_or(Error::InvalidField {
        field: "spdm.cert_chain.certificates",
        value: 0,
    })?;
    certificate(leaf)
}

/// The same for one DER certificate.
///
/// `der` must be exactly one certificate: bytes after it are an
/// [`Error::TrailingBytes`].
pub fn certificate_public_key(der: &[u8]) -> Result<LeafKey<'_>> {
    certificate(Der::new(der, 0))
}

/// Walks `Certificate ::= SEQUENCE { tbsCertificate, signatureAlgorithm, signatureValue }`
/// (RFC 5280 §4.1), the whole of `outer`, and returns the key of its
/// SubjectPublicKeyInfo.
fn certificate(mut outer: Der<'_>) -> Result<LeafKey<'_>> {
    let mut cert = outer.element(SEQUENCE, "x509.certificate")?;
    outer.finish()?;
    let mut tbs = cert.element(SEQUENCE, "x509.tbs_certificate")?;
    if let Some(mut version) = tbs.optional(VERSION, "x509.version")? {
        version.element(INTEGER, "x509.version")?;
        version.finish()?;
    }
    tbs.element(INTEGER, "x509.serial_number")?;
    tbs.element(SEQUENCE, "x509.signature")?;
    tbs.element(SEQUENCE, "x509.issuer")?;
    tbs.element(SEQUENCE, "x509.validity")?;
    tbs.element(SEQUENCE, "x509.subject")?;
    let spki = tbs.element(SEQUENCE, "x509.subject_public_key_info")?;
    for (tag, field) in TBS_TAIL {
        tbs.optional(tag, field)?;
    }
    tbs.finish()?;
    cert.element(SEQUENCE, "x509.signature_algorithm")?;
    cert.element(BIT_STRING, "x509.signature_value")?;
    cert.finish()?;
    public_key(spki)
}

/// `SubjectPublicKeyInfo ::= SEQUENCE { algorithm AlgorithmIdentifier, subjectPublicKey
/// BIT STRING }` (the contents of the SEQUENCE), with `AlgorithmIdentifier ::= SEQUENCE
/// { algorithm OBJECT IDENTIFIER, parameters ANY OPTIONAL }`.
fn public_key(mut spki: Der<'_>) -> Result<LeafKey<'_>> {
    let mut alg = spki.element(SEQUENCE, "x509.spki.algorithm")?;
    let mut key = spki.element(BIT_STRING, "x509.spki.subject_public_key")?;
    spki.finish()?;
    let unused = key.byte()?;
    if unused != 0 {
        return Err(Error::InvalidField {
            field: "x509.spki.unused_bits",
            value: u64::from(unused),
        });
    }
    let oid = alg.element(OBJECT_IDENTIFIER, "x509.spki.algorithm.oid")?;
    match oid.bytes() {
        ID_EC_PUBLIC_KEY => {
            // ECParameters: only namedCurve is allowed in certificates (RFC 5480 §2.1.1).
            let curve = alg.element(OBJECT_IDENTIFIER, "x509.spki.ec_parameters")?;
            alg.finish()?;
            let algo = match curve.bytes() {
                PRIME256V1 => SignatureAlgo::EcdsaP256,
                SECP384R1 => SignatureAlgo::EcdsaP384,
                other => {
                    return Err(Error::UnknownCode {
                        space: "x509.ec_curve",
                        value: oid_code(other),
                    })
                }
            };
            ec_point(algo, key.bytes())
        }
        RSA_ENCRYPTION => {
            // The parameters are NULL (RFC 8017 Appendix A.1).
            alg.element(NULL, "x509.spki.rsa_parameters")?.finish()?;
            alg.finish()?;
            rsa_public_key(key)
        }
        other => Err(Error::UnknownCode {
            space: "x509.spki.algorithm",
            value: oid_code(other),
        }),
    }
}

/// An uncompressed point of the length `algo` requires.
fn ec_point(algo: SignatureAlgo, point: &[u8]) -> Result<LeafKey<'_>> {
    if point.len() != algo.key_len() {
        return Err(Error::InvalidField {
            field: "x509.ec_point.length",
            value: point.len() as u64,
        });
    }
    match point.first() {
        Some(&UNCOMPRESSED_POINT) => Ok(LeafKey::Ec { algo, point }),
        first => Err(Error::InvalidField {
            field: "x509.ec_point.form",
            value: first.map_or(0, |b| u64::from(*b)),
        }),
    }
}

/// `RSAPublicKey ::= SEQUENCE { modulus INTEGER, publicExponent INTEGER }`, the whole of
/// `key`, with a 384-byte modulus and an exponent of one to 384 bytes (leading zeros
/// stripped; a zero exponent has none).
fn rsa_public_key(mut key: Der<'_>) -> Result<LeafKey<'_>> {
    let mut seq = key.element(SEQUENCE, "x509.rsa_public_key")?;
    key.finish()?;
    let modulus = unsigned(&mut seq, "x509.rsa.modulus")?;
    let exponent = unsigned(&mut seq, "x509.rsa.exponent")?;
    seq.finish()?;
    if modulus.len() != SignatureAlgo::Rsassa3072.key_len() {
        return Err(Error::InvalidField {
            field: "x509.rsa.modulus_length",
            value: modulus.len() as u64,
        });
    }
    if exponent.is_empty() || exponent.len() > modulus.len() {
        return Err(Error::InvalidField {
            field: "x509.rsa.exponent_length",
            value: exponent.len() as u64,
        });
    }
    Ok(LeafKey::Rsa { modulus, exponent })
}

/// The next element, a non-negative INTEGER, as its big-endian magnitude without
/// leading zero bytes. DER wants at least one content byte and the shortest form; a
/// negative value is not a modulus or an exponent. Each is an [`Error::InvalidField`]
/// named `field`, carrying the first content byte (0 for none).
fn unsigned<'a>(der: &mut Der<'a>, field: &'static str) -> Result<&'a [u8]> {
    let int = der.element(INTEGER, field)?.bytes();
    match int {
        [] | [0, 0x00..=0x7f, ..] | [0x80..=0xff, ..] => Err(Error::InvalidField {
            field,
            value: int.first().map_or(0, |b| u64::from(*b)),
        }),
        [0, rest @ ..] => Ok(rest),
        _ => Ok(int),
    }
}

/// An object identifier in an [`Error::UnknownCode`]: its last (at most) eight content
/// bytes, big-endian.
fn oid_code(oid: &[u8]) -> u64 {
    oid.get(oid.len().saturating_sub(8)..)
        .unwrap_or(&[])
        .iter()
        .fold(0, |v, b| (v << 8) | u64::from(*b))
}

/// A cursor over a run of DER elements: `buf` is what is left of the run, `at` its
/// offset in the caller's input.
#[derive(Debug, Clone, Copy)]
struct Der<'a> {
    buf: &'a [u8],
    at: usize,
}

impl<'a> Der<'a> {
    const fn new(buf: &'a [u8], at: usize) -> Self {
        Self { buf, at }
    }

    const fn is_empty(&self) -> bool {
        self.buf.is_empty()
    }

    /// What is left.
    const fn bytes(&self) -> &'a [u8] {
        self.buf
    }

    fn truncated(&self, needed: usize) -> Error {
        Error::Truncated {
            offset: self.at,
            needed,
        }
    }

    /// Takes the next `n` bytes as a run of their own.
    fn take(&mut self, n: usize) -> Result<Der<'a>> {
        match (self.buf.get(..n), self.buf.get(n..)) {
            (Some(head), Some(rest)) => {
                let out = Der::new(head, self.at);
                self.buf = rest;
                self.at = self.at.saturating_add(n);
                Ok(out)
            }
            _ => Err(self.truncated(n)),
        }
    }

    fn byte(&mut self) -> Result<u8> {
        let (&b, rest) = self.buf.split_first().ok_or(self.truncated(1))?;
        self.buf = rest;
        self.at = self.at.saturating_add(1);
        Ok(b)
    }

    /// A definite length: the short form (below 128), or the long form in one to four
    /// bytes, the shortest (no leading zero byte, at least 128). Any other is an
    /// [`Error::InvalidField`] `"x509.length"` carrying the first length byte (the
    /// indefinite form 0x80, 0x85 and above) or the value.
    fn length(&mut self) -> Result<usize> {
        let first = self.byte()?;
        if first < 0x80 {
            return Ok(usize::from(first));
        }
        let n = usize::from(first & 0x7f);
        if n == 0 || n > MAX_LENGTH_BYTES {
            return Err(Error::InvalidField {
                field: "x509.length",
                value: u64::from(first),
            });
        }
        let bytes = self.take(n)?.bytes();
        let len = bytes.iter().fold(0u32, |v, b| (v << 8) | u32::from(*b));
        if bytes.first() == Some(&0) || len < 0x80 {
            return Err(Error::InvalidField {
                field: "x509.length",
                value: u64::from(len),
            });
        }
        usize::try_from(len).map_err(|_| Error::InvalidField {
            field: "x509.length",
            value: u64::from(len),
        })
    }

    /// The contents of the next element, which must have the tag `tag`: another tag is an
    /// [`Error::InvalidField`] named `field`, carrying the tag found.
    fn element(&mut self, tag: u8, field: &'static str) -> Result<Der<'a>> {
        let found = self.byte()?;
        if found != tag {
            return Err(Error::InvalidField {
                field,
                value: u64::from(found),
            });
        }
        let len = self.length()?;
        self.take(len)
    }

    /// The contents of the next element if it has the tag `tag`, else nothing (and
    /// nothing read).
    fn optional(&mut self, tag: u8, field: &'static str) -> Result<Option<Der<'a>>> {
        if self.buf.first() == Some(&tag) {
            self.element(tag, field).map(Some)
        } else {
            Ok(None)
        }
    }

    /// The whole next element (tag, length and contents), which must have the tag `tag`.
    fn whole(&mut self, tag: u8, field: &'static str) -> Result<Der<'a>> {
        let mut start = *self;
        self.element(tag, field)?;
        start.take(start.buf.len().saturating_sub(self.buf.len()))
    }

    /// Fails with [`Error::TrailingBytes`] unless the run is used up.
    fn finish(&self) -> Result<()> {
        match self.buf.len() {
            0 => Ok(()),
            count => Err(Error::TrailingBytes { count }),
        }
    }
}

#[cfg(test)]
mod tests {
    extern crate std;

    use std::vec;
    use std::vec::Vec;

    use super::*;

    // A tiny DER encoder for the test inputs.

    fn tlv(tag: u8, content: &[u8]) -> Vec<u8> {
        let mut v = vec![tag];
        let n = content.len();
        if n < 0x80 {
            v.push(n as u8);
        } else {
            let be = (n as u32).to_be_bytes();
            let skip = be.iter().take_while(|b| **b == 0).count();
            v.push(0x80 | (4 - skip) as u8);
            v.extend_from_slice(&be[skip..]);
        }
        v.extend_from_slice(content);
        v
    }

    fn seq(parts: &[&[u8]]) -> Vec<u8> {
        tlv(SEQUENCE, &parts.concat())
    }

    fn oid(content: &[u8]) -> Vec<u8> {
        tlv(OBJECT_IDENTIFIER, content)
    }

    fn bits(content: &[u8]) -> Vec<u8> {
        tlv(BIT_STRING, &[&[0][..], content].concat())
    }

    fn int(content: &[u8]) -> Vec<u8> {
        tlv(INTEGER, content)
    }

    /// ecdsa-with-SHA384, 1.2.840.10045.4.3.3.
    const ECDSA_SHA384: &[u8] = &[0x2a, 0x86, 0x48, 0xce, 0x3d, 0x04, 0x03, 0x03];
    /// id-Ed25519, 1.3.101.112.
    const ED25519: &[u8] = &[0x2b, 0x65, 0x70];
    /// secp521r1, 1.3.132.0.35.
    const SECP521R1: &[u8] = &[0x2b, 0x81, 0x04, 0x00, 0x23];

    /// Long enough for a P-384 certificate and its TBSCertificate to need two length bytes.
    const SUBJECT: &[u8] = b"tsm-vfio x509 unit test device, its name long enough for 82 lengths";

    fn name(cn: &[u8]) -> Vec<u8> {
        // Name: RDNSequence of one RDN (a SET) of one commonName (2.5.4.3) UTF8String.
        let atv = seq(&[&oid(&[0x55, 0x04, 0x03]), &tlv(0x0c, cn)]);
        seq(&[&tlv(0x31, &atv)])
    }

    fn sig_alg() -> Vec<u8> {
        seq(&[&oid(ECDSA_SHA384)])
    }

    /// The TBSCertificate fields before the SubjectPublicKeyInfo (a v3 certificate).
    fn tbs_head() -> Vec<u8> {
        let validity = seq(&[&tlv(0x17, b"240101000000Z"), &tlv(0x18, b"21240101000000Z")]);
        [
            tlv(VERSION, &int(&[2])),
            int(&[0x01, 0x02]),
            sig_alg(),
            name(b"test root"),
            validity,
            name(SUBJECT),
        ]
        .concat()
    }

    fn cert_with_tbs(tbs: &[u8]) -> Vec<u8> {
        seq(&[&tlv(SEQUENCE, tbs), &sig_alg(), &bits(&[0x30, 0x00])])
    }

    /// A v3 certificate with an (empty) extensions field.
    fn cert(spki: &[u8]) -> Vec<u8> {
        cert_with_tbs(&[&tbs_head()[..], spki, &tlv(0xa3, &seq(&[]))].concat())
    }

    fn spki(alg: &[&[u8]], key: &[u8]) -> Vec<u8> {
        seq(&[&seq(alg), key])
    }

    fn point(algo: SignatureAlgo, fill: u8) -> Vec<u8> {
        let mut p = vec![fill; algo.key_len()];
        p[0] = UNCOMPRESSED_POINT;
        p
    }

    fn ec_spki(curve: &[u8], point: &[u8]) -> Vec<u8> {
        spki(&[&oid(ID_EC_PUBLIC_KEY), &oid(curve)], &bits(point))
    }

    fn p384_cert(fill: u8) -> (Vec<u8>, Vec<u8>) {
        let p = point(SignatureAlgo::EcdsaP384, fill);
        (cert(&ec_spki(SECP384R1, &p)), p)
    }

    fn rsa_spki_of(rsa_key: &[u8]) -> Vec<u8> {
        spki(&[&oid(RSA_ENCRYPTION), &tlv(NULL, &[])], &bits(rsa_key))
    }

    fn rsa_spki(modulus: &[u8], exponent: &[u8]) -> Vec<u8> {
        rsa_spki_of(&seq(&[&int(modulus), &int(exponent)]))
    }

    /// A 3072-bit modulus as its DER INTEGER content (a leading zero: the top bit is set).
    fn modulus3072() -> Vec<u8> {
        let mut m = vec![0u8; 385];
        for (i, b) in m.iter_mut().enumerate().skip(1) {
            *b = (i as u8) | 1;
        }
        m[1] = 0xc5;
        m
    }

    fn chain(hash_len: usize, certs: &[&[u8]]) -> Vec<u8> {
        let body = certs.concat();
        let total = 4 + hash_len + body.len();
        let mut out = Vec::new();
        out.extend_from_slice(&(total as u16).to_le_bytes());
        out.extend_from_slice(&[0, 0]);
        out.extend(core::iter::repeat_n(0xaa, hash_len));
        out.extend_from_slice(&body);
        out
    }

    fn invalid(field: &'static str, value: u64) -> Result<LeafKey<'static>> {
        Err(Error::InvalidField { field, value })
    }

    fn unknown(space: &'static str, value: u64) -> Result<LeafKey<'static>> {
        Err(Error::UnknownCode { space, value })
    }

    #[test]
    fn ec_keys_on_both_curves() {
        for (algo, curve) in [
            (SignatureAlgo::EcdsaP256, PRIME256V1),
            (SignatureAlgo::EcdsaP384, SECP384R1),
        ] {
            let p = point(algo, 0x5a);
            let c = cert(&ec_spki(curve, &p));
            let key = certificate_public_key(&c).unwrap();
            assert_eq!(key, LeafKey::Ec { algo, point: &p });
            let params = key.pubkey_params();
            assert_eq!(params, PubkeyParams::ecdsa(algo, &p));
            assert_eq!(params.check(), Ok(()));
        }
    }

    #[test]
    fn rsa_3072_key_stripped() {
        let m = modulus3072();
        let c = cert(&rsa_spki(&m, &[0x01, 0x00, 0x01]));
        let key = certificate_public_key(&c).unwrap();
        assert_eq!(
            key,
            LeafKey::Rsa {
                modulus: &m[1..],
                exponent: &[0x01, 0x00, 0x01]
            }
        );
        let params = key.pubkey_params();
        assert_eq!(params.algo, SignatureAlgo::Rsassa3072);
        assert_eq!((params.key, params.metadata), (&m[1..], &[1u8, 0, 1][..]));
        assert_eq!(params.check(), Ok(()));
        // An exponent whose top bit is set has a leading zero, stripped too.
        let c = cert(&rsa_spki(&m, &[0x00, 0x80, 0x01]));
        assert!(matches!(
            certificate_public_key(&c),
            Ok(LeafKey::Rsa {
                exponent: &[0x80, 0x01],
                ..
            })
        ));
    }

    #[test]
    fn the_leaf_is_the_last_certificate() {
        let root = cert(&rsa_spki(&modulus3072(), &[3]));
        let (mid, _) = p384_cert(0x11);
        let (leaf, p) = p384_cert(0x22);
        let ch = chain(48, &[&root, &mid, &leaf]);
        assert_eq!(
            leaf_public_key(&ch, 48),
            Ok(LeafKey::Ec {
                algo: SignatureAlgo::EcdsaP384,
                point: &p
            })
        );
        // One certificate: root and leaf at once; another hash size.
        let ch = chain(32, &[&leaf]);
        assert!(leaf_public_key(&ch, 32).is_ok());
        // A non-leaf certificate is only delimited: its key is not looked at.
        let odd = cert(&spki(&[&oid(ED25519)], &bits(&[7; 32])));
        assert!(leaf_public_key(&chain(48, &[&odd, &leaf]), 48).is_ok());
        assert_eq!(
            leaf_public_key(&chain(48, &[&leaf, &odd]), 48),
            unknown("x509.spki.algorithm", 0x2b6570)
        );
    }

    #[test]
    fn version_and_tail_fields_are_optional_in_order() {
        let p = point(SignatureAlgo::EcdsaP256, 1);
        let s = ec_spki(PRIME256V1, &p);
        let head = tbs_head();
        // Without the version (v1) and without extensions.
        let v1 = head[5..].to_vec();
        assert_eq!(v1[0], INTEGER);
        assert!(certificate_public_key(&cert_with_tbs(&[&v1[..], &s].concat())).is_ok());
        // All three tail fields, in order.
        let tail = [tlv(0x81, &[0, 1]), tlv(0x82, &[0, 2]), tlv(0xa3, &seq(&[]))].concat();
        let ok = cert_with_tbs(&[&head[..], &s, &tail].concat());
        assert!(certificate_public_key(&ok).is_ok());
        // Out of order, or an unknown field: the rest of the TBSCertificate is left.
        let bad = [tlv(0xa3, &seq(&[])), tlv(0x81, &[0, 1])].concat();
        let c = cert_with_tbs(&[&head[..], &s, &bad].concat());
        assert_eq!(
            certificate_public_key(&c),
            Err(Error::TrailingBytes { count: 4 })
        );
        let c = cert_with_tbs(&[&head[..], &s, &tlv(0xa4, &[])].concat());
        assert_eq!(
            certificate_public_key(&c),
            Err(Error::TrailingBytes { count: 2 })
        );
        // The version holds one INTEGER and nothing else.
        let mut h = [tlv(VERSION, &[int(&[2]), int(&[0])].concat())].concat();
        h.extend_from_slice(&v1);
        let c = cert_with_tbs(&[&h[..], &s].concat());
        assert_eq!(
            certificate_public_key(&c),
            Err(Error::TrailingBytes { count: 3 })
        );
    }

    #[test]
    fn every_truncation_is_an_error() {
        let (c, _) = p384_cert(3);
        for n in 0..c.len() {
            let r = certificate_public_key(&c[..n]);
            assert!(matches!(r, Err(Error::Truncated { .. })), "{n}: {r:?}");
        }
        let rsa = cert(&rsa_spki(&modulus3072(), &[3]));
        for n in 0..rsa.len() {
            assert!(certificate_public_key(&rsa[..n]).is_err(), "{n}");
        }
        // A chain cut short fails its length check; with the length fixed up, the cut
        // leaf is Truncated at its contents (4 bytes: tag 30, 82 xx xx).
        let ch = chain(48, &[&c]);
        for n in 0..ch.len() {
            assert!(leaf_public_key(&ch[..n], 48).is_err(), "{n}");
        }
        let cut = chain(48, &[&c[..c.len() - 1]]);
        assert_eq!(
            leaf_public_key(&cut, 48),
            Err(Error::Truncated {
                offset: 52 + 4,
                needed: c.len() - 4
            })
        );
    }

    #[test]
    fn an_inner_element_past_its_parent_is_truncated() {
        // The TBSCertificate claims more than the certificate holds; claiming a byte more
        // than itself takes the next element's first byte and leaves the rest.
        let (c, _) = p384_cert(3);
        assert_eq!(&c[..2], &[0x30, 0x82]);
        assert_eq!(&c[4..6], &[0x30, 0x82]);
        let mut one = c.clone();
        one[7] += 1;
        assert_eq!(
            certificate_public_key(&one),
            Err(Error::TrailingBytes { count: 1 })
        );
        let mut c = c;
        c[7] += 100;
        let needed = usize::from(u16::from_be_bytes([c[6], c[7]]));
        assert_eq!(
            certificate_public_key(&c),
            Err(Error::Truncated { offset: 8, needed })
        );
    }

    #[test]
    fn wrong_tags() {
        let (c, _) = p384_cert(3);
        let mut set = c.clone();
        set[0] = 0x31;
        assert_eq!(
            certificate_public_key(&set),
            invalid("x509.certificate", 0x31)
        );
        let mut tbs = c.clone();
        tbs[4] = 0x04;
        assert_eq!(
            certificate_public_key(&tbs),
            invalid("x509.tbs_certificate", 0x04)
        );
        // The serial number where the signature algorithm should be.
        let head = tbs_head();
        let p = point(SignatureAlgo::EcdsaP384, 1);
        let s = ec_spki(SECP384R1, &p);
        let no_serial = [&head[..5], &head[9..], &s].concat();
        assert_eq!(
            certificate_public_key(&cert_with_tbs(&no_serial)),
            invalid("x509.serial_number", SEQUENCE.into())
        );
        // A constructed BIT STRING (0x23) for the key.
        let mut k = bits(&p);
        k[0] = 0x23;
        let c2 = cert(&seq(&[
            &seq(&[&oid(ID_EC_PUBLIC_KEY), &oid(SECP384R1)]),
            &k,
        ]));
        assert_eq!(
            certificate_public_key(&c2),
            invalid("x509.spki.subject_public_key", 0x23)
        );
        // The key without its AlgorithmIdentifier.
        let c3 = cert(&seq(&[&bits(&p)]));
        assert_eq!(
            certificate_public_key(&c3),
            invalid("x509.spki.algorithm", BIT_STRING.into())
        );
        // The signature value must be a BIT STRING.
        let tbs = [&tbs_head()[..], &s].concat();
        let c4 = seq(&[&tlv(SEQUENCE, &tbs), &sig_alg(), &tlv(0x04, &[0])]);
        assert_eq!(
            certificate_public_key(&c4),
            invalid("x509.signature_value", 0x04)
        );
        // A chain whose bytes after the root are not a certificate.
        let ch = chain(48, &[&c, &[0x04, 0x00]]);
        assert_eq!(leaf_public_key(&ch, 48), invalid("x509.certificate", 4));
    }

    #[test]
    fn lengths_definite_and_shortest() {
        // Each is a certificate whose outer length is wrongly encoded.
        for (len, err) in [
            (&[0x80][..], invalid("x509.length", 0x80)),
            (&[0x85, 0, 0, 0, 0, 5], invalid("x509.length", 0x85)),
            (&[0xff], invalid("x509.length", 0xff)),
            (&[0x81, 0x05], invalid("x509.length", 5)),
            (&[0x82, 0x00, 0x90], invalid("x509.length", 0x90)),
            (&[0x84, 0, 0, 0x01, 0x00], invalid("x509.length", 0x100)),
            (
                &[0x84, 0x7f, 0xff, 0xff, 0xff],
                Err(Error::Truncated {
                    offset: 6,
                    needed: 0x7fff_ffff,
                }),
            ),
            (
                &[0x83, 0x01, 0x00, 0x00],
                Err(Error::Truncated {
                    offset: 5,
                    needed: 0x1_0000,
                }),
            ),
        ] {
            let der = [&[SEQUENCE][..], len, &[0; 8]].concat();
            assert_eq!(certificate_public_key(&der), err, "{len:02x?}");
        }
        // The length bytes themselves cut short.
        assert_eq!(
            certificate_public_key(&[SEQUENCE, 0x82, 0x01]),
            Err(Error::Truncated {
                offset: 2,
                needed: 2
            })
        );
        // The long forms the encoder writes are accepted: 81 (a 200-byte name) and 82.
        let p = point(SignatureAlgo::EcdsaP256, 9);
        let s = ec_spki(PRIME256V1, &p);
        let head = tbs_head();
        let big_name = name(&[b'x'; 200]);
        assert_eq!(big_name[1], 0x81);
        let tbs = [&head[..head.len() - name(SUBJECT).len()], &big_name, &s].concat();
        let c = cert_with_tbs(&tbs);
        assert_eq!(c[1], 0x82);
        assert!(certificate_public_key(&c).is_ok());
    }

    #[test]
    fn unused_bits_must_be_zero() {
        let p = point(SignatureAlgo::EcdsaP384, 1);
        let mut k = bits(&p);
        k[2] = 1;
        let c = cert(&seq(&[
            &seq(&[&oid(ID_EC_PUBLIC_KEY), &oid(SECP384R1)]),
            &k,
        ]));
        assert_eq!(
            certificate_public_key(&c),
            invalid("x509.spki.unused_bits", 1)
        );
        // An empty BIT STRING has no unused-bits byte.
        let c = cert(&seq(&[
            &seq(&[&oid(ID_EC_PUBLIC_KEY), &oid(SECP384R1)]),
            &tlv(BIT_STRING, &[]),
        ]));
        assert!(matches!(
            certificate_public_key(&c),
            Err(Error::Truncated { needed: 1, .. })
        ));
    }

    #[test]
    fn unknown_algorithms_and_curves() {
        let p = point(SignatureAlgo::EcdsaP384, 1);
        let c = cert(&spki(&[&oid(ED25519)], &bits(&[7; 32])));
        assert_eq!(
            certificate_public_key(&c),
            unknown("x509.spki.algorithm", 0x2b6570)
        );
        // A long OID: its last eight bytes (rsassa-pss, 1.2.840.113549.1.1.10).
        let pss = [0x2a, 0x86, 0x48, 0x86, 0xf7, 0x0d, 0x01, 0x01, 0x0a];
        let c = cert(&spki(&[&oid(&pss)], &bits(&[7; 32])));
        assert_eq!(
            certificate_public_key(&c),
            unknown("x509.spki.algorithm", 0x8648_86f7_0d01_010a)
        );
        let c = cert(&ec_spki(SECP521R1, &p));
        assert_eq!(
            certificate_public_key(&c),
            unknown("x509.ec_curve", 0x2b_8104_0023)
        );
        // ECParameters other than a named curve, or none, or more than one.
        let c = cert(&spki(&[&oid(ID_EC_PUBLIC_KEY), &tlv(NULL, &[])], &bits(&p)));
        assert_eq!(
            certificate_public_key(&c),
            invalid("x509.spki.ec_parameters", NULL.into())
        );
        let c = cert(&spki(&[&oid(ID_EC_PUBLIC_KEY)], &bits(&p)));
        assert!(matches!(
            certificate_public_key(&c),
            Err(Error::Truncated { needed: 1, .. })
        ));
        let c = cert(&spki(
            &[&oid(ID_EC_PUBLIC_KEY), &oid(SECP384R1), &tlv(NULL, &[])],
            &bits(&p),
        ));
        assert_eq!(
            certificate_public_key(&c),
            Err(Error::TrailingBytes { count: 2 })
        );
        // The algorithm is an OBJECT IDENTIFIER.
        let c = cert(&spki(&[&int(&[1])], &bits(&p)));
        assert_eq!(
            certificate_public_key(&c),
            invalid("x509.spki.algorithm.oid", INTEGER.into())
        );
    }

    #[test]
    fn ec_point_length_and_form() {
        let p256 = point(SignatureAlgo::EcdsaP256, 1);
        let p384 = point(SignatureAlgo::EcdsaP384, 1);
        let c = cert(&ec_spki(PRIME256V1, &p384));
        assert_eq!(
            certificate_public_key(&c),
            invalid("x509.ec_point.length", 97)
        );
        let c = cert(&ec_spki(SECP384R1, &p256));
        assert_eq!(
            certificate_public_key(&c),
            invalid("x509.ec_point.length", 65)
        );
        // Compressed (33 bytes on P-256) is the wrong length; a wrong first byte at the
        // right length is the wrong form.
        let c = cert(&ec_spki(PRIME256V1, &p256[..33]));
        assert_eq!(
            certificate_public_key(&c),
            invalid("x509.ec_point.length", 33)
        );
        let mut odd = p384.clone();
        odd[0] = 0x03;
        let c = cert(&ec_spki(SECP384R1, &odd));
        assert_eq!(certificate_public_key(&c), invalid("x509.ec_point.form", 3));
        let c = cert(&ec_spki(SECP384R1, &[]));
        assert_eq!(
            certificate_public_key(&c),
            invalid("x509.ec_point.length", 0)
        );
    }

    #[test]
    fn rsa_key_checks() {
        let m = modulus3072();
        // A 2048-bit modulus.
        let c = cert(&rsa_spki(&m[..257], &[3]));
        assert_eq!(
            certificate_public_key(&c),
            invalid("x509.rsa.modulus_length", 256)
        );
        // Negative (no leading zero before the set top bit), not shortest, empty.
        let c = cert(&rsa_spki(&m[1..], &[3]));
        assert_eq!(
            certificate_public_key(&c),
            invalid("x509.rsa.modulus", 0xc5)
        );
        let c = cert(&rsa_spki(&[&[0][..], &m].concat(), &[3]));
        assert_eq!(certificate_public_key(&c), invalid("x509.rsa.modulus", 0));
        let c = cert(&rsa_spki(&m, &[]));
        assert_eq!(certificate_public_key(&c), invalid("x509.rsa.exponent", 0));
        // A zero exponent, and one longer than the modulus.
        let c = cert(&rsa_spki(&m, &[0]));
        assert_eq!(
            certificate_public_key(&c),
            invalid("x509.rsa.exponent_length", 0)
        );
        let mut e = vec![0x7f; 385];
        e[0] = 1;
        let c = cert(&rsa_spki(&m, &e));
        assert_eq!(
            certificate_public_key(&c),
            invalid("x509.rsa.exponent_length", 385)
        );
        // Parameters absent or not NULL.
        let key = seq(&[&int(&m), &int(&[3])]);
        let c = cert(&spki(&[&oid(RSA_ENCRYPTION)], &bits(&key)));
        assert!(matches!(
            certificate_public_key(&c),
            Err(Error::Truncated { needed: 1, .. })
        ));
        let c = cert(&spki(
            &[&oid(RSA_ENCRYPTION), &tlv(NULL, &[0])],
            &bits(&key),
        ));
        assert_eq!(
            certificate_public_key(&c),
            Err(Error::TrailingBytes { count: 1 })
        );
        // Bytes after the RSAPublicKey, or a third INTEGER in it.
        let c = cert(&rsa_spki_of(&[&key[..], &[0]].concat()));
        assert_eq!(
            certificate_public_key(&c),
            Err(Error::TrailingBytes { count: 1 })
        );
        let c = cert(&rsa_spki_of(&seq(&[&int(&m), &int(&[3]), &int(&[3])])));
        assert_eq!(
            certificate_public_key(&c),
            Err(Error::TrailingBytes { count: 3 })
        );
        // The key is a SEQUENCE.
        let c = cert(&rsa_spki_of(&int(&m)));
        assert_eq!(
            certificate_public_key(&c),
            invalid("x509.rsa_public_key", INTEGER.into())
        );
    }

    #[test]
    fn one_certificate_and_nothing_after_it() {
        let (c, _) = p384_cert(3);
        let more = [&c[..], &[0]].concat();
        assert_eq!(
            certificate_public_key(&more),
            Err(Error::TrailingBytes { count: 1 })
        );
        let tbs = [
            &tbs_head()[..],
            &ec_spki(SECP384R1, &point(SignatureAlgo::EcdsaP384, 1)),
        ]
        .concat();
        let extra = seq(&[
            &tlv(SEQUENCE, &tbs),
            &sig_alg(),
            &bits(&[0x30, 0x00]),
            &tlv(0x05, &[]),
        ]);
        assert_eq!(
            certificate_public_key(&extra),
            Err(Error::TrailingBytes { count: 2 })
        );
        assert_eq!(
            certificate_public_key(&[]),
            Err(Error::Truncated {
                offset: 0,
                needed: 1
            })
        );
    }

    #[test]
    fn chain_header() {
        let (c, _) = p384_cert(3);
        let ch = chain(48, &[&c]);
        // Length off by one either way, and a chain longer than a u16 can say.
        let mut short = ch.clone();
        short[0] -= 1;
        assert_eq!(
            leaf_public_key(&short, 48),
            Err(Error::LengthMismatch {
                field: "spdm.cert_chain.length",
                declared: ch.len() - 1,
                actual: ch.len()
            })
        );
        let mut long = ch.clone();
        long.push(0);
        assert!(matches!(
            leaf_public_key(&long, 48),
            Err(Error::LengthMismatch { .. })
        ));
        // The wrong hash size moves the certificates.
        assert!(leaf_public_key(&ch, 32).is_err());
        assert_eq!(
            leaf_public_key(&chain(48, &[]), 64),
            Err(Error::Truncated {
                offset: 4,
                needed: 64
            })
        );
        // Too short for the header.
        assert_eq!(
            leaf_public_key(&[], 48),
            Err(Error::Truncated {
                offset: 0,
                needed: 2
            })
        );
        assert_eq!(
            leaf_public_key(&[2, 0], 48),
            Err(Error::Truncated {
                offset: 2,
                needed: 2
            })
        );
        // Reserved is not checked.
        let mut r = ch.clone();
        r[2] = 0xff;
        assert!(leaf_public_key(&r, 48).is_ok());
    }

    #[test]
    fn chain_with_no_certificate() {
        for h in [0, 32, 48] {
            assert_eq!(
                leaf_public_key(&chain(h, &[]), h),
                invalid("spdm.cert_chain.certificates", 0)
            );
        }
    }

    #[test]
    fn chain_of_at_most_sixteen() {
        let (c, p) = p384_cert(3);
        let certs: Vec<&[u8]> = vec![&c; MAX_CHAIN_CERTS];
        let ch = chain(48, &certs);
        assert_eq!(
            leaf_public_key(&ch, 48),
            Ok(LeafKey::Ec {
                algo: SignatureAlgo::EcdsaP384,
                point: &p
            })
        );
        let certs: Vec<&[u8]> = vec![&c; MAX_CHAIN_CERTS + 1];
        assert_eq!(
            leaf_public_key(&chain(48, &certs), 48),
            invalid("spdm.cert_chain.certificates", 17)
        );
    }
}
