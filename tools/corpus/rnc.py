"""Rob Northen Compression (RNC ProPack) method 1 decompressor.

Written from the format description (an LZ77 + Huffman scheme):
  header (18 bytes, big endian): b"RNC\\x01", unpacked size (u32), packed size (u32),
      unpacked CRC (u16), packed CRC (u16), leeway (u8), block count (u8);
  then a bit stream read as little-endian 16-bit words, least significant bit first, with
  literal bytes stored in between the words. It starts with 2 flag bits, then for every block
  three Huffman tables (literal run lengths, match offsets, match lengths; each table is a
  5-bit symbol count and a 4-bit code length per symbol, canonical codes), a 16-bit count of
  sub-blocks, and the sub-blocks: a literal run (that many bytes copied straight from the byte
  stream), then, except for the last sub-block, a match (offset + 1, length + 2).
  Huffman symbols 0 and 1 stand for values 0 and 1; symbol s >= 2 is followed by s - 1 extra
  bits and stands for (1 << (s - 1)) + extra.
  The CRC is CRC-16 (polynomial 0xA001, reflected) over the packed and the unpacked bytes.

Used for Beneath a Steel Sky's sky.dsk entries (tools/corpus/genuine.py).
"""

from __future__ import annotations

import struct

_SIGNATURE = b"RNC\x01"
_HEADER_LEN = 18


class RncError(Exception):
    pass


def _crc_table() -> list[int]:
    table = []
    for i in range(256):
        v = i
        for _ in range(8):
            v = (v >> 1) ^ 0xA001 if v & 1 else v >> 1
        table.append(v)
    return table


_CRC_TABLE = _crc_table()


def crc16(data: bytes | bytearray | memoryview) -> int:
    crc = 0
    table = _CRC_TABLE
    for b in data:
        crc = table[(crc ^ b) & 0xFF] ^ (crc >> 8)
    return crc


class _Reader:
    """LSB-first bit reader over 16-bit little-endian words with interleaved raw bytes."""

    __slots__ = ("data", "pos", "buf", "count")

    def __init__(self, data: bytes, pos: int) -> None:
        self.data = data
        self.pos = pos  # byte position of the next word not yet loaded into buf
        self.buf = 0
        self.count = 0  # valid bits in buf; always < 16 between calls

    def _word(self, at: int) -> int:
        d = self.data
        lo = d[at] if at < len(d) else 0
        hi = d[at + 1] if at + 1 < len(d) else 0
        return lo | (hi << 8)

    def peek16(self) -> int:
        buf, count, at = self.buf, self.count, self.pos
        while count < 16:
            buf |= self._word(at) << count
            at += 2
            count += 16
        return buf & 0xFFFF

    def bits(self, n: int) -> int:
        while self.count < n:
            self.buf |= self._word(self.pos) << self.count
            self.pos += 2
            self.count += 16
        v = self.buf & ((1 << n) - 1)
        self.buf >>= n
        self.count -= n
        return v

    def raw(self, n: int) -> bytes:
        out = self.data[self.pos:self.pos + n]
        if len(out) != n:
            raise RncError("literal run past end of input")
        self.pos += n
        return out


def _read_table(r: _Reader, previous: list[tuple[int, int, int]]) -> list[tuple[int, int, int]]:
    """Returns [(mask, reversed code, symbol << 8 | length)] in canonical order."""
    num_codes = r.bits(5)
    if num_codes == 0:
        return previous  # an empty table keeps the previous block's table
    lengths = [r.bits(4) for _ in range(num_codes)]
    table: list[tuple[int, int, int]] = []
    code = 0
    for length in range(1, 17):
        for symbol, sym_len in enumerate(lengths):
            if sym_len != length:
                continue
            msb_code = code >> (16 - length)
            rev = int(format(msb_code, f"0{length}b")[::-1], 2)
            table.append(((1 << length) - 1, rev, (symbol << 8) | length))
            code += 1 << (16 - length)
    return table


def _read_value(r: _Reader, table: list[tuple[int, int, int]]) -> int:
    look = r.peek16()
    for mask, code, packed in table:
        if look & mask == code:
            r.bits(packed & 0xFF)
            symbol = packed >> 8
            if symbol < 2:
                return symbol
            return (1 << (symbol - 1)) | r.bits(symbol - 1)
    raise RncError("invalid Huffman code")


def is_rnc1(data: bytes) -> bool:
    return data[:4] == _SIGNATURE


def unpack(data: bytes, check_crc: bool = True) -> bytes:
    """Decompresses one RNC method-1 stream (data starts with the RNC header)."""
    if len(data) < _HEADER_LEN or data[:4] != _SIGNATURE:
        raise RncError("not an RNC method 1 stream")
    unpacked_len, packed_len, crc_unpacked, crc_packed = struct.unpack(">IIHH", data[4:16])
    blocks = data[17]
    payload = data[_HEADER_LEN:_HEADER_LEN + packed_len]
    if len(payload) != packed_len:
        raise RncError("truncated RNC stream")
    if check_crc and crc16(payload) != crc_packed:
        raise RncError("packed CRC mismatch")
    r = _Reader(data[:_HEADER_LEN + packed_len], _HEADER_LEN)
    r.bits(2)  # lock and key flags
    out = bytearray()
    raw_table: list[tuple[int, int, int]] = []
    pos_table: list[tuple[int, int, int]] = []
    len_table: list[tuple[int, int, int]] = []
    for _ in range(blocks):
        raw_table = _read_table(r, raw_table)
        pos_table = _read_table(r, pos_table)
        len_table = _read_table(r, len_table)
        counts = r.bits(16)
        while counts > 0:
            n_literal = _read_value(r, raw_table)
            if n_literal:
                out += r.raw(n_literal)
            if counts > 1:
                offset = _read_value(r, pos_table) + 1
                length = _read_value(r, len_table) + 2
                start = len(out) - offset
                if start < 0:
                    raise RncError("match offset before start of output")
                if offset >= length:
                    out += out[start:start + length]
                else:
                    for i in range(length):
                        out.append(out[start + i])
            counts -= 1
        if len(out) > unpacked_len:
            raise RncError("output longer than declared")
    if len(out) != unpacked_len:
        raise RncError(f"unpacked {len(out)} bytes, header says {unpacked_len}")
    if check_crc and crc16(out) != crc_unpacked:
        raise RncError("unpacked CRC mismatch")
    return bytes(out)
