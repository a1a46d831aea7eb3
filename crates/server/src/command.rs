//! The mutating path: every RPC that changes a project comes through [`Api::act`], which
//! takes the caller's actor and the request's address (request id, project, time) out of
//! the message, and [`Api::run`], which runs the command on the durable service, maps a
//! refusal to its status and publishes what became durable.

use tonic::{Request, Response, Status};

use super::convert::*;
use super::status::*;
use super::*;
use onewindow_engine::{Actor, Command};
use onewindow_store::service::When;

/// A mutating request: every one carries a request id, a project and an optional time.
pub(super) trait Addressed {
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
    pb::HandOverRequest,
    pb::AddSignerRequest,
    pb::ReturnRequest,
    pb::AssignAgentRequest,
    pb::MigrateRequest,
);

/// When this process started (nanoseconds since the epoch): makes the request ids the
/// server makes up itself unique across restarts.
pub(super) static BOOT: std::sync::LazyLock<u128> = std::sync::LazyLock::new(|| {
    std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map_or(0, |d| d.as_nanos())
});

impl Api {
    /// A mutating RPC: the caller's actor, the request's address, and the command the
    /// rest of the message makes (or why it makes none), run through [`Api::run`].
    pub(super) async fn act<T: Addressed>(
        &self,
        req: Request<T>,
        command: impl FnOnce(T) -> Result<Command, Status>,
    ) -> Result<Response<pb::CommandResponse>, Status> {
        let actor = caller(&req)?.actor();
        let mut r = req.into_inner();
        let (request_id, project, at) = r.address();
        // The address first: a bad id is reported as such, whatever else is wrong.
        input::id("request_id", &request_id)?;
        input::id("project", &project)?;
        input::time_of_record(&at)?;
        let command = command(r)?;
        self.run(&request_id, &project, &actor, command).await
    }

    /// Runs a command durably at the server's time and publishes what became durable. The
    /// address was checked by [`Api::act`] (or made by the server itself).
    pub(super) async fn run(
        &self,
        request_id: &str,
        project: &str,
        actor: &Actor,
        command: Command,
    ) -> Result<Response<pb::CommandResponse>, Status> {
        let clock = &*self.clock;
        let kind = command.kind();
        let started = std::time::Instant::now();
        let done = self
            .svc
            .execute_async(request_id, project, actor, command, When::Clock(clock))
            .await;
        let outcome = match &done {
            Err(_) => "failed",
            Ok(Err(_)) => "refused",
            Ok(Ok(r)) if r.replayed => "replayed",
            Ok(Ok(_)) => "applied",
        };
        self.metrics
            .command(kind, outcome, started.elapsed().as_secs_f64());
        match done {
            Err(e) => Err(store_status(&e)),
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
                    self.publish(&events, &receipt.effects);
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
