//! The store's files: a directory that is not onewindow's or is damaged is an error, not
//! a panic or a new database; events written by the previous encoding are read.

use std::path::Path;

use onewindow_engine::{fold, Envelope};
use onewindow_store::codec;

use super::*;

#[test]
fn a_foreign_or_damaged_directory_is_an_error() {
    let dir = tempfile::tempdir().unwrap();
    std::fs::write(dir.path().join("notes.txt"), "hello").unwrap();
    let err = SledStore::open(dir.path(), Flush::Group).err().unwrap();
    assert!(matches!(err, Error::Foreign(_)), "{err}");
    let file = dir.path().join("notes.txt");
    assert!(matches!(
        SledStore::open(&file, Flush::Group).err().unwrap(),
        Error::Foreign(_)
    ));

    // A store with a project in it, its files then overwritten: opening must fail. (A
    // damaged store that opened as an empty one would lose the record without a word.)
    // Each way of damaging it is tried on its own copy.
    type Damage = fn(&Path);
    let damages: [(&str, Damage); 3] = [
        ("every file overwritten with garbage", |dir| {
            for entry in walk(dir) {
                let len = std::fs::metadata(&entry).unwrap().len() as usize;
                std::fs::write(&entry, vec![0xA5u8; len.max(64)]).unwrap();
            }
        }),
        ("the database file truncated to nothing", |dir| {
            std::fs::write(dir.join("db"), b"").unwrap();
        }),
        ("the database file deleted", |dir| {
            std::fs::remove_file(dir.join("db")).unwrap();
        }),
    ];
    for (how, damage) in damages {
        let damaged = tempfile::tempdir().unwrap();
        {
            let store = Arc::new(SledStore::open(damaged.path(), Flush::Group).unwrap());
            let (svc, _) = Service::open(store, Policy::default()).unwrap();
            let plan = small();
            svc.deploy(plan.clone()).unwrap();
            svc.execute(
                "req-1",
                "P1",
                &Actor::Window,
                submit(&plan),
                at("2025-06-03"),
            )
            .unwrap()
            .unwrap();
        }
        damage(damaged.path());
        match SledStore::open(damaged.path(), Flush::Group) {
            Err(e) => assert!(
                matches!(e, Error::Corrupt(_) | Error::Foreign(_)),
                "{how}: damaged or foreign, not a passing failure: {e}"
            ),
            Ok(store) => panic!(
                "{how}: the store opened, with {} project(s)",
                store.projects().unwrap().len()
            ),
        }
    }
}

fn walk(dir: &Path) -> Vec<PathBuf> {
    let mut out = Vec::new();
    for e in std::fs::read_dir(dir).unwrap() {
        let p = e.unwrap().path();
        if p.is_dir() {
            out.extend(walk(&p));
        } else {
            out.push(p);
        }
    }
    out
}

/// `tests/data/events-v1.bin` holds one project's events as the first encoding (JSON,
/// tag 1) wrote them, one record per line. Regenerate with `UPDATE_FIXTURES=1`.
#[test]
fn events_written_by_the_previous_encoding_are_read() {
    let path = root().join("tests/data/events-v1.bin");
    let plan = small();
    if std::env::var_os("UPDATE_FIXTURES").is_some() {
        let store = Arc::new(MemoryStore::new());
        let (svc, _) = Service::open(store.clone(), Policy::default()).unwrap();
        svc.deploy(plan.clone()).unwrap();
        let steps: Vec<(&str, Actor, Command)> = vec![
            ("2025-06-03", Actor::Window, submit(&plan)),
            ("2025-06-04", dept("plan"), approve("D1")),
            (
                "2025-06-05",
                dept("review"),
                Command::RequestSupplement {
                    item: "R1".into(),
                    needed: vec!["drawings".into()],
                    note: "补正".into(),
                },
            ),
            (
                "2025-06-09",
                Actor::Window,
                Command::ProvideSupplement {
                    item: "R1".into(),
                    materials: vec![MaterialRef::named("drawings")],
                },
            ),
            ("2025-06-10", dept("review"), approve("R1")),
            ("2025-06-10", dept("plan"), approve("P1")),
            ("2025-06-11", dept("housing"), approve("C1")),
        ];
        for (k, (d, actor, cmd)) in steps.into_iter().enumerate() {
            svc.execute(&format!("r{k}"), "P1", &actor, cmd, at(d))
                .unwrap()
                .unwrap();
        }
        let mut bytes = Vec::new();
        for e in store.events("P1", 0).unwrap() {
            bytes.extend(codec::encode_as(codec::JSON, &e).unwrap());
            bytes.push(b'\n');
        }
        std::fs::write(&path, bytes).unwrap();
    }
    let bytes = std::fs::read(&path).unwrap();
    let events: Vec<Envelope> = bytes
        .split(|b| *b == b'\n')
        .filter(|l| !l.is_empty())
        .map(|l| {
            assert_eq!(l[0], codec::JSON, "the fixture is in the first encoding");
            codec::decode(l).unwrap()
        })
        .collect();
    assert_eq!(events.len(), 22);
    let state = fold(&plan, &events);
    assert_eq!(
        state.tasks()[plan.item_index("C1").unwrap()].state,
        TaskState::Approved
    );
    assert_eq!(
        state.tasks()[plan.item_index("R1").unwrap()].suspended_days,
        2
    );
    // Re-encoded in the current format, the events read back the same.
    for e in &events {
        let now = codec::encode(e).unwrap();
        assert_eq!(now[0], codec::CURRENT);
        assert_eq!(&codec::decode::<Envelope>(&now).unwrap(), e);
    }
    assert!(
        codec::decode::<Envelope>(&[9, 1, 2]).is_err(),
        "an unknown format is an error, not a panic"
    );
    assert!(codec::decode::<Envelope>(&[]).is_err());
}
