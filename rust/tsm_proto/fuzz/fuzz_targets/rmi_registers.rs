// SPDX-License-Identifier: GPL-2.0

//! Fuzzes the firmware-written RMI registers, eight bytes at a time: the X0 result,
//! the donate request, address-list entries (as RMI_OP_MEM_RECLAIM writes them),
//! PDEV/VDEV states, feature register 2, RMI_VERSION's outputs, stream handles and
//! function IDs. Every decoder is total, and what it accepts re-encodes to a value that
//! decodes the same.

#![no_main]

use libfuzzer_sys::fuzz_target;
use tsm_proto::rmi::stream::unpack_handle;
use tsm_proto::rmi::{
    Abi, AddrRangeDesc, Call, DaFeatures, DonateReq, ExitFlags, Outcome, PdevState, VdevState,
    VersionOutput,
};

fuzz_target!(|data: &[u8]| {
    let words: Vec<u64> = data
        .chunks(8)
        .map(|c| {
            let mut b = [0u8; 8];
            b[..c.len()].copy_from_slice(c);
            u64::from_le_bytes(b)
        })
        .collect();
    for (i, &x) in words.iter().enumerate() {
        if let Ok(o) = Outcome::decode(x) {
            let v = o.encode().expect("decoded outcome encodes");
            assert_eq!(Outcome::decode(v), Ok(o));
            if let Outcome::Incomplete(inc) = o {
                assert!(inc.check_follow_up(inc.mem_req.follow_up()).is_ok());
            }
        }
        if let Ok(d) = DonateReq::decode(x) {
            assert_eq!(DonateReq::decode(d.encode().expect("encodes")), Ok(d));
        }
        if let Ok(d) = AddrRangeDesc::decode(x) {
            assert_eq!(AddrRangeDesc::decode(d.encode().expect("encodes")), Ok(d));
        }
        if let Ok(s) = PdevState::from_reg(x) {
            assert_eq!(u64::from(s.to_u8()), x);
        }
        if let Ok(s) = VdevState::from_reg(x) {
            assert_eq!(u64::from(s.to_u8()), x);
        }
        let f = DaFeatures::decode(x);
        assert_eq!(DaFeatures::decode(f.encode()), f);
        if let Ok((pa, ty)) = unpack_handle(x) {
            assert_eq!(tsm_proto::rmi::stream::handle(pa, ty), x);
        }
        for abi in Abi::ALL {
            if let Ok(c) = Call::from_fid(abi, x as u32) {
                assert_eq!(c.fid(abi), Some(x as u32));
            }
            if let Ok(fl) = ExitFlags::from_wire(abi, x) {
                let w = fl.to_wire(abi).expect("decoded flags encode");
                assert_eq!(ExitFlags::from_wire(abi, w), Ok(fl));
            }
        }
        let x1 = words.get(i + 1).copied().unwrap_or(0);
        let x2 = words.get(i + 2).copied().unwrap_or(0);
        let _ = VersionOutput::decode(x, x1, x2);
    }
});
