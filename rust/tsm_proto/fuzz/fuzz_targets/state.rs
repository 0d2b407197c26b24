// SPDX-License-Identifier: GPL-2.0

//! Fuzzes the TDISP state machines: random sequences of requests and host events on a
//! DSM model and a requester tracking it never panic, keep the two sides in agreement
//! and keep the state-machine invariants; config-space writes classify without panics.

#![no_main]

use libfuzzer_sys::fuzz_target;
use tsm_proto::config::{classify_config_write, ConfigLayout};
use tsm_proto::state::{
    dsm_on_host_event, dsm_on_request, request_legal_in, requester_check, HostEvent, TdiState,
};
use tsm_proto::tdisp::{RequestCode, ResponseBody, TdispError};

fuzz_target!(|data: &[u8]| {
    let mut dsm = TdiState::ConfigUnlocked;
    let mut host = TdiState::ConfigUnlocked;
    let mut it = data.chunks(6);
    while let Some(c) = it.next() {
        let op = c.first().copied().unwrap_or(0);
        if op & 0x80 == 0 {
            let code = RequestCode::ALL[usize::from(op) % RequestCode::ALL.len()];
            let nonce_ok = op & 0x40 != 0;
            let before = dsm;
            let t = dsm_on_request(dsm, code, nonce_ok);
            // Invariants of the DSM side.
            match t.next {
                TdiState::Run => {
                    assert!(before == TdiState::Run || before == TdiState::ConfigLocked)
                }
                TdiState::ConfigLocked => {
                    assert!(before != TdiState::Run && before != TdiState::Error)
                }
                _ => {}
            }
            if code == RequestCode::StopInterface {
                assert_eq!(t.next, TdiState::ConfigUnlocked);
            }
            assert!(t.response.is_ok() || t.next == before);
            dsm = t.next;
            // The requester, if it believed the request legal, sees a response that
            // keeps it in step with the DSM.
            if request_legal_in(code, host) && host == before {
                let nonce = [0u8; 32];
                let body = match t.response {
                    Err(code) => ResponseBody::Error(TdispError {
                        code,
                        error_data: 0,
                        extended: None,
                    }),
                    Ok(()) => match code {
                        RequestCode::LockInterface => ResponseBody::LockInterface { nonce: &nonce },
                        RequestCode::StartInterface => ResponseBody::StartInterface,
                        RequestCode::StopInterface => ResponseBody::StopInterface,
                        RequestCode::GetDeviceInterfaceState => {
                            ResponseBody::DeviceInterfaceState(dsm)
                        }
                        RequestCode::BindP2pStream => ResponseBody::BindP2pStream,
                        RequestCode::UnbindP2pStream => ResponseBody::UnbindP2pStream,
                        RequestCode::SetMmioAttribute => ResponseBody::SetMmioAttribute,
                        _ => ResponseBody::StartInterface, // wrong type on purpose
                    },
                };
                match requester_check(host, code, &body) {
                    Ok(s) => {
                        host = s;
                        assert_eq!(host, dsm);
                    }
                    Err(_) => assert!(!matches!(body, ResponseBody::Error(_))),
                }
            } else {
                // The requester resynchronises through GET_DEVICE_INTERFACE_STATE.
                host = requester_check(
                    host,
                    RequestCode::GetDeviceInterfaceState,
                    &ResponseBody::DeviceInterfaceState(dsm),
                )
                .expect("GET_DEVICE_INTERFACE_STATE is always legal");
            }
        } else if op & 0x40 == 0 {
            let e = HostEvent::ALL[usize::from(op) % HostEvent::ALL.len()];
            let before = dsm;
            dsm = dsm_on_host_event(dsm, e);
            if before == TdiState::ConfigUnlocked {
                assert_eq!(dsm, TdiState::ConfigUnlocked);
            }
            if before.is_locked() && e != HostEvent::ConventionalReset {
                assert_eq!(dsm, TdiState::Error);
            }
        } else {
            // A config write: offset byte, then old/new bytes.
            let off = u16::from(c.get(1).copied().unwrap_or(0));
            let len = usize::from(op & 0x3) + 1;
            let old = c.get(2..).unwrap_or(&[]);
            let old = &old[..old.len().min(len)];
            let new: Vec<u8> = old.iter().map(|b| b ^ op).collect();
            let layout = ConfigLayout {
                pcie_cap: Some(0x40),
                pm_cap: Some(0x80),
                locked: &[(0x100, 0x20)],
            };
            if let Ok(ev) = classify_config_write(&layout, off, old, &new) {
                let before = dsm;
                dsm = ev.apply(dsm);
                if !ev.is_empty() && before.is_locked() {
                    assert_eq!(dsm, TdiState::Error);
                }
            }
        }
        assert_eq!(TdiState::from_u8(dsm as u8), Ok(dsm));
    }
});
