//! What `plan`, `sync`, `export` and `watch` share: settings, reading manifests,
//! connecting to the server (or to a state file through an in-process server), and
//! making a plan.

use std::collections::BTreeSet;
use std::path::{Path, PathBuf};

use anyhow::{Context as _, anyhow, bail};

use super::GlobalArgs;
use crate::config::{self, Overrides, Settings};
use crate::desired::Desired;
use crate::diff::names::UnknownName;
use crate::diff::{self, PermissionMode};
use crate::guacamole::observe::{ObserveRequest, observe, visibility};
use crate::guacamole::{Client, ClientConfig, Credentials};
use crate::manifest::{self, ParseOptions};
use crate::model::{ConnKey, Parent, Principal};
use crate::observed::Observed;
use crate::plan::Plan;
use crate::schema::Schema;
use crate::secret::{Policy, SystemLookup};

mod connect;
pub use connect::{Target, connect, write_atomically};

/// Options of the commands that make plans.
// Each bool is an independent command-line switch (`--prune`, `--strict`, ...):
// clap's flags are bools, and no two of them form a state.
#[allow(clippy::struct_excessive_bools)]
#[derive(Debug, Clone, Default, clap::Args)]
pub struct PlanArgs {
    /// Remove in-scope connections that no manifest declares.
    #[arg(long)]
    pub prune: bool,
    /// Allow this many removals beyond `max_deletions` (or emptying the scope).
    #[arg(long, value_name = "N")]
    pub allow_deletions: Option<usize>,
    /// Close open sessions on removed connections.
    #[arg(long)]
    pub terminate_sessions: bool,
    /// Unknown keys in manifests are errors, not warnings (parameter and attribute
    /// names are always checked against the server's schema).
    #[arg(long)]
    pub strict: bool,
    /// On a server that applies changes object by object (Guacamole 1.5.x), apply
    /// anyway: a failure part way through leaves part of the plan applied.
    #[arg(long)]
    pub allow_non_atomic: bool,
}

/// Password resets (DESIGN.md §8): `plan` and `sync` only (a `watch` round
/// would send them every time).
#[derive(Debug, Clone, Default, clap::Args)]
pub struct ResetArgs {
    /// Send every declared user's password again (users that exist; a new user
    /// always gets its password).
    #[arg(long, conflicts_with = "reset_password")]
    pub reset_passwords: bool,
    /// Send this declared user's password again (repeatable).
    #[arg(long, value_name = "NAME")]
    pub reset_password: Vec<String>,
}

impl ResetArgs {
    /// The resets as the diff takes them.
    #[must_use]
    pub fn resets(&self) -> crate::diff::PasswordResets {
        if self.reset_passwords {
            crate::diff::PasswordResets::All
        } else if self.reset_password.is_empty() {
            crate::diff::PasswordResets::None
        } else {
            crate::diff::PasswordResets::Named(self.reset_password.iter().cloned().collect())
        }
    }
}

/// Resolves the settings from the config file, environment and flags, and says
/// on stderr which configuration file was read (unless `-q`).
pub fn settings(global: &GlobalArgs, plan: &PlanArgs) -> anyhow::Result<Settings> {
    let settings = config::load(&overrides(global, plan), &|k| std::env::var(k).ok())?;
    if !global.quiet {
        eprintln!(
            "{}",
            settings
                .config_origin
                .describe(settings.config_path.as_deref())
        );
    }
    Ok(settings)
}

/// What the command line says about the settings (flags override the file).
pub fn overrides(global: &GlobalArgs, plan: &PlanArgs) -> Overrides {
    Overrides {
        config: global.config.clone(),
        url: global.url.clone(),
        data_source: global.data_source.clone(),
        ca_cert: global.ca_cert.clone(),
        concurrency: global.concurrency,
        insecure: global.insecure,
        timeout_secs: global.timeout,
        prune: plan.prune.then_some(true),
        allow_deletions: plan.allow_deletions,
        terminate_sessions: plan.terminate_sessions,
        allow_non_atomic: plan.allow_non_atomic,
    }
}

/// Manifests read and resolved; `None` when they have errors (already printed).
pub struct Inputs {
    pub desired: Desired,
    /// The estate as declared, each reference with its place: what the plan
    /// checks against the server (`estate::references::unresolved`).
    pub estate: crate::estate::Estate,
    /// The paths named, relative to `base` (see [`manifest_base`]).
    pub manifests: Vec<String>,
    /// The paths as given, to read the files again (see `report_unknown_names`).
    pub paths: Vec<PathBuf>,
    /// Absolute.
    pub base: PathBuf,
}

impl Inputs {
    /// What a saved plan records about these manifests and `observed`.
    #[must_use]
    pub fn basis(&self, observed: &Observed) -> crate::plan::saved::Basis {
        let mut labels: std::collections::HashMap<String, String> =
            std::collections::HashMap::new();
        let estate = &self.desired.estate;
        let files = self
            .desired
            .connections
            .iter()
            .map(|c| &c.source.file)
            .chain(estate.groups.iter().map(|g| &g.source.file))
            .chain(estate.sharing_profiles.iter().map(|p| &p.source.file))
            .chain(estate.user_groups.iter().map(|g| &g.source.file))
            .chain(estate.users.iter().map(|u| &u.source.file));
        for file in files {
            labels
                .entry(file.clone())
                .or_insert_with(|| relative_to(Path::new(file), &self.base));
        }
        crate::plan::saved::basis(
            &self.desired,
            observed,
            &self.base.display().to_string(),
            &|file| labels.get(file).cloned().unwrap_or_else(|| file.to_owned()),
        )
    }
}

/// The directory manifest paths are recorded relative to: the configuration's,
/// else the current one (absolute). So `manifests`, `./manifests/` and an absolute
/// path are the same plan.
#[must_use]
pub fn manifest_base(settings: &Settings) -> PathBuf {
    let cwd = std::env::current_dir().unwrap_or_default();
    let dir = settings
        .config_path
        .as_deref()
        .and_then(Path::parent)
        .filter(|d| !d.as_os_str().is_empty())
        .map_or_else(|| cwd.clone(), |d| cwd.join(d));
    std::fs::canonicalize(&dir).unwrap_or(dir)
}

/// `path` relative to `base` when it lies inside it (`.` for `base` itself), else
/// absolute; symlinks resolved where the path exists, `.` and `..` removed.
#[must_use]
pub fn relative_to(path: &Path, base: &Path) -> String {
    let cwd = std::env::current_dir().unwrap_or_default();
    let absolute = std::fs::canonicalize(path).unwrap_or_else(|_| lexical(&cwd.join(path)));
    match absolute.strip_prefix(base) {
        Ok(rel) if rel.as_os_str().is_empty() => ".".to_owned(),
        Ok(rel) => rel.display().to_string(),
        Err(_) => absolute.display().to_string(),
    }
}

/// `path` with `.` and `..` components removed, without touching the disk.
fn lexical(path: &Path) -> PathBuf {
    use std::path::Component;
    let mut out = PathBuf::new();
    for c in path.components() {
        match c {
            Component::CurDir => {}
            Component::ParentDir => {
                out.pop();
            }
            other => out.push(other),
        }
    }
    out
}

/// The rules secret references are resolved under (`[secrets]`).
#[must_use]
pub fn secret_policy(settings: &Settings) -> Policy {
    let config_dir = settings.config_path.as_deref().map(|p| {
        p.parent()
            .filter(|d| !d.as_os_str().is_empty())
            .unwrap_or(Path::new("."))
    });
    Policy::new(settings.secrets.as_ref(), config_dir, &|k| {
        std::env::var(k).ok()
    })
}

/// Diagnostic codes about parameter and attribute names: a plan leaves those to
/// the server's schema (which may know more, from extensions, or less, being
/// older), so the bundled schema's opinion is not shown.
const NAME_CODES: &[&str] = &["unknown-parameter", "unknown-attribute"];

/// Reads, checks and resolves the manifests. Prints every diagnostic; returns
/// `None` on any error, before anything is sent to a server.
pub fn read_manifests(
    paths: &[PathBuf],
    settings: &Settings,
    quiet: bool,
    strict: bool,
) -> Option<Inputs> {
    read_manifests_at(paths, settings, quiet, strict, manifest_base(settings))
}

/// [`read_manifests`], with the paths recorded relative to `base` (a saved plan's
/// own base when it is applied from elsewhere).
pub fn read_manifests_at(
    paths: &[PathBuf],
    settings: &Settings,
    quiet: bool,
    strict: bool,
    base: PathBuf,
) -> Option<Inputs> {
    let paths = super::validate::paths_or_cwd(paths);
    let mut loaded = manifest::load(&paths, &ParseOptions { strict });
    loaded.diagnostics.retain(|d| !NAME_CODES.contains(&d.code));
    super::validate::print_diagnostics(&loaded, quiet);
    if loaded.has_errors() {
        eprintln!("error: the manifests have errors; nothing was sent to the server");
        return None;
    }
    let lookup = SystemLookup::new(secret_policy(settings));
    let estate = loaded.estate.clone();
    let (desired, diagnostics) =
        Desired::build_with_estate(loaded.entries, loaded.estate, &lookup, Schema::builtin());
    if !diagnostics.is_empty() {
        let color = super::use_color(&std::io::stderr());
        for d in &diagnostics {
            eprint!("{}", crate::diagnostic::render(d, None, color));
        }
        eprintln!("error: secret references could not be resolved; nothing was sent to the server");
        return None;
    }
    Some(Inputs {
        desired,
        estate,
        manifests: paths.iter().map(|p| relative_to(p, &base)).collect(),
        paths,
        base,
    })
}

/// What to read from the server for these manifests and options.
#[must_use]
pub fn observe_request(desired: &Desired, settings: &Settings) -> ObserveRequest {
    let mut request = ObserveRequest::default();
    for d in &desired.connections {
        if let Parent::Group(group) = &d.parent {
            request.connections.insert(ConnKey {
                group: group.clone(),
                name: d.name.clone(),
            });
        } else {
            // Its path is known only after the tree is read: fetch by scope below.
            request
                .scope_parameters
                .push(crate::model::GroupPath::root());
        }
        request
            .principals
            .extend(d.users.iter().map(|u| Principal::User(u.clone())));
        request
            .principals
            .extend(d.groups.iter().map(|g| Principal::UserGroup(g.clone())));
    }
    if settings.options.prune {
        request
            .scope_parameters
            .extend(settings.options.scope.iter().cloned());
    }
    // What a `[[moved]]` entry moves is compared (or carried) at its new place:
    // its parameters, or those of everything below a moved group, are needed.
    for m in &settings.options.moved {
        request.scope_parameters.push(m.from.clone());
        if let (Some(group), Some(name)) = (m.from.parent(), m.from.name()) {
            request.connections.insert(ConnKey {
                group,
                name: name.to_owned(),
            });
        }
    }
    estate_request(&desired.estate, settings, &mut request);
    let unique: BTreeSet<_> = request.scope_parameters.drain(..).collect();
    request.scope_parameters = unique.into_iter().collect();
    request.all_principals = settings.options.permissions == PermissionMode::Exact;
    request
}

/// What the estate documents need read (DESIGN.md §8): the permissions of every
/// declared principal that writes `system` or `permissions` and of every
/// principal a READ list names, the member lists declared user groups write,
/// the parameters of declared sharing profiles (and, to prune them, of
/// every profile in scope).
///
/// A declared principal that writes neither has no permission the plan manages
/// (in `additive` mode; `exact` reads every principal anyway), so its permissions
/// are not read: an estate of thousands of users would otherwise cost one request
/// per user for nothing.
fn estate_request(
    estate: &crate::desired::DesiredEstate,
    settings: &Settings,
    request: &mut ObserveRequest,
) {
    for g in &estate.user_groups {
        if g.system.is_some() || !g.permissions.is_empty() {
            request
                .principals
                .insert(Principal::UserGroup(g.name.clone()));
        }
        if g.member_users.is_some() || g.member_groups.is_some() {
            request.memberships.insert(
                g.name.clone(),
                crate::guacamole::observe::MemberLists {
                    users: g.member_users.is_some(),
                    groups: g.member_groups.is_some(),
                },
            );
        }
    }
    for u in &estate.users {
        if u.system.is_some() || !u.permissions.is_empty() {
            request
                .principals
                .insert(Principal::User(u.username.clone()));
        }
    }
    for g in &estate.groups {
        request
            .principals
            .extend(g.read.principals().map(|(p, _)| p));
    }
    for p in &estate.sharing_profiles {
        request
            .principals
            .extend(p.read.principals().map(|(p, _)| p));
        if p.parameters.is_some() {
            request.sharing_profiles.insert(p.key.clone());
        }
    }
    let options = &settings.options;
    if options.prune && options.sharing_profiles == crate::diff::Ownership::All {
        request
            .sharing_profile_scope
            .extend(options.scope.iter().cloned());
    }
}

/// Why a principal's permissions cannot be read or changed (see
/// `Observed::unaddressable`).
fn unaddressable(p: &Principal) -> String {
    let (sep, code, setting) = if p.name().contains('/') {
        ("/", "%2F", "encodedSolidusHandling")
    } else {
        ("\\", "%5C", "encodedReverseSolidusHandling")
    };
    format!(
        "{p}: its name holds {sep:?}, which goes into the request path as {code}, and the server \
         (its Tomcat, by default) refuses such paths with 400; guacsync cannot read or change its \
         permissions. Rename it, or set {setting}=\"passthrough\" on Tomcat's connector"
    )
}

/// Reads the account's own permissions and refuses an account without
/// ADMINISTER unless `delegated_account` says the operator knows (DESIGN.md §4,
/// "Seeing everything before planning"). `Ok(true)`: the view is limited.
///
/// # Errors
/// The refusal, naming the account and the missing permission; or the request's
/// failure.
pub async fn check_visibility(
    client: &Client,
    settings: &Settings,
    command: &str,
) -> anyhow::Result<bool> {
    let seen = visibility(client)
        .await
        .context("reading this account's permissions")?;
    if seen.admin {
        return Ok(false);
    }
    if settings.delegated_account {
        return Ok(true);
    }
    bail!(
        "refusing to {command}: the account {:?} lacks the system permission ADMINISTER, so Guacamole hides from it every object it cannot read, and the {command} would take those for absent. Grant {:?} ADMINISTER, or, if this account is meant to manage only what it can read, set `delegated_account = true` under [server] in guacsync.toml",
        seen.username,
        seen.username
    )
}

/// Prints the names the server's schema does not know, each at its place in its
/// manifest (the manifests are read again against the server's schema, so the
/// diagnostics point at each name and mask the values).
fn report_unknown_names(inputs: &Inputs, schema: &Schema, unknown: &[UnknownName], quiet: bool) {
    let mut loaded = manifest::load_with(&inputs.paths, &ParseOptions { strict: true }, schema);
    loaded.diagnostics.retain(|d| {
        d.is_error() && (NAME_CODES.contains(&d.code) || d.code == "csv-unknown-header")
    });
    if loaded.diagnostics.is_empty() {
        // The files changed since they were read: say it without positions.
        for u in unknown {
            eprintln!("error: {}: {u} ({})", u.source, u.help());
        }
    } else {
        super::validate::print_diagnostics(&loaded, quiet);
    }
}

/// Observes the server and makes the plan. Plan errors are printed; `Ok(None)`.
pub async fn make_plan(
    target: &Target,
    inputs: &Inputs,
    settings: &Settings,
    progress: bool,
) -> anyhow::Result<Option<(Plan, Observed)>> {
    let limited = check_visibility(&target.client, settings, "plan").await?;
    let request = observe_request(&inputs.desired, settings);
    let mut observed = observe(&target.client, &request, settings.concurrency, progress)
        .await
        .context("reading the server")?;
    let named: Vec<&Principal> = observed
        .unaddressable
        .iter()
        .filter(|p| request.principals.contains(*p))
        .collect();
    if !named.is_empty() {
        for p in named {
            eprintln!("error: {}", unaddressable(p));
        }
        eprintln!("error: no plan could be made; nothing was changed");
        return Ok(None);
    }
    // The request holds a key per wanted connection (about 100 bytes each): not
    // needed by the diff, whose peak is the plan's.
    drop(request);
    let unresolved = crate::estate::references::unresolved(
        &inputs.estate,
        inputs
            .desired
            .connections
            .iter()
            .filter_map(|c| match &c.parent {
                Parent::Group(g) => Some((g, c.name.as_str())),
                Parent::Identifier(_) => None,
            }),
        &observed,
    );
    if !unresolved.is_empty() {
        let color = super::use_color(&std::io::stderr());
        for d in &unresolved {
            eprint!("{}", crate::diagnostic::render(d, None, color));
        }
        eprintln!(
            "error: {} reference(s) name objects that exist nowhere; nothing was changed",
            unresolved.len()
        );
        return Ok(None);
    }
    observed.limited_view = limited;
    // Whether batches are atomic: an empty PATCH changes nothing on any version.
    observed.object_by_object = target
        .client
        .probe_patch_support()
        .await
        .context("finding out how the server applies changes")?
        == crate::guacamole::writes::PatchSupport::ObjectByObject;
    if !settings.options.allow_unknown_parameters {
        let unknown = diff::names::unknown_names(&inputs.desired, observed.schema());
        if !unknown.is_empty() {
            report_unknown_names(inputs, observed.schema(), &unknown, false);
            eprintln!(
                "error: {} parameter or attribute name(s) are unknown to the server; nothing was changed (set [sync] allow_unknown_parameters = true to send them anyway)",
                unknown.len()
            );
            return Ok(None);
        }
    }
    match diff::diff(
        &inputs.desired,
        &observed,
        &settings.options,
        &inputs.manifests,
    ) {
        Ok(mut plan) => {
            // Principals no manifest names (read for `exact` mode): their grants are
            // unknown, so nothing is revoked from them.
            for p in &observed.unaddressable {
                plan.warnings.push(crate::plan::Warning {
                    code: "unaddressable-principal".to_owned(),
                    message: format!("{}; nothing is revoked from it", unaddressable(p)),
                });
            }
            Ok(Some((plan, observed)))
        }
        Err(errors) => {
            for e in &errors {
                eprintln!("error: {e}");
            }
            eprintln!("error: no plan could be made; nothing was changed");
            Ok(None)
        }
    }
}
