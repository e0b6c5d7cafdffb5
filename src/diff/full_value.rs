//! What a `replace` sends. A replace is a full overwrite on the server (DESIGN.md
//! §4), so its value is complete: every attribute the schema or the server knows
//! (null where unset), and the parameters the manifest sets plus, for each
//! `unmanaged_parameters` name the manifest leaves out, the server's own value.

use std::borrow::Cow;
use std::collections::{BTreeMap, BTreeSet};

use crate::desired::DesiredConnection;
use crate::fields::{Fields, Name};
use crate::observed::ObservedConnection;
use crate::schema::Schema;
use crate::value::Value;

/// The parameters a replace sends: the manifest's, plus the server's value of each
/// unmanaged parameter the manifest does not set (DESIGN.md §4). Borrowed when
/// nothing is carried over, the common case.
pub(super) fn with_unmanaged<'a>(
    d: &'a DesiredConnection,
    o: &ObservedConnection,
    params: &Fields<String>,
    schema: &Schema,
    unmanaged: &BTreeSet<String>,
) -> Cow<'a, Fields<Value>> {
    let carried: Vec<(&Name, &String)> = unmanaged
        .iter()
        .filter(|n| !d.parameters.contains_key(n))
        .filter_map(|n| params.get_key_value(n))
        .collect();
    if carried.is_empty() {
        return Cow::Borrowed(&d.parameters);
    }
    let mut all = d.parameters.clone();
    for (name, value) in carried {
        let v = if schema.is_sensitive_parameter(&o.protocol, name) {
            Value::secret(value.clone())
        } else {
            Value::plain(value.clone())
        };
        all.insert(name.clone(), v);
    }
    Cow::Owned(all)
}

/// Every attribute a replace sends (it overwrites them all): the schema's names
/// and the server's, null where `set` leaves them unset.
pub(super) fn full_attributes(
    schema: &Schema,
    observed: &Fields<String>,
    set: &Fields<String>,
) -> BTreeMap<String, Option<String>> {
    let mut full: BTreeMap<String, Option<String>> = schema
        .connection_attributes()
        .iter()
        .map(|f| (f.name.clone(), None))
        .collect();
    for name in observed.keys() {
        full.insert(name.to_string(), None);
    }
    for (name, v) in set {
        full.insert(name.to_string(), Some(v.clone()));
    }
    full
}
