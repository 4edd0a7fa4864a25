//! What the window remembers across restarts (parameters and settings, through eframe's storage),
//! and how it turns into the runtime's configuration. The API key is never part of it.

use serde::{Deserialize, Serialize};

use crate::api::GenParams;
use crate::api::params::MAX_SEED;
use crate::jobs::{ApiVersion, InputSource, RuntimeConfig};

/// The key under which [`State`] is stored in eframe's storage.
pub const STORAGE_KEY: &str = "fluxcn_state";

/// Concurrency the settings allow (generations at once).
pub const CONCURRENCY_RANGE: std::ops::RangeInclusive<usize> = 1..=8;
/// Pacing the settings allow (requests a minute).
pub const RATE_RANGE: std::ops::RangeInclusive<f64> = 1.0..=600.0;
/// The longest input side the settings allow before the runtime downscales.
pub const MAX_INPUT_SIDE_RANGE: std::ops::RangeInclusive<u32> = 256..=4096;

/// How the seed of the next generation is chosen.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum SeedMode {
    /// The seed in the controls, every time (reproducible).
    #[default]
    Locked,
    /// Send `-1`: the server picks, and tells us which it used.
    ServerRandom,
    /// A fresh random number for each generation, picked here (known before sending).
    FreshRandom,
}

impl SeedMode {
    pub const ALL: [SeedMode; 3] = [
        SeedMode::Locked,
        SeedMode::ServerRandom,
        SeedMode::FreshRandom,
    ];

    /// The name the seed menu shows.
    pub fn label(self) -> &'static str {
        match self {
            SeedMode::Locked => "locked",
            SeedMode::ServerRandom => "random (server picks)",
            SeedMode::FreshRandom => "random (new each run)",
        }
    }

    /// What the mode does, in a sentence (each menu entry's tooltip).
    pub fn explained(self) -> &'static str {
        match self {
            SeedMode::Locked => {
                "The seed below, every time: the same settings make the same picture again"
            }
            SeedMode::ServerRandom => {
                "Segmind picks a new seed for each image and says which it used (shown on the \
                 result, reusable): you learn the seed only when the image is back"
            }
            SeedMode::FreshRandom => {
                "fluxcn picks a new seed before each job is sent: you see it in the queue at once"
            }
        }
    }

    /// The seed to send for one generation, given the seed in the controls.
    pub fn seed_for_run(self, locked: i64) -> i64 {
        match self {
            SeedMode::Locked => locked.clamp(0, MAX_SEED),
            SeedMode::ServerRandom => crate::api::params::RANDOM_SEED,
            SeedMode::FreshRandom => crate::api::params::random_seed(),
        }
    }
}

/// The settings panel's values (everything but the key).
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(default)]
pub struct Settings {
    /// The service's base URL (`…/v1`).
    pub api_base: String,
    pub api_version: ApiVersion,
    /// Generations at once.
    pub concurrency: usize,
    /// Requests a minute; `None`: no pacing.
    pub rate_per_minute: Option<f64>,
    /// The longest side of a local input image before it is downscaled.
    pub max_input_side: u32,
    pub seed_mode: SeedMode,
    /// The daily budget (USD); `None`: none set here (`FLUXCN_DAILY_BUDGET` may set one).
    pub daily_budget: Option<f64>,
    /// Upload each input to Segmind's storage once and send its URL (off until the user turns it
    /// on: the input then lives at a persistent URL at Segmind).
    pub upload_inputs: bool,
    /// The suggestion to upload inputs was made (it is made once).
    pub upload_suggested: bool,
    /// These settings know that v2 is the default: settings stored before it was (when v1 was
    /// the default, stored as such) move to v2 once. (Missing from a stored file: `false`.)
    #[serde(default)]
    pub v2_default: bool,
}

impl Default for Settings {
    fn default() -> Self {
        let rc = RuntimeConfig::default();
        Settings {
            api_base: rc.api_base,
            // v2 by default: every job is journaled and survives a crash (v1 is in maintenance).
            api_version: ApiVersion::V2,
            concurrency: rc.concurrency,
            rate_per_minute: rc.rate_per_minute,
            max_input_side: rc.max_input_side,
            seed_mode: SeedMode::default(),
            daily_budget: None,
            upload_inputs: rc.upload_inputs,
            upload_suggested: false,
            v2_default: true,
        }
    }
}

impl Settings {
    /// A copy with every number inside what the settings panel allows (a hand-edited or older
    /// storage file cannot push the runtime out of range).
    pub fn sanitized(&self) -> Settings {
        let mut s = self.clone();
        if !s.v2_default {
            // Stored when v1 was the default: v1 then said nothing of the user's choice.
            s.api_version = ApiVersion::V2;
            s.v2_default = true;
        }
        s.concurrency = s
            .concurrency
            .clamp(*CONCURRENCY_RANGE.start(), *CONCURRENCY_RANGE.end());
        s.rate_per_minute = s
            .rate_per_minute
            .filter(|r| r.is_finite())
            .map(|r| r.clamp(*RATE_RANGE.start(), *RATE_RANGE.end()));
        s.max_input_side = s
            .max_input_side
            .clamp(*MAX_INPUT_SIDE_RANGE.start(), *MAX_INPUT_SIDE_RANGE.end());
        s.daily_budget = s
            .daily_budget
            .filter(|b| b.is_finite())
            .map(|b| b.clamp(0.0, crate::jobs::budget::MAX_BUDGET));
        if s.api_base.trim().is_empty() {
            s.api_base = crate::api::DEFAULT_API_BASE.to_owned();
        }
        s
    }
}

/// Everything the window persists: the last used parameters, the settings and the input image
/// (a file or a URL; pasted bytes are not kept). Never the key.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, Default)]
#[serde(default)]
pub struct State {
    pub params: GenParams,
    pub settings: Settings,
    /// The input image: `File` or `Url` only (pasted bytes live for the session only).
    pub input: Option<InputSource>,
    /// Snap width/height to multiples of 8 instead of 64.
    pub fine_size_steps: bool,
    /// Every prompt sent, newest first (see [`super::tweak::PromptHistory`]).
    pub prompt_history: super::tweak::PromptHistory,
    /// How long a job took here lately (seconds), for the estimate after a restart.
    pub learned_job_seconds: Option<u64>,
}

impl State {
    /// A copy safe to show in sliders: parameters clamped, settings sanitized, and an input that
    /// cannot be persisted dropped.
    pub fn sanitized(&self) -> State {
        State {
            params: self.params.clamped(),
            settings: self.settings.sanitized(),
            input: self
                .input
                .clone()
                .filter(|i| matches!(i, InputSource::File(_) | InputSource::Url(_))),
            fine_size_steps: self.fine_size_steps,
            prompt_history: self.prompt_history.sanitized(),
            learned_job_seconds: self.learned_job_seconds.filter(|s| (1..=3600).contains(s)),
        }
    }

    /// The runtime configuration these settings ask for. `base_override` (demo mode's stand-in or a
    /// `--api-base` from the command line) wins over the stored base; `key` is the session's key, if
    /// the launcher gave one (demo mode), else the runtime finds it in the key store.
    pub fn runtime_config(
        &self,
        base_override: Option<&str>,
        key: Option<crate::api::ApiKey>,
    ) -> RuntimeConfig {
        let s = self.settings.sanitized();
        RuntimeConfig {
            api_base: base_override.map(str::to_owned).unwrap_or(s.api_base),
            key,
            concurrency: s.concurrency,
            rate_per_minute: s.rate_per_minute,
            max_input_side: s.max_input_side,
            daily_budget: s
                .daily_budget
                .or_else(|| crate::jobs::budget::from_env().ok().flatten()),
            history_base: None,
            storage_base: None,
            upload_inputs: s.upload_inputs,
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn sanitized_clamps_settings_and_drops_bytes_input() {
        let st = State {
            settings: Settings {
                concurrency: 99,
                rate_per_minute: Some(f64::NAN),
                max_input_side: 1,
                api_base: " ".into(),
                ..Settings::default()
            },
            input: Some(InputSource::Bytes {
                name: "x".into(),
                data: std::sync::Arc::new(vec![1, 2]),
            }),
            ..State::default()
        };
        let s = st.sanitized();
        assert_eq!(s.settings.concurrency, 8);
        assert_eq!(s.settings.rate_per_minute, None);
        assert_eq!(s.settings.max_input_side, 256);
        assert_eq!(s.settings.api_base, crate::api::DEFAULT_API_BASE);
        assert!(s.input.is_none());
    }

    #[test]
    fn v2_is_the_default_and_old_settings_move_to_it_once() {
        assert_eq!(Settings::default().api_version, ApiVersion::V2);
        // Stored before v2 was the default: `v1` there was the old default, not a choice.
        let old: Settings = serde_json::from_str(r#"{"api_version": "v1"}"#).unwrap();
        assert_eq!(old.sanitized().api_version, ApiVersion::V2);
        // Chosen since: kept.
        let chosen = Settings {
            api_version: ApiVersion::V1,
            ..Settings::default()
        };
        let back: Settings =
            serde_json::from_str(&serde_json::to_string(&chosen).unwrap()).unwrap();
        assert_eq!(back.sanitized().api_version, ApiVersion::V1);
        assert!(
            !Settings::default().upload_inputs,
            "uploading is off until asked for"
        );
    }

    #[test]
    fn seed_modes() {
        assert_eq!(SeedMode::Locked.seed_for_run(42), 42);
        assert_eq!(SeedMode::Locked.seed_for_run(-1), 0);
        assert_eq!(SeedMode::ServerRandom.seed_for_run(42), -1);
        // A seed picked here has ten digits at most (people copy it; tools take it).
        for _ in 0..200 {
            let s = SeedMode::FreshRandom.seed_for_run(42);
            assert!((0..=crate::api::params::MAX_RANDOM_SEED).contains(&s));
            assert!(s.to_string().len() <= 10, "{s}");
        }
    }

    #[test]
    fn override_wins_for_the_base() {
        let st = State::default();
        assert_eq!(
            st.runtime_config(Some("http://127.0.0.1:9/v1"), None)
                .api_base,
            "http://127.0.0.1:9/v1"
        );
        assert_eq!(
            st.runtime_config(None, None).api_base,
            crate::api::DEFAULT_API_BASE
        );
    }
}
