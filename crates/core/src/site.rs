//! What a site check found, as a project's record keeps it: per layer, the overlap and
//! its class, the rule and whether it blocks. The check itself (geometry, the blueprint's
//! layers) is the blueprint crate's; the engine records only these figures, so it needs
//! no geometry, and a record never depends on the blueprint of the day it is read.

use serde::{Deserialize, Serialize};

/// What a layer is, and so which rules apply to it.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum LayerKind {
    /// 生态保护红线: the first of the three control lines.
    EcologicalRedLine,
    /// 永久基本农田: the second.
    BasicFarmland,
    /// 城镇开发边界: the third.
    UrbanDevelopmentBoundary,
    /// Land-use zoning with use codes (控制性详细规划).
    Zoning,
    /// 城市蓝线: water.
    BlueLine,
    /// 城市绿线: green space.
    GreenLine,
    /// 城市黄线: infrastructure.
    YellowLine,
    /// A heritage protection area.
    Heritage,
    /// A development zone's boundary.
    DevelopmentZone,
    /// Any other layer a city keeps: overlaps are reported, never blocking.
    Other,
}

impl LayerKind {
    /// What planners call the layer, Chinese first (生态保护红线, 永久基本农田…).
    pub fn name(self) -> &'static str {
        match self {
            LayerKind::EcologicalRedLine => "生态保护红线 ecological red line",
            LayerKind::BasicFarmland => "永久基本农田 basic farmland",
            LayerKind::UrbanDevelopmentBoundary => "城镇开发边界 urban development boundary",
            LayerKind::Zoning => "控制性详细规划 zoning",
            LayerKind::BlueLine => "蓝线 blue line (water)",
            LayerKind::GreenLine => "绿线 green line (green space)",
            LayerKind::YellowLine => "黄线 yellow line (infrastructure)",
            LayerKind::Heritage => "历史文化保护 heritage",
            LayerKind::DevelopmentZone => "开发区 development zone",
            LayerKind::Other => "其他规划 other plan",
        }
    }

    /// One of the three control lines, in priority order (0 is the highest).
    pub fn control_line_rank(self) -> Option<u8> {
        match self {
            LayerKind::EcologicalRedLine => Some(0),
            LayerKind::BasicFarmland => Some(1),
            LayerKind::UrbanDevelopmentBoundary => Some(2),
            _ => None,
        }
    }
}

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
