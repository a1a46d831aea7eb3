//! Compiling an item's steps (受理 → 审查 → 决定, 行政许可法 art. 32–44): ids unique, the
//! decision last and alone, acceptance first if declared, sign rules that can complete,
//! step limits within the item's, copied departments known.

use crate::spec::locate::Seg;
use crate::spec::{self, Anchor, ItemKind, LimitKind, SignMode, StepKind};

use super::compile::*;
use super::*;

impl Compiler<'_> {
    /// The item's steps; empty when it declares none (one decision).
    pub(super) fn steps(
        &mut self,
        id: &str,
        it: &spec::RawItem,
        kind: ItemKind,
        limit: &Limit,
        dept_ix: &Ids<'_>,
        at: &dyn Fn(Vec<Seg>) -> Anchor,
    ) -> Vec<Step> {
        let Some(raw) = &it.steps else {
            return Vec::new();
        };
        let path = |k: usize, field: Option<&str>| {
            let mut p = vec![Seg::from("steps"), Seg::Index(k)];
            if let Some(f) = field {
                p.push(Seg::from(f));
            }
            p
        };
        if kind == ItemKind::Milestone {
            self.error(
                "milestone-steps",
                Some(id),
                format!("milestone `{id}` has `steps`: milestones are reported by the window, not reviewed"),
                at(sub(&["steps"])),
            );
            return Vec::new();
        }
        let mut steps: Vec<Step> = Vec::with_capacity(raw.len());
        for (k, s) in raw.iter().enumerate() {
            let sid = s.id.clone().unwrap_or_default();
            if sid.is_empty() {
                self.error(
                    "missing-id",
                    Some(id),
                    format!("item `{id}`: step #{} has no `id`", k + 1),
                    at(path(k, None)),
                );
            } else if steps.iter().any(|x| x.id == sid) {
                self.error(
                    "duplicate-id",
                    Some(&sid),
                    format!("item `{id}`: step `{sid}` is declared twice"),
                    at(path(k, Some("id"))),
                );
            }
            let step_kind = s.kind.unwrap_or_default();
            let step_limit = s.limit.and_then(|v| {
                self.days(
                    id,
                    &format!("step `{sid}` limit"),
                    v,
                    at(path(k, Some("limit"))),
                )
            });
            if let Some(l) = step_limit {
                if l > limit.days(LimitKind::Statutory) {
                    self.error(
                        "step-limit",
                        Some(&sid),
                        format!(
                            "item `{id}`: step `{sid}` has a limit of {l} days, more than the item's {}",
                            limit.days(LimitKind::Statutory)
                        ),
                        at(path(k, Some("limit"))),
                    );
                }
            }
            let signers = s.signers.clone().unwrap_or_default();
            for (j, r) in signers.iter().enumerate() {
                if signers[..j].contains(r) {
                    self.error(
                        "duplicate-id",
                        Some(r),
                        format!("item `{id}`: step `{sid}` names signer `{r}` twice"),
                        at(path(k, Some("signers"))),
                    );
                }
            }
            let sign = s.sign.unwrap_or(if signers.len() > 1 {
                SignMode::All
            } else {
                SignMode::Any
            });
            let ratio = match (sign, s.ratio) {
                (SignMode::Ratio, Some(r)) if (1..=100).contains(&r) => r as u32,
                (SignMode::Ratio, _) => {
                    self.error(
                        "step-ratio",
                        Some(&sid),
                        format!("item `{id}`: step `{sid}` signs by ratio: give `ratio` as a percentage, 1 to 100"),
                        at(path(k, Some("ratio"))),
                    );
                    100
                }
                (_, Some(_)) => {
                    self.error(
                        "step-ratio",
                        Some(&sid),
                        format!("item `{id}`: step `{sid}` has a `ratio` but does not sign by ratio (`sign: ratio`)"),
                        at(path(k, Some("ratio"))),
                    );
                    100
                }
                (_, None) => 100,
            };
            if signers.is_empty() && matches!(sign, SignMode::All | SignMode::Ratio) {
                self.error(
                    "step-signers",
                    Some(&sid),
                    format!("item `{id}`: step `{sid}` countersigns (`sign: all` or `ratio`) but names no `signers`"),
                    at(path(k, Some("sign"))),
                );
            }
            if step_kind == StepKind::Decide && !signers.is_empty() {
                self.error(
                    "step-signers",
                    Some(&sid),
                    format!("item `{id}`: the decision `{sid}` names signers: the department decides by approve or reject; countersigning belongs to an examine step before it"),
                    at(path(k, Some("signers"))),
                );
            }
            let mut copy = Vec::new();
            for (j, d) in s.copy.iter().flatten().enumerate() {
                match dept_ix.get(d.as_str()) {
                    Some(&di) => copy.push(di),
                    None => {
                        let mut p = path(k, Some("copy"));
                        p.push(Seg::Index(j));
                        self.error(
                            "unknown-department",
                            Some(d),
                            format!("item `{id}`: step `{sid}` copies unknown department `{d}`"),
                            at(p),
                        );
                    }
                }
            }
            steps.push(Step {
                name: s.name.clone().unwrap_or_else(|| sid.clone()),
                id: sid,
                kind: step_kind,
                limit: step_limit,
                sign,
                ratio,
                signers,
                copy,
            });
        }
        let last = steps.len().saturating_sub(1);
        for (k, s) in steps.iter().enumerate() {
            let problem = match s.kind {
                StepKind::Decide if k != last => Some("the decision must be the last step"),
                StepKind::Accept if k != 0 => Some("acceptance must be the first step"),
                _ => None,
            };
            if let Some(p) = problem {
                let sid = s.id.clone();
                self.error(
                    "step-order",
                    Some(&sid),
                    format!("item `{id}`: step `{sid}`: {p}"),
                    at(path(k, Some("kind"))),
                );
            }
        }
        if steps.last().is_some_and(|s| s.kind != StepKind::Decide) {
            self.error(
                "step-order",
                Some(id),
                format!("item `{id}`: the last step must be the decision (`kind: decide`)"),
                at(sub(&["steps"])),
            );
        }
        steps
    }
}
