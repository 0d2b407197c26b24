// SPDX-License-Identifier: GPL-2.0

//! DMTF SPDM 1.2/1.3 messages.
