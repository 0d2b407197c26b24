// SPDX-License-Identifier: GPL-2.0

//! Fuzzes the SEV-TIO command buffers as the firmware copies them back (and as a
//! firmware model reads them): the first byte picks the command and the layout, the
//! rest is the buffer. Any bytes decode or fail with a typed error; a decoded request
//! re-encodes to a buffer of the command's length that decodes to it again. With the
//! top selector bits set, the bytes are a scatter page or a run of SLAs instead.

#![no_main]

use libfuzzer_sys::fuzz_target;
use tsm_proto::tio::sla::ScatterList;
use tsm_proto::tio::*;

fuzz_target!(|data: &[u8]| {
    let Some((&sel, rest)) = data.split_first() else {
        return;
    };
    let layout = Layout::ALL[usize::from(sel >> 7)];
    if sel & 0x60 == 0x60 {
        if let Ok(l) = ScatterList::decode(rest) {
            assert!(!l.is_empty() && l.len() <= sla::SCATTER_MAX_PAGES);
            assert_eq!(l.iter().count(), l.len());
        }
        for w in rest.chunks_exact(8) {
            let v = u64::from_le_bytes(w.try_into().expect("8 bytes"));
            if let Ok(s) = Sla::decode(v) {
                assert_eq!(s.encode(), v);
            }
        }
        return;
    }
    let cmd = Command::ALL[usize::from(sel & 0x1f) % Command::ALL.len()];
    if let Ok(r) = Request::decode(layout, cmd, rest) {
        assert_eq!(r.command(), cmd);
        let b = r.encode(layout).expect("re-encode a decoded request");
        assert_eq!(b.len(), cmd.buffer_len(layout));
        assert_eq!(Request::decode(layout, cmd, b.as_bytes()), Ok(r));
    }
});
