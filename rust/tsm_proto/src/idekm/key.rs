// SPDX-License-Identifier: GPL-2.0

//! What IDE-KM addresses and carries about keys: the key selector (key set, direction,
//! sub-stream), the stream/port a key belongs to, the key material of KEY_PROG and the
//! KP_ACK status (PCIe Base 6.x §6.33.3).

use core::fmt;

use super::super::codec::{Error, Result};
use super::{IFV_LEN, KEY_LEN};

/// Key set selector, bit 0 of the KEY_PROG "Key Set / RxTx / Sub-stream" byte.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum KeySet {
    /// Key set 0.
    K0,
    /// Key set 1.
    K1,
}

/// Direction of the key, bit 1 of the KEY_PROG "Key Set / RxTx / Sub-stream" byte.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Direction {
    /// Receive keys.
    Rx,
    /// Transmit keys.
    Tx,
}

/// IDE sub-stream, bits 7:4 of the KEY_PROG "Key Set / RxTx / Sub-stream" byte
/// (§6.33.4 "IDE TLP Sub-streams").
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum SubStream {
    /// Posted requests (`0000b`).
    Posted,
    /// Non-posted requests (`0001b`).
    NonPosted,
    /// Completions (`0010b`).
    Completion,
}

/// The key selector byte carried by KEY_PROG, KP_ACK, K_SET_GO, K_SET_STOP and
/// K_GOSTOP_ACK: key set (bit 0), direction (bit 1), bits 3:2 reserved, sub-stream
/// (bits 7:4).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct KeySelector {
    /// K0 or K1.
    pub key_set: KeySet,
    /// RX or TX.
    pub direction: Direction,
    /// PR, NPR or CPL.
    pub sub_stream: SubStream,
}

impl KeySelector {
    /// Decodes the selector byte; reserved bits 3:2 are ignored, an undefined
    /// sub-stream value is an [`Error::InvalidField`].
    pub fn from_u8(v: u8) -> Result<Self> {
        let key_set = if v & 0x01 != 0 {
            KeySet::K1
        } else {
            KeySet::K0
        };
        let direction = if v & 0x02 != 0 {
            Direction::Tx
        } else {
            Direction::Rx
        };
        let sub_stream = match v >> 4 {
            0 => SubStream::Posted,
            1 => SubStream::NonPosted,
            2 => SubStream::Completion,
            other => {
                return Err(Error::InvalidField {
                    field: "idekm.sub_stream",
                    value: u64::from(other),
                })
            }
        };
        Ok(Self {
            key_set,
            direction,
            sub_stream,
        })
    }

    /// Encodes the selector byte (reserved bits written as zero).
    pub fn to_u8(self) -> u8 {
        let ks = match self.key_set {
            KeySet::K0 => 0,
            KeySet::K1 => 0x01,
        };
        let dir = match self.direction {
            Direction::Rx => 0,
            Direction::Tx => 0x02,
        };
        let ss = match self.sub_stream {
            SubStream::Posted => 0x00,
            SubStream::NonPosted => 0x10,
            SubStream::Completion => 0x20,
        };
        ks | dir | ss
    }
}

/// Addressing common to KEY_PROG, K_SET_GO, K_SET_STOP and K_GOSTOP_ACK: which stream,
/// which key and which port of the device.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct StreamKey {
    /// Stream ID the key belongs to.
    pub stream_id: u8,
    /// Key set, direction and sub-stream.
    pub selector: KeySelector,
    /// Port index (0 = the function's own port, §6.33.3).
    pub port_index: u8,
}

/// The 32-byte key and 8-byte IFV carried by KEY_PROG, borrowed from the message.
///
/// `Debug` never prints the bytes.
#[derive(Clone, Copy, PartialEq, Eq)]
pub struct KeyMaterial<'a> {
    /// Key dwords exactly as on the wire (§6.33.3 KEY_PROG "KEY" field).
    pub key: &'a [u8; KEY_LEN],
    /// Initial invocation field of the IV as on the wire ("IFV" field).
    pub ifv: &'a [u8; IFV_LEN],
}

impl fmt::Debug for KeyMaterial<'_> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("KeyMaterial { <redacted> }")
    }
}

/// KEY_PROG (§6.33.3, "KEY_PROG" table): programs one sub-stream key.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct KeyProg<'a> {
    /// Target stream, key slot and port.
    pub target: StreamKey,
    /// The key and IFV.
    pub material: KeyMaterial<'a>,
}

wire_enum! {
    /// KP_ACK status codes (§6.33.3, "KP_ACK" table, Status field).
    pub enum KpAckStatus(u8, "idekm.kp_ack_status") decode from_u8 {
        /// Key programmed.
        Success = 0x00,
        /// The KEY_PROG had an incorrect length.
        IncorrectLength = 0x01,
        /// The port index is not supported.
        UnsupportedPortIndex = 0x02,
        /// A field held an unsupported value.
        UnsupportedValue = 0x03,
        /// Unspecified failure.
        UnspecifiedFailure = 0x04,
    }
}

/// KP_ACK (§6.33.3, "KP_ACK" table).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct KpAck {
    /// Stream, key slot and port the acknowledgement is for.
    pub target: StreamKey,
    /// Outcome of the KEY_PROG.
    pub status: KpAckStatus,
}
