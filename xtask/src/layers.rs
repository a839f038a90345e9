//! The `lint-layers` check: the kernel's modules call down only
//! ([ADR 0004](../../docs/adr/0004-kernel-layers.md)).
//!
//! It reads `kernel/src/` as text — no compiler involved — and builds the
//! graph of the kernel binary's top-level modules (`arch`, `memory`, `time`,
//! …): an edge `a → b` for every `crate::b` path written in a file of `a`.
//! Two rules:
//!
//! 0. **Calls go down.** A module names only modules of its own layer or
//!    below ([`LAYERS`], ADR 0004's table), except [`KNOWN_UPWARD_EDGES`].
//! 1. **No import cycle.** With the edges of [`KNOWN_UPWARD_EDGES`] set
//!    aside, the graph must be acyclic; any cycle is reported with one
//!    `file:line` per edge.
//! 2. **`arch/` is the facade.** Outside `kernel/src/arch/`, no file names
//!    `arch::x86_64`, except those in [`KNOWN_FACADE_BYPASSES`].
//!
//! Both lists are a ratchet: they name what the kernel does today that the
//! ADR forbids, and the check also fails when an entry no longer occurs, so
//! each list can only shrink. The in-kernel test harness (`ktest`) is left
//! out of the graph: like `#[cfg(test)]`, tests sit next to the code they
//! test in every layer, and the harness is no layer.
//!
//! `use crate::{a, b::c}` groups and `super::` paths that stay inside one
//! top-level module are understood; comments are skipped. A path built by a
//! macro in another module is not seen — the check is a tripwire for the
//! usual ways in, not a proof.

use std::collections::{BTreeMap, BTreeSet};
use std::fs;
use std::path::{Path, PathBuf};

/// The kernel binary's top-level modules (`kernel/src/main.rs`) and their
/// layers, as ADR 0004's table gives them: a module may name modules of its
/// own layer or below, never above.
const LAYERS: &[(&str, u8)] = &[
    ("arch", 1),
    ("memory", 2),
    ("time", 3),
    ("logger", 4),
    ("verdict", 4),
    ("stats", 5),
    ("sched", 6),
    ("services", 7),
    ("process", 8),
    ("workloads", 9),
    ("main", 10),
];

/// The layer of `module`, if it is one of [`LAYERS`].
fn layer(module: &str) -> Option<u8> {
    LAYERS
        .iter()
        .find(|(name, _)| *name == module)
        .map(|(_, layer)| *layer)
}

/// The test harness: not part of the layering (module docs).
const HARNESS: &str = "ktest";

/// Edges that call up today, each closing an import cycle. Remove an entry
/// when its edge is gone (the check then insists).
pub const KNOWN_UPWARD_EDGES: &[(&str, &str)] = &[];

/// Files outside `arch/` that name `arch::x86_64` today (paths relative to
/// `kernel/src`). Remove an entry when its file goes through the facade.
pub const KNOWN_FACADE_BYPASSES: &[&str] = &[];

/// One `crate::` reference: where, and to which module.
#[derive(Clone, Debug, PartialEq, Eq, PartialOrd, Ord)]
pub struct Reference {
    /// The referring file, relative to `kernel/src`, and its line.
    pub site: String,
    /// The referring module.
    pub from: String,
    /// The module referred to.
    pub to: String,
}

/// The top-level module a file (relative to `kernel/src`) belongs to.
fn module_of(relative: &Path) -> Option<String> {
    let first = relative.components().next()?.as_os_str().to_str()?;
    let name = first.strip_suffix(".rs").unwrap_or(first);
    Some(name.to_owned())
}

/// The code of a line: everything before a `//` comment.
fn code_of(line: &str) -> &str {
    line.split("//").next().unwrap_or("")
}

/// The modules a line of code names through `crate::`.
fn referenced_modules(code: &str) -> Vec<String> {
    let mut out = Vec::new();
    let mut rest = code;
    while let Some(at) = rest.find("crate::") {
        let before = rest[..at].chars().next_back();
        rest = &rest[at + "crate::".len()..];
        // `kernel::` paths name the library crate; `$crate::` a macro's own.
        if before.is_some_and(|c| c.is_alphanumeric() || c == '_' || c == '$') {
            continue;
        }
        if let Some(group) = rest.strip_prefix('{') {
            let inner = group.split('}').next().unwrap_or("");
            for item in inner.split(',') {
                let name: String = item
                    .trim()
                    .chars()
                    .take_while(|c| c.is_alphanumeric() || *c == '_')
                    .collect();
                if !name.is_empty() {
                    out.push(name);
                }
            }
        } else {
            let name: String = rest
                .chars()
                .take_while(|c| c.is_alphanumeric() || *c == '_')
                .collect();
            if !name.is_empty() {
                out.push(name);
            }
        }
    }
    out
}

/// Every cross-module `crate::` reference in `sources` (relative path and
/// text of each file).
pub fn references(sources: &[(PathBuf, String)]) -> Vec<Reference> {
    let mut out = Vec::new();
    for (path, text) in sources {
        let Some(from) = module_of(path) else {
            continue;
        };
        if !layer(&from).is_some() {
            continue;
        }
        for (number, line) in text.lines().enumerate() {
            for to in referenced_modules(code_of(line)) {
                if to != from && layer(&to).is_some() {
                    out.push(Reference {
                        site: format!("{}:{}", path.display(), number + 1),
                        from: from.clone(),
                        to,
                    });
                }
            }
        }
    }
    out
}

/// The cycles of the module graph given by `edges`, as lists of modules
/// (strongly connected components with more than one module), sorted.
pub fn cycles(edges: &BTreeSet<(String, String)>) -> Vec<Vec<String>> {
    let nodes: BTreeSet<&String> = edges.iter().flat_map(|(a, b)| [a, b]).collect();
    let reach = |from: &String| -> BTreeSet<String> {
        let mut seen = BTreeSet::new();
        let mut stack = vec![from.clone()];
        while let Some(node) = stack.pop() {
            for (a, b) in edges {
                if *a == node && seen.insert(b.clone()) {
                    stack.push(b.clone());
                }
            }
        }
        seen
    };
    let reachable: BTreeMap<&String, BTreeSet<String>> =
        nodes.iter().map(|n| (*n, reach(n))).collect();
    let mut out: BTreeSet<Vec<String>> = BTreeSet::new();
    for node in &nodes {
        let component: Vec<String> = nodes
            .iter()
            .filter(|other| {
                reachable[*node].contains(**other) && reachable[**other].contains(*node)
            })
            .map(|n| (*n).clone())
            .collect();
        if component.len() > 1 {
            out.insert(component);
        }
    }
    out.into_iter().collect()
}

/// The two rules of the module docs over `sources`; every problem, or none.
pub fn check(sources: &[(PathBuf, String)]) -> Vec<String> {
    let mut problems = Vec::new();
    let references = references(sources);
    let all_edges: BTreeSet<(String, String)> = references
        .iter()
        .map(|r| (r.from.clone(), r.to.clone()))
        .collect();
    for (from, to) in KNOWN_UPWARD_EDGES {
        if !all_edges.contains(&((*from).to_owned(), (*to).to_owned())) {
            problems.push(format!(
                "{from} → {to} no longer occurs: remove it from KNOWN_UPWARD_EDGES"
            ));
        }
    }
    for reference in &references {
        let (from, to) = (reference.from.as_str(), reference.to.as_str());
        if layer(from) < layer(to) && !KNOWN_UPWARD_EDGES.contains(&(from, to)) {
            problems.push(format!(
                "{from} (layer {}) calls up into {to} (layer {}) at {}",
                layer(from).unwrap_or(0),
                layer(to).unwrap_or(0),
                reference.site
            ));
        }
    }
    let edges: BTreeSet<(String, String)> = all_edges
        .iter()
        .filter(|(a, b)| !KNOWN_UPWARD_EDGES.contains(&(a.as_str(), b.as_str())))
        .cloned()
        .collect();
    for cycle in cycles(&edges) {
        let sites: Vec<String> = references
            .iter()
            .filter(|r| {
                cycle.contains(&r.from)
                    && cycle.contains(&r.to)
                    && edges.contains(&(r.from.clone(), r.to.clone()))
            })
            .map(|r| format!("{} → {} at {}", r.from, r.to, r.site))
            .collect::<BTreeSet<_>>()
            .into_iter()
            .collect();
        problems.push(format!(
            "import cycle between {}: {}",
            cycle.join(", "),
            sites.join("; ")
        ));
    }
    let mut bypasses = BTreeSet::new();
    for (path, text) in sources {
        let module = module_of(path);
        if module.as_deref() == Some("arch") || module.as_deref() == Some(HARNESS) {
            continue;
        }
        if text
            .lines()
            .any(|line| code_of(line).contains("arch::x86_64"))
        {
            bypasses.insert(path.display().to_string());
        }
    }
    for file in &bypasses {
        if !KNOWN_FACADE_BYPASSES.contains(&file.as_str()) {
            problems.push(format!(
                "{file} names arch::x86_64: go through the arch facade (kernel/src/arch/mod.rs)"
            ));
        }
    }
    for file in KNOWN_FACADE_BYPASSES {
        if !bypasses.contains(*file) {
            problems.push(format!(
                "{file} no longer names arch::x86_64: remove it from KNOWN_FACADE_BYPASSES"
            ));
        }
    }
    problems
}

/// Reads every `.rs` file under `dir`, with paths relative to `dir`.
pub fn read_sources(dir: &Path) -> std::io::Result<Vec<(PathBuf, String)>> {
    let mut out = Vec::new();
    let mut stack = vec![dir.to_path_buf()];
    while let Some(current) = stack.pop() {
        for entry in fs::read_dir(&current)? {
            let path = entry?.path();
            if path.is_dir() {
                stack.push(path);
            } else if path.extension().is_some_and(|e| e == "rs") {
                let text = fs::read_to_string(&path)?;
                let relative = path.strip_prefix(dir).unwrap_or(&path).to_path_buf();
                out.push((relative, text));
            }
        }
    }
    out.sort();
    Ok(out)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn sources(files: &[(&str, &str)]) -> Vec<(PathBuf, String)> {
        files
            .iter()
            .map(|(p, t)| (PathBuf::from(p), (*t).to_owned()))
            .collect()
    }

    #[test]
    fn references_are_read_from_paths_and_groups() {
        let found =
            referenced_modules("use crate::{time, arch::x86_64::apic}; crate::stats::print();");
        assert_eq!(found, ["time", "arch", "stats"]);
        assert!(referenced_modules("use kernel::config; $crate::report!()").is_empty());
        assert!(referenced_modules(code_of("// see crate::sched")).is_empty());
    }

    #[test]
    fn a_cycle_is_found_and_located() {
        let found = cycles(&BTreeSet::from([
            ("a".to_owned(), "b".to_owned()),
            ("b".to_owned(), "c".to_owned()),
            ("c".to_owned(), "a".to_owned()),
            ("c".to_owned(), "d".to_owned()),
        ]));
        assert_eq!(found, [["a", "b", "c"]]);
        assert!(cycles(&BTreeSet::from([("a".to_owned(), "b".to_owned())])).is_empty());
    }

    #[test]
    fn a_lone_upward_reference_fails_the_check() {
        // No cycle, but sched names workloads, a layer above it.
        let files = sources(&[("sched/mod.rs", "use crate::workloads::tasks;\n")]);
        let problems = check(&files);
        assert!(
            problems.iter().any(|p| p.starts_with(
                "sched (layer 6) calls up into workloads (layer 9) at sched/mod.rs:1"
            )),
            "{problems:#?}"
        );
    }

    #[test]
    fn a_new_upward_call_fails_the_check() {
        // time → stats and stats → time: a cycle no list allows.
        let files = sources(&[
            ("time.rs", "use crate::stats;\n"),
            ("stats.rs", "fn f() { crate::time::uptime_ms(); }\n"),
        ]);
        let problems = check(&files);
        let cycle = problems
            .iter()
            .find(|p| p.starts_with("import cycle between stats, time"))
            .expect("the cycle is reported");
        assert!(cycle.contains("time → stats at time.rs:1"), "{cycle}");
        assert!(cycle.contains("stats → time at stats.rs:1"), "{cycle}");
    }

    #[test]
    fn the_ratchet_lists_must_shrink_with_the_code() {
        // No file at all: every listed edge and bypass is stale.
        let problems = check(&[]);
        assert_eq!(
            problems.len(),
            KNOWN_UPWARD_EDGES.len() + KNOWN_FACADE_BYPASSES.len()
        );
        let bypass = check(&sources(&[(
            "sched/new.rs",
            "use crate::arch::x86_64::apic;",
        )]));
        assert!(
            bypass
                .iter()
                .any(|p| p.starts_with("sched/new.rs names arch::x86_64"))
        );
    }

    #[test]
    fn the_kernel_obeys_its_layers() {
        let dir = Path::new(env!("CARGO_MANIFEST_DIR")).join("../kernel/src");
        let problems = check(&read_sources(&dir).unwrap());
        assert!(problems.is_empty(), "{problems:#?}");
    }
}
