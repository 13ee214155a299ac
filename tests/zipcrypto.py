"""Write a ZipCrypto-protected zip of one deflated entry, as 1C's ZipFileWriter does by default.

The standard library reads such zips but cannot write them; this follows PKWARE's APPNOTE
§6.1 (traditional encryption) so the tests hold a protected message shaped like a base's.
"""

from __future__ import annotations

import os
import struct
import zlib
from pathlib import Path


def _step(crc: int, byte: int) -> int:
    return zlib.crc32(bytes([byte]), crc ^ 0xFFFFFFFF) ^ 0xFFFFFFFF


class _Keys:
    def __init__(self, password: bytes) -> None:
        self.k = [0x12345678, 0x23456789, 0x34567890]
        for b in password:
            self.update(b)

    def update(self, b: int) -> None:
        k0, k1, k2 = self.k
        k0 = _step(k0, b)
        k1 = ((k1 + (k0 & 0xFF)) * 134775813 + 1) & 0xFFFFFFFF
        k2 = _step(k2, k1 >> 24)
        self.k = [k0, k1, k2]

    def encrypt(self, data: bytes) -> bytes:
        out = bytearray()
        for p in data:
            t = (self.k[2] | 2) & 0xFFFF
            out.append(p ^ (((t * (t ^ 1)) >> 8) & 0xFF))
            self.update(p)
        return bytes(out)


def write_zipcrypto(path: Path, name: str, data: bytes, password: str) -> None:
    crc = zlib.crc32(data)
    comp = zlib.compressobj(6, zlib.DEFLATED, -15)
    deflated = comp.compress(data) + comp.flush()
    keys = _Keys(password.encode("utf-8"))
    payload = keys.encrypt(os.urandom(11) + bytes([crc >> 24])) + keys.encrypt(deflated)
    raw_name = name.encode("utf-8")
    flags = 0x1 | 0x800  # encrypted, UTF-8 name
    dos_time, dos_date = 0, (46 << 9) | (11 << 5) | 20
    local = struct.pack("<4s5H3L2H", b"PK\x03\x04", 20, flags, 8, dos_time, dos_date, crc,
                        len(payload), len(data), len(raw_name), 0) + raw_name
    central = struct.pack("<4s6H3L5H2L", b"PK\x01\x02", 20, 20, flags, 8, dos_time, dos_date,
                          crc, len(payload), len(data), len(raw_name), 0, 0, 0, 0, 0, 0) + raw_name
    offset = len(local) + len(payload)
    end = struct.pack("<4s4H2LH", b"PK\x05\x06", 0, 0, 1, 1, len(central), offset, 0)
    path.write_bytes(local + payload + central + end)
