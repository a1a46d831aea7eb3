//! Client certificates against the real binary (issue 18, point 2): with
//! `--tls-client-ca` every connection must present a certificate of that CA, within its
//! validity; `--tls-client-roles` maps a certificate's subject CN or DNS name to a role.
//! Certificates are made here with rcgen.

use crate::common::*;
use onewindow::server::pb;
use pb::department_client::DepartmentClient;
use pb::window_client::WindowClient;
use pb::workflows_client::WorkflowsClient;
use rcgen::{BasicConstraints, CertificateParams, DnType, IsCa, Issuer, KeyPair, KeyUsagePurpose};

struct Ca {
    issuer: Issuer<'static, KeyPair>,
    pem: String,
}

fn ca(name: &str) -> Ca {
    let key = KeyPair::generate().unwrap();
    let mut params = CertificateParams::new(Vec::<String>::new()).unwrap();
    params.is_ca = IsCa::Ca(BasicConstraints::Unconstrained);
    params.distinguished_name.push(DnType::CommonName, name);
    params.key_usages = vec![KeyUsagePurpose::KeyCertSign, KeyUsagePurpose::CrlSign];
    let pem = params.self_signed(&key).unwrap().pem();
    Ca {
        issuer: Issuer::new(params, key),
        pem,
    }
}

/// A certificate signed by `ca` for `cn` (and DNS names `dns`): (certificate, key) PEM.
fn issue(ca: &Ca, cn: &str, dns: &[&str], expired: bool) -> (String, String) {
    let key = KeyPair::generate().unwrap();
    let mut params =
        CertificateParams::new(dns.iter().map(|d| d.to_string()).collect::<Vec<_>>()).unwrap();
    params.distinguished_name.push(DnType::CommonName, cn);
    if expired {
        params.not_before = rcgen::date_time_ymd(2019, 1, 1);
        params.not_after = rcgen::date_time_ymd(2020, 1, 1);
    }
    let cert = params.signed_by(&key, &ca.issuer).unwrap();
    (cert.pem(), key.serialize_pem())
}

/// A channel to the server presenting `client` (or no certificate).
async fn channel(
    addr: &str,
    server_ca: &str,
    client: Option<&(String, String)>,
) -> Result<tonic::transport::Channel, tonic::transport::Error> {
    let mut tls = tonic::transport::ClientTlsConfig::new()
        .ca_certificate(tonic::transport::Certificate::from_pem(server_ca))
        .domain_name("localhost");
    if let Some((cert, key)) = client {
        tls = tls.identity(tonic::transport::Identity::from_pem(cert, key));
    }
    tonic::transport::Channel::from_shared(addr.to_string())
        .unwrap()
        .tls_config(tls)?
        .connect()
        .await
}

/// What a `Workflows.List` over a connection presenting `client` comes to.
async fn list(
    addr: &str,
    ca: &str,
    client: Option<&(String, String)>,
    token: Option<&str>,
) -> Result<(), tonic::Status> {
    let channel = channel(addr, ca, client)
        .await
        .map_err(|e| tonic::Status::unavailable(e.to_string()))?;
    let mut wf = WorkflowsClient::new(channel);
    let req = match token {
        Some(t) => with(t, pb::ListWorkflowsRequest {}),
        None => tonic::Request::new(pb::ListWorkflowsRequest {}),
    };
    wf.list(req).await.map(|_| ())
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn department_systems_authenticate_by_certificate() {
    let city = ca("City Government CA");
    let dir = tempfile::tempdir().unwrap();
    let write = |name: &str, text: &str| {
        let p = dir.path().join(name);
        std::fs::write(&p, text).unwrap();
        p.to_str().unwrap().to_string()
    };
    let (server_cert, server_key) = issue(&city, "onewindow", &["localhost"], false);
    let roles = write(
        "roles.yaml",
        "certificates:\n  - name: nrp-gateway\n    role: department:nrp\n  - name: ndrc.gateway.gov.example\n    role: department:ndrc\n",
    );
    let args = [
        "--tls-cert".to_string(),
        write("server.pem", &server_cert),
        "--tls-key".to_string(),
        write("server.key", &server_key),
        "--tls-client-ca".to_string(),
        write("ca.pem", &city.pem),
        "--tls-client-roles".to_string(),
        roles,
    ];
    let args: Vec<&str> = args.iter().map(String::as_str).collect();
    let server = start_binary_with(&args);
    let addr = server.addr.clone();
    assert!(addr.starts_with("https://"), "{addr}");

    let nrp = issue(&city, "nrp-gateway", &[], false);
    let ndrc = issue(&city, "ndrc-system", &["ndrc.gateway.gov.example"], false);
    let terminal = issue(&city, "window-terminal-3", &[], false);

    // The natural resources bureau's system: no token, it acts as department:nrp. It
    // may list its tasks, and may not use the window's service — which says who it is.
    let nrp_channel = channel(&addr, &city.pem, Some(&nrp)).await.unwrap();
    let mut d = DepartmentClient::new(nrp_channel.clone());
    d.list_tasks(tonic::Request::new(pb::ListTasksRequest::default()))
        .await
        .expect("a department's certificate lists its tasks");
    let mut w = WindowClient::new(nrp_channel);
    let e = w
        .get_project(tonic::Request::new(pb::GetProjectRequest {
            project: "X".into(),
        }))
        .await
        .unwrap_err();
    assert_eq!(e.code(), tonic::Code::PermissionDenied, "{e:?}");
    assert!(e.message().contains("department:nrp may not"), "{e:?}");
    // With another department's token it cannot act as that department.
    let e = d
        .list_tasks(with(NDRC, pb::ListTasksRequest::default()))
        .await
        .unwrap_err();
    assert_eq!(e.code(), tonic::Code::PermissionDenied, "{e:?}");
    assert!(e.message().contains("department:nrp's"), "{e:?}");
    // Its own token alongside is fine.
    d.list_tasks(with(NRP, pb::ListTasksRequest::default()))
        .await
        .expect("the certificate's own role");

    // Mapped by a DNS name.
    let mut w = WindowClient::new(channel(&addr, &city.pem, Some(&ndrc)).await.unwrap());
    let e = w
        .get_project(tonic::Request::new(pb::GetProjectRequest {
            project: "X".into(),
        }))
        .await
        .unwrap_err();
    assert!(e.message().contains("department:ndrc may not"), "{e:?}");

    // A certificate of the CA that is not mapped: a bearer token says who it is.
    list(&addr, &city.pem, Some(&terminal), Some(WINDOW))
        .await
        .expect("an unmapped certificate with a token");
    let e = list(&addr, &city.pem, Some(&terminal), None)
        .await
        .unwrap_err();
    assert_eq!(e.code(), tonic::Code::Unauthenticated, "{e:?}");

    // Refused in the handshake: no certificate, an expired one, one of another CA —
    // even with a valid token.
    let expired = issue(&city, "nrp-gateway", &[], true);
    let other = ca("Somewhere Else CA");
    let foreign = issue(&other, "nrp-gateway", &[], false);
    for (what, client) in [
        ("no certificate", None),
        ("an expired certificate", Some(&expired)),
        ("another CA's certificate", Some(&foreign)),
    ] {
        let e = list(&addr, &city.pem, client, Some(NRP)).await.unwrap_err();
        // The connection is closed in the handshake: a transport error, never an
        // answer from the API.
        assert!(
            matches!(
                e.code(),
                tonic::Code::Unavailable | tonic::Code::Unknown | tonic::Code::Cancelled
            ),
            "{what}: {e:?}"
        );
        assert!(
            std::error::Error::source(&e).is_some() || e.code() == tonic::Code::Unavailable,
            "{what}: a transport error: {e:?}"
        );
    }
    // The failed handshakes did not stop the server.
    list(&addr, &city.pem, Some(&nrp), None)
        .await
        .expect("still serving");
}
