//! OCEL 2.0: the record as objects and the events that touch them, for object-centric
//! mining. Object types: `project`, `task` (one round of an item in a project: a task
//! made ready again after a return or resubmission is a new round), `department`,
//! `document` (issued, with its number), `material` (handed in for a project), `card`
//! (a yellow or red supervision card). Each event (type = onewindow's event type) is
//! related to its project (`project`), its task (`task`), the task's department
//! (`department`), the documents it issues (`issues`), the materials it hands in
//! (`hands in`) and the card it draws (`draws`); a task is `part of` its project and
//! `reviewed by` its department, a document `issued for` its project.

use std::collections::{BTreeMap, BTreeSet, HashMap};
use std::path::Path;

use onewindow_engine::{Card, Event};
use process_mining::core::event_data::object_centric::{
    OCELAttributeType, OCELAttributeValue, OCELEvent, OCELEventAttribute, OCELObject,
    OCELObjectAttribute, OCELRelationship, OCELType, OCELTypeAttribute,
};
use process_mining::{Exportable, OCEL};

use super::{department, instant, used, Error, Record};

fn rel(object: &str, qualifier: &str) -> OCELRelationship {
    OCELRelationship {
        object_id: object.to_string(),
        qualifier: qualifier.to_string(),
    }
}

/// The objects a record names, by id: (type, attributes, relationships).
#[derive(Default)]
struct Objects(BTreeMap<String, OCELObject>);

impl Objects {
    fn add(
        &mut self,
        id: &str,
        kind: &str,
        at: chrono::DateTime<chrono::FixedOffset>,
        attrs: &[(&str, &str)],
        rels: Vec<OCELRelationship>,
    ) {
        self.0.entry(id.to_string()).or_insert_with(|| OCELObject {
            id: id.to_string(),
            object_type: kind.to_string(),
            attributes: attrs
                .iter()
                .map(|(k, v)| OCELObjectAttribute {
                    name: (*k).to_string(),
                    value: OCELAttributeValue::String((*v).to_string()),
                    time: at,
                })
                .collect(),
            relationships: rels,
        });
    }
}

/// The record as an OCEL 2.0 log.
pub fn log(record: &Record) -> OCEL {
    let mut objects = Objects::default();
    let mut events = Vec::with_capacity(record.events());
    let mut kinds: BTreeSet<&'static str> = BTreeSet::new();
    for p in &record.projects {
        let plan = &p.plan;
        let Some(first) = p.events.first() else {
            continue;
        };
        let start = instant(first, plan);
        objects.add(
            &p.id,
            "project",
            start,
            &[
                ("workflow", plan.id.as_str()),
                ("version", plan.version.as_str()),
            ],
            Vec::new(),
        );
        // The round of each item: a task made ready again is a new task.
        let mut round: HashMap<&str, u32> = HashMap::new();
        for e in &p.events {
            let at = instant(e, plan);
            kinds.insert(e.event.kind());
            let mut rels = vec![rel(&p.id, "project")];
            if let Some(item) = e.event.item() {
                let n = round.entry(item).or_insert(0);
                if matches!(e.event, Event::TaskReady { .. }) || *n == 0 {
                    *n += 1;
                }
                let task = format!("{}/{item}#{n}", p.id);
                let dept = department(plan, &e.event).unwrap_or("unknown");
                let dept_id = format!("department:{dept}");
                objects.add(
                    &dept_id,
                    "department",
                    at,
                    &[("name", dept_name(plan, dept))],
                    Vec::new(),
                );
                objects.add(
                    &task,
                    "task",
                    at,
                    &[("item", item)],
                    vec![rel(&p.id, "part of"), rel(&dept_id, "reviewed by")],
                );
                rels.push(rel(&task, "task"));
                rels.push(rel(&dept_id, "department"));
            }
            match &e.event {
                Event::TaskApproved { documents, .. } => {
                    for d in documents {
                        let id = format!("{}/{}", p.id, d.document);
                        objects.add(
                            &id,
                            "document",
                            at,
                            &[
                                ("document", d.document.as_str()),
                                ("number", d.number.as_str()),
                            ],
                            vec![rel(&p.id, "issued for")],
                        );
                        rels.push(rel(&id, "issues"));
                    }
                }
                Event::Submitted { materials, .. }
                | Event::MaterialsProvided { materials }
                | Event::SupplementProvided { materials, .. }
                | Event::Resubmitted { materials, .. } => {
                    for m in materials {
                        let id = format!("{}/material/{}", p.id, m.material);
                        objects.add(
                            &id,
                            "material",
                            at,
                            &[("material", m.material.as_str())],
                            vec![rel(&p.id, "handed in for")],
                        );
                        rels.push(rel(&id, "hands in"));
                    }
                }
                Event::Carded { item, card, .. } => {
                    let colour = match card {
                        Card::Yellow => "yellow",
                        Card::Red => "red",
                    };
                    let id = format!("{}/{item}/card/{colour}/{}", p.id, e.seq);
                    objects.add(
                        &id,
                        "card",
                        at,
                        &[("colour", colour)],
                        vec![rel(&p.id, "about")],
                    );
                    rels.push(rel(&id, "draws"));
                }
                _ => {}
            }
            let mut attributes = vec![OCELEventAttribute {
                name: "actor".into(),
                value: OCELAttributeValue::String(e.actor.id()),
            }];
            attributes.push(OCELEventAttribute {
                name: "working_days".into(),
                value: used(&e.event).map_or(OCELAttributeValue::Null, |d| {
                    OCELAttributeValue::Integer(i64::from(d))
                }),
            });
            // One relationship per object and qualifier (a material handed in twice in
            // one event is one relationship).
            let mut seen = BTreeSet::new();
            rels.retain(|r| seen.insert((r.object_id.clone(), r.qualifier.clone())));
            events.push(OCELEvent {
                id: format!("{}:{}", p.id, e.seq),
                event_type: e.event.kind().to_string(),
                time: at,
                attributes,
                relationships: rels,
            });
        }
    }
    let event_types = kinds
        .into_iter()
        .map(|k| OCELType {
            name: k.to_string(),
            attributes: vec![
                OCELTypeAttribute::new("actor", &OCELAttributeType::String),
                OCELTypeAttribute::new("working_days", &OCELAttributeType::Integer),
            ],
        })
        .collect();
    let object_type = |name: &str, attrs: &[&str]| OCELType {
        name: name.to_string(),
        attributes: attrs
            .iter()
            .map(|a| OCELTypeAttribute::new(a, &OCELAttributeType::String))
            .collect(),
    };
    OCEL {
        event_types,
        object_types: vec![
            object_type("project", &["workflow", "version"]),
            object_type("task", &["item"]),
            object_type("department", &["name"]),
            object_type("document", &["document", "number"]),
            object_type("material", &["material"]),
            object_type("card", &["colour"]),
        ],
        events,
        objects: objects.0.into_values().collect(),
    }
}

fn dept_name<'p>(plan: &'p onewindow_core::plan::Plan, id: &'p str) -> &'p str {
    plan.departments
        .iter()
        .find(|d| d.id == id)
        .map_or(id, |d| d.name.as_str())
}

/// Writes the record as OCEL 2.0 to `path`: SQLite for `.sqlite`, JSON for `.json`
/// (`.jsonocel` too).
///
/// # Errors
/// The file cannot be written, or its extension names no OCEL format.
pub fn write(record: &Record, path: &Path) -> Result<(), Error> {
    let bad = |message: String| Error::Write {
        path: path.display().to_string(),
        message,
    };
    let name = path.to_string_lossy().to_lowercase();
    if !(name.ends_with(".sqlite") || name.ends_with(".json") || name.ends_with(".jsonocel")) {
        return Err(bad("an OCEL file ends in .sqlite or .json".into()));
    }
    if path.exists() {
        // SQLite would add to an existing database: the export is always a new file.
        std::fs::remove_file(path).map_err(|e| bad(e.to_string()))?;
    }
    log(record)
        .export_to_path(path)
        .map_err(|e| bad(e.to_string()))?;
    if name.ends_with(".sqlite") {
        declare_keys(path).map_err(|e| bad(format!("declaring the keys: {e}")))?;
    }
    Ok(())
}

/// Declares the foreign keys OCEL 2.0's relational schema requires and the writer leaves
/// out: `object_object`'s ends are objects, and each type's event and object table
/// refers to `event` and `object` (constraints 22–24 of the specification's validation,
/// which PM4Py's `ocel20_rel_validation` checks). SQLite cannot add a key to a table, so
/// each is made again with its keys and its rows, in one transaction.
fn declare_keys(path: &Path) -> Result<(), rusqlite::Error> {
    let quote = |s: &str| format!("\"{}\"", s.replace('"', "\"\""));
    let mut c = rusqlite::Connection::open(path)?;
    let tx = c.transaction()?;
    let types = |table: &str| -> Result<BTreeSet<String>, rusqlite::Error> {
        let mut q = tx.prepare(&format!("SELECT ocel_type_map FROM {table}"))?;
        let rows = q.query_map([], |r| r.get::<_, String>(0))?;
        rows.collect()
    };
    let (events, objects) = (types("event_map_type")?, types("object_map_type")?);
    let tables: Vec<(String, String)> = {
        let mut q = tx.prepare("SELECT name, sql FROM sqlite_master WHERE type = 'table'")?;
        let rows = q.query_map([], |r| Ok((r.get(0)?, r.get(1)?)))?;
        rows.collect::<Result<_, _>>()?
    };
    for (name, sql) in tables {
        let keys = if name == "object_object" {
            r#"FOREIGN KEY("ocel_source_id") REFERENCES "object"("ocel_id"), FOREIGN KEY("ocel_target_id") REFERENCES "object"("ocel_id")"#
        } else if name
            .strip_prefix("event_")
            .is_some_and(|t| events.contains(t))
        {
            r#"FOREIGN KEY("ocel_id") REFERENCES "event"("ocel_id")"#
        } else if name
            .strip_prefix("object_")
            .is_some_and(|t| objects.contains(t))
        {
            r#"FOREIGN KEY("ocel_id") REFERENCES "object"("ocel_id")"#
        } else {
            continue;
        };
        let Some(close) = sql.rfind(')') else {
            continue;
        };
        let old = format!("{name}__undeclared");
        tx.execute_batch(&format!(
            "ALTER TABLE {t} RENAME TO {o}; {create}, {keys}); INSERT INTO {t} SELECT * FROM {o}; DROP TABLE {o};",
            t = quote(&name),
            o = quote(&old),
            create = &sql[..close],
        ))?;
    }
    tx.commit()
}
