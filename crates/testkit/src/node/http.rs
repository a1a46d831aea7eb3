//! The HTTP side as a browser or a department system sees it: raw HTTP/1.1, the JSON
//! API with a bearer token, console logins and pages.

use super::{InProcess, WINDOW};

/// An answer on the HTTP side.
#[derive(Debug)]
pub struct HttpReply {
    /// The HTTP status.
    pub status: u16,
    /// Header names in lower case.
    pub headers: Vec<(String, String)>,
    /// The body as text.
    pub body: String,
}

impl HttpReply {
    /// The first value of a header.
    pub fn header(&self, name: &str) -> Option<&str> {
        self.headers
            .iter()
            .find(|(n, _)| n == name)
            .map(|(_, v)| v.as_str())
    }

    /// The body as JSON.
    pub fn json(&self) -> serde_json::Value {
        serde_json::from_str(&self.body)
            .unwrap_or_else(|e| panic!("JSON body ({e}): {}", self.body))
    }
}

/// One HTTP/1.1 request, the raw way (one connection each, `Connection: close`), so that
/// the tests see exactly what the server sends.
pub async fn http(
    addr: std::net::SocketAddr,
    method: &str,
    path: &str,
    headers: &[(&str, &str)],
    body: &str,
) -> HttpReply {
    use tokio::io::{AsyncReadExt, AsyncWriteExt};
    let mut s = tokio::net::TcpStream::connect(addr).await.unwrap();
    let mut head = format!(
        "{method} {path} HTTP/1.1\r\nHost: {addr}\r\nConnection: close\r\nContent-Length: {}\r\n",
        body.len()
    );
    for (k, v) in headers {
        head.push_str(&format!("{k}: {v}\r\n"));
    }
    head.push_str("\r\n");
    s.write_all(head.as_bytes()).await.unwrap();
    s.write_all(body.as_bytes()).await.unwrap();
    let mut raw = Vec::new();
    s.read_to_end(&mut raw).await.unwrap();
    let raw = String::from_utf8_lossy(&raw).to_string();
    let (head, body) = raw.split_once("\r\n\r\n").unwrap_or((raw.as_str(), ""));
    let mut lines = head.lines();
    let status = lines
        .next()
        .and_then(|l| l.split(' ').nth(1))
        .and_then(|c| c.parse().ok())
        .unwrap_or(0);
    let headers: Vec<(String, String)> = lines
        .filter_map(|l| l.split_once(": "))
        .map(|(k, v)| (k.to_ascii_lowercase(), v.to_string()))
        .collect();
    let chunked = headers
        .iter()
        .any(|(k, v)| k == "transfer-encoding" && v.contains("chunked"));
    let body = if chunked {
        let mut out = String::new();
        let mut rest = body;
        while let Some((size, after)) = rest.split_once("\r\n") {
            let n = usize::from_str_radix(size.trim(), 16).unwrap_or(0);
            if n == 0 {
                break;
            }
            out.push_str(&after[..n.min(after.len())]);
            rest = after.get(n + 2..).unwrap_or("");
        }
        out
    } else {
        body.to_string()
    };
    HttpReply {
        status,
        headers,
        body,
    }
}

// The HTTP side's helpers: the JSON API with a token, the console with a session.

use serde_json::{json, Value};

/// An `Authorization` header's value.
pub fn bearer(token: &str) -> String {
    format!("Bearer {token}")
}

/// A JSON API call with `token`: the reply, its body parsed by [`HttpReply::json`].
pub async fn api(
    server: &InProcess,
    token: &str,
    method: &str,
    path: &str,
    body: Value,
) -> HttpReply {
    let auth = bearer(token);
    let body = if body.is_null() {
        String::new()
    } else {
        body.to_string()
    };
    http(
        server.http,
        method,
        path,
        &[
            ("authorization", auth.as_str()),
            ("content-type", "application/json"),
        ],
        &body,
    )
    .await
}

/// The deployed version of the complaint workflow, asked over the JSON API.
pub async fn complaint_version(server: &InProcess) -> String {
    let list = api(server, WINDOW, "GET", "/api/v1/workflows", Value::Null).await;
    assert_eq!(list.status, 200, "{}", list.body);
    list.json()["workflows"]
        .as_array()
        .unwrap()
        .iter()
        .find(|w| w["id"] == "complaint")
        .unwrap()["version"]
        .as_str()
        .unwrap()
        .to_string()
}

/// A complete complaint submission as the JSON API takes it.
pub fn complaint(request_id: &str, project: &str, version: &str) -> Value {
    json!({
        "request_id": request_id,
        "project": project,
        "version": version,
        "applicant": "张三",
        "form": {"complainant": "张三", "subject": "fees", "department_named": "某局"},
        "materials": [{"material": "complaint_letter"}, {"material": "evidence"}]
    })
}

/// The login form's CSRF token and its cookie (`onewindow_login=…`), as a browser gets
/// them when it opens the login page.
pub async fn login_form(addr: std::net::SocketAddr) -> (String, String) {
    let form = http(addr, "GET", "/console/login", &[], "").await;
    assert_eq!(form.status, 200, "{}", form.body);
    let csrf = form
        .body
        .split("name=\"csrf\" value=\"")
        .nth(1)
        .and_then(|s| s.split('"').next())
        .expect("the login form carries a CSRF token")
        .to_string();
    let cookie = form
        .header("set-cookie")
        .and_then(|c| c.split(';').next())
        .expect("the login form sets its cookie")
        .to_string();
    (csrf, cookie)
}

/// Logs in to the console with a token, as a browser does (the form first, then the
/// post with its token and cookie): the session cookie.
pub async fn login(server: &InProcess, token: &str) -> String {
    login_at(server.http, token).await
}

/// [`login`] on the console at `addr` (a node started as a process).
pub async fn login_at(addr: std::net::SocketAddr, token: &str) -> String {
    let (csrf, cookie) = login_form(addr).await;
    let r = http(
        addr,
        "POST",
        "/console/login",
        &[
            ("content-type", "application/x-www-form-urlencoded"),
            ("cookie", &cookie),
        ],
        &format!("token={token}&csrf={csrf}"),
    )
    .await;
    assert_eq!(r.status, 303, "{}", r.body);
    let cookie = r.header("set-cookie").unwrap().to_string();
    assert!(cookie.contains("HttpOnly"), "{cookie}");
    assert!(cookie.contains("SameSite=Strict"), "{cookie}");
    cookie.split(';').next().unwrap().to_string()
}

/// A console page, with the session cookie.
pub async fn page(server: &InProcess, cookie: &str, path: &str) -> HttpReply {
    http(server.http, "GET", path, &[("cookie", cookie)], "").await
}

/// The hidden fields (CSRF token, request id) of the form posting to `action` on a page.
pub fn form_fields(page: &str, action: &str) -> String {
    let form = page
        .split(&format!("action=\"{action}\""))
        .nth(1)
        .and_then(|rest| rest.split("</form>").next())
        .unwrap_or_else(|| panic!("a form posting to {action} on the page:\n{page}"));
    let value = |name: &str| {
        form.split(&format!("name=\"{name}\" value=\""))
            .nth(1)
            .and_then(|s| s.split('"').next())
            .unwrap_or_else(|| panic!("{name} in the form to {action}"))
            .to_string()
    };
    format!("csrf={}&request_id={}", value("csrf"), value("request_id"))
}

/// Posts a console form as its page drew it, with `extra` fields (already encoded).
pub async fn post_form(
    server: &InProcess,
    cookie: &str,
    page: &str,
    action: &str,
    extra: &str,
) -> HttpReply {
    let hidden = form_fields(page, action);
    let body = if extra.is_empty() {
        hidden
    } else {
        format!("{hidden}&{extra}")
    };
    http(
        server.http,
        "POST",
        action,
        &[
            ("cookie", cookie),
            ("content-type", "application/x-www-form-urlencoded"),
        ],
        &body,
    )
    .await
}
