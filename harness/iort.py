#!/usr/bin/env python3
# SPDX-License-Identifier: GPL-2.0
"""Patch an ACPI IORT so the PCI root complex claims CANWBS.

QEMU's virt machine builds an IORT whose root-complex node has memory access flags
CPM|DACS (0x3) but not CANWBS (bit 2). Linux's SMMUv3 driver offers an iommufd vIOMMU
only for devices that can write-back cache coherently (CANWBS), so without this no
vIOMMU/vdevice can exist under QEMU. The harness reads the IORT from the QEMU it runs
(a probe boot), sets CANWBS on every root-complex node, bumps the OEM revision (the
kernel's initrd table upgrade replaces a table only by a newer revision) and fixes the
checksum. This is the one emulated platform fact; see README.md.

Layouts: ACPI header (ACPI 6.x §5.2.6) is 36 bytes, OEM revision at 24, checksum at 9.
IORT (Arm DEN 0049): node count at 36, node array offset at 40; node header: type u8,
length u16; root complex node type 2, memory access flags u8 at node offset 23.
"""
import struct
import sys

IORT_NODE_ROOT_COMPLEX = 2
ROOT_COMPLEX_MEM_FLAGS = 23
CANWBS = 0x4


class IortError(Exception):
    """The input is not an IORT this patcher understands."""


def checksum(table: bytes) -> int:
    return sum(table) & 0xFF


def patch(table: bytes) -> bytes:
    """Returns the patched table; raises IortError on anything unexpected."""
    if len(table) < 48 or table[:4] != b"IORT":
        raise IortError("not an IORT")
    (length,) = struct.unpack_from("<I", table, 4)
    if length != len(table):
        raise IortError(f"header length {length} != {len(table)} bytes")
    if checksum(table) != 0:
        raise IortError("bad checksum on input")
    out = bytearray(table)
    count, offset = struct.unpack_from("<II", out, 36)
    patched = 0
    for _ in range(count):
        if offset + 4 > length:
            raise IortError("node array runs past the table")
        ntype = out[offset]
        (nlen,) = struct.unpack_from("<H", out, offset + 1)
        if nlen < 4 or offset + nlen > length:
            raise IortError(f"bad node length {nlen} at {offset}")
        if ntype == IORT_NODE_ROOT_COMPLEX:
            if nlen <= ROOT_COMPLEX_MEM_FLAGS:
                raise IortError("root complex node too short")
            out[offset + ROOT_COMPLEX_MEM_FLAGS] |= CANWBS
            patched += 1
        offset += nlen
    if patched == 0:
        raise IortError("no root complex node")
    (oem_rev,) = struct.unpack_from("<I", out, 24)
    struct.pack_into("<I", out, 24, (oem_rev + 1) & 0xFFFFFFFF)
    out[9] = 0
    out[9] = (-checksum(out)) & 0xFF
    return bytes(out)


def root_complex_flags(table: bytes) -> list:
    """Memory access flags of every root-complex node (for checks and tests)."""
    count, offset = struct.unpack_from("<II", table, 36)
    flags = []
    for _ in range(count):
        (nlen,) = struct.unpack_from("<H", table, offset + 1)
        if table[offset] == IORT_NODE_ROOT_COMPLEX:
            flags.append(table[offset + ROOT_COMPLEX_MEM_FLAGS])
        offset += nlen
    return flags


def main() -> int:
    if len(sys.argv) != 3:
        print("usage: iort.py IORT.orig IORT.aml", file=sys.stderr)
        return 2
    with open(sys.argv[1], "rb") as f:
        table = f.read()
    try:
        new = patch(table)
    except IortError as e:
        print(f"iort.py: {e}", file=sys.stderr)
        return 1
    with open(sys.argv[2], "wb") as f:
        f.write(new)
    return 0


if __name__ == "__main__":
    sys.exit(main())
