// SPDX-License-Identifier: GPL-2.0

//! tsm-dsm as a process, through QEMU's SPDM socket framing on 127.0.0.1 (ephemeral
//! port): the firmware engine drives it the way the guest kernel would through QEMU;
//! and with `--trace`, fed config writes through a file as QEMU's trace log.

use std::io::{BufRead, BufReader, Read};
use std::net::{SocketAddr, TcpStream};
use std::path::Path;
use std::process::{Command as Proc, Stdio};
use std::time::{Duration, Instant};

use tsm_engine::certs;
use tsm_engine::fw::{Command, DoeError, Firmware, FwConfig, FwError, GuestOp, Output};
use tsm_engine::report::FirstPageUnit;
use tsm_engine::testing::process::TestProcess;
use tsm_engine::testing::scratch::{self, ScratchDir};
use tsm_engine::testing::testbed::{self, bind, connect, disconnect, guest, unbind};
use tsm_engine::transport::qemu_socket::{self, Frame};
use tsm_engine::transport::relay::{self, SocketDsm};

const T: Duration = Duration::from_secs(5);
/// How long a test waits for tsm-dsm to exit.
const EXIT: Duration = Duration::from_secs(10);

/// A tsm-dsm process (killed first when dropped) and its directory.
struct Dsm {
    process: TestProcess,
    addr: SocketAddr,
    dir: ScratchDir,
}

fn spawn(tag: &str, extra: &[&str]) -> Dsm {
    let dir = ScratchDir::new(&format!("dsm-{tag}")).unwrap();
    let mut process = TestProcess::spawn(
        Proc::new(env!("CARGO_BIN_EXE_tsm-dsm"))
            .args(["--port", "0", "--once", "--msix", "0:0x2000:32:0:0x3000"])
            .args([
                "--bar",
                "0:0x10000000:0x4000:64",
                "--bar",
                "2:0x10010000:0x2000",
            ])
            .arg("--state-file")
            .arg(dir.join("state"))
            .arg("--root-cert-out")
            .arg(dir.join("root.pem"))
            .args(extra)
            .env("RUST_LOG", "warn")
            .stdout(Stdio::piped())
            .stderr(Stdio::null()),
    )
    .unwrap();
    let mut line = String::new();
    BufReader::new(process.child().stdout.take().unwrap())
        .read_line(&mut line)
        .unwrap();
    let addr = line
        .trim()
        .strip_prefix("listening on ")
        .unwrap_or_else(|| panic!("unexpected first line {line:?}"))
        .parse()
        .unwrap();
    Dsm { process, addr, dir }
}

/// A tsm-dsm process with `extra` arguments, a firmware that trusts its identity, and
/// QEMU's end of its socket.
fn attach(tag: &str, extra: &[&str]) -> (Dsm, Firmware, SocketDsm) {
    let d = spawn(tag, extra);
    let pem = std::fs::read(d.dir.join("root.pem")).unwrap();
    let fw = Firmware::new(FwConfig {
        trust_anchor: certs::der_from_file_bytes(&pem).unwrap(),
        first_page_unit: FirstPageUnit::PageNumber,
    });
    let ep = SocketDsm::connect(d.addr).unwrap();
    (d, fw, ep)
}

fn state(dir: &ScratchDir) -> String {
    std::fs::read_to_string(dir.join("state")).unwrap_or_default()
}

fn ok(fw: &mut Firmware, ep: &mut SocketDsm, cmd: Command) -> Vec<u8> {
    testbed::run_ok(fw, ep, cmd, T).unwrap_or_else(|e| panic!("{e}"))
}

#[test]
fn lifecycle_over_the_qemu_socket_with_state_file() {
    let (mut d, mut fw, mut ep) = attach("life", &[]);
    ok(&mut fw, &mut ep, connect());
    assert!(
        state(&d.dir).contains("spdm=established"),
        "{}",
        state(&d.dir)
    );
    assert!(state(&d.dir).contains("ide.stream0=active"));
    ok(&mut fw, &mut ep, bind());
    // The state file is rewritten before each response is sent.
    assert!(state(&d.dir).contains("tdi.0000:01:00.0=CONFIG_LOCKED"));
    let report = ok(&mut fw, &mut ep, guest(GuestOp::GetReport));
    assert!(report.len() > 16);
    ok(&mut fw, &mut ep, guest(GuestOp::Start));
    assert_eq!(ok(&mut fw, &mut ep, guest(GuestOp::GetState)), vec![2]);
    assert!(state(&d.dir).contains("tdi.0000:01:00.0=RUN"));
    ok(&mut fw, &mut ep, unbind());
    ok(&mut fw, &mut ep, disconnect());
    ep.shutdown().unwrap();
    assert_eq!(d.process.wait_exit(EXIT).unwrap(), Some(0));
    let s = state(&d.dir);
    assert!(s.contains("tdi.0000:01:00.0=CONFIG_UNLOCKED"), "{s}");
    assert!(s.contains("spdm=none"), "{s}");
}

#[test]
fn test_and_unknown_socket_commands() {
    let d = spawn("cmds", &[]);
    let mut s = TcpStream::connect(d.addr).unwrap();
    // (command sent, its payload, command of the answer, least answer payload): TEST is
    // echoed, an unknown command is answered UNKNOWN, and a garbage DOE object is
    // answered (with an SPDM ERROR), not dropped.
    for (command, payload, answer, least) in [
        (qemu_socket::CMD_TEST, vec![], qemu_socket::CMD_TEST, 0),
        (0x1234, vec![], qemu_socket::CMD_UNKNOWN, 0),
        (
            qemu_socket::CMD_NORMAL,
            vec![1, 2, 3],
            qemu_socket::CMD_NORMAL,
            12,
        ),
    ] {
        let frame = Frame {
            command,
            transport: qemu_socket::TRANSPORT_PCI_DOE,
            payload,
        };
        qemu_socket::write_frame(&mut s, &frame).unwrap();
        let r = qemu_socket::read_frame(&mut s).unwrap().unwrap();
        assert_eq!(r.command, answer, "{command:#x}");
        assert!(r.payload.len() >= least, "{command:#x}: {:?}", r.payload);
    }
}

#[test]
fn knob_from_the_command_line_tdisp_error() {
    let (d, mut fw, mut ep) = attach("knob", &["--tdisp-error", "lock"]);
    ok(&mut fw, &mut ep, connect());
    match relay::run(&mut fw, &mut ep, bind(), T).output {
        Output::Failed { error, .. } => assert!(matches!(error, FwError::TdispError(_))),
        other => panic!("{other:?}"),
    }
    assert!(state(&d.dir).contains("=CONFIG_UNLOCKED"));
}

#[test]
fn knob_error_after_start_shows_in_the_state_file() {
    let (d, mut fw, mut ep) = attach("err", &["--error-after", "start"]);
    ok(&mut fw, &mut ep, connect());
    ok(&mut fw, &mut ep, bind());
    ok(&mut fw, &mut ep, guest(GuestOp::Start));
    assert_eq!(ok(&mut fw, &mut ep, guest(GuestOp::GetState)), vec![3]);
    assert!(state(&d.dir).contains("tdi.0000:01:00.0=ERROR"));
    ok(&mut fw, &mut ep, unbind());
    assert!(state(&d.dir).contains("tdi.0000:01:00.0=CONFIG_UNLOCKED"));
    ok(&mut fw, &mut ep, disconnect());
    assert!(state(&d.dir).contains("ide.stream0=idle"));
}

#[test]
fn slow_response_times_out() {
    let (_dsm, mut fw, mut ep) = attach(
        "slow",
        &["--delay-ms", "3000", "--delay-at", "key_exchange"],
    );
    let t = Instant::now();
    let r = relay::run(&mut fw, &mut ep, connect(), Duration::from_millis(300));
    assert!(t.elapsed() < Duration::from_secs(3));
    match r.output {
        Output::Failed { error, .. } => {
            assert_eq!(error, FwError::Transport(DoeError::Timeout))
        }
        other => panic!("{other:?}"),
    }
}

#[test]
fn bad_signature_over_the_socket() {
    let (_dsm, mut fw, mut ep) = attach("sig", &["--bad-signature"]);
    assert!(matches!(
        relay::run(&mut fw, &mut ep, connect(), T).output,
        Output::Failed {
            error: FwError::Crypto(_),
            ..
        }
    ));
}

#[test]
fn peer_closing_without_shutdown_is_a_failure_exit() {
    let mut d = spawn("closed", &[]);
    drop(TcpStream::connect(d.addr).unwrap());
    assert_eq!(d.process.wait_exit(EXIT).unwrap(), Some(1));
}

#[test]
fn bad_arguments_exit_non_zero_with_a_message() {
    for args in [
        &["--truncate", "nonsense"][..],
        &["--bar", "7:0:0x1000"],
        &["--msix", "1:2"],
        &["--bdf", "zz"],
        &["--delay-at", "lock"],
        &["--pcie-cap", "0x100"],
        &["--pm-cap", "0x61"],
        &["--doe-cap", "0x80"],
        &["--no-such-flag"],
    ] {
        let out = Proc::new(env!("CARGO_BIN_EXE_tsm-dsm"))
            .args(["--port", "0"])
            .args(args)
            .stdout(Stdio::null())
            .stderr(Stdio::piped())
            .output()
            .unwrap();
        assert!(!out.status.success(), "{args:?}");
        let mut msg = String::new();
        out.stderr.as_slice().read_to_string(&mut msg).unwrap();
        assert!(!msg.trim().is_empty(), "{args:?}: no message");
    }
    let out = Proc::new(env!("CARGO_BIN_EXE_tsm-dsm"))
        .arg("--help")
        .output()
        .unwrap();
    assert!(out.status.success());
    let help = String::from_utf8_lossy(&out.stdout);
    for opt in [
        "--state-file",
        "--trace",
        "--pcie-cap",
        "--pm-cap",
        "--doe-cap",
    ] {
        assert!(help.contains(opt), "{opt} not in --help");
    }
}

#[test]
fn port_in_use_is_reported() {
    let d = spawn("busy", &[]);
    let out = Proc::new(env!("CARGO_BIN_EXE_tsm-dsm"))
        .args(["--port", &d.addr.port().to_string()])
        .stdout(Stdio::null())
        .stderr(Stdio::piped())
        .output()
        .unwrap();
    assert_eq!(out.status.code(), Some(1));
    assert!(String::from_utf8_lossy(&out.stderr).contains("cannot listen"));
}

fn append(path: &Path, text: &str) {
    scratch::append(path, text).unwrap();
}

/// The state file once its `trace.offset` equals the trace file's size.
fn caught_up(dir: &ScratchDir, trace: &Path) -> String {
    let t = Instant::now();
    let size = std::fs::metadata(trace).unwrap().len();
    let want = format!("trace.offset={size}\n");
    loop {
        let s = state(dir);
        if s.contains(&want) {
            return s;
        }
        assert!(
            t.elapsed() < Duration::from_secs(10),
            "{want:?} never in {s:?}"
        );
        std::thread::sleep(Duration::from_millis(10));
    }
}

#[test]
fn config_writes_from_the_trace_are_counted_without_a_connection() {
    let tdir = ScratchDir::new("dsm-trace-log").unwrap();
    let trace = tdir.join("qemu.log");
    let d = spawn(
        "trace",
        &[
            "--trace",
            trace.to_str().unwrap(),
            "--pcie-cap",
            "0x80",
            "--pm-cap",
            "0x60",
            "--doe-cap",
            "0x100",
        ],
    );
    // The file does not exist yet; then QEMU writes it, with other lines in between.
    std::thread::sleep(Duration::from_millis(30));
    append(&trace, "pci_cfg_write nvme 01:00.0 @0x4 <- 0x6\n");
    append(&trace, "qemu-system-x86_64: some warning\n");
    append(&trace, "pci_cfg_write nvme 02:00.0 @0x4 <- 0x6\n");
    append(&trace, "pci_cfg_write nvme 02:00.0 @0x4 <- 0x0\n");
    // Bus master cleared on a CONFIG_UNLOCKED TDI: seen, no violation.
    append(
        &trace,
        "77@1712345678.000001:pci_cfg_write nvme 01:00.0 @0x4 <- 0x2\n",
    );
    let s = caught_up(&d.dir, &trace);
    assert!(s.contains("host.cfg_writes=2\n"), "{s}");
    assert!(s.contains("host.events=1\n"), "{s}");
    assert!(s.contains("host.violations=0\n"), "{s}");
    assert!(s.contains("host.last_violation=none\n"), "{s}");
    assert!(s.contains("tdi.0000:01:00.0=CONFIG_UNLOCKED\n"), "{s}");
    // The kernel's DOE abort when it sets the mailbox up: no session, no violation.
    append(&trace, "pci_cfg_write nvme 01:00.0 @0x108 <- 0x1\n");
    let s = caught_up(&d.dir, &trace);
    assert!(s.contains("host.cfg_writes=3\n"), "{s}");
    assert!(s.contains("host.events=2\n"), "{s}");
    assert!(s.contains("host.violations=0\n"), "{s}");
}

#[test]
fn bus_master_clear_before_a_doe_request_is_applied_before_it_is_answered() {
    let tdir = ScratchDir::new("dsm-trace-order").unwrap();
    let trace = tdir.join("qemu.log");
    let (d, mut fw, mut ep) = attach("order", &["--trace", trace.to_str().unwrap()]);
    append(&trace, "pci_cfg_write nvme 01:00.0 @0x4 <- 0x6\n");
    ok(&mut fw, &mut ep, connect());
    ok(&mut fw, &mut ep, bind());
    assert!(state(&d.dir).contains("host.violations=0\n"));
    // The line is in the trace before the request is sent, as QEMU logs the DOE GO
    // write before the object reaches the socket: the answer must already see it,
    // however late the follower thread would have polled.
    append(&trace, "pci_cfg_write nvme 01:00.0 @0x4 <- 0x2\n");
    assert_eq!(ok(&mut fw, &mut ep, guest(GuestOp::GetState)), vec![3]);
    let s = state(&d.dir);
    assert!(s.contains("tdi.0000:01:00.0=ERROR\n"), "{s}");
    assert!(s.contains("host.violations=1\n"), "{s}");
    assert!(
        s.contains("host.last_violation=bus-master-disabled@0x4\n"),
        "{s}"
    );
    let size = std::fs::metadata(&trace).unwrap().len();
    assert!(s.contains(&format!("trace.offset={size}\n")), "{s}");
}
