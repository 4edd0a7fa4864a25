//! The API key as a value that cannot leak by accident: `Debug` and `Display` print it redacted, and
//! [`ApiKey::redact`] scrubs it out of any text (a server message, an error) before it is shown.

use std::fmt;

/// A Segmind API key. The only way to read it is [`ApiKey::expose`], used when the header is built.
#[derive(Clone, PartialEq, Eq)]
pub struct ApiKey(String);

impl ApiKey {
    /// Wraps a key, trimming surrounding white space (a pasted key often carries a newline).
    /// Returns `None` when nothing is left.
    pub fn new(raw: impl AsRef<str>) -> Option<ApiKey> {
        let t = raw.as_ref().trim();
        if t.is_empty() {
            None
        } else {
            Some(ApiKey(t.to_owned()))
        }
    }

    /// The key itself, for the `x-api-key` header only.
    pub fn expose(&self) -> &str {
        &self.0
    }

    /// Whether the key has the documented shape: `SG_` and 16 hex characters. Another shape gets a
    /// warning, never a refusal (the contract says the shape may change).
    pub fn looks_valid(&self) -> bool {
        let s = self.0.as_str();
        s.len() == 19 && s.starts_with("SG_") && s[3..].bytes().all(|b| b.is_ascii_hexdigit())
    }

    /// A warning for the user when the key does not look like a Segmind key.
    pub fn shape_warning(&self) -> Option<String> {
        if self.looks_valid() {
            None
        } else {
            Some(format!(
                "this key ({} characters) does not look like a Segmind key (SG_ followed by 16 hex \
                 characters); it will be used anyway",
                self.0.chars().count()
            ))
        }
    }

    /// A hint safe to show: the first three characters and the last two, e.g. `SG_…3f`.
    pub fn masked(&self) -> String {
        let chars: Vec<char> = self.0.chars().collect();
        if chars.len() <= 6 {
            return "…".to_owned();
        }
        let head: String = chars[..3].iter().collect();
        let tail: String = chars[chars.len() - 2..].iter().collect();
        format!("{head}…{tail}")
    }

    /// `text` with every occurrence of the key replaced by `[redacted key]`.
    pub fn redact(&self, text: &str) -> String {
        if self.0.len() < 4 {
            text.to_owned()
        } else {
            text.replace(&self.0, "[redacted key]")
        }
    }
}

impl fmt::Debug for ApiKey {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "ApiKey({})", self.masked())
    }
}

impl fmt::Display for ApiKey {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.masked())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn never_printed() {
        let k = ApiKey::new(" SG_0123456789abcdef\n").unwrap();
        assert_eq!(k.expose(), "SG_0123456789abcdef");
        assert!(k.looks_valid());
        assert!(!format!("{k:?} {k}").contains("0123456789abcdef"));
        assert_eq!(k.masked(), "SG_…ef");
        assert_eq!(
            k.redact("bad key SG_0123456789abcdef!"),
            "bad key [redacted key]!"
        );
        assert!(ApiKey::new("   ").is_none());
        assert!(ApiKey::new("sk-other").unwrap().shape_warning().is_some());
    }
}
