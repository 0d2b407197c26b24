// SPDX-License-Identifier: GPL-2.0

//! QUERY and QUERY_RESP (PCIe Base 6.x §6.33.3): the TSM asks a port for its identity
//! and IDE registers.

use super::IdeRegs;

/// QUERY (§6.33.3, "QUERY" table): asks for the IDE register blocks of one port.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Query {
    /// Port index being queried.
    pub port_index: u8,
}

/// QUERY_RESP (§6.33.3, "QUERY_RESP" table): the port's identity and IDE registers.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct QueryResp<'a> {
    /// Port index the response describes.
    pub port_index: u8,
    /// Device/function number of the port's function.
    pub dev_func: u8,
    /// Bus number of the port's function.
    pub bus: u8,
    /// Segment of the port's function.
    pub segment: u8,
    /// Highest port index the device supports.
    pub max_port_index: u8,
    /// The IDE extended capability registers.
    pub regs: IdeRegs<'a>,
}
