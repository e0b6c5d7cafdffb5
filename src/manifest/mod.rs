//! Manifests: CSV, JSON and YAML files in Guacamole's import format, parsed into
//! `model::Entry` values with every diagnostic collected (never stopping at the
//! first).
//!
//! Flow: bytes → file-level checks (size, encoding) → format reader (`csv`, `json`,
//! `yaml` → `records::RawEntry`) → per-entry rules (`check`) → cross-file rules
//! (duplicates) → [`Loaded`]. A JSON/YAML file whose top level is a mapping is an
//! estate document (`crate::estate`): its objects land in [`Loaded::estate`] and
//! its `connections` in the same entries as every other file's.

pub mod check;
pub mod csv;
mod files;
pub mod json;
pub mod node;
pub mod normalized;
pub mod records;
#[cfg(test)]
mod tests;
pub mod write;
pub mod yaml;

use std::collections::{BTreeMap, HashMap, HashSet};
use std::path::{Path, PathBuf};

use node::Pos;
use records::Sink;

use crate::diagnostic::Diagnostic;
use crate::estate::Estate;
use crate::model::{ConnKey, Entry};
use crate::schema::Schema;

pub use files::collect_files;
use files::{file_error, read_limited};
pub use normalized::Normalized;

/// Files larger than this are refused before they are read.
pub const MAX_FILE_BYTES: u64 = 64 * 1024 * 1024;

/// Connections one file may declare. The byte limit alone does not bound memory:
/// a CSV row of a connection can be six bytes (`a,ssh`) and its entry a few hundred,
/// so 60 MB of such rows took over 2 GB. Ten times the largest benchmark.
pub const MAX_CONNECTIONS_PER_FILE: usize = 1_000_000;

#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Format {
    Csv,
    Json,
    Yaml,
}

impl Format {
    /// The format a file name means (case-insensitive, like upstream's `/\.csv$/i`).
    #[must_use]
    pub fn from_path(path: &Path) -> Option<Self> {
        let ext = path.extension()?.to_str()?.to_ascii_lowercase();
        match ext.as_str() {
            "csv" => Some(Self::Csv),
            "json" => Some(Self::Json),
            "yaml" | "yml" => Some(Self::Yaml),
            _ => None,
        }
    }
}

#[derive(Clone, Copy, Debug, Default)]
pub struct ParseOptions {
    /// Unknown parameter, attribute and key names are errors instead of warnings.
    pub strict: bool,
}

/// A file's text as read, kept for rendering diagnostics, with the literal secret
/// values found in it so that a rendered source line can mask them.
#[derive(Clone, Debug, Default)]
pub struct SourceFile {
    pub text: String,
    pub format: Option<Format>,
    pub secrets: Vec<String>,
    /// The file names a sensitive parameter somewhere. A line that could not be
    /// parsed (a syntax error) may then hold a secret that `secrets` does not know,
    /// so such lines are not shown.
    pub may_hold_secrets: bool,
}

/// The result of loading manifests.
#[derive(Debug, Default)]
pub struct Loaded {
    /// Entries without errors, in file order.
    pub entries: Vec<Entry>,
    /// What the estate documents declare (objects without errors).
    pub estate: Estate,
    /// Every problem, sorted by file, line and column.
    pub diagnostics: Vec<Diagnostic>,
    /// File label → source, for rendering.
    pub sources: BTreeMap<String, SourceFile>,
    /// The files read, in order.
    pub files: Vec<PathBuf>,
}

impl Loaded {
    #[must_use]
    pub fn has_errors(&self) -> bool {
        self.diagnostics.iter().any(Diagnostic::is_error)
    }
}

/// Reads, parses and checks every manifest under `paths` against the bundled
/// schema.
#[must_use]
pub fn load(paths: &[PathBuf], opts: &ParseOptions) -> Loaded {
    load_with(paths, opts, Schema::builtin())
}

/// [`load`] against another schema: a server's, when a plan names parameters or
/// attributes it does not know (the diagnostics then point at each name).
#[must_use]
pub fn load_with(paths: &[PathBuf], opts: &ParseOptions, schema: &Schema) -> Loaded {
    let mut loaded = Loaded::default();
    let mut files = collect_files(paths, &mut loaded.diagnostics);
    let mut plans = HashSet::new();
    for path in &files {
        let label = path.display().to_string();
        let Some(format) = Format::from_path(path) else {
            loaded.diagnostics.push(file_error(
                &label,
                "unknown-format",
                Pos::new(1, 1),
                format!(
                    "{label} is not a manifest: the name must end in .csv, .json, .yaml or .yml"
                ),
                None,
            ));
            continue;
        };
        let bytes = match read_limited(path) {
            Ok(b) => b,
            Err(d) => {
                let mut d = *d;
                d.file.clone_from(&label);
                loaded.diagnostics.push(d);
                continue;
            }
        };
        // A plan saved with `plan --out` inside a manifest directory is guacsync's
        // own output, not a manifest: skipped when found in a directory, an error
        // when named.
        // (A plan is JSON, which YAML also reads: `--out plan.yaml` is caught too.)
        if format != Format::Csv && crate::plan::saved::is_saved_plan(&bytes) {
            if paths.contains(path) {
                loaded.diagnostics.push(file_error(
                    &label,
                    "saved-plan-file",
                    Pos::new(1, 1),
                    format!("{label} is a plan saved by `guacsync plan --out`, not a manifest"),
                    Some(format!("apply it with `guacsync sync --plan {label}`")),
                ));
            } else {
                tracing::info!("{label}: a saved guacsync plan, not a manifest; skipped");
            }
            plans.insert(path.clone());
            continue;
        }
        let parsed = parse_owned(&label, bytes, format, schema, opts);
        // Moved rather than copied when it is the first file: a copy would hold a
        // large manifest's entries twice at once.
        if loaded.entries.is_empty() {
            loaded.entries = parsed.entries;
        } else {
            loaded.entries.extend(parsed.entries);
        }
        loaded.estate.extend(parsed.estate);
        loaded.diagnostics.extend(parsed.diagnostics);
        if let Some(source) = parsed.source {
            loaded.sources.insert(label, source);
        }
    }
    files.retain(|f| !plans.contains(f));
    loaded.files = files;
    loaded.entries =
        without_duplicates(std::mem::take(&mut loaded.entries), &mut loaded.diagnostics);
    loaded.estate = crate::estate::duplicates::remove(
        std::mem::take(&mut loaded.estate),
        &mut loaded.diagnostics,
    );
    loaded
        .diagnostics
        .sort_by(|a, b| (&a.file, a.line, a.column).cmp(&(&b.file, b.line, b.column)));
    loaded
}

/// The outcome of parsing one file's bytes.
#[derive(Debug, Default)]
pub struct Parsed {
    pub entries: Vec<Entry>,
    /// What the file declares when it is an estate document.
    pub estate: Estate,
    pub diagnostics: Vec<Diagnostic>,
    pub source: Option<SourceFile>,
}

/// Line and column (characters) of a byte offset.
fn pos_of(bytes: &[u8], offset: usize) -> Pos {
    let before = &bytes[..offset];
    let line = before.split(|&b| b == b'\n').count();
    let line_start = before
        .iter()
        .rposition(|&b| b == b'\n')
        .map_or(0, |i| i + 1);
    let column = String::from_utf8_lossy(&before[line_start..])
        .chars()
        .count()
        + 1;
    Pos::new(
        u32::try_from(line).unwrap_or(u32::MAX),
        u32::try_from(column).unwrap_or(u32::MAX),
    )
}

/// Parses one file's bytes. `file` is the label diagnostics carry.
#[must_use]
pub fn parse_bytes(
    file: &str,
    bytes: &[u8],
    format: Format,
    schema: &Schema,
    opts: &ParseOptions,
) -> Parsed {
    parse_owned(file, bytes.to_vec(), format, schema, opts)
}

/// The file's text, or `None` with the reason in `sink`: UTF-16, a ZIP archive,
/// invalid UTF-8 or a NUL byte. A UTF-8 byte-order mark is dropped.
fn decode(bytes: Vec<u8>, sink: &mut Sink<'_>) -> Option<String> {
    if bytes.starts_with(&[0xFF, 0xFE]) || bytes.starts_with(&[0xFE, 0xFF]) || looks_utf16(&bytes) {
        sink.error(
            "utf16-file",
            Pos::new(1, 1),
            "the file is UTF-16; save it as UTF-8",
            None,
        );
        return None;
    }
    if [b"PK\x03\x04", b"PK\x05\x06", b"PK\x07\x08"]
        .iter()
        .any(|sig| bytes.starts_with(*sig))
    {
        sink.error(
            "unknown-format",
            Pos::new(1, 1),
            "the file is a ZIP archive, not a manifest",
            None,
        );
        return None;
    }
    let mut owned = match String::from_utf8(bytes) {
        Ok(t) => t,
        Err(e) => {
            sink.error(
                "invalid-utf8",
                pos_of(e.as_bytes(), e.utf8_error().valid_up_to()),
                "the file is not valid UTF-8 here",
                Some("save the file as UTF-8".to_owned()),
            );
            return None;
        }
    };
    // A UTF-8 byte-order mark is not part of the content (editors do not show it).
    if owned.starts_with('\u{feff}') {
        owned.drain(..'\u{feff}'.len_utf8());
    }
    if let Some(nul) = owned.find('\0') {
        sink.error(
            "nul-byte",
            pos_of(owned.as_bytes(), nul),
            "the file contains a NUL byte, which no Guacamole database can store",
            None,
        );
        return None;
    }
    Some(owned)
}

/// UTF-16 without a byte-order mark: ASCII text in UTF-16 has a NUL in every other
/// byte, which no UTF-8 manifest has.
fn looks_utf16(bytes: &[u8]) -> bool {
    let head = &bytes[..bytes.len().min(64)];
    if head.len() < 4 {
        return false;
    }
    let nul_at = |parity: usize| {
        head.iter()
            .enumerate()
            .filter(|(i, b)| i % 2 == parity && **b == 0)
            .count()
    };
    let half = head.len() / 2;
    nul_at(0) * 4 >= half * 3 || nul_at(1) * 4 >= half * 3
}

/// [`parse_bytes`] taking the bytes by value, so the text kept for rendering
/// diagnostics is not a second copy of a large file.
#[must_use]
pub fn parse_owned(
    file: &str,
    bytes: Vec<u8>,
    format: Format,
    schema: &Schema,
    opts: &ParseOptions,
) -> Parsed {
    let mut sink = Sink::new(file, opts.strict);
    let mut parsed = Parsed::default();
    let Some(owned) = decode(bytes, &mut sink) else {
        parsed.diagnostics = sink.finish();
        return parsed;
    };
    let text = owned.as_str();
    let mut secrets = Vec::new();
    // Where each sensitive value was written (JSON/YAML), to mask it also in the
    // form it was written in when that differs from its value.
    let mut secret_at = Vec::new();
    let mut entries = Vec::new();
    let mut read = 0usize;
    // Each raw entry is checked as soon as it is read, so a large manifest is never
    // held twice (as raw fields and as entries).
    let mut emit = |mut raw: records::RawEntry, sink: &mut Sink<'_>| {
        read += 1;
        if read > MAX_CONNECTIONS_PER_FILE {
            if read == MAX_CONNECTIONS_PER_FILE + 1 {
                sink.error(
                    "file-too-large",
                    raw.pos,
                    format!(
                        "the file declares more than {MAX_CONNECTIONS_PER_FILE} connections; the rest is not read"
                    ),
                    Some("split it into several files".to_owned()),
                );
            }
            return;
        }
        secrets.append(&mut raw.unclassified_secrets);
        let protocol = raw.protocol.as_ref().map_or("", |p| p.text.as_str());
        for (k, v) in &raw.parameters {
            if schema.is_sensitive_parameter(protocol, &k.text)
                && !crate::secret::has_reference(&v.text)
                && !crate::secret::is_token_only(&v.text)
            {
                secrets.push(v.text.clone());
                secret_at.push(v.pos);
            }
        }
        if let Some(entry) = check::finish(&raw, schema, sink) {
            entries.push(entry);
        }
    };
    let mut written = Vec::new();
    match format {
        // An empty CSV file is what an empty JSON or YAML file is: nothing to do.
        Format::Csv if text.trim().is_empty() => sink.warning(
            "empty-file",
            Pos::new(1, 1),
            "the file is empty".to_owned(),
            None,
        ),
        Format::Csv => csv::read(text, schema, &mut sink, &mut emit),
        Format::Json | Format::Yaml => {
            let (root, issues, forms) = if format == Format::Json {
                json::read_with_written(text)
            } else {
                yaml::read_with_written(text)
            };
            written = forms;
            for issue in issues {
                if issue.code == "empty-file" {
                    sink.warning(issue.code, issue.pos, issue.message, None);
                } else {
                    sink.error(issue.code, issue.pos, issue.message, None);
                }
            }
            match root {
                Some(node::Node {
                    pos,
                    value: node::Value::Map(pairs),
                }) => {
                    let read = crate::estate::read::document(pos, pairs, &mut sink, &mut emit);
                    for (pos, value) in read.secrets {
                        secret_at.push(pos);
                        secrets.push(value);
                    }
                    parsed.estate = read.estate;
                }
                Some(root) => records::from_document(root, &mut sink, &mut emit),
                None => {}
            }
        }
    }
    add_written_forms(&mut secrets, &secret_at, written);
    // Each secret once (every unknown parameter's value is one, and a file may
    // repeat a value thousands of times), longest first: a secret inside a longer
    // one must not be masked first, or the rest of the longer one would show.
    secrets.sort_unstable_by(|a, b| b.len().cmp(&a.len()).then_with(|| a.cmp(b)));
    secrets.dedup();
    // An estate document's TOTP key attribute is a secret too.
    let may_hold_secrets = schema
        .sensitive_names()
        .iter()
        .chain(crate::estate::schema::SENSITIVE_USER_ATTRIBUTES)
        .any(|n| text.contains(n));
    parsed.entries = entries;
    parsed.diagnostics = sink.finish();
    parsed.source = Some(SourceFile {
        text: owned,
        format: Some(format),
        secrets,
        may_hold_secrets,
    });
    parsed
}

/// Adds to `secrets` what a shown source line may hold of them besides their
/// values: the source text of those written differently (`"hunte\u0072"`, a
/// YAML block scalar; `written` maps positions to such text), and each line of a
/// value that spans lines (a line is masked on its own). Pieces shorter than three
/// characters are left out: they would mask every `|` or `"` of a line.
fn add_written_forms(secrets: &mut Vec<String>, secret_at: &[Pos], written: Vec<(Pos, String)>) {
    if !written.is_empty() && !secret_at.is_empty() {
        let by_pos: HashMap<Pos, String> = written.into_iter().collect();
        for pos in secret_at {
            if let Some(raw) = by_pos.get(pos) {
                secrets.push(raw.clone());
            }
        }
    }
    let mut lines = Vec::new();
    for secret in secrets.iter().filter(|s| s.contains('\n')) {
        lines.extend(
            secret
                .lines()
                .map(str::trim)
                .filter(|l| l.chars().count() >= 3)
                .map(str::to_owned),
        );
    }
    secrets.append(&mut lines);
}

/// A duplicate `(group path, name)` across all files is an error naming both
/// places; the later declaration is left out of the model.
fn without_duplicates(entries: Vec<Entry>, diagnostics: &mut Vec<Diagnostic>) -> Vec<Entry> {
    // Index by reference first, so no key is copied (this runs over 100k entries).
    let mut first_of: HashMap<(&crate::model::GroupPath, &str), usize> =
        HashMap::with_capacity(entries.len());
    let mut duplicate = vec![false; entries.len()];
    // One sink per file, so that a file of a million copies of one row keeps at
    // most `MAX_DIAGNOSTICS_PER_FILE` of them.
    let mut sinks: BTreeMap<&str, Sink<'_>> = BTreeMap::new();
    for (i, entry) in entries.iter().enumerate() {
        let crate::model::Parent::Group(group) = &entry.parent else {
            continue;
        };
        if let Some(&first) = first_of.get(&(group, entry.name.as_str())) {
            duplicate[i] = true;
            let key = ConnKey {
                group: group.clone(),
                name: entry.name.clone(),
            };
            let file = entry.source.file.as_str();
            sinks
                .entry(file)
                .or_insert_with(|| Sink::new(file, false))
                .error(
                    "duplicate-connection",
                    Pos::new(entry.source.line, entry.source.column),
                    format!("connection {key} is declared twice"),
                    Some(format!("first declared at {}", entries[first].source)),
                );
        } else {
            first_of.insert((group, entry.name.as_str()), i);
        }
    }
    drop(first_of);
    for sink in sinks.into_values() {
        diagnostics.extend(sink.finish());
    }
    entries
        .into_iter()
        .zip(duplicate)
        .filter_map(|(e, d)| (!d).then_some(e))
        .collect()
}
