//! The command-line grammar (clap derive). Every knob of the contract is a flag whose help names its
//! range and default, read from the same constants the validation uses.

use std::path::PathBuf;

use clap::{Args, Parser, Subcommand, ValueEnum};

use crate::api::params::{self, CnType, GenParams, ImageFormat, Scheduler};
use crate::jobs::ApiVersion;

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

fn parse_cn_type(s: &str) -> Result<CnType, String> {
    s.parse().map_err(|e: params::ParamError| e.to_string())
}
fn parse_scheduler(s: &str) -> Result<Scheduler, String> {
    s.parse().map_err(|e: params::ParamError| e.to_string())
}
fn parse_format(s: &str) -> Result<ImageFormat, String> {
    s.parse().map_err(|e: params::ParamError| e.to_string())
}
fn parse_sampler(s: &str) -> Result<String, String> {
    if params::is_known_sampler(s) {
        Ok(s.to_owned())
    } else {
        Err(format!(
            "unknown sampler {s:?}: one of {}",
            params::SAMPLERS.join(", ")
        ))
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
    /// Control type: depth, canny, pose or tile.
    #[arg(long, default_value = "pose", value_parser = parse_cn_type)]
    pub cn_type: CnType,
    /// Sampler (26 names, e.g. euler, dpmpp_2m).
    #[arg(long, default_value = params::DEFAULT_SAMPLER, value_parser = parse_sampler)]
    pub sampler: String,
    /// Scheduler: normal, karras, exponential, sgm_uniform, simple, ddim_uniform, beta.
    #[arg(long, default_value = "simple", value_parser = parse_scheduler)]
    pub scheduler: Scheduler,
    /// Seed; -1 lets the server pick one (the seed used is recorded).
    #[arg(long, default_value_t = params::DEFAULT_SEED, allow_negative_numbers = true)]
    pub seed: i64,
    /// Inference steps, 15–75.
    #[arg(long, default_value_t = params::STEPS.default)]
    pub steps: u32,
    /// Guidance scale, 1–15.
    #[arg(long, default_value_t = params::GUIDANCE.default)]
    pub guidance: f64,
    /// ControlNet strength, 0–2.
    #[arg(long, default_value_t = params::CN_STRENGTH.default)]
    pub cn_strength: f64,
    /// Fraction of the steps after which the control stops acting, 0–1.
    #[arg(long, default_value_t = params::CN_STOP.default)]
    pub cn_stop: f64,
    /// Output width, 64–4096 (used with --use-input-size false).
    #[arg(long, default_value_t = params::SIZE.default)]
    pub width: u32,
    /// Output height, 64–4096 (used with --use-input-size false).
    #[arg(long, default_value_t = params::SIZE.default)]
    pub height: u32,
    /// Take the output size from the input image (then --width/--height are ignored).
    #[arg(long, default_value_t = true, action = clap::ArgAction::Set, value_name = "true|false")]
    pub use_input_size: bool,
    /// Output format: jpeg, png or webp.
    #[arg(long, default_value = "jpeg", value_parser = parse_format)]
    pub format: ImageFormat,
    /// Output quality, 10–100.
    #[arg(long, default_value_t = params::QUALITY.default)]
    pub quality: u32,
    /// Images for these settings, 1–4.
    #[arg(long, default_value_t = params::SAMPLES.default)]
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
