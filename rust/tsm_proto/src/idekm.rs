// SPDX-License-Identifier: GPL-2.0

//! PCIe IDE key management (IDE-KM) messages.
