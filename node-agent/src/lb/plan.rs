//! Plans an in-place update of one service's backend slots so that the kernel, which picks
//! `slot = random % backend_count`, never meets an empty slot.
//!
//! Protocol (applied by `services.rs`):
//! 1. write every planned slot: slots below the old count are only overwritten where they held a
//!    removed backend, slots at or above it are invisible until step 2;
//! 2. publish the new count in `SERVICES` (one atomic map update);
//! 3. delete the slots at or above the new count, which no reader can pick any more.
//!
//! Surviving backends keep their slot when it stays below the new count (so affinity entries and
//! weighting are undisturbed); survivors above it move down into freed slots before the count
//! shrinks, so they stay reachable throughout.

use std::{collections::HashSet, hash::Hash};

/// Slot writes and deletes for one service, in the order they must be applied.
#[derive(Debug, PartialEq, Eq)]
pub(super) struct SlotPlan<T> {
    pub(super) writes: Vec<(u32, T)>,
    pub(super) new_count: u32,
    pub(super) deletes: Vec<u32>,
}

/// `current` is the slot table as the maps hold it; `desired` must be free of duplicates.
pub(super) fn plan_slots<T: Copy + Eq + Hash>(current: &[T], desired: &[T]) -> SlotPlan<T> {
    let new_len = desired.len();
    let wanted: HashSet<T> = desired.iter().copied().collect();
    // Keep a survivor where it is if its slot stays visible; each backend claims one slot only.
    let mut layout: Vec<Option<T>> = vec![None; new_len];
    let mut placed = HashSet::new();
    for (slot, backend) in current.iter().enumerate().take(new_len) {
        if wanted.contains(backend) && placed.insert(*backend) {
            layout[slot] = Some(*backend);
        }
    }
    let mut to_place = desired.iter().filter(|b| !placed.contains(b));
    for entry in layout.iter_mut().filter(|e| e.is_none()) {
        *entry = to_place.next().copied();
    }

    let writes = layout
        .iter()
        .enumerate()
        .filter_map(|(slot, entry)| {
            let backend = (*entry)?;
            (current.get(slot) != Some(&backend)).then_some((slot as u32, backend))
        })
        .collect();
    SlotPlan { writes, new_count: new_len as u32, deletes: (new_len..current.len()).map(|slot| slot as u32).collect() }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// Replays a plan on a slot table the way the kernel would see it at each step.
    fn apply(current: &[char], plan: &SlotPlan<char>) -> Vec<char> {
        let mut slots: Vec<Option<char>> = current.iter().copied().map(Some).collect();
        let old_count = current.len();
        for (slot, b) in &plan.writes {
            let slot = *slot as usize;
            if slot >= slots.len() {
                slots.resize(slot + 1, None);
            }
            slots[slot] = Some(*b);
            // Invariant: the visible prefix never has a hole.
            assert!(slots[..old_count].iter().all(Option::is_some), "hole before count update: {slots:?}");
        }
        let new_count = plan.new_count as usize;
        assert!(slots[..new_count].iter().all(Option::is_some), "hole after count update: {slots:?}");
        slots.truncate(new_count);
        slots.into_iter().flatten().collect()
    }

    fn check(current: &str, desired: &str) -> SlotPlan<char> {
        let current: Vec<char> = current.chars().collect();
        let desired: Vec<char> = desired.chars().collect();
        let plan = plan_slots(&current, &desired);
        let mut result = apply(&current, &plan);
        result.sort_unstable();
        let mut want = desired.clone();
        want.sort_unstable();
        assert_eq!(result, want);
        plan
    }

    #[test]
    fn new_service_writes_every_slot() {
        let plan = check("", "abc");
        assert_eq!(plan.writes, vec![(0, 'a'), (1, 'b'), (2, 'c')]);
        assert!(plan.deletes.is_empty());
    }

    #[test]
    fn unchanged_set_is_a_no_op() {
        let plan = check("abc", "cab");
        assert!(plan.writes.is_empty() && plan.deletes.is_empty());
        assert_eq!(plan.new_count, 3);
    }

    #[test]
    fn adding_appends_without_touching_others() {
        let plan = check("ab", "abc");
        assert_eq!(plan.writes, vec![(2, 'c')]);
    }

    #[test]
    fn removing_last_only_deletes() {
        let plan = check("abc", "ab");
        assert!(plan.writes.is_empty());
        assert_eq!(plan.deletes, vec![2]);
    }

    #[test]
    fn removing_middle_moves_last_into_hole() {
        let plan = check("abc", "ac");
        assert_eq!(plan.writes, vec![(1, 'c')]);
        assert_eq!(plan.deletes, vec![2]);
    }

    #[test]
    fn replacing_reuses_slot() {
        let plan = check("abc", "adc");
        assert_eq!(plan.writes, vec![(1, 'd')]);
        assert!(plan.deletes.is_empty());
    }

    #[test]
    fn mixed_changes_and_empty() {
        check("abcdef", "fxb");
        check("abcdef", "");
        check("ab", "cdefgh");
        check("aab", "ab");
    }
}
