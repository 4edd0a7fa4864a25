//! N samples on v1. A v1 answer is one image while a request for N bills N, so a job of N samples
//! on v1 is sent as N requests of one: the one path every caller's "N samples" takes (the window,
//! a comparison or grid cell, a batch line, variations, the CLI), inside the runtime, so no caller
//! can send v1 a request whose images would be lost. On v2 one request brings every sample.

use std::sync::Arc;

use tokio_util::sync::CancellationToken;

use super::runtime::JobEnd;
use super::runtime::{Outcome, Shared, clear_to_send, progress_sink, save};
use super::types::{InputSource, JobId, JobSpec, SavedImage};
use crate::api::{ApiError, Client};

/// The request of sample `k` of a v1 job: one image, seed `seed + k` (capped), or the service's
/// pick for a random seed.
fn sample_request(spec: &JobSpec, k: u32) -> JobSpec {
    let seed = spec.params.seed;
    JobSpec {
        params: crate::api::GenParams {
            samples: 1,
            seed: if seed < 0 {
                seed
            } else {
                seed.saturating_add(i64::from(k))
                    .min(crate::api::params::MAX_SEED)
            },
            ..spec.params.clone()
        },
        ..spec.clone()
    }
}

/// A v1 job of N samples. A v1 answer is one image while a request for N bills N, so it is sent as
/// N requests of one (the one path every caller's "N samples" takes on v1: the window, a
/// comparison or grid cell, a batch line, variations, the CLI), one after another, each through
/// the pacer, each image saved and its charge recorded as it arrives. A failure part way names
/// the images already saved.
pub(super) async fn v1_samples(
    sh: &Arc<Shared>,
    id: JobId,
    spec: &JobSpec,
    client: &Client,
    payload: String,
    cancel: &CancellationToken,
) -> Outcome {
    let n = spec.params.samples;
    let progress = progress_sink(sh, id);
    let sent = (!matches!(spec.input, InputSource::Url(_))).then_some(payload.clone());
    let mut all: Vec<SavedImage> = Vec::new();
    let mut accounting = crate::api::Accounting::default();
    for k in 0..n {
        let part = sample_request(spec, k);
        let params = match part.params.clone().validate_into() {
            Ok(p) => p,
            Err(e) => return Err((so_far(ApiError::from(e).into(), &all, n), k > 0)),
        };
        if k > 0 {
            // The pacer's slot for each request; the batch line was marked once, before the first.
            let unmarked = JobSpec {
                batch: None,
                ..part.clone()
            };
            if let Err(e) = clear_to_send(sh, id, &unmarked, cancel).await {
                return Err((so_far(e, &all, n), true));
            }
        }
        match client.generate(&payload, &params, cancel, &progress).await {
            Ok(g) => match save(sh, id, &part, g, sent.clone(), k).await {
                Ok((saved, acc)) => {
                    all.extend(saved);
                    accounting = acc;
                }
                Err(e) => return Err((so_far(e, &all, n), true)),
            },
            Err(e) => return Err((so_far(e.into(), &all, n), true)),
        }
    }
    Ok((all, accounting))
}

/// A failure of a v1 job of `n` samples, saying which of its images were saved before it.
fn so_far(end: JobEnd, saved: &[SavedImage], n: u32) -> JobEnd {
    match end {
        JobEnd::Failed(mut f) if !saved.is_empty() => {
            let paths: Vec<String> = saved.iter().map(|s| s.path.display().to_string()).collect();
            f.message = format!(
                "{} of {n} images were saved ({}); the next request failed: {}",
                saved.len(),
                paths.join(", "),
                f.message
            );
            JobEnd::Failed(f)
        }
        other => other,
    }
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
        assert_eq!(
            sample_request(&top, 3).params.seed,
            crate::api::params::MAX_SEED
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
