//! [`Service::verify`]: the engine's invariants checked over every stored log.

use std::collections::BTreeMap;

use super::Service;
use crate::{Error, Store};

impl<S: Store + ?Sized> Service<S> {
    /// The engine's invariants, checked over every project's stored log: contiguous
    /// sequence numbers from 1, a submission first, no item approved twice, and the state
    /// in memory equal to the fold of the log.
    ///
    /// # Errors
    /// The first violation, described.
    pub fn verify(&self) -> Result<BTreeMap<String, u64>, Error> {
        let mut counts = BTreeMap::new();
        for id in self.store.projects()? {
            let events = self.store.events(&id, 0)?;
            for (k, e) in events.iter().enumerate() {
                if e.seq != k as u64 + 1 {
                    return Err(Error::Inconsistent(format!(
                        "{id}: event {} at position {}",
                        e.seq,
                        k + 1
                    )));
                }
            }
            let Some(first) = events.first() else {
                continue;
            };
            let onewindow_engine::Event::Submitted { version, .. } = &first.event else {
                return Err(Error::Inconsistent(format!(
                    "{id}: log does not start with a submission"
                )));
            };
            let missing = |v: &str| Error::Inconsistent(format!("{id}: version {v} missing"));
            self.plan(version).ok_or_else(|| missing(version))?;
            // Approved once per round: a return, a recall or a re-opening voids the
            // decision, and only then may the item be approved again.
            let mut approved = std::collections::HashSet::new();
            for e in &events {
                use onewindow_engine::Event as E;
                match &e.event {
                    E::TaskApproved { item, .. } if !approved.insert(item.clone()) => {
                        return Err(Error::Inconsistent(format!("{id}: {item} approved twice")));
                    }
                    E::Returned { item, .. }
                    | E::Reopened { item, .. }
                    | E::Recalled { item, .. } => {
                        approved.remove(item);
                    }
                    _ => {}
                }
            }
            let mut folded = onewindow_engine::fold_versions(|v| self.plan(v), &events)
                .ok_or_else(|| missing("of a migration"))?;
            // The chain is the store's, not the engine's: the fold does not compute it.
            folded.seal(crate::chain::replay(
                onewindow_engine::ChainHash::GENESIS,
                &events,
            )?);
            if self.project(&id).as_ref() != Some(&folded) {
                return Err(Error::Inconsistent(format!(
                    "{id}: state differs from the fold of its log"
                )));
            }
            counts.insert(id, events.len() as u64);
        }
        Ok(counts)
    }
}
