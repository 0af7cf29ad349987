"""Runtime: a program that faults (out-of-bounds or misaligned access, a register the
machine does not have or that is empty, an illegal configuration set by the program,
a jump out of the program, an endless loop) stops ``fp8emu run`` with one line
``fp8emu: error: pc=0x....: <instruction as disassembled>: <reason>``, exit status 2,
traced or not.  (test_machine.py pins the reasons through the Python API; this module
checks the command line and, by fuzzing, that the pc and instruction named are the
ones that faulted.)"""

import re

import numpy as np
import pytest
from hypothesis import HealthCheck, event, given, settings
from hypothesis import strategies as st

from emu.errors import MachineFault
from emu.machine.disasm import format_instr
from emu.machine.encoding import decode
from emu.machine.interp import Machine
from isa import assemble
from tests.helpers import FAULT, ROOT, cli, console, console_process, one_error_line

HEAD = ".data\n.buffer V, f32, 4, 4\n.buffer T, e4m3, 4, 4\n.text\n"

FAULTS = [
    # out of bounds and misaligned
    (
        "li x1, 0xff0\ntld t0, x1, x0, 1, 32\nhalt",
        [],
        "pc=0x0008: tld t0, x1, x0, 1, 32: out-of-bounds access: bytes 0xff0..0x1010 are "
        "outside the 4 KiB memory",
    ),
    (
        "li x1, -4\nsw x1, x1, 0\nhalt",
        [],
        "pc=0x0008: sw x1, x1, 0: out-of-bounds access: bytes -0x4..0x0 are outside the 4 KiB "
        "memory",
    ),
    (
        "li x1, V\nli x2, 2048\nald acc0, x1, x2, 4, 4\nhalt",
        [],
        "pc=0x0010: ald acc0, x1, x2, 4, 4: out-of-bounds access: bytes 0x0..0x1810 are "
        "outside the 4 KiB memory",
    ),
    (
        "li x1, V\nli x2, 16\nald acc0, x1, x2, 4, 4\nli x3, 0xfd0\nast acc0, x3, x2\nhalt",
        [],
        "pc=0x0020: ast acc0, x3, x2: out-of-bounds access: bytes 0xfd0..0x1010 are outside "
        "the 4 KiB memory",
    ),
    (
        "li x1, 2\nlw x5, x1, 0\nhalt",
        [],
        "pc=0x0008: lw x5, x1, 0: misaligned access: address 0x2 and stride 0 must be "
        "multiples of 4",
    ),
    (
        "li x1, V\nli x2, 6\nald acc1, x1, x2, 2, 1\nhalt",
        [],
        "pc=0x0010: ald acc1, x1, x2, 2, 1: misaligned access: address 0x0 and stride 6 must "
        "be multiples of 4",
    ),
    (
        "li x1, -1\ntld t0, x0, x1, 2, 2\nhalt",
        [],
        "pc=0x0008: tld t0, x0, x1, 2, 2: negative row stride -1",
    ),
    # registers
    (
        "tld t8, x0, x0, 1, 1\nhalt",
        [],
        "pc=0x0000: tld t8, x0, x0, 1, 1: bad register t8: this machine has t0..t7",
    ),
    (
        "azero acc8, 1, 1\nhalt",
        [],
        "pc=0x0000: azero acc8, 1, 1: bad register acc8: this machine has acc0..acc7",
    ),
    (
        "sst s3, x0, x0\nhalt",
        [],
        "pc=0x0000: sst s3, x0, x0: s3 is empty (nothing was loaded into it)",
    ),
    (
        "azero acc0, 4, 4\ntld t0, x0, x0, 4, 8\nmma acc0, t0, t1\nhalt",
        [],
        "pc=0x0010: mma acc0, t0, t1: t1 is empty (nothing was loaded into it)",
    ),
    (
        "tld t0, x0, x0, 8, 4\nhalt",
        ["--tile-rows", "4"],
        "pc=0x0000: tld t0, x0, x0, 8, 4: t0: shape 8x4 exceeds the registers' 4x1024",
    ),
    # illegal configuration set by the program, found when an MMA uses it
    (
        "cfg fused, 3\nazero acc0, 1, 1\ntld t0, x0, x0, 1, 4\ntld t1, x0, x0, 4, 1\n"
        "mma acc0, t0, t1\nhalt",
        [],
        "pc=0x0020: mma acc0, t0, t1: illegal config: scale_block (128) must be a multiple of "
        "fused (3) or divide it",
    ),
    (
        "cfgp h100\ncfg acc_format, e11m52\nazero acc0, 1, 1\ntld t0, x0, x0, 1, 4\n"
        "tld t1, x0, x0, 4, 1\nmma acc0, t0, t1\nhalt",
        [],
        "pc=0x0028: mma acc0, t0, t1: illegal config: acc_format 'e11m52': must be an "
        "IEEE-style format that fits in fp32 (at most 8 exponent and 23 fraction bits)",
    ),
    (
        "cfg scale_b_tile, 128\ncfg scale_block, 32\ncfg fused, 32\nazero acc0, 1, 1\n"
        "tld t0, x0, x0, 1, 4\ntld t1, x0, x0, 4, 1\nsld s0, x0, x0, 1, 1\n"
        "mma.bs acc0, t0, t1, s0, s0\nhalt",
        ["--preset", "h100"],
        "pc=0x0038: mma.bs acc0, t0, t1, s0, s0: illegal config: scale_b_tile = 128 requires "
        "scale_block = 128, got 32",
    ),
    # control flow and the step limit
    (
        "loop: addi x1, x1, 1\n      j loop",
        ["--max-steps", "500"],
        "pc=0x0000: addi x1, x1, 1: step limit reached (500 instructions executed; raise "
        "--max-steps)",
    ),
    (
        "loop: addi x1, x1, 1\n      j loop",
        ["--max-steps", "501"],
        "pc=0x0008: j loop: step limit reached (501 instructions executed; raise --max-steps)",
    ),
    ("li x1, 64\njr x1", [], "pc=0x0008: jr x1: jump to 0x40, outside the program"),
    (
        "li x1, 4\njr x1",
        [],
        "pc=0x0008: jr x1: jump to 0x4: not an instruction address (a multiple of 8)",
    ),
    ("j 0x1000", [], "pc=0x0000: j 0x1000: jump to 0x1000, outside the program"),
    ("li x1, 1", [], "pc=0x0008: (end of program): ran past the last instruction (no halt)"),
]


@pytest.mark.parametrize(
    "body, opts, msg", FAULTS, ids=[m.split(": ", 2)[-1][:40] for _, _, m in FAULTS]
)
@pytest.mark.parametrize("trace", [False, True], ids=["plain", "trace"])
def test_faults_stop_the_run_with_pc_instruction_and_reason(tmp_path, body, opts, msg, trace):
    prog = tmp_path / "p.s"
    prog.write_text(HEAD + body + "\n")
    out = tmp_path / "v.npy"
    code, stdout, err = cli(
        "run", prog, "--mem-size", "4K", "--out", f"V={out}", *opts, *(["--trace"] if trace else [])
    )
    assert one_error_line(code, err, FAULT) == msg
    assert not out.exists()
    if trace:  # the instructions before the fault were traced, not the fault
        lines = stdout.splitlines()
        assert all(re.match(r"0x[0-9a-f]{4}  \S", ln) for ln in lines), stdout
        if "step limit" not in msg:  # straight-line programs
            assert not [ln for ln in lines if ln.startswith(msg[3:9] + " ")]
            assert len(lines) == int(msg[3:9], 16) // 8
    else:
        assert stdout == ""


def test_step_limit_counts_exactly_and_a_halt_within_it_succeeds(tmp_path):
    """A loop of 3 instructions run 10 times plus li and halt is 33 steps."""
    prog = tmp_path / "p.s"
    prog.write_text("li x2, 10\nloop: addi x1, x1, 1\nbne x1, x2, loop\nhalt\n")
    assert cli("run", prog, "--max-steps", "22")[0] == 0
    code, _, err = cli("run", prog, "--max-steps", "21")
    assert (
        one_error_line(code, err)
        == "pc=0x0018: halt: step limit reached (21 instructions executed; raise --max-steps)"
    )
    code, _, err = cli("run", prog, "--max-steps", "0")
    assert (
        one_error_line(code, err)
        == "fp8emu run: Invalid value for '--max-steps': 0 is not in the range x>=1."
    )


def test_halt_with_a_status_is_exit_1_not_a_fault(tmp_path):
    prog = tmp_path / "p.s"
    prog.write_text("li x1, 1\nhalt 7\n")
    code, out, err = cli("run", prog)
    assert code == 1 and out == ""
    assert err == "fp8emu: program halted with status 7 (pc=0x0008, 2 instructions)\n"


def test_endless_loop_through_the_console_entry_point(tmp_path):
    """The real entry point: the default step limit is not needed to stop a loop."""
    prog = tmp_path / "spin.s"
    prog.write_text("spin: j spin\n")
    code, out, err = console("run", prog, "--max-steps", "100000")
    assert (
        out == ""
        and one_error_line(code, err)
        == "pc=0x0000: j spin: step limit reached (100000 instructions executed; raise --max-steps)"
    )


# ------------------------------------------------------------------ fuzzing
REG = st.sampled_from(["x0", "x1", "x2", "x3"])
TILE = st.integers(0, 9).map(lambda i: f"t{i}")
ACC = st.integers(0, 9).map(lambda i: f"acc{i}")
SCALE = st.integers(0, 9).map(lambda i: f"s{i}")
IMM = st.sampled_from([0, 1, 2, 3, 4, 8, 16, 64, 128, 4095, -1, -8, 2**31 - 1, -(2**31)])
DIM = st.sampled_from([0, 1, 2, 3, 4, 32, 33, 128, 4095])
CFG = st.sampled_from(
    [
        "fused, 1",
        "fused, 3",
        "fused, k",
        "align_bits, exact",
        "align_bits, 2000",
        "acc_format, e2m1",
        "acc_format, bf16",
        "a_format, fp32",
        "b_format, e5m2",
        "scale_block, 32",
        "scale_block, 7",
        "scale_apply, promotion",
        "scale_b_tile, 128",
        "promote_every, 32",
        "promote_format, e4m3",
        "acc_round, ru",
        "acc_subnormals, false",
    ]
)
INSTR = st.one_of(
    st.tuples(st.just("li"), REG, IMM),
    st.tuples(st.just("addi"), REG, REG, IMM),
    st.tuples(st.just("mul"), REG, REG, REG),
    st.tuples(st.just("lw"), REG, REG, IMM),
    st.tuples(st.just("sw"), REG, REG, IMM),
    st.tuples(st.just("tld"), TILE, REG, REG, DIM, DIM),
    st.tuples(st.just("tst"), TILE, REG, REG),
    st.tuples(st.just("sld"), SCALE, REG, REG, DIM, DIM),
    st.tuples(st.just("ald"), ACC, REG, REG, DIM, DIM),
    st.tuples(st.just("ast"), ACC, REG, REG),
    st.tuples(st.just("azero"), ACC, DIM, DIM),
    st.tuples(st.just("mma"), ACC, TILE, TILE),
    st.tuples(st.just("mma.bs"), ACC, TILE, TILE, SCALE, SCALE),
    st.tuples(st.just("quant.e4m3.ceil"), TILE, SCALE, ACC, DIM, DIM),
    st.tuples(st.just("cvt.e5m2.nonsat"), TILE, ACC),
    st.tuples(st.just("cfg"), CFG),
    st.tuples(st.just("cfgp"), st.sampled_from(["h100", "deepseek-v3", "exact", "mxfp8"])),
    st.tuples(st.just("jr"), REG),
    st.tuples(st.just("j"), st.sampled_from(["top", "end"])),
    st.tuples(st.just("bne"), REG, REG, st.just("top")),
    st.tuples(st.just("halt"), IMM),
).map(lambda t: t[0] + " " + ", ".join(map(str, t[1:])) if len(t) > 1 else t[0])


@st.composite
def PROLOGUE(draw):
    """Loaded operands of matching shapes, so that the body's MMAs get to the config
    and chunking checks (M x K tiles, K x N, scales for block 32 or 128)."""
    M, N = draw(st.integers(1, 3)), draw(st.integers(1, 3))
    K = draw(st.sampled_from([1, 4, 32, 33, 128, 160]))
    kb = draw(st.sampled_from([-(-K // 128), -(-K // 32), 2]))
    return [
        f"azero acc0, {M}, {N}",
        f"tld t0, x0, x0, {M}, {K}",
        f"tld t1, x0, x0, {K}, {N}",
        f"sld s0, x0, x0, {M}, {kb}",
        f"sld s1, x0, x0, {kb}, {N}",
        "mma acc0, t0, t1" if draw(st.booleans()) else "mma.bs acc0, t0, t1, s0, s1",
    ]


PROLOGUE = PROLOGUE()


@settings(
    max_examples=150,
    deadline=None,
    suppress_health_check=[HealthCheck.too_slow, HealthCheck.filter_too_much],
)
@given(
    st.one_of(st.just([]), PROLOGUE),
    st.lists(INSTR, min_size=1, max_size=12),
    st.binary(min_size=1, max_size=200),
)
def test_fuzzed_programs_fault_at_the_instruction_they_name(prologue, body, data):
    """Random programs over random memory (NaN codes included): they halt, or fault
    with the pc of the instruction that faulted and its disassembly; traced and
    plain runs agree."""
    src = (
        "\n".join(prologue)
        + "\ntop:\n"
        + "\n".join(body)
        + "\nend: halt\n.data\n.byte "
        + ", ".join(str(b) for b in data)
        + "\n"
    )
    try:
        obj = assemble(src, "f.s")
    except Exception as e:  # an immediate out of range: not this test's subject
        assert type(e).__name__ == "AsmError"
        return
    results = []
    for trace in (None, [].append):
        m = Machine(obj, mem_size=1 << 12, tile_rows=256, tile_bytes=256)
        try:
            results.append(("halt", m.run(200, trace)))
            event("halt")
        except MachineFault as e:
            msg = str(e)
            f = re.fullmatch(FAULT, msg)
            assert f, msg
            pc = int(msg[3 : msg.index(":")], 16)
            assert pc % 8 == 0 and pc // 8 <= len(obj.words)
            labels = {s.addr: s.name for s in obj.symbols if s.kind == "code"}
            want = (
                "(end of program)"
                if pc // 8 == len(obj.words)
                else format_instr(decode(obj.words[pc // 8]), pc, labels)
            )
            assert f.group(1) == want, (msg, want)
            results.append(("fault", msg))
            event(f.group(2).split(":")[0][:30])
    assert results[0] == results[1]


def test_machine_state_before_the_fault_is_what_the_program_did():
    """The fault stops at the faulting instruction: earlier stores are in memory."""
    src = ".data\n.buffer V, u32, 2\n.text\nli x1, 7\nsw x1, x0, 0\nsw x1, x0, 5\nhalt\n"
    m = Machine(assemble(src, "s.s"), mem_size=64)
    with pytest.raises(MachineFault, match=r"pc=0x0010: sw x1, x0, 5: misaligned access"):
        m.run(100)
    assert m.read_buffer("V").tolist() == [7, 0] and m.steps == 3
    assert np.array_equal(m.mem[4:8], np.zeros(4, np.uint8))


def test_broken_pipe_stops_quietly_with_141():
    """`fp8emu run --trace ... | head -1`: the reader goes away; fp8emu stops with the
    shell's SIGPIPE status (141, not 1 = "differences found") and prints nothing."""
    p = console_process("run", ROOT / "examples" / "rounding_probe.s", "--trace", cwd=ROOT)
    assert p.stdout.readline().startswith(b"0x0000")
    p.stdout.close()
    err = p.stderr.read()
    assert p.wait(timeout=120) == 141
    assert err == b""


MMA_LOOP = (
    ".data\n.buffer T, e4m3, 16, 64\n.text\n    cfgp h100\n"
    "    tld t0, x0, x0, 16, 64\n    tld t1, x0, x0, 64, 16\n    azero acc0, 16, 16\n"
    "loop:\n    mma acc0, t0, t1\n    j loop\n"
)


@pytest.mark.parametrize("trace", [False, True], ids=["plain", "trace"])
def test_work_budget_stops_a_loop_of_mmas(tmp_path, trace):
    """Each MMA is 16 x 16 x 64 = 16384 MACs: with --max-macs 50000 the fourth one
    faults before it runs (3 * 16384 = 49152 done), long before --max-steps."""
    prog = tmp_path / "p.s"
    prog.write_text(MMA_LOOP)
    code, _, err = cli("run", prog, "--max-macs", "50000", *(["--trace"] if trace else []))
    assert one_error_line(code, err, FAULT) == (
        "pc=0x0020: mma acc0, t0, t1: work budget reached: 49152 MACs done, this "
        "16x16x64 MMA would pass --max-macs 50000"
    )
    assert cli("run", prog, "--max-macs", "0")[0] == 2  # must be >= 1


@pytest.mark.slow
def test_default_work_budget_stops_a_runaway_loop_of_large_mmas(tmp_path):
    """The default budget (2**34 MACs) ends an endless loop of the largest MMAs
    (256 x 256 x 256, 2**24 MACs each, random data) at the 1025th, far from the
    step limit."""
    from emu.machine.interp import DEFAULT_MAX_MACS

    prog = tmp_path / "big.s"
    prog.write_text(
        MMA_LOOP.replace("16, 64", "256, 256")
        .replace("64, 16", "256, 256")
        .replace("16, 16", "256, 256")
    )
    data = tmp_path / "t.npy"
    np.save(data, np.random.default_rng(0).integers(0, 0x70, (256, 256), dtype=np.uint8))
    code, _, err = cli("run", prog, "--mem-size", "1M", "--in", f"T={data}")
    done = (DEFAULT_MAX_MACS // 2**24) * 2**24
    assert one_error_line(code, err, FAULT) == (
        f"pc=0x0020: mma acc0, t0, t1: work budget reached: {done} MACs done, this "
        f"256x256x256 MMA would pass --max-macs {DEFAULT_MAX_MACS}"
    )
