// SPDX-License-Identifier: GPL-2.0

//! The guest side of TDX Connect as the staging guest driver and OVMM use it (§5 "Guest
//! side", STG `drivers/virt/coco/tdx-guest/connect.c`, OVMM `tdcall`): the TDCALL leaves
//! TDG.TDI.RD/START, TDG.DMAR.ACCEPT and TDG.MMIO.ACCEPT, the TDG.VP.VMCALL\<TDCM\>
//! request to the VMM, and the shared TDCM buffer. A host backend serves TDCM requests,
//! so it decodes what a TD writes here; a TD model encodes it.
//!
//! These are published in staging code, not in a spec the sheet's author read; the
//! TDCALL leaf of TDG.VP.VMCALL itself is not given by the sheet and is not encoded.

use super::super::codec::{Error, Reader, Result, Writer};
use super::fields::FunctionId;

wire_enum! {
    /// The guest TDCALL leaves (§5 table, RAX).
    pub enum GuestLeaf(u16, "tdx.guest_leaf") decode from_u16 encode to_u16 {
        /// TDG.TDI.RD: read a TDI field.
        TdiRd = 67,
        /// TDG.TDI.START: authorize the host's TDH.TDI.START.
        TdiStart = 68,
        /// TDG.DMAR.ACCEPT: mark the PASID entry present.
        DmarAccept = 70,
        /// TDG.MMIO.ACCEPT (OVMM: TDG.TDI.MMIO.ACCEPT): accept private MMIO pages.
        MmioAccept = 71,
    }
}

/// TDG.VP.VMCALL\<TDCM\>'s subfunction, in R11 (§5).
pub const TDCM_SUBFUNCTION: u64 = 0x10007;

/// TDG.TDI.RD field 2: the TDISP state (§5).
pub const FIELD_TDISP_STATE: u64 = 2;
/// TDG.TDI.RD field 5: BIND_SESSION_ID (§5).
pub const FIELD_BIND_SESSION_ID: u64 = 5;

wire_enum! {
    /// The TDISP state TDG.TDI.RD field 2 returns (§5).
    pub enum TdiState(u8, "tdx.guest.tdi_state") decode from_u8 encode to_u8 {
        /// CONFIG_UNLOCKED.
        ConfigUnlocked = 0,
        /// CONFIG_LOCKED.
        ConfigLocked = 1,
        /// RUN.
        Run = 2,
        /// ERROR.
        Error = 3,
    }
}

impl TdiState {
    /// Decodes the RCX TDG.TDI.RD(2) returns; above 255 is an [`Error::UnknownCode`].
    pub fn from_reg(v: u64) -> Result<Self> {
        Self::from_u8(u8::try_from(v).map_err(|_| Error::UnknownCode {
            space: "tdx.guest.tdi_state",
            value: v,
        })?)
    }
}

/// TDCALL error classes (bits 63:32 of RAX; §5). Only these four have numbers.
///
/// Unconfirmed: TDI_INVALID_STATE, PAGE_ALREADY_ACCEPTED, the MMIO_* codes and
/// DMAR_INVALID_MAPPING_STATE appear by name only (OVMM) and are not encoded.
pub mod tdcall_error {
    /// TDI_NOT_PRESENT.
    pub const TDI_NOT_PRESENT: u32 = 0xC000_0F40;
    /// TDI_INVALID_METADATA.
    pub const TDI_INVALID_METADATA: u32 = 0xC000_0F41;
    /// INVALID_OPERAND.
    pub const INVALID_OPERAND: u32 = 0xC000_0100;
    /// OPERAND_BUSY.
    pub const OPERAND_BUSY: u32 = 0x8000_0200;

    /// The class (bits 63:32) of a TDCALL RAX.
    pub const fn class(rax: u64) -> u32 {
        (rax >> 32) as u32
    }
}

/// TDG.TDI.RD (67): RCX FUNCTION_ID, RDX the field code, R8 the output GPA (0 unless a
/// hash field, which writes to a private 4 KiB page and returns the length). Returns RCX
/// = the value (§5).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub struct TdiRd {
    /// The TDI.
    pub function: FunctionId,
    /// The field code.
    pub field: u64,
    /// The output page for hash fields, else 0.
    pub output_gpa: u64,
}

impl TdiRd {
    /// `(RAX, RCX, RDX, R8)`.
    pub const fn regs(&self) -> [u64; 4] {
        [
            GuestLeaf::TdiRd.to_u16() as u64,
            self.function.encode(),
            self.field,
            self.output_gpa,
        ]
    }
}

/// TDG.TDI.START (68): RCX FUNCTION_ID, RDX the expected bind session ID (§5).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub struct TdiStart {
    /// The TDI.
    pub function: FunctionId,
    /// The bind session ID TDG.TDI.RD(5) returned.
    pub bind_session_id: u64,
}

impl TdiStart {
    /// `(RAX, RCX, RDX)`.
    pub const fn regs(&self) -> [u64; 3] {
        [
            GuestLeaf::TdiStart.to_u16() as u64,
            self.function.encode(),
            self.bind_session_id,
        ]
    }
}

/// TDG.DMAR.ACCEPT (70): RCX FUNCTION_ID, RDX bits 7:0 the target VM (0 = the TD or L1,
/// 1-3 = L2 VM 1-3) (§5).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub struct DmarAccept {
    /// The TDI.
    pub function: FunctionId,
    /// Target VM, 0..=3.
    pub target_vm: u8,
}

impl DmarAccept {
    /// `(RAX, RCX, RDX)`; a target VM above 3 is an [`Error::InvalidField`].
    pub fn regs(&self) -> Result<[u64; 3]> {
        if self.target_vm > 3 {
            return Err(Error::InvalidField {
                field: "tdx.guest.target_vm",
                value: u64::from(self.target_vm),
            });
        }
        Ok([
            u64::from(GuestLeaf::DmarAccept.to_u16()),
            self.function.encode(),
            u64::from(self.target_vm),
        ])
    }
}

/// TDG.MMIO.ACCEPT (71): RCX = GPA | level in bits 2:0 (0 = 4K), RDX = the MMIO range's
/// *index* in the report's list (not its range_id), R8 = FUNCTION_ID, R9 = page count
/// (31:0) | offset into the range in pages (63:32). Interruptible; R9 returns what is
/// left (OVMM) (§5).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub struct MmioAccept {
    /// The GPA (4 KiB aligned).
    pub gpa: u64,
    /// The page level (0 = 4 KiB), 0..=7.
    pub level: u8,
    /// Index of the range in the interface report's list.
    pub range_index: u64,
    /// The TDI.
    pub function: FunctionId,
    /// Pages to accept.
    pub page_count: u32,
    /// Offset into the range, in pages.
    pub range_offset: u32,
}

impl MmioAccept {
    /// `(RAX, RCX, RDX, R8, R9)`; an unaligned GPA or a level above 7 is an
    /// [`Error::InvalidField`].
    pub fn regs(&self) -> Result<[u64; 5]> {
        if self.gpa & 0xFFF != 0 || self.level > 7 {
            return Err(Error::InvalidField {
                field: "tdx.guest.mmio_accept.gpa",
                value: self.gpa | u64::from(self.level),
            });
        }
        Ok([
            u64::from(GuestLeaf::MmioAccept.to_u16()),
            self.gpa | u64::from(self.level),
            self.range_index,
            self.function.encode(),
            u64::from(self.page_count) | u64::from(self.range_offset) << 32,
        ])
    }

    /// The `(page_count, range_offset)` left in an interrupted call's returned R9.
    pub const fn remaining(r9: u64) -> (u32, u32) {
        (r9 as u32, (r9 >> 32) as u32)
    }
}

/// TDG.VP.VMCALL\<TDCM\> (§5): R10 = 0, R11 = 0x10007, R12 = the RID, R13 = the shared
/// GPA of the TDCM buffer (shared bit set), R14 = its size in whole pages' bytes, R15 =
/// the notification vector (0 = poll).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub struct TdcmVmcall {
    /// The device's RID.
    pub rid: u16,
    /// Shared GPA of the buffer, shared bit included.
    pub buffer_gpa: u64,
    /// Buffer size in bytes, a whole number of pages.
    pub size: u64,
    /// Notification vector, 0 to poll.
    pub vector: u64,
}

impl TdcmVmcall {
    /// `(R10, R11, R12, R13, R14, R15)`.
    pub const fn regs(&self) -> [u64; 6] {
        [
            0,
            TDCM_SUBFUNCTION,
            self.rid as u64,
            self.buffer_gpa,
            self.size,
            self.vector,
        ]
    }

    /// Decodes the registers as the host's VMCALL handler sees them: R10 not 0, R11 not
    /// the TDCM subfunction, a RID above 16 bits, a size that is not whole pages or an
    /// unaligned buffer is an [`Error::InvalidField`].
    pub fn decode(r: [u64; 6]) -> Result<Self> {
        let [r10, r11, r12, r13, r14, r15] = r;
        let bad = |field, value| Err(Error::InvalidField { field, value });
        if r10 != 0 || r11 != TDCM_SUBFUNCTION {
            return bad("tdx.guest.tdcm.subfunction", r11);
        }
        let Ok(rid) = u16::try_from(r12) else {
            return bad("tdx.guest.tdcm.rid", r12);
        };
        if r14 == 0 || r14 % 4096 != 0 || r13 & 0xFFF != 0 {
            return bad("tdx.guest.tdcm.buffer", r14);
        }
        Ok(Self {
            rid,
            buffer_gpa: r13,
            size: r14,
            vector: r15,
        })
    }
}

wire_enum! {
    /// The GHCI status TDG.VP.VMCALL\<TDCM\> returns in R10 (§5).
    pub enum VmcallStatus(u64, "tdx.guest.vmcall_status") decode from_u64 encode to_u64 {
        /// Success.
        Success = 0,
        /// Retry.
        Retry = 1,
        /// Invalid operand.
        InvalidOperand = 0x8000_0000_0000_0000,
        /// Alignment error.
        AlignError = 0x8000_0000_0000_0002,
        /// Unsupported.
        Unsupported = 0x8000_0000_0000_0003,
    }
}

wire_enum! {
    /// TDCM operations (buffer offset 0, §5).
    pub enum TdcmOp(u16, "tdx.guest.tdcm_op") decode from_u16 encode to_u16 {
        /// CHECK_TEEIO_SUPP: the reply is a 1-byte supported flag.
        CheckTeeioSupp = 1,
        /// BIND.
        Bind = 2,
        /// GET_DEV_INFO.
        GetDevInfo = 3,
        /// GET_TDI_REPORT (up to 16 pages).
        GetTdiReport = 4,
        /// START_TDI.
        StartTdi = 5,
        /// GET_TDI_STATE.
        GetTdiState = 6,
        /// UNBIND.
        Unbind = 7,
    }
}

wire_enum! {
    /// TDCM request status (buffer offset 8, §5). The guest writes WAIT and polls this
    /// byte every 10 ms for up to 10 s.
    pub enum TdcmStatus(u8, "tdx.guest.tdcm_status") decode from_u8 encode to_u8 {
        /// The VMM has not finished.
        Wait = 0,
        /// Completed.
        Completed = 1,
        /// Failed; see the error byte.
        Error = 2,
    }
}

wire_enum! {
    /// TDCM error (buffer offset 9, §5).
    pub enum TdcmError(u8, "tdx.guest.tdcm_error") decode from_u8 encode to_u8 {
        /// The TDX module failed.
        TdxModule = 10,
        /// The device failed.
        Device = 11,
        /// SPDM failed.
        Spdm = 12,
        /// IDE-KM failed.
        IdeKm = 13,
        /// TDISP failed.
        Tdisp = 14,
        /// The request is invalid in the current state.
        InvalidState = 15,
    }
}

/// Offset of the data in a TDCM buffer.
pub const TDCM_DATA_OFFSET: usize = 20;

/// The TDCM buffer header and data (§5 table: 0 u16 operation, 2 u8 version, 3-7
/// reserved, 8 u8 status, 9 u8 error, 10-15 reserved, 16 u32 data_length, 20 data).
///
/// Unconfirmed: the sheet gives no error value for "none"; 0 is decoded as no error.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct TdcmBuffer<'a> {
    /// The operation.
    pub op: TdcmOp,
    /// The version byte.
    pub version: u8,
    /// The status.
    pub status: TdcmStatus,
    /// The error, if any.
    pub error: Option<TdcmError>,
    /// The data (`data_length` bytes from offset 20).
    pub data: &'a [u8],
}

impl<'a> TdcmBuffer<'a> {
    /// Decodes a buffer; a data length past the end is an [`Error::LengthMismatch`], an
    /// unknown operation, status or error an [`Error::UnknownCode`]. Reserved bytes and
    /// the bytes past the data are ignored.
    pub fn decode(buf: &'a [u8]) -> Result<Self> {
        let mut r = Reader::new(buf);
        let op = TdcmOp::from_u16(r.u16()?)?;
        let version = r.u8()?;
        r.skip(5)?;
        let status = TdcmStatus::from_u8(r.u8()?)?;
        let error = match r.u8()? {
            0 => None,
            e => Some(TdcmError::from_u8(e)?),
        };
        r.skip(6)?;
        let len = r.u32()? as usize;
        if len > r.remaining() {
            return Err(Error::LengthMismatch {
                field: "tdx.guest.tdcm.data_length",
                declared: len,
                actual: r.remaining(),
            });
        }
        Ok(Self {
            op,
            version,
            status,
            error,
            data: r.bytes(len)?,
        })
    }

    /// Writes the header and data (reserved bytes zero); returns the bytes written.
    pub fn encode(&self, w: &mut Writer<'_>) -> Result<usize> {
        let len =
            super::super::codec::len_field::<u32>("tdx.guest.tdcm.data_length", self.data.len())?;
        w.u16(self.op.to_u16())?;
        w.u8(self.version)?;
        w.zeros(5)?;
        w.u8(self.status.to_u8())?;
        w.u8(self.error.map_or(0, TdcmError::to_u8))?;
        w.zeros(6)?;
        w.u32(len)?;
        w.bytes(self.data)?;
        Ok(TDCM_DATA_OFFSET + self.data.len())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn tdcm_layout() {
        let b = TdcmBuffer {
            op: TdcmOp::CheckTeeioSupp,
            version: 0,
            status: TdcmStatus::Completed,
            error: None,
            data: &[1],
        };
        let mut buf = [0xAAu8; 24];
        assert_eq!(b.encode(&mut Writer::new(&mut buf)), Ok(21));
        assert_eq!(
            buf[..21],
            [1, 0, 0, 0, 0, 0, 0, 0, 1, 0, 0, 0, 0, 0, 0, 0, 1, 0, 0, 0, 1]
        );
        assert_eq!(TdcmBuffer::decode(&buf[..21]), Ok(b));
        buf[16] = 5;
        assert!(TdcmBuffer::decode(&buf[..21]).is_err());
    }

    #[test]
    fn vmcall_regs() {
        let v = TdcmVmcall {
            rid: 0x0100,
            buffer_gpa: 0x8000_0000_1000,
            size: 0x1000,
            vector: 0,
        };
        assert_eq!(v.regs(), [0, 0x10007, 0x100, 0x8000_0000_1000, 0x1000, 0]);
        assert_eq!(TdcmVmcall::decode(v.regs()), Ok(v));
        assert!(TdcmVmcall::decode([0, 0x10006, 0, 0x1000, 0x1000, 0]).is_err());
    }
}
