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

/// One item's review time and what its reviews end in: the item's own setting, else its
/// department's, else the world's — so a calibrated scenario can say that one item of a
/// department asks for supplements far more often than the others.
#[derive(Debug, Clone)]
pub struct ItemSettings {
    /// The review time.
    pub review: Dist,
    /// The committed limit in working days (what `of: limit` multiplies).
    pub limit: f64,
    /// The chance a review ends with a supplement request (once per task).
    pub supplement: f64,
    /// The chance a review ends with a rejection (once per task).
    pub rejection: f64,
    /// The chance a review ends with a return to an earlier item (once per task).
    pub returns: f64,
    /// The chance a rejected applicant resubmits (otherwise the project is withdrawn).
    pub resubmit: f64,
}

/// One department's capacity and pace.
#[derive(Debug, Clone, Copy)]
pub struct DepartmentSettings {
    /// Reviewers (`None`: unlimited).
    pub staff: Option<u32>,
    /// Review times are multiplied by this.
    pub slowdown: f64,
}

impl Settings {
    /// The settings of a variant's world.
    pub fn of(variant: &Variant) -> Settings {
        let plan = &variant.plan;
        let w = &variant.world;
        let default_review = w.review.clone().unwrap_or_else(Dist::default_review);
        let resubmit = w.rejection.resubmit.unwrap_or(0.9);
        Settings {
            items: plan
                .items
                .iter()
                .map(|it| {
                    let iw = w.items.get(&it.id);
                    let dw = it
                        .department
                        .and_then(|d| w.departments.get(&plan.departments[d].id));
                    let share = |item: Option<f64>, dept: Option<f64>, world: Option<f64>| {
                        item.or(dept).or(world).unwrap_or(0.0)
                    };
                    ItemSettings {
                        review: iw
                            .and_then(|x| x.review.clone())
                            .or_else(|| dw.and_then(|x| x.review.clone()))
                            .unwrap_or_else(|| default_review.clone()),
                        limit: f64::from(it.limit.working_days_undated(plan.default_limits)),
                        supplement: share(
                            iw.and_then(|x| x.supplement),
                            dw.and_then(|x| x.supplement),
                            w.supplement.probability,
                        ),
                        rejection: share(
                            iw.and_then(|x| x.rejection),
                            dw.and_then(|x| x.rejection),
                            w.rejection.probability,
                        ),
                        returns: share(
                            iw.and_then(|x| x.returns),
                            dw.and_then(|x| x.returns),
                            w.returns,
                        ),
                        resubmit: iw.and_then(|x| x.resubmit).unwrap_or(resubmit),
                    }
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
            resubmit,
            rejection_response: w
                .rejection
                .response
                .clone()
                .unwrap_or_else(|| Dist::fixed(10.0)),
            sign: w.sign.clone().unwrap_or_else(|| Dist::fixed(0.5)),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn scenario(world: &str, projects: &str) -> Result<crate::scenario::Scenario, crate::Error> {
        let at = std::path::Path::new(env!("CARGO_MANIFEST_DIR"))
            .join("../../workflows/scenarios/settings-test.yaml");
        let text = format!(
            "scenario: t\nseed: 1\nstart: 2025-03-03\narrivals: {{count: 1}}\n\
             projects:\n{projects}\nworld:\n{world}\n\
             variants:\n  - {{name: v, workflow: ../construction-parallel.yaml}}\n"
        );
        crate::scenario::load_str(&at, &text)
    }

    const FORM: &str = "  - {name: t, form: ../forms/small-warehouse.yaml}";

    #[test]
    fn an_item_overrides_its_department_which_overrides_the_world() {
        let s = scenario(
            "  review: {fixed: 1}\n  supplement: {probability: 0.1}\n  rejection: {probability: 0.2, resubmit: 0.5}\n  \
             departments:\n    nrp: {review: {fixed: 2}, supplement: 0.3}\n  \
             items:\n    I04: {review: {fixed: 3}, rejection: 0.4, resubmit: 0.7}\n    I09: {fixed: 4}",
            FORM,
        )
        .unwrap();
        let v = &s.variants[0];
        let set = Settings::of(v);
        let item = |id: &str| &set.items[v.plan.item_index(id).unwrap()];
        // I04: its own review, rejection and resubmit; its department's supplement.
        assert_eq!(item("I04").review, Dist::fixed(3.0));
        assert_eq!(
            (
                item("I04").supplement,
                item("I04").rejection,
                item("I04").resubmit
            ),
            (0.3, 0.4, 0.7)
        );
        // I09 (a bare distribution: its review only); I02 its department's.
        assert_eq!(item("I09").review, Dist::fixed(4.0));
        assert_eq!(item("I02").review, Dist::fixed(2.0));
        assert_eq!((item("I02").supplement, item("I02").rejection), (0.3, 0.2));
        // I06 (env): the world's.
        assert_eq!(item("I06").review, Dist::fixed(1.0));
        assert_eq!(
            (
                item("I06").supplement,
                item("I06").rejection,
                item("I06").resubmit
            ),
            (0.1, 0.2, 0.5)
        );
    }

    #[test]
    fn a_project_type_is_a_form_file_or_its_values_and_an_item_map_is_checked() {
        let s = scenario(
            "  staff: 2",
            "  - {name: t, values: {project_name: 仓库, enterprise: 某公司, industry: warehouse, \
             land_supply: grant, new_construction_land: false, floor_area: 4800, investment: 1500, \
             special_fire: false, eia_category: registration}}",
        )
        .unwrap();
        assert_eq!(s.variants[0].types[0].form.len(), 9);
        let both = scenario(
            "  staff: 2",
            "  - {name: t, form: ../forms/small-warehouse.yaml, values: {industry: warehouse}}",
        )
        .unwrap_err();
        assert!(both.to_string().contains("either `form`"), "{both}");
        let wrong = scenario("  items:\n    I04: {supplement: 1.5}", FORM).unwrap_err();
        assert!(
            wrong.to_string().contains("items.I04.supplement"),
            "{wrong}"
        );
        let typo = scenario(
            "  items:\n    I04: {review: {fixed: 1}, suplement: 0.5}",
            FORM,
        )
        .unwrap_err();
        assert!(typo.to_string().contains("suplement"), "{typo}");
    }
}
