//! The rule of a declared connection group (DESIGN.md §8): its `type` and each
//! declared attribute are made equal, every other attribute left alone. A group
//! `replace` overwrites the type and every attribute (rest-api.md §5), so it
//! carries the server's values for what the document does not write, as a move
//! does. A new group is ORGANIZATIONAL unless `type` says otherwise. Removals are
//! `prune_groups`' (`diff::groups`), not this rule's.

use std::collections::BTreeMap;

use super::super::DiffError;
use super::super::objects::{self, change};
use super::super::rule::Rule;
use super::attribute_changes;
use crate::desired::{Attributes, DesiredGroup};
use crate::kinds::ObjectKey;
use crate::model::GroupPath;
use crate::observed::{Observed, ObservedGroup};
use crate::plan::{Action, Body, Change, FieldChange};
use crate::schema::Schema;
use crate::value::Value;

/// The type a new group gets when a document does not say.
const DEFAULT_TYPE: &str = "ORGANIZATIONAL";

pub(in crate::diff) struct GroupRule<'a> {
    pub view: &'a Observed,
    pub schema: &'a Schema,
}

impl GroupRule<'_> {
    /// The server's attributes of a group, as values.
    fn observed_attributes(&self, o: &ObservedGroup) -> BTreeMap<String, Value> {
        self.view
            .group_attributes
            .get(&o.identifier)
            .into_iter()
            .flatten()
            .map(|(k, v)| (k.to_string(), Value::plain(v.clone())))
            .collect()
    }

    /// What a replace of the group at `path` sends and shows: the declared type
    /// and attributes over the server's (`d` is `None` for a group moved as it
    /// is). `None` when nothing differs.
    pub fn replace(
        &self,
        path: &GroupPath,
        d: Option<&DesiredGroup>,
        o: &ObservedGroup,
    ) -> (Change, bool) {
        let observed = self.observed_attributes(o);
        let group_type = d
            .and_then(|d| d.group_type)
            .map_or(o.group_type.as_str(), |t| t.as_str());
        let declared = d.map(|d| &d.attributes);
        let mut c = change(Action::Change, ObjectKey::group(path.clone()));
        c.identifier = Some(o.identifier.clone());
        c.detail = Some(group_type.to_owned());
        c.source = d.map(|d| d.source.clone());
        if group_type != o.group_type {
            c.fields.push(FieldChange::Changed {
                name: "type".to_owned(),
                before: Value::plain(o.group_type.clone()),
                after: Value::plain(group_type),
            });
        }
        if let Some(declared) = declared {
            c.attributes = attribute_changes(declared, &observed);
        }
        // Every attribute the schema or the server knows, null where unset.
        let mut sent: Attributes = self
            .schema
            .connection_group_attributes()
            .iter()
            .map(|f| (f.name.clone(), None))
            .collect();
        for (k, v) in observed {
            sent.insert(k, Some(v));
        }
        for (k, v) in declared.into_iter().flatten() {
            sent.insert(k.clone(), v.clone());
        }
        let differs = !(c.fields.is_empty() && c.attributes.is_empty());
        c.body = Some(objects::group_body_with(
            self.view,
            path,
            group_type,
            Body::optional_map(sent.iter().map(|(k, v)| (k, v.as_ref()))),
        ));
        (c, differs)
    }
}

impl Rule for GroupRule<'_> {
    type Key = GroupPath;
    type Desired = DesiredGroup;
    type Observed = ObservedGroup;

    fn object(&self, key: &GroupPath) -> ObjectKey {
        ObjectKey::group(key.clone())
    }

    fn add(&mut self, key: &GroupPath, d: &DesiredGroup) -> Change {
        let group_type = d.group_type.map_or(DEFAULT_TYPE, |t| t.as_str());
        let mut c = change(Action::Add, self.object(key));
        c.detail = Some(group_type.to_owned());
        c.source = Some(d.source.clone());
        c.attributes = d
            .attributes
            .iter()
            .filter_map(|(k, v)| {
                v.as_ref().map(|v| FieldChange::Added {
                    name: k.clone(),
                    after: v.clone(),
                })
            })
            .collect();
        c.body = Some(objects::group_body_with(
            self.view,
            key,
            group_type,
            Body::optional_map(d.attributes.iter().map(|(k, v)| (k, v.as_ref()))),
        ));
        c
    }

    fn compare(
        &mut self,
        key: &GroupPath,
        d: &DesiredGroup,
        o: &ObservedGroup,
    ) -> Result<Option<Change>, DiffError> {
        let (c, differs) = self.replace(key, Some(d), o);
        Ok(differs.then_some(c))
    }

    fn remove(&self, key: &GroupPath, o: &ObservedGroup) -> Change {
        objects::group_remove(key, &o.identifier)
    }
}
