"""Reproduce the DeepSeek-V3 accumulation-precision observation (DeepSeek-V3
technical report, section 3.3.2): FP8 GEMMs on Hopper tensor cores keep only ~14
bits in the accumulator, so with K = 4096 the result is off by about a percent;
promoting the partial sums to FP32 every 128 values (``deepseek-v3``) fixes it.

Inputs: A (M x 4096) and B (4096 x N) drawn from N(1, 1) (a normal with mean 1, so
no exact result is near zero and the *maximum* relative error is meaningful), quantised
to E4M3 per config (h100: one UE8M0 scale per tensor; deepseek-v3: 1x128 blocks of A,
128x128 tiles of B), both measured against the exact result of their own quantised
inputs.  Also prints the zero-mean N(0, 1) case, where the normwise error is the
meaningful number (element-wise relative errors blow up near zero results).

Asserts: h100's maximum relative error is of the order of 1e-2 (between 3e-3 and
1e-1) and deepseek-v3 cuts it by more than 10x.  Exit status 0 when that holds.
FP8EMU_EXAMPLE_QUICK=1 shrinks M and N (K stays 4096).

Run:  python examples/sweep_deepseek.py
"""

import os
import sys

sys.path.insert(0, os.path.join(os.path.dirname(os.path.abspath(__file__)), ".."))

import emu  # noqa: E402
from emu.toolkit.compare import compare, generate  # noqa: E402

QUICK = os.environ.get("FP8EMU_EXAMPLE_QUICK") == "1"
M = N = 32 if QUICK else 128
K = 4096
CONFIGS = [("h100", emu.preset("h100")), ("deepseek-v3", emu.preset("deepseek-v3"))]


def measure(mean):
    x, y = generate("normal", M, N, K, seed=0, mean=mean)
    rows = compare(CONFIGS, x=x, y=y, scale_mode="floor", references=("exact",))
    return {r["config"]: r for r in rows}


def main() -> int:
    print(f"M = {M}, N = {N}, K = {K}, E4M3 inputs, errors against the exact result")
    print(f"{'inputs':12} {'config':12} {'max_rel':>10} {'median_rel':>11} {'normwise':>10}")
    res = {}
    for label, mean in (("N(1, 1)", 1.0), ("N(0, 1)", 0.0)):
        res[label] = measure(mean)
        for name, r in res[label].items():
            print(
                f"{label:12} {name:12} {r['max_rel']:10.3e} {r['median_rel']:11.3e} "
                f"{r['normwise']:10.3e}"
            )
    h, d = res["N(1, 1)"]["h100"]["max_rel"], res["N(1, 1)"]["deepseek-v3"]["max_rel"]
    ratio = h / d
    print(
        f"N(1, 1): h100 max relative error {h:.2%}, deepseek-v3 {d:.4%}: "
        f"promotion every 128 cuts it {ratio:.0f}x"
    )
    ok = 3e-3 <= h <= 1e-1 and ratio > 10
    print("OK" if ok else "FAILED: expected h100 ~1e-2 and a > 10x improvement")
    return 0 if ok else 1


if __name__ == "__main__":
    sys.exit(main())
