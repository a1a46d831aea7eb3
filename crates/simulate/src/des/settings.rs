//! A variant's world resolved for the simulation: every item's review time and every
//! department's staff and habits, with the scenario's defaults filled in — what the
//! simulator draws from, and what the BPMN export writes (`bpmn.rs`).

use super::super::dist::Dist;
use super::super::scenario::Variant;

/// A variant's world resolved per item and per department, with every default filled
/// in: what the simulator draws from, and what an export of the model writes.
#[derive(Debug, Clone)]
pub struct Settings {
    /// By plan item.
    pub items: Vec<ItemSettings>,
    /// By plan department.
    pub departments: Vec<DepartmentSettings>,
    /// How long the window takes to report a milestone once it is ready.
    pub milestone: Dist,
    /// How long an applicant takes to answer a supplement request.
    pub supplement_response: Dist,
    /// A second look after a supplement, as a share of a fresh review time.
    pub rework: f64,
    /// The chance that a rejected applicant resubmits (otherwise the project is withdrawn).
    pub resubmit: f64,
    /// How long a rejected applicant takes to resubmit.
    pub rejection_response: Dist,
    /// How long a named signer takes to sign.
    pub sign: Dist,
}

/// One item's review time.
#[derive(Debug, Clone)]
pub struct ItemSettings {
    /// The review time.
    pub review: Dist,
    /// The committed limit in working days (what `of: limit` multiplies).
    pub limit: f64,
}

/// One department's capacity and habits.
#[derive(Debug, Clone, Copy)]
pub struct DepartmentSettings {
    /// Reviewers (`None`: unlimited).
    pub staff: Option<u32>,
    /// Review times are multiplied by this.
    pub slowdown: f64,
    /// The chance a review ends with a supplement request (once per task).
    pub supplement: f64,
    /// The chance a review ends with a rejection (once per task).
    pub rejection: f64,
    /// The chance a review ends with a return to an earlier item (once per task).
    pub returns: f64,
}

impl Settings {
    /// The settings of a variant's world.
    pub fn of(variant: &Variant) -> Settings {
        let plan = &variant.plan;
        let w = &variant.world;
        let default_review = w.review.clone().unwrap_or_else(Dist::default_review);
        Settings {
            items: plan
                .items
                .iter()
                .map(|it| ItemSettings {
                    review: w
                        .items
                        .get(&it.id)
                        .cloned()
                        .unwrap_or_else(|| default_review.clone()),
                    limit: f64::from(it.limit.working_days_undated(plan.default_limits)),
                })
                .collect(),
            departments: plan
                .departments
                .iter()
                .map(|d| {
                    let dw = w.departments.get(&d.id);
                    DepartmentSettings {
                        staff: dw.and_then(|x| x.staff).or(w.staff).and_then(|s| s.limit()),
                        slowdown: dw.and_then(|x| x.slowdown).unwrap_or(1.0),
                        supplement: dw
                            .and_then(|x| x.supplement)
                            .or(w.supplement.probability)
                            .unwrap_or(0.0),
                        rejection: dw
                            .and_then(|x| x.rejection)
                            .or(w.rejection.probability)
                            .unwrap_or(0.0),
                        returns: dw.and_then(|x| x.returns).or(w.returns).unwrap_or(0.0),
                    }
                })
                .collect(),
            milestone: w.milestone.clone().unwrap_or_else(|| Dist::fixed(0.0)),
            supplement_response: w
                .supplement
                .response
                .clone()
                .unwrap_or_else(|| Dist::fixed(5.0)),
            rework: w.supplement.rework.unwrap_or(0.3),
            resubmit: w.rejection.resubmit.unwrap_or(0.9),
            rejection_response: w
                .rejection
                .response
                .clone()
                .unwrap_or_else(|| Dist::fixed(10.0)),
            sign: w.sign.clone().unwrap_or_else(|| Dist::fixed(0.5)),
        }
    }
}
