//! The floor plan is kept by the compiler only as long as the crates' dependency lists
//! say what ARCHITECTURE.md says: this reads the resolved graph (`cargo metadata`) and
//! checks each crate's rule over its normal dependencies, transitively.

use std::collections::{BTreeMap, BTreeSet};

/// The host's target triple (`rustc -vV`): the graph is read for the platform the
/// crates are built for. Without the filter cargo reads every platform's packages,
/// which a machine that only built for its own has not downloaded (and `--offline`
/// keeps the test from fetching them).
fn host() -> String {
    let rustc = std::env::var("RUSTC").unwrap_or_else(|_| "rustc".into());
    let out = std::process::Command::new(rustc)
        .arg("-vV")
        .output()
        .expect("rustc -vV runs");
    String::from_utf8_lossy(&out.stdout)
        .lines()
        .find_map(|l| l.strip_prefix("host: "))
        .expect("rustc names its host")
        .to_string()
}

/// Each of our crates' normal dependencies, transitively, by crate name.
fn closure() -> BTreeMap<String, BTreeSet<String>> {
    let out = std::process::Command::new(env!("CARGO"))
        .args(["metadata", "--format-version", "1", "--locked", "--offline"])
        .args(["--filter-platform", &host()])
        .current_dir(env!("CARGO_MANIFEST_DIR"))
        .output()
        .expect("cargo metadata runs");
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    let meta: serde_json::Value = serde_json::from_slice(&out.stdout).unwrap();
    let name: BTreeMap<&str, &str> = meta["packages"]
        .as_array()
        .unwrap()
        .iter()
        .map(|p| (p["id"].as_str().unwrap(), p["name"].as_str().unwrap()))
        .collect();
    let normal: BTreeMap<&str, Vec<&str>> = meta["resolve"]["nodes"]
        .as_array()
        .unwrap()
        .iter()
        .map(|n| {
            let deps = n["deps"]
                .as_array()
                .unwrap()
                .iter()
                .filter(|d| {
                    d["dep_kinds"]
                        .as_array()
                        .unwrap()
                        .iter()
                        .any(|k| k["kind"].is_null())
                })
                .map(|d| d["pkg"].as_str().unwrap())
                .collect();
            (n["id"].as_str().unwrap(), deps)
        })
        .collect();
    let mut all = BTreeMap::new();
    for member in meta["workspace_members"].as_array().unwrap() {
        let id = member.as_str().unwrap();
        let mut seen = BTreeSet::new();
        let mut todo = vec![id];
        while let Some(at) = todo.pop() {
            for &d in normal.get(at).map(Vec::as_slice).unwrap_or_default() {
                if seen.insert(name[d].to_string()) {
                    todo.push(d);
                }
            }
        }
        all.insert(name[id].to_string(), seen);
    }
    all
}

#[test]
fn every_crate_keeps_its_rule() {
    let deps = closure();
    let has = |krate: &str, dep: &str| deps[krate].contains(dep);
    let io = [
        "tokio",
        "tonic",
        "prost",
        "axum",
        "hyper",
        "sled",
        "tokio-postgres",
    ];
    for krate in ["onewindow-core", "onewindow-engine"] {
        for dep in io {
            assert!(!has(krate, dep), "{krate} depends on {dep}");
        }
    }
    for dep in ["geo", "onewindow-engine", "onewindow-blueprint"] {
        assert!(!has("onewindow-core", dep), "core depends on {dep}");
    }
    for krate in deps.keys() {
        // Only the server and what is built on it (the binary, the testkit) know tonic,
        // axum and the generated protobuf.
        let serving =
            ["onewindow-server", "onewindow", "onewindow-testkit"].contains(&krate.as_str());
        for dep in ["tonic", "axum", "prost"] {
            assert!(serving || !has(krate, dep), "{krate} depends on {dep}");
        }
        assert!(
            !has(krate, "onewindow-testkit"),
            "{krate} depends on the testkit"
        );
        assert!(
            serving || !has(krate, "onewindow-server"),
            "{krate} depends on the server"
        );
    }
    assert!(!has("onewindow-store", "onewindow-audit"));
    assert!(!has("onewindow-simulate", "onewindow-store"));
    assert!(!has("onewindow-blueprint", "onewindow-engine"));
    // The mining crate reads the store; it never serves and never runs the simulator.
    for dep in ["onewindow-server", "onewindow-simulate"] {
        assert!(!has("onewindow-mining", dep), "mining depends on {dep}");
    }
    assert!(has("onewindow-mining", "process_mining"));
    // The twin joins the record and the simulator; neither knows it, and it never serves.
    for krate in ["onewindow-mining", "onewindow-simulate", "onewindow-store"] {
        assert!(!has(krate, "onewindow-twin"), "{krate} depends on the twin");
    }
    assert!(
        has("onewindow-twin", "onewindow-mining") && has("onewindow-twin", "onewindow-simulate")
    );
}
