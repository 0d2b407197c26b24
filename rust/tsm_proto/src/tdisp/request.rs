// SPDX-License-Identifier: GPL-2.0

//! TDISP requests (PCIe Base 6.x §11.3.4-§11.3.25): the bodies, and decoding and
//! encoding of a whole request payload.

use super::super::codec::{Reader, Result, Writer};
use super::{
    nonce, Body, Envelope, LockFlags, LockInterfaceParams, MmioRange, RequestCode, VendorData,
    NONCE_LEN,
};

/// TDISP request bodies (§11.3.4-§11.3.25).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum RequestBody<'a> {
    /// GET_TDISP_VERSION (§11.3.4): no payload.
    GetVersion,
    /// GET_TDISP_CAPABILITIES (Table 11-8): TSM_CAPS.
    GetCapabilities {
        /// TSM capability flags (all bits reserved in 1.0).
        tsm_caps: u32,
    },
    /// LOCK_INTERFACE_REQUEST (Table 11-10).
    LockInterface(LockInterfaceParams),
    /// GET_DEVICE_INTERFACE_REPORT (Table 11-13).
    GetDeviceInterfaceReport {
        /// Offset into the report.
        offset: u16,
        /// Bytes requested (`FFFFh` with offset 0: the whole report).
        length: u16,
    },
    /// GET_DEVICE_INTERFACE_STATE (§11.3.12): no payload.
    GetDeviceInterfaceState,
    /// START_INTERFACE_REQUEST (Table 11-18).
    StartInterface {
        /// The nonce from LOCK_INTERFACE_RESPONSE.
        nonce: &'a [u8; NONCE_LEN],
    },
    /// STOP_INTERFACE_REQUEST (§11.3.16): no payload.
    StopInterface,
    /// BIND_P2P_STREAM_REQUEST (Table 11-20).
    BindP2pStream {
        /// The P2P stream to bind.
        p2p_stream_id: u8,
    },
    /// UNBIND_P2P_STREAM_REQUEST (Table 11-22).
    UnbindP2pStream {
        /// The P2P stream to unbind.
        p2p_stream_id: u8,
    },
    /// SET_MMIO_ATTRIBUTE_REQUEST (Table 11-24).
    SetMmioAttribute(MmioRange),
    /// VDM_REQUEST (Table 11-29).
    Vdm(VendorData<'a>),
}

body_codec! {
    /// A TDISP request: version, interface and body.
    Request = RequestBody: RequestCode {
        GetVersion, GetCapabilities, LockInterface, GetDeviceInterfaceReport,
        GetDeviceInterfaceState, StartInterface, StopInterface, BindP2pStream,
        UnbindP2pStream, SetMmioAttribute, Vdm,
    }
}

impl<'a> RequestBody<'a> {
    /// Decodes the fields after the header of a request with code `code`.
    fn decode(code: RequestCode, r: &mut Reader<'a>) -> Result<Self> {
        Ok(match code {
            RequestCode::GetVersion => RequestBody::GetVersion,
            RequestCode::GetCapabilities => RequestBody::GetCapabilities { tsm_caps: r.u32()? },
            RequestCode::LockInterface => {
                let flags = LockFlags::from_bits(r.u16()?)?;
                let default_stream_id = r.u8()?;
                r.skip(1)?;
                RequestBody::LockInterface(LockInterfaceParams {
                    flags,
                    default_stream_id,
                    mmio_reporting_offset: r.u64()?,
                    bind_p2p_address_mask: r.u64()?,
                })
            }
            RequestCode::GetDeviceInterfaceReport => RequestBody::GetDeviceInterfaceReport {
                offset: r.u16()?,
                length: r.u16()?,
            },
            RequestCode::GetDeviceInterfaceState => RequestBody::GetDeviceInterfaceState,
            RequestCode::StartInterface => RequestBody::StartInterface { nonce: nonce(r)? },
            RequestCode::StopInterface => RequestBody::StopInterface,
            RequestCode::BindP2pStream => RequestBody::BindP2pStream {
                p2p_stream_id: r.u8()?,
            },
            RequestCode::UnbindP2pStream => RequestBody::UnbindP2pStream {
                p2p_stream_id: r.u8()?,
            },
            RequestCode::SetMmioAttribute => RequestBody::SetMmioAttribute(MmioRange::read(r)?),
            RequestCode::Vdm => RequestBody::Vdm(VendorData::parse(r.rest())?),
        })
    }

    /// Encodes the fields after the header.
    fn encode(&self, w: &mut Writer<'_>) -> Result<()> {
        match self {
            RequestBody::GetVersion
            | RequestBody::GetDeviceInterfaceState
            | RequestBody::StopInterface => Ok(()),
            RequestBody::GetCapabilities { tsm_caps } => w.u32(*tsm_caps),
            RequestBody::LockInterface(p) => {
                w.u16(p.flags.bits())?;
                w.u8(p.default_stream_id)?;
                w.u8(0)?;
                w.u64(p.mmio_reporting_offset)?;
                w.u64(p.bind_p2p_address_mask)
            }
            RequestBody::GetDeviceInterfaceReport { offset, length } => {
                w.u16(*offset)?;
                w.u16(*length)
            }
            RequestBody::StartInterface { nonce } => w.bytes(*nonce),
            RequestBody::BindP2pStream { p2p_stream_id }
            | RequestBody::UnbindP2pStream { p2p_stream_id } => w.u8(*p2p_stream_id),
            RequestBody::SetMmioAttribute(m) => m.write(w),
            RequestBody::Vdm(v) => v.write(w),
        }
    }
}
