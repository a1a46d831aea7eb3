//! The plans' conflicts: where the plans themselves fight (规划打架). Each conflict is a
//! difference polygon (差异图斑) with its area, above the blueprint's sliver tolerance:
//!
//! | code | layers |
//! |---|---|
//! | `control-lines-overlap` | two of the three control lines overlap (they may not) |
//! | `zoning-on-red-line` | zoning of a use other than the compatible ones on the red line |
//! | `zoning-on-farmland` | the same on permanent basic farmland |
//! | `features-overlap` | two features of one layer overlap (one plan drawn twice over a place; the site check counts each layer's features once) |
//!
//! Pairs are found through the second layer's R-tree, then clipped (i_overlay through
//! geo). The polygons are written as GeoJSON in lon/lat, which an analyst opens in QGIS.

use geo::{Area, BooleanOps, MultiPolygon};
use serde::Serialize;

use super::{Blueprint, Layer, LayerKind};

/// A difference polygon.
#[derive(Debug, Clone, Serialize)]
pub struct Difference {
    /// The rule's stable code.
    pub rule: &'static str,
    /// The first layer and feature (the higher-priority plan).
    pub layer_a: String,
    /// Its feature.
    pub feature_a: String,
    /// The other layer.
    pub layer_b: String,
    /// Its feature.
    pub feature_b: String,
    /// The departments responsible for each.
    pub departments: [String; 2],
    /// Area, m².
    pub area_m2: f64,
    /// The polygon, metres on the blueprint's zone.
    #[serde(skip)]
    pub shape: MultiPolygon<f64>,
}

/// Every conflict between the blueprint's plans, largest first.
pub fn find(bp: &Blueprint) -> Vec<Difference> {
    let mut out = Vec::new();
    let controls: Vec<&Layer> = bp
        .layers
        .iter()
        .filter(|l| l.kind.control_line_rank().is_some())
        .collect();
    for (i, a) in controls.iter().enumerate() {
        for b in &controls[i + 1..] {
            let (a, b) = if a.kind.control_line_rank() <= b.kind.control_line_rank() {
                (a, b)
            } else {
                (b, a)
            };
            pairs(bp, a, b, "control-lines-overlap", |_| true, &mut out);
        }
    }
    for zoning in bp.layers.iter().filter(|l| l.kind == LayerKind::Zoning) {
        for control in &controls {
            let rule = match control.kind {
                LayerKind::EcologicalRedLine => "zoning-on-red-line",
                LayerKind::BasicFarmland => "zoning-on-farmland",
                _ => continue,
            };
            pairs(
                bp,
                control,
                zoning,
                rule,
                |f| {
                    !f.use_code
                        .as_ref()
                        .is_some_and(|u| bp.compatible_uses.contains(u))
                },
                &mut out,
            );
        }
    }
    for layer in &bp.layers {
        for (i, fa) in layer.features.iter().enumerate() {
            // Each pair once: the other feature comes later in the layer.
            let later = layer
                .candidate_indexes(&fa.bbox)
                .filter(|j| *j > i)
                .map(|j| (layer, &layer.features[j]));
            clip(bp, (layer, fa), later, "features-overlap", &mut out);
        }
    }
    out.sort_by(|x, y| y.area_m2.total_cmp(&x.area_m2));
    out
}

/// The overlaps of `a`'s features with `b`'s that `keep` lets through.
fn pairs(
    bp: &Blueprint,
    a: &Layer,
    b: &Layer,
    rule: &'static str,
    keep: impl Fn(&super::Feature) -> bool,
    out: &mut Vec<Difference>,
) {
    for fa in &a.features {
        let others = b.candidates(&fa.bbox).filter(|f| keep(f)).map(|fb| (b, fb));
        clip(bp, (a, fa), others, rule, out);
    }
}

/// The overlaps above the sliver tolerance of one feature with each of `others`.
fn clip<'a>(
    bp: &Blueprint,
    (a, fa): (&Layer, &super::Feature),
    others: impl Iterator<Item = (&'a Layer, &'a super::Feature)>,
    rule: &'static str,
    out: &mut Vec<Difference>,
) {
    for (b, fb) in others {
        let shape = fa.shape.intersection(&fb.shape);
        let area = shape.unsigned_area();
        if area > bp.sliver_m2 {
            out.push(Difference {
                rule,
                layer_a: a.id.clone(),
                feature_a: fa.id.clone(),
                layer_b: b.id.clone(),
                feature_b: fb.id.clone(),
                departments: [fa.department.clone(), fb.department.clone()],
                area_m2: area,
                shape,
            });
        }
    }
}

/// The differences as a GeoJSON FeatureCollection in lon/lat.
pub fn to_geojson(bp: &Blueprint, differences: &[Difference]) -> geojson::FeatureCollection {
    let features = differences
        .iter()
        .enumerate()
        .filter_map(|(n, d)| {
            let shape = super::unproject(&bp.zone, &d.shape)?;
            let mut properties = serde_json::Map::new();
            properties.insert("id".into(), format!("D{:04}", n + 1).into());
            properties.insert("rule".into(), d.rule.into());
            properties.insert("layer_a".into(), d.layer_a.clone().into());
            properties.insert("feature_a".into(), d.feature_a.clone().into());
            properties.insert("layer_b".into(), d.layer_b.clone().into());
            properties.insert("feature_b".into(), d.feature_b.clone().into());
            properties.insert(
                "area_m2".into(),
                (d.area_m2 * 10.0).round().div_euclid(10.0).into(),
            );
            Some(geojson::Feature {
                bbox: None,
                geometry: Some(geojson::Geometry::from(&shape)),
                id: None,
                properties: Some(properties),
                foreign_members: None,
            })
        })
        .collect();
    geojson::FeatureCollection {
        bbox: None,
        features,
        foreign_members: None,
    }
}
