// SPDX-License-Identifier: GPL-2.0

//! Fuzzes the secured-message codec: any bytes split or fail with a typed error; a split
//! record re-encodes to the same record; opening with a toy AEAD never panics; and a
//! record sealed from fuzzer-chosen application data opens to the same data.
//!
//! Run from rust/tsm_proto with the stable toolchain:
//! `RUSTC_BOOTSTRAP=1 cargo fuzz run secured -- -max_total_time=120`.

#![no_main]

#[path = "../../tests/common/mod.rs"]
mod common;

use common::{encoded, ToyAead};
use libfuzzer_sys::fuzz_target;
use tsm_proto::secured::{seal_record, SecuredRecord, IV_LEN};

/// XOR with the nonce's first byte (which the one-byte sequence numbers below change) and
/// a tag that is never checked, so the layout code past the AEAD runs on any input.
fn toy() -> ToyAead {
    ToyAead {
        xor_nonce: true,
        tag: |_| 0,
        check_tag: false,
    }
}

fuzz_target!(|data: &[u8]| {
    let iv = [0x5a; IV_LEN];
    let mut scratch = vec![0u8; data.len()];
    for rec in [
        SecuredRecord::split(data),
        SecuredRecord::split_padded(data),
    ]
    .into_iter()
    .flatten()
    {
        let b = encoded(rec.len(), |w| rec.encode(w));
        assert_eq!(SecuredRecord::split(&b), Ok(rec));
        let _ = rec.open(&mut toy(), &iv, 7, &mut scratch);
    }
    if let [seq, split, rest @ ..] = data {
        let cut = usize::from(*split).min(rest.len());
        let (app, pad) = rest.split_at(cut);
        let mut out = vec![0u8; rest.len() + 64];
        let seq = u64::from(*seq);
        if let Ok(n) = seal_record(&mut toy(), &iv, seq, 0x1234_5678, app, pad, &mut out) {
            let rec = SecuredRecord::split(&out[..n]).expect("split sealed");
            let mut s = vec![0u8; n];
            assert_eq!(
                rec.open(&mut toy(), &iv, seq, &mut s).expect("open sealed"),
                app
            );
        }
    }
});
