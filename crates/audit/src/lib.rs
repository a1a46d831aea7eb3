//! The audit trail: showing that the record was not changed after it was written.
//!
//! Three layers, each stopping what the one before cannot:
//! - the chain (`store::chain`): every event carries the hash of its project's log before
//!   it, so changing, removing or reordering an event breaks the link after it;
//! - the snapshots carry the chain's value where they were taken, a second, unsigned
//!   witness;
//! - signed checkpoints ([`checkpoint`]): every project's head and chain value at one
//!   moment, signed with the server's Ed25519 key and chained to the checkpoint before,
//!   so that even the last events of a log, and a log rewritten whole, show once a
//!   checkpoint has covered them — and one exported to an outside party cannot be
//!   replaced by whoever holds the database and the key.
//!
//! [`verify`] recomputes all of it from a store (any backend) and names the first broken
//! link of each project; [`take`] makes a checkpoint; a node's [`Witness`] remembers the
//! newest checkpoint it signed or saw, outside the database, so that even the newest one
//! cannot be removed unnoticed. [`document`] seals the documents
//! approvals issue with their department's key. Guide: docs/security.md.

#![deny(missing_docs)]

pub mod checkpoint;
pub mod document;
pub mod witness;

use std::collections::{BTreeMap, HashMap};

use chrono::NaiveDateTime;
use ed25519_dalek::{SigningKey, VerifyingKey};

pub use checkpoint::{Checkpoint, Head};
use onewindow_engine::{ChainHash, Envelope, Project};
use onewindow_store::{chain, codec, Error, ReadStore, WriteStore};
pub use witness::Witness;

/// One broken link: where, and what differs.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Break {
    /// The project (or `checkpoint N` for a checkpoint's own problem).
    pub project: String,
    /// The event where the record stops holding (0: the project as a whole).
    pub seq: u64,
    /// What differs, in words.
    pub what: String,
}

impl std::fmt::Display for Break {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self.seq {
            0 => write!(f, "{}: {}", self.project, self.what),
            s => write!(f, "{}, event {s}: {}", self.project, self.what),
        }
    }
}

/// What [`verify`] found.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Report {
    /// Projects whose logs were read.
    pub projects: u64,
    /// Events hashed.
    pub events: u64,
    /// Events written before the chain began (no `prev`): hashed all the same, and
    /// covered by the first sealed event after them and by the checkpoints.
    pub unsealed: u64,
    /// Checkpoints checked.
    pub checkpoints: u64,
    /// Checkpoints whose signature was checked against a trusted key (not only the key
    /// they name).
    pub trusted: bool,
    /// The first broken link of each project, then the checkpoints' problems.
    pub breaks: Vec<Break>,
    /// Where each unbroken log ends, with its chain value (what a checkpoint signs).
    pub heads: Vec<Head>,
}

impl Report {
    /// Nothing broken.
    pub fn intact(&self) -> bool {
        self.breaks.is_empty()
    }
}

/// The checkpoints a store holds, decoded; one that does not decode is a break.
///
/// # Errors
/// The store cannot be read.
pub fn stored_checkpoints(
    store: &(impl ReadStore + ?Sized),
    breaks: &mut Vec<Break>,
) -> Result<Vec<Checkpoint>, Error> {
    let mut out = Vec::new();
    for (k, body) in store.checkpoints()?.into_iter().enumerate() {
        match serde_json::from_slice::<Checkpoint>(&body) {
            Ok(c) => out.push(c),
            Err(e) => breaks.push(Break {
                project: format!("checkpoint #{}", k + 1),
                seq: 0,
                what: format!("does not decode: {e}"),
            }),
        }
    }
    Ok(out)
}

/// Checks the checkpoints among themselves: numbered from 1 without a gap, each naming
/// the one before, each signed (by `trusted` when given) over heads it commits to.
fn check_checkpoints(checkpoints: &[Checkpoint], trusted: Option<&VerifyingKey>) -> Vec<Break> {
    let mut breaks = Vec::new();
    let mut previous = ChainHash::GENESIS;
    for (k, c) in checkpoints.iter().enumerate() {
        let name = format!("checkpoint {}", c.number);
        let mut bad = |what: String| {
            breaks.push(Break {
                project: name.clone(),
                seq: 0,
                what,
            })
        };
        if c.number != k as u64 + 1 {
            bad(format!(
                "found where checkpoint {} should be (one removed?)",
                k + 1
            ));
        }
        if c.previous != previous {
            bad(format!(
                "names {} as the checkpoint before it, which is {previous}",
                c.previous
            ));
        }
        match c.check(trusted) {
            Err(checkpoint::Error::Signature { what, .. }) => bad(what),
            Err(e) => bad(e.to_string()),
            Ok(()) => {}
        }
        if c.heads.is_empty() && c.projects > 0 {
            bad("its heads are missing".into());
        }
        previous = c.digest();
    }
    breaks
}

/// One project's log against its chain, its snapshot, its head and the checkpoints.
fn verify_log(
    project: &str,
    events: &[Envelope],
    head: Option<u64>,
    snapshot: Option<(u64, Option<ChainHash>)>,
    signed: &[(u64, ChainHash, String)],
) -> Result<(u64, Result<ChainHash, Break>), Error> {
    let broken = |seq: u64, what: String| {
        Err(Break {
            project: project.to_string(),
            seq,
            what,
        })
    };
    let mut chain = ChainHash::GENESIS;
    let mut sealed_from = None;
    let mut unsealed = 0;
    let mut at = HashMap::new();
    let wanted: std::collections::HashSet<u64> = signed
        .iter()
        .map(|s| s.0)
        .chain(snapshot.map(|s| s.0))
        .collect();
    for (k, e) in events.iter().enumerate() {
        let expected = k as u64 + 1;
        if e.seq != expected {
            let later = events[k..].iter().any(|e| e.seq == expected);
            let what = match later {
                true => format!("out of order: event {} stands in its place", e.seq),
                false => format!("missing: the log goes on with event {}", e.seq),
            };
            return Ok((unsealed, broken(expected, what)));
        }
        if &*e.project != project {
            return Ok((
                unsealed,
                broken(e.seq, format!("belongs to project `{}`", e.project)),
            ));
        }
        match (e.prev.as_deref().copied(), sealed_from) {
            (Some(prev), _) if prev != chain => {
                return Ok((
                    unsealed,
                    broken(
                        e.seq,
                        format!(
                            "its link says the log before it hashes to {prev}, it hashes to \
                             {chain}: event {} or one before it was changed, removed or reordered",
                            e.seq - 1
                        ),
                    ),
                ))
            }
            (Some(_), None) => sealed_from = Some(e.seq),
            (None, Some(from)) => {
                return Ok((
                    unsealed,
                    broken(
                        e.seq,
                        format!("carries no link although the chain began at event {from}"),
                    ),
                ))
            }
            (None, None) => unsealed += 1,
            (Some(_), Some(_)) => {}
        }
        chain = chain::link(&chain, e)?;
        if wanted.contains(&e.seq) {
            at.insert(e.seq, chain);
        }
    }
    let last = events.last().map_or(0, |e| e.seq);
    for (seq, value, number) in signed {
        match at.get(seq) {
            None => {
                return Ok((
                    unsealed,
                    broken(
                        *seq,
                        format!("signed in {number}, but the log ends at event {last}"),
                    ),
                ))
            }
            Some(now) if now != value => {
                return Ok((
                    unsealed,
                    broken(
                        *seq,
                        format!(
                            "the log up to here hashes to {now}, {number} signed \
                             {value}: an event up to this one was changed"
                        ),
                    ),
                ))
            }
            Some(_) => {}
        }
    }
    if let Some((seq, Some(value))) = snapshot {
        if let Some(now) = at.get(&seq).filter(|now| **now != value) {
            return Ok((
                unsealed,
                broken(
                    seq,
                    format!(
                        "the log up to here hashes to {now}, the snapshot taken here recorded \
                         {value}: an event up to this one was changed"
                    ),
                ),
            ));
        }
    }
    // A head read before the log may be behind it (a command committed meanwhile), never
    // ahead: events at the end were removed.
    if let Some(h) = head.filter(|h| *h > last) {
        return Ok((
            unsealed,
            broken(
                last + 1,
                format!(
                    "missing: the project's head says its log ends at event {h}, it ends at {last}"
                ),
            ),
        ));
    }
    Ok((unsealed, Ok(chain)))
}

/// Recomputes every project's chain and checks it against each event's link, the
/// project's snapshot, its head and every stored checkpoint (their signatures by
/// `trusted` when given); the first broken link of each project is reported.
///
/// # Errors
/// The store cannot be read at all (a damaged record is a break, not an error).
pub fn verify(
    store: &(impl ReadStore + ?Sized),
    trusted: Option<&VerifyingKey>,
) -> Result<Report, Error> {
    verify_against(store, trusted, &[])
}

/// [`verify`], and every project's log also against the heads of checkpoints `held`
/// outside the store (exported with their heads): a project whose log no longer hashes
/// to what a held checkpoint signed is named, even when the store's own checkpoints were
/// removed or re-signed. The held checkpoints themselves are compared by the caller.
///
/// # Errors
/// The store cannot be read at all.
pub fn verify_against(
    store: &(impl ReadStore + ?Sized),
    trusted: Option<&VerifyingKey>,
    held: &[Checkpoint],
) -> Result<Report, Error> {
    let mut report = Report {
        trusted: trusted.is_some(),
        ..Report::default()
    };
    let mut checkpoint_breaks = Vec::new();
    let checkpoints = stored_checkpoints(store, &mut checkpoint_breaks)?;
    checkpoint_breaks.extend(check_checkpoints(&checkpoints, trusted));
    report.checkpoints = checkpoints.len() as u64;
    let mut signed: HashMap<&str, Vec<(u64, ChainHash, String)>> = HashMap::new();
    let labelled = checkpoints
        .iter()
        .map(|c| (c, format!("checkpoint {}", c.number)))
        .chain(
            held.iter()
                .map(|c| (c, format!("checkpoint {} (held outside)", c.number))),
        );
    for (c, label) in labelled {
        for h in &c.heads {
            signed
                .entry(h.project.as_str())
                .or_default()
                .push((h.seq, h.chain, label.clone()));
        }
    }
    let heads: BTreeMap<String, u64> = store.heads()?.into_iter().collect();
    let mut seen = std::collections::HashSet::new();
    for project in store.projects()? {
        report.projects += 1;
        let mine = signed.get(project.as_str()).map_or(&[][..], Vec::as_slice);
        let snapshot = store.snapshot(&project).ok().flatten().map(|s| {
            (
                s.seq,
                codec::decode::<Project>(&s.state)
                    .ok()
                    .and_then(|p| p.chain()),
            )
        });
        match store.events(&project, 0) {
            Ok(events) => {
                report.events += events.len() as u64;
                let (unsealed, broken) = verify_log(
                    &project,
                    &events,
                    heads.get(&project).copied(),
                    snapshot,
                    mine,
                )?;
                report.unsealed += unsealed;
                match (broken, events.last()) {
                    (Ok(chain), Some(last)) => report.heads.push(Head {
                        project: project.clone(),
                        seq: last.seq,
                        chain,
                    }),
                    (Ok(_), None) => {}
                    (Err(b), _) => report.breaks.push(b),
                }
            }
            Err(Error::Corrupt(what)) => report.breaks.push(Break {
                project: project.clone(),
                seq: 0,
                what: format!("a stored event does not decode ({what})"),
            }),
            Err(e) => return Err(e),
        }
        seen.insert(project);
    }
    for (project, list) in &signed {
        if !seen.contains(*project) {
            let number = list.first().map_or("", |s| s.2.as_str());
            report.breaks.push(Break {
                project: project.to_string(),
                seq: 0,
                what: format!("signed in {number}, but the store has no such project"),
            });
        }
    }
    report.breaks.extend(checkpoint_breaks);
    Ok(report)
}

/// What [`take`] did: the verification it ran first, and the checkpoint it signed.
#[derive(Debug)]
pub struct Taken {
    /// The record verified (its breaks, when there are any).
    pub report: Report,
    /// The checkpoint signed and stored; `None` when the record does not verify (a
    /// broken record is never signed) or nothing happened since the last one.
    pub checkpoint: Option<Checkpoint>,
}

/// Takes a checkpoint now: every project's head and chain value (each project's log read
/// and hashed), signed and stored as the next number — only when the record verifies,
/// the store still holds what `witness` remembers, and something happened since the last
/// one. The witness then remembers the checkpoint signed (or the newest seen).
///
/// # Errors
/// The store cannot be read or written, the witness cannot be read or written, or
/// another node took the number meanwhile.
pub fn take(
    store: &(impl ReadStore + WriteStore + ?Sized),
    key: &SigningKey,
    at: NaiveDateTime,
    witness: Option<&Witness>,
) -> Result<Taken, Error> {
    let mut report = verify(store, Some(&key.verifying_key()))?;
    let mut none = Vec::new();
    let previous = stored_checkpoints(store, &mut none)?;
    if let Some(w) = witness {
        report.breaks.extend(w.check(&previous)?);
    }
    if !report.intact() {
        return Ok(Taken {
            report,
            checkpoint: None,
        });
    }
    let heads = std::mem::take(&mut report.heads);
    let last = previous.last();
    if last.is_some_and(|l| l.heads_hash == checkpoint::heads_hash(&heads)) {
        if let (Some(w), Some(l)) = (witness, last) {
            w.remember(l)?;
        }
        return Ok(Taken {
            report,
            checkpoint: None,
        });
    }
    let number = last.map_or(1, |l| l.number + 1);
    let previous = last.map_or(ChainHash::GENESIS, Checkpoint::digest);
    let c = Checkpoint::sign(key, number, at, previous, heads);
    let body = serde_json::to_vec(&c).map_err(|e| Error::Corrupt(e.to_string()))?;
    match store.put_checkpoint(number, &body)? {
        true => {
            if let Some(w) = witness {
                w.remember(&c)?;
            }
            Ok(Taken {
                report,
                checkpoint: Some(c),
            })
        }
        false => Err(Error::Inconsistent(format!(
            "checkpoint {number} was taken meanwhile (by another node)"
        ))),
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use onewindow_store::fixtures::event;

    fn sealed(from: u64, to: u64, legacy: &[Envelope]) -> Vec<Envelope> {
        let mut chain = chain::replay(ChainHash::GENESIS, legacy).unwrap();
        let mut events: Vec<Envelope> = (from..=to).map(|s| event("p", s)).collect();
        chain::seal(&mut chain, &mut events).unwrap();
        legacy.iter().cloned().chain(events).collect()
    }

    fn check(
        events: &[Envelope],
        head: u64,
        signed: &[(u64, ChainHash, String)],
    ) -> Result<ChainHash, Break> {
        verify_log("p", events, Some(head), None, signed).unwrap().1
    }

    #[test]
    fn a_log_begun_before_the_chain_verifies_from_where_it_began() {
        let legacy: Vec<Envelope> = (1..=3).map(|s| event("p", s)).collect();
        let log = sealed(4, 6, &legacy);
        let (unsealed, result) = verify_log("p", &log, Some(6), None, &[]).unwrap();
        assert_eq!(unsealed, 3);
        assert_eq!(
            result.unwrap(),
            chain::replay(ChainHash::GENESIS, &log).unwrap()
        );
        // The first sealed event commits to the whole legacy prefix.
        let mut changed = log.clone();
        changed[0].at += chrono::Duration::minutes(1);
        let b = check(&changed, 6, &[]).unwrap_err();
        assert_eq!(b.seq, 4, "{b}");
        // Once begun, an event without a link is a break.
        let mut stripped = log.clone();
        stripped[4].prev = None;
        let b = check(&stripped, 6, &[]).unwrap_err();
        assert_eq!(
            (b.seq, b.what.contains("began at event 4")),
            (5, true),
            "{b}"
        );
    }

    #[test]
    fn removed_reordered_and_cut_logs_are_named() {
        let log = sealed(1, 6, &[]);
        let mut removed = log.clone();
        removed.remove(2);
        let b = check(&removed, 6, &[]).unwrap_err();
        assert!(b.seq == 3 && b.what.starts_with("missing"), "{b}");
        let mut swapped = log.clone();
        swapped.swap(2, 3);
        let b = check(&swapped, 6, &[]).unwrap_err();
        assert!(b.seq == 3 && b.what.starts_with("out of order"), "{b}");
        // The last event removed and nothing else: the head, and a checkpoint, say so.
        let cut = &log[..5];
        let b = check(cut, 6, &[]).unwrap_err();
        assert!(b.seq == 6 && b.what.contains("head says"), "{b}");
        let end = chain::replay(ChainHash::GENESIS, &log).unwrap();
        let b = check(cut, 5, &[(6, end, "checkpoint 1".to_string())]).unwrap_err();
        assert!(b.what.contains("signed in checkpoint 1"), "{b}");
        // A head read before a commit landed is behind the log, which is no break.
        assert!(check(&log, 5, &[(6, end, "checkpoint 1".to_string())]).is_ok());
        // The last event changed: only the checkpoint can tell.
        let mut last = log.clone();
        last[5].at += chrono::Duration::days(-365);
        assert!(check(&last, 6, &[]).is_ok());
        let b = check(&last, 6, &[(6, end, "checkpoint 1".to_string())]).unwrap_err();
        assert!(b.seq == 6 && b.what.contains("checkpoint 1 signed"), "{b}");
    }

    /// A project whose log was written before the chain began (events without links,
    /// committed as an older build did) is restored by the service, goes on chained, and
    /// verifies, its old events counted; a checkpoint then covers all of it.
    #[test]
    fn a_project_begun_before_the_chain_goes_on_chained() {
        use onewindow_engine::{Actor, Command, Policy, Submission};
        use onewindow_store::memory::MemoryStore;
        use onewindow_store::service::Service;
        use onewindow_store::Commit;
        use std::sync::Arc;
        let root = std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("../..");
        let (plan, _) =
            onewindow_core::plan::compile_file(&root.join("workflows/construction-parallel.yaml"))
                .unwrap();
        let plan = Arc::new(plan);
        let form = onewindow_core::form::Form::load(
            &root.join("workflows/forms/industrial-project.yaml"),
            &plan.fields,
        )
        .unwrap()
        .values;
        let store = Arc::new(MemoryStore::new());
        let (svc, _) = Service::start(store.clone(), Policy::default()).unwrap();
        svc.deploy(onewindow_core::plan::Plan::clone(&plan))
            .unwrap();
        let now: NaiveDateTime = "2025-03-03T09:00:00".parse().unwrap();
        // The old build's commits: the engine's events as they come, unsealed.
        let mut state = None;
        let materials = plan
            .materials
            .iter()
            .map(|m| onewindow_engine::MaterialRef::named(&m.id))
            .collect();
        let submit = Command::Submit {
            version: plan.version.clone(),
            submission: Submission {
                applicant: "old".into(),
                agent: None,
                form,
                materials,
                site: None,
            },
        };
        let milestone = |item: &str| Command::ReportMilestone {
            item: item.into(),
            numbers: Default::default(),
        };
        let mut legacy = 0;
        for command in [submit, milestone("A01")] {
            let base = state.as_ref().map(|p: &Project| p.seq());
            let (out, _) = onewindow_engine::execute(
                &mut state,
                "L1",
                |_| Some(plan.clone()),
                &Policy::default(),
                &Actor::Window,
                command,
                now,
            )
            .unwrap();
            assert!(out.events.iter().all(|e| e.prev.is_none()));
            legacy += out.events.len() as u64;
            store
                .commit(Commit {
                    project: "L1".into(),
                    base,
                    events: out.events,
                    ..Commit::default()
                })
                .unwrap();
        }
        // This build: the service restores it and seals what follows.
        let receipt = svc
            .execute("r1", "L1", &Actor::Window, milestone("R01"), now)
            .unwrap()
            .unwrap();
        let stored = store.events("L1", 0).unwrap();
        let before = chain::replay(ChainHash::GENESIS, &stored[..legacy as usize]).unwrap();
        assert_eq!(
            receipt.events[0].prev.as_deref(),
            Some(&before),
            "the first sealed event commits to the whole log before it"
        );
        let report = verify(&*store, None).unwrap();
        assert!(report.intact(), "{:?}", report.breaks);
        assert_eq!(
            (report.events, report.unsealed),
            (stored.len() as u64, legacy)
        );
        let key = SigningKey::from_bytes(&[9; 32]);
        let c = take(&*store, &key, now, None)
            .unwrap()
            .checkpoint
            .expect("a checkpoint");
        assert_eq!(c.events, stored.len() as u64);
        let again = take(&*store, &key, now, None).unwrap();
        assert!(
            again.report.intact() && again.checkpoint.is_none(),
            "nothing new"
        );
        assert!(verify(&*store, Some(&key.verifying_key()))
            .unwrap()
            .intact());
    }

    #[test]
    fn checkpoints_chain_and_a_removed_one_shows() {
        let key = SigningKey::from_bytes(&[3; 32]);
        let [one, two, three]: [Checkpoint; 3] = checkpoint::chained_for_tests(&key, &[3, 5, 7])
            .try_into()
            .unwrap();
        let vk = key.verifying_key();
        assert!(
            check_checkpoints(&[one.clone(), two.clone(), three.clone()], Some(&vk)).is_empty()
        );
        let breaks = check_checkpoints(&[one, three], Some(&vk));
        assert_eq!(breaks.len(), 2, "{breaks:?}");
        assert!(breaks[0].what.contains("should be"));
        assert!(breaks[1].what.contains("as the checkpoint before it"));
    }
}
