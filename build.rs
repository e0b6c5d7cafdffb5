//! Build script: tells `guacsync --version` which commit it was built from.
//!
//! The commit comes from `git rev-parse` when the source is a git checkout (a
//! clone or a worktree); where it is not (a Docker build context without `.git`,
//! a source tarball), from the `GUACSYNC_BUILD_COMMIT` environment variable (the
//! Dockerfile passes its build argument through it; when set, it wins); else it
//! is "unknown". A build from a checkout with uncommitted changes to tracked
//! files says so: `<commit>-modified`.

use std::path::Path;
use std::process::Command;

fn git(args: &[&str]) -> Option<String> {
    // No optional locks: `git status` would otherwise refresh and rewrite the
    // index, which this script watches, and so run itself again next build.
    let out = Command::new("git")
        .args(args)
        .env("GIT_OPTIONAL_LOCKS", "0")
        .output()
        .ok()?;
    if !out.status.success() {
        return None;
    }
    let text = String::from_utf8(out.stdout).ok()?;
    let text = text.trim();
    (!text.is_empty()).then(|| text.to_owned())
}

fn main() {
    println!("cargo:rerun-if-env-changed=GUACSYNC_BUILD_COMMIT");
    let from_env = std::env::var("GUACSYNC_BUILD_COMMIT")
        .ok()
        .map(|c| c.trim().to_owned())
        .filter(|c| !c.is_empty());
    let from_git = git(&["rev-parse", "--short=12", "HEAD"]);
    if from_git.is_some() {
        // Run again when HEAD moves: HEAD itself (a branch switch), the branch's
        // ref (a commit) and packed-refs. A worktree's HEAD lives in its own git
        // directory, its refs in the common one.
        if let Some(dir) = git(&["rev-parse", "--git-dir"]) {
            println!(
                "cargo:rerun-if-changed={}",
                Path::new(&dir).join("HEAD").display()
            );
        }
        if let Some(common) = git(&["rev-parse", "--git-common-dir"]) {
            let common = Path::new(&common);
            // Only files that exist: Cargo treats a missing one as changed, and
            // would run this script (and rebuild the crate) on every build.
            let mut watched = vec![common.join("packed-refs")];
            if let Some(branch) = git(&["symbolic-ref", "-q", "HEAD"]) {
                watched.push(common.join(branch));
            }
            for path in watched.iter().filter(|p| p.exists()) {
                println!("cargo:rerun-if-changed={}", path.display());
            }
        }
    }
    // Run again when the sources change, so that `-modified` follows them (without
    // these lines Cargo would rerun this script only on the git files above).
    if from_git.is_some() {
        for path in [
            "src",
            "testserver/src",
            "Cargo.toml",
            "Cargo.lock",
            "build.rs",
        ] {
            println!("cargo:rerun-if-changed={path}");
        }
        if let Some(dir) = git(&["rev-parse", "--git-dir"]) {
            println!(
                "cargo:rerun-if-changed={}",
                Path::new(&dir).join("index").display()
            );
        }
    }
    let modified =
        from_git.is_some() && git(&["status", "--porcelain", "--untracked-files=no"]).is_some();
    // An explicit GUACSYNC_BUILD_COMMIT wins: whoever sets it knows better.
    let commit = match (from_env, from_git) {
        (None, Some(c)) if modified => format!("{c}-modified"),
        (Some(c), _) | (None, Some(c)) => c,
        (None, None) => "unknown".to_owned(),
    };
    println!("cargo:rustc-env=GUACSYNC_COMMIT={commit}");
}
