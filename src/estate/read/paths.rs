//! Paths in estate documents: a connection group's, a connection's (its group's
//! path and its name) and a sharing profile's (its connection's path and its
//! name), all written with the `\\/` escapes of group paths.

use super::Cx;
use crate::estate::model::SharingProfileKey;
use crate::manifest::check::{self, MAX_NAME_CHARS};
use crate::manifest::node::Pos;
use crate::manifest::records::Field as TextField;
use crate::model::{ConnKey, GroupPath};

impl Cx<'_, '_> {
    /// A connection group's path (`invalid-group` errors).
    pub fn group_path(&mut self, text: &str, pos: Pos) -> Option<GroupPath> {
        let field = TextField {
            text: text.to_owned(),
            pos,
        };
        let path = check::group_path(&field, self.sink)?;
        check::no_nul("the path", text, pos, self.sink).then_some(path)
    }

    /// A path to an object below a group: its last `min` segments are the
    /// object's names (`invalid-path` errors).
    fn object_path(
        &mut self,
        text: &str,
        pos: Pos,
        min: usize,
        example: &str,
    ) -> Option<Vec<String>> {
        let path = match GroupPath::parse(text) {
            Ok(path) => path,
            Err(e) => {
                self.sink.error(
                    "invalid-path",
                    pos,
                    e.to_string().replacen("group path", "path", 1),
                    Some(format!("write the whole path, for example `{example}`")),
                );
                return None;
            }
        };
        if path.depth() < min {
            self.sink.error(
                "invalid-path",
                pos,
                format!("{text:?} is too short: the path ends with the object's name"),
                Some(format!("write the whole path, for example `{example}`; a `/` inside a name is written `\\/`")),
            );
            return None;
        }
        if let Some(long) = path
            .segments()
            .iter()
            .find(|s| s.chars().count() > MAX_NAME_CHARS)
        {
            self.sink.error(
                "invalid-path",
                pos,
                format!("the name {long:?} is longer than {MAX_NAME_CHARS} characters"),
                None,
            );
            return None;
        }
        if !check::no_nul("the path", text, pos, self.sink) {
            return None;
        }
        Some(path.segments().to_vec())
    }

    /// A connection's path: its group's path and its name, `ROOT/Prod/Web/web-1`
    /// (a `/` in a name is written `\/`, as in group paths).
    pub fn connection_path(&mut self, text: &str, pos: Pos) -> Option<ConnKey> {
        let mut segments = self.object_path(text, pos, 1, "ROOT/Prod/Web/web-1")?;
        let name = segments.pop()?;
        Some(ConnKey {
            group: GroupPath::from_segments(segments),
            name,
        })
    }

    /// A sharing profile's path: its connection's path and its name,
    /// `ROOT/Prod/Web/web-1/watch-only`.
    pub fn sharing_profile_path(&mut self, text: &str, pos: Pos) -> Option<SharingProfileKey> {
        let mut segments = self.object_path(text, pos, 2, "ROOT/Prod/Web/web-1/watch-only")?;
        let name = segments.pop()?;
        let connection = segments.pop()?;
        Some(SharingProfileKey {
            connection: ConnKey {
                group: GroupPath::from_segments(segments),
                name: connection,
            },
            name,
        })
    }
}
