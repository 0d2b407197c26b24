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

#[test]
fn agent_over_a_message_device() {
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
    let mut ep = LocalDsm(dsm);
    k.handshake(VERSION_1).unwrap();
    for command in [
        testbed::connect(),
        testbed::bind(),
        testbed::guest(GuestOp::Start),
        testbed::unbind(),
        testbed::disconnect(),
    ] {
        let c = k.command(&command, &mut ep).unwrap();
        assert_eq!(
            c.status,
            0,
            "{command:?}: {}",
            String::from_utf8_lossy(&c.payload)
        );
    }
    // The kernel closes the device: a zero-length read ends the agent with PeerClosed.
    b.send(&[]).unwrap();
    match agent.join().unwrap() {
        Err(AgentError::PeerClosed) => {}
        other => panic!("{other:?}"),
    }
}
