// SPDX-License-Identifier: GPL-2.0

//! Fuzzes the module-written TDX Connect registers, eight bytes at a time: RAX statuses
//! through the classifier of every leaf, the RCX/RDX outputs of every leaf (SPDM_ID,
//! IOMMU_ID, stream IDs, released `HPA_ARRAY_T`, dev-info and output sizes), the
//! `HPA_LIST_INFO` EXT.MEM.ADD returns, and the small field decoders. Every decoder is
//! total, and what it accepts re-encodes to a value that decodes the same.

#![no_main]

use libfuzzer_sys::fuzz_target;
use tsm_proto::tdx::status::classify;
use tsm_proto::tdx::*;

fuzz_target!(|data: &[u8]| {
    let words: Vec<u64> = data
        .chunks(8)
        .map(|c| {
            let mut b = [0u8; 8];
            b[..c.len()].copy_from_slice(c);
            u64::from_le_bytes(b)
        })
        .collect();
    let inputs = [
        Input::ExtInit,
        Input::IommuSetup(IommuSetup {
            reg_base: 0xFED9_0000,
            iommu_mt: 0x1000,
        }),
        Input::SpdmCreate(SpdmCreate {
            function: FunctionId::linux(0, 0x100),
            spdm_mt: HpaArray::singleton(0x2000),
        }),
        Input::SpdmDelete(SpdmDelete {
            spdm_id: 1,
            release: ReleaseBuffer::Root(0x3000),
        }),
        Input::SpdmConnect(SpdmConnect {
            spdm_id: 1,
            config: 0x4000,
            response: 0x5000,
            request: 0x6000,
            dev_info: HpaArray::root(0x7000, 4),
        }),
        Input::SpdmMng(SpdmMng {
            spdm_id: 1,
            op: MngOp::DevInfoRecollection,
            param: None,
            response: 0x5000,
            request: 0x6000,
            output: Some(HpaArray::singleton(0x8000)),
        }),
        Input::IdeStreamDelete(IdeStreamDelete {
            spdm_id: 1,
            stream_id: 2,
            release: ReleaseBuffer::Singleton,
        }),
    ];
    for (i, &x) in words.iter().enumerate() {
        let y = words.get(i + 1).copied().unwrap_or(0);
        if let Ok(s) = Status::decode(x) {
            assert_eq!(Status::decode(s.code()), Ok(s));
        }
        for leaf in Leaf::ALL {
            match classify(leaf, x) {
                Action::Relay | Action::KeyRefresh => assert!(leaf.relays()),
                Action::Resume => assert!(leaf.resumable()),
                Action::Skip => assert_eq!(leaf, Leaf::IommuSetup),
                Action::Done => assert_eq!(x, 0),
                Action::Busy | Action::Fail { .. } => {}
            }
        }
        for input in &inputs {
            if let Ok(o) = Output::decode(input, x, y) {
                let (c, d) = o.encode().expect("decoded output encodes");
                assert_eq!(Output::decode(input, c, d), Ok(o));
            }
        }
        if let Ok(a) = HpaArray::decode(x) {
            assert_eq!(a.encode(), Ok(x));
        }
        if let Ok(l) = HpaListInfo::decode(x) {
            assert_eq!(l.encode(), Ok(x));
        }
        if let Ok(r) = ReleaseBuffer::decode(x) {
            assert_eq!(r.encode(), Ok(x));
        }
        if let Ok(q) = IqBuffer::decode(x) {
            assert_eq!(q.encode(), Ok(x));
        }
        if let Ok(f) = FunctionId::decode(x) {
            assert_eq!(f.encode(), x);
        }
        if let Ok(s) = StreamInfo::decode(x) {
            assert_eq!(s.encode(), x);
        }
        if let Ok(l) = LeafValue::decode(x) {
            assert_eq!(l.encode(), x);
        }
    }
});
