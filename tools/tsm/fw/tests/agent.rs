// SPDX-License-Identifier: GPL-2.0

//! tsm-fw as a process speaking the /dev/tsm_fw protocol over a pipe pair (`--stdio`),
//! driven by a userspace stand-in for the kernel backend, against an in-process DSM or a
//! tsm-dsm process behind QEMU's socket framing.

use std::path::PathBuf;
use std::process::{Command as Proc, Stdio};
use std::time::{Duration, Instant};

use tsm_engine::faults::Faults;
use tsm_engine::fw::GuestOp;
use tsm_engine::fwproto::errno;
use tsm_engine::testing::kernel_sim::KernelSim;
use tsm_engine::testing::process::TestProcess;
use tsm_engine::testing::scratch::ScratchDir;
use tsm_engine::testing::testbed::{self, connect, disconnect, guest, unbind, DEV, TDI};
use tsm_engine::transport::fw_channel::{self, Framing};
use tsm_engine::transport::relay::{LocalDsm, SocketDsm};
use tsm_engine::tsm_proto::fwmsg::{
    self, err, Cmd, Complete, Disconnect, GuestReq, Message, Msg, VERSION_1,
};

/// How long a test waits for tsm-fw to exit.
const EXIT: Duration = Duration::from_secs(10);

/// A tsm-fw process (killed first when dropped) and its directory.
struct Fw {
    process: TestProcess,
    _dir: ScratchDir,
}

/// Writes the trust anchor `der` as `name` (PEM) in `dir`.
fn anchor_file(dir: &ScratchDir, name: &str, der: &[u8]) -> PathBuf {
    let path = dir.join(name);
    std::fs::write(&path, tsm_engine::certs::pem_from_der(der).unwrap()).unwrap();
    path
}

/// Spawns tsm-fw trusting `anchor_der`; returns the process and a kernel simulator.
fn spawn_fw(tag: &str, anchor_der: &[u8], extra: &[&str]) -> (Fw, KernelSim<'static>) {
    let dir = ScratchDir::new(&format!("fw-{tag}")).unwrap();
    let anchor = anchor_file(&dir, "root.pem", anchor_der);
    let mut process = TestProcess::spawn(
        Proc::new(env!("CARGO_BIN_EXE_tsm-fw"))
            .arg("--stdio")
            .arg("--trust-anchor")
            .arg(&anchor)
            .args(extra)
            .env("RUST_LOG", "warn")
            .stdin(Stdio::piped())
            .stdout(Stdio::piped())
            .stderr(Stdio::null()),
    )
    .unwrap();
    let child = process.child();
    let rx = fw_channel::reader_thread(Box::new(child.stdout.take().unwrap()), Framing::Stream);
    let sim = KernelSim::new(rx, Box::new(child.stdin.take().unwrap()));
    (Fw { process, _dir: dir }, sim)
}

#[test]
fn lifecycle_through_the_firmware_process() {
    let (dsm, cfg) = testbed::platform(Faults::default()).unwrap();
    let mut ep = LocalDsm(dsm);
    let (_fw, mut k) = spawn_fw("life", &cfg.trust_anchor, &[]);
    let hello = k.handshake(VERSION_1).unwrap();
    assert_eq!(hello.max_version, VERSION_1);
    assert_ne!(hello.caps & fwmsg::CAP_TDISP, 0);
    let c = k.command(&connect(), &mut ep).unwrap();
    assert_eq!((c.status, c.fw_error), (0, err::NONE));
    assert!(k.exchanges > 20);
    let c = k.command(&testbed::bind(), &mut ep).unwrap();
    assert_eq!((c.status, c.tdi_state), (0, 1));
    let c = k.command(&guest(GuestOp::GetReport), &mut ep).unwrap();
    assert_eq!(c.payload, ep.0.report(0).unwrap());
    let c = k.command(&guest(GuestOp::Start), &mut ep).unwrap();
    assert_eq!((c.status, c.tdi_state), (0, 2));
    let c = k.command(&guest(GuestOp::GetState), &mut ep).unwrap();
    assert_eq!(c.payload, vec![2]);
    let c = k.command(&unbind(), &mut ep).unwrap();
    assert_eq!((c.status, c.tdi_state), (0, 0));
    assert_eq!(
        ep.0.tdi_state(TDI),
        Some(tsm_engine::state::TdiState::ConfigUnlocked)
    );
    let c = k.command(&disconnect(), &mut ep).unwrap();
    assert_eq!(c.status, 0);
    // A command for a device that is not connected is refused, not relayed.
    let before = k.exchanges;
    let c = k.command(&guest(GuestOp::Start), &mut ep).unwrap();
    assert_eq!((c.status, c.fw_error), (-errno::EINVAL, err::STATE));
    assert_eq!(k.exchanges, before);
}

/// A DSM served on an ephemeral 127.0.0.1 port through QEMU's socket framing, by the
/// same server code as tsm-dsm (the tsm-dsm process itself is tested in its crate).
fn spawn_dsm(
    dir: &ScratchDir,
    faults: Faults,
) -> (std::thread::JoinHandle<bool>, std::net::SocketAddr, Vec<u8>) {
    let (dsm, cfg) = testbed::platform(faults).unwrap();
    let l = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
    let addr = l.local_addr().unwrap();
    let state = dir.join("state");
    let h = std::thread::spawn(move || {
        let (mut s, _) = l.accept().unwrap();
        let dev =
            std::sync::Mutex::new(tsm_engine::dsm::server::Device::new(dsm, None, Some(state)));
        tsm_engine::dsm::server::serve(&mut s, &dev).unwrap()
    });
    (h, addr, cfg.trust_anchor)
}

#[test]
fn whole_chain_kernel_sim_fw_process_qemu_socket_dsm() {
    let dir = ScratchDir::new("fw-chain").unwrap();
    let faults = Faults {
        tdisp_error: Some(tsm_engine::faults::MsgKind::Start),
        ..Faults::default()
    };
    let (dsm, addr, anchor) = spawn_dsm(&dir, faults);
    let (_fw, mut k) = spawn_fw("chain", &anchor, &[]);
    k.handshake(VERSION_1).unwrap();
    let mut ep = SocketDsm::connect(addr).unwrap();
    assert_eq!(k.command(&connect(), &mut ep).unwrap().status, 0);
    assert_eq!(k.command(&testbed::bind(), &mut ep).unwrap().status, 0);
    let c = k.command(&guest(GuestOp::Start), &mut ep).unwrap();
    assert_eq!(
        (c.status, c.fw_error, c.tdi_state),
        (-errno::EIO, err::TDISP_ERROR, 1)
    );
    let state = std::fs::read_to_string(dir.join("state")).unwrap();
    assert!(state.contains("tdi.0000:01:00.0=CONFIG_LOCKED"), "{state}");
    assert_eq!(k.command(&unbind(), &mut ep).unwrap().status, 0);
    let state = std::fs::read_to_string(dir.join("state")).unwrap();
    assert!(
        state.contains("tdi.0000:01:00.0=CONFIG_UNLOCKED"),
        "{state}"
    );
    assert_eq!(k.command(&disconnect(), &mut ep).unwrap().status, 0);
    ep.shutdown().unwrap();
    assert!(dsm.join().unwrap(), "server saw SHUTDOWN");
}

#[test]
fn malformed_and_unknown_commands_get_bad_command() {
    let (dsm, cfg) = testbed::platform(Faults::default()).unwrap();
    let mut ep = LocalDsm(dsm);
    let (_fw, mut k) = spawn_fw("bad", &cfg.trust_anchor, &[]);
    k.handshake(VERSION_1).unwrap();
    let unknown = Cmd::GuestReq(GuestReq {
        dev: DEV,
        tdi_id: TDI.to_u32(),
        op: 99,
    });
    let c = k.command_wire(unknown, &mut ep).unwrap();
    assert_eq!((c.status, c.fw_error), (-errno::EINVAL, err::BAD_COMMAND));
    // A well-framed message with a bad magic.
    let mut raw = Cmd::Disconnect(Disconnect { dev: DEV }).to_vec(42).unwrap();
    raw[0] = 0;
    k.send_raw(&raw).unwrap();
    let (id, c) = k.expect_complete().unwrap();
    assert_eq!((id, c.fw_error), (42, err::BAD_COMMAND));
    // A firmware-to-kernel message type sent to the firmware.
    let raw = Msg::Complete(Complete {
        status: 0,
        fw_error: 0,
        tdi_state: 0,
        payload: &[],
    })
    .to_vec(43)
    .unwrap();
    k.send_raw(&raw).unwrap();
    let (id, c) = k.expect_complete().unwrap();
    assert_eq!((id, c.fw_error), (43, err::BAD_COMMAND));
    // Still serving.
    assert_eq!(k.command(&connect(), &mut ep).unwrap().status, 0);
}

/// Every COMPLETE up to `n` of them, as `(req_id, status, fw_error)` sorted by `req_id`
/// (DOE requests in between are left unanswered).
fn completes(k: &mut KernelSim<'_>, n: usize) -> Vec<(u64, i32, u32)> {
    let mut seen = Vec::new();
    while seen.len() < n {
        match k.expect_complete() {
            Ok((id, c)) => seen.push((id, c.status, c.fw_error)),
            Err(tsm_engine::testing::kernel_sim::SimError::Unexpected(_)) => {} // a DOE_REQUEST
            Err(e) => panic!("{e}"),
        }
    }
    seen.sort();
    seen
}

#[test]
fn unanswered_doe_request_times_out_or_is_superseded() {
    let (_, cfg) = testbed::platform(Faults::default()).unwrap();
    let (_fw, mut k) = spawn_fw("timeout", &cfg.trust_anchor, &["--doe-timeout-ms", "150"]);
    k.handshake(VERSION_1).unwrap();
    let t = Instant::now();
    k.send_raw(&connect().to_wire().unwrap().to_vec(1).unwrap())
        .unwrap();
    assert_eq!(
        completes(&mut k, 1),
        vec![(1, -errno::ETIMEDOUT, err::TIMEOUT)]
    );
    assert!(t.elapsed() < Duration::from_secs(5));
    // A second command while the first waits for its DOE response: the kernel gave up on
    // the first, which ends as not sent (and its half-made connection with it); the
    // second runs (and finds nothing to disconnect), nothing is refused as busy.
    k.send_raw(&connect().to_wire().unwrap().to_vec(2).unwrap())
        .unwrap();
    k.send_raw(&disconnect().to_wire().unwrap().to_vec(3).unwrap())
        .unwrap();
    assert_eq!(
        completes(&mut k, 2),
        vec![
            (2, -errno::ECANCELED, err::TRANSPORT),
            (3, -errno::EINVAL, err::STATE)
        ]
    );
}

#[test]
fn kernel_doe_errors_fail_the_command_cleanly() {
    struct Broken;
    impl tsm_engine::transport::relay::DoeEndpoint for Broken {
        fn exchange(&mut self, _: &[u8], _: Duration) -> Result<Vec<u8>, tsm_engine::fw::DoeError> {
            Err(tsm_engine::fw::DoeError::Io(-errno::EIO))
        }
    }
    let (_, cfg) = testbed::platform(Faults::default()).unwrap();
    let (_fw, mut k) = spawn_fw("eio", &cfg.trust_anchor, &[]);
    k.handshake(VERSION_1).unwrap();
    let c = k.command(&connect(), &mut Broken).unwrap();
    assert_eq!((c.status, c.fw_error), (-errno::EIO, err::TRANSPORT));
    assert!(String::from_utf8_lossy(&c.payload).contains("DOE"));
}

#[test]
fn refused_version_and_closed_peer_exit_non_zero() {
    let (_, cfg) = testbed::platform(Faults::default()).unwrap();
    let (mut fw, mut k) = spawn_fw("ver", &cfg.trust_anchor, &[]);
    k.handshake(0).unwrap();
    assert_eq!(fw.process.wait_exit(EXIT).unwrap(), Some(1));

    let (mut fw, k) = spawn_fw("closed", &cfg.trust_anchor, &[]);
    drop(k);
    assert_eq!(fw.process.wait_exit(EXIT).unwrap(), Some(1));
}

#[test]
fn bad_arguments_exit_non_zero_with_a_message() {
    let dir = ScratchDir::new("fw-args").unwrap();
    let junk = dir.join("junk.pem");
    std::fs::write(&junk, b"not a certificate").unwrap();
    let missing = dir.join("missing.pem");
    let cases: Vec<Vec<String>> = vec![
        vec!["--stdio".into()],
        vec![
            "--stdio".into(),
            "--trust-anchor".into(),
            missing.display().to_string(),
        ],
        vec![
            "--stdio".into(),
            "--trust-anchor".into(),
            junk.display().to_string(),
        ],
        vec![
            "--trust-anchor".into(),
            junk.display().to_string(),
            "--first-page-unit".into(),
            "kb".into(),
        ],
        vec![
            "--dev".into(),
            dir.join("no-such-dev").display().to_string(),
            "--trust-anchor".into(),
            junk.display().to_string(),
        ],
        vec!["--bogus".into()],
    ];
    for args in cases {
        let out = Proc::new(env!("CARGO_BIN_EXE_tsm-fw"))
            .args(&args)
            .stdin(Stdio::null())
            .output()
            .unwrap();
        assert!(!out.status.success(), "{args:?}");
        let msg = String::from_utf8_lossy(&out.stderr);
        assert!(
            msg.contains("tsm-fw") || msg.contains("error"),
            "{args:?}: {msg}"
        );
    }
    // A valid anchor but a device node that does not exist: the message names it.
    let id = tsm_engine::certs::Identity::generate("x").unwrap();
    let good = anchor_file(&dir, "good.pem", &id.root_der);
    let out = Proc::new(env!("CARGO_BIN_EXE_tsm-fw"))
        .arg("--dev")
        .arg(dir.join("no-such-dev"))
        .arg("--trust-anchor")
        .arg(&good)
        .output()
        .unwrap();
    assert_eq!(out.status.code(), Some(1));
    assert!(String::from_utf8_lossy(&out.stderr).contains("no-such-dev"));
    let out = Proc::new(env!("CARGO_BIN_EXE_tsm-fw"))
        .arg("--help")
        .output()
        .unwrap();
    assert!(out.status.success());
    assert!(String::from_utf8_lossy(&out.stdout).contains("--trust-anchor"));
}

#[test]
fn unix_socket_transport() {
    let (dsm, cfg) = testbed::platform(Faults::default()).unwrap();
    let mut ep = LocalDsm(dsm);
    let dir = ScratchDir::new("fw-sock").unwrap();
    let path = dir.join("fw.sock");
    let l = std::os::unix::net::UnixListener::bind(&path).unwrap();
    let anchor = anchor_file(&dir, "root.pem", &cfg.trust_anchor);
    let process = TestProcess::spawn(
        Proc::new(env!("CARGO_BIN_EXE_tsm-fw"))
            .arg("--socket")
            .arg(&path)
            .arg("--trust-anchor")
            .arg(&anchor)
            .env("RUST_LOG", "warn")
            .stderr(Stdio::null()),
    )
    .unwrap();
    let mut fw = Fw { process, _dir: dir };
    let (s, _) = l.accept().unwrap();
    let ctl = s.try_clone().unwrap();
    let rx = fw_channel::reader_thread(Box::new(s.try_clone().unwrap()), Framing::Stream);
    let mut k = KernelSim::new(rx, Box::new(s));
    k.handshake(VERSION_1).unwrap();
    assert_eq!(k.command(&connect(), &mut ep).unwrap().status, 0);
    assert_eq!(k.command(&disconnect(), &mut ep).unwrap().status, 0);
    // The kernel side goes away: the firmware reports it and exits non-zero.
    ctl.shutdown(std::net::Shutdown::Both).unwrap();
    drop(k);
    assert_eq!(fw.process.wait_exit(EXIT).unwrap(), Some(1));
}
