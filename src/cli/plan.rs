//! `guacsync plan` and `guacsync sync`: make the plan, show it, and (sync) apply
//! exactly it.

use std::io::Write as _;
use std::path::PathBuf;
use std::process::ExitCode;

use clap::{Args, ValueEnum};

use super::GlobalArgs;
use super::common::{self, PlanArgs, Target};
use super::sync_result::{Failure, Outcome, SyncResult};
use crate::apply;
use crate::plan::{MarkdownOptions, Plan, check_full_plan_url, render_markdown_with, render_text};

#[derive(Debug, Clone, Copy, ValueEnum, Default, PartialEq, Eq)]
pub enum PlanFormat {
    #[default]
    Text,
    Json,
    Markdown,
}

#[derive(Debug, Args)]
pub struct PlanCommand {
    /// Manifest files or directories (default: the current directory).
    pub paths: Vec<PathBuf>,
    /// Also write the plan (JSON, secrets redacted) to this file, for `sync --plan`.
    #[arg(long, value_name = "FILE")]
    pub out: Option<PathBuf>,
    /// Output format (json: schemas/plan.schema.json; markdown: sized for a
    /// pull-request comment).
    #[arg(long, value_enum, default_value_t)]
    pub format: PlanFormat,
    /// Where the full plan can be read (e.g. the CI job's artifact): the markdown
    /// plan links it when it is cut to fit a pull-request comment.
    #[arg(long, value_name = "URL", env = "GUACSYNC_FULL_PLAN_URL")]
    pub full_plan_url: Option<String>,
    /// Exit 2 when there are changes (0 none, 1 error).
    #[arg(long)]
    pub detailed_exitcode: bool,
    #[command(flatten)]
    pub plan: PlanArgs,
    #[command(flatten)]
    pub resets: common::ResetArgs,
    #[command(flatten)]
    pub server: super::ServerArgs,
}

#[derive(Debug, Args)]
pub struct SyncCommand {
    /// Manifest files or directories (default: the current directory, or the
    /// manifests a saved plan names).
    pub paths: Vec<PathBuf>,
    /// Show the plan and stop (the same as `plan`; with --format json, the sync
    /// result document with outcome "dry-run").
    #[arg(long)]
    pub dry_run: bool,
    /// Apply this saved plan, if the server and manifests have not changed since.
    #[arg(long = "plan", value_name = "FILE")]
    pub plan_file: Option<PathBuf>,
    /// Output format; json prints one document when the run is over: the plan and
    /// what was applied (schemas/sync-result.schema.json).
    #[arg(long, value_enum, default_value_t)]
    pub format: PlanFormat,
    /// Where the full plan can be read (e.g. the CI job's artifact): the markdown
    /// plan links it when it is cut to fit a pull-request comment.
    #[arg(long, value_name = "URL", env = "GUACSYNC_FULL_PLAN_URL")]
    pub full_plan_url: Option<String>,
    /// Exit 2 when there were changes (0 none, 1 error).
    #[arg(long)]
    pub detailed_exitcode: bool,
    #[command(flatten)]
    pub plan: PlanArgs,
    #[command(flatten)]
    pub resets: common::ResetArgs,
    #[command(flatten)]
    pub server: super::ServerArgs,
}

fn print_plan(plan: &Plan, format: PlanFormat, full_plan_url: Option<&str>) -> anyhow::Result<()> {
    let text = match format {
        PlanFormat::Text => render_text(plan, super::use_color(&std::io::stdout())),
        PlanFormat::Json => plan.to_json(),
        PlanFormat::Markdown => render_markdown_with(
            plan,
            &MarkdownOptions {
                full_plan_url: full_plan_url.map(str::to_owned),
                ..MarkdownOptions::default()
            },
        ),
    };
    let mut out = std::io::stdout().lock();
    out.write_all(text.as_bytes())?;
    out.flush()?;
    Ok(())
}

fn changes_code(plan: &Plan, detailed: bool) -> ExitCode {
    if detailed && !plan.is_empty() {
        ExitCode::from(2)
    } else {
        ExitCode::SUCCESS
    }
}

pub async fn run_plan(global: &GlobalArgs, args: &PlanCommand) -> anyhow::Result<ExitCode> {
    if let Some(url) = &args.full_plan_url {
        check_full_plan_url(url).map_err(anyhow::Error::msg)?;
    }
    let mut settings = common::settings(global, &args.plan)?;
    settings.options.reset_passwords = args.resets.resets();
    let Some(inputs) =
        common::read_manifests(&args.paths, &settings, global.quiet, args.plan.strict)
    else {
        return Ok(ExitCode::from(1));
    };
    let target = common::connect(global, &settings).await?;
    let made = common::make_plan(&target, &inputs, &settings, !global.quiet).await;
    target.close().await;
    let Some((plan, observed)) = made? else {
        return Ok(ExitCode::from(1));
    };
    print_plan(&plan, args.format, args.full_plan_url.as_deref())?;
    if let Some(path) = &args.out {
        super::saved_plan::write(path, &plan, &inputs, &observed)?;
        if !global.quiet {
            eprintln!(
                "Saved the plan to {}; apply it with: guacsync sync --plan {}",
                path.display(),
                path.display()
            );
        }
    }
    Ok(changes_code(&plan, args.detailed_exitcode))
}

pub async fn run_sync(global: &GlobalArgs, args: &SyncCommand) -> anyhow::Result<ExitCode> {
    if let Some(url) = &args.full_plan_url {
        check_full_plan_url(url).map_err(anyhow::Error::msg)?;
    }
    let saved = match &args.plan_file {
        Some(path) => Some(super::saved_plan::read(path)?),
        None => None,
    };
    let mut plan_args = args.plan.clone();
    if let Some(saved) = &saved {
        // Re-make the plan as it was made: same options.
        plan_args.prune = saved.options.prune;
        plan_args.terminate_sessions = saved.options.terminate_sessions;
    }
    let mut settings = common::settings(global, &plan_args)?;
    settings.options.reset_passwords = match &saved {
        // Re-made with the resets it was made with.
        Some(saved) => {
            let given = args.resets.resets();
            if !given.is_none() && given != saved.options.reset_passwords {
                anyhow::bail!(
                    "the saved plan was made with other password resets than --reset-password(s) names here; make a new plan with them"
                );
            }
            saved.options.reset_passwords.clone()
        }
        None => args.resets.resets(),
    };
    let (paths, base) = match &saved {
        // ... and the same manifests, unless named again.
        Some(saved) if args.paths.is_empty() => super::saved_plan::recorded_paths(saved, &settings),
        _ => (args.paths.clone(), common::manifest_base(&settings)),
    };
    let Some(inputs) =
        common::read_manifests_at(&paths, &settings, global.quiet, args.plan.strict, base)
    else {
        return Ok(ExitCode::from(1));
    };
    let target = common::connect(global, &settings).await?;
    let result = sync_with(&target, &inputs, &settings, global, args, saved.as_ref()).await;
    target.close().await;
    result
}

async fn sync_with(
    target: &Target,
    inputs: &common::Inputs,
    settings: &crate::config::Settings,
    global: &GlobalArgs,
    args: &SyncCommand,
    saved: Option<&Plan>,
) -> anyhow::Result<ExitCode> {
    let Some((plan, observed)) = common::make_plan(target, inputs, settings, !global.quiet).await?
    else {
        return Ok(ExitCode::from(1));
    };
    if let Some(saved) = saved
        && let Err(stale) = crate::plan::saved::check(saved, &plan, &inputs.basis(&observed))
    {
        eprintln!("error: {stale}");
        return Ok(ExitCode::from(1));
    }
    // JSON: one document after the apply, holding the plan and its result.
    let json = args.format == PlanFormat::Json;
    let print_result =
        |outcome: Outcome, done: Option<&apply::Report>, error: Option<&apply::ApplyError>| {
            if !json {
                return Ok(());
            }
            let mut doc = SyncResult::new(&plan, outcome, done);
            doc.error = error.map(Failure::from);
            let mut out = std::io::stdout().lock();
            out.write_all(doc.to_json().as_bytes())?;
            out.flush()
        };
    if !json {
        print_plan(&plan, args.format, args.full_plan_url.as_deref())?;
    }
    if args.dry_run || plan.is_empty() {
        let outcome = if plan.is_empty() {
            Outcome::NoChanges
        } else {
            Outcome::DryRun
        };
        print_result(outcome, None, None)?;
        return Ok(changes_code(&plan, args.detailed_exitcode));
    }
    // A signal now lets the apply, the state file and the report finish first.
    let _writing = super::interrupt::writing();
    match apply::apply(&plan, &target.client, settings.concurrency).await {
        Ok(report) => {
            target.save_state()?;
            print_result(Outcome::Applied, Some(&report), None)?;
            if !global.quiet {
                eprintln!("Applied: {report}.");
            }
            if let Some(advice) = report.size.advice() {
                eprintln!("warning: {advice}");
            }
            Ok(changes_code(&plan, args.detailed_exitcode))
        }
        Err(e) => {
            // Whatever was applied is kept in a state file too.
            if e.done().is_some_and(|d| !d.is_empty()) {
                target.save_state()?;
            }
            print_result(Outcome::Failed, e.done(), Some(&e))?;
            if let Some(advice) = e.done().and_then(|d| d.size.advice()) {
                eprintln!("warning: {advice}");
            }
            eprintln!("error: {e}");
            Ok(ExitCode::from(1))
        }
    }
}
