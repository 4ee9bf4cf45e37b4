//! The object store: durable backend underneath, an in-memory index and
//! watch fan-out on top.
//!
//! Only the apiserver touches the store. Writes go through one writer thread
//! that checks preconditions, assigns revisions (the resourceVersion), commits
//! a whole batch to the backend with one durable flush (group commit), and
//! only then makes the batch visible to readers and watchers, in revision
//! order. Reads are served from memory. Every resource has one broadcast
//! channel that any number of watchers share (the watch cache), and a window
//! of recent events lets a watch resume from an older resourceVersion.

mod backend;
mod sled_backend;

pub use backend::{Backend, Loaded, Record};
pub use sled_backend::SledBackend;

use serde_json::Value;
use std::collections::{BTreeMap, HashMap, VecDeque};
use std::sync::{mpsc, Arc, Mutex, RwLock};
use tokio::sync::{broadcast, oneshot};

/// How many past events are kept for resuming watches.
pub const HISTORY_WINDOW: usize = 20_000;
/// Buffered events per resource channel before a slow watcher lags.
const CHANNEL_CAPACITY: usize = 4096;
/// Most requests committed by one flush.
const MAX_BATCH: usize = 512;

#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum EventType {
    Added,
    Modified,
    Deleted,
}

impl EventType {
    pub fn as_str(self) -> &'static str {
        match self {
            EventType::Added => "ADDED",
            EventType::Modified => "MODIFIED",
            EventType::Deleted => "DELETED",
        }
    }
    fn code(self) -> u8 {
        match self {
            EventType::Added => 0,
            EventType::Modified => 1,
            EventType::Deleted => 2,
        }
    }
    fn from_code(c: u8) -> Option<Self> {
        match c {
            0 => Some(EventType::Added),
            1 => Some(EventType::Modified),
            2 => Some(EventType::Deleted),
            _ => None,
        }
    }
}

/// One change, as watchers see it.
#[derive(Debug)]
pub struct Event {
    pub revision: u64,
    pub kind: EventType,
    pub key: String,
    /// The object after the change (for a deletion: its last state, carrying
    /// the deletion's revision as resourceVersion).
    pub object: Arc<Value>,
    /// The object before the change, when it existed and is still known.
    pub prev: Option<Arc<Value>>,
    /// The event as a watch line, serialized once by the first watcher that
    /// sends it unchanged and shared by all the others (fan-out to many
    /// watchers costs one serialization, not one per watcher).
    pub encoded: std::sync::OnceLock<bytes::Bytes>,
}

#[derive(Debug, thiserror::Error, PartialEq, Eq)]
pub enum StoreError {
    #[error("already exists")]
    AlreadyExists,
    #[error("not found")]
    NotFound,
    #[error("the object has been modified")]
    Conflict,
    #[error("too old resource version: {requested} ({oldest})")]
    Gone { requested: u64, oldest: u64 },
    #[error("storage backend: {0}")]
    Backend(String),
}

/// A write with its precondition.
#[derive(Debug)]
enum Op {
    Create { key: String, object: Value },
    Update { key: String, object: Value, expected: Option<u64> },
    Delete { key: String, expected: Option<u64> },
}

struct Request {
    op: Op,
    reply: oneshot::Sender<Result<Arc<Value>, StoreError>>,
}

#[derive(Clone)]
struct Stored {
    object: Arc<Value>,
    revision: u64,
}

#[derive(Default)]
struct State {
    objects: BTreeMap<String, Stored>,
    revision: u64,
    history: VecDeque<Arc<Event>>,
    /// Oldest revision a watch can resume from (events after it are kept).
    compacted: u64,
}

pub struct Store {
    state: RwLock<State>,
    /// Events kept for resuming watches.
    history: usize,
    channels: Mutex<HashMap<String, broadcast::Sender<Arc<Event>>>>,
    writer: Mutex<mpsc::Sender<Request>>,
}

/// Result of starting a watch: events already missed, then a live stream.
pub struct WatchStart {
    pub backlog: Vec<Arc<Event>>,
    pub live: broadcast::Receiver<Arc<Event>>,
    pub revision: u64,
}

impl Store {
    /// Load everything from the backend and start the writer thread.
    pub fn open(backend: Box<dyn Backend>) -> Result<Arc<Store>, StoreError> {
        Self::open_with_history(backend, HISTORY_WINDOW)
    }

    /// Like `open`, keeping `history` events for watches to resume from.
    pub fn open_with_history(backend: Box<dyn Backend>, history: usize) -> Result<Arc<Store>, StoreError> {
        let history = history.max(1);
        let loaded = backend.load()?;
        let mut state = State { revision: loaded.revision, ..Default::default() };
        for (key, bytes) in loaded.objects {
            let object: Value = serde_json::from_slice(&bytes).map_err(|e| StoreError::Backend(e.to_string()))?;
            let revision = object_revision(&object).unwrap_or(0);
            state.objects.insert(key, Stored { object: Arc::new(object), revision });
        }
        for r in loaded.events {
            let object: Value = serde_json::from_slice(&r.bytes).map_err(|e| StoreError::Backend(e.to_string()))?;
            state.history.push_back(Arc::new(Event {
                revision: r.revision,
                kind: r.kind,
                key: r.key,
                object: Arc::new(object),
                prev: None,
                encoded: Default::default(),
            }));
        }
        state.compacted = state.history.front().map(|e| e.revision - 1).unwrap_or(state.revision);
        let (tx, rx) = mpsc::channel::<Request>();
        while state.history.len() > history {
            if let Some(old) = state.history.pop_front() {
                state.compacted = old.revision;
            }
        }
        let store = Arc::new(Store {
            history,
            state: RwLock::new(state),
            channels: Mutex::new(HashMap::new()),
            writer: Mutex::new(tx),
        });
        let weak = Arc::downgrade(&store);
        std::thread::Builder::new()
            .name("store-writer".into())
            .spawn(move || writer_loop(weak, backend, rx))
            .map_err(|e| StoreError::Backend(e.to_string()))?;
        Ok(store)
    }

    fn read(&self) -> std::sync::RwLockReadGuard<'_, State> {
        self.state.read().unwrap_or_else(|e| e.into_inner())
    }

    /// The current revision.
    pub fn revision(&self) -> u64 {
        self.read().revision
    }

    pub fn get(&self, key: &str) -> Option<Arc<Value>> {
        self.read().objects.get(key).map(|s| s.object.clone())
    }

    /// Objects whose key starts with `prefix`, in key order, starting after
    /// `after` (for paging), at most `limit`. Returns the revision they were
    /// read at and whether more remain.
    pub fn list(
        &self,
        prefix: &str,
        after: Option<&str>,
        limit: Option<usize>,
    ) -> (Vec<(String, Arc<Value>)>, u64, bool) {
        let state = self.read();
        let start = match after {
            Some(a) => std::ops::Bound::Excluded(a.to_string()),
            None => std::ops::Bound::Included(prefix.to_string()),
        };
        let mut out = Vec::new();
        let mut more = false;
        for (k, v) in state.objects.range((start, std::ops::Bound::Unbounded)) {
            if !k.starts_with(prefix) {
                break;
            }
            if limit.is_some_and(|l| out.len() >= l) {
                more = true;
                break;
            }
            out.push((k.clone(), v.object.clone()));
        }
        (out, state.revision, more)
    }

    /// Count of objects under a prefix.
    pub fn count(&self, prefix: &str) -> usize {
        let state = self.read();
        state.objects.range(prefix.to_string()..).take_while(|(k, _)| k.starts_with(prefix)).count()
    }

    async fn submit(&self, op: Op) -> Result<Arc<Value>, StoreError> {
        let (reply, rx) = oneshot::channel();
        {
            let writer = self.writer.lock().unwrap_or_else(|e| e.into_inner());
            writer.send(Request { op, reply }).map_err(|_| StoreError::Backend("store writer stopped".into()))?;
        }
        rx.await.map_err(|_| StoreError::Backend("store writer stopped".into()))?
    }

    /// Store a new object; fails if the key exists.
    pub async fn create(&self, key: &str, object: Value) -> Result<Arc<Value>, StoreError> {
        self.submit(Op::Create { key: key.into(), object }).await
    }

    /// Replace an object; `expected` is the revision the caller read.
    pub async fn update(&self, key: &str, object: Value, expected: Option<u64>) -> Result<Arc<Value>, StoreError> {
        self.submit(Op::Update { key: key.into(), object, expected }).await
    }

    /// Remove an object; returns its last state.
    pub async fn delete(&self, key: &str, expected: Option<u64>) -> Result<Arc<Value>, StoreError> {
        self.submit(Op::Delete { key: key.into(), expected }).await
    }

    fn channel(&self, prefix: &str) -> broadcast::Sender<Arc<Event>> {
        let mut channels = self.channels.lock().unwrap_or_else(|e| e.into_inner());
        channels.entry(prefix.to_string()).or_insert_with(|| broadcast::channel(CHANNEL_CAPACITY).0).clone()
    }

    /// Watch keys under a resource prefix (as given by
    /// `ResourceType::storage_prefix`) for changes after `from`.
    pub fn watch(&self, prefix: &str, from: u64) -> Result<WatchStart, StoreError> {
        let sender = self.channel(prefix);
        // Subscribe under the read lock: the writer publishes under the write
        // lock, so nothing falls between backlog and live stream.
        let state = self.read();
        let live = sender.subscribe();
        if from < state.compacted {
            return Err(StoreError::Gone { requested: from, oldest: state.compacted + 1 });
        }
        // History is in revision order: skip straight to what follows `from`.
        let first = state.history.partition_point(|e| e.revision <= from);
        let backlog = state.history.range(first..).filter(|e| e.key.starts_with(prefix)).cloned().collect();
        Ok(WatchStart { backlog, live, revision: state.revision })
    }

    /// The objects under `prefix` now, and a live stream of what changes
    /// after, taken atomically.
    pub fn list_and_watch(&self, prefix: &str) -> (Vec<(String, Arc<Value>)>, WatchStart) {
        let sender = self.channel(prefix);
        let state = self.read();
        let live = sender.subscribe();
        let items = state
            .objects
            .range(prefix.to_string()..)
            .take_while(|(k, _)| k.starts_with(prefix))
            .map(|(k, v)| (k.clone(), v.object.clone()))
            .collect();
        (items, WatchStart { backlog: Vec::new(), live, revision: state.revision })
    }

    /// Publish a finished batch: make it visible, record history, notify.
    fn publish(&self, staged: Vec<(String, Option<Stored>, Arc<Event>)>, revision: u64) {
        let mut state = self.state.write().unwrap_or_else(|e| e.into_inner());
        for (key, stored, event) in staged {
            match stored {
                Some(s) => {
                    state.objects.insert(key, s);
                }
                None => {
                    state.objects.remove(&key);
                }
            }
            state.history.push_back(event.clone());
            let prefix = resource_prefix(&event.key);
            let sender = self.channels.lock().unwrap_or_else(|e| e.into_inner()).get(prefix).cloned();
            if let Some(sender) = sender {
                // No receivers is fine.
                let _ = sender.send(event);
            }
        }
        while state.history.len() > self.history {
            if let Some(old) = state.history.pop_front() {
                state.compacted = old.revision;
            }
        }
        state.revision = revision;
    }
}

/// `/registry/apps/deployments/ns/name` -> `/registry/apps/deployments/`.
pub fn resource_prefix(key: &str) -> &str {
    let mut slashes = 0;
    for (i, c) in key.char_indices() {
        if c == '/' {
            slashes += 1;
            if slashes == 4 {
                return &key[..=i];
            }
        }
    }
    key
}

/// The resourceVersion of a stored object.
pub fn object_revision(object: &Value) -> Option<u64> {
    object.pointer("/metadata/resourceVersion")?.as_str()?.parse().ok()
}

fn set_revision(object: &mut Value, revision: u64) {
    if let Some(meta) = object.get_mut("metadata").and_then(Value::as_object_mut) {
        meta.insert("resourceVersion".into(), Value::String(revision.to_string()));
    }
}

fn writer_loop(store: std::sync::Weak<Store>, backend: Box<dyn Backend>, rx: mpsc::Receiver<Request>) {
    while let Ok(first) = rx.recv() {
        let mut batch = vec![first];
        while batch.len() < MAX_BATCH {
            match rx.try_recv() {
                Ok(r) => batch.push(r),
                Err(_) => break,
            }
        }
        let Some(store) = store.upgrade() else { return };
        commit_batch(&store, backend.as_ref(), batch);
    }
}

/// Check preconditions, assign revisions, commit durably, then publish.
fn commit_batch(store: &Store, backend: &dyn Backend, batch: Vec<Request>) {
    let mut revision = store.revision();
    // Effects of earlier requests in this batch, seen by later ones.
    let mut overlay: HashMap<String, Option<Stored>> = HashMap::new();
    let mut records = Vec::new();
    let mut staged = Vec::new();
    let mut replies = Vec::new();
    {
        let state = store.read();
        for Request { op, reply } in batch {
            let current = |key: &str| match overlay.get(key) {
                Some(v) => v.clone(),
                None => state.objects.get(key).cloned(),
            };
            let outcome = match op {
                Op::Create { key, mut object } => match current(&key) {
                    Some(_) => Err(StoreError::AlreadyExists),
                    None => {
                        revision += 1;
                        set_revision(&mut object, revision);
                        Ok((key, EventType::Added, object, None))
                    }
                },
                Op::Update { key, mut object, expected } => match current(&key) {
                    None => Err(StoreError::NotFound),
                    Some(cur) if expected.is_some_and(|e| e != cur.revision) => Err(StoreError::Conflict),
                    Some(cur) => {
                        revision += 1;
                        set_revision(&mut object, revision);
                        Ok((key, EventType::Modified, object, Some(cur.object)))
                    }
                },
                Op::Delete { key, expected } => match current(&key) {
                    None => Err(StoreError::NotFound),
                    Some(cur) if expected.is_some_and(|e| e != cur.revision) => Err(StoreError::Conflict),
                    Some(cur) => {
                        revision += 1;
                        let mut last = (*cur.object).clone();
                        set_revision(&mut last, revision);
                        Ok((key, EventType::Deleted, last, Some(cur.object)))
                    }
                },
            };
            match outcome {
                Err(e) => {
                    let _ = reply.send(Err(e));
                }
                Ok((key, kind, object, prev)) => {
                    let object = Arc::new(object);
                    let bytes = match serde_json::to_vec(&*object) {
                        Ok(b) => b,
                        Err(e) => {
                            let _ = reply.send(Err(StoreError::Backend(e.to_string())));
                            continue;
                        }
                    };
                    let stored = (kind != EventType::Deleted).then(|| Stored { object: object.clone(), revision });
                    overlay.insert(key.clone(), stored.clone());
                    records.push(Record { revision, kind, key: key.clone(), bytes });
                    let event = Arc::new(Event {
                        revision,
                        kind,
                        key: key.clone(),
                        object: object.clone(),
                        prev,
                        encoded: Default::default(),
                    });
                    staged.push((key, stored, event));
                    replies.push((reply, object));
                }
            }
        }
    }
    if records.is_empty() {
        return;
    }
    if let Err(e) = backend.commit(&records, store.history) {
        tracing::error!(error = %e, "store commit failed");
        for (reply, _) in replies {
            let _ = reply.send(Err(e.clone()));
        }
        return;
    }
    store.publish(staged, revision);
    for (reply, object) in replies {
        let _ = reply.send(Ok(object));
    }
}

impl Clone for StoreError {
    fn clone(&self) -> Self {
        match self {
            StoreError::AlreadyExists => StoreError::AlreadyExists,
            StoreError::NotFound => StoreError::NotFound,
            StoreError::Conflict => StoreError::Conflict,
            StoreError::Gone { requested, oldest } => StoreError::Gone { requested: *requested, oldest: *oldest },
            StoreError::Backend(s) => StoreError::Backend(s.clone()),
        }
    }
}

impl EventType {
    pub(crate) fn encode(self) -> u8 {
        self.code()
    }
    pub(crate) fn decode(c: u8) -> Option<Self> {
        Self::from_code(c)
    }
}

#[cfg(test)]
mod tests;
