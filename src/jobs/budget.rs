//! The daily budget: work whose estimate would take today's spend over it is refused before
//! anything is sent. The runtime checks every job as it is queued, in the order the jobs are
//! submitted (today's spend from the ledger, plus the estimates of this process's jobs queued or
//! under way, plus the job's own), so a batch stops at the line that would cross; the CLI and the
//! window also check a whole piece of work up front, so that a comparison is refused whole rather
//! than half sent.

use std::sync::{Arc, Mutex};

use super::ledger::{Hold, Ledger, LedgerError};
use crate::types::JobId;

/// The environment variable that sets the daily budget (USD) when no flag or setting does.
pub const BUDGET_ENV: &str = "FLUXCN_DAILY_BUDGET";

/// The largest budget accepted (USD a day): a typo such as `50000` is refused, not obeyed.
pub const MAX_BUDGET: f64 = 10_000.0;

/// What follows a refusal where the budget comes from a flag or the environment (the CLI).
pub const CLI_ADVICE: &str =
    "raise it with --budget or FLUXCN_DAILY_BUDGET, or wait until tomorrow";
/// What follows a refusal in the window (the budget is in Settings).
pub const APP_ADVICE: &str = "raise it in Settings, or wait until tomorrow";

/// Work refused because it would take today's spend over the daily budget.
#[derive(Debug, Clone, PartialEq, thiserror::Error)]
#[error(
    "over the daily budget of ${budget:.2}: ${spent:.2} is spent today{flight}, and this would cost about ${estimate:.2} ({what}){room}",
    flight = if *in_flight > 0.0 { format!(" and ${in_flight:.2} is under way") } else { String::new() },
    room = room_text(*budget, *spent + *in_flight)
)]
pub struct OverBudget {
    pub budget: f64,
    pub spent: f64,
    pub in_flight: f64,
    pub estimate: f64,
    /// What the estimate counts, e.g. "4 images at $0.048".
    pub what: String,
}

impl OverBudget {
    /// The refusal in one short sentence, for a narrow place (the window's Generate).
    pub fn short(&self) -> String {
        let flight = if self.in_flight > 0.0 {
            format!(" (+${:.2} under way)", self.in_flight)
        } else {
            String::new()
        };
        format!(
            "Over the daily budget of ${:.2}: ${:.2} spent today{flight}, this ≈ ${:.2}.",
            self.budget, self.spent, self.estimate
        )
    }
}

fn room_text(budget: f64, used: f64) -> String {
    let left = budget - used;
    if left >= 0.005 {
        format!("; ${left:.2} is left today")
    } else {
        "; nothing is left today".into()
    }
}

/// The estimate of `images` images at `per_image` each, and its text.
pub fn estimate(images: usize, per_image: f64) -> (f64, String) {
    let s = if images == 1 { "" } else { "s" };
    (
        images as f64 * per_image,
        format!("{images} image{s} at ${per_image:.3}"),
    )
}

/// Checks `estimate` against `budget` given what is spent and in flight. `None`: no budget.
pub fn check(
    budget: Option<f64>,
    spent: f64,
    in_flight: f64,
    (estimate, what): (f64, String),
) -> Result<(), OverBudget> {
    let Some(budget) = budget else {
        return Ok(());
    };
    // A cent's rounding never refuses work that fits.
    if spent + in_flight + estimate <= budget + 1e-9 {
        Ok(())
    } else {
        Err(OverBudget {
            budget,
            spent,
            in_flight,
            estimate,
            what,
        })
    }
}

/// Reads a budget as the user typed it: `5`, `5.00`, `$5`. Zero is allowed (nothing may be spent).
pub fn parse_budget(s: &str) -> Result<f64, String> {
    let t = s.trim().trim_start_matches('$').trim();
    let v: f64 = t
        .parse()
        .map_err(|_| format!("`{s}` is not an amount in USD (e.g. 5 or 2.50)"))?;
    if !v.is_finite() || v < 0.0 {
        return Err(format!("`{s}`: a budget is 0 or more USD"));
    }
    if v > MAX_BUDGET {
        return Err(format!(
            "`{s}`: a daily budget is at most ${MAX_BUDGET:.0} (is that a typo?)"
        ));
    }
    Ok(v)
}

/// The budget from [`BUDGET_ENV`]: `None` when unset or empty, an error naming the variable when
/// it cannot be read.
pub fn from_env() -> Result<Option<f64>, String> {
    match std::env::var(BUDGET_ENV) {
        Ok(v) if !v.trim().is_empty() => parse_budget(&v)
            .map(Some)
            .map_err(|e| format!("{BUDGET_ENV}: {e}")),
        _ => Ok(None),
    }
}

/// The runtime's gate. With a ledger, every job's share is a reservation in the ledger's database
/// (see `ledger/holds.rs`), checked and taken in one transaction, so the budget holds across every
/// process at once; without one (tests, a ledger that could not be opened), this process's jobs
/// queued or under way are counted in memory. A job holds a [`Reserved`] from when it is queued
/// until it ends, so two jobs cannot both fit into the same last dollar.
pub struct Gate {
    ledger: Option<Arc<Ledger>>,
    in_flight: Arc<Mutex<f64>>,
}

/// A job's share of the spend under way, until [`Reserved::end`] (or, failing that, its drop)
/// settles it.
pub struct Reserved {
    in_flight: Arc<Mutex<f64>>,
    amount: f64,
    /// The ledger holding the reservation, and the job.
    ledger: Option<(Arc<Ledger>, JobId)>,
    ended: bool,
}

impl Reserved {
    /// Settles the job's share: released when everything it cost is recorded (or it was never
    /// sent, or not billed); counted as a "maybe billed" charge when its outcome is unknown.
    pub fn end(mut self, maybe_billed: bool) {
        self.ended = true;
        if let Some((l, id)) = &self.ledger {
            let settled = if maybe_billed {
                l.settle_maybe(*id).map(|_| ())
            } else {
                l.release(*id)
            };
            if let Err(e) = settled {
                tracing::error!(error = %e, job = id, "the ledger could not settle a job's reservation");
            }
        }
    }
}

impl Drop for Reserved {
    fn drop(&mut self) {
        let mut f = self.in_flight.lock().unwrap_or_else(|p| p.into_inner());
        *f = (*f - self.amount).max(0.0);
        drop(f);
        // Not ended (a panic in the job's task): its outcome is not known, so it is counted.
        if !self.ended
            && let Some((l, id)) = &self.ledger
            && let Err(e) = l.settle_maybe(*id)
        {
            tracing::error!(error = %e, job = id, "the ledger could not settle a job's reservation");
        }
    }
}

/// Why the gate did not let a job go.
#[derive(Debug, thiserror::Error)]
pub enum GateError {
    #[error("{0}")]
    Over(#[from] OverBudget),
    #[error("{0}; nothing is sent until the spend ledger can hold the job's reservation")]
    Ledger(#[from] LedgerError),
}

impl Gate {
    pub fn new(ledger: Option<Arc<Ledger>>) -> Gate {
        Gate {
            ledger,
            in_flight: Arc::new(Mutex::new(0.0)),
        }
    }

    pub fn ledger(&self) -> Option<&Arc<Ledger>> {
        self.ledger.as_ref()
    }

    /// Lets a job of `estimate` go when it fits `budget`, holding its share until it ends. `hold`
    /// says what its charge would be (the ledger's reservation row).
    pub fn reserve(
        &self,
        hold: &Hold,
        budget: Option<f64>,
        estimate: (f64, String),
    ) -> Result<Reserved, GateError> {
        if let Some(l) = &self.ledger {
            l.reserve(hold, budget, estimate.1)??;
            return Ok(Reserved {
                in_flight: self.in_flight.clone(),
                amount: 0.0,
                ledger: Some((l.clone(), hold.job_id)),
                ended: false,
            });
        }
        let mut f = self.in_flight.lock().unwrap_or_else(|p| p.into_inner());
        check(budget, 0.0, *f, estimate.clone())?;
        *f += estimate.0;
        Ok(Reserved {
            in_flight: self.in_flight.clone(),
            amount: estimate.0,
            ledger: None,
            ended: false,
        })
    }

    /// The job's request is about to go (its reservation may now end as a charge).
    pub fn mark_sent(&self, id: JobId) -> Result<(), LedgerError> {
        match &self.ledger {
            Some(l) => l.mark_sent(id),
            None => Ok(()),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn work_over_the_budget_is_refused_with_every_figure_named() {
        assert!(check(None, 100.0, 0.0, estimate(10, 0.05)).is_ok());
        assert!(check(Some(1.0), 0.90, 0.0, estimate(2, 0.05)).is_ok());
        let e = check(Some(1.0), 0.90, 0.05, estimate(2, 0.05)).unwrap_err();
        let text = e.to_string();
        for part in [
            "$1.00",
            "$0.90",
            "$0.05 is under way",
            "$0.10",
            "2 images",
            "$0.05 is left",
        ] {
            assert!(text.contains(part), "{part} missing from {text}");
        }
        let e = check(Some(0.0), 0.0, 0.0, estimate(1, 0.05)).unwrap_err();
        assert!(e.to_string().contains("nothing is left"), "{e}");
    }

    #[test]
    fn budgets_are_read_as_typed_and_nonsense_is_refused() {
        assert_eq!(parse_budget("5"), Ok(5.0));
        assert_eq!(parse_budget(" $2.50 "), Ok(2.5));
        assert_eq!(parse_budget("0"), Ok(0.0));
        for bad in ["", "five", "-1", "NaN", "inf", "50000"] {
            assert!(parse_budget(bad).is_err(), "{bad}");
        }
    }

    #[test]
    fn the_gate_counts_jobs_in_flight_until_they_end() {
        let hold = |job_id| Hold {
            job_id,
            amount: 0.05,
            images: 1,
            cn_type: "depth".into(),
            api: "v1".into(),
            per_request: 0.05,
        };
        for ledger in [Some(Arc::new(Ledger::in_memory().unwrap())), None] {
            let gate = Gate::new(ledger.clone());
            let a = gate
                .reserve(&hold(1), Some(0.10), estimate(1, 0.05))
                .unwrap();
            let b = gate
                .reserve(&hold(2), Some(0.10), estimate(1, 0.05))
                .unwrap();
            // A third would cross while the two are in flight.
            assert!(matches!(
                gate.reserve(&hold(3), Some(0.10), estimate(1, 0.05)),
                Err(GateError::Over(_))
            ));
            a.end(false);
            // Sent, its outcome unknown: counted (with a ledger) until settled.
            gate.mark_sent(2).unwrap();
            b.end(true);
            let c = gate.reserve(&hold(4), Some(0.09), estimate(1, 0.05));
            assert_eq!(c.is_ok(), ledger.is_none(), "{:?}", c.as_ref().err());
            if let Some(l) = &ledger {
                assert!((l.spent_today().unwrap() - 0.05).abs() < 1e-9);
            }
            drop(c);
            // No budget: always goes.
            assert!(gate.reserve(&hold(5), None, estimate(100, 0.05)).is_ok());
        }
    }
}
