//! The process exit codes of every bc-harness command, defined once beside the summary that picks
//! one, and re-exported as `bc_engine::exit`. Scripts and CI rely on the values: never renumber.

/// How a command ends, as the process exit status.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub enum ExitCode {
    /// Every scenario passed or was skipped as inapplicable; every suite is valid.
    Success = 0,
    /// The run completed and some scenario failed a rule or was inconclusive.
    Failed = 1,
    /// A suite file or the command line is wrong.
    Usage = 2,
    /// The harness or its environment failed, or the run was interrupted: a run whose harness
    /// failed says nothing certain about the desktop, so this outranks `Failed`.
    HarnessError = 3,
}

impl ExitCode {
    /// The numeric status.
    pub fn code(self) -> u8 {
        self as u8
    }

    /// The graver of two outcomes (for commands that combine several).
    pub fn worst(self, other: ExitCode) -> ExitCode {
        self.max(other)
    }
}

impl From<ExitCode> for std::process::ExitCode {
    fn from(c: ExitCode) -> Self {
        std::process::ExitCode::from(c.code())
    }
}

#[cfg(test)]
mod tests {
    use super::ExitCode;

    #[test]
    fn values_are_the_documented_contract() {
        let all = [
            ExitCode::Success,
            ExitCode::Failed,
            ExitCode::Usage,
            ExitCode::HarnessError,
        ];
        assert_eq!(all.map(ExitCode::code), [0, 1, 2, 3]);
        assert_eq!(
            ExitCode::Failed.worst(ExitCode::HarnessError),
            ExitCode::HarnessError
        );
    }
}
