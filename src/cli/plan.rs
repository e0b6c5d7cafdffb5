//! `guacsync plan` and `guacsync sync`: make the plan, show it, and (sync) apply
//! exactly it.

use std::io::Write as _;
use std::path::PathBuf;
use std::process::ExitCode;

use clap::{Args, ValueEnum};

use super::GlobalArgs;
use super::common::{self, PlanArgs, Target};
use crate::apply;
use crate::plan::{Plan, render_markdown, render_text};

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
    #[arg(long, value_enum, default_value_t)]
    pub format: PlanFormat,
    /// Exit 2 when there are changes (0 none, 1 error).
    #[arg(long)]
    pub detailed_exitcode: bool,
    #[command(flatten)]
    pub plan: PlanArgs,
}

#[derive(Debug, Args)]
pub struct SyncCommand {
    /// Manifest files or directories (default: the current directory, or the
    /// manifests a saved plan names).
    pub paths: Vec<PathBuf>,
    /// Show the plan and stop (the same as `plan`).
    #[arg(long)]
    pub dry_run: bool,
    /// Apply this saved plan, if the server and manifests have not changed since.
    #[arg(long = "plan", value_name = "FILE")]
    pub plan_file: Option<PathBuf>,
    #[arg(long, value_enum, default_value_t)]
    pub format: PlanFormat,
    /// Exit 2 when there were changes (0 none, 1 error).
    #[arg(long)]
    pub detailed_exitcode: bool,
    #[command(flatten)]
    pub plan: PlanArgs,
}

fn print_plan(plan: &Plan, format: PlanFormat) -> anyhow::Result<()> {
    let text = match format {
        PlanFormat::Text => render_text(plan, super::use_color(&std::io::stdout())),
        PlanFormat::Json => plan.to_json(),
        PlanFormat::Markdown => render_markdown(plan),
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
    let settings = common::settings(global, &args.plan)?;
    let Some(inputs) = common::read_manifests(&args.paths, &settings, global.quiet) else {
        return Ok(ExitCode::from(1));
    };
    let target = common::connect(global, &settings).await?;
    let made = common::make_plan(&target, &inputs, &settings, !global.quiet).await;
    target.close().await;
    let Some((plan, observed)) = made? else {
        return Ok(ExitCode::from(1));
    };
    print_plan(&plan, args.format)?;
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
    let settings = common::settings(global, &plan_args)?;
    let (paths, base) = match &saved {
        // ... and the same manifests, unless named again.
        Some(saved) if args.paths.is_empty() => super::saved_plan::recorded_paths(saved, &settings),
        _ => (args.paths.clone(), common::manifest_base(&settings)),
    };
    let Some(inputs) = common::read_manifests_at(&paths, &settings, global.quiet, base) else {
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
    print_plan(&plan, args.format)?;
    if args.dry_run || plan.is_empty() {
        return Ok(changes_code(&plan, args.detailed_exitcode));
    }
    // A signal now lets the apply, the state file and the report finish first.
    let _writing = super::interrupt::writing();
    match apply::apply(&plan, &observed, &target.client).await {
        Ok(report) => {
            target.save_state()?;
            if !global.quiet {
                eprintln!("Applied: {report}.");
            }
            Ok(changes_code(&plan, args.detailed_exitcode))
        }
        Err(e) => {
            // Whatever was applied is kept in a state file too.
            if !e.done().is_empty() {
                target.save_state()?;
            }
            eprintln!("error: {e}");
            Ok(ExitCode::from(1))
        }
    }
}
