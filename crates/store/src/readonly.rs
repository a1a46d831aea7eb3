//! A sled data directory opened for reading only: [`open_read_only`].
//!
//! Why a copy: sled has no read-only mode. Opening a directory recovers its log and
//! writes a fresh snapshot file into it, so a verification that opened the record
//! itself would change the files it was asked to vouch for (and their modification
//! times, which an investigator may rely on). The files are copied, under a shared lock
//! on sled's own `db` file — refused while a server holds the directory, and keeping
//! one from starting meanwhile — into a private temporary directory, and the copy is
//! opened; it is removed when the store is dropped. The original is only read.

use std::path::Path;

use super::disk::{Flush, SledStore};
use super::Error;

/// Opens a private copy of the sled directory `dir`; `dir` itself is never written.
///
/// # Errors
/// [`Error::Foreign`] when `dir` holds no sled database, [`Error::Backend`] when a
/// server has it open or it cannot be copied, and whatever [`SledStore::open`] says of
/// the copy.
pub fn open_read_only(dir: &Path) -> Result<SledStore, Error> {
    let backend = |what: String| Error::Backend(what);
    let db = dir.join("db");
    if !db.is_file() {
        return Err(Error::Foreign(format!(
            "{} holds no onewindow data (no sled database)",
            dir.display()
        )));
    }
    let held = std::fs::File::open(&db).map_err(|e| backend(format!("{}: {e}", db.display())))?;
    match held.try_lock_shared() {
        Ok(()) => {}
        Err(std::fs::TryLockError::WouldBlock) => {
            return Err(backend(format!(
                "{} is open in a running server: stop it, or ask the server (`audit verify-live`)",
                dir.display()
            )))
        }
        Err(std::fs::TryLockError::Error(e)) => {
            return Err(backend(format!("{}: {e}", db.display())))
        }
    }
    let scratch = tempfile::Builder::new()
        .prefix("onewindow-readonly-")
        .tempdir()
        .map_err(|e| backend(format!("a private copy: {e}")))?;
    copy_tree(dir, scratch.path())
        .map_err(|e| backend(format!("copying {}: {e}", dir.display())))?;
    drop(held);
    Ok(SledStore::open(scratch.path(), Flush::Group)?.keeping(scratch))
}

/// Copies the files and directories under `from` into `to` (which exists).
fn copy_tree(from: &Path, to: &Path) -> std::io::Result<()> {
    for entry in std::fs::read_dir(from)? {
        let entry = entry?;
        let target = to.join(entry.file_name());
        let kind = entry.file_type()?;
        if kind.is_dir() {
            std::fs::create_dir(&target)?;
            copy_tree(&entry.path(), &target)?;
        } else if kind.is_file() {
            std::fs::copy(entry.path(), &target)?;
        }
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::{Commit, ReadStore, WriteStore};

    /// Every file's bytes and modification time under `dir`.
    fn files(dir: &Path) -> Vec<(std::path::PathBuf, Vec<u8>, std::time::SystemTime)> {
        let mut out = Vec::new();
        for e in walk(dir) {
            let meta = std::fs::metadata(&e).unwrap();
            out.push((
                e.clone(),
                std::fs::read(&e).unwrap(),
                meta.modified().unwrap(),
            ));
        }
        out.sort_by(|a, b| a.0.cmp(&b.0));
        out
    }

    fn walk(dir: &Path) -> Vec<std::path::PathBuf> {
        let mut out = Vec::new();
        for e in std::fs::read_dir(dir).unwrap() {
            let p = e.unwrap().path();
            match p.is_dir() {
                true => out.extend(walk(&p)),
                false => out.push(p),
            }
        }
        out
    }

    #[test]
    fn reads_without_writing_and_is_refused_while_open() {
        let dir = tempfile::tempdir().unwrap();
        {
            let store = SledStore::open(dir.path(), Flush::Group).unwrap();
            store
                .commit(Commit {
                    project: "P-1".into(),
                    events: vec![crate::fixtures::event("P-1", 1)],
                    ..Commit::default()
                })
                .unwrap();
            // Open in a server: refused, not copied half-written.
            let err = open_read_only(dir.path()).err().unwrap().to_string();
            assert!(err.contains("running server"), "{err}");
        }
        let before = files(dir.path());
        let copy = open_read_only(dir.path()).unwrap();
        assert_eq!(copy.projects().unwrap(), vec!["P-1".to_string()]);
        drop(copy);
        assert_eq!(files(dir.path()), before, "the original was written");
        let empty = tempfile::tempdir().unwrap();
        assert!(matches!(
            open_read_only(empty.path()),
            Err(Error::Foreign(_))
        ));
    }
}
