// SPDX-License-Identifier: GPL-2.0

//! The words of a stateful RMI operation (SRO): the donate request an RMI_INCOMPLETE
//! result carries in `X2`, the address-list entries exchanged by RMI_OP_MEM_DONATE and
//! RMI_OP_MEM_RECLAIM, and RMI_OP_CONTINUE's flags.
//!
//! An EP PDEV_CREATE answers INCOMPLETE + DONATE with the operation handle in `X1` and a
//! [`DonateReq`] in `X2`; the host delegates and donates granules until the RMM stops
//! asking, then continues. PDEV_DESTROY of an EP answers INCOMPLETE + RECLAIM and the
//! host reclaims into a list. The follow-up rule is [`super::Incomplete::check_follow_up`].

use super::super::codec::{Error, Result};
use super::GRANULE_SIZE;

wire_enum! {
    /// RMI_ADDR_BLK_SIZE: the size of each block of a request or list entry.
    pub enum BlockSize(u8, "rmi.block_size") decode from_u8 encode to_u8 {
        /// A level-3 page (4 KiB).
        L3Page = 0,
        /// A level-2 block (2 MiB).
        L2Block = 1,
        /// A level-1 block (1 GiB).
        L1Block = 2,
        /// A level-0 block (512 GiB).
        L0Block = 3,
    }
}

impl BlockSize {
    /// Granules per block (4 KiB translation granule).
    pub const fn granules(self) -> u64 {
        match self {
            Self::L3Page => 1,
            Self::L2Block => 1 << 9,
            Self::L1Block => 1 << 18,
            Self::L0Block => 1 << 27,
        }
    }
}

wire_enum! {
    /// The delegation state of memory being donated or reclaimed.
    pub enum MemState(u8, "rmi.mem_state") decode from_u8 encode to_u8 {
        /// Delegated to the Realm world (the EP PDEV aux granules are asked this way).
        Delegated = 0,
        /// Not delegated.
        Undelegated = 1,
        /// Either (Linux 2.0-bet3 only).
        ///
        /// Unconfirmed: TF-RMM's field is one bit wide and has no such value.
        Conditional = 2,
    }
}

/// RmiOpMemDonateReq, the `X2` of an INCOMPLETE + DONATE result and of
/// RMI_OP_MEM_DONATE's output.
///
/// Bits: 1:0 block size, 15:2 count, 16 contiguous, 17 state. Unconfirmed: Linux's
/// 2.0-bet3 header makes the state bits 18:17 (adding CONDITIONAL = 2); TF-RMM's is bit
/// 17 only. Both read the same for the values TF-RMM writes, so bits 18:17 are decoded.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub struct DonateReq {
    /// Size of each block.
    pub block: BlockSize,
    /// Number of blocks (14 bits).
    pub count: u16,
    /// Whether the blocks must be physically contiguous.
    pub contiguous: bool,
    /// The state the donated memory must be in.
    pub state: MemState,
}

impl DonateReq {
    /// Largest count the 14-bit field holds.
    pub const MAX_COUNT: u16 = (1 << 14) - 1;

    /// Decodes the register; reserved bits 63:19 are ignored, an unknown state is an
    /// [`Error::UnknownCode`].
    pub fn decode(v: u64) -> Result<Self> {
        Ok(Self {
            block: BlockSize::from_u8((v & 0x3) as u8)?,
            count: ((v >> 2) & u64::from(Self::MAX_COUNT)) as u16,
            contiguous: v & (1 << 16) != 0,
            state: MemState::from_u8(((v >> 17) & 0x3) as u8)?,
        })
    }

    /// Encodes the register; a count above [`Self::MAX_COUNT`] is an
    /// [`Error::InvalidField`].
    pub fn encode(self) -> Result<u64> {
        if self.count > Self::MAX_COUNT {
            return Err(Error::InvalidField {
                field: "rmi.donate_req.count",
                value: u64::from(self.count),
            });
        }
        Ok(u64::from(self.block.to_u8())
            | u64::from(self.count) << 2
            | u64::from(self.contiguous) << 16
            | u64::from(self.state.to_u8()) << 17)
    }

    /// Granules the request asks for in all.
    pub const fn granules(self) -> u64 {
        self.count as u64 * self.block.granules()
    }
}

/// RmiAddrRangeDesc4KB, one entry of an RMI address list (and RTT_DEV_MAP's single
/// descriptor): bits 1:0 block size, 11:2 count, 51:12 the PA (in place, so 4 KiB
/// aligned), 63 state.
///
/// Unconfirmed: Linux's 2.0-bet3 header puts the state in bits 63:62, which reads
/// TF-RMM's UNDELEGATED (bit 63) as CONDITIONAL. The codec follows TF-RMM and refuses bit
/// 62, so an entry in the other encoding fails instead of being misread.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub struct AddrRangeDesc {
    /// Size of each block.
    pub block: BlockSize,
    /// Number of blocks (10 bits).
    pub count: u16,
    /// Base physical address, 4 KiB aligned, below 2^52.
    pub pa: u64,
    /// Delegation state (only [`MemState::Delegated`] or [`MemState::Undelegated`]).
    pub state: MemState,
}

/// Size of one address-list entry.
pub const ADDR_RANGE_DESC_LEN: usize = 8;

impl AddrRangeDesc {
    /// Largest count the 10-bit field holds.
    pub const MAX_COUNT: u16 = (1 << 10) - 1;
    const PA_MASK: u64 = ((1 << 52) - 1) & !(GRANULE_SIZE as u64 - 1);

    /// Decodes an entry; reserved bits 61:52 are ignored, bit 62 is an
    /// [`Error::InvalidField`].
    pub fn decode(v: u64) -> Result<Self> {
        if v & (1 << 62) != 0 {
            return Err(Error::InvalidField {
                field: "rmi.addr_range_desc.state",
                value: v,
            });
        }
        Ok(Self {
            block: BlockSize::from_u8((v & 0x3) as u8)?,
            count: ((v >> 2) & u64::from(Self::MAX_COUNT)) as u16,
            pa: v & Self::PA_MASK,
            state: if v >> 63 != 0 {
                MemState::Undelegated
            } else {
                MemState::Delegated
            },
        })
    }

    /// Encodes an entry. A count over [`Self::MAX_COUNT`], a PA that is unaligned or
    /// not below 2^52, or [`MemState::Conditional`] is an [`Error::InvalidField`].
    pub fn encode(self) -> Result<u64> {
        let bad = |field, value| Err(Error::InvalidField { field, value });
        if self.count > Self::MAX_COUNT {
            return bad("rmi.addr_range_desc.count", u64::from(self.count));
        }
        if self.pa & !Self::PA_MASK != 0 {
            return bad("rmi.addr_range_desc.pa", self.pa);
        }
        let state = match self.state {
            MemState::Delegated => 0,
            MemState::Undelegated => 1u64 << 63,
            MemState::Conditional => return bad("rmi.addr_range_desc.state", 2),
        };
        Ok(u64::from(self.block.to_u8()) | u64::from(self.count) << 2 | self.pa | state)
    }
}

/// Whether an address list of `entries` at `list_pa` is acceptable: 8-byte aligned and
/// not crossing the granule it starts in.
pub const fn list_fits(list_pa: u64, entries: u64) -> bool {
    let offset = list_pa % GRANULE_SIZE as u64;
    list_pa % ADDR_RANGE_DESC_LEN as u64 == 0
        && match entries.checked_mul(ADDR_RANGE_DESC_LEN as u64) {
            Some(len) => len <= GRANULE_SIZE as u64 - offset,
            None => false,
        }
}

/// RMI_OP_CONTINUE `X2` bit 0: 0 keep going, 1 stop.
pub const CONTINUE_STOP: u64 = 1;
