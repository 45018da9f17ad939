//! `--partition hash:k/n | slice:k/n`: which planned runs one shard executes. `hash` keys on the run
//! id alone, so adding a scenario moves no other run (as nextest's hash partition); `slice` deals in turn.

use std::fmt;
use std::str::FromStr;

use sha2::{Digest, Sha256};

/// One shard of `n`, numbered from 1.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Partition {
    /// Runs whose id hashes to shard `k` of `n`.
    Hash { k: u32, n: u32 },
    /// Every `n`th run of the plan, starting at the `k`th.
    Slice { k: u32, n: u32 },
}

impl Partition {
    /// Whether this shard runs the `index`th planned run (0-based, plan order), whose id is `id`.
    pub fn selects(&self, index: usize, id: &str) -> bool {
        match *self {
            Partition::Hash { k, n } => shard_of(id, n) == k,
            Partition::Slice { k, n } => (index % n as usize) as u32 + 1 == k,
        }
    }
}

/// The planned items (with their run ids) this shard runs, and the whole plan's ids when partitioned.
pub fn shard<T>(items: Vec<T>, ids: &[String], p: Option<Partition>) -> (Vec<T>, Vec<String>) {
    let Some(p) = p else {
        return (items, Vec::new());
    };
    let mine = items
        .into_iter()
        .zip(ids)
        .enumerate()
        .filter(|(i, (_, id))| p.selects(*i, id))
        .map(|(_, (item, _))| item)
        .collect();
    (mine, ids.to_vec())
}

/// The shard (1..=n) a run id hashes to: the first 8 bytes of its SHA-256, modulo n.
pub fn shard_of(id: &str, n: u32) -> u32 {
    let d = Sha256::digest(id.as_bytes());
    let mut b = [0u8; 8];
    b.copy_from_slice(&d[..8]);
    (u64::from_be_bytes(b) % u64::from(n.max(1))) as u32 + 1
}

impl FromStr for Partition {
    type Err = String;

    fn from_str(s: &str) -> Result<Self, Self::Err> {
        let bad = || format!("invalid --partition `{s}` (examples: `hash:1/3`, `slice:2/4`)");
        let (kind, rest) = s.split_once(':').ok_or_else(bad)?;
        let (k, n) = rest.split_once('/').ok_or_else(bad)?;
        let (k, n): (u32, u32) = (k.parse().map_err(|_| bad())?, n.parse().map_err(|_| bad())?);
        if n == 0 || k == 0 || k > n {
            return Err(format!(
                "invalid --partition `{s}`: the shard must be 1..=n with n >= 1"
            ));
        }
        match kind {
            "hash" => Ok(Partition::Hash { k, n }),
            "slice" => Ok(Partition::Slice { k, n }),
            _ => Err(bad()),
        }
    }
}

impl fmt::Display for Partition {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Partition::Hash { k, n } => write!(f, "hash:{k}/{n}"),
            Partition::Slice { k, n } => write!(f, "slice:{k}/{n}"),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn ids(count: usize) -> Vec<String> {
        (0..count)
            .map(|i| {
                format!(
                    "suite/scenario-{i}[preferred={}]",
                    if i % 2 == 0 { "A" } else { "B" }
                )
            })
            .collect()
    }

    fn shards(p: impl Fn(u32) -> Partition, ids: &[String]) -> Vec<Vec<String>> {
        (1..=3)
            .map(|k| {
                ids.iter()
                    .enumerate()
                    .filter(|(i, id)| p(k).selects(*i, id))
                    .map(|(_, id)| id.clone())
                    .collect()
            })
            .collect()
    }

    #[test]
    fn every_run_in_exactly_one_shard() {
        let all = ids(40);
        for p in [
            (|k| Partition::Hash { k, n: 3 }) as fn(u32) -> Partition,
            |k| Partition::Slice { k, n: 3 },
        ] {
            let s = shards(p, &all);
            assert!(s.iter().all(|x| !x.is_empty()), "{s:?}");
            let mut joined: Vec<String> = s.concat();
            joined.sort();
            let mut want = all.clone();
            want.sort();
            assert_eq!(joined, want);
        }
    }

    #[test]
    fn adding_a_scenario_moves_no_other_run_by_hash() {
        let before = shards(|k| Partition::Hash { k, n: 3 }, &ids(40));
        let mut more = ids(40);
        more.insert(7, "suite/new-scenario[preferred=A]".into());
        let after = shards(|k| Partition::Hash { k, n: 3 }, &more);
        for (b, a) in before.iter().zip(&after) {
            let kept: Vec<&String> = a.iter().filter(|id| !id.contains("new-scenario")).collect();
            assert_eq!(kept, b.iter().collect::<Vec<_>>());
        }
    }

    #[test]
    fn parses_and_refuses() {
        assert_eq!("hash:1/3".parse(), Ok(Partition::Hash { k: 1, n: 3 }));
        assert_eq!("slice:3/3".parse(), Ok(Partition::Slice { k: 3, n: 3 }));
        assert_eq!(Partition::Hash { k: 2, n: 5 }.to_string(), "hash:2/5");
        for bad in [
            "hash:0/3",
            "hash:4/3",
            "hash:1/0",
            "count:1/3",
            "hash:1",
            "1/3",
        ] {
            assert!(bad.parse::<Partition>().is_err(), "{bad}");
        }
    }
}
