//! Opening after a crash: what a commit wrote after its record (the commit point) —
//! head, index entries, answer, registers of numbers — redone from the record of each
//! project marked in flight, and the registers read and moved. Split from `disk.rs`,
//! whose commit writes what this redoes.

use super::*;

/// [`apply_index`] again after a crash: only what is not yet so is written. Returns how
/// many entries changed.
pub(super) fn redo_index(
    tree: &sled::Tree,
    unindex: &[IndexKey],
    index: &[IndexKey],
) -> Result<usize, Error> {
    let mut changed = 0;
    for k in unindex {
        let k = index_key(k);
        if tree.contains_key(&k).map_err(backend)? {
            tree.remove(k).map_err(backend)?;
            changed += 1;
        }
    }
    for k in index {
        let k = index_key(k);
        if !tree.contains_key(&k).map_err(backend)? {
            tree.insert(k, &[]).map_err(backend)?;
            changed += 1;
        }
    }
    Ok(changed)
}

/// The last record of a project's log.
pub(super) fn last_record(tree: &sled::Tree, project: &str) -> Result<Option<Record>, Error> {
    let mut prefix = key(b"e/", &[project.as_bytes()]);
    prefix.push(0);
    tree.scan_prefix(prefix)
        .next_back()
        .map(|kv| codec::decode(&kv.map_err(backend)?.1))
        .transpose()
}

/// Redoes what the last record of each project listed under `prefix` implies (index
/// changes, the answer, the stored head) in case its commit was interrupted after the
/// record landed, and clears the project's in-flight marker. `x/` lists the projects a
/// crash can have interrupted; `p/` every project (opening a store of the previous
/// format, which had no markers and no stored heads).
pub(super) fn recover(tree: &sled::Tree, prefix: &[u8]) -> Result<Recovery, Error> {
    let mut recovery = Recovery::default();
    let listed: Vec<String> = tree
        .scan_prefix(prefix)
        .map(|kv| {
            let k = kv.map_err(backend)?.0;
            String::from_utf8(k[prefix.len()..].to_vec())
                .map_err(|_| Error::Corrupt("project id is not UTF-8".into()))
        })
        .collect::<Result<_, _>>()?;
    for project in listed {
        recovery.projects += 1;
        let marker = key(b"x/", &[project.as_bytes()]);
        let Some(record) = last_record(tree, &project)? else {
            // Registered, but its first record never landed.
            tree.remove(key(b"p/", &[project.as_bytes()]))
                .map_err(backend)?;
            tree.remove(key(b"h/", &[project.as_bytes()]))
                .map_err(backend)?;
            tree.remove(marker).map_err(backend)?;
            recovery.empty_projects += 1;
            continue;
        };
        let (Some(first), Some(last)) = (record.events.first(), record.events.last()) else {
            return Err(Error::Corrupt(format!(
                "project `{project}`: an empty record"
            )));
        };
        recovery.index_entries += redo_index(tree, &record.unindex, &record.index)?;
        redo_drawn(tree, &record.drawn)?;
        if let Some(request) = &record.request {
            let rk = key(b"r/", &[request.as_bytes()]);
            if tree.get(&rk).map_err(backend)?.is_none() {
                let answer = Recorded {
                    command: record.command.clone(),
                    answer: Answer::Applied {
                        project: project.clone(),
                        first: first.seq,
                        last: last.seq,
                    },
                };
                tree.insert(rk, codec::encode(&answer)?).map_err(backend)?;
                recovery.answers += 1;
            }
        }
        tree.insert(
            key(b"h/", &[project.as_bytes()]),
            &last.seq.to_be_bytes()[..],
        )
        .map_err(backend)?;
        tree.remove(marker).map_err(backend)?;
    }
    Ok(recovery)
}

/// Where a register of numbers stands (`0`: nothing drawn yet).
pub(super) fn stored_register(tree: &sled::Tree, register: &str) -> Result<u64, Error> {
    stored_u64(tree, key(b"n/", &[register.as_bytes()]), || {
        format!("register `{register}`: damaged")
    })
}

/// A big-endian number under `k` (`0` when absent).
pub(super) fn stored_u64(
    tree: &sled::Tree,
    k: Vec<u8>,
    damaged: impl FnOnce() -> String,
) -> Result<u64, Error> {
    match tree.get(k).map_err(backend)? {
        None => Ok(0),
        Some(v) => <[u8; 8]>::try_from(v.as_ref())
            .map(u64::from_be_bytes)
            .map_err(|_| Error::Corrupt(damaged())),
    }
}

/// Moves the registers a record drew from to where it left them (never back: a redo
/// after a crash may find a register already moved on).
pub(super) fn redo_drawn(tree: &sled::Tree, drawn: &[crate::Drawn]) -> Result<(), Error> {
    for d in drawn {
        if stored_register(tree, &d.register)? < d.to {
            tree.insert(
                key(b"n/", &[d.register.as_bytes()]),
                &d.to.to_be_bytes()[..],
            )
            .map_err(backend)?;
        }
    }
    Ok(())
}
