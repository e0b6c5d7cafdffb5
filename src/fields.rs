//! The parameters and attributes of one connection, held compactly: a plan of
//! 100,000 connections holds four such maps per connection (desired parameters
//! and attributes, observed parameters and attributes). As `BTreeMap<String, _>`
//! each cost a B-tree leaf of eleven slots whatever it held (about 540 bytes for
//! one attribute) and a heap string per name; the names come from a small set
//! (the protocols' parameter names, the schema's attribute names).
//!
//! [`Fields`] is a vector sorted by name with the methods of `BTreeMap` the code
//! uses, serialised as a map in the same (byte) order, so the saved plan and
//! every output are unchanged. [`Name`] is a shared, interned name: each distinct
//! name is allocated once per process, however many connections use it.

use std::borrow::Borrow;
use std::collections::HashSet;
use std::fmt;
use std::sync::{Arc, LazyLock, Mutex};

use serde::de::{MapAccess, Visitor};
use serde::{Deserialize, Deserializer, Serialize, Serializer};

/// How many distinct names the interner keeps. Names come from manifests and the
/// server, so their number is not bounded by guacsync: past this many, a new
/// name is allocated on its own (correct, only not shared) and the interner
/// stops growing.
const INTERNED_MAX: usize = 4096;

static INTERNED: LazyLock<Mutex<HashSet<Arc<str>>>> = LazyLock::new(Mutex::default);

/// A parameter or attribute name, shared between every map that holds it.
#[derive(Clone, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub struct Name(Arc<str>);

impl Name {
    /// The shared copy of `name` (allocated the first time it is seen).
    #[must_use]
    pub fn new(name: &str) -> Self {
        // A poisoned lock only means another thread panicked while inserting:
        // the set itself is still a valid set of names.
        let mut set = INTERNED
            .lock()
            .unwrap_or_else(std::sync::PoisonError::into_inner);
        if let Some(shared) = set.get(name) {
            return Self(Arc::clone(shared));
        }
        let fresh: Arc<str> = Arc::from(name);
        if set.len() < INTERNED_MAX {
            set.insert(Arc::clone(&fresh));
        }
        Self(fresh)
    }

    #[must_use]
    pub fn as_str(&self) -> &str {
        &self.0
    }
}

impl std::ops::Deref for Name {
    type Target = str;
    fn deref(&self) -> &str {
        &self.0
    }
}

impl Borrow<str> for Name {
    fn borrow(&self) -> &str {
        &self.0
    }
}

impl AsRef<str> for Name {
    fn as_ref(&self) -> &str {
        &self.0
    }
}

impl From<&str> for Name {
    fn from(name: &str) -> Self {
        Self::new(name)
    }
}

impl From<String> for Name {
    fn from(name: String) -> Self {
        Self::new(&name)
    }
}

impl From<&String> for Name {
    fn from(name: &String) -> Self {
        Self::new(name)
    }
}

impl From<&Name> for Name {
    fn from(name: &Name) -> Self {
        name.clone()
    }
}

impl From<Name> for String {
    fn from(name: Name) -> Self {
        name.0.as_ref().to_owned()
    }
}

impl PartialEq<str> for Name {
    fn eq(&self, other: &str) -> bool {
        &*self.0 == other
    }
}

impl PartialEq<&str> for Name {
    fn eq(&self, other: &&str) -> bool {
        &*self.0 == *other
    }
}

impl fmt::Debug for Name {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        fmt::Debug::fmt(&*self.0, f)
    }
}

impl fmt::Display for Name {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.0)
    }
}

impl Serialize for Name {
    fn serialize<S: Serializer>(&self, serializer: S) -> Result<S::Ok, S::Error> {
        serializer.serialize_str(&self.0)
    }
}

impl<'de> Deserialize<'de> for Name {
    fn deserialize<D: Deserializer<'de>>(deserializer: D) -> Result<Self, D::Error> {
        struct V;
        impl Visitor<'_> for V {
            type Value = Name;
            fn expecting(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
                f.write_str("a name")
            }
            fn visit_str<E: serde::de::Error>(self, v: &str) -> Result<Name, E> {
                Ok(Name::new(v))
            }
        }
        deserializer.deserialize_str(V)
    }
}

/// Values by name, sorted by name (as `BTreeMap<String, V>` orders them), one
/// value per name.
#[derive(Clone, PartialEq, Eq, Hash)]
pub struct Fields<V> {
    entries: Vec<(Name, V)>,
}

impl<V> Default for Fields<V> {
    fn default() -> Self {
        Self {
            entries: Vec::new(),
        }
    }
}

impl<V> Fields<V> {
    #[must_use]
    pub fn new() -> Self {
        Self::default()
    }

    fn find(&self, name: &str) -> Result<usize, usize> {
        self.entries.binary_search_by(|(k, _)| k.as_str().cmp(name))
    }

    #[must_use]
    pub fn get(&self, name: &str) -> Option<&V> {
        self.find(name).ok().map(|i| &self.entries[i].1)
    }

    pub fn get_mut(&mut self, name: &str) -> Option<&mut V> {
        self.find(name).ok().map(|i| &mut self.entries[i].1)
    }

    /// The stored name and its value.
    #[must_use]
    pub fn get_key_value(&self, name: &str) -> Option<(&Name, &V)> {
        self.find(name).ok().map(|i| {
            let (k, v) = &self.entries[i];
            (k, v)
        })
    }

    #[must_use]
    pub fn contains_key(&self, name: &str) -> bool {
        self.find(name).is_ok()
    }

    /// Sets `name` to `value`; the value it replaced, if any.
    pub fn insert(&mut self, name: Name, value: V) -> Option<V> {
        match self.find(&name) {
            Ok(i) => Some(std::mem::replace(&mut self.entries[i].1, value)),
            Err(i) => {
                self.entries.insert(i, (name, value));
                None
            }
        }
    }

    pub fn remove(&mut self, name: &str) -> Option<V> {
        self.find(name).ok().map(|i| self.entries.remove(i).1)
    }

    /// Keeps the entries for which `keep` is true.
    pub fn retain(&mut self, mut keep: impl FnMut(&Name, &mut V) -> bool) {
        self.entries.retain_mut(|(k, v)| keep(k, v));
    }

    #[must_use]
    pub fn len(&self) -> usize {
        self.entries.len()
    }

    #[must_use]
    pub fn is_empty(&self) -> bool {
        self.entries.is_empty()
    }

    /// The entries in name order.
    pub fn iter(&self) -> impl DoubleEndedIterator<Item = (&Name, &V)> + ExactSizeIterator {
        self.entries.iter().map(|(k, v)| (k, v))
    }

    pub fn iter_mut(&mut self) -> impl DoubleEndedIterator<Item = (&Name, &mut V)> {
        self.entries.iter_mut().map(|(k, v)| (&*k, v))
    }

    pub fn keys(&self) -> impl DoubleEndedIterator<Item = &Name> + ExactSizeIterator {
        self.entries.iter().map(|(k, _)| k)
    }

    pub fn values(&self) -> impl DoubleEndedIterator<Item = &V> + ExactSizeIterator {
        self.entries.iter().map(|(_, v)| v)
    }

    /// Gives back the spare capacity: a map is built once and then held for the
    /// whole plan.
    pub fn shrink_to_fit(&mut self) {
        self.entries.shrink_to_fit();
    }
}

impl<V> std::ops::Index<&str> for Fields<V> {
    type Output = V;
    /// # Panics
    /// When `name` is absent, as `BTreeMap`'s index does.
    fn index(&self, name: &str) -> &V {
        match self.get(name) {
            Some(v) => v,
            None => panic!("no entry {name:?}"),
        }
    }
}

impl<K: Into<Name>, V> FromIterator<(K, V)> for Fields<V> {
    /// As `BTreeMap`: sorted by name, the last value of a repeated name kept.
    fn from_iter<I: IntoIterator<Item = (K, V)>>(iter: I) -> Self {
        let mut entries: Vec<(Name, V)> = iter.into_iter().map(|(k, v)| (k.into(), v)).collect();
        // Stable, so that of equal names the later value comes later; `dedup_by`
        // keeps the first of a run, so the later value is moved into it.
        entries.sort_by(|a, b| a.0.cmp(&b.0));
        entries.dedup_by(|later, kept| {
            let same = later.0 == kept.0;
            if same {
                std::mem::swap(&mut later.1, &mut kept.1);
            }
            same
        });
        entries.shrink_to_fit();
        Self { entries }
    }
}

impl<K: Into<Name>, V> Extend<(K, V)> for Fields<V> {
    fn extend<I: IntoIterator<Item = (K, V)>>(&mut self, iter: I) {
        for (k, v) in iter {
            self.insert(k.into(), v);
        }
    }
}

impl<V> IntoIterator for Fields<V> {
    type Item = (Name, V);
    type IntoIter = std::vec::IntoIter<(Name, V)>;
    fn into_iter(self) -> Self::IntoIter {
        self.entries.into_iter()
    }
}

impl<'a, V> IntoIterator for &'a Fields<V> {
    type Item = (&'a Name, &'a V);
    type IntoIter =
        std::iter::Map<std::slice::Iter<'a, (Name, V)>, fn(&'a (Name, V)) -> (&'a Name, &'a V)>;
    fn into_iter(self) -> Self::IntoIter {
        self.entries.iter().map(|(k, v)| (k, v))
    }
}

impl<K: Into<Name>, V, const N: usize> From<[(K, V); N]> for Fields<V> {
    fn from(entries: [(K, V); N]) -> Self {
        entries.into_iter().collect()
    }
}

impl<V> From<std::collections::BTreeMap<String, V>> for Fields<V> {
    fn from(map: std::collections::BTreeMap<String, V>) -> Self {
        // Already sorted and unique: no sort needed.
        Self {
            entries: map.into_iter().map(|(k, v)| (Name::from(k), v)).collect(),
        }
    }
}

impl<V: Clone> Fields<V> {
    /// A `BTreeMap` copy, for code that works on one (a changed connection's
    /// field-by-field comparison, the estate's maps).
    #[must_use]
    pub fn to_btree(&self) -> std::collections::BTreeMap<String, V> {
        self.iter()
            .map(|(k, v)| (k.to_string(), v.clone()))
            .collect()
    }
}

impl<V: fmt::Debug> fmt::Debug for Fields<V> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_map().entries(self.iter()).finish()
    }
}

impl<V: Serialize> Serialize for Fields<V> {
    fn serialize<S: Serializer>(&self, serializer: S) -> Result<S::Ok, S::Error> {
        serializer.collect_map(self.iter())
    }
}

impl<'de, V: Deserialize<'de>> Deserialize<'de> for Fields<V> {
    fn deserialize<D: Deserializer<'de>>(deserializer: D) -> Result<Self, D::Error> {
        struct M<V>(std::marker::PhantomData<V>);
        impl<'de, V: Deserialize<'de>> Visitor<'de> for M<V> {
            type Value = Fields<V>;
            fn expecting(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
                f.write_str("a map")
            }
            fn visit_map<A: MapAccess<'de>>(self, mut map: A) -> Result<Fields<V>, A::Error> {
                let mut out = Fields::new();
                while let Some((k, v)) = map.next_entry::<Name, V>()? {
                    out.insert(k, v);
                }
                out.shrink_to_fit();
                Ok(out)
            }
        }
        deserializer.deserialize_map(M(std::marker::PhantomData))
    }
}

#[cfg(test)]
mod tests {
    use std::collections::BTreeMap;

    use super::*;

    #[test]
    fn orders_and_replaces_as_a_btreemap_does() {
        let pairs = [
            ("port", "22"),
            ("hostname", "a"),
            ("Z", "z"),
            ("port", "2222"),
        ];
        let fields: Fields<&str> = pairs.into_iter().collect();
        let tree: BTreeMap<&str, &str> = pairs.into_iter().collect();
        assert_eq!(
            fields
                .iter()
                .map(|(k, v)| (k.as_str(), *v))
                .collect::<Vec<_>>(),
            tree.into_iter().collect::<Vec<_>>()
        );
        let mut f = fields;
        assert_eq!(f.insert("port".into(), "1"), Some("2222"));
        assert_eq!(f.insert("color".into(), "x"), None);
        assert_eq!(
            f.keys().map(Name::as_str).collect::<Vec<_>>(),
            ["Z", "color", "hostname", "port"]
        );
        assert_eq!(f.remove("Z"), Some("z"));
        assert_eq!(f.get("missing"), None);
        assert_eq!(f["hostname"], "a");
        assert!(f.contains_key("color") && !f.contains_key("Z"));
    }

    #[test]
    fn serialises_as_the_map_it_replaces() {
        let tree: BTreeMap<String, String> = [
            ("b".to_owned(), "2".to_owned()),
            ("a".to_owned(), "1".to_owned()),
        ]
        .into();
        let fields: Fields<String> = tree.clone().into_iter().collect();
        let json = serde_json::to_string(&fields).expect("json");
        assert_eq!(json, serde_json::to_string(&tree).expect("json"));
        let back: Fields<String> =
            serde_json::from_str(r#"{"b":"2","a":"1","b":"3"}"#).expect("reads");
        assert_eq!(back.get("b").map(String::as_str), Some("3"));
        assert_eq!(
            back.keys().map(Name::as_str).collect::<Vec<_>>(),
            ["a", "b"]
        );
    }

    #[test]
    fn a_name_is_allocated_once() {
        let a = Name::new("recording-path");
        let b = Name::from("recording-path".to_owned());
        assert!(Arc::ptr_eq(&a.0, &b.0));
        assert_eq!(a, "recording-path");
    }
}
