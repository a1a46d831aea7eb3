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

use std::collections::BTreeMap;

use geo::{Area, BooleanOps, BoundingRect, Contains, MultiPolygon};
use serde::{Deserialize, Serialize};

use super::{Blueprint, Feature, Layer, LayerKind};

/// A site against one layer, by share.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Class {
    /// ≥ 90 % of the site.
    Inside,
    /// Between.
    Partly,
    /// ≤ 10 % (or only a sliver).
    Outside,
}

impl Class {
    /// The class of a share of the site (0–1).
    pub fn of(share: f64) -> Class {
        if share >= 0.9 {
            Class::Inside
        } else if share <= 0.1 {
            Class::Outside
        } else {
            Class::Partly
        }
    }
}

/// One finding of a site check (kept in a project's record, so it carries its figures,
/// not references to the blueprint).
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Finding {
    /// The layer.
    pub layer: String,
    /// Its kind.
    pub kind: LayerKind,
    /// The plan.
    pub plan: String,
    /// The department responsible.
    pub department: String,
    /// The features overlapped.
    pub features: Vec<String>,
    /// Overlap, m².
    pub overlap_m2: f64,
    /// Share of the site, 0–1.
    pub share: f64,
    /// Inside, partly, outside.
    pub class: Class,
    /// The rule's stable code.
    pub rule: String,
    /// Whether it stops the application at the counter.
    pub blocking: bool,
    /// The rule in words.
    pub message: String,
}

/// What the check found.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct SiteCheck {
    /// The blueprint checked against.
    pub blueprint: String,
    /// The site's area, m².
    pub site_m2: f64,
    /// Any blocking finding.
    pub blocking: bool,
    /// Every finding, blocking first.
    pub findings: Vec<Finding>,
}

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

/// The site's overlap with one feature, m²: the whole feature or the whole site where one
/// contains the other, otherwise the clipped area.
pub fn overlap(
    site: &MultiPolygon<f64>,
    site_m2: f64,
    site_box: &geo::Rect<f64>,
    f: &Feature,
) -> f64 {
    let holds = |outer: &geo::Rect<f64>, inner: &geo::Rect<f64>| {
        outer.min().x <= inner.min().x
            && outer.min().y <= inner.min().y
            && outer.max().x >= inner.max().x
            && outer.max().y >= inner.max().y
    };
    if holds(&f.bbox, site_box) && f.shape.contains(site) {
        return site_m2;
    }
    if holds(site_box, &f.bbox) && site.contains(&f.shape) {
        return f.area;
    }
    site.intersection(&f.shape).unsigned_area()
}

/// The form's `industry`, which judges the zoning use.
pub fn industry_of(form: &BTreeMap<String, crate::form::Value>) -> Option<&str> {
    match form.get("industry") {
        Some(crate::form::Value::String(s)) => Some(s),
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
        let hits: Vec<(&Feature, f64)> = layer
            .candidates(&site_box)
            .map(|f| (f, overlap(&site, site_m2, &site_box, f)))
            .filter(|(_, a)| *a > bp.sliver_m2)
            .collect();
        findings.extend(judge(bp, layer, &hits, site_m2, industry));
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
    hits: &[(&Feature, f64)],
    site_m2: f64,
    industry: Option<&str>,
) -> Vec<Finding> {
    // `+ 0.0`: an empty sum is -0.0.
    let total: f64 = (hits.iter().map(|(_, a)| a).sum::<f64>() + 0.0).min(site_m2);
    let finding = |hits: &[(&Feature, f64)],
                   overlap: f64,
                   rule: &'static str,
                   blocking: bool,
                   message: String| {
        let share = (overlap / site_m2).clamp(0.0, 1.0);
        let first = hits.first().map(|(f, _)| *f);
        Finding {
            layer: layer.id.clone(),
            kind: layer.kind,
            plan: first.map_or_else(|| layer.plan.clone(), |f| f.plan.clone()),
            department: first.map_or_else(|| layer.department.clone(), |f| f.department.clone()),
            features: hits.iter().map(|(f, _)| f.id.clone()).collect(),
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
                vec![finding(hits, total, "control-line-edge", false, format!(
                    "the {} touches the site ({:.0} m²): adjust the site boundary (用地红线) before submission", layer.plan, total))]
            } else {
                vec![finding(
                    hits,
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
            let mut f = finding(hits, total, "outside-urban-boundary", false, format!(
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
                let uses = uses_of(hits);
                return vec![finding(
                    hits,
                    total,
                    "zoning-use",
                    false,
                    format!(
                    "zoned {uses}; the form names no industry, so the zoning use was not judged"),
                )];
            };
            let allowed = bp.industry_uses.get(industry);
            let wrong: Vec<(&Feature, f64)> = hits
                .iter()
                .filter(|(f, _)| {
                    !allowed
                        .is_some_and(|uses| f.use_code.as_ref().is_some_and(|u| uses.contains(u)))
                })
                .copied()
                .collect();
            if wrong.is_empty() {
                return Vec::new();
            }
            let area: f64 = wrong.iter().map(|(_, a)| a).sum::<f64>().min(site_m2);
            let uses = uses_of(&wrong);
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
                hits,
                total,
                rule,
                false,
                format!("{what} ({:.0} m²)", total),
            )]
        }
    }
}

/// The use codes of some zoning features, with their areas.
fn uses_of(hits: &[(&Feature, f64)]) -> String {
    let mut by: BTreeMap<&str, f64> = BTreeMap::new();
    for (f, a) in hits {
        *by.entry(f.use_code.as_deref().unwrap_or("?")).or_default() += a;
    }
    by.iter()
        .map(|(u, a)| format!("{u} ({a:.0} m²)"))
        .collect::<Vec<_>>()
        .join(", ")
}
