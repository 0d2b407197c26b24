// SPDX-License-Identifier: GPL-2.0

//! Stateful RMI operations (SRO): an endpoint PDEV_CREATE, which asks the host to
//! donate auxiliary granules, and its PDEV_DESTROY, which gives them back.
//!
//! Create: INCOMPLETE + DONATE (X1 the handle, X2 the [`DonateReq`]: L3 granules,
//! non-contiguous, DELEGATED) → the host delegates granules and calls OP_MEM_DONATE with
//! a list of them; the model answers X1 = granules taken and, while it wants more,
//! INCOMPLETE + DONATE with X2 the rest, then INCOMPLETE + NONE → OP_CONTINUE → SUCCESS:
//! the PDEV exists. OP_CANCEL instead returns every granule to DELEGATED.
//! Destroy: INCOMPLETE + RECLAIM → OP_MEM_RECLAIM(list, capacity) writes at most
//! `capacity` entries (X1 = entries written), each granule DELEGATED again, until the
//! last batch, which answers SUCCESS.
//!
//! The rules are TF-RMM's `sro.c`: an unknown handle or an unexpected follow-up is
//! ERROR_INPUT, the list must be 8-byte aligned and is cut at the end of its granule,
//! donating more than was asked is ERROR_INPUT.
//!
//! Unconfirmed: that the end of a donation is INCOMPLETE + NONE followed by OP_CONTINUE
//! (TF-RMM leaves the final status to the operation's handler, which the fact sheet
//! does not describe), that the last reclaim batch answers SUCCESS, that an empty
//! donation list answers INCOMPLETE + DONATE with X1 = 0, and that a PDEV creation may
//! be cancelled. OP_CONTINUE's stop flag (X2 bit 0) is ignored: PDEV creation has
//! nothing to stop once its memory is in.

use tsm_proto::rmi::sro::ADDR_RANGE_DESC_LEN;
use tsm_proto::rmi::{
    AddrRangeDesc, BlockSize, Call, DonateReq, Incomplete, MemReq, MemState, OrderError, Outcome,
};

use super::granule::GranuleState;
use super::memory::{FwMemory, GRANULE};
use super::pdev::PdevRec;
use super::{input, Reply, Ret, Rmm};

/// What a stateful operation is doing.
pub(super) enum SroKind {
    /// An endpoint PDEV being created: `rec` once its granules are in.
    Create {
        /// The PDEV granule.
        pdev: u64,
        /// The PDEV to be (its `aux` fills as granules are donated).
        rec: Box<PdevRec>,
        /// Granules asked for in all.
        wanted: u16,
        /// The donate knob: take one granule per OP_MEM_DONATE.
        one_at_a_time: bool,
    },
    /// An endpoint PDEV destroyed; `aux` still to be reclaimed.
    Destroy {
        /// The PDEV granule.
        pdev: u64,
        /// Auxiliary granules not yet returned.
        aux: Vec<u64>,
    },
}

/// A stateful operation in progress.
pub(super) struct Sro {
    /// What it does.
    pub(super) kind: SroKind,
    /// The memory request of its last INCOMPLETE (so its follow-up).
    pub(super) next: MemReq,
    /// Whether OP_CANCEL may end it.
    pub(super) can_cancel: bool,
}

impl Sro {
    fn check(&self, call: Call) -> Result<(), OrderError> {
        Incomplete {
            mem_req: self.next,
            can_cancel: self.can_cancel,
        }
        .check_follow_up(call)
    }

    fn incomplete(&self) -> Outcome {
        Outcome::Incomplete(Incomplete {
            mem_req: self.next,
            can_cancel: self.can_cancel,
        })
    }
}

/// The number of list entries that fit from `list` to the end of its granule, at most
/// `count`.
fn entries_in_granule(list: u64, count: u64) -> u64 {
    let room = (GRANULE - list % GRANULE) / ADDR_RANGE_DESC_LEN as u64;
    count.min(room)
}

impl Rmm {
    fn sro(&self, handle: u64, call: Call) -> Result<&Sro, OrderError> {
        let sro = self.sros.get(&handle).ok_or(input("no such operation"))?;
        sro.check(call)?;
        Ok(sro)
    }

    /// OP_MEM_DONATE(handle, list, count).
    pub(super) fn op_mem_donate(
        &mut self,
        handle: u64,
        list: u64,
        count: u64,
        mem: &mut dyn FwMemory,
    ) -> Reply {
        let sro = self.sro(handle, Call::OpMemDonate)?;
        let SroKind::Create {
            rec,
            wanted,
            one_at_a_time,
            ..
        } = &sro.kind
        else {
            return Err(input("the operation takes no memory"));
        };
        if list % ADDR_RANGE_DESC_LEN as u64 != 0 {
            return Err(input("address list not 8-byte aligned"));
        }
        let n = entries_in_granule(list, count);
        self.granules.require_ns(list & !(GRANULE - 1))?;
        let mut raw = vec![0u8; n as usize * ADDR_RANGE_DESC_LEN];
        mem.read(list, &mut raw)
            .map_err(|_| input("address list not reachable"))?;
        let mut offered: Vec<u64> = Vec::new();
        for e in raw.chunks_exact(ADDR_RANGE_DESC_LEN) {
            let mut w = [0u8; ADDR_RANGE_DESC_LEN];
            w.copy_from_slice(e);
            let d = AddrRangeDesc::decode(u64::from_le_bytes(w))?;
            if d.block != BlockSize::L3Page || d.state != MemState::Delegated || d.count == 0 {
                return Err(input("list entry is not delegated L3 granules"));
            }
            for k in 0..u64::from(d.count) {
                let pa =
                    d.pa.checked_add(k * GRANULE)
                        .ok_or(input("list entry wraps"))?;
                if self.granules.state(pa) != Some(GranuleState::Delegated) || offered.contains(&pa)
                {
                    return Err(input("donated granule is not DELEGATED"));
                }
                offered.push(pa);
            }
        }
        let remaining = usize::from(*wanted).saturating_sub(rec.aux.len());
        if offered.len() > remaining {
            return Err(input("more granules than asked for"));
        }
        let take = if *one_at_a_time {
            offered.len().min(1)
        } else {
            offered.len()
        };
        let Some(Sro {
            kind: SroKind::Create { pdev, rec, .. },
            next,
            ..
        }) = self.sros.get_mut(&handle)
        else {
            return Err(input("no such operation"));
        };
        for pa in offered.iter().take(take) {
            self.granules
                .claim(*pa, GranuleState::PdevAux { pdev: *pdev })?;
            rec.aux.push(*pa);
        }
        let left = remaining - take;
        let x2 = if left > 0 {
            DonateReq {
                block: BlockSize::L3Page,
                count: u16::try_from(left).unwrap_or(DonateReq::MAX_COUNT),
                contiguous: false,
                state: MemState::Delegated,
            }
            .encode()?
        } else {
            *next = MemReq::None;
            0
        };
        let outcome = self
            .sros
            .get(&handle)
            .map(Sro::incomplete)
            .ok_or(input("no such operation"))?;
        Ok(Ret::with(outcome, [take as u64, x2, 0]))
    }

    /// OP_CONTINUE(handle, flags): finishes a creation whose memory is in.
    pub(super) fn op_continue(&mut self, handle: u64, _flags: u64) -> Reply {
        self.sro(handle, Call::OpContinue)?;
        match self.sros.remove(&handle) {
            Some(Sro {
                kind: SroKind::Create { pdev, rec, .. },
                ..
            }) => {
                self.pdevs.insert(pdev, *rec);
                Ok(Ret::ok())
            }
            Some(other) => {
                self.sros.insert(handle, other);
                Err(input("the operation does not continue"))
            }
            None => Err(input("no such operation")),
        }
    }

    /// OP_CANCEL(handle): ends a cancellable creation, every granule DELEGATED again.
    pub(super) fn op_cancel(&mut self, handle: u64) -> Reply {
        self.sro(handle, Call::OpCancel)?;
        match self.sros.remove(&handle) {
            Some(Sro {
                kind: SroKind::Create { pdev, rec, .. },
                ..
            }) => {
                for pa in rec.aux.iter().chain([&pdev]) {
                    self.granules.release(*pa);
                }
                Ok(Ret::ok())
            }
            Some(other) => {
                self.sros.insert(handle, other);
                Err(input("the operation cannot be cancelled"))
            }
            None => Err(input("no such operation")),
        }
    }

    /// OP_MEM_RECLAIM(handle, list, capacity).
    pub(super) fn op_mem_reclaim(
        &mut self,
        handle: u64,
        list: u64,
        capacity: u64,
        mem: &mut dyn FwMemory,
    ) -> Reply {
        let sro = self.sro(handle, Call::OpMemReclaim)?;
        let SroKind::Destroy { aux, .. } = &sro.kind else {
            return Err(input("the operation returns no memory"));
        };
        if list % ADDR_RANGE_DESC_LEN as u64 != 0 {
            return Err(input("address list not 8-byte aligned"));
        }
        let n = entries_in_granule(list, capacity).min(aux.len() as u64) as usize;
        if n == 0 {
            return Ok(Ret::with(sro.incomplete(), [0; 3]));
        }
        self.granules.require_ns(list & !(GRANULE - 1))?;
        let mut raw = Vec::with_capacity(n * ADDR_RANGE_DESC_LEN);
        for pa in aux.iter().take(n) {
            let d = AddrRangeDesc {
                block: BlockSize::L3Page,
                count: 1,
                pa: *pa,
                state: MemState::Delegated,
            };
            raw.extend_from_slice(&d.encode()?.to_le_bytes());
        }
        mem.write(list, &raw)
            .map_err(|_| input("address list not reachable"))?;
        let Some(Sro {
            kind: SroKind::Destroy { pdev, aux },
            ..
        }) = self.sros.get_mut(&handle)
        else {
            return Err(input("no such operation"));
        };
        let pdev = *pdev;
        for pa in aux.drain(..n) {
            self.granules.release(pa);
        }
        if !aux.is_empty() {
            let outcome = self
                .sros
                .get(&handle)
                .map(Sro::incomplete)
                .ok_or(input("no such operation"))?;
            return Ok(Ret::with(outcome, [n as u64, 0, 0]));
        }
        self.sros.remove(&handle);
        self.granules.release(pdev);
        Ok(Ret::with(Outcome::Success, [n as u64, 0, 0]))
    }
}
