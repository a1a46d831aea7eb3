//! The projects a node holds in memory: a bounded cache of the store, most recently used
//! kept.
//!
//! The store is the source of truth; a project not here is read from it (its snapshot,
//! then the log after it) when a command or a query needs it. So a node's memory grows
//! with the projects it works on, not with the city: a province's 100,000 open projects
//! need not all be in RAM on every node.
//!
//! A slot in use (a command deciding on it, a reader holding it) is never dropped: two
//! slots for one project could decide on different states. Dropping one only ever means
//! reading it again.

use std::sync::{Arc, Mutex};

use lru::LruCache;

use onewindow_engine::Project;

/// A project held in memory (`None` while its submission is being decided).
pub(crate) struct Slot {
    pub(crate) project: Option<Project>,
}

/// A shared slot: its lock serializes the project's decisions on this node.
pub(crate) type Shared = Arc<Mutex<Slot>>;

/// The default number of projects a node keeps in memory.
pub const DEFAULT_CAPACITY: usize = 4096;

/// The bounded map from project id to slot.
pub(crate) struct Cache {
    map: LruCache<String, Shared>,
    capacity: usize,
}

impl Cache {
    /// An empty cache holding up to `capacity` projects not in use (at least one).
    pub(crate) fn new(capacity: usize) -> Cache {
        Cache {
            map: LruCache::unbounded(),
            capacity: capacity.max(1),
        }
    }

    /// Changes the bound, dropping what no longer fits.
    pub(crate) fn set_capacity(&mut self, capacity: usize) {
        self.capacity = capacity.max(1);
        self.trim();
    }

    /// The slot of a project held here, now the most recently used.
    pub(crate) fn get(&mut self, id: &str) -> Option<Shared> {
        self.map.get(id).cloned()
    }

    /// The slot of `id`, inserting the one `make` gives if none is held (then trimming).
    pub(crate) fn get_or_insert(&mut self, id: &str, make: impl FnOnce() -> Slot) -> Shared {
        if let Some(s) = self.map.get(id) {
            return s.clone();
        }
        let slot = Arc::new(Mutex::new(make()));
        self.map.put(id.to_string(), slot.clone());
        self.trim();
        slot
    }

    /// Forgets a project.
    pub(crate) fn remove(&mut self, id: &str) {
        self.map.pop(id);
    }

    /// Forgets every project.
    pub(crate) fn clear(&mut self) {
        self.map.clear();
    }

    /// How many projects are held, once the slots over the bound that were in use when
    /// they were passed over (and are no longer) are dropped: a burst of commands may
    /// leave the cache over its bound until the next insertion, and a count should not
    /// report that.
    pub(crate) fn len(&mut self) -> usize {
        self.trim();
        self.map.len()
    }

    /// Drops least recently used slots nobody holds until the bound is met. Slots in use
    /// are passed over (they become the most recent), so the cache may briefly hold more
    /// than its bound while that many commands are in flight.
    fn trim(&mut self) {
        let mut in_use = 0;
        while self.map.len() > self.capacity && in_use < self.map.len() {
            let Some((id, slot)) = self.map.pop_lru() else {
                return;
            };
            // The cache's own reference, and the one just taken out of it.
            if Arc::strong_count(&slot) > 1 {
                self.map.put(id, slot);
                in_use += 1;
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_least_recently_used_slot_not_in_use_goes() {
        let mut c = Cache::new(2);
        let _a = c.get_or_insert("a", || Slot { project: None });
        drop(_a);
        let b = c.get_or_insert("b", || Slot { project: None });
        c.get("a");
        // Over the bound: "b" is the least recently used but held, so "a" goes.
        let _c = c.get_or_insert("c", || Slot { project: None });
        assert!(c.get("b").is_some(), "a slot in use stays");
        assert!(
            c.get("a").is_none(),
            "the least recently used free slot went"
        );
        drop(b);
        c.set_capacity(1);
        assert_eq!(c.len(), 1);
    }
}
