//! The JSON/HTTP API, for department and provincial systems that speak HTTP, not gRPC.
//!
//! It is the gRPC API over another transport, not a second API: every route calls the
//! same handler as its RPC, with the same messages (serde derives on the generated types,
//! field names as in the `.proto`), the same bearer tokens and roles, the same request-id
//! rule (scoped to the caller, bound to the command) and the same errors, each gRPC code
//! mapped to its HTTP status as `google.rpc.Code` documents ([`super::error`]).
//!
//! [`routes`] is the one table (the fixed routes here, and one per verb of
//! [`crate::verbs`]): the router is built from it and the OpenAPI document
//! ([`super::openapi`]) is generated from it and from the proto's descriptors, so the
//! document cannot list a route the server does not serve.
//!
//! Path parameters (`{project}`, `{item}`, `{version}`) fill the message's field of the
//! same name, over anything the body says. `GET` routes take their message as query
//! parameters; `POST` routes as a JSON body (an empty body is the empty message).

use std::collections::HashMap;

use axum::body::Bytes;
use axum::extract::{Path, RawQuery, State};
use axum::http::{HeaderMap, Method, StatusCode};
use axum::response::{IntoResponse, Response};
use axum::routing::{on, MethodFilter, MethodRouter};
use axum::Router;
use serde::de::DeserializeOwned;
use tonic::Status;

use super::client::Client;
use super::error::status_response;
use super::{request, Http};
use crate::auth::{self, Admit, Caller};
use crate::pb;
use crate::status::invalid_argument;
use crate::Api;

/// One route of the API: an RPC at a path.
#[derive(Clone, Copy)]
pub(crate) struct Route {
    /// `GET` (message from the query) or `POST` (message as the JSON body).
    pub(crate) method: &'static str,
    /// The path, with `{name}` parameters.
    pub(crate) path: &'static str,
    /// The RPC, `Service.Method`: the OpenAPI operation id.
    pub(crate) rpc: &'static str,
    /// The request message (the proto's name); path parameters are its fields.
    pub(crate) request: &'static str,
    /// The response message.
    pub(crate) response: &'static str,
    /// Who may call it (the gRPC service's interceptor admits the same roles).
    pub(crate) admit: Admit,
    /// The roles, for the document.
    pub(crate) roles: &'static str,
    /// One line for the document.
    pub(crate) summary: &'static str,
}

const W: &str = "window, agent (their projects only), supervisor, admin";
const D: &str = "a department (its own tasks only)";
const S: &str = "supervisor, admin";
const A: &str = "any authenticated caller";
const AD: &str = "admin";
const AN: &str = "analyst, supervisor, admin";
const CB: &str = "a department (its own callbacks), admin (any department's)";

/// The route table and the dispatch to each route's handler, from one declaration: a row
/// names its method, path, RPC, the handler that serves the RPC over gRPC, its messages,
/// who may call it and what it does.
macro_rules! routes {
    ($($method:literal $path:literal => $rpc:literal $service:ident :: $handler:ident ($req:literal) -> $resp:literal, $admit:path, $roles:ident: $summary:literal;)*) => {
        /// The routes that are not verbs (reads, submission, the administrators' calls).
        const FIXED: &[Route] = &[$(Route {
            method: $method,
            path: $path,
            rpc: $rpc,
            request: $req,
            response: $resp,
            admit: $admit,
            roles: $roles,
            summary: $summary,
        }),*];

        /// Runs the RPC named `rpc` (the gRPC handler itself, so the same checks, refusals
        /// and messages) and encodes its answer as JSON.
        async fn dispatch(rpc: &str, api: &Api, caller: Caller, input: Input) -> Result<Vec<u8>, Status> {
            use pb::callbacks_server::Callbacks;
            use pb::department_server::Department;
            use pb::supervision_server::Supervision;
            use pb::window_server::Window;
            use pb::workflows_server::Workflows;
            match rpc {
                $($rpc => {
                    let answer = $service::$handler(api, request(&caller, input.message()?)).await?;
                    let answer = answer.into_inner();
                    crate::codec::check_answer(&answer)?;
                    // Encoded once, straight to the body's bytes.
                    serde_json::to_vec(&answer)
                        .map_err(|e| Status::internal(format!("encoding an answer: {e}")))
                })*
                verb => {
                    let answer = crate::verbs::run(api, &caller, verb, input.value()?)
                        .await
                        .unwrap_or_else(|| Err(Status::internal(format!("no handler for {verb}"))))?;
                    serde_json::to_vec(&answer)
                        .map_err(|e| Status::internal(format!("encoding an answer: {e}")))
                }
            }
        }
    };
}

routes! {
    "POST" "/api/v1/pre-review" => "Window.PreReview" Window::pre_review ("PreReviewRequest") -> "Notice", auth::WINDOW, W:
        "Pre-review a form and materials: the one-time notice (一次性告知), nothing stored";
    "POST" "/api/v1/projects" => "Window.Submit" Window::submit ("SubmitRequest") -> "CommandResponse", auth::WINDOW, W:
        "Submit one form and one set of materials: the project is created (受理)";
    "GET" "/api/v1/projects" => "Window.ListProjects" Window::list_projects ("ListProjectsRequest") -> "ListProjectsResponse", auth::WINDOW, W:
        "Projects, a page at a time, by stage and status";
    "GET" "/api/v1/projects/{project}" => "Window.GetProject" Window::get_project ("GetProjectRequest") -> "Project", auth::WINDOW, W:
        "A project with its tasks";
    "GET" "/api/v1/tasks" => "Department.ListTasks" Department::list_tasks ("ListTasksRequest") -> "ListTasksResponse", auth::DEPARTMENT, D:
        "The caller's department's tasks, a page at a time";
    "GET" "/api/v1/supervision/overdue" => "Supervision.Overdue" Supervision::overdue ("SupervisionRequest") -> "ListTasksResponse", auth::SUPERVISOR, S:
        "Open tasks past their due date";
    "GET" "/api/v1/supervision/warnings" => "Supervision.Warnings" Supervision::warnings ("SupervisionRequest") -> "ListTasksResponse", auth::SUPERVISOR, S:
        "Open tasks near their due date (warned)";
    "GET" "/api/v1/supervision/cards" => "Supervision.Cards" Supervision::cards ("SupervisionRequest") -> "ListTasksResponse", auth::SUPERVISOR, S:
        "Open tasks with a yellow card (督办) or a red card (整改)";
    "GET" "/api/v1/supervision/assessment" => "Supervision.Assess" Supervision::assess ("AssessRequest") -> "AssessResponse", auth::SUPERVISOR, S:
        "The per-department assessment (考核) of a period";
    "GET" "/api/v1/supervision/audit" => "Supervision.VerifyAudit" Supervision::verify_audit ("VerifyAuditRequest") -> "VerifyAuditResponse", auth::SUPERVISOR, S:
        "The audit trail verified: every hash chain and signed checkpoint, the first broken link of each project";
    "GET" "/api/v1/projects/{project}/timeline" => "Supervision.Timeline" Supervision::timeline ("GetProjectRequest") -> "TimelineResponse", auth::SUPERVISOR, S:
        "A project's events, in order";
    "GET" "/api/v1/workflows" => "Workflows.List" Workflows::list ("ListWorkflowsRequest") -> "ListWorkflowsResponse", auth::ANY, A:
        "Deployed workflow versions";
    "POST" "/api/v1/workflows" => "Workflows.Deploy" Workflows::deploy ("DeployRequest") -> "Workflow", auth::ADMIN, AD:
        "Deploy a workflow's YAML (administrators)";
    "POST" "/api/v1/workflows/compare" => "Workflows.Compare" Workflows::compare ("CompareRequest") -> "CompareResponse", auth::ANALYST, AN:
        "Compare deployed versions (the analyst's comparison)";
    "GET" "/api/v1/workflows/{version}" => "Workflows.Get" Workflows::get ("GetWorkflowRequest") -> "Workflow", auth::ANY, A:
        "One deployed version, with its YAML";
    "GET" "/api/v1/workflows/{version}/plan" => "Workflows.Plan" Workflows::plan ("PlanRequest") -> "PlanResponse", auth::ANALYST, AN:
        "A version's schedule: the critical path and dates";
    "POST" "/api/v1/workflows/{version}/check-site" => "Workflows.CheckSite" Workflows::check_site ("CheckSiteRequest") -> "CheckSiteResponse", auth::ANY, A:
        "Check a site against the workflow's blueprint (一张蓝图)";
    "POST" "/api/v1/calendars" => "Workflows.DeployCalendar" Workflows::deploy_calendar ("DeployCalendarRequest") -> "DeployCalendarResponse", auth::ADMIN, AD:
        "Deploy a new edition of a working-day calendar; running tasks' due dates are derived again (administrators)";
    "POST" "/api/v1/workflows/{version}/migration-preview" => "Workflows.PreviewMigration" Workflows::preview_migration ("PreviewMigrationRequest") -> "PreviewMigrationResponse", auth::ADMIN, AD:
        "What moving running projects to this version would change, project by project (administrators)";
    "POST" "/api/v1/projects/{project}/migrate" => "Workflows.Migrate" Workflows::migrate ("MigrateRequest") -> "CommandResponse", auth::ADMIN, AD:
        "Move one project to another version of its workflow (administrators)";
    "POST" "/api/v1/callbacks" => "Callbacks.Register" Callbacks::register ("RegisterCallbackRequest") -> "Callback", crate::callbacks::ADMIT, CB:
        "Register a callback URL for a department: its events are POSTed there, signed (the answer shows the secret once)";
    "GET" "/api/v1/callbacks" => "Callbacks.List" Callbacks::list ("ListCallbacksRequest") -> "ListCallbacksResponse", crate::callbacks::ADMIT, CB:
        "A department's callbacks, with how their delivery goes";
    "DELETE" "/api/v1/callbacks/{id}" => "Callbacks.Remove" Callbacks::remove ("CallbackId") -> "RemoveCallbackResponse", crate::callbacks::ADMIT, CB:
        "Remove a callback: nothing more is sent to it";
    "GET" "/api/v1/callbacks/{id}/dead-letters" => "Callbacks.DeadLetters" Callbacks::dead_letters ("CallbackId") -> "DeadLettersResponse", crate::callbacks::ADMIT, CB:
        "What a callback could not deliver after every attempt";
    "POST" "/api/v1/callbacks/{id}/redeliver" => "Callbacks.Redeliver" Callbacks::redeliver ("RedeliverRequest") -> "RedeliverResponse", crate::callbacks::ADMIT, CB:
        "Deliver dead letters again (all, or those named)";
}

/// Every route of the JSON/HTTP API: the fixed table above, then one per verb of
/// [`crate::verbs`] (a POST of the verb's message to its path).
pub(crate) fn routes() -> &'static [Route] {
    static ROUTES: std::sync::LazyLock<Vec<Route>> = std::sync::LazyLock::new(|| {
        FIXED
            .iter()
            .copied()
            .chain(crate::verbs::all().map(|v| Route {
                method: "POST",
                path: v.path,
                rpc: v.rpc,
                request: v.request,
                response: "CommandResponse",
                admit: v.admit,
                roles: v.roles,
                summary: v.summary,
            }))
            .collect()
    });
    &ROUTES
}

/// The API's router: one handler per route of [`routes`], each path's methods together.
pub(super) fn router() -> Router<Http> {
    let mut by_path: Vec<(&'static str, MethodRouter<Http>)> = Vec::new();
    for route in routes() {
        let filter = match route.method {
            "GET" => MethodFilter::GET,
            "DELETE" => MethodFilter::DELETE,
            _ => MethodFilter::POST,
        };
        let handler = on(
            filter,
            move |state: State<Http>,
                  client: Client,
                  params: Path<HashMap<String, String>>,
                  query: RawQuery,
                  headers: HeaderMap,
                  body: Bytes| call(route, state, client, params, query, headers, body),
        );
        match by_path.iter_mut().find(|(p, _)| *p == route.path) {
            Some((_, methods)) => *methods = std::mem::take(methods).merge(handler),
            None => by_path.push((route.path, handler)),
        }
    }
    let mut router = Router::new();
    for (path, methods) in by_path {
        router = router.route(path, methods);
    }
    router
}

/// One call: the caller from its bearer token, admitted by the route's roles, the message
/// decoded with the path's parameters set, the RPC's handler, the answer as JSON.
async fn call(
    route: &'static Route,
    State(http): State<Http>,
    client: Client,
    Path(params): Path<HashMap<String, String>>,
    RawQuery(query): RawQuery,
    headers: HeaderMap,
    body: Bytes,
) -> Response {
    let caller = match http.bearer(&headers, client) {
        Ok(c) => c,
        Err(status) => return status_response(&status),
    };
    if !(route.admit)(&caller.role) {
        return status_response(&Status::permission_denied(format!(
            "{} may not call {}",
            caller.role.id(),
            route.rpc
        )));
    }
    let input = Input {
        get: route.method == Method::GET.as_str(),
        query: query.unwrap_or_default(),
        body,
        params,
    };
    match dispatch(route.rpc, &http.api, caller, input).await {
        Ok(json) => (
            StatusCode::OK,
            [(
                axum::http::header::CONTENT_TYPE,
                axum::http::HeaderValue::from_static("application/json"),
            )],
            json,
        )
            .into_response(),
        Err(status) => status_response(&status),
    }
}

/// What a call carries besides its caller.
struct Input {
    get: bool,
    query: String,
    body: Bytes,
    params: HashMap<String, String>,
}

impl Input {
    /// The request message: from the JSON body (`POST`) or the query (`GET`), with each
    /// path parameter set in its field over anything they say. Undecodable input is
    /// INVALID_ARGUMENT naming where.
    fn message<T: DeserializeOwned + serde::Serialize>(&self) -> Result<T, Status> {
        if self.get {
            if self.params.is_empty() {
                return from_query(&self.query);
            }
            // A few small reads have both (a plan's version and its limits): the query's
            // message, then the path over it, through JSON.
            let value = serde_json::to_value(from_query::<T>(&self.query)?)
                .map_err(|e| Status::internal(format!("re-encoding a request: {e}")))?;
            return crate::verbs::decode(self.with_params(value));
        }
        crate::verbs::decode(self.value()?)
    }

    /// A `POST`'s message as JSON: the body, with each path parameter set in its field.
    fn value(&self) -> Result<serde_json::Value, Status> {
        use serde_json::Value;
        let value = if self.body.iter().all(u8::is_ascii_whitespace) {
            Value::Object(serde_json::Map::new())
        } else {
            strict_json(&self.body).map_err(|e| {
                invalid_argument(format!("body: not the request's JSON ({})", short(&e)))
            })?
        };
        Ok(self.with_params(value))
    }

    /// `value` with each path parameter set in its field, over anything it says.
    fn with_params(&self, mut value: serde_json::Value) -> serde_json::Value {
        if let Some(fields) = value.as_object_mut() {
            for (k, v) in &self.params {
                fields.insert(k.clone(), serde_json::Value::String(v.clone()));
            }
        }
        value
    }
}

/// A JSON body as a value, refusing a key that appears twice in one object (at any
/// depth). serde_json keeps the last of two, so `{"project": "A", "project": "B"}` would
/// be read one way here and perhaps another way by a proxy, a log or a firewall that
/// looked at it first: an ambiguous request is refused, not guessed at.
fn strict_json(body: &[u8]) -> Result<serde_json::Value, serde_json::Error> {
    use serde::de::{DeserializeSeed, Error, MapAccess, SeqAccess, Visitor};
    use serde_json::{Map, Value};

    struct Strict;

    impl<'de> DeserializeSeed<'de> for Strict {
        type Value = Value;
        fn deserialize<D: serde::Deserializer<'de>>(self, d: D) -> Result<Value, D::Error> {
            d.deserialize_any(self)
        }
    }

    impl<'de> Visitor<'de> for Strict {
        type Value = Value;
        fn expecting(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
            f.write_str("JSON")
        }
        fn visit_bool<E>(self, v: bool) -> Result<Value, E> {
            Ok(Value::Bool(v))
        }
        fn visit_i64<E>(self, v: i64) -> Result<Value, E> {
            Ok(Value::from(v))
        }
        fn visit_u64<E>(self, v: u64) -> Result<Value, E> {
            Ok(Value::from(v))
        }
        fn visit_f64<E>(self, v: f64) -> Result<Value, E> {
            Ok(Value::from(v))
        }
        fn visit_str<E>(self, v: &str) -> Result<Value, E> {
            Ok(Value::String(v.to_string()))
        }
        fn visit_string<E>(self, v: String) -> Result<Value, E> {
            Ok(Value::String(v))
        }
        fn visit_unit<E>(self) -> Result<Value, E> {
            Ok(Value::Null)
        }
        fn visit_none<E>(self) -> Result<Value, E> {
            Ok(Value::Null)
        }
        fn visit_seq<A: SeqAccess<'de>>(self, mut seq: A) -> Result<Value, A::Error> {
            let mut out = Vec::new();
            while let Some(v) = seq.next_element_seed(Strict)? {
                out.push(v);
            }
            Ok(Value::Array(out))
        }
        fn visit_map<A: MapAccess<'de>>(self, mut map: A) -> Result<Value, A::Error> {
            let mut out = Map::new();
            while let Some(k) = map.next_key::<String>()? {
                if out.contains_key(&k) {
                    return Err(A::Error::custom(format!(
                        "the key `{}` appears twice in one object",
                        crate::status::truncate(&k, 40)
                    )));
                }
                let v = map.next_value_seed(Strict)?;
                out.insert(k, v);
            }
            Ok(Value::Object(out))
        }
    }

    let mut d = serde_json::Deserializer::from_slice(body);
    let v = Strict.deserialize(&mut d)?;
    d.end()?;
    Ok(v)
}

/// The query string as the message (`?page_size=10&state=ready`).
fn from_query<T: DeserializeOwned>(query: &str) -> Result<T, Status> {
    let uri: axum::http::Uri = format!("/?{query}")
        .parse()
        .map_err(|_| invalid_argument("query: not a query string"))?;
    axum::extract::Query::<T>::try_from_uri(&uri)
        .map(|q| q.0)
        .map_err(|e| invalid_argument(format!("query: {}", short(&e))))
}

/// An error's text cut short: decoders quote the input, which is never echoed whole.
fn short(e: &impl std::fmt::Display) -> String {
    crate::status::truncate(&e.to_string(), 200)
}

#[cfg(test)]
mod tests {
    use super::strict_json;

    #[test]
    fn json_with_a_key_twice_is_refused_at_any_depth() {
        assert!(strict_json(br#"{"a": 1, "b": {"c": [1, {"d": null}]}}"#).is_ok());
        for twice in [
            r#"{"project": "A", "project": "B"}"#,
            r#"{"form": {"x": {"text": "1"}, "x": {"text": "2"}}}"#,
            r#"{"materials": [{"material": "a", "material": "b"}]}"#,
        ] {
            let e = strict_json(twice.as_bytes()).unwrap_err();
            assert!(e.to_string().contains("appears twice"), "{twice}: {e}");
        }
        assert!(strict_json(b"{} trailing").is_err());
    }
}
