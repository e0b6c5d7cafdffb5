//! `guacsync validate`: parse and check manifests offline, print diagnostics or the
//! normalised model.

use std::collections::BTreeMap;
use std::io::Write as _;
use std::path::PathBuf;
use std::process::ExitCode;

use clap::{Args, ValueEnum};

use super::GlobalArgs;
use crate::diagnostic::{self, SourceView};
use crate::manifest::{self, Loaded, Normalized, ParseOptions};
use crate::schema::Schema;

#[derive(Debug, Clone, Copy, ValueEnum, Default)]
pub enum ValidateFormat {
    #[default]
    Text,
    Json,
}

#[derive(Debug, Args)]
pub struct ValidateArgs {
    /// Manifest files or directories (default: the current directory).
    pub paths: Vec<PathBuf>,
    /// Output format.
    #[arg(long, value_enum, default_value_t)]
    pub format: ValidateFormat,
    /// Unknown parameter, attribute and key names are errors, not warnings.
    #[arg(long)]
    pub strict: bool,
}

/// The paths to read: the ones given, or the current directory.
#[must_use]
pub fn paths_or_cwd(paths: &[PathBuf]) -> Vec<PathBuf> {
    if paths.is_empty() {
        vec![PathBuf::from(".")]
    } else {
        paths.to_vec()
    }
}

/// Renders every diagnostic of a load to stderr (shared by every command that
/// reads manifests).
pub fn print_diagnostics(loaded: &Loaded, quiet: bool) {
    let color = super::use_color(&std::io::stderr());
    let mut err = std::io::stderr().lock();
    let mut shown: BTreeMap<&str, usize> = BTreeMap::new();
    let mut starts: BTreeMap<&str, Vec<usize>> = BTreeMap::new();
    for d in &loaded.diagnostics {
        if quiet && !d.is_error() {
            continue;
        }
        let count = shown.entry(d.file.as_str()).or_default();
        *count += 1;
        if *count > MAX_SHOWN_PER_FILE {
            continue;
        }
        let view = loaded.sources.get(&d.file).map(|s| SourceView {
            text: &s.text,
            line_starts: starts
                .entry(d.file.as_str())
                .or_insert_with(|| diagnostic::line_starts(&s.text)),
            secrets: &s.secrets,
            may_hold_secrets: s.may_hold_secrets,
        });
        let _ = write!(err, "{}", diagnostic::render(d, view.as_ref(), color));
    }
    for (file, n) in shown {
        if n > MAX_SHOWN_PER_FILE {
            let _ = writeln!(
                err,
                "{file}: {} more diagnostic(s) not shown (`guacsync validate --format json` lists up to 500,000 per file)",
                n - MAX_SHOWN_PER_FILE
            );
        }
    }
}

/// Diagnostics printed per file: a generated or hostile file can hold a
/// million; the first ones say what is wrong.
const MAX_SHOWN_PER_FILE: usize = 100;

/// `11 connections`, and the estate objects when there are any.
fn counts(loaded: &Loaded) -> String {
    let mut text = format!("{} connections", loaded.entries.len());
    let estate = &loaded.estate;
    if !estate.is_empty() {
        use std::fmt::Write as _;
        let _ = write!(
            text,
            ", {} connection groups, {} sharing profiles, {} user groups, {} users",
            estate.connection_groups.len(),
            estate.sharing_profiles.len(),
            estate.user_groups.len(),
            estate.users.len()
        );
    }
    text
}

pub fn run(global: &GlobalArgs, args: &ValidateArgs) -> anyhow::Result<ExitCode> {
    let loaded = manifest::load(
        &paths_or_cwd(&args.paths),
        &ParseOptions {
            strict: args.strict,
        },
    );
    // Buffered: stdout is line-buffered, and the JSON of a large manifest has
    // millions of lines.
    let mut out = std::io::BufWriter::new(std::io::stdout().lock());
    match args.format {
        ValidateFormat::Json => {
            let doc = Normalized::new(
                &loaded.entries,
                &loaded.estate,
                &loaded.diagnostics,
                Schema::builtin(),
            );
            serde_json::to_writer_pretty(&mut out, &doc)?;
            writeln!(out)?;
        }
        ValidateFormat::Text => {
            print_diagnostics(&loaded, global.quiet);
            if !global.quiet {
                writeln!(
                    out,
                    "{} in {} files: {}",
                    counts(&loaded),
                    loaded.files.len(),
                    diagnostic::summary(&loaded.diagnostics)
                )?;
            }
        }
    }
    out.flush()?;
    Ok(if loaded.has_errors() {
        ExitCode::from(1)
    } else {
        ExitCode::SUCCESS
    })
}
