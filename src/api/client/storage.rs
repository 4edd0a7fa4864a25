//! Segmind's storage (`POST {storage}/upload-asset` with `{"data_urls": ["data:image/…;base64,…"]}`
//! → `{"file_urls": […]}`): an input uploaded once becomes a persistent URL that later requests send
//! as `image` instead of its base64. Sent once (an upload costs nothing, but a retried `POST` after
//! an unclear failure would only store a second copy: the caller falls back to base64 instead).

use bytes::Bytes;
use tokio_util::sync::CancellationToken;

use super::Client;
use super::url_policy::parse_base;
use crate::api::error::{ApiError, DecodeError, excerpt};
use crate::api::params::ImageFormat;

impl Client {
    /// Uploads one image (`bytes`, whose format is sniffed) and returns its persistent URL. The URL
    /// must be `https` (or loopback `http`, the stand-in's): anything else is refused, as a URL we
    /// would then hand to the service.
    pub async fn upload_asset(
        &self,
        bytes: &[u8],
        cancel: &CancellationToken,
    ) -> Result<String, ApiError> {
        let result: Result<String, ApiError> = async {
            let mime = ImageFormat::sniff(bytes)
                .map(|f| f.mime())
                .unwrap_or("image/png");
            use base64::Engine as _;
            let data_url = format!(
                "data:{mime};base64,{}",
                base64::engine::general_purpose::STANDARD.encode(bytes)
            );
            let body = serde_json::json!({ "data_urls": [data_url] }).to_string();
            let url = self
                .hosts
                .storage
                .join("upload-asset")
                .map_err(|e| ApiError::BadBaseUrl(e.to_string()))?;
            let rb = self
                .post
                .post(url.clone())
                .header(reqwest::header::CONTENT_TYPE, "application/json")
                .body(Bytes::from(body));
            let (_, answer, _) = self.json_call(rb, &url, cancel).await?;
            decode_upload(&answer)
        }
        .await;
        result.map_err(|e| e.redacted(&self.key))
    }
}

/// The first of `file_urls`, checked to be a URL the service can fetch and we may hand on.
fn decode_upload(body: &[u8]) -> Result<String, ApiError> {
    let v: serde_json::Value =
        serde_json::from_slice(body).map_err(|e| DecodeError::BadJson(e.to_string()))?;
    let url = v
        .get("file_urls")
        .and_then(|u| u.as_array())
        .and_then(|a| a.first())
        .and_then(|u| u.as_str())
        .ok_or_else(|| {
            DecodeError::Unexpected(format!(
                "the upload answer has no file_urls: {}",
                excerpt(&String::from_utf8_lossy(body))
            ))
        })?;
    // The same rule as a base URL: https, or plain http to loopback only.
    parse_base(url).map_err(|_| {
        DecodeError::Unexpected(format!(
            "the upload answer's URL is not https: {}",
            excerpt(url)
        ))
    })?;
    if url.len() > 2048 {
        return Err(DecodeError::Unexpected("the upload answer's URL is too long".into()).into());
    }
    Ok(url.trim().to_owned())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn upload_answers() {
        let ok = br#"{"file_urls": ["https://images.segmind.com/assets/a.png"], "message": "ok"}"#;
        assert_eq!(
            decode_upload(ok).unwrap(),
            "https://images.segmind.com/assets/a.png"
        );
        assert!(decode_upload(br#"{"file_urls": []}"#).is_err());
        assert!(decode_upload(br#"{"message": "no"}"#).is_err());
        assert!(decode_upload(br#"{"file_urls": ["http://evil.example/a.png"]}"#).is_err());
        assert!(decode_upload(br#"{"file_urls": ["file:///etc/passwd"]}"#).is_err());
        assert!(decode_upload(br#"{"file_urls": ["http://127.0.0.1:9/assets/a.png"]}"#).is_ok());
    }
}
