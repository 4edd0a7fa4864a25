//! The command-line grammar (clap derive). Every knob of the contract is a flag whose help names its
//! range or allowed values and its default, read from the field table ([`crate::api::fields`]) the
//! validation uses; a flag's value errors name the field as the table does.

use std::path::PathBuf;

use clap::{Args, Parser, Subcommand, ValueEnum};

use crate::api::fields::{Allowed, Field, Value};
use crate::api::params::{
    self, CnType, GenParams, ImageFormat, ParamError, Scheduler, ValidParams,
};
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
        /// An X/Y grid instead: the column axis, e.g. `cn_strength=0.2:1.0:0.4` or
        /// `sampler=euler,dpmpp_2m` (axes: cn_type, cn_strength, cn_stop, guidance, steps, sampler,
        /// scheduler, seed, prompt; prompts separated by `|`).
        #[arg(long, value_name = "AXIS=VALUES", conflicts_with = "types")]
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
    /// What changed between two pictures' settings (ours, or A1111 `parameters` text): one changed
    /// field a line, `field: old → new`, then the prompt's removed and added words.
    Diff {
        /// The first picture: an image, or its `.json` settings file.
        a: PathBuf,
        /// The second picture.
        b: PathBuf,
    },
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

/// The flag that sets `field` (most are the wire name with `-` for `_`).
pub fn flag_of(field: Field) -> String {
    match field {
        Field::CustomWidth => "width".to_owned(),
        Field::CustomHeight => "height".to_owned(),
        Field::ImageFormat => "format".to_owned(),
        Field::UseInputImgDimension => "use-input-size".to_owned(),
        f => f.wire().replace('_', "-"),
    }
}

/// A parameter error as a flag error: `--steps: steps = 80 is not allowed: 15 to 75`.
pub fn flag_error_text(e: &ParamError) -> String {
    let flag = match e.field_id() {
        Some(f) => flag_of(f),
        None => e.field.replace('_', "-"),
    };
    format!("--{flag}: {e}")
}

/// A flag's value read as the table reads `field`'s.
fn parse_value(field: Field, s: &str) -> Result<Value, String> {
    field.parse(s).map_err(|e| e.to_string())
}
fn parse_cn_type(s: &str) -> Result<CnType, String> {
    match parse_value(Field::CnType, s)? {
        Value::CnType(t) => Ok(t),
        other => Err(format!("not a control type: {other}")),
    }
}
fn parse_scheduler(s: &str) -> Result<Scheduler, String> {
    match parse_value(Field::Scheduler, s)? {
        Value::Scheduler(v) => Ok(v),
        other => Err(format!("not a scheduler: {other}")),
    }
}
fn parse_format(s: &str) -> Result<ImageFormat, String> {
    match parse_value(Field::ImageFormat, s)? {
        Value::ImageFormat(v) => Ok(v),
        other => Err(format!("not an image format: {other}")),
    }
}
fn parse_sampler(s: &str) -> Result<String, String> {
    parse_value(Field::Sampler, s).map(|v| v.to_string())
}

/// A flag's help: `what`, then the field's range (`15–75`) or its names (`depth, canny, pose or
/// tile`), from the table.
fn help(what: &str, field: Field) -> String {
    match field.info().allowed {
        Allowed::Int(b) => format!("{what}, {}–{}", b.min, b.max),
        Allowed::Num(b) => format!("{what}, {}–{}", b.min, b.max),
        Allowed::OneOf { names, .. } => match names.split_last() {
            Some((last, rest)) if !rest.is_empty() => {
                format!("{what}: {} or {last}", rest.join(", "))
            }
            _ => format!("{what}: {}", names.join(", ")),
        },
        Allowed::Text | Allowed::Seed { .. } | Allowed::Bool { .. } => what.to_owned(),
    }
}

/// The knobs of one generation.
#[derive(Debug, Clone, Args)]
pub struct GenArgs {
    /// The control image: a local file or an http(s) URL (a photo; the server extracts the control map).
    #[arg(long, value_name = "PATH|URL")]
    pub image: String,
    /// What to generate.
    #[arg(long)]
    pub prompt: String,
    // Control type.
    #[arg(long, help = help("Control type", Field::CnType), default_value_t = CnType::default(), value_parser = parse_cn_type)]
    pub cn_type: CnType,
    /// Sampler (26 names, e.g. euler, dpmpp_2m).
    #[arg(long, default_value = params::DEFAULT_SAMPLER, value_parser = parse_sampler)]
    pub sampler: String,
    // Scheduler.
    #[arg(long, help = help("Scheduler", Field::Scheduler), default_value_t = Scheduler::default(), value_parser = parse_scheduler)]
    pub scheduler: Scheduler,
    /// Seed; -1 lets the server pick one (the seed used is recorded).
    #[arg(long, default_value_t = params::DEFAULT_SEED, allow_negative_numbers = true)]
    pub seed: i64,
    // Inference steps.
    #[arg(long, help = help("Inference steps", Field::Steps), default_value_t = params::STEPS.default)]
    pub steps: u32,
    // Guidance scale.
    #[arg(long, help = help("Guidance scale", Field::Guidance), default_value_t = params::GUIDANCE.default)]
    pub guidance: f64,
    // ControlNet strength.
    #[arg(long, help = help("ControlNet strength", Field::CnStrength), default_value_t = params::CN_STRENGTH.default)]
    pub cn_strength: f64,
    // Fraction of the steps after which the control stops acting.
    #[arg(long, help = help("Fraction of the steps after which the control stops acting", Field::CnStop), default_value_t = params::CN_STOP.default)]
    pub cn_stop: f64,
    // Output width (used with --use-input-size false).
    #[arg(long, help = help("Output width", Field::CustomWidth) + " (used with --use-input-size false)", default_value_t = params::SIZE.default)]
    pub width: u32,
    // Output height (used with --use-input-size false).
    #[arg(long, help = help("Output height", Field::CustomHeight) + " (used with --use-input-size false)", default_value_t = params::SIZE.default)]
    pub height: u32,
    /// Take the output size from the input image (then --width/--height are ignored).
    #[arg(long, default_value_t = true, action = clap::ArgAction::Set, value_name = "true|false")]
    pub use_input_size: bool,
    // Output format.
    #[arg(long, help = help("Output format", Field::ImageFormat), default_value_t = ImageFormat::default(), value_parser = parse_format)]
    pub format: ImageFormat,
    // Output quality.
    #[arg(long, help = help("Output quality", Field::Quality), default_value_t = params::QUALITY.default)]
    pub quality: u32,
    // Images for these settings.
    #[arg(long, help = help("Images for these settings", Field::Samples), default_value_t = params::SAMPLES.default)]
    pub samples: u32,
    /// How several samples are requested.
    #[arg(long, value_enum, default_value_t = SamplesMode::Split)]
    pub samples_mode: SamplesMode,
    /// Which API: v1 (synchronous) or v2 (submit/poll; resumable with `fluxcn resume`).
    #[arg(long, value_enum, default_value_t = ApiArg::V1)]
    pub api: ApiArg,
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

    /// The parameters these flags describe (not yet validated).
    pub fn params(&self) -> GenParams {
        GenParams {
            prompt: self.prompt.clone(),
            sampler: self.sampler.clone(),
            scheduler: self.scheduler,
            seed: self.seed,
            base64: false,
            cn_stop: self.cn_stop,
            cn_strength: self.cn_strength,
            cn_type: self.cn_type,
            custom_height: self.height,
            custom_width: self.width,
            guidance: self.guidance,
            image_format: self.format,
            quality: self.quality,
            samples: self.samples,
            steps: self.steps,
            use_input_img_dimension: self.use_input_size,
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
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
            help("Inference steps", Field::Steps),
            "Inference steps, 15–75"
        );
        assert_eq!(
            help("Control type", Field::CnType),
            "Control type: depth, canny, pose or tile"
        );
        let mut cmd = Cli::command();
        let gen_help = cmd
            .find_subcommand_mut("generate")
            .unwrap()
            .render_help()
            .to_string();
        assert!(gen_help.contains("Guidance scale, 1–15"), "{gen_help}");
        assert!(
            gen_help.contains("Output width, 64–4096 (used with"),
            "{gen_help}"
        );

        assert_eq!(g.valid_params().unwrap().params(), &want);
        let e = GenArgs { width: 5000, ..g }.valid_params().unwrap_err();
        assert_eq!(e, "--width: custom_width = 5000 is not allowed: 64 to 4096");
        assert_eq!(flag_of(Field::CnStrength), "cn-strength");
        assert_eq!(flag_of(Field::UseInputImgDimension), "use-input-size");
    }
}
