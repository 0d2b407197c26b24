// SPDX-License-Identifier: GPL-2.0

//! Fuzzes the IDE-KM decoder: any bytes decode or fail with a typed error, and every
//! decoded message re-encodes to bytes that decode to the same message.

#![no_main]

use libfuzzer_sys::fuzz_target;
use tsm_proto::codec::Writer;
use tsm_proto::idekm::IdeKmMessage;

fuzz_target!(|data: &[u8]| {
    if let Ok(m) = IdeKmMessage::decode(data) {
        let mut buf = vec![0u8; data.len()];
        let mut w = Writer::new(&mut buf);
        m.encode(&mut w).expect("re-encode of a decoded message");
        let n = w.finish();
        assert_eq!(n, data.len());
        let again = IdeKmMessage::decode(&buf[..n]).expect("re-decode");
        assert_eq!(m, again);
    }
});
