//! A load generator over the durable service (not part of the service: a tool for
//! measuring and breaking it): client threads each take projects from
//! submission to completion the way the window and the departments would, with a share of
//! supplements on the way. It measures durable throughput (`onewindow store-drive`, the
//! store benchmark) and is the child the crash test kills.
//!
//! Every command carries a request id derived from the project, the item and the action
//! (`{project}/{item}/approve`), so a client that runs again after a crash re-sends the
//! same ids: what was acknowledged is answered from the store, and the client carries on
//! from where the project stands.

#![deny(missing_docs)]

use std::io::Write;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::Mutex;
use std::time::{Duration, Instant};

use chrono::NaiveDateTime;
use serde::Serialize;

use onewindow_core::form::Value;
use onewindow_core::plan::Plan;
use onewindow_core::spec::ItemKind;
use onewindow_engine::{Actor, Command, MaterialRef, TaskState};
use onewindow_store::service::Service;
use onewindow_store::{Error, Store};

/// What to run.
#[derive(Debug, Clone)]
pub struct Load {
    /// Client threads.
    pub clients: usize,
    /// Projects each client takes to completion.
    pub projects: usize,
    /// Prefix of the project ids (`{prefix}-c{client}-p{n}`).
    pub prefix: String,
    /// Percent of review tasks that get a supplement round first.
    pub supplement_percent: u64,
    /// Print `ack {request key}` on stdout the moment each command is acknowledged (the
    /// key its answer is stored under: the caller's scope and the request id).
    pub print_acks: bool,
    /// Only submit the projects (to fill a store with many projects quickly).
    pub submit_only: bool,
}

/// What it measured.
#[derive(Debug, Clone, Default, Serialize)]
pub struct Report {
    /// Client threads.
    pub clients: usize,
    /// Projects completed.
    pub projects: u64,
    /// Commands acknowledged (including refusals and replayed answers).
    pub commands: u64,
    /// Task transitions written.
    pub transitions: u64,
    /// Wall time, seconds.
    pub seconds: f64,
    /// Task transitions per second.
    pub transitions_per_second: f64,
    /// Median command latency, milliseconds.
    pub p50_ms: f64,
    /// 99th-percentile command latency, milliseconds.
    pub p99_ms: f64,
}

fn chosen(project: &str, item: &str, percent: u64) -> bool {
    // FNV-1a: a stable choice across runs and restarts.
    let mut h: u64 = 0xcbf2_9ce4_8422_2325;
    for b in project.bytes().chain(item.bytes()) {
        h ^= u64::from(b);
        h = h.wrapping_mul(0x0100_0000_01b3);
    }
    h % 100 < percent
}

struct Counters {
    commands: AtomicU64,
    transitions: AtomicU64,
    projects: AtomicU64,
    latencies: Mutex<Vec<Duration>>,
}

/// Runs the load against a service on which `plan` is deployed.
///
/// # Errors
/// The store failed (the first failure stops every client).
pub fn run<S: Store + ?Sized>(
    svc: &Service<S>,
    plan: &Plan,
    form: &std::collections::BTreeMap<String, Value>,
    load: &Load,
    now: NaiveDateTime,
) -> Result<Report, Error> {
    let counters = Counters {
        commands: AtomicU64::new(0),
        transitions: AtomicU64::new(0),
        projects: AtomicU64::new(0),
        latencies: Mutex::new(Vec::new()),
    };
    let started = Instant::now();
    let result: Result<(), Error> = std::thread::scope(|s| {
        let handles: Vec<_> = (0..load.clients)
            .map(|c| {
                let counters = &counters;
                s.spawn(move || -> Result<(), Error> {
                    for p in 0..load.projects {
                        let id = format!("{}-c{c}-p{p}", load.prefix);
                        drive_project(svc, plan, form, load, &id, now, counters)?;
                        counters.projects.fetch_add(1, Ordering::Relaxed);
                    }
                    Ok(())
                })
            })
            .collect();
        handles.into_iter().try_for_each(|h| {
            h.join()
                .unwrap_or_else(|_| Err(Error::Backend("a client panicked".into())))
        })
    });
    result?;
    let seconds = started.elapsed().as_secs_f64();
    let mut lat = counters.latencies.into_inner().unwrap_or_default();
    lat.sort_unstable();
    let pct = |q: f64| {
        onewindow_core::stats::nearest_rank(&lat, q).map_or(0.0, |d| d.as_secs_f64() * 1000.0)
    };
    let transitions = counters.transitions.into_inner();
    Ok(Report {
        clients: load.clients,
        projects: counters.projects.into_inner(),
        commands: counters.commands.into_inner(),
        transitions,
        seconds,
        transitions_per_second: transitions as f64 / seconds.max(1e-9),
        p50_ms: pct(0.50),
        p99_ms: pct(0.99),
    })
}

#[allow(clippy::too_many_arguments)]
fn send<S: Store + ?Sized>(
    svc: &Service<S>,
    load: &Load,
    counters: &Counters,
    request: &str,
    project: &str,
    actor: &Actor,
    command: Command,
    now: NaiveDateTime,
) -> Result<(), Error> {
    let t = Instant::now();
    let answer = svc.execute(request, project, actor, command, now)?;
    let took = t.elapsed();
    if load.print_acks {
        let mut out = std::io::stdout().lock();
        let key = onewindow_store::service::request_key(actor, request);
        let _ = writeln!(out, "ack {key}");
        let _ = out.flush();
    }
    counters.commands.fetch_add(1, Ordering::Relaxed);
    if let Ok(r) = &answer {
        if !r.replayed {
            let n = r
                .events
                .iter()
                .filter(|e| e.event.is_task_transition())
                .count() as u64;
            counters.transitions.fetch_add(n, Ordering::Relaxed);
        }
    }
    if let Ok(mut l) = counters.latencies.lock() {
        l.push(took);
    }
    Ok(())
}

fn drive_project<S: Store + ?Sized>(
    svc: &Service<S>,
    plan: &Plan,
    form: &std::collections::BTreeMap<String, Value>,
    load: &Load,
    id: &str,
    now: NaiveDateTime,
    counters: &Counters,
) -> Result<(), Error> {
    let materials: Vec<MaterialRef> = plan
        .materials
        .iter()
        .map(|m| MaterialRef::named(&m.id))
        .collect();
    let submit = Command::Submit {
        version: plan.version.clone(),
        submission: onewindow_engine::Submission {
            applicant: "load".into(),
            agent: None,
            form: form.clone(),
            materials: materials.clone(),
            site: None,
        },
    };
    send(
        svc,
        load,
        counters,
        &format!("{id}/submit"),
        id,
        &Actor::Window,
        submit,
        now,
    )?;
    if load.submit_only {
        return Ok(());
    }
    // Each round acts on one task; a project needs at most a few per item.
    for _ in 0..plan.items.len() * 6 + 10 {
        // Only the task states are needed: read them without copying the project.
        let Some(states) = svc.with_project(id, |p| {
            p.tasks().iter().map(|t| t.state).collect::<Vec<_>>()
        }) else {
            return Ok(());
        };
        let mut acted = false;
        for (i, state) in states.iter().enumerate() {
            let item = &plan.items[i];
            let rid = |action: &str| format!("{id}/{}/{action}", item.id);
            let dept = item
                .department
                .map(|d| Actor::Department(plan.departments[d].id.clone()));
            match (*state, item.kind, &dept) {
                (TaskState::Ready, ItemKind::Milestone, _) => {
                    let cmd = Command::ReportMilestone {
                        item: item.id.clone(),
                        numbers: Default::default(),
                    };
                    send(
                        svc,
                        load,
                        counters,
                        &rid("report"),
                        id,
                        &Actor::Window,
                        cmd,
                        now,
                    )?;
                }
                (TaskState::Ready, ItemKind::Review, Some(d)) => {
                    let ask = rid("ask");
                    // Asked once: the answer is kept under the department's scope.
                    let asked = onewindow_store::service::request_key(d, &ask);
                    if chosen(id, &item.id, load.supplement_percent)
                        && svc.store().answer(&asked)?.is_none()
                    {
                        let needed = item
                            .requires
                            .materials
                            .first()
                            .map(|&m| plan.materials[m].id.clone())
                            .into_iter()
                            .collect();
                        let cmd = Command::RequestSupplement {
                            item: item.id.clone(),
                            needed,
                            note: "补正".into(),
                        };
                        send(svc, load, counters, &ask, id, d, cmd, now)?;
                    } else {
                        send(
                            svc,
                            load,
                            counters,
                            &rid("claim"),
                            id,
                            d,
                            Command::Claim {
                                item: item.id.clone(),
                            },
                            now,
                        )?;
                        let cmd = Command::Approve {
                            item: item.id.clone(),
                            numbers: hand_numbers(plan, item, id),
                        };
                        send(svc, load, counters, &rid("approve"), id, d, cmd, now)?;
                    }
                }
                (TaskState::Claimed, ItemKind::Review, Some(d)) => {
                    let cmd = Command::Approve {
                        item: item.id.clone(),
                        numbers: hand_numbers(plan, item, id),
                    };
                    send(svc, load, counters, &rid("approve"), id, d, cmd, now)?;
                }
                (TaskState::Suspended, _, _) => {
                    let supplied = item
                        .requires
                        .materials
                        .iter()
                        .take(1)
                        .map(|&m| MaterialRef::named(&plan.materials[m].id))
                        .collect();
                    let cmd = Command::ProvideSupplement {
                        item: item.id.clone(),
                        materials: supplied,
                    };
                    send(
                        svc,
                        load,
                        counters,
                        &rid("provide"),
                        id,
                        &Actor::Window,
                        cmd,
                        now,
                    )?;
                }
                _ => continue,
            }
            acted = true;
            break;
        }
        if !acted {
            return Ok(());
        }
    }
    Err(Error::Inconsistent(format!(
        "project `{id}` does not progress"
    )))
}

/// What [`probe`] measured.
#[derive(Debug, Clone, Default, Serialize)]
pub struct Probe {
    /// Reads done.
    pub reads: u64,
    /// Commands applied.
    pub commands: u64,
    /// Wall time, seconds.
    pub seconds: f64,
    /// Projects held in memory at the end.
    pub cached: usize,
    /// This process's resident memory at the end, KiB (Linux; 0 elsewhere).
    pub rss_kib: u64,
}

/// Serves random reads and commands on projects a [`run`] made (ids
/// `{prefix}-c{client}-p{n}` for `clients` × `projects`): of every ten operations, one
/// reports a milestone that is ready (a command written to the store), the others read a
/// project. What it measures is the memory a node needs for a store of many projects,
/// with the cache bound set on `svc`.
///
/// # Errors
/// The store failed.
pub fn probe<S: Store + ?Sized>(
    svc: &Service<S>,
    load: &Load,
    operations: u64,
    now: NaiveDateTime,
) -> Result<Probe, Error> {
    use rand::{Rng, SeedableRng};
    let mut rng = rand_chacha::ChaCha8Rng::seed_from_u64(7);
    let started = Instant::now();
    let mut out = Probe::default();
    for n in 0..operations {
        let id = format!(
            "{}-c{}-p{}",
            load.prefix,
            rng.random_range(0..load.clients.max(1)),
            rng.random_range(0..load.projects.max(1))
        );
        if n % 10 == 0 {
            let ready = svc.with_project(&id, |p| {
                let plan = svc.plan(p.version())?;
                p.tasks()
                    .iter()
                    .enumerate()
                    .find(|(i, t)| {
                        t.state == TaskState::Ready && plan.items[*i].kind == ItemKind::Milestone
                    })
                    .map(|(i, _)| plan.items[i].id.clone())
            });
            if let Some(Some(item)) = ready {
                let cmd = Command::ReportMilestone {
                    item: item.clone(),
                    numbers: Default::default(),
                };
                let rid = format!("{id}/{item}/report");
                if let Ok(Ok(_)) = svc.execute(&rid, &id, &Actor::Window, cmd, now) {
                    out.commands += 1;
                }
                continue;
            }
        }
        if svc.with_project(&id, |p| p.seq()).is_some() {
            out.reads += 1;
        }
    }
    out.seconds = started.elapsed().as_secs_f64();
    out.cached = svc.cached();
    out.rss_kib = std::fs::read_to_string("/proc/self/status")
        .ok()
        .and_then(|s| {
            s.lines()
                .find_map(|l| l.strip_prefix("VmRSS:"))
                .and_then(|v| v.trim().trim_end_matches("kB").trim().parse().ok())
        })
        .unwrap_or(0);
    Ok(out)
}

/// The numbers a department without a numbering pattern writes by hand on what `item`
/// issues (one per document, unique to the project); none where the department has a
/// pattern, whose register then draws them.
fn hand_numbers(
    plan: &onewindow_core::plan::Plan,
    item: &onewindow_core::plan::Item,
    project: &str,
) -> std::collections::BTreeMap<String, String> {
    let numbered = item
        .department
        .is_some_and(|d| plan.departments[d].numbering.is_some());
    if numbered {
        return Default::default();
    }
    item.produces
        .iter()
        .map(|&d| {
            let doc = &plan.documents[d].id;
            (doc.clone(), format!("{project}/{doc}"))
        })
        .collect()
}
