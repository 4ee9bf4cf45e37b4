//! sled as the embedded backend: one tree, three key spaces.
//!
//! `o/<key>` holds objects, `e/<revision, big-endian>` the recent events,
//! `m/revision` the last revision. A batch is one atomic sled batch followed
//! by one flush (fsync).

use super::backend::{Backend, Loaded, Record};
use super::{EventType, StoreError};
use std::path::Path;

const OBJECT: &[u8] = b"o/";
const EVENT: &[u8] = b"e/";
const REVISION: &[u8] = b"m/revision";

pub struct SledBackend {
    db: sled::Db,
    tree: sled::Tree,
}

fn backend_err(e: impl std::fmt::Display) -> StoreError {
    StoreError::Backend(e.to_string())
}

impl SledBackend {
    /// Open (or create) the database in `dir`. `cache_bytes` bounds sled's
    /// page cache, which is most of the server's memory otherwise.
    pub fn open(dir: &Path, cache_bytes: u64) -> Result<Self, StoreError> {
        let db = sled::Config::new().path(dir).cache_capacity(cache_bytes).open().map_err(backend_err)?;
        let tree = db.open_tree("registry").map_err(backend_err)?;
        Ok(SledBackend { db, tree })
    }
}

fn event_key(revision: u64) -> Vec<u8> {
    let mut k = EVENT.to_vec();
    k.extend_from_slice(&revision.to_be_bytes());
    k
}

/// Event value: kind byte, key length (u32 BE), key, object JSON.
fn encode_event(r: &Record) -> Vec<u8> {
    let mut v = Vec::with_capacity(5 + r.key.len() + r.bytes.len());
    v.push(r.kind.encode());
    v.extend_from_slice(&(r.key.len() as u32).to_be_bytes());
    v.extend_from_slice(r.key.as_bytes());
    v.extend_from_slice(&r.bytes);
    v
}

fn decode_event(revision: u64, v: &[u8]) -> Option<Record> {
    let kind = EventType::decode(*v.first()?)?;
    let len = u32::from_be_bytes(v.get(1..5)?.try_into().ok()?) as usize;
    let key = std::str::from_utf8(v.get(5..5 + len)?).ok()?.to_string();
    let bytes = v.get(5 + len..)?.to_vec();
    Some(Record { revision, kind, key, bytes })
}

impl Backend for SledBackend {
    fn load(&self) -> Result<Loaded, StoreError> {
        let mut loaded = Loaded::default();
        if let Some(v) = self.tree.get(REVISION).map_err(backend_err)? {
            let bytes: [u8; 8] = v.as_ref().try_into().map_err(|_| backend_err("corrupt revision"))?;
            loaded.revision = u64::from_be_bytes(bytes);
        }
        for item in self.tree.scan_prefix(OBJECT) {
            let (k, v) = item.map_err(backend_err)?;
            let key = std::str::from_utf8(&k[OBJECT.len()..]).map_err(backend_err)?.to_string();
            loaded.objects.push((key, v.to_vec()));
        }
        for item in self.tree.scan_prefix(EVENT) {
            let (k, v) = item.map_err(backend_err)?;
            let rev: [u8; 8] = k[EVENT.len()..].try_into().map_err(|_| backend_err("corrupt event key"))?;
            let record = decode_event(u64::from_be_bytes(rev), &v).ok_or_else(|| backend_err("corrupt event"))?;
            loaded.events.push(record);
        }
        Ok(loaded)
    }

    fn commit(&self, records: &[Record], history: usize) -> Result<(), StoreError> {
        let Some(last) = records.last() else { return Ok(()) };
        let mut batch = sled::Batch::default();
        for r in records {
            let mut key = OBJECT.to_vec();
            key.extend_from_slice(r.key.as_bytes());
            match r.kind {
                EventType::Deleted => batch.remove(key),
                _ => batch.insert(key, r.bytes.as_slice()),
            }
            batch.insert(event_key(r.revision), encode_event(r));
        }
        // Drop the events this batch pushes out of the window.
        let lo = records[0].revision.saturating_sub(history as u64);
        let hi = last.revision.saturating_sub(history as u64);
        for rev in lo.max(1)..=hi {
            batch.remove(event_key(rev));
        }
        batch.insert(REVISION, &last.revision.to_be_bytes());
        self.tree.apply_batch(batch).map_err(backend_err)?;
        self.db.flush().map_err(backend_err)?;
        Ok(())
    }
}
