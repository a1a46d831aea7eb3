//! The console in a real browser: headless Chromium (Debian's `chromium`, with a CJK font
//! so that Chinese renders) driven by Playwright for Python (`tests/browser/walk.py`)
//! against the server in process. The test prepares what it needs: the browser and font
//! from Debian's packages when missing (as root; otherwise it fails saying what to
//! install — it never skips), and a virtual environment with the pinned Playwright.
//!
//! The script and the test talk over the script's stdin and stdout: `CLOCK <time>` moves
//! the server's clock (the supervision ticker then raises the red cards the open dashboard
//! must show), `PASS` ends a walk in which every check held. Screenshots of each page go
//! to the build directory, or to `ONEWINDOW_SCREENSHOTS` when set (the ones in
//! `docs/screenshots/` were made so).

use std::io::{BufRead, BufReader, Write};
use std::path::{Path, PathBuf};
use std::process::{Command, Stdio};

use crate::common::*;

const CHROMIUM: &str = "/usr/bin/chromium";

fn has_cjk_font() -> bool {
    Command::new("fc-list")
        .arg(":lang=zh")
        .output()
        .is_ok_and(|o| !o.stdout.is_empty())
}

/// Debian's Chromium and a CJK font, installed once (under a lock every test process
/// shares) when missing.
fn chromium() -> PathBuf {
    if Path::new(CHROMIUM).exists() && has_cjk_font() {
        return PathBuf::from(CHROMIUM);
    }
    assert!(
        is_root() && Path::new("/usr/bin/apt-get").exists(),
        "the browser test needs Debian's chromium and a CJK font: \
         sudo apt-get install -y chromium fonts-wqy-zenhei fontconfig"
    );
    let lock = std::env::temp_dir().join("onewindow-install-chromium.lock");
    let out = Command::new("flock")
        .arg(&lock)
        .args(["sh", "-c"])
        .arg(
            "{ test -x /usr/bin/chromium && fc-list :lang=zh | grep -q .; } || \
             { DEBIAN_FRONTEND=noninteractive apt-get install -y --no-install-recommends chromium fonts-wqy-zenhei fontconfig \
               || { apt-get update && DEBIAN_FRONTEND=noninteractive apt-get install -y --no-install-recommends chromium fonts-wqy-zenhei fontconfig; }; }",
        )
        .stdin(Stdio::null())
        .output()
        .expect("flock and sh");
    assert!(
        out.status.success() && Path::new(CHROMIUM).exists(),
        "installing chromium failed:\n{}{}",
        String::from_utf8_lossy(&out.stdout),
        String::from_utf8_lossy(&out.stderr)
    );
    PathBuf::from(CHROMIUM)
}

/// A project from the counter through every department's inbox to completion, a claim
/// race, another department's task refused by URL, a red card arriving live on the open
/// dashboard when the clock passes the due dates, the Gantt chart and the assessment, a
/// permit printed with its seal as a QR code,
/// `<script>` in every text field shown as text, and public pages without personal data.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_project_walked_through_the_console_in_chromium() {
    let chromium = chromium();
    let python = python_venv("python-browser", "tests/browser/requirements.txt");
    // Documents sealed with keys of the test's own, so the printed permit carries its QR.
    let keys = tempfile::tempdir().unwrap();
    let key_dir = keys.path().to_path_buf();
    let server = start_configured(move |c| {
        c.tick = std::time::Duration::from_millis(200);
        c.document_keys = Some(key_dir);
    })
    .await;
    let shots = std::env::var_os("ONEWINDOW_SCREENSHOTS").map_or_else(
        || PathBuf::from(env!("CARGO_TARGET_TMPDIR")).join("screenshots"),
        PathBuf::from,
    );
    let base = format!("http://{}", server.http);
    let clock = server.clock.clone();
    let walked = tokio::task::spawn_blocking(move || {
        let root = PathBuf::from(env!("CARGO_MANIFEST_DIR"));
        let mut child = Command::new(python)
            .arg(root.join("tests/browser/walk.py"))
            .arg(&base)
            .arg(&shots)
            .arg(&chromium)
            .stdin(Stdio::piped())
            .stdout(Stdio::piped())
            .stderr(Stdio::piped())
            .spawn()
            .expect("the browser walk starts");
        let mut to_script = child.stdin.take().unwrap();
        let mut said = Vec::new();
        let mut passed = false;
        for line in BufReader::new(child.stdout.take().unwrap()).lines() {
            let line = line.unwrap();
            if let Some(at) = line.strip_prefix("CLOCK ") {
                clock.set(at);
                writeln!(to_script, "OK").unwrap();
                to_script.flush().unwrap();
            } else if line == "PASS" {
                passed = true;
            }
            said.push(line);
        }
        let out = child.wait_with_output().unwrap();
        (
            passed,
            out.status,
            said,
            String::from_utf8_lossy(&out.stderr).to_string(),
        )
    })
    .await
    .unwrap();
    let (passed, status, said, stderr) = walked;
    assert!(
        passed && status.success(),
        "the walk failed ({status}):\n{}\n{stderr}",
        said.join("\n")
    );
}
