// SPDX-License-Identifier: GPL-2.0

//! Fuzzes the leaf public key reader: the first byte picks the hash size and whether the
//! rest is taken as it is or behind a chain header with the right length (so that inputs
//! get past the length check to the certificates); the rest is read as an SPDM chain and
//! as one certificate. Any bytes give a key or a typed error; an accepted key has the
//! length its algorithm requires and encodes as RMI_PDEV_SET_PUBKEY parameters.

#![no_main]

use libfuzzer_sys::fuzz_target;
use tsm_proto::codec::Writer;
use tsm_proto::rmi::GRANULE_SIZE;
use tsm_proto::x509::{certificate_public_key, leaf_public_key, LeafKey};

fn check(key: LeafKey<'_>) {
    let params = key.pubkey_params();
    assert_eq!(params.check(), Ok(()));
    let mut page = vec![0u8; GRANULE_SIZE];
    params
        .encode(&mut Writer::new(&mut page))
        .expect("encode the key's parameters");
    if let LeafKey::Ec { point, .. } = key {
        assert_eq!(point.first(), Some(&0x04));
    }
}

fuzz_target!(|data: &[u8]| {
    let Some((&sel, rest)) = data.split_first() else {
        return;
    };
    let hash_len = [0, 32, 48, 64][usize::from(sel & 3)];
    let mut framed;
    let chain = if sel & 4 != 0 {
        let Ok(len) = u16::try_from(4 + hash_len + rest.len()) else {
            return;
        };
        framed = len.to_le_bytes().to_vec();
        framed.extend_from_slice(&[0, 0]);
        framed.resize(4 + hash_len, 0);
        framed.extend_from_slice(rest);
        &framed[..]
    } else {
        rest
    };
    if let Ok(key) = leaf_public_key(chain, hash_len) {
        check(key);
    }
    if let Ok(key) = certificate_public_key(rest) {
        check(key);
    }
});
