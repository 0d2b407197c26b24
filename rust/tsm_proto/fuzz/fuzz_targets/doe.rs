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

use common::encoded;
use libfuzzer_sys::fuzz_target;
use tsm_proto::doe::{unwrap_spdm, wrap_spdm, DataObject, DiscoveryRequest, DiscoveryResponse};

fuzz_target!(|data: &[u8]| {
    if let Ok(obj) = DataObject::decode(data) {
        let b = encoded(obj.encoded_len(), |w| obj.encode(w));
        assert_eq!(b.len(), data.len());
        assert_eq!(DataObject::decode(&b), Ok(obj));
    }
    if let Ok(r) = DiscoveryRequest::decode(data) {
        let b = encoded(DiscoveryRequest::LEN, |w| r.encode(w));
        assert_eq!(DiscoveryRequest::decode(&b), Ok(r));
    }
    if let Ok(r) = DiscoveryResponse::decode(data) {
        let b = encoded(DiscoveryResponse::LEN, |w| r.encode(w));
        assert_eq!(DiscoveryResponse::decode(&b), Ok(r));
    }
    if let Ok((kind, payload)) = unwrap_spdm(data) {
        let mut buf = vec![0u8; payload.len() + 8];
        let n = wrap_spdm(kind, payload, &mut buf).expect("wrap");
        assert_eq!(unwrap_spdm(&buf[..n]), Ok((kind, payload)));
    }
});
