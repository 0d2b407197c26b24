// SPDX-License-Identifier: GPL-2.0

//! TDISP state machines.
