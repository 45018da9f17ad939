//! Picks free loopback ports to publish container ports on, fixed for the life of the environment.
//! Docker would pick a new random host port at every restart; a fixed one keeps addresses stable across faults.

use std::net::TcpListener;

/// Reserves `count` distinct free ports on 127.0.0.1 (all held open together, then released).
///
/// There is a short window before Docker binds them in which another process could take one;
/// the environment retries container start on "port is already allocated".
pub fn free_loopback_ports(count: usize) -> std::io::Result<Vec<u16>> {
    let listeners = (0..count)
        .map(|_| TcpListener::bind("127.0.0.1:0"))
        .collect::<std::io::Result<Vec<_>>>()?;
    listeners
        .iter()
        .map(|l| l.local_addr().map(|a| a.port()))
        .collect()
}

#[cfg(test)]
mod tests {
    #[test]
    fn ports_are_distinct_and_nonzero() {
        let mut ports = super::free_loopback_ports(20).unwrap();
        assert!(ports.iter().all(|p| *p != 0));
        ports.sort_unstable();
        ports.dedup();
        assert_eq!(ports.len(), 20);
    }
}
