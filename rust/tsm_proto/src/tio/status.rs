// SPDX-License-Identifier: GPL-2.0

//! The structures the firmware writes for the host to read: the TIO_STATUS page, and
//! (OOT) DEV_STATUS, TDI_INFO, TDI_STATUS and the ASID fence status.
//!
//! The host reads them in place from its firmware-owned data page (fact sheet §4), so
//! every decoder takes a slice at least as long as the structure and ignores any bytes
//! after it; reserved bytes are ignored and unknown codes are errors. The encoders are
//! for a firmware model and tests. Layouts are the fact sheet's §2 tables.

use super::super::codec::{Error, Result};
use super::cmd::Layout;
use super::request::InterfaceId;
use super::{get, get_u16, get_u32, get_u64, get_u8, put};

/// Requires `buf` to hold at least `n` bytes.
fn at_least(buf: &[u8], n: usize) -> Result<()> {
    if buf.len() < n {
        return Err(Error::Truncated {
            offset: buf.len(),
            needed: n - buf.len(),
        });
    }
    Ok(())
}

/// A min/max size pair of the TIO_STATUS page.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Default)]
pub struct SizeRange {
    /// Smallest size the firmware accepts.
    pub min: u32,
    /// Largest size it uses; the host allocates this much.
    pub max: u32,
}

/// The TIO_STATUS page is 64 bytes (fact sheet §2).
pub const TIO_STATUS_LEN: usize = 64;

/// Smallest length L72 accepts in TIO_STATUS's length field.
pub const TIO_STATUS_MIN_LEN: u32 = 0x30;

/// TIO_STATUS flags bit 0: TIO enabled.
pub const TIO_STATUS_TIO_EN: u32 = 1 << 0;

/// TIO_STATUS flags bit 1: TIO_INIT done.
pub const TIO_STATUS_INIT_DONE: u32 = 1 << 1;

/// The TIO_STATUS page (fact sheet §2, L72; `tio_crypto_alg` absent in AIK).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Default)]
pub struct TioStatus {
    /// 0x00: length (L72 requires ≥ 0x30).
    pub length: u32,
    /// 0x04 bit 0.
    pub tio_en: bool,
    /// 0x04 bit 1.
    pub init_done: bool,
    /// 0x08/0x0C: SPDM req buffer sizes (req and resp buffers use `req.max`).
    pub req: SizeRange,
    /// 0x10/0x14: scratch buffer sizes.
    pub scratch: SizeRange,
    /// 0x18/0x1C: output buffer sizes.
    pub output: SizeRange,
    /// 0x20/0x24: rsp sizes (the host sizes resp by `req.max` instead).
    pub rsp: SizeRange,
    /// 0x28: device context size.
    pub devctx_size: u32,
    /// 0x2C: TDI context size.
    pub tdictx_size: u32,
    /// 0x30: tio_crypto_alg, present when the length covers it (absent in AIK; meaning
    /// unconfirmed). Width taken as `u32` (unconfirmed).
    pub tio_crypto_alg: Option<u32>,
}

impl TioStatus {
    /// Decodes the page. A length below 0x30, or flag bits other than 0 and 1 set, is an
    /// [`Error::InvalidField`]; `tio_crypto_alg` is read when the length is at least
    /// 0x34.
    pub fn decode(buf: &[u8]) -> Result<Self> {
        let length = get_u32(buf, 0)?;
        if length < TIO_STATUS_MIN_LEN {
            return Err(Error::InvalidField {
                field: "tio.status_page.length",
                value: length.into(),
            });
        }
        let flags = get_u32(buf, 4)?;
        if flags & !(TIO_STATUS_TIO_EN | TIO_STATUS_INIT_DONE) != 0 {
            return Err(Error::InvalidField {
                field: "tio.status_page.flags",
                value: flags.into(),
            });
        }
        let range = |o: usize| -> Result<SizeRange> {
            Ok(SizeRange {
                min: get_u32(buf, o)?,
                max: get_u32(buf, o + 4)?,
            })
        };
        at_least(buf, 0x30)?;
        Ok(Self {
            length,
            tio_en: flags & TIO_STATUS_TIO_EN != 0,
            init_done: flags & TIO_STATUS_INIT_DONE != 0,
            req: range(0x08)?,
            scratch: range(0x10)?,
            output: range(0x18)?,
            rsp: range(0x20)?,
            devctx_size: get_u32(buf, 0x28)?,
            tdictx_size: get_u32(buf, 0x2C)?,
            tio_crypto_alg: if length >= 0x34 {
                Some(get_u32(buf, 0x30)?)
            } else {
                None
            },
        })
    }

    /// The sizes the host allocates for the four SPDM buffers, in `spdm_ctrl` order
    /// (fact sheet §2): req and resp both `req.max`, scratch `scratch.max`, output
    /// `output.max`.
    pub const fn buffer_sizes(&self) -> [u32; 4] {
        [
            self.req.max,
            self.req.max,
            self.scratch.max,
            self.output.max,
        ]
    }

    /// Encodes the 64-byte page into `buf` (reserved bytes zero).
    pub fn encode(&self, buf: &mut [u8]) -> Result<()> {
        put(buf, 0, &[0u8; TIO_STATUS_LEN])?;
        let flags = if self.tio_en { TIO_STATUS_TIO_EN } else { 0 }
            | if self.init_done {
                TIO_STATUS_INIT_DONE
            } else {
                0
            };
        let words = [
            self.length,
            flags,
            self.req.min,
            self.req.max,
            self.scratch.min,
            self.scratch.max,
            self.output.min,
            self.output.max,
            self.rsp.min,
            self.rsp.max,
            self.devctx_size,
            self.tdictx_size,
        ];
        for (i, w) in words.iter().enumerate() {
            put(buf, 4 * i, &w.to_le_bytes())?;
        }
        if let Some(a) = self.tio_crypto_alg {
            put(buf, 0x30, &a.to_le_bytes())?;
        }
        Ok(())
    }
}

wire_enum! {
    /// spdm_algos byte 0: DHE group (OOT).
    pub enum Dhe(u8, "tio.algo.dhe") decode from_u8 encode to_u8 {
        /// ECDH P-256.
        P256 = 0,
        /// ECDH P-384.
        P384 = 1,
    }
}

wire_enum! {
    /// spdm_algos byte 1: AEAD (OOT).
    pub enum Aead(u8, "tio.algo.aead") decode from_u8 encode to_u8 {
        /// AES-128-GCM.
        Aes128Gcm = 0,
        /// AES-256-GCM.
        Aes256Gcm = 1,
    }
}

wire_enum! {
    /// spdm_algos byte 2: asymmetric signature algorithm (OOT).
    pub enum Asym(u8, "tio.algo.asym") decode from_u8 encode to_u8 {
        /// RSA-3072.
        Rsa3072 = 0,
        /// ECDSA P-256.
        EcdsaP256 = 1,
        /// ECDSA P-384.
        EcdsaP384 = 2,
    }
}

wire_enum! {
    /// spdm_algos byte 3: hash (OOT).
    pub enum Hash(u8, "tio.algo.hash") decode from_u8 encode to_u8 {
        /// SHA-256.
        Sha256 = 0,
        /// SHA-384.
        Sha384 = 1,
    }
}

wire_enum! {
    /// spdm_algos byte 4: key schedule (OOT).
    pub enum KeySchedule(u8, "tio.algo.key_schedule") decode from_u8 encode to_u8 {
        /// The SPDM key schedule.
        Spdm = 0,
    }
}

/// The five spdm_algos bytes (DEV_STATUS +0x98, TDI_INFO +0x18; OOT).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub struct SpdmAlgos {
    /// Byte 0.
    pub dhe: Dhe,
    /// Byte 1.
    pub aead: Aead,
    /// Byte 2.
    pub asym: Asym,
    /// Byte 3.
    pub hash: Hash,
    /// Byte 4.
    pub key_schedule: KeySchedule,
}

impl SpdmAlgos {
    fn decode_at(buf: &[u8], o: usize) -> Result<Self> {
        let [a, b, c, d, e] = get::<5>(buf, o)?;
        Ok(Self {
            dhe: Dhe::from_u8(a)?,
            aead: Aead::from_u8(b)?,
            asym: Asym::from_u8(c)?,
            hash: Hash::from_u8(d)?,
            key_schedule: KeySchedule::from_u8(e)?,
        })
    }

    fn encode_at(&self, buf: &mut [u8], o: usize) -> Result<()> {
        put(
            buf,
            o,
            &[
                self.dhe.to_u8(),
                self.aead.to_u8(),
                self.asym.to_u8(),
                self.hash.to_u8(),
                self.key_schedule.to_u8(),
            ],
        )
    }
}

/// Size of DEV_STATUS (OOT).
pub const DEV_STATUS_LEN: usize = 160;

/// Size of a digest in DEV_STATUS and TDI_INFO (48 bytes).
pub const DIGEST_LEN: usize = 48;

/// DEV_STATUS +0x06 bit 0: a request is pending.
pub const DEV_REQUEST_PENDING: u8 = 1 << 0;

/// DEV_STATUS +0x06 bit 1: a TDI request is pending.
pub const DEV_REQUEST_PENDING_TDI: u8 = 1 << 1;

/// DEV_STATUS +0x1C bit 0: the measurement digest is valid.
pub const DEV_MEAS_DIGEST_VALID: u32 = 1 << 0;

/// DEV_STATUS +0x1C bit 1: no firmware update.
pub const DEV_NO_FW_UPDATE: u32 = 1 << 1;

/// DEV_STATUS (160 B, OOT fact sheet §2). Offset 0x00 (not given by the fact sheet,
/// presumably a length) is kept raw.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub struct DevStatus {
    /// 0x00: not described by the fact sheet (unconfirmed: a length?), kept raw.
    pub header: u32,
    /// 0x04: ctx_state (values unconfirmed), `u16` up to the next field.
    pub ctx_state: u16,
    /// 0x06: bit 0 request_pending, bit 1 request_pending_tdi (raw).
    pub pending_flags: u8,
    /// 0x07: certificate slot.
    pub certs_slot: u8,
    /// 0x08: device id.
    pub devid: u16,
    /// 0x0A: segment.
    pub segment: u8,
    /// 0x0B: traffic-class mask.
    pub tc_mask: u8,
    /// 0x0C: the pending command.
    pub pending_command: u16,
    /// 0x10: the pending interface id.
    pub pending_interface_id: InterfaceId,
    /// 0x1C: bit 0 meas_digest_valid, bit 1 no_fw_update (raw).
    pub flags: u32,
    /// 0x20: IDE stream id per TC: `u8`s in [`Layout::Current`], `u16`s in
    /// [`Layout::Aik`] (V1).
    pub ide_stream_id: [u16; 8],
    /// 0x30: certificate digest.
    pub certs_digest: [u8; DIGEST_LEN],
    /// 0x60: measurement digest.
    pub meas_digest: [u8; DIGEST_LEN],
    /// 0x90: TDI count.
    pub tdi_count: u32,
    /// 0x94: bound TDI count.
    pub bound_tdi_count: u32,
    /// 0x98: negotiated algorithms.
    pub algos: SpdmAlgos,
}

impl DevStatus {
    /// Decodes DEV_STATUS in `layout`.
    pub fn decode(layout: Layout, buf: &[u8]) -> Result<Self> {
        at_least(buf, DEV_STATUS_LEN)?;
        let mut ide_stream_id = [0u16; 8];
        for (i, s) in ide_stream_id.iter_mut().enumerate() {
            *s = match layout {
                Layout::Current => get_u8(buf, 0x20 + i)?.into(),
                Layout::Aik => get_u16(buf, 0x20 + 2 * i)?,
            };
        }
        Ok(Self {
            header: get_u32(buf, 0x00)?,
            ctx_state: get_u16(buf, 0x04)?,
            pending_flags: get_u8(buf, 0x06)?,
            certs_slot: get_u8(buf, 0x07)?,
            devid: get_u16(buf, 0x08)?,
            segment: get_u8(buf, 0x0A)?,
            tc_mask: get_u8(buf, 0x0B)?,
            pending_command: get_u16(buf, 0x0C)?,
            pending_interface_id: InterfaceId::decode_at(buf, 0x10)?,
            flags: get_u32(buf, 0x1C)?,
            ide_stream_id,
            certs_digest: get(buf, 0x30)?,
            meas_digest: get(buf, 0x60)?,
            tdi_count: get_u32(buf, 0x90)?,
            bound_tdi_count: get_u32(buf, 0x94)?,
            algos: SpdmAlgos::decode_at(buf, 0x98)?,
        })
    }

    /// Encodes DEV_STATUS in `layout` into the first 160 bytes of `buf`. A stream id
    /// above 0xFF in [`Layout::Current`] is an [`Error::InvalidField`].
    pub fn encode(&self, layout: Layout, buf: &mut [u8]) -> Result<()> {
        put(buf, 0, &[0u8; DEV_STATUS_LEN])?;
        put(buf, 0x00, &self.header.to_le_bytes())?;
        put(buf, 0x04, &self.ctx_state.to_le_bytes())?;
        put(buf, 0x06, &[self.pending_flags, self.certs_slot])?;
        put(buf, 0x08, &self.devid.to_le_bytes())?;
        put(buf, 0x0A, &[self.segment, self.tc_mask])?;
        put(buf, 0x0C, &self.pending_command.to_le_bytes())?;
        self.pending_interface_id.encode_at(buf, 0x10)?;
        put(buf, 0x1C, &self.flags.to_le_bytes())?;
        for (i, s) in self.ide_stream_id.iter().enumerate() {
            match layout {
                Layout::Current => {
                    let b = u8::try_from(*s).map_err(|_| Error::InvalidField {
                        field: "tio.dev_status.ide_stream_id",
                        value: u64::from(*s),
                    })?;
                    put(buf, 0x20 + i, &[b])?;
                }
                Layout::Aik => put(buf, 0x20 + 2 * i, &s.to_le_bytes())?,
            }
        }
        put(buf, 0x30, &self.certs_digest)?;
        put(buf, 0x60, &self.meas_digest)?;
        put(buf, 0x90, &self.tdi_count.to_le_bytes())?;
        put(buf, 0x94, &self.bound_tdi_count.to_le_bytes())?;
        self.algos.encode_at(buf, 0x98)
    }
}

/// Size of TDI_INFO (OOT).
pub const TDI_INFO_LEN: usize = 192;

wire_enum! {
    /// TDI_INFO +0x10 bits 3:2, the TDI's state (values from AIK comments; unconfirmed
    /// for later firmware).
    pub enum TdiInfoState(u8, "tio.tdi_info.state") decode from_u8 encode to_u8 {
        /// Not bound.
        Unbound = 0,
        /// Bound, LOCKED.
        Locked = 1,
        /// RUN.
        Run = 2,
    }
}

wire_bits! {
    /// TDI_INFO +0x14: the TDI's lock flags as the firmware reports them (OOT).
    pub struct TdiInfoLockFlags(u32) {
        /// Bit 0: NO_FW_UPDATE.
        NO_FW_UPDATE = 1 << 0;
        /// Bit 1: cache line size (0 = 64 B, 1 = 128 B).
        CACHE_LINE_128 = 1 << 1;
        /// Bit 2: LOCK_MSIX.
        LOCK_MSIX = 1 << 2;
        /// Bit 3: P2P.
        BIND_P2P = 1 << 3;
        /// Bit 4: ALL_REQUEST_REDIRECT.
        ALL_REQUEST_REDIRECT = 1 << 4;
    }
}

/// TDI_INFO (192 B, OOT fact sheet §2).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub struct TdiInfo {
    /// 0x04: the interface id.
    pub interface_id: InterfaceId,
    /// 0x10 bit 0: measurements valid.
    pub meas_valid: bool,
    /// 0x10 bit 1: measurements fresh.
    pub meas_fresh: bool,
    /// 0x10 bits 3:2: the TDI state.
    pub state: TdiInfoState,
    /// 0x14: lock flags.
    pub lock_flags: TdiInfoLockFlags,
    /// 0x18: negotiated algorithms.
    pub algos: SpdmAlgos,
    /// 0x20: certificate digest.
    pub certs_digest: [u8; DIGEST_LEN],
    /// 0x50: measurement digest.
    pub meas_digest: [u8; DIGEST_LEN],
    /// 0x80: interface report digest.
    pub report_digest: [u8; DIGEST_LEN],
    /// 0xB0: report counter.
    pub report_counter: u64,
    /// 0xB8: the guest's ASID.
    pub asid: u32,
}

impl TdiInfo {
    /// Decodes TDI_INFO; bits 31:4 of the word at 0x10 are ignored.
    pub fn decode(buf: &[u8]) -> Result<Self> {
        at_least(buf, TDI_INFO_LEN)?;
        let w = get_u32(buf, 0x10)?;
        Ok(Self {
            interface_id: InterfaceId::decode_at(buf, 0x04)?,
            meas_valid: w & 1 != 0,
            meas_fresh: w & 2 != 0,
            state: TdiInfoState::from_u8(((w >> 2) & 3) as u8)?,
            lock_flags: TdiInfoLockFlags::from_bits(get_u32(buf, 0x14)?),
            algos: SpdmAlgos::decode_at(buf, 0x18)?,
            certs_digest: get(buf, 0x20)?,
            meas_digest: get(buf, 0x50)?,
            report_digest: get(buf, 0x80)?,
            report_counter: get_u64(buf, 0xB0)?,
            asid: get_u32(buf, 0xB8)?,
        })
    }

    /// Encodes TDI_INFO into the first 192 bytes of `buf`.
    pub fn encode(&self, buf: &mut [u8]) -> Result<()> {
        put(buf, 0, &[0u8; TDI_INFO_LEN])?;
        self.interface_id.encode_at(buf, 0x04)?;
        let w = u32::from(self.meas_valid)
            | u32::from(self.meas_fresh) << 1
            | u32::from(self.state.to_u8()) << 2;
        put(buf, 0x10, &w.to_le_bytes())?;
        put(buf, 0x14, &self.lock_flags.bits().to_le_bytes())?;
        self.algos.encode_at(buf, 0x18)?;
        put(buf, 0x20, &self.certs_digest)?;
        put(buf, 0x50, &self.meas_digest)?;
        put(buf, 0x80, &self.report_digest)?;
        put(buf, 0xB0, &self.report_counter.to_le_bytes())?;
        put(buf, 0xB8, &self.asid.to_le_bytes())
    }
}

wire_enum! {
    /// TDI_STATUS +0x04: the TDISP state (OOT).
    pub enum TdispState(u8, "tio.tdi_status.state") decode from_u8 encode to_u8 {
        /// CONFIG_UNLOCKED.
        Unlocked = 0,
        /// CONFIG_LOCKED.
        Locked = 1,
        /// RUN.
        Run = 2,
        /// ERROR.
        Error = 3,
    }
}

/// The TDI_STATUS output (16 B; AIK 8 B): the TDISP state at +0x04.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub struct TdiStatus {
    /// +0x04: the TDISP state.
    pub state: TdispState,
}

impl TdiStatus {
    /// Size of the structure in `layout`.
    pub const fn len(layout: Layout) -> usize {
        match layout {
            Layout::Current => 16,
            Layout::Aik => 8,
        }
    }

    /// Decodes TDI_STATUS in `layout`.
    pub fn decode(layout: Layout, buf: &[u8]) -> Result<Self> {
        at_least(buf, Self::len(layout))?;
        Ok(Self {
            state: TdispState::from_u8(get_u8(buf, 4)?)?,
        })
    }

    /// Encodes TDI_STATUS in `layout` (other bytes zero).
    pub fn encode(&self, layout: Layout, buf: &mut [u8]) -> Result<()> {
        let n = Self::len(layout);
        buf.get_mut(..n)
            .ok_or(Error::BufferTooSmall { needed: n })?
            .fill(0);
        put(buf, 4, &[self.state.to_u8()])
    }
}

wire_enum! {
    /// FENCE_STATUS bits 1:0: the DMA fence (OOT).
    pub enum DmaFence(u8, "tio.fence.dma") decode from_u8 encode to_u8 {
        /// Not fenced.
        None = 0,
        /// Fenced by an error.
        ErrorFenced = 1,
        /// Fenced by default.
        DefaultFenced = 3,
    }
}

wire_enum! {
    /// FENCE_STATUS bits 3:2: the MMIO fence (OOT).
    pub enum MmioFence(u8, "tio.fence.mmio") decode from_u8 encode to_u8 {
        /// Not fenced.
        None = 0,
        /// Fenced.
        Fenced = 3,
    }
}

/// The `u64` ASID_FENCE_STATUS writes.
///
/// OOT's check lets the MMIO verdict overwrite the DMA one (fact sheet §2, obs), so a
/// DMA-only fence reads as unfenced; this type keeps both and [`FenceStatus::fenced`]
/// is their union.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum FenceStatus {
    /// [`Layout::Current`]: the two fences (bits 63:4 ignored).
    Split {
        /// Bits 1:0.
        dma: DmaFence,
        /// Bits 3:2.
        mmio: MmioFence,
    },
    /// [`Layout::Aik`]: the whole value is 0 or 1.
    Whole(bool),
}

impl FenceStatus {
    /// Decodes the value in `layout`; unknown codes (DMA 2, MMIO 1 or 2; AIK anything
    /// but 0 or 1) are errors.
    pub fn decode(layout: Layout, v: u64) -> Result<Self> {
        match layout {
            Layout::Current => Ok(Self::Split {
                dma: DmaFence::from_u8((v & 3) as u8)?,
                mmio: MmioFence::from_u8(((v >> 2) & 3) as u8)?,
            }),
            Layout::Aik => match v {
                0 => Ok(Self::Whole(false)),
                1 => Ok(Self::Whole(true)),
                _ => Err(Error::InvalidField {
                    field: "tio.fence.aik",
                    value: v,
                }),
            },
        }
    }

    /// Decodes the `u64` at the start of `buf`.
    pub fn decode_bytes(layout: Layout, buf: &[u8]) -> Result<Self> {
        Self::decode(layout, get_u64(buf, 0)?)
    }

    /// The wire value.
    pub const fn encode(self) -> u64 {
        match self {
            Self::Split { dma, mmio } => dma.to_u8() as u64 | (mmio.to_u8() as u64) << 2,
            Self::Whole(b) => b as u64,
        }
    }

    /// Whether anything is fenced: DMA or MMIO (or the AIK bit).
    pub const fn fenced(self) -> bool {
        match self {
            Self::Split { dma, mmio } => {
                !matches!(dma, DmaFence::None) || !matches!(mmio, MmioFence::None)
            }
            Self::Whole(b) => b,
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn dma_only_fence_is_fenced() {
        let f = FenceStatus::decode(Layout::Current, 1).unwrap();
        assert!(f.fenced());
        assert!(FenceStatus::decode(Layout::Current, 2).is_err());
        assert!(FenceStatus::decode(Layout::Current, 4).is_err());
        assert!(FenceStatus::decode(Layout::Aik, 2).is_err());
    }

    #[test]
    fn status_page_length_rules() {
        let mut b = [0u8; 64];
        b[0] = 0x2f;
        assert!(TioStatus::decode(&b).is_err());
        b[0] = 0x30;
        assert_eq!(TioStatus::decode(&b).map(|s| s.tio_crypto_alg), Ok(None));
        b[4] = 4;
        assert!(TioStatus::decode(&b).is_err());
        assert!(TioStatus::decode(&b[..0x20]).is_err());
    }
}
