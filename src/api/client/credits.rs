//! The account's credit balance (`GET {root}/v1/get-user-credits`): free, and a way to check a key
//! before anything is spent. Run under [`RequestKind::Credits`] (one attempt).

use serde::{Deserialize, Serialize};
use tokio_util::sync::CancellationToken;

use super::retry::{RequestKind, RetryPolicy};
use super::{Client, no_progress};
use crate::api::error::{ApiError, DecodeError, excerpt};

/// The credit balance of the account behind the key.
#[derive(Debug, Clone, Copy, Default, PartialEq, Serialize, Deserialize)]
pub struct Credits {
    pub credits: Option<f64>,
    pub free_credits: Option<f64>,
}

impl Credits {
    /// Paid plus free credits, when either is known.
    pub fn total(&self) -> Option<f64> {
        match (self.credits, self.free_credits) {
            (None, None) => None,
            (a, b) => Some(a.unwrap_or(0.0) + b.unwrap_or(0.0)),
        }
    }
}

impl Client {
    /// The account's credit balance: free, and a way to check a key before spending anything.
    pub async fn credits(&self, cancel: &CancellationToken) -> Result<Credits, ApiError> {
        let result: Result<Credits, ApiError> = async {
            let url = self.root_join("v1/get-user-credits");
            let http = self.getter()?;
            let (_, body, _) = RetryPolicy::for_request(&self.cfg, RequestKind::Credits)
                .run(cancel, &no_progress, |_| {
                    self.json_call(http.get(url.clone()), &url, cancel)
                })
                .await?;
            decode_credits(&body)
        }
        .await;
        result.map_err(|e| e.redacted(&self.key))
    }
}

/// Reads a credits answer: `credits` and `free-credits` (or `free_credits`), numbers or numeric
/// strings, either may be missing but not both.
fn decode_credits(body: &[u8]) -> Result<Credits, ApiError> {
    let v: serde_json::Value =
        serde_json::from_slice(body).map_err(|e| DecodeError::BadJson(e.to_string()))?;
    let num = |k: &str| {
        v.get(k).and_then(|x| {
            x.as_f64()
                .or_else(|| x.as_str().and_then(|s| s.parse().ok()))
        })
    };
    let c = Credits {
        credits: num("credits"),
        free_credits: num("free-credits").or_else(|| num("free_credits")),
    };
    if c.credits.is_none() && c.free_credits.is_none() {
        // Kept whole enough to be scrubbed of the key before it is shortened for display.
        return Err(DecodeError::Unexpected(format!(
            "the credits answer has no balance: {}",
            excerpt(&String::from_utf8_lossy(body))
        ))
        .into());
    }
    Ok(c)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn credits_answers() {
        let c = decode_credits(br#"{"credits": 12.5, "free-credits": "0.5"}"#).unwrap();
        assert_eq!(c.credits, Some(12.5));
        assert_eq!(c.free_credits, Some(0.5));
        assert_eq!(c.total(), Some(13.0));
        let c = decode_credits(br#"{"free_credits": 2}"#).unwrap();
        assert_eq!(c.total(), Some(2.0));
        assert!(matches!(
            decode_credits(br#"{"other": 1}"#),
            Err(ApiError::Decode(DecodeError::Unexpected(_)))
        ));
        assert!(matches!(
            decode_credits(b"<html>"),
            Err(ApiError::Decode(DecodeError::BadJson(_)))
        ));
        assert_eq!(Credits::default().total(), None);
    }
}
