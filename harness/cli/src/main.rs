//! bc-harness: command-line entry point of the Business Continuity certification harness.
//! Thin: parses arguments and dispatches to `commands::*`, which return an exit code.

mod commands;

use bc_engine::exit::ExitCode;

use clap::{Parser, Subcommand};

/// Chaos and conformance harness for SIP Business Continuity agent desktops.
#[derive(Parser)]
#[command(name = "bc-harness", version, about)]
struct Cli {
    #[command(subcommand)]
    command: Command,
}

#[derive(Subcommand)]
enum Command {
    /// Check suite files (or directories of them); exit 0 when all are valid, 2 otherwise.
    Validate(commands::validate::Args),
    /// List the scenarios of suites: rules, tags, required capabilities.
    List(commands::list::Args),
    /// Print the JSON Schema of the suite format (or write it to a file).
    Schema(commands::schema::Args),
    /// Print the coverage table of documented branches (docs/coverage.md); exit 1 on an uncovered row.
    Coverage(commands::coverage::Args),
    /// Run suites against a desktop; write console summary, JUnit XML and a JSON journal.
    Run(Box<commands::run::Args>),
    /// Render reports from JSON journals (or from an HTML report's embedded journal).
    Report(commands::report::Args),
    /// Merge the journals of a partitioned run's shards into one run's reports.
    Merge(commands::merge::Args),
    /// Check a certificate offline: its journal's hash, the verdicts re-derived from its timelines.
    Verify(commands::verify::Args),
    /// Explore seeded chaos schedules; shrink the first failure and write it as a suite.
    Explore(Box<commands::explore::Args>),
    /// Lab mode: an environment that stays up for a desktop started elsewhere (up, status, fault,
    /// heal, down).
    #[command(subcommand)]
    Env(commands::env::EnvCommand),
    /// Stands in for a desktop started elsewhere (`run --attach` runs it; not for direct use).
    #[command(hide = true)]
    DesktopHooks(commands::hooks::Args),
    /// Container images of the Docker runtime.
    #[command(subcommand)]
    Images(commands::docker::ImagesCommand),
    /// Remove every container and network the harness owns (and, with --images, its images).
    Clean(commands::docker::CleanArgs),
}

fn main() -> std::process::ExitCode {
    let cli = match Cli::try_parse() {
        Ok(c) => c,
        Err(e) => {
            let _ = e.print();
            return std::process::ExitCode::from(if e.use_stderr() {
                ExitCode::Usage
            } else {
                ExitCode::Success
            });
        }
    };
    std::process::ExitCode::from(match cli.command {
        Command::Validate(a) => commands::validate::run(a),
        Command::List(a) => commands::list::run(a),
        Command::Schema(a) => commands::schema::run(a),
        Command::Coverage(a) => commands::coverage::run(a),
        Command::Run(a) => commands::run::run(*a),
        Command::Report(a) => commands::report::run(a),
        Command::Verify(a) => commands::verify::run(a),
        Command::Merge(a) => commands::merge::run(a),
        Command::Explore(a) => commands::explore::run(*a),
        Command::Env(c) => commands::env::run(c),
        Command::DesktopHooks(a) => commands::hooks::run(a),
        Command::Images(c) => commands::docker::images(c),
        Command::Clean(a) => commands::docker::clean(a),
    })
}
