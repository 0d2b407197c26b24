// SPDX-License-Identifier: GPL-2.0

//! Loopback tests: the firmware engine against the DSM engine in one process, through the
//! relay loop (DOE objects built and parsed as the kernel would), no QEMU.

use std::time::Duration;

use tsm_engine::crypto::CryptoError;
use tsm_engine::faults::{Faults, MsgKind};
use tsm_engine::fw::{Command, DoeError, Firmware, FwError, GuestOp, Output};
use tsm_engine::testing::testbed::{self, bind, connect, disconnect, guest, unbind, DEV, TDI};
use tsm_engine::transport::relay::{self, LocalDsm};
use tsm_proto::state::TdiState;

const T: Duration = Duration::from_secs(2);

fn setup(faults: Faults) -> (Firmware, LocalDsm) {
    let (dsm, cfg) = testbed::platform(faults).unwrap();
    (Firmware::new(cfg), LocalDsm(dsm))
}

fn ok(fw: &mut Firmware, ep: &mut LocalDsm, cmd: Command) -> Vec<u8> {
    testbed::run_ok(fw, ep, cmd, T).unwrap_or_else(|e| panic!("{e}"))
}

#[test]
fn full_lifecycle() {
    let (mut fw, mut ep) = setup(Faults::default());
    ok(&mut fw, &mut ep, connect());
    assert!(fw.connected(DEV));
    assert!(ep.0.session_established());
    assert!(ep.0.ide_stream_active(0));
    ok(&mut fw, &mut ep, bind());
    assert_eq!(ep.0.tdi_state(TDI), Some(TdiState::ConfigLocked));
    let report = ok(&mut fw, &mut ep, guest(GuestOp::GetReport));
    assert_eq!(report, ep.0.report(0).unwrap());
    ok(&mut fw, &mut ep, guest(GuestOp::Start));
    assert_eq!(ep.0.tdi_state(TDI), Some(TdiState::Run));
    assert_eq!(fw.tdi_state(DEV, TDI), Some(TdiState::Run));
    assert_eq!(ok(&mut fw, &mut ep, guest(GuestOp::GetState)), vec![2]);
    ok(&mut fw, &mut ep, unbind());
    assert_eq!(ep.0.tdi_state(TDI), Some(TdiState::ConfigUnlocked));
    ok(&mut fw, &mut ep, disconnect());
    assert!(!fw.connected(DEV));
    assert!(!ep.0.session_established());
    assert!(!ep.0.ide_stream_active(0));
    let snap = ep.0.snapshot();
    assert!(snap.contains("tdi.0000:01:00.0=CONFIG_UNLOCKED"), "{snap}");
    assert!(snap.contains("spdm=none"), "{snap}");
    // And again, on the same DSM: reconnect works.
    ok(&mut fw, &mut ep, connect());
    ok(&mut fw, &mut ep, bind());
    ok(&mut fw, &mut ep, guest(GuestOp::Start));
    ok(&mut fw, &mut ep, unbind());
    ok(&mut fw, &mut ep, disconnect());
}

/// Runs connect, bind, report, start, state, unbind, disconnect; returns the first
/// failure as (step name, error, TDI state reported).
fn lifecycle(faults: Faults) -> Option<(&'static str, FwError, Option<TdiState>)> {
    let (mut fw, mut ep) = setup(faults);
    let steps: Vec<(&'static str, Command)> = vec![
        ("connect", connect()),
        ("bind", bind()),
        ("report", guest(GuestOp::GetReport)),
        ("start", guest(GuestOp::Start)),
        ("state", guest(GuestOp::GetState)),
        ("unbind", unbind()),
        ("disconnect", disconnect()),
    ];
    for (name, cmd) in steps {
        let r = relay::run(&mut fw, &mut ep, cmd, T);
        assert!(
            r.elapsed < Duration::from_secs(10),
            "{name} took {:?}",
            r.elapsed
        );
        match r.output {
            Output::Done { .. } => {}
            Output::Failed { error, tdi_state } => return Some((name, error, tdi_state)),
            Output::SendDoe { .. } => panic!("relay returned mid-command"),
        }
        assert!(!fw.busy());
    }
    None
}

#[test]
fn a_bad_signature_or_transcript_fails_the_connect() {
    for (faults, want) in [
        (
            Faults {
                bad_signature: true,
                ..Faults::default()
            },
            CryptoError::BadSignature,
        ),
        (
            Faults {
                wrong_transcript: true,
                ..Faults::default()
            },
            CryptoError::BadMac,
        ),
    ] {
        let (step, err, _) = lifecycle(faults.clone()).expect("must fail");
        assert_eq!(step, "connect", "{faults:?}");
        assert_eq!(err, FwError::Crypto(want), "{faults:?}");
    }
}

fn expected_step(k: MsgKind) -> Option<&'static str> {
    Some(match k {
        MsgKind::Version
        | MsgKind::Capabilities
        | MsgKind::Algorithms
        | MsgKind::Digests
        | MsgKind::Certificate
        | MsgKind::Challenge
        | MsgKind::Measurements
        | MsgKind::KeyExchange
        | MsgKind::Finish
        | MsgKind::IdeQuery
        | MsgKind::KeyProg
        | MsgKind::KSetGo => "connect",
        MsgKind::TdispVersion | MsgKind::TdispCapabilities | MsgKind::Lock => "bind",
        MsgKind::Report => "bind",
        MsgKind::Start => "start",
        MsgKind::State => "state",
        MsgKind::Stop => "unbind",
        MsgKind::EndSession | MsgKind::KSetStop => "disconnect",
        MsgKind::Other => return None,
    })
}

/// A knob that spoils the response to one request, and the errors it may end in.
struct Spoiler {
    name: &'static str,
    faults: fn(MsgKind) -> Faults,
    expected: fn(&FwError) -> bool,
}

#[test]
fn every_truncated_or_oversized_response_is_a_clean_error() {
    let spoilers = [
        Spoiler {
            name: "truncate",
            faults: |k| Faults {
                truncate: Some(k),
                ..Faults::default()
            },
            expected: |e| {
                matches!(
                    e,
                    FwError::Codec(_) | FwError::Protocol(_) | FwError::Report(_)
                )
            },
        },
        Spoiler {
            name: "oversize",
            faults: |k| Faults {
                oversize: Some(k),
                ..Faults::default()
            },
            expected: |e| matches!(e, FwError::Oversized(_)),
        },
    ];
    for s in &spoilers {
        let name = s.name;
        for k in MsgKind::all() {
            let (step, err, _) =
                lifecycle((s.faults)(k)).unwrap_or_else(|| panic!("{name} {k}: no failure"));
            assert_eq!(Some(step), expected_step(k), "{name} {k}: {err:?}");
            assert!((s.expected)(&err), "{name} {k}: {err:?}");
        }
    }
}

#[test]
fn tdisp_error_on_each_request_is_reported_with_the_device_state() {
    for (k, step, state) in [
        (MsgKind::TdispVersion, "bind", TdiState::ConfigUnlocked),
        (MsgKind::TdispCapabilities, "bind", TdiState::ConfigUnlocked),
        (MsgKind::Lock, "bind", TdiState::ConfigUnlocked),
        (MsgKind::Report, "bind", TdiState::ConfigLocked),
        (MsgKind::Start, "start", TdiState::ConfigLocked),
        (MsgKind::Stop, "unbind", TdiState::Run),
    ] {
        let f = Faults {
            tdisp_error: Some(k),
            ..Faults::default()
        };
        let (s, err, st) = lifecycle(f).unwrap_or_else(|| panic!("tdisp error {k}: no failure"));
        assert_eq!(s, step, "{k}");
        assert_eq!(
            err,
            FwError::TdispError(tsm_proto::tdisp::ErrorCode::Unspecified),
            "{k}"
        );
        assert_eq!(st, Some(state), "{k}");
    }
}

#[test]
fn spontaneous_error_state_is_seen_and_stop_recovers() {
    // ERROR right after LOCK: the report fetch of BIND is refused and the firmware reports
    // ERROR; UNBIND (STOP) brings the TDI back to CONFIG_UNLOCKED.
    let f = Faults {
        error_after: Some(MsgKind::Lock),
        ..Faults::default()
    };
    let (mut fw, mut ep) = setup(f);
    ok(&mut fw, &mut ep, connect());
    match relay::run(&mut fw, &mut ep, bind(), T).output {
        Output::Failed { error, tdi_state } => {
            assert_eq!(
                error,
                FwError::TdispError(tsm_proto::tdisp::ErrorCode::InvalidInterfaceState)
            );
            assert_eq!(tdi_state, Some(TdiState::Error));
        }
        other => panic!("{other:?}"),
    }
    assert_eq!(ep.0.tdi_state(TDI), Some(TdiState::Error));
    assert!(ep.0.snapshot().contains("=ERROR"));
    ok(&mut fw, &mut ep, unbind());
    assert_eq!(ep.0.tdi_state(TDI), Some(TdiState::ConfigUnlocked));
    ok(&mut fw, &mut ep, disconnect());

    // ERROR right after START: the guest's state query sees ERROR.
    let f = Faults {
        error_after: Some(MsgKind::Start),
        ..Faults::default()
    };
    let (mut fw, mut ep) = setup(f);
    ok(&mut fw, &mut ep, connect());
    ok(&mut fw, &mut ep, bind());
    ok(&mut fw, &mut ep, guest(GuestOp::Start));
    assert_eq!(ok(&mut fw, &mut ep, guest(GuestOp::GetState)), vec![3]);
    assert_eq!(fw.tdi_state(DEV, TDI), Some(TdiState::Error));
    match relay::run(&mut fw, &mut ep, guest(GuestOp::GetReport), T).output {
        Output::Failed { tdi_state, .. } => assert_eq!(tdi_state, Some(TdiState::Error)),
        other => panic!("{other:?}"),
    }
    ok(&mut fw, &mut ep, unbind());
    assert_eq!(ep.0.tdi_state(TDI), Some(TdiState::ConfigUnlocked));
}

#[test]
fn slow_responses_time_out_cleanly_or_pass_under_the_limit() {
    // (delay, the request it holds up (all if none), where the lifecycle fails).
    for (delay, delay_at, failure) in [
        (
            Duration::from_secs(30),
            Some(MsgKind::KeyExchange),
            Some(("connect", FwError::Transport(DoeError::Timeout))),
        ),
        (Duration::from_millis(2), None, None),
    ] {
        let f = Faults {
            delay: Some(delay),
            delay_at,
            ..Faults::default()
        };
        let r = lifecycle(f).map(|(step, err, _)| (step, err));
        assert_eq!(r, failure, "{delay:?} at {delay_at:?}");
    }
}

#[test]
fn untrusted_root_is_refused() {
    let (dsm, _) = testbed::platform(Faults::default()).unwrap();
    let (_, other) = testbed::platform(Faults::default()).unwrap();
    let mut fw = Firmware::new(other);
    let mut ep = LocalDsm(dsm);
    match relay::run(&mut fw, &mut ep, connect(), T).output {
        Output::Failed { error, .. } => assert!(
            matches!(
                error,
                FwError::Cert(tsm_engine::certs::CertError::UntrustedRoot)
            ),
            "{error:?}"
        ),
        other => panic!("{other:?}"),
    }
    assert!(!fw.connected(DEV));
}

#[test]
fn commands_out_of_order_are_refused() {
    let (mut fw, mut ep) = setup(Faults::default());
    for cmd in [bind(), guest(GuestOp::Start), unbind(), disconnect()] {
        let r = relay::run(&mut fw, &mut ep, cmd, T);
        assert!(matches!(
            r.output,
            Output::Failed {
                error: FwError::State(_),
                ..
            }
        ));
        assert_eq!(r.exchanges, 0);
    }
    ok(&mut fw, &mut ep, connect());
    assert!(matches!(
        relay::run(&mut fw, &mut ep, connect(), T).output,
        Output::Failed {
            error: FwError::State(_),
            ..
        }
    ));
    // START before LOCK: the firmware has no nonce and refuses without asking the device.
    ok(&mut fw, &mut ep, bind());
    ok(&mut fw, &mut ep, guest(GuestOp::Start));
    let r = relay::run(&mut fw, &mut ep, guest(GuestOp::Start), T);
    assert!(matches!(r.output, Output::Failed { .. }), "{:?}", r.output);
}

#[test]
fn transport_errors_mid_command_leave_a_consistent_firmware() {
    struct Flaky(LocalDsm, usize);
    impl relay::DoeEndpoint for Flaky {
        fn exchange(&mut self, o: &[u8], t: Duration) -> Result<Vec<u8>, tsm_engine::fw::DoeError> {
            if self.1 == 0 {
                return Err(DoeError::Io(-5));
            }
            self.1 -= 1;
            self.0.exchange(o, t)
        }
    }
    for n in [0, 1, 5, 10, 14, 20] {
        let (mut fw, ep) = setup(Faults::default());
        let mut ep = Flaky(ep, n);
        let r = relay::run(&mut fw, &mut ep, connect(), T);
        assert!(
            matches!(
                r.output,
                Output::Failed {
                    error: FwError::Transport(_),
                    ..
                }
            ),
            "{n}: {:?}",
            r.output
        );
        assert!(!fw.connected(DEV));
        assert!(!fw.busy());
        // A fresh attempt on a healthy path succeeds (the DSM resets on GET_VERSION).
        let mut ep2 = ep.0;
        ok(&mut fw, &mut ep2, connect());
    }
}

/// A request the kernel never sent (it had abandoned the command on a signal, and answered
/// `-ECANCELED`): the session stays in step with the device, so the next request about
/// the TDI is served and nothing happened to the TDI. Without the rollback the device could
/// not open the next secured record and would drop the session (TDI to ERROR).
#[test]
fn a_request_the_kernel_never_sent_leaves_the_session_in_step() {
    struct Cancel(LocalDsm, bool);
    impl relay::DoeEndpoint for Cancel {
        fn exchange(&mut self, o: &[u8], t: Duration) -> Result<Vec<u8>, DoeError> {
            if std::mem::take(&mut self.1) {
                return Err(DoeError::NotSent);
            }
            self.0.exchange(o, t)
        }
    }
    for op in [GuestOp::GetState, GuestOp::GetReport, GuestOp::Start] {
        let (mut fw, ep) = setup(Faults::default());
        let mut ep = Cancel(ep, false);
        for cmd in [connect(), bind()] {
            testbed::run_ok(&mut fw, &mut ep, cmd, T).unwrap();
        }
        ep.1 = true;
        let r = relay::run(&mut fw, &mut ep, guest(op), T);
        assert!(
            matches!(
                r.output,
                Output::Failed {
                    error: FwError::Transport(DoeError::NotSent),
                    ..
                }
            ),
            "{op:?}: {:?}",
            r.output
        );
        assert!(!fw.busy());
        assert!(ep.0 .0.session_established(), "{op:?}");
        assert_eq!(ep.0 .0.tdi_state(TDI), Some(TdiState::ConfigLocked));
        let state = testbed::run_ok(&mut fw, &mut ep, guest(GuestOp::GetState), T).unwrap();
        assert_eq!(state, vec![1], "{op:?}");
        testbed::run_ok(&mut fw, &mut ep, guest(GuestOp::Start), T).unwrap();
        assert_eq!(ep.0 .0.tdi_state(TDI), Some(TdiState::Run));
        testbed::run_ok(&mut fw, &mut ep, unbind(), T).unwrap();
        testbed::run_ok(&mut fw, &mut ep, disconnect(), T).unwrap();
        assert!(!ep.0 .0.session_established());
    }
}

/// A requester that only authenticates (as the kernel's CMA/SPDM library does): it
/// offers several algorithms and no session algorithms, fetches the chain and
/// challenges; the DSM must select P-384/SHA-384, no DHE/AEAD, and sign M1 correctly.
#[test]
fn authentication_only_requester_like_kernel_cma() {
    use tsm_engine::crypto;
    use tsm_engine::wire;
    use tsm_proto::doe::{self, SpdmKind};
    use tsm_proto::spdm::{self, algo, CapabilityFlags, Negotiated, Version};

    let (mut dsm, cfg) = testbed::platform(Faults::default()).unwrap();
    let mut xfer = |neg: &Negotiated, req: &spdm::Request<'_>| -> (Vec<u8>, Vec<u8>) {
        let m = wire::spdm_request(req, neg).unwrap();
        let obj = wire::doe_object(SpdmKind::Plain, &m).unwrap();
        let r = dsm.handle(&obj).object;
        let (_, payload) = doe::unwrap_spdm(&r).unwrap();
        let (_, exact) = wire::decode_response(payload, neg).unwrap();
        (m, exact.to_vec())
    };
    let mut neg = Negotiated::initial(Version::V12);
    let mut vca = Vec::new();
    let (q, r) = xfer(&neg, &spdm::Request::GetVersion);
    vca.extend_from_slice(&q);
    vca.extend_from_slice(&r);
    let req_flags = CapabilityFlags::CERT.union(CapabilityFlags::CHAL);
    let (q, r) = xfer(
        &neg,
        &spdm::Request::GetCapabilities(spdm::GetCapabilities {
            param1: 0,
            ct_exponent: 12,
            flags: req_flags,
            data_transfer_size: 4096,
            max_spdm_msg_size: 4096,
        }),
    );
    let spdm::Response::Capabilities(c) = spdm::Response::decode(&r, &neg).unwrap() else {
        panic!()
    };
    let rsp_flags = c.flags;
    vca.extend_from_slice(&q);
    vca.extend_from_slice(&r);
    let (q, r) = xfer(
        &neg,
        &spdm::Request::NegotiateAlgorithms(spdm::NegotiateAlgorithms {
            measurement_specification: algo::MEASUREMENT_SPEC_DMTF,
            other_params_support: 0,
            base_asym_algo: algo::asym::RSASSA_3072
                | algo::asym::ECDSA_P256
                | algo::asym::ECDSA_P384,
            base_hash_algo: algo::hash::SHA_256 | algo::hash::SHA_384,
            mel_specification: 0,
            ext_asym: &[],
            ext_hash: &[],
            alg_structs: spdm::AlgStructs::EMPTY,
        }),
    );
    let spdm::Response::Algorithms(a) = spdm::Response::decode(&r, &neg).unwrap() else {
        panic!()
    };
    assert_eq!(a.base_asym_sel, algo::asym::ECDSA_P384);
    assert_eq!(a.base_hash_sel, algo::hash::SHA_384);
    assert_eq!(a.dhe_sel(), 0);
    neg = Negotiated::from_algorithms(Version::V12, &a, req_flags, rsp_flags).unwrap();
    vca.extend_from_slice(&q);
    vca.extend_from_slice(&r);
    let mut m1 = vca.clone();
    let (q, r) = xfer(&neg, &spdm::Request::GetDigests);
    m1.extend_from_slice(&q);
    m1.extend_from_slice(&r);
    let mut chain = Vec::new();
    loop {
        let (q, r) = xfer(
            &neg,
            &spdm::Request::GetCertificate(spdm::GetCertificate {
                slot_id: 0,
                attributes: 0,
                offset: chain.len() as u16,
                length: 600,
            }),
        );
        m1.extend_from_slice(&q);
        m1.extend_from_slice(&r);
        let spdm::Response::Certificate(c) = spdm::Response::decode(&r, &neg).unwrap() else {
            panic!()
        };
        chain.extend_from_slice(c.portion);
        if c.remainder_length == 0 {
            break;
        }
    }
    let leaf = tsm_engine::certs::verify_chain(&chain, &cfg.trust_anchor).unwrap();
    let (q, r) = xfer(
        &neg,
        &spdm::Request::Challenge(spdm::Challenge {
            slot_id: 0,
            summary_hash_type: 0,
            nonce: [7; 32],
            requester_context: None,
        }),
    );
    let spdm::Response::ChallengeAuth(c) = spdm::Response::decode(&r, &neg).unwrap() else {
        panic!()
    };
    m1.extend_from_slice(&q);
    m1.extend_from_slice(&r[..c.signature_offset()]);
    let msg = crypto::signing_message(
        Version::V12,
        crypto::context::CHALLENGE_AUTH,
        &crypto::sha384(&m1),
    );
    crypto::verify(&leaf, &msg, c.signature).unwrap();
    // A session request outside a session is answered with an SPDM ERROR.
    let (_, r) = xfer(
        &neg,
        &spdm::Request::EndSession(spdm::EndSession { attributes: 0 }),
    );
    assert!(matches!(
        spdm::Response::decode(&r, &neg).unwrap(),
        spdm::Response::Error(_)
    ));
}

#[test]
fn report_not_matching_the_bars_fails_bind_and_unbind_recovers() {
    let (mut fw, mut ep) = setup(Faults::default());
    ok(&mut fw, &mut ep, connect());
    // The kernel believes BAR2 lives elsewhere: the device's report does not map.
    let mut p = testbed::bind_params();
    p.bars[1].base = 0x2000_0000;
    match relay::run(&mut fw, &mut ep, Command::Bind(p), T).output {
        Output::Failed { error, tdi_state } => {
            assert!(matches!(error, FwError::Report(_)), "{error:?}");
            assert_eq!(tdi_state, Some(TdiState::ConfigLocked));
        }
        other => panic!("{other:?}"),
    }
    ok(&mut fw, &mut ep, unbind());
    assert_eq!(ep.0.tdi_state(TDI), Some(TdiState::ConfigUnlocked));
    // An MMIO_REPORTING_OFFSET is applied by the device and removed by the check.
    let mut p = testbed::bind_params();
    p.mmio_reporting_offset = 0x40_0000_0000;
    ok(&mut fw, &mut ep, Command::Bind(p));
    let report = ok(&mut fw, &mut ep, guest(GuestOp::GetReport));
    assert_eq!(report, ep.0.report(0x40_0000_0000).unwrap());
}
