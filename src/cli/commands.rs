//! What each subcommand does. The CLI runs the same job runtime as the app: inputs are prepared,
//! requests paced and retried, results saved with their sidecars, and the journal kept, in one place.

use std::io::{BufRead, Write};
use std::path::{Path, PathBuf};
use std::time::Duration;

use tokio_util::sync::CancellationToken;

use super::args::{Cli, Cmd, GenArgs, KeyAction, SamplesMode};
use super::engine::{
    EngineOpts, check_budget, client_template, data_dir, engine, resolve_key, runtime,
};
use crate::api::{ApiError, ApiKey, Client, GenParams, params};
use crate::gallery;
use crate::jobs::grid::{self, Axis, GridPlan};
use crate::jobs::{self, Event, InputSource, JobId, JobSpec, JobsHandle, SavedImage};
use crate::keystore::KeyStore;

/// A failure of a command, as one line for `error: …`.
#[derive(Debug, thiserror::Error)]
pub enum CliError {
    #[error("{0}")]
    Api(#[from] ApiError),
    #[error("{0}")]
    Gallery(#[from] gallery::GalleryError),
    #[error("{0}")]
    Journal(#[from] jobs::journal::JournalError),
    #[error("{0}")]
    Key(#[from] crate::keystore::KeyStoreError),
    /// One or more generations failed (each was already reported on stderr).
    #[error("{0}")]
    Failed(String),
    /// Refused before sending: over the daily budget (the message names the figures).
    #[error("{0}")]
    Budget(String),
    #[error("{0}")]
    Other(String),
}

/// Runs the parsed command line.
pub fn run(cli: Cli) -> Result<(), CliError> {
    if cli.demo && cli.cmd.is_some() {
        // Said plainly rather than ignored: a command would otherwise go to the real service.
        return Err(CliError::Other(
            "--demo opens the window with its own stand-in server; for a command, start one with \
             `fluxcn sim` and add `--api-base http://127.0.0.1:8787/v1` (any key in \
             SEGMIND_API_KEY works there)"
                .into(),
        ));
    }
    match &cli.cmd {
        None => super::app::open_app(&cli),
        Some(Cmd::Generate(g)) => generate(&cli, g),
        Some(Cmd::Compare {
            args,
            types,
            x,
            y,
            grid,
        }) => compare(
            &cli,
            args,
            types,
            x.as_deref(),
            y.as_deref(),
            grid.as_deref(),
        ),
        Some(Cmd::Resume { out }) => resume(&cli, out.clone()),
        Some(Cmd::Credits) => credits(&cli),
        Some(Cmd::Key { action }) => key(action),
        Some(Cmd::Gallery { action }) => super::gallery::run(action, data_dir()?),
        Some(Cmd::Diff { a, b }) => super::diff::run(a, b),
        Some(Cmd::Batch(b)) => super::batch::run(&cli, b),
        Some(Cmd::Spend { days }) => super::spend::run(*days),
        Some(Cmd::Reconcile { days, import }) => super::reconcile::run(&cli, *days, *import),
        Some(Cmd::Paths) => {
            for (name, place) in crate::jobs::Places::here().lines() {
                println!("{name:<9}{place}");
            }
            Ok(())
        }
        Some(Cmd::Sim {
            port,
            delay_ms,
            faults,
            seed,
            history_envelope,
        }) => {
            let faults = faults
                .parse()
                .map_err(|e| CliError::Other(format!("--faults: {e}")))?;
            let cfg = crate::sim::SimConfig {
                delay: Duration::from_millis(*delay_ms),
                faults,
                seed: *seed,
                history_envelope: *history_envelope,
                ..Default::default()
            };
            runtime()?
                .block_on(crate::sim::serve(cfg, *port))
                .map_err(|e| CliError::Other(format!("the stand-in server stopped: {e}")))
        }
    }
}

/// Images a set of jobs asks for (what it is priced by).
fn images_of(specs: &[JobSpec]) -> usize {
    specs.iter().map(|s| s.params.samples.max(1) as usize).sum()
}

/// The jobs for one setting: one request, or one per sample with consecutive seeds.
fn sample_specs(params: &GenParams, input: &InputSource, g: &GenArgs) -> Vec<JobSpec> {
    let n = params.samples;
    if n <= 1 || g.samples_mode == SamplesMode::Single {
        return vec![JobSpec {
            input: input.clone(),
            params: params.clone(),
            api: g.api.into(),
            group: None,
            prompt_template: None,
            batch: None,
            framing: g.framing.framing(),
        }];
    }
    let base_seed = concrete_seed(params.seed);
    (0..n)
        .map(|i| JobSpec {
            input: input.clone(),
            params: GenParams {
                samples: 1,
                seed: (base_seed + i as i64).min(params::MAX_SEED),
                ..params.clone()
            },
            api: g.api.into(),
            group: None,
            prompt_template: None,
            batch: None,
            framing: g.framing.framing(),
        })
        .collect()
}

/// A real seed for `-1`, so that several requests can share (or step from) it.
fn concrete_seed(seed: i64) -> i64 {
    if seed == params::RANDOM_SEED {
        crate::api::params::random_seed()
    } else {
        seed
    }
}

pub(super) fn input_source(image: &str) -> InputSource {
    let t = image.trim();
    // `ftp://…`, `file://…` and the like are addresses too (refused with a reason when prepared),
    // unless a file of that odd name exists.
    let scheme = t.split_once("://").map(|(s, _)| s).filter(|s| {
        s.len() > 1
            && s.starts_with(|c: char| c.is_ascii_alphabetic())
            && s.chars()
                .all(|c| c.is_ascii_alphanumeric() || "+.-".contains(c))
    });
    if t.starts_with("http://")
        || t.starts_with("https://")
        || (scheme.is_some() && !Path::new(t).exists())
    {
        InputSource::Url(t.to_owned())
    } else {
        // Absolute, so that the sidecar and the journal name the file from anywhere.
        let p = PathBuf::from(t);
        InputSource::File(std::path::absolute(&p).unwrap_or(p))
    }
}

/// What a batch of jobs gave: the saved results (label, images) in the order they were given, and
/// the error that sums up the failures, if any. Saved results are reported even when others failed.
struct Batch {
    done: Vec<(String, Vec<SavedImage>)>,
    error: Option<CliError>,
}

impl Batch {
    fn into_result(self) -> Result<(), CliError> {
        match self.error {
            Some(e) => Err(e),
            None => Ok(()),
        }
    }
}

/// Submits `specs`, prints progress on stderr and saved paths on stdout (as they land when `live`,
/// else in the order of `specs` once all ended), and waits for all of them.
fn run_jobs(handle: &JobsHandle, specs: Vec<(String, JobSpec)>, quiet: bool, live: bool) -> Batch {
    let mut labels = std::collections::HashMap::new();
    let mut order = Vec::new();
    for (label, spec) in specs {
        let id = jobs::next_job_id();
        labels.insert(id, label);
        order.push(id);
        if !handle.send(jobs::Command::Submit { id, spec }) {
            return Batch {
                done: Vec::new(),
                error: Some(CliError::Other(
                    "the job runtime stopped unexpectedly".into(),
                )),
            };
        }
    }
    wait_all(handle, labels, order, quiet, live)
}

fn wait_all(
    handle: &JobsHandle,
    mut labels: std::collections::HashMap<JobId, String>,
    order: Vec<JobId>,
    quiet: bool,
    live: bool,
) -> Batch {
    let total = labels.len();
    let mut done: Vec<(JobId, String, Vec<SavedImage>)> = Vec::new();
    let mut failures: Vec<String> = Vec::new();
    let stdout = std::io::stdout();
    while !labels.is_empty() {
        let Some(ev) = handle.recv_blocking() else {
            failures.push("the job runtime stopped unexpectedly".into());
            break;
        };
        match ev {
            Event::Stage { id, stage } => {
                if let (false, Some(l)) = (quiet, labels.get(&id)) {
                    eprintln!("fluxcn: {l}: {}", stage.label());
                }
            }
            Event::Done {
                id,
                images,
                accounting,
            } => {
                let Some(l) = labels.remove(&id) else {
                    continue;
                };
                if live {
                    print_paths(&stdout, &images);
                }
                if !quiet {
                    let credits = accounting
                        .remaining_credits
                        .map(|c| format!(", {c:.2} credits left"))
                        .unwrap_or_default();
                    eprintln!(
                        "fluxcn: {l}: saved {} image{}, seed {}{credits}",
                        images.len(),
                        if images.len() == 1 { "" } else { "s" },
                        images.first().map(|i| i.seed).unwrap_or_default()
                    );
                }
                done.push((id, l, images));
            }
            Event::Failed { id, failure } => {
                let Some(l) = labels.remove(&id) else {
                    continue;
                };
                eprintln!("fluxcn: {l}: failed: {}", failure.message);
                failures.push(if total > 1 {
                    format!("{l}: {}", failure.message)
                } else {
                    failure.message
                });
            }
            Event::Cancelled { id, .. } => {
                if let Some(l) = labels.remove(&id) {
                    failures.push(format!("{l}: cancelled"));
                }
            }
            Event::Recovered { id, request_id, .. } => {
                if let (false, Some(l)) = (quiet, labels.get(&id)) {
                    eprintln!(
                        "fluxcn: {l}: resuming{}",
                        request_id
                            .map(|r| format!(" v2 job {r}"))
                            .unwrap_or_default()
                    );
                }
            }
            Event::Notice(n) => eprintln!("fluxcn: {n}"),
            // The CLI keeps no waiting list: nothing is restored to it.
            Event::Lineup { .. } | Event::Restored { .. } => {}
        }
    }
    done.sort_by_key(|(id, _, _)| order.iter().position(|o| o == id).unwrap_or(usize::MAX));
    if !live {
        for (_, _, images) in &done {
            print_paths(&stdout, images);
        }
    }
    let error = match failures.len() {
        0 => None,
        1 if total == 1 => Some(CliError::Failed(failures.remove(0))),
        n => Some(CliError::Failed(format!(
            "{n} of {total} generations failed; first: {}",
            failures[0]
        ))),
    };
    Batch {
        done: done.into_iter().map(|(_, l, i)| (l, i)).collect(),
        error,
    }
}

/// Saved paths on stdout, one a line.
pub(super) fn print_paths(stdout: &std::io::Stdout, images: &[SavedImage]) {
    let mut out = stdout.lock();
    for img in images {
        // A closed stdout (e.g. `| head`) must not lose the result: it is on disk already.
        let _ = writeln!(out, "{}", img.path.display());
    }
    let _ = out.flush();
}

/// Refuses a `--max-input-side` under what the service can use: every local image would be
/// shrunk below it and sent as a paid request that cannot work.
fn check_input_side(g: &GenArgs) -> Result<(), CliError> {
    crate::api::input::check_max_side(g.max_input_side)
        .map_err(|e| CliError::Other(format!("--max-input-side: {e}")))
}

/// The control image: `--image`, else (with `--like`) the error that says why it is needed.
fn image_of(g: &GenArgs) -> Result<InputSource, CliError> {
    match (&g.image, &g.like) {
        (Some(image), _) => Ok(input_source(image)),
        (None, like) => Err(CliError::Other(format!(
            "--image is required: {} keeps no input image of its own (only a picture fluxcn saved \
             with its input does); name the control image with --image PATH|URL",
            like.as_deref()
                .map_or_else(|| "the command".into(), |p| p.display().to_string())
        ))),
    }
}

fn generate(cli: &Cli, g: &GenArgs) -> Result<(), CliError> {
    let g = &super::like::with_like(g, cli.quiet)?;
    // The flags' one check (the error names the flag); the runtime validates each job again
    // at its boundary, the only place that builds the wire body.
    let params = g.valid_params().map_err(CliError::Other)?.params().clone();
    check_input_side(g)?;
    let input = image_of(g)?;
    let specs = sample_specs(&params, &input, g);
    let specs = super::variations::apply(g, specs, cli.quiet)?;
    check_budget(g.budget, images_of(&specs))?;
    let rt = runtime()?;
    let handle = engine(
        &rt,
        cli,
        EngineOpts {
            out: g.out.clone(),
            concurrency: specs.len().clamp(1, 8),
            resume: false,
            max_input_side: g.max_input_side,
            budget: g.budget,
            rate_per_minute: None,
            upload_inputs: g.upload_input,
        },
    )?
    .handle;
    let n = specs.len();
    let labelled = specs
        .into_iter()
        .enumerate()
        .map(|(i, s)| {
            (
                if let Some(t) = &s.group {
                    format!("{} ({}/{n})", t.label, i + 1)
                } else if n > 1 {
                    format!("sample {}/{n}", i + 1)
                } else {
                    s.params.cn_type.to_string()
                },
                s,
            )
        })
        .collect();
    run_jobs(&handle, labelled, cli.quiet, true).into_result()
}

fn compare(
    cli: &Cli,
    g: &GenArgs,
    types: &[crate::api::CnType],
    x: Option<&str>,
    y: Option<&str>,
    grid_png: Option<&std::path::Path>,
) -> Result<(), CliError> {
    let g = &super::like::with_like(g, cli.quiet)?;
    // The flags' one check (the error names the flag); the runtime validates each job again
    // at its boundary, the only place that builds the wire body.
    let params = g.valid_params().map_err(CliError::Other)?.params().clone();
    check_input_side(g)?;
    super::variations::refuse_in_compare(g)?;
    let input = image_of(g)?;
    let group = jobs::next_job_id();
    let plan = match x {
        Some(x) => {
            let x = Axis::parse_assignment(x).map_err(|e| CliError::Other(e.to_string()))?;
            let y = y
                .map(Axis::parse_assignment)
                .transpose()
                .map_err(|e| CliError::Other(e.to_string()))?;
            grid::plan(&params, &input, g.api.into(), group, x, y)
        }
        // A repeated type is planned once (and said so below).
        None => grid::compare_types(&params, &input, g.api.into(), group, types),
    }
    .map_err(|e| CliError::Other(e.to_string()))?;
    let framing = g.framing.framing();
    let specs: Vec<(String, JobSpec)> = plan
        .cells
        .iter()
        .map(|c| {
            (
                c.group
                    .as_ref()
                    .map(|t| t.label.clone())
                    .unwrap_or_default(),
                JobSpec {
                    framing,
                    ..c.clone()
                },
            )
        })
        .collect();
    check_budget(g.budget, plan.cost_images())?;
    let rt = runtime()?;
    let handle = engine(
        &rt,
        cli,
        EngineOpts {
            out: g.out.clone(),
            concurrency: specs.len().min(8),
            resume: false,
            max_input_side: g.max_input_side,
            budget: g.budget,
            rate_per_minute: None,
            upload_inputs: g.upload_input,
        },
    )?
    .handle;
    if !cli.quiet {
        for d in &plan.duplicates {
            eprintln!("fluxcn: {d}");
        }
        eprintln!(
            "fluxcn: {} with seed {}, sent concurrently",
            plan.cost_text(crate::api::DEFAULT_COST_PER_IMAGE),
            plan.seed
        );
    }
    // Paths in the plan's order (row by row), so a script can tell which file is which cell.
    let results = run_jobs(&handle, specs, cli.quiet, false);
    if let Some(out) = grid_png {
        // Export whatever arrived, failed cells shown as such, even when some failed.
        export_grid(&plan, &results.done, out)?;
        if !cli.quiet {
            eprintln!("fluxcn: wrote the grid to {}", out.display());
        }
    }
    results.into_result()
}

fn resume(cli: &Cli, out: Option<PathBuf>) -> Result<(), CliError> {
    let rt = runtime()?;
    let started = engine(
        &rt,
        cli,
        EngineOpts {
            out,
            concurrency: 4,
            resume: true,
            max_input_side: 2048,
            // Resumed jobs were paid for already: the budget does not hold them back.
            budget: None,
            rate_per_minute: None,
            upload_inputs: false,
        },
    )?;
    let (handle, pending) = (started.handle, started.pending);
    if pending.is_empty() {
        if !cli.quiet {
            eprintln!("fluxcn: no unfinished jobs to resume");
        }
        return Ok(());
    }
    let order = pending.clone();
    let labels: std::collections::HashMap<JobId, String> = pending
        .into_iter()
        .map(|id| (id, format!("job {id}")))
        .collect();
    wait_all(&handle, labels, order, cli.quiet, true).into_result()
}

fn credits(cli: &Cli) -> Result<(), CliError> {
    let key = resolve_key()?;
    let client = Client::new(client_template(cli), key)?;
    let c = runtime()?.block_on(client.credits(&CancellationToken::new()))?;
    let fmt = |v: Option<f64>| {
        v.map(|v| format!("{v:.2}"))
            .unwrap_or_else(|| "unknown".into())
    };
    println!("credits: {}", fmt(c.credits));
    println!("free credits: {}", fmt(c.free_credits));
    Ok(())
}

fn key(action: &KeyAction) -> Result<(), CliError> {
    let store = KeyStore::system();
    match action {
        KeyAction::Set => {
            let mut line = String::new();
            std::io::stdin().lock().read_line(&mut line).map_err(|e| {
                CliError::Other(format!("could not read the key from standard input: {e}"))
            })?;
            let key = ApiKey::new(&line).ok_or_else(|| {
                CliError::Other(
                    "no key on standard input: pipe or type it, e.g. `fluxcn key set < key.txt`"
                        .into(),
                )
            })?;
            if let Some(w) = key.shape_warning() {
                eprintln!("warning: {w}");
            }
            store.set(&key)?;
            println!("stored the key {} in the OS keyring", key.masked());
            if std::env::var_os(crate::keystore::ENV_VAR).is_some() {
                eprintln!("note: SEGMIND_API_KEY is set and overrides the stored key");
            }
            Ok(())
        }
        KeyAction::Clear => {
            store.clear()?;
            println!("removed the stored key");
            Ok(())
        }
        KeyAction::Status => {
            println!("{}", describe_key_state(&store.state()));
            Ok(())
        }
    }
}

/// One line on where the key comes from.
pub fn describe_key_state(s: &jobs::KeyState) -> String {
    match s {
        jobs::KeyState::FromEnv { masked } => {
            format!("key {masked} from SEGMIND_API_KEY (overrides the keyring)")
        }
        jobs::KeyState::Stored { masked } => format!("key {masked} stored in the OS keyring"),
        jobs::KeyState::Missing => {
            "no key: set one with `fluxcn key set` or SEGMIND_API_KEY".into()
        }
        jobs::KeyState::Unavailable(why) => why.clone(),
    }
}

/// Writes the grid's results as one labelled PNG.
fn export_grid(
    plan: &GridPlan,
    done: &[(String, Vec<SavedImage>)],
    out: &std::path::Path,
) -> Result<(), CliError> {
    let cells: Vec<crate::jobs::export::GridCell> = plan
        .cells
        .iter()
        .map(|c| {
            let label = c
                .group
                .as_ref()
                .map(|t| t.label.clone())
                .unwrap_or_default();
            let image = done
                .iter()
                .find(|(l, _)| *l == label)
                .and_then(|(_, imgs)| imgs.first())
                .map(|i| i.path.clone());
            crate::jobs::export::GridCell {
                row: c.group.as_ref().map_or(0, |t| t.row),
                col: c.group.as_ref().map_or(0, |t| t.col),
                image,
            }
        })
        .collect();
    crate::jobs::export::write_grid_png(plan, &cells, out)
        .map_err(|e| CliError::Other(e.to_string()))
}
