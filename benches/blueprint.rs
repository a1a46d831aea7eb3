//! One blueprint at a city's size: two layers of 50,000 polygons each (octagons on
//! offset grids, so every polygon of one meets about four of the other), written as
//! GeoJSON and loaded as a blueprint; then
//!
//! - one site (about 600 m × 450 m, at random places) against the 100,000 polygons;
//! - the audit of the two layers (R-tree join, clipping every candidate pair).
//!
//! `cargo bench --bench blueprint`; with `ONEWINDOW_BLUEPRINT_DATA=DIR` the layers are
//! written to DIR too, for `benches/blueprint_shapely.py` (shapely/GEOS on the same data).
//! Figures in BENCHMARKS.md.

use std::path::Path;
use std::time::{Duration, Instant};

use criterion::Criterion;
use geo::{coord, LineString, MultiPolygon, Polygon};
use onewindow::blueprint::{check, conflicts, Blueprint};

#[global_allocator]
static ALLOC: mimalloc::MiMalloc = mimalloc::MiMalloc;

const SIDE: usize = 224; // 224 × 224 = 50,176 polygons a layer
const LON0: f64 = 113.60;
const LAT0: f64 = 33.90;
const M_LAT: f64 = 110_940.0;

fn m_lon() -> f64 {
    111_320.0 * LAT0.to_radians().cos()
}

/// An octagon of radius `r` metres at (x, y) metres from the origin, in degrees.
fn octagon(x: f64, y: f64, r: f64) -> Vec<[f64; 2]> {
    let mut ring: Vec<[f64; 2]> = (0..8)
        .map(|k| {
            let a = std::f64::consts::TAU * (k as f64 + 0.5) / 8.0;
            [
                LON0 + (x + r * a.cos()) / m_lon(),
                LAT0 + (y + r * a.sin()) / M_LAT,
            ]
        })
        .collect();
    ring.push(ring[0]);
    ring
}

fn layer(pitch: f64, offset: f64, r: f64, prefix: &str) -> String {
    let mut features = Vec::with_capacity(SIDE * SIDE);
    for i in 0..SIDE {
        for j in 0..SIDE {
            let ring = octagon(offset + i as f64 * pitch, offset + j as f64 * pitch, r);
            features.push(serde_json::json!({
                "type": "Feature",
                "properties": {"id": format!("{prefix}-{i}-{j}"), "use_code": "M"},
                "geometry": {"type": "Polygon", "coordinates": [ring]}
            }));
        }
    }
    serde_json::json!({"type": "FeatureCollection", "features": features}).to_string()
}

fn write(dir: &Path) {
    std::fs::write(dir.join("a.geojson"), layer(100.0, 0.0, 45.0, "A")).unwrap();
    std::fs::write(dir.join("b.geojson"), layer(100.0, 50.0, 48.0, "B")).unwrap();
    std::fs::write(
        dir.join("blueprint.yaml"),
        "blueprint: bench\nsliver_m2: 1\nlayers:\n  - {id: a, file: a.geojson, kind: ecological_red_line, plan: A, department: a}\n  - {id: b, file: b.geojson, kind: zoning, plan: B, department: b}\n",
    )
    .unwrap();
}

fn main() {
    let dir = tempfile::tempdir().unwrap();
    let started = Instant::now();
    write(dir.path());
    if let Some(out) = std::env::var_os("ONEWINDOW_BLUEPRINT_DATA") {
        std::fs::create_dir_all(&out).unwrap();
        write(Path::new(&out));
    }
    eprintln!("layers written in {:.1} s", started.elapsed().as_secs_f64());
    let started = Instant::now();
    let bp = Blueprint::load(dir.path()).unwrap();
    eprintln!(
        "{} polygons loaded (parsed, checked, projected, indexed) in {:.1} s",
        bp.polygons(),
        started.elapsed().as_secs_f64()
    );
    // Sites about 600 m × 450 m at pseudo-random places inside the grid.
    let sites: Vec<MultiPolygon<f64>> = (0..64u64)
        .map(|k| {
            let x = 1_000.0 + ((k * 7_919) % 19_000) as f64;
            let y = 1_000.0 + ((k * 104_729) % 19_000) as f64;
            let c = |dx: f64, dy: f64| coord! { x: LON0 + (x + dx) / m_lon(), y: LAT0 + (y + dy) / M_LAT };
            MultiPolygon::new(vec![Polygon::new(
                LineString::new(vec![c(0.0, 0.0), c(600.0, 30.0), c(580.0, 450.0), c(-20.0, 420.0), c(0.0, 0.0)]),
                vec![],
            )])
        })
        .collect();
    let mut c = Criterion::default()
        .configure_from_args()
        .sample_size(50)
        .measurement_time(Duration::from_secs(10));
    let mut k = 0;
    c.bench_function("site check against 100,000 polygons", |b| {
        b.iter(|| {
            k = (k + 1) % sites.len();
            let r = check::check_site(&bp, &sites[k], Some("industrial")).unwrap();
            assert!(r.blocking);
        });
    });
    let mut times = Vec::new();
    let mut found = 0;
    for _ in 0..3 {
        let started = Instant::now();
        found = conflicts::find(&bp).len();
        times.push(started.elapsed());
    }
    times.sort_unstable();
    eprintln!(
        "audit of two layers of {} polygons: {found} difference polygons, median of 3 runs {:.2} s (runs: {:?})",
        SIDE * SIDE,
        times[1].as_secs_f64(),
        times
    );
    c.final_summary();
}
