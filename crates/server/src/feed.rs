//! The live feeds: what becomes durable is published to watchers (every event) and to
//! departments (each task that became ready, from the engine's dispatch effects), and
//! the push stream that hands those tasks to a department's workers.

use tonic::{Request, Response, Status};

use super::command::BOOT;
use super::convert::*;
use super::*;
use onewindow_engine::Effect;
use onewindow_engine::{Actor, Command, TaskState};

/// A task pushed to a department's streams: shared by every stream of the department, and
/// encoded for server-sent events once, by the first stream that needs it, not once per
/// stream (a city holds hundreds of department streams open: SSE fan-out).
pub(crate) struct Pushed {
    pub(crate) task: pb::Task,
    sse: std::sync::OnceLock<String>,
}

impl Pushed {
    fn new(task: pb::Task) -> Arc<Pushed> {
        Arc::new(Pushed {
            task,
            sse: std::sync::OnceLock::new(),
        })
    }

    /// The task as one server-sent event (`task`, or `notice` for a notice).
    pub(crate) fn sse_frame(&self) -> &str {
        self.sse.get_or_init(|| sse_frame(&self.task))
    }
}

/// A task as one server-sent event.
pub(crate) fn sse_frame(t: &pb::Task) -> String {
    let event = if t.notice.is_empty() {
        "task"
    } else {
        "notice"
    };
    let json = serde_json::to_string(t).unwrap_or_else(|_| "{}".into());
    super::http::sse_frame(None, event, &json)
}

/// How many projects a node brings in from other nodes' commits at once.
const FOLLOWERS: usize = 8;

/// Adds a change to those waiting (another node's commits merged per project into one
/// range; `lost` when notifications were missed). `false` when the feed has ended.
fn merge(
    change: Result<onewindow_store::Change, tokio::sync::broadcast::error::RecvError>,
    pending: &mut HashMap<String, (u64, u64)>,
    lost: &mut bool,
) -> bool {
    use onewindow_store::Change;
    use tokio::sync::broadcast::error::RecvError;
    match change {
        Ok(Change::Committed { own: true, .. }) => true,
        Ok(Change::Committed {
            project,
            first,
            last,
            own: false,
        }) => {
            let range = pending.entry(project).or_insert((first, last));
            range.0 = range.0.min(first);
            range.1 = range.1.max(last);
            true
        }
        Ok(Change::Lost) | Err(RecvError::Lagged(_)) => {
            *lost = true;
            true
        }
        Err(RecvError::Closed) => false,
    }
}

impl Api {
    /// Publishes what became durable: every event to the watchers, and each task the
    /// engine dispatched (its [`Effect::Dispatch`] effects) to its department's stream, if
    /// one is open. The engine already named the department and the due date, so nothing
    /// is read again.
    ///
    /// Nothing is copied for a channel nobody listens to: a watcher or stream that opens
    /// later subscribes first and then reads the store or the projects, where these
    /// events already are.
    pub(super) fn publish(&self, converted: &[pb::Event], effects: &[Effect]) {
        self.callbacks.note(converted);
        if self.events.receiver_count() > 0 {
            for e in converted {
                let _ = self.events.send(e.clone());
            }
        }
        let Ok(ready) = self.ready.lock() else {
            return;
        };
        if ready.is_empty() {
            return;
        }
        for effect in effects {
            match effect {
                Effect::Dispatch {
                    department,
                    project,
                    item,
                    due,
                } => {
                    if let Some(tx) = ready.get(department) {
                        let _ = tx.send(Pushed::new(pb::Task {
                            project: project.clone(),
                            item: item.clone(),
                            department: department.clone(),
                            state: TaskState::Ready.as_str().to_string(),
                            due: due.to_string(),
                            ..pb::Task::default()
                        }));
                    }
                }
                // A warning, a card, an urging, a copy, a due date derived again: the
                // task with what happened to it (its state as it is now is a ListTasks
                // away; the notice is what the department must know).
                Effect::NotifyDepartment {
                    department,
                    project,
                    item,
                    message,
                } => {
                    if let Some(tx) = ready.get(department) {
                        let _ = tx.send(Pushed::new(pb::Task {
                            project: project.clone(),
                            item: item.clone(),
                            department: department.clone(),
                            notice: message.clone(),
                            ..pb::Task::default()
                        }));
                    }
                }
                Effect::NotifyWindow { .. } => {}
            }
        }
    }

    /// On a store shared by several nodes, follows what the others commit: each
    /// notification brings the project held here up to date from the log, and the events
    /// this node had not seen are published to its watchers and department streams like
    /// its own. Lost notifications (a reconnect, a lagging receiver) make the node forget
    /// what it holds, to be read afresh.
    pub(super) fn spawn_follower(&self) {
        let Some(mut changes) = self.svc.store().changes() else {
            return;
        };
        let api = self.clone();
        self.spawn_until_shutdown(async move {
            use tokio::sync::broadcast::error::RecvError;
            // Projects are brought in concurrently (each a read of the log), a few at a
            // time; notifications waiting are taken together and merged per project.
            let permits = std::sync::Arc::new(tokio::sync::Semaphore::new(FOLLOWERS));
            loop {
                let mut pending: HashMap<String, (u64, u64)> = HashMap::new();
                let mut lost = false;
                if !merge(changes.recv().await, &mut pending, &mut lost) {
                    return;
                }
                while pending.len() < 1024 {
                    match changes.try_recv() {
                        Ok(c) => {
                            merge(Ok(c), &mut pending, &mut lost);
                        }
                        Err(tokio::sync::broadcast::error::TryRecvError::Lagged(n)) => {
                            merge(Err(RecvError::Lagged(n)), &mut pending, &mut lost);
                        }
                        Err(_) => break,
                    }
                }
                if lost {
                    tracing::warn!(
                        "missed notifications from the database: forgetting cached projects"
                    );
                    api.svc.forget_all();
                }
                for (project, (first, last)) in pending {
                    let Ok(permit) = permits.clone().acquire_owned().await else {
                        return;
                    };
                    let api = api.clone();
                    tokio::spawn(async move {
                        match api.svc.refresh(&project, first, last).await {
                            Ok(Some((events, effects))) => {
                                let converted: Vec<pb::Event> =
                                    events.iter().map(event_pb).collect();
                                api.publish(&converted, &effects);
                            }
                            Ok(None) => {}
                            Err(e) => tracing::warn!(project, "following another node: {e}"),
                        }
                        drop(permit);
                    });
                }
            }
        });
    }

    /// Claims a ready task for a claiming push stream; the task as claimed, or `None` if
    /// it is no longer there to claim (another stream or a clerk was first, or it was
    /// withdrawn). The request id is new for every attempt: a retry is a new attempt.
    pub(super) async fn claim_for_push(&self, actor: &Actor, t: pb::Task) -> Option<pb::Task> {
        static ATTEMPTS: std::sync::atomic::AtomicU64 = std::sync::atomic::AtomicU64::new(0);
        let n = ATTEMPTS.fetch_add(1, std::sync::atomic::Ordering::Relaxed);
        let request = format!("push-claim/{:x}/{n}", *BOOT);
        let command = Command::Claim {
            item: t.item.clone(),
        };
        match self.run(&request, &t.project, actor, command).await {
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
    pub(super) fn ready_channel(
        &self,
        dept: &str,
    ) -> tokio::sync::broadcast::Receiver<Arc<Pushed>> {
        let mut ready = self
            .ready
            .lock()
            .unwrap_or_else(std::sync::PoisonError::into_inner);
        ready
            .entry(dept.to_string())
            .or_insert_with(|| tokio::sync::broadcast::channel(16384).0)
            .subscribe()
    }

    /// `Department.StreamReady`: the department's tasks ready now, then each that becomes
    /// ready, claimed first when the stream asks for it.
    pub(super) fn stream_ready_tasks(
        &self,
        req: Request<pb::StreamReadyRequest>,
    ) -> Result<Response<TaskStream>, Status> {
        let who = caller(&req)?;
        let actor = who.actor();
        let Some(dept) = who.role.department().map(str::to_string) else {
            return Err(Status::permission_denied("only a department has a queue"));
        };
        let claim = req.get_ref().claim;
        let lease = self.lease(&who)?;
        let mut rx = self.ready_channel(&dept);
        let (tx, out) = tokio::sync::mpsc::channel(256);
        let api = self.clone();
        let open = self.metrics.stream_opened();
        self.spawn_until_shutdown(async move {
            let _open = open;
            let follow = async {
                // Hands one task to the stream: as it is, or claimed first. Claims run
                // concurrently (each waits for its flush), so one slow flush does not hold
                // back the department's queue; their order of arrival may differ from the
                // order of readiness.
                let push = |t: pb::Task| {
                    let (api, actor, tx) = (api.clone(), actor.clone(), tx.clone());
                    async move {
                        // A notice is told as it is: there is nothing to claim.
                        if !claim || !t.notice.is_empty() {
                            return tx.send(Ok(t)).await.is_ok();
                        }
                        // A stream whose client has gone claims nothing: the task would be
                        // claimed for nobody and stay claimed.
                        if tx.is_closed() {
                            return false;
                        }
                        tokio::spawn(async move {
                            if let Some(t) = api.claim_for_push(&actor, t).await {
                                let _ = tx.send(Ok(t)).await;
                            }
                        });
                        true
                    }
                };
                let ready_now = || {
                    api.open_tasks(Some(&dept), |_, t| t.state == TaskState::Ready)
                        .unwrap_or_else(|status| {
                            tracing::warn!(dept, %status, "the ready tasks could not be read");
                            Vec::new()
                        })
                };
                for t in ready_now() {
                    if !push(t).await {
                        return;
                    }
                }
                loop {
                    // Ends as soon as the client goes, not at the next task.
                    let received = tokio::select! {
                        r = rx.recv() => r,
                        () = tx.closed() => return,
                    };
                    let task = match received {
                        Ok(t) => t.task.clone(),
                        Err(tokio::sync::broadcast::error::RecvError::Lagged(_)) => {
                            // Fell behind the live feed: push every task ready now again (a
                            // worker may see one twice; request ids make that harmless, and
                            // a claiming stream skips what it already claimed).
                            for t in ready_now() {
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
            };
            tokio::select! {
                () = follow => {}
                () = lease.ended() => {
                    // The department's right ended (revoked, expired): say so, then close.
                    let _ = tx.try_send(Err(super::lease::ended_status()));
                }
            }
        });
        Ok(Response::new(Box::pin(
            tokio_stream::wrappers::ReceiverStream::new(out),
        )))
    }
}

/// What a told (not claiming) ready stream holds while it is open.
struct Feed {
    rx: tokio::sync::broadcast::Receiver<Arc<Pushed>>,
    backlog: std::collections::VecDeque<super::http::SseChunk>,
    lease: super::lease::Lease,
    /// When the lease is asked again (one timer for the stream's life: a future made per
    /// event would register a timer per event).
    recheck: tokio::time::Interval,
    _open: super::metrics::StreamOpen,
    shutdown: tokio::sync::watch::Receiver<bool>,
    api: Api,
    department: String,
    ended: bool,
}

impl Feed {
    /// Every task of the department ready now, as events.
    fn ready_now(&mut self) {
        let tasks = self
            .api
            .open_tasks(Some(&self.department), |_, t| t.state == TaskState::Ready)
            .unwrap_or_else(|status| {
                tracing::warn!(self.department, %status, "the ready tasks could not be read");
                Vec::new()
            });
        self.backlog.extend(
            tasks
                .iter()
                .map(|t| super::http::SseChunk::Text(sse_frame(t))),
        );
    }
}

impl Api {
    /// A department's ready stream for server-sent events, without claiming: the tasks
    /// ready now, then each pushed to the department as it is (shared with every other
    /// stream of the department, encoded once), straight from the department's channel —
    /// no task of its own per stream. The same rules as `StreamReady`: the caller's
    /// stream count, the end when its right ends (an `error` event) or the server stops,
    /// everything ready again after falling behind.
    pub(crate) fn ready_feed(
        &self,
        who: &super::auth::Caller,
    ) -> Result<impl futures_util::Stream<Item = super::http::SseChunk> + Send + 'static, Status>
    {
        use super::http::SseChunk;
        use tokio::sync::broadcast::error::RecvError;
        let Some(department) = who.role.department().map(str::to_string) else {
            return Err(Status::permission_denied("only a department has a queue"));
        };
        let lease = self.lease(who)?;
        // Subscribe before reading what is ready now, so nothing falls between the two.
        let rx = self.ready_channel(&department);
        let mut recheck = tokio::time::interval(super::lease::RECHECK);
        recheck.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Delay);
        let mut feed = Feed {
            rx,
            backlog: Default::default(),
            lease,
            recheck,
            _open: self.metrics.stream_opened(),
            shutdown: self.shutdown.clone(),
            api: self.clone(),
            department,
            ended: false,
        };
        feed.ready_now();
        Ok(futures_util::stream::unfold(feed, |mut f| async move {
            loop {
                if let Some(c) = f.backlog.pop_front() {
                    return Some((c, f));
                }
                if f.ended || *f.shutdown.borrow() {
                    return None;
                }
                enum Next {
                    Task(Arc<Pushed>),
                    Again,
                    Behind,
                    Ended,
                    Stop,
                }
                let next = {
                    let Feed {
                        rx,
                        lease,
                        recheck,
                        shutdown,
                        ..
                    } = &mut f;
                    tokio::select! {
                        r = rx.recv() => match r {
                            Ok(p) => Next::Task(p),
                            Err(RecvError::Lagged(_)) => Next::Behind,
                            Err(RecvError::Closed) => Next::Stop,
                        },
                        _ = recheck.tick() => if lease.holds() { Next::Again } else { Next::Ended },
                        _ = shutdown.changed() => Next::Stop,
                    }
                };
                match next {
                    Next::Task(p) => return Some((SseChunk::Pushed(p), f)),
                    Next::Again => {}
                    Next::Behind => f.ready_now(),
                    Next::Ended => {
                        f.ended = true;
                        let ended = super::http::sse_error_frame(&super::lease::ended_status());
                        return Some((SseChunk::Text(ended), f));
                    }
                    Next::Stop => return None,
                }
            }
        }))
    }
}
