//! What the service can use, checked before anything is read or sent: only a regular file is read
//! (a FIFO would block forever, a device never end), and an image must be at least [`MIN_SIDE`]
//! pixels on each side, before and after the downscale, and no longer than [`MAX_RATIO`] times its
//! short side. Each refusal names the path or the size.

use std::fs::FileType;
use std::path::Path;

use super::InputError;
use crate::api::params;

/// The shortest side the service can use, in pixels (the contract's smallest output size).
pub const MIN_SIDE: u32 = params::SIZE.min;

/// The most times an image's long side may be its short side.
pub const MAX_RATIO: u32 = 16;

/// Refuses anything but a regular file (a folder, a FIFO, a socket, a device) by its type.
pub(super) fn check_regular(path: &Path, ft: &FileType) -> Result<(), InputError> {
    if ft.is_dir() {
        return Err(InputError::NotAFile {
            path: path.to_owned(),
        });
    }
    if ft.is_file() {
        return Ok(());
    }
    Err(InputError::NotRegular {
        path: path.to_owned(),
        kind: special_kind(ft),
    })
}

/// What a file that is neither a regular file nor a folder is, in plain words. FIFOs, sockets and
/// devices are named on Unix (the only place std can tell them apart); elsewhere (Windows: a
/// reparse point, a device path) it is "a special file".
fn special_kind(ft: &FileType) -> &'static str {
    #[cfg(unix)]
    {
        use std::os::unix::fs::FileTypeExt as _;
        if ft.is_fifo() {
            return "a named pipe (FIFO)";
        }
        if ft.is_socket() {
            return "a socket";
        }
        if ft.is_char_device() {
            return "a device (character device)";
        }
        if ft.is_block_device() {
            return "a device (block device)";
        }
    }
    #[cfg(not(unix))]
    let _ = ft;
    "a special file"
}

/// Refuses a maximum side smaller than the service can use (every image would shrink under it).
pub fn check_max_side(max_side: u32) -> Result<(), InputError> {
    if max_side < MIN_SIDE {
        return Err(InputError::MaxSideTooSmall { max_side });
    }
    Ok(())
}

/// Refuses a `w`×`h` image (as shown, after EXIF orientation) the service cannot use: a side under
/// [`MIN_SIDE`], or a long side more than [`MAX_RATIO`] times the short one.
pub(super) fn check_size(name: &str, w: u32, h: u32) -> Result<(), InputError> {
    let (long, short) = (w.max(h), w.min(h));
    let unusable = |detail: String| InputError::Unusable {
        name: name.to_owned(),
        detail,
    };
    if u64::from(long) > u64::from(short) * u64::from(MAX_RATIO) {
        return Err(unusable(format!(
            "it is {w}×{h} pixels (the long side is {} times the short one), and the service \
             takes at most {MAX_RATIO} to 1: crop it closer to a square",
            ratio(long, short)
        )));
    }
    if short < MIN_SIDE {
        return Err(unusable(format!(
            "it is {w}×{h} pixels and the service needs at least {MIN_SIDE} pixels on each side: \
             pick a larger image"
        )));
    }
    Ok(())
}

/// Refuses an image that the downscale to `max_side` would shrink to `fw`×`fh`, under
/// [`MIN_SIDE`] on a side.
pub(super) fn check_downscaled(
    name: &str,
    (w, h): (u32, u32),
    (fw, fh): (u32, u32),
    max_side: u32,
) -> Result<(), InputError> {
    if fw.min(fh) >= MIN_SIDE {
        return Ok(());
    }
    Err(InputError::Unusable {
        name: name.to_owned(),
        detail: format!(
            "it is {w}×{h} pixels; downscaled to fit {max_side} pixels it would be {fw}×{fh}, and \
             the service needs at least {MIN_SIDE} pixels on each side: raise the longest input \
             side (--max-input-side, or the app's Settings)"
        ),
    })
}

/// `long / short` with one decimal, without a trailing `.0` (`100000`, `16.2`).
fn ratio(long: u32, short: u32) -> String {
    let r = f64::from(long) / f64::from(short.max(1));
    let s = format!("{r:.1}");
    s.strip_suffix(".0").map(str::to_owned).unwrap_or(s)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn sizes_at_the_limits() {
        assert!(check_size("a", 64, 64).is_ok());
        assert!(check_size("a", 1024, 64).is_ok());
        assert!(check_size("a", 64, 1024).is_ok());
        let e = check_size("a", 1025, 64).unwrap_err().to_string();
        assert!(e.contains("1025×64") && e.contains("16 to 1"), "{e}");
        let e = check_size("a", 63, 63).unwrap_err().to_string();
        assert!(e.contains("63×63") && e.contains("at least 64"), "{e}");
        let e = check_size("line.png", 100_000, 1).unwrap_err().to_string();
        assert!(e.contains("100000 times"), "{e}");
        assert_eq!(ratio(1100, 68), "16.2");
        assert!(check_max_side(64).is_ok());
        assert!(check_max_side(63).is_err());
        assert!(check_downscaled("a", (1600, 400), (256, 64), 256).is_ok());
        let e = check_downscaled("a", (1600, 200), (256, 32), 256)
            .unwrap_err()
            .to_string();
        assert!(e.contains("256×32") && e.contains("1600×200"), "{e}");
    }
}
