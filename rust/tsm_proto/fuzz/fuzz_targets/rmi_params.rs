// SPDX-License-Identifier: GPL-2.0

//! Fuzzes the decoders an RMM model runs on host-written RMI pages (PDEV and VDEV
//! parameters in both ABIs, measurement, public key, stream and Realm parameters, and
//! the communication enter half): the first byte picks the page, the rest is its bytes.
//! Any bytes decode or fail with a typed error; a decoded page re-encodes to a page that
//! decodes the same, and the RMM-side checks never panic.

#![no_main]

use libfuzzer_sys::fuzz_target;
use tsm_proto::codec::{Result, Writer};
use tsm_proto::rmi::comm::HALF_LEN;
use tsm_proto::rmi::*;

/// Decodes `p`; if that succeeds, re-encodes it into `len` bytes, checks that those
/// decode to the same value, and returns it.
fn round_trip<T: PartialEq + core::fmt::Debug>(
    p: &[u8],
    len: usize,
    enc: impl Fn(&T, &mut Writer<'_>) -> Result<()>,
    dec: impl Fn(&[u8]) -> Result<T>,
) -> Option<T> {
    let v = dec(p).ok()?;
    let mut buf = vec![0u8; len];
    enc(&v, &mut Writer::new(&mut buf)).expect("re-encode of a decoded page");
    assert_eq!(dec(&buf).as_ref(), Ok(&v));
    Some(v)
}

fuzz_target!(|data: &[u8]| {
    let Some((&sel, p)) = data.split_first() else {
        return;
    };
    let g = GRANULE_SIZE;
    match sel % 9 {
        0 => {
            if let Some(v) = round_trip(p, g, PdevParams::encode, PdevParams::decode) {
                let _ = v.check(sel >> 3);
            }
        }
        1 => {
            round_trip(p, g, PdevParamsAlp12::encode, PdevParamsAlp12::decode);
        }
        2 => {
            if let Some(v) = round_trip(p, g, VdevParams::encode, VdevParams::decode) {
                let _ = v.check(0x100, 0x200);
            }
        }
        3 => {
            round_trip(p, g, VdevParamsAlp12::encode, VdevParamsAlp12::decode);
        }
        4 => {
            round_trip(p, g, MeasureParams::encode, MeasureParams::decode);
        }
        5 => {
            // Borrows the page, so it cannot go through `round_trip`.
            if let Ok(v) = PubkeyParams::decode(p) {
                let _ = v.check();
                let mut buf = vec![0u8; g];
                v.encode(&mut Writer::new(&mut buf)).expect("re-encode");
                assert_eq!(PubkeyParams::decode(&buf), Ok(v));
            }
        }
        6 => {
            round_trip(p, g, StreamParams::encode, StreamParams::decode);
        }
        7 => {
            round_trip(p, g, RealmParams::encode, RealmParams::decode);
        }
        _ => {
            if let Some(v) = round_trip(p, HALF_LEN, CommEnter::encode, CommEnter::decode) {
                for c in [CommState::Idle, CommState::Pending, CommState::Active] {
                    let _ = v.check(c);
                }
            }
        }
    }
});
