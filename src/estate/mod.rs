//! Estate documents (DESIGN.md §8): users, user groups, memberships, connection
//! groups and sharing profiles declared in git beside the connections.
//!
//! Flow: a JSON/YAML file whose top level is a mapping is read by `read` into the
//! typed objects of `model` (each with its `Source`, and each reference with its
//! own); `manifest::load` merges the files and drops cross-file duplicates
//! (`duplicates`); `references` lists every reference for the plan to check
//! against the documents and the server; `normalized` is what `validate --format
//! json` prints; `json_schema` generates `schemas/estate.schema.json`; `schema`
//! holds the attribute and parameter schemas of these kinds; `write` writes
//! estate documents back (what `export --estate` writes).

pub mod duplicates;
pub mod json_schema;
pub mod model;
pub mod normalized;
pub mod read;
pub mod references;
pub mod schema;
#[cfg(test)]
mod tests;
pub mod write;

pub use model::{
    ConnectionGroup, Estate, Grant, GroupType, Level, Password, Permissions, Ref, SharingProfile,
    SharingProfileKey, SystemPermission, User, UserGroup,
};
