//! Every bad input gets its documented code and changes nothing: bad ids, values, times,
//! filters, tokens and undecodable bytes against every service, each its own named test
//! on a server of its own with one good project (afterwards the project as it was and
//! the server still serving); and request ids reused across callers and commands. The
//! table of codes is the proto's header.

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

/// A server with one good project (its id 100 Chinese characters: an id is counted in
/// characters, not bytes) and a client of every service: what each case starts from.
struct Env {
    server: InProcess,
    window: WindowClient<tonic::transport::Channel>,
    dept: DepartmentClient<tonic::transport::Channel>,
    supervision: SupervisionClient<tonic::transport::Channel>,
    workflows: WorkflowsClient<tonic::transport::Channel>,
    version: String,
    good: String,
    huge: String,
}

impl Env {
    async fn new() -> Env {
        let server = start().await;
        let mut workflows = WorkflowsClient::connect(server.addr.clone()).await.unwrap();
        let version = version_of(&mut workflows, "complaint").await;
        let window = WindowClient::connect(server.addr.clone()).await.unwrap();
        let dept = DepartmentClient::connect(server.addr.clone())
            .await
            .unwrap();
        let supervision = SupervisionClient::connect(server.addr.clone())
            .await
            .unwrap();
        let mut env = Env {
            server,
            window,
            dept,
            supervision,
            workflows,
            version,
            good: "投".repeat(100),
            huge: "x".repeat(100_000),
        };
        let good = env.submit("good-1", &env.good);
        env.window.submit(with(WINDOW, good)).await.unwrap();
        env
    }

    fn submit(&self, rid: &str, project: &str) -> pb::SubmitRequest {
        pb::SubmitRequest {
            request_id: rid.into(),
            project: project.into(),
            version: self.version.clone(),
            form: complaint_form(),
            materials: refs(&["complaint_letter", "evidence"]),
            ..Default::default()
        }
    }

    fn approve(&self, item: &str) -> pb::ApproveRequest {
        pb::ApproveRequest {
            request_id: "i-1".into(),
            project: self.good.clone(),
            item: item.into(),
            ..Default::default()
        }
    }

    /// The good project as the window sees it.
    async fn good_project(&mut self) -> pb::Project {
        let get = pb::GetProjectRequest {
            project: self.good.clone(),
        };
        self.window
            .get_project(with(WINDOW, get))
            .await
            .unwrap()
            .into_inner()
    }
}

fn get(p: &str) -> pb::GetProjectRequest {
    pb::GetProjectRequest { project: p.into() }
}

/// One named test per bad input: a fresh server with its good project, the call, its
/// documented code, and afterwards the good project as it was and the server serving.
macro_rules! bad_inputs {
    ($($name:ident: $want:ident, |$e:ident| $call:expr;)*) => {
        $(
            #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
            async fn $name() {
                let mut $e = Env::new().await;
                let before = $e.good_project().await;
                let got = $call;
                assert_eq!(got, Code::$want, "{}", stringify!($name));
                assert_eq!($e.good_project().await, before, "the good project changed");
                assert!($e
                    .window
                    .list_projects(with(WINDOW, pb::ListProjectsRequest::default()))
                    .await
                    .is_ok());
            }
        )*
    };
}

/// A submission `e.submit("x-1", project)` changed by `change`.
fn submit_with(
    e: &Env,
    rid: &str,
    project: &str,
    change: impl FnOnce(&mut pb::SubmitRequest),
) -> pb::SubmitRequest {
    let mut r = e.submit(rid, project);
    change(&mut r);
    r
}

bad_inputs! {
    // Ids.
    empty_request_id: InvalidArgument, |e| code(e.window.submit(with(WINDOW, e.submit("", "P-1"))).await);
    blank_request_id: InvalidArgument, |e| code(e.window.submit(with(WINDOW, e.submit(" ", "P-1"))).await);
    newline_request_id: InvalidArgument, |e| code(e.window.submit(with(WINDOW, e.submit("\n", "P-1"))).await);
    request_id_with_nul: InvalidArgument, |e| code(e.window.submit(with(WINDOW, e.submit("a\0b", "P-1"))).await);
    request_id_of_300_characters: InvalidArgument, |e| code(e.window.submit(with(WINDOW, e.submit(&"r".repeat(300), "P-1"))).await);
    project_of_100_kb: InvalidArgument, |e| code(e.window.submit(with(WINDOW, e.submit("r-1", &e.huge.clone()))).await);
    project_with_a_space: InvalidArgument, |e| code(e.window.submit(with(WINDOW, e.submit("r-1", "P 1"))).await);
    empty_project: InvalidArgument, |e| code(e.window.submit(with(WINDOW, e.submit("r-1", ""))).await);
    project_with_a_quote: InvalidArgument, |e| code(e.window.submit(with(WINDOW, e.submit("r-1", "P\"1"))).await);
    // The time of record is the server's.
    a_time_in_the_past: InvalidArgument, |e| code(e.window.submit(with(WINDOW, submit_with(&e, "t-1", "T-1", |r| r.at = "2020-01-01T00:00:00".into()))).await);
    a_time_past_year_9999: InvalidArgument, |e| code(e.window.submit(with(WINDOW, submit_with(&e, "t-1", "T-1", |r| r.at = "+10000-01-01T00:00:00".into()))).await);
    a_time_that_is_no_time: InvalidArgument, |e| code(e.window.submit(with(WINDOW, submit_with(&e, "t-1", "T-1", |r| r.at = "yesterday".into()))).await);
    a_departments_backdated_approval: InvalidArgument, |e| {
        let mut r = e.approve("C01");
        r.at = "2020-01-01T00:00:00".into();
        code(e.dept.approve(with(BUREAU, r)).await)
    };
    // Values.
    unknown_version: NotFound, |e| code(e.window.submit(with(WINDOW, submit_with(&e, "v-1", "V-1", |r| r.version = "not-deployed".into()))).await);
    version_of_100_kb: InvalidArgument, |e| { let huge = e.huge.clone(); code(e.window.submit(with(WINDOW, submit_with(&e, "v-2", "V-2", |r| r.version = huge))).await) };
    a_date_past_2199: InvalidArgument, |e| code(e.window.submit(with(WINDOW, submit_with(&e, "v-3", "V-3", |r| { r.form.insert("filed_on".into(), date("+10000-01-01")); }))).await);
    a_number_that_is_nan: InvalidArgument, |e| code(e.window.submit(with(WINDOW, submit_with(&e, "v-4", "V-4", |r| { r.form.insert("amount".into(), number(f64::NAN)); }))).await);
    form_text_of_5000_characters: InvalidArgument, |e| code(e.window.submit(with(WINDOW, submit_with(&e, "v-5", "V-5", |r| { r.form.insert("complainant".into(), text(&"长".repeat(5000))); }))).await);
    materials_1001: InvalidArgument, |e| code(e.window.submit(with(WINDOW, submit_with(&e, "v-6", "V-6", |r| r.materials = refs(&["evidence"; 1001])))).await);
    a_material_id_with_a_space: InvalidArgument, |e| code(e.window.submit(with(WINDOW, submit_with(&e, "v-7", "V-7", |r| r.materials = refs(&["complaint letter"])))).await);
    an_item_of_1_kb: InvalidArgument, |e| code(e.dept.approve(with(BUREAU, e.approve(&"I".repeat(1024)))).await);
    an_unknown_item: NotFound, |e| code(e.dept.approve(with(BUREAU, e.approve("NOPE"))).await);
    a_document_id_with_a_space: InvalidArgument, |e| {
        let mut r = e.approve("C01");
        r.numbers = HashMap::from([("registration form".to_string(), "1".to_string())]);
        code(e.dept.approve(with(BUREAU, r)).await)
    };
    a_reason_with_a_control_character: InvalidArgument, |e| {
        let r = pb::ReasonForItem {
            request_id: "i-3".into(),
            project: e.good.clone(),
            item: "C01".into(),
            reason: "bell\u{7}".into(),
            ..Default::default()
        };
        code(e.dept.reject(with(BUREAU, r)).await)
    };
    a_command_for_an_unknown_project: NotFound, |e| {
        let mut r = e.approve("C01");
        r.project = "GHOST".into();
        code(e.dept.approve(with(BUREAU, r)).await)
    };
    // Reads, filters and tokens.
    get_a_project_of_100_kb: InvalidArgument, |e| { let huge = e.huge.clone(); code(e.window.get_project(with(WINDOW, get(&huge))).await) };
    get_an_unknown_project: NotFound, |e| code(e.window.get_project(with(WINDOW, get("GHOST"))).await);
    list_by_a_stage_that_is_none: InvalidArgument, |e| code(e.window.list_projects(with(WINDOW, pb::ListProjectsRequest { stage: "bogus".into(), page_size: 10, ..Default::default() })).await);
    list_by_a_status_that_is_none: InvalidArgument, |e| code(e.window.list_projects(with(WINDOW, pb::ListProjectsRequest { status: "weird".into(), page_size: 10, ..Default::default() })).await);
    list_from_a_forged_token: InvalidArgument, |e| code(e.window.list_projects(with(WINDOW, pb::ListProjectsRequest { page_token: "a b".into(), page_size: 10, ..Default::default() })).await);
    tasks_in_a_state_that_is_none: InvalidArgument, |e| code(e.dept.list_tasks(with(BUREAU, pb::ListTasksRequest { state: "bogus".into(), ..Default::default() })).await);
    watch_an_unknown_project: NotFound, |e| {
        let r = tokio::time::timeout(
            std::time::Duration::from_secs(30),
            e.window.watch(with(WINDOW, pb::WatchRequest { project: "GHOST".into(), ..Default::default() })),
        )
        .await
        .expect("watching an unknown project answers, not waits");
        code(r)
    };
    watch_an_event_type_that_is_none: InvalidArgument, |e| code(e.window.watch(with(WINDOW, pb::WatchRequest { types: vec!["bogus".into()], ..Default::default() })).await);
    assess_from_year_10000: InvalidArgument, |e| code(e.supervision.assess(with(SUPERVISOR, pb::AssessRequest { from: "+10000-01-01".into(), to: "2026-01-01".into() })).await);
    assess_without_a_start: InvalidArgument, |e| code(e.supervision.assess(with(SUPERVISOR, pb::AssessRequest { from: String::new(), to: "2026-01-01".into() })).await);
    assess_from_year_0: InvalidArgument, |e| code(e.supervision.assess(with(SUPERVISOR, pb::AssessRequest { from: "0000-01-01".into(), to: "2026-01-01".into() })).await);
    timeline_without_a_project: InvalidArgument, |e| code(e.supervision.timeline(with(SUPERVISOR, get(""))).await);
    compare_from_a_date_that_is_none: InvalidArgument, |e| {
        let r = pb::CompareRequest {
            versions: vec![e.version.clone(), e.version.clone()],
            limits: String::new(),
            start_date: "26-1-1".into(),
        };
        code(e.workflows.compare(with(ADMIN, r)).await)
    };
    // Undecodable requests: garbage, a truncated message, a wrong wire type, bad UTF-8.
    garbage_bytes: InvalidArgument, |e| raw_call(&e.server.addr, SUBMIT, vec![0xff, 0xff, 0xff, 0xff, 0x0f]).await;
    a_truncated_message: InvalidArgument, |e| {
        let valid = prost::Message::encode_to_vec(&e.submit("raw-1", "RAW-1"));
        raw_call(&e.server.addr, SUBMIT, valid[..valid.len() / 2].to_vec()).await
    };
    // Field 1 (request_id) as a varint instead of a string.
    a_wrong_wire_type: InvalidArgument, |e| raw_call(&e.server.addr, SUBMIT, vec![0x08, 0x01]).await;
    // Field 1 as a string of invalid UTF-8.
    invalid_utf8: InvalidArgument, |e| raw_call(&e.server.addr, SUBMIT, vec![0x0a, 0x02, 0xc3, 0x28]).await;
}

const SUBMIT: &str = "/onewindow.v1.Window/Submit";

/// Request ids belong to their caller and their command: the window's id used by a
/// department is the department's own command; used again by the window for another
/// project or another command it is ALREADY_EXISTS; the same command again is a retry.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn request_ids_belong_to_their_caller_and_their_command() {
    let mut e = Env::new().await;
    let before = e.good_project().await;
    e.window
        .submit(with(WINDOW, e.submit("shared-1", "S-1")))
        .await
        .unwrap();
    let mut theirs = e.approve("C01");
    theirs.request_id = "shared-1".into();
    let r = e
        .dept
        .approve(with(BUREAU, theirs))
        .await
        .unwrap()
        .into_inner();
    assert!(
        !r.replayed && r.project == e.good,
        "the department's own command, not the window's answer"
    );
    assert_eq!(
        code(
            e.window
                .submit(with(WINDOW, e.submit("shared-1", "S-2")))
                .await
        ),
        Code::AlreadyExists,
        "another project's submission with a used id"
    );
    let withdraw = pb::WithdrawRequest {
        request_id: "shared-1".into(),
        project: "S-1".into(),
        reason: "another command".into(),
        ..Default::default()
    };
    assert_eq!(
        code(e.window.withdraw(with(WINDOW, withdraw)).await),
        Code::AlreadyExists,
        "another command with a used id"
    );
    let retry = e
        .window
        .submit(with(WINDOW, e.submit("shared-1", "S-1")))
        .await
        .unwrap()
        .into_inner();
    assert!(retry.replayed, "the same command is a retry");
    // The good project: C01 approved (and what followed), nothing else.
    assert_eq!(
        e.good_project().await.seq,
        before.seq + r.events.len() as u64
    );
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
