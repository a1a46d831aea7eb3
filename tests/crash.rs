//! Acknowledged means durable, under `kill -9`.
//!
//! A child process — the real `onewindow` binary running the engine on the sled store —
//! drives concurrent clients (submissions, supplements, claims, approvals, milestones) and
//! prints each request id the moment its command is acknowledged. The test kills it at a
//! random moment, 24 times over one data directory, and after each kill reopens the
//! directory and checks that every acknowledged command is there (its answer recorded,
//! its events in the log), that nothing was applied twice, that every log is contiguous
//! and folds to the restored state, and that the indexes matched the log once the store had
//! redone the interrupted commits from their records (no full rebuild). Every prefix of
//! project ids runs twice, so the second child re-sends the first one's request ids after
//! its crash: what was acknowledged is answered again, not applied again.

use std::collections::BTreeSet;
use std::io::{BufRead, BufReader};
use std::path::PathBuf;
use std::process::{Command, Stdio};
use std::sync::Arc;
use std::time::Duration;

use onewindow::engine::Policy;
use onewindow::store::disk::{Flush, SledStore};
use onewindow::store::service::Service;
use onewindow::store::{Answer, ReadStore, Recorded};

const ROUNDS: u64 = 24;

#[test]
fn kill_9_loses_nothing_acknowledged() {
    let root = PathBuf::from(env!("CARGO_MANIFEST_DIR"));
    let data = tempfile::tempdir().unwrap();
    let mut acked: Vec<String> = Vec::new();
    let mut seed: u64 = 0x5DEE_CE66_D1CE_4E5B;
    for round in 0..ROUNDS {
        let mut child = Command::new(env!("CARGO_BIN_EXE_onewindow"))
            .args([
                "store",
                "drive",
                "--clients",
                "8",
                "--projects",
                "25",
                "--supplement-percent",
                "20",
                "--print-acks",
            ])
            .arg("--data")
            .arg(data.path())
            .arg("--prefix")
            .arg(format!("r{}", round / 2))
            .current_dir(&root)
            .stdout(Stdio::piped())
            .stderr(Stdio::null())
            .spawn()
            .expect("the onewindow binary starts");
        let stdout = child.stdout.take().unwrap();
        let reader = std::thread::spawn(move || {
            BufReader::new(stdout)
                .lines()
                .map_while(Result::ok)
                .filter_map(|l| l.strip_prefix("ack ").map(str::to_string))
                .collect::<Vec<String>>()
        });
        seed ^= seed << 13;
        seed ^= seed >> 7;
        seed ^= seed << 17;
        std::thread::sleep(Duration::from_millis(150 + seed % 700));
        let _ = child.kill(); // SIGKILL: no destructor, no flush, no goodbye
        let _ = child.wait();
        let this_round = reader.join().unwrap();
        acked.extend(this_round);

        let store = Arc::new(
            SledStore::open(data.path(), Flush::Group)
                .expect("the data directory reopens after kill -9"),
        );
        let (svc, report) =
            Service::open(store.clone(), Policy::default()).expect("recovery succeeds");
        let redone = store.recovery();
        eprintln!("round {round}: redone after the kill: {redone:?}");
        assert!(
            !report.index_rebuilt,
            "round {round}: redoing each project's last record leaves the indexes whole"
        );
        svc.verify()
            .unwrap_or_else(|e| panic!("round {round}: {e}"));
        let mut logs = std::collections::HashMap::new();
        for project in store.projects().unwrap() {
            let seqs: Vec<u64> = store
                .events(&project, 0)
                .unwrap()
                .iter()
                .map(|e| e.seq)
                .collect();
            logs.insert(project, seqs);
        }
        for id in &acked {
            match store.answer(id).unwrap() {
                None => panic!("round {round}: acknowledged request {id} is missing"),
                Some(Recorded {
                    answer:
                        Answer::Applied {
                            project,
                            first,
                            last,
                        },
                    ..
                }) => {
                    let log = &logs[&project];
                    // Contiguous logs from 1 (checked by verify) hold [first, last] exactly
                    // when the log reaches `last`.
                    assert!(
                        first >= 1 && last >= first && log.len() as u64 >= last,
                        "round {round}: events of {id}"
                    );
                    assert_eq!(log[(first - 1) as usize], first);
                }
                Some(Recorded {
                    answer: Answer::Refused(_),
                    ..
                }) => {}
            }
        }
    }
    let distinct: BTreeSet<&String> = acked.iter().collect();
    assert!(
        distinct.len() > 200,
        "the children got real work done: {} requests acknowledged",
        distinct.len()
    );
    assert!(
        acked.len() > distinct.len(),
        "the resumed children re-sent acknowledged requests"
    );
}
