//! Where `guacsync export` writes and in which format: `--out x.csv` is CSV and
//! `--out x.json` JSON by the extension (a `--format` that says otherwise is an
//! error, since a YAML file named `.csv` is one `plan` rejects), a directory gets
//! one file per top-level group, and nothing existing is replaced without
//! `--force`. Decided before anything is read from the server.

use std::path::{Path, PathBuf};

use anyhow::bail;

use super::export::ExportFormat;

/// Where the export goes.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Target {
    Stdout,
    /// One file per top-level group.
    Dir(PathBuf),
    File(PathBuf),
}

/// A directory: one that exists, a path ending in `/`, or a path without an
/// extension (`--out manifests`).
fn is_dir_target(path: &Path) -> bool {
    path.is_dir() || path.as_os_str().to_string_lossy().ends_with('/') || path.extension().is_none()
}

/// The format an extension means.
fn by_extension(path: &Path) -> Option<ExportFormat> {
    let ext = path.extension()?.to_string_lossy().to_ascii_lowercase();
    match ext.as_str() {
        "yaml" | "yml" => Some(ExportFormat::Yaml),
        "json" => Some(ExportFormat::Json),
        "csv" => Some(ExportFormat::Csv),
        _ => None,
    }
}

fn name(format: ExportFormat) -> &'static str {
    match format {
        ExportFormat::Yaml => "YAML",
        ExportFormat::Json => "JSON",
        ExportFormat::Csv => "CSV",
        ExportFormat::State => "a state document",
    }
}

/// Decides the target and the format from `--out` and `--format`.
///
/// # Errors
/// An extension that is not a manifest's, a `--format` that contradicts the
/// extension, a state document into a directory, or an existing file without
/// `force`.
pub fn resolve(
    out: Option<&Path>,
    format: Option<ExportFormat>,
    force: bool,
) -> anyhow::Result<(Target, ExportFormat)> {
    let Some(path) = out else {
        return Ok((Target::Stdout, format.unwrap_or_default()));
    };
    if is_dir_target(path) {
        if format == Some(ExportFormat::State) {
            bail!(
                "--out {}: a state document is one file; give a file name ending in .json",
                path.display()
            );
        }
        return Ok((Target::Dir(path.to_path_buf()), format.unwrap_or_default()));
    }
    let Some(implied) = by_extension(path) else {
        bail!(
            "--out {}: guacsync reads manifests ending in .yaml, .yml, .json or .csv; use one of those, or end the path with / for a directory",
            path.display()
        );
    };
    let format = match format {
        None => implied,
        Some(ExportFormat::State) if implied == ExportFormat::Json => ExportFormat::State,
        Some(given) if given == implied => given,
        Some(given) => bail!(
            "--out {} is {} by its extension, but --format {} was given; drop --format or change the extension",
            path.display(),
            name(implied),
            match given {
                ExportFormat::Yaml => "yaml",
                ExportFormat::Json => "json",
                ExportFormat::Csv => "csv",
                ExportFormat::State => "state",
            }
        ),
    };
    refuse_existing(&[path.to_path_buf()], force)?;
    Ok((Target::File(path.to_path_buf()), format))
}

/// Refuses to replace existing files unless `force`.
///
/// # Errors
/// The files that exist.
pub fn refuse_existing(paths: &[PathBuf], force: bool) -> anyhow::Result<()> {
    if force {
        return Ok(());
    }
    let existing: Vec<String> = paths
        .iter()
        .filter(|p| p.exists())
        .map(|p| p.display().to_string())
        .collect();
    match existing.as_slice() {
        [] => Ok(()),
        [one] => bail!("{one} exists; add --force to replace it"),
        many => bail!(
            "{} files exist ({}{}); add --force to replace them",
            many.len(),
            many[..many.len().min(5)].join(", "),
            if many.len() > 5 { ", ..." } else { "" }
        ),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn format_by_extension_and_conflicts() {
        let t = tempfile::tempdir().expect("dir");
        let p = |name: &str| t.path().join(name);
        let ok = |name: &str, format: Option<ExportFormat>| {
            resolve(Some(&p(name)), format, false).expect(name)
        };
        assert_eq!(ok("x.csv", None).1, ExportFormat::Csv);
        assert_eq!(ok("x.JSON", None).1, ExportFormat::Json);
        assert_eq!(ok("x.yml", None).1, ExportFormat::Yaml);
        assert_eq!(ok("x.csv", Some(ExportFormat::Csv)).1, ExportFormat::Csv);
        assert_eq!(
            ok("s.json", Some(ExportFormat::State)).1,
            ExportFormat::State
        );
        assert_eq!(ok("dir", Some(ExportFormat::Csv)).0, Target::Dir(p("dir")));
        assert_eq!(
            ok("dir.d/", None),
            (Target::Dir(p("dir.d/")), ExportFormat::Yaml)
        );
        let err = |name: &str, format: Option<ExportFormat>| {
            resolve(Some(&p(name)), format, false)
                .expect_err(name)
                .to_string()
        };
        assert!(
            err("x.csv", Some(ExportFormat::Json))
                .contains("is CSV by its extension, but --format json")
        );
        assert!(err("x.csv", Some(ExportFormat::State)).contains("--format state"));
        assert!(err("x.txt", None).contains(".yaml, .yml, .json or .csv"));
        assert!(err("dir", Some(ExportFormat::State)).contains("a state document is one file"));
        std::fs::write(p("x.csv"), "").expect("write");
        assert!(err("x.csv", None).ends_with("x.csv exists; add --force to replace it"));
        assert!(resolve(Some(&p("x.csv")), None, true).is_ok());
        assert_eq!(
            resolve(None, None, false).expect("stdout"),
            (Target::Stdout, ExportFormat::Yaml)
        );
    }
}
