//! The site check (项目策划生成): a project's site against every layer of the blueprint,
//! at the counter, before approval.
//!
//! Per layer, the site's overlap with the layer's features in m² and as a share of the
//! site, classified as practice does: **inside** at ≥ 90 %, **outside** at ≤ 10 %,
//! **partly** between; overlaps below the blueprint's sliver tolerance count as none. The
//! rules, each with a stable code:
//!
//! | code | when | blocking |
//! |---|---|---|
//! | `ecological-red-line` | inside or partly in the red line: only major national projects | yes |
//! | `basic-farmland` | inside or partly on permanent basic farmland: ministry-level pre-examination | yes |
//! | `control-line-edge` | the red line or farmland touches the site (≤ 10 %): adjust the site boundary | no |
//! | `outside-urban-boundary` | not inside the urban development boundary: another land route | no |
//! | `zoning-use` | zoning uses the project's industry may not be built on, partly or inside | yes |
//! | `zoning-edge` | the same, at ≤ 10 % of the site | no |
//! | `blue-line`, `green-line`, `yellow-line`, `heritage` | any overlap: the department states conditions | no |
//! | `development-zone` | inside or partly in a development zone | no |
//! | `other-layer` | any overlap with another layer | no |
//!
//! Speed: an R-tree per layer gives the candidates whose boxes meet the site's; a
//! feature whose box holds the site's and which contains the site counts the whole site
//! (no clipping); only features on the site's boundary are clipped (i_overlay, through
//! geo's boolean operations).
//!
//! Overlapping features: a layer's features may overlap each other (two farmland parcels
//! digitised over one another; the plan audit reports it as `features-overlap`). A
//! layer's overlap with the site is therefore the area of the site within the *union* of
//! the features it meets, not the sum of the per-feature overlaps: where only one
//! feature meets the site they are the same, and where several do, their clipped pieces
//! are united first (geo's `unary_union`). The same holds for the part of a layer with a
//! given zoning use.

use std::collections::BTreeMap;

use geo::{Area, BooleanOps, BoundingRect, Contains, MultiPolygon};

use super::{Blueprint, Feature, Layer, LayerKind};

pub use onewindow_core::site::{Class, Finding, SiteCheck};

/// The most vertices a site may have, over all its rings. A surveyed site boundary
/// (用地红线) has tens to a few hundred; the bound keeps the check's cost small whatever is
/// sent, because validating a ring compares each of its edges with every other (geo's
/// `Validation`: a 40,000-vertex ring took seconds of CPU, 5,000 takes a tenth of one).
pub const MAX_SITE_VERTICES: usize = 5_000;
/// The most polygons a site may have (their pairwise check grows with the square).
pub const MAX_SITE_POLYGONS: usize = 50;
/// The most rings (outer boundaries and holes) a site may have.
pub const MAX_SITE_RINGS: usize = 200;

/// Why a site could not be checked.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum SiteError {
    /// Not a usable polygon (outside China, swapped axes, not an area).
    #[error("the site: {0}")]
    Shape(String),
    /// An empty or invalid polygon.
    #[error("the site is not a valid polygon: {0}")]
    Invalid(String),
    /// More vertices, polygons or rings than a site may have.
    #[error("the site is too detailed: {0}")]
    TooDetailed(String),
}

/// Whether a site is within [`MAX_SITE_VERTICES`], [`MAX_SITE_POLYGONS`] and
/// [`MAX_SITE_RINGS`]: counted before anything costly is done with it.
///
/// # Errors
/// The bound it passes, in words.
pub fn within_bounds(site: &MultiPolygon<f64>) -> Result<(), SiteError> {
    let polygons = site.0.len();
    let rings: usize = site.0.iter().map(|p| 1 + p.interiors().len()).sum();
    let vertices: usize = site
        .0
        .iter()
        .flat_map(|p| std::iter::once(p.exterior()).chain(p.interiors()))
        .map(|r| r.0.len())
        .sum();
    if polygons > MAX_SITE_POLYGONS {
        return Err(SiteError::TooDetailed(format!(
            "{polygons} polygons; at most {MAX_SITE_POLYGONS}"
        )));
    }
    if rings > MAX_SITE_RINGS {
        return Err(SiteError::TooDetailed(format!(
            "{rings} rings; at most {MAX_SITE_RINGS}"
        )));
    }
    if vertices > MAX_SITE_VERTICES {
        return Err(SiteError::TooDetailed(format!(
            "{vertices} vertices; at most {MAX_SITE_VERTICES} (simplify the boundary)"
        )));
    }
    Ok(())
}

/// The part of the site one feature covers.
#[derive(Debug, Clone)]
pub enum Piece<'a> {
    /// The feature contains the whole site.
    WholeSite,
    /// The site contains the whole feature.
    WholeFeature(&'a Feature),
    /// The clipped intersection.
    Clipped(MultiPolygon<f64>),
}

/// Whether one box holds another.
fn holds(outer: &geo::Rect<f64>, inner: &geo::Rect<f64>) -> bool {
    outer.min().x <= inner.min().x
        && outer.min().y <= inner.min().y
        && outer.max().x >= inner.max().x
        && outer.max().y >= inner.max().y
}

/// The part of the site one feature covers, and its area in m²: the whole site or the
/// whole feature where one contains the other (no clipping), otherwise the clipped
/// intersection.
pub fn piece<'a>(
    site: &MultiPolygon<f64>,
    site_m2: f64,
    site_box: &geo::Rect<f64>,
    f: &'a Feature,
) -> (Piece<'a>, f64) {
    if holds(&f.bbox, site_box) && f.shape.contains(site) {
        return (Piece::WholeSite, site_m2);
    }
    if holds(site_box, &f.bbox) && site.contains(&f.shape) {
        return (Piece::WholeFeature(f), f.area);
    }
    let clipped = site.intersection(&f.shape);
    let area = clipped.unsigned_area();
    (Piece::Clipped(clipped), area)
}

/// The site's overlap with one feature, m².
pub fn overlap(
    site: &MultiPolygon<f64>,
    site_m2: f64,
    site_box: &geo::Rect<f64>,
    f: &Feature,
) -> f64 {
    piece(site, site_m2, site_box, f).1
}

/// The area of the site within the union of some features' pieces, m²: exact whether or
/// not the features overlap each other.
fn union_area(site: &MultiPolygon<f64>, site_m2: f64, pieces: &[&Hit<'_>]) -> f64 {
    match pieces {
        [] => 0.0,
        [one] => one.area,
        _ => {
            if pieces.iter().any(|h| matches!(h.piece, Piece::WholeSite)) {
                return site_m2;
            }
            let shapes: Vec<&MultiPolygon<f64>> = pieces
                .iter()
                .map(|h| match &h.piece {
                    Piece::WholeSite => site,
                    Piece::WholeFeature(f) => &f.shape,
                    Piece::Clipped(c) => c,
                })
                .collect();
            geo::unary_union(shapes).unsigned_area().min(site_m2)
        }
    }
}

/// One feature the site overlaps by more than a sliver.
#[derive(Debug, Clone)]
struct Hit<'a> {
    feature: &'a Feature,
    piece: Piece<'a>,
    area: f64,
}

/// The form's `industry`, which judges the zoning use.
pub fn industry_of(form: &BTreeMap<String, onewindow_core::form::Value>) -> Option<&str> {
    match form.get("industry") {
        Some(onewindow_core::form::Value::String(s)) => Some(s),
        _ => None,
    }
}

/// Checks a site (degrees, GeoJSON order) against every layer. `industry` is the form's
/// industry (for the zoning rule; without it zoning overlaps are reported, not judged).
///
/// # Errors
/// A site that is not a valid polygon in China.
pub fn check_site(
    bp: &Blueprint,
    site_degrees: &MultiPolygon<f64>,
    industry: Option<&str>,
) -> Result<SiteCheck, SiteError> {
    use geo::Validation;
    within_bounds(site_degrees)?;
    let site = super::project(&bp.zone, site_degrees)
        .ok_or_else(|| SiteError::Shape("a coordinate could not be projected".into()))?;
    if let Some(e) = site.validation_errors().first() {
        return Err(SiteError::Invalid(e.to_string()));
    }
    let site_m2 = site.unsigned_area();
    let site_box = site
        .bounding_rect()
        .filter(|_| site_m2 > 0.0)
        .ok_or_else(|| SiteError::Invalid("it has no area".into()))?;
    let mut findings = Vec::new();
    for layer in &bp.layers {
        // Per feature overlap above the sliver tolerance.
        // In the layer's file order, whatever order the R-tree finds them in: the
        // findings (and the record they go into) list features deterministically.
        let mut candidates: Vec<usize> = layer.candidate_indexes(&site_box).collect();
        candidates.sort_unstable();
        let hits: Vec<Hit> = candidates
            .into_iter()
            .map(|i| &layer.features[i])
            .map(|f| {
                let (piece, area) = piece(&site, site_m2, &site_box, f);
                Hit {
                    feature: f,
                    piece,
                    area,
                }
            })
            .filter(|h| h.area > bp.sliver_m2)
            .collect();
        findings.extend(judge(bp, layer, &site, &hits, site_m2, industry));
    }
    findings.sort_by_key(|f| !f.blocking);
    Ok(SiteCheck {
        blueprint: bp.id.clone(),
        site_m2,
        blocking: findings.iter().any(|f| f.blocking),
        findings,
    })
}

/// The findings of one layer.
fn judge(
    bp: &Blueprint,
    layer: &Layer,
    site: &MultiPolygon<f64>,
    hits: &[Hit<'_>],
    site_m2: f64,
    industry: Option<&str>,
) -> Vec<Finding> {
    let all: Vec<&Hit> = hits.iter().collect();
    // `+ 0.0`: an empty area is -0.0 in some paths.
    let total: f64 = union_area(site, site_m2, &all) + 0.0;
    let finding =
        |hits: &[&Hit<'_>], overlap: f64, rule: &'static str, blocking: bool, message: String| {
            let share = (overlap / site_m2).clamp(0.0, 1.0);
            let first = hits.first().map(|h| h.feature);
            Finding {
                layer: layer.id.clone(),
                kind: layer.kind,
                plan: first.map_or_else(|| layer.plan.clone(), |f| f.plan.clone()),
                department: first
                    .map_or_else(|| layer.department.clone(), |f| f.department.clone()),
                features: hits.iter().map(|h| h.feature.id.clone()).collect(),
                overlap_m2: overlap,
                share,
                class: Class::of(share),
                rule: rule.to_string(),
                blocking,
                message,
            }
        };
    let class = Class::of(total / site_m2);
    match layer.kind {
        LayerKind::EcologicalRedLine | LayerKind::BasicFarmland if !hits.is_empty() => {
            let (rule, what) = if layer.kind == LayerKind::EcologicalRedLine {
                ("ecological-red-line", "inside the ecological protection red line (生态保护红线): only major national projects may use it; not approvable locally")
            } else {
                ("basic-farmland", "on permanent basic farmland (永久基本农田): occupying it needs the ministry's pre-examination; not approvable locally")
            };
            if class == Class::Outside {
                vec![finding(&all, total, "control-line-edge", false, format!(
                    "the {} touches the site ({:.0} m²): adjust the site boundary (用地红线) before submission", layer.plan, total))]
            } else {
                vec![finding(
                    &all,
                    total,
                    rule,
                    true,
                    format!(
                        "{what} ({:.0} m², {:.0} % of the site)",
                        total,
                        100.0 * total / site_m2
                    ),
                )]
            }
        }
        LayerKind::UrbanDevelopmentBoundary => {
            // What lies outside counts; a sliver outside is none.
            let outside = site_m2 - total;
            if outside <= bp.sliver_m2 {
                return Vec::new();
            }
            let mut f = finding(&all, total, "outside-urban-boundary", false, format!(
                "{:.0} m² ({:.0} %) of the site is outside the urban development boundary (城镇开发边界): it needs another land route than urban construction land",
                outside, 100.0 * outside / site_m2));
            f.class = class;
            vec![f]
        }
        LayerKind::Zoning => {
            let Some(industry) = industry else {
                if hits.is_empty() {
                    return Vec::new();
                }
                let uses = uses_of(site, site_m2, &all);
                return vec![finding(
                    &all,
                    total,
                    "zoning-use",
                    false,
                    format!(
                    "zoned {uses}; the form names no industry, so the zoning use was not judged"),
                )];
            };
            let allowed = bp.industry_uses.get(industry);
            let wrong: Vec<&Hit> = hits
                .iter()
                .filter(|h| {
                    !allowed.is_some_and(|uses| {
                        h.feature
                            .use_code
                            .as_ref()
                            .is_some_and(|u| uses.contains(u))
                    })
                })
                .collect();
            if wrong.is_empty() {
                return Vec::new();
            }
            let area = union_area(site, site_m2, &wrong);
            let uses = uses_of(site, site_m2, &wrong);
            let blocking = Class::of(area / site_m2) != Class::Outside;
            let rule = if blocking {
                "zoning-use"
            } else {
                "zoning-edge"
            };
            vec![finding(&wrong, area, rule, blocking, format!(
                "{:.0} m² ({:.0} %) of the site is zoned {uses}, which a `{industry}` project may not be built on (控制性详细规划 conflicts)",
                area, 100.0 * area / site_m2))]
        }
        _ if hits.is_empty() => Vec::new(),
        LayerKind::DevelopmentZone if class == Class::Outside => Vec::new(),
        kind => {
            let (rule, what) = match kind {
                LayerKind::BlueLine => ("blue-line", "within the blue line (城市蓝线, water): the water department states its building conditions"),
                LayerKind::GreenLine => ("green-line", "within the green line (城市绿线): green space may not be built on without the plan's change"),
                LayerKind::YellowLine => ("yellow-line", "within the yellow line (城市黄线, infrastructure): keep the corridor's setbacks"),
                LayerKind::Heritage => ("heritage", "within a heritage protection area: the heritage authority's opinion is needed"),
                LayerKind::DevelopmentZone => ("development-zone", "inside a development zone: its own approval rules and services apply"),
                _ => ("other-layer", "overlaps this layer"),
            };
            vec![finding(
                &all,
                total,
                rule,
                false,
                format!("{what} ({:.0} m²)", total),
            )]
        }
    }
}

/// The use codes of some zoning features, with the area of the site each covers (the
/// union of that use's pieces).
fn uses_of(site: &MultiPolygon<f64>, site_m2: f64, hits: &[&Hit<'_>]) -> String {
    let mut by: BTreeMap<&str, Vec<&Hit>> = BTreeMap::new();
    for h in hits {
        by.entry(h.feature.use_code.as_deref().unwrap_or("?"))
            .or_default()
            .push(h);
    }
    by.iter()
        .map(|(u, hs)| format!("{u} ({:.0} m²)", union_area(site, site_m2, hs)))
        .collect::<Vec<_>>()
        .join(", ")
}
