"""cocotb bench of fp8_dot4.v with fp8emu as the scoreboard's golden model.

Run it with run.py (which builds the RTL, writes the fp8emu vectors, runs this bench
and validates the dumps); the settings come from the environment:

  RTL_OUT       directory for summary.json and the validate dumps (required)
  RTL_RANDOM    number of random cases (default 2000), RTL_SEED their seed (1)
  RTL_VEC_DIRS  directories written by ``fp8emu vectors`` (os.pathsep-separated)
  RTL_ACC16     1 when the unit was built with ACC16 = 1 (fp16 results)
  RTL_PAIRS     format pairs of the random cases, e.g. e4m3_e4m3,e5m2_e4m3 (all)

Every case is driven on a falling edge, one per clock (in_valid = 1); the unit
registers its result on the next rising edge and the bench samples d on the falling
edge after it.  Each result is compared, all 32 bits, with emu.gemm's (dot4_cases.
golden); a mismatch is logged with the case, its inputs, the expected and the got
word, and the test fails at the end with the first mismatches.
"""

from __future__ import annotations

import json
import os

import cocotb
import dot4_cases as dc
import numpy as np
from cocotb.clock import Clock
from cocotb.triggers import FallingEdge, RisingEdge

SHOW = 10  # mismatches listed in the failure message
LOG = 20  # mismatches logged one by one (the rest are counted)


def _sets(acc16: bool) -> list[dc.CaseSet]:
    sets = []
    for d in filter(None, os.environ.get("RTL_VEC_DIRS", "").split(os.pathsep)):
        sets.append(dc.vector_cases(d, acc16))
    n = int(os.environ.get("RTL_RANDOM", "2000"))
    if n:
        pairs = [p.split("_") for p in os.environ.get("RTL_PAIRS", "").split(",") if p]
        seed = int(os.environ.get("RTL_SEED", "1"))
        sets.append(dc.random_cases(n, seed, acc16, pairs=pairs or None))
    return sets


@cocotb.test()
async def dot4_matches_fp8emu(dut):
    """Every case: the unit's d equals fp8emu's, bit for bit."""
    acc16 = os.environ.get("RTL_ACC16", "0") == "1"
    out_dir = os.environ["RTL_OUT"]
    sets = _sets(acc16)
    for cs in sets:  # the golden model first: a wrong bench fails before any RTL runs
        cs.golden = dc.golden(cs)
        if cs.expected is not None and not np.array_equal(cs.golden, cs.expected):
            i = int(np.flatnonzero(cs.golden != cs.expected)[0])
            raise AssertionError(
                f"{cs.labels[i]}: d.txt says {dc.word(cs.expected[i])}, emu.gemm "
                f"{dc.word(cs.golden[i])}: the vectors were made under another config"
            )

    cocotb.start_soon(Clock(dut.clk, 10, unit="ns").start())
    dut.rst_n.value = 0
    dut.in_valid.value = 0
    for name in ("a_e5m2", "b_e5m2", "a", "b", "sa", "sb", "c"):
        getattr(dut, name).value = 0
    for _ in range(2):
        await RisingEdge(dut.clk)
    await FallingEdge(dut.clk)
    dut.rst_n.value = 1

    mismatches, summary = [], []
    total = 0
    for cs in sets:
        got = np.zeros(len(cs), np.uint32)
        raw = [""] * len(cs)  # d as the simulator gave it (32 of 0 / 1 / X / Z)
        for i in range(len(cs) + 1):
            if i < len(cs):
                for port, v in cs.ports(i).items():
                    getattr(dut, port).value = v
                dut.in_valid.value = 1
            else:
                dut.in_valid.value = 0
            await FallingEdge(dut.clk)  # one rising edge later: case i registered
            if i == len(cs):
                break
            if str(dut.out_valid.value) != "1":
                raise AssertionError(f"{cs.labels[i]}: out_valid is not 1 one clock after in_valid")
            v = dut.d.value
            raw[i] = str(v)
            if v.is_resolvable:
                got[i] = v.to_unsigned()
                if got[i] == cs.golden[i]:
                    continue
                got_text = dc.word(got[i])
            else:
                got_text = f"{raw[i]} (not all 0/1)"
            m = dict(
                case=total + i,
                set=cs.name,
                index=i,
                label=cs.labels[i],
                inputs=cs.describe(i),
                expected=f"0x{int(cs.golden[i]):08X}",
                got=f"0x{int(got[i]):08X}" if v.is_resolvable else raw[i],
                expected_text=dc.word(cs.golden[i]),
                got_text=got_text,
            )
            mismatches.append(m)
            if len(mismatches) <= LOG:
                dut._log.error(
                    "MISMATCH case %d (%s): %s: expected %s, got %s",
                    m["case"],
                    m["label"],
                    m["inputs"],
                    m["expected_text"],
                    m["got_text"],
                )
        await FallingEdge(dut.clk)
        if str(dut.out_valid.value) != "0":
            raise AssertionError("out_valid is not 0 one clock after in_valid went low")
        bad = sum(m["set"] == cs.name for m in mismatches)
        dut._log.info("%s: %d cases, %d pass, %d differ", cs.name, len(cs), len(cs) - bad, bad)
        # The dumps in fp8emu validate's text format (run.py validates them).
        if cs.expected is not None:  # beside the vectors' own files
            dirs = [cs.source]
            with open(os.path.join(cs.source, "d_rtl.txt"), "w") as fh:
                fh.writelines(r + "\n" for r in raw)
        else:
            dirs = dc.write_validate_dir(cs, raw, os.path.join(out_dir, cs.name))
        summary.append(dict(set=cs.name, cases=len(cs), passed=len(cs) - bad, validate=dirs))
        total += len(cs)

    with open(os.path.join(out_dir, "summary.json"), "w") as fh:
        json.dump(dict(sets=summary, cases=total, mismatches=mismatches), fh, indent=1)
    if mismatches:
        lines = [f"{len(mismatches)} of {total} cases differ from fp8emu; first {SHOW}:"]
        lines += [
            f"  case {m['case']} ({m['label']}): {m['inputs']}: expected "
            f"{m['expected_text']}, got {m['got_text']}"
            for m in mismatches[:SHOW]
        ]
        raise AssertionError("\n".join(lines))
    dut._log.info("PASS: all %d cases equal fp8emu bit for bit", total)
