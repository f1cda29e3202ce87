"""Run a `booking-report` command and measure it: wall time and the process's own peak
RSS (shared by the benchmarks)."""

from __future__ import annotations

import subprocess
import sys
import time
from pathlib import Path

REPO = Path(__file__).resolve().parents[1]


def run_cli(args: list[str], env: dict[str, str]) -> tuple[float, float, str]:
    """Run ``booking-report ARGS``; return (seconds, own peak RSS in MB, stdout).

    VmHWM is the process's own peak RSS since its exec: a child forked from a big
    generator process would otherwise report the parent's pages as its own."""
    started = time.perf_counter()
    proc = subprocess.Popen([sys.executable, "-m", "booking_report.cli", *args], env=env,
                            cwd=REPO, text=True, stdout=subprocess.PIPE,
                            stderr=subprocess.PIPE)
    peak_kib = 0
    while proc.poll() is None:
        try:
            with open(f"/proc/{proc.pid}/status") as status:
                for line in status:
                    if line.startswith("VmHWM:"):
                        peak_kib = max(peak_kib, int(line.split()[1]))
        except OSError:
            pass
        time.sleep(0.05)
    out, err = proc.communicate()
    seconds = time.perf_counter() - started
    if proc.returncode != 0:
        raise SystemExit(f"booking-report {' '.join(args)} failed ({proc.returncode}):\n"
                         f"{out[-3000:]}\n{err[-3000:]}")
    return seconds, peak_kib / 1024, out
