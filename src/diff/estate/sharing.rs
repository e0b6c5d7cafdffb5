//! The sharing-profile rule (DESIGN.md §8): a declared profile the server lacks
//! is created on its connection (which may be created earlier in the same run:
//! the body then refers to it, resolved at apply); `parameters` are exact when
//! written, and a profile has nothing else to compare (no attributes in JDBC,
//! rest-api.md §8). A replace sends the whole profile.

use std::collections::BTreeMap;

use super::super::DiffError;
use super::super::connections::field_changes;
use super::super::error;
use super::super::objects::{added, change, removed};
use crate::desired::DesiredSharingProfile;
use crate::estate::SharingProfileKey;
use crate::estate::schema::EstateSchema;
use crate::kinds::ObjectKey;
use crate::observed::{Observed, ObservedSharingProfile};
use crate::plan::{Action, Body, Change};
use crate::value::Value;

use super::super::rule::Rule;

pub(in crate::diff) struct SharingRule<'a> {
    pub view: &'a Observed,
}

impl SharingRule<'_> {
    /// The protocol of a profile's connection as the server has it.
    fn protocol(&self, key: &SharingProfileKey) -> Option<&str> {
        self.view
            .connections
            .get(&key.connection)
            .map(|c| c.protocol.as_str())
    }

    /// Whether a parameter's value is never shown: a name the schema does not
    /// know for the protocol is most likely a typo'd secret.
    fn sensitive(&self, key: &SharingProfileKey, name: &str) -> bool {
        match self
            .protocol(key)
            .and_then(|p| self.view.schema().sharing_profile_parameters(p))
        {
            Some(fields) => !fields.iter().any(|f| f.name == name),
            None => EstateSchema::builtin()
                .any_sharing_parameter(name)
                .is_none(),
        }
    }

    fn observed_parameters(
        &self,
        key: &SharingProfileKey,
        params: &crate::fields::Fields<String>,
    ) -> BTreeMap<String, Value> {
        params
            .iter()
            .map(|(k, v)| {
                let value = if self.sensitive(key, k) {
                    Value::secret(v.clone())
                } else {
                    Value::plain(v.clone())
                };
                (k.to_string(), value)
            })
            .collect()
    }

    fn body(&self, key: &SharingProfileKey, parameters: &BTreeMap<String, Value>) -> Body {
        let connection = match self.view.connections.get(&key.connection) {
            Some(c) => Body::text(c.identifier.clone()),
            None => Body::Ref(ObjectKey::connection(key.connection.clone())),
        };
        Body::Map(vec![
            ("primaryConnectionIdentifier".into(), connection),
            ("name".into(), Body::text(key.name.clone())),
            ("parameters".into(), Body::value_map(parameters)),
            ("attributes".into(), Body::Map(Vec::new())),
        ])
    }
}

impl Rule for SharingRule<'_> {
    type Key = SharingProfileKey;
    type Desired = DesiredSharingProfile;
    type Observed = ObservedSharingProfile;

    fn object(&self, key: &SharingProfileKey) -> ObjectKey {
        ObjectKey::SharingProfile {
            connection: key.connection.clone(),
            name: key.name.clone(),
        }
    }

    fn add(&mut self, key: &SharingProfileKey, d: &DesiredSharingProfile) -> Change {
        let parameters = d.parameters.clone().unwrap_or_default();
        let mut c = change(Action::Add, self.object(key));
        c.source = Some(d.source.clone());
        c.parameters = added(&parameters);
        c.body = Some(self.body(key, &parameters));
        c
    }

    fn compare(
        &mut self,
        key: &SharingProfileKey,
        d: &DesiredSharingProfile,
        o: &ObservedSharingProfile,
    ) -> Result<Option<Change>, DiffError> {
        let Some(wanted) = &d.parameters else {
            return Ok(None);
        };
        let Some(params) = &o.parameters else {
            return Err(error(
                Some(&d.source),
                format!("the parameters of sharing profile {key} were not read from the server"),
                Some("the account needs UPDATE on the sharing profile, or ADMINISTER"),
            ));
        };
        if wanted.len() == params.len()
            && wanted
                .iter()
                .zip(params)
                .all(|((dk, dv), (ok, ov))| dk.as_str() == ok.as_str() && dv.expose() == ov)
        {
            return Ok(None);
        }
        let mut c = change(Action::Change, self.object(key));
        c.identifier = Some(o.identifier.clone());
        c.source = Some(d.source.clone());
        c.parameters = field_changes(wanted, &self.observed_parameters(key, params));
        c.body = Some(self.body(key, wanted));
        Ok(Some(c))
    }

    fn remove(&self, key: &SharingProfileKey, o: &ObservedSharingProfile) -> Change {
        let mut c = change(Action::Remove, self.object(key));
        c.identifier = Some(o.identifier.clone());
        if let Some(params) = &o.parameters {
            c.parameters = removed(&self.observed_parameters(key, params));
        }
        c
    }
}
