//! The sled store's own rules: the redo of an interrupted commit, the format upgrade.

use super::*;
use crate::fixtures::{deadline, event, open};

fn commit(seqs: &[u64], unindex: Vec<IndexKey>, index: Vec<IndexKey>, req: &str) -> Commit {
    Commit {
        project: "p".into(),
        base: None,
        events: seqs.iter().map(|&s| event("p", s)).collect(),
        snapshot: None,
        unindex,
        index,
        request: Some((
            req.into(),
            Recorded {
                command: format!("command of {req}"),
                answer: Answer::Applied {
                    project: "p".into(),
                    first: seqs[0],
                    last: *seqs.last().expect("events"),
                },
            },
        )),
        drawn: Vec::new(),
    }
}

/// A number drawn by a commit whose register write was lost in a crash: opening moves
/// the register on again from the record, so the next draw does not issue it twice.
#[test]
fn opening_redoes_a_draw_and_a_stale_draw_writes_nothing() {
    let dir = tempfile::tempdir().expect("a temporary directory");
    let drawn = |from, to| crate::Drawn {
        register: "plan/2026".into(),
        from,
        to,
    };
    {
        let s = SledStore::open(dir.path(), Flush::Group).expect("opens");
        let mut c = commit(&[1], vec![], vec![], "r1");
        c.drawn = vec![drawn(0, 2)];
        s.commit(c).expect("commits");
        assert_eq!(s.register("plan/2026").expect("reads"), 2);
        // Another writer read the register before: refused, nothing written.
        let mut stale = commit(&[2], vec![], vec![], "r2");
        stale.drawn = vec![drawn(0, 1)];
        let e = s.commit(stale).expect_err("stale");
        assert!(e.to_string().contains("stands at 2"), "{e}");
        assert!(s.answer("r2").expect("reads").is_none());
        // The register write lost, the commit marked in flight.
        s.tree.remove(key(b"n/", &[b"plan/2026"])).expect("removes");
        s.tree.insert(key(b"x/", &[b"p"]), &[]).expect("inserts");
        s.db.flush().expect("flushes");
    }
    let s = SledStore::open(dir.path(), Flush::Group).expect("reopens");
    assert_eq!(s.register("plan/2026").expect("reads"), 2);
}

/// A crash between the record and what follows it: opening redoes the rest.
#[test]
fn opening_redoes_a_commit_interrupted_after_its_record() {
    let dir = tempfile::tempdir().expect("a temporary directory");
    let (a, d) = (open("D", "p", "A"), deadline("2025-06-10", "p", "A"));
    {
        let s = SledStore::open(dir.path(), Flush::Group).expect("opens");
        s.commit(commit(&[1, 2], vec![], vec![a.clone()], "r1"))
            .expect("commits");
        s.commit(commit(&[3], vec![a.clone()], vec![d.clone()], "r2"))
            .expect("commits");
        // Undo everything the second commit wrote after its record, and register a
        // project whose first record never landed.
        s.tree.remove(key(b"r/", &[b"r2"])).expect("removes");
        s.tree.insert(index_key(&a), &[]).expect("inserts");
        s.tree.remove(index_key(&d)).expect("removes");
        s.tree.insert(key(b"p/", &[b"q"]), &[]).expect("inserts");
        // Both were being written when the store stopped.
        s.tree.insert(key(b"x/", &[b"p"]), &[]).expect("inserts");
        s.tree.insert(key(b"x/", &[b"q"]), &[]).expect("inserts");
        s.db.flush().expect("flushes");
    }
    let s = SledStore::open(dir.path(), Flush::Group).expect("reopens");
    assert_eq!(
        s.recovery(),
        Recovery {
            projects: 2,
            answers: 1,
            index_entries: 2,
            empty_projects: 1
        }
    );
    assert_eq!(
        s.answer("r2").expect("reads"),
        Some(Recorded {
            command: "command of r2".into(),
            answer: Answer::Applied {
                project: "p".into(),
                first: 3,
                last: 3
            }
        }),
        "the redone answer is bound to its command"
    );
    assert_eq!(s.index().expect("reads"), [d]);
    assert_eq!(s.projects().expect("reads"), ["p"]);
    // The head was found again: the log continues at 4 and nowhere else.
    assert!(s.commit(commit(&[3], vec![], vec![], "r3")).is_err());
    s.commit(commit(&[4], vec![], vec![], "r4"))
        .expect("continues");
    drop(s);
    let s = SledStore::open(dir.path(), Flush::Group).expect("reopens");
    assert_eq!(
        s.recovery(),
        Recovery::default(),
        "a clean store needs nothing redone, and opening reads no project"
    );
    let seqs: Vec<u64> = s
        .events("p", 0)
        .expect("reads")
        .iter()
        .map(|e| e.seq)
        .collect();
    assert_eq!(seqs, [1, 2, 3, 4]);
}

/// A store of the previous format (no stored heads, no in-flight markers) is read once
/// in full when opened, then carries on in the current format.
#[test]
fn a_store_of_the_previous_format_is_upgraded() {
    let dir = tempfile::tempdir().expect("a temporary directory");
    {
        let s = SledStore::open(dir.path(), Flush::Group).expect("opens");
        s.commit(commit(&[1, 2], vec![], vec![], "r1"))
            .expect("commits");
        s.tree.remove(key(b"h/", &[b"p"])).expect("removes");
        s.tree.insert(FORMAT_KEY, FORMAT_2).expect("inserts");
        s.db.flush().expect("flushes");
    }
    let s = SledStore::open(dir.path(), Flush::Group).expect("reopens");
    assert_eq!(s.recovery().projects, 1, "every project read once");
    assert_eq!(s.heads().expect("reads"), [("p".to_string(), 2)]);
    assert!(s.commit(commit(&[2], vec![], vec![], "r2")).is_err());
    s.commit(commit(&[3], vec![], vec![], "r3"))
        .expect("continues");
    drop(s);
    let s = SledStore::open(dir.path(), Flush::Group).expect("reopens");
    assert_eq!(
        s.recovery(),
        Recovery::default(),
        "now in the current format"
    );
}
