//! The command-line grammar (clap derive). Every knob of the contract is a flag whose help names its
//! range or allowed values and its default, read from the field table ([`crate::api::fields`]) the
//! validation uses; a flag's value errors name the field as the table does.

use crate::api::framing::{self, Aspect, AspectFit, Crop, Fill, Fit, Framing, Turn};
use std::path::PathBuf;

use clap::{Args, Parser, Subcommand, ValueEnum};

use super::knobs::Knobs;
use crate::api::fields::Field;
use crate::api::fields::Value;
use crate::api::params::{CnType, GenParams, ParamError, ValidParams};
use crate::types::ApiVersion;

/// Flux ControlNet Studio: generate images with Segmind's Flux.1 ControlNet API.
///
/// With no subcommand, opens the desktop app.
#[derive(Debug, Parser)]
#[command(name = "fluxcn", version, about, long_about = None)]
pub struct Cli {
    /// The API's base URL (a proxy, a staging gateway, or `fluxcn sim`).
    #[arg(long, global = true, env = "FLUXCN_API_BASE", default_value = crate::api::DEFAULT_API_BASE)]
    pub api_base: String,

    /// Segmind's request-history service (default: Segmind's; a loopback --api-base serves it).
    /// The key goes to it, so it must be https (or loopback http).
    #[arg(long, global = true, env = "FLUXCN_HISTORY_BASE", value_name = "URL")]
    pub history_base: Option<String>,

    /// Segmind's asset store, for --upload-input (default: Segmind's; a loopback --api-base serves
    /// it). The key goes to it, so it must be https (or loopback http).
    #[arg(long, global = true, env = "FLUXCN_STORAGE_BASE", value_name = "URL")]
    pub storage_base: Option<String>,

    /// Open the app wired to an in-process stand-in server: no key, no network needed.
    #[arg(long)]
    pub demo: bool,

    /// Only errors on stderr (no progress lines).
    #[arg(long, short, global = true)]
    pub quiet: bool,

    /// Retries after a failure the contract allows retrying (429, 502, 503, 504, no connection).
    #[arg(long, global = true, default_value_t = 4)]
    pub retries: u32,

    #[command(subcommand)]
    pub cmd: Option<Cmd>,
}

#[derive(Debug, Subcommand)]
pub enum Cmd {
    /// Generate one image (or one per sample) and save it with its parameters.
    Generate(GenArgs),
    /// The same settings and seed for several control types, sent concurrently.
    Compare {
        #[command(flatten)]
        args: GenArgs,
        /// The control types to compare.
        #[arg(long, value_delimiter = ',', default_value = "pose,depth,canny,tile", value_parser = parse_cn_type)]
        types: Vec<CnType>,
        // The column axis (its help lists the axes from the field table).
        #[arg(long, value_name = "AXIS=VALUES", conflicts_with = "types", help = axes_help())]
        x: Option<String>,
        /// The row axis of the grid (needs --x).
        #[arg(long, value_name = "AXIS=VALUES", requires = "x")]
        y: Option<String>,
        /// Also write all results as one labelled PNG (axis labels drawn, parameters embedded).
        #[arg(long, value_name = "PNG")]
        grid: Option<PathBuf>,
    },
    /// Finish the v2 jobs a crash or a kill left unfinished (by polling, never by submitting again).
    Resume {
        /// Where to save results (default: the gallery).
        #[arg(long)]
        out: Option<PathBuf>,
    },
    /// Show the account's credit balance (free; also checks the key).
    Credits,
    /// Store, clear or inspect the API key in the OS keyring.
    Key {
        #[command(subcommand)]
        action: KeyAction,
    },
    /// Search the gallery, or rebuild its catalog from the pictures' settings files.
    Gallery {
        #[command(subcommand)]
        action: GalleryAction,
    },
    /// What changed between two pictures' settings (ours, or those another tool such as A1111 wrote
    /// into its image): one changed field a line, `field: old → new`, then the prompt's removed and
    /// added words.
    Diff {
        /// The first picture: an image, or its `.json` settings file.
        a: PathBuf,
        /// The second picture.
        b: PathBuf,
    },
    /// Run a file of requests: JSONL (one object of request fields a line) or CSV (a header row of
    /// field names). `image` is a path (relative to the file) or an http(s) URL; other fields are
    /// the request's (`prompt`, `cn_type`, `steps`, …) with the contract's defaults. Every line is
    /// checked before anything is sent. Run it again to resume: saved lines are skipped, and a
    /// line sent with no answer known is never sent again unless --resend-unknown is given.
    Batch(BatchArgs),
    /// What was spent (from the ledger of every billed job): today, this month, all time, by
    /// control type, and the last days.
    Spend {
        /// How many recent days to list one by one.
        #[arg(long, default_value_t = 7, value_parser = clap::value_parser!(u32).range(0..=366))]
        days: u32,
    },
    /// Set the ledger beside Segmind's request history for this model: estimates replaced by what
    /// the account charged, charges the ledger did not know (the playground, another machine, a
    /// lost answer) listed with their cost and recorded, so that today's figure and the daily
    /// budget are the account's.
    Reconcile {
        /// How many days back to read (31-day windows, as the history allows).
        #[arg(long, default_value_t = 7, value_parser = clap::value_parser!(u32).range(1..=366))]
        days: u32,
        /// Bring the images of charges the ledger did not know into the gallery, with the
        /// settings of their request.
        #[arg(long)]
        import: bool,
    },
    /// Where this user's files live on this machine: the gallery, the data folder, the ledger,
    /// the journal, the window's settings, and which OS keyring holds the key.
    Paths,
    /// Run the loopback stand-in server (for trying things without a key or network).
    Sim {
        #[arg(long, default_value_t = 8787)]
        port: u16,
        /// How long one generation takes.
        #[arg(long, default_value_t = 1000)]
        delay_ms: u64,
        /// Random faults, e.g. `429:0.1,500:0.05,reset:0.05,truncate:0.05,slow:0.05`.
        #[arg(long, default_value = "")]
        faults: String,
        /// Seed of the fault draws (the same seed gives the same faults).
        #[arg(long, default_value_t = 0)]
        seed: u64,
        /// How request-history pages wrap their rows: data, items, rows, results or bare (the
        /// real envelope is not documented; the client reads each).
        #[arg(long, default_value = "data", value_parser = crate::sim::Envelope::parse)]
        history_envelope: crate::sim::Envelope,
    },
}

#[derive(Debug, Subcommand)]
pub enum GalleryAction {
    /// Print the images whose settings match, one path a line: prompt words (prefixes) and
    /// `"phrases"`, `field:value` (`cn_type:depth`, `sampler:euler`), `steps>=30`, `rating>=4`,
    /// `seed:123`, `is:fav`.
    Search {
        /// The search; none lists every image.
        #[arg(num_args = 0.., value_name = "TERMS")]
        terms: Vec<String>,
        /// The order.
        #[arg(long, value_enum, default_value_t = SortArg::Newest)]
        sort: SortArg,
        /// At most this many paths.
        #[arg(long)]
        limit: Option<usize>,
        /// The gallery folder (default: the gallery).
        #[arg(long)]
        out: Option<PathBuf>,
    },
    /// Rebuild the gallery's catalog from the pictures' settings files (and the settings inside
    /// images that lost theirs).
    Rebuild {
        /// The gallery folder (default: the gallery).
        #[arg(long)]
        out: Option<PathBuf>,
    },
}

/// The order of `gallery search`.
#[derive(Debug, Clone, Copy, PartialEq, Eq, ValueEnum)]
pub enum SortArg {
    Newest,
    Oldest,
    Rating,
}

#[derive(Debug, Subcommand)]
pub enum KeyAction {
    /// Read a key from standard input (one line) and store it in the keyring.
    Set,
    /// Remove the stored key.
    Clear,
    /// Say where the key comes from (shows a masked hint such as `SG_…ef`, never the key).
    Status,
}

/// How `--samples N` above 1 is sent.
#[derive(Debug, Clone, Copy, PartialEq, Eq, ValueEnum)]
pub enum SamplesMode {
    /// N requests with `samples: 1` and seeds seed, seed+1, …: N images for sure, N × the cost.
    Split,
    /// One request with `samples: N`: how the service returns several images is not documented.
    Single,
}

/// The flag that sets `field` (most are the wire name with `-` for `_`; a field without a flag
/// is named by its wire name).
pub fn flag_of(field: Field) -> String {
    super::knobs::flag_name(field).unwrap_or_else(|| field.wire().replace('_', "-"))
}

/// A parameter error as a flag error: `--steps: steps = 80 is not allowed: 15 to 75`.
pub fn flag_error_text(e: &ParamError) -> String {
    let flag = match e.field_id() {
        Some(f) => flag_of(f),
        None => e.field.replace('_', "-"),
    };
    format!("--{flag}: {e}")
}

/// `--x`'s help: the axes are the fields whose row of the table has an example.
fn axes_help() -> String {
    let names: Vec<&str> = crate::jobs::grid::axes().map(Field::wire).collect();
    format!(
        "An X/Y grid instead: the column axis, e.g. `cn_strength=0.2:1.0:0.4` or \
         `sampler=euler,dpmpp_2m` (axes: {}; free text such as prompts separated by `|`)",
        names.join(", ")
    )
}

/// `--scale`: a number in the refine's range.
fn parse_scale(s: &str) -> Result<f64, String> {
    let v: f64 = s
        .trim()
        .parse()
        .map_err(|_| format!("not a number: {s:?}"))?;
    match crate::api::refine::scale_problem(v) {
        Some(why) => Err(why),
        None => Ok(v),
    }
}

/// A control type as the table reads it (`--types`' values).
fn parse_cn_type(s: &str) -> Result<CnType, String> {
    match Field::CnType.parse(s).map_err(|e| e.to_string())? {
        Value::CnType(t) => Ok(t),
        other => Err(format!("not a control type: {other}")),
    }
}

/// The knobs of one generation. Each knob is `None` when its flag is not given: it then takes the
/// value of `--like FILE`, else the contract's default ([`GenArgs::params`]).
#[derive(Debug, Clone, Args)]
pub struct GenArgs {
    /// Start from every setting found in FILE: a picture made by fluxcn (or its .json settings
    /// file), AUTOMATIC1111/Forge, ComfyUI or InvokeAI; the flags given override them. Its seed is
    /// the one the picture was made with. What FILE says that has no counterpart here is printed.
    #[arg(long, value_name = "FILE")]
    pub like: Option<PathBuf>,
    /// Refine PICTURE: it becomes the input, with the tile control type, its prompt, knobs and
    /// seed (from its settings), and an output --scale times its size (at most 4096 a side); the
    /// flags given override them, as with --like.
    #[arg(long, value_name = "PICTURE", conflicts_with_all = ["like", "image"])]
    pub refine: Option<PathBuf>,
    /// How much larger than PICTURE a --refine makes the output (more than 1, at most 4).
    #[arg(long, default_value_t = crate::api::refine::DEFAULT_SCALE, requires = "refine", value_parser = parse_scale)]
    pub scale: f64,
    /// The control image: a local file or an http(s) URL (a photo; the server extracts the control
    /// map). With --like a fluxcn picture whose input was kept, that input is the default.
    #[arg(long, value_name = "PATH|URL", required_unless_present_any = ["like", "refine"])]
    pub image: Option<String>,
    /// The knobs, one flag per field of the table (`--prompt`, `--cn-type`, `--steps`, …): with
    /// --like, what FILE says is the default of each.
    #[command(flatten)]
    pub knobs: Knobs,
    /// How a local input is framed before it is sent (turn, flip, crop, aspect).
    #[command(flatten)]
    pub framing: FramingArgs,
    /// How several samples are requested.
    #[arg(long, value_enum, default_value_t = SamplesMode::Split)]
    pub samples_mode: SamplesMode,
    /// Which API: v2 (submit/poll: journaled, resumable with `fluxcn resume`, the default) or v1
    /// (one synchronous request, which Segmind keeps in maintenance mode). FLUXCN_API sets it for
    /// every command.
    #[arg(long, value_enum, env = "FLUXCN_API", default_value_t = ApiArg::V2)]
    pub api: ApiArg,
    /// Upload the input to Segmind's storage once and send its URL, here and in every later
    /// request with the same input (the input then lives at a persistent URL at Segmind).
    #[arg(long)]
    pub upload_input: bool,
    /// Where to save results (default: the gallery in the data folder).
    #[arg(long, value_name = "DIR")]
    pub out: Option<PathBuf>,
    /// Longest side of a local input image before it is downscaled.
    #[arg(long, default_value_t = 2048)]
    pub max_input_side: u32,
    /// Expand `{a|b|c}` choices in the prompt: one job per combination (at most 64), all with one
    /// seed; the count and cost are printed first (`\{` is a literal brace). Generate only.
    #[arg(long)]
    pub variations: bool,
    /// Send variations that make more than 4 images (without it they are refused, unsent).
    #[arg(long, requires = "variations")]
    pub yes: bool,
    /// The daily budget in USD: work whose estimate would take today's spend over it is refused,
    /// unsent.
    #[arg(long, value_name = "USD", env = crate::jobs::budget::BUDGET_ENV, value_parser = parse_budget)]
    pub budget: Option<f64>,
}

/// Framing a local input before it is sent, in this order: --turn, --flip, --crop, --aspect.
/// The kept input (and what the sidecar names) is the framed picture as sent.
#[derive(Debug, Clone, Args)]
pub struct FramingArgs {
    /// Turn the input clockwise: 90, 180 or 270 degrees.
    #[arg(long, value_name = "DEGREES", value_parser = parse_turn)]
    pub turn: Option<Turn>,
    /// Mirror the input: h (left to right) or v (top to bottom); give it twice for both.
    #[arg(long, value_enum)]
    pub flip: Vec<FlipArg>,
    /// Crop the input to X,Y,W,H pixels of the picture as it stands (upright, after --turn).
    #[arg(long, value_name = "X,Y,W,H", value_parser = parse_crop)]
    pub crop: Option<Crop>,
    /// Bring the input to this aspect (W:H, e.g. 16:9); --fit says how.
    #[arg(long, value_name = "W:H", value_parser = parse_aspect)]
    pub aspect: Option<Aspect>,
    /// How --aspect is reached: crop (its centred part) or pad (the room around filled).
    #[arg(long, value_enum, default_value_t = FitArg::Crop, requires = "aspect")]
    pub fit: FitArg,
    /// What --fit pad fills with: edge (the picture's border stretched) or a colour (#rrggbb,
    /// black, white, grey).
    #[arg(long, value_name = "edge|COLOUR", default_value = "edge", value_parser = parse_fill, requires = "aspect")]
    pub pad_fill: Fill,
}

impl FramingArgs {
    /// The framing these flags ask for.
    pub fn framing(&self) -> Framing {
        Framing {
            turn: self.turn.unwrap_or_default(),
            flip_h: self.flip.contains(&FlipArg::H),
            flip_v: self.flip.contains(&FlipArg::V),
            crop: self.crop,
            aspect: self.aspect.map(|aspect| AspectFit {
                aspect,
                fit: match self.fit {
                    FitArg::Crop => Fit::Crop,
                    FitArg::Pad => Fit::Pad(self.pad_fill),
                },
            }),
        }
    }
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, ValueEnum)]
pub enum FlipArg {
    H,
    V,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Default, ValueEnum)]
pub enum FitArg {
    #[default]
    Crop,
    Pad,
}

fn parse_turn(s: &str) -> Result<Turn, String> {
    match s.trim().trim_end_matches('°') {
        "0" => Ok(Turn::None),
        "90" => Ok(Turn::Quarter),
        "180" => Ok(Turn::Half),
        "270" => Ok(Turn::ThreeQuarters),
        _ => Err(format!("turn by 90, 180 or 270 degrees, not {s:?}")),
    }
}

fn parse_crop(s: &str) -> Result<Crop, String> {
    framing::parse_crop(s).map_err(|e| e.to_string())
}

fn parse_aspect(s: &str) -> Result<Aspect, String> {
    framing::parse_aspect(s).map_err(|e| e.to_string())
}

fn parse_fill(s: &str) -> Result<Fill, String> {
    framing::parse_fill(s).map_err(|e| e.to_string())
}

/// `fluxcn batch`.
#[derive(Debug, Args)]
pub struct BatchArgs {
    /// The batch file (`.jsonl` or `.csv`).
    pub file: PathBuf,
    /// Print the number of requests and images and the estimated cost; send nothing.
    #[arg(long)]
    pub dry_run: bool,
    /// Send again the lines a run sent and never heard back from (they may have been billed).
    #[arg(long)]
    pub resend_unknown: bool,
    /// Which API: v2 (submit/poll: journaled, resumable with `fluxcn resume`, the default) or v1
    /// (one synchronous request, which Segmind keeps in maintenance mode). FLUXCN_API sets it for
    /// every command.
    #[arg(long, value_enum, env = "FLUXCN_API", default_value_t = ApiArg::V2)]
    pub api: ApiArg,
    /// Upload each input to Segmind's storage once and send its URL (the input then lives at a
    /// persistent URL at Segmind).
    #[arg(long)]
    pub upload_input: bool,
    /// Where to save results (default: the gallery in the data folder). The batch's progress is
    /// kept in this folder's catalog: resume with the same --out.
    #[arg(long, value_name = "DIR")]
    pub out: Option<PathBuf>,
    /// How many requests run at once.
    #[arg(long, default_value_t = 4, value_parser = clap::value_parser!(u32).range(1..=64))]
    pub concurrency: u32,
    /// At most this many requests a minute: a number, or your Segmind plan's limit (`free`: 5,
    /// `pro`: 50); none by default. A 429 holds new requests for the time the service asks either way.
    #[arg(long, value_name = "N|free|pro", value_parser = parse_rate)]
    pub rate_per_minute: Option<f64>,
    /// The daily budget in USD: no line is sent that would take today's spend over it.
    #[arg(long, value_name = "USD", env = crate::jobs::budget::BUDGET_ENV, value_parser = parse_budget)]
    pub budget: Option<f64>,
    /// Longest side of a local input image before it is downscaled.
    #[arg(long, default_value_t = 2048)]
    pub max_input_side: u32,
}

/// A rate a minute, or a Segmind plan's (`free`: 5, `pro`: 50).
fn parse_rate(s: &str) -> Result<f64, String> {
    let t = s.trim().to_ascii_lowercase();
    if let Some((_, rate)) = crate::jobs::pacer::PLAN_RATES
        .iter()
        .find(|(plan, _)| plan.to_ascii_lowercase().starts_with(&t) && !t.is_empty())
    {
        return Ok(*rate);
    }
    match t.parse::<f64>() {
        Ok(v) if v.is_finite() && v > 0.0 && v <= 10_000.0 => Ok(v),
        _ => Err(format!(
            "`{s}`: a rate is a number of requests a minute, above 0, or a plan: free (5) or pro (50)"
        )),
    }
}

fn parse_budget(s: &str) -> Result<f64, String> {
    crate::jobs::budget::parse_budget(s)
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, ValueEnum)]
pub enum ApiArg {
    V1,
    V2,
}

impl From<ApiArg> for ApiVersion {
    fn from(a: ApiArg) -> ApiVersion {
        match a {
            ApiArg::V1 => ApiVersion::V1,
            ApiArg::V2 => ApiVersion::V2,
        }
    }
}

impl GenArgs {
    /// The parameters these flags describe, validated: the command line's one validation
    /// boundary. The error names the flag, the field, the value and what is allowed.
    pub fn valid_params(&self) -> Result<ValidParams, String> {
        self.params()
            .validate_into()
            .map_err(|e| flag_error_text(&e))
    }

    /// The parameters these flags describe (not yet validated): the flags given, the contract's
    /// defaults for the others.
    pub fn params(&self) -> GenParams {
        self.params_over(GenParams::default())
    }

    /// The flags given, over `base` (the settings of `--like FILE`, or the defaults).
    pub fn params_over(&self, base: GenParams) -> GenParams {
        let mut p = self.knobs.over(base);
        p.base64 = false;
        p
    }

    /// These flags with `--like FILE`'s settings under them: every knob not given set from `base`
    /// (so that everything after reads one set of flags), `--image` from `input` when not given.
    pub fn over(&self, base: &GenParams, input: Option<String>) -> GenArgs {
        GenArgs {
            image: self.image.clone().or(input),
            knobs: Knobs::of(&self.params_over(base.clone())),
            ..self.clone()
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::cli::knobs::help;
    use clap::CommandFactory;

    #[test]
    fn flags_read_help_defaults_and_errors_from_the_table() {
        Cli::command().debug_assert();
        let cli = Cli::try_parse_from(["fluxcn", "generate", "--image", "a.png", "--prompt", "x"])
            .unwrap();
        let Some(Cmd::Generate(g)) = cli.cmd else {
            panic!("not generate");
        };
        let want = GenParams {
            prompt: "x".into(),
            ..Default::default()
        };
        assert_eq!(g.params(), want);
        let e = Cli::try_parse_from([
            "fluxcn",
            "generate",
            "--image",
            "a",
            "--prompt",
            "x",
            "--cn-type",
            "posee",
        ])
        .unwrap_err()
        .to_string();
        assert!(e.contains("depth, canny, pose, tile"), "{e}");
        let e = Cli::try_parse_from([
            "fluxcn",
            "generate",
            "--image",
            "a",
            "--prompt",
            "x",
            "--sampler",
            "nope",
        ])
        .unwrap_err()
        .to_string();
        assert!(
            e.contains("sampler = \"nope\"") && e.contains("dpmpp_2m"),
            "{e}"
        );

        assert_eq!(
            help(Field::Steps),
            "Steps: denoising steps: more is slower and often finer, 15–75"
        );
        assert_eq!(
            help(Field::CnType),
            "Control type: which structure of the input guides the image: pose skeleton, depth \
             map, canny edges or tile: depth, canny, pose or tile"
        );
        let mut cmd = Cli::command();
        let gen_help = cmd
            .find_subcommand_mut("generate")
            .unwrap()
            .render_help()
            .to_string();
        // Help is wrapped to the terminal: compare it with its line breaks as spaces.
        let flat = gen_help.split_whitespace().collect::<Vec<_>>().join(" ");
        assert!(
            flat.contains(
                "Guidance: how closely the image follows the prompt, 1–15 [default: 3.5]"
            ),
            "{gen_help}"
        );
        assert!(
            flat.contains("--width <WIDTH> Width: output width in pixels"),
            "{gen_help}"
        );
        assert!(gen_help.contains("--like <FILE>"), "{gen_help}");

        assert_eq!(g.valid_params().unwrap().params(), &want);
        let mut wide = g.clone();
        wide.knobs
            .set(Field::CustomWidth, Value::Int(5000))
            .unwrap();
        let e = wide.valid_params().unwrap_err();
        assert_eq!(e, "--width: custom_width = 5000 is not allowed: 64 to 4096");
        assert_eq!(flag_of(Field::CnStrength), "cn-strength");
        assert_eq!(flag_of(Field::UseInputImgDimension), "use-input-size");
    }
}

#[cfg(test)]
mod like_tests {
    use super::*;

    fn generate(args: &[&str]) -> GenArgs {
        let argv = ["fluxcn", "generate"].iter().chain(args.iter());
        match Cli::try_parse_from(argv).unwrap().cmd {
            Some(Cmd::Generate(g)) => g,
            other => panic!("not generate: {other:?}"),
        }
    }

    #[test]
    fn like_files_settings_are_overridden_only_by_the_flags_given() {
        let file = GenParams {
            prompt: "from the file".into(),
            steps: 33,
            guidance: 7.0,
            seed: 42,
            cn_type: CnType::Depth,
            custom_width: 512,
            use_input_img_dimension: false,
            ..GenParams::default()
        };
        let g = generate(&["--like", "x.png", "--steps", "40"]);
        assert_eq!(
            g.image, None,
            "--image is not required by the parser with --like"
        );
        let p = g.params_over(file.clone());
        assert_eq!(
            p,
            GenParams {
                steps: 40,
                ..file.clone()
            },
            "flags left out (defaults included) never override the file"
        );
        // Given flags win, even when they equal the contract's default.
        let g = generate(&[
            "--like",
            "x.png",
            "--prompt",
            "mine",
            "--guidance",
            "3.5",
            "--use-input-size",
            "true",
        ]);
        let p = g.params_over(file.clone());
        assert_eq!((p.prompt.as_str(), p.guidance), ("mine", 3.5));
        assert!(p.use_input_img_dimension);
        assert_eq!((p.steps, p.seed, p.cn_type), (33, 42, CnType::Depth));
        // `over` gives flags that read the same settings, and fills --image from a kept input.
        let o = g.over(&file, Some("/kept/in.jpg".into()));
        assert_eq!(o.params(), p);
        assert_eq!(o.image.as_deref(), Some("/kept/in.jpg"));
        let given = generate(&["--like", "x.png", "--image", "a.png"]);
        assert_eq!(
            given.over(&file, Some("/kept".into())).image.as_deref(),
            Some("a.png")
        );
    }

    #[test]
    fn without_like_the_prompt_is_required_and_defaults_apply() {
        let e = Cli::try_parse_from(["fluxcn", "generate", "--image", "a.png"])
            .unwrap_err()
            .to_string();
        assert!(e.contains("--prompt"), "{e}");
        let g = generate(&["--image", "a.png", "--prompt", "x"]);
        assert_eq!(g.like, None);
        assert_eq!(
            g.params(),
            GenParams {
                prompt: "x".into(),
                ..GenParams::default()
            }
        );
    }
}
