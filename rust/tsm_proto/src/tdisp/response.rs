// SPDX-License-Identifier: GPL-2.0

//! TDISP responses (PCIe Base 6.x §11.3.5-§11.3.26): the bodies, and decoding and
//! encoding of a whole response payload.

use super::super::codec::{len_field, Error, Reader, Result, Writer};
use super::{
    nonce, Body, DsmCapabilities, Envelope, ErrorCode, ResponseCode, TdiState, TdispError,
    VendorData, VersionList, NONCE_LEN,
};

/// TDISP response bodies (§11.3.5-§11.3.26).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum ResponseBody<'a> {
    /// TDISP_VERSION (Table 11-7).
    Version(VersionList<'a>),
    /// TDISP_CAPABILITIES (Table 11-9).
    Capabilities(DsmCapabilities),
    /// LOCK_INTERFACE_RESPONSE (Table 11-11).
    LockInterface {
        /// START_INTERFACE_NONCE.
        nonce: &'a [u8; NONCE_LEN],
    },
    /// DEVICE_INTERFACE_REPORT (Table 11-14).
    DeviceInterfaceReport {
        /// REPORT_BYTES (PORTION_LENGTH bytes).
        portion: &'a [u8],
        /// REMAINDER_LENGTH: bytes not yet sent.
        remainder_length: u16,
    },
    /// DEVICE_INTERFACE_STATE (Table 11-17).
    DeviceInterfaceState(TdiState),
    /// START_INTERFACE_RESPONSE: no payload.
    StartInterface,
    /// STOP_INTERFACE_RESPONSE: no payload.
    StopInterface,
    /// BIND_P2P_STREAM_RESPONSE: no payload.
    BindP2pStream,
    /// UNBIND_P2P_STREAM_RESPONSE: no payload.
    UnbindP2pStream,
    /// SET_MMIO_ATTRIBUTE_RESPONSE: no payload.
    SetMmioAttribute,
    /// VDM_RESPONSE (Table 11-30).
    Vdm(VendorData<'a>),
    /// TDISP_ERROR (Table 11-26).
    Error(TdispError<'a>),
}

body_codec! {
    /// A TDISP response: version, interface and body.
    Response = ResponseBody: ResponseCode {
        Version, Capabilities, LockInterface, DeviceInterfaceReport, DeviceInterfaceState,
        StartInterface, StopInterface, BindP2pStream, UnbindP2pStream, SetMmioAttribute, Vdm,
        Error,
    }
}

impl<'a> ResponseBody<'a> {
    /// Decodes the fields after the header of a response with code `code`.
    fn decode(code: ResponseCode, r: &mut Reader<'a>) -> Result<Self> {
        Ok(match code {
            ResponseCode::Version => {
                let n = r.u8()?;
                ResponseBody::Version(VersionList::new(r.bytes(usize::from(n))?)?)
            }
            ResponseCode::Capabilities => {
                let dsm_caps = r.u32()?;
                let req_msgs_supported = r.array::<16>()?;
                let lock_interface_flags_supported = r.u16()?;
                r.skip(3)?;
                ResponseBody::Capabilities(DsmCapabilities {
                    dsm_caps,
                    req_msgs_supported,
                    lock_interface_flags_supported,
                    dev_addr_width: r.u8()?,
                    num_req_this: r.u8()?,
                    num_req_all: r.u8()?,
                })
            }
            ResponseCode::LockInterface => ResponseBody::LockInterface { nonce: nonce(r)? },
            ResponseCode::DeviceInterfaceReport => {
                let portion_len = r.u16()?;
                let remainder_length = r.u16()?;
                let portion = r.bytes(usize::from(portion_len))?;
                ResponseBody::DeviceInterfaceReport {
                    portion,
                    remainder_length,
                }
            }
            ResponseCode::DeviceInterfaceState => {
                ResponseBody::DeviceInterfaceState(TdiState::from_u8(r.u8()?)?)
            }
            ResponseCode::StartInterface => ResponseBody::StartInterface,
            ResponseCode::StopInterface => ResponseBody::StopInterface,
            ResponseCode::BindP2pStream => ResponseBody::BindP2pStream,
            ResponseCode::UnbindP2pStream => ResponseBody::UnbindP2pStream,
            ResponseCode::SetMmioAttribute => ResponseBody::SetMmioAttribute,
            ResponseCode::Vdm => ResponseBody::Vdm(VendorData::parse(r.rest())?),
            ResponseCode::Error => {
                let code = ErrorCode::from_u32(r.u32()?)?;
                let error_data = r.u32()?;
                let extended = if code == ErrorCode::VendorSpecificError {
                    let ext = r.rest();
                    if u32::try_from(ext.len()).ok() != Some(error_data) {
                        return Err(Error::LengthMismatch {
                            field: "tdisp.error_data",
                            declared: error_data as usize,
                            actual: ext.len(),
                        });
                    }
                    Some(VendorData::parse(ext)?)
                } else {
                    None
                };
                ResponseBody::Error(TdispError {
                    code,
                    error_data,
                    extended,
                })
            }
        })
    }

    /// Encodes the fields after the header.
    fn encode(&self, w: &mut Writer<'_>) -> Result<()> {
        match self {
            ResponseBody::Version(v) => {
                w.u8(len_field("tdisp.version_num_count", v.entries().len())?)?;
                w.bytes(v.entries())
            }
            ResponseBody::Capabilities(c) => {
                w.u32(c.dsm_caps)?;
                w.bytes(&c.req_msgs_supported)?;
                w.u16(c.lock_interface_flags_supported)?;
                w.zeros(3)?;
                w.u8(c.dev_addr_width)?;
                w.u8(c.num_req_this)?;
                w.u8(c.num_req_all)
            }
            ResponseBody::LockInterface { nonce } => w.bytes(*nonce),
            ResponseBody::DeviceInterfaceReport {
                portion,
                remainder_length,
            } => {
                w.u16(len_field("tdisp.portion_length", portion.len())?)?;
                w.u16(*remainder_length)?;
                w.bytes(portion)
            }
            ResponseBody::DeviceInterfaceState(s) => w.u8(*s as u8),
            ResponseBody::StartInterface
            | ResponseBody::StopInterface
            | ResponseBody::BindP2pStream
            | ResponseBody::UnbindP2pStream
            | ResponseBody::SetMmioAttribute => Ok(()),
            ResponseBody::Vdm(v) => v.write(w),
            ResponseBody::Error(e) => {
                let vendor = e.code == ErrorCode::VendorSpecificError;
                match (&e.extended, vendor) {
                    (Some(ext), true) => {
                        if ext.encoded_len() as u64 != u64::from(e.error_data) {
                            return Err(Error::LengthMismatch {
                                field: "tdisp.error_data",
                                declared: e.error_data as usize,
                                actual: ext.encoded_len(),
                            });
                        }
                    }
                    (None, false) => {}
                    _ => {
                        return Err(Error::InvalidField {
                            field: "tdisp.extended_error_data",
                            value: u64::from(e.code as u32),
                        })
                    }
                }
                w.u32(e.code as u32)?;
                w.u32(e.error_data)?;
                match &e.extended {
                    Some(ext) => ext.write(w),
                    None => Ok(()),
                }
            }
        }
    }
}
