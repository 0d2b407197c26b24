// SPDX-License-Identifier: GPL-2.0

//! Fuzzes the model side of the TDX Connect leaves: arbitrary register files (RAX and
//! RCX..R14, eight bytes each; with bit 0 of the first byte clear, RAX is a real leaf
//! value so that every per-leaf decoder is reached) decode to a leaf input or fail with
//! a typed error, and what decodes re-encodes to exactly the same registers. R10..R15 of
//! the same words go through the host's TDG.VP.VMCALL\<TDCM\> decoder the same way.

#![no_main]

use libfuzzer_sys::fuzz_target;
use tsm_proto::tdx::guest::TdcmVmcall;
use tsm_proto::tdx::{Input, Leaf, Regs};

fuzz_target!(|data: &[u8]| {
    let Some((&sel, rest)) = data.split_first() else {
        return;
    };
    let mut v = [0u64; 10];
    for (slot, c) in v.iter_mut().zip(rest.chunks(8)) {
        let mut b = [0u8; 8];
        b[..c.len()].copy_from_slice(c);
        *slot = u64::from_le_bytes(b);
    }
    let all = Leaf::ALL;
    let rax = if sel & 1 == 0 {
        all[usize::from(sel >> 1) % all.len()].rax()
    } else {
        v[0]
    };
    let r = Regs {
        rax,
        rcx: v[1],
        rdx: v[2],
        r8: v[3],
        r9: v[4],
        r10: v[5],
        r11: v[6],
        r12: v[7],
        r13: v[8],
        r14: v[9],
    };
    if let Ok(i) = Input::decode(&r) {
        assert_eq!(i.leaf().rax(), r.rax);
        assert_eq!(i.regs(), Ok(r));
    }
    let vm = [v[4], v[5], v[6], v[7], v[8], v[9]];
    if let Ok(t) = TdcmVmcall::decode(vm) {
        assert_eq!(t.regs(), vm);
    }
});
