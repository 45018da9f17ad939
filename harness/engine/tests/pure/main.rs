//! The engine's pure tests in one binary (no processes, sockets or containers): the layering over the
//! sources, the checkers over recorded timelines, failure texts, exploration, reports, the watermark.
//! `cargo test -p bc-engine --test pure MODULE::` runs one.

#[path = "../html_support/mod.rs"]
mod html_support;

mod architecture;
mod certificate;
mod checks;
mod connection_file;
mod due;
mod explore_pure;
mod failure_texts;
mod html_report;
mod state_kept;
mod state_kill;
mod verify;
mod watermark;

/// A recorded timeline of fixtures/timelines by name (the checker, watermark and due tests').
fn load(name: &str) -> bc_engine::observe::Timeline {
    let p = std::path::PathBuf::from(env!("CARGO_MANIFEST_DIR"))
        .join("../../fixtures/timelines")
        .join(format!("{name}.json"));
    bc_engine::observe::Timeline::load(&p).unwrap_or_else(|e| panic!("{e}"))
}
