"""All of tfdis's performance ratios, side by side in one run.

  python benchmarks/performance.py                    # everything (~25 min)
  python benchmarks/performance.py --sections=train,udr
  python benchmarks/performance.py --torch_python=/path/to/venv/bin/python

Sections (each also runs alone as its own script):

* ``train`` (benchmarks/train_speed.py): ``tfdis_train`` end to end in
  float32, mixed_bfloat16 and auto_mixed_bfloat16, the bare compiled step,
  and a PyTorch eager step of the same network when an interpreter with torch is given
  (``--torch_python``; torch is not a tfdis requirement) — ratios are
  tfdis / torch;
* ``metrics`` (benchmarks/metric_cache_speed.py): BetaVAE + FactorVAE + MIG
  and the whole default suite at the published counts on one model on the
  full procedural dSprites grid, rendering and encoding every sample vs the
  encode-once row cache (and a check that the scores are identical);
* ``udr`` (benchmarks/udr_speed.py): UDR of 50 models, the former per-pair
  threaded lasso vs today's one serial fit per model; optionally DCI at
  dlib's counts with sequential vs parallel fits (``--dci``).

Speed-ups are baseline time / new time (or tfdis rate / torch rate). Run on
a quiet machine: the sections run one after the other, so a load that
changes during the run moves the ratios.
"""

from __future__ import annotations

import argparse
import os
import sys

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
sys.path.insert(0, os.path.dirname(os.path.dirname(os.path.abspath(__file__))))

SECTIONS = ("train", "metrics", "udr")


def main(argv=None) -> int:
  p = argparse.ArgumentParser(description=__doc__.split("\n")[0])
  p.add_argument("--sections", default=",".join(SECTIONS))
  p.add_argument("--torch_python", default=None)
  p.add_argument("--model_dir", default=None,
                 help="metrics section: a model on procedural_dsprites "
                 "(default: train one for 200 steps)")
  p.add_argument("--headline_only", action="store_true",
                 help="metrics section: skip the whole default suite")
  p.add_argument("--dci", action="store_true",
                 help="udr section: also DCI at dlib's counts (~13 min)")
  args = p.parse_args(argv)
  sections = [s for s in args.sections.split(",") if s]
  unknown = sorted(set(sections) - set(SECTIONS))
  if unknown:
    p.error(f"unknown sections {unknown}; choose from {', '.join(SECTIONS)}")
  load = os.getloadavg()[0]
  if "train" in sections:
    import train_speed

    print("== training (value, ratio to PyTorch eager) ==")
    print(train_speed.format_rows(
        train_speed.run(torch_python=args.torch_python)), flush=True)
  timed = []
  if "metrics" in sections:
    import metric_cache_speed

    rows, equal = metric_cache_speed.run(args.model_dir,
                                         headline_only=args.headline_only)
    if not equal:
      raise SystemExit("the cached and uncached scores differ")
    timed += rows
  if "udr" in sections:
    import udr_speed

    timed += udr_speed.run(dci=args.dci)
  if timed:
    import metric_cache_speed

    print("== wall time (baseline -> new) ==")
    metric_cache_speed.print_rows(timed)
  print(f"load average before/after: {load:.2f} / {os.getloadavg()[0]:.2f} "
        f"on {os.cpu_count()} cores")
  return 0


if __name__ == "__main__":
  sys.exit(main())
