//! One blueprint: the shipped synthetic city's sites each give the rules they are drawn
//! to exercise (data-driven: each site file's `expect`), the audit finds the one
//! deliberate conflict between the plans, a damaged blueprint is reported feature by
//! feature, and overlap areas agree with an independent computation (grid sampling with
//! point-in-polygon, not clipping) on random polygons.

use std::collections::BTreeSet;
use std::path::{Path, PathBuf};

use geo::{coord, Area, BoundingRect, Contains, LineString, MultiPolygon, Point, Polygon};
use onewindow::blueprint::check::{overlap, Class};
use onewindow::blueprint::{check, conflicts, Blueprint, Feature};
use proptest::prelude::*;

fn root() -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR"))
}

fn site(path: &Path) -> (MultiPolygon<f64>, Vec<String>) {
    let json: geojson::Feature = std::fs::read_to_string(path).unwrap().parse().unwrap();
    let expect = json
        .property("expect")
        .and_then(|v| v.as_array())
        .unwrap()
        .iter()
        .map(|v| v.as_str().unwrap().to_string())
        .collect();
    let shape = onewindow::blueprint::shape_of(json.geometry.as_ref().unwrap()).unwrap();
    (shape, expect)
}

#[test]
fn each_shipped_site_gives_the_rules_it_was_drawn_for() {
    let bp = Blueprint::load(&root().join("workflows/blueprint")).unwrap();
    assert!(bp.synthetic);
    let mut seen = 0;
    for entry in std::fs::read_dir(root().join("workflows/blueprint/sites")).unwrap() {
        let path = entry.unwrap().path();
        let (shape, expect) = site(&path);
        let result = check::check_site(&bp, &shape, Some("industrial")).unwrap();
        let got: BTreeSet<String> = result
            .findings
            .iter()
            .map(|f| format!("{}{}", if f.blocking { "!" } else { "" }, f.rule))
            .collect();
        let expect: BTreeSet<String> = expect.into_iter().collect();
        assert_eq!(got, expect, "{}: {:#?}", path.display(), result.findings);
        assert_eq!(
            result.blocking,
            expect.iter().any(|r| r.starts_with('!')),
            "{}",
            path.display()
        );
        for f in &result.findings {
            assert!(
                f.share >= 0.0 && f.share <= 1.0 && f.overlap_m2 >= 0.0,
                "{f:?}"
            );
            assert!(!f.department.is_empty() && !f.plan.is_empty());
        }
        seen += 1;
    }
    assert_eq!(seen, 6);
    // Without an industry, zoning is reported and not judged.
    let (shape, _) = site(&root().join("workflows/blueprint/sites/zoning-conflict.geojson"));
    let result = check::check_site(&bp, &shape, None).unwrap();
    assert!(!result.blocking, "{result:?}");
    assert!(result
        .findings
        .iter()
        .any(|f| f.rule == "zoning-use" && !f.blocking));
    // A warehouse may be built on industrial land, a commercial project may not.
    let (shape, _) = site(&root().join("workflows/blueprint/sites/clean.geojson"));
    assert!(
        !check::check_site(&bp, &shape, Some("warehouse"))
            .unwrap()
            .blocking
    );
    assert!(
        check::check_site(&bp, &shape, Some("commercial"))
            .unwrap()
            .blocking
    );
}

#[test]
fn the_audit_finds_the_deliberate_conflict_and_writes_it_for_qgis() {
    let bp = Blueprint::load(&root().join("workflows/blueprint")).unwrap();
    let differences = conflicts::find(&bp);
    assert_eq!(differences.len(), 1, "{differences:#?}");
    let d = &differences[0];
    assert_eq!(d.rule, "zoning-on-red-line");
    assert_eq!(
        (d.feature_a.as_str(), d.feature_b.as_str()),
        ("E-01", "Z-M-03")
    );
    // 100 m × 1,500 m, drawn with the generator's approximate degrees.
    assert!((d.area_m2 - 150_000.0).abs() < 1_500.0, "{}", d.area_m2);
    let collection = conflicts::to_geojson(&bp, &differences);
    let text = serde_json::to_string(&collection).unwrap();
    let back: geojson::FeatureCollection = text.parse().unwrap();
    assert_eq!(back.features.len(), 1);
    let shape =
        onewindow::blueprint::shape_of(back.features[0].geometry.as_ref().unwrap()).unwrap();
    let projected = onewindow::blueprint::project(&bp.zone, &shape).unwrap();
    assert!((projected.unsigned_area() - d.area_m2).abs() < 1.0);
}

/// A blueprint directory of one layer with the given features (GeoJSON text each).
fn blueprint_of(features: &[&str]) -> tempfile::TempDir {
    blueprint_with("ecological_red_line", features)
}

/// A blueprint directory of one layer of `kind` with the given features.
fn blueprint_with(kind: &str, features: &[&str]) -> tempfile::TempDir {
    let dir = tempfile::tempdir().unwrap();
    std::fs::write(
        dir.path().join("blueprint.yaml"),
        format!("blueprint: t\nlayers:\n  - {{id: red, file: red.geojson, kind: {kind}, plan: 某规划, department: nrp}}\n"),
    )
    .unwrap();
    std::fs::write(
        dir.path().join("red.geojson"),
        format!(
            r#"{{"type": "FeatureCollection", "features": [{}]}}"#,
            features.join(",")
        ),
    )
    .unwrap();
    dir
}

#[test]
fn a_damaged_blueprint_is_reported_feature_by_feature() {
    let poly = |id: &str, ring: &str| {
        format!(
            r#"{{"type": "Feature", "properties": {{"id": "{id}"}}, "geometry": {{"type": "Polygon", "coordinates": [{ring}]}}}}"#
        )
    };
    let good = "[[113.80,34.00],[113.81,34.00],[113.81,34.01],[113.80,34.01],[113.80,34.00]]";
    let bowtie = "[[113.80,34.00],[113.81,34.01],[113.81,34.00],[113.80,34.01],[113.80,34.00]]";
    let swapped = "[[34.00,113.80],[34.00,113.81],[34.01,113.81],[34.01,113.80],[34.00,113.80]]";
    let paris = "[[2.35,48.85],[2.36,48.85],[2.36,48.86],[2.35,48.85]]";
    let no_id = format!(
        r#"{{"type": "Feature", "properties": {{}}, "geometry": {{"type": "Polygon", "coordinates": [{good}]}}}}"#
    );
    let point = r#"{"type": "Feature", "properties": {"id": "P"}, "geometry": {"type": "Point", "coordinates": [113.8, 34.0]}}"#;
    let dir = blueprint_of(&[
        &poly("ok", good),
        &poly("bow", bowtie),
        &poly("swap", swapped),
        &poly("far", paris),
        &no_id,
        point,
        &poly("ok", good),
    ]);
    let problems = Blueprint::load(dir.path()).unwrap_err();
    let said: Vec<(String, String)> = problems
        .iter()
        .map(|p| (p.feature.clone().unwrap_or_default(), p.message.clone()))
        .collect();
    let about = |id: &str, text: &str| said.iter().any(|(f, m)| f == id && m.contains(text));
    assert!(about("bow", "invalid polygon"), "{said:#?}");
    assert!(about("swap", "swapped"), "{said:#?}");
    assert!(about("far", "outside China"), "{said:#?}");
    assert!(about("#5", "no id"), "{said:#?}");
    assert!(about("P", "not an area"), "{said:#?}");
    assert!(about("ok", "a second feature"), "{said:#?}");
    assert_eq!(problems.len(), 6, "{said:#?}");
    // The index itself: a missing layer file, an unknown kind.
    std::fs::write(
        dir.path().join("blueprint.yaml"),
        "blueprint: t\nlayers:\n  - {id: x, file: missing.geojson, kind: ecological_red_line, plan: p, department: d}\n",
    )
    .unwrap();
    assert!(Blueprint::load(dir.path()).unwrap_err()[0]
        .file
        .ends_with("missing.geojson"));
    std::fs::write(
        dir.path().join("blueprint.yaml"),
        "blueprint: t\nlayers:\n  - {id: x, file: red.geojson, kind: lava, plan: p, department: d}\n",
    )
    .unwrap();
    assert!(Blueprint::load(dir.path()).unwrap_err()[0]
        .message
        .contains("lava"));
}

/// A star-shaped (so simple) polygon around `(cx, cy)`: radii at increasing angles.
fn star(cx: f64, cy: f64, radii: &[f64]) -> Polygon<f64> {
    let n = radii.len() as f64;
    let mut ring: Vec<_> = radii
        .iter()
        .enumerate()
        .map(|(i, r)| {
            let a = std::f64::consts::TAU * i as f64 / n;
            coord! { x: cx + r * a.cos(), y: cy + r * a.sin() }
        })
        .collect();
    ring.push(ring[0]);
    Polygon::new(LineString::new(ring), vec![])
}

fn feature(shape: MultiPolygon<f64>) -> Feature {
    Feature {
        id: "f".into(),
        plan: "p".into(),
        department: "d".into(),
        use_code: None,
        name: None,
        area: shape.unsigned_area(),
        bbox: shape.bounding_rect().unwrap(),
        shape,
    }
}

/// The overlap by counting grid points inside both (point-in-polygon, no clipping).
fn sampled(a: &MultiPolygon<f64>, b: &MultiPolygon<f64>, step: f64) -> f64 {
    let bb = a.bounding_rect().unwrap();
    let mut n = 0u64;
    let mut y = bb.min().y + step / 2.0;
    while y < bb.max().y {
        let mut x = bb.min().x + step / 2.0;
        while x < bb.max().x {
            let p = Point::new(x, y);
            if a.contains(&p) && b.contains(&p) {
                n += 1;
            }
            x += step;
        }
        y += step;
    }
    n as f64 * step * step
}

fn check_overlap(site: &MultiPolygon<f64>, f: &Feature) -> f64 {
    overlap(
        site,
        site.unsigned_area(),
        &site.bounding_rect().unwrap(),
        f,
    )
}

proptest! {
    #![proptest_config(ProptestConfig::with_cases(48))]

    /// Random simple polygons: the clipped overlap agrees with grid sampling, and is the
    /// same whichever is the site.
    #[test]
    fn overlap_agrees_with_sampling_and_is_symmetric(
        a in prop::collection::vec(300.0f64..1000.0, 5..12),
        b in prop::collection::vec(300.0f64..1000.0, 5..12),
        dx in -800.0f64..800.0,
        dy in -800.0f64..800.0,
    ) {
        let pa = MultiPolygon::new(vec![star(0.0, 0.0, &a)]);
        let pb = MultiPolygon::new(vec![star(dx, dy, &b)]);
        let clipped = check_overlap(&pa, &feature(pb.clone()));
        let reverse = check_overlap(&pb, &feature(pa.clone()));
        prop_assert!((clipped - reverse).abs() <= 1e-6 * clipped.max(1.0), "{clipped} vs {reverse}");
        let estimate = sampled(&pa, &pb, 10.0);
        // Grid error: about the perimeter times half a cell.
        prop_assert!((clipped - estimate).abs() <= 0.02 * pa.unsigned_area().min(pb.unsigned_area()) + 500.0,
            "clipped {clipped} sampled {estimate}");
        prop_assert!(clipped <= pa.unsigned_area() + 1e-6 && clipped <= pb.unsigned_area() + 1e-6);
    }

    /// Multipolygons and holes: a site in a feature's hole overlaps nothing; the same site
    /// and feature overlap wholly; a site sharing only an edge overlaps nothing.
    #[test]
    fn holes_multipolygons_and_shared_edges(w in 100.0f64..900.0, h in 100.0f64..900.0, gap in 10.0f64..50.0) {
        let rect = |x0: f64, y0: f64, x1: f64, y1: f64| {
            LineString::from(vec![(x0, y0), (x1, y0), (x1, y1), (x0, y1), (x0, y0)])
        };
        let holed = MultiPolygon::new(vec![Polygon::new(rect(0.0, 0.0, w + 2.0 * gap, h + 2.0 * gap),
            vec![rect(gap, gap, gap + w, gap + h)])]);
        let in_hole = MultiPolygon::new(vec![Polygon::new(rect(gap, gap, gap + w, gap + h), vec![])]);
        prop_assert!(check_overlap(&in_hole, &feature(holed.clone())) < 1e-6);
        let same = check_overlap(&holed, &feature(holed.clone()));
        prop_assert!((same - holed.unsigned_area()).abs() < 1e-6 * same);
        let next_door = MultiPolygon::new(vec![Polygon::new(rect(w + 2.0 * gap, 0.0, 2.0 * w, h), vec![])]);
        prop_assert!(check_overlap(&next_door, &feature(holed.clone())) < 1e-6);
        // Two parts: the overlap is the sum over the parts.
        let two = MultiPolygon::new(vec![
            Polygon::new(rect(0.0, 0.0, w, h), vec![]),
            Polygon::new(rect(3.0 * w, 0.0, 4.0 * w, h), vec![]),
        ]);
        let site = MultiPolygon::new(vec![Polygon::new(rect(w / 2.0, 0.0, 3.5 * w, h), vec![])]);
        let got = check_overlap(&site, &feature(two));
        prop_assert!((got - w * h).abs() < 1e-6 * w * h, "{got}");
    }

    /// The classes follow the shares at their edges.
    #[test]
    fn classes_follow_the_share(share in 0.0f64..=1.0) {
        let c = Class::of(share);
        prop_assert_eq!(c == Class::Inside, share >= 0.9);
        prop_assert_eq!(c == Class::Outside, share <= 0.1);
    }
}

/// `onewindow blueprint check|audit`: the exit code says whether a finding blocks; JSON
/// for scripts; the audit's GeoJSON file.
#[test]
fn the_command_line_checks_and_audits() {
    let run = |args: &[&str]| {
        std::process::Command::new(env!("CARGO_BIN_EXE_onewindow"))
            .args(args)
            .current_dir(root())
            .output()
            .unwrap()
    };
    let blocked = run(&[
        "blueprint",
        "check",
        "--blueprint",
        "workflows/blueprint",
        "workflows/blueprint/sites/red-line.geojson",
        "--form",
        "workflows/forms/industrial-project.yaml",
    ]);
    assert_eq!(blocked.status.code(), Some(1));
    let text = String::from_utf8_lossy(&blocked.stdout);
    assert!(text.contains("BLOCKS ecological-red-line"), "{text}");
    assert!(text.contains("SYNTHETIC"), "{text}");
    let clean = run(&[
        "blueprint",
        "check",
        "--blueprint",
        "workflows/blueprint",
        "workflows/blueprint/sites/clean.geojson",
        "--json",
    ]);
    assert_eq!(clean.status.code(), Some(0));
    let json: serde_json::Value = serde_json::from_slice(&clean.stdout).unwrap();
    assert_eq!(json["blocking"], false);
    let out = tempfile::tempdir().unwrap();
    let file = out.path().join("d.geojson");
    let audit = run(&[
        "blueprint",
        "audit",
        "--blueprint",
        "workflows/blueprint",
        "--geojson",
        file.to_str().unwrap(),
    ]);
    assert_eq!(audit.status.code(), Some(0));
    assert!(String::from_utf8_lossy(&audit.stdout).contains("zoning-on-red-line"));
    let written: geojson::FeatureCollection =
        std::fs::read_to_string(&file).unwrap().parse().unwrap();
    assert_eq!(written.features.len(), 1);
    // A site drawn latitude first is refused, naming the swap.
    let swapped = out.path().join("swapped.geojson");
    std::fs::write(&swapped, r#"{"type": "Polygon", "coordinates": [[[34.0,113.8],[34.0,113.81],[34.01,113.81],[34.0,113.8]]]}"#).unwrap();
    let refused = run(&[
        "blueprint",
        "check",
        "--blueprint",
        "workflows/blueprint",
        swapped.to_str().unwrap(),
    ]);
    assert_eq!(refused.status.code(), Some(1));
    assert!(String::from_utf8_lossy(&refused.stderr).contains("swapped"));
}

/// Two features of one layer drawn over the same place: the audit reports the pair once.
#[test]
fn the_audit_finds_a_layer_drawn_twice_over_a_place() {
    let poly = |id: &str, x0: f64| {
        format!(
            r#"{{"type": "Feature", "properties": {{"id": "{id}"}}, "geometry": {{"type": "Polygon", "coordinates": [[[{x0},34.00],[{x1},34.00],[{x1},34.01],[{x0},34.01],[{x0},34.00]]]}}}}"#,
            x1 = x0 + 0.01
        )
    };
    // Two squares of 0.01°, half over each other; a third apart.
    let dir = blueprint_of(&[&poly("a", 113.80), &poly("b", 113.805), &poly("c", 113.90)]);
    let bp = Blueprint::load(dir.path()).unwrap();
    let differences = conflicts::find(&bp);
    assert_eq!(differences.len(), 1, "{differences:#?}");
    let d = &differences[0];
    assert_eq!(d.rule, "features-overlap");
    assert_eq!((d.feature_a.as_str(), d.feature_b.as_str()), ("a", "b"));
    let whole = bp.layers[0].features[0].area;
    assert!(
        (d.area_m2 - whole / 2.0).abs() < 0.01 * whole,
        "{} of {whole}",
        d.area_m2
    );
}

/// A rectangle in degrees as a GeoJSON feature.
fn rect_feature(id: &str, x0: f64, y0: f64, w: f64, h: f64) -> String {
    let (x1, y1) = (x0 + w, y0 + h);
    format!(
        r#"{{"type": "Feature", "properties": {{"id": "{id}"}}, "geometry": {{"type": "Polygon", "coordinates": [[[{x0},{y0}],[{x1},{y0}],[{x1},{y1}],[{x0},{y1}],[{x0},{y0}]]]}}}}"#
    )
}

/// A rectangle in degrees.
fn rect(x0: f64, y0: f64, w: f64, h: f64) -> MultiPolygon<f64> {
    MultiPolygon::new(vec![Polygon::new(
        LineString::from(vec![
            (x0, y0),
            (x0 + w, y0),
            (x0 + w, y0 + h),
            (x0, y0 + h),
            (x0, y0),
        ]),
        vec![],
    )])
}

/// Grid sampling of the site's area within any of `features` (point-in-polygon).
fn sampled_union(site: &MultiPolygon<f64>, features: &[MultiPolygon<f64>], step: f64) -> f64 {
    let bb = site.bounding_rect().unwrap();
    let mut n = 0u64;
    let mut y = bb.min().y + step / 2.0;
    while y < bb.max().y {
        let mut x = bb.min().x + step / 2.0;
        while x < bb.max().x {
            let p = Point::new(x, y);
            if site.contains(&p) && features.iter().any(|f| f.contains(&p)) {
                n += 1;
            }
            x += step;
        }
        y += step;
    }
    n as f64 * step * step
}

/// Features of one layer drawn over each other are counted once: the layer's overlap is
/// the site's area within their union (here: the same farmland parcel digitised twice
/// over half of the site gives 50 %, not 100 %), so a site half outside the urban
/// development boundary drawn twice is still found outside.
#[test]
fn features_drawn_over_each_other_count_once() {
    let site = rect(113.800, 34.000, 0.010, 0.010);
    let half = |id: &str| rect_feature(id, 113.795, 34.000, 0.010, 0.010);
    for kind in ["basic_farmland", "urban_development_boundary"] {
        let dir = blueprint_with(kind, &[&half("a"), &half("b")]);
        let bp = Blueprint::load(dir.path()).unwrap();
        let checked = check::check_site(&bp, &site, None).unwrap();
        let f = checked
            .findings
            .iter()
            .find(|f| f.layer == "red")
            .unwrap_or_else(|| panic!("{kind}: a finding, {checked:#?}"));
        assert!((f.share - 0.5).abs() < 0.01, "{kind}: {f:#?}");
        assert_eq!(f.class, Class::Partly, "{kind}");
        if kind == "urban_development_boundary" {
            assert_eq!(f.rule, "outside-urban-boundary");
        } else {
            assert_eq!(f.rule, "basic-farmland");
            assert_eq!(f.features, ["a", "b"]);
        }
    }
}

proptest! {
    #![proptest_config(ProptestConfig::with_cases(24))]

    /// Random rectangles of one layer, overlapping each other or not, against a random
    /// site: the layer's overlap agrees with grid sampling of the site within their
    /// union, and its class follows.
    #[test]
    fn a_layers_overlap_is_the_union_of_its_features(
        rects in proptest::collection::vec((0.0f64..0.012, 0.0f64..0.012, 0.002f64..0.008, 0.002f64..0.008), 1..5),
        site in (0.0f64..0.008, 0.0f64..0.008, 0.004f64..0.010, 0.004f64..0.010),
    ) {
        let (x0, y0) = (113.80, 34.00);
        let texts: Vec<String> = rects
            .iter()
            .enumerate()
            .map(|(i, (x, y, w, h))| rect_feature(&format!("f{i}"), x0 + x, y0 + y, *w, *h))
            .collect();
        let refs: Vec<&str> = texts.iter().map(String::as_str).collect();
        let dir = blueprint_with("other", &refs);
        let bp = Blueprint::load(dir.path()).unwrap();
        let site_deg = rect(x0 + site.0, y0 + site.1, site.2, site.3);
        let checked = check::check_site(&bp, &site_deg, None).unwrap();
        let projected = |m: &MultiPolygon<f64>| onewindow::blueprint::project(&bp.zone, m).unwrap();
        let site_m = projected(&site_deg);
        let features: Vec<MultiPolygon<f64>> = bp.layers[0].features.iter().map(|f| f.shape.clone()).collect();
        let expected = sampled_union(&site_m, &features, 5.0);
        let got = checked.findings.iter().find(|f| f.layer == "red").map_or(0.0, |f| f.overlap_m2);
        let tolerance = 0.02 * checked.site_m2 + bp.sliver_m2 + 200.0;
        prop_assert!((got - expected).abs() <= tolerance, "got {got}, sampled {expected}, site {}", checked.site_m2);
        prop_assert!(got <= checked.site_m2 + 1e-6);
    }
}
