//! The verbs that change a project, declared once each: one row of [`verbs!`] per verb, in
//! the file of the service that serves it ([`super::department`], [`super::window`]).
//!
//! A row names the RPC and its handler, the message, the route of the JSON API, the
//! command it makes (the conversion from the message, with its input checks), who may
//! call it, its name in Chinese and English, the fields a person fills in, and when a
//! page offers it. From the rows come the gRPC service's methods, the JSON API's routes
//! (and so the OpenAPI document's operations), the CLI's subcommands (`onewindow tasks …`,
//! `onewindow project …`), the console's forms and what a submitted form runs. The
//! metrics label is the engine command's own [`onewindow_engine::Command::kind`]. So
//! adding a verb is the engine's rule, its message and RPC in the proto, and one row here.
//!
//! Why a macro and not a trait object per verb: tonic's generated service trait wants one
//! method per RPC with the message's concrete type, and the JSON API and the CLI need the
//! message's type to decode into; a row expands into exactly the code one would have
//! written by hand for each of those, so the compiler checks every row.

use serde_json::{Map, Value};

use crate::auth::Admit;
use onewindow_core::plan::Plan;
use onewindow_core::spec::{ItemKind, StepKind};
use onewindow_engine::{Project, Status as ProjectStatus, Suspension, TaskState};

/// Which service a verb belongs to, and so which CLI command holds it.
#[derive(Clone, Copy, PartialEq, Eq, Debug)]
pub enum Family {
    /// `onewindow.v1.Window`: the window and agents (`onewindow project …`, the counter).
    Window,
    /// `onewindow.v1.Department`: a department's reviewers (`onewindow tasks …`, the inbox).
    Department,
}

/// One verb: everything the layers need to offer it.
pub struct Verb {
    /// Its service.
    pub family: Family,
    /// `Service.Method`: the operation id and the metrics' RPC label.
    pub rpc: &'static str,
    /// The CLI subcommand and the console's action (`request-supplement`).
    pub name: &'static str,
    /// The JSON API's path.
    pub path: &'static str,
    /// The request message (the proto's name).
    pub request: &'static str,
    /// Acts on one item of a project (`{item}` in the path), or on the project.
    pub on_item: bool,
    /// The name people use (签收).
    pub zh: &'static str,
    /// The English name (Claim).
    pub en: &'static str,
    /// One line for the OpenAPI document and the CLI's help.
    pub summary: &'static str,
    /// What a person fills in, besides the project and item.
    pub fields: &'static [Field],
    /// Whether a page offers the verb on this item now (the engine still decides).
    pub when: fn(&Scene<'_>) -> bool,
    /// Who may call it.
    pub admit: Admit,
    /// The roles, for the document.
    pub roles: &'static str,
}

/// What a page knows when it decides which verbs to offer.
pub struct Scene<'a> {
    /// The project's workflow version.
    pub plan: &'a Plan,
    /// The project.
    pub project: &'a Project,
    /// The item's index (for verbs on an item).
    pub item: usize,
}

impl Scene<'_> {
    fn state(&self) -> TaskState {
        self.project.tasks()[self.item].state
    }

    fn deciding(&self) -> bool {
        matches!(self.state(), TaskState::Ready | TaskState::Claimed)
    }

    /// The kind of the task's current step (`None` for an item of one decision).
    fn step(&self) -> Option<StepKind> {
        let steps = &self.plan.items[self.item].steps;
        steps
            .get(usize::from(self.project.tasks()[self.item].step))
            .map(|s| s.kind)
    }

    fn running(&self) -> bool {
        self.project.status() == ProjectStatus::Active
    }
}

/// When each verb is offered: the states the engine accepts it in, and what the item
/// declares (an extension, special procedures, steps). Named so the rows read as prose.
pub mod when {
    use super::*;

    /// A ready task (to claim).
    pub fn ready(s: &Scene<'_>) -> bool {
        s.state() == TaskState::Ready
    }
    /// A task the department is deciding (ready or claimed).
    pub fn deciding(s: &Scene<'_>) -> bool {
        s.deciding()
    }
    /// Deciding, with an extension declared and not yet used.
    pub fn extendable(s: &Scene<'_>) -> bool {
        s.deciding() && !s.project.tasks()[s.item].extended && s.plan.items[s.item].extension > 0
    }
    /// Deciding, and the item declares special procedures.
    pub fn special_possible(s: &Scene<'_>) -> bool {
        s.deciding() && !s.plan.items[s.item].special_procedures.is_empty()
    }
    /// In a special procedure.
    pub fn in_special(s: &Scene<'_>) -> bool {
        matches!(
            s.project.tasks()[s.item].suspension,
            Some((Suspension::Special { .. }, _))
        )
    }
    /// Waiting for the applicant's supplement.
    pub fn awaiting_supplement(s: &Scene<'_>) -> bool {
        matches!(
            s.project.tasks()[s.item].suspension,
            Some((Suspension::Supplement { .. }, _))
        )
    }
    /// Deciding, at the decision: an item of one decision, or its decide step.
    pub fn decidable(s: &Scene<'_>) -> bool {
        s.deciding() && matches!(s.step(), None | Some(StepKind::Decide))
    }
    /// Deciding, in a step people sign (受理, 审查).
    pub fn signing(s: &Scene<'_>) -> bool {
        s.deciding() && matches!(s.step(), Some(StepKind::Accept | StepKind::Examine))
    }
    /// An open task (ready, claimed or suspended): it can change hands.
    pub fn open(s: &Scene<'_>) -> bool {
        s.state().is_open()
    }
    /// Decided by the department (approved or rejected).
    pub fn decided(s: &Scene<'_>) -> bool {
        matches!(s.state(), TaskState::Approved | TaskState::Rejected)
    }
    /// Deciding, with an approved item upstream to return to.
    pub fn returnable(s: &Scene<'_>) -> bool {
        s.deciding() && !returnable_items(s.plan, s.project, s.item).is_empty()
    }
    /// Rejected: the applicant may resubmit.
    pub fn rejected(s: &Scene<'_>) -> bool {
        s.state() == TaskState::Rejected
    }
    /// A milestone the window records, now ready.
    pub fn milestone(s: &Scene<'_>) -> bool {
        s.plan.items[s.item].kind == ItemKind::Milestone && s.state() == TaskState::Ready
    }
    /// The project is running.
    pub fn running(s: &Scene<'_>) -> bool {
        s.running()
    }
    /// A department's open task of a running project (to urge).
    pub fn urgeable(s: &Scene<'_>) -> bool {
        s.running() && s.state().is_open() && s.plan.items[s.item].kind == ItemKind::Review
    }
}

/// The approved items upstream of `item`, in workflow order: where a return may go (the
/// engine's rule: `item` depends on it through documents or waits, it is approved, and
/// it is not a milestone the window reports).
pub fn returnable_items(plan: &Plan, project: &Project, item: usize) -> Vec<usize> {
    (0..plan.items.len())
        .filter(|&t| {
            project.tasks()[t].state == TaskState::Approved
                && plan.items[t].kind != ItemKind::Milestone
                && plan.dependents(t).contains(&item)
        })
        .collect()
}

/// How a field is filled in, and so how its text becomes the message's JSON.
#[derive(Clone, Copy, PartialEq, Eq, Debug)]
pub enum Kind {
    /// Free text (a reason, an opinion, a note).
    Text,
    /// A reviewer's or an agent's id.
    Person,
    /// An earlier item of the workflow (a return's target).
    EarlierItem,
    /// One of the item's special procedures.
    SpecialProcedure,
    /// Material ids (what a supplement needs).
    MaterialIds,
    /// Materials handed in (`{material, name}` each).
    Materials,
    /// Yes or no.
    Flag,
    /// A number per document the item issues (文号; blank draws the next one).
    Numbers,
}

/// One field of a verb's message that a person fills in.
#[derive(Clone, Copy, Debug)]
pub struct Field {
    /// The message's field.
    pub name: &'static str,
    /// The CLI's flag (`--opinion` fills `reason`).
    pub flag: &'static str,
    /// Another flag accepted for it.
    pub alias: Option<&'static str>,
    /// How it is filled in.
    pub kind: Kind,
    /// Must not be empty.
    pub required: bool,
    /// Its label in Chinese.
    pub zh: &'static str,
    /// Its label in English (the CLI's help adds how it is written there, [`Field::help`]).
    pub en: &'static str,
}

impl Field {
    /// A field whose flag is its name.
    pub const fn new(name: &'static str, kind: Kind, zh: &'static str, en: &'static str) -> Self {
        Field {
            name,
            flag: name,
            alias: None,
            kind,
            required: false,
            zh,
            en,
        }
    }

    /// Must be filled in.
    pub const fn required(self) -> Self {
        Field {
            required: true,
            ..self
        }
    }

    /// Given on the command line as `--flag`.
    pub const fn flag(self, flag: &'static str) -> Self {
        Field { flag, ..self }
    }

    /// Also accepted on the command line as `--alias`.
    pub const fn alias(self, alias: &'static str) -> Self {
        Field {
            alias: Some(alias),
            ..self
        }
    }

    /// The command line's help for the field: its label and how it is written there.
    pub fn help(&self) -> String {
        let how = match self.kind {
            Kind::Text => "",
            Kind::Person => " (an id)",
            Kind::EarlierItem => " (the item's id)",
            Kind::SpecialProcedure => " (one the item declares)",
            Kind::MaterialIds | Kind::Materials => " (material ids, comma-separated)",
            Kind::Flag => "",
            Kind::Numbers => {
                " (DOCUMENT=NUMBER, once per document; without one, the department's next)"
            }
        };
        format!("{} — {}{how}", self.en, self.zh)
    }

    /// The field's JSON from what a person gave: the values of a repeated input (a
    /// multiple select, a repeated or comma-separated flag), in order. `None` when
    /// nothing was given.
    pub fn json(&self, given: &[String]) -> Option<Value> {
        let values = || {
            given
                .iter()
                .flat_map(|v| v.split(','))
                .map(str::trim)
                .filter(|v| !v.is_empty())
        };
        match self.kind {
            Kind::Flag => {
                let on = given
                    .iter()
                    .any(|v| matches!(v.as_str(), "true" | "on" | "1"));
                on.then_some(Value::Bool(true))
            }
            Kind::MaterialIds => {
                let ids: Vec<Value> = values().map(|v| Value::String(v.into())).collect();
                (!ids.is_empty()).then_some(Value::Array(ids))
            }
            Kind::Materials => {
                let refs: Vec<Value> = values()
                    .map(|m| {
                        let mut o = Map::new();
                        o.insert("material".into(), Value::String(m.into()));
                        Value::Object(o)
                    })
                    .collect();
                (!refs.is_empty()).then_some(Value::Array(refs))
            }
            Kind::Numbers => {
                let numbers: Map<String, Value> = given
                    .iter()
                    .filter_map(|v| v.split_once('='))
                    .map(|(d, n)| (d.trim(), n.trim()))
                    .filter(|(d, n)| !d.is_empty() && !n.is_empty())
                    .map(|(d, n)| (d.to_string(), Value::String(n.to_string())))
                    .collect();
                (!numbers.is_empty()).then_some(Value::Object(numbers))
            }
            Kind::Text | Kind::Person | Kind::EarlierItem | Kind::SpecialProcedure => given
                .first()
                .filter(|v| !v.is_empty())
                .map(|v| Value::String(v.clone())),
        }
    }
}

impl Verb {
    /// The message a person asked for: the address (request id, project, the item for a
    /// verb on an item) and each field from `given(field)`.
    pub fn message(
        &self,
        request_id: &str,
        project: &str,
        item: &str,
        given: impl Fn(&Field) -> Vec<String>,
    ) -> Value {
        let mut m = Map::new();
        m.insert("request_id".into(), Value::String(request_id.into()));
        m.insert("project".into(), Value::String(project.into()));
        if self.on_item {
            m.insert("item".into(), Value::String(item.into()));
        }
        for f in self.fields {
            if let Some(v) = f.json(&given(f)) {
                m.insert(f.name.into(), v);
            }
        }
        Value::Object(m)
    }
}

/// Every verb, the window's first.
pub fn all() -> impl Iterator<Item = &'static Verb> {
    super::window::VERBS
        .iter()
        .chain(super::department::VERBS.iter())
}

/// The verb of a family by its name.
pub fn find(family: Family, name: &str) -> Option<&'static Verb> {
    all().find(|v| v.family == family && v.name == name)
}

/// Runs `verb` over gRPC on `channel` with `metadata` (the caller's credentials), the
/// message from its JSON: what the CLI does for every verb.
///
/// # Errors
/// The message does not decode, or the server's answer.
pub async fn call(
    channel: tonic::transport::Channel,
    metadata: tonic::metadata::MetadataMap,
    verb: &Verb,
    message: Value,
) -> Result<crate::pb::CommandResponse, tonic::Status> {
    let call = match verb.family {
        Family::Window => super::window::call(channel, metadata, verb.rpc, message).await,
        Family::Department => super::department::call(channel, metadata, verb.rpc, message).await,
    };
    call.unwrap_or_else(|| Err(tonic::Status::unimplemented(verb.rpc)))
}

/// Runs the verb named by `rpc` in process, as `caller`, with its message from JSON: the
/// JSON API's and the console's way to every verb (the gRPC handler itself, so the same
/// checks and refusals). `None` when `rpc` is no verb.
pub(crate) async fn run(
    api: &crate::Api,
    caller: &crate::auth::Caller,
    rpc: &str,
    message: Value,
) -> Option<Result<crate::pb::CommandResponse, tonic::Status>> {
    match all().find(|v| v.rpc == rpc)?.family {
        Family::Window => super::window::run(api, caller, rpc, message).await,
        Family::Department => super::department::run(api, caller, rpc, message).await,
    }
}

/// A message from its JSON, or INVALID_ARGUMENT saying why not.
pub(crate) fn decode<T: serde::de::DeserializeOwned>(message: Value) -> Result<T, tonic::Status> {
    serde_json::from_value(message).map_err(|e| {
        crate::status::invalid_argument(format!(
            "body: not the request's JSON ({})",
            crate::status::truncate(&e.to_string(), 200)
        ))
    })
}

/// Declares a service's verbs: expands into the service's gRPC implementation (the
/// `extra` methods as written, then one method per row running [`crate::Api::act`] with
/// the row's conversion), the table `VERBS`, `run` (in process, from JSON) and `call`
/// (over gRPC, from JSON).
///
/// A row: `handler(Message) "Service.Rpc" family name "path" on_item "中文" "English"
/// when predicate, admit ROLES "roles": "summary" [fields] |message| command;`.
macro_rules! verbs {
    (
        impl $service:path, client $client:path, family $family:ident {
            $($extra:tt)*
        }
        $(
            $handler:ident ($msg:ident) $rpc:literal $name:literal $path:literal $on_item:literal
            $zh:literal $en:literal when $when:ident, $admit:ident $roles:ident :
            $summary:literal [$($field:expr),* $(,)?] |$r:ident| $command:expr;
        )*
    ) => {
        #[tonic::async_trait]
        impl $service for Api {
            $($extra)*

            $(
                async fn $handler(
                    &self,
                    req: tonic::Request<pb::$msg>,
                ) -> Result<tonic::Response<pb::CommandResponse>, tonic::Status> {
                    self.act(req, |$r: pb::$msg| $command).await
                }
            )*
        }

        /// This service's verbs, in the order people meet them.
        pub(crate) const VERBS: &[crate::verbs::Verb] = &[$(crate::verbs::Verb {
            family: crate::verbs::Family::$family,
            rpc: $rpc,
            name: $name,
            path: $path,
            request: stringify!($msg),
            on_item: $on_item,
            zh: $zh,
            en: $en,
            summary: $summary,
            fields: &[$($field),*],
            when: crate::verbs::when::$when,
            admit: crate::auth::$admit,
            roles: $roles,
        }),*];

        /// Runs the verb `rpc` in process as `caller`, from the message's JSON.
        pub(crate) async fn run(
            api: &Api,
            caller: &crate::auth::Caller,
            rpc: &str,
            message: serde_json::Value,
        ) -> Option<Result<pb::CommandResponse, tonic::Status>> {
            match rpc {
                $($rpc => Some(async {
                    let m: pb::$msg = crate::verbs::decode(message)?;
                    let r = crate::http::request(caller, m);
                    Ok(<Api as $service>::$handler(api, r).await?.into_inner())
                }.await),)*
                _ => None,
            }
        }

        /// Runs the verb `rpc` over gRPC, from the message's JSON.
        pub(crate) async fn call(
            channel: tonic::transport::Channel,
            metadata: tonic::metadata::MetadataMap,
            rpc: &str,
            message: serde_json::Value,
        ) -> Option<Result<pb::CommandResponse, tonic::Status>> {
            match rpc {
                $($rpc => Some(async {
                    let m: pb::$msg = crate::verbs::decode(message)?;
                    let r = tonic::Request::from_parts(metadata, Default::default(), m);
                    Ok(<$client>::new(channel).$handler(r).await?.into_inner())
                }.await),)*
                _ => None,
            }
        }
    };
}

pub(crate) use verbs;
