//! The gRPC server (tonic): the window, the departments and supervision talk to the
//! durable engine through `proto/onewindow/v1/onewindow.proto`.
//!
//! # Layout
//! - [`pb`]: the generated types; this module is the only one that knows protobuf, and it
//!   converts at the edge.
//! - [`auth`]: bearer tokens → [`Caller`], checked in one place: each service is wrapped
//!   in an interceptor that admits only its roles; the engine's actor check then keeps a
//!   department to its own tasks.
//! - [`Api`]: the handlers. A mutating RPC runs [`Service::execute_async`]: decided and
//!   written at once, answered after the shared flush.
//! - [`serve`]: listening, health and reflection, the supervision ticker, graceful
//!   shutdown.

pub mod auth;
pub mod pb;

use std::collections::{BTreeMap, HashMap};
use std::net::SocketAddr;
use std::sync::Arc;

use chrono::{NaiveDate, NaiveDateTime};
use tonic::{Request, Response, Status};

use crate::engine::{self, Actor, Command, MaterialRef, Refusal, Submission, TaskState};
use crate::form::{FieldType, Value};
use crate::plan::Plan;
use crate::store::disk::SledStore;
use crate::store::service::Service;
use crate::store::ReadStore;
use auth::{Caller, Role, Tokens};

/// Where "now" comes from: the real clock, or a controllable one in tests.
pub type Clock = Arc<dyn Fn() -> NaiveDateTime + Send + Sync>;

/// The handlers, shared by every service.
#[derive(Clone)]
pub struct Api {
    svc: Arc<Service<SledStore>>,
    clock: Clock,
    /// Every durable event, for watchers and department streams. Published after the
    /// command is durable; a watcher that falls behind re-reads the store.
    events: tokio::sync::broadcast::Sender<pb::Event>,
    /// Tasks becoming ready, one channel per department with a stream open: each stream
    /// wakes only for its own department's tasks, not for every event of every project.
    ready: Arc<std::sync::Mutex<HashMap<String, tokio::sync::broadcast::Sender<pb::Task>>>>,
    /// Where deployed YAML is compiled as if it stood (for `extends` and `calendar`).
    workflows_dir: std::path::PathBuf,
}

/// A mutating request: every one carries a request id, a project and an optional time.
trait Addressed {
    /// Takes the request id, the project and `at` out of the message.
    fn address(&mut self) -> (String, String, String);
}

macro_rules! addressed {
    ($($t:ty),* $(,)?) => {$(
        impl Addressed for $t {
            fn address(&mut self) -> (String, String, String) {
                (
                    std::mem::take(&mut self.request_id),
                    std::mem::take(&mut self.project),
                    std::mem::take(&mut self.at),
                )
            }
        }
    )*};
}

addressed!(
    pb::SubmitRequest,
    pb::MaterialsForItem,
    pb::ProvideMaterialsRequest,
    pb::ItemCommand,
    pb::WithdrawRequest,
    pb::ApproveRequest,
    pb::ReasonForItem,
    pb::SupplementRequest,
);

/// When this process started (nanoseconds since the epoch): makes the request ids the
/// server makes up itself unique across restarts.
static BOOT: std::sync::LazyLock<u128> = std::sync::LazyLock::new(|| {
    std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map_or(0, |d| d.as_nanos())
});

type EventStream =
    std::pin::Pin<Box<dyn tokio_stream::Stream<Item = Result<pb::Event, Status>> + Send>>;
type TaskStream =
    std::pin::Pin<Box<dyn tokio_stream::Stream<Item = Result<pb::Task, Status>> + Send>>;

impl Api {
    /// Handlers over a durable service.
    pub fn new(svc: Arc<Service<SledStore>>, clock: Clock) -> Api {
        let (events, _) = tokio::sync::broadcast::channel(65536);
        Api {
            svc,
            clock,
            events,
            ready: Arc::default(),
            workflows_dir: std::path::PathBuf::from("workflows"),
        }
    }

    /// Compiles deployed YAML as if it stood in `dir`.
    pub fn with_workflows_dir(mut self, dir: std::path::PathBuf) -> Api {
        self.workflows_dir = dir;
        self
    }

    fn now(&self, at: &str) -> Result<NaiveDateTime, Status> {
        if at.is_empty() {
            return Ok((self.clock)());
        }
        at.parse::<NaiveDateTime>()
            .map_err(|_| invalid_argument(format!("at: `{at}` is not YYYY-MM-DDTHH:MM:SS")))
    }

    /// A mutating RPC: the caller's actor, the request's address, and the command the
    /// rest of the message makes (or why it makes none), run through [`Api::run`].
    async fn act<T: Addressed>(
        &self,
        req: Request<T>,
        command: impl FnOnce(T) -> Result<Command, Status>,
    ) -> Result<Response<pb::CommandResponse>, Status> {
        let actor = caller(&req)?.actor();
        let mut r = req.into_inner();
        let (request_id, project, at) = r.address();
        let command = command(r)?;
        self.run(&request_id, &project, &actor, command, &at).await
    }

    async fn run(
        &self,
        request_id: &str,
        project: &str,
        actor: &Actor,
        command: Command,
        at: &str,
    ) -> Result<Response<pb::CommandResponse>, Status> {
        if request_id.is_empty() {
            return Err(invalid_argument("request_id: required"));
        }
        if project.is_empty() {
            return Err(invalid_argument("project: required"));
        }
        let now = self.now(at)?;
        match self
            .svc
            .execute_async(request_id, project, actor, command, now)
            .await
        {
            Err(e) => Err(Status::unavailable(format!("store: {e}"))),
            Ok(Err(refusal)) => Err(refusal_status(&refusal)),
            Ok(Ok(receipt)) => {
                tracing::debug!(
                    request_id,
                    project,
                    events = receipt.events.len(),
                    replayed = receipt.replayed,
                    "applied"
                );
                // Each event is converted once, for the answer and for the watchers.
                let events: Vec<pb::Event> = receipt.events.iter().map(event_pb).collect();
                if !receipt.replayed {
                    self.publish(&receipt.events, &events);
                }
                Ok(Response::new(pb::CommandResponse {
                    project: receipt.project,
                    events,
                    replayed: receipt.replayed,
                }))
            }
        }
    }
}

fn notice_pb(n: engine::notice::Notice) -> pb::Notice {
    pb::Notice {
        complete: n.complete,
        form: n
            .form
            .into_iter()
            .map(|f| pb::FieldProblem {
                field: f.field,
                problem: f.problem,
            })
            .collect(),
        items: n
            .items
            .into_iter()
            .map(|i| pb::ItemNotice {
                item: i.item,
                name: i.name,
                department: i.department,
                missing_materials: i.missing_materials,
                missing_fields: i.missing_fields,
            })
            .collect(),
        unknown_materials: n.unknown_materials,
    }
}

/// The type URL of the one-time notice sent as an error detail.
pub const NOTICE_TYPE_URL: &str = "type.googleapis.com/onewindow.v1.Notice";

/// FAILED_PRECONDITION for an incomplete submission. The one-time notice travels typed in
/// the status details, twice: as the API's own `onewindow.v1.Notice` (everything, for
/// clients built from the .proto), and as a standard `google.rpc.PreconditionFailure`
/// with one violation per missing thing (for generic tools). The message says it in
/// words.
fn incomplete_status(code: &str, reason: String, n: &engine::notice::Notice) -> Status {
    use prost::Message;
    let mut violations = Vec::new();
    let mut words = Vec::new();
    for f in &n.form {
        violations.push(tonic_types::pb::precondition_failure::Violation {
            r#type: "form".into(),
            subject: f.field.clone(),
            description: f.problem.clone(),
        });
        words.push(format!("form field {}: {}", f.field, f.problem));
    }
    for i in &n.items {
        for m in &i.missing_materials {
            violations.push(tonic_types::pb::precondition_failure::Violation {
                r#type: "missing_material".into(),
                subject: format!("{}/{m}", i.item),
                description: format!("{} ({}) requires material {m}", i.item, i.department),
            });
        }
        for f in &i.missing_fields {
            violations.push(tonic_types::pb::precondition_failure::Violation {
                r#type: "missing_field".into(),
                subject: format!("{}/{f}", i.item),
                description: format!("{} ({}) requires form field {f}", i.item, i.department),
            });
        }
        let mut missing: Vec<&str> = i.missing_materials.iter().map(String::as_str).collect();
        missing.extend(i.missing_fields.iter().map(String::as_str));
        words.push(format!("{} needs {}", i.item, missing.join(", ")));
    }
    let message = format!("{code}: {reason}: {}", words.join("; "));
    let status = tonic_types::pb::Status {
        code: tonic::Code::FailedPrecondition as i32,
        message: message.clone(),
        details: vec![
            prost_types::Any {
                type_url: NOTICE_TYPE_URL.into(),
                value: notice_pb(n.clone()).encode_to_vec(),
            },
            prost_types::Any {
                type_url: "type.googleapis.com/google.rpc.PreconditionFailure".into(),
                value: tonic_types::pb::PreconditionFailure { violations }.encode_to_vec(),
            },
        ],
    };
    Status::with_details(
        tonic::Code::FailedPrecondition,
        message,
        status.encode_to_vec().into(),
    )
}

/// INVALID_ARGUMENT for a message of the form `field: what is wrong`, with the field path
/// also as a structured `google.rpc.BadRequest` violation, so clients need not parse text.
fn invalid_argument(message: impl Into<String>) -> Status {
    use tonic_types::{ErrorDetails, StatusExt};
    let message = message.into();
    let (field, description) = message.split_once(": ").unwrap_or(("", message.as_str()));
    let details = ErrorDetails::with_bad_request_violation(field, description);
    Status::with_error_details(tonic::Code::InvalidArgument, message.clone(), details)
}

/// The gRPC status for an engine refusal: the code says what kind of problem, the message
/// is the engine's reason, prefixed with its stable code.
pub fn refusal_status(r: &Refusal) -> Status {
    let message = format!("{}: {r}", r.code());
    match r {
        Refusal::Incomplete(notice) => incomplete_status(r.code(), r.to_string(), notice),
        Refusal::UnknownProject(_) | Refusal::UnknownItem(_) | Refusal::UnknownVersion(_) => {
            Status::not_found(message)
        }
        Refusal::ProjectExists(_) => Status::already_exists(message),
        Refusal::NotAllowed { .. } | Refusal::NotYourTask { .. } => {
            Status::permission_denied(message)
        }
        Refusal::ReasonRequired => invalid_argument(format!("reason: {message}")),
        Refusal::UnknownReference { kind, .. } => invalid_argument(format!("{kind}: {message}")),
        Refusal::NotApplicable(_)
        | Refusal::IllegalTransition { .. }
        | Refusal::AlreadyExtended(_)
        | Refusal::NoExtension(_)
        | Refusal::Closed(_) => {
            // The engine's reason also as a google.rpc.PreconditionFailure: type = the
            // refusal's stable code, subject = the item concerned.
            use tonic_types::{ErrorDetails, StatusExt};
            let subject = match r {
                Refusal::NotApplicable(i)
                | Refusal::AlreadyExtended(i)
                | Refusal::NoExtension(i) => i.clone(),
                Refusal::IllegalTransition { item, .. } => item.clone(),
                _ => String::new(),
            };
            let details =
                ErrorDetails::with_precondition_failure_violation(r.code(), subject, r.to_string());
            Status::with_error_details(tonic::Code::FailedPrecondition, message, details)
        }
    }
}

fn actor_text(a: &Actor) -> String {
    match a {
        Actor::Window => "window".into(),
        Actor::Department(d) => format!("department:{d}"),
        Actor::Supervisor => "supervisor".into(),
        Actor::System => "system".into(),
    }
}

fn event_pb(e: &engine::Envelope) -> pb::Event {
    pb::Event {
        seq: e.seq,
        at: e.at.to_string(),
        actor: actor_text(&e.actor),
        r#type: e.event.kind().to_string(),
        item: e.event.item().unwrap_or_default().to_string(),
        summary: e.event.summary(),
        json: serde_json::to_string(e).unwrap_or_default(),
        project: e.project.clone(),
    }
}

fn materials(refs: Vec<pb::MaterialRef>) -> Vec<MaterialRef> {
    refs.into_iter()
        .map(|m| MaterialRef {
            material: m.material,
            name: m.name,
            sha256: m.sha256,
            size: m.size,
            location: m.location,
        })
        .collect()
}

fn form_values(
    plan: &Plan,
    form: BTreeMap<String, pb::FieldValue>,
) -> Result<BTreeMap<String, Value>, Status> {
    let mut out = BTreeMap::new();
    for (k, v) in form {
        let bad = |m: &str| invalid_argument(format!("form.{k}: {m}"));
        let value = match v.value {
            None => return Err(bad("no value")),
            Some(pb::field_value::Value::Text(s)) => Value::String(s),
            Some(pb::field_value::Value::Number(n)) => Value::Number(n),
            Some(pb::field_value::Value::Flag(b)) => Value::Bool(b),
            Some(pb::field_value::Value::Date(d)) => Value::Date(
                d.parse::<NaiveDate>()
                    .map_err(|_| bad("not a date (YYYY-MM-DD)"))?,
            ),
        };
        // A date field may also be sent as text.
        let value = match (plan.fields.iter().find(|f| f.id == k).map(|f| &f.ty), value) {
            (Some(FieldType::Date), Value::String(s)) => Value::Date(
                s.parse::<NaiveDate>()
                    .map_err(|_| bad("not a date (YYYY-MM-DD)"))?,
            ),
            (_, v) => v,
        };
        out.insert(k, value);
    }
    Ok(out)
}

fn caller<T>(req: &Request<T>) -> Result<Caller, Status> {
    req.extensions()
        .get::<Caller>()
        .cloned()
        .ok_or_else(|| Status::unauthenticated("no credentials"))
}

fn task_pb(project: &str, plan: &Plan, i: usize, t: &engine::Task) -> pb::Task {
    pb::Task {
        project: project.to_string(),
        item: plan.items[i].id.clone(),
        department: plan.department_of(i).to_string(),
        state: t.state.as_str().to_string(),
        due: t.due.map(|d| d.to_string()).unwrap_or_default(),
        warned: t.warned,
        overdue: t.overdue,
    }
}

impl Api {
    fn plan(&self, version: &str) -> Result<Arc<Plan>, Status> {
        self.svc
            .plan(version)
            .ok_or_else(|| Status::not_found(format!("version `{version}` is not deployed")))
    }

    /// Tasks of every project matching `keep`.
    fn tasks(&self, keep: impl Fn(&str, &engine::Task) -> bool) -> Vec<pb::Task> {
        let mut out = Vec::new();
        for id in self.svc.project_ids() {
            let Some(p) = self.svc.project(&id) else {
                continue;
            };
            let Some(plan) = self.svc.plan(&p.version) else {
                continue;
            };
            for (i, t) in p.tasks.iter().enumerate() {
                let dept = plan.items[i]
                    .department
                    .map_or("window", |d| plan.departments[d].id.as_str());
                if keep(dept, t) {
                    out.push(task_pb(&id, &plan, i, t));
                }
            }
        }
        out
    }
}

fn limits_arg(s: &str) -> Result<Option<crate::spec::LimitKind>, Status> {
    match s {
        "" => Ok(None),
        "statutory" => Ok(Some(crate::spec::LimitKind::Statutory)),
        "committed" => Ok(Some(crate::spec::LimitKind::Committed)),
        other => Err(invalid_argument(format!(
            "limits: `{other}` (statutory or committed)"
        ))),
    }
}

fn date_arg(field: &str, s: &str) -> Result<Option<NaiveDate>, Status> {
    if s.is_empty() {
        return Ok(None);
    }
    s.parse::<NaiveDate>()
        .map(Some)
        .map_err(|_| invalid_argument(format!("{field}: not YYYY-MM-DD")))
}

fn workflow_pb(p: &Plan) -> pb::Workflow {
    pb::Workflow {
        version: p.version.clone(),
        id: p.id.clone(),
        name: p.name.clone(),
        items: p.items.len() as u32,
        limits: p.default_limits.name().to_string(),
        yaml: String::new(),
    }
}

#[tonic::async_trait]
impl pb::workflows_server::Workflows for Api {
    async fn deploy(
        &self,
        req: Request<pb::DeployRequest>,
    ) -> Result<Response<pb::Workflow>, Status> {
        if !auth::ADMIN(&caller(&req)?.role) {
            return Err(Status::permission_denied(
                "only an administrator deploys workflows",
            ));
        }
        let r = req.into_inner();
        let name = std::path::Path::new(&r.file_name);
        if r.file_name.is_empty()
            || name.components().count() != 1
            || name.extension().is_none_or(|x| x != "yaml")
        {
            return Err(invalid_argument("file_name: a plain `name.yaml`"));
        }
        let path = self.workflows_dir.join(name);
        let compiled = crate::spec::load_str(&path, &r.yaml).and_then(|l| crate::plan::compile(&l));
        let plan = match compiled {
            Ok((plan, _)) => plan,
            Err(diags) => {
                return Err(invalid_argument(format!(
                    "yaml: {} error(s): {}",
                    diags.errors().count(),
                    serde_json::to_string(&diags).unwrap_or_default()
                )))
            }
        };
        let out = workflow_pb(&plan);
        let svc = self.svc.clone();
        tokio::task::spawn_blocking(move || svc.deploy(plan))
            .await
            .map_err(|e| Status::internal(e.to_string()))?
            .map_err(|e| Status::unavailable(e.to_string()))?;
        tracing::info!(workflow = %out.id, version = %out.version, "deployed");
        Ok(Response::new(out))
    }

    async fn get(
        &self,
        req: Request<pb::GetWorkflowRequest>,
    ) -> Result<Response<pb::Workflow>, Status> {
        let version = req.into_inner().version;
        let plan = self.plan(&version)?;
        let mut w = workflow_pb(&plan);
        w.yaml = crate::store::service::stored_workflow(&plan)
            .map(|s| s.yaml)
            .unwrap_or_default();
        Ok(Response::new(w))
    }

    async fn compare(
        &self,
        req: Request<pb::CompareRequest>,
    ) -> Result<Response<pb::CompareResponse>, Status> {
        let r = req.into_inner();
        if r.versions.len() < 2 {
            return Err(invalid_argument("versions: at least two"));
        }
        let limits = limits_arg(&r.limits)?;
        let start = date_arg("start_date", &r.start_date)?;
        let mut rows = Vec::new();
        for v in &r.versions {
            let plan = self.plan(v)?;
            let s = plan.schedule(&crate::plan::Options {
                limits: limits.unwrap_or(plan.default_limits),
                form: None,
                start,
            });
            rows.push((Plan::clone(&plan), s));
        }
        Ok(Response::new(pb::CompareResponse {
            json: crate::report::compare_json(&rows).to_string(),
        }))
    }

    async fn list(
        &self,
        _req: Request<pb::ListWorkflowsRequest>,
    ) -> Result<Response<pb::ListWorkflowsResponse>, Status> {
        let mut workflows: Vec<pb::Workflow> = self
            .svc
            .versions()
            .into_iter()
            .filter_map(|v| self.svc.plan(&v))
            .map(|p| workflow_pb(&p))
            .collect();
        workflows.sort_by(|a, b| (&a.id, &a.version).cmp(&(&b.id, &b.version)));
        Ok(Response::new(pb::ListWorkflowsResponse { workflows }))
    }

    async fn plan(
        &self,
        req: Request<pb::PlanRequest>,
    ) -> Result<Response<pb::PlanResponse>, Status> {
        let r = req.into_inner();
        let plan = self.plan(&r.version)?;
        let limits = limits_arg(&r.limits)?.unwrap_or(plan.default_limits);
        let start = date_arg("start_date", &r.start_date)?;
        let s = plan.schedule(&crate::plan::Options {
            limits,
            form: None,
            start,
        });
        Ok(Response::new(pb::PlanResponse {
            json: crate::report::plan_json(&plan, &s).to_string(),
            total_working_days: s.total,
            critical_path: s
                .critical_path
                .iter()
                .map(|&i| plan.items[i].id.clone())
                .collect(),
        }))
    }
}

#[tonic::async_trait]
impl pb::window_server::Window for Api {
    async fn pre_review(
        &self,
        req: Request<pb::PreReviewRequest>,
    ) -> Result<Response<pb::Notice>, Status> {
        let r = req.into_inner();
        let plan = self.plan(&r.version)?;
        let form = form_values(&plan, r.form.into_iter().collect())?;
        let n = engine::notice::pre_review(
            &plan,
            &form,
            &materials(r.materials),
            engine::notice::SUBMISSION_STAGES,
        );
        Ok(Response::new(notice_pb(n)))
    }

    async fn submit(
        &self,
        req: Request<pb::SubmitRequest>,
    ) -> Result<Response<pb::CommandResponse>, Status> {
        self.act(req, |r| {
            let plan = self.plan(&r.version)?;
            let submission = Submission {
                applicant: r.applicant,
                agent: (!r.agent.is_empty()).then_some(r.agent),
                form: form_values(&plan, r.form.into_iter().collect())?,
                materials: materials(r.materials),
            };
            Ok(Command::Submit {
                version: r.version,
                submission,
            })
        })
        .await
    }

    async fn provide_supplement(
        &self,
        req: Request<pb::MaterialsForItem>,
    ) -> Result<Response<pb::CommandResponse>, Status> {
        self.act(req, |r| {
            Ok(Command::ProvideSupplement {
                item: r.item,
                materials: materials(r.materials),
            })
        })
        .await
    }

    async fn provide_materials(
        &self,
        req: Request<pb::ProvideMaterialsRequest>,
    ) -> Result<Response<pb::CommandResponse>, Status> {
        self.act(req, |r| {
            Ok(Command::ProvideMaterials {
                materials: materials(r.materials),
            })
        })
        .await
    }

    async fn resubmit(
        &self,
        req: Request<pb::MaterialsForItem>,
    ) -> Result<Response<pb::CommandResponse>, Status> {
        self.act(req, |r| {
            Ok(Command::Resubmit {
                item: r.item,
                materials: materials(r.materials),
            })
        })
        .await
    }

    async fn report_milestone(
        &self,
        req: Request<pb::ItemCommand>,
    ) -> Result<Response<pb::CommandResponse>, Status> {
        self.act(req, |r| {
            Ok(Command::ReportMilestone {
                item: r.item,
                numbers: BTreeMap::new(),
            })
        })
        .await
    }

    async fn withdraw(
        &self,
        req: Request<pb::WithdrawRequest>,
    ) -> Result<Response<pb::CommandResponse>, Status> {
        self.act(req, |r| Ok(Command::Withdraw { reason: r.reason }))
            .await
    }

    async fn get_project(
        &self,
        req: Request<pb::GetProjectRequest>,
    ) -> Result<Response<pb::Project>, Status> {
        let r = req.into_inner();
        let p = self
            .svc
            .project(&r.project)
            .ok_or_else(|| Status::not_found(format!("project `{}`", r.project)))?;
        Ok(Response::new(self.project_pb(&p)?))
    }

    async fn list_projects(
        &self,
        req: Request<pb::ListProjectsRequest>,
    ) -> Result<Response<pb::ListProjectsResponse>, Status> {
        let r = req.into_inner();
        let size = if r.page_size == 0 {
            100
        } else {
            r.page_size.min(1000)
        } as usize;
        let mut projects: Vec<pb::Project> = Vec::new();
        let mut next = String::new();
        for id in self
            .svc
            .project_ids()
            .into_iter()
            .filter(|id| r.page_token.is_empty() || *id > r.page_token)
        {
            let Some(p) = self.svc.project(&id) else {
                continue;
            };
            let status = format!("{:?}", p.status).to_lowercase();
            let stage = p.stage.map(|s| s.id()).unwrap_or_default();
            if (!r.status.is_empty() && r.status != status)
                || (!r.stage.is_empty() && r.stage != stage)
            {
                continue;
            }
            if projects.len() == size {
                next = projects.last().map(|p| p.id.clone()).unwrap_or_default();
                break;
            }
            projects.push(self.project_pb(&p)?);
        }
        Ok(Response::new(pb::ListProjectsResponse {
            projects,
            next_page_token: next,
        }))
    }

    type WatchStream = EventStream;

    async fn watch(&self, req: Request<pb::WatchRequest>) -> Result<Response<EventStream>, Status> {
        let r = req.into_inner();
        let kinds = Kinds::new(r.types)?;
        // Subscribe before reading the store, so nothing falls between the two.
        let mut rx = self.events.subscribe();
        let one = (!r.project.is_empty()).then(|| r.project.clone());
        let live = one.is_none() && r.live;
        let mut cursors: HashMap<String, u64> = match &one {
            Some(p) => HashMap::from([(p.clone(), r.after)]),
            None => r.cursors.into_iter().collect(),
        };
        // Live: only the projects named resume from the store; the rest start where they
        // are now.
        let named: Vec<String> = cursors.keys().cloned().collect();
        if live {
            for p in self.svc.project_ids() {
                if let std::collections::hash_map::Entry::Vacant(v) = cursors.entry(p) {
                    if let Some(seq) = self.svc.with_project(v.key(), |x| x.seq) {
                        v.insert(seq);
                    }
                }
            }
        }
        let (tx, out) = tokio::sync::mpsc::channel(1024);
        let svc = self.svc.clone();
        tokio::spawn(async move {
            let all = |svc: &Service<SledStore>| match &one {
                Some(p) => vec![p.clone()],
                None => svc.project_ids(),
            };
            let resume: Vec<String> = if live { named } else { all(&svc) };
            for p in resume {
                let after = cursors.get(&p).copied().unwrap_or(0);
                let Some(last) = send_stored(&svc, &tx, &kinds, &p, after, None).await else {
                    return;
                };
                cursors.insert(p, last);
            }
            loop {
                let e = match rx.recv().await {
                    Ok(e) => e,
                    Err(tokio::sync::broadcast::error::RecvError::Lagged(_)) => {
                        // Fell behind the live feed: catch up from the store.
                        for p in all(&svc) {
                            let after = cursors.get(&p).copied().unwrap_or(0);
                            let Some(last) = send_stored(&svc, &tx, &kinds, &p, after, None).await
                            else {
                                return;
                            };
                            cursors.insert(p, last);
                        }
                        continue;
                    }
                    Err(_) => return,
                };
                if one.as_ref().is_some_and(|p| *p != e.project) {
                    continue;
                }
                let mut last = cursors.get(&e.project).copied().unwrap_or(0);
                if e.seq <= last {
                    continue;
                }
                if e.seq > last + 1 {
                    // The project's events were published out of order: fill the gap from
                    // the store.
                    match send_stored(&svc, &tx, &kinds, &e.project, last, Some(e.seq)).await {
                        Some(l) => last = l,
                        None => return,
                    }
                }
                if e.seq == last + 1 {
                    let (project, seq) = (e.project.clone(), e.seq);
                    if kinds.wants(&e.r#type) && tx.send(Ok(e)).await.is_err() {
                        return;
                    }
                    cursors.insert(project, seq);
                }
            }
        });
        Ok(Response::new(Box::pin(
            tokio_stream::wrappers::ReceiverStream::new(out),
        )))
    }
}

/// Every task of a department that is ready now, by project.
fn ready_tasks(svc: &Service<SledStore>, dept: &str) -> Vec<pb::Task> {
    let mut out = Vec::new();
    for id in svc.project_ids() {
        svc.with_project(&id, |p| {
            let Some(plan) = svc.plan(&p.version) else {
                return;
            };
            for (i, t) in p.tasks.iter().enumerate() {
                let d = plan.items[i]
                    .department
                    .map(|d| plan.departments[d].id.as_str());
                if d == Some(dept) && t.state == TaskState::Ready {
                    out.push(task_pb(&id, &plan, i, t));
                }
            }
        });
    }
    out
}

/// The event types a watcher asked for (none named: every type).
struct Kinds(Vec<String>);

impl Kinds {
    fn new(types: Vec<String>) -> Result<Kinds, Status> {
        for (i, t) in types.iter().enumerate() {
            if !engine::Event::KINDS.contains(&t.as_str()) {
                return Err(invalid_argument(format!(
                    "types[{i}]: `{t}` is not an event type (one of {})",
                    engine::Event::KINDS.join(", ")
                )));
            }
        }
        Ok(Kinds(types))
    }

    fn wants(&self, kind: &str) -> bool {
        self.0.is_empty() || self.0.iter().any(|k| k == kind)
    }
}

/// Sends a project's stored events after `after`, up to `until` (exclusive) when given,
/// those of the kinds wanted; returns the last sequence number passed (sent or not).
async fn send_stored(
    svc: &Service<SledStore>,
    tx: &tokio::sync::mpsc::Sender<Result<pb::Event, Status>>,
    kinds: &Kinds,
    project: &str,
    after: u64,
    until: Option<u64>,
) -> Option<u64> {
    let events = svc.store().events(project, after).ok()?;
    let mut last = after;
    for e in events.iter().filter(|e| until.is_none_or(|u| e.seq < u)) {
        if kinds.wants(e.event.kind()) {
            tx.send(Ok(event_pb(e))).await.ok()?;
        }
        last = e.seq;
    }
    Some(last)
}

impl Api {
    fn project_pb(&self, p: &engine::Project) -> Result<pb::Project, Status> {
        let plan = self.plan(&p.version)?;
        Ok(pb::Project {
            id: p.id.clone(),
            workflow: p.workflow.clone(),
            version: p.version.clone(),
            applicant: p.applicant.clone(),
            agent: p.agent.clone().unwrap_or_default(),
            status: format!("{:?}", p.status).to_lowercase(),
            stage: p.stage.map(|s| s.id().to_string()).unwrap_or_default(),
            tasks: p
                .tasks
                .iter()
                .enumerate()
                .map(|(i, t)| task_pb(&p.id, &plan, i, t))
                .collect(),
            seq: p.seq,
        })
    }
}

#[tonic::async_trait]
impl pb::department_server::Department for Api {
    type StreamReadyStream = TaskStream;

    async fn stream_ready(
        &self,
        req: Request<pb::StreamReadyRequest>,
    ) -> Result<Response<TaskStream>, Status> {
        let who = caller(&req)?;
        let actor = who.actor();
        let Role::Department(dept) = who.role else {
            return Err(Status::permission_denied("only a department has a queue"));
        };
        let claim = req.get_ref().claim;
        let mut rx = self.ready_channel(&dept);
        let (tx, out) = tokio::sync::mpsc::channel(256);
        let api = self.clone();
        tokio::spawn(async move {
            // Hands one task to the stream: as it is, or claimed first. Claims run
            // concurrently (each waits for its flush), so one slow flush does not hold
            // back the department's queue; their order of arrival may differ from the
            // order of readiness.
            let push = |t: pb::Task| {
                let (api, actor, tx) = (api.clone(), actor.clone(), tx.clone());
                async move {
                    if !claim {
                        return tx.send(Ok(t)).await.is_ok();
                    }
                    let open = !tx.is_closed();
                    tokio::spawn(async move {
                        if let Some(t) = api.claim_for_push(&actor, t).await {
                            let _ = tx.send(Ok(t)).await;
                        }
                    });
                    open
                }
            };
            for t in ready_tasks(&api.svc, &dept) {
                if !push(t).await {
                    return;
                }
            }
            loop {
                let task = match rx.recv().await {
                    Ok(t) => t,
                    Err(tokio::sync::broadcast::error::RecvError::Lagged(_)) => {
                        // Fell behind the live feed: push every task ready now again (a
                        // worker may see one twice; request ids make that harmless, and
                        // a claiming stream skips what it already claimed).
                        for t in ready_tasks(&api.svc, &dept) {
                            if !push(t).await {
                                return;
                            }
                        }
                        continue;
                    }
                    Err(_) => return,
                };
                if !push(task).await {
                    return;
                }
            }
        });
        Ok(Response::new(Box::pin(
            tokio_stream::wrappers::ReceiverStream::new(out),
        )))
    }

    async fn list_tasks(
        &self,
        req: Request<pb::ListTasksRequest>,
    ) -> Result<Response<pb::ListTasksResponse>, Status> {
        let who = caller(&req)?;
        let Role::Department(dept) = &who.role else {
            return Err(Status::permission_denied(
                "only a department lists its tasks",
            ));
        };
        let r = req.into_inner();
        let state = r.state;
        let tasks = self.tasks(|d, t| {
            let s = t.state.as_str();
            d == dept
                && if state.is_empty() {
                    matches!(
                        t.state,
                        TaskState::Ready | TaskState::Claimed | TaskState::Suspended
                    )
                } else {
                    s == state
                }
        });
        // Pages in (project, workflow order); the token is the last `project/item` sent.
        let size = if r.page_size == 0 {
            100
        } else {
            r.page_size.min(1000)
        } as usize;
        let start = match r.page_token.as_str() {
            "" => 0,
            t => tasks
                .iter()
                .position(|x| format!("{}/{}", x.project, x.item) == t)
                .map_or(tasks.len(), |p| p + 1),
        };
        let page: Vec<pb::Task> = tasks.into_iter().skip(start).take(size + 1).collect();
        let (page, next_page_token) = if page.len() > size {
            let page = page[..size].to_vec();
            let last = &page[size - 1];
            let token = format!("{}/{}", last.project, last.item);
            (page, token)
        } else {
            (page, String::new())
        };
        Ok(Response::new(pb::ListTasksResponse {
            tasks: page,
            next_page_token,
        }))
    }

    async fn claim(
        &self,
        req: Request<pb::ItemCommand>,
    ) -> Result<Response<pb::CommandResponse>, Status> {
        self.act(req, |r| Ok(Command::Claim { item: r.item })).await
    }

    async fn approve(
        &self,
        req: Request<pb::ApproveRequest>,
    ) -> Result<Response<pb::CommandResponse>, Status> {
        self.act(req, |r| {
            Ok(Command::Approve {
                item: r.item,
                numbers: r.numbers.into_iter().collect(),
            })
        })
        .await
    }

    async fn reject(
        &self,
        req: Request<pb::ReasonForItem>,
    ) -> Result<Response<pb::CommandResponse>, Status> {
        self.act(req, |r| {
            Ok(Command::Reject {
                item: r.item,
                reason: r.reason,
            })
        })
        .await
    }

    async fn request_supplement(
        &self,
        req: Request<pb::SupplementRequest>,
    ) -> Result<Response<pb::CommandResponse>, Status> {
        self.act(req, |r| {
            Ok(Command::RequestSupplement {
                item: r.item,
                needed: r.needed,
                note: r.note,
            })
        })
        .await
    }

    async fn extend(
        &self,
        req: Request<pb::ReasonForItem>,
    ) -> Result<Response<pb::CommandResponse>, Status> {
        self.act(req, |r| {
            Ok(Command::Extend {
                item: r.item,
                reason: r.reason,
            })
        })
        .await
    }

    async fn start_special(
        &self,
        req: Request<pb::ReasonForItem>,
    ) -> Result<Response<pb::CommandResponse>, Status> {
        self.act(req, |r| {
            Ok(Command::StartSpecial {
                item: r.item,
                kind: r.reason,
            })
        })
        .await
    }

    async fn end_special(
        &self,
        req: Request<pb::ItemCommand>,
    ) -> Result<Response<pb::CommandResponse>, Status> {
        self.act(req, |r| Ok(Command::EndSpecial { item: r.item }))
            .await
    }
}

#[tonic::async_trait]
impl pb::supervision_server::Supervision for Api {
    async fn overdue(
        &self,
        _req: Request<pb::SupervisionRequest>,
    ) -> Result<Response<pb::ListTasksResponse>, Status> {
        let tasks = self
            .tasks(|_, t| t.overdue && matches!(t.state, TaskState::Ready | TaskState::Claimed));
        Ok(Response::new(pb::ListTasksResponse {
            tasks,
            next_page_token: String::new(),
        }))
    }

    async fn warnings(
        &self,
        _req: Request<pb::SupervisionRequest>,
    ) -> Result<Response<pb::ListTasksResponse>, Status> {
        let tasks = self.tasks(|_, t| {
            t.warned && !t.overdue && matches!(t.state, TaskState::Ready | TaskState::Claimed)
        });
        Ok(Response::new(pb::ListTasksResponse {
            tasks,
            next_page_token: String::new(),
        }))
    }

    async fn assess(
        &self,
        req: Request<pb::AssessRequest>,
    ) -> Result<Response<pb::AssessResponse>, Status> {
        let r = req.into_inner();
        let from = date_arg("from", &r.from)?.ok_or_else(|| invalid_argument("from: required"))?;
        let to = date_arg("to", &r.to)?.ok_or_else(|| invalid_argument("to: required"))?;
        let svc = self.svc.clone();
        let rows = tokio::task::spawn_blocking(
            move || -> Result<Vec<crate::engine::supervision::Assessment>, crate::store::Error> {
                let mut events = Vec::new();
                for p in svc.store().projects()? {
                    events.extend(svc.store().events(&p, 0)?);
                }
                let plans: HashMap<String, Arc<Plan>> = svc
                    .versions()
                    .into_iter()
                    .filter_map(|v| Some((v.clone(), svc.plan(&v)?)))
                    .collect();
                let lookup = |v: &str| plans.get(v).map(|p| &**p);
                Ok(crate::engine::supervision::assess(
                    events.iter(),
                    &lookup,
                    from,
                    to,
                ))
            },
        )
        .await
        .map_err(|e| Status::internal(e.to_string()))?
        .map_err(|e| Status::unavailable(e.to_string()))?;
        let departments = rows
            .into_iter()
            .map(|a| pb::DepartmentAssessment {
                department: a.department,
                done: a.done as u32,
                mean_days: a.mean_days,
                p90_days: a.p90_days,
                on_time_rate: a.on_time_rate,
                overdue_now: a.overdue_now as u32,
            })
            .collect();
        Ok(Response::new(pb::AssessResponse { departments }))
    }

    async fn timeline(
        &self,
        req: Request<pb::GetProjectRequest>,
    ) -> Result<Response<pb::TimelineResponse>, Status> {
        let project = req.into_inner().project;
        let events = self
            .svc
            .store()
            .events(&project, 0)
            .map_err(|e| Status::unavailable(e.to_string()))?;
        if events.is_empty() {
            return Err(Status::not_found(format!("project `{project}`")));
        }
        Ok(Response::new(pb::TimelineResponse {
            events: events.iter().map(event_pb).collect(),
        }))
    }
}

impl Api {
    /// Publishes durable events: to every watcher, and each task that became ready to its
    /// department's stream (if one is open).
    ///
    /// Nothing is copied for a channel nobody listens to: a watcher or stream that opens
    /// later subscribes first and then reads the store or the projects, where these
    /// events already are.
    fn publish(&self, events: &[engine::Envelope], converted: &[pb::Event]) {
        let streams = self.ready.lock().is_ok_and(|r| !r.is_empty());
        let watchers = self.events.receiver_count() > 0;
        for (e, converted) in events.iter().zip(converted) {
            let ready = matches!(
                e.event,
                engine::Event::TaskReady { .. } | engine::Event::Resubmitted { .. }
            );
            if let (Some(item), true) = (e.event.item(), ready && streams) {
                // Read in place, once per task, whoever listens.
                let task = self.svc.with_project(&e.project, |p| {
                    let plan = self.svc.plan(&p.version)?;
                    let i = plan.item_index(item)?;
                    let d = plan.items[i].department?;
                    Some((
                        plan.departments[d].id.clone(),
                        task_pb(&p.id, &plan, i, &p.tasks[i]),
                    ))
                });
                if let (Some(Some((dept, task))), Ok(ready)) = (task, self.ready.lock()) {
                    if let Some(tx) = ready.get(&dept) {
                        let _ = tx.send(task);
                    }
                }
            }
            if watchers {
                let _ = self.events.send(converted.clone());
            }
        }
    }

    /// Claims a ready task for a claiming push stream; the task as claimed, or `None` if
    /// it is no longer there to claim (another stream or a clerk was first, or it was
    /// withdrawn). The request id is new for every attempt: a retry is a new attempt.
    async fn claim_for_push(&self, actor: &Actor, t: pb::Task) -> Option<pb::Task> {
        static ATTEMPTS: std::sync::atomic::AtomicU64 = std::sync::atomic::AtomicU64::new(0);
        let n = ATTEMPTS.fetch_add(1, std::sync::atomic::Ordering::Relaxed);
        let request = format!("push-claim/{}/{}/{}/{n}", t.project, t.item, *BOOT);
        let command = Command::Claim {
            item: t.item.clone(),
        };
        match self.run(&request, &t.project, actor, command, "").await {
            Ok(_) => Some(pb::Task {
                state: TaskState::Claimed.as_str().to_string(),
                ..t
            }),
            Err(status) => {
                if status.code() != tonic::Code::FailedPrecondition {
                    tracing::warn!(project = t.project, item = t.item, %status, "claim for a push stream");
                }
                None
            }
        }
    }

    /// The live channel of a department's ready tasks.
    fn ready_channel(&self, dept: &str) -> tokio::sync::broadcast::Receiver<pb::Task> {
        let mut ready = self
            .ready
            .lock()
            .unwrap_or_else(std::sync::PoisonError::into_inner);
        ready
            .entry(dept.to_string())
            .or_insert_with(|| tokio::sync::broadcast::channel(16384).0)
            .subscribe()
    }

    /// Runs supervision at the clock's time on every project with a deadline within 30
    /// days, and publishes the warnings and overdue flags to watchers.
    pub async fn tick(&self) {
        let svc = self.svc.clone();
        let now = (self.clock)();
        if let Ok(Ok(events)) = tokio::task::spawn_blocking(move || svc.tick(now, 30)).await {
            let converted: Vec<pb::Event> = events.iter().map(event_pb).collect();
            self.publish(&events, &converted);
        }
    }
}

/// Runs [`Api::tick`] every `every`, for as long as the runtime runs.
pub fn spawn_ticker(api: Api, every: std::time::Duration) {
    tokio::spawn(async move {
        // The first run comes one period after start, not at once: a restarted server
        // serves before it supervises.
        let mut interval = tokio::time::interval_at(tokio::time::Instant::now() + every, every);
        loop {
            interval.tick().await;
            api.tick().await;
        }
    });
}

/// A server certificate and its private key, PEM-encoded: with them the server speaks TLS
/// (rustls) instead of plain HTTP/2.
#[derive(Debug, Clone)]
pub struct Tls {
    /// The certificate chain.
    pub cert_pem: Vec<u8>,
    /// The private key.
    pub key_pem: Vec<u8>,
}

/// Serves the API on `listener` until `shutdown` resolves; in-flight requests finish first.
///
/// # Errors
/// The transport failed.
pub async fn serve(
    api: Api,
    tokens: Arc<Tokens>,
    listener: tokio::net::TcpListener,
    tls: Option<Tls>,
    shutdown: impl std::future::Future<Output = ()> + Send + 'static,
) -> Result<(), tonic::transport::Error> {
    use pb::department_server::DepartmentServer;
    use pb::supervision_server::SupervisionServer;
    use pb::window_server::WindowServer;
    use pb::workflows_server::WorkflowsServer;

    let (health, health_service) = tonic_health::server::health_reporter();
    health.set_serving::<WindowServer<Api>>().await;
    health.set_serving::<DepartmentServer<Api>>().await;
    let reflection_v1 = tonic_reflection::server::Builder::configure()
        .register_encoded_file_descriptor_set(pb::FILE_DESCRIPTOR_SET)
        .register_encoded_file_descriptor_set(tonic_health::pb::FILE_DESCRIPTOR_SET)
        .build_v1()
        .expect("the descriptor set compiled into the binary is valid");
    let reflection_v1alpha = tonic_reflection::server::Builder::configure()
        .register_encoded_file_descriptor_set(pb::FILE_DESCRIPTOR_SET)
        .register_encoded_file_descriptor_set(tonic_health::pb::FILE_DESCRIPTOR_SET)
        .build_v1alpha()
        .expect("the descriptor set compiled into the binary is valid");

    // Without TCP_NODELAY small HTTP/2 frames wait for delayed ACKs: ~40 ms per call.
    let incoming = tokio_stream::StreamExt::map(
        tokio_stream::wrappers::TcpListenerStream::new(listener),
        |s| {
            if let Ok(s) = &s {
                let _ = s.set_nodelay(true);
            }
            s
        },
    );
    let mut builder = tonic::transport::Server::builder();
    if let Some(tls) = tls {
        let identity = tonic::transport::Identity::from_pem(tls.cert_pem, tls.key_pem);
        builder =
            builder.tls_config(tonic::transport::ServerTlsConfig::new().identity(identity))?;
    }
    builder
        .add_service(health_service)
        .add_service(reflection_v1)
        .add_service(reflection_v1alpha)
        .add_service(WorkflowsServer::with_interceptor(
            api.clone(),
            auth::admit(tokens.clone(), auth::ANY),
        ))
        .add_service(WindowServer::with_interceptor(
            api.clone(),
            auth::admit(tokens.clone(), auth::WINDOW),
        ))
        .add_service(DepartmentServer::with_interceptor(
            api.clone(),
            auth::admit(tokens.clone(), auth::DEPARTMENT),
        ))
        .add_service(SupervisionServer::with_interceptor(
            api,
            auth::admit(tokens, auth::SUPERVISOR),
        ))
        .serve_with_incoming_shutdown(incoming, shutdown)
        .await
}

/// The address a listener is bound to, for printing.
pub fn bound(listener: &tokio::net::TcpListener) -> Option<SocketAddr> {
    listener.local_addr().ok()
}
