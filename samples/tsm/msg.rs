// SPDX-License-Identifier: GPL-2.0

//! The `/dev/tsm_fw` message codec (`include/uapi/linux/tsm_fw.h`,
//! `Documentation/driver-api/pci/tsm-fw.rst`): decoding of what the firmware writes,
//! encoding of what the kernel sends. Pure: every byte string decodes to a message or a
//! typed error, built on the protocol crate's bounds-checked cursors.

use kernel::prelude::*;

use crate::tsm_proto::codec::{
    Error as CodecError,
    Reader,
    Writer, //
};

/// `TSM_FW_MAGIC`.
pub(crate) const MAGIC: u32 = 0x5746_5354;
/// `TSM_FW_VERSION_1`.
pub(crate) const VERSION_1: u16 = 1;
/// Size of `struct tsm_fw_hdr`.
pub(crate) const HDR_LEN: usize = 24;
/// `TSM_FW_MAX_PAYLOAD`.
pub(crate) const MAX_PAYLOAD: usize = 0x1_0000;
/// `TSM_FW_MAX_MSG_SIZE`.
pub(crate) const MAX_MSG: usize = 0x1_0100;
/// `TSM_FW_DOE_VENDOR_PCI_SIG`.
pub(crate) const VENDOR_PCI_SIG: u16 = 1;

/// `TSM_FW_MSG_HELLO`.
pub(crate) const MSG_HELLO: u16 = 0x0001;
/// `TSM_FW_MSG_DOE_REQUEST`.
pub(crate) const MSG_DOE_REQUEST: u16 = 0x0002;
/// `TSM_FW_MSG_COMPLETE`.
pub(crate) const MSG_COMPLETE: u16 = 0x0003;
/// `TSM_FW_CMD_HELLO_ACK`.
pub(crate) const CMD_HELLO_ACK: u16 = 0x0101;
/// `TSM_FW_CMD_CONNECT`.
pub(crate) const CMD_CONNECT: u16 = 0x0102;
/// `TSM_FW_CMD_DISCONNECT`.
pub(crate) const CMD_DISCONNECT: u16 = 0x0103;
/// `TSM_FW_CMD_BIND`.
pub(crate) const CMD_BIND: u16 = 0x0104;
/// `TSM_FW_CMD_UNBIND`.
pub(crate) const CMD_UNBIND: u16 = 0x0105;
/// `TSM_FW_CMD_GUEST_REQ`.
pub(crate) const CMD_GUEST_REQ: u16 = 0x0106;
/// `TSM_FW_CMD_DOE_RESPONSE`.
pub(crate) const CMD_DOE_RESPONSE: u16 = 0x0107;

/// Size of `struct tsm_fw_bind`.
pub(crate) const BIND_LEN: usize = 184;

/// `struct tsm_fw_dev`: a device by the address of its DSM.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub(crate) struct Dev {
    /// PCI segment.
    pub(crate) segment: u16,
    /// Bus number.
    pub(crate) bus: u8,
    /// Device << 3 | function.
    pub(crate) devfn: u8,
}

impl Dev {
    fn decode(r: &mut Reader<'_>) -> Result<Self, CodecError> {
        Ok(Self {
            segment: r.u16()?,
            bus: r.u8()?,
            devfn: r.u8()?,
        })
    }

    fn encode(&self, w: &mut Writer<'_>) -> Result<(), CodecError> {
        w.u16(self.segment)?;
        w.u8(self.bus)?;
        w.u8(self.devfn)
    }
}

/// A message the firmware wrote.
#[derive(Debug, PartialEq, Eq)]
pub(crate) enum FwMsg<'a> {
    /// `TSM_FW_MSG_HELLO`.
    Hello {
        /// Lowest version spoken.
        min_version: u16,
        /// Highest version spoken.
        max_version: u16,
    },
    /// `TSM_FW_MSG_DOE_REQUEST`.
    DoeRequest {
        /// Command served.
        req_id: u64,
        /// Device whose mailbox to use.
        dev: Dev,
        /// DOE object type.
        object_type: u8,
        /// Exchange number.
        seq: u32,
        /// Payload (without the DOE header).
        payload: &'a [u8],
    },
    /// `TSM_FW_MSG_COMPLETE`.
    Complete {
        /// Command served.
        req_id: u64,
        /// 0 or a negative errno.
        status: i32,
        /// `enum tsm_fw_error`.
        fw_error: u32,
        /// TDI state or `TSM_FW_TDI_NONE`.
        tdi_state: u32,
        /// Result payload.
        payload: &'a [u8],
    },
}

fn invalid(field: &'static str, value: u64) -> CodecError {
    CodecError::InvalidField { field, value }
}

/// Reads the `length`-prefixed payload that ends a message, exactly.
fn payload<'a>(r: &mut Reader<'a>, len: u32) -> Result<&'a [u8], CodecError> {
    let len = len as usize;
    if len > MAX_PAYLOAD {
        return Err(invalid("tsm_fw.length", len as u64));
    }
    let p = r.bytes(len)?;
    r.finish()?;
    Ok(p)
}

/// Decodes one whole message written by the firmware.
pub(crate) fn decode(buf: &[u8]) -> Result<FwMsg<'_>, CodecError> {
    let mut r = Reader::new(buf);
    let magic = r.u32()?;
    if magic != MAGIC {
        return Err(invalid("tsm_fw.magic", magic.into()));
    }
    let version = r.u16()?;
    let ty = r.u16()?;
    let length = r.u32()?;
    if length as usize != buf.len() || buf.len() > MAX_MSG {
        return Err(CodecError::LengthMismatch {
            field: "tsm_fw.hdr.length",
            declared: length as usize,
            actual: buf.len(),
        });
    }
    let _flags = r.u32()?;
    let req_id = r.u64()?;
    if ty != MSG_HELLO && version != VERSION_1 {
        return Err(CodecError::UnsupportedVersion {
            version: version as u8,
        });
    }
    match ty {
        MSG_HELLO => {
            let min_version = r.u16()?;
            let max_version = r.u16()?;
            let _max_msg_size = r.u32()?;
            let _caps = r.u32()?;
            let _reserved = r.u32()?;
            r.finish()?;
            Ok(FwMsg::Hello {
                min_version,
                max_version,
            })
        }
        MSG_DOE_REQUEST => {
            let dev = Dev::decode(&mut r)?;
            let vendor_id = r.u16()?;
            if vendor_id != VENDOR_PCI_SIG {
                return Err(invalid("tsm_fw.doe.vendor_id", vendor_id.into()));
            }
            let object_type = r.u8()?;
            let _reserved0 = r.u8()?;
            let seq = r.u32()?;
            let _timeout_ms = r.u32()?;
            let len = r.u32()?;
            let _reserved1 = r.u32()?;
            if len % 4 != 0 {
                return Err(invalid("tsm_fw.doe.length", len.into()));
            }
            let payload = payload(&mut r, len)?;
            Ok(FwMsg::DoeRequest {
                req_id,
                dev,
                object_type,
                seq,
                payload,
            })
        }
        MSG_COMPLETE => {
            let status = r.u32()? as i32;
            let fw_error = r.u32()?;
            let tdi_state = r.u32()?;
            let len = r.u32()?;
            if status > 0 || status < -4095 {
                return Err(invalid("tsm_fw.complete.status", status as u64));
            }
            let payload = payload(&mut r, len)?;
            Ok(FwMsg::Complete {
                req_id,
                status,
                fw_error,
                tdi_state,
                payload,
            })
        }
        _ => Err(CodecError::UnknownCode {
            space: "tsm_fw.hdr.type",
            value: ty.into(),
        }),
    }
}

/// A memory BAR of a TDI (`struct tsm_fw_bar`).
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub(crate) struct Bar {
    /// Host physical base.
    pub(crate) base: u64,
    /// Size, a power of two.
    pub(crate) size: u64,
    /// BAR index.
    pub(crate) index: u8,
    /// `TSM_FW_BAR_*`.
    pub(crate) flags: u8,
}

/// MSI-X layout of a TDI (`struct tsm_fw_msix`).
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub(crate) struct Msix {
    /// Table Size + 1, 0 = none.
    pub(crate) table_entries: u16,
    /// Table BIR.
    pub(crate) table_bar: u8,
    /// PBA BIR.
    pub(crate) pba_bar: u8,
    /// Table offset.
    pub(crate) table_offset: u32,
    /// PBA offset.
    pub(crate) pba_offset: u32,
}

/// `TSM_FW_LOCK_MSIX` of [`BindArgs::lock_flags`]: LOCK_INTERFACE_REQUEST's LOCK_MSIX (the
/// MSI-X table and PBA become locked configuration of the TDI).
pub(crate) const LOCK_MSIX: u16 = 1 << 2;

/// `struct tsm_fw_bind`.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub(crate) struct BindArgs {
    /// The DSM.
    pub(crate) dev: Dev,
    /// TDISP FUNCTION_ID.
    pub(crate) tdi_id: u32,
    /// Guest requester ID.
    pub(crate) guest_rid: u32,
    /// `TSM_FW_LOCK_*`.
    pub(crate) lock_flags: u16,
    /// MMIO_REPORTING_OFFSET.
    pub(crate) mmio_reporting_offset: u64,
    /// MSI-X layout.
    pub(crate) msix: Msix,
    /// BARs used.
    pub(crate) nr_bars: u8,
    /// BAR slots.
    pub(crate) bars: [Bar; 6],
}

/// A message the kernel sends.
#[derive(Debug)]
pub(crate) enum Cmd<'a> {
    /// `TSM_FW_CMD_HELLO_ACK`.
    HelloAck {
        /// Chosen version, 0 refuses.
        version: u16,
    },
    /// `TSM_FW_CMD_CONNECT`.
    Connect {
        /// The DSM.
        dev: Dev,
        /// IDE stream ID to key.
        stream_id: u8,
    },
    /// `TSM_FW_CMD_DISCONNECT`.
    Disconnect {
        /// The DSM.
        dev: Dev,
    },
    /// `TSM_FW_CMD_BIND`.
    Bind(&'a BindArgs),
    /// `TSM_FW_CMD_UNBIND`.
    Unbind {
        /// The DSM.
        dev: Dev,
        /// TDISP FUNCTION_ID.
        tdi_id: u32,
    },
    /// `TSM_FW_CMD_GUEST_REQ`.
    GuestReq {
        /// The DSM.
        dev: Dev,
        /// TDISP FUNCTION_ID.
        tdi_id: u32,
        /// `enum tsm_fw_guest_op`.
        op: u32,
    },
    /// `TSM_FW_CMD_DOE_RESPONSE`.
    DoeResponse {
        /// 0 or a negative errno.
        status: i32,
        /// Response object type.
        object_type: u8,
        /// Exchange answered.
        seq: u32,
        /// Response payload.
        payload: &'a [u8],
    },
}

impl Cmd<'_> {
    /// Bytes of the encoded message.
    pub(crate) fn len(&self) -> usize {
        HDR_LEN
            + match self {
                Cmd::HelloAck { .. } | Cmd::Connect { .. } | Cmd::Disconnect { .. } => 8,
                Cmd::Unbind { .. } => 8,
                Cmd::Bind(_) => BIND_LEN,
                Cmd::GuestReq { .. } => 16,
                Cmd::DoeResponse { payload, .. } => 16 + payload.len(),
            }
    }

    fn ty(&self) -> u16 {
        match self {
            Cmd::HelloAck { .. } => CMD_HELLO_ACK,
            Cmd::Connect { .. } => CMD_CONNECT,
            Cmd::Disconnect { .. } => CMD_DISCONNECT,
            Cmd::Bind(_) => CMD_BIND,
            Cmd::Unbind { .. } => CMD_UNBIND,
            Cmd::GuestReq { .. } => CMD_GUEST_REQ,
            Cmd::DoeResponse { .. } => CMD_DOE_RESPONSE,
        }
    }

    /// Encodes the message with `req_id` into `out`; returns the bytes written.
    pub(crate) fn encode(&self, req_id: u64, out: &mut [u8]) -> Result<usize, CodecError> {
        let len = self.len();
        if len > MAX_MSG {
            return Err(CodecError::BufferTooSmall { needed: len });
        }
        let mut w = Writer::new(out);
        w.u32(MAGIC)?;
        w.u16(VERSION_1)?;
        w.u16(self.ty())?;
        w.u32(len as u32)?;
        w.u32(0)?;
        w.u64(req_id)?;
        match self {
            Cmd::HelloAck { version } => {
                w.u16(*version)?;
                w.u16(0)?;
                w.u32(MAX_MSG as u32)?;
            }
            Cmd::Connect { dev, stream_id } => {
                dev.encode(&mut w)?;
                w.u8(*stream_id)?;
                w.zeros(3)?;
            }
            Cmd::Disconnect { dev } => {
                dev.encode(&mut w)?;
                w.u32(0)?;
            }
            Cmd::Bind(b) => {
                b.dev.encode(&mut w)?;
                w.u32(b.tdi_id)?;
                w.u32(b.guest_rid)?;
                w.u16(b.lock_flags)?;
                w.u8(b.nr_bars)?;
                w.u8(0)?;
                w.u64(b.mmio_reporting_offset)?;
                w.u16(b.msix.table_entries)?;
                w.u8(b.msix.table_bar)?;
                w.u8(b.msix.pba_bar)?;
                w.u32(b.msix.table_offset)?;
                w.u32(b.msix.pba_offset)?;
                w.u32(0)?;
                for bar in &b.bars {
                    w.u64(bar.base)?;
                    w.u64(bar.size)?;
                    w.u8(bar.index)?;
                    w.u8(bar.flags)?;
                    w.zeros(6)?;
                }
            }
            Cmd::Unbind { dev, tdi_id } => {
                dev.encode(&mut w)?;
                w.u32(*tdi_id)?;
            }
            Cmd::GuestReq { dev, tdi_id, op } => {
                dev.encode(&mut w)?;
                w.u32(*tdi_id)?;
                w.u32(*op)?;
                w.u32(0)?;
            }
            Cmd::DoeResponse {
                status,
                object_type,
                seq,
                payload,
            } => {
                w.u32(*status as u32)?;
                w.u16(VENDOR_PCI_SIG)?;
                w.u8(*object_type)?;
                w.u8(0)?;
                w.u32(*seq)?;
                w.u32(payload.len() as u32)?;
                w.bytes(payload)?;
            }
        }
        Ok(w.position())
    }
}

#[cfg(CONFIG_SAMPLE_TSM_EMU_KUNIT_TEST)]
#[kunit_tests(tsm_emu_msg)]
mod tests {
    use super::*;

    fn hdr(ty: u16, len: u32, req_id: u64) -> [u8; HDR_LEN] {
        let mut b = [0u8; HDR_LEN];
        let mut w = Writer::new(&mut b);
        let _ = w.u32(MAGIC);
        let _ = w.u16(VERSION_1);
        let _ = w.u16(ty);
        let _ = w.u32(len);
        let _ = w.u32(0);
        let _ = w.u64(req_id);
        b
    }

    #[test]
    fn hello_decodes() {
        let mut m = [0u8; HDR_LEN + 16];
        m[..HDR_LEN].copy_from_slice(&hdr(MSG_HELLO, 40, 0));
        m[HDR_LEN] = 1;
        m[HDR_LEN + 2] = 1;
        assert_eq!(
            decode(&m),
            Ok(FwMsg::Hello {
                min_version: 1,
                max_version: 1
            })
        );
    }

    #[test]
    fn doe_request_roundtrip_and_truncation() {
        let mut m = [0u8; HDR_LEN + 24 + 8];
        m[..HDR_LEN].copy_from_slice(&hdr(MSG_DOE_REQUEST, 56, 7));
        let body = [
            0u8, 0, 1, 0, 1, 0, 1, 0, 3, 0, 0, 0, 0x88, 0x13, 0, 0, 8, 0, 0, 0, 0, 0, 0, 0,
        ];
        m[HDR_LEN..HDR_LEN + 24].copy_from_slice(&body);
        m[HDR_LEN + 24..].copy_from_slice(&[0x10, 0x84, 0, 0, 0, 0, 0, 0]);
        match decode(&m) {
            Ok(FwMsg::DoeRequest {
                req_id,
                dev,
                object_type,
                seq,
                payload,
            }) => {
                assert_eq!(req_id, 7);
                assert_eq!(dev.bus, 1);
                assert_eq!(object_type, 1);
                assert_eq!(seq, 3);
                assert_eq!(payload.len(), 8);
            }
            other => panic!("{:?}", other),
        }
        // Every truncation is a typed error, never a crash.
        for n in 0..m.len() {
            assert!(decode(&m[..n]).is_err());
        }
    }

    #[test]
    fn bad_magic_and_length_rejected() {
        let mut m = [0u8; HDR_LEN + 16];
        m[..HDR_LEN].copy_from_slice(&hdr(MSG_COMPLETE, 40, 1));
        assert!(decode(&m).is_ok());
        m[0] ^= 1;
        assert!(decode(&m).is_err());
        m[0] ^= 1;
        m[8] = 41;
        assert!(decode(&m).is_err());
        m[8] = 40;
        // A payload length past the message end.
        m[HDR_LEN + 12] = 4;
        assert!(decode(&m).is_err());
    }

    #[test]
    fn commands_have_their_documented_sizes() {
        let mut out = [0u8; HDR_LEN + BIND_LEN];
        let b = BindArgs::default();
        assert_eq!(Cmd::Bind(&b).encode(1, &mut out), Ok(HDR_LEN + BIND_LEN));
        assert_eq!(
            Cmd::Connect {
                dev: Dev::default(),
                stream_id: 0
            }
            .encode(2, &mut out),
            Ok(HDR_LEN + 8)
        );
        let mut small = [0u8; HDR_LEN];
        assert!(Cmd::HelloAck { version: 1 }.encode(0, &mut small).is_err());
    }
}
