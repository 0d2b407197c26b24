// SPDX-License-Identifier: GPL-2.0

//! The SEV-TIO sequencers: the one-command loop (SPDM relay with identical re-issue,
//! one EXPAND retry) and the platform init, device teardown and TDI teardown orders of
//! the fact sheet (§3-§5), walked end to end; and one test per defect the fact sheet
//! lists in the Linux code, showing the sequencer does the right thing instead.

use proptest::prelude::*;
use tsm_proto::tio::order::{DevReport, TdiReport};
use tsm_proto::tio::status::{DmaFence, MmioFence, SizeRange};
use tsm_proto::tio::*;

fn sla(pa: u64) -> Sla {
    Sla::data_4k(pa).unwrap()
}

fn ctrl() -> SpdmCtrl {
    SpdmCtrl {
        req: sla(0x10_0000),
        resp: sla(0x20_0000),
        scratch: sla(0x30_0000),
        output: sla(0x40_0000),
    }
}

fn connect() -> Request {
    Request::DevConnect {
        ctrl: ctrl(),
        dev_ctx: sla(0x50_0000),
        tc_mask: 1,
        cert_slot: 0,
        ide_stream_id: [0, 0xFF, 0xFF, 0xFF, 0xFF, 0xFF, 0xFF, 0xFF],
    }
}

fn bind() -> Request {
    Request::TdiBind {
        ctrl: ctrl(),
        dev_ctx: sla(0x50_0000),
        tdi_ctx: sla(0x60_0000),
        gctx: 0x7000,
        guest_device_id: 1,
        lock_flags: LockFlags::default(),
        run_flags: 0,
    }
}

fn start(r: Request) -> Issue {
    Sequencer::start(Layout::Current, r).unwrap()
}

/// The buffer of `i` as the firmware copies it back, with byte `at` changed to `v`
/// (a firmware-written reserved byte, to tell copies apart).
fn copy_back(i: &Issue, at: usize, v: u8) -> Vec<u8> {
    let mut b = i.buffer().as_bytes().to_vec();
    b[at] = v;
    b
}

fn issue(n: Next) -> Issue {
    match n {
        Next::Issue(i) => i,
        other => panic!("expected Issue, got {other:?}"),
    }
}

fn relay(n: Next) -> Relay {
    match n {
        Next::Relay(r) => r,
        other => panic!("expected Relay, got {other:?}"),
    }
}

fn expand(n: Next) -> Expand {
    match n {
        Next::Expand(e) => e,
        other => panic!("expected Expand, got {other:?}"),
    }
}

fn done(n: Next) -> Result<Done, Failure> {
    match n {
        Next::Done(d) => d,
        other => panic!("expected Done, got {other:?}"),
    }
}

#[test]
fn relay_reissues_the_identical_saved_buffer() {
    let i = start(connect());
    let first = i.buffer().as_bytes().to_vec();
    assert_eq!(first.len(), 80);
    // The first bounce: saved as copied back (the firmware wrote reserved byte 0x28).
    let saved = copy_back(&i, 0x28, 0x5A);
    let r = relay(i.returned(0x32, &saved));
    assert_eq!(r.ctrl(), Some(ctrl()));
    let i = issue(r.exchanged());
    assert_eq!(i.buffer().as_bytes(), &saved[..]);
    // Later bounces re-issue the same saved bytes, whatever is copied back.
    let other = copy_back(&i, 0x28, 0x77);
    let i = issue(relay(i.returned(0x32, &other)).exchanged());
    assert_eq!(i.buffer().as_bytes(), &saved[..]);
    let last = copy_back(&i, 0x28, 0x11);
    let d = done(i.returned(0, &last)).unwrap();
    assert_eq!((d.relays, d.expanded), (2, false));
    assert_eq!(d.buffer.as_bytes(), &last[..]);
}

#[test]
fn first_bounce_copy_back_must_match_its_length() {
    let i = start(connect());
    let mut b = i.buffer().as_bytes().to_vec();
    b[0] = 0x48;
    assert!(matches!(
        done(i.returned(0x32, &b)),
        Err(Failure::CopyBack(_))
    ));
    let i = start(connect());
    let b = i.buffer().as_bytes()[..64].to_vec();
    assert!(matches!(
        done(i.returned(0x32, &b)),
        Err(Failure::CopyBack(_))
    ));
}

#[test]
fn a_status_other_than_relay_ends_the_loop() {
    let i = start(connect());
    let b = i.buffer().as_bytes().to_vec();
    let i = issue(relay(i.returned(0x32, &b)).exchanged());
    assert_eq!(
        done(i.returned(0x33, &b)),
        Err(Failure::Firmware { status: 0x33 })
    );
    // Unknown codes end it too, carried raw.
    let i = start(connect());
    assert_eq!(
        done(i.returned(0x34, &b)),
        Err(Failure::Firmware { status: 0x34 })
    );
}

#[test]
fn commands_without_spdm_cannot_relay_or_expand() {
    let r = Request::DevReclaim {
        dev_ctx: sla(0x50_0000),
    };
    let i = start(r);
    let b = i.buffer().as_bytes().to_vec();
    assert_eq!(done(i.returned(0x32, &b)), Err(Failure::RelayWithoutSpdm));
    let i = start(r);
    assert_eq!(done(i.returned(0x31, &b)), Err(Failure::ExpandWithoutSpdm));
    let i = start(r);
    assert!(done(i.returned(0, &b)).is_ok());
}

/// Defect 1 (§3, obs): the EXPAND branch tests `rc == 0` and so never runs. Here the
/// status alone decides: 0x31 asks for growth, and the retry runs.
#[test]
fn defect_expand_path_runs() {
    let i = start(connect());
    let b = i.buffer().as_bytes().to_vec();
    let e = expand(i.returned(0x31, &b));
    let new = SpdmCtrl {
        output: sla(0x80_0000),
        ..ctrl()
    };
    let i = issue(e.grown(new));
    let d = done(i.returned(0, &b)).unwrap();
    assert!(d.expanded);
}

/// Defect 2 (§3, obs): the retry reuses the SLAs of the freed buffers. Here the retry
/// needs the new SLAs, refuses unchanged ones, and carries them in `spdm_ctrl`.
#[test]
fn defect_retry_never_uses_freed_buffers() {
    let stale = |new: SpdmCtrl| {
        let i = start(connect());
        let b = i.buffer().as_bytes().to_vec();
        done(expand(i.returned(0x31, &b)).grown(new))
    };
    assert_eq!(stale(ctrl()), Err(Failure::StaleSla));
    assert_eq!(
        stale(SpdmCtrl {
            output: Sla::Null,
            ..ctrl()
        }),
        Err(Failure::StaleSla)
    );
    assert_eq!(
        stale(SpdmCtrl {
            req: sla(0x90_0000),
            output: sla(0x80_0000),
            ..ctrl()
        }),
        Err(Failure::StaleSla)
    );

    let i = start(connect());
    let before = i.buffer().as_bytes().to_vec();
    let e = expand(i.returned(0x31, &before));
    let new = SpdmCtrl {
        scratch: Sla::scatter(0xA0_0000).unwrap(),
        output: sla(0x80_0000),
        ..ctrl()
    };
    let i = issue(e.grown(new));
    let after = i.buffer().as_bytes();
    // spdm_ctrl (0x08..0x28) carries the new scratch and output SLAs; nothing else
    // changed.
    assert_eq!(&after[0x18..0x20], &0xA0_0001u64.to_le_bytes());
    assert_eq!(&after[0x20..0x28], &0x80_0000u64.to_le_bytes());
    assert_eq!(&after[..0x18], &before[..0x18]);
    assert_eq!(&after[0x28..], &before[0x28..]);
    assert_eq!(i.request().ctrl(), Some(new));
}

/// The second EXPAND is an error, not another retry (§3: "retry once").
#[test]
fn second_expand_is_an_error() {
    let i = start(connect());
    let b = i.buffer().as_bytes().to_vec();
    let new = SpdmCtrl {
        output: sla(0x80_0000),
        ..ctrl()
    };
    let i = issue(expand(i.returned(0x31, &b)).grown(new));
    // A relay in between does not reset the count.
    let i = issue(relay(i.returned(0x32, &b)).exchanged());
    assert_eq!(done(i.returned(0x31, &b)), Err(Failure::ExpandTwice));
    // The host may give up instead of growing.
    let i = start(connect());
    assert_eq!(
        done(expand(i.returned(0x31, &b)).abandon()),
        Err(Failure::Firmware { status: 0x31 })
    );
}

/// EXPAND after a bounce rewrites `spdm_ctrl` in the saved buffer, keeping the
/// firmware's copy-back elsewhere.
#[test]
fn expand_after_a_bounce_keeps_the_saved_buffer() {
    let i = start(connect());
    let saved = copy_back(&i, 0x28, 0x5A);
    let i = issue(relay(i.returned(0x32, &saved)).exchanged());
    let new = SpdmCtrl {
        output: sla(0x80_0000),
        ..ctrl()
    };
    let i = issue(expand(i.returned(0x31, &saved)).grown(new));
    let b = i.buffer().as_bytes();
    assert_eq!(b[0x28], 0x5A);
    assert_eq!(&b[0x20..0x28], &0x80_0000u64.to_le_bytes());
}

/// Defect 3 (§3 step 6, obs): a failed DOE exchange leaves the saved command, which a
/// later SPDM_REQUEST re-issues. Here the failure consumes it: the next command is
/// issued, saved and re-issued as itself.
#[test]
fn defect_failed_exchange_leaves_nothing_to_reissue() {
    let a = start(connect());
    let a_saved = copy_back(&a, 0x28, 0xAA);
    let r = relay(a.returned(0x32, &a_saved));
    assert_eq!(done(r.failed()), Err(Failure::Exchange));

    let b = start(bind());
    assert_eq!(b.command(), Command::TdiBind);
    let b_first = b.buffer().as_bytes().to_vec();
    assert_eq!(b_first, bind().encode(Layout::Current).unwrap().as_bytes());
    let b_saved = copy_back(&b, 0x4F, 0xBB);
    let b = issue(relay(b.returned(0x32, &b_saved)).exchanged());
    assert_eq!(b.command(), Command::TdiBind);
    assert_eq!(b.buffer().as_bytes(), &b_saved[..]);
    assert_ne!(b.buffer().as_bytes(), &a_saved[..]);
}

/// Defect 4 (§2, obs): OOT's fence check lets the MMIO verdict overwrite the DMA one.
/// Here a DMA-only fence is fenced, and a TDI that reached RUN gets its fence cleared.
#[test]
fn defect_fence_check_keeps_the_dma_verdict() {
    let dma_only = FenceStatus::decode(Layout::Current, 0b0001).unwrap();
    assert_eq!(
        dma_only,
        FenceStatus::Split {
            dma: DmaFence::ErrorFenced,
            mmio: MmioFence::None
        }
    );
    assert!(dma_only.fenced());
    let (ops, report) = tdi_teardown(true, true, &[], dma_only);
    assert_eq!(ops.last(), Some(&Op::AsidFenceClear));
    assert_eq!(report.fence_cleared, Some(true));
}

/// Runs TDI teardown: each command succeeds except those in `fail` (by position).
fn tdi_teardown(
    needs_unbind: bool,
    reached_run: bool,
    fail: &[usize],
    fence: FenceStatus,
) -> (Vec<Op>, TdiReport) {
    let mut t = TdiTeardown::new(needs_unbind, reached_run);
    let mut ops = Vec::new();
    while let Some(op) = t.next() {
        let c = if fail.contains(&ops.len()) {
            Completion::Failed
        } else if op == Op::AsidFenceStatus {
            Completion::Fence(fence)
        } else {
            Completion::Ok
        };
        ops.push(op);
        t = t.complete(op, c).unwrap();
        assert!(ops.len() < 16);
    }
    (ops, t.report())
}

#[test]
fn tdi_teardown_order() {
    let none = FenceStatus::decode(Layout::Current, 0).unwrap();
    let fenced = FenceStatus::decode(Layout::Current, 0b1111).unwrap();
    // Unbind → status → reclaim → fence status, then clear when fenced and RUN.
    let (ops, r) = tdi_teardown(true, true, &[], fenced);
    assert_eq!(
        ops,
        [
            Op::TdiUnbind { force: false },
            Op::TdiStatus,
            Op::TdiReclaim,
            Op::AsidFenceStatus,
            Op::AsidFenceClear
        ]
    );
    assert!(r.unbound && !r.unbind_forced && r.status_ok && r.reclaimed);
    // One error: the plain call again, which succeeds.
    let (ops, r) = tdi_teardown(true, false, &[0], fenced);
    assert_eq!(
        ops[..3],
        [
            Op::TdiUnbind { force: false },
            Op::TdiUnbind { force: false },
            Op::TdiStatus
        ]
    );
    assert!(r.unbound && !r.unbind_forced);
    // Forced retry after two errors; a failed TDI_STATUS (logged only) and TDI_RECLAIM
    // go on.
    let (ops, r) = tdi_teardown(true, false, &[0, 1, 3, 4], fenced);
    assert_eq!(
        ops,
        [
            Op::TdiUnbind { force: false },
            Op::TdiUnbind { force: false },
            Op::TdiUnbind { force: true },
            Op::TdiStatus,
            Op::TdiReclaim,
            Op::AsidFenceStatus
        ]
    );
    assert!(r.unbind_forced && r.unbound && !r.status_ok && !r.reclaimed);
    assert_eq!(r.fence_cleared, None, "not RUN: no clear");
    // A failed forced unbind goes on too.
    let (ops, r) = tdi_teardown(true, true, &[0, 1, 2], none);
    assert_eq!(ops.len(), 6);
    assert!(!r.unbound);
    // No unbind needed (a guest-requested unbind succeeded): status first.
    let (ops, _) = tdi_teardown(false, true, &[], none);
    assert_eq!(ops, [Op::TdiStatus, Op::TdiReclaim, Op::AsidFenceStatus]);
    // A failed fence status: no clear, no verdict.
    let (ops, r) = tdi_teardown(false, true, &[2], fenced);
    assert_eq!(ops.last(), Some(&Op::AsidFenceStatus));
    assert_eq!(r.fence, None);
}

#[test]
fn tdi_teardown_refuses_out_of_order_completions() {
    let t = TdiTeardown::new(true, true);
    assert!(t.complete(Op::TdiReclaim, Completion::Ok).is_err());
    assert!(t
        .complete(Op::TdiUnbind { force: true }, Completion::Ok)
        .is_err());
    let t = TdiTeardown::new(false, true)
        .complete(Op::TdiStatus, Completion::Ok)
        .and_then(|t| t.complete(Op::TdiReclaim, Completion::Ok))
        .unwrap();
    assert!(t.complete(Op::AsidFenceStatus, Completion::Ok).is_err());
}

fn dev_teardown(mut t: DevTeardown, fail: &[usize]) -> (Vec<Op>, DevReport) {
    let mut ops = Vec::new();
    while let Some(op) = t.next() {
        let c = if fail.contains(&ops.len()) {
            Completion::Failed
        } else {
            Completion::Ok
        };
        ops.push(op);
        t = t.complete(op, c).unwrap();
        assert!(ops.len() < 8);
    }
    (ops, t.report())
}

#[test]
fn device_teardown_order() {
    let (ops, r) = dev_teardown(DevTeardown::new(false), &[]);
    assert_eq!(ops, [Op::DevDisconnect { force: false }, Op::DevReclaim]);
    assert!(r.disconnected && r.reclaimed && !r.forced);
    // Halting: forced directly.
    let (ops, r) = dev_teardown(DevTeardown::new(true), &[]);
    assert_eq!(ops, [Op::DevDisconnect { force: true }, Op::DevReclaim]);
    assert!(r.forced);
    // One error: the plain call again.
    let (ops, r) = dev_teardown(DevTeardown::new(false), &[0]);
    assert_eq!(
        ops,
        [
            Op::DevDisconnect { force: false },
            Op::DevDisconnect { force: false },
            Op::DevReclaim
        ]
    );
    assert!(r.disconnected && !r.forced);
    // Non-forced twice, then forced; reclaim always follows.
    let (ops, r) = dev_teardown(DevTeardown::new(false), &[0, 1, 2, 3]);
    assert_eq!(
        ops,
        [
            Op::DevDisconnect { force: false },
            Op::DevDisconnect { force: false },
            Op::DevDisconnect { force: true },
            Op::DevReclaim
        ]
    );
    assert!(r.forced && !r.disconnected && !r.reclaimed);
    // A failed connect goes straight to DEV_RECLAIM.
    let (ops, _) = dev_teardown(DevTeardown::after_failed_connect(), &[]);
    assert_eq!(ops, [Op::DevReclaim]);
    assert!(DevTeardown::new(false)
        .complete(Op::DevReclaim, Completion::Ok)
        .is_err());
}

fn page(init_done: bool, tio_en: bool) -> TioStatus {
    TioStatus {
        length: 0x34,
        tio_en,
        init_done,
        req: SizeRange {
            min: 0x40,
            max: 0x1000,
        },
        ..TioStatus::default()
    }
}

#[test]
fn platform_init_order() {
    use tsm_proto::tio::order::PlatformInit as P;
    // Not yet initialised: STATUS → INIT → STATUS.
    let p = P::new();
    assert_eq!(p.next(), Some(Op::TioStatus));
    let p = p
        .complete(Op::TioStatus, Completion::Status(page(false, true)))
        .unwrap();
    assert_eq!(p.next(), Some(Op::TioInit));
    let p = p.complete(Op::TioInit, Completion::Ok).unwrap();
    assert_eq!(p.next(), Some(Op::TioStatus));
    let p = p
        .complete(Op::TioStatus, Completion::Status(page(true, true)))
        .unwrap();
    assert_eq!(p, P::Ready(page(true, true)));
    assert_eq!(p.next(), None);
    // Already initialised: one STATUS.
    let p = P::new()
        .complete(Op::TioStatus, Completion::Status(page(true, true)))
        .unwrap();
    assert!(matches!(p, P::Ready(_)));
    // TIO not enabled, or still not done after INIT: failed.
    let p = P::new()
        .complete(Op::TioStatus, Completion::Status(page(false, false)))
        .unwrap();
    assert_eq!(p, P::Failed);
    let p = P::new()
        .complete(Op::TioStatus, Completion::Status(page(false, true)))
        .and_then(|p| p.complete(Op::TioInit, Completion::Ok))
        .and_then(|p| p.complete(Op::TioStatus, Completion::Status(page(false, true))))
        .unwrap();
    assert_eq!(p, P::Failed);
    assert!(P::new().complete(Op::TioInit, Completion::Ok).is_err());
}

proptest! {
    /// Any script of statuses: every issued buffer is the command's length with its
    /// length field; after the first bounce every issue is the saved copy-back (with
    /// `spdm_ctrl` as last grown); at most one EXPAND is honoured; the loop ends when the
    /// script does.
    #[test]
    fn scripts_keep_the_invariants(
        script in prop::collection::vec(
            prop_oneof![
                4 => Just(0x32u16), 1 => Just(0x31u16), 1 => Just(0u16), 1 => any::<u16>()
            ],
            0..24,
        ),
        exchange_ok in prop::collection::vec(any::<bool>(), 24),
        marks in prop::collection::vec(any::<u8>(), 24),
    ) {
        let mut next = Next::Issue(start(connect()));
        let mut saved: Option<Vec<u8>> = None;
        let mut expands = 0;
        let mut grown = 0u64;
        for (k, status) in script.iter().enumerate() {
            let i = match next {
                Next::Issue(i) => i,
                _ => break,
            };
            let b = i.buffer().as_bytes().to_vec();
            prop_assert_eq!(b.len(), 80);
            prop_assert_eq!(&b[..4], &80u32.to_le_bytes()[..]);
            if let Some(s) = &saved {
                prop_assert_eq!(&b[..0x08], &s[..0x08]);
                prop_assert_eq!(&b[0x28..], &s[0x28..]);
            }
            let mut cb = b.clone();
            cb[0x28] = marks[k];
            next = i.returned(*status, &cb);
            next = match next {
                Next::Relay(r) => {
                    if saved.is_none() {
                        saved = Some(cb);
                    }
                    if exchange_ok[k] { r.exchanged() } else { r.failed() }
                }
                Next::Expand(e) => {
                    expands += 1;
                    grown += 1;
                    let new = SpdmCtrl {
                        output: sla(0x1000_0000 + grown * 0x1000),
                        ..ctrl()
                    };
                    e.grown(new)
                }
                n => n,
            };
        }
        prop_assert!(expands <= 1);
        if let Next::Done(Err(Failure::ExpandTwice)) = next {
            prop_assert_eq!(expands, 1);
        }
    }
}

/// A toy PSP for [`relay_end_to_end`]: answers DEV_CONNECT with `rounds` SPDM requests
/// (each written as a REQ into the req buffer, each reply checked in RESP), then success
/// with a CERTIFICATE object in the output buffer.
struct ToyPsp {
    rounds: u8,
    sent: u8,
    seen: Vec<Vec<u8>>,
}

impl ToyPsp {
    fn issue(&mut self, cmd: &[u8], req: &mut [u8], resp: &[u8], out: &mut [u8]) -> u16 {
        let r = Request::decode(Layout::Current, Command::DevConnect, cmd).unwrap();
        assert_eq!(r.ctrl(), Some(ctrl()));
        if self.sent > 0 {
            // The reply to the previous request: RESP, length = payload_sz, aligned.
            let h = BufferHeader::decode(resp).unwrap();
            let o = ObjectHeader::decode(resp).unwrap();
            assert_eq!(o.id, ObjectId::Resp);
            assert_eq!(o.length, h.payload_sz);
            assert_eq!(o.length % 32, 0);
            let n = o.length as usize - 0x10;
            self.seen.push(resp[0x50..0x50 + n].to_vec());
        }
        if self.sent == self.rounds {
            out[..0x60].fill(0);
            out[0x40..0x44].copy_from_slice(&4u32.to_le_bytes());
            out[0x44..0x48].copy_from_slice(&0x28u32.to_le_bytes());
            out[0x49] = 1;
            out[0x53] = 1;
            out[0x60..0x68].copy_from_slice(b"certs...");
            return 0;
        }
        self.sent += 1;
        let dt = if self.sent == 1 {
            DataType::Spdm
        } else {
            DataType::SecuredSpdm
        };
        buffer::write_req(req, req.len() as u32, dt, &[0x10 + self.sent; 7]).unwrap();
        0x32
    }
}

#[test]
fn relay_end_to_end() {
    let (mut req, mut resp, mut out) = (vec![0u8; 0x1000], vec![0u8; 0x1000], vec![0u8; 0x1000]);
    buffer::init_resp(&mut resp, 0x1000).unwrap();
    let mut psp = ToyPsp {
        rounds: 3,
        sent: 0,
        seen: Vec::new(),
    };
    let r = Request::dev_connect_tc0(ctrl(), sla(0x50_0000), 0, 3);
    let mut next = Next::Issue(start(r));
    let mut doe_types = Vec::new();
    let d = loop {
        next = match next {
            Next::Issue(i) => {
                let b = i.buffer().as_bytes().to_vec();
                let st = psp.issue(&b, &mut req, &resp, &mut out);
                i.returned(st, &b)
            }
            Next::Relay(rl) => {
                let q = buffer::SpdmRequest::decode(&req).unwrap();
                doe_types.push(q.data_type.doe_type());
                // The "device" echoes the request reversed.
                let reply: Vec<u8> = q.payload.iter().rev().map(|b| b ^ 0xFF).collect();
                assert!(reply.len() as u32 <= buffer::resp_capacity(0x1000).unwrap());
                buffer::write_resp(&mut resp, q.data_type, &reply).unwrap();
                rl.exchanged()
            }
            Next::Expand(_) => panic!("no EXPAND here"),
            Next::Done(d) => break d,
        };
    };
    let d = d.unwrap();
    assert_eq!(d.relays, 3);
    assert_eq!(doe_types, [1, 2, 2]);
    assert_eq!(psp.seen.len(), 3);
    // Each RESP carries the reply, padded to the 32-byte payload size.
    assert_eq!(&psp.seen[0][..7], &[0xEE; 7]);
    assert_eq!(psp.seen[0].len(), 0x10);
    let o = buffer::OutputObject::decode(&out).unwrap();
    assert_eq!(
        (o.header.id, o.kind, o.payload),
        (ObjectId::Certificate, 1, &b"certs..."[..])
    );
}
