// SPDX-License-Identifier: GPL-2.0

//! The TIO command buffers the host writes, one [`Request`] variant per command.
//!
//! Layouts are the fact sheet's §1 table: a `u32` length at 0x00, fields at the offsets
//! given, reserved bytes zero, the whole buffer [`Command::buffer_len`] long. `C` is the
//! 32-byte [`SpdmCtrl`] (four SLAs: req, resp, scratch, output) and always sits at 0x08;
//! `D` and `T` are the device and TDI context SLAs; `G` (the guest context) and the
//! `*_paddr` fields are plain system physical addresses. Fields that exist in one
//! [`Layout`] only must be zero (or NULL, or `false`) in the other: encoding a non-zero
//! one there is an [`Error::InvalidField`], and decoding gives zero.
//!
//! The decoders are for tests and a firmware model: they check the length field and
//! the buffer length, decode SLAs strictly and ignore reserved bytes.

use super::super::codec::{Error, Result};
use super::cmd::{check_len_field, Command, Layout, MAX_CMD_LEN};
use super::sla::Sla;
use super::{get, get_u16, get_u32, get_u64, get_u8, put};

/// Offset of `spdm_ctrl` in every command that has one.
pub const CTRL_OFFSET: usize = 0x08;

/// Size of `spdm_ctrl` (four SLAs).
pub const CTRL_LEN: usize = 32;

/// Flags bit 0 of DEV_DISCONNECT and TDI_UNBIND: FORCE.
pub const FLAG_FORCE: u32 = 1;

/// Flags bit 0 of DEV_MEASUREMENTS: RAW_BITSTREAM (0 = digest form, per AIK).
pub const FLAG_RAW_BITSTREAM: u32 = 1;

/// TDI_BIND run_flags bit 0: RUN.
pub const RUN_FLAG_RUN: u16 = 1;

/// The stream id an unused TC gets in DEV_CONNECT's `ide_stream_id` (fact sheet §1).
pub const IDE_STREAM_UNUSED: u8 = 0xFF;

/// `spdm_ctrl`: the four SPDM buffers of an SPDM-capable command, in wire order.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub struct SpdmCtrl {
    /// The req buffer (firmware-owned; the PSP writes REQ). Allocated req_max.
    pub req: Sla,
    /// The resp buffer (hypervisor-owned; the host writes RESP). Allocated req_max.
    pub resp: Sla,
    /// The scratch buffer (firmware-owned). Allocated scratch_max.
    pub scratch: Sla,
    /// The output buffer (firmware-owned). Allocated out_max.
    pub output: Sla,
}

impl Default for SpdmCtrl {
    fn default() -> Self {
        Self {
            req: Sla::Null,
            resp: Sla::Null,
            scratch: Sla::Null,
            output: Sla::Null,
        }
    }
}

impl SpdmCtrl {
    /// Reads the 32 bytes at `offset`.
    pub fn decode_at(buf: &[u8], offset: usize) -> Result<Self> {
        let sla = |i: usize| get_u64(buf, slot(offset, i)?).and_then(Sla::decode);
        Ok(Self {
            req: sla(0)?,
            resp: sla(1)?,
            scratch: sla(2)?,
            output: sla(3)?,
        })
    }

    /// Writes the 32 bytes at `offset`.
    pub fn encode_at(&self, buf: &mut [u8], offset: usize) -> Result<()> {
        for (i, s) in [self.req, self.resp, self.scratch, self.output]
            .iter()
            .enumerate()
        {
            put(buf, slot(offset, i)?, &s.encode().to_le_bytes())?;
        }
        Ok(())
    }
}

/// Offset of SLA `i` of a `spdm_ctrl` at `offset`, checked.
fn slot(offset: usize, i: usize) -> Result<usize> {
    i.checked_mul(8)
        .and_then(|d| offset.checked_add(d))
        .ok_or(Error::Truncated {
            offset,
            needed: CTRL_LEN,
        })
}

/// Segment-valid bit of an interface id's function_id (bit 24; P2 1/9).
pub const FUNCTION_ID_SEGMENT_VALID: u32 = 1 << 24;

/// An INTERFACE_ID (12 bytes; P2 1/9): a `u32` function_id (bits 15:0 RID, 23:16
/// segment, 24 segment valid) and 8 reserved bytes. Bits 31:25, and the segment bits
/// while the valid bit is clear, are ignored on decode.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Default)]
pub struct InterfaceId {
    /// Requester ID of the function.
    pub rid: u16,
    /// Segment, when the segment-valid bit is set.
    pub segment: Option<u8>,
}

/// Size of an encoded [`InterfaceId`].
pub const INTERFACE_ID_LEN: usize = 12;

impl InterfaceId {
    /// The interface id the host builds for a function (OOT): the segment (the PCI
    /// domain truncated to `u8`) is set only when the domain is non-zero.
    pub const fn for_function(rid: u16, domain: u32) -> Self {
        Self {
            rid,
            segment: if domain == 0 {
                None
            } else {
                Some(domain as u8)
            },
        }
    }

    /// The function_id word.
    pub const fn function_id(self) -> u32 {
        match self.segment {
            None => self.rid as u32,
            Some(s) => self.rid as u32 | (s as u32) << 16 | FUNCTION_ID_SEGMENT_VALID,
        }
    }

    /// Decodes a function_id word.
    pub const fn from_function_id(v: u32) -> Self {
        Self {
            rid: v as u16,
            segment: if v & FUNCTION_ID_SEGMENT_VALID != 0 {
                Some((v >> 16) as u8)
            } else {
                None
            },
        }
    }

    /// Reads the 12 bytes at `offset`.
    pub fn decode_at(buf: &[u8], offset: usize) -> Result<Self> {
        get::<INTERFACE_ID_LEN>(buf, offset)?;
        Ok(Self::from_function_id(get_u32(buf, offset)?))
    }

    /// Writes the 12 bytes at `offset` (reserved bytes zero).
    pub fn encode_at(&self, buf: &mut [u8], offset: usize) -> Result<()> {
        put(buf, offset, &[0u8; INTERFACE_ID_LEN])?;
        put(buf, offset, &self.function_id().to_le_bytes())
    }
}

wire_bits! {
    /// TDI_BIND lock flags (OOT bits; AIK comments: CACHE_LINE_SIZE must be 0, BIND_P2P
    /// must be 0, ALL_REQUEST_REDIRECT must be 1). Every version sends 0; whether the
    /// firmware accepts that is unconfirmed.
    pub struct LockFlags(u16) {
        /// Bit 0: NO_FW_UPDATE.
        NO_FW_UPDATE = 1 << 0;
        /// Bit 1: CACHE_LINE_SIZE (AIK: must be 0).
        CACHE_LINE_SIZE = 1 << 1;
        /// Bit 2: LOCK_MSIX.
        LOCK_MSIX = 1 << 2;
        /// Bit 3: BIND_P2P (AIK: must be 0).
        BIND_P2P = 1 << 3;
        /// Bit 4: ALL_REQUEST_REDIRECT (AIK: must be 1).
        ALL_REQUEST_REDIRECT = 1 << 4;
    }
}

/// One TIO command with its parameters. Field comments give the offset (fact sheet §1
/// table; D0–D5 as L72 has them, D6–E4 as OOT and V1 do, E1/E2 also as P1; the AIK/V1
/// variants as the table's "AIK/V1" notes give them). The field details (interface id,
/// lock flags, root_port_id, segment, streams) are §1's "Field details".
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum Request {
    /// TIO_STATUS (D0, 16 B).
    TioStatus {
        /// 0x08: where the firmware writes the status page.
        status_paddr: u64,
    },
    /// TIO_INIT (D1, 16 B, no fields).
    TioInit,
    /// DEV_CREATE (D2, 32 B).
    DevCreate {
        /// 0x08: D.
        dev_ctx: Sla,
        /// 0x10: the device RID.
        rid: u16,
        /// 0x12: the root port's LNKCAP Port Number (bits 31:24), not a RID.
        root_port_id: u16,
        /// 0x14: `pci_domain_nr` truncated to `u8`.
        segment: u8,
    },
    /// DEV_RECLAIM (D3, 16 B).
    DevReclaim {
        /// 0x08: D.
        dev_ctx: Sla,
    },
    /// DEV_CONNECT (D4, 80 B; SPDM).
    DevConnect {
        /// 0x08: C.
        ctrl: SpdmCtrl,
        /// 0x30: D.
        dev_ctx: Sla,
        /// 0x38: traffic classes (bit 0 required by the host; only TC0 is allocated).
        tc_mask: u8,
        /// 0x39: certificate slot.
        cert_slot: u8,
        /// 0x40: IDE stream id per TC, [`IDE_STREAM_UNUSED`] if unused.
        ide_stream_id: [u8; 8],
    },
    /// DEV_DISCONNECT (D5, 48 B; SPDM).
    DevDisconnect {
        /// 0x04 bit 0: FORCE.
        force: bool,
        /// 0x08: C.
        ctrl: SpdmCtrl,
        /// 0x28: D.
        dev_ctx: Sla,
    },
    /// DEV_STATUS (D6, 32 B; AIK/V1 28 B).
    DevStatus {
        /// 0x08: D.
        dev_ctx: Sla,
        /// 0x10 (AIK/V1: 0x14): where the firmware writes DEV_STATUS.
        status_paddr: u64,
        /// AIK/V1 only, 0x10: the status buffer length.
        status_length: u32,
    },
    /// DEV_MEASUREMENTS (D7, 80 B; SPDM).
    DevMeasurements {
        /// 0x04 bit 0: RAW_BITSTREAM (0 = digest form, per AIK).
        raw: bool,
        /// 0x08: C.
        ctrl: SpdmCtrl,
        /// 0x28: D.
        dev_ctx: Sla,
        /// 0x30: nonce (V1 had none: zero in [`Layout::Aik`], unconfirmed).
        nonce: [u8; 32],
    },
    /// DEV_CERTIFICATES (D8, 48 B; SPDM).
    DevCertificates {
        /// 0x08: C.
        ctrl: SpdmCtrl,
        /// 0x28: D.
        dev_ctx: Sla,
    },
    /// TDI_CREATE (DA, 48 B).
    TdiCreate {
        /// 0x08: D.
        dev_ctx: Sla,
        /// 0x10: T.
        tdi_ctx: Sla,
        /// 0x18: the interface id (12 B).
        interface_id: InterfaceId,
    },
    /// TDI_RECLAIM (DB, 32 B).
    TdiReclaim {
        /// 0x08: D.
        dev_ctx: Sla,
        /// 0x10: T.
        tdi_ctx: Sla,
    },
    /// TDI_BIND (DC, 80 B; AIK 72 B with the same offsets, unconfirmed; SPDM). There is
    /// no ASID field: the ASID is host-side only (fact sheet §1, correcting
    /// `sev-tio.md`).
    TdiBind {
        /// 0x08: C.
        ctrl: SpdmCtrl,
        /// 0x28: D.
        dev_ctx: Sla,
        /// 0x30: T.
        tdi_ctx: Sla,
        /// 0x38: G, the guest context SPA.
        gctx: u64,
        /// 0x40: the guest device id (iommufd vdevice `virt_id`).
        guest_device_id: u16,
        /// 0x42: lock flags (always 0 in every host version).
        lock_flags: LockFlags,
        /// 0x44: run_flags (bit 0 RUN), raw.
        run_flags: u16,
    },
    /// TDI_UNBIND (DD, 64 B; SPDM).
    TdiUnbind {
        /// 0x04 bit 0: FORCE (reserved in AIK: `false` there).
        force: bool,
        /// 0x08: C.
        ctrl: SpdmCtrl,
        /// 0x28: D.
        dev_ctx: Sla,
        /// 0x30: T.
        tdi_ctx: Sla,
        /// 0x38: G.
        gctx: u64,
    },
    /// TDI_REPORT (DE, 64 B; SPDM).
    TdiReport {
        /// 0x08: C.
        ctrl: SpdmCtrl,
        /// 0x28: D.
        dev_ctx: Sla,
        /// 0x30: T.
        tdi_ctx: Sla,
        /// 0x38: G.
        gctx: u64,
    },
    /// TDI_STATUS (DF, 64 B; SPDM).
    TdiStatus {
        /// 0x08: C.
        ctrl: SpdmCtrl,
        /// 0x28: D.
        dev_ctx: Sla,
        /// 0x30: T.
        tdi_ctx: Sla,
        /// 0x38: where the firmware writes TDI_STATUS.
        status_paddr: u64,
    },
    /// GUEST_REQUEST (E0, 80 B; SPDM).
    GuestRequest {
        /// 0x08: C.
        ctrl: SpdmCtrl,
        /// 0x28: D.
        dev_ctx: Sla,
        /// 0x30: T.
        tdi_ctx: Sla,
        /// 0x38: G.
        gctx: u64,
        /// 0x40: the guest request page.
        req_paddr: u64,
        /// 0x48: the response page.
        res_paddr: u64,
    },
    /// ASID_FENCE_CLEAR (E1, 32 B).
    AsidFenceClear {
        /// 0x08: D (NULL in AIK/V1).
        dev_ctx: Sla,
        /// 0x10 (AIK/V1: 0x08): G.
        gctx: u64,
        /// AIK/V1 only, 0x10: device id.
        devid: u16,
        /// AIK/V1 only, 0x12: segment.
        segment: u8,
    },
    /// ASID_FENCE_STATUS (E2, 32 B).
    AsidFenceStatus {
        /// 0x08: D (NULL in AIK/V1).
        dev_ctx: Sla,
        /// 0x10 (AIK/V1: 0x04): the ASID.
        asid: u32,
        /// 0x14, unaligned (AIK/V1: 0x08): where the firmware writes the fence status.
        status_paddr: u64,
        /// AIK/V1 only, 0x10: device id.
        devid: u16,
        /// AIK/V1 only, 0x12: segment.
        segment: u8,
    },
    /// TDI_INFO (E3, 48 B).
    TdiInfo {
        /// 0x08: D.
        dev_ctx: Sla,
        /// 0x10: T.
        tdi_ctx: Sla,
        /// 0x18: where the firmware writes TDI_INFO.
        status_paddr: u64,
    },
    /// ROLL_KEY (E4, 48 B; SPDM).
    RollKey {
        /// 0x08: C.
        ctrl: SpdmCtrl,
        /// 0x28: D.
        dev_ctx: Sla,
    },
}

/// A command buffer as the mailbox sees it: at most [`MAX_CMD_LEN`] bytes, inline.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub struct CmdBuf {
    bytes: [u8; MAX_CMD_LEN],
    len: usize,
}

impl CmdBuf {
    /// A copy of `b`; more than [`MAX_CMD_LEN`] bytes is an [`Error::InvalidField`].
    pub fn from_bytes(b: &[u8]) -> Result<Self> {
        let mut bytes = [0u8; MAX_CMD_LEN];
        bytes
            .get_mut(..b.len())
            .ok_or(Error::InvalidField {
                field: "tio.cmd.length",
                value: b.len() as u64,
            })?
            .copy_from_slice(b);
        Ok(Self {
            bytes,
            len: b.len(),
        })
    }

    /// The buffer.
    pub fn as_bytes(&self) -> &[u8] {
        self.bytes.get(..self.len).unwrap_or(&[])
    }

    /// Its length.
    pub const fn len(&self) -> usize {
        self.len
    }

    /// Whether it is empty (never, for an encoded command).
    pub const fn is_empty(&self) -> bool {
        self.len == 0
    }

    /// Rewrites `spdm_ctrl` at 0x08 (EXPAND: the grown buffers' SLAs).
    pub fn set_ctrl(&mut self, ctrl: &SpdmCtrl) -> Result<()> {
        let n = self.len;
        let buf = self
            .bytes
            .get_mut(..n)
            .ok_or(Error::BufferTooSmall { needed: n })?;
        ctrl.encode_at(buf, CTRL_OFFSET)
    }
}

fn only_in(field: &'static str, present: bool, value: u64) -> Result<()> {
    if !present && value != 0 {
        return Err(Error::InvalidField { field, value });
    }
    Ok(())
}

fn sla_u64(s: Sla) -> u64 {
    s.encode()
}

fn flag(b: bool) -> u32 {
    u32::from(b)
}

impl Request {
    /// The command this request is.
    pub const fn command(&self) -> Command {
        match self {
            Self::TioStatus { .. } => Command::TioStatus,
            Self::TioInit => Command::TioInit,
            Self::DevCreate { .. } => Command::DevCreate,
            Self::DevReclaim { .. } => Command::DevReclaim,
            Self::DevConnect { .. } => Command::DevConnect,
            Self::DevDisconnect { .. } => Command::DevDisconnect,
            Self::DevStatus { .. } => Command::DevStatus,
            Self::DevMeasurements { .. } => Command::DevMeasurements,
            Self::DevCertificates { .. } => Command::DevCertificates,
            Self::TdiCreate { .. } => Command::TdiCreate,
            Self::TdiReclaim { .. } => Command::TdiReclaim,
            Self::TdiBind { .. } => Command::TdiBind,
            Self::TdiUnbind { .. } => Command::TdiUnbind,
            Self::TdiReport { .. } => Command::TdiReport,
            Self::TdiStatus { .. } => Command::TdiStatus,
            Self::GuestRequest { .. } => Command::GuestRequest,
            Self::AsidFenceClear { .. } => Command::AsidFenceClear,
            Self::AsidFenceStatus { .. } => Command::AsidFenceStatus,
            Self::TdiInfo { .. } => Command::TdiInfo,
            Self::RollKey { .. } => Command::RollKey,
        }
    }

    /// DEV_CONNECT as the host issues it (fact sheet §1): tc_mask bit 0 only (the host
    /// requires TC0 and allocates nothing else), `stream` for TC0 and
    /// [`IDE_STREAM_UNUSED`] for TC1..7.
    pub const fn dev_connect_tc0(ctrl: SpdmCtrl, dev_ctx: Sla, cert_slot: u8, stream: u8) -> Self {
        let u = IDE_STREAM_UNUSED;
        Self::DevConnect {
            ctrl,
            dev_ctx,
            tc_mask: 1,
            cert_slot,
            ide_stream_id: [stream, u, u, u, u, u, u, u],
        }
    }

    /// The `spdm_ctrl` of an SPDM command; `None` for the others.
    pub const fn ctrl(&self) -> Option<SpdmCtrl> {
        match *self {
            Self::DevConnect { ctrl, .. }
            | Self::DevDisconnect { ctrl, .. }
            | Self::DevMeasurements { ctrl, .. }
            | Self::DevCertificates { ctrl, .. }
            | Self::TdiBind { ctrl, .. }
            | Self::TdiUnbind { ctrl, .. }
            | Self::TdiReport { ctrl, .. }
            | Self::TdiStatus { ctrl, .. }
            | Self::GuestRequest { ctrl, .. }
            | Self::RollKey { ctrl, .. } => Some(ctrl),
            _ => None,
        }
    }

    /// Encodes the command buffer in `layout`.
    pub fn encode(&self, layout: Layout) -> Result<CmdBuf> {
        let aik = layout == Layout::Aik;
        let len = self.command().buffer_len(layout);
        let mut out = CmdBuf {
            bytes: [0u8; MAX_CMD_LEN],
            len,
        };
        let b = out
            .bytes
            .get_mut(..len)
            .ok_or(Error::BufferTooSmall { needed: len })?;
        put(b, 0, &(len as u32).to_le_bytes())?;
        let u64_at = |b: &mut [u8], o: usize, v: u64| put(b, o, &v.to_le_bytes());
        match *self {
            Self::TioStatus { status_paddr } => u64_at(b, 0x08, status_paddr)?,
            Self::TioInit => {}
            Self::DevCreate {
                dev_ctx,
                rid,
                root_port_id,
                segment,
            } => {
                u64_at(b, 0x08, sla_u64(dev_ctx))?;
                put(b, 0x10, &rid.to_le_bytes())?;
                put(b, 0x12, &root_port_id.to_le_bytes())?;
                put(b, 0x14, &[segment])?;
            }
            Self::DevReclaim { dev_ctx } => u64_at(b, 0x08, sla_u64(dev_ctx))?,
            Self::DevConnect {
                ctrl,
                dev_ctx,
                tc_mask,
                cert_slot,
                ide_stream_id,
            } => {
                ctrl.encode_at(b, CTRL_OFFSET)?;
                u64_at(b, 0x30, sla_u64(dev_ctx))?;
                put(b, 0x38, &[tc_mask, cert_slot])?;
                put(b, 0x40, &ide_stream_id)?;
            }
            Self::DevDisconnect {
                force,
                ctrl,
                dev_ctx,
            } => {
                put(b, 0x04, &flag(force).to_le_bytes())?;
                ctrl.encode_at(b, CTRL_OFFSET)?;
                u64_at(b, 0x28, sla_u64(dev_ctx))?;
            }
            Self::DevStatus {
                dev_ctx,
                status_paddr,
                status_length,
            } => {
                only_in("tio.dev_status.status_length", aik, status_length.into())?;
                u64_at(b, 0x08, sla_u64(dev_ctx))?;
                if aik {
                    put(b, 0x10, &status_length.to_le_bytes())?;
                    u64_at(b, 0x14, status_paddr)?;
                } else {
                    u64_at(b, 0x10, status_paddr)?;
                }
            }
            Self::DevMeasurements {
                raw,
                ctrl,
                dev_ctx,
                nonce,
            } => {
                only_in(
                    "tio.dev_measurements.nonce",
                    !aik,
                    u64::from(nonce != [0; 32]),
                )?;
                put(b, 0x04, &flag(raw).to_le_bytes())?;
                ctrl.encode_at(b, CTRL_OFFSET)?;
                u64_at(b, 0x28, sla_u64(dev_ctx))?;
                if !aik {
                    put(b, 0x30, &nonce)?;
                }
            }
            Self::DevCertificates { ctrl, dev_ctx } | Self::RollKey { ctrl, dev_ctx } => {
                ctrl.encode_at(b, CTRL_OFFSET)?;
                u64_at(b, 0x28, sla_u64(dev_ctx))?;
            }
            Self::TdiCreate {
                dev_ctx,
                tdi_ctx,
                interface_id,
            } => {
                u64_at(b, 0x08, sla_u64(dev_ctx))?;
                u64_at(b, 0x10, sla_u64(tdi_ctx))?;
                interface_id.encode_at(b, 0x18)?;
            }
            Self::TdiReclaim { dev_ctx, tdi_ctx } => {
                u64_at(b, 0x08, sla_u64(dev_ctx))?;
                u64_at(b, 0x10, sla_u64(tdi_ctx))?;
            }
            Self::TdiBind {
                ctrl,
                dev_ctx,
                tdi_ctx,
                gctx,
                guest_device_id,
                lock_flags,
                run_flags,
            } => {
                ctrl.encode_at(b, CTRL_OFFSET)?;
                u64_at(b, 0x28, sla_u64(dev_ctx))?;
                u64_at(b, 0x30, sla_u64(tdi_ctx))?;
                u64_at(b, 0x38, gctx)?;
                put(b, 0x40, &guest_device_id.to_le_bytes())?;
                put(b, 0x42, &lock_flags.bits().to_le_bytes())?;
                put(b, 0x44, &run_flags.to_le_bytes())?;
            }
            Self::TdiUnbind {
                force,
                ctrl,
                dev_ctx,
                tdi_ctx,
                gctx,
            } => {
                only_in("tio.tdi_unbind.force", !aik, force.into())?;
                put(b, 0x04, &flag(force).to_le_bytes())?;
                ctrl.encode_at(b, CTRL_OFFSET)?;
                u64_at(b, 0x28, sla_u64(dev_ctx))?;
                u64_at(b, 0x30, sla_u64(tdi_ctx))?;
                u64_at(b, 0x38, gctx)?;
            }
            Self::TdiReport {
                ctrl,
                dev_ctx,
                tdi_ctx,
                gctx: g,
            }
            | Self::TdiStatus {
                ctrl,
                dev_ctx,
                tdi_ctx,
                status_paddr: g,
            } => {
                ctrl.encode_at(b, CTRL_OFFSET)?;
                u64_at(b, 0x28, sla_u64(dev_ctx))?;
                u64_at(b, 0x30, sla_u64(tdi_ctx))?;
                u64_at(b, 0x38, g)?;
            }
            Self::GuestRequest {
                ctrl,
                dev_ctx,
                tdi_ctx,
                gctx,
                req_paddr,
                res_paddr,
            } => {
                ctrl.encode_at(b, CTRL_OFFSET)?;
                u64_at(b, 0x28, sla_u64(dev_ctx))?;
                u64_at(b, 0x30, sla_u64(tdi_ctx))?;
                u64_at(b, 0x38, gctx)?;
                u64_at(b, 0x40, req_paddr)?;
                u64_at(b, 0x48, res_paddr)?;
            }
            Self::AsidFenceClear {
                dev_ctx,
                gctx,
                devid,
                segment,
            } => {
                only_in("tio.fence_clear.dev_ctx", !aik, sla_u64(dev_ctx))?;
                only_in("tio.fence_clear.devid", aik, devid.into())?;
                only_in("tio.fence_clear.segment", aik, segment.into())?;
                if aik {
                    u64_at(b, 0x08, gctx)?;
                    put(b, 0x10, &devid.to_le_bytes())?;
                    put(b, 0x12, &[segment])?;
                } else {
                    u64_at(b, 0x08, sla_u64(dev_ctx))?;
                    u64_at(b, 0x10, gctx)?;
                }
            }
            Self::AsidFenceStatus {
                dev_ctx,
                asid,
                status_paddr,
                devid,
                segment,
            } => {
                only_in("tio.fence_status.dev_ctx", !aik, sla_u64(dev_ctx))?;
                only_in("tio.fence_status.devid", aik, devid.into())?;
                only_in("tio.fence_status.segment", aik, segment.into())?;
                if aik {
                    put(b, 0x04, &asid.to_le_bytes())?;
                    u64_at(b, 0x08, status_paddr)?;
                    put(b, 0x10, &devid.to_le_bytes())?;
                    put(b, 0x12, &[segment])?;
                } else {
                    u64_at(b, 0x08, sla_u64(dev_ctx))?;
                    put(b, 0x10, &asid.to_le_bytes())?;
                    u64_at(b, 0x14, status_paddr)?;
                }
            }
            Self::TdiInfo {
                dev_ctx,
                tdi_ctx,
                status_paddr,
            } => {
                u64_at(b, 0x08, sla_u64(dev_ctx))?;
                u64_at(b, 0x10, sla_u64(tdi_ctx))?;
                u64_at(b, 0x18, status_paddr)?;
            }
        }
        Ok(out)
    }

    /// Decodes the buffer of `cmd` in `layout`: `buf` must be exactly
    /// [`Command::buffer_len`] bytes with that value at +0; SLAs must decode; reserved
    /// bytes are ignored. Flag words keep only bit 0 (other bits ignored).
    pub fn decode(layout: Layout, cmd: Command, buf: &[u8]) -> Result<Self> {
        let aik = layout == Layout::Aik;
        let len = cmd.buffer_len(layout);
        super::exact(buf, len)?;
        check_len_field(buf, len)?;
        let sla = |o: usize| get_u64(buf, o).and_then(Sla::decode);
        let u64_at = |o: usize| get_u64(buf, o);
        let bit0 = |o: usize| get_u32(buf, o).map(|v| v & 1 != 0);
        let ctrl = || SpdmCtrl::decode_at(buf, CTRL_OFFSET);
        Ok(match cmd {
            Command::TioStatus => Self::TioStatus {
                status_paddr: u64_at(0x08)?,
            },
            Command::TioInit => Self::TioInit,
            Command::DevCreate => Self::DevCreate {
                dev_ctx: sla(0x08)?,
                rid: get_u16(buf, 0x10)?,
                root_port_id: get_u16(buf, 0x12)?,
                segment: get_u8(buf, 0x14)?,
            },
            Command::DevReclaim => Self::DevReclaim {
                dev_ctx: sla(0x08)?,
            },
            Command::DevConnect => Self::DevConnect {
                ctrl: ctrl()?,
                dev_ctx: sla(0x30)?,
                tc_mask: get_u8(buf, 0x38)?,
                cert_slot: get_u8(buf, 0x39)?,
                ide_stream_id: get(buf, 0x40)?,
            },
            Command::DevDisconnect => Self::DevDisconnect {
                force: bit0(0x04)?,
                ctrl: ctrl()?,
                dev_ctx: sla(0x28)?,
            },
            Command::DevStatus if aik => Self::DevStatus {
                dev_ctx: sla(0x08)?,
                status_length: get_u32(buf, 0x10)?,
                status_paddr: u64_at(0x14)?,
            },
            Command::DevStatus => Self::DevStatus {
                dev_ctx: sla(0x08)?,
                status_paddr: u64_at(0x10)?,
                status_length: 0,
            },
            Command::DevMeasurements => Self::DevMeasurements {
                raw: bit0(0x04)?,
                ctrl: ctrl()?,
                dev_ctx: sla(0x28)?,
                nonce: if aik { [0; 32] } else { get(buf, 0x30)? },
            },
            Command::DevCertificates => Self::DevCertificates {
                ctrl: ctrl()?,
                dev_ctx: sla(0x28)?,
            },
            Command::RollKey => Self::RollKey {
                ctrl: ctrl()?,
                dev_ctx: sla(0x28)?,
            },
            Command::TdiCreate => Self::TdiCreate {
                dev_ctx: sla(0x08)?,
                tdi_ctx: sla(0x10)?,
                interface_id: InterfaceId::decode_at(buf, 0x18)?,
            },
            Command::TdiReclaim => Self::TdiReclaim {
                dev_ctx: sla(0x08)?,
                tdi_ctx: sla(0x10)?,
            },
            Command::TdiBind => Self::TdiBind {
                ctrl: ctrl()?,
                dev_ctx: sla(0x28)?,
                tdi_ctx: sla(0x30)?,
                gctx: u64_at(0x38)?,
                guest_device_id: get_u16(buf, 0x40)?,
                lock_flags: LockFlags::from_bits(get_u16(buf, 0x42)?),
                run_flags: get_u16(buf, 0x44)?,
            },
            Command::TdiUnbind => Self::TdiUnbind {
                force: !aik && bit0(0x04)?,
                ctrl: ctrl()?,
                dev_ctx: sla(0x28)?,
                tdi_ctx: sla(0x30)?,
                gctx: u64_at(0x38)?,
            },
            Command::TdiReport => Self::TdiReport {
                ctrl: ctrl()?,
                dev_ctx: sla(0x28)?,
                tdi_ctx: sla(0x30)?,
                gctx: u64_at(0x38)?,
            },
            Command::TdiStatus => Self::TdiStatus {
                ctrl: ctrl()?,
                dev_ctx: sla(0x28)?,
                tdi_ctx: sla(0x30)?,
                status_paddr: u64_at(0x38)?,
            },
            Command::GuestRequest => Self::GuestRequest {
                ctrl: ctrl()?,
                dev_ctx: sla(0x28)?,
                tdi_ctx: sla(0x30)?,
                gctx: u64_at(0x38)?,
                req_paddr: u64_at(0x40)?,
                res_paddr: u64_at(0x48)?,
            },
            Command::AsidFenceClear if aik => Self::AsidFenceClear {
                dev_ctx: Sla::Null,
                gctx: u64_at(0x08)?,
                devid: get_u16(buf, 0x10)?,
                segment: get_u8(buf, 0x12)?,
            },
            Command::AsidFenceClear => Self::AsidFenceClear {
                dev_ctx: sla(0x08)?,
                gctx: u64_at(0x10)?,
                devid: 0,
                segment: 0,
            },
            Command::AsidFenceStatus if aik => Self::AsidFenceStatus {
                dev_ctx: Sla::Null,
                asid: get_u32(buf, 0x04)?,
                status_paddr: u64_at(0x08)?,
                devid: get_u16(buf, 0x10)?,
                segment: get_u8(buf, 0x12)?,
            },
            Command::AsidFenceStatus => Self::AsidFenceStatus {
                dev_ctx: sla(0x08)?,
                asid: get_u32(buf, 0x10)?,
                status_paddr: u64_at(0x14)?,
                devid: 0,
                segment: 0,
            },
            Command::TdiInfo => Self::TdiInfo {
                dev_ctx: sla(0x08)?,
                tdi_ctx: sla(0x10)?,
                status_paddr: u64_at(0x18)?,
            },
        })
    }

    /// This request with its `spdm_ctrl` replaced; a non-SPDM command is an
    /// [`Error::InvalidField`].
    pub fn with_ctrl(&self, new: SpdmCtrl) -> Result<Self> {
        let mut out = *self;
        match &mut out {
            Self::DevConnect { ctrl, .. }
            | Self::DevDisconnect { ctrl, .. }
            | Self::DevMeasurements { ctrl, .. }
            | Self::DevCertificates { ctrl, .. }
            | Self::TdiBind { ctrl, .. }
            | Self::TdiUnbind { ctrl, .. }
            | Self::TdiReport { ctrl, .. }
            | Self::TdiStatus { ctrl, .. }
            | Self::GuestRequest { ctrl, .. }
            | Self::RollKey { ctrl, .. } => *ctrl = new,
            _ => {
                return Err(Error::InvalidField {
                    field: "tio.spdm_ctrl",
                    value: u64::from(self.command().to_u16()),
                })
            }
        }
        Ok(out)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn ctrl_matches_uses_spdm() {
        let r = Request::RollKey {
            ctrl: SpdmCtrl::default(),
            dev_ctx: Sla::Null,
        };
        assert!(r.ctrl().is_some() && r.command().uses_spdm());
        assert!(Request::TioInit.with_ctrl(SpdmCtrl::default()).is_err());
    }

    #[test]
    fn layout_only_fields_are_refused_elsewhere() {
        let r = Request::TdiUnbind {
            force: true,
            ctrl: SpdmCtrl::default(),
            dev_ctx: Sla::Null,
            tdi_ctx: Sla::Null,
            gctx: 0,
        };
        assert!(r.encode(Layout::Current).is_ok());
        assert!(r.encode(Layout::Aik).is_err());
        let s = Request::DevStatus {
            dev_ctx: Sla::Null,
            status_paddr: 0,
            status_length: 4,
        };
        assert!(s.encode(Layout::Current).is_err());
        assert_eq!(s.encode(Layout::Aik).map(|b| b.len()), Ok(28));
    }

    #[test]
    fn interface_id_segment_only_with_domain() {
        assert_eq!(InterfaceId::for_function(0x0108, 0).function_id(), 0x0108);
        assert_eq!(
            InterfaceId::for_function(0x0108, 0x1_0002).function_id(),
            0x0102_0108
        );
    }
}
