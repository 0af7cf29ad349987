"""MacConfig (spec table and section 3): field names, presets, TOML, validation."""

import dataclasses
import tomllib

import pytest

import emu
from emu.errors import UsageError
from emu.numerics.config import FIELD_NAMES, MacConfig, coerce, preset, presets, resolve

# spec/numerics.md, the table at the top, in its order
SPEC_FIELDS = (
    "a_format",
    "b_format",
    "fused",
    "align_bits",
    "align_round",
    "acc_format",
    "acc_round",
    "acc_subnormals",
    "c_in_alignment",
    "scale_block",
    "scale_apply",
    "scale_b_tile",
    "promote_every",
    "promote_format",
    "promote_round",
    # section 5.2, named by the spec
    "scale_format",
    "zero_exp",
    "overflow",
    "zero_sign",
    "group",
    # section 5.2, the CDNA3 datapath: fields of our design (docs/numerics.md)
    "lanes",
    "lane_round",
    "join_bits",
    "join_round",
    "norm_bits",
    "norm_round",
)

# spec section 3, one row per preset (fields the table leaves open keep the defaults:
# e4m3 operands, align_round rz, subnormals kept, promote fp32 rne)
COMMON = dict(
    a_format="e4m3",
    b_format="e4m3",
    align_round="rz",
    acc_subnormals=True,
    c_in_alignment=True,
    scale_apply="product",
    scale_b_tile=0,
    promote_every=0,
    promote_format="fp32",
    promote_round="rne",
    scale_format="ue8m0",
    zero_exp="drop",
    overflow="ieee",
    zero_sign="ieee",
    group=1,
    lanes=1,
    lane_round="rz",
    join_bits="exact",
    join_round="rz",
    norm_bits="exact",
    norm_round="rz",
)
# spec section 5.3: the NVIDIA conventions
NVIDIA = dict(zero_exp=-7, overflow="inf", zero_sign="positive")
ROWS = {
    "exact": dict(fused="k", align_bits="exact", acc_format="fp32", acc_round="rne", scale_block=0),
    "fp32-seq": dict(
        fused=1, align_bits="exact", acc_format="fp32", acc_round="rne", scale_block=0
    ),
    "h100": dict(
        NVIDIA, fused=32, align_bits=13, acc_format="e8m13", acc_round="rz", scale_block=0
    ),
    "ada": dict(
        NVIDIA,
        fused=16,
        align_bits=13,
        acc_format="e8m13",
        acc_round="rz",
        scale_block=0,
        zero_exp=-6,
    ),
    "b200": dict(fused=32, align_bits=31, acc_format="fp32", acc_round="rne", scale_block=0),
    "mxfp8": dict(
        NVIDIA, fused=32, align_bits=25, acc_format="fp32", acc_round="rz", scale_block=32
    ),
    "deepseek-v3": dict(  # the h100 datapath: its conventions too (decision 24)
        NVIDIA,
        fused=32,
        align_bits=13,
        acc_format="e8m13",
        acc_round="rz",
        scale_block=128,
        scale_b_tile=128,
        scale_apply="promotion",
        promote_every=128,
        promote_format="fp32",
        promote_round="rne",
    ),
    "default": dict(
        fused=32,
        align_bits=25,
        acc_format="fp32",
        acc_round="rne",
        scale_block=128,
        scale_apply="product",
    ),
    "b200-tcgen05": dict(
        NVIDIA, fused=32, align_bits=25, acc_format="fp32", acc_round="rz", scale_block=0
    ),
    "b200-mxf4": dict(
        NVIDIA,
        a_format="e2m1",
        b_format="e2m1",
        fused=64,
        group=16,
        scale_block=32,
        align_bits=35,
        acc_format="fp32",
        acc_round="rz",
        zero_exp=-13,
    ),
    "b200-nvfp4": dict(
        NVIDIA,
        a_format="e2m1",
        b_format="e2m1",
        fused=64,
        group=16,
        scale_block=16,
        scale_format="ue4m3",
        align_bits=35,
        acc_format="fp32",
        acc_round="rz",
        zero_exp=-13,
    ),
    "cdna3": dict(
        a_format="e4m3fnuz",
        b_format="e4m3fnuz",
        fused=16,
        align_bits=24,
        acc_format="fp32",
        acc_round="rne",
        c_in_alignment=False,
        scale_block=0,
        lanes=2,
        lane_round="rd",
        join_bits=32,
        join_round="rd",
        norm_bits=31,
        norm_round="rd",
        zero_sign="positive",
    ),
}


def test_field_names_are_the_spec_table():
    assert FIELD_NAMES == SPEC_FIELDS
    assert tuple(f.name for f in dataclasses.fields(MacConfig)) == SPEC_FIELDS


@pytest.mark.parametrize("name", list(ROWS))
def test_preset_values(name):
    want = {**COMMON, **ROWS[name]}
    assert preset(name).to_dict() == want
    assert preset(name) == MacConfig(**want)


def test_preset_list_and_descriptions():
    assert set(presets()) == set(ROWS)
    for name, desc in presets().items():
        assert isinstance(desc, str) and 20 <= len(desc) <= 200, name
        assert "\n" not in desc and desc == desc.strip(), name
    assert preset("default") == MacConfig()  # the default machine
    assert emu.preset("H100 ") == preset("h100")  # names: case/space-insensitive
    with pytest.raises(UsageError, match="unknown preset 'h200'.*h100"):
        preset("h200")


def test_config_is_frozen_and_hashable():
    c = preset("h100")
    with pytest.raises(dataclasses.FrozenInstanceError):
        c.fused = 16
    assert len({preset("h100"), preset("h100"), preset("ada")}) == 2


# ------------------------------------------------------------------ TOML
@pytest.mark.parametrize("name", list(ROWS))
def test_toml_round_trip(name, tmp_path):
    c = preset(name)
    text = c.to_toml()
    assert len(text.splitlines()) == len(SPEC_FIELDS)
    assert tomllib.loads(text) == c.to_dict()  # flat table, native types
    p = tmp_path / f"{name}.toml"
    p.write_text(text)
    assert MacConfig.from_toml(p) == c


def test_toml_text_of_h100():
    assert preset("h100").to_toml() == (
        'a_format = "e4m3"\nb_format = "e4m3"\nfused = 32\nalign_bits = 13\n'
        'align_round = "rz"\nacc_format = "e8m13"\nacc_round = "rz"\n'
        "acc_subnormals = true\nc_in_alignment = true\nscale_block = 0\n"
        'scale_apply = "product"\nscale_b_tile = 0\npromote_every = 0\n'
        'promote_format = "fp32"\npromote_round = "rne"\nscale_format = "ue8m0"\n'
        'zero_exp = -7\noverflow = "inf"\nzero_sign = "positive"\ngroup = 1\nlanes = 1\n'
        'lane_round = "rz"\njoin_bits = "exact"\njoin_round = "rz"\nnorm_bits = "exact"\n'
        'norm_round = "rz"\n'
    )


def test_toml_partial_and_preset_key(tmp_path):
    p = tmp_path / "c.toml"
    p.write_text("align_bits = 16\nacc_subnormals = false\n")
    assert MacConfig.from_toml(p) == MacConfig(align_bits=16, acc_subnormals=False)
    p.write_text('preset = "h100"\nalign_bits = "exact"\nfused = "k"\n')
    assert MacConfig.from_toml(p) == preset("h100").replace(align_bits="exact", fused="k")


@pytest.mark.parametrize(
    "content,match",
    [
        (None, r"missing\.toml: cannot read config"),
        ("fused = = 3", r"c\.toml: malformed TOML"),
        ("[a\nb", r"c\.toml: malformed TOML"),
        (b"\xff\xfe\x00", r"c\.toml: malformed TOML: not UTF-8"),
        ("nosuch = 1", r"c\.toml: unknown config field 'nosuch'"),
        ("fused = 1.5", r"c\.toml: fused: expected an integer or 'k', got 1\.5"),
        ("fused = 0", r"c\.toml: fused must be an integer >= 1"),
        ('acc_round = "rn"', r"c\.toml: acc_round must be one of rz, rne, ru, rd"),
        ("acc_subnormals = 3", r"c\.toml: acc_subnormals: expected true or false"),
        ('a_format = "e3m4"', r"c\.toml: a_format must be one of e4m3, e5m2"),
        ("acc_format = 7", r"c\.toml: acc_format: expected a string"),
        ('preset = "nope"', r"c\.toml: unknown preset 'nope'"),
        ("preset = 3", r"c\.toml: preset: expected a preset name"),
        ("[section]\nfused = 3", r"c\.toml: unknown config field 'section'"),
    ],
)
def test_from_toml_errors(tmp_path, content, match):
    p = tmp_path / ("missing.toml" if content is None else "c.toml")
    if isinstance(content, bytes):
        p.write_bytes(content)
    elif content is not None:
        p.write_text(content)
    with pytest.raises(UsageError, match=match) as e:
        MacConfig.from_toml(p)
    assert "\n" not in str(e.value)
    if content is None:
        assert "No such file" in str(e.value)


def test_from_toml_directory(tmp_path):
    with pytest.raises(UsageError, match="cannot read config"):
        MacConfig.from_toml(tmp_path)


# ------------------------------------------------------------------ validation
@pytest.mark.parametrize(
    "base,changes,match",
    [
        ("default", dict(fused=24), r"scale_block \(128\) must be a multiple of fused \(24\)"),
        ("h100", dict(promote_every=48), r"promote_every \(48\) must be a multiple of fused"),
        (
            "deepseek-v3",
            dict(promote_every=256),
            r"scale_apply = 'promotion' requires promote_every == scale_block \(256 != 128\)",
        ),
        ("default", dict(scale_apply="promotion"), r"requires promote_every == scale_block"),
        (
            "default",
            dict(scale_b_tile=128, scale_block=32),
            r"scale_b_tile = 128 requires scale_block = 128, got 32",
        ),
        ("h100", dict(scale_b_tile=128), r"scale_b_tile = 128 requires scale_block = 128"),
        ("default", dict(scale_b_tile=64), r"scale_b_tile must be 0 or 128"),
        ("default", dict(scale_b_tile=128.0), r"scale_b_tile must be an integer"),
        ("default", dict(a_format="e4m3fn"), r"a_format must be one of e4m3, e5m2"),
        ("default", dict(b_format="fp16"), r"b_format must be one of e4m3, e5m2"),
        ("default", dict(acc_format="fp64"), r"unknown format 'fp64'"),
        ("default", dict(acc_format="e4m3"), r"acc_format 'e4m3': must be an IEEE-style"),
        ("default", dict(acc_format="e9m10"), r"fits in fp32"),
        ("default", dict(promote_format="e8m24"), r"promote_format 'e8m24'"),
        ("default", dict(acc_format=["fp32"]), r"acc_format must be a name"),
        ("default", dict(acc_round="rn"), r"acc_round must be one of rz, rne, ru, rd"),
        ("default", dict(promote_round="nearest"), r"promote_round must be one of"),
        ("default", dict(align_round="ru"), r"align_round must be one of rz, rne, rna"),
        ("default", dict(scale_apply="tensor"), r"scale_apply must be product or promotion"),
        ("default", dict(fused=0), r"fused must be an integer >= 1 or 'k', got 0"),
        ("default", dict(fused=-32), r"fused must be an integer >= 1"),
        ("default", dict(fused="all"), r"fused must be an integer >= 1 or 'k'"),
        ("default", dict(fused=True), r"fused must be an integer"),
        ("default", dict(align_bits=-1), r"align_bits must be an integer >= 0 or 'exact'"),
        ("default", dict(align_bits=2.5), r"align_bits must be an integer"),
        ("default", dict(scale_block=-128), r"scale_block must be an integer >= 0"),
        ("h100", dict(promote_every=-32), r"promote_every must be an integer >= 0"),
        ("default", dict(acc_subnormals="yes"), r"acc_subnormals must be true or false"),
        ("default", dict(c_in_alignment=1), r"c_in_alignment must be true or false"),
        ("exact", dict(promote_every=32), r"fused = 'k'.*cannot be combined with promote_every"),
        (
            "default",
            dict(fused="k", scale_apply="promotion"),
            r"requires promote_every == scale_block",
        ),
        ("default", dict(nosuch=1), r"unknown config field 'nosuch'"),
    ],
)
def test_replace_validation(base, changes, match):
    with pytest.raises(UsageError, match=match):
        preset(base).replace(**changes)


def test_replace_accepts_legal_combinations():
    c = preset("h100").replace(promote_every=128)
    assert c.promote_every == 128 and c.fused == 32
    c = preset("default").replace(fused="k")  # scales per product, one step
    assert c.k_fused and c.scale_block == 128
    c = preset("deepseek-v3").replace(scale_block=256, promote_every=256, scale_b_tile=0)
    assert c.scale_apply == "promotion"
    assert preset("exact").exact_align and not preset("h100").exact_align
    c = MacConfig(acc_format=" E8M13", a_format="E5M2", fused="K", acc_round="RZ")
    assert (c.acc_format, c.a_format, c.fused, c.acc_round) == ("e8m13", "e5m2", "k", "rz")
    assert MacConfig(align_bits=0).align_bits == 0
    assert MacConfig(align_bits=1024).align_bits == 1024  # spec: any int >= 0
    with pytest.raises(UsageError, match="align_bits must be at most 1024"):
        MacConfig(align_bits=1025)


def test_wide_alignment_windows_agree_and_reach_exact():
    """align_bits beyond the fast kernel's float64 window (> ~45) runs on the general
    kernel and equals the reference; 570 bits keep everything, like 'exact'."""
    import numpy as np

    from emu import reference

    rng = np.random.default_rng(8)
    a = rng.integers(0, 0x7C, (3, 96)).astype(np.uint8)
    b = rng.integers(0, 0x7C, (96, 2)).astype(np.uint8)
    a[rng.random(a.shape) < 0.5] |= 0x80
    sa = rng.integers(0, 255, (3, 3)).astype(np.uint8)
    sb = rng.integers(0, 255, (3, 2)).astype(np.uint8)
    c = np.array([[1e-40, 3e38], [-1.0, 0.0], [2.0**-100, 7.0]], np.float32)
    base = preset("mxfp8").replace(a_format="e5m2", b_format="e5m2")
    for bits in (49, 100, 570):
        cfg = base.replace(align_bits=bits)
        k = emu.gemm(a, b, c=c, sa=sa, sb=sb, config=cfg)
        r = reference.gemm(a, b, c=c, sa=sa, sb=sb, config=cfg)
        assert np.array_equal(k.view(np.uint32), r.view(np.uint32)), bits
    ex = emu.gemm(a, b, c=c, sa=sa, sb=sb, config=base.replace(align_bits="exact"))
    assert np.array_equal(k.view(np.uint32), ex.view(np.uint32))


# ------------------------------------------------------------------ --set
def test_with_sets_parsing():
    c = preset("h100")
    assert c.with_sets(["fused=k"]).fused == "k"
    assert c.with_sets(["fused = K"]).fused == "k"
    assert c.with_sets(["align_bits=exact"]).align_bits == "exact"
    assert c.with_sets(["align_bits=16"]).align_bits == 16
    assert c.with_sets(["align_bits=016"]).align_bits == 16  # decimal, not octal
    assert c.with_sets(["acc_subnormals=false"]).acc_subnormals is False
    assert c.with_sets(["acc_subnormals=False", "c_in_alignment=0"]).c_in_alignment is False
    assert c.with_sets(["acc_format=FP16", "acc_round=rne"]).acc_format == "fp16"
    assert c.with_sets([]) is c
    # several fields at once are validated together (one alone would be illegal)
    d = preset("default").with_sets(
        ["scale_block=32", "fused=16", "promote_every=32", "scale_apply=promotion"]
    )
    assert (d.scale_block, d.fused, d.promote_every) == (32, 16, 32)


@pytest.mark.parametrize(
    "sets,match",
    [
        (["fused"], r"--set 'fused': expected field=value"),
        (["nosuch=1"], r"--set 'nosuch=1': unknown field 'nosuch'"),
        (["fused=x"], r"--set 'fused=x': fused: expected an integer or 'k', got 'x'"),
        (["align_bits=1.5"], r"--set 'align_bits=1.5': align_bits: expected an integer"),
        (["acc_subnormals=maybe"], r"acc_subnormals: expected true or false, got 'maybe'"),
        (["fused=0"], r"--set fused=0: fused must be an integer >= 1"),
        (["acc_round=up"], r"--set acc_round=up: acc_round must be one of"),
        (["fused=24"], r"--set fused=24: scale_block \(128\) must be a multiple of fused"),
    ],
)
def test_with_sets_errors(sets, match):
    with pytest.raises(UsageError, match=match):
        preset("default").with_sets(sets)


def test_coerce_and_resolve(tmp_path):
    assert coerce("fused", "K") == "k" and coerce("fused", 8) == 8
    assert coerce("scale_block", "0x80") == 128
    assert coerce("acc_subnormals", "YES") is True
    with pytest.raises(UsageError):
        coerce("scale_block", True)
    with pytest.raises(UsageError):
        coerce("nosuch", 1)
    assert resolve() == MacConfig()
    assert resolve("ada", None, ["acc_round=rne"]) == preset("ada").replace(acc_round="rne")
    p = tmp_path / "x.toml"
    p.write_text(preset("mxfp8").to_toml())
    assert resolve(None, p, ["align_bits=13"]) == preset("mxfp8").replace(align_bits=13)
    with pytest.raises(UsageError, match="not both"):
        resolve("h100", p)
