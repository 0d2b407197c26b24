// SPDX-License-Identifier: GPL-2.0

//! Fuzzes the RMI state machines: a byte stream drives an EP PDEV, a root port PDEV,
//! their stream and one VDEV through arbitrary calls and communicate outcomes. Nothing
//! panics, a refused call changes nothing (the machines are pure), and the cross-object
//! invariants hold: a VDEV exists only on a PDEV that counts it, a stream's PDEVs count
//! it until its disconnect completes, and a PDEV with streams or VDEVs never stops.

#![no_main]

use libfuzzer_sys::fuzz_target;
use tsm_proto::rmi::*;

const OUTCOMES: [CommOutcome; 4] = [
    CommOutcome::InProgress,
    CommOutcome::StreamWait,
    CommOutcome::Idle,
    CommOutcome::Failed,
];

fuzz_target!(|data: &[u8]| {
    let mut ep = Pdev::create(Category::OffChipEndpoint);
    let mut rp = Pdev::create(Category::RootPort);
    let mut stream: Option<Stream> = None;
    let mut vdev: Option<Vdev> = None;
    for &b in data {
        let outcome = OUTCOMES[usize::from(b >> 6)];
        match b & 0x3f {
            0..=9 => {
                let p = if b & 1 == 0 { &mut ep } else { &mut rp };
                let call = match (b & 0x3f) >> 1 {
                    0 => PdevCall::Communicate(outcome),
                    1 => PdevCall::SetPubkey,
                    2 => PdevCall::Stop,
                    3 => PdevCall::Abort,
                    _ => PdevCall::Communicate(CommOutcome::Idle),
                };
                if let Ok(n) = p.on(call) {
                    if call == PdevCall::Stop {
                        assert!(p.streams == 0 && p.vdevs == 0);
                    }
                    *p = n;
                }
            }
            10 => {
                if stream.is_none() {
                    let params = StreamParams::new(StreamType::Ncoh, 0x1000, 0x2000, 0);
                    if let Ok((s, e, r)) = Stream::connect(&params, &ep, &rp) {
                        (stream, ep, rp) = (Some(s), e, r);
                    }
                }
            }
            11..=14 => {
                if let Some(s) = stream {
                    let call = [
                        StreamCall::Disconnect,
                        StreamCall::KeyRefresh,
                        StreamCall::KeyPurge,
                        StreamCall::Complete,
                    ][usize::from((b & 0x3f) - 11)];
                    if let Ok((s2, e, r)) = s.on(call, &ep, &rp) {
                        (ep, rp) = (e, r);
                        stream = (s2.state != StreamState::Disconnected).then_some(s2);
                    }
                }
            }
            15 => {
                if vdev.is_none() {
                    let ok = stream.is_some_and(|s| s.serves_vdevs());
                    if let Ok(v) = Vdev::create(&ep, 4, ok) {
                        ep = ep.on(PdevCall::VdevCreated).expect("create implies a host");
                        vdev = Some(v);
                    }
                }
            }
            16 => {
                if let Some(v) = vdev {
                    if v.destroy().is_ok() {
                        ep = ep.on(PdevCall::VdevDestroyed).expect("counted VDEV");
                        vdev = None;
                    }
                }
            }
            c => {
                if let Some(v) = vdev {
                    let call = match c % 7 {
                        0 => VdevCall::Communicate(outcome),
                        1 => VdevCall::Lock,
                        2 => VdevCall::Start,
                        3 => VdevCall::GetInterfaceReport,
                        4 => VdevCall::GetMeasurements {
                            pdev_comm_idle: ep.comm_idle(),
                        },
                        5 => VdevCall::Unlock {
                            mapped: (b & 0x40 != 0).then_some(0x5000_0000),
                        },
                        _ => VdevCall::Abort,
                    };
                    if let Ok(n) = v.on(call) {
                        vdev = Some(n);
                    }
                }
            }
        }
        assert_eq!(ep.vdevs, u32::from(vdev.is_some()));
        assert_eq!(ep.streams, u32::from(stream.is_some()));
        assert_eq!(rp.streams, ep.streams);
        assert_eq!(rp.vdevs, 0);
        assert!(!matches!(rp.state, PdevState::NeedsKey | PdevState::HasKey));
    }
});
