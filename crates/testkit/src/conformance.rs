//! The conformance suite every store backend must pass, written once against
//! `&dyn Store` and run for each backend by the store tests (and by any future backend's
//! own tests). Each check panics with a message naming the broken rule.

use onewindow_engine::Refusal;
use onewindow_store::fixtures::{deadline, event, open};
use onewindow_store::{Answer, Commit, Error, Recorded, Snapshot, Store, StoredWorkflow};

/// Runs every check on fresh stores from `make`.
pub fn run(make: &dyn Fn() -> Box<dyn Store>) {
    empty(&*make());
    log_continuity(&*make());
    snapshots_and_answers(&*make());
    indexes(&*make());
    workflows_are_immutable(&*make());
    calendars_are_replaced(&*make());
    ids_are_checked(&*make());
    callbacks_outbox(&*make());
}

/// A new store has nothing.
pub fn empty(s: &dyn Store) {
    assert!(
        s.projects().unwrap().is_empty(),
        "a new store lists no project"
    );
    assert!(s.events("p", 0).unwrap().is_empty());
    assert!(s.answer("r").unwrap().is_none());
    assert!(s.index().unwrap().is_empty());
    assert!(s.workflows().unwrap().is_empty());
}

/// Logs grow without gaps or duplicates; a commit that would break that writes nothing.
pub fn log_continuity(s: &dyn Store) {
    let c = |p: &str, seqs: &[u64], req: &str| Commit {
        project: p.into(),
        events: seqs.iter().map(|&q| event(p, q)).collect(),
        request: Some((
            req.into(),
            Recorded {
                command: format!("command of {req}"),
                answer: Answer::Applied {
                    project: p.into(),
                    first: seqs[0],
                    last: *seqs.last().unwrap(),
                },
            },
        )),
        ..Commit::default()
    };
    s.commit(c("p1", &[1, 2, 3], "r1")).unwrap();
    s.commit(c("p2", &[1], "r2")).unwrap();
    s.commit(c("p1", &[4], "r3")).unwrap();
    let gap = s.commit(c("p1", &[6], "r4"));
    assert!(
        matches!(gap, Err(Error::Inconsistent(_))),
        "a gap is refused: {gap:?}"
    );
    let dup = s.commit(c("p1", &[4, 5], "r5"));
    assert!(
        matches!(dup, Err(Error::Inconsistent(_))),
        "a duplicate is refused: {dup:?}"
    );
    assert!(
        s.answer("r4").unwrap().is_none() && s.answer("r5").unwrap().is_none(),
        "a refused commit writes nothing"
    );
    let seqs: Vec<u64> = s.events("p1", 0).unwrap().iter().map(|e| e.seq).collect();
    assert_eq!(seqs, [1, 2, 3, 4]);
    let tail: Vec<u64> = s.events("p1", 2).unwrap().iter().map(|e| e.seq).collect();
    assert_eq!(tail, [3, 4], "events after a sequence number");
    assert_eq!(
        s.events("p1", 0).unwrap()[0],
        event("p1", 1),
        "events come back as written"
    );
    assert_eq!(s.projects().unwrap(), ["p1", "p2"]);
    assert_eq!(s.projects_after("", 1).unwrap(), ["p1"], "a page");
    assert_eq!(s.projects_after("p1", 10).unwrap(), ["p2"], "after an id");
    assert!(s.projects_after("p2", 10).unwrap().is_empty());
    assert_eq!(
        s.heads().unwrap(),
        [("p1".to_string(), 4), ("p2".to_string(), 1)],
        "each project with its last event"
    );
    // Events of another project in the commit are refused.
    let mut wrong = c("p2", &[2], "r6");
    wrong.events[0].project = "p1".into();
    assert!(s.commit(wrong).is_err());
}

/// Snapshots replace each other; answers are kept, refusals included.
pub fn snapshots_and_answers(s: &dyn Store) {
    s.commit(Commit {
        project: "p".into(),
        events: vec![event("p", 1)],
        snapshot: Some(Snapshot {
            seq: 1,
            state: vec![1, 2, 3],
        }),
        ..Commit::default()
    })
    .unwrap();
    s.commit(Commit {
        project: "p".into(),
        events: vec![event("p", 2)],
        snapshot: Some(Snapshot {
            seq: 2,
            state: vec![4],
        }),
        ..Commit::default()
    })
    .unwrap();
    assert_eq!(
        s.snapshot("p").unwrap(),
        Some(Snapshot {
            seq: 2,
            state: vec![4]
        })
    );
    assert_eq!(s.snapshot("q").unwrap(), None);
    let refused = Recorded {
        command: "approve X".into(),
        answer: Answer::Refused(Refusal::UnknownItem("X".into())),
    };
    s.commit(Commit {
        project: "p".into(),
        request: Some(("r".into(), refused.clone())),
        ..Commit::default()
    })
    .unwrap();
    assert_eq!(
        s.answer("r").unwrap(),
        Some(refused),
        "a refusal is an answer too"
    );
    assert_eq!(
        s.events("p", 0).unwrap().len(),
        2,
        "an answer alone adds no event"
    );
}

/// Index entries come and go with commits; queries filter and order them.
pub fn indexes(s: &dyn Store) {
    s.commit(Commit {
        project: "p".into(),
        events: vec![event("p", 1)],
        index: vec![
            open("nrp", "p", "I02"),
            open("env", "p", "I06"),
            deadline("2025-06-10", "p", "I02"),
            deadline("2025-06-05", "p", "I06"),
        ],
        ..Commit::default()
    })
    .unwrap();
    assert_eq!(
        s.open_tasks("nrp").unwrap(),
        [("p".to_string(), "I02".to_string())]
    );
    assert_eq!(
        s.open_tasks("nr").unwrap(),
        Vec::<(String, String)>::new(),
        "a department is matched whole"
    );
    let due: Vec<String> = s
        .due_by("2025-06-10".parse().unwrap())
        .unwrap()
        .into_iter()
        .map(|(_, _, i)| i)
        .collect();
    assert_eq!(
        due,
        ["I06", "I02"],
        "earliest first, the day itself included"
    );
    assert_eq!(s.due_by("2025-06-04".parse().unwrap()).unwrap().len(), 0);
    s.commit(Commit {
        project: "p".into(),
        events: vec![event("p", 2)],
        unindex: vec![open("nrp", "p", "I02"), deadline("2025-06-10", "p", "I02")],
        ..Commit::default()
    })
    .unwrap();
    assert!(s.open_tasks("nrp").unwrap().is_empty());
    assert_eq!(s.index().unwrap().len(), 2);
    s.replace_index(&[open("housing", "p", "I15")]).unwrap();
    assert_eq!(s.index().unwrap(), [open("housing", "p", "I15")]);
}

/// A version is immutable: deploying other text under it keeps the first.
pub fn workflows_are_immutable(s: &dyn Store) {
    let w = |yaml: &str| StoredWorkflow {
        version: "abc".into(),
        id: "w".into(),
        yaml: yaml.into(),
        calendar: Vec::new(),
    };
    s.put_workflow(&w("first")).unwrap();
    s.put_workflow(&w("second")).unwrap();
    assert_eq!(s.workflow("abc").unwrap().unwrap().yaml, "first");
    assert_eq!(s.workflows().unwrap().len(), 1);
}

/// A calendar's new edition replaces the one before under its id; others stay.
pub fn calendars_are_replaced(s: &dyn Store) {
    assert!(s.calendars().unwrap().is_empty());
    let c = |id: &str, year: &str| onewindow_store::StoredCalendar {
        id: id.into(),
        files: vec![
            ("calendar.yaml".into(), format!("id: {id}")),
            (format!("{year}.yaml"), format!("year: {year}")),
        ],
        deployed_at: chrono::NaiveDate::from_ymd_opt(2026, 12, 2)
            .unwrap()
            .and_hms_opt(9, 0, 0)
            .unwrap(),
        reason: format!("{year} schedule"),
    };
    s.put_calendar(&c("cn", "2026")).unwrap();
    s.put_calendar(&c("hk", "2026")).unwrap();
    s.put_calendar(&c("cn", "2027")).unwrap();
    let all = s.calendars().unwrap();
    assert_eq!(all, [c("cn", "2027"), c("hk", "2026")]);
}

/// Ids that cannot be keys are refused, not stored.
pub fn ids_are_checked(s: &dyn Store) {
    for bad in ["", "a\0b"] {
        let r = s.commit(Commit {
            project: bad.into(),
            ..Commit::default()
        });
        assert!(r.is_err(), "project id {bad:?} refused");
    }
    let r = s.commit(Commit {
        project: "p".into(),
        request: Some((
            "x\0y".into(),
            Recorded {
                command: String::new(),
                answer: Answer::Refused(Refusal::ReasonRequired),
            },
        )),
        ..Commit::default()
    });
    assert!(r.is_err(), "request id with a NUL refused");
}

/// The callbacks' outbox: a subscription kept with its starting cursors; cursors only
/// move forward; dead letters kept, listed, replaced and dropped; removing a
/// subscription takes its cursors and letters with it, and no other subscription's.
pub fn callbacks_outbox(s: &dyn Store) {
    use onewindow_store::callbacks::{DeadLetter, Subscription};
    let sub = |id: &str| Subscription {
        id: id.into(),
        department: "ndrc".into(),
        url: "https://hooks.example/x".into(),
        secret: "k".into(),
        types: vec!["task_ready".into()],
        created_by: "admin".into(),
        created_ms: 1,
        description: "发改委".into(),
    };
    assert!(s.subscriptions().unwrap().is_empty(), "none at first");
    s.put_subscription(&sub("cb-1"), &[("p1".into(), 3), ("p2".into(), 0)])
        .unwrap();
    s.put_subscription(&sub("cb-2"), &[("p1".into(), 1)])
        .unwrap();
    assert_eq!(s.subscriptions().unwrap(), vec![sub("cb-1"), sub("cb-2")]);
    let sorted = |mut v: Vec<(String, u64)>| {
        v.sort();
        v
    };
    assert_eq!(
        sorted(s.cursors("cb-1").unwrap()),
        vec![("p1".into(), 3), ("p2".into(), 0)]
    );
    s.advance(
        "cb-1",
        &[("p1".into(), 2), ("p2".into(), 5), ("p3".into(), 1)],
    )
    .unwrap();
    assert_eq!(
        sorted(s.cursors("cb-1").unwrap()),
        vec![("p1".into(), 3), ("p2".into(), 5), ("p3".into(), 1)],
        "a cursor never goes back; a new project's starts where it is put"
    );
    let letter = |id: &str, attempts: u32| DeadLetter {
        id: id.into(),
        subscription: "cb-1".into(),
        project: "p2".into(),
        first: 1,
        last: 5,
        attempts,
        error: "the receiver answered 500".into(),
        failed_ms: 2,
    };
    s.put_dead_letter(&letter("p2:1", 3)).unwrap();
    s.put_dead_letter(&letter("p2:1", 4)).unwrap();
    s.put_dead_letter(&letter("p3:1", 1)).unwrap();
    assert_eq!(
        s.dead_letters("cb-1").unwrap(),
        vec![letter("p2:1", 4), letter("p3:1", 1)],
        "kept by id, the later replacing the earlier"
    );
    assert!(s.dead_letters("cb-2").unwrap().is_empty());
    assert!(s.remove_dead_letter("cb-1", "p3:1").unwrap());
    assert!(!s.remove_dead_letter("cb-1", "p3:1").unwrap());
    assert!(s.remove_subscription("cb-1").unwrap());
    assert!(!s.remove_subscription("cb-1").unwrap());
    assert!(s.cursors("cb-1").unwrap().is_empty());
    assert!(s.dead_letters("cb-1").unwrap().is_empty());
    assert_eq!(s.subscriptions().unwrap(), vec![sub("cb-2")]);
    assert_eq!(s.cursors("cb-2").unwrap(), vec![("p1".into(), 1)]);
}
