"""Times Prosimos (a general-purpose business-process simulator, `pip install prosimos`)
on the one-desk M/M/2 model of tests/data/sim/mmc.yaml: Poisson arrivals at 3.5 per
working day, exponential reviews of 0.4 working days, two reviewers. A working day is
8 hours (28,800 s) and both calendars are always open, so the queue is the same one
`onewindow simulate tests/data/sim/mmc.yaml --replications 1` runs.

    python3 benches/prosimos/run.py 100000
"""
import os
import sys
import time

from prosimos.simulation_engine import run_simulation

here = os.path.dirname(os.path.abspath(__file__))
n = int(sys.argv[1]) if len(sys.argv) > 1 else 100000
stats = os.path.join(here, "stats.csv")
started = time.time()
run_simulation(os.path.join(here, "one-desk.bpmn"), os.path.join(here, "one-desk.json"), n, stat_out_path=stats)
elapsed = time.time() - started
with open(stats) as f:
    wait = next((l for l in f if l.startswith("waiting_time,")), "").split(",")
os.remove(stats)
print(f"{n} cases in {elapsed:.2f} s; mean wait {float(wait[3]) / 28800:.4f} working days")
