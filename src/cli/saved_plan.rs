//! The command-line side of saved plans: writing `plan --out FILE` with its basis,
//! reading it back for `sync --plan FILE`, and finding the manifests it recorded
//! when no paths are given (also from another directory).

use std::path::{Path, PathBuf};

use anyhow::{Context as _, bail};

use super::common::{self, Inputs};
use crate::config::Settings;
use crate::observed::Observed;
use crate::plan::Plan;

/// Writes `plan` to `path` with its basis (what a later `sync --plan` needs to say
/// what changed).
pub fn write(path: &Path, plan: &Plan, inputs: &Inputs, observed: &Observed) -> anyhow::Result<()> {
    let mut saved = plan.clone();
    saved.basis = Some(inputs.basis(observed));
    common::write_atomically(path, saved.to_json().as_bytes())
}

/// Reads a saved plan.
pub fn read(path: &Path) -> anyhow::Result<Plan> {
    let text = std::fs::read_to_string(path)
        .with_context(|| format!("cannot read the plan {}", path.display()))?;
    if !crate::plan::saved::is_saved_plan(text.as_bytes()) {
        bail!(
            "{} is not a guacsync plan (make one with `guacsync plan --out FILE`)",
            path.display()
        );
    }
    serde_json::from_str(&text).with_context(|| {
        format!(
            "{} is not a plan this guacsync can read; make a new plan",
            path.display()
        )
    })
}

/// The manifests a saved plan was made from, as paths to read now, and the
/// directory they are relative to. They are recorded relative to the
/// configuration's directory (the current one without a configuration); run from
/// elsewhere without a configuration, the directory the plan was made in is used
/// when the paths are not found here.
#[must_use]
pub fn recorded_paths(saved: &Plan, settings: &Settings) -> (Vec<PathBuf>, PathBuf) {
    let here = common::manifest_base(settings);
    let cwd = std::env::current_dir()
        .ok()
        .and_then(|d| std::fs::canonicalize(d).ok());
    // Relative to the current directory when that is the base, so that
    // diagnostics and plan lines name them as they were named.
    let at = |base: &Path| -> Vec<PathBuf> {
        saved
            .manifests
            .iter()
            .map(|m| {
                if cwd.as_deref() == Some(base) {
                    PathBuf::from(m)
                } else {
                    base.join(m)
                }
            })
            .collect()
    };
    let paths = at(&here);
    if paths.iter().all(|p| p.exists()) {
        return (paths, here);
    }
    match saved.basis.as_ref().map(|b| PathBuf::from(&b.base)) {
        Some(then) if then.is_dir() && at(&then).iter().all(|p| p.exists()) => (at(&then), then),
        _ => (paths, here),
    }
}
