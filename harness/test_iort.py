# SPDX-License-Identifier: GPL-2.0
"""Host tests of the IORT patcher on a table built here from the IORT layout."""
import struct
import unittest

import iort


def make_table(rc_flags=0x3, nodes=("its", "smmu", "rc")):
    body = b""
    count = 0
    for kind in nodes:
        if kind == "rc":
            node = bytearray(36)
            node[0] = 2
            struct.pack_into("<H", node, 1, len(node))
            node[23] = rc_flags
        else:
            node = bytearray(24)
            node[0] = 0 if kind == "its" else 4
            struct.pack_into("<H", node, 1, len(node))
        body += node
        count += 1
    hdr = bytearray(48)
    hdr[0:4] = b"IORT"
    struct.pack_into("<I", hdr, 4, 48 + len(body))
    hdr[8] = 3
    hdr[10:16] = b"BOCHS "
    struct.pack_into("<I", hdr, 24, 1)
    struct.pack_into("<II", hdr, 36, count, 48)
    t = bytearray(hdr + body)
    t[9] = (-sum(t)) & 0xFF
    return bytes(t)


class IortTest(unittest.TestCase):
    def test_sets_canwbs_bumps_revision_fixes_checksum(self):
        new = iort.patch(make_table())
        self.assertEqual(iort.root_complex_flags(new), [0x7])
        self.assertEqual(struct.unpack_from("<I", new, 24)[0], 2)
        self.assertEqual(sum(new) & 0xFF, 0)

    def test_rejects_bad_input(self):
        t = make_table()
        for bad in (b"DSDT" + t[4:], t[:-1], t[:9] + bytes([t[9] ^ 1]) + t[10:]):
            with self.assertRaises(iort.IortError):
                iort.patch(bad)
        with self.assertRaises(iort.IortError):
            iort.patch(make_table(nodes=("its",)))


if __name__ == "__main__":
    unittest.main()
