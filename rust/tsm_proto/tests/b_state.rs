// SPDX-License-Identifier: GPL-2.0

//! Exhaustive TDISP state machine tests over every (state, request) and (state, event)
//! pair, the requester-side checks, and the config-space write classifier.
//!
//! Expected tables are written from PCIe Base 6.x Table 11-3 "TDISP Request Codes"
//! (column "Legal TDISP States"), the per-request error tables (11-12, 11-16, 11-19,
//! 11-21, 11-23, 11-25) and §11.4.8/§11.4.9 (conventional reset, FLR).

use proptest::prelude::*;
use tsm_proto::state::*;
use tsm_proto::tdisp::{ErrorCode, RequestCode as R, ResponseBody, TdispError};
use TdiState::{ConfigLocked as L, ConfigUnlocked as U, Error as E, Run};

/// The legal states of each request, straight from Table 11-3.
fn legal(r: R) -> &'static [TdiState] {
    match r {
        R::GetVersion | R::GetCapabilities | R::Vdm => &[U, L, Run, E],
        R::LockInterface => &[U],
        R::GetDeviceInterfaceReport => &[L, Run],
        R::GetDeviceInterfaceState => &[U, L, Run, E],
        R::StartInterface => &[L],
        R::StopInterface => &[U, L, Run, E],
        R::BindP2pStream | R::UnbindP2pStream | R::SetMmioAttribute => &[Run],
    }
}

#[test]
fn dsm_every_state_request_pair() {
    for s in TdiState::ALL {
        for r in R::ALL {
            for nonce in [false, true] {
                let t = dsm_on_request(s, r, nonce);
                if !legal(r).contains(&s) {
                    assert_eq!(
                        t,
                        Transition {
                            next: s,
                            response: Err(ErrorCode::InvalidInterfaceState)
                        },
                        "{s:?} {r:?}"
                    );
                    continue;
                }
                let expect = match (r, nonce) {
                    (R::LockInterface, _) => Transition {
                        next: L,
                        response: Ok(()),
                    },
                    (R::StartInterface, true) => Transition {
                        next: Run,
                        response: Ok(()),
                    },
                    (R::StartInterface, false) => Transition {
                        next: L,
                        response: Err(ErrorCode::InvalidNonce),
                    },
                    (R::StopInterface, _) => Transition {
                        next: U,
                        response: Ok(()),
                    },
                    _ => Transition {
                        next: s,
                        response: Ok(()),
                    },
                };
                assert_eq!(t, expect, "{s:?} {r:?} nonce={nonce}");
            }
        }
    }
}

#[test]
fn dsm_every_state_event_pair() {
    for s in TdiState::ALL {
        for e in HostEvent::ALL {
            let n = dsm_on_host_event(s, e);
            let expect = match (s, e) {
                (_, HostEvent::ConventionalReset) => U,
                (U, _) => U,
                (L | Run | E, _) => E,
            };
            assert_eq!(n, expect, "{s:?} {e:?}");
        }
    }
}

fn success_body(r: R, reported: TdiState) -> ResponseBody<'static> {
    static NONCE: [u8; 32] = [7; 32];
    static VERSIONS: [u8; 1] = [0x10];
    match r {
        R::GetVersion => {
            ResponseBody::Version(tsm_proto::tdisp::VersionList::new(&VERSIONS).unwrap())
        }
        R::GetCapabilities => ResponseBody::Capabilities(tsm_proto::tdisp::DsmCapabilities {
            dsm_caps: 0,
            req_msgs_supported: [0; 16],
            lock_interface_flags_supported: 0,
            dev_addr_width: 52,
            num_req_this: 1,
            num_req_all: 1,
        }),
        R::LockInterface => ResponseBody::LockInterface { nonce: &NONCE },
        R::GetDeviceInterfaceReport => ResponseBody::DeviceInterfaceReport {
            portion: &[],
            remainder_length: 0,
        },
        R::GetDeviceInterfaceState => ResponseBody::DeviceInterfaceState(reported),
        R::StartInterface => ResponseBody::StartInterface,
        R::StopInterface => ResponseBody::StopInterface,
        R::BindP2pStream => ResponseBody::BindP2pStream,
        R::UnbindP2pStream => ResponseBody::UnbindP2pStream,
        R::SetMmioAttribute => ResponseBody::SetMmioAttribute,
        R::Vdm => ResponseBody::Vdm(tsm_proto::tdisp::VendorData {
            registry_id: 0,
            vendor_id: &[],
            data: &[],
        }),
    }
}

#[test]
fn requester_every_state_request_response_triple() {
    for s in TdiState::ALL {
        for r in R::ALL {
            assert_eq!(requester_may_send(s, r).is_ok(), legal(r).contains(&s));
            for answer in R::ALL {
                let body = success_body(answer, E);
                let got = requester_check(s, r, &body);
                if !legal(r).contains(&s) || answer != r {
                    assert!(got.is_err(), "{s:?} {r:?} answered by {answer:?}");
                    continue;
                }
                let expect = match r {
                    R::LockInterface => L,
                    R::StartInterface => Run,
                    R::StopInterface => U,
                    R::GetDeviceInterfaceState => E,
                    _ => s,
                };
                assert_eq!(got, Ok(expect), "{s:?} {r:?}");
            }
            for code in ErrorCode::ALL {
                let err = ResponseBody::Error(TdispError {
                    code,
                    error_data: 0,
                    extended: None,
                });
                let got = requester_check(s, r, &err);
                assert_eq!(got.is_ok(), legal(r).contains(&s));
                if let Ok(n) = got {
                    assert_eq!(n, s, "an error keeps the tracked state");
                }
            }
        }
    }
}

#[test]
fn requester_follows_dsm_through_a_bind() {
    let mut dsm = U;
    let mut host = U;
    for (r, nonce) in [
        (R::GetVersion, false),
        (R::GetCapabilities, false),
        (R::LockInterface, false),
        (R::GetDeviceInterfaceReport, false),
        (R::StartInterface, false),
        (R::StartInterface, true),
        (R::SetMmioAttribute, false),
        (R::StopInterface, false),
    ] {
        let t = dsm_on_request(dsm, r, nonce);
        dsm = t.next;
        let body = match t.response {
            Ok(()) => success_body(r, dsm),
            Err(code) => ResponseBody::Error(TdispError {
                code,
                error_data: 0,
                extended: None,
            }),
        };
        host = requester_check(host, r, &body).unwrap();
        assert_eq!(host, dsm);
    }
    assert_eq!(host, U);
}

fn layout() -> ConfigLayout<'static> {
    ConfigLayout {
        pcie_cap: Some(0x40),
        pm_cap: Some(0x80),
        locked: &[(0x200, 0x10)],
    }
}

fn classify(off: u16, old: &[u8], new: &[u8]) -> Vec<HostEvent> {
    classify_config_write(&layout(), off, old, new)
        .unwrap()
        .iter()
        .collect()
}

#[test]
fn classifier_command_register() {
    assert_eq!(
        classify(0x04, &[0x06], &[0x04]),
        vec![HostEvent::MemorySpaceDisabled]
    );
    assert_eq!(
        classify(0x04, &[0x06], &[0x02]),
        vec![HostEvent::BusMasterDisabled]
    );
    assert_eq!(
        classify(0x04, &[0x06, 0x00, 0x10, 0x00], &[0x00, 0x00, 0x10, 0x00]),
        vec![HostEvent::MemorySpaceDisabled, HostEvent::BusMasterDisabled]
    );
    // Setting bits, or rewriting them unchanged, is harmless.
    assert!(classify(0x04, &[0x00], &[0x06]).is_empty());
    assert!(classify(0x04, &[0x06], &[0x06]).is_empty());
    // Status register (06h) writes are not the command register.
    assert!(classify(0x06, &[0xff, 0xff], &[0, 0]).is_empty());
}

#[test]
fn classifier_flr_pm_bars_and_locked_ranges() {
    // Device Control at 0x48: Initiate FLR is bit 15.
    assert_eq!(
        classify(0x48, &[0x00, 0x00], &[0x00, 0x80]),
        vec![HostEvent::FunctionLevelReset]
    );
    assert_eq!(
        classify(0x49, &[0x00], &[0x80]),
        vec![HostEvent::FunctionLevelReset]
    );
    assert!(classify(0x48, &[0x00, 0x00], &[0x10, 0x00]).is_empty());
    // PMCSR at 0x84: D0 -> D3hot, D3hot -> D0, no change.
    assert_eq!(
        classify(0x84, &[0x00, 0x00], &[0x03, 0x00]),
        vec![HostEvent::PowerStateNonD0]
    );
    assert!(classify(0x84, &[0x03], &[0x00]).is_empty());
    assert!(classify(0x84, &[0x03], &[0x03]).is_empty());
    // BAR0..5, ROM BAR.
    for off in (0x10..0x28).step_by(4) {
        assert_eq!(
            classify(off, &[0, 0, 0, 0xfe], &[0xff, 0xff, 0xff, 0xff]),
            vec![HostEvent::LockedConfigChange]
        );
        assert!(classify(off, &[1, 2, 3, 4], &[1, 2, 3, 4]).is_empty());
    }
    assert_eq!(
        classify(0x30, &[0, 0, 0, 0], &[1, 0, 0, 0]),
        vec![HostEvent::LockedConfigChange]
    );
    assert!(
        classify(0x2c, &[0, 0, 0, 0], &[1, 0, 0, 0]).is_empty(),
        "subsystem ids are RO"
    );
    // Caller-declared locked range.
    assert_eq!(
        classify(0x20c, &[0], &[1]),
        vec![HostEvent::LockedConfigChange]
    );
    assert!(classify(0x210, &[0], &[1]).is_empty());
    // Without the capabilities, their offsets mean nothing.
    let l = ConfigLayout::default();
    assert!(classify_config_write(&l, 0x49, &[0], &[0x80])
        .unwrap()
        .is_empty());
}

#[test]
fn classifier_rejects_malformed_writes() {
    let l = layout();
    assert!(classify_config_write(&l, 0, &[], &[]).is_err());
    assert!(classify_config_write(&l, 0, &[0; 5], &[0; 5]).is_err());
    assert!(classify_config_write(&l, 0, &[0; 2], &[0; 1]).is_err());
    assert!(classify_config_write(&l, 3, &[0; 2], &[0; 2]).is_err());
    assert!(classify_config_write(&l, 0xffff, &[0], &[0]).is_ok());
}

#[test]
fn events_apply_in_locked_states() {
    let mut ev = HostEvents::empty();
    assert_eq!(ev.apply(Run), Run);
    ev.insert(HostEvent::BusMasterDisabled);
    assert_eq!(ev.apply(Run), E);
    assert_eq!(ev.apply(U), U);
    ev.insert(HostEvent::ConventionalReset);
    // Reset wins whatever the order.
    assert_eq!(ev.apply(Run), U);
}

#[test]
fn tdi_state_codes() {
    for s in TdiState::ALL {
        assert_eq!(TdiState::from_u8(s as u8), Ok(s));
    }
    for v in 4..=255u8 {
        assert!(TdiState::from_u8(v).is_err());
    }
}

proptest! {
    #[test]
    fn classifier_never_panics(off in any::<u16>(), old in proptest::collection::vec(any::<u8>(), 0..6), mask in any::<u8>()) {
        let new: Vec<u8> = old.iter().map(|b| b ^ mask).collect();
        let _ = classify_config_write(&layout(), off, &old, &new);
    }

    #[test]
    fn random_sequences_keep_invariants(ops in proptest::collection::vec((any::<bool>(), 0usize..11, any::<bool>()), 0..64)) {
        let mut s = U;
        for (is_req, i, nonce) in ops {
            let before = s;
            if is_req {
                let r = R::ALL[i];
                s = dsm_on_request(s, r, nonce).next;
                if s == Run { prop_assert!(before == Run || before == L); }
            } else {
                s = dsm_on_host_event(s, HostEvent::ALL[i % HostEvent::ALL.len()]);
                if before == U { prop_assert_eq!(s, U); }
            }
        }
    }
}
