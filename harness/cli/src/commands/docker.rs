//! `bc-harness images build` and `bc-harness clean`: the container runtime's housekeeping.
//! Images are built locally from static binaries (no registry); clean removes what the harness owns.

use bc_engine::docker::commands::{clean_all, images_build};
use bc_engine::docker::images::BuildOptions;
use bc_engine::docker::sweep::CleanOptions;

use bc_engine::exit::ExitCode;

/// Subcommands of `images`.
#[derive(clap::Subcommand)]
pub enum ImagesCommand {
    /// Build the bc-mock and bc-toxiproxy FROM scratch images (reused when the binaries are unchanged).
    Build,
}

/// Arguments of `clean`.
#[derive(clap::Args)]
pub struct CleanArgs {
    /// Also remove the harness's images (rebuilt on next use).
    #[arg(long)]
    images: bool,
}

/// Runs `images build`.
pub fn images(cmd: ImagesCommand) -> ExitCode {
    match cmd {
        ImagesCommand::Build => {
            let opts = BuildOptions {
                show_cargo_output: true,
                ..Default::default()
            };
            match super::block_on(images_build(&opts)) {
                Err(code) => code,
                Ok(Ok(set)) => {
                    println!("{set}");
                    ExitCode::Success
                }
                Ok(Err(e)) => {
                    eprintln!("error: {e}");
                    ExitCode::HarnessError
                }
            }
        }
    }
}

/// Runs `clean`.
pub fn clean(args: CleanArgs) -> ExitCode {
    match super::block_on(clean_all(CleanOptions {
        images: args.images,
    })) {
        Err(code) => code,
        Ok(Ok(report)) => {
            println!("{report}");
            ExitCode::Success
        }
        Ok(Err(e)) => {
            eprintln!("error: {e}");
            ExitCode::HarnessError
        }
    }
}
