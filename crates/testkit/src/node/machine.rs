//! What a test needs from the machine: a Debian program, a Python environment, a
//! directory under the build's. Installed when missing (as root) or the test fails
//! saying what to install — never skipped.

use std::path::PathBuf;
use std::process::{Command, Stdio};

use super::root;

/// A directory for what tests keep between runs (`target/tmp`, as cargo's own
/// `CARGO_TARGET_TMPDIR`).
pub fn target_tmp() -> PathBuf {
    let exe = std::env::current_exe().expect("the test binary's path");
    let target = exe
        .ancestors()
        .nth(3)
        .expect("target/<profile>/deps/<test>");
    let dir = target.join("tmp");
    std::fs::create_dir_all(&dir).expect("target/tmp");
    dir
}

/// Whether the tests run as root (then they may install the Debian packages they need).
pub fn is_root() -> bool {
    Command::new("id")
        .arg("-u")
        .output()
        .is_ok_and(|o| String::from_utf8_lossy(&o.stdout).trim() == "0")
}

/// A program from a Debian package (`program`, e.g. `/usr/bin/promtool` from
/// `prometheus`): there already, or installed now as root (serialised by a lock, so
/// parallel tests install once). Without root and without the program the test fails
/// saying what to install — it never skips itself.
pub fn debian_program(program: &str, package: &str) -> PathBuf {
    if std::path::Path::new(program).exists() {
        return PathBuf::from(program);
    }
    assert!(
        is_root() && std::path::Path::new("/usr/bin/apt-get").exists(),
        "this test needs {program}: sudo apt-get install -y {package}"
    );
    let lock = std::env::temp_dir().join(format!("onewindow-install-{package}.lock"));
    let out = Command::new("flock")
        .arg(&lock)
        .args(["sh", "-c"])
        .arg(format!(
            "test -x {program} || {{ DEBIAN_FRONTEND=noninteractive apt-get install -y --no-install-recommends {package} \
               || {{ apt-get update && DEBIAN_FRONTEND=noninteractive apt-get install -y --no-install-recommends {package}; }}; }}"
        ))
        .stdin(Stdio::null())
        .output()
        .expect("flock and sh");
    assert!(
        out.status.success() && std::path::Path::new(program).exists(),
        "installing {package} failed:\n{}{}",
        String::from_utf8_lossy(&out.stdout),
        String::from_utf8_lossy(&out.stderr)
    );
    PathBuf::from(program)
}

/// A Python with the pinned requirements of `requirements` (relative to the checkout): a
/// virtual environment `name` under the build directory, made on first use with `python3
/// -m venv` and pip, and made again when the requirements change. Nothing is installed by
/// hand and nothing outside the build directory is touched; a machine that cannot make
/// it fails the test, saying why — the test never skips itself.
pub fn python_venv(name: &str, requirements: &str) -> PathBuf {
    let root = root();
    let file = root.join(requirements);
    let wanted = std::fs::read_to_string(&file).unwrap();
    let venv = target_tmp().join(name);
    let python = venv.join("bin/python3");
    let stamp = venv.join("requirements.txt");
    if std::fs::read_to_string(&stamp).ok().as_deref() == Some(wanted.as_str()) && python.exists() {
        return python;
    }
    let _ = std::fs::remove_dir_all(&venv);
    let run = |cmd: &mut Command, what: &str| {
        let out = cmd.output().unwrap_or_else(|e| panic!("{what}: {e}"));
        assert!(
            out.status.success(),
            "{what} failed (python3 with venv and pip, and PyPI, are needed):\n{}{}",
            String::from_utf8_lossy(&out.stdout),
            String::from_utf8_lossy(&out.stderr)
        );
    };
    run(
        Command::new("python3").args(["-m", "venv"]).arg(&venv),
        "python3 -m venv",
    );
    run(
        Command::new(&python)
            .args([
                "-m",
                "pip",
                "install",
                "--quiet",
                "--disable-pip-version-check",
                "-r",
            ])
            .arg(&file),
        &format!("pip install -r {requirements}"),
    );
    std::fs::write(&stamp, wanted).unwrap();
    python
}
