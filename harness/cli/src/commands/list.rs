//! `bc-harness list PATH...`: a table of the concrete runs of suites (parameters expanded)
//! with their rules, tags and required capabilities.

use std::path::PathBuf;

use bc_suite::{plan, PlanOptions};

use crate::commands::load::load_all;
use bc_engine::exit::ExitCode;

/// Arguments of `list`.
#[derive(clap::Args)]
pub struct Args {
    /// Suite files or directories (searched recursively for *.yaml / *.yml).
    #[arg(required = true)]
    paths: Vec<PathBuf>,
    /// Budget overriding every suite's and scenario's (e.g. `30s`), as `run` would apply it.
    #[arg(long, value_parser = humantime::parse_duration)]
    budget: Option<std::time::Duration>,
}

fn join<T: ToString>(v: &[T]) -> String {
    if v.is_empty() {
        "-".into()
    } else {
        v.iter()
            .map(|x| x.to_string())
            .collect::<Vec<_>>()
            .join(",")
    }
}

/// Formats rows as left-aligned columns separated by two spaces.
pub fn table(rows: &[Vec<String>]) -> String {
    let cols = rows.iter().map(|r| r.len()).max().unwrap_or(0);
    let widths: Vec<usize> = (0..cols)
        .map(|c| {
            rows.iter()
                .map(|r| r.get(c).map_or(0, |s| s.chars().count()))
                .max()
                .unwrap_or(0)
        })
        .collect();
    let mut out = String::new();
    for r in rows {
        let line: Vec<String> = r
            .iter()
            .enumerate()
            .map(|(i, s)| format!("{s:<w$}", w = widths[i]))
            .collect();
        out.push_str(line.join("  ").trim_end());
        out.push('\n');
    }
    out
}

/// Runs the subcommand.
pub fn run(args: Args) -> ExitCode {
    let loaded = match load_all(&args.paths) {
        Ok(l) => l,
        Err(e) => {
            eprintln!("error: {e}");
            return ExitCode::Usage;
        }
    };
    let mut rows = vec![vec![
        "RUN".to_string(),
        "RULES".into(),
        "TAGS".into(),
        "REQUIRES".into(),
        "SKIP_IF".into(),
        "STEPS".into(),
        "BUDGET".into(),
    ]];
    let mut runs = 0;
    for s in &loaded.suites {
        let options = PlanOptions {
            budget: args.budget,
        };
        let planned = match plan(s, &options) {
            Ok(p) => p,
            Err(e) => {
                eprintln!("error: {}: {e}", s.path.display());
                return ExitCode::HarnessError;
            }
        };
        for p in planned {
            runs += 1;
            rows.push(vec![
                p.id.clone(),
                join(&p.rules),
                join(&p.tags),
                join(&p.requires),
                join(&p.skip_if),
                p.steps.len().to_string(),
                humantime::format_duration(p.budget).to_string(),
            ]);
        }
    }
    print!("{}", table(&rows));
    println!(
        "{runs} run{} in {} suite{}",
        if runs == 1 { "" } else { "s" },
        loaded.suites.len(),
        if loaded.suites.len() == 1 { "" } else { "s" }
    );
    if loaded.invalid > 0 {
        ExitCode::Usage
    } else {
        ExitCode::Success
    }
}
