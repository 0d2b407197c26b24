// SPDX-License-Identifier: GPL-2.0

//! The agent loop with datagram framing (one read()/write() per message, as on
//! /dev/tsm_fw), over a Unix datagram socket pair standing in for the character device.

use std::io::{self, Read, Write};
use std::os::unix::net::UnixDatagram;
use std::sync::Arc;
use std::time::Duration;

use tsm_engine::faults::Faults;
use tsm_engine::fw::agent::{self, AgentError, AgentOptions};
use tsm_engine::fw::{Firmware, GuestOp};
use tsm_engine::testing::kernel_sim::KernelSim;
use tsm_engine::testing::testbed;
use tsm_engine::transport::fw_channel::{self, Framing};
use tsm_engine::transport::relay::LocalDsm;
use tsm_proto::fwmsg::VERSION_1;

/// A message-preserving endpoint: each read() is one recv(), each write() one send().
struct Dgram(Arc<UnixDatagram>);

impl Read for Dgram {
    fn read(&mut self, buf: &mut [u8]) -> io::Result<usize> {
        self.0.recv(buf)
    }
}

impl Write for Dgram {
    fn write(&mut self, buf: &[u8]) -> io::Result<usize> {
        self.0.send(buf)
    }
    fn flush(&mut self) -> io::Result<()> {
        Ok(())
    }
}

/// An agent on one end of a datagram pair; the kernel's end, its DSM and the agent thread.
fn setup() -> (
    Arc<UnixDatagram>,
    KernelSim<'static>,
    LocalDsm,
    std::thread::JoinHandle<Result<(), AgentError>>,
) {
    let (a, b) = UnixDatagram::pair().unwrap();
    let (a, b) = (Arc::new(a), Arc::new(b));
    let (dsm, cfg) = testbed::platform(Faults::default()).unwrap();
    let fw_side = a.clone();
    let agent = std::thread::spawn(move || {
        let mut fw = Firmware::new(cfg);
        let rx = fw_channel::reader_thread(Box::new(Dgram(fw_side.clone())), Framing::Datagram);
        let mut w = Dgram(fw_side);
        agent::run_agent(
            &mut fw,
            &rx,
            &mut w,
            &AgentOptions {
                doe_timeout: Duration::from_secs(2),
            },
        )
    });
    let rx = fw_channel::reader_thread(Box::new(Dgram(b.clone())), Framing::Datagram);
    let mut k = KernelSim::new(rx, Box::new(Dgram(b.clone())));
    let ep = LocalDsm(dsm);
    k.handshake(VERSION_1).unwrap();
    (b, k, ep, agent)
}

/// The kernel closes the device: a zero-length read ends the agent with PeerClosed.
fn close(b: &UnixDatagram, agent: std::thread::JoinHandle<Result<(), AgentError>>) {
    b.send(&[]).unwrap();
    match agent.join().unwrap() {
        Err(AgentError::PeerClosed) => {}
        other => panic!("{other:?}"),
    }
}

fn ok(k: &mut KernelSim<'_>, ep: &mut LocalDsm, command: &tsm_engine::fw::Command) -> Vec<u8> {
    let c = k.command(command, ep).unwrap();
    assert_eq!(
        c.status,
        0,
        "{command:?}: {}",
        String::from_utf8_lossy(&c.payload)
    );
    c.payload
}

#[test]
fn agent_over_a_message_device() {
    let (b, mut k, mut ep, agent) = setup();
    for command in [
        testbed::connect(),
        testbed::bind(),
        testbed::guest(GuestOp::Start),
        testbed::unbind(),
        testbed::disconnect(),
    ] {
        ok(&mut k, &mut ep, &command);
    }
    close(&b, agent);
}

/// The kernel gives up on commands whose first (secured) request it never carries, and
/// sends the next command while the firmware still waits for that request's answer (the
/// kernel's `-ECANCELED` for it comes after the new command). The firmware takes each
/// abandoned request back and serves the new command: nothing is refused as busy, and
/// the SPDM session stays in step with the device.
#[test]
fn abandoned_command_superseded_by_the_next() {
    let (b, mut k, mut ep, agent) = setup();
    ok(&mut k, &mut ep, &testbed::connect());
    ok(&mut k, &mut ep, &testbed::bind());
    for _ in 0..4 {
        assert_eq!(k.abandon(&testbed::guest(GuestOp::GetReport)).unwrap(), 0);
    }
    let report = ok(&mut k, &mut ep, &testbed::guest(GuestOp::GetReport));
    assert!(!report.is_empty());
    // A bind abandoned the same way leaves the TDI unbound; unbinding the bound one works.
    ok(&mut k, &mut ep, &testbed::guest(GuestOp::Start));
    ok(&mut k, &mut ep, &testbed::unbind());
    assert_eq!(k.abandon(&testbed::bind()).unwrap(), 0);
    ok(&mut k, &mut ep, &testbed::bind());
    ok(&mut k, &mut ep, &testbed::unbind());
    ok(&mut k, &mut ep, &testbed::disconnect());
    close(&b, agent);
}
