//! The engine's layering, checked on its sources (ArchUnit's idea): edges between top-level modules
//! point only downhill in [`LAYERS`], and no module adds inherent methods to another module's type.

use std::collections::{BTreeMap, BTreeSet, HashMap};
use std::fmt;
use std::path::Path;

use syn::punctuated::Punctuated;
use syn::visit::{self, Visit};

/// The top-level modules of `bc_engine`, lowest layer first. A module may use its own layer and the
/// layers below it, never one above. Modules of one layer may use each other.
/// `event` needs the check and observe types, so it sits on them; `report` only consumes events.
const LAYERS: &[&[&str]] = &[
    &["observe"],
    &["check"],
    &["event"],
    &["report"],
    &["env"],
    &["fault"],
    &["run"],
    &["explore"],
    &["lab"],
];

/// Violations the engine still has, each with why it is not fixed yet. The test fails on any
/// violation not listed here and on any listed one that is gone, so this list only shrinks.
const BASELINE: &[(&str, &str)] = &[];

/// What a violation is about, enough to tell it from the others and list it in [`BASELINE`].
#[derive(Debug, Clone, PartialEq, Eq, PartialOrd, Ord)]
enum Violation {
    /// `from` (a module) names a path in the top-level module `to`, which is in a higher layer.
    Upward {
        from: String,
        to: String,
        path: String,
    },
    /// `module` has an inherent `impl` for `ty`, defined in the top-level module `owner`.
    ForeignImpl {
        module: String,
        ty: String,
        owner: String,
    },
    /// A top-level module missing from [`LAYERS`].
    Unlayered { module: String },
    /// A path that cannot be resolved (`super` above the crate root) or a file that does not parse.
    Broken { module: String, reason: String },
}

impl Violation {
    /// The baseline key: stable across edits inside a module (the offending path text may change).
    fn key(&self) -> String {
        match self {
            Violation::Upward { from, to, .. } => format!("{from} -> {to}"),
            Violation::ForeignImpl { module, ty, owner } => {
                format!("{module}: impl {ty} (from {owner})")
            }
            Violation::Unlayered { module } => format!("{module} not in LAYERS"),
            Violation::Broken { module, reason } => format!("{module}: {reason}"),
        }
    }
}

impl fmt::Display for Violation {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Violation::Upward { from, to, path } => {
                write!(f, "{from} uses `{path}`: {to} is a higher layer")
            }
            Violation::ForeignImpl { module, ty, owner } => write!(
                f,
                "{module} adds inherent methods to `{ty}` of {owner} (use a trait, or move them)"
            ),
            Violation::Unlayered { module } => {
                write!(f, "top-level module {module} is not in LAYERS")
            }
            Violation::Broken { module, reason } => write!(f, "{module}: {reason}"),
        }
    }
}

/// The result of checking a tree: the edges between top-level modules and what breaks the rules.
#[derive(Debug, Default)]
struct Report {
    edges: BTreeSet<(String, String)>,
    violations: BTreeSet<Violation>,
}

/// Checks a crate given as (module path → source); module paths are `crate`, `crate::env`,
/// `crate::env::environment`. Pure, so the rules can be tested on small fake trees.
fn check(tree: &[(String, String)]) -> Report {
    let tops: BTreeSet<String> = tree
        .iter()
        .filter_map(|(m, _)| segments(m).first().cloned())
        .collect();
    let mut report = Report::default();
    for top in &tops {
        if layer(top).is_none() {
            report.violations.insert(Violation::Unlayered {
                module: top.clone(),
            });
        }
    }
    for (module, source) in tree {
        let module_segs = segments(module);
        // The crate root only declares and re-exports the modules.
        let Some(from) = module_segs.first().cloned() else {
            continue;
        };
        let file = match syn::parse_file(source) {
            Ok(f) => f,
            Err(e) => {
                report.violations.insert(Violation::Broken {
                    module: display(&module_segs),
                    reason: format!("does not parse: {e}"),
                });
                continue;
            }
        };
        let mut v = Collector {
            module: module_segs.clone(),
            imports: HashMap::new(),
            refs: Vec::new(),
            impls: Vec::new(),
            broken: Vec::new(),
        };
        v.visit_file(&file);
        for reason in v.broken.drain(..) {
            report.violations.insert(Violation::Broken {
                module: display(&module_segs),
                reason,
            });
        }
        for (text, target) in &v.refs {
            let Some(to) = target.first().filter(|t| tops.contains(*t)) else {
                continue;
            };
            if *to == from {
                continue;
            }
            report.edges.insert((from.clone(), to.clone()));
            if let (Some(a), Some(b)) = (layer(&from), layer(to)) {
                if b > a {
                    report.violations.insert(Violation::Upward {
                        from: display(&module_segs),
                        to: to.clone(),
                        path: text.clone(),
                    });
                }
            }
        }
        for (scope, ty) in &v.impls {
            let target = v.resolve_type(scope, ty);
            if let Some(owner) = target.first().filter(|t| tops.contains(*t)) {
                if *owner != from {
                    report.violations.insert(Violation::ForeignImpl {
                        module: display(&module_segs),
                        ty: ty.join("::"),
                        owner: owner.clone(),
                    });
                }
            }
        }
    }
    report
}

fn layer(top: &str) -> Option<usize> {
    LAYERS.iter().position(|l| l.contains(&top))
}

/// `crate::env::x` → `[env, x]`.
fn segments(module: &str) -> Vec<String> {
    module
        .split("::")
        .skip(1)
        .filter(|s| !s.is_empty())
        .map(str::to_owned)
        .collect()
}

fn display(module: &[String]) -> String {
    if module.is_empty() {
        "crate".into()
    } else {
        module.join("::")
    }
}

/// Resolves a path written in `module` to a path from the crate root; `None` for paths that do
/// not start at the crate (`crate`, `super`, `self`, or any path in the root module): those name
/// the module's own items, its children or other crates. `Err` for `super` above the root.
fn resolve(module: &[String], path: &[String]) -> Result<Option<Vec<String>>, String> {
    let Some(first) = path.first() else {
        return Ok(None);
    };
    match first.as_str() {
        "crate" => Ok(Some(path[1..].to_vec())),
        "self" | "super" => {
            let mut base = module.to_vec();
            let mut rest = path;
            if first == "self" {
                rest = &rest[1..];
            }
            while rest.first().is_some_and(|s| s == "super") {
                if base.pop().is_none() {
                    return Err(format!("`{}` goes above the crate root", path.join("::")));
                }
                rest = &rest[1..];
            }
            base.extend(rest.iter().cloned());
            Ok(Some(base))
        }
        _ if module.is_empty() => Ok(Some(path.to_vec())),
        _ => Ok(None),
    }
}

/// Walks one file: every `use` and inline path with where it resolves, and every inherent impl.
struct Collector {
    /// The module being walked (inline `mod` blocks push onto it).
    module: Vec<String>,
    /// Names brought in by `use`, to resolve an impl's self type: name → path from the root.
    imports: HashMap<String, Vec<String>>,
    /// (path as written, path from the root) of every path that starts at the crate.
    refs: Vec<(String, Vec<String>)>,
    /// (module, self type as written) of every inherent impl.
    impls: Vec<(Vec<String>, Vec<String>)>,
    broken: Vec<String>,
}

impl Collector {
    fn record(&mut self, path: &[String]) {
        match resolve(&self.module, path) {
            Ok(Some(target)) => self.refs.push((path.join("::"), target)),
            Ok(None) => {}
            Err(reason) => self.broken.push(reason),
        }
    }

    /// Where an impl's self type is defined: an imported name, a path from the crate, or (a bare
    /// name not imported) the impl's own module.
    fn resolve_type(&self, scope: &[String], ty: &[String]) -> Vec<String> {
        if let Ok(Some(p)) = resolve(scope, ty) {
            return p;
        }
        if let Some(base) = ty.first().and_then(|n| self.imports.get(n)) {
            let mut p = base.clone();
            p.extend(ty[1..].iter().cloned());
            return p;
        }
        let mut p = scope.to_vec();
        p.extend(ty.iter().cloned());
        p
    }

    fn use_tree(&mut self, prefix: &mut Vec<String>, tree: &syn::UseTree) {
        match tree {
            syn::UseTree::Path(p) => {
                prefix.push(p.ident.to_string());
                self.use_tree(prefix, &p.tree);
                prefix.pop();
            }
            syn::UseTree::Name(n) => {
                let name = n.ident.to_string();
                let full = if name == "self" {
                    prefix.clone()
                } else {
                    let mut f = prefix.clone();
                    f.push(name);
                    f
                };
                self.import(full.last().cloned(), &full);
            }
            syn::UseTree::Rename(r) => {
                let mut full = prefix.clone();
                if r.ident != "self" {
                    full.push(r.ident.to_string());
                }
                self.import(Some(r.rename.to_string()), &full);
            }
            syn::UseTree::Glob(_) => self.record(&prefix.clone()),
            syn::UseTree::Group(g) => {
                for t in &g.items {
                    self.use_tree(prefix, t);
                }
            }
        }
    }

    fn import(&mut self, name: Option<String>, full: &[String]) {
        self.record(full);
        if let (Some(name), Ok(Some(target))) = (name, resolve(&self.module, full)) {
            self.imports.insert(name, target);
        }
    }
}

fn path_segments(p: &syn::Path) -> Vec<String> {
    p.segments.iter().map(|s| s.ident.to_string()).collect()
}

impl<'ast> Visit<'ast> for Collector {
    fn visit_item_mod(&mut self, m: &'ast syn::ItemMod) {
        self.module.push(m.ident.to_string());
        visit::visit_item_mod(self, m);
        self.module.pop();
    }

    fn visit_item_use(&mut self, u: &'ast syn::ItemUse) {
        self.use_tree(&mut Vec::new(), &u.tree);
    }

    fn visit_path(&mut self, p: &'ast syn::Path) {
        self.record(&path_segments(p));
        visit::visit_path(self, p);
    }

    fn visit_item_impl(&mut self, i: &'ast syn::ItemImpl) {
        if i.trait_.is_none() {
            if let syn::Type::Path(tp) = &*i.self_ty {
                self.impls
                    .push((self.module.clone(), path_segments(&tp.path)));
            }
        }
        visit::visit_item_impl(self, i);
    }

    /// Macro bodies are tokens to syn; the common ones (`format!`, `assert!`, `join!`) are
    /// comma-separated expressions, so those are walked too (best effort: others are skipped).
    fn visit_macro(&mut self, m: &'ast syn::Macro) {
        if let Ok(args) =
            m.parse_body_with(Punctuated::<syn::Expr, syn::Token![,]>::parse_terminated)
        {
            for e in &args {
                self.visit_expr(e);
            }
        }
        visit::visit_macro(self, m);
    }
}

/// The module path of a file under `src/`: `lib.rs` → `crate`, `a/mod.rs` and `a.rs` → `crate::a`,
/// `a/b.rs` → `crate::a::b`.
fn module_of(rel: &Path) -> String {
    let mut segs: Vec<String> = rel
        .iter()
        .map(|c| c.to_string_lossy().into_owned())
        .collect();
    let file = segs.pop().unwrap_or_default();
    let stem = file.strip_suffix(".rs").unwrap_or(&file);
    if !matches!(stem, "lib" | "main" | "mod") {
        segs.push(stem.to_owned());
    }
    std::iter::once("crate".to_owned())
        .chain(segs)
        .collect::<Vec<_>>()
        .join("::")
}

fn read_tree(dir: &Path, root: &Path, out: &mut Vec<(String, String)>) {
    let mut entries: Vec<_> = std::fs::read_dir(dir)
        .unwrap_or_else(|e| panic!("cannot read {}: {e}", dir.display()))
        .map(|e| e.expect("directory entry").path())
        .collect();
    entries.sort();
    for path in entries {
        if path.is_dir() {
            read_tree(&path, root, out);
        } else if path.extension().is_some_and(|e| e == "rs") {
            let rel = path.strip_prefix(root).expect("under src");
            let source = std::fs::read_to_string(&path)
                .unwrap_or_else(|e| panic!("cannot read {}: {e}", path.display()));
            out.push((module_of(rel), source));
        }
    }
}

/// What differs from the baseline: violations not listed, and listed ones that are gone.
fn against_baseline(report: &Report, baseline: &[(&str, &str)]) -> Vec<String> {
    let found: BTreeMap<String, &Violation> =
        report.violations.iter().map(|v| (v.key(), v)).collect();
    let listed: BTreeMap<&str, &str> = baseline.iter().copied().collect();
    let mut problems = Vec::new();
    for (key, v) in &found {
        if !listed.contains_key(key.as_str()) {
            problems.push(format!("new violation: {v}\n    (baseline key: {key:?})"));
        }
    }
    for key in listed.keys() {
        if !found.contains_key(*key) {
            problems.push(format!(
                "baseline entry {key:?} no longer occurs: remove it from BASELINE"
            ));
        }
    }
    problems
}

#[test]
fn engine_modules_only_depend_downhill() {
    let src = Path::new(env!("CARGO_MANIFEST_DIR")).join("src");
    let mut tree = Vec::new();
    read_tree(&src, &src, &mut tree);
    assert!(
        tree.len() > 20,
        "found only {} files under src/",
        tree.len()
    );
    let report = check(&tree);
    let edges: Vec<String> = report
        .edges
        .iter()
        .map(|(a, b)| format!("{a} -> {b}"))
        .collect();
    println!("edges between top-level modules:\n  {}", edges.join("\n  "));

    let problems = against_baseline(&report, BASELINE);
    assert!(
        problems.is_empty(),
        "the engine's layering (LAYERS in tests/pure/architecture.rs):\n  {}",
        problems.join("\n  ")
    );
}

/// Engine files stay small enough to hold one job each; past this, split by concern.
const MAX_FILE_LINES: usize = 400;

#[test]
fn engine_source_files_stay_under_the_line_limit() {
    let src = Path::new(env!("CARGO_MANIFEST_DIR")).join("src");
    let mut tree = Vec::new();
    read_tree(&src, &src, &mut tree);
    let long: Vec<String> = tree
        .iter()
        .map(|(module, source)| (module, source.lines().count()))
        .filter(|(_, n)| *n > MAX_FILE_LINES)
        .map(|(module, n)| format!("{module}: {n} lines"))
        .collect();
    assert!(
        long.is_empty(),
        "engine modules over {MAX_FILE_LINES} lines (split them by concern):\n  {}",
        long.join("\n  ")
    );
}
#[cfg(test)]
mod checker {
    use super::*;

    fn tree(files: &[(&str, &str)]) -> Vec<(String, String)> {
        files
            .iter()
            .map(|(m, s)| (m.to_string(), s.to_string()))
            .collect()
    }

    /// A small engine that keeps the rules; each test below breaks one.
    fn clean() -> Vec<(&'static str, &'static str)> {
        vec![
            ("crate", "pub mod observe; pub mod check; pub mod env; pub mod fault; pub mod run;"),
            ("crate::observe", "pub struct Timeline;"),
            (
                "crate::check",
                "use crate::observe::Timeline; pub struct Verdict; impl Verdict { fn pass() {} }",
            ),
            ("crate::env", "pub mod environment; pub use environment::Environment;"),
            (
                "crate::env::environment",
                "use super::super::observe::Timeline; pub struct Environment;
                 impl Environment { pub fn start() -> Self { Environment } }",
            ),
            (
                "crate::fault",
                "use crate::env::Environment;
                 pub trait Inject { fn inject(&self); }
                 impl Inject for Environment { fn inject(&self) {} }
                 impl std::fmt::Display for crate::env::Environment {
                     fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result { Ok(()) }
                 }
                 fn t() -> crate::check::Verdict { todo!() }
                 mod tests { use super::*; fn f() { let _ = super::super::env::Environment::start(); } }",
            ),
            (
                "crate::run",
                "use crate::fault::Inject; fn go(e: &crate::env::Environment) { e.inject(); \
                 println!(\"{:?}\", crate::check::Verdict::pass()); }",
            ),
        ]
    }

    fn with(extra: (&'static str, &'static str)) -> Vec<(String, String)> {
        let mut files: Vec<_> = clean().into_iter().filter(|(m, _)| *m != extra.0).collect();
        files.push(extra);
        tree(&files)
    }

    fn keys(r: &Report) -> Vec<String> {
        r.violations.iter().map(Violation::key).collect()
    }

    #[test]
    fn a_clean_tree_passes_and_its_edges_are_found() {
        let r = check(&tree(&clean()));
        assert_eq!(keys(&r), Vec::<String>::new());
        let edges: Vec<_> = r.edges.iter().map(|(a, b)| format!("{a}->{b}")).collect();
        assert_eq!(
            edges,
            [
                "check->observe",
                "env->observe",
                "fault->check",
                "fault->env",
                "run->check",
                "run->env",
                "run->fault"
            ]
        );
    }

    #[test]
    fn an_upward_use_fails() {
        let r = check(&with((
            "crate::env::environment",
            "use crate::fault::Inject; pub struct Environment;",
        )));
        assert_eq!(keys(&r), ["env::environment -> fault"]);
    }

    #[test]
    fn an_upward_use_in_a_group_or_glob_fails() {
        let r = check(&with((
            "crate::check",
            "use crate::{observe::Timeline, run::*}; pub struct Verdict;",
        )));
        assert_eq!(keys(&r), ["check -> run"]);
    }

    #[test]
    fn an_upward_inline_path_fails_in_types_and_expressions() {
        let r = check(&with((
            "crate::observe",
            "pub struct Timeline; fn f(_: crate::check::Verdict) {}",
        )));
        assert_eq!(keys(&r), ["observe -> check"]);
        let r = check(&with((
            "crate::env::environment",
            "pub struct Environment; fn f() { let _ = crate::run::go; }",
        )));
        assert_eq!(keys(&r), ["env::environment -> run"]);
        let r = check(&with((
            "crate::env::environment",
            "pub struct Environment; fn f() { assert!(crate::fault::ok()); }",
        )));
        assert_eq!(keys(&r), ["env::environment -> fault"], "inside a macro");
    }

    #[test]
    fn a_super_super_path_is_resolved_from_the_files_module() {
        let r = check(&with((
            "crate::env::environment",
            "pub struct Environment; fn f() { super::super::fault::Inject::inject(&Environment); }",
        )));
        assert_eq!(keys(&r), ["env::environment -> fault"]);
        // In an inline module one more `super` is needed to reach the same place.
        let r = check(&with((
            "crate::env::environment",
            "pub struct Environment; mod tests { use super::super::super::run::go; }",
        )));
        assert_eq!(keys(&r), ["env::environment -> run"]);
        let r = check(&with((
            "crate::env",
            "pub mod environment; use super::super::x;",
        )));
        assert_eq!(
            keys(&r),
            ["env: `super::super::x` goes above the crate root"]
        );
    }

    #[test]
    fn an_inherent_impl_for_another_modules_type_fails() {
        let r = check(&with((
            "crate::fault",
            "use crate::env::Environment; impl Environment { pub fn inject(&self) {} }",
        )));
        assert_eq!(keys(&r), ["fault: impl Environment (from env)"]);
        let r = check(&with((
            "crate::fault",
            "impl super::env::environment::Environment { pub fn inject(&self) {} }",
        )));
        assert_eq!(
            keys(&r),
            ["fault: impl super::env::environment::Environment (from env)"]
        );
    }

    #[test]
    fn a_module_missing_from_the_layers_fails() {
        let mut files = clean();
        files.push(("crate::extra", "pub struct X;"));
        assert_eq!(keys(&check(&tree(&files))), ["extra not in LAYERS"]);
    }

    #[test]
    fn the_baseline_can_only_shrink() {
        let r = check(&with((
            "crate::observe",
            "pub struct Timeline; fn f(_: crate::check::Verdict) {}",
        )));
        let listed = [("observe -> check", "why")];
        assert_eq!(against_baseline(&r, &listed), Vec::<String>::new());
        assert_eq!(against_baseline(&r, &[]).len(), 1, "an unlisted violation");
        let fixed = check(&tree(&clean()));
        assert_eq!(
            against_baseline(&fixed, &listed).len(),
            1,
            "a listed one that is gone"
        );
    }

    #[test]
    fn files_map_to_their_module_paths() {
        assert_eq!(module_of(Path::new("lib.rs")), "crate");
        assert_eq!(module_of(Path::new("env.rs")), "crate::env");
        assert_eq!(module_of(Path::new("env/mod.rs")), "crate::env");
        assert_eq!(module_of(Path::new("env/local.rs")), "crate::env::local");
        assert_eq!(
            module_of(Path::new("env/docker/mod.rs")),
            "crate::env::docker"
        );
        assert_eq!(
            module_of(Path::new("env/docker/runtime.rs")),
            "crate::env::docker::runtime"
        );
    }
}
