//! N samples on v1. A v1 answer is one image while a request for N bills N, so a job of N samples
//! on v1 is sent as N requests of one: the one path every caller's "N samples" takes (the window,
//! a comparison or grid cell, a batch line, variations, the CLI), inside the runtime, so no caller
//! can send v1 a request whose images would be lost. On v2 one request brings every sample.

use std::sync::Arc;

use tokio_util::sync::CancellationToken;

use super::runtime::JobEnd;
use super::runtime::{Outcome, Shared, clear_to_send, progress_sink, save};
use super::types::{Event, InputSource, JobId, JobSpec, SavedImage};
use crate::api::{ApiError, Client};

/// The request of sample `k` of a v1 job: one image, seed `seed + k` (wrapping past the largest
/// seed to 0, so no two samples share a seed, that is a picture), or the service's pick for a
/// random seed.
fn sample_request(spec: &JobSpec, k: u32) -> JobSpec {
    let seed = spec.params.seed;
    JobSpec {
        params: crate::api::GenParams {
            samples: 1,
            seed: if seed < 0 {
                seed
            } else {
                let span = crate::api::params::MAX_SEED + 1;
                (seed % span + i64::from(k)) % span
            },
            ..spec.params.clone()
        },
        ..spec.clone()
    }
}

/// A v1 job of N samples. A v1 answer is one image while a request for N bills N, so it is sent as
/// N requests of one (the one path every caller's "N samples" takes on v1: the window, a
/// comparison or grid cell, a batch line, variations, the CLI), one after another, each through
/// the pacer, each image saved and its charge recorded as it arrives. When a request fails after
/// some images were saved, the job ends with those (a batch line is then saved, and never sent
/// again whole), and a notice says what failed; a failure that may have been billed is counted.
pub(super) async fn v1_samples(
    sh: &Arc<Shared>,
    id: JobId,
    spec: &JobSpec,
    client: &Client,
    payload: String,
    wire: String,
    cancel: &CancellationToken,
) -> Outcome {
    let n = spec.params.samples;
    let progress = progress_sink(sh, id);
    let sent = (!matches!(spec.input, InputSource::Url(_))).then_some(payload);
    let mut all: Vec<SavedImage> = Vec::new();
    let mut accounting = crate::api::Accounting::default();
    let mut paid = 0.0;
    for k in 0..n {
        let part = sample_request(spec, k);
        let outcome = async {
            let params = part.params.clone().validate_into().map_err(|e| {
                let end: JobEnd = ApiError::from(e).into();
                end
            })?;
            if k > 0 {
                // The pacer's slot for each request; the batch line was claimed before the first.
                let unmarked = JobSpec {
                    batch: None,
                    ..part.clone()
                };
                clear_to_send(sh, id, &unmarked, cancel).await?;
            }
            let g = client
                .generate(&wire, &params, cancel, &progress)
                .await
                .map_err(JobEnd::from)?;
            save(sh, id, &part, g, sent.clone(), k).await
        }
        .await;
        match outcome {
            Ok((saved, acc)) => {
                paid += acc.cost.unwrap_or(0.0);
                all.extend(saved);
                accounting = crate::api::Accounting {
                    cost: (paid > 0.0).then_some(paid),
                    ..acc
                };
            }
            Err(end) if all.is_empty() => return Err((end, k > 0)),
            Err(end) => {
                partly_done(sh, id, &end, all.len(), n);
                return Ok((all, accounting));
            }
        }
    }
    Ok((all, accounting))
}

/// A v1 job of `n` samples whose request failed after `saved` images were saved: said in a
/// notice; a failure that may have been billed is counted now (the job itself ends done).
fn partly_done(sh: &Arc<Shared>, id: JobId, end: &JobEnd, saved: usize, n: u32) {
    let (why, maybe) = match end {
        JobEnd::Failed(f) => (f.message.clone(), f.maybe_billed),
        JobEnd::Cancelled { maybe_billed } => ("cancelled".to_owned(), *maybe_billed),
    };
    if maybe
        && let Some(l) = sh.gate.ledger()
        && let Err(e) = l.settle_maybe(id)
    {
        tracing::error!(error = %e, id, "the ledger could not count a request that may have been billed");
    }
    sh.emit(Event::Notice(format!(
        "job {id}: {saved} of {n} images were saved; the next request {}: {why}. The rest were not sent",
        if maybe {
            "may have been billed (it is counted)"
        } else {
            "failed (not billed)"
        }
    )));
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::api::GenParams;
    use crate::types::ApiVersion;

    #[test]
    fn each_sample_is_one_image_with_the_next_seed_or_the_services_pick() {
        let spec = JobSpec {
            input: InputSource::Url("https://example.com/a.png".into()),
            params: GenParams {
                samples: 4,
                seed: 10,
                ..GenParams::default()
            },
            api: ApiVersion::V1,
            group: None,
            prompt_template: None,
            batch: None,
            framing: Default::default(),
        };
        let seeds: Vec<i64> = (0..4)
            .map(|k| sample_request(&spec, k).params.seed)
            .collect();
        assert_eq!(seeds, [10, 11, 12, 13]);
        assert!((0..4).all(|k| sample_request(&spec, k).params.samples == 1));
        let top = JobSpec {
            params: GenParams {
                seed: crate::api::params::MAX_SEED,
                ..spec.params.clone()
            },
            ..spec.clone()
        };
        let seeds: Vec<i64> = (0..3)
            .map(|k| sample_request(&top, k).params.seed)
            .collect();
        assert_eq!(
            seeds,
            [crate::api::params::MAX_SEED, 0, 1],
            "each its own picture"
        );
        let random = JobSpec {
            params: GenParams {
                seed: -1,
                ..spec.params.clone()
            },
            ..spec
        };
        assert_eq!(sample_request(&random, 2).params.seed, -1);
    }
}
