//! The push streams over plain HTTP (server-sent events): a project's events resumed
//! with `Last-Event-ID` after a drop, nothing missed and nothing twice; a department's
//! ready tasks pushed as they become ready; the same roles and errors as the gRPC streams.

use std::time::Duration;

use crate::common::*;
use crate::console::parallel_project;
use serde_json::{json, Value};
use tokio::io::{AsyncBufReadExt, AsyncWriteExt, BufReader};

/// One server-sent event.
#[derive(Debug)]
struct Sse {
    id: Option<String>,
    event: String,
    data: Value,
}

/// An open event stream: its status and a reader of its events.
struct Stream {
    status: u16,
    lines: tokio::io::Lines<BufReader<tokio::net::TcpStream>>,
}

async fn open(server: &InProcess, path: &str, token: &str, last_event_id: Option<u64>) -> Stream {
    open_after(server, path, token, last_event_id.map(|n| n.to_string())).await
}

/// [`open`] with any `Last-Event-ID` (the stream of every project's is `project:seq`).
async fn open_after(
    server: &InProcess,
    path: &str,
    token: &str,
    last_event_id: Option<String>,
) -> Stream {
    let mut s = tokio::net::TcpStream::connect(server.http).await.unwrap();
    let last = last_event_id.map_or(String::new(), |id| format!("Last-Event-ID: {id}\r\n"));
    s.write_all(
        format!(
            "GET {path} HTTP/1.1\r\nHost: t\r\nAuthorization: Bearer {token}\r\nAccept: text/event-stream\r\n{last}\r\n"
        )
        .as_bytes(),
    )
    .await
    .unwrap();
    let mut lines = BufReader::new(s).lines();
    let status_line = lines.next_line().await.unwrap().unwrap();
    let status = status_line.split(' ').nth(1).unwrap().parse().unwrap();
    // The headers, up to the blank line.
    while let Some(l) = lines.next_line().await.unwrap() {
        if l.is_empty() {
            break;
        }
    }
    Stream { status, lines }
}

impl Stream {
    /// The next event (keep-alive comments and chunk sizes skipped), within 10 s.
    async fn next(&mut self) -> Sse {
        let read = async {
            let (mut id, mut event, mut data) = (None, String::from("message"), String::new());
            loop {
                let line = self
                    .lines
                    .next_line()
                    .await
                    .unwrap()
                    .expect("the stream open");
                if let Some(v) = line.strip_prefix("id: ").or(line.strip_prefix("id:")) {
                    id = Some(v.to_string());
                } else if let Some(v) = line.strip_prefix("event: ").or(line.strip_prefix("event:"))
                {
                    event = v.to_string();
                } else if let Some(v) = line.strip_prefix("data: ").or(line.strip_prefix("data:")) {
                    data.push_str(v);
                } else if line.is_empty() && !data.is_empty() {
                    return Sse {
                        id,
                        event,
                        data: serde_json::from_str(&data).unwrap(),
                    };
                }
                // Anything else: a chunk size (chunked encoding) or a keep-alive comment.
            }
        };
        tokio::time::timeout(Duration::from_secs(10), read)
            .await
            .expect("an event within 10 s")
    }
}

async fn seq_of(server: &InProcess, project: &str) -> u64 {
    let p = api(
        server,
        WINDOW,
        "GET",
        &format!("/api/v1/projects/{project}"),
        Value::Null,
    )
    .await;
    p.json()["seq"].as_u64().unwrap()
}

/// A client reads part of a project's events, drops, more happen, and it reconnects with
/// `Last-Event-ID`: it gets exactly the events after the last one it saw.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_dropped_watch_resumes_with_last_event_id() {
    let server = start().await;
    parallel_project(&server, "SSE1").await;
    let mut s = open(&server, "/api/v1/projects/SSE1/events", WINDOW, None).await;
    assert_eq!(s.status, 200);
    let mut seen = Vec::new();
    for _ in 0..5 {
        let e = s.next().await;
        assert_eq!(e.id.as_deref(), Some(e.data["seq"].to_string().as_str()));
        assert_eq!(e.event, e.data["type"].as_str().unwrap());
        seen.push(e.data["seq"].as_u64().unwrap());
    }
    assert_eq!(seen, [1, 2, 3, 4, 5]);
    drop(s);

    // While the client is away: NDRC claims and approves its filing.
    for verb in ["claim", "approve"] {
        let r = api(
            &server,
            &dept_token("ndrc"),
            "POST",
            &format!("/api/v1/projects/SSE1/items/I01/{verb}"),
            json!({"request_id": format!("sse-{verb}")}),
        )
        .await;
        assert_eq!(r.status, 200, "{}", r.body);
    }
    let last = seq_of(&server, "SSE1").await;
    assert!(last > 8, "{last}");

    let mut s = open(&server, "/api/v1/projects/SSE1/events", WINDOW, Some(5)).await;
    assert_eq!(s.status, 200);
    let mut resumed = Vec::new();
    while resumed.last() != Some(&last) {
        resumed.push(s.next().await.data["seq"].as_u64().unwrap());
    }
    assert_eq!(
        resumed,
        (6..=last).collect::<Vec<_>>(),
        "nothing missed, nothing twice"
    );

    // Live: the next event arrives on the open stream.
    let r = api(
        &server,
        WINDOW,
        "POST",
        "/api/v1/projects/SSE1/items/I02/urge",
        json!({"request_id": "sse-urge", "reason": "请尽快"}),
    )
    .await;
    assert_eq!(r.status, 200, "{}", r.body);
    let e = s.next().await;
    assert_eq!(e.data["seq"].as_u64().unwrap(), last + 1);
    assert_eq!(e.event, "urged");
}

/// A department's stream pushes each task as it becomes ready.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn ready_tasks_are_pushed_to_their_department() {
    let server = start().await;
    let mut s = open(&server, "/api/v1/tasks/ready", &dept_token("ndrc"), None).await;
    assert_eq!(s.status, 200);
    parallel_project(&server, "SSE2").await;
    let e = s.next().await;
    assert_eq!(e.event, "task");
    assert_eq!(
        (e.data["project"].as_str(), e.data["item"].as_str()),
        (Some("SSE2"), Some("I01"))
    );
    assert_eq!(e.data["state"], "ready");
    // A reconnect starts with every task ready now.
    drop(s);
    let mut s = open(
        &server,
        "/api/v1/tasks/ready?claim=true",
        &dept_token("ndrc"),
        None,
    )
    .await;
    let e = s.next().await;
    assert_eq!(e.data["item"], "I01");
    assert_eq!(
        e.data["state"], "claimed",
        "claimed for the caller before it is pushed"
    );
}

/// The same roles and errors as the gRPC streams, before the stream opens.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn streams_refuse_as_the_grpc_streams_do() {
    let server = start().await;
    parallel_project(&server, "SSE3").await;
    let no_token = http(server.http, "GET", "/api/v1/projects/SSE3/events", &[], "").await;
    assert_eq!(no_token.status, 401);
    let s = open(
        &server,
        "/api/v1/projects/SSE3/events",
        &dept_token("ndrc"),
        None,
    )
    .await;
    assert_eq!(s.status, 403, "a department does not watch projects");
    let s = open(&server, "/api/v1/tasks/ready", WINDOW, None).await;
    assert_eq!(s.status, 403, "the window has no queue");
    let s = open(&server, "/api/v1/projects/NOPE/events", WINDOW, None).await;
    assert_eq!(s.status, 404);
    let bad = http(
        server.http,
        "GET",
        "/api/v1/projects/SSE3/events",
        &[
            ("authorization", &format!("Bearer {WINDOW}")),
            ("last-event-id", "yesterday"),
        ],
        "",
    )
    .await;
    assert_eq!(bad.status, 400, "{}", bad.body);
    assert!(bad.body.contains("Last-Event-ID"), "{}", bad.body);
}

/// A department's ready stream over SSE obeys the caller's stream count (429 beyond it)
/// and ends with an `error` event soon after its token is revoked.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_ready_stream_ends_when_its_token_is_revoked_and_counts_against_the_caller() {
    let mut tokens_file = None;
    let server = start_configured(|c| {
        tokens_file = Some(c.tokens.clone());
        c.streams_per_caller = 2;
    })
    .await;
    let tokens_file = tokens_file.unwrap();
    let tokens = |args: &[&str]| {
        let out = std::process::Command::new(binary())
            .arg("tokens")
            .args(args)
            .arg("--tokens")
            .arg(&tokens_file)
            .output()
            .unwrap();
        assert!(
            out.status.success(),
            "{}",
            String::from_utf8_lossy(&out.stderr)
        );
        (
            String::from_utf8_lossy(&out.stdout).trim().to_string(),
            String::from_utf8_lossy(&out.stderr).to_string(),
        )
    };
    let (token, said) = tokens(&["add", "--role", "department:ndrc"]);
    let id = said.split_whitespace().nth(1).unwrap().to_string();
    // The server reads the identity file about once a second.
    let mut first = eventually("the new token works", 10, || {
        let (server, token) = (&server, token.clone());
        async move {
            let s = open(server, "/api/v1/tasks/ready", &token, None).await;
            (s.status == 200).then_some(s)
        }
    })
    .await;
    let _second = open(&server, "/api/v1/tasks/ready", &token, None).await;
    let third = open(&server, "/api/v1/tasks/ready", &token, None).await;
    assert_eq!(third.status, 429, "two streams per caller");
    // A task pushed, then the token revoked: the stream says so and ends.
    parallel_project(&server, "RV1").await;
    let task = first.next().await;
    assert_eq!(task.event, "task");
    assert_eq!(task.data["project"], "RV1");
    tokens(&["revoke", &id]);
    let ended = tokio::time::timeout(Duration::from_secs(10), async {
        loop {
            let e = first.next().await;
            if e.event == "error" {
                return e;
            }
        }
    })
    .await
    .expect("an error event within 10 s of the revocation");
    assert_eq!(ended.data["status"], "UNAUTHENTICATED", "{:?}", ended.data);
}

/// Every project's events over SSE: ids `project:seq`, the type filter, a reconnect that
/// resumes the project of its `Last-Event-ID` (nothing missed, nothing twice), and bad
/// cursors refused.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn every_projects_events_resume_by_project_and_sequence() {
    let server = start().await;
    let mut all = open(
        &server,
        "/api/v1/events?types=task_ready,submitted",
        WINDOW,
        None,
    )
    .await;
    assert_eq!(all.status, 200);
    parallel_project(&server, "AL1").await;
    let first = all.next().await;
    let second = all.next().await;
    for e in [&first, &second] {
        assert_eq!(e.data["project"], "AL1");
        assert!(
            ["task_ready", "submitted"].contains(&e.event.as_str()),
            "{e:?}"
        );
        assert_eq!(
            e.id.as_deref(),
            Some(format!("AL1:{}", e.data["seq"]).as_str())
        );
    }
    assert_eq!(first.event, "submitted");
    drop(all);
    // What the record says follows the second, of those types.
    let t = api(
        &server,
        SUPERVISOR,
        "GET",
        "/api/v1/projects/AL1/timeline",
        Value::Null,
    )
    .await;
    let after: Vec<u64> = t.json()["events"]
        .as_array()
        .unwrap()
        .iter()
        .filter(|e| ["task_ready", "submitted"].contains(&e["type"].as_str().unwrap()))
        .map(|e| e["seq"].as_u64().unwrap())
        .filter(|s| *s > second.data["seq"].as_u64().unwrap())
        .collect();
    assert!(!after.is_empty());
    // Reconnected with Last-Event-ID: the rest, from the one after, in order.
    let path = "/api/v1/events?types=task_ready,submitted";
    let last = second.id.clone().unwrap();
    let mut s = open_after(&server, path, WINDOW, Some(last)).await;
    for want in &after {
        let e = s.next().await;
        assert_eq!(e.data["seq"].as_u64(), Some(*want), "{e:?}");
    }
    let bad = http(
        server.http,
        "GET",
        "/api/v1/events",
        &[
            ("authorization", &format!("Bearer {WINDOW}")),
            ("last-event-id", "12"),
        ],
        "",
    )
    .await;
    assert_eq!(bad.status, 400, "{}", bad.body);
    assert!(bad.body.contains("project:seq"), "{}", bad.body);
    let bad = http(
        server.http,
        "GET",
        "/api/v1/events?cursors=AL1:x",
        &[("authorization", &format!("Bearer {WINDOW}"))],
        "",
    )
    .await;
    assert_eq!(bad.status, 400, "{}", bad.body);
}
