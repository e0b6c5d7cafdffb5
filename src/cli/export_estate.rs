//! `guacsync export --estate` (DESIGN.md §8): the whole estate as one estate
//! document (stdout or `--out FILE`, the connections under `connections`), or
//! with `--out DIR` as `estate.yaml` (`estate.json`) beside the per-group
//! connection files. The objects come from `export::export_estate`, the text
//! from `estate::write`; this module decides the files, the header comment and
//! what is said on stderr: what was left out, the variables `env-ref` made, and
//! that passwords cannot be read back.

use std::collections::BTreeSet;
use std::fmt::Write as _;
use std::path::PathBuf;

use anyhow::{Context as _, bail};

use super::common;
use super::export::{ExportFormat, How, omitted_header, render, report_secrets, write_out};
use super::export_target::{self, Target};
use crate::estate::write as estate_write;
use crate::export::{self, Exported, ExportedEstate};
use crate::model::{Entry, GroupPath};
use crate::observed::Observed;

/// The stem of the estate document's file in a directory export.
const ESTATE_STEM: &str = "estate";

/// Refuses, before the server is asked anything, what an estate export cannot be.
///
/// # Errors
/// `--format state` (a state document already holds every kind), and CSV as one
/// document (an estate document is YAML or JSON).
pub fn check(format: ExportFormat, target: &Target) -> anyhow::Result<()> {
    match (format, target) {
        (ExportFormat::State, _) => bail!(
            "--estate cannot be used with --format state: a state document already holds users, user groups, connection groups and sharing profiles"
        ),
        (ExportFormat::Csv, Target::Stdout | Target::File(_)) => bail!(
            "--estate writes an estate document, which is YAML or JSON, not CSV; for CSV connection files beside estate.yaml give a directory: --out DIR"
        ),
        _ => Ok(()),
    }
}

/// The estate document's own format: JSON with `--format json`, else YAML (a
/// directory of CSV connection files gets `estate.yaml`).
fn document_format(format: ExportFormat) -> ExportFormat {
    if format == ExportFormat::Json {
        ExportFormat::Json
    } else {
        ExportFormat::Yaml
    }
}

fn document(
    estate: &ExportedEstate,
    connections: Option<&[Entry]>,
    format: ExportFormat,
    header: &str,
) -> String {
    match format {
        ExportFormat::Json => estate_write::to_json(&estate.estate, connections),
        _ => estate_write::to_yaml(&estate.estate, connections, header),
    }
}

/// What the estate document says at its top (YAML comments).
fn header(estate: &ExportedEstate, how: &How, scope: &[GroupPath], limited: bool) -> String {
    let mut h = String::new();
    if let (true, Some(note)) = (limited, &how.limited) {
        let _ = writeln!(h, "# warning: {note}");
    }
    if !scope.is_empty() && how.configured_scope != scope {
        let groups: Vec<String> = scope
            .iter()
            .map(|s| serde_json::to_string(&s.to_string()).unwrap_or_default())
            .collect();
        let _ = writeln!(
            h,
            "# Exported with --scope: connection groups, sharing profiles and permission targets outside it\n# are not here. The permissions below are exact within the scope of a plan, so plan with the\n# same scope, under [scope] in guacsync.toml:\n#   groups = [{}]",
            groups.join(", ")
        );
    }
    if !estate.estate.users.is_empty() {
        h.push_str("# Passwords cannot be read back from Guacamole: a user created from this document has none.\n# To set one when it is created, add `password: ${env:NAME}` to the user.\n");
    }
    let omitted: Vec<&export::EstateSecret> =
        estate.secrets.iter().filter(|s| s.env.is_none()).collect();
    if !omitted.is_empty() {
        h.push_str("# Sensitive values left out of this export (guacsync export --secrets omit); a plan leaves\n# them as the server has them (a sharing profile's whole `parameters`):\n");
        for s in omitted {
            let _ = writeln!(h, "#   {}: {}", s.object, s.field);
        }
    }
    h.push_str("# Absent means left alone, present means exact (README: Estate documents).\n");
    h
}

/// Writes the estate export and says what it did. `exported` holds the
/// connections (already exported), `keep` the `unmanaged_parameters` line.
pub(super) fn write(
    observed: &Observed,
    exported: &Exported,
    scope: &[GroupPath],
    how: &How,
    keep: Option<&str>,
) -> anyhow::Result<()> {
    let mut used_env: BTreeSet<String> = exported
        .secrets
        .iter()
        .filter_map(|s| s.env.clone())
        .collect();
    let estate = export::export_estate(observed, scope, how.secrets, &mut used_env);
    for w in &estate.warnings {
        eprintln!("warning: {w}");
    }
    let format = document_format(how.format);
    if let Target::Dir(dir) = &how.target {
        let extension = if format == ExportFormat::Json {
            "json"
        } else {
            "yaml"
        };
        let estate_path = dir.join(format!("{ESTATE_STEM}.{extension}"));
        let files: Vec<(PathBuf, Vec<Entry>)> =
            export::split_by_top_group_beside(&exported.entries, &[ESTATE_STEM])
                .into_iter()
                .map(|(stem, entries)| {
                    let path = dir.join(format!("{stem}.{}", how.format.extension()));
                    (path, entries)
                })
                .collect();
        let mut paths: Vec<PathBuf> = files.iter().map(|(p, _)| p.clone()).collect();
        paths.push(estate_path.clone());
        export_target::refuse_existing(&paths, how.force)?;
        std::fs::create_dir_all(dir).with_context(|| format!("cannot create {}", dir.display()))?;
        for (path, entries) in files {
            let header = omitted_header(&exported.secrets, &entries, how.limited.as_deref(), keep);
            common::write_atomically(&path, render(&entries, how.format, &header).as_bytes())?;
        }
        let text = document(&estate, None, format, &header(&estate, how, scope, true));
        common::write_atomically(&estate_path, text.as_bytes())?;
    } else {
        let header = format!(
            "{}{}",
            omitted_header(
                &exported.secrets,
                &exported.entries,
                how.limited.as_deref(),
                keep
            ),
            header(&estate, how, scope, false)
        );
        let text = document(&estate, Some(&exported.entries), format, &header);
        write_out(&how.target, &text)?;
    }
    report_secrets(&exported.secrets, how.quiet);
    report_estate_secrets(exported, &estate, how.quiet);
    if !how.quiet {
        let e = &estate.estate;
        eprintln!(
            "exported {} connection(s), {} connection group(s), {} sharing profile(s), {} user group(s), {} user(s)",
            exported.entries.len(),
            e.connection_groups.len(),
            e.sharing_profiles.len(),
            e.user_groups.len(),
            e.users.len()
        );
        if !e.users.is_empty() {
            eprintln!(
                "note: passwords cannot be read back from Guacamole, so none is exported: a user created from this export has none; to set one when it is created, add `password: ${{env:NAME}}` to the user"
            );
        }
    }
    if let Some(line) = keep.filter(|_| !how.quiet) {
        eprintln!(
            "A sync of these files would remove the connection parameters left out; to keep them as the server has them, put this under [sync] in guacsync.toml:\n  {line}"
        );
    }
    Ok(())
}

/// The estate's sensitive values on stderr: the variables `env-ref` made (always:
/// without them a plan cannot run), or what was left out (a note).
fn report_estate_secrets(exported: &Exported, estate: &ExportedEstate, quiet: bool) {
    if estate.secrets.iter().any(|s| s.env.is_some()) {
        if !exported.secrets.iter().any(|n| n.env.is_some()) {
            eprintln!(
                "Set these environment variables before planning (each holds the value the server has now):"
            );
        }
        for s in &estate.secrets {
            if let Some(env) = &s.env {
                eprintln!("  {env}\t{} {}", s.object, s.field);
            }
        }
    } else if !estate.secrets.is_empty() && !quiet {
        eprintln!(
            "note: {} sensitive value(s) of users and sharing profiles were left out; a plan leaves them as the server has them (--secrets env-ref|include writes them):",
            estate.secrets.len()
        );
        for s in estate.secrets.iter().take(20) {
            eprintln!("  {} {}", s.object, s.field);
        }
        if estate.secrets.len() > 20 {
            eprintln!("  ... and {} more", estate.secrets.len() - 20);
        }
    }
}
