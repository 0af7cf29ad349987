"""Run the fp8_dot4 RTL bench: the designer's loop on a real unit, end to end.

  1. ``fp8emu vectors`` writes directed and random vectors for the unit's config
     (one directory per operand format pair);
  2. Icarus Verilog builds fp8_dot4.v (cocotb's Python runner, no Makefile);
  3. the cocotb bench (bench_dot4.py) drives the vectors and random cases through
     the unit, one per clock, with emu.gemm as the scoreboard's golden model;
  4. ``fp8emu validate`` checks the unit's dumps (the text format it reads) against
     the emulator once more, independently of the bench.

Exit status 0 when every case matches in the bench and in validate, 1 when any
differs (the report names the case, its inputs, the expected and the got word),
2 when the tools are missing (run ``bash examples/rtl/setup.sh``).

  python examples/rtl/run.py                 # fp32 unit: must pass
  python examples/rtl/run.py --fault 1       # planted bug: must fail, with a report
  python examples/rtl/run.py --acc16         # the fp16-accumulator variant
"""

from __future__ import annotations

import argparse
import json
import os
import shutil
import subprocess
import sys
import time
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

HERE = Path(__file__).resolve().parent
ROOT = HERE.parent
while not (ROOT / "pyproject.toml").exists() and ROOT != ROOT.parent:
    ROOT = ROOT.parent
PAIRS = ("e4m3_e4m3", "e5m2_e5m2", "e4m3_e5m2", "e5m2_e4m3")  # A format _ B format
SETUP = "bash examples/rtl/setup.sh"


def fp8emu_all(jobs):
    """Run fp8emu command lines (python -m emu.cli ...), as a designer would, two at
    a time; their CompletedProcess objects in order."""

    def one(args):
        cmd = [sys.executable, "-m", "emu.cli", *map(str, args)]
        return subprocess.run(cmd, cwd=ROOT, capture_output=True, text=True)

    with ThreadPoolExecutor(max_workers=2) as pool:
        return list(pool.map(one, jobs))


def main(argv=None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--fault", type=int, default=0, help="FAULT parameter (1: sticky bit lost)")
    ap.add_argument("--acc16", action="store_true", help="ACC16 = 1: fp16 results")
    ap.add_argument("--random", type=int, default=2000, help="random cases of the bench")
    ap.add_argument("--vec-random", type=int, default=200, help="random cases per vector set")
    ap.add_argument("--seed", type=int, default=1)
    ap.add_argument("--no-vectors", action="store_true", help="random cases only")
    ap.add_argument(
        "--pairs",
        default=",".join(PAIRS),
        help="operand format pairs, A_B, comma-separated (default: all four)",
    )
    ap.add_argument("--build", default=str(HERE / "build"), help="build and output folder")
    ap.add_argument("--rtl", default=str(HERE / "fp8_dot4.v"), help="the unit's source")
    ap.add_argument("-v", "--verbose", action="store_true", help="show the simulator's log")
    args = ap.parse_args(argv)
    pairs = [p for p in args.pairs.split(",") if p]
    if not pairs or any(p not in PAIRS for p in pairs):
        ap.error(f"--pairs: expected some of {','.join(PAIRS)}, got {args.pairs!r}")
    # Under pytest the runner would judge the results itself (and exit): we do.
    os.environ.pop("PYTEST_CURRENT_TEST", None)
    if str(HERE) not in sys.path:  # the runner passes sys.path to the simulator's Python
        sys.path.insert(0, str(HERE))

    missing = []
    if shutil.which("iverilog") is None or shutil.which("vvp") is None:
        missing.append("iverilog (Icarus Verilog)")
    try:
        from cocotb_tools.check_results import get_results
        from cocotb_tools.runner import get_runner
    except ImportError:
        missing.append(f"cocotb in {sys.executable}")
    if missing:
        print(f"run.py: missing {' and '.join(missing)}: run `{SETUP}`", file=sys.stderr)
        return 2

    t0 = time.monotonic()
    tag = f"fault{args.fault}_{'fp16' if args.acc16 else 'fp32'}"
    build = Path(args.build).resolve() / tag
    if build.exists():
        shutil.rmtree(build)
    out = build / "out"
    out.mkdir(parents=True)
    acc = ["--set", "acc_format=fp16"] if args.acc16 else []

    # 1. vectors for the unit's config, one directory per format pair
    vec_dirs = [] if args.no_vectors else [str(build / f"vec_{p}") for p in pairs]
    jobs = [
        (
            "vectors",
            "--preset",
            "exact",
            "--set",
            "scale_block=4",
            "--set",
            f"a_format={fa}",
            "--set",
            f"b_format={fb}",
            *acc,
            "--k",
            "4",
            "--random",
            args.vec_random,
            "--seed",
            args.seed,
            "--out",
            d,
        )  # fmt: skip
        for (fa, fb), d in zip((p.split("_") for p in pairs), vec_dirs)
    ]
    for r in fp8emu_all(jobs):
        if r.returncode != 0:
            sys.stderr.write(r.stderr)
            return 2
    t_vec = time.monotonic()

    # 2.-3. build and run the bench
    runner = get_runner("icarus")
    log = build / "sim.log"
    params = {"FAULT": args.fault, "ACC16": int(args.acc16)}
    build_log = build / "build.log"
    try:
        runner.build(
            sources=[Path(args.rtl).resolve()],
            hdl_toplevel="fp8_dot4",
            parameters=params,
            build_dir=build / "sim",
            always=True,
            timescale=("1ns", "1ps"),
            log_file=None if args.verbose else build_log,
        )
    except (RuntimeError, SystemExit) as e:
        print(f"FAIL: the RTL did not build ({e}):", file=sys.stderr)
        if build_log.exists():
            sys.stderr.write(build_log.read_text())
        return 1
    xml = build / "results.xml"
    env = {
        "RTL_OUT": str(out),
        "RTL_RANDOM": str(args.random),
        "RTL_SEED": str(args.seed),
        "RTL_VEC_DIRS": os.pathsep.join(vec_dirs),
        "RTL_ACC16": str(int(args.acc16)),
        "RTL_PAIRS": ",".join(pairs),
    }
    try:
        runner.test(
            test_module="bench_dot4",
            hdl_toplevel="fp8_dot4",
            build_dir=build / "sim",
            test_dir=build,
            extra_env=env,
            results_xml=str(xml),
            log_file=None if args.verbose else log,
        )
    except (RuntimeError, SystemExit):
        pass  # judged from the results below
    t_sim = time.monotonic()
    try:
        n_tests, n_failed = get_results(xml)
    except RuntimeError:
        n_tests, n_failed = 0, 1
    summary_file = out / "summary.json"
    if not summary_file.exists():
        print(f"run.py: the bench did not finish (see {log}):", file=sys.stderr)
        if log.exists():
            sys.stderr.write("".join(log.read_text().splitlines(True)[-40:]))
        return 2 if n_tests == 0 else 1
    summary = json.loads(summary_file.read_text())
    mism = summary["mismatches"]
    print(f"== RTL bench: fp8_dot4 (FAULT={args.fault}, ACC16={int(args.acc16)}) against emu.gemm")
    for s in summary["sets"]:
        print(f"  {s['set']}: {s['cases']} cases, {s['passed']} pass")
    if mism:
        print(f"  FAIL: {len(mism)} of {summary['cases']} cases differ from fp8emu; first 10:")
        for m in mism[:10]:
            print(f"  case {m['case']} ({m['label']}): {m['inputs']}")
            print(f"      expected {m['expected_text']}  got {m['got_text']}")
        if len(mism) > 10:
            print(f"  ... {len(mism) - 10} more (all in {summary_file})")
    elif n_failed:
        print(f"  FAIL: the bench failed (see {log})")
    else:
        print(f"  PASS: all {summary['cases']} cases equal fp8emu bit for bit")

    # 4. fp8emu validate on the unit's dumps
    print("== fp8emu validate on the RTL dumps")
    dirs = [d for s in summary["sets"] for d in s["validate"]]
    jobs = [
        (
            "validate",
            "--config",
            f"{d}/config.toml",
            "--dir",
            d,
            "--d",
            f"{d}/d_rtl.txt",
            "--show",
            "3",
        )  # fmt: skip
        for d in dirs
    ]
    val_ok = True
    for d, r in zip(dirs, fp8emu_all(jobs)):
        lines = r.stdout.strip().splitlines() or [r.stderr.strip()]
        print(f"  {Path(d).relative_to(build)}: {lines[0]}")
        if r.returncode != 0:
            val_ok = False
            for line in lines[1:]:
                print(f"      {line}")
    t_val = time.monotonic()
    ok = not mism and n_failed == 0 and val_ok
    print(
        ("PASS" if ok else "FAIL")
        + f": RTL bench {summary['cases'] - len(mism)} of {summary['cases']} cases equal "
        f"fp8emu; fp8emu validate {'passes' if val_ok else 'fails'} on the dumps"
    )
    print(
        f"time: vectors {t_vec - t0:.1f} s, build + simulation {t_sim - t_vec:.1f} s, "
        f"validate {t_val - t_sim:.1f} s, total {t_val - t0:.1f} s"
    )
    return 0 if ok else 1


if __name__ == "__main__":
    sys.exit(main())
