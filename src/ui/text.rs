//! Small text helpers of the window: a pasted or typed text as an input source, and text
//! shortened for a narrow place.

use crate::jobs::InputSource;

/// A pasted or typed text as an input source: an `http(s)` URL or an existing-looking file path.
pub(crate) fn input_from_text(text: &str) -> Option<InputSource> {
    let t = text.trim().trim_matches('"');
    let t = t.strip_prefix("file://").unwrap_or(t);
    if t.is_empty() || t.contains('\n') {
        return None;
    }
    let lower = t.to_ascii_lowercase();
    if lower.starts_with("http://") || lower.starts_with("https://") {
        return Some(InputSource::Url(t.to_owned()));
    }
    let path = std::path::Path::new(t);
    let ext_ok = path
        .extension()
        .map(|e| e.to_string_lossy().to_ascii_lowercase())
        .is_some_and(|e| super::picker::IMAGE_EXTENSIONS.contains(&e.as_str()));
    (path.is_absolute() && ext_ok).then(|| InputSource::File(path.to_path_buf()))
}

/// At most `n` characters of `s`, with an ellipsis when cut.
pub(crate) fn shorten(s: &str, n: usize) -> String {
    if s.chars().count() <= n {
        s.to_owned()
    } else {
        let mut out: String = s.chars().take(n).collect();
        out.push('…');
        out
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn pasted_text_becomes_a_url_or_a_path() {
        assert_eq!(
            input_from_text(" https://x.org/a.png \n"),
            Some(InputSource::Url("https://x.org/a.png".into()))
        );
        assert_eq!(
            input_from_text("file:///home/a/b.JPG"),
            Some(InputSource::File("/home/a/b.JPG".into()))
        );
        assert_eq!(input_from_text("a cat on a mat"), None);
        assert_eq!(input_from_text("relative/x.png"), None);
        assert_eq!(input_from_text("/etc/passwd"), None);
        assert_eq!(input_from_text(""), None);
        assert_eq!(shorten("abcdef", 3), "abc…");
    }
}
