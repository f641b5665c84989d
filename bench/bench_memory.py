"""Peak resident memory (RSS) of ``gan-atelier train --preset seed``, measured in a child process.

Usage::

    python bench/bench_memory.py                      # 1 epoch (469 steps) of the seed preset, fp32
    python bench/bench_memory.py --set train.precision=bf16

The child is the real command (whole Fashion-MNIST in memory, run folder, checkpoint, grids,
curves); its peak RSS is ``getrusage(RUSAGE_CHILDREN).ru_maxrss`` after it exits (Linux: KiB).
"""

from __future__ import annotations

import argparse
import resource
import subprocess
import sys
import tempfile
import time
from pathlib import Path

LIMIT_MB = 1200  # the target: peak RSS of the seed preset ≤ 1.2 GB on CPU


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--epochs", type=int, default=1)
    parser.add_argument("--set", dest="overrides", action="append", default=[])
    args = parser.parse_args(argv)
    with tempfile.TemporaryDirectory() as folder:
        command = [sys.executable, "-m", "gan_atelier", "train", "--preset", "seed", "--run-dir",
                   str(Path(folder) / "run"), "--no-progress", "--set", f"train.epochs={args.epochs}"]
        for override in args.overrides:
            command += ["--set", override]
        started = time.perf_counter()
        completed = subprocess.run(command, capture_output=True, text=True)
        seconds = time.perf_counter() - started
    if completed.returncode != 0:
        print(completed.stderr[-2000:], file=sys.stderr)
        return completed.returncode
    peak_mb = resource.getrusage(resource.RUSAGE_CHILDREN).ru_maxrss / 1024
    print(" ".join(command[3:]))
    print(f"peak RSS {peak_mb:.0f} MB ({'within' if peak_mb <= LIMIT_MB else 'over'} the {LIMIT_MB} MB target), "
          f"{seconds:.1f} s wall")
    return 0


if __name__ == "__main__":
    sys.exit(main())
