"""The assembler: source text -> :class:`emu.machine.objfile.ObjectFile`.

Syntax (one statement per line; ``;`` or ``#`` starts a comment)::

    label:  mnemonic[.qualifier...] operand, operand, ...   ; instructions (.text)
    .equ NAME, expr          named constant (not overridable)
    .param NAME, expr        named constant that ``-D NAME=value`` overrides
    .text / .data            switch section (the default is .text)
    .org expr / .align expr  set / align the data address (.data)
    .byte/.word/.float e,... 8-bit, 32-bit little-endian ints, fp32 (rne) values
    .e4m3/.e5m2 v, ...       element codes of exactly representable values, one a
                             byte (every element and scale format: .e2m1, .e2m3,
                             .e3m2, .e4m3fnuz, .e5m2fnuz, .e4m3ieee, .ue8m0, .ue4m3)
    .zero n                  reserve n zero bytes
    .buffer NAME, dtype, d0[, d1]   a named input/output array, 64-byte aligned

Expressions: integers (``42``, ``0x2a``, ``0b101``, ``1_000``), floats (``1.5``,
``0x1.8p-7``, ``inf``, ``nan``), symbols, ``( )`` and ``** * / // % + - << >> & ^ |
~`` with Python's precedence; ``/`` of two integers is exact when it divides, else a
float.  Labels are byte addresses: code labels in the program, data labels in memory.
Limits (each an error at the line and column): integers of at most 4096 bits (literals
and every intermediate value), floats within float64 (a float context such as
``.float`` or ``.e4m3`` takes an integer only within float64's range), real results
(no complex powers), and at most :data:`MAX_NESTING` levels of parentheses, unary
operators and ``**`` chains in one expression.  Symbol names have at most 255
characters (the object file's name length is a byte).

Every error is ``file:line:col: error: expected ...``.  Two passes: the first lays
out code and data (sizes may use symbols defined above them), the second encodes.
"""

from __future__ import annotations

import math
import re
from dataclasses import dataclass
from functools import partial

from emu.errors import UsageError
from emu.machine.encoding import Instr, cfg_python_to_value, encode
from emu.machine.objfile import (
    BUFFER_ALIGN,
    DTYPE_NAMES,
    DTYPES,
    MAX_ADDR,
    MAX_DIM,
    MAX_NAME,
    NAME_RE,
    REGISTER_RE,
    RESERVED_NAMES,
    ObjectFile,
    Symbol,
)
from emu.machine.table import CONFIG_FIELDS, CONFIG_VALUE_RULES, OPS, SPELLINGS, WORD_BYTES
from emu.numerics.formats import formats_with_role

MAX_DATA = MAX_ADDR
RESERVED = RESERVED_NAMES
_REG_RE = REGISTER_RE


class AsmError(UsageError):
    """An error in an assembly source (message ``file:line:col: error: ...``)."""


@dataclass(frozen=True)
class Loc:
    file: str
    line: int
    col: int

    def at(self, offset: int) -> Loc:
        return Loc(self.file, self.line, self.col + offset)

    def error(self, msg: str) -> AsmError:
        return AsmError(f"{self.file}:{self.line}:{self.col}: error: {msg}")


# ---------------------------------------------------------------------- expressions
_TOKEN_RE = re.compile(
    r"""
    (?P<ws>\s+)
  | (?P<hexfloat>0[xX][0-9a-fA-F_]*\.?[0-9a-fA-F_]*[pP][+-]?\d+)
  | (?P<int>0[xX][0-9a-fA-F_]+|0[bB][01_]+|0[oO][0-7_]+)
  | (?P<float>(?:\d[\d_]*\.[\d_]*|\.\d[\d_]*)(?:[eE][+-]?\d+)?|\d[\d_]*[eE][+-]?\d+)
  | (?P<dec>\d[\d_]*)
  | (?P<name>[A-Za-z_][A-Za-z0-9_]*)
  | (?P<op>\*\*|//|<<|>>|[-+*/%&|^~()])
""",
    re.X,
)
_BINARY = {
    "|": 1,
    "^": 2,
    "&": 3,
    "<<": 4,
    ">>": 4,
    "+": 5,
    "-": 5,
    "*": 6,
    "/": 6,
    "//": 6,
    "%": 6,
    "**": 8,
}
_UNARY_PREC = 7
MAX_BITS = 4096  # integers in expressions
MAX_NESTING = 100  # parentheses, unary operators and ** chains in one expression
# longest literal of each integer kind that can be within MAX_BITS
_MAX_DIGITS = {"dec": 1234, 16: MAX_BITS // 4, 2: MAX_BITS, 8: -(-MAX_BITS // 3)}


def _tokens(text: str, loc: Loc):
    out, pos = [], 0
    while pos < len(text):
        m = _TOKEN_RE.match(text, pos)
        if not m:
            raise loc.at(pos).error(f"expected an expression, got {text[pos:]!r}")
        if m.lastgroup != "ws":
            out.append((m.lastgroup, m.group(), pos))
        pos = m.end()
    return out


class _Expr:
    """A tiny Pratt parser/evaluator over ints and floats."""

    def __init__(self, text, loc, lookup):
        self.text, self.loc, self.lookup = text, loc, lookup
        self.toks = _tokens(text, loc)
        self.i = 0
        self.depth = 0

    def parse(self):
        if not self.toks:
            raise self.loc.error("expected an expression")
        v = self.expr(0)
        if self.i < len(self.toks):
            _, t, pos = self.toks[self.i]
            raise self.loc.at(pos).error(
                f"expected an operator or the end of the expression, got {t!r}"
            )
        return v

    def peek(self):
        return self.toks[self.i] if self.i < len(self.toks) else None

    def expr(self, min_prec):
        self.depth += 1
        try:
            if self.depth > MAX_NESTING:
                t = self.peek()
                raise self.loc.at(t[2] if t else len(self.text)).error(
                    f"expected an expression nested at most {MAX_NESTING} deep "
                    "(parentheses, unary operators, ** chains)"
                )
            return self._expr(min_prec)
        finally:
            self.depth -= 1

    def _expr(self, min_prec):
        left = self.unary()
        while True:
            t = self.peek()
            if not t or t[0] != "op" or t[1] not in _BINARY:
                return left
            prec = _BINARY[t[1]]
            if prec < min_prec:
                return left
            self.i += 1
            right = self.expr(prec if t[1] == "**" else prec + 1)
            left = self.apply(t, left, right)
            if isinstance(left, int) and left.bit_length() > MAX_BITS:
                raise self.loc.at(t[2]).error(f"expected a smaller value (over {MAX_BITS} bits)")
            if isinstance(left, complex):
                raise self.loc.at(t[2]).error(
                    f"expected a real result, {t[1]!r} gives a complex number"
                )

    def unary(self):
        t = self.peek()
        if t is None:
            raise self.loc.at(len(self.text)).error("expected a value at the end of the expression")
        kind, s, pos = t
        self.i += 1
        if kind == "op" and s in "-+~":
            v = self.expr(_UNARY_PREC)
            if s == "~":
                if not isinstance(v, int):
                    raise self.loc.at(pos).error("expected an integer operand for '~'")
                return ~v
            return -v if s == "-" else v
        if kind == "op" and s == "(":
            v = self.expr(0)
            t = self.peek()
            if not t or t[1] != ")":
                raise self.loc.at(t[2] if t else len(self.text)).error("expected ')'")
            self.i += 1
            return v
        if kind in ("dec", "int"):
            digits = s.replace("_", "")
            base = 10 if kind == "dec" else {"x": 16, "b": 2, "o": 8}[digits[1].lower()]
            body = digits if kind == "dec" else digits[2:]
            if not body:
                raise self.loc.at(pos).error(f"expected digits after {s!r}")
            v = None
            if len(body.lstrip("0")) <= _MAX_DIGITS["dec" if base == 10 else base]:
                v = int(body, base)
            if v is None or v.bit_length() > MAX_BITS:
                raise self.loc.at(pos).error(f"expected a smaller value (over {MAX_BITS} bits)")
            return v
        if kind == "float":
            return float(s.replace("_", ""))
        if kind == "hexfloat":
            try:
                return float.fromhex(s.replace("_", ""))
            except OverflowError:
                raise self.loc.at(pos).error(
                    f"expected a float within float64 range, got {s!r}"
                ) from None
        if kind == "name":
            if s == "inf":
                return math.inf
            if s == "nan":
                return math.nan
            v = self.lookup(s)
            if v is None:
                raise self.loc.at(pos).error(
                    f"expected a defined symbol, {s!r} is not defined (here)"
                )
            return v
        raise self.loc.at(pos).error(f"expected a value, got {s!r}")

    def apply(self, t, a, b):
        op, pos = t[1], t[2]
        where = self.loc.at(pos)
        ints = isinstance(a, int) and isinstance(b, int)
        if op in ("<<", ">>", "&", "|", "^", "//", "%") and not ints:
            raise where.error(f"expected integer operands for {op!r}")
        try:
            if op == "+":
                return a + b
            if op == "-":
                return a - b
            if op == "*":
                return a * b
            if op == "/":
                if ints and b and a % b == 0:
                    return a // b
                return a / b
            if op == "//":
                return a // b
            if op == "%":
                return a % b
            if op == "**":
                if ints and b < 0:
                    return float(a) ** b
                if ints and a not in (0, 1, -1) and b * abs(a).bit_length() > 8192:
                    raise where.error("expected a smaller value (over 4096 bits)")
                return a**b
            if op in ("<<", ">>"):
                if b < 0 or b > 4096:
                    raise where.error(f"expected a shift count in 0..4096, got {b}")
                return a << b if op == "<<" else a >> b
            return {"&": a & b, "|": a | b, "^": a ^ b}[op]
        except ZeroDivisionError:
            raise where.error("expected a non-zero divisor") from None
        except OverflowError:
            raise where.error("expected a smaller value (overflow)") from None


def _real(v, loc: Loc, fmt: str) -> float:
    """An expression's value in a float context (an integer beyond float64 is out of
    any format's range)."""
    try:
        return float(v)
    except OverflowError:
        raise loc.error(
            f"expected a value within {fmt} range, got an integer of {v.bit_length()} bits"
        ) from None


# ---------------------------------------------------------------------- lines
@dataclass
class _Stmt:
    loc: Loc  # of the mnemonic / directive
    name: str
    operands: list  # [(text, Loc)]
    section: str
    addr: int  # pc (text) or data address


_PRE_ALIGN = {".word": 4, ".float": 4, ".buffer": 64}
_LABEL_RE = re.compile(r"\s*([A-Za-z_][A-Za-z0-9_]*)\s*:(?!:)")
_MNEM_RE = re.compile(r"\s*(\.?[A-Za-z_][A-Za-z0-9_.]*)")


def _strip_comment(line: str) -> str:
    for i, ch in enumerate(line):
        if ch in ";#":
            return line[:i]
    return line


def _split_operands(text: str, base: Loc):
    """Split on top-level commas; each operand with the Loc of its first character."""
    if not text.strip():
        return []
    out, depth, start = [], 0, 0
    for i, ch in enumerate(text + ","):
        if ch == "(":
            depth += 1
        elif ch == ")":
            depth -= 1
        elif ch == "," and (depth <= 0 or i == len(text)):
            part = text[start:i]
            lead = len(part) - len(part.lstrip())
            if not part.strip():
                raise base.at(start + lead).error(
                    "expected an operand before ','"
                    if i < len(text)
                    else "expected an operand after ','"
                )
            out.append((part.strip(), base.at(start + lead)))
            start = i + 1
    return out


def _check_name(name: str, loc: Loc) -> None:
    if not NAME_RE.fullmatch(name):
        raise loc.error(f"expected a symbol name (letters, digits, _), got {name!r}")
    if len(name) > MAX_NAME:
        raise loc.error(f"expected a symbol name of at most {MAX_NAME} characters, got {len(name)}")
    if _REG_RE.match(name) or name in RESERVED:
        raise loc.error(f"expected a symbol name, {name!r} is a reserved word or register name")


# ---------------------------------------------------------------------- assembler
class Assembler:
    """Two-pass assembler; use :func:`assemble`."""

    def __init__(self, filename: str, defines: dict | None):
        self.file = filename
        self.defines = dict(defines or {})
        self.symbols = {}  # name -> (value, kind, Loc)
        self.params = set()
        self.code_syms, self.data_syms = [], []
        self.stmts = []
        self.section = "text"
        self.pc = 0  # bytes
        self.daddr = 0

    # -- symbols
    def lookup(self, name):
        s = self.symbols.get(name)
        return None if s is None else s[0]

    def define(self, name, value, kind, loc):
        _check_name(name, loc)
        if name in self.symbols:
            prev = self.symbols[name][2]
            raise loc.error(f"expected a new name, {name!r} is already defined at line {prev.line}")
        self.symbols[name] = (value, kind, loc)

    def eval(self, text, loc):
        return _Expr(text, loc, self.lookup).parse()

    def eval_int(self, text, loc, lo=None, hi=None, what="an integer"):
        v = self.eval(text, loc)
        if isinstance(v, float):
            if v.is_integer():
                v = int(v)
            else:
                raise loc.error(f"expected {what}, got {v!r}")
        if (lo is not None and v < lo) or (hi is not None and v > hi):
            raise loc.error(f"expected {what} in {lo}..{hi}, got {v}")
        return v

    # -- pass 1
    def pass1(self, text: str):
        # Lines end at "\n" only (a trailing "\r" is white space), so that line
        # numbers are the ones editors and grep show: str.splitlines() would also
        # break at form feeds, "\x1c".."\x1e", "\x85" and U+2028/U+2029.
        for n, raw in enumerate(text.split("\n"), 1):
            line = _strip_comment(raw)
            pos, labels = 0, []
            while True:
                m = _LABEL_RE.match(line, pos)
                if not m:
                    break
                labels.append((m.group(1), Loc(self.file, n, m.start(1) + 1)))
                pos = m.end()
            m = _MNEM_RE.match(line, pos)
            align = _PRE_ALIGN.get(m.group(1).lower(), 1) if m else 1
            if self.section == "data":  # a label on a .word line names the word
                self.daddr = -(-self.daddr // align) * align
            for name, loc in labels:
                self.label(name, loc)
            if not line[pos:].strip():
                continue
            if not m:
                col = pos + len(line[pos:]) - len(line[pos:].lstrip())
                raise Loc(self.file, n, col + 1).error(
                    f"expected a label, an instruction or a directive, got {line[col:].strip()!r}"
                )
            name = m.group(1)
            loc = Loc(self.file, n, m.start(1) + 1)
            rest = line[m.end() :]
            if rest and not rest[0].isspace():
                raise loc.at(m.end() - m.start(1)).error(
                    f"expected a space after {name!r}, got {rest[0]!r}"
                )
            ops = _split_operands(rest, Loc(self.file, n, m.end() + 1))
            self.statement(name, ops, loc)
        for name in self.defines:
            if name not in self.params:
                raise UsageError(f"-D {name}: {self.file} declares no .param {name}")

    def label(self, name, loc):
        if self.section == "text":
            self.define(name, self.pc, "code", loc)
            self.code_syms.append(Symbol(name, "code", self.pc))
        else:
            self.define(name, self.daddr, "data", loc)
            self.data_syms.append(Symbol(name, "data", self.daddr))

    def statement(self, name, ops, loc):
        low = name.lower()
        if low.startswith("."):
            handler = getattr(self, "d_" + low[1:], None)
            if low[1:] in _code_formats():  # .e4m3 v, ...: one byte a value
                handler = partial(self._values, low[1:], 1, 1)
            if handler is None:
                names = (*DIRECTIVES, *("." + n for n in _code_formats()))
                raise loc.error(f"expected a directive ({', '.join(sorted(names))}), got {name!r}")
            handler(ops, loc)
            return
        if self.section != "text":
            raise loc.error(
                f"expected a data directive in .data, got instruction {name!r} "
                "(instructions belong in .text)"
            )
        self.stmts.append(_Stmt(loc, name, ops, "text", self.pc))
        self.pc += WORD_BYTES

    def _need(self, ops, loc, n, syntax, optional=0):
        if not n - optional <= len(ops) <= n:
            where = ops[n][1] if len(ops) > n else loc
            raise where.error(f"expected {syntax}")

    def _place(self, addr, loc):
        if not 0 <= addr <= MAX_DATA:
            raise loc.error(f"expected data addresses in 0..2^48, got {addr:#x}")
        self.daddr = addr

    def _data_only(self, loc, what):
        if self.section != "data":
            raise loc.error(f"expected {what} in .data (this is .text)")

    # -- directives (pass 1 lays out; data values are evaluated in pass 2)
    def d_text(self, ops, loc):
        self._need(ops, loc, 0, ".text")
        self.section = "text"

    def d_data(self, ops, loc):
        self._need(ops, loc, 0, ".data")
        self.section = "data"

    def d_equ(self, ops, loc, kind="equ"):
        self._need(ops, loc, 2, f".{kind} NAME, expression")
        (name, nloc), (expr, eloc) = ops
        if kind == "param" and name in self.defines:
            value = self.defines[name]
            self.params.add(name)
        else:
            value = self.eval(expr, eloc)
            if kind == "param":
                self.params.add(name)
        self.define(name, value, kind, nloc)

    def d_param(self, ops, loc):
        self.d_equ(ops, loc, "param")

    def d_org(self, ops, loc):
        self._data_only(loc, ".org")
        self._need(ops, loc, 1, ".org address")
        self._place(self.eval_int(*ops[0], lo=0, hi=MAX_DATA, what="an address"), loc)

    def d_align(self, ops, loc):
        self._data_only(loc, ".align")
        self._need(ops, loc, 1, ".align power-of-two")
        a = self.eval_int(*ops[0], lo=1, hi=1 << 30, what="an alignment")
        if a & (a - 1):
            raise ops[0][1].error(f"expected a power of two, got {a}")
        self._place(-(-self.daddr // a) * a, loc)

    def d_zero(self, ops, loc):
        self._data_only(loc, ".zero")
        self._need(ops, loc, 1, ".zero count")
        self._place(
            self.daddr + self.eval_int(*ops[0], lo=0, hi=MAX_DATA, what="a byte count"), loc
        )

    def _values(self, name, size, align, ops, loc):
        self._data_only(loc, "." + name)
        if not ops:
            raise loc.error(f"expected at least one value after .{name}")
        self.daddr = -(-self.daddr // align) * align
        self.stmts.append(_Stmt(loc, "." + name, ops, "data", self.daddr))
        self._place(self.daddr + size * len(ops), loc)

    def d_byte(self, ops, loc):
        self._values("byte", 1, 1, ops, loc)

    def d_word(self, ops, loc):
        self._values("word", 4, 4, ops, loc)

    def d_float(self, ops, loc):
        self._values("float", 4, 4, ops, loc)

    def d_buffer(self, ops, loc):
        self._data_only(loc, ".buffer")
        syntax = f".buffer NAME, dtype ({'|'.join(DTYPE_NAMES)}), rows[, cols]"
        self._need(ops, loc, 4, syntax, optional=1)
        (name, nloc), (dt, tloc) = ops[:2]
        if dt.lower() not in DTYPES:
            raise tloc.error(f"expected a buffer dtype ({', '.join(DTYPE_NAMES)}), got {dt!r}")
        shape = tuple(self.eval_int(*o, lo=1, hi=MAX_DIM, what="a dimension") for o in ops[2:])
        self.daddr = -(-self.daddr // BUFFER_ALIGN) * BUFFER_ALIGN
        self.define(name, self.daddr, "buffer", nloc)
        sym = Symbol(name, "buffer", self.daddr, dt.lower(), shape)
        self.data_syms.append(sym)
        self._place(self.daddr + sym.nbytes, loc)

    # -- pass 2
    def pass2(self) -> ObjectFile:
        words, chunks = [], []
        for st in self.stmts:
            if st.section == "text":
                words.append(encode(self.instruction(st)))
            else:
                chunks.append((st.addr, self.data_bytes(st), st.loc))
        segments = []
        chunks.sort(key=lambda c: c[0])
        for addr, data, loc in chunks:
            if segments and addr < segments[-1][0] + len(segments[-1][1]):
                raise loc.error(f"expected free memory, data at {addr:#x} overlaps earlier data")
            if segments and addr == segments[-1][0] + len(segments[-1][1]):
                segments[-1] = (segments[-1][0], segments[-1][1] + data)
            else:
                segments.append((addr, data))
        syms = sorted(self.code_syms, key=lambda s: s.addr) + sorted(
            self.data_syms, key=lambda s: s.addr
        )
        return ObjectFile(words, segments, syms)

    def instruction(self, st: _Stmt) -> Instr:
        spelled = SPELLINGS.get(st.name.lower())
        if spelled is None:
            raise st.loc.error(self._unknown(st.name))
        op, quals = spelled
        ops = op.operands
        need = sum(f.default is None for f in ops)
        if not need <= len(st.operands) <= len(ops):
            where = st.operands[len(ops)][1] if len(st.operands) > len(ops) else st.loc
            raise where.error(
                f"expected {op.syntax} ({len(ops)} operand"
                f"{'s' if len(ops) != 1 else ''}), got {len(st.operands)}"
            )
        args = list(quals)
        ctx = {}
        for i, f in enumerate(ops):
            if i < len(st.operands):
                text, loc = st.operands[i]
                v = self.operand(f, text, loc, st.addr, ctx)
            else:
                v = f.default
            ctx[f.kind.name] = v
            args.append(v)
        return Instr(op, tuple(args))

    @staticmethod
    def _unknown(name):
        base = name.split(".")[0].lower()
        forms = sorted({op.syntax.split(" ")[0] for op in OPS if op.mnemonic.split(".")[0] == base})
        if forms:
            return f"expected {' or '.join(forms)}, got {name!r}"
        return f"expected an instruction mnemonic, got {name!r}"

    def operand(self, f, text, loc, pc, ctx):
        k = f.kind
        if k.reg:
            m = _REG_RE.match(text)
            if not m or m.group(1) != k.reg or int(m.group(2)) > k.hi:
                raise loc.error(f"expected {k.doc.split(' (')[0]} as {f.name}, got {text!r}")
            return int(m.group(2))
        if k.enum:
            if text.lower() not in k.enum:
                raise loc.error(f"expected {f.name}: one of {', '.join(k.enum)}, got {text!r}")
            return k.enum.index(text.lower())
        if k.name == "cfgval":
            return self.cfg_value(CONFIG_FIELDS[ctx["field"]], text, loc)
        if k.name == "target":
            v = self.eval_int(text, loc, what="a code address")
            if v % WORD_BYTES:
                raise loc.error(f"expected a code address (a multiple of {WORD_BYTES}), got {v:#x}")
            off = (v - pc) // WORD_BYTES
            if not k.lo <= off <= k.hi:
                raise loc.error("expected a branch target within 2^31 instructions")
            return off
        return self.eval_int(text, loc, k.lo, k.hi, what=f"{f.name}: an integer")

    def cfg_value(self, field, text, loc):
        rule = CONFIG_VALUE_RULES[field]
        low = text.strip().lower()
        if rule[0] == "bool":
            if low not in ("true", "false", "1", "0"):
                raise loc.error(f"expected {field}: true or false, got {text!r}")
            value = low in ("true", "1")
        elif rule[0] == "int":
            if rule[1] is not None and low == rule[1]:
                value = rule[1]
            else:
                special = f" or {rule[1]}" if rule[1] else ""
                value = self.eval_int(
                    text, loc, -(1 << 31), (1 << 31) - 1, what=f"{field}: an integer{special}"
                )
                if rule[1] is not None and value == rule[2]:
                    raise loc.error(
                        f"expected {field}: an integer other than {value} (write {rule[1]})"
                    )
        else:
            value = low
        try:
            return cfg_python_to_value(field, value)
        except ValueError as e:
            raise loc.error(f"{field}: {e}") from None

    def data_bytes(self, st: _Stmt) -> bytes:
        import numpy as np

        kind = st.name[1:]
        out = bytearray()
        for text, loc in st.operands:
            if kind == "byte":
                v = self.eval_int(text, loc, -128, 255, what="a byte")
                out.append(v & 0xFF)
            elif kind == "word":
                v = self.eval_int(text, loc, -(1 << 31), (1 << 32) - 1, what="a 32-bit word")
                out += (v & 0xFFFFFFFF).to_bytes(4, "little")
            elif kind == "float":
                v = _real(self.eval(text, loc), loc, "fp32")
                with np.errstate(over="ignore"):
                    f = np.float32(v)
                if math.isinf(f) and not math.isinf(v):
                    raise loc.error(f"expected a value within fp32 range, got {v!r}")
                out += f.astype("<f4").tobytes()
            else:
                out.append(self.fp8_code(kind, _real(self.eval(text, loc), loc, kind), loc))
        return bytes(out)

    @staticmethod
    def fp8_code(fmt, v, loc):
        from emu.numerics.formats import decode_scalar, encode_scalar, get_format

        v = float(v)
        if not get_format(fmt).signed:  # a scale format: the code of that value
            code = _scale_codes(fmt).get("nan" if math.isnan(v) else v)
            if code is None or (v == 0 and math.copysign(1, v) < 0):
                raise loc.error(
                    f"expected a value exactly representable in {fmt}, got {v!r} "
                    "(use .byte for raw codes)"
                )
            return code
        code = encode_scalar(fmt, v, overflow="nonsat")
        back = decode_scalar(fmt, code)
        if not (back == v or (math.isnan(v) and math.isnan(back))) or math.copysign(
            1, back
        ) != math.copysign(1, v):
            raise loc.error(
                f"expected a value exactly representable in {fmt}, got {v!r} "
                f"(nearest: {back!r}; use .byte for raw codes)"
            )
        return code


DIRECTIVES = tuple("." + n[2:] for n in dir(Assembler) if n.startswith("d_"))


def _code_formats() -> tuple:
    """The formats with a data directive (``.e4m3 v, ...``): element and scale."""
    return formats_with_role("element") + formats_with_role("scale")


def _scale_codes(fmt) -> dict:
    """value -> the lowest code of an unsigned scale format with that value ("nan":
    the canonical NaN), so that a UE4M3 value gets the code with its ignored bit 0."""
    from emu.numerics.formats import canonical_nan, decode_table

    out = {"nan": canonical_nan(fmt)}
    for code, x in enumerate(decode_table(fmt).tolist()):
        if not math.isnan(x):
            out.setdefault(x, code)
    return out


def assemble(text: str, filename: str = "<input>", defines: dict | None = None) -> ObjectFile:
    """Assemble source text; AsmError (``file:line:col: error: ...``) on any error.

    ``defines`` maps ``.param`` names to values (the CLI's ``-D NAME=VALUE``)."""
    a = Assembler(filename, defines)
    a.pass1(text[1:] if text.startswith("\ufeff") else text)  # a UTF-8 byte order mark
    return a.pass2()


def decode_source(data: bytes, filename: str = "<input>") -> str:
    """Assembly source bytes -> text; a byte that is not UTF-8 is an AsmError at its
    line and column (``file:line:col: error: ...``)."""
    try:
        return data.decode("utf-8")
    except UnicodeDecodeError as e:
        line_start = data.rfind(b"\n", 0, e.start) + 1
        line = data.count(b"\n", 0, e.start) + 1
        col = len(data[line_start : e.start].decode("utf-8", "replace")) + 1
        raise Loc(filename, line, col).error(
            f"expected UTF-8 assembly text, got byte {data[e.start]:#04x} (file offset {e.start})"
        ) from None


def parse_defines(items) -> dict:
    """``NAME=VALUE`` strings (the CLI's -D) -> {name: number}."""
    out = {}
    for item in items:
        name, eq, value = item.partition("=")
        name = name.strip()
        if not eq or not NAME_RE.fullmatch(name):
            raise UsageError(f"-D {item!r}: expected NAME=VALUE")
        try:
            out[name] = _Expr(value.strip(), Loc("-D", 1, 1), lambda s: None).parse()
        except AsmError:
            raise UsageError(f"-D {item!r}: expected a number after '='") from None
    return out
