// SPDX-License-Identifier: GPL-2.0

//! Fuzzes the SEV-TIO sequencers: a byte stream plays the firmware (statuses, copied-back
//! buffers, relay outcomes, EXPAND growth) against the one-command sequencer, and drives
//! the platform init, device teardown and TDI teardown orders with arbitrary
//! completions. Nothing panics; every issued buffer has the command's length; after the
//! first bounce every issue is the saved buffer outside `spdm_ctrl`; at most one EXPAND
//! is honoured; the orders end within a bounded number of steps and never skip
//! DEV_RECLAIM or TDI_RECLAIM.

#![no_main]

use libfuzzer_sys::fuzz_target;
use tsm_proto::tio::order::PlatformInit;
use tsm_proto::tio::*;

const STATUSES: [u16; 8] = [0x32, 0x32, 0x32, 0x31, 0, 0x33, 0x39, 0x34];

fn sla(pa: u64) -> Sla {
    Sla::data_4k(pa).expect("valid SLA")
}

fn request(sel: u8) -> Request {
    let ctrl = SpdmCtrl {
        req: sla(0x10_0000),
        resp: sla(0x20_0000),
        scratch: sla(0x30_0000),
        output: sla(0x40_0000),
    };
    let dev_ctx = sla(0x50_0000);
    match sel % 3 {
        0 => Request::DevConnect {
            ctrl,
            dev_ctx,
            tc_mask: 1,
            cert_slot: 0,
            ide_stream_id: [0xFF; 8],
        },
        1 => Request::GuestRequest {
            ctrl,
            dev_ctx,
            tdi_ctx: sla(0x60_0000),
            gctx: 0x7000,
            req_paddr: 0x8000,
            res_paddr: 0x9000,
        },
        _ => Request::DevReclaim { dev_ctx },
    }
}

fn completion(b: u8) -> Completion {
    match b & 3 {
        0 => Completion::Ok,
        1 => Completion::Failed,
        2 => Completion::Fence(
            FenceStatus::decode(Layout::Current, u64::from(b >> 2) & 0xf)
                .unwrap_or(FenceStatus::Whole(b & 0x80 != 0)),
        ),
        _ => Completion::Status(TioStatus {
            length: 0x30,
            tio_en: b & 0x40 != 0,
            init_done: b & 0x80 != 0,
            ..TioStatus::default()
        }),
    }
}

fuzz_target!(|data: &[u8]| {
    let Some((&sel, rest)) = data.split_first() else {
        return;
    };
    let Ok(first) = Sequencer::start(Layout::Current, request(sel)) else {
        return;
    };
    let len = first.command().buffer_len(Layout::Current);
    let mut next = Next::Issue(first);
    let mut saved: Option<Vec<u8>> = None;
    let mut expands = 0u32;
    let mut bytes = rest.iter();
    while let Next::Issue(i) = next {
        let Some(&b) = bytes.next() else { break };
        let buf = i.buffer().as_bytes().to_vec();
        assert_eq!(buf.len(), len);
        if let Some(s) = &saved {
            assert_eq!(buf[..0x08], s[..0x08]);
            assert_eq!(buf.get(0x28..), s.get(0x28..));
        }
        let mut cb = buf.clone();
        if b & 0x80 != 0 {
            cb.truncate(usize::from(b) % len);
        } else if let Some(x) = cb.last_mut() {
            *x = b;
        }
        next = match i.returned(STATUSES[usize::from(b & 7)], &cb) {
            Next::Relay(r) => {
                if saved.is_none() {
                    saved = Some(cb);
                }
                if b & 0x40 != 0 {
                    r.failed()
                } else {
                    r.exchanged()
                }
            }
            Next::Expand(e) => {
                expands += 1;
                let old = e.ctrl().expect("an SPDM command");
                let grown = SpdmCtrl {
                    output: if b & 0x08 != 0 {
                        sla(0x80_0000)
                    } else {
                        old.output
                    },
                    ..old
                };
                e.grown(grown)
            }
            n => n,
        };
    }
    assert!(expands <= 1);

    let mut p = PlatformInit::new();
    let mut d = if sel & 0x10 != 0 {
        DevTeardown::new(sel & 0x20 != 0)
    } else {
        DevTeardown::after_failed_connect()
    };
    let mut t = TdiTeardown::new(sel & 0x40 != 0, sel & 0x80 != 0);
    let (mut dev_ops, mut tdi_ops) = (Vec::new(), Vec::new());
    for &b in rest {
        let c = completion(b);
        if let Some(op) = p.next() {
            if let Ok(n) = p.complete(op, c) {
                p = n;
            }
        }
        if let Some(op) = d.next() {
            if let Ok(n) = d.complete(op, c) {
                dev_ops.push(op);
                d = n;
            }
        }
        if let Some(op) = t.next() {
            if let Ok(n) = t.complete(op, c) {
                tdi_ops.push(op);
                t = n;
            }
        }
    }
    assert!(dev_ops.len() <= 4 && tdi_ops.len() <= 7);
    if d.next().is_none() {
        assert_eq!(dev_ops.last(), Some(&Op::DevReclaim));
    }
    if t.next().is_none() {
        assert!(tdi_ops.contains(&Op::TdiReclaim));
        assert!(tdi_ops.contains(&Op::AsidFenceStatus));
    }
});
