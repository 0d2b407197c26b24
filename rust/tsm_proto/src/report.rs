// SPDX-License-Identifier: GPL-2.0

//! TDISP device interface report parsing and validation.
