"""The fp8emu machine: state, and a decode-once interpreter for ISA programs.

State (sizes are constructor parameters; the defaults are the default machine):

* memory: ``mem_size`` bytes (64 MiB), byte-addressable, little-endian, zeroed,
  then the program's data segments and the ``--in`` arrays are placed;
* scalar registers x0..x31 (64-bit two's complement; x0 reads as 0);
* ``n_tiles`` element tile registers (8) of up to ``tile_rows`` x ``tile_bytes``
  (256 x 1024) codes, one a byte (FP4/FP6 codes in the low bits); ``n_accs`` FP32
  accumulator tiles (8) of up to ``tile_rows`` x ``tile_bytes / 4`` values;
  ``n_scales`` scale registers (8) of up to ``tile_rows`` x ``tile_bytes`` codes (of
  ``scale_format``).  A register takes the shape of what is put in;
* configuration registers: one per MacConfig field (set by ``--preset`` /
  ``--config`` / ``--set``, then by ``cfg`` / ``cfgp``), checked when an MMA uses them.

MMA chunking: an accumulator tile carries the per-element fold state across MMAs.
Without promotion it is the accumulator that the next fused step continues from (C
of the next chunk); with promotion it is the outer fp32 accumulator, and each MMA
starts its inner accumulator at +0.  So a K loop of MMAs equals one emu.gemm over
the whole K bit for bit, provided every K tile except the last is a multiple of
``fused``, of ``promote_every`` and of ``scale_block`` (those > 0).  The machine
enforces that: an MMA with another K length ends the accumulation (it is the tail),
and a further MMA into that tile faults until ``azero`` or ``ald`` starts a new one.
With ``fused = k`` (the whole K in one step) every MMA is a whole accumulation.

Runtime faults raise :class:`emu.errors.MachineFault` with ``pc=0x..: <instruction>:
<reason>``.
"""

from __future__ import annotations

import math

import numpy as np

from emu.errors import MachineFault, UsageError
from emu.numerics.config import MacConfig, preset

DEFAULT_MEM = 64 << 20
DEFAULT_TILE_ROWS = 256
DEFAULT_TILE_BYTES = 1024
DEFAULT_MAX_STEPS = 10_000_000
# Work budget of one run, in multiply-accumulates (an MMA of M x N x K counts
# M * N * K): 2**34 is 5-60 s of work on 2 cores (random data on the fast kernel;
# all-zero tiles, which go to the general kernel), so a runaway loop of large MMAs
# stops within about a minute while a 2048^3 GEMM program (2**33) still runs.
DEFAULT_MAX_MACS = 1 << 34
FRESH, CONTINUED = 0, 1  # accumulator states; a str = ended (the reason)
_B, _M = 1 << 63, (1 << 64) - 1


class Fault(Exception):
    """Raised by an instruction handler; the run loop adds pc and instruction."""


class _Halt(Exception):
    """Raised by ``halt`` (once per run, so an exception costs nothing per step)."""


def _w(v: int) -> int:
    """Wrap to 64-bit two's complement."""
    return ((v + _B) & _M) - _B


def size_text(n: int) -> str:
    for unit, shift in (("GiB", 30), ("MiB", 20), ("KiB", 10)):
        if n >= 1 << shift and n % (1 << shift) == 0:
            return f"{n >> shift} {unit}"
    return f"{n} bytes"


# ============================================================ the machine
class Machine:
    """Machine state plus a loaded program.  ``run()`` executes it."""

    def __init__(
        self,
        program,
        *,
        config: MacConfig | None = None,
        mem_size: int = DEFAULT_MEM,
        tile_rows: int = DEFAULT_TILE_ROWS,
        tile_bytes: int = DEFAULT_TILE_BYTES,
        n_tiles: int = 8,
        n_accs: int = 8,
        n_scales: int = 8,
    ):
        from emu.machine.table import KINDS

        for name, v, lo, hi in (
            ("mem_size", mem_size, 1, 1 << 34),
            ("tile_rows", tile_rows, 1, 4095),
            ("tile_bytes", tile_bytes, 4, 1 << 20),
            ("n_tiles", n_tiles, 1, KINDS["t"].hi + 1),
            ("n_accs", n_accs, 1, KINDS["acc"].hi + 1),
            ("n_scales", n_scales, 1, KINDS["s"].hi + 1),
        ):
            if isinstance(v, bool) or not isinstance(v, int) or not lo <= v <= hi:
                raise UsageError(f"machine {name} must be an integer in {lo}..{hi}, got {v!r}")
        self.obj = program
        self.mem_size, self.tile_rows, self.tile_bytes = mem_size, tile_rows, tile_bytes
        self.mem = np.zeros(mem_size, np.uint8)
        self.x = [0] * 32
        self.t = [None] * n_tiles
        self.acc = [None] * n_accs
        self.acc_state = [FRESH] * n_accs
        self.s = [None] * n_scales
        self.cfg = (config or preset("default")).to_dict()
        self._config = None
        self.pc = 0
        self.steps = 0
        self.status = None
        self._wrote = None
        self.buffers = program.buffers()
        self.labels = {}
        for sym in program.symbols:
            if sym.kind == "code":
                self.labels.setdefault(sym.addr, sym.name)
        for addr, data in program.segments:
            if addr + len(data) > mem_size:
                raise UsageError(
                    f"program data at {addr:#x}..{addr + len(data):#x} does "
                    f"not fit the machine's {size_text(mem_size)} of memory"
                )
            self.mem[addr : addr + len(data)] = np.frombuffer(data, np.uint8)
        for sym in self.buffers.values():
            if sym.addr + sym.nbytes > mem_size:
                raise UsageError(
                    f"buffer {sym.name} ({sym.addr:#x} + {sym.nbytes} bytes) "
                    f"does not fit the machine's {size_text(mem_size)} of memory"
                )
        self._compile()

    # ------------------------------------------------------------ decode once
    def _compile(self):
        from emu.machine.encoding import cfg_value_to_python, decode
        from emu.machine.table import CONFIG_FIELDS, WORD_BYTES

        counts = {"t": len(self.t), "acc": len(self.acc), "s": len(self.s)}
        self.instrs = [decode(w) for w in self.obj.words]
        code = []
        for i, ins in enumerate(self.instrs):
            args, bad, field = [], None, None
            for f, v in zip(ins.op.fields, ins.args):
                k = f.kind.name
                if k in counts and v >= counts[k]:
                    bad = f"bad register {k}{v}: this machine has {k}0..{k}{counts[k] - 1}"
                if k == "target":
                    v = i + v
                elif k == "field":
                    v = field = CONFIG_FIELDS[v]
                elif k == "cfgval":
                    v = cfg_value_to_python(field, v)
                elif f.kind.enum:
                    v = f.kind.enum[v]
                args.append(v)
            if ins.op.mnemonic == "jal":
                args.append((i + 1) * WORD_BYTES)
            fn = HANDLERS[ins.op.mnemonic]
            if bad:
                fn, args = _fault_with, [bad]
            code.append((fn, tuple(args)))
        code.append((_fault_with, ("ran past the last instruction (no halt)",)))
        self.code = code

    def describe(self, index: int) -> str:
        from emu.machine.disasm import format_instr
        from emu.machine.table import WORD_BYTES

        if index >= len(self.instrs):
            return "(end of program)"
        return format_instr(self.instrs[index], index * WORD_BYTES, self.labels)

    def fault(self, index: int, reason: str) -> MachineFault:
        return MachineFault(f"pc={index * 8:#06x}: {self.describe(index)}: {reason}")

    # ------------------------------------------------------------ run
    def run(
        self, max_steps: int = DEFAULT_MAX_STEPS, trace=None, max_macs: int = DEFAULT_MAX_MACS
    ) -> int:
        """Run until ``halt`` (returns its code) or a fault (MachineFault).

        ``trace``: a callable taking one line per executed instruction (the
        instruction and the registers, config fields and memory it changed).
        ``max_steps`` bounds the instructions, ``max_macs`` the multiply-accumulates
        of all MMAs together (an MMA that would pass it faults before it runs)."""
        self.max_macs, self.macs = max_macs, 0
        if trace is not None:
            return self._run_traced(max_steps, trace)
        code, n, pc = self.code, len(self.code) - 1, self.pc
        steps = 0
        try:
            for steps in range(1, max_steps + 1):  # noqa: B007 (read after the loop)
                fn, args = code[pc]
                r = fn(self, *args)
                if r is None:
                    pc += 1
                elif 0 <= r < n:
                    pc = r
                else:
                    raise Fault(f"jump to {r * 8:#x}, outside the program")
        except _Halt:
            self.pc, self.steps = pc, steps
            return self.status
        except Fault as e:
            self.steps = steps
            raise self.fault(pc, str(e)) from None
        self.steps = steps
        raise self.fault(
            pc, f"step limit reached ({max_steps} instructions executed; raise --max-steps)"
        )

    def _run_traced(self, max_steps, trace):
        code, n, pc = self.code, len(self.code) - 1, self.pc
        for steps in range(1, max_steps + 1):  # noqa: B007 (read after the loop)
            fn, args = code[pc]
            before = (list(self.x), list(self.t), list(self.acc), list(self.s), dict(self.cfg))
            self._wrote = None
            halted = False
            try:
                r = fn(self, *args)
                if r is not None and not 0 <= r < n:
                    raise Fault(f"jump to {r * 8:#x}, outside the program")
            except _Halt:
                halted = True
            except Fault as e:
                self.steps = steps
                raise self.fault(pc, str(e)) from None
            text = self.describe(pc)
            changes = self._changes(before)
            trace(f"{pc * 8:#06x}  {text:<44}{'  '.join(changes)}".rstrip())
            if halted:
                self.pc, self.steps = pc, steps
                return self.status
            pc = pc + 1 if r is None else r
        self.steps = max_steps
        raise self.fault(
            pc, f"step limit reached ({max_steps} instructions executed; raise --max-steps)"
        )

    def _changes(self, before):
        from emu.machine.disasm import imm_text

        bx, bt, bacc, bs, bcfg = before
        out = [f"x{i}={imm_text(v)}" for i, v in enumerate(self.x) if v != bx[i]]
        for name, now, was in (("t", self.t, bt), ("acc", self.acc, bacc), ("s", self.s, bs)):
            for i, (a, b) in enumerate(zip(now, was)):
                if a is not b:
                    out.append(f"{name}{i}={_array_text(a)}")
        out += [f"{k}={v}" for k, v in self.cfg.items() if bcfg[k] != v]
        if self._wrote:
            lo, hi = self._wrote
            out.append(f"mem[{lo:#x}..{hi:#x})")
        return out

    # ------------------------------------------------------------ inputs/outputs
    def _buffer(self, name, what):
        sym = self.buffers.get(name)
        if sym is None:
            have = ", ".join(self.buffers) or "none"
            raise UsageError(f"{what}: the program has no buffer {name!r} (buffers: {have})")
        return sym

    def write_buffer(self, name: str, arr, what: str = "input") -> None:
        """Place an array into buffer ``name`` (dtype and shape must match)."""
        from emu.machine.objfile import DTYPES

        sym = self._buffer(name, what)
        storage, accepted = DTYPES[sym.dtype]
        arr = np.asarray(arr)
        shape = "x".join(map(str, sym.shape))
        if arr.dtype.name not in accepted or arr.shape != sym.shape:
            raise UsageError(
                f"{what}: buffer {name} expects a {shape} {sym.dtype} array "
                f"({' or '.join(accepted)}), got {arr.dtype.name} with shape "
                f"{'x'.join(map(str, arr.shape)) or '()'}"
            )
        a = np.ascontiguousarray(arr)
        a = a.view(np.uint8) if a.dtype.itemsize == 1 else a.astype(storage)
        if storage == "u1" and sym.dtype != "u8":  # element and scale codes
            from emu.io import code_problem

            why = code_problem(a, sym.dtype)
            if why:
                raise UsageError(f"{what}: buffer {name} ({sym.dtype}): {why}")
        self.mem[sym.addr : sym.addr + sym.nbytes] = a.reshape(-1).view(np.uint8)

    def read_buffer(self, name: str, what: str = "output") -> np.ndarray:
        """The current contents of buffer ``name`` as a (native-endian) array."""
        from emu.machine.objfile import DTYPES

        sym = self._buffer(name, what)
        storage = np.dtype(DTYPES[sym.dtype][0])
        raw = self.mem[sym.addr : sym.addr + sym.nbytes].copy()
        return raw.view(storage).astype(storage.newbyteorder("="), copy=False).reshape(sym.shape)

    # ------------------------------------------------------------ helpers for handlers
    def config(self) -> MacConfig:
        c = self._config
        if c is None:
            try:
                c = MacConfig(**self.cfg)
            except UsageError as e:
                raise Fault(f"illegal config: {e}") from None
            self._config = c
        return c

    def check_shape(self, what, rows, row_bytes, unit=1):
        if rows < 1 or row_bytes < 1:
            raise Fault(f"{what}: empty shape {rows}x{row_bytes // unit}")
        if rows > self.tile_rows or row_bytes > self.tile_bytes:
            raise Fault(
                f"{what}: shape {rows}x{row_bytes // unit} exceeds the registers' "
                f"{self.tile_rows}x{self.tile_bytes // unit}"
            )

    def span(self, addr, stride, rows, row_bytes, align, store):
        if addr % align or stride % align:
            raise Fault(
                f"misaligned access: address {addr:#x} and stride {stride} must be "
                f"multiples of {align}"
            )
        if stride < 0:
            raise Fault(f"negative row stride {stride}")
        if store and rows > 1 and stride < row_bytes:
            raise Fault(
                f"row stride {stride} is smaller than a row ({row_bytes} bytes): "
                "stored rows would overlap"
            )
        end = addr + (rows - 1) * stride + row_bytes
        if addr < 0 or end > self.mem_size:
            raise Fault(
                f"out-of-bounds access: bytes {addr:#x}..{end:#x} are outside the "
                f"{size_text(self.mem_size)} memory"
            )
        return end

    def load(self, addr, stride, rows, row_bytes, align=1):
        end = self.span(addr, stride, rows, row_bytes, align, False)
        if stride == row_bytes or rows == 1:
            return self.mem[addr:end].reshape(rows, row_bytes).copy()
        return np.lib.stride_tricks.as_strided(
            self.mem[addr:], (rows, row_bytes), (stride, 1)
        ).copy()

    def store(self, addr, stride, data, align=1):
        rows, row_bytes = data.shape
        end = self.span(addr, stride, rows, row_bytes, align, True)
        if stride == row_bytes or rows == 1:
            self.mem[addr:end] = data.reshape(-1)
        else:
            np.lib.stride_tricks.as_strided(
                self.mem[addr:], (rows, row_bytes), (stride, 1), writeable=True
            )[...] = data
        self._wrote = (addr, end)

    def reg(self, regs, prefix, i):
        v = regs[i]
        if v is None:
            raise Fault(f"{prefix}{i} is empty (nothing was loaded into it)")
        return v


def _array_text(a) -> str:
    if a is None:
        return "empty"
    shape = "x".join(map(str, a.shape))
    if a.size <= 4:
        vals = ", ".join(
            repr(float(v)) if a.dtype == np.float32 else f"{int(v):#04x}" for v in a.reshape(-1)
        )
        return f"{shape}[{vals}]"
    return shape


# ============================================================ handlers
# One small function per instruction; args are the decoded fields (enum names,
# absolute target indices).  A return value of None falls through, an int jumps to
# that instruction index; halt raises _Halt.


def _fault_with(m, reason):
    raise Fault(reason)


def _halt(m, code):
    m.status = code
    raise _Halt


def _li(m, rd, imm):
    m.x[rd] = imm
    m.x[0] = 0


def _add(m, rd, rs1, rs2):
    x = m.x
    x[rd] = ((x[rs1] + x[rs2] + _B) & _M) - _B
    x[0] = 0


def _sub(m, rd, rs1, rs2):
    x = m.x
    x[rd] = ((x[rs1] - x[rs2] + _B) & _M) - _B
    x[0] = 0


def _mul(m, rd, rs1, rs2):
    x = m.x
    x[rd] = ((x[rs1] * x[rs2] + _B) & _M) - _B
    x[0] = 0


def _addi(m, rd, rs1, imm):
    x = m.x
    x[rd] = ((x[rs1] + imm + _B) & _M) - _B
    x[0] = 0


def _beq(m, rs1, rs2, target):
    if m.x[rs1] == m.x[rs2]:
        return target


def _bne(m, rs1, rs2, target):
    if m.x[rs1] != m.x[rs2]:
        return target


def _blt(m, rs1, rs2, target):
    if m.x[rs1] < m.x[rs2]:
        return target


def _bge(m, rs1, rs2, target):
    if m.x[rs1] >= m.x[rs2]:
        return target


def _j(m, target):
    return target


def _jal(m, rd, target, ret):
    m.x[rd] = ret
    m.x[0] = 0
    return target


def _jr(m, rs1):
    a = m.x[rs1]
    if a % 8 or a < 0:
        raise Fault(f"jump to {a:#x}: not an instruction address (a multiple of 8)")
    return a // 8


def _lw(m, rd, rs1, imm):
    addr = m.x[rs1] + imm
    m.span(addr, 0, 1, 4, 4, False)
    m.x[rd] = int.from_bytes(m.mem[addr : addr + 4].tobytes(), "little", signed=True)
    m.x[0] = 0


def _sw(m, rs2, rs1, imm):
    addr = m.x[rs1] + imm
    m.span(addr, 0, 1, 4, 4, True)
    m.mem[addr : addr + 4] = np.frombuffer((m.x[rs2] & 0xFFFFFFFF).to_bytes(4, "little"), np.uint8)
    m._wrote = (addr, addr + 4)


def _tld(m, td, rs1, rs2, rows, cols):
    m.check_shape(f"t{td}", rows, cols)
    m.t[td] = m.load(m.x[rs1], m.x[rs2], rows, cols)


def _tst(m, ts, rs1, rs2):
    m.store(m.x[rs1], m.x[rs2], m.reg(m.t, "t", ts))


def _sld(m, sd, rs1, rs2, rows, cols):
    m.check_shape(f"s{sd}", rows, cols)
    m.s[sd] = m.load(m.x[rs1], m.x[rs2], rows, cols)


def _sst(m, ss, rs1, rs2):
    m.store(m.x[rs1], m.x[rs2], m.reg(m.s, "s", ss))


def _ald(m, ad, rs1, rs2, rows, cols):
    m.check_shape(f"acc{ad}", rows, cols * 4, 4)
    raw = m.load(m.x[rs1], m.x[rs2], rows, cols * 4, 4)
    m.acc[ad] = raw.view("<f4").astype(np.float32)
    m.acc_state[ad] = FRESH


def _ast(m, a, rs1, rs2):
    v = m.reg(m.acc, "acc", a).astype("<f4")
    m.store(m.x[rs1], m.x[rs2], v.view(np.uint8), 4)


def _cfg(m, field, value):
    m.cfg[field] = value
    m._config = None


def _cfgp(m, name):
    m.cfg = preset(name).to_dict()
    m._config = None


def _azero(m, ad, rows, cols):
    m.check_shape(f"acc{ad}", rows, cols * 4, 4)
    m.acc[ad] = np.zeros((rows, cols), np.float32)
    m.acc_state[ad] = FRESH


def _chunk_unit(cfg) -> int:
    unit = cfg.fused
    for v in (cfg.promote_every, cfg.scale_block):
        if v:
            unit = unit * v // math.gcd(unit, v)
    return unit


def _mma_core(m, ad, ta, tb, sa, sb):
    from emu.gemm import gemm
    from emu.numerics.operands import n_blocks

    A, B, C = m.reg(m.t, "t", ta), m.reg(m.t, "t", tb), m.reg(m.acc, "acc", ad)
    M, kt = A.shape
    if B.shape[0] != kt:
        raise Fault(
            f"t{ta} is {M}x{kt} and t{tb} is {B.shape[0]}x{B.shape[1]}: their K sizes differ"
        )
    N = B.shape[1]
    if C.shape != (M, N):
        raise Fault(
            f"acc{ad} is {C.shape[0]}x{C.shape[1]}, expected {M}x{N} "
            f"(rows of t{ta} x columns of t{tb})"
        )
    cfg = m.config()
    for reg, T, f in ((f"t{ta}", A, cfg.a_format), (f"t{tb}", B, cfg.b_format)):
        _check_codes(reg, T, f)
    state = m.acc_state[ad]
    if isinstance(state, str):
        raise Fault(
            f"acc{ad} cannot continue its accumulation: {state}; start a new one with azero or ald"
        )
    if cfg.fused == "k":
        if state == CONTINUED:
            raise Fault("fused = k takes the whole K in one step, so K cannot be split across MMAs")
        new = "with fused = k an MMA is a whole accumulation"
    else:
        unit = _chunk_unit(cfg)
        new = (
            CONTINUED
            if kt % unit == 0
            else (
                f"its last MMA had kt = {kt}, not a multiple of {unit} (lcm of fused, "
                f"promote_every, scale_block), so it was the tail of K"
            )
        )
    if sa is not None:
        bs = cfg.scale_block
        if not bs:
            raise Fault("mma.bs needs block scales but the config has scale_block = 0 (use mma)")
        SA, SB = m.reg(m.s, "s", sa), m.reg(m.s, "s", sb)
        nkb = n_blocks(kt, bs)
        want_b = (nkb, n_blocks(N, 128)) if cfg.scale_b_tile else (nkb, N)
        tile = " and scale_b_tile 128" if cfg.scale_b_tile else ""
        for reg, S, want, who in (
            (f"s{sa}", SA, (M, nkb), f"t{ta} ({M}x{kt})"),
            (f"s{sb}", SB, want_b, f"t{tb} ({kt}x{N}){tile}"),
        ):
            if S.shape != want:
                raise Fault(
                    f"{reg} holds {S.shape[0]}x{S.shape[1]} scales; {who} with "
                    f"scale_block {bs} needs {want[0]}x{want[1]}"
                )
    else:
        SA = SB = None
    work = M * N * kt
    if m.macs + work > m.max_macs:
        raise Fault(
            f"work budget reached: {m.macs} MACs done, this {M}x{N}x{kt} MMA would pass "
            f"--max-macs {m.max_macs}"
        )
    m.macs += work
    try:
        D = gemm(A, B, c=C, sa=SA, sb=SB, config=cfg)
    except UsageError as e:
        raise Fault(str(e)) from None
    m.acc[ad] = D
    m.acc_state[ad] = new


def _check_codes(reg, T, fmt):
    """Fault when a tile read as an FP4/FP6 format has a bit set above its codes."""
    from emu.numerics.formats import get_format

    top = (1 << get_format(fmt).bits) - 1
    if top < 0xFF and T.size and int(T.max()) > top:
        at = tuple(int(i) for i in np.argwhere(T > top)[0])
        raise Fault(
            f"{reg} holds {int(T[at]):#04x} at {list(at)}, not an {fmt} code (0..{top:#04x}, "
            "the low bits of a byte)"
        )


def _mma(m, ad, ta, tb):
    _mma_core(m, ad, ta, tb, None, None)


def _mma_bs(m, ad, ta, tb, sa, sb):
    _mma_core(m, ad, ta, tb, sa, sb)


def _quant(m, fmt, mode, td, sd, a, brows, bcols):
    from emu.numerics.quant import quantize

    X = m.reg(m.acc, "acc", a)
    if brows < 1 or bcols < 1:
        raise Fault(f"block {brows}x{bcols}: block sizes must be >= 1")
    codes, scales = quantize(X, fmt, (brows, bcols), mode)
    m.t[td], m.s[sd] = codes, scales


def _cvtr(m, fmt, ovf, mode, td, a):
    from emu.numerics.formats import encode

    X = m.reg(m.acc, "acc", a)
    m.t[td] = encode(fmt, X.astype(np.float64), overflow=ovf, mode=mode)


def _cvt(m, fmt, ovf, td, a):
    _cvtr(m, fmt, ovf, "rne", td, a)


HANDLERS = {
    "halt": _halt,
    "li": _li,
    "add": _add,
    "sub": _sub,
    "mul": _mul,
    "addi": _addi,
    "beq": _beq,
    "bne": _bne,
    "blt": _blt,
    "bge": _bge,
    "j": _j,
    "jal": _jal,
    "jr": _jr,
    "lw": _lw,
    "sw": _sw,
    "tld": _tld,
    "tst": _tst,
    "sld": _sld,
    "sst": _sst,
    "ald": _ald,
    "ast": _ast,
    "cfg": _cfg,
    "cfgp": _cfgp,
    "azero": _azero,
    "mma": _mma,
    "mma.bs": _mma_bs,
    "quant": _quant,
    "cvt": _cvt,
    "cvtr": _cvtr,
}


# ============================================================ convenience
def load_program(source, filename: str = "<input>", defines=None):
    """An ObjectFile from object bytes, assembly text, or an ObjectFile."""
    from emu.machine.asm import assemble, decode_source
    from emu.machine.objfile import ObjectError, ObjectFile, is_object

    if isinstance(source, ObjectFile):
        if defines:
            raise UsageError("-D applies to assembly sources, not object files")
        return source
    if isinstance(source, (bytes, bytearray)):
        if is_object(source):
            if defines:
                raise UsageError(f"{filename}: -D applies to assembly sources, not object files")
            try:
                return ObjectFile.from_bytes(bytes(source))
            except ObjectError as e:
                raise UsageError(f"{filename}: {e}") from None
        source = decode_source(bytes(source), filename)  # file:line:col of a bad byte
    return assemble(source, filename, defines)


def run_program(
    source,
    inputs=None,
    outputs=(),
    *,
    config=None,
    defines=None,
    max_steps=DEFAULT_MAX_STEPS,
    trace=None,
    max_macs=DEFAULT_MAX_MACS,
    filename="<input>",
    **machine,
):
    """Assemble/load, place inputs {name: array}, run, read outputs.

    Returns ``(status, {name: array}, machine)``; raises MachineFault on a fault."""
    obj = load_program(source, filename, defines)
    m = Machine(obj, config=config, **machine)
    for name in outputs:
        m._buffer(name, f"output {name}")
    for name, arr in (inputs or {}).items():
        m.write_buffer(name, arr, f"input {name}")
    status = m.run(max_steps, trace, max_macs)
    return status, {name: m.read_buffer(name) for name in outputs}, m
