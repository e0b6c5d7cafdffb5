//! Memberships (DESIGN.md §8): `members.users` and `members.groups` of a
//! declared user group are each exact when written, giving one
//! `MembershipChange` per group. The account guacsync logs in as is never added
//! to or removed from a group: the server would otherwise take its permissions
//! away, or grant it more, behind the operator's back.

use std::collections::BTreeSet;

use super::super::{Diff, error};
use super::Declared;
use crate::estate::Ref;
use crate::plan::{MembershipChange, Warning};

/// Names to add and to remove so that `current` becomes `wanted`.
fn exact(
    wanted: Option<&Vec<Ref<String>>>,
    current: &BTreeSet<String>,
    keep: &dyn Fn(&str) -> bool,
) -> (Vec<String>, Vec<String>) {
    let Some(wanted) = wanted else {
        return (Vec::new(), Vec::new());
    };
    let wanted: BTreeSet<&str> = wanted
        .iter()
        .map(|r| r.target.as_str())
        .filter(|n| keep(n))
        .collect();
    let add = wanted
        .iter()
        .filter(|n| !current.contains(**n))
        .map(|n| (*n).to_owned())
        .collect();
    let remove = current
        .iter()
        .filter(|n| keep(n) && !wanted.contains(n.as_str()))
        .cloned()
        .collect();
    (add, remove)
}

impl Diff<'_> {
    /// The member changes of every declared user group that lists members.
    pub(in crate::diff) fn memberships(
        &mut self,
        declared: &Declared<'_>,
    ) -> Vec<MembershipChange> {
        let me = self.observed.session_user.as_str();
        let empty = crate::observed::ObservedMembers::default();
        let mut out = Vec::new();
        for (name, g) in &declared.user_groups {
            if g.member_users.is_none() && g.member_groups.is_none() {
                continue;
            }
            let current = if self.observed.user_groups.contains_key(*name) {
                if let Some(m) = self.observed.memberships.get(*name) {
                    m
                } else {
                    self.errors.push(error(
                        Some(&g.source),
                        format!("the members of user group {name:?} were not read from the server"),
                        Some("the account needs READ on the user group, or ADMINISTER"),
                    ));
                    continue;
                }
            } else {
                &empty
            };
            if let Some(r) = g.member_users.iter().flatten().find(|r| r.target == me) {
                self.warnings.push(Warning {
                    code: "login-account".into(),
                    message: format!(
                        "{}: user group {name:?} lists {me:?}, the account guacsync logs in as, as a member; guacsync never adds it to or removes it from a group",
                        r.source
                    ),
                });
            }
            let (add_users, remove_users) =
                exact(g.member_users.as_ref(), &current.users, &|n| n != me);
            let (add_groups, remove_groups) =
                exact(g.member_groups.as_ref(), &current.groups, &|_| true);
            let change = MembershipChange {
                group: (*name).clone(),
                add_users,
                remove_users,
                add_groups,
                remove_groups,
            };
            if change
                != (MembershipChange {
                    group: change.group.clone(),
                    ..MembershipChange::default()
                })
            {
                out.push(change);
            }
        }
        out
    }
}
