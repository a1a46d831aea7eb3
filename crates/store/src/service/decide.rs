//! Deciding one command under its project's lock and writing it: the engine run on the
//! state in place, the time of record read in the zone of the project's calendar, the
//! numbers drawn, the events stamped with their offset and sealed into the chain, and
//! the commit (events, snapshot, index changes, answer, draws) handed to the store.

use super::*;

impl<S: Store + ?Sized> Service<S> {
    /// Decides a command under the lock of its project's slot and writes it.
    #[allow(clippy::too_many_arguments)]
    pub(super) fn decide(
        &self,
        slot: &Mutex<Slot>,
        key: &str,
        fingerprint: &str,
        project: &str,
        actor: &Actor,
        command: Command,
        when: When<'_>,
        optimistic: bool,
    ) -> Result<Prepared, Error> {
        let mut slot = slot.lock().map_err(lock_err)?;
        if !optimistic {
            if let Some(replayed) = self.replay(key, fingerprint)? {
                return Ok(replayed);
            }
        }
        // Read under the project's lock: one project's commands are stamped in the order
        // they are decided, so its record never goes back.
        // Days are counted in the zone of the project's calendar (of the version a
        // submission names).
        let version = match (&slot.project, &command) {
            (Some(p), _) => Some(p.version()),
            (None, Command::Submit { version, .. }) => Some(version.as_str()),
            (None, _) => None,
        };
        let zone = version
            .and_then(|v| self.plan(v))
            .map_or(onewindow_core::calendar::DEFAULT_ZONE, |p| {
                p.calendar.zone()
            });
        let (now, offset) = when.read(zone);

        // The engine runs on the state in place: it decides every refusal before it
        // changes anything, so a refused command leaves the state as it was. Only what the
        // index depends on is kept from before (copying whole projects cost more than the
        // engine itself).
        let before = slot.project.as_ref().map(indexed);
        let seq_before = slot.project.as_ref().map_or(0, |p| p.seq());
        let mut command = command;
        let drawn = self.draw(
            slot.project.as_ref(),
            &mut command,
            chrono::Datelike::year(&now),
        )?;
        let decided = onewindow_engine::execute(
            &mut slot.project,
            project,
            |v| self.plan(v),
            &self.policy,
            actor,
            command,
            now,
        );

        match decided {
            // Not the command's doing: decided afresh when retried. (Unless the request
            // was answered before, perhaps by a node whose clock was ahead: then that
            // answer.)
            Err(refusal) if refusal.is_about_the_clock() => match optimistic {
                true => Ok(self
                    .replay(key, fingerprint)?
                    .unwrap_or((Err(refusal), Durable::ready()))),
                false => Ok((Err(refusal), Durable::ready())),
            },
            Err(refusal) => {
                let durable = self.store.commit_deferred(Commit {
                    project: project.to_string(),
                    base: Some(seq_before),
                    request: Some((
                        key.to_string(),
                        Recorded {
                            command: fingerprint.to_string(),
                            answer: Answer::Refused(refusal.clone()),
                        },
                    )),
                    ..Commit::default()
                })?;
                Ok((Err(refusal), durable))
            }
            Ok((mut out, plan)) => {
                let next = slot
                    .project
                    .as_mut()
                    .ok_or_else(|| Error::Inconsistent("a command left no project".into()))?;
                // The audit chain: each event linked to the log before it (a project
                // restored is always chained; a new one starts from the genesis).
                // The instant made absolute: the clock's offset on every event, before the
                // chain commits to them.
                for e in &mut out.events {
                    e.offset = offset;
                }
                let mut chain = next.chain().unwrap_or(ChainHash::GENESIS);
                crate::chain::seal(&mut chain, &mut out.events)?;
                next.seal(chain);
                let next = &*next;
                let (unindex, index) = match migrated_from(&out) {
                    // A new layout: the old version's entries go, the new one's come.
                    Some(from) => {
                        let old = self.plan(from).ok_or_else(|| {
                            Error::Inconsistent(format!("version {from} missing"))
                        })?;
                        (
                            entries_of(&old, project, before.as_deref().unwrap_or_default()),
                            crate::index::index_of(&plan, next),
                        )
                    }
                    None => index_diff(&plan, before.as_deref(), next),
                };
                let first = out.events.first().map_or(next.seq(), |e| e.seq);
                let last = out.events.last().map_or(next.seq(), |e| e.seq);
                let crossed = seq_before / self.snapshot_every != next.seq() / self.snapshot_every;
                let snapshot = if crossed {
                    Some(Snapshot {
                        seq: next.seq(),
                        state: codec::encode(next)?,
                    })
                } else {
                    None
                };
                let committed = self.store.commit_deferred(Commit {
                    project: project.to_string(),
                    base: Some(seq_before),
                    events: out.events.clone(),
                    snapshot,
                    unindex,
                    index,
                    request: Some((
                        key.to_string(),
                        Recorded {
                            command: fingerprint.to_string(),
                            answer: Answer::Applied {
                                project: project.to_string(),
                                first,
                                last,
                            },
                        },
                    )),
                    drawn: drawn.clone(),
                });
                let durable = match committed {
                    Ok(d) => {
                        self.in_flight_drawn(&drawn);
                        d
                    }
                    Err(e) => {
                        // The state in memory is ahead of the store now. On a store of
                        // its own the service refuses everything until it is opened again
                        // from the store; on a shared one the project is forgotten (by
                        // the caller, once this lock is released) and read again.
                        // A stale state (`Inconsistent`) is refused before anything is
                        // written: that is not a failure of the store.
                        if !self.store.shared()
                            && !matches!(e, Error::Inconsistent(_) | Error::Drawn(_))
                        {
                            self.failed.store(true, std::sync::atomic::Ordering::SeqCst);
                        }
                        // The state in memory went ahead of the store: forget it now,
                        // before anyone else reads it.
                        self.evict(project);
                        return Err(e);
                    }
                };
                let receipt = Receipt {
                    project: project.to_string(),
                    events: out.events,
                    effects: out.effects,
                    replayed: false,
                };
                Ok((Ok(receipt), durable))
            }
        }
    }
}
