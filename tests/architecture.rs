//! The house's arrows: which workspace crate may depend on which, read from
//! `cargo metadata`, and no cycle between the modules of any crate.
//!
//! The design, bottom up: the wire (`fourstock-proto`) and the numerical
//! kernels (`fourstock-nn`); the policy contract (`fourstock-policy`); the
//! model families behind it; the front ends, which know the contract and
//! never a family; replay ingestion and training; and the command line,
//! which registers the families and on which nothing depends (nor on the
//! fuzz targets, which call every decoder). A new arrow
//! must be added here on purpose.

use std::collections::{BTreeMap, BTreeSet};
use std::path::{Path, PathBuf};
use std::process::Command;

use serde_json::Value;

/// Every workspace crate's allowed normal (non-dev) dependencies on other
/// workspace crates. The test and command-line crates may use anything.
const ALLOWED: &[(&str, &[&str])] = &[
    ("fourstock-proto", &[]),
    // Only for fourstock_proto::file, the capped read of a weight file.
    ("fourstock-nn", &["fourstock-proto"]),
    // What operators scrape: knows no protocol and no model.
    ("fourstock-telemetry", &[]),
    ("fourstock-policy", &["fourstock-proto", "fourstock-nn"]),
    (
        "fourstock-recurrent",
        &["fourstock-proto", "fourstock-nn", "fourstock-policy"],
    ),
    (
        "fourstock-slippi",
        &["fourstock-proto", "fourstock-nn", "fourstock-policy"],
    ),
    (
        "fourstock-slippi-import",
        &["fourstock-proto", "fourstock-nn", "fourstock-slippi"],
    ),
    (
        "fourstock-server",
        &["fourstock-proto", "fourstock-policy", "fourstock-telemetry"],
    ),
    (
        "fourstock-umi",
        &["fourstock-proto", "fourstock-policy", "fourstock-telemetry"],
    ),
    ("fourstock-client", &["fourstock-proto"]),
    ("fourstock-replay", &["fourstock-proto"]),
    (
        "fourstock-train",
        &[
            "fourstock-proto",
            "fourstock-policy",
            "fourstock-recurrent",
            "fourstock-replay",
        ],
    ),
];

/// Crates that may depend on anything: the command line, on which nothing
/// depends, the end-to-end test support, which only tests use, and the
/// fuzz targets, which only the fuzzers and their corpus test use.
const TOP: &[&str] = &["fourstock", "fourstock-tests", "fourstock-fuzz"];

/// The model families and the importer: never a front end's dependency.
const FAMILIES: &[&str] = &[
    "fourstock-recurrent",
    "fourstock-slippi",
    "fourstock-slippi-import",
];

fn workspace_root() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR"))
        .parent()
        .expect("tests/ sits in the workspace")
        .to_path_buf()
}

/// (crate, kind, dependency) for every dependency between workspace crates;
/// kind is "normal", "dev" or "build".
fn workspace_arrows() -> (BTreeSet<String>, Vec<(String, String, String)>) {
    let cargo = std::env::var("CARGO").unwrap_or_else(|_| "cargo".into());
    let output = Command::new(cargo)
        .args([
            "metadata",
            "--format-version",
            "1",
            "--no-deps",
            "--offline",
        ])
        .current_dir(workspace_root())
        .output()
        .expect("cargo metadata runs");
    assert!(
        output.status.success(),
        "cargo metadata failed: {}",
        String::from_utf8_lossy(&output.stderr)
    );
    let metadata: Value = serde_json::from_slice(&output.stdout).expect("cargo metadata is JSON");
    let packages = metadata["packages"].as_array().expect("a package list");
    let names: BTreeSet<String> = packages
        .iter()
        .map(|p| p["name"].as_str().expect("a name").to_string())
        .collect();
    let mut arrows = Vec::new();
    for package in packages {
        let from = package["name"].as_str().expect("a name");
        for dependency in package["dependencies"].as_array().expect("dependencies") {
            let to = dependency["name"].as_str().expect("a name");
            if names.contains(to) {
                let kind = dependency["kind"].as_str().unwrap_or("normal");
                arrows.push((from.to_string(), kind.to_string(), to.to_string()));
            }
        }
    }
    (names, arrows)
}

#[test]
fn crate_arrows_follow_the_design() {
    let (names, arrows) = workspace_arrows();
    let allowed: BTreeMap<&str, &[&str]> = ALLOWED.iter().copied().collect();
    for name in &names {
        assert!(
            allowed.contains_key(name.as_str()) || TOP.contains(&name.as_str()),
            "crate {name} is not in the architecture test: place it in ALLOWED"
        );
    }
    let mut wrong = Vec::new();
    for (from, kind, to) in &arrows {
        if to == "fourstock" {
            wrong.push(format!(
                "{from} -> {to} ({kind}): nothing depends on the command line"
            ));
        }
        if to == "fourstock-tests" && kind != "dev" {
            wrong.push(format!(
                "{from} -> {to} ({kind}): test support is for tests only"
            ));
        }
        if kind != "normal" || TOP.contains(&from.as_str()) {
            continue;
        }
        if !allowed[from.as_str()].contains(&to.as_str()) {
            wrong.push(format!("{from} -> {to}: not an arrow of the design"));
        }
    }
    assert!(
        wrong.is_empty(),
        "arrows outside the design:\n{}",
        wrong.join("\n")
    );

    // The three rules the design is most about, spelled out.
    let normal = |from: &str| -> Vec<&str> {
        arrows
            .iter()
            .filter(|(f, k, _)| f == from && k == "normal")
            .map(|(_, _, t)| t.as_str())
            .collect()
    };
    for front_end in ["fourstock-server", "fourstock-umi"] {
        let deps = normal(front_end);
        assert!(
            deps.iter().all(|d| !FAMILIES.contains(d)),
            "{front_end} links a model family: {deps:?}"
        );
    }
    assert!(
        !normal("fourstock-train").contains(&"fourstock-server"),
        "training depends on the server"
    );
    assert!(
        arrows
            .iter()
            .all(|(f, _, t)| t != "fourstock" || f == "fourstock-tests"),
        "a crate depends on the command line"
    );
}

/// The top-level modules of one crate's `src/` and, for each, the modules
/// it names through `crate::`.
fn module_arrows(src: &Path) -> BTreeMap<String, BTreeSet<String>> {
    let mut modules = BTreeMap::new();
    let files: Vec<PathBuf> = std::fs::read_dir(src)
        .expect("a src folder")
        .map(|e| e.expect("an entry").path())
        .filter(|p| p.extension().is_some_and(|e| e == "rs"))
        .collect();
    let names: BTreeSet<String> = files
        .iter()
        .map(|p| p.file_stem().unwrap().to_string_lossy().into_owned())
        .filter(|n| n != "lib" && n != "main")
        .collect();
    for file in &files {
        let name = file.file_stem().unwrap().to_string_lossy().into_owned();
        if !names.contains(&name) {
            continue;
        }
        let text = std::fs::read_to_string(file).expect("a readable source file");
        let mut uses = BTreeSet::new();
        for (at, _) in text.match_indices("crate::") {
            let rest = &text[at + "crate::".len()..];
            let used: String = rest
                .chars()
                .take_while(|c| c.is_ascii_alphanumeric() || *c == '_')
                .collect();
            // `use crate::{a, b}` names several.
            if rest.starts_with('{') {
                let group = &rest[1..rest.find('}').unwrap_or(rest.len())];
                for item in group.split(',') {
                    let item = item.trim().split("::").next().unwrap_or("").trim();
                    if names.contains(item) && item != name {
                        uses.insert(item.to_string());
                    }
                }
            } else if names.contains(&used) && used != name {
                uses.insert(used);
            }
        }
        modules.insert(name, uses);
    }
    modules
}

/// A cycle in `graph`, if there is one, as the modules along it.
fn find_cycle(graph: &BTreeMap<String, BTreeSet<String>>) -> Option<Vec<String>> {
    fn visit(
        node: &str,
        graph: &BTreeMap<String, BTreeSet<String>>,
        path: &mut Vec<String>,
        done: &mut BTreeSet<String>,
    ) -> Option<Vec<String>> {
        if let Some(at) = path.iter().position(|n| n == node) {
            let mut cycle = path[at..].to_vec();
            cycle.push(node.to_string());
            return Some(cycle);
        }
        if done.contains(node) {
            return None;
        }
        path.push(node.to_string());
        for next in graph.get(node).into_iter().flatten() {
            if let Some(cycle) = visit(next, graph, path, done) {
                return Some(cycle);
            }
        }
        path.pop();
        done.insert(node.to_string());
        None
    }
    let mut done = BTreeSet::new();
    for node in graph.keys() {
        if let Some(cycle) = visit(node, graph, &mut Vec::new(), &mut done) {
            return Some(cycle);
        }
    }
    None
}

#[test]
fn no_crate_has_a_cycle_between_its_modules() {
    let root = workspace_root();
    let mut crates: Vec<PathBuf> = std::fs::read_dir(root.join("crates"))
        .expect("a crates folder")
        .map(|e| e.expect("an entry").path().join("src"))
        .filter(|p| p.is_dir())
        .collect();
    crates.sort();
    assert!(crates.len() >= 8, "found only {crates:?}");
    for src in crates {
        let graph = module_arrows(&src);
        if let Some(cycle) = find_cycle(&graph) {
            panic!(
                "{}: modules in a cycle: {}",
                src.display(),
                cycle.join(" -> ")
            );
        }
    }
}

#[test]
fn the_cycle_finder_finds_a_cycle() {
    let graph: BTreeMap<String, BTreeSet<String>> = [
        ("server", vec!["session"]),
        ("session", vec!["shared"]),
        ("shared", vec!["server"]),
        ("budget", vec![]),
    ]
    .into_iter()
    .map(|(k, v)| (k.to_string(), v.into_iter().map(String::from).collect()))
    .collect();
    let cycle = find_cycle(&graph).expect("a cycle");
    assert_eq!(cycle.first(), cycle.last());
    assert_eq!(cycle.len(), 4);
}
