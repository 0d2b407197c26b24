// SPDX-License-Identifier: GPL-2.0

//! The RMI PDEV, VDEV and stream state machines: the host orders of the fact sheet
//! (§5, Linux `cca_tsm_connect`/`cca_vdev_create`/teardown, and TF-RMM's host test §6)
//! walked end to end, and tables of calls each machine must refuse, with the status the
//! RMM answers.

use proptest::prelude::*;
use tsm_proto::rmi::stream::HOST_ORDER;
use tsm_proto::rmi::*;

type Res<T> = core::result::Result<T, OrderError>;

fn status<T>(r: Res<T>) -> Result<T, Status> {
    r.map_err(|e| e.status)
}

/// Communicates `p` with some work and then to idle.
fn to_idle(p: Pdev) -> Pdev {
    let p = p
        .on(PdevCall::Communicate(CommOutcome::InProgress))
        .unwrap();
    p.on(PdevCall::Communicate(CommOutcome::Idle)).unwrap()
}

fn vdev_to_idle(v: Vdev) -> Vdev {
    v.on(VdevCall::Communicate(CommOutcome::InProgress))
        .and_then(|v| v.on(VdevCall::Communicate(CommOutcome::Idle)))
        .unwrap()
}

fn ready_ep() -> Pdev {
    let ep = to_idle(Pdev::create(Category::OffChipEndpoint));
    assert_eq!(ep.state, PdevState::NeedsKey);
    let ep = ep.on(PdevCall::SetPubkey).unwrap();
    assert_eq!((ep.state, ep.comm), (PdevState::HasKey, CommState::Pending));
    let ep = to_idle(ep);
    assert_eq!(ep.state, PdevState::Ready);
    ep
}

fn ready_rp() -> Pdev {
    let rp = Pdev::create(Category::RootPort);
    // A root port needs one communicate (no device traffic) to become READY.
    let rp = rp.on(PdevCall::Communicate(CommOutcome::Idle)).unwrap();
    assert_eq!(
        (rp.state, rp.comm, rp.op),
        (PdevState::Ready, CommState::Idle, None)
    );
    rp
}

fn ncoh_params() -> StreamParams {
    StreamParams::new(StreamType::Ncoh, 0x1000, 0x2000, 0)
}

/// Drives the stream dance in the hosts' order, then STREAM_COMPLETE.
fn dance(s: Stream, ep: Pdev, rp: Pdev) -> (Stream, Pdev, Pdev) {
    let (mut ep, mut rp) = (ep, rp);
    for (end, outcome) in HOST_ORDER {
        let p = match end {
            End::Ep => &mut ep,
            End::Rp => &mut rp,
        };
        *p = p
            .on(PdevCall::Communicate(CommOutcome::InProgress))
            .and_then(|p| p.on(PdevCall::Communicate(outcome)))
            .unwrap();
    }
    s.on(StreamCall::Complete, &ep, &rp).unwrap()
}

fn connected() -> (Stream, Pdev, Pdev) {
    let (s, ep, rp) = Stream::connect(&ncoh_params(), &ready_ep(), &ready_rp()).unwrap();
    assert_eq!(s.state, StreamState::Connecting);
    assert_eq!((ep.streams, rp.streams), (1, 1));
    let (s, ep, rp) = dance(s, ep, rp);
    assert_eq!(s.state, StreamState::Connected);
    assert_eq!((ep.op, rp.op), (None, None));
    (s, ep, rp)
}

#[test]
fn connect_bind_run_unbind_disconnect() {
    // Connect (§5): EP to READY, RP to READY, stream connected.
    let (s, ep, rp) = connected();
    assert!(s.serves_vdevs());

    // Bind: VDEV_CREATE → communicate to UNLOCKED → LOCK → communicate to LOCKED.
    let v = Vdev::create(&ep, 1024, s.serves_vdevs()).unwrap();
    let ep = ep.on(PdevCall::VdevCreated).unwrap();
    assert_eq!((v.state, v.op), (VdevState::New, Some(VdevOp::Unlock)));
    let v = vdev_to_idle(v);
    assert_eq!(v.state, VdevState::Unlocked);
    let v = vdev_to_idle(v.on(VdevCall::Lock).unwrap());
    assert_eq!(v.state, VdevState::Locked);

    // Report while LOCKED leaves the state; then run.
    let v = vdev_to_idle(v.on(VdevCall::GetInterfaceReport).unwrap());
    assert_eq!(v.state, VdevState::Locked);
    let v = vdev_to_idle(v.on(VdevCall::Start).unwrap());
    assert_eq!(v.state, VdevState::Started);
    let v = vdev_to_idle(
        v.on(VdevCall::GetMeasurements {
            pdev_comm_idle: ep.comm_idle(),
        })
        .unwrap(),
    );
    assert_eq!(v.state, VdevState::Started);

    // Unbind: refused with ERROR_GRANULE while a device granule is mapped.
    let e = v
        .on(VdevCall::Unlock {
            mapped: Some(0x5000_0000),
        })
        .unwrap_err();
    assert_eq!((e.status, e.value), (Status::ErrorGranule, 0x5000_0000));
    let v = vdev_to_idle(v.on(VdevCall::Unlock { mapped: None }).unwrap());
    assert_eq!(v.state, VdevState::Unlocked);
    v.destroy().unwrap();
    let ep = ep.on(PdevCall::VdevDestroyed).unwrap();

    // Disconnect: stream dance, then the PDEVs stop and are destroyed.
    let (s, ep, rp) = s.on(StreamCall::Disconnect, &ep, &rp).unwrap();
    assert_eq!(s.state, StreamState::Disconnecting);
    let (s, ep, rp) = dance(s, ep, rp);
    assert_eq!(s.state, StreamState::Disconnected);
    assert_eq!((ep.streams, rp.streams), (0, 0));
    for p in [ep, rp] {
        assert!(p.destroy().is_err());
        let p = to_idle(p.on(PdevCall::Stop).unwrap());
        assert_eq!(p.state, PdevState::Stopped);
        p.destroy().unwrap();
    }
}

#[test]
fn key_refresh_returns_to_connected() {
    let (s, ep, rp) = connected();
    let (s, ep, rp) = s.on(StreamCall::KeyRefresh, &ep, &rp).unwrap();
    assert_eq!(s.state, StreamState::KeyRefreshing);
    let (s, _, _) = dance(s, ep, rp);
    assert_eq!(s.state, StreamState::Connected);
}

#[test]
fn pdev_refusals() {
    let new_ep = Pdev::create(Category::OffChipEndpoint);
    let needs_key = to_idle(new_ep);
    let ready = ready_ep();
    let failed = new_ep
        .on(PdevCall::Communicate(CommOutcome::Failed))
        .unwrap();
    assert_eq!(
        (failed.state, failed.comm),
        (PdevState::Error, CommState::Error)
    );
    let cases: &[(Pdev, PdevCall, Status)] = &[
        // COMMUNICATE with nothing to carry.
        (
            ready,
            PdevCall::Communicate(CommOutcome::Idle),
            Status::ErrorDevice,
        ),
        (
            failed,
            PdevCall::Communicate(CommOutcome::Idle),
            Status::ErrorDevice,
        ),
        // STREAM_WAIT outside a stream operation.
        (
            new_ep,
            PdevCall::Communicate(CommOutcome::StreamWait),
            Status::ErrorDevice,
        ),
        // SET_PUBKEY outside NEEDS_KEY.
        (new_ep, PdevCall::SetPubkey, Status::ErrorDevice),
        (ready, PdevCall::SetPubkey, Status::ErrorDevice),
        // STOP with the comm busy or failed.
        (new_ep, PdevCall::Stop, Status::ErrorDevice),
        (failed, PdevCall::Stop, Status::ErrorDevice),
        // ABORT with the comm idle.
        (ready, PdevCall::Abort, Status::ErrorDevice),
        (needs_key, PdevCall::Abort, Status::ErrorDevice),
        // Stream operations need READY and idle (ERROR_INPUT), completion a part ended.
        (
            needs_key,
            PdevCall::StreamBegin(StreamOp::Connect),
            Status::ErrorInput,
        ),
        (
            new_ep,
            PdevCall::StreamBegin(StreamOp::Disconnect),
            Status::ErrorInput,
        ),
        (ready, PdevCall::StreamComplete, Status::ErrorDevice),
        (needs_key, PdevCall::StreamComplete, Status::ErrorInput),
        // VDEVs only on a READY EP.
        (needs_key, PdevCall::VdevCreated, Status::ErrorDevice),
        (ready_rp(), PdevCall::VdevCreated, Status::ErrorDevice),
        (ready, PdevCall::VdevDestroyed, Status::ErrorInput),
    ];
    for (p, call, want) in cases {
        assert_eq!(status(p.on(*call)), Err(*want), "{call:?} on {p:?}");
    }
    // STOP with a stream or a VDEV.
    let (_, ep, _) = connected();
    assert_eq!(status(ep.on(PdevCall::Stop)), Err(Status::ErrorDevice));
    let mut with_vdev = ready.on(PdevCall::VdevCreated).unwrap();
    assert_eq!(
        status(with_vdev.on(PdevCall::Stop)),
        Err(Status::ErrorDevice)
    );
    with_vdev = with_vdev.on(PdevCall::VdevDestroyed).unwrap();
    assert!(with_vdev.on(PdevCall::Stop).is_ok());
}

#[test]
fn pdev_error_recovery_through_abort_then_stop() {
    // A failed operation: STOP is refused until ABORT returns the comm to idle.
    let p = Pdev::create(Category::OffChipEndpoint)
        .on(PdevCall::Communicate(CommOutcome::InProgress))
        .and_then(|p| p.on(PdevCall::Communicate(CommOutcome::Failed)))
        .unwrap();
    assert_eq!(p.state, PdevState::Error);
    let p = p.on(PdevCall::Abort).unwrap();
    assert_eq!((p.state, p.comm), (PdevState::Error, CommState::Idle));
    let p = to_idle(p.on(PdevCall::Stop).unwrap());
    assert_eq!(p.state, PdevState::Stopped);
    assert!(p.destroy().is_ok());
    // ABORT of a pending operation keeps the state and the recorded operation.
    let q = Pdev::create(Category::OffChipEndpoint)
        .on(PdevCall::Abort)
        .unwrap();
    assert_eq!(
        (q.state, q.comm, q.op),
        (PdevState::New, CommState::Idle, Some(PdevOp::Init))
    );
}

#[test]
fn vdev_refusals() {
    let (s, ep, _) = connected();
    let new = Vdev::create(&ep, 4, true).unwrap();
    let unlocked = vdev_to_idle(new);
    let locked = vdev_to_idle(unlocked.on(VdevCall::Lock).unwrap());
    let started = vdev_to_idle(locked.on(VdevCall::Start).unwrap());
    let busy = unlocked.on(VdevCall::Lock).unwrap();
    let cases: &[(Vdev, VdevCall, Status)] = &[
        (new, VdevCall::Lock, Status::ErrorDevice),
        (locked, VdevCall::Lock, Status::ErrorDevice),
        (busy, VdevCall::Lock, Status::ErrorDevice),
        (unlocked, VdevCall::Start, Status::ErrorDevice),
        (started, VdevCall::Start, Status::ErrorDevice),
        (unlocked, VdevCall::GetInterfaceReport, Status::ErrorDevice),
        (
            unlocked,
            VdevCall::GetMeasurements {
                pdev_comm_idle: false,
            },
            Status::ErrorDevice,
        ),
        (
            unlocked,
            VdevCall::Unlock { mapped: None },
            Status::ErrorDevice,
        ),
        (new, VdevCall::Unlock { mapped: None }, Status::ErrorDevice),
        (unlocked, VdevCall::Abort, Status::ErrorDevice),
        (
            unlocked,
            VdevCall::Communicate(CommOutcome::Idle),
            Status::ErrorDevice,
        ),
        (
            new,
            VdevCall::Communicate(CommOutcome::StreamWait),
            Status::ErrorDevice,
        ),
    ];
    for (v, call, want) in cases {
        assert_eq!(status(v.on(*call)), Err(*want), "{call:?} on {v:?}");
    }
    // GET_MEASUREMENTS does not look at the VDEV state, only at the communications:
    // the PDEV's, and the VDEV's own (no second operation over a pending one).
    let meas = VdevCall::GetMeasurements {
        pdev_comm_idle: true,
    };
    let aborted = busy.on(VdevCall::Abort).unwrap();
    assert_eq!(aborted.state, VdevState::Error);
    for v in [unlocked, locked, started, aborted] {
        let m = v.on(meas).unwrap();
        assert_eq!((m.op, m.comm), (Some(VdevOp::GetMeas), CommState::Pending));
        let m = vdev_to_idle(m);
        assert_eq!((m.state, m.op), (v.state, None), "unchanged from {v:?}");
    }
    for v in [new, busy, locked.on(meas).unwrap()] {
        assert_eq!(status(v.on(meas)), Err(Status::ErrorDevice), "{v:?}");
    }
    let failed = new.on(VdevCall::Communicate(CommOutcome::Failed)).unwrap();
    assert_eq!(failed.comm, CommState::Error);
    assert_eq!(status(failed.on(meas)), Err(Status::ErrorDevice));
    // DESTROY only from NEW or UNLOCKED.
    assert!(new.destroy().is_ok() && unlocked.destroy().is_ok());
    for v in [locked, started] {
        assert_eq!(status(v.destroy()), Err(Status::ErrorDevice));
    }
    // CREATE needs a READY EP, a free slot and the connected stream.
    assert!(s.serves_vdevs());
    assert_eq!(status(Vdev::create(&ep, 0, true)), Err(Status::ErrorDevice));
    assert_eq!(
        status(Vdev::create(&ep, 4, false)),
        Err(Status::ErrorDevice)
    );
    assert_eq!(
        status(Vdev::create(&ready_rp(), 4, true)),
        Err(Status::ErrorDevice)
    );
    let needs_key = to_idle(Pdev::create(Category::OffChipEndpoint));
    assert_eq!(
        status(Vdev::create(&needs_key, 4, true)),
        Err(Status::ErrorDevice)
    );
}

#[test]
fn vdev_error_path_abort_unlock_destroy() {
    let (_, ep, _) = connected();
    let v = vdev_to_idle(Vdev::create(&ep, 4, true).unwrap());
    let v = v.on(VdevCall::Lock).unwrap();
    // ABORT while the lock is pending: ERROR, comm idle.
    let v = v.on(VdevCall::Abort).unwrap();
    assert_eq!((v.state, v.comm), (VdevState::Error, CommState::Idle));
    assert!(v.destroy().is_err());
    let v = vdev_to_idle(v.on(VdevCall::Unlock { mapped: None }).unwrap());
    assert_eq!(v.state, VdevState::Unlocked);
    assert!(v.destroy().is_ok());
    // A failed communicate also gives ERROR.
    let f = Vdev::create(&ep, 4, true)
        .unwrap()
        .on(VdevCall::Communicate(CommOutcome::Failed))
        .unwrap();
    assert_eq!((f.state, f.comm), (VdevState::Error, CommState::Error));
}

#[test]
fn vdev_operation_targets() {
    // TF-RMM's op map (vdev.c): what each operation leaves at idle.
    let s = VdevState::Started;
    assert_eq!(VdevOp::Unlock.target(s), VdevState::Unlocked);
    assert_eq!(VdevOp::Lock.target(s), VdevState::Locked);
    assert_eq!(VdevOp::Start.target(s), VdevState::Started);
    assert_eq!(
        VdevOp::GetReport.target(VdevState::Locked),
        VdevState::Locked
    );
    assert_eq!(VdevOp::GetMeas.target(s), s);
    assert_eq!(VdevOp::KeyRefresh.target(s), VdevState::KeyPurge);
    assert_eq!(VdevOp::KeyPurge.target(s), VdevState::Unlocked);
}

#[test]
fn stream_refusals() {
    let (ep, rp) = (ready_ep(), ready_rp());
    let st = |r: Res<(Stream, Pdev, Pdev)>| status(r.map(|_| ()));
    // Only NCOH; only off-chip EP + root port; both READY and idle.
    let coh = StreamParams {
        stream_type: StreamType::Coh,
        ..ncoh_params()
    };
    assert_eq!(
        st(Stream::connect(&coh, &ep, &rp)),
        Err(Status::NotSupported)
    );
    assert_eq!(
        st(Stream::connect(&ncoh_params(), &rp, &ep)),
        Err(Status::ErrorInput)
    );
    let needs_key = to_idle(Pdev::create(Category::OffChipEndpoint));
    assert_eq!(
        st(Stream::connect(&ncoh_params(), &needs_key, &rp)),
        Err(Status::ErrorInput)
    );
    // COMPLETE before both ends finished their part.
    let (s, ep1, rp1) = Stream::connect(&ncoh_params(), &ep, &rp).unwrap();
    assert_eq!(
        st(s.on(StreamCall::Complete, &ep1, &rp1)),
        Err(Status::ErrorInput)
    );
    let rp2 = to_idle(rp1);
    let ep2 = to_idle(ep1);
    let (done, ..) = s.on(StreamCall::Complete, &ep2, &rp2).unwrap();
    assert_eq!(done.state, StreamState::Connected);
    // A second operation while one is in progress.
    assert_eq!(
        st(s.on(StreamCall::Disconnect, &ep1, &rp1)),
        Err(Status::ErrorDevice)
    );
    assert_eq!(
        st(s.on(StreamCall::KeyRefresh, &ep1, &rp1)),
        Err(Status::ErrorInput)
    );
    // KEY_PURGE is not supported; DISCONNECT with VDEVs on the EP.
    let (s, ep, rp) = connected();
    assert_eq!(
        st(s.on(StreamCall::KeyPurge, &ep, &rp)),
        Err(Status::NotSupported)
    );
    let ep_v = ep.on(PdevCall::VdevCreated).unwrap();
    assert_eq!(
        st(s.on(StreamCall::Disconnect, &ep_v, &rp)),
        Err(Status::ErrorDevice)
    );
    // COMPLETE with nothing in progress.
    assert_eq!(
        st(s.on(StreamCall::Complete, &ep, &rp)),
        Err(Status::ErrorDevice)
    );
    // A freed stream takes no further call.
    let (s, ep, rp) = s.on(StreamCall::Disconnect, &ep, &rp).unwrap();
    let (s, ep, rp) = dance(s, ep, rp);
    assert_eq!(
        st(s.on(StreamCall::Disconnect, &ep, &rp)),
        Err(Status::ErrorDevice)
    );
    assert_eq!(
        st(s.on(StreamCall::KeyRefresh, &ep, &rp)),
        Err(Status::ErrorDevice)
    );
}

#[test]
fn sro_follow_up_order() {
    // EP PDEV_CREATE: INCOMPLETE + DONATE; only OP_MEM_DONATE continues it.
    let inc = match Outcome::decode(0x010D).unwrap() {
        Outcome::Incomplete(i) => i,
        o => panic!("{o:?}"),
    };
    assert!(inc.check_follow_up(Call::OpMemDonate).is_ok());
    for c in [
        Call::OpContinue,
        Call::OpMemReclaim,
        Call::OpCancel,
        Call::PdevCreate,
    ] {
        assert_eq!(
            status(inc.check_follow_up(c)),
            Err(Status::ErrorInput),
            "{c:?}"
        );
    }
    let cancellable = Incomplete {
        mem_req: MemReq::None,
        can_cancel: true,
    };
    assert!(cancellable.check_follow_up(Call::OpContinue).is_ok());
    assert!(cancellable.check_follow_up(Call::OpCancel).is_ok());
}

fn pdev_call() -> impl Strategy<Value = PdevCall> {
    let outcome = prop::sample::select(vec![
        CommOutcome::InProgress,
        CommOutcome::StreamWait,
        CommOutcome::Idle,
        CommOutcome::Failed,
    ]);
    let op = prop::sample::select(vec![
        StreamOp::Connect,
        StreamOp::Disconnect,
        StreamOp::KeyRefresh,
    ]);
    prop_oneof![
        4 => outcome.prop_map(PdevCall::Communicate),
        1 => Just(PdevCall::SetPubkey),
        1 => Just(PdevCall::Stop),
        1 => Just(PdevCall::Abort),
        1 => op.prop_map(PdevCall::StreamBegin),
        1 => Just(PdevCall::StreamComplete),
        1 => Just(PdevCall::VdevCreated),
        1 => Just(PdevCall::VdevDestroyed),
    ]
}

fn vdev_call() -> impl Strategy<Value = VdevCall> {
    let outcome = prop::sample::select(vec![
        CommOutcome::InProgress,
        CommOutcome::Idle,
        CommOutcome::Failed,
    ]);
    prop_oneof![
        4 => outcome.prop_map(VdevCall::Communicate),
        1 => Just(VdevCall::Lock),
        1 => Just(VdevCall::Start),
        1 => Just(VdevCall::GetInterfaceReport),
        1 => any::<bool>().prop_map(|b| VdevCall::GetMeasurements { pdev_comm_idle: b }),
        1 => prop::option::of(any::<u64>()).prop_map(|m| VdevCall::Unlock { mapped: m }),
        1 => Just(VdevCall::Abort),
    ]
}

proptest! {
    /// Random PDEV call sequences: the RMI state changes only through COMMUNICATE and
    /// SET_PUBKEY, STOPPED is reached only through a Stop operation, READY never goes
    /// back to NEW/NEEDS_KEY/HAS_KEY, and an operation is pending whenever the comm is
    /// pending or active.
    #[test]
    fn pdev_invariants(ep in any::<bool>(), calls in prop::collection::vec(pdev_call(), 0..60)) {
        let cat = if ep { Category::OffChipEndpoint } else { Category::RootPort };
        let mut p = Pdev::create(cat);
        for call in calls {
            let Ok(next) = p.on(call) else { continue };
            match call {
                PdevCall::Communicate(_) | PdevCall::SetPubkey => {}
                _ => prop_assert_eq!(next.state, p.state),
            }
            if next.state == PdevState::Stopped && p.state != PdevState::Stopped {
                prop_assert_eq!(p.op, Some(PdevOp::Stop));
            }
            if p.state == PdevState::Ready {
                prop_assert!(matches!(
                    next.state,
                    PdevState::Ready | PdevState::Error | PdevState::Stopped
                ));
            }
            if matches!(next.comm, CommState::Pending | CommState::Active) {
                prop_assert!(next.op.is_some());
            }
            if !ep {
                prop_assert!(next.state != PdevState::NeedsKey && next.state != PdevState::HasKey);
            }
            p = next;
        }
    }

    /// Random VDEV call sequences: the state changes only through COMMUNICATE and
    /// ABORT; STARTED is entered only from LOCKED and LOCKED only from UNLOCKED (by
    /// way of their operations); ERROR leaves only through an Unlock operation; no call
    /// but COMMUNICATE and ABORT is accepted while an operation is in progress.
    #[test]
    fn vdev_invariants(calls in prop::collection::vec(vdev_call(), 0..60)) {
        let (_, ep, _) = connected();
        let mut v = Vdev::create(&ep, 1, true).unwrap();
        let mut entered_by: Option<VdevOp> = v.op;
        for call in calls {
            let Ok(next) = v.on(call) else { continue };
            if v.comm != CommState::Idle {
                prop_assert!(
                    matches!(call, VdevCall::Communicate(_) | VdevCall::Abort),
                    "{:?} accepted over {:?}", call, v.op
                );
            }
            match call {
                VdevCall::Communicate(_) | VdevCall::Abort => {}
                _ => prop_assert_eq!(next.state, v.state),
            }
            if next.op.is_some() {
                entered_by = next.op;
            }
            if next.state != v.state && next.state != VdevState::Error {
                let want = match next.state {
                    VdevState::Locked => VdevOp::Lock,
                    VdevState::Started => VdevOp::Start,
                    VdevState::Unlocked => VdevOp::Unlock,
                    s => panic!("unexpected {s:?}"),
                };
                prop_assert_eq!(entered_by, Some(want));
            }
            v = next;
        }
    }
}
