//! Decoding the group tree while announcing its connections: a plan of 10,000
//! connections waits for nothing but the tree before it can read parameters, and
//! decoding the tree (3 MB at 10,000) is a serial step of about 0.1 s. This seed
//! builds the same [`TreeGroup`] the derived decoder builds, and hands each group's
//! connections (with the group's path) to `announce` as soon as their list has
//! been read, so the parameter requests start while the rest is still decoded.
//!
//! A group's path needs its name, and JSON does not fix the order of an object's
//! fields: a group whose children come before its name (Guacamole writes the name
//! first, but the other order is valid JSON; the test server's
//! `FieldOrder::Alphabetical` writes it, `tests/tree_order.rs`) announces nothing
//! below it, and the caller reads what was not announced once the tree is whole.

use std::fmt;

use serde::de::{DeserializeSeed, Error as _, IgnoredAny, MapAccess, SeqAccess, Visitor};

use super::super::wire::{SetValues, TreeConnection, TreeGroup};
use crate::model::GroupPath;

/// Receives each group's connections as they are decoded.
pub type Announce<'a> = dyn FnMut(&GroupPath, &[TreeConnection]) + 'a;

/// Decodes the tree's top group (`ROOT`, whose path is the root whatever its name).
pub struct TreeSeed<'a, 'f> {
    pub announce: &'a mut Announce<'f>,
}

impl<'de> DeserializeSeed<'de> for TreeSeed<'_, '_> {
    type Value = TreeGroup;
    fn deserialize<D: serde::Deserializer<'de>>(self, d: D) -> Result<TreeGroup, D::Error> {
        d.deserialize_map(GroupVisitor {
            place: Place::Top,
            announce: self.announce,
        })
    }
}

/// Where a group is: the top of the tree, below a group whose path is known, or
/// somewhere whose path cannot be known while decoding.
#[derive(Clone, Copy)]
enum Place<'p> {
    Top,
    Below(&'p GroupPath),
    Unknown,
}

struct GroupVisitor<'a, 'f, 'p> {
    place: Place<'p>,
    announce: &'a mut Announce<'f>,
}

impl<'de> Visitor<'de> for GroupVisitor<'_, '_, '_> {
    type Value = TreeGroup;

    fn expecting(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("struct TreeGroup")
    }

    fn visit_map<A: MapAccess<'de>>(self, mut map: A) -> Result<TreeGroup, A::Error> {
        let announce = self.announce;
        let mut name: Option<String> = None;
        let mut identifier: Option<String> = None;
        let mut group_type: Option<Option<String>> = None;
        let mut attributes: Option<SetValues> = None;
        let mut groups: Option<Vec<TreeGroup>> = None;
        let mut connections: Option<Vec<TreeConnection>> = None;
        // This group's path, once its name (or its place at the top) says it.
        let mut path: Option<GroupPath> = match self.place {
            Place::Top => Some(GroupPath::root()),
            _ => None,
        };
        let mut announced = false;
        while let Some(key) = map.next_key::<std::borrow::Cow<'de, str>>()? {
            match key.as_ref() {
                "name" => {
                    if name.is_some() {
                        return Err(A::Error::duplicate_field("name"));
                    }
                    let n: String = map.next_value()?;
                    if let Place::Below(parent) = self.place {
                        path = Some(parent.child(&n));
                    }
                    name = Some(n);
                }
                "identifier" => {
                    if identifier.is_some() {
                        return Err(A::Error::duplicate_field("identifier"));
                    }
                    identifier = Some(map.next_value()?);
                }
                "type" => {
                    if group_type.is_some() {
                        return Err(A::Error::duplicate_field("type"));
                    }
                    group_type = Some(map.next_value()?);
                }
                "attributes" => {
                    if attributes.is_some() {
                        return Err(A::Error::duplicate_field("attributes"));
                    }
                    attributes = Some(map.next_value()?);
                }
                "childConnections" => {
                    if connections.is_some() {
                        return Err(A::Error::duplicate_field("childConnections"));
                    }
                    let list: Vec<TreeConnection> = map.next_value()?;
                    if let Some(p) = &path {
                        announce(p, &list);
                        announced = true;
                    }
                    connections = Some(list);
                }
                "childConnectionGroups" => {
                    if groups.is_some() {
                        return Err(A::Error::duplicate_field("childConnectionGroups"));
                    }
                    let place = path.as_ref().map_or(Place::Unknown, Place::Below);
                    groups = Some(map.next_value_seed(ChildGroups {
                        place,
                        announce: &mut *announce,
                    })?);
                }
                _ => {
                    map.next_value::<IgnoredAny>()?;
                }
            }
        }
        let name = name.ok_or_else(|| A::Error::missing_field("name"))?;
        let identifier = identifier.ok_or_else(|| A::Error::missing_field("identifier"))?;
        let child_connections = connections.unwrap_or_default();
        // Connections listed before the name: their path is known only now.
        if !announced && let Some(p) = &path {
            announce(p, &child_connections);
        }
        Ok(TreeGroup {
            name,
            identifier,
            group_type: group_type.flatten(),
            attributes: attributes.unwrap_or_default().0,
            child_connection_groups: groups.unwrap_or_default(),
            child_connections,
        })
    }
}

/// A group's `childConnectionGroups`, each decoded with its parent's path.
struct ChildGroups<'a, 'f, 'p> {
    place: Place<'p>,
    announce: &'a mut Announce<'f>,
}

impl<'de> DeserializeSeed<'de> for ChildGroups<'_, '_, '_> {
    type Value = Vec<TreeGroup>;
    fn deserialize<D: serde::Deserializer<'de>>(self, d: D) -> Result<Vec<TreeGroup>, D::Error> {
        d.deserialize_seq(self)
    }
}

impl<'de> Visitor<'de> for ChildGroups<'_, '_, '_> {
    type Value = Vec<TreeGroup>;

    fn expecting(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        // As the derived decoder says it, so errors read the same.
        f.write_str("a sequence")
    }

    fn visit_seq<A: SeqAccess<'de>>(self, mut seq: A) -> Result<Vec<TreeGroup>, A::Error> {
        let mut out = Vec::with_capacity(seq.size_hint().unwrap_or(0));
        while let Some(g) = seq.next_element_seed(GroupSeed {
            place: self.place,
            announce: &mut *self.announce,
        })? {
            out.push(g);
        }
        Ok(out)
    }
}

struct GroupSeed<'a, 'f, 'p> {
    place: Place<'p>,
    announce: &'a mut Announce<'f>,
}

impl<'de> DeserializeSeed<'de> for GroupSeed<'_, '_, '_> {
    type Value = TreeGroup;
    fn deserialize<D: serde::Deserializer<'de>>(self, d: D) -> Result<TreeGroup, D::Error> {
        d.deserialize_map(GroupVisitor {
            place: self.place,
            announce: self.announce,
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn decode(json: &str) -> (TreeGroup, Vec<(String, Vec<String>)>) {
        let mut seen = Vec::new();
        let mut announce = |p: &GroupPath, cs: &[TreeConnection]| {
            seen.push((
                p.to_string(),
                cs.iter().map(|c| c.identifier.clone()).collect(),
            ));
        };
        let mut de = serde_json::Deserializer::from_str(json);
        let tree = TreeSeed {
            announce: &mut announce,
        }
        .deserialize(&mut de)
        .expect("decodes");
        (tree, seen)
    }

    const TREE: &str = r#"{"name":"ROOT","identifier":"ROOT","extra":[1,{"x":2}],
        "childConnections":[{"name":"top","identifier":"1","protocol":"ssh","attributes":{"weight":null,"max-connections":"2"}}],
        "childConnectionGroups":[
          {"name":"a/b","identifier":"2","type":"ORGANIZATIONAL","attributes":{"max-connections":"","x":"y"},
           "childConnections":[{"name":"x","identifier":"3","protocol":"rdp","activeConnections":2,
              "sharingProfiles":[{"name":"s","identifier":"9"}]}],
           "childConnectionGroups":[{"name":"Deep","identifier":"4","type":"BALANCING",
              "childConnections":[{"name":"x","identifier":"5","protocol":"vnc"}]}]},
          {"childConnections":[{"name":"x","identifier":"7","protocol":"vnc"}],"name":"Other","identifier":"6",
           "childConnectionGroups":[]}
        ]}"#;

    /// The seed builds what the derived decoder builds, field for field.
    #[test]
    fn builds_the_same_tree_as_the_derived_decoder() {
        let (tree, _) = decode(TREE);
        let derived: TreeGroup = serde_json::from_str(TREE).expect("derived");
        assert_eq!(format!("{tree:?}"), format!("{derived:?}"));
    }

    /// Each group's connections are announced with the group's path as their list
    /// ends (before later groups are read); a list read before its group's name
    /// is announced once the name is known.
    #[test]
    fn announces_each_group_with_its_path() {
        let (_, seen) = decode(TREE);
        let want: Vec<(String, Vec<String>)> = vec![
            ("ROOT".into(), vec!["1".into()]),
            ("ROOT/a\\/b".into(), vec!["3".into()]),
            ("ROOT/a\\/b/Deep".into(), vec!["5".into()]),
            ("ROOT/Other".into(), vec!["7".into()]),
        ];
        assert_eq!(seen, want);
    }

    /// Children listed before their parent's name cannot be given a path while
    /// decoding: nothing below is announced, and the tree is still whole.
    #[test]
    fn children_before_the_name_are_not_announced() {
        let json = r#"{"name":"ROOT","identifier":"ROOT","childConnectionGroups":[
            {"childConnectionGroups":[{"name":"in","identifier":"3","childConnections":[{"name":"c","identifier":"8"}]}],
             "name":"late","identifier":"2"}]}"#;
        let (tree, seen) = decode(json);
        // Each group without a `childConnections` list is announced empty at its end.
        assert_eq!(
            seen,
            vec![
                ("ROOT/late".to_owned(), Vec::new()),
                ("ROOT".to_owned(), Vec::new())
            ]
        );
        assert_eq!(
            tree.child_connection_groups[0].child_connection_groups[0].child_connections[0]
                .identifier,
            "8"
        );
    }

    /// Malformed groups fail as the derived decoder fails, with the position.
    #[test]
    fn errors_match_the_derived_decoder() {
        for json in [
            r#"{"identifier":"ROOT"}"#,
            r#"{"name":"ROOT","identifier":"ROOT","name":"again"}"#,
            r#"{"name":"ROOT","identifier":"ROOT","childConnectionGroups":[{"name":"a"}]}"#,
            r#"{"name":"ROOT","identifier":"ROOT","childConnectionGroups":{}}"#,
            r#"{"name":"ROOT","identifier":"ROOT","childConnections":[{"name":"c"}]}"#,
            r#""ROOT""#,
        ] {
            let mut announce = |_: &GroupPath, _: &[TreeConnection]| {};
            let mut de = serde_json::Deserializer::from_str(json);
            let ours = TreeSeed {
                announce: &mut announce,
            }
            .deserialize(&mut de)
            .expect_err("refused");
            let derived = serde_json::from_str::<TreeGroup>(json).expect_err("refused");
            assert_eq!(ours.to_string(), derived.to_string(), "{json}");
        }
    }
}
