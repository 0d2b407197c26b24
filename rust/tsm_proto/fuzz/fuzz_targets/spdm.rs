// SPDX-License-Identifier: GPL-2.0

//! Fuzzes the SPDM request and response decoders: the first two bytes choose the
//! negotiated parameters (version, hash/signature/DHE sizes, flags), the rest is the
//! message. Any bytes decode or fail with a typed error; a decoded message re-encodes to
//! bytes that decode (strictly) to the same message.
//!
//! Run from rust/tsm_proto with the stable toolchain:
//! `RUSTC_BOOTSTRAP=1 cargo fuzz run spdm -- -max_total_time=120`.

#![no_main]

use libfuzzer_sys::fuzz_target;
use tsm_proto::codec::Writer;
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
    let mut buf = vec![0u8; msg.len() + 64];
    for padded in [false, true] {
        let req = if padded {
            Request::decode_padded(msg, &neg)
        } else {
            Request::decode(msg, &neg)
        };
        if let Ok(m) = req {
            let mut w = Writer::new(&mut buf);
            m.encode(&mut w, &neg).expect("re-encode request");
            let n = w.finish();
            assert_eq!(
                Request::decode(&buf[..n], &neg).expect("re-decode request"),
                m
            );
        }
        let rsp = if padded {
            Response::decode_padded(msg, &neg)
        } else {
            Response::decode(msg, &neg)
        };
        if let Ok(m) = rsp {
            let mut w = Writer::new(&mut buf);
            m.encode(&mut w, &neg).expect("re-encode response");
            let n = w.finish();
            assert_eq!(
                Response::decode(&buf[..n], &neg).expect("re-decode response"),
                m
            );
        }
    }
});
