//! The folders of `core/src` are layers: the root's vocabulary, then
//! `transport/`, `node/`, `process/` and `dist/`, each naming only those
//! below it. This test reads every source file, collects the `crate::` and
//! `super::` paths it names (in `use` items and in code, resolving the
//! root's re-exports to the folder that defines them), and fails on any
//! import cycle between folders and on any path that reaches up a layer.

use std::collections::{BTreeMap, BTreeSet};
use std::path::{Path, PathBuf};

use syn::visit::Visit;

/// What each layer may name, besides the root's vocabulary and itself.
/// A layer missing here may name anything that keeps the graph acyclic.
const MAY_NAME: &[(&str, &[&str])] = &[
    ("transport", &[]),
    ("node", &[]),
    ("process", &["node"]),
    ("dist", &["node", "process", "transport"]),
];

/// Root files that every layer may name: the shared vocabulary.
const VOCABULARY: &[&str] = &[
    "disconnect",
    "error",
    "limit",
    "message",
    "pid",
    "reason",
    "signal",
];

#[test]
fn the_folders_of_core_form_layers_without_cycles() {
    let src = Path::new(env!("CARGO_MANIFEST_DIR")).join("src");
    let files = sources(&src);
    let graph = Graph::of(&files);
    assert!(
        graph.edges.len() > 5,
        "the sources were not read: {graph:?}"
    );

    let cycles = graph.cycles();
    assert!(
        cycles.is_empty(),
        "import cycles between folders: {cycles:#?}\n{graph:#?}"
    );

    let breaches = graph.breaches();
    assert!(
        breaches.is_empty(),
        "paths that reach up a layer:\n{}",
        breaches.join("\n")
    );
}

#[test]
fn a_cycle_or_a_reach_up_is_caught() {
    let files = vec![
        (
            PathBuf::from("lib.rs"),
            "mod node; mod process; mod dist; pub use process::Handle;".to_owned(),
        ),
        (
            PathBuf::from("node/mod.rs"),
            "use crate::Handle;".to_owned(),
        ),
        (
            PathBuf::from("process/mod.rs"),
            "pub struct Handle; fn f() { crate::node::g(); }".to_owned(),
        ),
        (
            PathBuf::from("dist/send.rs"),
            "use super::super::node::X;".to_owned(),
        ),
        (
            PathBuf::from("process/links.rs"),
            "use crate::{node::Y, dist::{send::Z}};".to_owned(),
        ),
    ];
    let graph = Graph::of(&files);
    let cycles = graph.cycles();
    let names = |names: &[&str]| names.iter().map(|n| (*n).to_owned()).collect::<Vec<_>>();
    assert_eq!(cycles, vec![names(&["dist", "node", "process"])]);
    let breaches = graph.breaches();
    assert!(
        breaches
            .iter()
            .any(|b| b.contains("process/links.rs") && b.contains("dist")),
        "{breaches:?}"
    );
    assert!(
        breaches
            .iter()
            .any(|b| b.contains("node/mod.rs") && b.contains("process")),
        "{breaches:?}"
    );
}

/// Every `.rs` file under `src`, with its path relative to `src`.
fn sources(src: &Path) -> Vec<(PathBuf, String)> {
    let mut files = Vec::new();
    let mut dirs = vec![src.to_path_buf()];
    while let Some(dir) = dirs.pop() {
        for entry in std::fs::read_dir(&dir).expect("a readable source folder") {
            let path = entry.expect("a readable entry").path();
            if path.is_dir() {
                dirs.push(path);
            } else if path.extension().is_some_and(|ext| ext == "rs") {
                let text = std::fs::read_to_string(&path).expect("a readable source file");
                let relative = path.strip_prefix(src).expect("under src").to_path_buf();
                files.push((relative, text));
            }
        }
    }
    files.sort();
    files
}

/// Which top-level module (a folder, or a root file) names which, and
/// where.
#[derive(Debug, Default)]
struct Graph {
    /// `(from, to)` → the files and paths that make the edge.
    edges: BTreeMap<(String, String), BTreeSet<String>>,
}

impl Graph {
    fn of(files: &[(PathBuf, String)]) -> Self {
        let reexports = files
            .iter()
            .find(|(path, _)| path == Path::new("lib.rs"))
            .map(|(_, text)| root_reexports(text))
            .unwrap_or_default();
        let mut graph = Graph::default();
        for (path, text) in files {
            if path == Path::new("lib.rs") {
                continue;
            }
            let file = syn::parse_file(text)
                .unwrap_or_else(|err| panic!("{} does not parse: {err}", path.display()));
            let mut names = Names {
                module: module_of(path),
                found: Vec::new(),
            };
            names.visit_file(&file);
            let from = names.module_root();
            for target in names.found {
                let Some(first_segment) = target.first() else {
                    continue;
                };
                // A name the root re-exports belongs to the module it
                // comes from; anything else is a top-level module itself.
                let to = reexports
                    .get(first_segment)
                    .unwrap_or(first_segment)
                    .clone();
                if to != from && is_module(&to, files) {
                    graph
                        .edges
                        .entry((from.clone(), to))
                        .or_default()
                        .insert(format!("{}: crate::{}", path.display(), target.join("::")));
                }
            }
        }
        graph
    }

    /// Every set of top-level modules that reach each other (the strongly
    /// connected components with more than one member).
    fn cycles(&self) -> Vec<Vec<String>> {
        let nodes: BTreeSet<&String> = self.edges.keys().flat_map(|(a, b)| [a, b]).collect();
        let reach = |from: &String| -> BTreeSet<String> {
            let mut seen = BTreeSet::new();
            let mut todo = vec![from.clone()];
            while let Some(at) = todo.pop() {
                for (a, b) in self.edges.keys() {
                    if *a == at && seen.insert(b.clone()) {
                        todo.push(b.clone());
                    }
                }
            }
            seen
        };
        let reaches: BTreeMap<&String, BTreeSet<String>> =
            nodes.iter().map(|n| (*n, reach(n))).collect();
        let mut cycles: BTreeSet<Vec<String>> = BTreeSet::new();
        for n in &nodes {
            let mut component: Vec<String> = nodes
                .iter()
                .filter(|m| reaches[*n].contains(**m) && reaches[**m].contains(*n))
                .map(|m| (*m).clone())
                .collect();
            component.sort();
            if component.len() > 1 {
                cycles.insert(component);
            }
        }
        cycles.into_iter().collect()
    }

    /// Edges that a layer's rule forbids, with the paths that make them.
    fn breaches(&self) -> Vec<String> {
        let mut breaches = Vec::new();
        for ((from, to), paths) in &self.edges {
            let allowed = if VOCABULARY.contains(&from.as_str()) {
                VOCABULARY.contains(&to.as_str())
            } else {
                match MAY_NAME.iter().find(|(layer, _)| layer == from) {
                    Some((_, may)) => {
                        may.contains(&to.as_str()) || VOCABULARY.contains(&to.as_str())
                    }
                    None => true,
                }
            };
            if !allowed {
                for path in paths {
                    breaches.push(format!("{from} names {to}: {path}"));
                }
            }
        }
        breaches
    }
}

/// The first component of a path relative to `src`, without `.rs`.
fn first(path: &Path) -> String {
    let first = path
        .components()
        .next()
        .expect("a non-empty path")
        .as_os_str()
        .to_string_lossy()
        .into_owned();
    first.trim_end_matches(".rs").to_owned()
}

/// Whether `unit` is one of the crate's own modules (not an external
/// crate re-exported at the root, such as `async_trait`).
fn is_module(unit: &str, files: &[(PathBuf, String)]) -> bool {
    files
        .iter()
        .any(|(path, _)| first(path) == unit && path != Path::new("lib.rs"))
}

/// The module path of a file: `process/links.rs` is `process::links`,
/// `process/mod.rs` is `process`.
fn module_of(path: &Path) -> Vec<String> {
    let mut module: Vec<String> = path
        .components()
        .map(|c| {
            c.as_os_str()
                .to_string_lossy()
                .trim_end_matches(".rs")
                .to_owned()
        })
        .collect();
    if module.last().is_some_and(|last| last == "mod") {
        module.pop();
    }
    module
}

/// The root's `pub use a::b::Name` items: `Name` → `a`.
fn root_reexports(lib: &str) -> BTreeMap<String, String> {
    let file = syn::parse_file(lib).expect("lib.rs parses");
    let mut map = BTreeMap::new();
    for item in &file.items {
        if let syn::Item::Use(item) = item {
            for path in flatten(&item.tree) {
                if let (Some(module), Some(name)) = (path.first(), path.last()) {
                    if path.len() > 1 {
                        map.insert(name.clone(), module.clone());
                    }
                }
            }
        }
    }
    map
}

/// The paths a `use` tree names, one per leaf.
fn flatten(tree: &syn::UseTree) -> Vec<Vec<String>> {
    match tree {
        syn::UseTree::Path(path) => flatten(&path.tree)
            .into_iter()
            .map(|mut rest| {
                rest.insert(0, path.ident.to_string());
                rest
            })
            .collect(),
        syn::UseTree::Name(name) => vec![vec![name.ident.to_string()]],
        syn::UseTree::Rename(rename) => vec![vec![rename.ident.to_string()]],
        syn::UseTree::Glob(_) => vec![vec!["*".to_owned()]],
        syn::UseTree::Group(group) => group.items.iter().flat_map(flatten).collect(),
    }
}

/// Collects, for one file, the crate-relative paths it names.
struct Names {
    /// The module being visited (inline `mod` items push onto it).
    module: Vec<String>,
    /// Paths resolved to start at the crate root, without `crate`.
    found: Vec<Vec<String>>,
}

impl Names {
    fn module_root(&self) -> String {
        self.module.first().cloned().unwrap_or_default()
    }

    /// Records `segments` if it starts at the crate (`crate`, `super`).
    fn record(&mut self, segments: Vec<String>) {
        match segments.first().map(String::as_str) {
            Some("crate") => self.found.push(segments[1..].to_vec()),
            Some("super") => {
                let mut base = self.module.clone();
                let mut rest = &segments[..];
                while rest.first().is_some_and(|s| s == "super") {
                    base.pop();
                    rest = &rest[1..];
                }
                base.extend(rest.iter().cloned());
                self.found.push(base);
            }
            _ => {}
        }
    }
}

impl<'ast> Visit<'ast> for Names {
    fn visit_item_use(&mut self, item: &'ast syn::ItemUse) {
        for path in flatten(&item.tree) {
            self.record(path);
        }
    }

    fn visit_item_mod(&mut self, item: &'ast syn::ItemMod) {
        self.module.push(item.ident.to_string());
        syn::visit::visit_item_mod(self, item);
        self.module.pop();
    }

    fn visit_path(&mut self, path: &'ast syn::Path) {
        let segments = path.segments.iter().map(|s| s.ident.to_string()).collect();
        self.record(segments);
        syn::visit::visit_path(self, path);
    }
}
