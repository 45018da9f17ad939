//! The group of a herd's agents an expectation names (`agents: hit|spared`), after the aimed faults
//! that make it, in the words of a merged failure: `agents hit by `cut``, `agents spared by `cut``.

use std::fmt;

/// Which of a herd's agents an expectation checks, when it names a group.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Group {
    /// The agents some of these aimed faults (their markers) hit.
    Hit(Vec<String>),
    /// The agents none of them hit.
    Spared(Vec<String>),
}

impl fmt::Display for Group {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        // Hit by any one of the faults; spared only by all of them.
        let (how, faults, join) = match self {
            Group::Hit(faults) => ("hit", faults, " or "),
            Group::Spared(faults) => ("spared", faults, " and "),
        };
        let named: Vec<String> = faults.iter().map(|m| format!("`{m}`")).collect();
        write!(f, "agents {how} by {}", named.join(join))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_group_names_the_faults_that_make_it() {
        let one = vec!["cut".to_string()];
        assert_eq!(Group::Hit(one.clone()).to_string(), "agents hit by `cut`");
        assert_eq!(Group::Spared(one).to_string(), "agents spared by `cut`");
        let two = vec!["cut".to_string(), "wobble".to_string()];
        assert_eq!(
            Group::Hit(two.clone()).to_string(),
            "agents hit by `cut` or `wobble`"
        );
        assert_eq!(
            Group::Spared(two).to_string(),
            "agents spared by `cut` and `wobble`"
        );
    }
}
