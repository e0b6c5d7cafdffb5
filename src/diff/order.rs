//! The plan's changes in apply order (DESIGN.md §8: groups → connections →
//! sharing profiles → user groups → users), with the places where a new atomic
//! stage must start: the next depth of new groups (a child's body refers to its
//! parent's identifier, learnt when the parent's batch is applied), and each
//! step whose objects refer to the step before.

use crate::plan::Change;

/// Every stage's changes, each already in the order its batch sends them.
#[derive(Default)]
pub(super) struct Stages {
    /// Group moves whose new parent exists: before the creations (a moved group
    /// may free the name a new one takes).
    pub early_moves: Vec<Change>,
    /// New groups with their depth, outermost first.
    pub group_adds: Vec<(usize, Change)>,
    /// The other group moves, then the declared groups that change in place.
    pub late_moves: Vec<Change>,
    pub group_changes: Vec<Change>,
    /// Connection moves, adds, changes, removals.
    pub connections: Vec<Change>,
    pub sharing_profiles: Vec<Change>,
    /// Groups `prune_groups` removes, deepest first (after what was in them).
    pub group_removals: Vec<Change>,
    pub user_groups: Vec<Change>,
    pub users: Vec<Change>,
}

impl Stages {
    /// The changes in apply order and the indices where a new stage starts.
    pub fn into_changes(self) -> (Vec<Change>, Vec<usize>) {
        let mut changes: Vec<Change> = Vec::new();
        let mut breaks: Vec<usize> = Vec::new();
        changes.extend(self.early_moves);
        let mut depth = None;
        for (d, c) in self.group_adds {
            if depth != Some(d) {
                breaks.push(changes.len());
                depth = Some(d);
            }
            changes.push(c);
        }
        breaks.push(changes.len());
        changes.extend(self.late_moves);
        changes.extend(self.group_changes);
        for stage in [
            self.connections,
            self.sharing_profiles,
            self.group_removals,
            self.user_groups,
            self.users,
        ] {
            breaks.push(changes.len());
            changes.extend(stage);
        }
        (changes, breaks)
    }
}
