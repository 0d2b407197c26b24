// SPDX-License-Identifier: GPL-2.0

//! The DSM's IDE-KM responder: QUERY_RESP with the emulated IDE registers, key
//! programming and K_SET_GO/K_SET_STOP on emulated key slots.

use log::{debug, info, warn};
use tsm_proto::idekm::{
    AddressAssociation, IdeKmMessage, KpAck, KpAckStatus, QueryResp, SelectiveStreamHeader,
};
use tsm_proto::spdm::ErrorCode;
use tsm_proto::state::HostEvent;
use tsm_proto::{codec, idekm};

use super::{ks_index, slot_key, Dsm, Handled};
use crate::faults::MsgKind;
use crate::wire;

impl Dsm {
    pub(super) fn ide_km(&mut self, payload: &[u8]) -> (MsgKind, Handled) {
        let msg = match IdeKmMessage::decode(payload) {
            Ok(m) => m,
            Err(e) => {
                warn!("bad IDE-KM object: {e}");
                return (MsgKind::Other, Err(ErrorCode::InvalidRequest));
            }
        };
        let (kind, rsp) = match msg {
            IdeKmMessage::Query(q) => {
                let regs = self.ide_regs();
                let r = match idekm::IdeRegs::parse(&regs) {
                    Ok(r) => r,
                    Err(_) => return (MsgKind::IdeQuery, Err(ErrorCode::Unspecified)),
                };
                let out = wire::idekm(&IdeKmMessage::QueryResp(QueryResp {
                    port_index: q.port_index,
                    dev_func: self.cfg.devfn,
                    bus: self.cfg.bus,
                    segment: self.cfg.segment,
                    max_port_index: 0,
                    regs: r,
                }));
                (MsgKind::IdeQuery, out)
            }
            IdeKmMessage::KeyProg(k) => {
                let status = if k.target.port_index != 0 {
                    KpAckStatus::UnsupportedPortIndex
                } else if k.target.stream_id >= self.cfg.ide_streams {
                    KpAckStatus::UnsupportedValue
                } else {
                    let slot = self.slots.entry(slot_key(&k.target)).or_default();
                    slot.programmed[ks_index(k.target.selector.key_set)] = true;
                    self.changed = true;
                    KpAckStatus::Success
                };
                debug!("KEY_PROG {:?}: {:?}", k.target, status);
                let out = wire::idekm(&IdeKmMessage::KpAck(KpAck {
                    target: k.target,
                    status,
                }));
                (MsgKind::KeyProg, out)
            }
            IdeKmMessage::KSetGo(t) => {
                let slot = self.slots.entry(slot_key(&t)).or_default();
                if slot.programmed[ks_index(t.selector.key_set)] {
                    slot.active = Some(t.selector.key_set);
                    self.changed = true;
                } else {
                    warn!("K_SET_GO for a key set never programmed: {t:?}");
                }
                (MsgKind::KSetGo, wire::idekm(&IdeKmMessage::KGoStopAck(t)))
            }
            IdeKmMessage::KSetStop(t) => {
                let was_active = self.ide_stream_active(t.stream_id);
                let slot = self.slots.entry(slot_key(&t)).or_default();
                if slot.active == Some(t.selector.key_set) {
                    slot.active = None;
                }
                slot.programmed[ks_index(t.selector.key_set)] = false;
                self.changed = true;
                if was_active && self.tdis.values().any(|x| x.state.is_locked()) {
                    info!("IDE stream {} stopped under locked TDIs", t.stream_id);
                    self.host_event(HostEvent::IdeOrSessionLost);
                }
                (MsgKind::KSetStop, wire::idekm(&IdeKmMessage::KGoStopAck(t)))
            }
            _ => return (MsgKind::Other, Err(ErrorCode::UnsupportedRequest)),
        };
        (kind, rsp.map_err(|_| ErrorCode::Unspecified))
    }

    fn ide_regs(&self) -> Vec<u8> {
        let n = self.cfg.ide_streams.max(1);
        let cap = idekm::IDE_CAP_SELECTIVE | idekm::IDE_CAP_IDE_KM | (u32::from(n - 1) << 16);
        let headers: Vec<SelectiveStreamHeader> = (0..n)
            .map(|i| {
                let active = self.ide_stream_active(i);
                SelectiveStreamHeader {
                    capability: 0,
                    control: (u32::from(i) << 24) | u32::from(active),
                    status: if active { 2 } else { 0 },
                    rid_association_1: 0,
                    rid_association_2: 0,
                }
            })
            .collect();
        let sel: Vec<(SelectiveStreamHeader, &[AddressAssociation])> =
            headers.iter().map(|h| (*h, &[][..])).collect();
        let mut out = vec![0u8; 8 + 20 * usize::from(n)];
        let mut w = codec::Writer::new(&mut out);
        let _ = idekm::write_ide_regs(&mut w, cap, 0, &[], &sel);
        let len = w.finish();
        out.truncate(len);
        out
    }
}
