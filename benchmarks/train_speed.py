r"""Training speed side by side: tfdis_train, the bare step, PyTorch eager.

Rows (name, value, ratio), printed as a table by ``main`` and returned by
:func:`run` for a combined benchmark:

* ``tfdis_train <precision>``: the binary end to end in a subprocess
  (beta_vae, procedural_dsprites_small, batch 64, ``--e2e_steps`` steps,
  SavedModel export included): steps/s of its training loop (train.json),
  then the process's fixed cost split into start (interpreter, imports,
  flags), build/export/files, and its wall-clock steps/s;
* ``bare step <precision>``: the compiled ``model.train_step`` alone on one
  fixed batch (no input pipeline);
* ``torch eager``: the same network (dlib's conv encoder / deconv decoder,
  β-VAE loss with Bernoulli reconstruction, Adam 1e-4, batch 64, 64×64×1)
  as a plain PyTorch eager step — only when torch imports, in this
  interpreter or the one given by ``--torch_python`` (torch is not a tfdis
  dependency; e.g. ``python3 -m venv /tmp/torchvenv &&
  /tmp/torchvenv/bin/pip install torch``).

``ratio``: tfdis rows divided by the PyTorch eager steps/s (the ratio we
quote), bf16 rows also by their float32 row. Precisions: float32,
mixed_bfloat16 (Keras policy) and auto_mixed_bfloat16 (oneDNN's graph
rewrite; tfdis.models.precision). On CPUs without native bfloat16 (no
avx512_bf16/amx_bf16) both bfloat16 modes are expected to be slower.

  python benchmarks/train_speed.py
  python benchmarks/train_speed.py --torch_python=/tmp/torchvenv/bin/python
  python benchmarks/train_speed.py --steps=50 --e2e_steps=100 --skip_e2e
"""

from __future__ import annotations

import argparse
import json
import os
import subprocess
import sys
import tempfile
import time
from typing import List, Optional, Sequence, Tuple

Row = Tuple[str, float, Optional[float]]
BATCH = 64
PRECISIONS = ("float32", "mixed_bfloat16", "auto_mixed_bfloat16")


# ---------------------------------------------------------------------------
# PyTorch eager step (runs in any interpreter that has torch; no tfdis)
# ---------------------------------------------------------------------------
def torch_steps_per_sec(steps: int, warmup: int, beta: float = 4.0) -> float:
  """Steps/s of a PyTorch eager β-VAE step of dlib's conv network."""
  import torch
  from torch import nn
  import torch.nn.functional as F

  torch.manual_seed(0)
  torch.set_num_threads(os.cpu_count() or 1)
  d = 10
  # TF 'same' padding: k4 s2 on even sizes pads 1 each side; k2 s2 pads 0.
  encoder = nn.Sequential(
      nn.Conv2d(1, 32, 4, 2, 1), nn.ReLU(), nn.Conv2d(32, 32, 4, 2, 1),
      nn.ReLU(), nn.Conv2d(32, 64, 2, 2), nn.ReLU(), nn.Conv2d(64, 64, 2, 2),
      nn.ReLU(), nn.Flatten(), nn.Linear(1024, 256), nn.ReLU(),
      nn.Linear(256, 2 * d))
  decoder = nn.Sequential(
      nn.Linear(d, 256), nn.ReLU(), nn.Linear(256, 1024), nn.ReLU(),
      nn.Unflatten(1, (64, 4, 4)), nn.ConvTranspose2d(64, 64, 4, 2, 1),
      nn.ReLU(), nn.ConvTranspose2d(64, 32, 4, 2, 1), nn.ReLU(),
      nn.ConvTranspose2d(32, 32, 4, 2, 1), nn.ReLU(),
      nn.ConvTranspose2d(32, 1, 4, 2, 1))
  params = list(encoder.parameters()) + list(decoder.parameters())
  optimizer = torch.optim.Adam(params, lr=1e-4, betas=(0.9, 0.999),
                               eps=1e-8)
  x = (torch.rand(BATCH, 1, 64, 64) > 0.9).float()

  def step():
    mean, logvar = encoder(x).chunk(2, dim=1)
    z = mean + torch.exp(0.5 * logvar) * torch.randn_like(mean)
    logits = decoder(z)
    rec = F.binary_cross_entropy_with_logits(
        logits, x, reduction="none").flatten(1).sum(1).mean()
    kl = (0.5 * (mean ** 2 + logvar.exp() - logvar - 1)).sum(1).mean()
    loss = rec + beta * kl
    optimizer.zero_grad(set_to_none=True)
    loss.backward()
    optimizer.step()
    return loss

  for _ in range(warmup):
    step()
  start = time.perf_counter()
  for _ in range(steps):
    loss = step()
  float(loss.detach())
  return steps / (time.perf_counter() - start)


def _torch_row(steps: int, warmup: int, torch_python: Optional[str]
               ) -> Optional[float]:
  python = torch_python or sys.executable
  code = ("import json, sys; sys.path.insert(0, sys.argv[1]); "
          "import train_speed as t; "
          f"print(json.dumps(t.torch_steps_per_sec({steps}, {warmup})))")
  try:
    out = subprocess.run([python, "-c", code, os.path.dirname(
        os.path.abspath(__file__))], capture_output=True, text=True,
                         check=True, timeout=3600)
  except (OSError, subprocess.CalledProcessError) as e:
    err = getattr(e, "stderr", "") or str(e)
    if "No module named 'torch'" in err:
      return None
    raise RuntimeError(f"the PyTorch step failed in {python}: "
                       f"{err[-2000:]}") from None
  return float(out.stdout.strip().splitlines()[-1])


# ---------------------------------------------------------------------------
# tfdis
# ---------------------------------------------------------------------------
def bare_steps_per_sec(precision: str, steps: int, warmup: int) -> float:
  """Steps/s of the compiled ``train_step`` of beta_vae on a fixed batch."""
  import numpy as np
  import tensorflow as tf

  from tfdis.data import get_dataset
  from tfdis.models import build_model
  from tfdis.models.precision import graph_rewrite_scope

  data = get_dataset("procedural_dsprites_small")
  batch = tf.constant(data.sample_observations(BATCH,
                                               np.random.RandomState(0)))
  model = build_model("beta_vae", data.observation_shape, precision=precision)
  with graph_rewrite_scope(precision):  # as the trainer runs its steps
    return time_steps(tf.function(model.train_step), batch, warmup, steps)


def time_steps(step, batch, warmup: int, steps: int) -> float:
  """Steps/s of ``step(batch)`` after ``warmup`` untimed calls."""
  for _ in range(warmup):
    out = step(batch)
  float(out["loss"].numpy())
  start = time.perf_counter()
  for _ in range(steps):
    out = step(batch)
  float(out["loss"].numpy())  # wait for the last step
  return steps / (time.perf_counter() - start)


def e2e(precision: str, steps: int) -> dict:
  """One ``tfdis_train`` subprocess: its train.json plus the process wall."""
  with tempfile.TemporaryDirectory() as tmp:
    every = str(steps)
    cmd = [sys.executable, "-m", "tfdis.bin.train", "--model=beta_vae",
           "--dataset=procedural_dsprites_small", f"--steps={steps}",
           f"--precision={precision}", f"--model_dir={tmp}/run",
           f"--log_every={every}", f"--summary_every={every}",
           f"--checkpoint_every={every}", f"--image_summary_every={every}"]
    start = time.perf_counter()
    subprocess.run(cmd, check=True, capture_output=True, text=True)
    wall = time.perf_counter() - start
    with open(os.path.join(tmp, "run", "results", "train.json")) as f:
      result = json.load(f)
  return {"loop_steps_per_sec": result["steps_per_sec"],
          "process_seconds": wall,
          "start_seconds": wall - result["wall_seconds"],
          "train_seconds": result["train_seconds"],
          "other_seconds": result["wall_seconds"] - result["train_seconds"]}


def run(steps: int = 100, warmup: int = 5, e2e_steps: int = 300,
        torch_python: Optional[str] = None, skip_e2e: bool = False,
        precisions: Sequence[str] = PRECISIONS) -> List[Row]:
  """The rows (name, value, ratio); see the module docstring."""
  torch = _torch_row(steps, warmup, torch_python)

  def vs_torch(v):
    return v / torch if torch else None

  rows: List[Row] = []
  base = {}
  for precision in precisions:
    if not skip_e2e:
      r = e2e(precision, e2e_steps)
      rows += [
          (f"tfdis_train {precision}: loop steps/s", r["loop_steps_per_sec"],
           vs_torch(r["loop_steps_per_sec"])),
          (f"tfdis_train {precision}: wall steps/s "
           f"({e2e_steps} steps, one process)",
           e2e_steps / r["process_seconds"],
           vs_torch(e2e_steps / r["process_seconds"])),
          (f"tfdis_train {precision}: process start s (imports, flags)",
           r["start_seconds"], None),
          (f"tfdis_train {precision}: build+export+files s",
           r["other_seconds"], None),
          (f"tfdis_train {precision}: training loop s", r["train_seconds"],
           None)]
    bare = bare_steps_per_sec(precision, steps, warmup)
    base.setdefault("bare", bare)
    rows.append((f"bare step {precision}: steps/s", bare, vs_torch(bare)))
    if precision != precisions[0]:
      rows.append((f"bare step {precision} / {precisions[0]}",
                   bare / base["bare"], None))
  rows.append(("torch eager float32: steps/s", torch if torch else
               float("nan"), None))
  return rows


def format_rows(rows: Sequence[Row]) -> str:
  width = max(len(r[0]) for r in rows)
  lines = [f"{'':{width}s}  {'value':>9s}  {'ratio':>6s}"]
  for name, value, ratio in rows:
    lines.append(f"{name:{width}s}  {value:9.2f}  " +
                 (f"{ratio:6.2f}" if ratio is not None else f"{'':6s}"))
  return "\n".join(lines)


def main(argv=None):
  p = argparse.ArgumentParser(description=__doc__.split("\n")[0])
  p.add_argument("--steps", type=int, default=100,
                 help="timed steps of the bare and the torch step")
  p.add_argument("--warmup", type=int, default=5)
  p.add_argument("--e2e_steps", type=int, default=300,
                 help="--steps of each tfdis_train subprocess")
  p.add_argument("--torch_python", default=None,
                 help="interpreter with torch for the PyTorch row")
  p.add_argument("--skip_e2e", action="store_true")
  p.add_argument("--precisions", default=",".join(PRECISIONS))
  args = p.parse_args(argv)
  load = os.getloadavg() if hasattr(os, "getloadavg") else None
  rows = run(args.steps, args.warmup, args.e2e_steps, args.torch_python,
             args.skip_e2e, tuple(args.precisions.split(",")))
  print(format_rows(rows))
  if load:
    print(f"load average before/after: {load[0]:.2f} / "
          f"{os.getloadavg()[0]:.2f} on {os.cpu_count()} cores")


if __name__ == "__main__":
  main()
