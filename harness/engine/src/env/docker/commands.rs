//! Entry points for the CLI's Docker commands (`bc-harness images build`, `bc-harness clean`), each connecting
//! on its own, and the one-line summaries they print.

use std::fmt;

use super::client::connect;
use super::error::DockerError;
use super::images::{self, BuildOptions, ImageSet};
use super::sweep::{clean, CleanOptions, SweepReport};

/// `bc-harness images build`: static binaries and FROM scratch images (reused when unchanged).
pub async fn images_build(options: &BuildOptions) -> Result<ImageSet, DockerError> {
    let docker = connect().await?;
    images::build(&docker, options).await
}

/// `bc-harness clean [--images]`: removes every container and network the harness owns (and its images).
pub async fn clean_all(options: CleanOptions) -> Result<SweepReport, DockerError> {
    let docker = connect().await?;
    clean(&docker, options).await
}

impl fmt::Display for ImageSet {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(
            f,
            "mock image {}, fault proxy image {}",
            self.mock, self.proxy
        )
    }
}

impl fmt::Display for SweepReport {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(
            f,
            "removed {} container(s), {} network(s), {} image(s)",
            self.containers.len(),
            self.networks.len(),
            self.images.len()
        )
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn summaries_count_what_was_removed() {
        let report = SweepReport {
            containers: vec!["a".into(), "b".into()],
            networks: vec!["n".into()],
            images: Vec::new(),
        };
        assert_eq!(
            report.to_string(),
            "removed 2 container(s), 1 network(s), 0 image(s)"
        );
    }
}
