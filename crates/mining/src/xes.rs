//! XES (IEEE 1849): one trace per project (its id as `concept:name`), one event per event
//! of its log, with the standard extensions — Concept (the activity), Time (the instant
//! with the city's offset), Lifecycle (schedule, start, suspend, resume, complete,
//! withdraw, unknown), Organizational (`org:resource` who acted, `org:group` the item's
//! department) — and onewindow's own attributes under `ow:` (the event's type and place in
//! the log, the working days a task had used, the workflow and version of the trace).

use process_mining::core::event_data::case_centric::xes::{
    export_xes_trace_stream_to_file, XESOuterLogData,
};
use std::path::Path;

use process_mining::core::event_data::case_centric::{
    Attribute, AttributeValue, Event as XesEvent, EventLog, EventLogClassifier, EventLogExtension,
    Trace,
};
use process_mining::Exportable;

use super::{activity, department, instant, lifecycle, used, Error, ProjectLog, Projects, Record};

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

/// One project as an XES trace.
pub fn trace(p: &ProjectLog) -> Trace {
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
    trace
}

/// What the log says of itself: the standard extensions, the classifier, the globals.
fn outer() -> XESOuterLogData {
    XESOuterLogData {
        xes_version: Some("2.0".into()),
        log_attributes: vec![text("concept:name", "onewindow")],
        extensions: vec![
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
        ],
        classifiers: vec![EventLogClassifier {
            name: "Activity".into(),
            keys: vec!["concept:name".into(), "lifecycle:transition".into()],
        }],
        global_trace_attrs: vec![text("concept:name", "")],
        global_event_attrs: vec![
            text("concept:name", ""),
            text("lifecycle:transition", "unknown"),
            text("org:resource", ""),
        ],
    }
}

/// The record as an XES log (in memory).
pub fn log(record: &Record) -> EventLog {
    let o = outer();
    EventLog {
        attributes: o.log_attributes,
        traces: record.projects.iter().map(trace).collect(),
        extensions: Some(o.extensions),
        classifiers: Some(o.classifiers),
        global_trace_attrs: Some(o.global_trace_attrs),
        global_event_attrs: Some(o.global_event_attrs),
    }
}

/// Writes the projects of a period as XES to `path` (`.xes`, or `.xes.gz` compressed) as
/// they are read from the store, one trace at a time (memory holds one project, not the
/// city); returns how many projects and events it wrote. The file is written beside
/// `path` and renamed into place once complete; a period without events writes nothing.
///
/// # Errors
/// The store fails, or the file cannot be written.
pub fn write_streaming(projects: Projects<'_>, path: &Path) -> Result<(usize, usize), Error> {
    let bad = |message: String| Error::Write {
        path: path.display().to_string(),
        message,
    };
    let partial = path.with_extension(format!(
        "{}.partial",
        path.extension().and_then(|e| e.to_str()).unwrap_or("xes")
    ));
    let file = std::fs::File::create(&partial).map_err(|e| bad(e.to_string()))?;
    let gz = path.to_string_lossy().ends_with(".gz");
    let failed: std::cell::RefCell<Option<Error>> = std::cell::RefCell::new(None);
    let counts = std::cell::Cell::new((0usize, 0usize));
    let traces = projects.map_while(|p| match p {
        Ok(p) => {
            let (n, e) = counts.get();
            counts.set((n + 1, e + p.events.len()));
            Some(trace(&p))
        }
        Err(e) => {
            *failed.borrow_mut() = Some(e);
            None
        }
    });
    let written = export_xes_trace_stream_to_file(traces, outer(), file, gz);
    let done = match (failed.into_inner(), written) {
        (Some(e), _) => Err(e),
        (None, Err(e)) => Err(bad(e.to_string())),
        (None, Ok(())) => Ok(counts.get()),
    };
    match done {
        Ok((0, _)) | Err(_) => {
            let _ = std::fs::remove_file(&partial);
            done
        }
        Ok(c) => {
            std::fs::rename(&partial, path).map_err(|e| bad(e.to_string()))?;
            Ok(c)
        }
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
