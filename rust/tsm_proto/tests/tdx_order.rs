// SPDX-License-Identifier: GPL-2.0

//! The TDX Connect host orders (fact sheet §4): platform enable, connect, disconnect and
//! the provisional bind/unbind, walked end to end; the rollback from every failure point;
//! teardown failures that leak pages; calls out of order; and the V2 key-refresh
//! deadlock (§2), which the extension ticket turns into an immediate refusal.

use tsm_proto::tdx::call::ALL_ONES;
use tsm_proto::tdx::driver::Failure;
use tsm_proto::tdx::order::{platform_after_metadata, platform_supported, OrderError};
use tsm_proto::tdx::provisional::{host_request, BindStep, TdiLeaf, TdiRequest};
use tsm_proto::tdx::*;

/// Completes every step due with `ok` until the walk rests; returns the steps run.
fn run<P: Plan>(mut s: Sequencer<P>, fail: &[P]) -> (Sequencer<P>, Vec<P>) {
    let mut seen = Vec::new();
    while let Some(step) = s.next() {
        seen.push(step);
        let r = if fail.contains(&step) {
            StepResult::Failed
        } else {
            StepResult::Ok
        };
        s = s.complete(step, r).unwrap();
    }
    (s, seen)
}

fn up<P: Plan>() -> Sequencer<P> {
    let (s, seen) = run(Sequencer::<P>::new(), &[]);
    assert_eq!(s.phase(), Phase::Up);
    assert_eq!(seen, P::FORWARD);
    s
}

use LinkStep as L;

#[test]
fn connect_and_disconnect_follow_the_sheet() {
    // §4 Connect 1-8 and Disconnect 1-8.
    assert_eq!(
        L::FORWARD,
        [
            L::AllocPages,
            L::SpdmCreate,
            L::SpdmConnect,
            L::IdeStreamCreate,
            L::PciStreamRegister,
            L::EpIdeSetup,
            L::KmSetup,
            L::TsmStreamRegister,
            L::EpStreamEnable,
        ]
    );
    let (s, seen) = run(up::<L>().teardown().unwrap(), &[]);
    assert_eq!(s.phase(), Phase::Down);
    assert_eq!(
        seen,
        [
            L::KmStop,
            L::StreamBlock,
            L::StreamDelete,
            L::ReleaseIdeMt,
            L::PciIdeStreamRelease,
            L::SpdmDisconnect,
            L::SpdmDelete,
            L::ReleaseSpdmMt,
            L::FreePages,
        ]
    );
    assert!(L::TEARDOWN.iter().all(|t| s.torn_down(*t) && !s.leaked(*t)));
    // The SEAMCALL steps name their leaves.
    assert_eq!(L::KmStop.leaf(), Some(Leaf::IdeStreamKm));
    assert_eq!(L::EpIdeSetup.leaf(), None);
}

#[test]
fn rollback_from_every_failure_point() {
    let expected: [(L, &[L]); 9] = [
        (L::AllocPages, &[]),
        (L::SpdmCreate, &[L::FreePages]),
        (
            L::SpdmConnect,
            &[L::SpdmDelete, L::ReleaseSpdmMt, L::FreePages],
        ),
        (
            L::IdeStreamCreate,
            &[
                L::SpdmDisconnect,
                L::SpdmDelete,
                L::ReleaseSpdmMt,
                L::FreePages,
            ],
        ),
        (
            L::PciStreamRegister,
            &[
                L::StreamBlock,
                L::StreamDelete,
                L::ReleaseIdeMt,
                L::SpdmDisconnect,
                L::SpdmDelete,
                L::ReleaseSpdmMt,
                L::FreePages,
            ],
        ),
        (
            L::EpIdeSetup,
            &[
                L::StreamBlock,
                L::StreamDelete,
                L::ReleaseIdeMt,
                L::PciIdeStreamRelease,
                L::SpdmDisconnect,
                L::SpdmDelete,
                L::ReleaseSpdmMt,
                L::FreePages,
            ],
        ),
        (
            L::KmSetup,
            &[
                L::StreamBlock,
                L::StreamDelete,
                L::ReleaseIdeMt,
                L::PciIdeStreamRelease,
                L::SpdmDisconnect,
                L::SpdmDelete,
                L::ReleaseSpdmMt,
                L::FreePages,
            ],
        ),
        (L::TsmStreamRegister, L::TEARDOWN),
        (L::EpStreamEnable, L::TEARDOWN),
    ];
    for (at, want) in expected {
        let (s, seen) = run(Sequencer::<L>::new(), &[at]);
        assert_eq!(s.phase(), Phase::RolledBack, "{at:?}");
        assert_eq!(s.failed(), Some(at));
        let forward = seen.iter().take_while(|st| **st != at).count();
        assert_eq!(&seen[forward + 1..], want, "rollback after {at:?}");
        assert!(!s.completed(at));

        // Reverse: each rollback step undoes steps completed no later than those undone
        // before it, except the one place where the sheet's disconnect is not a reverse
        // (pci_ide_stream_release after STREAM.DELETE).
        let last_undone = |t: &L| {
            t.undoes()
                .iter()
                .filter_map(|f| {
                    L::FORWARD
                        .iter()
                        .position(|x| x == f)
                        .filter(|_| s.completed(*f))
                })
                .max()
                .unwrap()
        };
        let undo = &seen[forward + 1..];
        for pair in undo.windows(2) {
            let (a, b) = (last_undone(&pair[0]), last_undone(&pair[1]));
            assert!(
                a >= b || (pair[0] == L::ReleaseIdeMt && pair[1] == L::PciIdeStreamRelease),
                "{:?} before {:?}",
                pair[0],
                pair[1]
            );
        }
    }
}

#[test]
fn teardown_failures_leak_and_go_on() {
    // A failed BLOCK: DELETE is not tried, IDE_MT is leaked; the rest still runs.
    let (s, seen) = run(up::<L>().teardown().unwrap(), &[L::StreamBlock]);
    assert_eq!(s.phase(), Phase::Down);
    assert_eq!(
        seen,
        [
            L::KmStop,
            L::StreamBlock,
            L::PciIdeStreamRelease,
            L::SpdmDisconnect,
            L::SpdmDelete,
            L::ReleaseSpdmMt,
            L::FreePages
        ]
    );
    assert!(s.leaked(L::StreamBlock) && s.leaked(L::StreamDelete) && s.leaked(L::ReleaseIdeMt));
    assert!(s.torn_down(L::ReleaseSpdmMt));

    // A failed SPDM.DELETE leaks SPDM_MT only.
    let (s, seen) = run(up::<L>().teardown().unwrap(), &[L::SpdmDelete]);
    assert!(!seen.contains(&L::ReleaseSpdmMt));
    assert!(s.leaked(L::ReleaseSpdmMt) && s.torn_down(L::ReleaseIdeMt));
    assert!(s.torn_down(L::FreePages));

    // A failure during a rollback is recorded the same way, never rolled back itself.
    let (s, seen) = run(Sequencer::<L>::new(), &[L::KmSetup, L::StreamDelete]);
    assert_eq!(s.phase(), Phase::RolledBack);
    assert!(s.leaked(L::ReleaseIdeMt));
    assert_eq!(seen.last(), Some(&L::FreePages));
}

#[test]
fn out_of_order_is_refused() {
    let s = Sequencer::<L>::new();
    let refused = Err(OrderError {
        why: "step out of order",
    });
    assert_eq!(s.complete(L::SpdmCreate, StepResult::Ok), refused);
    assert_eq!(s.complete(L::KmStop, StepResult::Ok), refused);
    let s = s.complete(L::AllocPages, StepResult::Ok).unwrap();
    assert_eq!(s.complete(L::AllocPages, StepResult::Ok), refused);
    assert!(s.teardown().is_err());
    assert!(s.skip(L::AllocPages).is_err());
    assert!(s.skip(L::KmStop).is_err());
    let s = up::<L>();
    assert_eq!(s.next(), None);
    assert_eq!(s.complete(L::KmStop, StepResult::Ok), refused);
    let (down, _) = run(s.teardown().unwrap(), &[]);
    assert!(down.teardown().is_err());
    assert_eq!(down.next(), None);
}

use PlatformStep as P;

#[test]
fn platform_enable() {
    assert!(platform_supported(1 << 6));
    assert!(!platform_supported(1 << 39));
    // Pool and EXT_REQUIRED nonzero: every step.
    let s = up::<P>();
    // After EXT.INIT the pool belongs to the module: teardown does not free it.
    let (_, seen) = run(s.teardown().unwrap(), &[]);
    assert_eq!(seen, [P::TsmUnregister, P::IommuClear]);

    // Skips decided after ReadMetadata (§4 step 3).
    let s = Sequencer::<P>::new();
    let s = s.complete(P::SysConfig, StepResult::Ok).unwrap();
    let s = s.complete(P::ReadMetadata, StepResult::Ok).unwrap();
    let none = platform_after_metadata(&s, 0, 0, false).unwrap();
    assert_eq!(none.next(), Some(P::IommuSetup));
    let pw = platform_after_metadata(&s, 12800, 1, true).unwrap();
    assert_eq!(pw.next(), Some(P::IommuSetup));
    let pool_only = platform_after_metadata(&s, 12800, 0, false).unwrap();
    let (_, seen) = run(pool_only, &[]);
    assert_eq!(seen, [P::ExtMemAdd, P::IommuSetup, P::TsmRegister]);

    // EXT.INIT fails: WBINVD all CPUs, then free the pool.
    let (s, seen) = run(Sequencer::<P>::new(), &[P::ExtInit]);
    assert_eq!(seen.last(), Some(&P::FlushAndFreePool));
    assert_eq!(s.phase(), Phase::RolledBack);
    // IOMMU.SETUP fails after EXT.INIT: nothing to undo (the pool stays).
    let (_, seen) = run(Sequencer::<P>::new(), &[P::IommuSetup]);
    assert_eq!(seen.last(), Some(&P::IommuSetup));
    // tsm_register fails: the IOMMUs are cleared.
    let (_, seen) = run(Sequencer::<P>::new(), &[P::TsmRegister]);
    assert_eq!(seen.last(), Some(&P::IommuClear));
}

use BindStep as B;

#[test]
fn provisional_bind_and_unbind() {
    assert!(TdiLeaf::ALL.iter().all(|l| l.number().is_none()));
    assert_eq!(TdiLeaf::TdiStart.name(), "TDH.TDI.START");
    // The host sends BIND/STOP/GET_STATE, never START.
    assert_eq!(host_request(1), Ok(TdiRequest::Bind));
    assert!(host_request(2).is_err());
    assert!(host_request(5).is_err());

    // RFC30 30/30: STOP, unmap, IOMMU clear, free MMIOMT, DEVIF, DEVIFMT, restore MMIO.
    let (s, seen) = run(up::<B>().teardown().unwrap(), &[]);
    assert_eq!(s.phase(), Phase::Down);
    assert_eq!(
        seen,
        [
            B::Stop,
            B::UnmapPrivateMmio,
            B::ClearTrustedDma,
            B::FreeMmioMt,
            B::FreeDevif,
            B::FreeDevifMt,
            B::RestoreMmio
        ]
    );
    // STOP fails: nothing is unmapped or freed; everything is leaked.
    let (s, seen) = run(up::<B>().teardown().unwrap(), &[B::Stop]);
    assert_eq!(seen, [B::Stop]);
    assert!(B::TEARDOWN.iter().all(|t| s.leaked(*t)));
    // START fails: the TDI is stopped, then torn down in reverse.
    let (_, seen) = run(Sequencer::<B>::new(), &[B::Start]);
    let at = seen.iter().position(|s| *s == B::Start).unwrap();
    assert_eq!(&seen[at + 1..], B::TEARDOWN);
}

fn ret(rax: u64, rcx: u64) -> Returned {
    Returned { rax, rcx, rdx: 0 }
}

fn connect_input() -> Input {
    Input::SpdmConnect(SpdmConnect {
        spdm_id: 0x11,
        config: 0xE000,
        response: 0xD000,
        request: 0xC000,
        dev_info: HpaArray::singleton(0x9000),
    })
}

#[test]
fn key_refresh_runs_under_the_callers_ticket() {
    // §2: SPDM.CONNECT answers KEY_REQUIRE_REFRESH. V2 then calls the MNG wrapper, which
    // takes tdx_ext_lock again while CONNECT holds it: a self-deadlock. Here the refresh
    // is a phase of the CONNECT call, issued under its ticket.
    let mut slot = ExtSlot::new();
    let (mut c, connect_regs) = LeafCall::start(connect_input(), slot.take()).unwrap();
    assert!(matches!(
        c.on_return(ret(Status::SpdmRequest.code(), 64)),
        Next::Relay { .. }
    ));
    assert_eq!(c.relayed(), Next::Issue(connect_regs));
    let Next::Issue(mng) = c.on_return(ret(Status::KeyRequireRefresh.code(), 0)) else {
        panic!("no refresh issued")
    };
    // SPDM.MNG KEY_UPDATE: RDX 1, no parameter page, no output; the call's pages.
    assert_eq!(
        (mng.rax, mng.rcx, mng.rdx, mng.r8, mng.r9, mng.r10, mng.r11),
        (144, 0x11, 1, ALL_ONES, 0xD000, 0xC000, ALL_ONES)
    );
    assert!(c.refreshing());
    assert_eq!(c.leaf_in_flight(), Leaf::SpdmMng);

    // A backend copying V2 would start a separate KEY_UPDATE call here. It cannot get the
    // slot: the refusal is immediate, not a wait.
    assert_eq!(slot.take(), None);
    let separate = Input::SpdmMng(SpdmMng::key_update(0x11, 0xD000, 0xC000));
    assert!(LeafCall::start(separate, None).is_err());

    // The refresh's own relay loop, then CONNECT is re-issued with its original inputs.
    assert!(matches!(
        c.on_return(ret(Status::SpdmRequest.code(), 32)),
        Next::Relay {
            request: 0xC000,
            response: 0xD000,
            ..
        }
    ));
    assert_eq!(c.relayed(), Next::Issue(mng));
    assert_eq!(c.on_return(ret(0, 0)), Next::Issue(connect_regs));
    assert!(!c.refreshing());
    assert_eq!(c.on_return(ret(0, 512)), Next::Done(Output::DevInfo(512)));
    slot.give_back(c.finish().unwrap());
    assert!(slot.is_free());
}

#[test]
fn refresh_inside_refresh_fails_instead_of_recursing() {
    let mut slot = ExtSlot::new();
    let (mut c, _) = LeafCall::start(connect_input(), slot.take()).unwrap();
    let _ = c.on_return(ret(Status::KeyRequireRefresh.code(), 0));
    assert!(matches!(
        c.on_return(ret(Status::KeyRequireRefresh.code(), 0)),
        Next::Failed(Failure::Protocol(_))
    ));
    assert!(c.ended());
    slot.give_back(c.finish().unwrap());
}

#[test]
fn second_device_waits_for_the_slot() {
    let mut slot = ExtSlot::new();
    let (a, _) = LeafCall::start(connect_input(), slot.take()).unwrap();
    // Device B: no ticket, so its CONNECT cannot start (no OPERAND_BUSY from the module).
    let refused = LeafCall::start(connect_input(), slot.take()).unwrap_err();
    assert_eq!(refused.ticket, None);
    slot.give_back(a.finish().unwrap());
    assert!(LeafCall::start(connect_input(), slot.take()).is_ok());
    // A module that answers OPERAND_BUSY anyway is a host bug: not retried.
    let mut slot = ExtSlot::new();
    let (mut c, _) = LeafCall::start(connect_input(), slot.take()).unwrap();
    assert_eq!(
        c.on_return(ret(Status::OperandBusy.code(), 0)),
        Next::Failed(Failure::Busy)
    );
}

/// A connect walked with the sequencer and the driver together, against a scripted
/// module: the ticket is taken per leaf step and is free between steps.
#[test]
fn connect_walk_holds_the_slot_only_inside_calls() {
    let mut slot = ExtSlot::new();
    let mut s = Sequencer::<L>::new();
    while let Some(step) = s.next() {
        assert!(slot.is_free(), "slot held across steps at {step:?}");
        let input = match step {
            L::SpdmCreate => Some(Input::SpdmCreate(SpdmCreate {
                function: FunctionId::linux(0, 0x0100),
                spdm_mt: HpaArray::singleton(0xA000),
            })),
            L::SpdmConnect => Some(connect_input()),
            L::IdeStreamCreate => Some(Input::IdeStreamCreate(IdeStreamCreate {
                stream_info: StreamInfo {
                    rp_devfn: 0x08,
                    kind: StreamType::Selective,
                },
                spdm_id: 0x11,
                ide_mt: HpaArray::singleton(0xB000),
                control: StreamControl::LINUX,
                rid_assoc: [0, 0],
                addr_assoc: [0, 0, 0],
            })),
            L::KmSetup => Some(Input::IdeStreamKm(IdeStreamKm {
                spdm_id: 0x11,
                stream_id: 1,
                op: KmOp::Setup,
                response: 0xD000,
                request: 0xC000,
            })),
            _ => None,
        };
        let Some(input) = input else {
            s = s.complete(step, StepResult::Ok).unwrap();
            continue;
        };
        assert_eq!(step.leaf(), Some(input.leaf()));
        let ticket = if input.leaf().needs_slot() {
            slot.take()
        } else {
            None
        };
        let (mut c, _) = LeafCall::start(input, ticket).unwrap();
        // One relay for the relaying leaves, then success.
        if input.leaf().relays() {
            assert!(matches!(
                c.on_return(ret(Status::SpdmRequest.code(), 8)),
                Next::Relay { .. }
            ));
            assert!(matches!(c.relayed(), Next::Issue(_)));
        }
        let done = matches!(c.on_return(ret(0, 1)), Next::Done(_));
        if let Some(t) = c.finish() {
            slot.give_back(t);
        }
        let r = if done {
            StepResult::Ok
        } else {
            StepResult::Failed
        };
        s = s.complete(step, r).unwrap();
    }
    assert_eq!(s.phase(), Phase::Up);
    assert!(slot.is_free());
}
