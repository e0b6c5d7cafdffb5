//! `guacsync export`: a live server (or `--state`) as manifests, or as a state
//! document; with `--estate` also as an estate document (`export_estate`).

use std::fmt::Write as _;
use std::io::Write as _;
use std::path::PathBuf;
use std::process::ExitCode;

use anyhow::{Context as _, bail};
use clap::{Args, ValueEnum};

mod state;

use super::GlobalArgs;
use super::common::{self, PlanArgs};
use super::export_target::{self, Target};
use crate::export::{self, Secrets};
use crate::guacamole::observe::{ObserveRequest, observe};
use crate::manifest::write;
use crate::model::{Entry, GroupPath};
use crate::schema::Schema;

#[derive(Debug, Clone, Copy, ValueEnum, Default, PartialEq, Eq)]
pub enum ExportFormat {
    #[default]
    Yaml,
    Json,
    Csv,
    /// The test server's state document (schemas/state.schema.json).
    State,
}

impl ExportFormat {
    pub(super) fn extension(self) -> &'static str {
        match self {
            Self::Yaml => "yaml",
            Self::Json | Self::State => "json",
            Self::Csv => "csv",
        }
    }
}

#[derive(Debug, Args)]
pub struct ExportCommand {
    /// Only connections under this group (repeatable; default: all).
    #[arg(long, value_name = "PATH")]
    pub scope: Vec<String>,
    /// Output format (default: the extension of --out's file, else yaml).
    #[arg(long, value_enum)]
    pub format: Option<ExportFormat>,
    /// A directory (one file per top-level group; an existing one, a path ending
    /// in /, or one without an extension) or a file (.yaml, .yml, .json or .csv,
    /// which sets the format); default: stdout.
    #[arg(long, value_name = "DIR|FILE")]
    pub out: Option<PathBuf>,
    /// Replace files that exist.
    #[arg(long)]
    pub force: bool,
    /// Sensitive values: left out, replaced by `${env:NAME}` references, or written.
    #[arg(long, value_enum, default_value_t)]
    pub secrets: Secrets,
    /// Also export the users, user groups (with members), connection groups,
    /// sharing profiles and permissions beyond READ: one estate document with the
    /// connections under `connections`, or with --out DIR `estate.yaml` (or
    /// .json) beside the connection files. Passwords cannot be read back.
    #[arg(long)]
    pub estate: bool,
    #[command(flatten)]
    pub server: super::ServerArgs,
}

pub(super) fn render(entries: &[Entry], format: ExportFormat, header: &str) -> String {
    match format {
        ExportFormat::Yaml => format!("{header}{}", write::to_yaml(entries)),
        ExportFormat::Json => write::to_json(entries),
        ExportFormat::Csv | ExportFormat::State => write::to_csv(entries, Schema::builtin()),
    }
}

/// What a YAML file says at its top: that the account sees only part of the
/// server (`limited`), and the sensitive parameters left out of these entries with
/// the `unmanaged_parameters` line that keeps them (`keep`).
pub(super) fn omitted_header(
    notes: &[export::SecretNote],
    entries: &[Entry],
    limited: Option<&str>,
    keep: Option<&str>,
) -> String {
    let mut header = String::new();
    if let Some(note) = limited {
        let _ = writeln!(header, "# warning: {note}");
    }
    let mut omitted = false;
    for n in notes.iter().filter(|n| n.env.is_none()) {
        if entries.iter().any(|e| e.key().as_ref() == Some(&n.key)) {
            if !omitted {
                omitted = true;
                header.push_str("# Sensitive parameters left out of this export (guacsync export --secrets omit):\n");
            }
            let _ = writeln!(header, "#   {}: {}", n.key, n.parameter);
        }
    }
    if let (true, Some(line)) = (omitted, keep) {
        let _ = writeln!(
            header,
            "# A sync would remove them; to keep them as the server has them, put this under [sync] in guacsync.toml:\n#   {line}"
        );
    }
    header
}

/// The `unmanaged_parameters` line that keeps every omitted parameter (those
/// already configured included), when some omitted one is not configured yet.
fn unmanaged_line(
    notes: &[export::SecretNote],
    configured: &std::collections::BTreeSet<String>,
) -> Option<String> {
    let omitted: std::collections::BTreeSet<&str> = notes
        .iter()
        .filter(|n| n.env.is_none())
        .map(|n| n.parameter.as_str())
        .collect();
    if omitted.iter().all(|n| configured.contains(*n)) {
        return None;
    }
    let names: std::collections::BTreeSet<&str> = omitted
        .into_iter()
        .chain(configured.iter().map(String::as_str))
        .collect();
    let quoted: Vec<String> = names
        .iter()
        .map(|n| serde_json::to_string(n).unwrap_or_default())
        .collect();
    Some(format!("unmanaged_parameters = [{}]", quoted.join(", ")))
}

pub async fn run(global: &GlobalArgs, args: &ExportCommand) -> anyhow::Result<ExitCode> {
    let mut scope = Vec::new();
    for s in &args.scope {
        scope.push(GroupPath::parse(s).map_err(|e| anyhow::anyhow!("--scope {s:?}: {e}"))?);
    }
    let (target, format) = export_target::resolve(args.out.as_deref(), args.format, args.force)?;
    if args.estate {
        super::export_estate::check(format, &target)?;
    }
    if format == ExportFormat::State && args.secrets == Secrets::EnvRef {
        bail!(
            "--secrets env-ref cannot be used with --format state: a state file holds values, not references"
        );
    }
    if args.secrets == Secrets::Include {
        eprintln!(
            "warning: --secrets include writes passwords and keys in clear; keep the output out of git"
        );
    }
    let settings = common::settings(global, &PlanArgs::default())?;
    let server = common::connect(global, &settings).await?;
    let result = match common::check_visibility(&server.client, &settings, "export").await {
        Ok(limited) => {
            let limited = limited.then(|| crate::diff::limited_view_note(server.client.username()));
            if let Some(note) = &limited {
                eprintln!("warning: {note}");
            }
            let how = How {
                target,
                format,
                force: args.force,
                secrets: args.secrets,
                quiet: global.quiet,
                limited,
                unmanaged: settings.options.unmanaged_parameters.clone(),
                estate: args.estate,
                configured_scope: settings.options.scope.clone(),
            };
            export_with(&server, &how, &scope, settings.concurrency).await
        }
        Err(e) => Err(e),
    };
    server.close().await;
    result
}

/// What to write, where, and how loudly.
pub(super) struct How {
    pub target: Target,
    pub format: ExportFormat,
    pub force: bool,
    pub secrets: Secrets,
    pub quiet: bool,
    /// The note that the account sees only what it may read.
    pub limited: Option<String>,
    /// `[sync] unmanaged_parameters` as configured.
    pub unmanaged: std::collections::BTreeSet<String>,
    /// `--estate`.
    pub estate: bool,
    /// `[scope] groups` as configured.
    pub configured_scope: Vec<GroupPath>,
}

/// A scope group that does not exist is an error naming it (an export of
/// nothing would look like an empty server).
fn check_scope<'a>(
    scope: &[GroupPath],
    exists: &dyn Fn(&GroupPath) -> bool,
    known: impl Iterator<Item = &'a GroupPath>,
) -> anyhow::Result<()> {
    let Some(missing) = scope.iter().find(|s| !s.is_root() && !exists(s)) else {
        return Ok(());
    };
    let wanted = missing.to_string();
    let nearest = known
        .map(|k| (strsim::levenshtein(&wanted, &k.to_string()), k))
        .filter(|(d, _)| *d <= wanted.len() / 3)
        .min_by_key(|(d, _)| *d)
        .map(|(_, k)| format!(" (did you mean {k}?)"))
        .unwrap_or_default();
    bail!(
        "--scope {missing}: there is no connection group {missing} on the server{nearest}; nothing was written"
    )
}

/// What an export reads: every connection's parameters under the scope, every
/// principal's permissions; for `--estate` also every group's members and the
/// parameters of the scope's sharing profiles.
fn observe_request(scope: &[GroupPath], estate: bool) -> ObserveRequest {
    let scope = if scope.is_empty() {
        vec![GroupPath::root()]
    } else {
        scope.to_vec()
    };
    ObserveRequest {
        sharing_profile_scope: if estate { scope.clone() } else { Vec::new() },
        scope_parameters: scope,
        all_principals: true,
        all_memberships: estate,
        ..ObserveRequest::default()
    }
}

async fn export_with(
    target: &common::Target,
    how: &How,
    scope: &[GroupPath],
    concurrency: usize,
) -> anyhow::Result<ExitCode> {
    let progress = !how.quiet;
    if how.format == ExportFormat::State {
        let mut state = match (&target.state_server, scope.is_empty()) {
            (Some(server), true) => server.state(),
            _ => state::fetch_state(&target.client, concurrency, scope).await?,
        };
        if how.secrets == Secrets::Omit {
            state::omit_secrets(&mut state);
            if !how.quiet {
                eprintln!(
                    "note: sensitive connection and sharing profile parameters, user passwords and TOTP keys are left out (--secrets include keeps them)"
                );
            }
        }
        write_out(&how.target, &state.to_json_pretty())?;
        return Ok(ExitCode::SUCCESS);
    }
    let request = observe_request(scope, how.estate);

    let observed = observe(&target.client, &request, concurrency, progress)
        .await
        .context("reading the server")?;
    check_scope(
        scope,
        &|s| observed.groups.contains_key(s),
        observed.groups.keys(),
    )?;
    let exported = export::export(&observed, scope, how.secrets, Schema::builtin());
    for w in &exported.warnings {
        eprintln!("warning: {w}");
    }
    let keep = unmanaged_line(&exported.secrets, &how.unmanaged);
    if how.estate {
        super::export_estate::write(&observed, &exported, scope, how, keep.as_deref())?;
        return Ok(ExitCode::SUCCESS);
    }
    if let Target::Dir(dir) = &how.target {
        let files: Vec<(PathBuf, Vec<Entry>)> = export::split_by_top_group(&exported.entries)
            .into_iter()
            .map(|(stem, entries)| {
                (
                    dir.join(format!("{stem}.{}", how.format.extension())),
                    entries,
                )
            })
            .collect();
        let paths: Vec<PathBuf> = files.iter().map(|(p, _)| p.clone()).collect();
        export_target::refuse_existing(&paths, how.force)?;
        std::fs::create_dir_all(dir).with_context(|| format!("cannot create {}", dir.display()))?;
        for (path, entries) in files {
            let header = omitted_header(
                &exported.secrets,
                &entries,
                how.limited.as_deref(),
                keep.as_deref(),
            );
            common::write_atomically(&path, render(&entries, how.format, &header).as_bytes())?;
        }
    } else {
        let header = omitted_header(
            &exported.secrets,
            &exported.entries,
            how.limited.as_deref(),
            keep.as_deref(),
        );
        write_out(&how.target, &render(&exported.entries, how.format, &header))?;
    }
    report_secrets(&exported.secrets, how.quiet);
    if !how.quiet {
        eprintln!("exported {} connection(s)", exported.entries.len());
    }
    if let Some(line) = keep.as_ref().filter(|_| !how.quiet) {
        eprintln!(
            "A sync of these files would remove the parameters left out; to keep them as the server has them, put this under [sync] in guacsync.toml:\n  {line}"
        );
    }
    Ok(ExitCode::SUCCESS)
}

/// Writes one document to a file or stdout.
pub(super) fn write_out(target: &Target, text: &str) -> anyhow::Result<()> {
    if let Target::Dir(dir) = target {
        bail!(
            "{}: one document cannot be written as a directory",
            dir.display()
        );
    }
    if let Target::File(path) = target {
        common::write_atomically(path, text.as_bytes())
    } else {
        let mut stdout = std::io::stdout().lock();
        stdout.write_all(text.as_bytes())?;
        stdout.flush()?;
        Ok(())
    }
}

/// Says which sensitive values were left out (a note: not with `-q`), or which
/// variables now hold them (always: without them the export cannot be used).
pub(super) fn report_secrets(notes: &[export::SecretNote], quiet: bool) {
    if notes.is_empty() {
        return;
    }
    if notes.iter().any(|n| n.env.is_some()) {
        eprintln!(
            "Set these environment variables before planning (each holds the value the server has now):"
        );
        for n in notes {
            if let Some(env) = &n.env {
                eprintln!("  {env}\t{} {}", n.key, n.parameter);
            }
        }
    } else if !quiet {
        eprintln!(
            "note: {} sensitive parameter value(s) were left out (see the YAML header or use --secrets env-ref|include):",
            notes.len()
        );
        for n in notes.iter().take(20) {
            eprintln!("  {} {}", n.key, n.parameter);
        }
        if notes.len() > 20 {
            eprintln!("  ... and {} more", notes.len() - 20);
        }
    }
}
