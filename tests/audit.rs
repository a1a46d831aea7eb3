//! The audit trail against tampering, through the real binary: a store filled by
//! `onewindow store drive`, a signed checkpoint, then one stored event changed (backdated
//! by a year), removed or put out of order — on sled and on PostgreSQL — and `onewindow
//! audit verify` must name the project and the event where the record stops holding.

use crate::common;

use std::path::Path;
use std::process::{Command, Output};

use onewindow_testkit::scratch::Scratch;

fn onewindow(args: &[&str]) -> Output {
    Command::new(env!("CARGO_BIN_EXE_onewindow"))
        .args(args)
        .current_dir(env!("CARGO_MANIFEST_DIR"))
        .output()
        .expect("onewindow runs")
}

fn ok(args: &[&str]) -> String {
    let out = onewindow(args);
    assert!(
        out.status.success(),
        "onewindow {args:?}: {}{}",
        String::from_utf8_lossy(&out.stdout),
        String::from_utf8_lossy(&out.stderr)
    );
    String::from_utf8_lossy(&out.stdout).into_owned()
}

/// `audit verify` on a tampered store: exit 1, and every `expected` text in what it says.
fn broken(store: &[&str], key: &Path, expected: &[&str]) -> String {
    let mut args = vec!["audit", "verify", "--public-key", key.to_str().unwrap()];
    args.extend_from_slice(store);
    let out = onewindow(&args);
    let text = String::from_utf8_lossy(&out.stdout).into_owned();
    assert_eq!(out.status.code(), Some(1), "verify fails: {text}");
    assert!(text.contains("BROKEN"), "{text}");
    for e in expected {
        assert!(text.contains(e), "`{e}` in: {text}");
    }
    text
}

fn fill(store: &[&str]) {
    let mut args = vec!["store", "drive", "--clients", "2", "--projects", "2"];
    args.extend_from_slice(store);
    ok(&args);
}

/// A tampered sled directory: its store tree, opened with sled itself.
fn tree(dir: &Path) -> (sled::Db, sled::Tree) {
    let db = sled::Config::new()
        .path(dir)
        .segment_size(onewindow::store::disk::SEGMENT_SIZE)
        .open()
        .expect("sled opens the directory");
    let tree = db.open_tree("onewindow").expect("the store's tree");
    (db, tree)
}

/// A project's records (`e/{project}\0{seq}`) as (first event, key).
fn records(tree: &sled::Tree, project: &str) -> Vec<(u64, Vec<u8>)> {
    let mut prefix = format!("e/{project}").into_bytes();
    prefix.push(0);
    tree.scan_prefix(&prefix)
        .map(|kv| {
            let (k, _) = kv.unwrap();
            let seq = u64::from_be_bytes(k[k.len() - 8..].try_into().unwrap());
            (seq, k.to_vec())
        })
        .collect()
}

fn first_project(tree: &sled::Tree) -> String {
    let (k, _) = tree.scan_prefix(b"p/").next().unwrap().unwrap();
    String::from_utf8(k[2..].to_vec()).unwrap()
}

/// Backdates the first time in `bytes` (of a record: its first event's) by a year
/// (`2025-` → `2024-`).
fn backdate(bytes: &mut [u8]) {
    let at = bytes
        .windows(5)
        .position(|w| w == b"2025-")
        .expect("a time in the record");
    bytes[at + 3] = b'4';
}

fn copy_dir(from: &Path, to: &Path) {
    std::fs::create_dir_all(to).unwrap();
    for e in std::fs::read_dir(from).unwrap() {
        let e = e.unwrap();
        let target = to.join(e.file_name());
        if e.file_type().unwrap().is_dir() {
            copy_dir(&e.path(), &target);
        } else {
            std::fs::copy(e.path(), target).unwrap();
        }
    }
}

#[test]
fn sled_tampering_is_named_by_project_and_event() {
    let root = tempfile::tempdir().unwrap();
    let clean = root.path().join("clean");
    let key = root.path().join("audit.key");
    let data = |d: &Path| vec!["--data".to_string(), d.to_str().unwrap().to_string()];
    let clean_args = data(&clean);
    let clean_args: Vec<&str> = clean_args.iter().map(String::as_str).collect();
    fill(&clean_args);
    let mut take = vec!["audit", "checkpoint", "--key", key.to_str().unwrap()];
    take.extend_from_slice(&clean_args);
    assert!(ok(&take).contains("checkpoint 1"));
    let mut verify = vec!["audit", "verify", "--public-key", key.to_str().unwrap()];
    verify.extend_from_slice(&clean_args);
    let said = ok(&verify);
    assert!(said.starts_with("intact: 4 projects"), "{said}");
    assert!(
        said.contains("1 checkpoints (signatures by the trusted key)"),
        "{said}"
    );
    // Nothing new: no second checkpoint.
    assert!(ok(&take).contains("nothing new"));

    // Each case on a copy of the clean store.
    type Expect<'a> = &'a dyn Fn(&sled::Tree, &str, &[(u64, Vec<u8>)]) -> Vec<String>;
    let case = |name: &str, tamper: &dyn Fn(&sled::Tree, &str), expected: Expect| {
        let dir = root.path().join(name);
        copy_dir(&clean, &dir);
        let expected = {
            let (db, t) = tree(&dir);
            let project = first_project(&t);
            let recs = records(&t, &project);
            assert!(recs.len() > 6, "a project of several commands");
            let expected = expected(&t, &project, &recs);
            tamper(&t, &project);
            db.flush().unwrap();
            expected
        };
        let args = data(&dir);
        let args: Vec<&str> = args.iter().map(String::as_str).collect();
        let expected: Vec<&str> = expected.iter().map(String::as_str).collect();
        broken(&args, &key, &expected)
    };

    // One byte: an event's time backdated by a year. The event after it carries the link
    // that no longer holds.
    case(
        "byte",
        &|t, p| {
            let recs = records(t, p);
            let k = &recs[2].1;
            let mut v = t.get(k).unwrap().unwrap().to_vec();
            backdate(&mut v);
            t.insert(k, v).unwrap();
        },
        &|_, p, recs| {
            vec![
                format!("broken: {p}, event {}:", recs[2].0 + 1),
                "was changed, removed or reordered".into(),
            ]
        },
    );
    // A command's events removed.
    case(
        "deleted",
        &|t, p| {
            let recs = records(t, p);
            t.remove(&recs[2].1).unwrap();
        },
        &|_, p, recs| vec![format!("broken: {p}, event {}: missing", recs[2].0)],
    );
    // Two commands' events swapped.
    case(
        "reordered",
        &|t, p| {
            let recs = records(t, p);
            let (a, b) = (
                t.get(&recs[2].1).unwrap().unwrap(),
                t.get(&recs[3].1).unwrap().unwrap(),
            );
            t.insert(&recs[2].1, b).unwrap();
            t.insert(&recs[3].1, a).unwrap();
        },
        &|_, p, recs| vec![format!("broken: {p}, event {}:", recs[2].0)],
    );
    // The last command's first event changed: when it is the log's last event, no later
    // link covers it, and the checkpoint does.
    case(
        "last",
        &|t, p| {
            let recs = records(t, p);
            let k = &recs.last().unwrap().1;
            let mut v = t.get(k).unwrap().unwrap().to_vec();
            backdate(&mut v);
            t.insert(k, v).unwrap();
        },
        &|t, p, recs| {
            let head = t.get(format!("h/{p}")).unwrap().unwrap();
            let head = u64::from_be_bytes(head.as_ref().try_into().unwrap());
            let first = recs.last().unwrap().0;
            match head == first {
                true => vec![
                    format!("broken: {p}, event {first}:"),
                    "checkpoint 1 signed".into(),
                ],
                false => vec![format!("broken: {p}, event {}: its link says", first + 1)],
            }
        },
    );
    // Damaged beyond decoding.
    case(
        "damaged",
        &|t, p| {
            let recs = records(t, p);
            t.insert(&recs[2].1, &[9u8, 1, 2][..]).unwrap();
        },
        &|_, p, recs| {
            vec![format!(
                "broken: {p}: a stored event does not decode (project `{p}`, the record of event {} on",
                recs[2].0
            )]
        },
    );
    // The checkpoint replaced by one signed with another key.
    case(
        "forged",
        &|t, _| {
            let mut k = b"k/".to_vec();
            k.extend_from_slice(&1u64.to_be_bytes());
            let mut c: serde_json::Value =
                serde_json::from_slice(&t.get(&k).unwrap().unwrap()).unwrap();
            c["events"] = serde_json::json!(1);
            t.insert(&k, serde_json::to_vec(&c).unwrap()).unwrap();
        },
        &|_, _, _| vec!["broken: checkpoint 1: the signature does not match the statement".into()],
    );

    // A broken record is never signed.
    let byte = root.path().join("byte");
    let out = onewindow(&[
        "audit",
        "checkpoint",
        "--key",
        key.to_str().unwrap(),
        "--data",
        byte.to_str().unwrap(),
    ]);
    let said = String::from_utf8_lossy(&out.stdout);
    assert_eq!(out.status.code(), Some(1), "{said}");
    assert!(
        said.contains("no checkpoint taken") && said.contains("broken: "),
        "{said}"
    );

    // Whoever holds the database *and* the key can rewrite the end of a log (here: the
    // last command's events removed and the head set back, every link intact) and sign
    // the checkpoints again; a checkpoint exported before, held outside, still shows it.
    let held = root.path().join("held.jsonl");
    let mut export = vec!["audit", "export"];
    export.extend_from_slice(&clean_args);
    std::fs::write(&held, ok(&export)).unwrap();
    let dir = root.path().join("resigned");
    copy_dir(&clean, &dir);
    {
        let (db, t) = tree(&dir);
        let project = first_project(&t);
        let recs = records(&t, &project);
        let (first, k) = recs.last().unwrap();
        t.remove(k).unwrap();
        t.insert(format!("h/{project}"), &(first - 1).to_be_bytes()[..])
            .unwrap();
        for kv in t.scan_prefix(b"k/") {
            t.remove(kv.unwrap().0).unwrap();
        }
        db.flush().unwrap();
    }
    let args = data(&dir);
    let args: Vec<&str> = args.iter().map(String::as_str).collect();
    // The insider holds a copy of the key, not the node's witness beside it (which
    // remembers checkpoint 1 and would refuse to sign a store that lost it).
    let insider = root.path().join("insider");
    std::fs::create_dir(&insider).unwrap();
    let insider = insider.join("audit.key");
    std::fs::copy(&key, &insider).unwrap();
    let mut refused = vec!["audit", "checkpoint", "--key", key.to_str().unwrap()];
    refused.extend_from_slice(&args);
    let out = onewindow(&refused);
    let said = String::from_utf8_lossy(&out.stdout);
    assert_eq!(out.status.code(), Some(1), "{said}");
    assert!(said.contains("checkpoints were removed"), "{said}");
    let mut take = vec!["audit", "checkpoint", "--key", insider.to_str().unwrap()];
    take.extend_from_slice(&args);
    assert!(ok(&take).contains("checkpoint 1"));
    let mut verify = vec!["audit", "verify", "--public-key", key.to_str().unwrap()];
    verify.extend_from_slice(&args);
    ok(&verify);
    verify.extend_from_slice(&["--against", held.to_str().unwrap()]);
    let out = onewindow(&verify);
    let text = String::from_utf8_lossy(&out.stdout);
    assert_eq!(out.status.code(), Some(1), "{text}");
    assert!(
        text.contains("checkpoint 1 (held outside): the store's checkpoint 1 says something else"),
        "{text}"
    );
    // Exported with its heads, the held checkpoint names the project whose log differs.
    let project = first_project(&tree(&clean).1);
    let mut export = vec!["audit", "export", "--heads"];
    export.extend_from_slice(&clean_args);
    std::fs::write(&held, ok(&export)).unwrap();
    let out = onewindow(&verify);
    let text = String::from_utf8_lossy(&out.stdout);
    assert_eq!(out.status.code(), Some(1), "{text}");
    assert!(
        text.contains(&format!("broken: {project}, event "))
            && text.contains("signed in checkpoint 1 (held outside), but the log ends at event"),
        "{text}"
    );
}

#[test]
fn postgres_tampering_is_named_by_project_and_event() {
    let server = Scratch::start().expect("a throwaway PostgreSQL");
    let root = tempfile::tempdir().unwrap();
    // (name, the SQL that tampers with project P, event N, what verify must say)
    let cases: [(&str, &str, &str); 4] = [
        (
            "byte",
            "UPDATE events SET body = overlay(body placing '\\x34'::bytea \
             from position('\\x323032352d'::bytea in body) + 3 for 1) \
             WHERE project = 'P' AND seq = 5",
            "event 6: its link says",
        ),
        (
            "deleted",
            "DELETE FROM events WHERE project = 'P' AND seq = 5",
            "event 5: missing",
        ),
        (
            "reordered",
            "UPDATE events SET seq = -1 WHERE project = 'P' AND seq = 5; \
             UPDATE events SET seq = 5 WHERE project = 'P' AND seq = 6; \
             UPDATE events SET seq = 6 WHERE project = 'P' AND seq = -1",
            "event 5: out of order",
        ),
        (
            "last",
            "UPDATE events SET body = overlay(body placing '\\x34'::bytea \
             from position('\\x323032352d'::bytea in body) + 3 for 1) \
             WHERE project = 'P' AND seq = (SELECT max(seq) FROM events WHERE project = 'P')",
            "checkpoint 1 signed",
        ),
    ];
    for (name, sql, expected) in cases {
        // A key (and so a witness) per database: a witness speaks of one store.
        let key = root.path().join(name).join("audit.key");
        let url = server.create_database(name).unwrap();
        let store = ["--store", url.as_str()];
        fill(&store);
        let mut take = vec!["audit", "checkpoint", "--key", key.to_str().unwrap()];
        take.extend_from_slice(&store);
        assert!(ok(&take).contains("checkpoint 1"), "{name}");
        let mut verify = vec!["audit", "verify", "--public-key", key.to_str().unwrap()];
        verify.extend_from_slice(&store);
        assert!(ok(&verify).starts_with("intact: 4 projects"), "{name}");
        let project = server
            .psql_in(
                name,
                "SELECT project FROM projects ORDER BY project LIMIT 1",
            )
            .unwrap();
        let project = project.trim();
        assert!(!project.is_empty());
        server
            .psql_in(name, &sql.replace("'P'", &format!("'{project}'")))
            .unwrap();
        broken(&store, &key, &[&format!("broken: {project}, "), expected]);
    }
}

/// The newest checkpoint removed together with what only it covered: the end of a
/// project's log cut off (every link left intact, the head set back, the snapshot gone)
/// and checkpoint 2 deleted — what someone with database access alone can do. The chain
/// of checkpoints is whole again and every log verifies against checkpoint 1, so only
/// what the node remembers outside the database shows it: `audit verify --witness`
/// names it, `audit checkpoint` refuses to sign (sled), and a server on the store signs
/// nothing (PostgreSQL).
#[test]
fn the_newest_checkpoint_removed_shows() {
    let root = tempfile::tempdir().unwrap();
    let node = root.path().join("node");
    let key = node.join("audit.key");
    let seen = node.join("audit.seen");
    let s = |x: &Path| x.to_str().unwrap().to_string();

    // sled
    let data = root.path().join("data");
    let store = ["--data".to_string(), s(&data)];
    let store: Vec<&str> = store.iter().map(String::as_str).collect();
    let take = |store: &[&str]| {
        let mut args = vec!["audit", "checkpoint", "--key", key.to_str().unwrap()];
        args.extend_from_slice(store);
        onewindow(&args)
    };
    let two_checkpoints = |store: &[&str]| {
        fill(store);
        assert!(String::from_utf8_lossy(&take(store).stdout).contains("checkpoint 1"));
        let mut later = vec!["store", "drive", "--clients", "1", "--projects", "1"];
        later.extend_from_slice(&["--prefix", "later"]);
        later.extend_from_slice(store);
        ok(&later);
        let out = take(store);
        assert!(
            String::from_utf8_lossy(&out.stdout).contains("checkpoint 2"),
            "{out:?}"
        );
    };
    two_checkpoints(&store);
    let remembered: serde_json::Value =
        serde_json::from_str(&std::fs::read_to_string(&seen).unwrap()).unwrap();
    assert_eq!(remembered["number"], 2, "{remembered}");
    {
        let (db, t) = tree(&data);
        let (k, _) = t.scan_prefix(b"p/later").next().unwrap().unwrap();
        let project = String::from_utf8(k[2..].to_vec()).unwrap();
        let recs = records(&t, &project);
        let (first, last) = recs.last().unwrap();
        t.remove(last).unwrap();
        t.insert(format!("h/{project}"), &(first - 1).to_be_bytes()[..])
            .unwrap();
        t.remove(format!("s/{project}")).unwrap();
        let mut k = b"k/".to_vec();
        k.extend_from_slice(&2u64.to_be_bytes());
        t.remove(k).unwrap();
        db.flush().unwrap();
    }
    // Without the witness the store looks whole: what the witness is for.
    let mut verify = vec!["audit", "verify", "--public-key", key.to_str().unwrap()];
    verify.extend_from_slice(&store);
    assert!(ok(&verify).starts_with("intact: "), "the gap it closes");
    let mut witnessed = verify.clone();
    witnessed.extend_from_slice(&["--witness", seen.to_str().unwrap()]);
    let out = onewindow(&witnessed);
    let said = String::from_utf8_lossy(&out.stdout);
    assert_eq!(out.status.code(), Some(1), "{said}");
    assert!(
        said.contains("broken: checkpoint 2: checkpoint 2 was signed or seen by this node")
            && said.contains("the store's newest is 1: checkpoints were removed"),
        "{said}"
    );
    let out = take(&store);
    let said = String::from_utf8_lossy(&out.stdout);
    assert_eq!(out.status.code(), Some(1), "{said}");
    assert!(said.contains("no checkpoint taken"), "{said}");

    // PostgreSQL: the same by SQL, then a server on the store with the node's key.
    std::fs::remove_file(&seen).unwrap();
    let server = Scratch::start().expect("a throwaway PostgreSQL");
    let url = server.create_database("dropped").unwrap();
    let store = ["--store", url.as_str()];
    two_checkpoints(&store);
    server
        .psql_in(
            "dropped",
            "WITH p AS (SELECT project, head FROM projects WHERE project LIKE 'later%' LIMIT 1) \
             , cut AS (DELETE FROM events e USING p WHERE e.project = p.project AND e.seq > p.head - 3) \
             , s AS (DELETE FROM snapshots x USING p WHERE x.project = p.project) \
             UPDATE projects SET head = p.head - 3 FROM p WHERE projects.project = p.project; \
             DELETE FROM checkpoints WHERE number = 2",
        )
        .unwrap();
    let mut verify = vec!["audit", "verify", "--public-key", key.to_str().unwrap()];
    verify.extend_from_slice(&store);
    assert!(ok(&verify).starts_with("intact: "), "the gap it closes");
    let tokens = common::write_tokens(root.path());
    let node = common::start_node(
        &url,
        &tokens,
        &[
            "--audit-key",
            key.to_str().unwrap(),
            "--checkpoint-seconds",
            "1",
        ],
    );
    // The node looks at the store's checkpoints through its witness and finds the one
    // it saw gone: it reports broken links and signs nothing.
    tokio::runtime::Runtime::new()
        .unwrap()
        .block_on(common::eventually(
            "the node reports the cut log",
            60,
            || async {
                let broken = common::metric(node.http, "onewindow_audit_broken_links").await;
                broken.is_some_and(|b| b > 0.0).then_some(())
            },
        ));
    drop(node.kill());
    let count = server
        .psql_in("dropped", "SELECT count(*) FROM checkpoints")
        .unwrap();
    assert_eq!(count.trim(), "1", "the server signed over the cut log");
    let mut witnessed = verify.clone();
    witnessed.extend_from_slice(&["--witness", seen.to_str().unwrap()]);
    let out = onewindow(&witnessed);
    assert_eq!(out.status.code(), Some(1), "{out:?}");
}

/// Events sealed by an earlier build still hash as they did: the rule that lets a
/// chain outlive changes to the event types (tests/data/audit/README.md).
#[test]
fn a_log_sealed_earlier_still_verifies() {
    use onewindow::engine::{ChainHash, Envelope};
    let root = Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/data/audit");
    let readme = std::fs::read_to_string(root.join("README.md")).unwrap();
    let (project, head) = readme
        .lines()
        .find_map(|l| {
            l.trim()
                .split_once(' ')
                .filter(|(p, _)| p.starts_with("load-"))
        })
        .expect("the README names the head");
    let text = std::fs::read_to_string(root.join("sealed-log.jsonl")).unwrap();
    let events: Vec<Envelope> = text
        .lines()
        .map(|l| serde_json::from_str(l).unwrap())
        .collect();
    assert_eq!(events.len(), 93);
    let mut chain = ChainHash::GENESIS;
    for e in &events {
        assert_eq!(&*e.project, project);
        assert_eq!(e.prev.as_deref(), Some(&chain), "event {}'s link", e.seq);
        chain = onewindow::store::chain::link(&chain, e).unwrap();
    }
    assert_eq!(chain.hex(), head);
}

/// A running server signs checkpoints by itself (`--checkpoint-seconds`), with the key it
/// made owner-only at first start; the store it leaves verifies against them.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_server_signs_checkpoints_as_it_runs() {
    use common::*;
    use onewindow::server::pb;
    let server = start_binary_with(&["--checkpoint-seconds", "1"]);
    let mut wf = pb::workflows_client::WorkflowsClient::connect(server.addr.clone())
        .await
        .unwrap();
    let version = version_of(&mut wf, "complaint").await;
    let mut window = pb::window_client::WindowClient::connect(server.addr.clone())
        .await
        .unwrap();
    let req = pb::SubmitRequest {
        request_id: "c1".into(),
        project: "C1".into(),
        version,
        form: complaint_form(),
        materials: refs(&["complaint_letter", "evidence"]),
        ..Default::default()
    };
    window.submit(with(WINDOW, req)).await.unwrap();
    // Verified live, without stopping the server (it holds the sled directory), by a
    // supervisor; the window may not.
    let live = |token: &str| {
        let out = onewindow(&[
            "audit",
            "verify-live",
            "--server",
            &server.addr,
            "--token",
            token,
        ]);
        (
            out.status.code(),
            String::from_utf8_lossy(&out.stdout).into_owned(),
            String::from_utf8_lossy(&out.stderr).into_owned(),
        )
    };
    // The server signs its checkpoints every second: wait for one over the project.
    let (code, said) = common::eventually("a checkpoint over the project", 60, || async {
        let (code, said, _) = live(SUPERVISOR);
        (said.starts_with("intact: 1 projects") && !said.contains(" 0 checkpoints"))
            .then_some((code, said))
    })
    .await;
    assert_eq!(code, Some(0), "{said}");
    assert!(said.contains("(signatures by the trusted key)"), "{said}");
    let (code, _, err) = live(WINDOW);
    assert_ne!(code, Some(0));
    assert!(err.contains("may not use this service"), "{err}");
    let dir = server.kill();
    let data = dir.path().join("data");
    let key = data.join("audit.key");
    {
        use std::os::unix::fs::PermissionsExt;
        let mode = std::fs::metadata(&key).unwrap().permissions().mode();
        assert_eq!(mode & 0o777, 0o600, "the audit key is the owner's alone");
    }
    let data = data.to_str().unwrap();
    let said = ok(&["audit", "verify", "--data", data]);
    assert!(said.starts_with("intact: 1 projects"), "{said}");
    assert!(
        said.contains("(signatures by the trusted key)"),
        "the data directory's key: {said}"
    );
    let exported = ok(&["audit", "export", "--data", data]);
    let last: serde_json::Value =
        serde_json::from_str(exported.lines().last().expect("a checkpoint")).unwrap();
    assert_eq!(last["projects"], 1, "{exported}");
    assert!(last.get("heads").is_none(), "heads only when asked");
    let pem = ok(&["audit", "public-key", "--key", key.to_str().unwrap()]);
    assert!(pem.starts_with("-----BEGIN PUBLIC KEY-----"), "{pem}");
}

/// On a node in process: checkpoints signed on the server's own clock every 200 ms are
/// counted for `/metrics`, the JSON API's audit route verifies with the server's key, and
/// `onewindow_audit_broken_links` says 0.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn checkpoints_and_verification_show_in_the_metrics() {
    use common::*;
    let dir = tempfile::tempdir().unwrap();
    let key = dir.path().join("audit.key");
    let server = {
        let key = key.clone();
        start_configured(move |c| {
            c.audit_key = Some(key);
            c.checkpoint_every = std::time::Duration::from_millis(200);
        })
        .await
    };
    let version = complaint_version(&server).await;
    let r = api(
        &server,
        WINDOW,
        "POST",
        "/api/v1/projects",
        complaint("c1", "C1", &version),
    )
    .await;
    assert_eq!(r.status, 200, "{}", r.body);
    let metric = |body: &str, name: &str| -> Option<i64> {
        body.lines()
            .find_map(|l| l.strip_prefix(name)?.trim().parse().ok())
    };
    let deadline = std::time::Instant::now() + std::time::Duration::from_secs(10);
    loop {
        let body = http(server.http, "GET", "/metrics", &[], "").await.body;
        if metric(&body, "onewindow_audit_checkpoints_total").is_some_and(|n| n >= 1) {
            assert_eq!(
                metric(&body, "onewindow_audit_broken_links"),
                Some(0),
                "{body}"
            );
            break;
        }
        assert!(
            std::time::Instant::now() < deadline,
            "no checkpoint counted: {body}"
        );
        tokio::time::sleep(std::time::Duration::from_millis(100)).await;
    }
    let r = api(
        &server,
        SUPERVISOR,
        "GET",
        "/api/v1/supervision/audit",
        serde_json::Value::Null,
    )
    .await;
    assert_eq!(r.status, 200, "{}", r.body);
    let v: serde_json::Value = serde_json::from_str(&r.body).unwrap();
    assert_eq!(v["intact"], true, "{v}");
    assert_eq!(v["trusted_key"], true, "{v}");
    assert_eq!(v["projects"], 1, "{v}");
    assert!(v["checkpoints"].as_u64().unwrap() >= 1, "{v}");
    // Not the window's to run.
    let r = api(
        &server,
        WINDOW,
        "GET",
        "/api/v1/supervision/audit",
        serde_json::Value::Null,
    )
    .await;
    assert_eq!(r.status, 403, "{}", r.body);
}
