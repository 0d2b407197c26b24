// SPDX-License-Identifier: GPL-2.0

//! Property tests of the leaf public key reader (`x509`): generated certificates and
//! SPDM chains give back the key they were built with; arbitrary bytes, bare or behind a
//! well-formed chain header, and mutations of valid chains never panic; whatever is
//! accepted is a key the RMM takes (the right length for its algorithm, borrowed from the
//! input, its RMI_PDEV_SET_PUBKEY page encodable).

use proptest::collection::vec;
use proptest::prelude::*;
use tsm_proto::codec::Writer;
use tsm_proto::rmi::{SignatureAlgo, GRANULE_SIZE};
use tsm_proto::x509::{certificate_public_key, leaf_public_key, LeafKey, MAX_CHAIN_CERTS};

// A tiny DER encoder.

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
    tlv(0x30, &parts.concat())
}

fn oid(content: &[u8]) -> Vec<u8> {
    tlv(0x06, content)
}

fn bits(content: &[u8]) -> Vec<u8> {
    tlv(0x03, &[&[0][..], content].concat())
}

/// A non-negative INTEGER from its big-endian magnitude (no leading zeros).
fn uint(magnitude: &[u8]) -> Vec<u8> {
    match magnitude.first() {
        None => tlv(0x02, &[0]),
        Some(b) if b & 0x80 != 0 => tlv(0x02, &[&[0][..], magnitude].concat()),
        Some(_) => tlv(0x02, magnitude),
    }
}

/// Content octets of the object identifiers (their DER encodings).
const ID_EC_PUBLIC_KEY: &[u8] = &[0x2a, 0x86, 0x48, 0xce, 0x3d, 0x02, 0x01];
const PRIME256V1: &[u8] = &[0x2a, 0x86, 0x48, 0xce, 0x3d, 0x03, 0x01, 0x07];
const SECP384R1: &[u8] = &[0x2b, 0x81, 0x04, 0x00, 0x22];
const RSA_ENCRYPTION: &[u8] = &[0x2a, 0x86, 0x48, 0x86, 0xf7, 0x0d, 0x01, 0x01, 0x01];
const ECDSA_SHA384: &[u8] = &[0x2a, 0x86, 0x48, 0xce, 0x3d, 0x04, 0x03, 0x03];
const COMMON_NAME: &[u8] = &[0x55, 0x04, 0x03];

/// A key as the generator chose it: its algorithm and bytes.
#[derive(Debug, Clone)]
enum Key {
    Ec(SignatureAlgo, Vec<u8>),
    Rsa(Vec<u8>, Vec<u8>),
}

impl Key {
    fn spki(&self) -> Vec<u8> {
        match self {
            Key::Ec(algo, point) => {
                let curve = match algo {
                    SignatureAlgo::EcdsaP256 => PRIME256V1,
                    _ => SECP384R1,
                };
                seq(&[&seq(&[&oid(ID_EC_PUBLIC_KEY), &oid(curve)]), &bits(point)])
            }
            Key::Rsa(m, e) => {
                let rsa = seq(&[&uint(m), &uint(e)]);
                seq(&[&seq(&[&oid(RSA_ENCRYPTION), &tlv(0x05, &[])]), &bits(&rsa)])
            }
        }
    }

    fn leaf_key(&self) -> LeafKey<'_> {
        match self {
            Key::Ec(algo, point) => LeafKey::Ec { algo: *algo, point },
            Key::Rsa(modulus, exponent) => LeafKey::Rsa { modulus, exponent },
        }
    }
}

fn key() -> impl Strategy<Value = Key> {
    let ec = |algo: SignatureAlgo| {
        vec(any::<u8>(), algo.key_len() - 1).prop_map(move |xy| {
            let mut p = vec![0x04];
            p.extend_from_slice(&xy);
            Key::Ec(algo, p)
        })
    };
    let rsa = (
        1u8..=255,
        vec(any::<u8>(), 383),
        1u8..=255,
        vec(any::<u8>(), 0..4),
    )
        .prop_map(|(m0, m, e0, e)| Key::Rsa([vec![m0], m].concat(), [vec![e0], e].concat()));
    prop_oneof![
        ec(SignatureAlgo::EcdsaP256),
        ec(SignatureAlgo::EcdsaP384),
        rsa
    ]
}

/// A certificate's variable parts.
#[derive(Debug, Clone)]
struct Cert {
    key: Key,
    version: bool,
    serial: Vec<u8>,
    subject_len: usize,
    extensions: Option<Vec<u8>>,
    signature_len: usize,
}

impl Cert {
    fn der(&self) -> Vec<u8> {
        let alg = seq(&[&oid(ECDSA_SHA384)]);
        let name = |len: usize| {
            let atv = seq(&[&oid(COMMON_NAME), &tlv(0x0c, &vec![b'n'; len])]);
            seq(&[&tlv(0x31, &atv)])
        };
        let validity = seq(&[&tlv(0x17, b"240101000000Z"), &tlv(0x18, b"21240101000000Z")]);
        let mut tbs = Vec::new();
        if self.version {
            tbs.extend(tlv(0xa0, &uint(&[2])));
        }
        tbs.extend(uint(&self.serial));
        tbs.extend(&alg);
        tbs.extend(name(8));
        tbs.extend(validity);
        tbs.extend(name(self.subject_len));
        tbs.extend(self.key.spki());
        if let Some(ext) = &self.extensions {
            tbs.extend(tlv(0xa3, &seq(&[&tlv(0x04, ext)])));
        }
        seq(&[
            &tlv(0x30, &tbs),
            &alg,
            &bits(&vec![0x5a; self.signature_len]),
        ])
    }
}

fn cert() -> impl Strategy<Value = Cert> {
    (
        key(),
        any::<bool>(),
        vec(1u8..=255, 1..20),
        0usize..300,
        prop::option::of(vec(any::<u8>(), 0..200)),
        0usize..140,
    )
        .prop_map(
            |(key, version, serial, subject_len, extensions, signature_len)| Cert {
                key,
                version,
                serial,
                subject_len,
                extensions,
                signature_len,
            },
        )
}

fn hash_len() -> impl Strategy<Value = usize> {
    prop::sample::select(vec![32usize, 48, 64])
}

fn chain(hash_len: usize, certs: &[Vec<u8>]) -> Vec<u8> {
    let body = certs.concat();
    let total = 4 + hash_len + body.len();
    let mut out = Vec::new();
    out.extend_from_slice(&u16::try_from(total).unwrap().to_le_bytes());
    out.extend_from_slice(&[0, 0]);
    out.extend(std::iter::repeat_n(0x77, hash_len));
    out.extend_from_slice(&body);
    out
}

/// What holds of every accepted key.
fn check_key(input: &[u8], key: &LeafKey<'_>) {
    let params = key.pubkey_params();
    assert_eq!(params.check(), Ok(()), "{key:02x?}");
    let mut page = vec![0u8; GRANULE_SIZE];
    params.encode(&mut Writer::new(&mut page)).unwrap();
    let inside = |s: &[u8]| input.as_ptr_range().contains(&s.as_ptr());
    match *key {
        LeafKey::Ec { algo, point } => {
            assert_ne!(algo, SignatureAlgo::Rsassa3072);
            assert_eq!(point.first(), Some(&0x04));
            assert!(inside(point));
        }
        LeafKey::Rsa { modulus, exponent } => {
            assert_ne!(modulus.first(), Some(&0));
            assert!(!exponent.is_empty() && exponent.first() != Some(&0));
            assert_eq!((params.key, params.metadata), (modulus, exponent));
            assert!(inside(modulus) && inside(exponent));
        }
    }
}

/// Runs both readers on `input` (as a chain with `hash_len`, and as one certificate).
fn total(input: &[u8], hash_len: usize) {
    if let Ok(k) = leaf_public_key(input, hash_len) {
        check_key(input, &k);
    }
    if let Ok(k) = certificate_public_key(input) {
        check_key(input, &k);
    }
}

/// A mutation of a valid input.
#[derive(Debug, Clone)]
enum Mutation {
    Flip(usize, u8),
    Truncate(usize),
    Insert(usize, u8),
    Delete(usize),
}

fn mutation() -> impl Strategy<Value = Mutation> {
    prop_oneof![
        (any::<usize>(), 1u8..=255).prop_map(|(i, x)| Mutation::Flip(i, x)),
        any::<usize>().prop_map(Mutation::Truncate),
        (any::<usize>(), any::<u8>()).prop_map(|(i, b)| Mutation::Insert(i, b)),
        any::<usize>().prop_map(Mutation::Delete),
    ]
}

fn mutate(data: &mut Vec<u8>, m: &Mutation) {
    if data.is_empty() {
        return;
    }
    let at = |i: usize| i % data.len();
    match *m {
        Mutation::Flip(i, x) => {
            let i = at(i);
            data[i] ^= x;
        }
        Mutation::Truncate(i) => data.truncate(at(i)),
        Mutation::Insert(i, b) => data.insert(at(i), b),
        Mutation::Delete(i) => {
            data.remove(at(i));
        }
    }
}

proptest! {
    #![proptest_config(ProptestConfig::with_cases(512))]

    #[test]
    fn generated_certificate_gives_its_key(c in cert()) {
        let der = c.der();
        let key = certificate_public_key(&der);
        prop_assert_eq!(key, Ok(c.key.leaf_key()));
        check_key(&der, &key.unwrap());
    }

    #[test]
    fn generated_chain_gives_the_leaf_key(
        certs in vec(cert(), 1..=MAX_CHAIN_CERTS),
        h in hash_len(),
    ) {
        let ders: Vec<Vec<u8>> = certs.iter().map(Cert::der).collect();
        let ch = chain(h, &ders);
        let leaf = certs.last().unwrap();
        prop_assert_eq!(leaf_public_key(&ch, h), Ok(leaf.key.leaf_key()));
    }

    #[test]
    fn arbitrary_bytes_never_panic(data in vec(any::<u8>(), 0..2048), h in 0usize..100) {
        total(&data, h);
    }

    #[test]
    fn arbitrary_bytes_behind_a_chain_header_never_panic(
        body in vec(any::<u8>(), 0..2048),
        h in hash_len(),
    ) {
        let ch = chain(h, &[body]);
        total(&ch, h);
    }

    #[test]
    fn mutated_chains_and_certificates_never_panic(
        certs in vec(cert(), 1..=3),
        h in hash_len(),
        ms in vec(mutation(), 1..4),
        fix_length in any::<bool>(),
    ) {
        let ders: Vec<Vec<u8>> = certs.iter().map(Cert::der).collect();
        let mut ch = chain(h, &ders);
        let mut leaf = ders.last().unwrap().clone();
        for m in &ms {
            mutate(&mut ch, m);
            mutate(&mut leaf, m);
        }
        if fix_length && ch.len() >= 2 {
            // Past the length check, so the mutation reaches the certificates.
            let n = u16::try_from(ch.len()).unwrap().to_le_bytes();
            ch[..2].copy_from_slice(&n);
        }
        total(&ch, h);
        total(&leaf, h);
    }
}
