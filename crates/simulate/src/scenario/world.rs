//! The world a scenario's variants run in, as written: review times, staff, what reviews
//! end in, per item, per department and for all — each setting optional, so that a
//! variant can change one thing ([`World::merged`]); what a setting means for an item is
//! resolved in `des::Settings` (its own, else its department's, else the world's).

use std::collections::BTreeMap;

use serde::Deserialize;

use super::MAX_STAFF;
use crate::dist::Dist;

/// Staff of a department: a number of reviewers, or `unlimited`.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Deserialize)]
#[serde(untagged)]
pub enum Staff {
    /// At most this many reviews at once.
    Count(u32),
    /// No queue: every review starts when its task is ready.
    Word(Unlimited),
}

/// The word `unlimited`.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Unlimited {
    /// No limit.
    Unlimited,
}

impl Staff {
    /// The limit, if any.
    pub fn limit(self) -> Option<u32> {
        match self {
            Staff::Count(n) => Some(n),
            Staff::Word(_) => None,
        }
    }
}

/// Per department.
#[derive(Debug, Clone, Default, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct DepartmentWorld {
    /// Reviewers.
    #[serde(default)]
    pub staff: Option<Staff>,
    /// Multiplies every review time of the department (2.0: twice as slow).
    #[serde(default)]
    pub slowdown: Option<f64>,
    /// Chance a review ends with a supplement request.
    #[serde(default)]
    pub supplement: Option<f64>,
    /// Chance a review ends with a rejection.
    #[serde(default)]
    pub rejection: Option<f64>,
    /// Chance a review ends with a return to an earlier, approved item (退回), once per
    /// task.
    #[serde(default)]
    pub returns: Option<f64>,
    /// Review time of the department's items not named in `items` (before `slowdown`).
    #[serde(default)]
    pub review: Option<Dist>,
}

/// Per item: its review time and what its reviews end in, over its department's and the
/// world's. Written either as a distribution alone (the review time, the original form:
/// `I12: {lognormal: {mean: 12, sd: 5}}`) or as a map with any of the keys below
/// (`I12: {review: {fixed: 3}, supplement: 0.4}`), which a calibrated scenario uses.
#[derive(Debug, Clone, Default, PartialEq)]
pub struct ItemWorld {
    /// Review time.
    pub review: Option<Dist>,
    /// Chance a review ends with a supplement request.
    pub supplement: Option<f64>,
    /// Chance a review ends with a rejection.
    pub rejection: Option<f64>,
    /// Chance a review ends with a return to an earlier item.
    pub returns: Option<f64>,
    /// Chance a rejected applicant resubmits.
    pub resubmit: Option<f64>,
}

/// The keys of an item's map form.
const ITEM_KEYS: [&str; 5] = ["review", "supplement", "rejection", "returns", "resubmit"];

impl<'de> Deserialize<'de> for ItemWorld {
    fn deserialize<D: serde::Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        #[derive(Deserialize)]
        #[serde(deny_unknown_fields)]
        struct Full {
            #[serde(default)]
            review: Option<Dist>,
            #[serde(default)]
            supplement: Option<f64>,
            #[serde(default)]
            rejection: Option<f64>,
            #[serde(default)]
            returns: Option<f64>,
            #[serde(default)]
            resubmit: Option<f64>,
        }
        use serde::de::Error as _;
        let v = serde_yaml::Value::deserialize(d)?;
        let full = v.as_mapping().is_some_and(|m| {
            m.keys()
                .any(|k| k.as_str().is_some_and(|k| ITEM_KEYS.contains(&k)))
        });
        if full {
            let f: Full = serde_yaml::from_value(v).map_err(D::Error::custom)?;
            Ok(ItemWorld {
                review: f.review,
                supplement: f.supplement,
                rejection: f.rejection,
                returns: f.returns,
                resubmit: f.resubmit,
            })
        } else {
            let review: Dist = serde_yaml::from_value(v).map_err(|e| {
                D::Error::custom(format!(
                    "{e} (an item takes a distribution, or a map of {})",
                    ITEM_KEYS.join(", ")
                ))
            })?;
            Ok(ItemWorld {
                review: Some(review),
                ..ItemWorld::default()
            })
        }
    }
}

/// Supplements (补正): asked at most once per task, at the end of a review.
#[derive(Debug, Clone, Default, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct SupplementWorld {
    /// Chance a review ends with a request (per department overrides).
    #[serde(default)]
    pub probability: Option<f64>,
    /// Working days the applicant takes to answer.
    #[serde(default)]
    pub response: Option<Dist>,
    /// The second look after the answer, as a share of a fresh review time.
    #[serde(default)]
    pub rework: Option<f64>,
}

/// Rejections: at most once per task; the applicant resubmits or withdraws.
#[derive(Debug, Clone, Default, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct RejectionWorld {
    /// Chance a review ends with a rejection (per department overrides).
    #[serde(default)]
    pub probability: Option<f64>,
    /// Chance the applicant resubmits (otherwise the project is withdrawn).
    #[serde(default)]
    pub resubmit: Option<f64>,
    /// Working days the applicant takes to resubmit.
    #[serde(default)]
    pub response: Option<Dist>,
}

/// The world: how long reviews take, who does them, what goes wrong. Every field is
/// optional so that a variant can change one thing; [`World::merged`] lays a variant's
/// world over the scenario's, and `des::Settings` fills what is left with defaults.
#[derive(Debug, Clone, Default, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct World {
    /// Review time of every item not named in `items`.
    #[serde(default)]
    pub review: Option<Dist>,
    /// Per item id: review time, and what its reviews end in.
    #[serde(default)]
    pub items: BTreeMap<String, ItemWorld>,
    /// Reviewers of every department not given its own `staff`.
    #[serde(default)]
    pub staff: Option<Staff>,
    /// Per department id.
    #[serde(default)]
    pub departments: BTreeMap<String, DepartmentWorld>,
    /// Supplements.
    #[serde(default)]
    pub supplement: SupplementWorld,
    /// Rejections.
    #[serde(default)]
    pub rejection: RejectionWorld,
    /// Working days the window takes to report a milestone once it is due.
    #[serde(default)]
    pub milestone: Option<Dist>,
    /// Working days a named signer of a countersigned step (会签, 或签, 票签) takes to
    /// sign, each on their own and at the same time as the others (default 0.5).
    #[serde(default)]
    pub sign: Option<Dist>,
    /// Chance a review ends with a return to an earlier, approved item (per department
    /// overrides; default 0).
    #[serde(default)]
    pub returns: Option<f64>,
}

impl World {
    /// `over` laid over `self`: what `over` sets wins, maps merge key by key.
    pub fn merged(&self, over: &World) -> World {
        let mut w = self.clone();
        w.review = over.review.clone().or(w.review);
        for (k, i) in &over.items {
            let e = w.items.entry(k.clone()).or_default();
            e.review = i.review.clone().or(e.review.take());
            e.supplement = i.supplement.or(e.supplement);
            e.rejection = i.rejection.or(e.rejection);
            e.returns = i.returns.or(e.returns);
            e.resubmit = i.resubmit.or(e.resubmit);
        }
        w.staff = over.staff.or(w.staff);
        for (k, d) in &over.departments {
            let e = w.departments.entry(k.clone()).or_default();
            e.staff = d.staff.or(e.staff);
            e.slowdown = d.slowdown.or(e.slowdown);
            e.supplement = d.supplement.or(e.supplement);
            e.rejection = d.rejection.or(e.rejection);
            e.returns = d.returns.or(e.returns);
            e.review = d.review.clone().or(e.review.take());
        }
        w.sign = over.sign.clone().or(w.sign);
        w.returns = over.returns.or(w.returns);
        w.supplement.probability = over.supplement.probability.or(w.supplement.probability);
        w.supplement.response = over.supplement.response.clone().or(w.supplement.response);
        w.supplement.rework = over.supplement.rework.or(w.supplement.rework);
        w.rejection.probability = over.rejection.probability.or(w.rejection.probability);
        w.rejection.resubmit = over.rejection.resubmit.or(w.rejection.resubmit);
        w.rejection.response = over.rejection.response.clone().or(w.rejection.response);
        w.milestone = over.milestone.clone().or(w.milestone);
        w
    }
}

impl World {
    /// Probabilities in [0, 1], positive factors and staff.
    pub(super) fn check(&self) -> Result<(), String> {
        let p = |name: &str, v: Option<f64>| match v {
            Some(x) if !(0.0..=1.0).contains(&x) => {
                Err(format!("{name}: {x} is not a probability between 0 and 1"))
            }
            _ => Ok(()),
        };
        p("supplement.probability", self.supplement.probability)?;
        p("rejection.probability", self.rejection.probability)?;
        p("rejection.resubmit", self.rejection.resubmit)?;
        p("returns", self.returns)?;
        if let Some(r) = self.supplement.rework {
            if !(0.0..=10.0).contains(&r) {
                return Err(format!(
                    "supplement.rework: {r} is out of range: a share of the review from 0 to 10"
                ));
            }
        }
        let staff_ok =
            |s: Option<Staff>| !matches!(s, Some(Staff::Count(n)) if n == 0 || n > MAX_STAFF);
        if !staff_ok(self.staff) {
            return Err(format!("staff: 1 to {MAX_STAFF} (or `unlimited`)"));
        }
        for (id, d) in &self.departments {
            p(&format!("departments.{id}.supplement"), d.supplement)?;
            p(&format!("departments.{id}.rejection"), d.rejection)?;
            p(&format!("departments.{id}.returns"), d.returns)?;
            if !staff_ok(d.staff) {
                return Err(format!(
                    "departments.{id}.staff: 1 to {MAX_STAFF} (or `unlimited`)"
                ));
            }
            if let Some(s) = d.slowdown {
                if !(s > 0.0 && s <= 100.0) {
                    return Err(format!(
                        "departments.{id}.slowdown: {s} is out of range: above 0, at most 100"
                    ));
                }
            }
        }
        for (id, i) in &self.items {
            p(&format!("items.{id}.supplement"), i.supplement)?;
            p(&format!("items.{id}.rejection"), i.rejection)?;
            p(&format!("items.{id}.returns"), i.returns)?;
            p(&format!("items.{id}.resubmit"), i.resubmit)?;
        }
        for (name, d) in self
            .items
            .iter()
            .filter_map(|(k, i)| i.review.as_ref().map(|d| (format!("items.{k}.review"), d)))
            .chain(self.departments.iter().filter_map(|(k, x)| {
                x.review
                    .as_ref()
                    .map(|d| (format!("departments.{k}.review"), d))
            }))
            .chain(self.review.iter().map(|d| ("review".to_string(), d)))
            .chain(self.milestone.iter().map(|d| ("milestone".to_string(), d)))
            .chain(self.sign.iter().map(|d| ("sign".to_string(), d)))
            .chain(
                self.supplement
                    .response
                    .iter()
                    .map(|d| ("supplement.response".to_string(), d)),
            )
            .chain(
                self.rejection
                    .response
                    .iter()
                    .map(|d| ("rejection.response".to_string(), d)),
            )
        {
            d.check().map_err(|m| format!("{name}: {m}"))?;
        }
        Ok(())
    }
}
