//! The layering of the library (ARCHITECTURE.md, "Layers"), checked on its source: every
//! `crate::` path in `src/` (comments aside) is a dependency of its top-level module on another.
//!
//! - the modules have no dependency cycle;
//! - nothing on the hot path reaches the registry or the collector, directly or through another
//!   module;
//! - only the crate root imports the collector;
//! - `os` imports no module of the crate;
//! - no library code calls a libm-backed `f64` method (the `libm` crate's functions serve).
//!
//! A failure names the file and the forbidden module, so the fix is one `use` away.

use std::collections::{BTreeMap, BTreeSet};
use std::path::{Path, PathBuf};

/// What `alloc`, `dealloc` and `realloc` reach: the shim and everything it calls.
const HOT_PATH: &[&str] = &[
    "alloc", "batch", "channel", "ids", "reentry", "sampler", "sinks",
];
/// What the hot path must never reach: the locked table, and the background thread.
const NOT_ON_HOT_PATH: &[&str] = &["registry", "collector"];

/// Each top-level module and the modules of the crate it uses, with the file that uses each.
type Graph = BTreeMap<String, BTreeMap<String, PathBuf>>;

fn rust_files(dir: &Path, out: &mut Vec<PathBuf>) {
    for entry in std::fs::read_dir(dir).unwrap() {
        let path = entry.unwrap().path();
        if path.is_dir() {
            rust_files(&path, out);
        } else if path.extension().is_some_and(|e| e == "rs") {
            out.push(path);
        }
    }
}

/// The top-level module a file under `src/` belongs to (`None` for the crate root).
fn module_of(src: &Path, file: &Path) -> Option<String> {
    let rel = file.strip_prefix(src).unwrap();
    let first = rel.components().next()?.as_os_str().to_str()?.to_owned();
    match first.strip_suffix(".rs") {
        Some("lib") => None,
        Some(name) => Some(name.to_owned()),
        None => Some(first),
    }
}

/// The source without comments (to the end of the line from `//`).
fn code_of(text: &str) -> String {
    text.lines()
        .map(|line| line.find("//").map_or(line, |i| &line[..i]))
        .collect::<Vec<_>>()
        .join("\n")
}

/// The first segment of every `crate::` path in `code`, braced groups included:
/// `crate::{a, b::c}` names `a` and `b`.
fn crate_modules(code: &str) -> BTreeSet<String> {
    let mut found = BTreeSet::new();
    let ident = |s: &str| -> String {
        s.chars()
            .take_while(|c| c.is_alphanumeric() || *c == '_')
            .collect()
    };
    let mut rest = code;
    while let Some(i) = rest.find("crate::") {
        let before = rest[..i].chars().next_back();
        rest = &rest[i + "crate::".len()..];
        if before.is_some_and(|c| c.is_alphanumeric() || c == '_' || c == '$') {
            continue; // `$crate::` or a name ending in "crate"
        }
        let after = rest.trim_start();
        if let Some(group) = after.strip_prefix('{') {
            let mut depth = 1;
            let mut start = true;
            for (j, c) in group.char_indices() {
                match c {
                    '{' => depth += 1,
                    '}' => depth -= 1,
                    ',' if depth == 1 => start = true,
                    c if c.is_whitespace() => {}
                    _ if start && depth == 1 => {
                        start = false;
                        found.insert(ident(&group[j..]));
                    }
                    _ => {}
                }
                if depth == 0 {
                    break;
                }
            }
        } else {
            found.insert(ident(after));
        }
    }
    found.retain(|m| !m.is_empty() && m != "self");
    found
}

fn graph() -> Graph {
    let src = Path::new(env!("CARGO_MANIFEST_DIR")).join("src");
    let mut files = Vec::new();
    rust_files(&src, &mut files);
    files.sort();
    let top: BTreeSet<String> = files.iter().filter_map(|f| module_of(&src, f)).collect();
    let mut graph = Graph::new();
    for file in &files {
        let Some(module) = module_of(&src, file) else {
            continue;
        };
        let code = code_of(&std::fs::read_to_string(file).unwrap());
        let uses = graph.entry(module.clone()).or_default();
        for used in crate_modules(&code) {
            if used != module && top.contains(&used) {
                uses.entry(used).or_insert_with(|| file.clone());
            }
        }
    }
    graph
}

/// Every module `from` reaches, with the chain of modules that leads there.
fn reachable(graph: &Graph, from: &str) -> BTreeMap<String, Vec<String>> {
    let mut seen = BTreeMap::new();
    let mut stack = vec![(from.to_owned(), vec![from.to_owned()])];
    while let Some((module, path)) = stack.pop() {
        for next in graph.get(&module).into_iter().flat_map(BTreeMap::keys) {
            if !seen.contains_key(next) {
                let mut chain = path.clone();
                chain.push(next.clone());
                seen.insert(next.clone(), chain.clone());
                stack.push((next.clone(), chain));
            }
        }
    }
    seen
}

#[test]
fn the_parser_reads_plain_and_grouped_paths() {
    let code = code_of(
        "use crate::a::B;\nuse crate::{c, d::E, f::{g, h}};\n// crate::comment\nx = $crate::m;\n\
         crate::i::f(); pub(crate) fn j() {}",
    );
    let found: Vec<String> = crate_modules(&code).into_iter().collect();
    assert_eq!(found, ["a", "c", "d", "f", "i"]);
}

#[test]
fn the_modules_have_no_dependency_cycle() {
    let graph = graph();
    assert!(graph.len() > 10, "the source was read: {:?}", graph.keys());
    for module in graph.keys() {
        if let Some(chain) = reachable(&graph, module).get(module) {
            panic!("a dependency cycle: {}", chain.join(" -> "));
        }
    }
}

#[test]
fn nothing_on_the_hot_path_reaches_the_registry_or_the_collector() {
    let graph = graph();
    for hot in HOT_PATH {
        assert!(graph.contains_key(*hot), "no module {hot} in src/");
        let reached = reachable(&graph, hot);
        for forbidden in NOT_ON_HOT_PATH {
            if let Some(chain) = reached.get(*forbidden) {
                let first = &graph[*hot][&chain[1]];
                panic!(
                    "{hot} is on the hot path and reaches {forbidden}: {} (first step in {})",
                    chain.join(" -> "),
                    first.display()
                );
            }
        }
    }
}

#[test]
fn only_the_crate_root_imports_the_collector() {
    for (module, uses) in graph() {
        if let Some(file) = uses.get("collector") {
            panic!(
                "{} ({module}) imports the collector; the collector depends on the core, never \
                 the reverse",
                file.display()
            );
        }
    }
}

#[test]
fn os_is_a_leaf() {
    let graph = graph();
    let uses: Vec<&String> = graph["os"].keys().collect();
    assert!(
        uses.is_empty(),
        "os.rs imports {uses:?}: it registers the callbacks it is handed"
    );
}

/// `f64` methods that are calls into the C math library (libm); the library calls the `libm`
/// crate's pure-Rust functions instead: one such method makes every program that installs the
/// allocator load libm.so again (Cargo.toml says what that costs).
const LIBM_METHODS: &[&str] = &[
    ".ln()",
    ".exp()",
    ".exp_m1()",
    ".ln_1p()",
    ".powf(",
    ".log(",
    ".log2()",
    ".log10()",
    ".exp2()",
    ".sin()",
    ".cos()",
    ".tan()",
    ".sin_cos()",
    ".asin()",
    ".acos()",
    ".atan()",
    ".atan2(",
    ".sinh()",
    ".cosh()",
    ".tanh()",
    ".asinh()",
    ".acosh()",
    ".atanh()",
    ".cbrt()",
    ".hypot(",
];

#[test]
fn the_library_calls_no_libm_function() {
    let src = Path::new(env!("CARGO_MANIFEST_DIR")).join("src");
    let mut files = Vec::new();
    rust_files(&src, &mut files);
    for file in files {
        // A module compiled only for the tests (`mod regress;` is under `#[cfg(test)]` in
        // src/detect/mod.rs).
        if file.ends_with("detect/regress.rs") {
            continue;
        }
        let text = std::fs::read_to_string(&file).unwrap();
        // A file's tests come last, from its `#[cfg(test)]` module on.
        let library = text
            .find("#[cfg(test)]\nmod tests")
            .map_or(&text[..], |end| &text[..end]);
        let code = code_of(library);
        for method in LIBM_METHODS {
            assert!(
                !code.contains(method),
                "{} calls `{method}`, a libm function: use the libm crate's",
                file.display()
            );
        }
    }
}
