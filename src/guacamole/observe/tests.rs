//! Observe's pieces that need no server: answers put in place, the tree flattened.

use super::*;
use crate::guacamole::wire::TreeGroup;

#[test]
fn fill_puts_answers_at_their_positions_whatever_their_order() {
    let mut items = vec![None; 5];
    // As `buffer_unordered` hands them back: out of order, some positions unasked.
    let answers = vec![(3, "d"), (0, "a"), (4, "e")];
    fill(items.iter_mut(), answers, |item, a| *item = Some(a));
    assert_eq!(items, [Some("a"), None, None, Some("d"), Some("e")]);
    let mut none: Vec<Option<&str>> = vec![None; 2];
    fill(none.iter_mut(), Vec::new(), |item, a| *item = Some(a));
    assert_eq!(none, [None, None]);
}

#[test]
fn tree_flattens_to_paths_with_raw_names() {
    let tree: TreeGroup = serde_json::from_value(serde_json::json!({
        "name": "ROOT", "identifier": "ROOT",
        "childConnections": [{"name": "top", "identifier": "1", "protocol": "ssh", "attributes": {"weight": null, "max-connections": "2"}}],
        "childConnectionGroups": [
            {"name": "a/b", "identifier": "2", "childConnections": [{"name": "x", "identifier": "3", "protocol": "rdp", "attributes": {}, "activeConnections": 2}],
             "childConnectionGroups": [{"name": "Deep", "identifier": "4", "type": "BALANCING",
                "childConnections": [{"name": "x", "identifier": "5", "protocol": "vnc", "attributes": {"guacd-hostname": ""}}]}]},
            {"name": "Other", "identifier": "6", "childConnections": [{"name": "x", "identifier": "7", "protocol": "vnc"}]}
        ]
    }))
    .expect("tree");
    let flat = flatten_tree(tree);
    let (groups, connections) = (flat.groups, flat.connections);
    let ab = GroupPath::from_segments(vec!["a/b".into()]);
    assert_eq!(groups[&ab].identifier, "2");
    assert_eq!(groups[&ab.child("Deep")].group_type, "BALANCING");
    assert_eq!(groups.len(), 3);
    let key = |g: &GroupPath, n: &str| ConnKey {
        group: g.clone(),
        name: n.into(),
    };
    assert_eq!(connections[&key(&ab, "x")].identifier, "3");
    assert_eq!(connections[&key(&ab, "x")].active_connections, 2);
    assert_eq!(connections[&key(&ab.child("Deep"), "x")].identifier, "5");
    assert!(
        connections[&key(&ab.child("Deep"), "x")]
            .attributes
            .is_empty(),
        "empty means unset"
    );
    assert_eq!(
        connections[&key(&GroupPath::from_segments(vec!["Other".into()]), "x")].identifier,
        "7"
    );
    let top = &connections[&key(&GroupPath::root(), "top")];
    assert_eq!(
        top.attributes,
        [("max-connections".to_owned(), "2".to_owned())].into()
    );
    assert_eq!(ab.to_string(), "ROOT/a\\/b");
}
