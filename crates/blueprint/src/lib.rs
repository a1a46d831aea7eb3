//! One blueprint (一张蓝图): the city's plans as layers of polygons, a project's site
//! checked against all of them before approval ([`check`]), and the plans checked against
//! each other ([`audit`]).
//!
//! A blueprint is a directory: `blueprint.yaml` (the index) and one GeoJSON file per
//! layer, each feature a polygon or multipolygon with an `id` and, where they differ
//! from the layer's, its `plan` and `department`; zoning features carry a `use_code`.
//!
//! ```yaml
//! blueprint: synthetic-city
//! name: 示例城市一张蓝图
//! sliver_m2: 50                  # overlaps smaller than this are drawing noise
//! industry_uses: {industrial: [M], warehouse: [W, M], commercial: [B]}
//! compatible_uses: [G, E]        # zoning uses that may lie on a control line
//! layers:
//!   - {id: ecological_red_line, file: ecological_red_line.geojson, kind: ecological_red_line,
//!      plan: 生态保护红线, department: nrp}
//! ```
//!
//! Loading checks everything at once and reports each problem with the file and the
//! feature id: unreadable or oversized files, features without an id, geometries that are
//! not polygons, coordinates outside China (with swapped axes named as such), and
//! polygons that are invalid (self-intersecting rings, holes outside their shell). Then
//! every polygon is projected once into metres ([`zone::Zone`]) and indexed in an R-tree
//! per layer: a site check touches only the features whose boxes meet the site's.
//!
//! Features of one layer are assumed not to overlap each other (a layer is one plan's
//! map); overlaps between layers are what [`audit`] is for.

#![deny(missing_docs)]

pub mod check;
pub mod conflicts;
pub mod zone;

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};

use geo::{Area, BoundingRect, MultiPolygon, Polygon, Rect, Validation};
use rstar::primitives::{GeomWithData, Rectangle};
use rstar::{RTree, AABB};
use serde::{Deserialize, Serialize};

pub use onewindow_core::site::LayerKind;
pub use zone::Zone;

/// The largest layer file read.
pub const MAX_LAYER_BYTES: u64 = 512 * 1024 * 1024;

/// A polygon of a layer, in metres on the blueprint's zone.
#[derive(Debug, Clone)]
pub struct Feature {
    /// The feature's id, as the file gives it.
    pub id: String,
    /// The plan it belongs to.
    pub plan: String,
    /// The department responsible for it.
    pub department: String,
    /// Zoning: the land-use code.
    pub use_code: Option<String>,
    /// A name, when the file gives one.
    pub name: Option<String>,
    /// The shape, projected.
    pub shape: MultiPolygon<f64>,
    /// Its area, m².
    pub area: f64,
    /// Its bounding box.
    pub bbox: Rect<f64>,
}

/// A layer: its features and an R-tree of their boxes.
#[derive(Debug)]
pub struct Layer {
    /// Layer id.
    pub id: String,
    /// What it is.
    pub kind: LayerKind,
    /// The plan, when features do not say.
    pub plan: String,
    /// The department, when features do not say.
    pub department: String,
    /// The features.
    pub features: Vec<Feature>,
    tree: RTree<GeomWithData<Rectangle<[f64; 2]>, usize>>,
}

impl Layer {
    /// The indexes of the features whose boxes meet `bbox`.
    pub fn candidate_indexes(&self, bbox: &Rect<f64>) -> impl Iterator<Item = usize> + '_ {
        let envelope =
            AABB::from_corners([bbox.min().x, bbox.min().y], [bbox.max().x, bbox.max().y]);
        self.tree
            .locate_in_envelope_intersecting(&envelope)
            .map(|g| g.data)
    }

    /// The features whose boxes meet `bbox`.
    pub fn candidates(&self, bbox: &Rect<f64>) -> impl Iterator<Item = &Feature> {
        self.candidate_indexes(bbox).map(|i| &self.features[i])
    }
}

/// A loaded blueprint.
#[derive(Debug)]
pub struct Blueprint {
    /// Its id.
    pub id: String,
    /// Its name.
    pub name: String,
    /// Invented data (the shipped example): said in every report.
    pub synthetic: bool,
    /// Overlaps smaller than this many m² are ignored (drawing noise at shared edges).
    pub sliver_m2: f64,
    /// The form's industry → the zoning use codes it may be built on.
    pub industry_uses: BTreeMap<String, Vec<String>>,
    /// Zoning use codes that may lie on a control line (green space, water).
    pub compatible_uses: Vec<String>,
    /// The plane areas are measured on.
    pub zone: Zone,
    /// The layers, in the index's order.
    pub layers: Vec<Layer>,
}

/// A problem found while loading: the file, the feature when there is one, what.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct Problem {
    /// The file.
    pub file: PathBuf,
    /// The feature id (or its position when it has none).
    pub feature: Option<String>,
    /// What is wrong.
    pub message: String,
}

impl std::fmt::Display for Problem {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match &self.feature {
            Some(id) => write!(f, "{}: feature {id}: {}", self.file.display(), self.message),
            None => write!(f, "{}: {}", self.file.display(), self.message),
        }
    }
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct Index {
    blueprint: String,
    name: Option<String>,
    #[serde(default)]
    synthetic: bool,
    sliver_m2: Option<f64>,
    #[serde(default)]
    industry_uses: BTreeMap<String, Vec<String>>,
    #[serde(default)]
    compatible_uses: Vec<String>,
    layers: Vec<IndexLayer>,
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct IndexLayer {
    id: String,
    file: PathBuf,
    kind: LayerKind,
    plan: String,
    department: String,
}

/// The sliver tolerance when the index gives none, m².
pub const DEFAULT_SLIVER_M2: f64 = 10.0;

/// A feature as read, in degrees, before the zone is known.
struct Raw {
    id: String,
    plan: Option<String>,
    department: Option<String>,
    use_code: Option<String>,
    name: Option<String>,
    shape: MultiPolygon<f64>,
}

impl Blueprint {
    /// Loads the blueprint in `dir` (its `blueprint.yaml` and the layers it names).
    ///
    /// # Errors
    /// Every problem found, each with its file and feature.
    pub fn load(dir: &Path) -> Result<Blueprint, Vec<Problem>> {
        let index_path = dir.join("blueprint.yaml");
        let problem = |file: &Path, feature: Option<String>, message: String| Problem {
            file: file.to_path_buf(),
            feature,
            message,
        };
        let text = onewindow_core::textfile::read(&index_path)
            .map_err(|e| vec![problem(&index_path, None, e.to_string())])?;
        let index: Index = serde_yaml::from_str(&text)
            .map_err(|e| vec![problem(&index_path, None, e.to_string())])?;
        let mut problems = Vec::new();
        let mut raws: Vec<(IndexLayer, PathBuf, Vec<Raw>)> = Vec::new();
        for layer in index.layers {
            let path = dir.join(&layer.file);
            match read_layer(&path) {
                Ok((features, mut found)) => {
                    problems.append(&mut found);
                    raws.push((layer, path, features));
                }
                Err(p) => problems.push(p),
            }
        }
        // The zone: the centre of every coordinate's box.
        let (mut min, mut max) = (f64::INFINITY, f64::NEG_INFINITY);
        for (_, _, features) in &raws {
            for f in features {
                if let Some(b) = f.shape.bounding_rect() {
                    min = min.min(b.min().x);
                    max = max.max(b.max().x);
                }
            }
        }
        let zone = Zone::around(if min.is_finite() {
            (min + max) / 2.0
        } else {
            114.0
        });
        let mut layers = Vec::new();
        for (layer, path, features) in raws {
            let mut projected = Vec::new();
            for f in features {
                match project(&zone, &f.shape) {
                    Some(shape) => {
                        let errors = shape.validation_errors();
                        if let Some(e) = errors.first() {
                            problems.push(problem(
                                &path,
                                Some(f.id.clone()),
                                format!("invalid polygon: {e}"),
                            ));
                            continue;
                        }
                        let Some(bbox) = shape.bounding_rect() else {
                            continue;
                        };
                        projected.push(Feature {
                            area: shape.unsigned_area(),
                            bbox,
                            id: f.id,
                            plan: f.plan.unwrap_or_else(|| layer.plan.clone()),
                            department: f.department.unwrap_or_else(|| layer.department.clone()),
                            use_code: f.use_code,
                            name: f.name,
                            shape,
                        });
                    }
                    None => problems.push(problem(
                        &path,
                        Some(f.id),
                        "a coordinate could not be projected".into(),
                    )),
                }
            }
            let tree = RTree::bulk_load(
                projected
                    .iter()
                    .enumerate()
                    .map(|(i, f)| {
                        GeomWithData::new(
                            Rectangle::from_corners(
                                [f.bbox.min().x, f.bbox.min().y],
                                [f.bbox.max().x, f.bbox.max().y],
                            ),
                            i,
                        )
                    })
                    .collect(),
            );
            layers.push(Layer {
                id: layer.id,
                kind: layer.kind,
                plan: layer.plan,
                department: layer.department,
                features: projected,
                tree,
            });
        }
        if !problems.is_empty() {
            return Err(problems);
        }
        Ok(Blueprint {
            name: index.name.unwrap_or_else(|| index.blueprint.clone()),
            id: index.blueprint,
            synthetic: index.synthetic,
            sliver_m2: index
                .sliver_m2
                .filter(|s| s.is_finite() && *s >= 0.0)
                .unwrap_or(DEFAULT_SLIVER_M2),
            industry_uses: index.industry_uses,
            compatible_uses: index.compatible_uses,
            zone,
            layers,
        })
    }

    /// Polygons counted over every layer.
    pub fn polygons(&self) -> usize {
        self.layers.iter().map(|l| l.features.len()).sum()
    }
}

/// Degrees → metres on `zone`, every ring.
pub fn project(zone: &Zone, shape: &MultiPolygon<f64>) -> Option<MultiPolygon<f64>> {
    map_coords(shape, |x, y| zone.forward(x, y))
}

/// Metres on `zone` → degrees, every ring.
pub fn unproject(zone: &Zone, shape: &MultiPolygon<f64>) -> Option<MultiPolygon<f64>> {
    map_coords(shape, |x, y| zone.inverse(x, y))
}

fn map_coords(
    shape: &MultiPolygon<f64>,
    f: impl Fn(f64, f64) -> Option<(f64, f64)>,
) -> Option<MultiPolygon<f64>> {
    let ring = |r: &geo::LineString<f64>| -> Option<geo::LineString<f64>> {
        r.0.iter()
            .map(|c| f(c.x, c.y).map(|(x, y)| geo::coord! { x: x, y: y }))
            .collect::<Option<Vec<_>>>()
            .map(geo::LineString::new)
    };
    shape
        .0
        .iter()
        .map(|p| {
            let exterior = ring(p.exterior())?;
            let interiors = p.interiors().iter().map(ring).collect::<Option<Vec<_>>>()?;
            Some(Polygon::new(exterior, interiors))
        })
        .collect::<Option<Vec<_>>>()
        .map(MultiPolygon::new)
}

/// A GeoJSON geometry as a multipolygon in degrees, every coordinate checked.
///
/// # Errors
/// Not a polygon or multipolygon, or a coordinate outside China (swapped axes named).
pub fn shape_of(geometry: &geojson::Geometry) -> Result<MultiPolygon<f64>, String> {
    let g: geo::Geometry<f64> =
        geo::Geometry::try_from(geometry.clone()).map_err(|e| e.to_string())?;
    let shape = match g {
        geo::Geometry::Polygon(p) => MultiPolygon::new(vec![p]),
        geo::Geometry::MultiPolygon(m) => m,
        other => {
            return Err(format!(
                "a {} is not an area: a plan's feature and a site are polygons",
                geometry_name(&other)
            ))
        }
    };
    for p in &shape.0 {
        for c in p
            .exterior()
            .0
            .iter()
            .chain(p.interiors().iter().flat_map(|r| r.0.iter()))
        {
            zone::check_lon_lat(c.x, c.y)?;
        }
    }
    Ok(shape)
}

/// A site as GeoJSON text — a geometry, a Feature, or a FeatureCollection's first
/// feature — as a checked multipolygon in degrees: what the command line and the server
/// both take.
///
/// # Errors
/// Not GeoJSON, no geometry, or what [`shape_of`] refuses.
pub fn site_from_geojson(text: &str) -> Result<MultiPolygon<f64>, String> {
    let json: geojson::GeoJson = text
        .parse()
        .map_err(|e: geojson::Error| format!("not GeoJSON ({e})"))?;
    let geometry = match json {
        geojson::GeoJson::Geometry(g) => Some(g),
        geojson::GeoJson::Feature(f) => f.geometry,
        geojson::GeoJson::FeatureCollection(c) => {
            c.features.into_iter().next().and_then(|f| f.geometry)
        }
    }
    .ok_or_else(|| "no geometry".to_string())?;
    shape_of(&geometry)
}

fn geometry_name(g: &geo::Geometry<f64>) -> &'static str {
    match g {
        geo::Geometry::Point(_) | geo::Geometry::MultiPoint(_) => "point",
        geo::Geometry::Line(_)
        | geo::Geometry::LineString(_)
        | geo::Geometry::MultiLineString(_) => "line",
        _ => "geometry",
    }
}

/// One layer file: its features in degrees, and the problems of those that are not.
fn read_layer(path: &Path) -> Result<(Vec<Raw>, Vec<Problem>), Problem> {
    let problem = |feature: Option<String>, message: String| Problem {
        file: path.to_path_buf(),
        feature,
        message,
    };
    let text = onewindow_core::textfile::read_at_most(path, MAX_LAYER_BYTES)
        .map_err(|e| problem(None, e.to_string()))?;
    let collection: geojson::FeatureCollection = text.parse().map_err(|e: geojson::Error| {
        problem(None, format!("not a GeoJSON FeatureCollection: {e}"))
    })?;
    let mut features = Vec::new();
    let mut problems = Vec::new();
    let mut seen = std::collections::HashSet::new();
    for (n, f) in collection.features.iter().enumerate() {
        let text_prop = |k: &str| f.property(k).and_then(|v| v.as_str()).map(str::to_string);
        let id = match (&f.id, text_prop("id")) {
            (_, Some(id)) => id,
            (Some(geojson::feature::Id::String(s)), None) => s.clone(),
            (Some(geojson::feature::Id::Number(n)), None) => n.to_string(),
            (None, None) => {
                problems.push(problem(
                    Some(format!("#{}", n + 1)),
                    "no id (`id` or properties.id)".into(),
                ));
                continue;
            }
        };
        if !seen.insert(id.clone()) {
            problems.push(problem(Some(id), "a second feature with this id".into()));
            continue;
        }
        let Some(geometry) = &f.geometry else {
            problems.push(problem(Some(id), "no geometry".into()));
            continue;
        };
        match shape_of(geometry) {
            Ok(shape) => features.push(Raw {
                plan: text_prop("plan"),
                department: text_prop("department"),
                use_code: text_prop("use_code"),
                name: text_prop("name"),
                id,
                shape,
            }),
            Err(e) => problems.push(problem(Some(id), e)),
        }
    }
    Ok((features, problems))
}
