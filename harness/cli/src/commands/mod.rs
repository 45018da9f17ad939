//! Subcommands of bc-harness, one module each; each `run` returns an exit code.
//! Loading suites lives in `load`, the flags run and explore share in `shared`.

pub mod coverage;
pub mod docker;
pub mod env;
pub mod explore;
pub mod hooks;
pub mod list;
pub mod load;
pub mod merge;
pub mod report;
pub mod run;
pub mod schema;
pub mod shared;
pub mod validate;
pub mod verify;

/// Runs `fut` to the end on a fresh multi-thread runtime, then gives what is still shutting down (process
/// reapers, container removal) a bounded moment. `Err(exit code)` when no runtime can be started.
pub fn block_on<F: std::future::Future>(fut: F) -> Result<F::Output, bc_engine::exit::ExitCode> {
    let rt = match tokio::runtime::Builder::new_multi_thread()
        .enable_all()
        .build()
    {
        Ok(rt) => rt,
        Err(e) => {
            eprintln!("error: cannot start the async runtime: {e}");
            return Err(bc_engine::exit::ExitCode::HarnessError);
        }
    };
    let out = rt.block_on(fut);
    rt.shutdown_timeout(std::time::Duration::from_secs(5));
    Ok(out)
}
