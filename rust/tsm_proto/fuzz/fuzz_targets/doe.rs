// SPDX-License-Identifier: GPL-2.0

//! Fuzzes the PCIe DOE codec: any bytes decode or fail with a typed error; a decoded
//! data object (and a decoded discovery payload) re-encodes to bytes that decode to the
//! same value.
//!
//! Run from rust/tsm_proto with the stable toolchain:
//! `RUSTC_BOOTSTRAP=1 cargo fuzz run doe -- -max_total_time=120`.

#![no_main]

#[path = "../../tests/common/mod.rs"]
mod common;

use common::assert_round_trip;
use libfuzzer_sys::fuzz_target;
use tsm_proto::doe::{unwrap_spdm, wrap_spdm, DataObject, DiscoveryRequest, DiscoveryResponse};

fuzz_target!(|data: &[u8]| {
    assert_round_trip!(DataObject::decode, data);
    assert_round_trip!(DiscoveryRequest::decode, data);
    assert_round_trip!(DiscoveryResponse::decode, data);
    if let Ok((kind, payload)) = unwrap_spdm(data) {
        let mut buf = vec![0u8; payload.len() + 8];
        let n = wrap_spdm(kind, payload, &mut buf).expect("wrap");
        assert_eq!(unwrap_spdm(&buf[..n]), Ok((kind, payload)));
    }
});
