// SPDX-License-Identifier: GPL-2.0

//! Cross-check of `tsm_proto::x509` (the kernel's reader of the leaf key for
//! RMI_PDEV_SET_PUBKEY) against `x509-cert`/`p384`: on the chain the emulated device
//! presents, it finds the key `certs::verify_chain` verifies to, as the uncompressed
//! point, and gives the parameters the RMM model accepts the key with. Certificates that
//! `x509-cert` builds with P-256 and RSA-3072 keys give those keys back too.

use std::str::FromStr;
use std::time::Duration;

use der::asn1::{BitString, GeneralizedTime, UintRef};
use der::Encode;
use tsm_engine::certs::{spdm_chain, verify_chain, Identity, CHAIN_HEADER_LEN};
use tsm_engine::crypto::HASH_LEN;
use tsm_proto::codec::Error;
use tsm_proto::rmi::{PubkeyParams, SignatureAlgo};
use tsm_proto::x509::{certificate_public_key, leaf_public_key, LeafKey};
use x509_cert::certificate::{Certificate, TbsCertificate, Version};
use x509_cert::name::Name;
use x509_cert::serial_number::SerialNumber;
use x509_cert::spki::{AlgorithmIdentifierOwned, ObjectIdentifier, SubjectPublicKeyInfoOwned};
use x509_cert::time::{Time, Validity};

/// A certificate for `spki`, as `x509-cert` encodes it (the signature is not one).
fn certificate_of(spki: SubjectPublicKeyInfoOwned) -> Vec<u8> {
    let alg = AlgorithmIdentifierOwned {
        oid: ObjectIdentifier::new_unwrap("1.2.840.10045.4.3.3"),
        parameters: None,
    };
    let name = Name::from_str("CN=x509 cross-check,O=tsm-vfio").unwrap();
    let time = |secs| {
        Time::GeneralTime(GeneralizedTime::from_unix_duration(Duration::from_secs(secs)).unwrap())
    };
    let tbs = TbsCertificate {
        version: Version::V3,
        serial_number: SerialNumber::new(&[0x42]).unwrap(),
        signature: alg.clone(),
        issuer: name.clone(),
        validity: Validity {
            not_before: time(1_704_067_200),
            not_after: time(4_859_827_200),
        },
        subject: name,
        subject_public_key_info: spki,
        issuer_unique_id: None,
        subject_unique_id: None,
        extensions: None,
    };
    Certificate {
        tbs_certificate: tbs,
        signature_algorithm: alg,
        signature: BitString::from_bytes(&[0x30, 0x00]).unwrap(),
    }
    .to_der()
    .unwrap()
}

#[test]
fn leaf_key_of_the_emulated_devices_chain() {
    for name in ["tsm-dsm emulated device", "d"] {
        let id = Identity::generate(name).unwrap();
        let leaf = verify_chain(&id.spdm_chain, &id.root_der).unwrap();
        let point = leaf.to_encoded_point(false);
        let key = leaf_public_key(&id.spdm_chain, HASH_LEN).unwrap();
        assert_eq!(
            key,
            LeafKey::Ec {
                algo: SignatureAlgo::EcdsaP384,
                point: point.as_bytes()
            }
        );
        let params = key.pubkey_params();
        assert_eq!(
            params,
            PubkeyParams::ecdsa(SignatureAlgo::EcdsaP384, point.as_bytes())
        );
        assert_eq!(params.check(), Ok(()));
        assert_eq!(
            params.key,
            id.leaf_key.public().to_encoded_point(false).as_bytes()
        );
    }
}

#[test]
fn each_certificate_of_the_chain_and_the_root_alone() {
    let id = Identity::generate("x").unwrap();
    // The chain of the root alone: its key is the leaf's.
    let alone = spdm_chain(std::slice::from_ref(&id.root_der)).unwrap();
    let root_point = verify_chain(&alone, &id.root_der)
        .unwrap()
        .to_encoded_point(false);
    let root = certificate_public_key(&id.root_der).unwrap();
    assert_eq!(
        root,
        LeafKey::Ec {
            algo: SignatureAlgo::EcdsaP384,
            point: root_point.as_bytes()
        }
    );
    assert_eq!(leaf_public_key(&alone, HASH_LEN), Ok(root));
    // The leaf certificate: the chain after its header and the root.
    let leaf_der = &id.spdm_chain[CHAIN_HEADER_LEN + id.root_der.len()..];
    assert_eq!(
        certificate_public_key(leaf_der),
        leaf_public_key(&id.spdm_chain, HASH_LEN)
    );
}

#[test]
fn what_verify_chain_rejects_for_its_form_is_rejected_too() {
    let id = Identity::generate("x").unwrap();
    let n = id.spdm_chain.len();
    assert!(matches!(
        leaf_public_key(&id.spdm_chain[..n - 1], HASH_LEN),
        Err(Error::LengthMismatch { .. })
    ));
    assert!(leaf_public_key(&id.spdm_chain, 32).is_err());
    assert!(leaf_public_key(&[], HASH_LEN).is_err());
    // A flipped signature byte is not this reader's business: it verifies nothing.
    let mut bad = id.spdm_chain.clone();
    bad[n - 5] ^= 0x40;
    assert!(verify_chain(&bad, &id.root_der).is_err());
    assert_eq!(
        leaf_public_key(&bad, HASH_LEN),
        leaf_public_key(&id.spdm_chain, HASH_LEN)
    );
}

#[test]
fn p256_and_rsa3072_certificates_built_by_x509_cert() {
    let mut point = vec![0x04];
    point.extend((1..=64u8).map(|b| b.wrapping_mul(37)));
    let p256 = certificate_of(SubjectPublicKeyInfoOwned {
        algorithm: AlgorithmIdentifierOwned {
            oid: ObjectIdentifier::new_unwrap("1.2.840.10045.2.1"),
            parameters: Some(der::Any::from(&ObjectIdentifier::new_unwrap(
                "1.2.840.10045.3.1.7",
            ))),
        },
        subject_public_key: BitString::from_bytes(&point).unwrap(),
    });
    let key = certificate_public_key(&p256).unwrap();
    assert_eq!(
        key,
        LeafKey::Ec {
            algo: SignatureAlgo::EcdsaP256,
            point: &point
        }
    );
    assert_eq!(key.pubkey_params().check(), Ok(()));

    // A modulus with its top bit set (DER gives it a leading zero) and e = 65537.
    let modulus: Vec<u8> = (0..384u32).map(|i| (i * 7 + 0x81) as u8 | 0x80).collect();
    let exponent = [0x01, 0x00, 0x01];
    let rsa_key = [
        UintRef::new(&modulus).unwrap(),
        UintRef::new(&exponent).unwrap(),
    ]
    .to_der()
    .unwrap();
    let rsa = certificate_of(SubjectPublicKeyInfoOwned {
        algorithm: AlgorithmIdentifierOwned {
            oid: ObjectIdentifier::new_unwrap("1.2.840.113549.1.1.1"),
            parameters: Some(der::Any::from(der::asn1::AnyRef::from(der::asn1::Null))),
        },
        subject_public_key: BitString::from_bytes(&rsa_key).unwrap(),
    });
    let key = certificate_public_key(&rsa).unwrap();
    assert_eq!(
        key,
        LeafKey::Rsa {
            modulus: &modulus,
            exponent: &exponent
        }
    );
    let params = key.pubkey_params();
    assert_eq!(
        (params.algo, params.check()),
        (SignatureAlgo::Rsassa3072, Ok(()))
    );
    assert_eq!((params.key, params.metadata), (&modulus[..], &exponent[..]));
    // In a chain after the emulated device's root.
    let id = Identity::generate("x").unwrap();
    let chain = spdm_chain(&[id.root_der.clone(), rsa.clone()]).unwrap();
    assert_eq!(leaf_public_key(&chain, HASH_LEN), Ok(key));
}
