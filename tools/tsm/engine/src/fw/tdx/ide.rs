// SPDX-License-Identifier: GPL-2.0

//! IDE streams (§1, §4 "Connect" steps 4 and 7, "Disconnect" steps 1-3):
//! TDH.IDE.STREAM.CREATE (the module programs the root port), IDE.STREAM.KM (IDE-KM
//! through the relay: SETUP programs the keys into both ends and enables the RP
//! stream, REFRESH re-keys, STOP stops the keys), BLOCK (clears the RP configuration)
//! and DELETE (IDE_MT back to the host).
//!
//! Root-port registers are not modelled beyond what a host can observe: the stream's
//! existence, whether it is keyed, whether it is blocked.

use log::info;
use tsm_proto::tdx::{
    HpaArray, IdeStreamBlock, IdeStreamCreate, IdeStreamDelete, IdeStreamKm, Input, KmOp, Output,
    StreamType,
};

use super::super::connect::ConnectOp;
use super::super::disconnect::DisconnectOp;
use super::pages::Owner;
use super::relay::Engine;
use super::spdm::{write_release, OpKey, Ran};
use super::{busy, done, failed, refuse, FwMemory, Reply, TdxModule};

/// The Selective IDE Stream Control bits a host may set for the module: PCRC (bit 8)
/// and TC (bits 21:19); EN, the aggregation fields, CFG_EN, ALG, DEFAULT and STREAM_ID
/// must be 0 (§3).
///
/// Unconfirmed: the bit positions are the PCIe Selective IDE Stream Control register's;
/// the sheet names the fields, not their bits.
pub const CONTROL_ALLOWED: u32 = 1 << 8 | 0b111 << 19;

/// An IDE stream.
pub(super) struct StreamRec {
    /// IDE_MT as handed over.
    pub(super) mt: HpaArray,
    /// The keys are programmed (KM SETUP ran, no STOP since).
    pub(super) keyed: bool,
    /// BLOCK ran.
    pub(super) blocked: bool,
}

impl TdxModule {
    /// TDH.IDE.STREAM.CREATE: a Selective stream on a connected SPDM object with no
    /// stream yet, IDE_MT of exactly IDE_MT_PAGE_COUNT pages, a free stream of the host
    /// bridge. Returns the stream ID and the RP IDE id (the same number here).
    ///
    /// Unconfirmed: one stream per SPDM object (the engine's requester keys one stream
    /// per device), link streams (refused), and the RP IDE id's meaning.
    pub(super) fn stream_create(&mut self, i: IdeStreamCreate, mem: &mut dyn FwMemory) -> Reply {
        self.ready()?;
        if i.stream_info.kind != StreamType::Selective {
            return Err(refuse("only Selective IDE streams"));
        }
        if i.control.0 & !CONTROL_ALLOWED != 0 {
            return Err(refuse("stream control sets a field the module owns"));
        }
        if i.ide_mt.count != self.cfg.ide_mt_pages {
            return Err(refuse("IDE_MT page count"));
        }
        let rec = self
            .spdms
            .get(&i.spdm_id)
            .ok_or(refuse("no such SPDM_ID"))?;
        if !rec.connected {
            return Err(refuse("the SPDM object is not connected"));
        }
        if rec.op.is_some() {
            return Err(busy("an operation of the SPDM object is in progress"));
        }
        if !rec.streams.is_empty() {
            return Err(refuse("the SPDM object has a stream"));
        }
        let sid = (0..u64::from(self.cfg.streams))
            .find(|s| self.spdms.values().all(|r| !r.streams.contains_key(s)))
            .ok_or(refuse("no free IDE stream"))?;
        let pages = self.pages.read_array(mem, i.ide_mt)?;
        self.pages.check_new(&pages)?;
        self.pages.claim(&pages, Owner::IdeMt(i.spdm_id, sid));
        if let Some(rec) = self.spdms.get_mut(&i.spdm_id) {
            rec.dev.stream_id = sid as u8;
            rec.streams.insert(
                sid,
                StreamRec {
                    mt: i.ide_mt,
                    keyed: false,
                    blocked: false,
                },
            );
        }
        info!("tdx: IDE stream {sid} on SPDM object {:#x}", i.spdm_id);
        done(Output::Stream {
            stream_id: sid,
            rp_ide_id: sid,
        })
    }

    /// TDH.IDE.STREAM.KM: SETUP on a stream not keyed, REFRESH and STOP on a keyed
    /// one; never on a blocked stream.
    pub(super) fn stream_km(
        &mut self,
        input: Input,
        k: IdeStreamKm,
        mem: &mut dyn FwMemory,
    ) -> Reply {
        let rec = self
            .spdms
            .get(&k.spdm_id)
            .ok_or(refuse("no such SPDM_ID"))?;
        let st = rec
            .streams
            .get(&k.stream_id)
            .ok_or(refuse("no such stream"))?;
        if st.blocked {
            return Err(refuse("the stream is blocked"));
        }
        let in_progress = rec.op.is_some();
        let fits = match k.op {
            KmOp::Setup => !st.keyed,
            KmOp::Refresh | KmOp::Stop => st.keyed,
        };
        if !in_progress && !fits {
            return Err(refuse("KM op does not fit the stream's keys"));
        }
        let op = k.op;
        let ran = self.converse(
            k.spdm_id,
            OpKey::Leaf(input),
            k.response,
            k.request,
            mem,
            |_| {
                Ok(match op {
                    KmOp::Setup | KmOp::Refresh => Engine::Connect(Box::new(ConnectOp::ide_only())),
                    KmOp::Stop => Engine::Disconnect(DisconnectOp {
                        i: 0,
                        ide: true,
                        session: false,
                    }),
                })
            },
        )?;
        if let Some(r) = ran.pending() {
            if matches!(ran, Ran::Failed) && op == KmOp::Setup {
                self.set_keyed(k.spdm_id, k.stream_id, false);
            }
            return Ok(r);
        }
        self.set_keyed(k.spdm_id, k.stream_id, op != KmOp::Stop);
        info!("tdx: IDE stream {} KM {op:?}", k.stream_id);
        match ran {
            Ran::Done(_) => done(Output::None),
            _ => Ok(failed()),
        }
    }

    fn set_keyed(&mut self, id: u64, sid: u64, keyed: bool) {
        if let Some(rec) = self.spdms.get_mut(&id) {
            rec.dev.ide_active = keyed;
            if let Some(s) = rec.streams.get_mut(&sid) {
                s.keyed = keyed;
            }
        }
    }

    /// TDH.IDE.STREAM.BLOCK: clears the root port's configuration, keys included.
    ///
    /// Unconfirmed: whether BLOCK of a stream still keyed is refused; the model blocks
    /// it (so that a host whose KM STOP failed can still delete the stream). A stream
    /// that still carries (provisional) TDIs is not blocked.
    pub(super) fn stream_block(&mut self, b: IdeStreamBlock) -> Reply {
        let rec = self
            .spdms
            .get_mut(&b.spdm_id)
            .ok_or(refuse("no such SPDM_ID"))?;
        if rec.op.is_some() {
            return Err(busy("an operation of the SPDM object is in progress"));
        }
        let st = rec
            .streams
            .get_mut(&b.stream_id)
            .ok_or(refuse("no such stream"))?;
        if !rec.dev.tdis.is_empty() {
            return Err(refuse("the stream carries TDIs"));
        }
        if st.blocked {
            return Err(refuse("the stream is blocked"));
        }
        st.blocked = true;
        st.keyed = false;
        rec.dev.ide_active = false;
        info!("tdx: IDE stream {} blocked", b.stream_id);
        done(Output::None)
    }

    /// TDH.IDE.STREAM.DELETE: a blocked stream; IDE_MT returns to the host, listed in
    /// the release buffer.
    pub(super) fn stream_delete(&mut self, d: IdeStreamDelete, mem: &mut dyn FwMemory) -> Reply {
        let rec = self
            .spdms
            .get(&d.spdm_id)
            .ok_or(refuse("no such SPDM_ID"))?;
        let st = rec
            .streams
            .get(&d.stream_id)
            .ok_or(refuse("no such stream"))?;
        if !st.blocked {
            return Err(refuse("the stream is not blocked"));
        }
        if rec.dev.tdis.values().next().is_some() {
            return Err(refuse("the stream carries TDIs"));
        }
        let owner = Owner::IdeMt(d.spdm_id, d.stream_id);
        let pages: Vec<u64> = self
            .pages
            .all()
            .iter()
            .filter(|(_, o)| **o == owner)
            .map(|(pa, _)| *pa)
            .collect();
        let pages_ref = &self.pages;
        let out = write_release(st.mt, &pages, d.release, |pa| pages_ref.host_page(pa), mem)?;
        self.pages.release(owner);
        if let Some(rec) = self.spdms.get_mut(&d.spdm_id) {
            rec.streams.remove(&d.stream_id);
        }
        info!("tdx: IDE stream {} deleted", d.stream_id);
        done(Output::Released(out))
    }
}
