"""The plan audit with shapely/GEOS on the data `cargo bench --bench blueprint` writes
(ONEWINDOW_BLUEPRINT_DATA=DIR): the two layers projected to the same transverse Mercator
zone (pyproj), an STRtree over the second layer, and every candidate pair intersected,
keeping the areas above the same sliver tolerance (1 m²). Prints the median of 3 runs,
to set beside the Rust figure from the same data in the same session.

    python3 -m venv /tmp/shapely && /tmp/shapely/bin/pip install shapely pyproj
    ONEWINDOW_BLUEPRINT_DATA=/tmp/bp cargo bench --bench blueprint
    /tmp/shapely/bin/python benches/blueprint_shapely.py /tmp/bp
"""

import json
import sys
import time

import shapely
from pyproj import Transformer
from shapely.geometry import shape
from shapely.ops import transform
from shapely.strtree import STRtree

DIR = sys.argv[1]
TM = Transformer.from_crs(
    "+proj=longlat +ellps=GRS80 +no_defs",
    "+proj=tmerc +lat_0=0 +lon_0=114 +k=1 +x_0=500000 +y_0=0 +ellps=GRS80 +units=m +no_defs",
    always_xy=True)


def load(name):
    with open(f"{DIR}/{name}.geojson") as f:
        features = json.load(f)["features"]
    return [transform(TM.transform, shape(f["geometry"])) for f in features]


start = time.perf_counter()
a, b = load("a"), load("b")
print(f"loaded and projected {len(a) + len(b)} polygons in {time.perf_counter() - start:.1f} s")
times = []
for _ in range(3):
    start = time.perf_counter()
    tree = STRtree(b)
    left, right = tree.query(a, predicate="intersects")
    areas = shapely.area(shapely.intersection([a[i] for i in left], [b[j] for j in right]))
    found = int((areas > 1.0).sum())
    times.append(time.perf_counter() - start)
times.sort()
print(f"shapely {shapely.__version__} (GEOS {shapely.geos_version_string}): {found} difference polygons, "
      f"median of 3 runs {times[1]:.2f} s (runs {[round(t, 2) for t in times]})")
