// SPDX-License-Identifier: GPL-2.0

//! Fuzzes the firmware conduit's decoders, which the kernel runs on whatever a firmware
//! model writes (`write()` of a return, the argument of a memory ioctl): any bytes decode
//! or fail with a typed error, and a decoded message or access re-encodes to the same
//! bytes (the format has no slack: every bit is a field or must be zero).
//!
//! Run from rust/tsm_proto with the stable toolchain:
//! `RUSTC_BOOTSTRAP=1 cargo fuzz run conduit -- -max_total_time=120`.

#![no_main]

use libfuzzer_sys::fuzz_target;
use tsm_proto::conduit::{MemAccess, Msg, MAX_ACCESS, MEM_ACCESS_LEN, MSG_LEN};

fuzz_target!(|data: &[u8]| {
    if let Ok(m) = Msg::decode(data) {
        assert_eq!(data.len(), MSG_LEN);
        assert_eq!(&m.encode()[..], data);
    }
    if let Ok(a) = MemAccess::decode(data) {
        assert_eq!(data.len(), MEM_ACCESS_LEN);
        assert!(a.len >= 1 && a.len <= MAX_ACCESS);
        assert_eq!(&a.encode()[..], data);
    }
});
