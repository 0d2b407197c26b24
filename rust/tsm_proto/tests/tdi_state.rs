// SPDX-License-Identifier: GPL-2.0

//! Exhaustive TDISP state machine tests over every (state, request) and (state, event)
//! pair and the requester-side checks.
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
