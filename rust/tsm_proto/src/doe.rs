// SPDX-License-Identifier: GPL-2.0

//! PCIe DOE data objects.
