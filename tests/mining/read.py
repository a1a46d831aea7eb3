"""Reads onewindow's exports back with PM4Py, as an analyst would, and reports what it
found as JSON: the counts of cases, events and objects, one case's trace, and every
warning PM4Py (or what it uses) raised while reading.

usage: read.py LOG.xes LOG.sqlite LOG.json CASE
"""
import json
import sys
import warnings

import pm4py
from pm4py.objects.ocel.validation import ocel20_rel_validation

xes, sqlite, ocel_json, case = sys.argv[1:5]
caught = []
with warnings.catch_warnings(record=True) as w:
    warnings.simplefilter("always")
    log = pm4py.read_xes(xes, return_legacy_log_object=False)
    sq = pm4py.read_ocel2_sqlite(sqlite)
    js = pm4py.read_ocel2_json(ocel_json)
    # PM4Py advises installing `r4pm` (bindings of the Rust library that wrote these
    # files) to read faster; that advice is about the reader, not the file, and reading
    # with PM4Py's own parser is the point of the check.
    caught = [
        f"{x.category.__name__}: {x.message} ({x.filename})"
        for x in w
        if "Install the optional requirement `r4pm`" not in str(x.message)
    ]

trace = log[log["case:concept:name"] == case].sort_values(["time:timestamp", "ow:seq"])
out = {
    "xes": {
        "cases": int(log["case:concept:name"].nunique()),
        "events": int(len(log)),
        "trace": [
            {
                "activity": r["concept:name"],
                "lifecycle": r["lifecycle:transition"],
                "resource": r["org:resource"],
                "timestamp": r["time:timestamp"].isoformat(),
                "seq": int(r["ow:seq"]),
            }
            for _, r in trace.iterrows()
        ],
    },
    "ocel": {
        name: {
            "events": int(len(o.events)),
            "objects": int(len(o.objects)),
            "relations": int(len(o.relations)),
            "object_types": sorted(o.objects["ocel:type"].unique().tolist()),
            "case_events": int(
                o.relations[o.relations["ocel:oid"] == case]["ocel:eid"].nunique()
            ),
        }
        for name, o in (("sqlite", sq), ("json", js))
    },
    "warnings": caught,
    # The OCEL 2.0 specification's relational constraints, as PM4Py checks them.
    "sqlite_unsatisfied": sorted(ocel20_rel_validation.apply(sqlite)[1]),
}
print(json.dumps(out, ensure_ascii=False))
