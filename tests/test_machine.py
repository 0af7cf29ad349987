"""The machine: scalar semantics, memory, MMA chunking (bit-equal to emu.gemm),
quantise/convert, faults, trace and the run command."""

import math

import numpy as np
import pytest

import emu
from emu.errors import MachineFault, UsageError
from emu.machine.interp import Machine, run_program
from emu.numerics.formats import encode
from emu.numerics.operands import n_blocks
from tests.helpers import ROOT, assert_bits_equal, cli


def run(src, inputs=None, outputs=(), **kw):
    return run_program(src, inputs, outputs, filename="p.s", **kw)


def fault(src, **kw):
    with pytest.raises(MachineFault) as e:
        run(src, **kw)
    return str(e.value)


# --------------------------------------------------------------------- scalar
def test_scalar_arithmetic_wraps_and_x0_is_zero():
    _, _, m = run("""
        li x0, 5
        li x1, 0x7fffffff
        li x2, -3
        mul x3, x1, x1
        mul x3, x3, x3          ; wraps modulo 2^64
        add x4, x1, x2
        sub x5, x2, x1
        addi x6, x0, -1
        mul x7, x6, x6
        add x0, x1, x1
        halt
    """)
    big = ((0x7FFFFFFF**4 + (1 << 63)) % (1 << 64)) - (1 << 63)
    assert m.x[:8] == [0, 0x7FFFFFFF, -3, big, 0x7FFFFFFC, -0x80000002, -1, 1]


def test_branches_calls_and_loops():
    _, _, m = run("""
        li x1, 0            ; i
        li x2, 10
        li x3, 0            ; sum
    loop:
        jal x31, addi_sub   ; call
        addi x1, x1, 1
        blt x1, x2, loop
        bge x1, x2, next
        halt 9
    next:
        beq x1, x2, out
        halt 8
    addi_sub:
        add x3, x3, x1
        jr x31
    out:
        bne x1, x1, out
        j fin
        halt 7
    fin: halt
    """)
    assert m.status == 0 and m.x[3] == 45 and m.x[31] == 0x20


def test_word_loads_sign_extend_and_stores_write_memory():
    _, out, m = run(
        """
        .data
    v:  .word 0xbf800000, 5
    .buffer W, i32, 2
        .text
        lw x1, x0, v
        lw x2, x0, v + 4
        li x3, W
        sw x1, x3, 0
        addi x2, x2, 1
        sw x2, x3, 4
        halt
    """,
        outputs=["W"],
    )
    assert m.x[1] == 0xBF800000 - (1 << 32) and m.x[2] == 6
    assert out["W"].tolist() == [-0x40800000, 6]


def test_halt_status_and_steps():
    st, _, m = run("li x1, 1\nhalt 42\n")
    assert st == 42 and m.steps == 2


# --------------------------------------------------------------------- tiles
def test_tile_scale_and_acc_loads_and_stores_with_strides():
    x = np.arange(48, dtype=np.float32).reshape(6, 8)
    codes = np.arange(64, dtype=np.uint8).reshape(8, 8)
    _, out, _ = run(
        """
        .data
    .buffer X, f32, 6, 8
    .buffer T, u8, 8, 8
    .buffer Y, f32, 6, 8
    .buffer U, u8, 8, 8
        .text
        li x1, X + 4        ; column 1
        li x2, 64           ; every other row
        ald acc0, x1, x2, 3, 2
        li x3, Y
        li x4, 32
        ast acc0, x3, x4    ; packed rows 0..2 of Y, 2 values each... at stride 32
        li x5, T + 8
        li x6, 0            ; stride 0 repeats one row
        tld t0, x5, x6, 2, 8
        li x7, U
        li x8, 16
        tst t0, x7, x8
        li x5, T
        li x6, 9            ; the diagonal, as a column
        sld s0, x5, x6, 8, 1
        li x7, U + 1
        li x8, 8
        sst s0, x7, x8
        halt
    """,
        dict(X=x, T=codes),
        ["Y", "U"],
    )
    y = np.zeros((6, 8), np.float32)
    y[0:3, 0:2] = x[0:6:2, 1:3]
    assert_bits_equal(out["Y"], y)
    u = np.zeros((8, 8), np.uint8)
    u[0] = u[2] = codes[1]
    u[:, 1] = np.diag(codes)
    assert np.array_equal(out["U"], u)


# --------------------------------------------------------------------- MMA chunking
def kloop_source(M, N, K, kt, cfg, scaled):
    """An unrolled K loop: D = C + A.B in MMAs over K tiles of kt (the last may be a
    tail), on buffers A (MxK), B (KxN), C, D, SA, SB."""
    bs = cfg.scale_block
    nkb = n_blocks(K, bs) if bs else 1
    sbc = n_blocks(N, 128) if cfg.scale_b_tile else N
    lines = [
        ".data",
        f".buffer A, u8, {M}, {K}",
        f".buffer B, u8, {K}, {N}",
        f".buffer C, f32, {M}, {N}",
        f".buffer D, f32, {M}, {N}",
        f".buffer SA, ue8m0, {M}, {nkb}",
        f".buffer SB, ue8m0, {nkb}, {sbc}",
        ".text",
        f"li x1, {K}",
        f"li x2, {N}",
        f"li x3, {nkb}",
        f"li x4, {sbc}",
        f"li x5, {N * 4}",
        "li x10, C",
        f"ald acc0, x10, x5, {M}, {N}",
    ]
    for k0 in range(0, K, kt):
        kc = min(kt, K - k0)
        lines += [
            f"li x11, A + {k0}",
            f"tld t0, x11, x1, {M}, {kc}",
            f"li x12, B + {k0 * N}",
            f"tld t1, x12, x2, {kc}, {N}",
        ]
        if scaled:
            lines += [
                f"li x13, SA + {k0 // bs}",
                f"sld s0, x13, x3, {M}, {n_blocks(kc, bs)}",
                f"li x14, SB + {k0 // bs * sbc}",
                f"sld s1, x14, x4, {n_blocks(kc, bs)}, {sbc}",
                "mma.bs acc0, t0, t1, s0, s1",
            ]
        else:
            lines.append("mma acc0, t0, t1")
    lines += ["li x15, D", "ast acc0, x15, x5", "halt"]
    return "\n".join(lines) + "\n"


def kloop_data(rng, M, N, K, cfg):
    def codes(shape):  # finite codes of both e4m3 and e5m2, both signs
        return (rng.integers(0, 0x78, shape) | rng.integers(0, 2, shape) << 7).astype(np.uint8)

    a, b = codes((M, K)), codes((K, N))
    c = (rng.standard_normal((M, N)) * 4).astype(np.float32)
    c[0, 0] = np.float32(1 + 2.0**-20)  # not representable in e8m13
    c[0, 1] = -0.0
    sa = sb = None
    if cfg.scale_block:
        nkb = n_blocks(K, cfg.scale_block)
        sa = rng.integers(122, 132, (M, nkb)).astype(np.uint8)
        sb = rng.integers(122, 132, (nkb, n_blocks(N, 128) if cfg.scale_b_tile else N)).astype(
            np.uint8
        )
    return a, b, c, sa, sb


CHUNK_CASES = [
    # (config, K, kt)
    ("default", 296, 128),
    ("default", 640, 256),
    ("h100", 103, 32),
    ("h100", 103, 64),
    ("ada", 80, 48),
    ("b200", 96, 32),
    ("fp32-seq", 10, 3),
    ("mxfp8", 101, 64),
    ("deepseek-v3", 306, 128),
    ("deepseek-v3", 512, 256),
    (dict(base="h100", promote_every=64), 202, 64),
    (dict(base="h100", promote_every=64, c_in_alignment=False, align_round="rne"), 150, 128),
    (
        dict(
            base="default",
            a_format="e5m2",
            acc_format="bf16",
            acc_round="rd",
            fused=16,
            scale_block=32,
        ),
        100,
        32,
    ),
    (
        dict(base="deepseek-v3", scale_b_tile=0, promote_format="e8m13", promote_round="rz"),
        300,
        128,
    ),
    (dict(base="mxfp8", scale_apply="promotion", promote_every=32, acc_subnormals=False), 96, 64),
]


def _cfg(spec):
    if isinstance(spec, str):
        return emu.preset(spec)
    spec = dict(spec)
    return emu.preset(spec.pop("base")).replace(**spec)


@pytest.mark.parametrize("spec, K, kt", CHUNK_CASES, ids=lambda v: str(v))
def test_k_loop_of_mmas_equals_one_gemm_bit_for_bit(spec, K, kt):
    cfg = _cfg(spec)
    rng = np.random.default_rng(K * 7 + kt)
    M, N = 4, 8
    a, b, c, sa, sb = kloop_data(rng, M, N, K, cfg)
    scaled = bool(cfg.scale_block)
    inputs = dict(A=a, B=b, C=c)
    if scaled:
        inputs.update(SA=sa, SB=sb)
    _, out, _ = run(kloop_source(M, N, K, kt, cfg, scaled), inputs, ["D"], config=cfg)
    want = emu.gemm(a, b, c=c, sa=sa, sb=sb, config=cfg)
    assert_bits_equal(out["D"], want, f"{spec} K={K} kt={kt}")


def test_unscaled_mma_on_a_scaled_config_uses_scale_one():
    cfg = emu.preset("default")
    rng = np.random.default_rng(3)
    a, b, c, _, _ = kloop_data(rng, 4, 8, 256, cfg)
    _, out, _ = run(kloop_source(4, 8, 256, 128, cfg, False), dict(A=a, B=b, C=c), ["D"])
    assert_bits_equal(out["D"], emu.gemm(a, b, c=c, config=cfg))


def test_config_set_by_the_program_overrides_the_initial_one():
    cfg = emu.preset("h100").replace(align_bits=20, acc_format="fp32")
    rng = np.random.default_rng(5)
    a, b, c, _, _ = kloop_data(rng, 4, 8, 64, cfg)
    src = kloop_source(4, 8, 64, 32, cfg, False).replace(
        ".text\n", ".text\ncfgp h100\ncfg align_bits, 20\ncfg acc_format, fp32\n"
    )
    _, out, _ = run(src, dict(A=a, B=b, C=c), ["D"], config=emu.preset("exact"))
    assert_bits_equal(out["D"], emu.gemm(a, b, c=c, config=cfg))


MMA_SETUP = """
    .data
    .buffer A, u8, 4, 512
    .buffer B, u8, 512, 4
    .text
    li x1, A
    li x2, 512
    li x3, B
    li x4, 4
    azero acc0, 4, 4
"""


@pytest.mark.parametrize(
    "body, preset, msg",
    [
        (
            "tld t0, x1, x2, 4, 96\ntld t1, x3, x4, 96, 4\nmma acc0, t0, t1\nmma acc0, t0, t1",
            "default",
            "mma acc0, t0, t1: acc0 cannot continue its accumulation: its last MMA had "
            "kt = 96, not a multiple of 128 (lcm of fused, promote_every, scale_block), "
            "so it was the tail of K; start a new one with azero or ald",
        ),
        (
            "tld t0, x1, x2, 4, 64\ntld t1, x3, x4, 64, 4\nmma acc0, t0, t1\nmma acc0, t0, t1",
            "exact",
            "acc0 cannot continue its accumulation: with fused = k an MMA is a whole accumulation",
        ),
        (
            "tld t0, x1, x2, 4, 32\ntld t1, x3, x4, 32, 4\nmma acc0, t0, t1\nmma acc0, t0, t1",
            "h100",
            None,
        ),
    ],
)
def test_chunking_rule_is_enforced(body, preset, msg):
    src = MMA_SETUP + body + "\nhalt\n"
    if msg is None:
        assert run(src, config=emu.preset(preset))[0] == 0
    else:
        assert msg in fault(src, config=emu.preset(preset))


def test_azero_or_ald_restarts_an_ended_accumulation():
    src = MMA_SETUP + (
        "tld t0, x1, x2, 4, 96\ntld t1, x3, x4, 96, 4\nmma acc0, t0, t1\n"
        "azero acc0, 4, 4\nmma acc0, t0, t1\nhalt\n"
    )
    assert run(src)[0] == 0


# --------------------------------------------------------------------- quant / cvt
ELEMENTS = ["e4m3", "e5m2", "e2m1", "e2m3", "e3m2", "e4m3fnuz", "e5m2fnuz", "e4m3ieee"]
# ceil's S of an all-zero block: ceil(log2(1e-4 / max_elem)) (spec 2.5), as a code
CEIL_ZERO = dict(e4m3=127 - 22, e5m2=127 - 29, e2m1=127 - 15, e2m3=127 - 16, e3m2=127 - 18,
                 e4m3fnuz=127 - 21, e5m2fnuz=127 - 29, e4m3ieee=127 - 21)  # fmt: skip
# a NaN block's elements: the positive canonical NaN, +0 in FP4/FP6 (no NaN code)
NAN_BLOCK = dict(e4m3=0x7F, e5m2=0x7E, e2m1=0, e2m3=0, e3m2=0, e4m3fnuz=0x80, e5m2fnuz=0x80,
                 e4m3ieee=0x7C)  # fmt: skip


def test_the_isa_elements_are_the_tables():
    from emu.machine.table import ELEMENTS as isa_elements

    assert list(isa_elements) == ELEMENTS


@pytest.mark.parametrize("fmt", ELEMENTS)
@pytest.mark.parametrize("mode", ["floor", "ceil", "rceil", "even"])
def test_quant_equals_emu_quantize(fmt, mode):
    rng = np.random.default_rng(11)
    x = (rng.standard_normal((4, 64)) * np.exp2(rng.integers(-20, 20, (4, 1)))).astype(np.float32)
    x[0, :32] = 0
    x[1, 3] = np.inf
    x[2, 5] = np.nan
    src = f"""
        .data
    .buffer X, f32, 4, 64
    .buffer Q, u8, 4, 64
    .buffer S, ue8m0, 4, 2
    .buffer Q2, u8, 4, 64
    .buffer S2, ue8m0, 2, 1
        .text
        li x1, X
        li x2, 256
        ald acc0, x1, x2, 4, 64
        quant.{fmt}.{mode} t0, s0, acc0, 1, 32
        quant.{fmt}.{mode} t1, s1, acc0, 2, 64
        li x3, 64
        li x4, Q
        tst t0, x4, x3
        li x4, Q2
        tst t1, x4, x3
        li x4, S
        li x5, 2
        sst s0, x4, x5
        li x4, S2
        li x5, 1
        sst s1, x4, x5
        halt
    """
    _, out, _ = run(src, dict(X=x), ["Q", "S", "Q2", "S2"])
    for (q, s), block in (((out["Q"], out["S"]), (1, 32)), ((out["Q2"], out["S2"]), (2, 64))):
        wq, ws = emu.quantize(x, fmt, block, mode)
        assert np.array_equal(q, wq) and np.array_equal(s, ws), (block, mode)
    # amax = 0 gives code 0, except ceil: S = ceil(log2(1e-4 / max_elem)) (spec 2.5)
    zero_block = CEIL_ZERO[fmt] if mode == "ceil" else 0
    assert out["S"][0, 0] == zero_block and out["S"][1, 0] == 0xFF  # Inf -> NaN scale
    assert out["S2"][1, 0] == 0xFF and np.all(out["Q"][1, :32] == NAN_BLOCK[fmt])


@pytest.mark.parametrize("fmt", ELEMENTS)
@pytest.mark.parametrize("ovf", ["sat", "nonsat"])
def test_cvt_equals_encode(fmt, ovf):
    x = np.array([[0.0, -0.0, 1.0, 464.0, 1e6, -1e6, np.inf, np.nan, 2.0**-17, 0.3]], np.float32)
    src = f"""
        .data
    .buffer X, f32, 1, 10
    .buffer Q, u8, 1, 10
        .text
        li x1, X
        ald acc0, x1, x0, 1, 10
        cvt.{fmt}.{ovf} t0, acc0
        li x1, Q
        tst t0, x1, x0
        halt
    """
    _, out, _ = run(src, dict(X=x), ["Q"])
    assert np.array_equal(out["Q"], encode(fmt, x.astype(np.float64), overflow=ovf))
    if fmt == "e4m3":
        assert out["Q"][0, 3] == 0x7E and out["Q"][0, 4] == (0x7E if ovf == "sat" else 0x7F)


# --------------------------------------------------------------------- faults
@pytest.mark.parametrize(
    "src, msg",
    [
        (
            "li x1, 0x3fffff0\ntld t0, x1, x0, 1, 32\nhalt",
            "pc=0x0008: tld t0, x1, x0, 1, 32: out-of-bounds access: "
            "bytes 0x3fffff0..0x4000010 are outside the 64 MiB memory",
        ),
        ("li x1, -8\nlw x2, x1, 0\nhalt", "pc=0x0008: lw x2, x1, 0: out-of-bounds access"),
        (
            "li x1, 2\nald acc0, x1, x0, 1, 1\nhalt",
            "pc=0x0008: ald acc0, x1, x0, 1, 1: misaligned access: "
            "address 0x2 and stride 0 must be multiples of 4",
        ),
        ("li x1, 4\nsw x1, x1, 2\nhalt", "misaligned access: address 0x6"),
        (
            "mma acc0, t9, t1\nhalt",
            "pc=0x0000: mma acc0, t9, t1: bad register t9: this machine has t0..t7",
        ),
        (
            "tst t3, x0, x0\nhalt",
            "pc=0x0000: tst t3, x0, x0: t3 is empty (nothing was loaded into it)",
        ),
        (
            "azero acc0, 2, 2\ntld t0, x0, x0, 2, 3\ntld t1, x0, x0, 4, 2\nmma acc0, t0, t1\nhalt",
            "t0 is 2x3 and t1 is 4x2: their K sizes differ",
        ),
        (
            "azero acc0, 2, 3\ntld t0, x0, x0, 2, 4\ntld t1, x0, x0, 4, 2\nmma acc0, t0, t1\nhalt",
            "acc0 is 2x3, expected 2x2 (rows of t0 x columns of t1)",
        ),
        ("tld t0, x0, x0, 257, 4\nhalt", "t0: shape 257x4 exceeds the registers' 256x1024"),
        ("azero acc0, 1, 257\nhalt", "acc0: shape 1x257 exceeds the registers' 256x256"),
        ("tld t0, x0, x0, 0, 4\nhalt", "t0: empty shape 0x4"),
        (
            "li x1, 1\ntld t0, x0, x0, 2, 2\ntst t0, x0, x1\nhalt",
            "row stride 1 is smaller than a row (2 bytes): stored rows would overlap",
        ),
        (
            "cfg scale_apply, promotion\nazero acc0, 1, 1\ntld t0, x0, x0, 1, 4\n"
            "tld t1, x0, x0, 4, 1\nmma acc0, t0, t1\nhalt",
            "pc=0x0020: mma acc0, t0, t1: illegal config: scale_apply = 'promotion' requires "
            "promote_every == scale_block (0 != 128)",
        ),
        (
            "cfg a_format, fp32\nazero acc0, 1, 1\ntld t0, x0, x0, 1, 4\ntld t1, x0, x0, 4, 1\n"
            "mma acc0, t0, t1\nhalt",
            "illegal config: a_format must be one of e4m3, e5m2",
        ),
        (
            "cfgp h100\nazero acc0, 1, 1\ntld t0, x0, x0, 1, 4\ntld t1, x0, x0, 4, 1\n"
            "sld s0, x0, x0, 1, 1\nmma.bs acc0, t0, t1, s0, s0\nhalt",
            "mma.bs needs block scales but the config has scale_block = 0 (use mma)",
        ),
        (
            "azero acc0, 2, 2\ntld t0, x0, x0, 2, 4\ntld t1, x0, x0, 4, 2\nsld s0, x0, x0, 2, 2\n"
            "sld s1, x0, x0, 1, 2\nmma.bs acc0, t0, t1, s0, s1\nhalt",
            "s0 holds 2x2 scales; t0 (2x4) with scale_block 128 needs 2x1",
        ),
        (
            "cfgp deepseek-v3\nazero acc0, 2, 2\ntld t0, x0, x0, 2, 4\ntld t1, x0, x0, 4, 2\n"
            "sld s0, x0, x0, 2, 1\nsld s1, x0, x0, 1, 2\nmma.bs acc0, t0, t1, s0, s1\nhalt",
            "s1 holds 1x2 scales; t1 (4x2) and scale_b_tile 128 with scale_block 128 needs 1x1",
        ),
        (
            "azero acc0, 1, 1\nquant.e4m3.floor t0, s0, acc0, 0, 1\nhalt",
            "block 0x1: block sizes must be >= 1",
        ),
        (
            "top: j top",
            "pc=0x0000: j top: step limit reached (1000 instructions executed; raise --max-steps)",
        ),
        ("j 0x100", "pc=0x0000: j 0x100: jump to 0x100, outside the program"),
        ("j -0x8", "jump to -0x8, outside the program"),
        ("li x1, 3\njr x1", "pc=0x0008: jr x1: jump to 0x3: not an instruction address"),
        ("li x1, 1", "pc=0x0008: (end of program): ran past the last instruction (no halt)"),
    ],
)
def test_faults_name_pc_instruction_and_reason(src, msg):
    got = fault(src, max_steps=1000)
    assert msg in got, got
    assert got.startswith("pc=0x")


def test_fault_with_trace_has_the_same_message():
    lines = []
    with pytest.raises(MachineFault, match="pc=0x0008: lw x2, x1, 0: out-of-bounds"):
        run("li x1, -8\nlw x2, x1, 0\nhalt", trace=lines.append)
    assert lines == ["0x0000  li x1, -8                                   x1=-8"]


def test_machine_parameters_bound_registers_and_memory():
    src = ".data\n.buffer A, u8, 1024\n.text\nli x1, A\ntld t0, x1, x0, 1, 512\nhalt\n"
    with pytest.raises(MachineFault, match="exceeds the registers' 8x256"):
        run(src, tile_rows=8, tile_bytes=256)
    with pytest.raises(UsageError, match="buffer A .* does not fit the machine's 512 bytes"):
        run(src, mem_size=512)
    with pytest.raises(MachineFault, match="bad register t2: this machine has t0..t1"):
        run("tld t2, x0, x0, 1, 1\nhalt", n_tiles=2)
    with pytest.raises(UsageError, match="tile_rows must be an integer in 1..4095"):
        Machine(run("halt")[2].obj, tile_rows=0)


def test_inputs_must_match_buffer_dtype_and_shape():
    src = ".data\n.buffer A, e4m3, 2, 3\n.buffer F, f32, 2\n.text\nhalt\n"
    import ml_dtypes

    ok = np.zeros((2, 3), ml_dtypes.float8_e4m3fn)
    run(src, dict(A=ok, F=np.ones(2, np.float32)))
    with pytest.raises(
        UsageError,
        match="buffer A expects a 2x3 e4m3 array \\(uint8 or "
        "float8_e4m3fn\\), got float32 with shape 2x3",
    ):
        run(src, dict(A=np.zeros((2, 3), np.float32)))
    with pytest.raises(UsageError, match="got uint8 with shape 3x2"):
        run(src, dict(A=np.zeros((3, 2), np.uint8)))
    with pytest.raises(UsageError, match="no buffer 'Z' \\(buffers: A, F\\)"):
        run(src, dict(Z=ok))


# --------------------------------------------------------------------- trace
def test_trace_prints_each_instruction_and_what_it_changed():
    lines = []
    run(
        """
        .data
    .buffer V, f32, 1, 2
    v:  .float 1.5, -2
        .text
        li x5, v
        cfg acc_format, bf16
        ald acc1, x5, x0, 1, 2
        li x6, V
        ast acc1, x6, x0
        li x5, 0x12345
        halt
    """,
        trace=lines.append,
    )
    assert [ln.rstrip() for ln in lines] == [
        "0x0000  li x5, 8                                    x5=8",
        "0x0008  cfg acc_format, bf16                        acc_format=bf16",
        "0x0010  ald acc1, x5, x0, 1, 2                      acc1=1x2[1.5, -2.0]",
        "0x0018  li x6, 0",
        "0x0020  ast acc1, x6, x0                            mem[0x0..0x8)",
        "0x0028  li x5, 0x12345                              x5=0x12345",
        "0x0030  halt",
    ]


# --------------------------------------------------------------------- probe program
def test_rounding_probe_program_gives_the_spec_section_4_numbers():
    src = (ROOT / "examples" / "rounding_probe.s").read_text()
    status, out, _ = run(src, outputs=["R"])
    assert status == 0
    assert out["R"].astype(float).tolist() == [
        1.0,
        1 + 3 * 2.0**-15,
        1.0,
        1 + 2.0**-13,
        1.0,
        1 + 2.0**-14,
    ]


def test_probe_program_detects_a_wrong_machine():
    """b200 (31 alignment bits, fp32) keeps probe 0's 3*2^-15: the program halts 1."""
    src = (
        (ROOT / "examples" / "rounding_probe.s")
        .read_text()
        .replace(
            "    jal x31, probe\n    cfgp exact",
            "    cfgp b200\n    jal x31, probe\n    cfgp exact",
            1,
        )
    )
    status, out, m = run(src, outputs=["R"])
    assert status == 1 and m.describe(m.pc) == "halt 1"
    assert out["R"][0] == np.float32(1 + 3 * 2.0**-15)


# --------------------------------------------------------------------- run command
PROG = """
    .data
    .buffer X, f32, 2
    .buffer Y, f32, 2
    .text
    li x1, X
    ald acc0, x1, x0, 1, 2
    li x2, Y
    ast acc0, x2, x0
    lw x3, x1, 0
    li x4, 0x40400000        ; 3.0
    beq x3, x4, bad
    halt
bad: halt 5
"""


def test_run_command_inputs_outputs_and_status(tmp_path):
    prog = tmp_path / "p.s"
    prog.write_text(PROG)
    x, y = tmp_path / "x.npy", tmp_path / "y.npy"
    np.save(x, np.array([1.5, -2], np.float32))
    assert cli("run", prog, "--in", f"X={x}", "--out", f"Y={y}")[0] == 0
    assert np.load(y).tolist() == [1.5, -2.0]
    np.save(x, np.array([3, 4], np.float32))
    code, _, err = cli("run", prog, "--in", f"X={x}", "--out", f"Y={y}")
    assert code == 1
    assert np.load(y).tolist() == [3.0, 4.0]  # outputs are written after halt N
    assert "program halted with status 5" in err
    binp = tmp_path / "p.bin"
    assert cli("asm", prog, "-o", binp)[0] == 0
    code, out, _ = cli("run", binp, "--in", f"X={x}", "--trace")
    assert code == 1
    out = out.splitlines()
    assert out[1].split() == [
        "0x0008",
        "ald",
        "acc0,",
        "x1,",
        "x0,",
        "1,",
        "2",
        "acc0=1x2[3.0,",
        "4.0]",
    ]
    assert out[-2:] == ["0x0030  beq x3, x4, bad", "0x0040  halt 5"]


def test_run_command_faults_write_nothing_and_exit_2(tmp_path):
    prog = tmp_path / "p.s"
    prog.write_text(".data\n.buffer Y, f32, 1\n.text\nli x1, 1\nlw x2, x1, 0\nhalt\n")
    y = tmp_path / "y.npy"
    code, _, err = cli("run", prog, "--out", f"Y={y}")
    assert code == 2
    assert (
        err == "fp8emu: error: pc=0x0008: lw x2, x1, 0: misaligned access: address 0x1 and "
        "stride 0 must be multiples of 4\n"
    )
    assert not y.exists()
    code, _, err = cli("run", prog, "--out", "Y")
    assert code == 2 and "--out 'Y': expected NAME=FILE.npy" in err
    code, _, err = cli("run", prog, "--out", f"Q={y}")
    assert code == 2 and "--out Q: the program has no buffer 'Q' (buffers: Y)" in err
    code, _, err = cli("run", prog, "--mem-size", "lots")
    assert code == 2 and "--mem-size 'lots': expected a size" in err
    code, _, err = cli("run", prog, "--preset", "nope")
    assert code == 2 and "unknown preset 'nope'" in err


def test_run_command_config_options_set_the_initial_config(tmp_path):
    cfg = emu.preset("h100").replace(align_bits=16)
    rng = np.random.default_rng(9)
    a, b, c, _, _ = kloop_data(rng, 4, 8, 64, cfg)
    prog = tmp_path / "k.s"
    prog.write_text(kloop_source(4, 8, 64, 32, cfg, False))
    args = []
    for name, arr in dict(A=a, B=b, C=c).items():
        np.save(tmp_path / f"{name}.npy", arr)
        args += ["--in", f"{name}={tmp_path / f'{name}.npy'}"]
    d = tmp_path / "d.npy"
    assert (
        cli(
            "run",
            prog,
            *args,
            "--out",
            f"D={d}",
            "--preset",
            "h100",
            "--set",
            "align_bits=16",
            "--mem-size",
            "1M",
            "--tile-rows",
            "32",
        )[0]
        == 0
    )
    assert_bits_equal(np.load(d), emu.gemm(a, b, c=c, config=cfg))
    assert not math.isnan(float(np.load(d)[0, 0]))


def test_cvtr_converts_with_every_rounding_mode():
    """cvtr.FMT.OVF.MODE: cvt with a rounding mode; on e4m3 ties rna and rne differ."""
    from emu.machine.interp import run_program
    from emu.numerics.formats import ROUND_MODES, encode

    x = np.array([[1.0625, 1.1875, -1.0625, 500.0, -3.3, 2.0**-10]], np.float32)
    for mode in ROUND_MODES:
        src = (
            ".data\n.buffer X, f32, 1, 6\n.buffer Y, e4m3, 1, 6\n.text\n"
            "li x1, X\nli x2, 24\nald acc0, x1, x2, 1, 6\n"
            f"cvtr.e4m3.sat.{mode} t0, acc0\nli x1, Y\nli x2, 6\ntst t0, x1, x2\nhalt\n"
        )
        status, out, _ = run_program(src, {"X": x}, ["Y"])
        assert status == 0
        assert out["Y"].tolist() == encode("e4m3", x.astype(np.float64), mode=mode).tolist()
    rna = encode("e4m3", x.astype(np.float64), mode="rna")[0, :3].tolist()
    assert rna == [0x39, 0x3A, 0xB9]  # ties away: 1.125, 1.25, -1.125
    assert encode("e4m3", x.astype(np.float64))[0, :3].tolist() == [0x38, 0x3A, 0xB8]
