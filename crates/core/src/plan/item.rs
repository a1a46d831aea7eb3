//! Compiling one item: its department, stage, kind, limits, condition, what it requires
//! and produces, its `after` waits and special procedures, each reference resolved to an
//! index (unresolved ones reported and left out, so later checks still run).

use crate::condition::{self};
use crate::diagnostic::Severity;
use crate::form::Field;
use crate::spec::locate::Seg;
use crate::spec::{self, Anchor, ItemKind, Unit};

use super::compile::*;
use super::*;

impl Compiler<'_> {
    #[allow(clippy::too_many_arguments)]
    pub(super) fn item(
        &mut self,
        i: usize,
        it: &spec::RawItem,
        dept_ix: &Ids<'_>,
        field_ix: &Ids<'_>,
        fields: &[Field],
        mat_ix: &Ids<'_>,
        doc_ix: &Ids<'_>,
        item_ix: &Ids<'_>,
        producer: &mut [Option<usize>],
        supplier: &[Option<usize>],
    ) -> Item {
        let origins = &self.loaded.items[i];
        let id = it.id.clone().unwrap_or_default();
        let at = |path: Vec<Seg>| Anchor::at(origins, path);
        let kind = it.kind.unwrap_or_default();

        let department = match (&it.department, kind) {
            (None, ItemKind::Review) => {
                self.error(
                    "missing-department",
                    Some(&id),
                    format!("item `{id}` has no `department`"),
                    at(vec![]),
                );
                None
            }
            (None, ItemKind::Milestone) => None,
            (Some(d), _) => match dept_ix.get(d.as_str()) {
                Some(&di) => Some(di),
                None => {
                    self.error(
                        "unknown-department",
                        Some(d),
                        format!("item `{id}`: unknown department `{d}`"),
                        at(sub(&["department"])),
                    );
                    None
                }
            },
        };

        let stage = match it.stage.as_deref() {
            None => {
                self.error(
                    "missing-stage",
                    Some(&id),
                    format!("item `{id}` has no `stage`"),
                    at(vec![]),
                );
                self.stageless.push(i);
                Stage::Approval
            }
            Some(s) => Stage::parse(s).unwrap_or_else(|| {
                self.error(
                    "unknown-stage",
                    Some(s),
                    format!(
                        "item `{id}`: unknown stage `{s}` ({})",
                        Stage::ALL.map(Stage::id).join(", ")
                    ),
                    at(sub(&["stage"])),
                );
                self.stageless.push(i);
                Stage::Approval
            }),
        };

        if kind == ItemKind::Milestone && it.limit.is_some() {
            self.push(
                Severity::Warning,
                "milestone-limit",
                Some(&id),
                format!("milestone `{id}` has a `limit`, which is ignored: milestones take no government time"),
                at(sub(&["limit"])),
            );
        }
        let limit = match (&it.limit, kind) {
            (None, ItemKind::Milestone) => Limit {
                statutory: 0,
                committed: 0,
                unit: Unit::WorkingDays,
            },
            (None, ItemKind::Review) => {
                self.error(
                    "missing-limit",
                    Some(&id),
                    format!("item `{id}` has no `limit`"),
                    at(vec![]),
                );
                Limit {
                    statutory: 0,
                    committed: 0,
                    unit: Unit::WorkingDays,
                }
            }
            (Some(spec::RawLimit::Other(v)), _) => {
                let message = limit_form(v);
                self.error(
                    "limit-form",
                    Some(&id),
                    format!("item `{id}`: {message}"),
                    at(sub(&["limit"])),
                );
                Limit {
                    statutory: 0,
                    committed: 0,
                    unit: Unit::WorkingDays,
                }
            }
            (Some(spec::RawLimit::Days(n)), _) => {
                let n = self
                    .days(&id, "limit", *n, at(sub(&["limit"])))
                    .unwrap_or(0);
                Limit {
                    statutory: n,
                    committed: n,
                    unit: Unit::WorkingDays,
                }
            }
            (Some(spec::RawLimit::Detail(d)), _) => {
                let mut get = |name: &str, v: Option<i64>| -> Option<u32> {
                    self.days(&id, &format!("{name} limit"), v?, at(sub(&["limit", name])))
                };
                let statutory = get("statutory", d.statutory);
                let committed = get("committed", d.committed);
                match (statutory, committed) {
                    (None, _) if d.statutory.is_none() => {
                        self.error(
                            "missing-limit",
                            Some(&id),
                            format!("item `{id}`: `limit` has no `statutory` value"),
                            at(sub(&["limit"])),
                        );
                    }
                    (Some(s), Some(c)) if c > s => {
                        self.error(
                            "committed-exceeds-statutory",
                            Some(&id),
                            format!(
                                "item `{id}`: committed limit {c} exceeds the statutory limit {s}"
                            ),
                            at(sub(&["limit", "committed"])),
                        );
                    }
                    _ => {}
                }
                let s = statutory.unwrap_or(0);
                Limit {
                    statutory: s,
                    committed: committed.unwrap_or(s),
                    unit: d.unit.unwrap_or_default(),
                }
            }
        };

        let extension = match it.extension {
            None => 0,
            Some(v) => self
                .days(&id, "extension", v, at(sub(&["extension"])))
                .unwrap_or(0),
        };

        let mut special_procedures = Vec::new();
        for (k, sp) in it.special_procedures.iter().flatten().enumerate() {
            let kind = sp.kind.clone().unwrap_or_default();
            if kind.is_empty() {
                self.error(
                    "missing-id",
                    Some(&id),
                    format!("item `{id}`: special procedure #{} has no `kind`", k + 1),
                    at(vec![Seg::from("special_procedures"), Seg::Index(k)]),
                );
            }
            let days = match sp.days {
                None => None,
                Some(v) => self.days(
                    &id,
                    &format!("special procedure `{kind}` days"),
                    v,
                    at(vec![
                        Seg::from("special_procedures"),
                        Seg::Index(k),
                        Seg::from("days"),
                    ]),
                ),
            };
            special_procedures.push(SpecialProcedure { kind, days });
        }

        let mut lookup = |what: &str,
                          code: &'static str,
                          list: &[String],
                          map: &Ids<'_>,
                          path: &[&str]|
         -> Vec<usize> {
            let mut out = Vec::with_capacity(list.len());
            for (k, r) in list.iter().enumerate() {
                match map.get(r.as_str()) {
                    Some(&x) => out.push(x),
                    None => {
                        let mut p = sub(path);
                        p.push(Seg::Index(k));
                        self.error(
                            code,
                            Some(r),
                            format!("item `{id}`: unknown {what} `{r}`"),
                            at(p),
                        );
                    }
                }
            }
            out
        };
        let empty = Vec::new();
        let no_requires = spec::RawRequires::default();
        let req = it.requires.as_ref().unwrap_or(&no_requires);
        let requires = Requires {
            materials: lookup(
                "material",
                "unknown-material",
                req.materials.as_ref().unwrap_or(&empty),
                mat_ix,
                &["requires", "materials"],
            ),
            fields: lookup(
                "form field",
                "unknown-field",
                req.fields.as_ref().unwrap_or(&empty),
                field_ix,
                &["requires", "fields"],
            ),
            documents: lookup(
                "document",
                "unknown-document",
                req.documents.as_ref().unwrap_or(&empty),
                doc_ix,
                &["requires", "documents"],
            ),
        };
        let produces = lookup(
            "document",
            "unknown-document",
            it.produces.as_ref().unwrap_or(&empty),
            doc_ix,
            &["produces"],
        );
        let after = lookup(
            "item",
            "unknown-item",
            it.after.as_ref().unwrap_or(&empty),
            item_ix,
            &["after"],
        );

        for (k, &d) in produces.iter().enumerate() {
            let doc_id = self.loaded.raw.documents[d]
                .id
                .as_deref()
                .unwrap_or_default();
            let anchor = || at(vec![Seg::from("produces"), Seg::Index(k)]);
            if let Some(first) = producer[d] {
                if first != i {
                    let first_id = self.loaded.raw.items[first].id.clone().unwrap_or_default();
                    self.error(
                        "document-produced-twice",
                        Some(doc_id),
                        format!("document `{doc_id}` is produced by items `{first_id}` and `{id}`"),
                        anchor(),
                    );
                }
            } else if let Some(m) = supplier[d] {
                let m_id = self.loaded.raw.materials[m].id.clone().unwrap_or_default();
                self.error(
                    "document-supplied-twice",
                    Some(doc_id),
                    format!("document `{doc_id}` is produced by item `{id}` and also supplied by material `{m_id}`"),
                    anchor(),
                );
            } else {
                producer[d] = Some(i);
            }
        }

        let when = match &it.when {
            None => None,
            Some(text) => match condition::parse(text) {
                Err(e) => {
                    self.condition_error(origins, &id, text, e);
                    None
                }
                Ok(expr) => {
                    let errs = expr.check(fields);
                    let bad = !errs.is_empty();
                    for e in errs {
                        self.condition_error(origins, &id, text, e);
                    }
                    (!bad).then(|| Box::new((expr, text.clone())))
                }
            },
        };

        let steps = self.steps(&id, it, kind, &limit, dept_ix, &at);

        Item {
            name: it.name.clone().unwrap_or_else(|| id.clone()),
            id,
            kind,
            department,
            stage,
            limit,
            extension,
            special_procedures,
            requires,
            produces,
            after,
            when,
            steps,
        }
    }

    /// A number of days from the file (`what` of item `id`): 0 to [`MAX_DAYS`], or an
    /// error diagnostic saying the range (and `None`).
    pub(super) fn days(&mut self, id: &str, what: &str, v: i64, anchor: Anchor) -> Option<u32> {
        match u32::try_from(v) {
            Ok(n) if n <= MAX_DAYS => Some(n),
            Ok(_) => {
                self.error(
                    "limit-too-large",
                    Some(id),
                    format!(
                        "item `{id}`: {what} {v} is too large: days are 0 to {MAX_DAYS} (about four years of working days)"
                    ),
                    anchor,
                );
                None
            }
            Err(_) if v < 0 => {
                self.error(
                    "negative-limit",
                    Some(id),
                    format!("item `{id}`: {what} {v} is negative"),
                    anchor,
                );
                None
            }
            Err(_) => {
                self.error(
                    "limit-too-large",
                    Some(id),
                    format!("item `{id}`: {what} {v} is too large: days are 0 to {MAX_DAYS}"),
                    anchor,
                );
                None
            }
        }
    }
}

/// What is wrong with a limit written in none of its forms, and what the forms are.
fn limit_form(v: &serde_yaml::Value) -> String {
    use serde_yaml::Value as Y;
    const FORMS: &str = "a limit is a whole number of working days (`limit: 20`) or \
         `{statutory: 20, committed: 5, unit: working_days}` (unit: working_days or \
         calendar_days)";
    let written = match v {
        Y::Mapping(_) => serde_json::to_string(v).unwrap_or_default(),
        _ => serde_yaml::to_string(v)
            .unwrap_or_default()
            .trim()
            .replace('\n', " "),
    };
    let written: String = written.chars().take(60).collect();
    match v {
        Y::Number(n) if n.as_f64().is_some_and(|x| x.fract() != 0.0) => {
            format!("limit `{written}` is not a whole number of days; {FORMS}")
        }
        Y::Number(_) => {
            format!("limit `{written}` is out of range: days are 0 to {MAX_DAYS}; {FORMS}")
        }
        Y::String(s) => {
            let number: String = s.chars().take_while(char::is_ascii_digit).collect();
            if !number.is_empty() && s.contains("calendar") {
                format!(
                    "limit `{written}`: write the unit as a field: `limit: {{statutory: {number}, unit: calendar_days}}`"
                )
            } else if !number.is_empty() {
                format!(
                    "limit `{written}`: write the number alone: `limit: {number}` (working days)"
                )
            } else {
                format!("limit `{written}` is not a number; {FORMS}")
            }
        }
        Y::Mapping(_) => match serde_yaml::from_value::<spec::RawLimitDetail>(v.clone()) {
            Err(e) => format!(
                "limit `{written}`: {}; {FORMS}",
                crate::textfile::yaml_message(&e)
            ),
            Ok(_) => format!("limit `{written}`: {FORMS}"),
        },
        _ => format!("limit `{written}`: {FORMS}"),
    }
}
