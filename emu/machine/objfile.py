"""The object format: fixed-width instruction words, initial data, symbols.

Layout (all integers little-endian; every record is padded to a multiple of 8 bytes)::

    header, 32 bytes
      0  magic      b"FP8X"
      4  u16        version (2; 1 is read too)
      6  u16        header size (32)
      8  u32        number of instruction words
     12  u32        number of data segments
     16  u32        number of symbols
     20  u32        CRC-32 of every byte after the header
     24  u64        reserved, 0
    text: one u64 per instruction (pc = 8 * index)
    segment: u64 address, u64 length, the bytes, zero padding
    symbol: u8 kind (0 code label, 1 data label, 2 buffer), u8 dtype (buffers),
            u8 ndim, u8 name length, u32 reserved 0, u64 address,
            ndim x u64 dims, the ASCII name, zero padding

Segments are the initialised data (memory starts zeroed): disjoint, in address
order, adjacent ones merged.  Buffers are the program's named input/output arrays.
Loader errors name the byte offset where the problem is.  The loader accepts only
what the assembler can produce, so that every loadable object disassembles to source
that assembles back to the same bytes: instruction words in their one encoding;
segments non-empty, in address order, neither overlapping nor adjoining (the
assembler merges adjacent data), below 2^48; zero padding and reserved bytes; symbol
names the assembler takes (unique, at most 255 characters, not a register name or a
reserved word); code labels first, then data labels and buffers, each group in
address order; code labels at an instruction of the program or just after its last
one; data below 2^48; buffers 64-byte aligned with dimensions 1..2^32.

Versions: 2 is the instruction layout of :mod:`emu.machine.table` (``elem`` 4 bits,
``field`` and ``preset`` 6 bits).  A version-1 object (``elem`` 2 bits: e4m3, e5m2,
e4m3ieee; ``field``, ``preset`` 4 bits) loads too: each word is checked in the
version-1 layout, then re-encoded in the current one (the same instructions, so the
program runs the same); :attr:`ObjectFile.version` says what was read, and writing
the object gives version 2.  The rest of the format (segments, symbols, the dtype
codes) is the same in both versions.
"""

from __future__ import annotations

import math
import re
import struct
import zlib
from dataclasses import dataclass, field

import numpy as np

from emu.machine.encoding import IllegalInstruction, decode, encode, upgrade
from emu.machine.table import ISA_VERSION
from emu.numerics.formats import FORMATS

MAGIC = b"FP8X"
VERSION = ISA_VERSION
READS = (1, VERSION)  # the versions the loader takes
HEADER = struct.Struct("<4sHHIIIIQ")
SYMBOL_KINDS = ("code", "data", "buffer")
# Buffer element types: name -> (stored dtype, accepted input dtypes).  The index of
# a name is its code in object files: the codes of version 1 (the four scalar types,
# e4m3, e5m2, ue8m0, e4m3ieee), then every other element and scale format in FORMATS
# order (a new format goes at the end).  An FP4/FP6 or UE4M3 buffer holds one code
# a byte, in its low bits.
_V1_DTYPES = ("u8", "i32", "u32", "f32", "e4m3", "e5m2", "ue8m0", "e4m3ieee")
_SCALAR_DTYPES = {"u8": ("u1", ("uint8",)), "i32": ("<i4", ("int32",)),
                  "u32": ("<u4", ("uint32",)), "f32": ("<f4", ("float32",))}  # fmt: skip
_CODE_DTYPES = {
    f.name: ("u1", ("uint8", f.ml_name) if f.ml_name else ("uint8",))
    for f in FORMATS
    if {"element", "scale"} & set(f.roles)
}
DTYPES = {
    n: (_SCALAR_DTYPES | _CODE_DTYPES)[n]
    for n in (*_V1_DTYPES, *(n for n in _CODE_DTYPES if n not in _V1_DTYPES))
}
DTYPE_NAMES = tuple(DTYPES)
BUFFER_ALIGN = 64  # buffers start at multiples of this
MAX_ADDR = 1 << 48  # data (segments, labels, buffers) lies below this
MAX_DIM = 1 << 32  # largest buffer dimension
NAME_RE = re.compile(r"^[A-Za-z_][A-Za-z0-9_]*$")  # use fullmatch ($ allows a final "\n")
REGISTER_RE = re.compile(r"^(x|t|acc|s)(\d+)$")  # register names are no symbol names
RESERVED_NAMES = frozenset({"k", "exact", "true", "false", "inf", "nan"})
MAX_NAME = 255  # the name length is a byte
WORD = 8  # bytes per instruction word (pc = 8 * index)


def name_problem(name: str) -> str | None:
    """Why ``name`` cannot be a symbol name (the assembler's rule), or None."""
    if not NAME_RE.fullmatch(name):
        return "expected letters, digits and _, not starting with a digit"
    if len(name) > MAX_NAME:
        return f"longer than {MAX_NAME} characters"
    if REGISTER_RE.fullmatch(name) or name in RESERVED_NAMES:
        return "a reserved word or register name"
    return None


class ObjectError(ValueError):
    """A malformed object file (the message starts with the byte offset)."""


@dataclass(frozen=True)
class Symbol:
    """A named address: a code label, a data label, or a buffer (dtype + shape)."""

    name: str
    kind: str
    addr: int
    dtype: str = ""
    shape: tuple = ()

    @property
    def nbytes(self) -> int:
        if self.kind != "buffer":
            return 0
        return math.prod(self.shape) * np.dtype(DTYPES[self.dtype][0]).itemsize


@dataclass
class ObjectFile:
    words: list  # u64 instruction words (the current layout)
    segments: list = field(default_factory=list)  # (address, bytes)
    symbols: list = field(default_factory=list)  # Symbol
    version: int = field(default=VERSION, compare=False)  # read from; to_bytes writes VERSION

    def buffers(self) -> dict:
        return {s.name: s for s in self.symbols if s.kind == "buffer"}

    def to_bytes(self) -> bytes:
        body = bytearray()
        for w in self.words:
            body += struct.pack("<Q", w)
        for addr, data in self.segments:
            body += struct.pack("<QQ", addr, len(data)) + data + _pad(len(data))
        for s in self.symbols:
            name = s.name.encode("ascii")
            rec = struct.pack(
                "<BBBBIQ",
                SYMBOL_KINDS.index(s.kind),
                DTYPE_NAMES.index(s.dtype) if s.dtype else 0,
                len(s.shape),
                len(name),
                0,
                s.addr,
            )
            rec += b"".join(struct.pack("<Q", d) for d in s.shape) + name + _pad(len(name))
            body += rec
        head = HEADER.pack(
            MAGIC,
            VERSION,
            HEADER.size,
            len(self.words),
            len(self.segments),
            len(self.symbols),
            zlib.crc32(body),
            0,
        )
        return head + bytes(body)

    @classmethod
    def from_bytes(cls, data: bytes) -> ObjectFile:
        """Parse an object file; ObjectError("byte N: ...") on any defect."""
        r = _Reader(data)
        if len(data) < HEADER.size:
            r.fail(0, f"truncated header ({len(data)} of {HEADER.size} bytes)")
        magic, ver, hsize, nw, nseg, nsym, crc, res = HEADER.unpack_from(data)
        if magic != MAGIC:
            r.fail(0, f"bad magic {magic!r} (not an fp8emu object file; expected {MAGIC!r})")
        if ver not in READS:
            r.fail(
                4,
                f"unsupported version {ver} (this fp8emu reads versions "
                f"{', '.join(map(str, READS))})",
            )
        if hsize != HEADER.size:
            r.fail(6, f"header size {hsize}, expected {HEADER.size}")
        if res:
            r.fail(24, "reserved header bytes are not zero")
        r.pos = HEADER.size
        words = []
        for _ in range(nw):
            at = r.pos
            w = r.u64("instruction word")
            try:
                ins = decode(w, ver)
            except IllegalInstruction as e:
                r.fail(at, f"illegal instruction word {w:#018x} at pc={at - HEADER.size:#x}: {e}")
            if encode(ins) != w:
                r.fail(
                    at,
                    f"instruction word {w:#018x} at pc={at - HEADER.size:#x} is not in its "
                    f"encoding ({encode(ins):#018x}; unused bits must be zero)",
                )
            if ver != VERSION:
                try:
                    w = encode(upgrade(ins))
                except IllegalInstruction as e:
                    r.fail(
                        at,
                        f"version-{ver} instruction word {w:#018x} at "
                        f"pc={at - HEADER.size:#x}: {e}",
                    )
            words.append(w)
        segments, end = [], -1
        for _ in range(nseg):
            at = r.pos
            addr, n = r.u64("segment address"), r.u64("segment length")
            if addr <= end:
                r.fail(at, f"segment at {addr:#x} overlaps or precedes the previous one")
            if addr == end + 1 and segments:
                r.fail(
                    at,
                    f"segment at {addr:#x} adjoins the previous one "
                    "(the assembler merges adjacent data into one segment)",
                )
            if n == 0:
                r.fail(at + 8, f"segment at {addr:#x} is empty")
            if addr + n > MAX_ADDR:
                r.fail(at, f"segment at {addr:#x} of {n} bytes ends beyond 2^48")
            payload = r.take(n + len(_pad(n)), "segment data")
            r.zero_padding(payload, n, at + 16, "segment data")
            segments.append((addr, bytes(payload[:n])))
            end = addr + n - 1
        symbols, names = [], set()
        last = {}  # group -> address of the group's previous symbol
        for _ in range(nsym):
            at = r.pos
            kind, dt, ndim, nlen, res = struct.unpack("<BBBBI", r.take(8, "symbol record"))
            addr = r.u64("symbol address")
            if kind >= len(SYMBOL_KINDS):
                r.fail(at, f"unknown symbol kind {kind}")
            if dt >= len(DTYPE_NAMES) or res or (SYMBOL_KINDS[kind] != "buffer" and (dt or ndim)):
                r.fail(at, "malformed symbol record")
            shape = tuple(r.u64("symbol dims") for _ in range(ndim))
            name_at = r.pos
            raw = r.take(nlen + len(_pad(nlen)), "symbol name")
            r.zero_padding(raw, nlen, name_at, "symbol name")
            raw = raw[:nlen]
            try:
                name = raw.decode("ascii")
            except UnicodeDecodeError:
                name = ""
            if not NAME_RE.fullmatch(name):
                r.fail(name_at, f"bad symbol name {raw!r}")
            why = name_problem(name)
            if why:
                r.fail(name_at, f"symbol name {name!r} is {why}")
            k = SYMBOL_KINDS[kind]
            if name in names:
                r.fail(name_at, f"symbol {name!r} is defined twice")
            names.add(name)
            if k == "buffer" and not 1 <= ndim <= 2:
                r.fail(at, f"buffer {name}: {ndim} dimensions (expected 1 or 2)")
            if k == "buffer" and not all(1 <= d <= MAX_DIM for d in shape):
                r.fail(at + 16, f"buffer {name}: shape {shape} (dimensions must be in 1..2^32)")
            if k == "buffer" and addr % BUFFER_ALIGN:
                r.fail(at + 8, f"buffer {name} at {addr:#x} is not {BUFFER_ALIGN}-byte aligned")
            if k != "code" and addr > MAX_ADDR:
                r.fail(at + 8, f"{k} symbol {name} at {addr:#x} lies beyond 2^48")
            if k == "code" and (addr % WORD or addr > WORD * nw):
                r.fail(
                    at + 8,
                    f"code label {name} at {addr:#x} is not at an instruction of the program "
                    f"(multiples of {WORD} up to {WORD * nw:#x})",
                )
            group = "code" if k == "code" else "data"
            if group == "code" and "data" in last:
                r.fail(at, f"code label {name} after data symbols (code labels come first)")
            if addr < last.get(group, 0):
                r.fail(
                    at + 8,
                    f"{k} symbol {name} at {addr:#x} is out of address order (after one "
                    f"at {last[group]:#x}; the assembler sorts symbols by address)",
                )
            last[group] = addr
            sym = Symbol(name, k, addr, DTYPE_NAMES[dt] if k == "buffer" else "", shape)
            if sym.addr + sym.nbytes > MAX_ADDR:
                r.fail(at + 8, f"buffer {name} at {addr:#x} of {sym.nbytes} bytes ends beyond 2^48")
            symbols.append(sym)
        if r.pos != len(data):
            r.fail(r.pos, f"{len(data) - r.pos} unexpected bytes after the last record")
        if zlib.crc32(data[HEADER.size :]) != crc:
            r.fail(20, "CRC-32 mismatch: the file is corrupt")
        if r.bad_padding is not None:  # after the CRC: a corrupt file says so first
            r.fail(*r.bad_padding)
        return cls(words, segments, symbols, ver)


def is_object(data: bytes) -> bool:
    return data[:4] == MAGIC


def _pad(n: int) -> bytes:
    return b"\0" * (-n % 8)


class _Reader:
    def __init__(self, data):
        self.data, self.pos = data, 0
        self.bad_padding = None  # (offset, message) of the first non-zero padding byte

    @staticmethod
    def fail(at, msg):
        raise ObjectError(f"byte {at}: {msg}")

    def take(self, n, what):
        if self.pos + n > len(self.data):
            self.fail(
                self.pos, f"truncated {what} (needs {n} bytes, {len(self.data) - self.pos} left)"
            )
        b = self.data[self.pos : self.pos + n]
        self.pos += n
        return b

    def u64(self, what):
        return struct.unpack("<Q", self.take(8, what))[0]

    def zero_padding(self, chunk, n, start, what):
        """Note the first non-zero byte of ``chunk`` after its first ``n`` (the
        padding to 8 bytes; ``start``: the file offset of chunk)."""
        for i in range(n, len(chunk)):
            if chunk[i] and self.bad_padding is None:
                self.bad_padding = (start + i, f"padding after the {what} is not zero")
