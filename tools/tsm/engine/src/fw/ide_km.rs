// SPDX-License-Identifier: GPL-2.0

//! The IDE-KM half of CONNECT, once the secured session is up: QUERY (the device must
//! support IDE-KM and have the selective stream), then KEY_PROG of the six keys of the
//! stream (RX/TX x PR/NPR/CPL, key set 0) and K_SET_GO of each; DISCONNECT stops the
//! same six keys.

use tsm_proto::idekm::{
    self, Direction, IdeKmMessage, KeyMaterial, KeyProg, KeySelector, KeySet, KpAckStatus,
    StreamKey, SubStream,
};

use super::session::{vendor_req, vendor_rsp};
use super::{Device, FwError, Next};
use crate::{crypto, wire};

/// Keys of one selective stream: RX and TX, each for posted, non-posted and completion.
const STREAM_KEYS: usize = 6;

/// Key `i` (`0..STREAM_KEYS`) of selective stream `stream_id`: RX first, then TX.
pub(super) fn ide_target(stream_id: u8, i: usize) -> StreamKey {
    StreamKey {
        stream_id,
        selector: KeySelector {
            key_set: KeySet::K0,
            direction: if i < 3 { Direction::Rx } else { Direction::Tx },
            sub_stream: match i % 3 {
                0 => SubStream::Posted,
                1 => SubStream::NonPosted,
                _ => SubStream::Completion,
            },
        },
        port_index: 0,
    }
}

/// Where the key programming of a stream is.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(super) enum IdeStep {
    /// QUERY.
    Query,
    /// KEY_PROG of key `i`.
    KeyProg(usize),
    /// K_SET_GO of key `i`.
    KSetGo(usize),
}

impl IdeStep {
    /// The IDE-KM request of this step, in a vendor-defined request of the session.
    pub(super) fn request(self, dev: &mut Device) -> Result<Next, FwError> {
        let m = match self {
            IdeStep::Query => IdeKmMessage::Query(idekm::Query { port_index: 0 }),
            IdeStep::KeyProg(i) => {
                let key: [u8; idekm::KEY_LEN] = crypto::random_array();
                let ifv: [u8; idekm::IFV_LEN] = crypto::random_array();
                // The platform would program the root port's matching key here; the
                // IDE registers are emulated, so the key only goes to the device.
                let m = wire::idekm(&IdeKmMessage::KeyProg(KeyProg {
                    target: ide_target(dev.stream_id, i),
                    material: KeyMaterial {
                        key: &key,
                        ifv: &ifv,
                    },
                }))?;
                return vendor_req(dev, &m);
            }
            IdeStep::KSetGo(i) => IdeKmMessage::KSetGo(ide_target(dev.stream_id, i)),
        };
        vendor_req(dev, &wire::idekm(&m)?)
    }

    /// Checks the answer to this step: the next step, or `None` once every key of the
    /// stream is live.
    pub(super) fn response(
        self,
        dev: &mut Device,
        payload: &[u8],
    ) -> Result<Option<Self>, FwError> {
        let p = vendor_rsp(dev, payload, idekm::PROTOCOL_ID)?;
        let m = IdeKmMessage::decode(&p)?;
        Ok(match self {
            IdeStep::Query => {
                let IdeKmMessage::QueryResp(q) = m else {
                    return Err(FwError::IdeKm("expected QUERY_RESP"));
                };
                if q.regs.capability() & idekm::IDE_CAP_IDE_KM == 0 {
                    return Err(FwError::IdeKm("device does not support IDE-KM"));
                }
                if q.regs.selective_stream_count() <= usize::from(dev.stream_id) {
                    return Err(FwError::IdeKm("no such selective IDE stream"));
                }
                Some(IdeStep::KeyProg(0))
            }
            IdeStep::KeyProg(i) => {
                match m {
                    IdeKmMessage::KpAck(a) if a.target == ide_target(dev.stream_id, i) => {
                        if a.status != KpAckStatus::Success {
                            return Err(FwError::IdeKm("KEY_PROG refused"));
                        }
                    }
                    _ => return Err(FwError::IdeKm("expected KP_ACK for the key sent")),
                }
                Some(if i + 1 < STREAM_KEYS {
                    IdeStep::KeyProg(i + 1)
                } else {
                    IdeStep::KSetGo(0)
                })
            }
            IdeStep::KSetGo(i) => {
                match m {
                    IdeKmMessage::KGoStopAck(t) if t == ide_target(dev.stream_id, i) => {}
                    _ => return Err(FwError::IdeKm("expected K_GOSTOP_ACK for the key set")),
                }
                (i + 1 < STREAM_KEYS).then_some(IdeStep::KSetGo(i + 1))
            }
        })
    }
}
