//! XES (IEEE 1849): one trace per project (its id as `concept:name`), one event per event
//! of its log, with the standard extensions — Concept (the activity), Time (the instant
//! with the city's offset), Lifecycle (schedule, start, suspend, resume, complete,
//! withdraw, unknown), Organizational (`org:resource` who acted, `org:group` the item's
//! department) — and onewindow's own attributes under `ow:` (the event's type and place in
//! the log, the working days a task had used, the workflow and version of the trace).

use std::path::Path;

use process_mining::core::event_data::case_centric::{
    Attribute, AttributeValue, Event as XesEvent, EventLog, EventLogClassifier, EventLogExtension,
    Trace,
};
use process_mining::Exportable;

use super::{activity, department, instant, lifecycle, used, Error, Record};

fn attr(key: &str, value: AttributeValue) -> Attribute {
    Attribute {
        key: key.to_string(),
        value,
        own_attributes: None,
    }
}

fn text(key: &str, value: impl Into<String>) -> Attribute {
    attr(key, AttributeValue::String(value.into()))
}

fn extension(name: &str, prefix: &str, uri: &str) -> EventLogExtension {
    EventLogExtension {
        name: name.into(),
        prefix: prefix.into(),
        uri: uri.into(),
    }
}

/// The record as an XES log.
pub fn log(record: &Record) -> EventLog {
    let mut traces = Vec::with_capacity(record.projects.len());
    for p in &record.projects {
        let plan = &p.plan;
        let mut trace = Trace {
            attributes: vec![
                text("concept:name", p.id.clone()),
                text("ow:workflow", plan.id.clone()),
                text("ow:version", plan.version.clone()),
            ],
            events: Vec::with_capacity(p.events.len()),
        };
        for e in &p.events {
            let mut attributes = vec![
                text("concept:name", activity(plan, &e.event)),
                attr("time:timestamp", AttributeValue::Date(instant(e, plan))),
                text("lifecycle:transition", lifecycle(&e.event)),
                text("org:resource", e.actor.id()),
                text("ow:type", e.event.kind()),
                attr("ow:seq", AttributeValue::Int(e.seq as i64)),
            ];
            if let Some(d) = department(plan, &e.event) {
                attributes.push(text("org:group", d));
            }
            if let Some(item) = e.event.item() {
                attributes.push(text("ow:item", item));
            }
            if let Some(days) = used(&e.event) {
                attributes.push(attr(
                    "ow:working_days",
                    AttributeValue::Int(i64::from(days)),
                ));
            }
            trace.events.push(XesEvent { attributes });
        }
        traces.push(trace);
    }
    EventLog {
        attributes: vec![text("concept:name", "onewindow")],
        traces,
        extensions: Some(vec![
            extension(
                "Concept",
                "concept",
                "http://www.xes-standard.org/concept.xesext",
            ),
            extension("Time", "time", "http://www.xes-standard.org/time.xesext"),
            extension(
                "Lifecycle",
                "lifecycle",
                "http://www.xes-standard.org/lifecycle.xesext",
            ),
            extension(
                "Organizational",
                "org",
                "http://www.xes-standard.org/org.xesext",
            ),
        ]),
        classifiers: Some(vec![EventLogClassifier {
            name: "Activity".into(),
            keys: vec!["concept:name".into(), "lifecycle:transition".into()],
        }]),
        global_trace_attrs: Some(vec![text("concept:name", "")]),
        global_event_attrs: Some(vec![
            text("concept:name", ""),
            text("lifecycle:transition", "unknown"),
            text("org:resource", ""),
        ]),
    }
}

/// Writes the record as XES to `path` (`.xes`, or `.xes.gz` compressed).
///
/// # Errors
/// The file cannot be written.
pub fn write(record: &Record, path: &Path) -> Result<(), Error> {
    log(record).export_to_path(path).map_err(|e| Error::Write {
        path: path.display().to_string(),
        message: e.to_string(),
    })
}
