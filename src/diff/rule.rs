//! One mechanism for every kind's diff (DESIGN.md §8: "a new kind is a new
//! description, not a copy"). A [`Rule`] says what is particular to a kind: the
//! add of a declared object the server lacks (its body and what it shows), the
//! comparison of a declared object with the server's (a change, or nothing),
//! and what a removal shows. [`drive`] matches declared objects with observed
//! ones by identity and asks the rule; [`undeclared`] lists the observed objects
//! no document declares, for the prune rules (which differ per kind: scope,
//! guards, the login account) to decide on.

use std::cell::RefCell;
use std::collections::BTreeMap;
use std::iter::Peekable;

use super::DiffError;
use crate::kinds::ObjectKey;
use crate::plan::Change;

/// The diff rule of one kind of directory object.
pub(super) trait Rule {
    /// The kind's identity (a path, a name).
    type Key: Ord;
    /// A declared object.
    type Desired;
    /// An object as the server holds it.
    type Observed;

    /// guacsync's identity of an object of this kind.
    fn object(&self, key: &Self::Key) -> ObjectKey;

    /// The add of a declared object the server lacks: its body and every field
    /// shown.
    fn add(&mut self, key: &Self::Key, d: &Self::Desired) -> Change;

    /// A change sent after every add of the same batch, for what the server
    /// ignores on create (Guacamole 1.6 ignores `disabled` there).
    fn after_add(&mut self, _key: &Self::Key, _d: &Self::Desired) -> Option<Change> {
        None
    }

    /// The change that makes an existing object what is declared (a complete
    /// `replace`, only the differences shown), or `None` when it already is.
    ///
    /// # Errors
    /// When the comparison cannot be made (a value the server did not answer).
    fn compare(
        &mut self,
        key: &Self::Key,
        d: &Self::Desired,
        o: &Self::Observed,
    ) -> Result<Option<Change>, DiffError>;

    /// The removal of an object no document declares: what it shows.
    fn remove(&self, key: &Self::Key, o: &Self::Observed) -> Change;
}

/// What matching the declared objects of one kind with the server's gave, in
/// declaration order.
pub(super) struct Matched {
    pub adds: Vec<Change>,
    /// The changes that follow the adds (see [`Rule::after_add`]).
    pub after_adds: Vec<Change>,
    pub changes: Vec<Change>,
    pub errors: Vec<DiffError>,
}

impl Matched {
    /// Adds, the changes that follow them, then the other changes: the order one
    /// batch sends them in.
    pub fn into_changes(self) -> (Vec<Change>, Vec<DiffError>) {
        let mut out = self.adds;
        out.extend(self.after_adds);
        out.extend(self.changes);
        (out, self.errors)
    }
}

/// Matches each declared object with the server's by identity: an add when the
/// server lacks it, the rule's comparison when it has it.
pub(super) fn drive<'d, R: Rule + ?Sized>(
    rule: &mut R,
    declared: impl IntoIterator<Item = (&'d R::Key, &'d R::Desired)>,
    observed: &dyn Fn(&R::Key) -> Option<&'d R::Observed>,
) -> Matched
where
    R::Key: 'd,
    R::Desired: 'd,
    R::Observed: 'd,
{
    let mut m = Matched {
        adds: Vec::new(),
        after_adds: Vec::new(),
        changes: Vec::new(),
        errors: Vec::new(),
    };
    for (key, d) in declared {
        match observed(key) {
            None => {
                m.adds.push(rule.add(key, d));
                m.after_adds.extend(rule.after_add(key, d));
            }
            Some(o) => match rule.compare(key, d, o) {
                Ok(Some(change)) => m.changes.push(change),
                Ok(None) => {}
                Err(e) => m.errors.push(e),
            },
        }
    }
    m
}

/// The observed objects that no document declares and that `owned` says this
/// plan manages (in scope, not the login account...), in identity order.
pub(super) fn undeclared<'o, K: Ord, O>(
    observed: &'o BTreeMap<K, O>,
    declared: &dyn Fn(&K) -> bool,
    owned: &dyn Fn(&K, &O) -> bool,
) -> Vec<(&'o K, &'o O)> {
    observed
        .iter()
        .filter(|(k, o)| !declared(k) && owned(k, o))
        .collect()
}

/// Finds observed objects by key for keys asked in ascending order, by walking
/// the map beside them: a step or two each instead of a search (declared maps
/// are ordered like observed ones). A key asked out of order is searched for.
pub(super) struct Walk<'o, K, O> {
    map: &'o BTreeMap<K, O>,
    rest: RefCell<Peekable<std::collections::btree_map::Iter<'o, K, O>>>,
    /// The greatest key stepped over, if any.
    passed: RefCell<Option<&'o K>>,
}

impl<'o, K: Ord, O> Walk<'o, K, O> {
    pub(super) fn new(map: &'o BTreeMap<K, O>) -> Self {
        Walk {
            map,
            rest: RefCell::new(map.iter().peekable()),
            passed: RefCell::new(None),
        }
    }

    /// The object observed under `key`.
    pub(super) fn get(&self, key: &K) -> Option<&'o O> {
        if self.passed.borrow().is_some_and(|p| p >= key) {
            return self.map.get(key);
        }
        let mut rest = self.rest.borrow_mut();
        while let Some((k, _)) = rest.next_if(|(k, _)| *k < key) {
            *self.passed.borrow_mut() = Some(k);
        }
        rest.peek().filter(|(k, _)| *k == key).map(|(_, o)| *o)
    }
}

#[cfg(test)]
mod tests {
    use std::collections::BTreeMap;

    use super::Walk;

    #[test]
    fn a_walk_finds_what_a_search_finds_in_any_order() {
        let map: BTreeMap<u32, u32> = [1, 3, 4, 8, 9].into_iter().map(|k| (k, k * 10)).collect();
        let walk = Walk::new(&map);
        // Ascending (the walk), then out of order (a search), then on again.
        let asked = [0, 1, 2, 3, 3, 8, 4, 1, 9, 10, 2, 9];
        let found: Vec<Option<u32>> = asked.iter().map(|k| walk.get(k).copied()).collect();
        let searched: Vec<Option<u32>> = asked.iter().map(|k| map.get(k).copied()).collect();
        assert_eq!(found, searched);
        assert_eq!(found[5], Some(80));
        assert_eq!(found[6], Some(40));
    }
}
