// SPDX-License-Identifier: GPL-2.0

//! DMTF SPDM 1.2/1.3 messages (DSP0274 1.2.x and 1.3.x).
//!
//! Every SPDM message starts with the four-byte header of DSP0274 1.3.0 §9 "Generic SPDM
//! message format": `SPDMVersion`, `RequestResponseCode`, `Param1`, `Param2`. The rest of
//! the layout depends on the code, the negotiated version and, for some messages, sizes
//! fixed by the negotiated algorithms. Those sizes are handed to every decoder and encoder
//! in a [`Negotiated`] value; a field whose length disagrees with it is a typed error.
//!
//! - [`Request`] and [`Response`] are the two message enums, each with `decode`,
//!   `decode_padded` (accepts the up to three zero bytes of PCIe DOE padding) and `encode`.
//! - [`vendor`] is the VENDOR_DEFINED envelope that carries IDE-KM and TDISP.
//! - [`transcript`] says which message bytes feed the TH1/TH2 transcript hashes;
//!   [`auth_transcript`] keeps VCA, B and L for the CHALLENGE_AUTH and MEASUREMENTS
//!   signatures.
//! - [`algo`] holds the algorithm bit values and their sizes.
//!
//! Decoded messages borrow every variable-length field from the input buffer. Reserved
//! fields are ignored on decode and written as zero on encode, so `decode(encode(m)) == m`.

use super::codec::{len_field, Error, Reader, Result, Writer};

pub mod algo;
pub mod auth;
pub mod auth_transcript;
pub mod basic;
pub mod error;
pub mod session;
pub mod transcript;
pub mod vendor;

pub use algo::{AlgStruct, AlgStructs, AlgType, Algorithms, NegotiateAlgorithms};
pub use auth::{
    CertificateResponse, Challenge, ChallengeAuth, Digests, GetCertificate, GetMeasurements,
    MeasurementBlock, MeasurementRecord, Measurements,
};
pub use basic::{Capabilities, CapabilityFlags, GetCapabilities, VersionNumber, VersionResponse};
pub use error::{ErrorCode, ErrorResponse, ExtendedError, RespondIfReady};
pub use session::{
    EndSession, Finish, FinishRsp, KeyExchange, KeyExchangeRsp, KeyUpdate, KeyUpdateOp,
    PskExchange, PskExchangeRsp, PskFinish,
};
pub use vendor::VendorDefined;

/// Size of the generic SPDM message header.
pub const HEADER_LEN: usize = 4;
/// Size of nonces and of the random data in KEY_EXCHANGE (DSP0274 1.3.0 §10).
pub const NONCE_LEN: usize = 32;
/// Size of the RequesterContext added to CHALLENGE/GET_MEASUREMENTS in 1.3.
pub const REQUESTER_CONTEXT_LEN: usize = 8;

/// Version byte of GET_VERSION and VERSION, which always use 1.0 (DSP0274 1.3.0 §10.3).
pub const VERSION_10: u8 = 0x10;
/// SPDM 1.1 version byte (not spoken here, listed for VERSION entries).
pub const VERSION_11: u8 = 0x11;
/// SPDM 1.2 version byte.
pub const VERSION_12: u8 = 0x12;
/// SPDM 1.3 version byte.
pub const VERSION_13: u8 = 0x13;

/// Request codes (DSP0274 1.3.0 §10 Table "SPDM request codes").
pub mod code {
    /// GET_DIGESTS.
    pub const GET_DIGESTS: u8 = 0x81;
    /// GET_CERTIFICATE.
    pub const GET_CERTIFICATE: u8 = 0x82;
    /// CHALLENGE.
    pub const CHALLENGE: u8 = 0x83;
    /// GET_VERSION.
    pub const GET_VERSION: u8 = 0x84;
    /// GET_MEASUREMENTS.
    pub const GET_MEASUREMENTS: u8 = 0xe0;
    /// GET_CAPABILITIES.
    pub const GET_CAPABILITIES: u8 = 0xe1;
    /// NEGOTIATE_ALGORITHMS.
    pub const NEGOTIATE_ALGORITHMS: u8 = 0xe3;
    /// KEY_EXCHANGE.
    pub const KEY_EXCHANGE: u8 = 0xe4;
    /// FINISH.
    pub const FINISH: u8 = 0xe5;
    /// PSK_EXCHANGE.
    pub const PSK_EXCHANGE: u8 = 0xe6;
    /// PSK_FINISH.
    pub const PSK_FINISH: u8 = 0xe7;
    /// HEARTBEAT.
    pub const HEARTBEAT: u8 = 0xe8;
    /// KEY_UPDATE.
    pub const KEY_UPDATE: u8 = 0xe9;
    /// END_SESSION.
    pub const END_SESSION: u8 = 0xec;
    /// VENDOR_DEFINED_REQUEST.
    pub const VENDOR_DEFINED_REQUEST: u8 = 0xfe;
    /// RESPOND_IF_READY.
    pub const RESPOND_IF_READY: u8 = 0xff;

    /// DIGESTS.
    pub const DIGESTS: u8 = 0x01;
    /// CERTIFICATE.
    pub const CERTIFICATE: u8 = 0x02;
    /// CHALLENGE_AUTH.
    pub const CHALLENGE_AUTH: u8 = 0x03;
    /// VERSION.
    pub const VERSION: u8 = 0x04;
    /// MEASUREMENTS.
    pub const MEASUREMENTS: u8 = 0x60;
    /// CAPABILITIES.
    pub const CAPABILITIES: u8 = 0x61;
    /// ALGORITHMS.
    pub const ALGORITHMS: u8 = 0x63;
    /// KEY_EXCHANGE_RSP.
    pub const KEY_EXCHANGE_RSP: u8 = 0x64;
    /// FINISH_RSP.
    pub const FINISH_RSP: u8 = 0x65;
    /// PSK_EXCHANGE_RSP.
    pub const PSK_EXCHANGE_RSP: u8 = 0x66;
    /// PSK_FINISH_RSP.
    pub const PSK_FINISH_RSP: u8 = 0x67;
    /// HEARTBEAT_ACK.
    pub const HEARTBEAT_ACK: u8 = 0x68;
    /// KEY_UPDATE_ACK.
    pub const KEY_UPDATE_ACK: u8 = 0x69;
    /// END_SESSION_ACK.
    pub const END_SESSION_ACK: u8 = 0x6c;
    /// VENDOR_DEFINED_RESPONSE.
    pub const VENDOR_DEFINED_RESPONSE: u8 = 0x7e;
    /// ERROR.
    pub const ERROR: u8 = 0x7f;
}

/// A negotiated SPDM version this crate speaks (DSP0274 1.3.0 §10.3).
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord)]
pub enum Version {
    /// SPDM 1.2 (`0x12`).
    V12,
    /// SPDM 1.3 (`0x13`).
    V13,
}

impl Version {
    /// The `SPDMVersion` byte.
    pub const fn byte(self) -> u8 {
        match self {
            Version::V12 => VERSION_12,
            Version::V13 => VERSION_13,
        }
    }

    /// Parses a `SPDMVersion` byte; only 1.2 and 1.3 are accepted.
    pub const fn from_byte(b: u8) -> Result<Self> {
        match b {
            VERSION_12 => Ok(Version::V12),
            VERSION_13 => Ok(Version::V13),
            version => Err(Error::UnsupportedVersion { version }),
        }
    }

    /// The version label used by the key schedule: `"spdm1.2 "` or `"spdm1.3 "`
    /// (DSP0274 1.3.0 §12.1 "BinConcat").
    pub const fn label(self) -> &'static [u8; 8] {
        match self {
            Version::V12 => b"spdm1.2 ",
            Version::V13 => b"spdm1.3 ",
        }
    }
}

/// Sizes and choices fixed by the negotiation that message layouts depend on.
///
/// Fill it from VERSION, CAPABILITIES and ALGORITHMS (see
/// [`Negotiated::from_algorithms`]) and, for the per-request choices, from the request
/// the response answers.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Negotiated {
    /// Negotiated version; every message other than GET_VERSION/VERSION must carry it.
    pub version: Version,
    /// `H`: digest size of BaseHashSel (DSP0274 1.3.0 §10.4 ALGORITHMS).
    pub hash_size: usize,
    /// `S`: signature size of BaseAsymSel.
    pub signature_size: usize,
    /// Signature size of ReqBaseAsymAlg (mutual authentication, FINISH).
    pub req_signature_size: usize,
    /// `D`: exchange data size of the DHE group.
    pub dhe_size: usize,
    /// Whether the request this response answers asked for a measurement summary hash
    /// (CHALLENGE Param2 / KEY_EXCHANGE and PSK_EXCHANGE Param1 not zero).
    pub measurement_summary_hash: bool,
    /// Both endpoints set HANDSHAKE_IN_THE_CLEAR_CAP: KEY_EXCHANGE_RSP has no
    /// ResponderVerifyData and FINISH_RSP carries it.
    pub handshake_in_the_clear: bool,
    /// SPDM 1.3 multi-key connection (MULTI_KEY_CONN selected): DIGESTS carries
    /// KeyPairID, CertificateInfo and KeyUsageMask per slot.
    pub multi_key_conn: bool,
}

impl Negotiated {
    /// Parameters for the connection phase, before ALGORITHMS fixed any sizes.
    pub const fn initial(version: Version) -> Self {
        Self {
            version,
            hash_size: 0,
            signature_size: 0,
            req_signature_size: 0,
            dhe_size: 0,
            measurement_summary_hash: false,
            handshake_in_the_clear: false,
            multi_key_conn: false,
        }
    }

    /// Derives the algorithm sizes from an ALGORITHMS response and both endpoints'
    /// capability flags. Fails if a selection is not exactly one known algorithm.
    pub fn from_algorithms(
        version: Version,
        alg: &Algorithms<'_>,
        requester: CapabilityFlags,
        responder: CapabilityFlags,
    ) -> Result<Self> {
        let hash_size = algo::hash_size(alg.base_hash_sel).ok_or(Error::InvalidField {
            field: "spdm.base_hash_sel",
            value: u64::from(alg.base_hash_sel),
        })?;
        let signature_size = if alg.base_asym_sel == 0 {
            0
        } else {
            algo::signature_size(alg.base_asym_sel).ok_or(Error::InvalidField {
                field: "spdm.base_asym_sel",
                value: u64::from(alg.base_asym_sel),
            })?
        };
        let mut dhe_size = 0;
        let mut req_signature_size = 0;
        for s in alg.alg_structs.iter() {
            let s = s?;
            match s.alg_type {
                AlgType::Dhe if s.supported != 0 => {
                    dhe_size = algo::dhe_size(s.supported).ok_or(Error::InvalidField {
                        field: "spdm.dhe_sel",
                        value: u64::from(s.supported),
                    })?;
                }
                AlgType::ReqBaseAsymAlg if s.supported != 0 => {
                    req_signature_size = algo::signature_size(u32::from(s.supported)).ok_or(
                        Error::InvalidField {
                            field: "spdm.req_base_asym_sel",
                            value: u64::from(s.supported),
                        },
                    )?;
                }
                _ => {}
            }
        }
        let clear = CapabilityFlags::HANDSHAKE_IN_THE_CLEAR;
        Ok(Self {
            version,
            hash_size,
            signature_size,
            req_signature_size,
            dhe_size,
            measurement_summary_hash: false,
            handshake_in_the_clear: requester.contains(clear) && responder.contains(clear),
            multi_key_conn: false,
        })
    }

    /// Size of the measurement summary hash field: `H` if requested, else 0.
    pub const fn summary_hash_len(&self) -> usize {
        if self.measurement_summary_hash {
            self.hash_size
        } else {
            0
        }
    }
}

/// The generic four-byte message header (DSP0274 1.3.0 §9, Table "Generic SPDM message
/// field definitions").
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Header {
    /// `SPDMVersion` byte.
    pub version: u8,
    /// `RequestResponseCode`.
    pub code: u8,
    /// `Param1`.
    pub param1: u8,
    /// `Param2`.
    pub param2: u8,
}

impl Header {
    /// Reads the header.
    pub fn decode(r: &mut Reader<'_>) -> Result<Self> {
        Ok(Self {
            version: r.u8()?,
            code: r.u8()?,
            param1: r.u8()?,
            param2: r.u8()?,
        })
    }

    /// Writes the header.
    pub fn encode(&self, w: &mut Writer<'_>) -> Result<()> {
        w.u8(self.version)?;
        w.u8(self.code)?;
        w.u8(self.param1)?;
        w.u8(self.param2)
    }

    /// Peeks at the header of a message without decoding the rest.
    pub fn peek(buf: &[u8]) -> Result<Self> {
        Self::decode(&mut Reader::new(buf))
    }
}

/// Decoding context shared by the message modules.
#[derive(Debug, Clone, Copy)]
struct Ctx<'n> {
    neg: &'n Negotiated,
    pad_ok: bool,
}

impl Ctx<'_> {
    fn v13(&self) -> bool {
        self.neg.version >= Version::V13
    }
}

/// Ends a message: no bytes may remain, except up to three zero bytes of DOE padding
/// when `pad_ok`.
fn end(r: &Reader<'_>, pad_ok: bool) -> Result<()> {
    let left = r.remaining();
    if left == 0 {
        return Ok(());
    }
    if pad_ok && left < 4 {
        let mut tail = r.clone();
        if tail.rest().iter().all(|&b| b == 0) {
            return Ok(());
        }
    }
    Err(Error::TrailingBytes { count: left })
}

/// Checks the version byte of a message other than GET_VERSION/VERSION.
fn check_version(h: &Header, neg: &Negotiated) -> Result<()> {
    if h.version == neg.version.byte() {
        Ok(())
    } else {
        Err(Error::UnsupportedVersion { version: h.version })
    }
}

/// Decodes one message of a direction from `buf`: the header, its version (`1.0` for the
/// version exchange, whose code is `version_code`; the negotiated one otherwise), the
/// body by `body`, then the end of `buf` (up to three zero bytes of DOE padding allowed
/// with `cx.pad_ok`).
fn decode_message<'a, M>(
    buf: &'a [u8],
    cx: Ctx<'_>,
    version_code: u8,
    body: impl FnOnce(&Header, &mut Reader<'a>, Ctx<'_>) -> Result<M>,
) -> Result<M> {
    let mut r = Reader::new(buf);
    let h = Header::decode(&mut r)?;
    if h.code == version_code {
        if h.version != VERSION_10 {
            return Err(Error::UnsupportedVersion { version: h.version });
        }
    } else {
        check_version(&h, cx.neg)?;
    }
    let m = body(&h, &mut r, cx)?;
    end(&r, cx.pad_ok)?;
    Ok(m)
}

/// The strict and the padded decoder of the message direction `$ty` (a `$what`), whose
/// version exchange has the code `$version`.
macro_rules! decoders {
    ($ty:ident, $what:literal, $version:expr) => {
        impl<'a> $ty<'a> {
            #[doc = concat!("Decodes one ", $what, " filling `buf` exactly.")]
            pub fn decode(buf: &'a [u8], neg: &Negotiated) -> Result<Self> {
                decode_message(buf, Ctx { neg, pad_ok: false }, $version, Self::decode_body)
            }

            #[doc = concat!(
                                "Decodes one ",
                                $what,
                                " that may be followed by up to three zero bytes of DOE padding."
                            )]
            pub fn decode_padded(buf: &'a [u8], neg: &Negotiated) -> Result<Self> {
                decode_message(buf, Ctx { neg, pad_ok: true }, $version, Self::decode_body)
            }
        }
    };
}

decoders!(Request, "request", code::GET_VERSION);
decoders!(Response, "response", code::VERSION);

/// Reads a field of a length fixed by negotiation.
fn fixed<'a>(r: &mut Reader<'a>, len: usize) -> Result<&'a [u8]> {
    r.bytes(len)
}

/// Writes a field whose length is fixed by negotiation, checking it.
fn put_fixed(w: &mut Writer<'_>, field: &'static str, data: &[u8], len: usize) -> Result<()> {
    if data.len() != len {
        return Err(Error::LengthMismatch {
            field,
            declared: len,
            actual: data.len(),
        });
    }
    w.bytes(data)
}

/// Writes a MeasurementSummaryHash: `H` bytes if the request asked for one, else none.
fn put_summary_hash(w: &mut Writer<'_>, neg: &Negotiated, data: &[u8]) -> Result<()> {
    put_fixed(
        w,
        "spdm.measurement_summary_hash",
        data,
        neg.summary_hash_len(),
    )
}

/// Writes `data` after a little-endian u16 length, checking it fits.
fn put_len16(w: &mut Writer<'_>, field: &'static str, data: &[u8]) -> Result<()> {
    w.u16(len_field(field, data.len())?)?;
    w.bytes(data)
}

fn put_header(w: &mut Writer<'_>, neg: &Negotiated, code: u8, p1: u8, p2: u8) -> Result<()> {
    Header {
        version: neg.version.byte(),
        code,
        param1: p1,
        param2: p2,
    }
    .encode(w)
}

/// An SPDM request message (DSP0274 1.3.0 §10).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Request<'a> {
    /// GET_VERSION (§10.3); always version 1.0.
    GetVersion,
    /// GET_CAPABILITIES (§10.4).
    GetCapabilities(GetCapabilities),
    /// NEGOTIATE_ALGORITHMS (§10.5).
    NegotiateAlgorithms(NegotiateAlgorithms<'a>),
    /// GET_DIGESTS (§10.6); parameters reserved.
    GetDigests,
    /// GET_CERTIFICATE (§10.7).
    GetCertificate(GetCertificate),
    /// CHALLENGE (§10.8).
    Challenge(Challenge),
    /// GET_MEASUREMENTS (§10.11).
    GetMeasurements(GetMeasurements),
    /// KEY_EXCHANGE (§10.14).
    KeyExchange(KeyExchange<'a>),
    /// FINISH (§10.15).
    Finish(Finish<'a>),
    /// PSK_EXCHANGE (§10.16).
    PskExchange(PskExchange<'a>),
    /// PSK_FINISH (§10.17).
    PskFinish(PskFinish<'a>),
    /// HEARTBEAT (§10.18); parameters reserved.
    Heartbeat,
    /// KEY_UPDATE (§10.19).
    KeyUpdate(KeyUpdate),
    /// END_SESSION (§10.21).
    EndSession(EndSession),
    /// VENDOR_DEFINED_REQUEST (§10.22).
    VendorDefined(VendorDefined<'a>),
    /// RESPOND_IF_READY (§10.13.2).
    RespondIfReady(RespondIfReady),
}

impl<'a> Request<'a> {
    /// The body after the header `h`, its version checked by [`decode_message`].
    fn decode_body(h: &Header, r: &mut Reader<'a>, cx: Ctx<'_>) -> Result<Self> {
        Ok(match h.code {
            code::GET_VERSION => Request::GetVersion,
            code::GET_CAPABILITIES => {
                Request::GetCapabilities(GetCapabilities::decode_body(h, r, cx)?)
            }
            code::NEGOTIATE_ALGORITHMS => {
                Request::NegotiateAlgorithms(NegotiateAlgorithms::decode_body(h, r, cx)?)
            }
            code::GET_DIGESTS => Request::GetDigests,
            code::GET_CERTIFICATE => {
                Request::GetCertificate(GetCertificate::decode_body(h, r, cx)?)
            }
            code::CHALLENGE => Request::Challenge(Challenge::decode_body(h, r, cx)?),
            code::GET_MEASUREMENTS => {
                Request::GetMeasurements(GetMeasurements::decode_body(h, r, cx)?)
            }
            code::KEY_EXCHANGE => Request::KeyExchange(KeyExchange::decode_body(h, r, cx)?),
            code::FINISH => Request::Finish(Finish::decode_body(h, r, cx)?),
            code::PSK_EXCHANGE => Request::PskExchange(PskExchange::decode_body(h, r, cx)?),
            code::PSK_FINISH => Request::PskFinish(PskFinish::decode_body(h, r, cx)?),
            code::HEARTBEAT => Request::Heartbeat,
            code::KEY_UPDATE => Request::KeyUpdate(KeyUpdate::decode_params(h)?),
            code::END_SESSION => Request::EndSession(EndSession::decode_params(h)),
            code::VENDOR_DEFINED_REQUEST => Request::VendorDefined(VendorDefined::decode_body(r)?),
            code::RESPOND_IF_READY => Request::RespondIfReady(RespondIfReady {
                request_code: h.param1,
                token: h.param2,
            }),
            other => {
                return Err(Error::UnknownCode {
                    space: "spdm.request_code",
                    value: u64::from(other),
                })
            }
        })
    }

    /// The request code of this message.
    pub const fn code(&self) -> u8 {
        match self {
            Request::GetVersion => code::GET_VERSION,
            Request::GetCapabilities(_) => code::GET_CAPABILITIES,
            Request::NegotiateAlgorithms(_) => code::NEGOTIATE_ALGORITHMS,
            Request::GetDigests => code::GET_DIGESTS,
            Request::GetCertificate(_) => code::GET_CERTIFICATE,
            Request::Challenge(_) => code::CHALLENGE,
            Request::GetMeasurements(_) => code::GET_MEASUREMENTS,
            Request::KeyExchange(_) => code::KEY_EXCHANGE,
            Request::Finish(_) => code::FINISH,
            Request::PskExchange(_) => code::PSK_EXCHANGE,
            Request::PskFinish(_) => code::PSK_FINISH,
            Request::Heartbeat => code::HEARTBEAT,
            Request::KeyUpdate(_) => code::KEY_UPDATE,
            Request::EndSession(_) => code::END_SESSION,
            Request::VendorDefined(_) => code::VENDOR_DEFINED_REQUEST,
            Request::RespondIfReady(_) => code::RESPOND_IF_READY,
        }
    }

    /// Encodes the request with the negotiated version.
    pub fn encode(&self, w: &mut Writer<'_>, neg: &Negotiated) -> Result<()> {
        let c = self.code();
        match self {
            Request::GetVersion => Header {
                version: VERSION_10,
                code: c,
                param1: 0,
                param2: 0,
            }
            .encode(w),
            Request::GetCapabilities(m) => m.encode(w, neg),
            Request::NegotiateAlgorithms(m) => m.encode(w, neg),
            Request::GetDigests | Request::Heartbeat => put_header(w, neg, c, 0, 0),
            Request::GetCertificate(m) => m.encode(w, neg),
            Request::Challenge(m) => m.encode(w, neg),
            Request::GetMeasurements(m) => m.encode(w, neg),
            Request::KeyExchange(m) => m.encode(w, neg),
            Request::Finish(m) => m.encode(w, neg),
            Request::PskExchange(m) => m.encode(w, neg),
            Request::PskFinish(m) => m.encode(w, neg),
            Request::KeyUpdate(m) => put_header(w, neg, c, m.op.byte(), m.tag),
            Request::EndSession(m) => put_header(w, neg, c, m.attributes, 0),
            Request::VendorDefined(m) => {
                put_header(w, neg, c, 0, 0)?;
                m.encode_body(w)
            }
            Request::RespondIfReady(m) => put_header(w, neg, c, m.request_code, m.token),
        }
    }
}

/// An SPDM response message (DSP0274 1.3.0 §10).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Response<'a> {
    /// VERSION (§10.3); always version 1.0.
    Version(VersionResponse<'a>),
    /// CAPABILITIES (§10.4).
    Capabilities(Capabilities<'a>),
    /// ALGORITHMS (§10.5).
    Algorithms(Algorithms<'a>),
    /// DIGESTS (§10.6).
    Digests(Digests<'a>),
    /// CERTIFICATE (§10.7).
    Certificate(CertificateResponse<'a>),
    /// CHALLENGE_AUTH (§10.9).
    ChallengeAuth(ChallengeAuth<'a>),
    /// MEASUREMENTS (§10.11).
    Measurements(Measurements<'a>),
    /// KEY_EXCHANGE_RSP (§10.14).
    KeyExchangeRsp(KeyExchangeRsp<'a>),
    /// FINISH_RSP (§10.15).
    FinishRsp(FinishRsp<'a>),
    /// PSK_EXCHANGE_RSP (§10.16).
    PskExchangeRsp(PskExchangeRsp<'a>),
    /// PSK_FINISH_RSP (§10.17); parameters reserved.
    PskFinishRsp,
    /// HEARTBEAT_ACK (§10.18); parameters reserved.
    HeartbeatAck,
    /// KEY_UPDATE_ACK (§10.19): echoes the operation and tag.
    KeyUpdateAck(KeyUpdate),
    /// END_SESSION_ACK (§10.21); parameters reserved.
    EndSessionAck,
    /// VENDOR_DEFINED_RESPONSE (§10.22).
    VendorDefined(VendorDefined<'a>),
    /// ERROR (§10.13).
    Error(ErrorResponse<'a>),
}

impl<'a> Response<'a> {
    /// The body after the header `h`, its version checked by [`decode_message`].
    fn decode_body(h: &Header, r: &mut Reader<'a>, cx: Ctx<'_>) -> Result<Self> {
        Ok(match h.code {
            code::VERSION => Response::Version(VersionResponse::decode_body(r)?),
            code::CAPABILITIES => Response::Capabilities(Capabilities::decode_body(h, r, cx)?),
            code::ALGORITHMS => Response::Algorithms(Algorithms::decode_body(h, r, cx)?),
            code::DIGESTS => Response::Digests(Digests::decode_body(h, r, cx)?),
            code::CERTIFICATE => Response::Certificate(CertificateResponse::decode_body(h, r, cx)?),
            code::CHALLENGE_AUTH => Response::ChallengeAuth(ChallengeAuth::decode_body(h, r, cx)?),
            code::MEASUREMENTS => Response::Measurements(Measurements::decode_body(h, r, cx)?),
            code::KEY_EXCHANGE_RSP => {
                Response::KeyExchangeRsp(KeyExchangeRsp::decode_body(h, r, cx)?)
            }
            code::FINISH_RSP => Response::FinishRsp(FinishRsp::decode_body(h, r, cx)?),
            code::PSK_EXCHANGE_RSP => {
                Response::PskExchangeRsp(PskExchangeRsp::decode_body(h, r, cx)?)
            }
            code::PSK_FINISH_RSP => Response::PskFinishRsp,
            code::HEARTBEAT_ACK => Response::HeartbeatAck,
            code::KEY_UPDATE_ACK => Response::KeyUpdateAck(KeyUpdate::decode_params(h)?),
            code::END_SESSION_ACK => Response::EndSessionAck,
            code::VENDOR_DEFINED_RESPONSE => {
                Response::VendorDefined(VendorDefined::decode_body(r)?)
            }
            code::ERROR => Response::Error(ErrorResponse::decode_body(h, r)?),
            other => {
                return Err(Error::UnknownCode {
                    space: "spdm.response_code",
                    value: u64::from(other),
                })
            }
        })
    }

    /// The response code of this message.
    pub const fn code(&self) -> u8 {
        match self {
            Response::Version(_) => code::VERSION,
            Response::Capabilities(_) => code::CAPABILITIES,
            Response::Algorithms(_) => code::ALGORITHMS,
            Response::Digests(_) => code::DIGESTS,
            Response::Certificate(_) => code::CERTIFICATE,
            Response::ChallengeAuth(_) => code::CHALLENGE_AUTH,
            Response::Measurements(_) => code::MEASUREMENTS,
            Response::KeyExchangeRsp(_) => code::KEY_EXCHANGE_RSP,
            Response::FinishRsp(_) => code::FINISH_RSP,
            Response::PskExchangeRsp(_) => code::PSK_EXCHANGE_RSP,
            Response::PskFinishRsp => code::PSK_FINISH_RSP,
            Response::HeartbeatAck => code::HEARTBEAT_ACK,
            Response::KeyUpdateAck(_) => code::KEY_UPDATE_ACK,
            Response::EndSessionAck => code::END_SESSION_ACK,
            Response::VendorDefined(_) => code::VENDOR_DEFINED_RESPONSE,
            Response::Error(_) => code::ERROR,
        }
    }

    /// Encodes the response with the negotiated version (VERSION always uses 1.0).
    pub fn encode(&self, w: &mut Writer<'_>, neg: &Negotiated) -> Result<()> {
        let c = self.code();
        match self {
            Response::Version(m) => m.encode(w),
            Response::Capabilities(m) => m.encode(w, neg),
            Response::Algorithms(m) => m.encode(w, neg),
            Response::Digests(m) => m.encode(w, neg),
            Response::Certificate(m) => m.encode(w, neg),
            Response::ChallengeAuth(m) => m.encode(w, neg),
            Response::Measurements(m) => m.encode(w, neg),
            Response::KeyExchangeRsp(m) => m.encode(w, neg),
            Response::FinishRsp(m) => m.encode(w, neg),
            Response::PskExchangeRsp(m) => m.encode(w, neg),
            Response::PskFinishRsp | Response::HeartbeatAck | Response::EndSessionAck => {
                put_header(w, neg, c, 0, 0)
            }
            Response::KeyUpdateAck(m) => put_header(w, neg, c, m.op.byte(), m.tag),
            Response::VendorDefined(m) => {
                put_header(w, neg, c, 0, 0)?;
                m.encode_body(w)
            }
            Response::Error(m) => m.encode(w, neg),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn neg12() -> Negotiated {
        Negotiated::initial(Version::V12)
    }

    #[test]
    fn get_version_golden() {
        // DSP0274 1.3.0 §10.3 Table "GET_VERSION request message format".
        let b = [0x10, 0x84, 0x00, 0x00];
        assert_eq!(Request::decode(&b, &neg12()), Ok(Request::GetVersion));
        let mut out = [0u8; 4];
        Request::GetVersion
            .encode(&mut Writer::new(&mut out), &neg12())
            .unwrap();
        assert_eq!(out, b);
        assert_eq!(
            Request::decode(&[0x12, 0x84, 0, 0], &neg12()),
            Err(Error::UnsupportedVersion { version: 0x12 })
        );
    }

    #[test]
    fn wrong_version_and_unknown_code() {
        assert_eq!(
            Request::decode(&[0x13, 0xe8, 0, 0], &neg12()),
            Err(Error::UnsupportedVersion { version: 0x13 })
        );
        assert!(matches!(
            Request::decode(&[0x12, 0x01, 0, 0], &neg12()),
            Err(Error::UnknownCode { .. })
        ));
        assert!(matches!(
            Response::decode(&[0x12, 0x84, 0, 0], &neg12()),
            Err(Error::UnknownCode { .. })
        ));
    }

    #[test]
    fn padding_rules() {
        let b = [0x12, 0xe8, 0, 0, 0, 0, 0];
        assert_eq!(
            Request::decode(&b, &neg12()),
            Err(Error::TrailingBytes { count: 3 })
        );
        assert_eq!(Request::decode_padded(&b, &neg12()), Ok(Request::Heartbeat));
        let b = [0x12, 0xe8, 0, 0, 0, 1];
        assert!(Request::decode_padded(&b, &neg12()).is_err());
        let b = [0x12, 0xe8, 0, 0, 0, 0, 0, 0];
        assert!(Request::decode_padded(&b, &neg12()).is_err());
    }

    #[test]
    fn version_labels() {
        assert_eq!(Version::V12.label(), b"spdm1.2 ");
        assert_eq!(Version::V13.label(), b"spdm1.3 ");
        assert_eq!(
            Version::from_byte(0x11),
            Err(Error::UnsupportedVersion { version: 0x11 })
        );
    }
}
