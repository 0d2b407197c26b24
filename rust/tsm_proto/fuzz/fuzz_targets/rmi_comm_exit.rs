// SPDX-License-Identifier: GPL-2.0

//! Fuzzes the firmware-written half of the RMI communication page: the first byte picks
//! the ABI, the rest is the exit half (or, with bit 1 set, a whole page). Any bytes
//! decode or fail with a typed error; a decoded exit re-encodes to a half that decodes
//! to the same exit; its decision never leaves the 4 KiB buffers and agrees with the
//! flags.

#![no_main]

use libfuzzer_sys::fuzz_target;
use tsm_proto::codec::Writer;
use tsm_proto::rmi::comm::HALF_LEN;
use tsm_proto::rmi::{Abi, CommExit, ExitFlags, Next, GRANULE_SIZE};

fuzz_target!(|data: &[u8]| {
    let Some((&sel, rest)) = data.split_first() else {
        return;
    };
    let abi = Abi::ALL[usize::from(sel & 1)];
    let decoded = if sel & 2 != 0 {
        CommExit::decode_page(abi, rest)
    } else {
        CommExit::decode(abi, rest)
    };
    let Ok(x) = decoded else { return };
    let mut half = vec![0u8; HALF_LEN];
    x.encode(abi, &mut Writer::new(&mut half))
        .expect("re-encode of a decoded exit");
    assert_eq!(CommExit::decode(abi, &half), Ok(x));
    if let Ok(plan) = x.decide() {
        for c in [plan.cache_req, plan.cache_rsp].into_iter().flatten() {
            let r = c.range();
            assert!(r.end <= GRANULE_SIZE && r.len() as u64 == c.len);
        }
        if let Some(s) = plan.send {
            assert!(s.req_len >= 1 && s.req_len <= GRANULE_SIZE as u64);
        }
        assert_eq!(plan.send.is_some(), x.flags.contains(ExitFlags::REQ_SEND));
        match plan.next {
            Next::StreamWait => assert!(x.flags.contains(ExitFlags::STREAM_WAIT)),
            Next::Continue => assert_ne!(x.flags.bits() & ExitFlags::LOOP, 0),
            Next::Done => assert_eq!(x.flags.bits() & ExitFlags::LOOP, 0),
        }
    }
});
