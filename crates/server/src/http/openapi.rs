//! The OpenAPI 3.1 document of the JSON/HTTP API, served at `/api/v1/openapi.json`.
//!
//! Generated, not written: the paths from [`super::api::routes`] (the table the router
//! is built from) and the schemas from the proto's own descriptors (compiled into the
//! binary for reflection), with the proto's comments as descriptions. A field added to
//! the proto appears here with no edit; a route cannot be documented and not served.

use std::collections::BTreeMap;

use prost::Message;
use prost_types::field_descriptor_proto::{Label, Type};
use prost_types::{DescriptorProto, FileDescriptorSet};
use serde_json::{json, Map, Value};

use super::api::routes;
use crate::pb;

/// The document, built once.
pub(crate) fn document() -> &'static Value {
    static DOC: std::sync::LazyLock<Value> = std::sync::LazyLock::new(build);
    &DOC
}

fn build() -> Value {
    let set = FileDescriptorSet::decode(pb::FILE_DESCRIPTOR_SET).unwrap_or_default();
    let mut schemas = Map::new();
    let mut comments = BTreeMap::new();
    for file in &set.file {
        if file.package() != "onewindow.v1" {
            continue;
        }
        // Comments by descriptor path: [4, m] a message, [4, m, 2, f] its field.
        if let Some(info) = &file.source_code_info {
            for loc in &info.location {
                let text = loc.leading_comments().trim();
                if !text.is_empty() {
                    comments.insert(loc.path.clone(), text.replace('\n', " "));
                }
            }
        }
        for (m, message) in file.message_type.iter().enumerate() {
            let at = vec![4, i32::try_from(m).unwrap_or(i32::MAX)];
            let mut s = schema(message, &at, &comments);
            if routes().iter().any(|r| r.request == message.name()) {
                bound_lists(message, &mut s);
            }
            schemas.insert(message.name().to_string(), s);
        }
    }
    schemas.insert(
        "Error".into(),
        json!({
            "type": "object",
            "description": "Every error: the gRPC code as its HTTP status, and the typed reason.",
            "properties": {"error": {"type": "object", "properties": {
                "code": {"type": "integer", "description": "The HTTP status."},
                "status": {"type": "string", "description": "The gRPC code, e.g. FAILED_PRECONDITION."},
                "reason": {"type": "string", "description": "The engine's refusal code (e.g. illegal-transition, request-reused, incomplete), or invalid-argument, or the status in lower case."},
                "message": {"type": "string"},
                "violations": {"type": "array", "items": {"type": "object", "properties": {
                    "field": {"type": "string"}, "description": {"type": "string"}}}},
                "notice": {"$ref": "#/components/schemas/Notice"}
            }}}
        }),
    );
    let mut paths = Map::new();
    for route in routes() {
        let mut parameters: Vec<Value> = route
            .path
            .split('/')
            .filter_map(|s| s.strip_prefix('{')?.strip_suffix('}'))
            .map(|name| json!({"name": name, "in": "path", "required": true, "schema": {"type": "string", "maxLength": crate::input::MAX_ID_CHARS, "pattern": ID_PATTERN}, "example": example_of(name, &json!({"type": "string"}))}))
            .collect();
        let mut op = json!({
            "operationId": route.rpc,
            "summary": route.summary,
            "description": format!("The gRPC method `onewindow.v1.{}`, over HTTP. Callers: {}.", route.rpc, route.roles),
            "tags": [route.rpc.split('.').next().unwrap_or("")],
            "security": [{"bearer": []}],
            "responses": {
                "200": {"description": "The answer", "content": {"application/json": {"schema": {"$ref": format!("#/components/schemas/{}", route.response)}}}},
                "default": {"description": "An error", "content": {"application/json": {"schema": {"$ref": "#/components/schemas/Error"}}}}
            }
        });
        if route.method == "GET" {
            // The message's other fields are query parameters.
            if let Some(props) = schemas
                .get(route.request)
                .and_then(|s| s.get("properties"))
                .and_then(Value::as_object)
            {
                for (name, s) in props {
                    if !route.path.contains(&format!("{{{name}}}")) {
                        parameters.push(
                            json!({"name": name, "in": "query", "required": false, "schema": s, "example": example_of(name, s)}),
                        );
                    }
                }
            }
        } else if route.method == "POST" {
            let (required, example) = body_contract(route, &schemas);
            let mut schema = json!({"$ref": format!("#/components/schemas/{}", route.request)});
            if !required.is_empty() {
                schema = json!({"allOf": [schema], "required": required});
            }
            op["requestBody"] = json!({"required": true, "content": {"application/json": {"schema": schema, "example": example}}});
        }
        op["parameters"] = Value::Array(parameters);
        let entry = paths
            .entry(route.path.to_string())
            .or_insert_with(|| json!({}));
        entry[route.method.to_lowercase()] = op;
    }
    streams(&mut paths);
    json!({
        "openapi": "3.1.0",
        "info": {
            "title": "onewindow JSON/HTTP API",
            "version": "v1",
            "description": "The gRPC API (proto/onewindow/v1/onewindow.proto) over HTTP/JSON: the same messages (field names as in the proto; a missing field is its default; a form value is the bare JSON value), the same bearer tokens and roles, the same request-id rule and the same errors. Every mutating call answers once its events are durable; the time of record is the server's clock. Bounds: a request body is at most 4 MiB, an answer at most 16 MiB encoded (RESOURCE_EXHAUSTED, HTTP 429, otherwise); every list in a request at most 1,000 entries (a comparison 2 to 16 versions); a key may not appear twice in one JSON object; ids are 1 to 128 characters in NFKC."
        },
        "paths": paths,
        "components": {
            "schemas": schemas,
            "securitySchemes": {"bearer": {"type": "http", "scheme": "bearer"}}
        }
    })
}

/// The bounds of a request message's lists and maps, as the server checks them
/// (`server/input.rs`): `maxItems` / `maxProperties`.
fn bound_lists(message: &DescriptorProto, schema: &mut Value) {
    for field in &message.field {
        if field.label() != Label::Repeated {
            continue;
        }
        let s = &mut schema["properties"][field.name()];
        if s["type"] == "object" {
            s["maxProperties"] = json!(crate::input::MAX_LIST);
        } else if message.name() == "CompareRequest" && field.name() == "versions" {
            s["minItems"] = json!(2);
            s["maxItems"] = json!(crate::input::MAX_COMPARE);
        } else if message.name() == "DeployCalendarRequest" && field.name() == "files" {
            s["minItems"] = json!(1);
            s["maxItems"] = json!(crate::calendar::MAX_FILES);
        } else {
            s["maxItems"] = json!(crate::input::MAX_LIST);
        }
    }
}

/// Fields that hold an id (`server/input.rs`'s rule: 1 to 128 characters, letters, digits
/// and `-_.:/@#+~`, in NFKC) and fields of free text (at most 2,000 characters).
const ID_FIELDS: &[&str] = &[
    "request_id",
    "project",
    "item",
    "version",
    "to",
    "agent",
    "reviewer",
    "material",
];
const TEXT_FIELDS: &[&str] = &["reason", "note", "applicant", "location"];

/// The id rule as a pattern a generator can check before sending (Unicode letters and
/// digits pass, so no whitespace, quotes, angle brackets or backslashes).
const ID_PATTERN: &str = "^[^\\s\"'<>\\\\]+$";

/// A field's bounds as schema: ids, text, and the states and stages a reader may meet.
fn bound_field(message: &str, field: &str, s: &mut Value) {
    let is_string = s["type"] == "string";
    let is_string_list = s["type"] == "array" && s["items"]["type"] == "string";
    let target = if is_string_list {
        &mut s["items"]
    } else {
        &mut *s
    };
    if (is_string || is_string_list) && ID_FIELDS.contains(&field) {
        target["maxLength"] = json!(crate::input::MAX_ID_CHARS);
        target["pattern"] = json!(ID_PATTERN);
    } else if is_string && TEXT_FIELDS.contains(&field) {
        target["maxLength"] = json!(crate::input::MAX_TEXT_CHARS);
    }
    if !is_string {
        return;
    }
    let values: Option<Vec<&str>> = match (message, field) {
        ("Task", "state") => Some(
            onewindow_engine::TaskState::ALL
                .iter()
                .map(|t| t.as_str())
                .collect(),
        ),
        ("Project", "stage") | ("ListProjectsRequest", "stage") => Some(
            std::iter::once("")
                .chain(onewindow_core::plan::Stage::ALL.iter().map(|s| s.id()))
                .collect(),
        ),
        ("Project", "status") => Some(vec!["active", "completed", "withdrawn"]),
        _ => None,
    };
    if let Some(v) = values {
        s["enum"] = json!(v);
    }
}

/// A message's JSON schema.
fn schema(message: &DescriptorProto, at: &[i32], comments: &BTreeMap<Vec<i32>, String>) -> Value {
    if message.name() == "FieldValue" {
        return json!({
            "description": "A form value, typed as the workflow's field is: text (also an enum value or a date YYYY-MM-DD), a number or a flag.",
            "oneOf": [{"type": "string"}, {"type": "number"}, {"type": "boolean"}]
        });
    }
    let mut properties = Map::new();
    for (f, field) in message.field.iter().enumerate() {
        let mut path = at.to_vec();
        path.extend([2, i32::try_from(f).unwrap_or(i32::MAX)]);
        let mut s = field_schema(message, field);
        bound_field(message.name(), field.name(), &mut s);
        if let Some(c) = comments.get(&path) {
            s["description"] = Value::String(c.clone());
        }
        properties.insert(field.name().to_string(), s);
    }
    let mut s = json!({"type": "object", "properties": properties});
    // Every command requires its idempotency key (the server refuses one without).
    if message.field.iter().any(|f| f.name() == "request_id") {
        s["required"] = json!(["request_id"]);
    }
    if let Some(c) = comments.get(at) {
        s["description"] = Value::String(c.clone());
    }
    s
}

/// One field's schema: scalars, references, lists and maps (a map is a nested entry type).
fn field_schema(message: &DescriptorProto, field: &prost_types::FieldDescriptorProto) -> Value {
    let single = |field: &prost_types::FieldDescriptorProto| match field.r#type() {
        Type::String => json!({"type": "string"}),
        Type::Bool => json!({"type": "boolean"}),
        Type::Double | Type::Float => json!({"type": "number"}),
        Type::Message => {
            let name = field.type_name().rsplit('.').next().unwrap_or("");
            json!({"$ref": format!("#/components/schemas/{name}")})
        }
        _ => json!({"type": "integer", "minimum": 0}),
    };
    if field.label() == Label::Repeated {
        let entry = field.type_name().rsplit('.').next().unwrap_or("");
        if let Some(map) = message
            .nested_type
            .iter()
            .find(|n| n.name() == entry && n.options.as_ref().is_some_and(|o| o.map_entry()))
        {
            let value = map.field.iter().find(|f| f.name() == "value");
            return json!({"type": "object", "additionalProperties": value.map_or(json!({}), single)});
        }
        return json!({"type": "array", "items": single(field)});
    }
    single(field)
}

/// The push streams ([`super::streams`]): server-sent events, each event's data the JSON
/// of the gRPC stream's message.
fn streams(paths: &mut Map<String, Value>) {
    let error = json!({"description": "An error before the stream opens", "content": {"application/json": {"schema": {"$ref": "#/components/schemas/Error"}}}});
    paths.insert(
        "/api/v1/projects/{project}/events".into(),
        json!({"get": {
            "operationId": "Window.Watch",
            "summary": "A project's events as they happen, as server-sent events (resumable)",
            "description": "The gRPC stream `onewindow.v1.Window.Watch` for one project, as `text/event-stream`. Each event: `id` = its sequence number, `event` = its type, `data` = the `Event` message as JSON. A client that drops reconnects with `Last-Event-ID` (or `after`) and receives what follows, nothing twice. An `error` event (data: `status`, `message`) ends the stream, e.g. when the caller's token is revoked. Counts against the caller's streams. Callers: window, agent (their projects only), supervisor, admin.",
            "tags": ["Window"],
            "security": [{"bearer": []}],
            "parameters": [
                {"name": "project", "in": "path", "required": true, "schema": {"type": "string", "maxLength": crate::input::MAX_ID_CHARS, "pattern": ID_PATTERN}, "example": "2025-000001"},
                {"name": "after", "in": "query", "required": false, "schema": {"type": "integer", "minimum": 0}, "description": "Start after this sequence number.", "example": 12},
                {"name": "types", "in": "query", "required": false, "schema": {"type": "string"}, "description": "Only events of these types, comma-separated.", "example": "task_ready,task_approved"},
                {"name": "Last-Event-ID", "in": "header", "required": false, "schema": {"type": "string", "pattern": "^[0-9]+$"}, "description": "The last sequence number received; wins over `after`.", "example": "12"}
            ],
            "responses": {
                "200": {"description": "The stream", "content": {"text/event-stream": {"schema": {"type": "string"}, "x-event-data": {"$ref": "#/components/schemas/Event"}}}},
                "default": error.clone()
            }
        }}),
    );
    paths.insert(
        "/api/v1/events".into(),
        json!({"get": {
            "operationId": "Window.WatchAll",
            "summary": "Every project's events as they happen, as server-sent events",
            "description": "The gRPC stream `onewindow.v1.Window.Watch` without a project, as `text/event-stream`. Each event: `id` = `project:seq`, `event` = its type, `data` = the `Event` message as JSON. From the present by default (`live=false` replays every project's stored events first). A reconnect resumes the project of its `Last-Event-ID` and those named in `cursors`; a system that must miss nothing keeps a cursor per project (or registers a callback). An `error` event ends the stream. Counts against the caller's streams. Callers: window, agent (their projects only), supervisor, admin.",
            "tags": ["Window"],
            "security": [{"bearer": []}],
            "parameters": [
                {"name": "live", "in": "query", "required": false, "schema": {"type": "boolean"}, "description": "Start at the present (default) or replay stored events first.", "example": true},
                {"name": "cursors", "in": "query", "required": false, "schema": {"type": "string"}, "description": "Where to resume projects: `project:seq`, comma-separated (at most 1,000).", "example": "2025-000001:12,2025-000002:3"},
                {"name": "types", "in": "query", "required": false, "schema": {"type": "string"}, "description": "Only events of these types, comma-separated.", "example": "task_ready,completed"},
                {"name": "Last-Event-ID", "in": "header", "required": false, "schema": {"type": "string", "pattern": "^.+:[0-9]+$"}, "description": "The last event id received (`project:seq`).", "example": "2025-000001:12"}
            ],
            "responses": {
                "200": {"description": "The stream", "content": {"text/event-stream": {"schema": {"type": "string"}, "x-event-data": {"$ref": "#/components/schemas/Event"}}}},
                "default": error.clone()
            }
        }}),
    );
    paths.insert(
        "/api/v1/tasks/ready".into(),
        json!({"get": {
            "operationId": "Department.StreamReady",
            "summary": "The caller's department's tasks as they become ready, as server-sent events",
            "description": "The gRPC stream `onewindow.v1.Department.StreamReady` as `text/event-stream`: first every task ready now, then each as it becomes ready (`event: task`), and the department's notices — warnings, cards, urgings, copies (`event: notice`); `data` = the `Task` message as JSON. With `claim=true` each task is claimed for the caller before it is pushed. Reconnecting starts again with every task ready now. Callers: a department or its reviewers.",
            "tags": ["Department"],
            "security": [{"bearer": []}],
            "parameters": [
                {"name": "claim", "in": "query", "required": false, "schema": {"type": "boolean"}, "example": false}
            ],
            "responses": {
                "200": {"description": "The stream", "content": {"text/event-stream": {"schema": {"type": "string"}, "x-event-data": {"$ref": "#/components/schemas/Task"}}}},
                "default": error
            }
        }}),
    );
}

/// What a `POST` route's body must hold (its fields not set by the path) and an example
/// body: a command's `request_id`, a submission's version and applicant, and a verb's
/// required fields from its row in the verb table.
fn body_contract(route: &super::api::Route, schemas: &Map<String, Value>) -> (Vec<String>, Value) {
    use crate::verbs::Kind;
    let in_path = |f: &str| route.path.contains(&format!("{{{f}}}"));
    let mut required: Vec<String> = Vec::new();
    let mut example = Map::new();
    let has = |f: &str| {
        schemas
            .get(route.request)
            .is_some_and(|s| s["properties"][f].is_object())
    };
    let mut need = |f: &str, v: Value| {
        if !in_path(f) && has(f) {
            required.push(f.to_string());
            example.insert(f.to_string(), v);
        }
    };
    need("request_id", json!("r-0001"));
    if route.rpc == "Callbacks.Register" {
        need("url", json!("https://hooks.fire.example.gov.cn/onewindow"));
    }
    if route.rpc == "Window.Submit" {
        need("project", json!("2025-000001"));
        need("version", json!("3f2a9c1e5b7d"));
        need("applicant", json!("某公司"));
    }
    if let Some(verb) = crate::verbs::all().find(|v| v.rpc == route.rpc) {
        for f in verb.fields.iter().filter(|f| f.required) {
            let sample = match f.kind {
                Kind::Text => json!("材料不全，请补正"),
                Kind::Person => json!("zhang"),
                Kind::EarlierItem => json!("I01"),
                Kind::SpecialProcedure => json!("hearing"),
                Kind::MaterialIds => json!(["business_license"]),
                Kind::Materials => {
                    json!([{"material": "business_license", "name": "营业执照.pdf"}])
                }
                Kind::Flag => json!(true),
                Kind::Numbers => json!({}),
            };
            need(f.name, sample);
        }
    }
    (required, Value::Object(example))
}

/// An example value of a parameter, by its name and schema: what a reader can paste.
fn example_of(name: &str, schema: &Value) -> Value {
    match name {
        "project" => json!("2025-000001"),
        "item" => json!("I01"),
        "version" => json!("3f2a9c1e5b7d"),
        "from" => json!("2025-01-01"),
        "to" => json!("2025-06-30"),
        "start_date" => json!("2025-03-03"),
        "limits" => json!("committed"),
        "page_token" => json!(""),
        _ => match (schema["enum"].get(1), schema["type"].as_str()) {
            (Some(v), _) => v.clone(),
            (None, Some("integer")) => json!(100),
            (None, Some("boolean")) => json!(false),
            (None, Some("array")) => json!([]),
            (None, Some("object")) => json!({}),
            _ => json!(""),
        },
    }
}
