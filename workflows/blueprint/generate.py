#!/usr/bin/env python3
"""Writes the shipped example blueprint (一张蓝图) of a SYNTHETIC city: every polygon here
is invented for tests and demonstrations; none is a real plan of a real place.

    python3 workflows/blueprint/generate.py        # rewrites workflows/blueprint/

The city lies around 113.80°E 34.00°N. Coordinates are drawn on a local grid in metres and
written as GeoJSON lon/lat (WGS84/CGCS2000, longitude first), rounded to 1e-7 degree
(about a centimetre). Layers:

- the three control lines: ecological red line (a river corridor and a hill), permanent
  basic farmland (three fields), the urban development boundary (one ring with a hole
  where farmland is kept inside the town);
- zoning (控制性详细规划) parcels with use codes inside the boundary;
- the blue line (water), the green line (parks), the yellow line (infrastructure corridor),
  a heritage protection area, a development zone.

One deliberate conflict between the plans: the industrial parcel Z-M-03 of the zoning
plan reaches into the river corridor of the ecological red line (the audit must find it
as a difference polygon). The sites in `sites/` exercise each rule of the site check.
"""

import json
import math
import os

LON0, LAT0 = 113.80, 34.00
M_PER_DEG_LAT = 110_940.0
M_PER_DEG_LON = 111_320.0 * math.cos(math.radians(LAT0))
HERE = os.path.dirname(os.path.abspath(__file__))


def ll(x, y):
    """Local metres east and north of the origin → [lon, lat]."""
    return [round(LON0 + x / M_PER_DEG_LON, 7), round(LAT0 + y / M_PER_DEG_LAT, 7)]


def ring(points):
    r = [ll(x, y) for x, y in points]
    return r + [r[0]]


def rect(x0, y0, x1, y1):
    return [(x0, y0), (x1, y0), (x1, y1), (x0, y1)]


def feature(fid, rings, **props):
    return {
        "type": "Feature",
        "id": fid,
        "properties": {"id": fid, **props},
        "geometry": {"type": "Polygon", "coordinates": [ring(r) for r in rings]},
    }


def collection(name, features):
    return {"type": "FeatureCollection", "name": name, "features": features}


def write(path, value):
    full = os.path.join(HERE, path)
    os.makedirs(os.path.dirname(full), exist_ok=True)
    with open(full, "w", encoding="utf-8") as f:
        json.dump(value, f, ensure_ascii=False, indent=1)
        f.write("\n")


ECO = ("生态保护红线", "nrp")
FARM = ("永久基本农田", "nrp")
UDB = ("城镇开发边界", "nrp")
ZONING = ("控制性详细规划", "nrp")

layers = {
    "ecological_red_line.geojson": collection("ecological_red_line", [
        # A river corridor running north-south at x ≈ 4,000 m, 300 m wide.
        feature("E-01", [rect(3850, -6000, 4150, 6000)], plan=ECO[0], department=ECO[1], name="河流廊道 river corridor"),
        # A hill in the north-west.
        feature("E-02", [[(-5000, 3000), (-3000, 2600), (-2600, 4500), (-4200, 5200), (-5200, 4400)]],
                plan=ECO[0], department=ECO[1], name="山体 hill"),
    ]),
    "basic_farmland.geojson": collection("basic_farmland", [
        feature("F-01", [rect(-6000, -6000, -2500, -3000)], plan=FARM[0], department=FARM[1]),
        feature("F-02", [rect(5000, -5000, 7000, -3000)], plan=FARM[0], department=FARM[1]),
        # Kept inside the town: the boundary has a hole here.
        feature("F-03", [rect(-500, -2600, 500, -1800)], plan=FARM[0], department=FARM[1]),
    ]),
    "urban_development_boundary.geojson": collection("urban_development_boundary", [
        # The town on both banks of the river; the corridor between them stays outside.
        feature("U-01", [rect(-2400, -2800, 3850, 2500), rect(-500, -2600, 500, -1800)],
                plan=UDB[0], department=UDB[1], name="中心城区西岸 central town, west bank"),
        feature("U-02", [rect(4150, -2800, 6000, 2500)],
                plan=UDB[0], department=UDB[1], name="中心城区东岸 central town, east bank"),
    ]),
    "zoning.geojson": collection("zoning", [
        feature("Z-M-01", [rect(-2000, -1500, -500, 0)], plan=ZONING[0], department=ZONING[1], use_code="M", use="industrial 工业用地"),
        feature("Z-M-02", [rect(-500, -1500, 1500, 0)], plan=ZONING[0], department=ZONING[1], use_code="M", use="industrial 工业用地"),
        # The deliberate conflict: this industrial parcel reaches into the river corridor.
        feature("Z-M-03", [rect(2500, -1500, 3950, 0)], plan=ZONING[0], department=ZONING[1], use_code="M", use="industrial 工业用地"),
        feature("Z-W-01", [rect(1500, -1500, 2500, 0)], plan=ZONING[0], department=ZONING[1], use_code="W", use="warehouse 物流仓储用地"),
        feature("Z-R-01", [rect(-2000, 0, 1500, 2000)], plan=ZONING[0], department=ZONING[1], use_code="R", use="residential 居住用地"),
        feature("Z-B-01", [rect(1500, 0, 3800, 2000)], plan=ZONING[0], department=ZONING[1], use_code="B", use="commercial 商业用地"),
        feature("Z-G-01", [rect(4150, -2500, 5800, 2000)], plan=ZONING[0], department=ZONING[1], use_code="G", use="green 绿地"),
    ]),
    "blue_line.geojson": collection("blue_line", [
        feature("B-01", [rect(3900, -6000, 4100, 6000)], plan="城市蓝线", department="water", name="河道 river channel"),
    ]),
    "green_line.geojson": collection("green_line", [
        feature("G-01", [rect(4300, -2000, 5500, 1500)], plan="城市绿线", department="housing", name="滨河公园 riverside park"),
    ]),
    "yellow_line.geojson": collection("yellow_line", [
        feature("Y-01", [rect(-2400, -1600, 6000, -1520)], plan="城市黄线", department="housing", name="高压走廊 power corridor"),
    ]),
    "heritage.geojson": collection("heritage", [
        feature("H-01", [rect(-1800, 1200, -1400, 1600)], plan="历史文化保护规划", department="housing", name="古寺 old temple"),
    ]),
    "development_zone.geojson": collection("development_zone", [
        feature("D-01", [rect(-2400, -2800, 4000, 0)], plan="开发区总体规划", department="ndrc", name="产业园区 industrial park"),
    ]),
}

index = {
    "blueprint": "synthetic-city",
    "name": "示例城市一张蓝图（合成数据） / Synthetic city blueprint (invented data)",
    "synthetic": True,
    "sliver_m2": 50,
    "industry_uses": {"industrial": ["M"], "warehouse": ["W", "M"], "commercial": ["B"]},
    "compatible_uses": ["G", "E"],
    "layers": [
        {"id": "ecological_red_line", "file": "ecological_red_line.geojson", "kind": "ecological_red_line", "plan": ECO[0], "department": ECO[1]},
        {"id": "basic_farmland", "file": "basic_farmland.geojson", "kind": "basic_farmland", "plan": FARM[0], "department": FARM[1]},
        {"id": "urban_development_boundary", "file": "urban_development_boundary.geojson", "kind": "urban_development_boundary", "plan": UDB[0], "department": UDB[1]},
        {"id": "zoning", "file": "zoning.geojson", "kind": "zoning", "plan": ZONING[0], "department": ZONING[1]},
        {"id": "blue_line", "file": "blue_line.geojson", "kind": "blue_line", "plan": "城市蓝线", "department": "water"},
        {"id": "green_line", "file": "green_line.geojson", "kind": "green_line", "plan": "城市绿线", "department": "housing"},
        {"id": "yellow_line", "file": "yellow_line.geojson", "kind": "yellow_line", "plan": "城市黄线", "department": "housing"},
        {"id": "heritage", "file": "heritage.geojson", "kind": "heritage", "plan": "历史文化保护规划", "department": "housing"},
        {"id": "development_zone", "file": "development_zone.geojson", "kind": "development_zone", "plan": "开发区总体规划", "department": "ndrc"},
    ],
}


def site(name, rings, note, expect):
    # `expect`: the rules the site check must report for an industrial project (the
    # blocking ones marked with a leading `!`); tests/blueprint.rs reads it.
    return {"type": "Feature", "properties": {"site": name, "note": note, "expect": expect},
            "geometry": {"type": "Polygon", "coordinates": [ring(r) for r in rings]}}


sites = {
    "clean.geojson": site("clean", [rect(-1800, -1300, -1000, -700)], "industrial parcel inside the town: no conflict", ["development-zone"]),
    "red-line.geojson": site("red-line", [rect(3900, 3000, 4100, 3400)], "inside the river corridor: not approvable locally",
                         ["!ecological-red-line", "outside-urban-boundary", "blue-line"]),
    "farmland.geojson": site("farmland", [rect(-3000, -3600, -2000, -2900)], "partly on basic farmland, outside the town",
                         ["!basic-farmland", "outside-urban-boundary"]),
    "outside-boundary.geojson": site("outside-boundary", [rect(-4000, -1000, -3000, 0)], "outside the urban development boundary",
                                 ["outside-urban-boundary"]),
    "zoning-conflict.geojson": site("zoning-conflict", [rect(-1000, 500, 0, 1500)], "an industrial project on residential land",
                                ["!zoning-use"]),
    "sliver.geojson": site("sliver", [rect(3000, -1000, 3850.05, -500)], "industrial land touching the river corridor by a sliver (25 m²) below the tolerance",
                       ["development-zone"]),
}

for path, value in layers.items():
    write(path, value)
with open(os.path.join(HERE, "blueprint.yaml"), "w", encoding="utf-8") as f:
    f.write("# Generated by generate.py: a SYNTHETIC city, invented for tests and demonstrations.\n")
    f.write(json.dumps(index, ensure_ascii=False, indent=1))
    f.write("\n")
for path, value in sites.items():
    write(os.path.join("sites", path), value)
