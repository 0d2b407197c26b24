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

use common::encoded;
use libfuzzer_sys::fuzz_target;
use tsm_proto::codec::Result;
use tsm_proto::secured::{seal_record, Aead, SecuredRecord, IV_LEN, TAG_LEN};

/// Not a cipher: XOR with the nonce and an all-zero tag, enough to drive the layout code.
struct Toy;

impl Aead for Toy {
    fn seal(
        &mut self,
        n: &[u8; IV_LEN],
        _: &[u8],
        d: &mut [u8],
        t: &mut [u8; TAG_LEN],
    ) -> Result<()> {
        d.iter_mut()
            .zip(n.iter().cycle())
            .for_each(|(b, k)| *b ^= k);
        t.fill(0);
        Ok(())
    }

    fn open(&mut self, n: &[u8; IV_LEN], _: &[u8], d: &mut [u8], _: &[u8; TAG_LEN]) -> Result<()> {
        d.iter_mut()
            .zip(n.iter().cycle())
            .for_each(|(b, k)| *b ^= k);
        Ok(())
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
        let _ = rec.open(&mut Toy, &iv, 7, &mut scratch);
    }
    if let [seq, split, rest @ ..] = data {
        let cut = usize::from(*split).min(rest.len());
        let (app, pad) = rest.split_at(cut);
        let mut out = vec![0u8; rest.len() + 64];
        let seq = u64::from(*seq);
        if let Ok(n) = seal_record(&mut Toy, &iv, seq, 0x1234_5678, app, pad, &mut out) {
            let rec = SecuredRecord::split(&out[..n]).expect("split sealed");
            let mut s = vec![0u8; n];
            assert_eq!(
                rec.open(&mut Toy, &iv, seq, &mut s).expect("open sealed"),
                app
            );
        }
    }
});
