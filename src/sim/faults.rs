//! Fault injection for the stand-in: the kinds of failure the real gateway (or a proxy in front of
//! it) produces, a spec of random faults by probability (`"429:0.1,reset:0.05"`), and the plan that
//! hands out faults deterministically: scripted faults first, in order, then random draws from a
//! seeded generator.

use std::collections::VecDeque;
use std::fmt;
use std::str::FromStr;

/// One injected failure of a generation request (v1 POST or v2 submit).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub enum Fault {
    /// `429` rate limited (with `Retry-After: 1` or `x-rate-limit-reset-at-utc`).
    Status429,
    /// `500` `{"error":"Internal server error"}`.
    Status500,
    /// `502` with a proxy's HTML page.
    Status502,
    /// `503` with a proxy's HTML page.
    Status503,
    /// `504` gateway timeout (a proxy's HTML page).
    Status504,
    /// `403`: this key or team may not use this model.
    Status403,
    /// `410`: the model was retired.
    Status410,
    /// The request is read, then the connection is dropped without any answer.
    Reset,
    /// `200` announcing the full `Content-Length`, the body cut in half, then the connection closed.
    Truncate,
    /// The answer comes `slow_extra` later than usual (v1: after `delay + slow_extra`; v2: the
    /// submit answer is held back by `slow_extra`, the job itself is created and runs).
    Slow,
    /// `200 image/jpeg` whose body is not an image (v2 submit: a body that is not JSON).
    Garbage,
    /// `200 text/html` (a captive portal or a misrouted proxy).
    Html,
    /// v2 only: the job runs and ends `FAILED`; the result answers `422` (not billed).
    Fail,
    /// v2 only: the job's record disappears when it would complete; polls answer `404`.
    Expire,
}

impl Fault {
    /// Every kind, in the order of the spec's documentation.
    pub const ALL: [Fault; 14] = [
        Fault::Status429,
        Fault::Status500,
        Fault::Status502,
        Fault::Status503,
        Fault::Status504,
        Fault::Status403,
        Fault::Status410,
        Fault::Reset,
        Fault::Truncate,
        Fault::Slow,
        Fault::Garbage,
        Fault::Html,
        Fault::Fail,
        Fault::Expire,
    ];

    /// The name used in a [`FaultSpec`] and in [`super::SimStats::faults_injected`].
    pub fn name(self) -> &'static str {
        match self {
            Fault::Status429 => "429",
            Fault::Status500 => "500",
            Fault::Status502 => "502",
            Fault::Status503 => "503",
            Fault::Status504 => "504",
            Fault::Status403 => "403",
            Fault::Status410 => "410",
            Fault::Reset => "reset",
            Fault::Truncate => "truncate",
            Fault::Slow => "slow",
            Fault::Garbage => "garbage",
            Fault::Html => "html",
            Fault::Fail => "fail",
            Fault::Expire => "expire",
        }
    }

    /// Whether the fault only means something for a v2 job (ignored on v1).
    pub fn v2_only(self) -> bool {
        matches!(self, Fault::Fail | Fault::Expire)
    }
}

impl fmt::Display for Fault {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.name())
    }
}

/// Why a fault name or a fault spec cannot be used.
#[derive(Debug, Clone, PartialEq, thiserror::Error)]
pub enum FaultSpecError {
    #[error("{0:?} is not a fault kind; use one of {list}", list = kind_list())]
    UnknownKind(String),
    #[error("{0:?} is not KIND:PROBABILITY (e.g. 429:0.1)")]
    NotAPair(String),
    #[error("{part:?}: the probability must be a number from 0 to 1")]
    BadProbability { part: String },
    #[error("the probabilities add up to {0}, more than 1")]
    SumAboveOne(f64),
}

fn kind_list() -> String {
    Fault::ALL
        .iter()
        .map(|f| f.name())
        .collect::<Vec<_>>()
        .join(", ")
}

impl FromStr for Fault {
    type Err = FaultSpecError;
    fn from_str(s: &str) -> Result<Self, Self::Err> {
        let t = s.trim();
        Fault::ALL
            .iter()
            .copied()
            .find(|f| f.name().eq_ignore_ascii_case(t))
            .ok_or_else(|| FaultSpecError::UnknownKind(t.to_owned()))
    }
}

/// Random faults by probability, e.g. `"429:0.1,500:0.05,reset:0.05"`. Each generation request
/// draws one number; the kinds share the unit interval in the spec's order, so at most one fault
/// happens per request.
#[derive(Debug, Clone, Default, PartialEq)]
pub struct FaultSpec {
    pub entries: Vec<(Fault, f64)>,
}

impl FaultSpec {
    /// No faults at all.
    pub fn none() -> Self {
        Self::default()
    }

    /// The fault (if any) that the draw `r` in `[0, 1)` selects.
    pub fn pick(&self, r: f64) -> Option<Fault> {
        let mut acc = 0.0;
        for &(fault, p) in &self.entries {
            acc += p;
            if r < acc {
                return Some(fault);
            }
        }
        None
    }
}

impl fmt::Display for FaultSpec {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let parts: Vec<String> = self
            .entries
            .iter()
            .map(|(k, p)| format!("{}:{p}", k.name()))
            .collect();
        f.write_str(&parts.join(","))
    }
}

impl FromStr for FaultSpec {
    type Err = FaultSpecError;
    fn from_str(s: &str) -> Result<Self, Self::Err> {
        let mut entries = Vec::new();
        let mut sum = 0.0;
        for part in s.split(',').map(str::trim).filter(|p| !p.is_empty()) {
            let (k, v) = part
                .split_once(':')
                .ok_or_else(|| FaultSpecError::NotAPair(part.to_owned()))?;
            let fault: Fault = k.parse()?;
            let p: f64 = v
                .trim()
                .parse()
                .ok()
                .filter(|p: &f64| (0.0..=1.0).contains(p))
                .ok_or_else(|| FaultSpecError::BadProbability {
                    part: part.to_owned(),
                })?;
            sum += p;
            entries.push((fault, p));
        }
        if sum > 1.0 + 1e-9 {
            return Err(FaultSpecError::SumAboveOne(sum));
        }
        Ok(FaultSpec { entries })
    }
}

/// Hands out the fault of each generation request: scripted ones first (in order), then a random
/// draw from the spec with a generator seeded once, so a run is the same for the same seed and the
/// same order of requests.
#[derive(Debug)]
pub struct FaultPlan {
    spec: FaultSpec,
    rng: fastrand::Rng,
    scripted: VecDeque<Fault>,
}

impl FaultPlan {
    pub fn new(spec: FaultSpec, seed: u64) -> Self {
        Self {
            spec,
            rng: fastrand::Rng::with_seed(seed),
            scripted: VecDeque::new(),
        }
    }

    /// Queues faults for the next generation requests, in order.
    pub fn push(&mut self, faults: impl IntoIterator<Item = Fault>) {
        self.scripted.extend(faults);
    }

    /// The fault of the next generation request. A random draw is made for every request without a
    /// scripted fault (so the sequence does not depend on which faults apply to the route).
    pub fn next_fault(&mut self) -> Option<Fault> {
        if let Some(f) = self.scripted.pop_front() {
            return Some(f);
        }
        if self.spec.entries.is_empty() {
            return None;
        }
        let r = self.rng.f64();
        self.spec.pick(r)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_documented_spec_parses_and_prints_back() {
        let text = "429:0.1,500:0.05,502:0.05,503:0.05,504:0.05,reset:0.05,truncate:0.05,slow:0.05,garbage:0.02,html:0.02,fail:0.05,expire:0.02";
        let spec: FaultSpec = text.parse().unwrap();
        assert_eq!(spec.entries.len(), 12);
        assert_eq!(spec.entries[5], (Fault::Reset, 0.05));
        assert_eq!(spec.to_string(), text);
        assert_eq!("".parse::<FaultSpec>().unwrap(), FaultSpec::none());
    }

    #[test]
    fn bad_specs_say_what_is_wrong() {
        let e = "teapot:0.1".parse::<FaultSpec>().unwrap_err();
        assert!(e.to_string().contains("\"teapot\"") && e.to_string().contains("reset"));
        let e = "429".parse::<FaultSpec>().unwrap_err();
        assert_eq!(e, FaultSpecError::NotAPair("429".into()));
        let e = "429:x".parse::<FaultSpec>().unwrap_err();
        assert!(matches!(e, FaultSpecError::BadProbability { .. }));
        let e = "429:1.5".parse::<FaultSpec>().unwrap_err();
        assert!(matches!(e, FaultSpecError::BadProbability { .. }));
        let e = "429:0.7,500:0.6".parse::<FaultSpec>().unwrap_err();
        assert!(matches!(e, FaultSpecError::SumAboveOne(_)));
    }

    #[test]
    fn pick_shares_the_unit_interval_in_order() {
        let spec: FaultSpec = "429:0.25,reset:0.25".parse().unwrap();
        assert_eq!(spec.pick(0.0), Some(Fault::Status429));
        assert_eq!(spec.pick(0.3), Some(Fault::Reset));
        assert_eq!(spec.pick(0.5), None);
    }

    #[test]
    fn scripted_first_then_seeded_draws() {
        let spec: FaultSpec = "429:0.5".parse().unwrap();
        let mut a = FaultPlan::new(spec.clone(), 7);
        let mut b = FaultPlan::new(spec, 7);
        a.push([Fault::Truncate, Fault::Fail]);
        assert_eq!(a.next_fault(), Some(Fault::Truncate));
        assert_eq!(a.next_fault(), Some(Fault::Fail));
        let sa: Vec<_> = (0..64).map(|_| a.next_fault()).collect();
        let sb: Vec<_> = (0..64).map(|_| b.next_fault()).collect();
        assert_eq!(sa, sb);
        let hits = sa.iter().filter(|f| f.is_some()).count();
        assert!((16..=48).contains(&hits), "about half: {hits}");
    }
}
