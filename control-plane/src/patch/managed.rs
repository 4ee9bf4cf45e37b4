//! The `metadata.managedFields` list: who owns which fields, decoded into
//! [`FieldSet`]s and encoded back the way the Kubernetes apiserver writes it.

use std::cmp::Ordering;
use std::collections::BTreeMap;

use serde_json::{Map, Value};

use super::fieldset::FieldSet;
use super::values::kind_of;
use super::PatchError;

/// Update entries beyond this many are folded into "ancient-changes".
pub(crate) const MAX_UPDATE_MANAGERS: usize = 10;
const ANCIENT_CHANGES: &str = "ancient-changes";

#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord)]
pub(crate) enum Operation {
    Apply,
    Update,
}

impl Operation {
    pub fn as_str(self) -> &'static str {
        match self {
            Operation::Apply => "Apply",
            Operation::Update => "Update",
        }
    }
}

/// Who an entry belongs to. Appliers are one owner whatever API version
/// they apply with; updaters are one owner per API version.
#[derive(Clone, Copy, Debug)]
pub(crate) struct Owner<'a> {
    pub manager: &'a str,
    pub operation: Operation,
    pub api_version: &'a str,
    pub subresource: Option<&'a str>,
}

/// One `managedFields` entry.
#[derive(Clone, Debug, PartialEq, Eq)]
pub(crate) struct Entry {
    pub manager: String,
    pub operation: Operation,
    pub api_version: String,
    pub time: Option<String>,
    pub subresource: Option<String>,
    pub fields: FieldSet,
}

impl Entry {
    pub fn new(owner: Owner, fields: FieldSet) -> Entry {
        Entry {
            manager: owner.manager.to_string(),
            operation: owner.operation,
            api_version: owner.api_version.to_string(),
            time: None,
            subresource: owner.subresource.map(str::to_string),
            fields,
        }
    }

    pub fn owner(&self) -> Owner<'_> {
        Owner {
            manager: &self.manager,
            operation: self.operation,
            api_version: &self.api_version,
            subresource: self.subresource.as_deref(),
        }
    }

    pub fn belongs_to(&self, owner: Owner) -> bool {
        self.manager == owner.manager
            && self.operation == owner.operation
            && self.subresource.as_deref() == owner.subresource
            && (self.operation == Operation::Apply || self.api_version == owner.api_version)
    }

    fn decode(value: &Value, index: usize) -> Result<Entry, PatchError> {
        let bad = |why: String| PatchError::invalid(format!("managedFields[{index}]: {why}"));
        let Value::Object(object) = value else {
            return Err(bad(format!("must be an object, got {}", kind_of(value))));
        };
        let text = |name: &str| -> Result<Option<String>, PatchError> {
            match object.get(name) {
                None | Some(Value::Null) => Ok(None),
                Some(Value::String(s)) => Ok(Some(s.clone())),
                Some(other) => Err(bad(format!("{name} must be a string, got {}", kind_of(other)))),
            }
        };
        let operation = match text("operation")?.as_deref() {
            Some("Apply") => Operation::Apply,
            Some("Update") => Operation::Update,
            _ => return Err(bad("operation must be `Apply` or `Update`".to_string())),
        };
        let api_version = text("apiVersion")?
            .filter(|v| !v.is_empty())
            .ok_or_else(|| bad("apiVersion must not be empty".to_string()))?;
        match text("fieldsType")?.as_deref() {
            Some("FieldsV1") => {}
            None | Some("") => return Err(bad("missing fieldsType".to_string())),
            Some(other) => return Err(bad(format!("invalid fieldsType {other:?}"))),
        }
        let fields = match object.get("fieldsV1") {
            Some(fields) => FieldSet::from_fields_v1(fields).map_err(|err| bad(err.to_string()))?,
            None => FieldSet::new(),
        };
        Ok(Entry {
            manager: text("manager")?.unwrap_or_default(),
            operation,
            api_version,
            time: text("time")?,
            subresource: text("subresource")?.filter(|s| !s.is_empty()),
            fields,
        })
    }

    fn encode(&self) -> Value {
        let mut object = Map::new();
        object.insert("manager".to_string(), Value::String(self.manager.clone()));
        object.insert("operation".to_string(), Value::String(self.operation.as_str().to_string()));
        object.insert("apiVersion".to_string(), Value::String(self.api_version.clone()));
        if let Some(time) = &self.time {
            object.insert("time".to_string(), Value::String(time.clone()));
        }
        object.insert("fieldsType".to_string(), Value::String("FieldsV1".to_string()));
        object.insert("fieldsV1".to_string(), self.fields.to_fields_v1());
        if let Some(subresource) = &self.subresource {
            object.insert("subresource".to_string(), Value::String(subresource.clone()));
        }
        Value::Object(object)
    }

    fn seconds(&self) -> i64 {
        self.time.as_deref().and_then(rfc3339_seconds).unwrap_or(0)
    }
}

/// All entries of an object's `managedFields`.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub(crate) struct ManagedFields {
    pub entries: Vec<Entry>,
}

impl ManagedFields {
    /// Decodes `metadata.managedFields` (absent or null: no entries).
    /// Entries for the same owner are merged.
    pub fn decode(value: Option<&Value>) -> Result<ManagedFields, PatchError> {
        let items = match value {
            None | Some(Value::Null) => return Ok(ManagedFields::default()),
            Some(Value::Array(items)) => items,
            Some(other) => {
                return Err(PatchError::invalid(format!("managedFields must be a list, got {}", kind_of(other))))
            }
        };
        let mut managed = ManagedFields::default();
        for (index, item) in items.iter().enumerate() {
            managed.absorb(Entry::decode(item, index)?);
        }
        Ok(managed)
    }

    fn absorb(&mut self, entry: Entry) {
        match self.position(entry.owner()) {
            Some(at) => {
                let existing = &mut self.entries[at];
                existing.fields = existing.fields.union(&entry.fields);
                if entry.seconds() >= existing.seconds() {
                    existing.time = entry.time;
                    existing.api_version = entry.api_version;
                }
            }
            None => self.entries.push(entry),
        }
    }

    /// The `managedFields` value, ordered as the apiserver orders it
    /// (operation, time, manager, apiVersion, subresource); `None` when there
    /// are no entries.
    pub fn encode(&self) -> Option<Value> {
        if self.entries.is_empty() {
            return None;
        }
        let mut sorted: Vec<&Entry> = self.entries.iter().collect();
        sorted.sort_by(|a, b| entry_order(a, b));
        Some(Value::Array(sorted.into_iter().map(Entry::encode).collect()))
    }

    pub fn is_empty(&self) -> bool {
        self.entries.is_empty()
    }

    pub fn position(&self, owner: Owner) -> Option<usize> {
        self.entries.iter().position(|entry| entry.belongs_to(owner))
    }

    pub fn get(&self, owner: Owner) -> Option<&Entry> {
        self.entries.iter().find(|entry| entry.belongs_to(owner))
    }

    /// The entry of `owner`, created empty if missing.
    pub fn entry_mut(&mut self, owner: Owner) -> &mut Entry {
        let at = match self.position(owner) {
            Some(at) => at,
            None => {
                self.entries.push(Entry::new(owner, FieldSet::new()));
                self.entries.len() - 1
            }
        };
        &mut self.entries[at]
    }

    /// Everything anybody owns.
    pub fn all_fields(&self) -> FieldSet {
        self.entries.iter().fold(FieldSet::new(), |all, entry| all.union(&entry.fields))
    }

    pub fn drop_empty(&mut self) {
        self.entries.retain(|entry| !entry.fields.is_empty());
    }

    /// Keeps at most `max` Update entries by folding the oldest ones, per
    /// API version, into an "ancient-changes" entry, as the apiserver does.
    pub fn cap_update_entries(&mut self, max: usize) {
        let mut updaters: Vec<usize> =
            (0..self.entries.len()).filter(|&i| self.entries[i].operation == Operation::Update).collect();
        if updaters.len() <= max {
            return;
        }
        updaters.sort_by(|&a, &b| {
            let (a, b) = (&self.entries[a], &self.entries[b]);
            a.seconds().cmp(&b.seconds()).then_with(|| owner_order(a, b))
        });
        let mut remaining = updaters.len();
        let mut first_of_version: BTreeMap<String, usize> = BTreeMap::new();
        let mut folded = vec![false; self.entries.len()];
        for index in updaters {
            if remaining <= max {
                break;
            }
            let version = self.entries[index].api_version.clone();
            let Some(&first) = first_of_version.get(&version) else {
                first_of_version.insert(version, index);
                continue;
            };
            let bucket = self.bucket_for(&version, first);
            let merged = self.entries[bucket].fields.union(&self.entries[index].fields);
            self.entries[bucket].fields = merged;
            self.entries[bucket].time = self.entries[index].time.clone();
            folded[index] = true;
            remaining -= 1;
        }
        let mut index = 0;
        self.entries.retain(|_| {
            let keep = !folded.get(index).copied().unwrap_or(false);
            index += 1;
            keep
        });
    }

    /// The "ancient-changes" entry for `version`, made from the entry at
    /// `first` when there is none yet.
    fn bucket_for(&mut self, version: &str, first: usize) -> usize {
        let owner =
            Owner { manager: ANCIENT_CHANGES, operation: Operation::Update, api_version: version, subresource: None };
        if let Some(at) = self.position(owner) {
            return at;
        }
        let entry = &mut self.entries[first];
        entry.manager = ANCIENT_CHANGES.to_string();
        entry.subresource = None;
        first
    }
}

fn entry_order(a: &Entry, b: &Entry) -> Ordering {
    a.operation.cmp(&b.operation).then_with(|| a.seconds().cmp(&b.seconds())).then_with(|| owner_order(a, b))
}

fn owner_order(a: &Entry, b: &Entry) -> Ordering {
    a.manager
        .cmp(&b.manager)
        .then_with(|| a.api_version.cmp(&b.api_version))
        .then_with(|| a.subresource.cmp(&b.subresource))
}

/// Seconds since the Unix epoch of an RFC 3339 timestamp such as
/// `2024-05-01T12:00:00Z` or `2024-05-01T14:00:00.5+02:00`.
pub(crate) fn rfc3339_seconds(text: &str) -> Option<i64> {
    let bytes = text.as_bytes();
    let number = |range: std::ops::Range<usize>| -> Option<i64> {
        let digits = text.get(range)?;
        if digits.bytes().all(|b| b.is_ascii_digit()) {
            digits.parse().ok()
        } else {
            None
        }
    };
    let separators_ok = bytes.get(4) == Some(&b'-')
        && bytes.get(7) == Some(&b'-')
        && matches!(bytes.get(10), Some(b'T' | b't' | b' '))
        && bytes.get(13) == Some(&b':')
        && bytes.get(16) == Some(&b':');
    if !separators_ok {
        return None;
    }
    let (year, month, day) = (number(0..4)?, number(5..7)?, number(8..10)?);
    let (hour, minute, second) = (number(11..13)?, number(14..16)?, number(17..19)?);
    let mut rest = text.get(19..)?;
    if let Some(fraction) = rest.strip_prefix('.') {
        let digits = fraction.bytes().take_while(u8::is_ascii_digit).count();
        rest = fraction.get(digits..)?;
    }
    let offset = match rest {
        "Z" | "z" => 0,
        _ => {
            let sign = match rest.as_bytes().first() {
                Some(b'+') => 1,
                Some(b'-') => -1,
                _ => return None,
            };
            let (hours, minutes) = rest.get(1..)?.split_once(':')?;
            sign * (hours.parse::<i64>().ok()? * 3600 + minutes.parse::<i64>().ok()? * 60)
        }
    };
    let valid = (1..=12).contains(&month) && (1..=31).contains(&day) && hour < 24 && minute < 60 && second <= 60;
    valid.then(|| days_from_civil(year, month, day) * 86_400 + hour * 3600 + minute * 60 + second - offset)
}

/// Days since 1970-01-01 of a proleptic Gregorian date.
fn days_from_civil(year: i64, month: i64, day: i64) -> i64 {
    let year = if month <= 2 { year - 1 } else { year };
    let era = year.div_euclid(400);
    let year_of_era = year - era * 400;
    let month_from_march = (month + 9) % 12;
    let day_of_year = (153 * month_from_march + 2) / 5 + day - 1;
    let day_of_era = year_of_era * 365 + year_of_era / 4 - year_of_era / 100 + day_of_year;
    era * 146_097 + day_of_era - 719_468
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    fn entry(manager: &str, operation: &str, api_version: &str, time: &str, fields: Value) -> Value {
        json!({"manager": manager, "operation": operation, "apiVersion": api_version, "time": time,
            "fieldsType": "FieldsV1", "fieldsV1": fields})
    }

    #[test]
    fn timestamps() {
        assert_eq!(rfc3339_seconds("1970-01-01T00:00:00Z"), Some(0));
        assert_eq!(rfc3339_seconds("2024-02-29T12:34:56Z"), Some(1_709_210_096));
        assert_eq!(rfc3339_seconds("2024-02-29T14:34:56.123+02:00"), Some(1_709_210_096));
        assert_eq!(rfc3339_seconds("1969-12-31T23:59:59Z"), Some(-1));
        for bad in [
            "",
            "yesterday",
            "2024-13-01T00:00:00Z",
            "2024-01-01T00:00:00",
            "2024-01-01T00:00:00+0200",
            "2024-01-01T0a:00:00Z",
        ] {
            assert_eq!(rfc3339_seconds(bad), None, "{bad}");
        }
    }

    #[test]
    fn decode_encode_round_trip() {
        let value = json!([
            entry("kubectl", "Apply", "apps/v1", "2024-01-01T00:00:00Z", json!({"f:spec": {"f:replicas": {}}})),
            {"manager": "ctrl", "operation": "Update", "apiVersion": "apps/v1", "time": "2024-01-02T00:00:00Z",
             "fieldsType": "FieldsV1", "fieldsV1": {"f:status": {"f:replicas": {}}}, "subresource": "status"},
        ]);
        let managed = ManagedFields::decode(Some(&value)).unwrap();
        assert_eq!(managed.entries.len(), 2);
        assert_eq!(managed.entries[1].subresource.as_deref(), Some("status"));
        assert_eq!(managed.encode(), Some(value));
        assert_eq!(ManagedFields::decode(None).unwrap().encode(), None);
        assert_eq!(ManagedFields::decode(Some(&json!(null))).unwrap().encode(), None);
    }

    #[test]
    fn encode_sorts_like_the_apiserver() {
        let value = json!([
            entry("b", "Update", "v1", "2024-01-01T00:00:00Z", json!({"f:a": {}})),
            entry("a", "Update", "v1", "2024-01-01T00:00:00Z", json!({"f:b": {}})),
            entry("z", "Update", "v1", "2023-01-01T00:00:00Z", json!({"f:c": {}})),
            entry("y", "Apply", "v1", "2025-01-01T00:00:00Z", json!({"f:d": {}})),
        ]);
        let encoded = ManagedFields::decode(Some(&value)).unwrap().encode().unwrap();
        let managers: Vec<&str> = encoded.as_array().unwrap().iter().map(|e| e["manager"].as_str().unwrap()).collect();
        assert_eq!(managers, ["y", "z", "a", "b"]);
    }

    #[test]
    fn same_owner_entries_merge() {
        let value = json!([
            entry("kubectl", "Apply", "apps/v1", "2024-01-01T00:00:00Z", json!({"f:a": {}})),
            entry("kubectl", "Apply", "apps/v2", "2024-02-01T00:00:00Z", json!({"f:b": {}})),
            entry("kubectl", "Update", "apps/v1", "2024-01-01T00:00:00Z", json!({"f:c": {}})),
            entry("kubectl", "Update", "apps/v2", "2024-01-01T00:00:00Z", json!({"f:d": {}})),
        ]);
        let managed = ManagedFields::decode(Some(&value)).unwrap();
        assert_eq!(managed.entries.len(), 3);
        assert_eq!(managed.entries[0].fields.paths(), [".a", ".b"]);
        assert_eq!(managed.entries[0].api_version, "apps/v2");
        assert_eq!(managed.entries[0].time.as_deref(), Some("2024-02-01T00:00:00Z"));
    }

    #[test]
    fn decode_rejects_invalid_entries() {
        let ok = entry("m", "Apply", "v1", "2024-01-01T00:00:00Z", json!({}));
        let cases = [
            json!({"a": 1}),
            json!([1]),
            json!([{"manager": "m", "operation": "Patch", "apiVersion": "v1", "fieldsType": "FieldsV1"}]),
            json!([{"manager": "m", "operation": "Apply", "fieldsType": "FieldsV1"}]),
            json!([{"manager": "m", "operation": "Apply", "apiVersion": "v1"}]),
            json!([{"manager": "m", "operation": "Apply", "apiVersion": "v1", "fieldsType": "FieldsV2"}]),
            json!([{"manager": "m", "operation": "Apply", "apiVersion": "v1", "fieldsType": "FieldsV1", "fieldsV1": {"bad": {}}}]),
            json!([{"manager": 5, "operation": "Apply", "apiVersion": "v1", "fieldsType": "FieldsV1"}]),
        ];
        for case in cases {
            assert!(ManagedFields::decode(Some(&case)).is_err(), "{case}");
        }
        assert!(ManagedFields::decode(Some(&json!([ok]))).is_ok());
    }

    #[test]
    fn owners() {
        let applier = Owner { manager: "m", operation: Operation::Apply, api_version: "v1", subresource: None };
        let mut managed = ManagedFields::default();
        managed.entry_mut(applier).fields.insert(&[crate::patch::PathElement::Field("a".into())]);
        assert!(managed.get(Owner { api_version: "v2", ..applier }).is_some());
        assert!(managed.get(Owner { operation: Operation::Update, ..applier }).is_none());
        assert!(managed.get(Owner { subresource: Some("status"), ..applier }).is_none());
        let updater = Owner { operation: Operation::Update, ..applier };
        managed.entry_mut(updater);
        assert!(managed.get(Owner { api_version: "v2", ..updater }).is_none());
        managed.drop_empty();
        assert_eq!(managed.entries.len(), 1);
        assert_eq!(managed.all_fields().paths(), [".a"]);
    }

    #[test]
    fn cap_folds_oldest_updates_per_version() {
        let mut items = Vec::new();
        for i in 0..12 {
            let version = if i % 2 == 0 { "v1" } else { "v2" };
            items.push(entry(
                &format!("m{i:02}"),
                "Update",
                version,
                &format!("2024-01-01T00:00:{i:02}Z"),
                json!({format!("f:f{i}"): {}}),
            ));
        }
        items.push(entry("applier", "Apply", "v1", "2020-01-01T00:00:00Z", json!({"f:x": {}})));
        let mut managed = ManagedFields::decode(Some(&Value::Array(items))).unwrap();
        managed.cap_update_entries(MAX_UPDATE_MANAGERS);
        let updates: Vec<&Entry> = managed.entries.iter().filter(|e| e.operation == Operation::Update).collect();
        assert_eq!(updates.len(), MAX_UPDATE_MANAGERS);
        // m00 (v1) and m01 (v2) are the first of their versions; m02 (v1) and m03 (v2) fold into buckets.
        let bucket_v1 = managed.entries.iter().find(|e| e.manager == ANCIENT_CHANGES && e.api_version == "v1").unwrap();
        assert_eq!(bucket_v1.fields.paths(), [".f0", ".f2"]);
        assert_eq!(bucket_v1.time.as_deref(), Some("2024-01-01T00:00:02Z"));
        let bucket_v2 = managed.entries.iter().find(|e| e.manager == ANCIENT_CHANGES && e.api_version == "v2").unwrap();
        assert_eq!(bucket_v2.fields.paths(), [".f1", ".f3"]);
        assert!(managed.entries.iter().any(|e| e.manager == "applier"));
        // Under the cap nothing changes.
        let before = managed.clone();
        managed.cap_update_entries(MAX_UPDATE_MANAGERS);
        assert_eq!(managed, before);
    }
}
