// SPDX-License-Identifier: GPL-2.0

//! Loopback tests: the firmware engine against the DSM engine in one process, through the
//! relay loop (DOE objects built and parsed as the kernel would), no QEMU.

use std::time::Duration;

use tsm_engine::faults::{Faults, MsgKind};
use tsm_engine::fw::{Command, Firmware, FwError, GuestOp, Output};
use tsm_engine::relay::{self, LocalDsm};
use tsm_engine::testbed::{self, DEV, TDI};
use tsm_proto::state::TdiState;

const T: Duration = Duration::from_secs(2);

fn setup(faults: Faults) -> (Firmware, LocalDsm) {
    let (dsm, cfg) = testbed::platform(faults).unwrap();
    (Firmware::new(cfg), LocalDsm(dsm))
}

fn ok(fw: &mut Firmware, ep: &mut LocalDsm, cmd: Command) -> Vec<u8> {
    match relay::run(fw, ep, cmd.clone(), T).output {
        Output::Done { payload, .. } => payload,
        other => panic!("{cmd:?} failed: {other:?}"),
    }
}

fn connect() -> Command {
    Command::Connect {
        dev: DEV,
        stream_id: 0,
    }
}

fn guest(op: GuestOp) -> Command {
    Command::GuestReq {
        dev: DEV,
        tdi: TDI,
        op,
    }
}

#[test]
fn full_lifecycle() {
    let (mut fw, mut ep) = setup(Faults::default());
    ok(&mut fw, &mut ep, connect());
    assert!(fw.connected(DEV));
    assert!(ep.0.session_established());
    assert!(ep.0.ide_stream_active(0));
    ok(&mut fw, &mut ep, Command::Bind(testbed::bind_params()));
    assert_eq!(ep.0.tdi_state(TDI), Some(TdiState::ConfigLocked));
    let report = ok(&mut fw, &mut ep, guest(GuestOp::GetReport));
    assert_eq!(report, ep.0.report(0).unwrap());
    ok(&mut fw, &mut ep, guest(GuestOp::Start));
    assert_eq!(ep.0.tdi_state(TDI), Some(TdiState::Run));
    assert_eq!(fw.tdi_state(DEV, TDI), Some(TdiState::Run));
    assert_eq!(ok(&mut fw, &mut ep, guest(GuestOp::GetState)), vec![2]);
    ok(&mut fw, &mut ep, Command::Unbind { dev: DEV, tdi: TDI });
    assert_eq!(ep.0.tdi_state(TDI), Some(TdiState::ConfigUnlocked));
    ok(&mut fw, &mut ep, Command::Disconnect { dev: DEV });
    assert!(!fw.connected(DEV));
    assert!(!ep.0.session_established());
    assert!(!ep.0.ide_stream_active(0));
    let snap = ep.0.snapshot();
    assert!(snap.contains("tdi.0000:01:00.0=CONFIG_UNLOCKED"), "{snap}");
    assert!(snap.contains("spdm=none"), "{snap}");
    // And again, on the same DSM: reconnect works.
    ok(&mut fw, &mut ep, connect());
    ok(&mut fw, &mut ep, Command::Bind(testbed::bind_params()));
    ok(&mut fw, &mut ep, guest(GuestOp::Start));
    ok(&mut fw, &mut ep, Command::Unbind { dev: DEV, tdi: TDI });
    ok(&mut fw, &mut ep, Command::Disconnect { dev: DEV });
}
