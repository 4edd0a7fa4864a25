//! The "Open…" and "Save as" dialogs behind small traits, so that the window never blocks on them
//! and tests never open one. The native picker runs `rfd::AsyncFileDialog` on a thread of its own;
//! its answer comes back as a [`Pending`], like every other one-off answer to the window.

use std::future::Future;
use std::path::PathBuf;
use std::sync::Arc;
use std::task::{Context, Poll, Wake, Waker};

use crate::jobs::Pending;

/// Opens a file dialog without blocking the caller: the answer (the file chosen, or `None` when the
/// user cancels) arrives through the [`Pending`] it returns, and `wake` repaints the window.
pub trait FilePicker: Send {
    /// Shows the dialog for an input image.
    fn pick_image(&self, wake: Box<dyn Fn() + Send>) -> Pending<Option<PathBuf>>;

    /// Shows the dialog for a batch file (`.jsonl`, `.csv`). Pickers that never open a window
    /// (tests) choose nothing; the Batch view's path field serves them.
    fn pick_batch(&self, wake: Box<dyn Fn() + Send>) -> Pending<Option<PathBuf>> {
        drop(wake);
        Pending::ready(None)
    }
}

/// Opens a "Save as" dialog without blocking the caller.
pub trait SaveDialog: Send + Sync {
    /// Shows the dialog in `dir` with `name` suggested; the chosen path (`None` when the user
    /// cancels) arrives through the [`Pending`], then `wake` repaints the window.
    fn save_png(
        &self,
        dir: PathBuf,
        name: String,
        wake: Box<dyn Fn() + Send>,
    ) -> Pending<Option<PathBuf>>;
}

impl SaveDialog for NativePicker {
    fn save_png(
        &self,
        dir: PathBuf,
        name: String,
        wake: Box<dyn Fn() + Send>,
    ) -> Pending<Option<PathBuf>> {
        Pending::spawn("fluxcn-save-dialog", wake, move || {
            let dialog = rfd::AsyncFileDialog::new()
                .set_title("Export the grid as a PNG")
                .add_filter("PNG image", &["png"])
                .set_directory(&dir)
                .set_file_name(&name)
                .save_file();
            block_on(dialog).map(|h| h.path().to_path_buf())
        })
    }
}

/// The platform's dialog (via `rfd`, the desktop portal on Linux).
#[derive(Debug, Default, Clone, Copy)]
pub struct NativePicker;

/// The image types the dialog offers.
pub const IMAGE_EXTENSIONS: [&str; 7] = ["png", "jpg", "jpeg", "webp", "bmp", "tif", "tiff"];

impl FilePicker for NativePicker {
    fn pick_image(&self, wake: Box<dyn Fn() + Send>) -> Pending<Option<PathBuf>> {
        open_dialog(
            "Choose an input image",
            ("Images", &IMAGE_EXTENSIONS[..]),
            wake,
        )
    }

    fn pick_batch(&self, wake: Box<dyn Fn() + Send>) -> Pending<Option<PathBuf>> {
        let filter = ("Batch files", &["jsonl", "ndjson", "json", "csv"][..]);
        open_dialog("Choose a batch file", filter, wake)
    }
}

/// Shows the platform's "Open" dialog on a thread of its own (the dialog blocks it).
fn open_dialog(
    title: &'static str,
    (filter, extensions): (&'static str, &'static [&'static str]),
    wake: Box<dyn Fn() + Send>,
) -> Pending<Option<PathBuf>> {
    Pending::spawn("fluxcn-open-dialog", wake, move || {
        let dialog = rfd::AsyncFileDialog::new()
            .set_title(title)
            .add_filter(filter, extensions)
            .pick_file();
        block_on(dialog).map(|h| h.path().to_path_buf())
    })
}

/// A pasted clipboard image as a named PNG (encoded off the UI thread, through the services).
pub fn pasted_png(image: &egui::ColorImage) -> Result<(String, Vec<u8>), String> {
    let name = format!("pasted-{}x{}.png", image.size[0], image.size[1]);
    color_image_to_png(image).map(|png| (name, png))
}

/// A clipboard image as PNG bytes.
pub fn color_image_to_png(image: &egui::ColorImage) -> Result<Vec<u8>, String> {
    let [w, h] = image.size;
    let (Ok(w), Ok(h)) = (u32::try_from(w), u32::try_from(h)) else {
        return Err("the pasted image is too large to use".into());
    };
    let raw: Vec<u8> = image
        .pixels
        .iter()
        .flat_map(|c| c.to_srgba_unmultiplied())
        .collect();
    let rgba = image::RgbaImage::from_raw(w, h, raw)
        .ok_or_else(|| "the pasted image's size does not match its pixels".to_owned())?;
    let mut out = std::io::Cursor::new(Vec::new());
    rgba.write_to(&mut out, image::ImageFormat::Png)
        .map_err(|e| format!("could not encode the pasted image as PNG: {e}"))?;
    Ok(out.into_inner())
}

/// Runs one future to completion on this thread (the dialog's future needs no reactor).
fn block_on<F: Future>(fut: F) -> F::Output {
    struct Unpark(std::thread::Thread);
    impl Wake for Unpark {
        fn wake(self: Arc<Self>) {
            self.0.unpark();
        }
    }
    let waker = Waker::from(Arc::new(Unpark(std::thread::current())));
    let mut cx = Context::from_waker(&waker);
    let mut fut = std::pin::pin!(fut);
    loop {
        match fut.as_mut().poll(&mut cx) {
            Poll::Ready(v) => return v,
            Poll::Pending => std::thread::park(),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn pasted_pixels_become_a_png() {
        let img = egui::ColorImage::new([3, 2], vec![egui::Color32::RED; 6]);
        let png = color_image_to_png(&img).unwrap();
        assert!(png.starts_with(b"\x89PNG"));
        let back = image::load_from_memory(&png).unwrap().to_rgba8();
        assert_eq!(back.dimensions(), (3, 2));
        assert_eq!(back.get_pixel(1, 1).0, [255, 0, 0, 255]);
    }

    #[test]
    fn block_on_runs_a_ready_future() {
        assert_eq!(block_on(async { 41 + 1 }), 42);
    }
}
