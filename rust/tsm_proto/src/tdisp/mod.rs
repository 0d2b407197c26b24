// SPDX-License-Identifier: GPL-2.0

//! PCIe TDISP messages (TEE Device Interface Security Protocol).
//!
//! TDISP (PCIe Base 6.x §11.3 "TDISP Message Formats and Processing") moves a TEE device
//! interface (TDI) through CONFIG_UNLOCKED, CONFIG_LOCKED, RUN and ERROR. Its messages
//! are the payload of SPDM `VENDOR_DEFINED_REQUEST`/`VENDOR_DEFINED_RESPONSE` (StandardID
//! PCI-SIG, vendor id `0x0001`) in a secured session; the envelope belongs to the `spdm`
//! module. This module encodes and decodes the vendor-defined payload: the protocol id
//! byte ([`PROTOCOL_ID`] = `0x01`), then the 16-byte TDISP header (Table 11-5 "TDISP
//! Message Format": version, message type, 2 reserved bytes, INTERFACE_ID) and the
//! message-specific fields.
//!
//! Decoding is strict about lengths (trailing bytes are an error) and lenient about
//! reserved fields (ignored on receipt, written as zero), as §11.3.3 requires, except
//! where a reserved bit would change meaning (LOCK_INTERFACE flags, FUNCTION_ID).
//!
//! | file | what |
//! |---|---|
//! | `code` | request, response and error codes, TDI states |
//! | `interface` | FUNCTION_ID, INTERFACE_ID, the header |
//! | `params` | the structured fields the messages carry |
//! | `request`, `response` | the message bodies and their codecs |

use super::codec::{Error, Reader, Result, Writer};

/// Declares the messages `$message` of one direction, an [`Envelope`] of the body type
/// `$body` whose codes are `$code`: the alias; the body's `code()`, which gives each
/// listed variant (every variant of `$body`) the code of the same name; and the [`Body`]
/// implementation, whose decoding and encoding are the body's own `decode` and `encode`.
/// (Defined before the `mod` lines, it is in scope in `request` and `response`.)
macro_rules! body_codec {
    (
        $(#[$meta:meta])*
        $message:ident = $body:ident: $code:ident { $($variant:ident),+ $(,)? }
    ) => {
        $(#[$meta])*
        pub type $message<'a> = Envelope<$body<'a>>;

        impl $body<'_> {
            #[doc = concat!("The [`", stringify!($code), "`] of this body.")]
            pub fn code(&self) -> $code {
                match self {
                    $(Self::$variant { .. } => $code::$variant,)+
                }
            }
        }

        impl<'a> Body<'a> for $body<'a> {
            fn message_type(&self) -> u8 {
                self.code() as u8
            }

            fn decode_body(message_type: u8, r: &mut Reader<'a>) -> Result<Self> {
                $code::from_u8(message_type).and_then(|code| Self::decode(code, r))
            }

            fn encode_body(&self, w: &mut Writer<'_>) -> Result<()> {
                self.encode(w)
            }
        }
    };
}

pub mod code;
pub mod interface;
pub mod params;
pub mod request;
pub mod response;

pub use code::{ErrorCode, RequestCode, ResponseCode, TdiState};
pub use interface::{FunctionId, Header, InterfaceId};
pub use params::{
    DsmCapabilities, LockFlags, LockInterfaceParams, MmioAttributes, MmioRange, RegistryId,
    TdispError, VendorData, VersionList, MMIO_RANGE_LEN,
};
pub use request::{Request, RequestBody};
pub use response::{Response, ResponseBody};

/// PCI-SIG vendor-defined protocol id of TDISP (PCIe Base 6.x §6.31.3 "Protocol ID").
pub const PROTOCOL_ID: u8 = 0x01;

/// TDISP version 1.0 (`10h`, §11.3.3: major in bits 7:4, minor in bits 3:0).
pub const VERSION_1_0: u8 = 0x10;

/// Size of START_INTERFACE_NONCE (Table 11-11 "LOCK_INTERFACE_RESPONSE").
pub const NONCE_LEN: usize = 32;

/// Size of the TDISP header after the protocol id byte (Table 11-5).
pub const HEADER_LEN: usize = 16;

/// Either direction, as decoded from a payload of unknown direction.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Message<'a> {
    /// A request (message type `80h`-`FFh`).
    Request(Request<'a>),
    /// A response (message type `00h`-`7Fh`).
    Response(Response<'a>),
}

impl<'a> Message<'a> {
    /// Decodes a vendor-defined payload, choosing the direction from the message type.
    pub fn decode(payload: &'a [u8]) -> Result<Self> {
        let mut r = Reader::new(payload);
        let h = Header::read(&mut r)?;
        if h.message_type & 0x80 != 0 {
            Request::decode(payload).map(Self::Request)
        } else {
            Response::decode(payload).map(Self::Response)
        }
    }

    /// Encodes the payload into `w`.
    pub fn encode(&self, w: &mut Writer<'_>) -> Result<()> {
        match self {
            Self::Request(m) => m.encode(w),
            Self::Response(m) => m.encode(w),
        }
    }
}

fn nonce<'a>(r: &mut Reader<'a>) -> Result<&'a [u8; NONCE_LEN]> {
    let b = r.bytes(NONCE_LEN)?;
    <&[u8; NONCE_LEN]>::try_from(b).map_err(|_| Error::LengthMismatch {
        field: "tdisp.nonce",
        declared: NONCE_LEN,
        actual: b.len(),
    })
}

/// A TDISP message: the header's version and interface, and a request or response
/// body ([`Request`] and [`Response`] are the two kinds).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Envelope<B> {
    /// TDISPVersion of the message.
    pub version: u8,
    /// The TDI the message is about.
    pub interface_id: InterfaceId,
    /// Message-specific fields.
    pub body: B,
}

/// The body of one direction of TDISP messages: its message type and its codec.
pub trait Body<'a>: Sized {
    /// The message type (request or response code) of this body.
    fn message_type(&self) -> u8;
    /// Decodes the fields after the header of a message of type `message_type`.
    fn decode_body(message_type: u8, r: &mut Reader<'a>) -> Result<Self>;
    /// Encodes the fields after the header.
    fn encode_body(&self, w: &mut Writer<'_>) -> Result<()>;
}

impl<'a, B: Body<'a>> Envelope<B> {
    /// Decodes a payload (protocol id byte first); trailing bytes are an error.
    pub fn decode(payload: &'a [u8]) -> Result<Self> {
        let mut r = Reader::new(payload);
        let h = Header::read(&mut r)?;
        let body = B::decode_body(h.message_type, &mut r)?;
        r.finish()?;
        Ok(Self {
            version: h.version,
            interface_id: h.interface_id,
            body,
        })
    }

    /// Encodes the payload (protocol id byte first) into `w`.
    ///
    /// For TDISP_ERROR, `extended` must be present exactly for VENDOR_SPECIFIC_ERROR
    /// and ERROR_DATA must equal its encoded length; otherwise
    /// [`Error::InvalidField`] / [`Error::LengthMismatch`].
    pub fn encode(&self, w: &mut Writer<'_>) -> Result<()> {
        Header {
            version: self.version,
            message_type: self.body.message_type(),
            interface_id: self.interface_id,
        }
        .write(w)?;
        self.body.encode_body(w)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    const IF: InterfaceId = InterfaceId {
        function_id: FunctionId::new(0x0108, Some(2)),
    };

    #[test]
    fn function_id_fields() {
        let f = IF.function_id;
        assert_eq!(f.to_u32(), 0x0102_0108);
        assert_eq!(f.requester_id(), 0x0108);
        assert_eq!(f.segment(), Some(2));
        assert!(FunctionId::from_u32(0x0200_0000).is_err());
        assert_eq!(FunctionId::new(5, None).segment(), None);
    }

    #[test]
    fn lock_flags_reject_reserved() {
        assert!(LockFlags::from_bits(0x20).is_err());
        assert_eq!(LockFlags::from_bits(0x1f), Ok(LockFlags::ALL));
        assert!(LockFlags::ALL.contains(LockFlags::LOCK_MSIX));
    }

    #[test]
    fn get_state_round_trip() {
        let req = Request {
            version: VERSION_1_0,
            interface_id: IF,
            body: RequestBody::GetDeviceInterfaceState,
        };
        let mut buf = [0u8; 64];
        let mut w = Writer::new(&mut buf);
        req.encode(&mut w).unwrap();
        let n = w.finish();
        assert_eq!(n, 17);
        assert_eq!(Request::decode(&buf[..n]), Ok(req));
        assert_eq!(Message::decode(&buf[..n]), Ok(Message::Request(req)));
    }

    #[test]
    fn error_vendor_extended_length_checked() {
        let mut buf = [0u8; 64];
        let mut w = Writer::new(&mut buf);
        let ext = VendorData {
            registry_id: 0,
            vendor_id: &[0x86, 0x80],
            data: &[1, 2, 3],
        };
        let bad = Response {
            version: VERSION_1_0,
            interface_id: IF,
            body: ResponseBody::Error(TdispError {
                code: ErrorCode::VendorSpecificError,
                error_data: 6,
                extended: Some(ext),
            }),
        };
        assert!(bad.encode(&mut w).is_err());
    }
}
