//! Every bad input gets its documented code and changes nothing: a project through the
//! window, then bad ids, values, times, filters, tokens and undecodable bytes against every
//! service, request ids reused across callers and commands — and the server still serves,
//! the project as it was. The table of codes is the proto's header.

use std::collections::HashMap;

use crate::common::*;
use onewindow::server::pb;
use pb::department_client::DepartmentClient;
use pb::supervision_client::SupervisionClient;
use pb::window_client::WindowClient;
use pb::workflows_client::WorkflowsClient;
use tonic::Code;

/// The code of a call's outcome (`Ok` for a success), checking that no message echoes its
/// input whole.
fn code<T>(r: Result<tonic::Response<T>, tonic::Status>) -> Code {
    match r {
        Ok(_) => Code::Ok,
        Err(s) => {
            assert!(
                s.message().len() <= 4000,
                "a message of {} bytes",
                s.message().len()
            );
            s.code()
        }
    }
}

fn number(n: f64) -> pb::FieldValue {
    pb::FieldValue {
        value: Some(pb::field_value::Value::Number(n)),
    }
}

fn date(d: &str) -> pb::FieldValue {
    pb::FieldValue {
        value: Some(pb::field_value::Value::Date(d.into())),
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn every_bad_input_gets_its_typed_code_and_changes_nothing() {
    let server = start().await;
    let mut workflows = WorkflowsClient::connect(server.addr.clone()).await.unwrap();
    let version = version_of(&mut workflows, "complaint").await;
    let mut window = WindowClient::connect(server.addr.clone()).await.unwrap();
    let mut dept = DepartmentClient::connect(server.addr.clone())
        .await
        .unwrap();
    let mut supervision = SupervisionClient::connect(server.addr.clone())
        .await
        .unwrap();
    let submit = |rid: &str, project: &str| pb::SubmitRequest {
        request_id: rid.into(),
        project: project.into(),
        version: version.clone(),
        form: complaint_form(),
        materials: refs(&["complaint_letter", "evidence"]),
        ..Default::default()
    };
    // A good project first; its id is 100 Chinese characters (an id is counted in
    // characters, not bytes).
    let good = "投".repeat(100);
    window
        .submit(with(WINDOW, submit("good-1", &good)))
        .await
        .unwrap();
    let before = window
        .get_project(with(
            WINDOW,
            pb::GetProjectRequest {
                project: good.clone(),
            },
        ))
        .await
        .unwrap()
        .into_inner();

    let huge = "x".repeat(100_000);
    let mut cases: Vec<(&str, Code, Code)> = Vec::new();
    let mut check = |what: &'static str, want: Code, got: Code| cases.push((what, want, got));

    // Ids.
    for (what, rid, project) in [
        ("empty request id", "", "P-1"),
        ("blank request id", " ", "P-1"),
        ("newline request id", "\n", "P-1"),
        ("request id with NUL", "a\0b", "P-1"),
        ("request id of 300 characters", &"r".repeat(300)[..], "P-1"),
        ("project of 100 KB", "r-1", huge.as_str()),
        ("project with a space", "r-1", "P 1"),
        ("empty project", "r-1", ""),
        ("project with a quote", "r-1", "P\"1"),
    ] {
        let r = window.submit(with(WINDOW, submit(rid, project))).await;
        check(what, Code::InvalidArgument, code(r));
    }
    // The time of record is the server's.
    for (what, at) in [
        ("a time in the past", "2020-01-01T00:00:00"),
        ("a time past year 9999", "+10000-01-01T00:00:00"),
        ("a time that is no time", "yesterday"),
    ] {
        let mut req = submit("t-1", "T-1");
        req.at = at.into();
        check(
            what,
            Code::InvalidArgument,
            code(window.submit(with(WINDOW, req)).await),
        );
        let approve = pb::ApproveRequest {
            request_id: "t-2".into(),
            project: good.clone(),
            item: "C01".into(),
            at: at.into(),
            ..Default::default()
        };
        check(
            "a department's backdated approval",
            Code::InvalidArgument,
            code(dept.approve(with(BUREAU, approve)).await),
        );
    }
    // Values.
    let mut req = submit("v-1", "V-1");
    req.version = "not-deployed".into();
    check(
        "unknown version",
        Code::NotFound,
        code(window.submit(with(WINDOW, req)).await),
    );
    let mut req = submit("v-2", "V-2");
    req.version = huge.clone();
    check(
        "version of 100 KB",
        Code::InvalidArgument,
        code(window.submit(with(WINDOW, req)).await),
    );
    let mut req = submit("v-3", "V-3");
    req.form.insert("filed_on".into(), date("+10000-01-01"));
    check(
        "a date past 2199",
        Code::InvalidArgument,
        code(window.submit(with(WINDOW, req)).await),
    );
    let mut req = submit("v-4", "V-4");
    req.form.insert("amount".into(), number(f64::NAN));
    check(
        "a number that is NaN",
        Code::InvalidArgument,
        code(window.submit(with(WINDOW, req)).await),
    );
    let mut req = submit("v-5", "V-5");
    req.form
        .insert("complainant".into(), text(&"长".repeat(5000)));
    check(
        "form text of 5,000 characters",
        Code::InvalidArgument,
        code(window.submit(with(WINDOW, req)).await),
    );
    let mut req = submit("v-6", "V-6");
    req.materials = refs(&["evidence"; 1001]);
    check(
        "1,001 materials",
        Code::InvalidArgument,
        code(window.submit(with(WINDOW, req)).await),
    );
    let mut req = submit("v-7", "V-7");
    req.materials = refs(&["complaint letter"]);
    check(
        "a material id with a space",
        Code::InvalidArgument,
        code(window.submit(with(WINDOW, req)).await),
    );
    let item = |item: &str| pb::ApproveRequest {
        request_id: "i-1".into(),
        project: good.clone(),
        item: item.into(),
        ..Default::default()
    };
    check(
        "an item of 1 KB",
        Code::InvalidArgument,
        code(dept.approve(with(BUREAU, item(&"I".repeat(1024)))).await),
    );
    check(
        "an unknown item",
        Code::NotFound,
        code(dept.approve(with(BUREAU, item("NOPE"))).await),
    );
    let mut numbers = item("C01");
    numbers.request_id = "i-2".into();
    numbers.numbers = HashMap::from([("registration form".to_string(), "1".to_string())]);
    check(
        "a document id with a space",
        Code::InvalidArgument,
        code(dept.approve(with(BUREAU, numbers)).await),
    );
    let reject = pb::ReasonForItem {
        request_id: "i-3".into(),
        project: good.clone(),
        item: "C01".into(),
        reason: "bell\u{7}".into(),
        ..Default::default()
    };
    check(
        "a reason with a control character",
        Code::InvalidArgument,
        code(dept.reject(with(BUREAU, reject)).await),
    );
    let mut ghost = item("C01");
    ghost.request_id = "i-4".into();
    ghost.project = "GHOST".into();
    check(
        "a command for an unknown project",
        Code::NotFound,
        code(dept.approve(with(BUREAU, ghost)).await),
    );
    // Reads, filters and tokens.
    let get = |p: &str| pb::GetProjectRequest { project: p.into() };
    check(
        "get a project of 100 KB",
        Code::InvalidArgument,
        code(window.get_project(with(WINDOW, get(&huge))).await),
    );
    check(
        "get an unknown project",
        Code::NotFound,
        code(window.get_project(with(WINDOW, get("GHOST"))).await),
    );
    for (what, stage, status, token) in [
        ("list by a stage that is none", "bogus", "", ""),
        ("list by a status that is none", "", "weird", ""),
        ("list from a forged token", "", "", "a b"),
    ] {
        let req = pb::ListProjectsRequest {
            stage: stage.into(),
            status: status.into(),
            page_size: 10,
            page_token: token.into(),
        };
        check(
            what,
            Code::InvalidArgument,
            code(window.list_projects(with(WINDOW, req)).await),
        );
    }
    let tasks = pb::ListTasksRequest {
        state: "bogus".into(),
        ..Default::default()
    };
    check(
        "tasks in a state that is none",
        Code::InvalidArgument,
        code(dept.list_tasks(with(BUREAU, tasks)).await),
    );
    let watch = |project: &str, types: Vec<String>| pb::WatchRequest {
        project: project.into(),
        types,
        ..Default::default()
    };
    let r = tokio::time::timeout(
        std::time::Duration::from_secs(5),
        window.watch(with(WINDOW, watch("GHOST", vec![]))),
    )
    .await
    .expect("watching an unknown project answers at once");
    check("watch an unknown project", Code::NotFound, code(r));
    check(
        "watch an event type that is none",
        Code::InvalidArgument,
        code(
            window
                .watch(with(WINDOW, watch("", vec!["bogus".into()])))
                .await,
        ),
    );
    for (what, from, to) in [
        ("assess from year 10000", "+10000-01-01", "2026-01-01"),
        ("assess without a start", "", "2026-01-01"),
        ("assess from year 0", "0000-01-01", "2026-01-01"),
    ] {
        let req = pb::AssessRequest {
            from: from.into(),
            to: to.into(),
        };
        check(
            what,
            Code::InvalidArgument,
            code(supervision.assess(with(SUPERVISOR, req)).await),
        );
    }
    check(
        "timeline without a project",
        Code::InvalidArgument,
        code(supervision.timeline(with(SUPERVISOR, get(""))).await),
    );
    let compare = pb::CompareRequest {
        versions: vec![version.clone(), version.clone()],
        limits: String::new(),
        start_date: "26-1-1".into(),
    };
    check(
        "compare from a date that is none",
        Code::InvalidArgument,
        code(workflows.compare(with(ADMIN, compare)).await),
    );

    // Undecodable requests: garbage, a truncated message, a wrong wire type, bad UTF-8.
    let submit_path = "/onewindow.v1.Window/Submit";
    let valid = prost::Message::encode_to_vec(&submit("raw-1", "RAW-1"));
    for (what, bytes) in [
        ("garbage bytes", vec![0xff, 0xff, 0xff, 0xff, 0x0f]),
        ("a truncated message", valid[..valid.len() / 2].to_vec()),
        // Field 1 (request_id) as a varint instead of a string.
        ("a wrong wire type", vec![0x08, 0x01]),
        // Field 1 as a string of invalid UTF-8.
        ("invalid UTF-8", vec![0x0a, 0x02, 0xc3, 0x28]),
    ] {
        check(
            what,
            Code::InvalidArgument,
            raw_call(&server.addr, submit_path, bytes).await,
        );
    }

    // Request ids belong to their caller and their command.
    window
        .submit(with(WINDOW, submit("shared-1", "S-1")))
        .await
        .unwrap();
    let mut theirs = item("C01");
    theirs.request_id = "shared-1".into();
    theirs.project = good.clone();
    let r = dept
        .approve(with(BUREAU, theirs))
        .await
        .unwrap()
        .into_inner();
    let approved = r.events.len() as u64;
    assert!(
        !r.replayed && r.project == good,
        "the department's own command, not the window's answer"
    );
    check(
        "another project's submission with a used id",
        Code::AlreadyExists,
        code(window.submit(with(WINDOW, submit("shared-1", "S-2"))).await),
    );
    let withdraw = pb::WithdrawRequest {
        request_id: "shared-1".into(),
        project: "S-1".into(),
        reason: "another command".into(),
        ..Default::default()
    };
    check(
        "another command with a used id",
        Code::AlreadyExists,
        code(window.withdraw(with(WINDOW, withdraw)).await),
    );
    let retry = window
        .submit(with(WINDOW, submit("shared-1", "S-1")))
        .await
        .unwrap()
        .into_inner();
    assert!(retry.replayed, "the same command is a retry");

    let wrong: Vec<String> = cases
        .iter()
        .filter(|(_, want, got)| want != got)
        .map(|(what, want, got)| format!("{what}: {got:?}, expected {want:?}"))
        .collect();
    assert!(wrong.is_empty(), "{}", wrong.join("\n"));
    assert!(cases.len() >= 40, "{} cases", cases.len());
    assert!(
        cases
            .iter()
            .all(|(_, _, got)| !matches!(got, Code::Internal | Code::Unavailable)),
        "nothing internal or unavailable"
    );

    // The good project is as it was (the department's approval of C01 aside), and the
    // server still serves.
    let after = window
        .get_project(with(WINDOW, get(&good)))
        .await
        .unwrap()
        .into_inner();
    assert_eq!(
        after.seq,
        before.seq + approved,
        "C01 approved (and what followed), nothing else"
    );
    assert!(window
        .list_projects(with(WINDOW, pb::ListProjectsRequest::default()))
        .await
        .is_ok());
}

/// Sends raw bytes as the request of `path` with the window's token; the outcome's code.
async fn raw_call(addr: &str, path: &'static str, bytes: Vec<u8>) -> Code {
    let channel = tonic::transport::Channel::from_shared(addr.to_string())
        .unwrap()
        .connect()
        .await
        .unwrap();
    let mut grpc = tonic::client::Grpc::new(channel);
    grpc.ready().await.unwrap();
    let r: Result<tonic::Response<Vec<u8>>, tonic::Status> = grpc
        .unary(
            with(WINDOW, bytes),
            tonic::codegen::http::uri::PathAndQuery::from_static(path),
            RawCodec,
        )
        .await;
    code(r)
}

/// Bytes in, bytes out: lets a test send what no generated client would.
#[derive(Debug, Clone, Copy, Default)]
struct RawCodec;

impl tonic::codec::Codec for RawCodec {
    type Encode = Vec<u8>;
    type Decode = Vec<u8>;
    type Encoder = RawCodec;
    type Decoder = RawCodec;

    fn encoder(&mut self) -> RawCodec {
        RawCodec
    }

    fn decoder(&mut self) -> RawCodec {
        RawCodec
    }
}

impl tonic::codec::Encoder for RawCodec {
    type Item = Vec<u8>;
    type Error = tonic::Status;

    fn encode(
        &mut self,
        item: Vec<u8>,
        dst: &mut tonic::codec::EncodeBuf<'_>,
    ) -> Result<(), tonic::Status> {
        bytes::BufMut::put_slice(dst, &item);
        Ok(())
    }
}

impl tonic::codec::Decoder for RawCodec {
    type Item = Vec<u8>;
    type Error = tonic::Status;

    fn decode(
        &mut self,
        src: &mut tonic::codec::DecodeBuf<'_>,
    ) -> Result<Option<Vec<u8>>, tonic::Status> {
        let n = bytes::Buf::remaining(src);
        Ok(Some(bytes::Buf::copy_to_bytes(src, n).to_vec()))
    }
}
