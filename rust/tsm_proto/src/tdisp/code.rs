// SPDX-License-Identifier: GPL-2.0

//! The code spaces of TDISP: request and response codes (Tables 11-3, 11-4), TDISP_ERROR
//! codes (Table 11-27) and TDI states (Table 11-17).

use super::super::codec::{Error, Result};

wire_enum! {
    /// TDISP request codes (Table 11-3 "TDISP Request Codes").
    pub enum RequestCode(u8, "tdisp.request_code") decode from_u8 {
        /// GET_TDISP_VERSION.
        GetVersion = 0x81,
        /// GET_TDISP_CAPABILITIES.
        GetCapabilities = 0x82,
        /// LOCK_INTERFACE_REQUEST.
        LockInterface = 0x83,
        /// GET_DEVICE_INTERFACE_REPORT.
        GetDeviceInterfaceReport = 0x84,
        /// GET_DEVICE_INTERFACE_STATE.
        GetDeviceInterfaceState = 0x85,
        /// START_INTERFACE_REQUEST.
        StartInterface = 0x86,
        /// STOP_INTERFACE_REQUEST.
        StopInterface = 0x87,
        /// BIND_P2P_STREAM_REQUEST.
        BindP2pStream = 0x88,
        /// UNBIND_P2P_STREAM_REQUEST.
        UnbindP2pStream = 0x89,
        /// SET_MMIO_ATTRIBUTE_REQUEST.
        SetMmioAttribute = 0x8a,
        /// VDM_REQUEST.
        Vdm = 0x8b,
    }
}

impl RequestCode {
    /// The response code that answers this request on success (Table 11-4).
    pub fn expected_response(self) -> ResponseCode {
        match self {
            Self::GetVersion => ResponseCode::Version,
            Self::GetCapabilities => ResponseCode::Capabilities,
            Self::LockInterface => ResponseCode::LockInterface,
            Self::GetDeviceInterfaceReport => ResponseCode::DeviceInterfaceReport,
            Self::GetDeviceInterfaceState => ResponseCode::DeviceInterfaceState,
            Self::StartInterface => ResponseCode::StartInterface,
            Self::StopInterface => ResponseCode::StopInterface,
            Self::BindP2pStream => ResponseCode::BindP2pStream,
            Self::UnbindP2pStream => ResponseCode::UnbindP2pStream,
            Self::SetMmioAttribute => ResponseCode::SetMmioAttribute,
            Self::Vdm => ResponseCode::Vdm,
        }
    }
}

wire_enum! {
    /// TDISP response codes (Table 11-4 "TDISP Response Codes").
    pub enum ResponseCode(u8, "tdisp.response_code") decode from_u8 {
        /// TDISP_VERSION.
        Version = 0x01,
        /// TDISP_CAPABILITIES.
        Capabilities = 0x02,
        /// LOCK_INTERFACE_RESPONSE.
        LockInterface = 0x03,
        /// DEVICE_INTERFACE_REPORT.
        DeviceInterfaceReport = 0x04,
        /// DEVICE_INTERFACE_STATE.
        DeviceInterfaceState = 0x05,
        /// START_INTERFACE_RESPONSE.
        StartInterface = 0x06,
        /// STOP_INTERFACE_RESPONSE.
        StopInterface = 0x07,
        /// BIND_P2P_STREAM_RESPONSE.
        BindP2pStream = 0x08,
        /// UNBIND_P2P_STREAM_RESPONSE.
        UnbindP2pStream = 0x09,
        /// SET_MMIO_ATTRIBUTE_RESPONSE.
        SetMmioAttribute = 0x0a,
        /// VDM_RESPONSE.
        Vdm = 0x0b,
        /// TDISP_ERROR.
        Error = 0x7f,
    }
}

wire_enum! {
    /// TDISP_ERROR error codes (Table 11-27 "Error Code and Error Data").
    pub enum ErrorCode(u32, "tdisp.error_code") decode from_u32 {
        /// One or more request fields are invalid.
        InvalidRequest = 0x0001,
        /// The responder is busy; retry later.
        Busy = 0x0003,
        /// The request is not valid in the TDI's current state.
        InvalidInterfaceState = 0x0004,
        /// Unspecified error.
        Unspecified = 0x0005,
        /// The request code is not supported (ERROR_DATA holds the request code).
        UnsupportedRequest = 0x0007,
        /// The version is not supported or not the negotiated one.
        VersionMismatch = 0x0041,
        /// Vendor-defined error (ERROR_DATA holds the extended data length).
        VendorSpecificError = 0x00ff,
        /// INTERFACE_ID does not exist.
        InvalidInterface = 0x0101,
        /// START_INTERFACE_NONCE does not match.
        InvalidNonce = 0x0102,
        /// The responder could not generate a nonce.
        InsufficientEntropy = 0x0103,
        /// The device configuration is invalid or unsupported.
        InvalidDeviceConfiguration = 0x0104,
    }
}

wire_enum! {
    /// TDI states (Table 11-17 "DEVICE_INTERFACE_STATE": TDI_STATE values). The state
    /// machines over them are in the `state` module.
    pub enum TdiState(u8, "tdisp.tdi_state") decode from_u8 {
        /// `0`: the host owns the configuration; the TDI is not trusted.
        ConfigUnlocked = 0,
        /// `1`: configuration locked, awaiting START_INTERFACE_REQUEST.
        ConfigLocked = 1,
        /// `2`: running, assigned to a TVM.
        Run = 2,
        /// `3`: a security-relevant error occurred; only STOP leaves it.
        Error = 3,
    }
}

impl TdiState {
    /// Whether the TDI's configuration is locked (CONFIG_LOCKED or RUN), i.e. host
    /// changes to it are hostile.
    pub const fn is_locked(self) -> bool {
        matches!(self, Self::ConfigLocked | Self::Run)
    }

    /// The state's name in the specification (`CONFIG_UNLOCKED`, `CONFIG_LOCKED`, `RUN`,
    /// `ERROR`).
    pub const fn name(self) -> &'static str {
        match self {
            Self::ConfigUnlocked => "CONFIG_UNLOCKED",
            Self::ConfigLocked => "CONFIG_LOCKED",
            Self::Run => "RUN",
            Self::Error => "ERROR",
        }
    }
}
