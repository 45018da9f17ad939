//! The open-file limit of the harness and, by inheritance, of every process it starts: a herd of
//! 2,000 agents is 6,000 desktop links plus as many proxy hops, far past the usual soft limit of 1,024.

/// Raises the soft open-file limit to the hard one (once per process; later calls do nothing).
/// Children started afterwards (mocks, fault proxy, desktops) inherit it. Returns the soft limit.
pub fn raise_open_file_limit() -> u64 {
    static DONE: std::sync::OnceLock<u64> = std::sync::OnceLock::new();
    *DONE.get_or_init(|| {
        let mut r = libc::rlimit {
            rlim_cur: 0,
            rlim_max: 0,
        };
        // SAFETY: getrlimit/setrlimit on our own process with a valid, initialised struct.
        unsafe {
            if libc::getrlimit(libc::RLIMIT_NOFILE, &mut r) != 0 {
                return 0;
            }
            if r.rlim_cur < r.rlim_max {
                let raised = libc::rlimit {
                    rlim_cur: r.rlim_max,
                    rlim_max: r.rlim_max,
                };
                if libc::setrlimit(libc::RLIMIT_NOFILE, &raised) == 0 {
                    r = raised;
                }
            }
        }
        r.rlim_cur
    })
}

#[cfg(test)]
mod tests {
    #[test]
    fn the_soft_limit_ends_at_the_hard_one() {
        let soft = super::raise_open_file_limit();
        let mut r = libc::rlimit {
            rlim_cur: 0,
            rlim_max: 0,
        };
        // SAFETY: as above.
        assert_eq!(unsafe { libc::getrlimit(libc::RLIMIT_NOFILE, &mut r) }, 0);
        assert_eq!(soft, r.rlim_cur);
        assert_eq!(r.rlim_cur, r.rlim_max);
    }
}
