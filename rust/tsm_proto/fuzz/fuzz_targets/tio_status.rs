// SPDX-License-Identifier: GPL-2.0

//! Fuzzes the SEV-TIO firmware-written status structures: the first byte picks the
//! structure (TIO_STATUS page, DEV_STATUS, TDI_INFO, TDI_STATUS, ASID fence status) and
//! the layout, the rest is what the firmware wrote. Any bytes decode or fail with a
//! typed error; a decoded value re-encodes to bytes that decode to it again.

#![no_main]

use libfuzzer_sys::fuzz_target;
use tsm_proto::tio::*;

fuzz_target!(|data: &[u8]| {
    let Some((&sel, rest)) = data.split_first() else {
        return;
    };
    let layout = Layout::ALL[usize::from(sel >> 7)];
    match sel & 7 {
        0 => {
            if let Ok(s) = TioStatus::decode(rest) {
                let mut b = vec![0u8; 64];
                s.encode(&mut b).expect("re-encode TIO_STATUS");
                assert_eq!(TioStatus::decode(&b), Ok(s));
                assert!(s.length >= 0x30);
            }
        }
        1 => {
            if let Ok(s) = DevStatus::decode(layout, rest) {
                let mut b = vec![0u8; 160];
                s.encode(layout, &mut b).expect("re-encode DEV_STATUS");
                assert_eq!(DevStatus::decode(layout, &b), Ok(s));
            }
        }
        2 => {
            if let Ok(t) = TdiInfo::decode(rest) {
                let mut b = vec![0u8; 192];
                t.encode(&mut b).expect("re-encode TDI_INFO");
                assert_eq!(TdiInfo::decode(&b), Ok(t));
            }
        }
        3 => {
            if let Ok(t) = TdiStatus::decode(layout, rest) {
                let mut b = vec![0u8; TdiStatus::len(layout)];
                t.encode(layout, &mut b).expect("re-encode TDI_STATUS");
                assert_eq!(TdiStatus::decode(layout, &b), Ok(t));
            }
        }
        _ => {
            if let Ok(f) = FenceStatus::decode_bytes(layout, rest) {
                assert_eq!(FenceStatus::decode(layout, f.encode()), Ok(f));
                if let FenceStatus::Split { dma, mmio } = f {
                    // The verdict is the union: neither fence may be dropped.
                    assert_eq!(
                        f.fenced(),
                        dma != status::DmaFence::None || mmio != status::MmioFence::None
                    );
                }
            }
        }
    }
});
