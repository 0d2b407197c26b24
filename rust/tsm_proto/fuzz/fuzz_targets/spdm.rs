// SPDX-License-Identifier: GPL-2.0

//! Fuzzes the SPDM request and response decoders: the first two bytes choose the
//! negotiated parameters (version, hash/signature/DHE sizes, flags), the rest is the
//! message. Any bytes decode or fail with a typed error; a decoded message re-encodes to
//! bytes that decode (strictly) to the same message.
//!
//! Run from rust/tsm_proto with the stable toolchain:
//! `RUSTC_BOOTSTRAP=1 cargo fuzz run spdm -- -max_total_time=120`.

#![no_main]

#[path = "../../tests/common/mod.rs"]
mod common;

use common::encoded;
use libfuzzer_sys::fuzz_target;
use tsm_proto::spdm::{Negotiated, Request, Response, Version};

fn params(a: u8, b: u8) -> Negotiated {
    const SIZES: [usize; 4] = [0, 4, 32, 48];
    let pick = |v: u8| SIZES[usize::from(v & 3)];
    Negotiated {
        version: if a & 1 == 0 {
            Version::V12
        } else {
            Version::V13
        },
        hash_size: pick(a >> 1),
        signature_size: pick(a >> 3),
        req_signature_size: pick(a >> 5),
        dhe_size: pick(b),
        measurement_summary_hash: b & 4 != 0,
        handshake_in_the_clear: b & 8 != 0,
        multi_key_conn: b & 16 != 0,
    }
}

fuzz_target!(|data: &[u8]| {
    let [a, b, msg @ ..] = data else { return };
    let neg = params(*a, *b);
    let cap = msg.len() + 64;
    for padded in [false, true] {
        let (req, rsp) = if padded {
            (
                Request::decode_padded(msg, &neg),
                Response::decode_padded(msg, &neg),
            )
        } else {
            (Request::decode(msg, &neg), Response::decode(msg, &neg))
        };
        if let Ok(m) = req {
            let b = encoded(cap, |w| m.encode(w, &neg));
            assert_eq!(Request::decode(&b, &neg), Ok(m), "re-decode request");
        }
        if let Ok(m) = rsp {
            let b = encoded(cap, |w| m.encode(w, &neg));
            assert_eq!(Response::decode(&b, &neg), Ok(m), "re-decode response");
        }
    }
});
