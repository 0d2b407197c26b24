// SPDX-License-Identifier: GPL-2.0

//! The constants of `include/uapi/linux/tsm_fw.h`: limits, message types, capability,
//! BAR and lock flags, guest operations, firmware error codes, TDI state codes and the
//! size of every structure (a test of tools/tsm parses the header and compares them).

use super::super::codec::{Error, Result};
use super::super::tdisp::TdiState;

/// `TSM_FW_MAGIC`: "TSFW" in a little-endian `u32`.
pub const MAGIC: u32 = 0x5746_5354;
/// `TSM_FW_VERSION_1`, the only protocol version so far.
pub const VERSION_1: u16 = 1;
/// `TSM_FW_MAX_PAYLOAD`: largest payload of a DOE_REQUEST, DOE_RESPONSE or COMPLETE.
pub const MAX_PAYLOAD: usize = 0x1_0000;
/// `TSM_FW_MAX_MSG_SIZE`: largest message, header included.
pub const MAX_MSG_SIZE: usize = 0x1_0100;
/// `TSM_FW_MAX_BARS`: BAR slots in `struct tsm_fw_bind`.
pub const MAX_BARS: usize = 6;
/// `TSM_FW_DOE_VENDOR_PCI_SIG`: the DOE vendor ID of every DOE_REQUEST.
pub const DOE_VENDOR_PCI_SIG: u16 = 0x0001;
/// `TSM_FW_DOE_TYPE_CMA`: DOE object type of CMA/SPDM.
pub const DOE_TYPE_CMA: u8 = 1;
/// `TSM_FW_DOE_TYPE_SECURED_CMA`: DOE object type of Secured CMA/SPDM.
pub const DOE_TYPE_SECURED_CMA: u8 = 2;

/// `TSM_FW_CAP_IDE` of `tsm_fw_hello.caps`: the firmware keys IDE streams at CONNECT.
pub const CAP_IDE: u32 = 1 << 0;
/// `TSM_FW_CAP_TDISP` of `tsm_fw_hello.caps`: BIND, UNBIND and GUEST_REQ.
pub const CAP_TDISP: u32 = 1 << 1;

/// `TSM_FW_BAR_64BIT` of `tsm_fw_bar.flags`.
pub const BAR_64BIT: u8 = 1 << 0;
/// `TSM_FW_BAR_PREFETCH` of `tsm_fw_bar.flags`.
pub const BAR_PREFETCH: u8 = 1 << 1;

/// `TSM_FW_LOCK_NO_FW_UPDATE` of `tsm_fw_bind.lock_flags` (the TDISP
/// LOCK_INTERFACE_REQUEST flags, `tdisp::LockFlags`).
pub const LOCK_NO_FW_UPDATE: u16 = 1 << 0;
/// `TSM_FW_LOCK_CACHE_LINE_128`.
pub const LOCK_CACHE_LINE_128: u16 = 1 << 1;
/// `TSM_FW_LOCK_MSIX`: the MSI-X table and PBA become locked configuration of the TDI.
pub const LOCK_MSIX: u16 = 1 << 2;
/// `TSM_FW_LOCK_BIND_P2P`.
pub const LOCK_BIND_P2P: u16 = 1 << 3;
/// `TSM_FW_LOCK_ALL_REQUEST_REDIRECT`.
pub const LOCK_ALL_REQUEST_REDIRECT: u16 = 1 << 4;

/// `TSM_FW_TDI_NONE` of `tsm_fw_complete.tdi_state`: not a TDI command. The other
/// `TSM_FW_TDI_*` codes are the TDISP TDI_STATE values.
pub const TDI_NONE: u32 = 0xff;

/// The `tsm_fw_complete.tdi_state` code of a TDI state, or `TSM_FW_TDI_NONE`.
pub const fn tdi_state_code(state: Option<TdiState>) -> u32 {
    match state {
        Some(s) => s as u32,
        None => TDI_NONE,
    }
}

wire_enum! {
    /// `enum tsm_fw_msg_type`, `tsm_fw_hdr.type`: `TSM_FW_MSG_*` are written by the
    /// firmware, `TSM_FW_CMD_*` by the kernel.
    pub enum MsgType(u16, "tsm_fw.hdr.type") decode from_u16 encode to_u16 {
        /// `TSM_FW_MSG_HELLO`: the firmware's first message, `struct tsm_fw_hello`.
        Hello = 0x0001,
        /// `TSM_FW_MSG_DOE_REQUEST`: do one DOE exchange, `struct tsm_fw_doe_request`.
        DoeRequest = 0x0002,
        /// `TSM_FW_MSG_COMPLETE`: a command ended, `struct tsm_fw_complete`.
        Complete = 0x0003,
        /// `TSM_FW_CMD_HELLO_ACK`: the answer to HELLO, `struct tsm_fw_hello_ack`.
        HelloAck = 0x0101,
        /// `TSM_FW_CMD_CONNECT`: `struct tsm_fw_connect`.
        Connect = 0x0102,
        /// `TSM_FW_CMD_DISCONNECT`: `struct tsm_fw_disconnect`.
        Disconnect = 0x0103,
        /// `TSM_FW_CMD_BIND`: `struct tsm_fw_bind`.
        Bind = 0x0104,
        /// `TSM_FW_CMD_UNBIND`: `struct tsm_fw_unbind`.
        Unbind = 0x0105,
        /// `TSM_FW_CMD_GUEST_REQ`: `struct tsm_fw_guest_req`.
        GuestReq = 0x0106,
        /// `TSM_FW_CMD_DOE_RESPONSE`: the answer to a DOE_REQUEST,
        /// `struct tsm_fw_doe_response`.
        DoeResponse = 0x0107,
    }
}

impl MsgType {
    /// Whether the kernel writes this type (`TSM_FW_CMD_*`), not the firmware.
    pub const fn is_command(self) -> bool {
        self.to_u16() >= 0x0100
    }
}

wire_enum! {
    /// `enum tsm_fw_guest_op`, `tsm_fw_guest_req.op`. GUEST_REQ carries the op as a
    /// raw `u32` (the firmware refuses an unknown one with `TSM_FW_ERR_BAD_COMMAND`);
    /// this is its meaning.
    pub enum GuestOp(u32, "tsm_fw.guest_op") decode from_u32 encode to_u32 {
        /// `TSM_FW_GUEST_GET_REPORT`: fetch and validate the device interface report;
        /// COMPLETE's payload is the report.
        GetReport = 1,
        /// `TSM_FW_GUEST_START`: START_INTERFACE_REQUEST (CONFIG_LOCKED -> RUN).
        Start = 2,
        /// `TSM_FW_GUEST_GET_STATE`: GET_DEVICE_INTERFACE_STATE; COMPLETE's payload is
        /// one byte, the TDI state, and `tdi_state` holds it.
        GetState = 3,
    }
}

/// `enum tsm_fw_error`, `tsm_fw_complete.fw_error`: why a command failed. COMPLETE
/// carries it as a raw `u32`, so these are plain values.
pub mod err {
    /// `TSM_FW_ERR_NONE`: success.
    pub const NONE: u32 = 0;
    /// `TSM_FW_ERR_TRANSPORT`: a DOE exchange failed.
    pub const TRANSPORT: u32 = 1;
    /// `TSM_FW_ERR_TIMEOUT`: a DOE exchange timed out.
    pub const TIMEOUT: u32 = 2;
    /// `TSM_FW_ERR_MALFORMED`: a device message did not parse.
    pub const MALFORMED: u32 = 3;
    /// `TSM_FW_ERR_OVERSIZED`: a device message exceeded the negotiated size.
    pub const OVERSIZED: u32 = 4;
    /// `TSM_FW_ERR_SPDM_ERROR`: the device answered with an SPDM ERROR.
    pub const SPDM_ERROR: u32 = 5;
    /// `TSM_FW_ERR_PROTOCOL`: the device broke the protocol sequence.
    pub const PROTOCOL: u32 = 6;
    /// `TSM_FW_ERR_NEGOTIATION`: no common version, algorithm or capability.
    pub const NEGOTIATION: u32 = 7;
    /// `TSM_FW_ERR_CERT`: the certificate chain was not trusted.
    pub const CERT: u32 = 8;
    /// `TSM_FW_ERR_CRYPTO`: a signature, MAC or AEAD tag did not verify.
    pub const CRYPTO: u32 = 9;
    /// `TSM_FW_ERR_IDE_KM`: IDE key programming failed.
    pub const IDE_KM: u32 = 10;
    /// `TSM_FW_ERR_TDISP_ERROR`: the device answered with TDISP_ERROR.
    pub const TDISP_ERROR: u32 = 11;
    /// `TSM_FW_ERR_REPORT`: the interface report did not validate.
    pub const REPORT: u32 = 12;
    /// `TSM_FW_ERR_STATE`: the command is not valid now.
    pub const STATE: u32 = 13;
    /// `TSM_FW_ERR_BUSY`: another command is in progress.
    pub const BUSY: u32 = 14;
    /// `TSM_FW_ERR_BAD_COMMAND`: the command message was malformed.
    pub const BAD_COMMAND: u32 = 15;
}

/// Sizes of the header's structures, in bytes (payloads not included).
pub mod size {
    /// `struct tsm_fw_hdr`.
    pub const HDR: usize = 24;
    /// `struct tsm_fw_dev`.
    pub const DEV: usize = 4;
    /// `struct tsm_fw_hello`.
    pub const HELLO: usize = 16;
    /// `struct tsm_fw_hello_ack`.
    pub const HELLO_ACK: usize = 8;
    /// `struct tsm_fw_connect`.
    pub const CONNECT: usize = 8;
    /// `struct tsm_fw_disconnect`.
    pub const DISCONNECT: usize = 8;
    /// `struct tsm_fw_bar`.
    pub const BAR: usize = 24;
    /// `struct tsm_fw_msix`.
    pub const MSIX: usize = 16;
    /// `struct tsm_fw_bind`.
    pub const BIND: usize = 184;
    /// `struct tsm_fw_unbind`.
    pub const UNBIND: usize = 8;
    /// `struct tsm_fw_guest_req`.
    pub const GUEST_REQ: usize = 16;
    /// `struct tsm_fw_doe_request`.
    pub const DOE_REQUEST: usize = 24;
    /// `struct tsm_fw_doe_response`.
    pub const DOE_RESPONSE: usize = 16;
    /// `struct tsm_fw_complete`.
    pub const COMPLETE: usize = 16;
}
