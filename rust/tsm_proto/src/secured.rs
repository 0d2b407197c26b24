// SPDX-License-Identifier: GPL-2.0

//! SPDM secured messages over the PCIe CMA binding.
