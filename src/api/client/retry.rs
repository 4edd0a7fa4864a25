//! The one retry policy of the client, used by every kind of request (v1 generate, v2 submit, v2
//! status poll, output download, credits): which failures may be tried again, how long to wait
//! before the next attempt, and how many attempts there are in all.
//!
//! Money is at stake: a request that starts a billed job (v1 generate, v2 submit) is re-sent only
//! on an answer that proves the job did not run (no connection, 429, 502/503; on v1 also 504 and
//! one 500). A request that went out and got no answer may have been billed and is never re-sent;
//! a 200 that could not be read is never re-sent either. Polling and downloading never start
//! anything, so they retry every transient failure.
//!
//! Every wait is bounded: the backoff by [`RetryPolicy::max_delay`], a server's `Retry-After` (or
//! `x-rate-limit-reset-at-utc`) by [`RetryPolicy::max_server_wait`], both at most [`WAIT_CEILING`]
//! whatever the configuration says, and by the policy's [`RetryPolicy::deadline`] when it has one
//! (a v2 job's: its record lives an hour after submission). A billed request whose server
//! asks for a longer wait gives up and shows the server's wait ([`LongWait::GiveUp`], the ceiling
//! is `ClientConfig::max_rate_limit_wait`); a poll waits the ceiling and asks again
//! ([`LongWait::Cap`], the ceiling is [`MAX_SERVER_WAIT`] or `max_rate_limit_wait` if lower).

use std::future::Future;
use std::time::Duration;

use tokio_util::sync::CancellationToken;

use super::{ClientConfig, Progress, ProgressFn};
use crate::api::error::{ApiError, HttpClass};

/// The longest wait a server may impose between two polls or downloads (or
/// `ClientConfig::max_rate_limit_wait` when that is lower): long enough to respect a rate limit's
/// window, short enough that a finished job is picked up within two minutes of the limit lifting.
pub const MAX_SERVER_WAIT: Duration = Duration::from_secs(120);

/// The longest single wait of any request, whatever `ClientConfig` says: the backoff and the wait a
/// billed request grants a rate limit are cut to this.
pub const WAIT_CEILING: Duration = Duration::from_secs(600);

/// Polling backs off to at most this multiple of the base delay (8 s with the default 2 s): a poll
/// is free, and a finished job should be picked up soon.
const POLL_BACKOFF_FACTOR: u32 = 4;

/// Polling gives up after this many consecutive failures per configured retry (at least three
/// retries are assumed), since a job that is already paid for is worth more patience.
const POLL_PATIENCE: u32 = 2;

/// How many `500`s one v1 call retries: a 500 is often a parameter the model rejected mid-run,
/// so it is tried once more at most.
const V1_SERVER_ERROR_RETRIES: u32 = 1;

/// The kind of request being tried: it decides which failures may be tried again.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum RequestKind {
    /// v1 `POST`: billed when it answers 200. Retried on no connection, 429, 502/503, 504 (not
    /// billed, the contract says) and one 500.
    Generate,
    /// v2 submit `POST`: starts a billed job. Retried on no connection, 429 and 502/503 only (after
    /// a 504 or a 500 it is not known whether the job was queued).
    Submit,
    /// v2 status `GET`: never runs anything. Retried on no connection, no answer, an answer that
    /// could not be read, and 429/500/502/503/504.
    Poll,
    /// Output download `GET` of a stored file (no key): retried when the request failed before
    /// any answer (no connection, no answer); an HTTP error status is final.
    Download,
    /// The credit balance: not retried (it answers a key check at once; the user asks again).
    Credits,
}

impl RequestKind {
    /// What a cancellation between attempts reports as `after_send`. A billed request is retried
    /// only after an answer that proves it was not run, so nothing is pending then; a poll or a
    /// download belongs to a job that was submitted and may be billed.
    fn after_send_on_cancel(self) -> bool {
        !matches!(self, RequestKind::Generate | RequestKind::Submit)
    }
}

/// What to do when the server asks for a wait longer than [`RetryPolicy::max_server_wait`].
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum LongWait {
    /// End the call with the server's error, which tells the user how long it asked to wait.
    GiveUp,
    /// Wait `max_server_wait` and try again.
    Cap,
}

/// A decision to try again.
#[derive(Debug, Clone, PartialEq)]
pub struct Retry {
    pub delay: Duration,
    pub reason: String,
    pub rate_limited: bool,
}

/// What one call has retried so far, for the classes retried a limited number of times.
#[derive(Debug, Default)]
pub struct Tally {
    server_errors: u32,
}

/// Why a failure may be tried again.
struct Cause {
    reason: String,
    /// The wait the server asked for, when it applies to this class.
    server_wait: Option<Duration>,
    /// A `500`, retried a limited number of times per call.
    server_error: bool,
}

impl Cause {
    fn new(reason: String) -> Cause {
        Cause {
            reason,
            server_wait: None,
            server_error: false,
        }
    }
}

/// How one kind of request is retried.
#[derive(Debug, Clone, PartialEq)]
pub struct RetryPolicy {
    pub kind: RequestKind,
    /// Attempts in all, the first included (1: never retried).
    pub max_attempts: u32,
    /// The backoff before the second attempt; it doubles with every attempt after that.
    pub base_delay: Duration,
    /// The longest backoff (before jitter).
    pub max_delay: Duration,
    /// The longest wait a server may impose (see [`LongWait`]).
    pub max_server_wait: Duration,
    pub long_wait: LongWait,
    /// No wait goes past this instant: a wait that would is cut short, and the attempt after it is
    /// the last chance (the caller's own deadline check ends the call).
    pub deadline: Option<tokio::time::Instant>,
}

impl RetryPolicy {
    /// The policy for `kind` under `cfg`. Generate, submit and download make `max_retries + 1`
    /// attempts with backoff `backoff_base` … `backoff_max`; a poll allows
    /// `2 × max(max_retries, 3)` consecutive failures with backoff at most 4 × `backoff_base`;
    /// credits make one attempt.
    pub fn for_request(cfg: &ClientConfig, kind: RequestKind) -> RetryPolicy {
        let retried = cfg.max_retries.saturating_add(1);
        let polite = cfg.max_rate_limit_wait.min(MAX_SERVER_WAIT);
        let backoff_max = cfg.backoff_max.min(WAIT_CEILING);
        let (max_attempts, max_delay, max_server_wait, long_wait) = match kind {
            RequestKind::Generate | RequestKind::Submit => (
                retried,
                backoff_max,
                cfg.max_rate_limit_wait.min(WAIT_CEILING),
                LongWait::GiveUp,
            ),
            RequestKind::Poll => (
                cfg.max_retries
                    .max(3)
                    .saturating_mul(POLL_PATIENCE)
                    .saturating_add(1),
                backoff_max.min(cfg.backoff_base.saturating_mul(POLL_BACKOFF_FACTOR)),
                polite,
                LongWait::Cap,
            ),
            RequestKind::Download => (retried, backoff_max, polite, LongWait::Cap),
            RequestKind::Credits => (1, backoff_max, polite, LongWait::Cap),
        };
        RetryPolicy {
            kind,
            max_attempts,
            base_delay: cfg.backoff_base.min(backoff_max),
            max_delay,
            max_server_wait,
            long_wait,
            deadline: None,
        }
    }

    /// The same policy, whose waits never go past `deadline`.
    pub fn until(self, deadline: tokio::time::Instant) -> RetryPolicy {
        RetryPolicy {
            deadline: Some(deadline),
            ..self
        }
    }

    /// The backoff after attempt `attempt` (1-based) failed: exponential, capped at `max_delay`,
    /// with "equal jitter" (between half and the whole of the capped delay).
    pub fn backoff(&self, attempt: u32) -> Duration {
        let exp = self
            .base_delay
            .saturating_mul(1u32 << attempt.saturating_sub(1).min(16));
        let capped = exp.min(self.max_delay);
        let half = capped / 2;
        half + half.mul_f64(fastrand::f64())
    }

    /// The wait before the next attempt once attempt `attempt` (1-based) failed in a retryable way,
    /// or `None` when no attempt is left or the server asks for too long a wait under
    /// [`LongWait::GiveUp`]. `retry_after` is the server's wait, when it applies.
    pub fn next_delay(&self, attempt: u32, retry_after: Option<Duration>) -> Option<Duration> {
        if attempt >= self.max_attempts {
            return None;
        }
        // A wait the server asks for that cannot end before the deadline is not waited for in
        // part, over and over: the caller stops now and says when to try again.
        if let (Some(wait), Some(d)) = (retry_after, self.deadline)
            && wait > d.saturating_duration_since(tokio::time::Instant::now())
        {
            return None;
        }
        let delay = retry_after.unwrap_or_else(|| self.backoff(attempt));
        let delay = if delay <= self.max_server_wait {
            delay
        } else {
            match self.long_wait {
                LongWait::GiveUp => return None,
                LongWait::Cap => self.max_server_wait,
            }
        };
        match self.deadline {
            Some(d) => Some(delay.min(d.saturating_duration_since(tokio::time::Instant::now()))),
            None => Some(delay),
        }
    }

    /// Whether `e` may be tried again under this kind, and why. `None`: never.
    fn cause(&self, e: &ApiError) -> Option<Cause> {
        use RequestKind::{Credits, Download, Generate, Poll, Submit};
        match (self.kind, e) {
            (Credits, _) => None,
            (Generate | Submit, ApiError::Connect { detail, .. }) => {
                Some(Cause::new(format!("could not connect: {detail}")))
            }
            (Generate | Submit, ApiError::Status(s)) => match s.class {
                HttpClass::RateLimited => Some(Cause {
                    server_wait: s.retry_after,
                    ..Cause::new("rate limited (429)".to_owned())
                }),
                HttpClass::Unavailable => {
                    Some(Cause::new(format!("service unavailable ({})", s.status)))
                }
                // A gateway timeout on v1 was not billed (the contract); on a v2 submit it is
                // ambiguous whether the job was queued, so it is not retried there.
                HttpClass::GatewayTimeout if self.kind == Generate => {
                    Some(Cause::new("gateway timeout (504)".to_owned()))
                }
                HttpClass::ServerError if self.kind == Generate => Some(Cause {
                    server_error: true,
                    ..Cause::new("server error (500), trying once more".to_owned())
                }),
                _ => None,
            },
            (Poll, ApiError::Connect { .. } | ApiError::NoAnswer { .. } | ApiError::Decode(_)) => {
                Some(Cause::new(format!("polling: {e}")))
            }
            (Poll, ApiError::Status(s))
                if matches!(
                    s.class,
                    HttpClass::RateLimited
                        | HttpClass::Unavailable
                        | HttpClass::GatewayTimeout
                        | HttpClass::ServerError
                ) =>
            {
                // Said while it retries: the status in short, not the advice for giving up.
                Some(Cause {
                    server_wait: s.retry_after,
                    ..Cause::new(format!("polling: the server answered {}", s.status))
                })
            }
            (Download, ApiError::Connect { .. } | ApiError::NoAnswer { .. }) => {
                Some(Cause::new(format!("output download failed: {e}")))
            }
            _ => None,
        }
    }

    /// Whether attempt `attempt` (1-based), which failed with `e`, is followed by another, after
    /// how long and why. `tally` carries what this call has retried so far.
    pub fn decide(&self, e: &ApiError, attempt: u32, tally: &mut Tally) -> Option<Retry> {
        let cause = self.cause(e)?;
        if cause.server_error && tally.server_errors >= V1_SERVER_ERROR_RETRIES {
            return None;
        }
        let delay = self.next_delay(attempt, cause.server_wait)?;
        if cause.server_error {
            tally.server_errors += 1;
        }
        Some(Retry {
            delay,
            reason: cause.reason,
            rate_limited: e.class() == Some(HttpClass::RateLimited),
        })
    }

    /// Runs `once(attempt)` (attempt 1, 2, …) until it succeeds or fails in a way this policy does
    /// not retry; reports each wait as [`Progress::Retrying`] and stops at once on cancellation.
    pub async fn run<T, F, Fut>(
        &self,
        cancel: &CancellationToken,
        progress: ProgressFn<'_>,
        mut once: F,
    ) -> Result<T, ApiError>
    where
        F: FnMut(u32) -> Fut,
        Fut: Future<Output = Result<T, ApiError>>,
    {
        let cancelled = || ApiError::Cancelled {
            after_send: self.kind.after_send_on_cancel(),
        };
        let mut tally = Tally::default();
        let mut attempt = 0u32;
        loop {
            attempt += 1;
            if cancel.is_cancelled() {
                return Err(cancelled());
            }
            let e = match once(attempt).await {
                Ok(v) => return Ok(v),
                Err(e) => e,
            };
            let Some(Retry {
                delay,
                reason,
                rate_limited,
            }) = self.decide(&e, attempt, &mut tally)
            else {
                return Err(e);
            };
            tracing::info!(kind = ?self.kind, attempt, ?delay, %reason, "retrying");
            progress(Progress::Retrying {
                attempt: attempt + 1,
                delay,
                reason,
                rate_limited,
            });
            tokio::select! {
                _ = cancel.cancelled() => return Err(cancelled()),
                _ = tokio::time::sleep(delay) => {}
            }
        }
    }
}

#[cfg(test)]
mod tests;
