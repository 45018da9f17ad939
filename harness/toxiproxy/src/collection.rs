//! The toxics of one proxy: an ordered list shared by the API and every live connection.
//! Changes bump a watch version so connections re-read the list and rewire their chains.

use std::net::IpAddr;
use std::sync::{Arc, Mutex};

use tokio::sync::watch;

use crate::model::{Stream, ToxicJson};
use crate::toxics::ToxicKind;

/// One toxic as configured through the API.
#[derive(Debug, Clone)]
pub struct ToxicEntry {
    /// Unique per server, so a toxic removed and re-added under the same name is a new toxic.
    pub id: u64,
    /// Bumped on every update, so connections know to restart it.
    pub generation: u64,
    pub name: String,
    pub stream: Stream,
    pub toxicity: f32,
    pub kind: ToxicKind,
    /// Extension: only connections from these client addresses (`None`: all, as Toxiproxy).
    pub clients: Option<Vec<IpAddr>>,
}

impl ToxicEntry {
    /// Whether a connection from `client` gets this toxic.
    pub fn applies_to(&self, client: Option<IpAddr>) -> bool {
        match (&self.clients, client) {
            (None, _) => true,
            (Some(list), Some(c)) => list.contains(&c),
            (Some(_), None) => false,
        }
    }

    pub fn to_json(&self) -> ToxicJson {
        ToxicJson {
            attributes: self.kind.clone(),
            name: self.name.clone(),
            kind: self.kind.type_name(),
            stream: self.stream,
            toxicity: self.toxicity,
            clients: self.clients.clone(),
        }
    }
}

/// The toxic list of one proxy.
#[derive(Debug)]
pub struct ToxicCollection {
    list: Mutex<Vec<Arc<ToxicEntry>>>,
    version: watch::Sender<u64>,
}

impl Default for ToxicCollection {
    fn default() -> Self {
        ToxicCollection {
            list: Mutex::new(Vec::new()),
            version: watch::channel(0).0,
        }
    }
}

impl ToxicCollection {
    fn bump(&self) {
        self.version.send_modify(|v| *v += 1);
    }

    fn lock(&self) -> std::sync::MutexGuard<'_, Vec<Arc<ToxicEntry>>> {
        self.list.lock().unwrap_or_else(|e| e.into_inner())
    }

    pub fn subscribe(&self) -> watch::Receiver<u64> {
        self.version.subscribe()
    }

    /// The chain of one direction for one client, in insertion order: a toxic aimed at other
    /// clients is not in it (`client` unknown: only the toxics for every client).
    pub fn chain(&self, stream: Stream, client: Option<IpAddr>) -> Vec<Arc<ToxicEntry>> {
        self.lock()
            .iter()
            .filter(|t| t.stream == stream && t.applies_to(client))
            .cloned()
            .collect()
    }

    /// All toxics as the API lists them: upstream chain first, then downstream (as Toxiproxy).
    pub fn to_json(&self) -> Vec<ToxicJson> {
        let list = self.lock();
        let up = list.iter().filter(|t| t.stream == Stream::Upstream);
        let down = list.iter().filter(|t| t.stream == Stream::Downstream);
        up.chain(down).map(|t| t.to_json()).collect()
    }

    pub fn get(&self, name: &str) -> Option<Arc<ToxicEntry>> {
        self.lock().iter().find(|t| t.name == name).cloned()
    }

    /// Adds a toxic; false when the name is taken.
    pub fn add(&self, entry: ToxicEntry) -> bool {
        {
            let mut list = self.lock();
            if list.iter().any(|t| t.name == entry.name) {
                return false;
            }
            list.push(Arc::new(entry));
        }
        self.bump();
        true
    }

    /// Replaces the toxic of the same name, keeping its place; returns the new entry.
    pub fn update(
        &self,
        name: &str,
        f: impl FnOnce(&ToxicEntry) -> Result<ToxicEntry, String>,
    ) -> Option<Result<Arc<ToxicEntry>, String>> {
        let res = {
            let mut list = self.lock();
            let slot = list.iter_mut().find(|t| t.name == name)?;
            match f(slot) {
                Ok(mut new) => {
                    new.generation = slot.generation + 1;
                    *slot = Arc::new(new);
                    Ok(slot.clone())
                }
                Err(e) => Err(e),
            }
        };
        if res.is_ok() {
            self.bump();
        }
        Some(res)
    }

    /// Removes a toxic; false when there is none of that name.
    pub fn remove(&self, name: &str) -> bool {
        let removed = {
            let mut list = self.lock();
            let before = list.len();
            list.retain(|t| t.name != name);
            list.len() != before
        };
        if removed {
            self.bump();
        }
        removed
    }

    /// Removes every toxic.
    pub fn clear(&self) {
        let had = !std::mem::take(&mut *self.lock()).is_empty();
        if had {
            self.bump();
        }
    }
}
