//! The durable layer under the store. sled today; etcd's v3 API fits the
//! same shape (a transaction per batch, revisions as mod revisions).

use super::{EventType, StoreError};

/// One committed change, as written to the backend.
#[derive(Debug, Clone)]
pub struct Record {
    pub revision: u64,
    pub kind: EventType,
    pub key: String,
    /// The object's JSON (for a deletion: its last state).
    pub bytes: Vec<u8>,
}

/// Everything the store needs at start-up.
#[derive(Debug, Default)]
pub struct Loaded {
    pub objects: Vec<(String, Vec<u8>)>,
    pub revision: u64,
    /// Recent events, oldest first, for resuming watches across restarts.
    pub events: Vec<Record>,
}

pub trait Backend: Send + 'static {
    fn load(&self) -> Result<Loaded, StoreError>;
    /// Apply the records atomically and durably (return only once they would
    /// survive a crash), keeping at most `history` events.
    fn commit(&self, records: &[Record], history: usize) -> Result<(), StoreError>;
}
