"""Times Prosimos (a general-purpose business-process simulator, `pip install prosimos`)
on a model, for the comparison in BENCHMARKS.md.

    python3 benches/prosimos/run.py                      # the one-desk M/M/2 model, 100,000 cases
    python3 benches/prosimos/run.py MODEL.bpmn MODEL.json CASES [--log]

The one-desk model is tests/data/sim/mmc.yaml: Poisson arrivals at 3.5 per working day,
exponential reviews of 0.4 working days, two reviewers, both calendars always open (a
working day is 8 hours, 28,800 s), so the queue is the one
`onewindow simulate tests/data/sim/mmc.yaml --replications 1` runs; the mean wait is
printed in working days.

Other models come from `onewindow simulate SCENARIO --prosimos DIR`. The time printed is
Prosimos' `run_simulation` alone, writing its statistics file (its output, as the table
is onewindow's). With `--log` it also writes Prosimos' event log (not timed separately:
run without it for the time) and prints, for the completed cases, the mean and median
working days from arrival to completion on the model's calendar (Monday to Friday,
09:00-17:00), to set beside `onewindow simulate`'s "total working days".
"""
import csv
import os
import statistics
import sys
import tempfile
import time
from datetime import datetime, timedelta

from prosimos.simulation_engine import run_simulation

here = os.path.dirname(os.path.abspath(__file__))
args = [a for a in sys.argv[1:] if a != "--log"]
log = "--log" in sys.argv[1:]
if len(args) >= 3:
    bpmn, params, n = args[0], args[1], int(args[2])
else:
    bpmn, params = os.path.join(here, "one-desk.bpmn"), os.path.join(here, "one-desk.json")
    n = int(args[0]) if args else 100000

out = tempfile.mkdtemp()
stats = os.path.join(out, "stats.csv")
log_path = os.path.join(out, "log.csv") if log else None
started = time.time()
run_simulation(bpmn, params, n, stat_out_path=stats, log_out_path=log_path)
elapsed = time.time() - started
print(f"{n} cases in {elapsed:.2f} s")

if bpmn.endswith("one-desk.bpmn"):
    with open(stats) as f:
        wait = next((l for l in f if l.startswith("waiting_time,")), "").split(",")
    if len(wait) > 3:
        print(f"mean wait {float(wait[3]) / 28800:.4f} working days")


def working_seconds(t):
    """Working seconds (Monday-Friday, 09:00-17:00) from 2000-01-03 to t."""
    day = t.date()
    base = datetime(2000, 1, 3).date()
    weeks, rest = divmod((day - base).days, 7)
    whole = weeks * 5 + min(rest, 5)
    into = 0.0
    if day.weekday() < 5:
        start = datetime.combine(day, datetime.min.time(), t.tzinfo) + timedelta(hours=9)
        into = min(max((t - start).total_seconds(), 0.0), 8 * 3600.0)
    return whole * 8 * 3600.0 + into


if log:
    first, last, ended = {}, {}, set()
    with open(log_path) as f:
        for row in csv.DictReader(f):
            case = row["case_id"]
            enabled = datetime.fromisoformat(row["enable_time"])
            end = datetime.fromisoformat(row["end_time"])
            first[case] = min(first.get(case, enabled), enabled)
            last[case] = max(last.get(case, end), end)
            if "withdrawn" in row["activity"]:
                ended.add(case)
    days = [
        (working_seconds(last[c]) - working_seconds(first[c])) / 28800.0
        for c in first
        if c not in ended
    ]
    if days:
        print(
            f"{len(days)} cases completed: total working days mean {statistics.fmean(days):.1f}, "
            f"p50 {statistics.median(days):.1f}"
        )
