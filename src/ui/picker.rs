//! The "Open…" dialog behind a small trait, so that the window never blocks on it and tests never
//! open one. The native picker runs `rfd::AsyncFileDialog` on a background thread.

use std::future::Future;
use std::path::PathBuf;
use std::sync::Arc;
use std::task::{Context, Poll, Wake, Waker};

/// What a background helper hands back to the window.
#[derive(Debug)]
pub enum Picked {
    /// A file chosen in the dialog.
    File(PathBuf),
    /// An image from the clipboard, encoded as PNG off the UI thread.
    Pasted { name: String, png: Vec<u8> },
    /// Something went wrong; the message is shown in the input panel.
    Problem(String),
}

/// Opens a file dialog without blocking the caller.
pub trait FilePicker: Send {
    /// Shows the dialog; the chosen file is sent on `reply` (nothing when the user cancels), then
    /// `wake` is called so the window repaints.
    fn pick_image(&self, reply: std::sync::mpsc::Sender<Picked>, wake: Box<dyn Fn() + Send>);

    /// Shows the dialog for a batch file (`.jsonl`, `.csv`); the chosen path is sent on `reply`.
    /// Pickers that never open a window (tests) choose nothing; the Batch view's path field
    /// serves them.
    fn pick_batch(&self, reply: std::sync::mpsc::Sender<PathBuf>, wake: Box<dyn Fn() + Send>) {
        let _ = (reply, wake);
    }
}

/// Opens a "Save as" dialog without blocking the caller.
pub trait SaveDialog: Send + Sync {
    /// Shows the dialog in `dir` with `name` suggested; the chosen path is sent on `reply`
    /// (`None` when the user cancels), then `wake` is called so the window repaints.
    fn save_png(
        &self,
        dir: PathBuf,
        name: String,
        reply: std::sync::mpsc::Sender<Option<PathBuf>>,
        wake: Box<dyn Fn() + Send>,
    );
}

impl SaveDialog for NativePicker {
    fn save_png(
        &self,
        dir: PathBuf,
        name: String,
        reply: std::sync::mpsc::Sender<Option<PathBuf>>,
        wake: Box<dyn Fn() + Send>,
    ) {
        let spawned = std::thread::Builder::new()
            .name("fluxcn-save-dialog".into())
            .spawn(move || {
                let dialog = rfd::AsyncFileDialog::new()
                    .set_title("Export the grid as a PNG")
                    .add_filter("PNG image", &["png"])
                    .set_directory(&dir)
                    .set_file_name(&name)
                    .save_file();
                let _ = reply.send(block_on(dialog).map(|h| h.path().to_path_buf()));
                wake();
            });
        if let Err(e) = spawned {
            tracing::error!(error = %e, "could not start the save dialog thread");
        }
    }
}

/// The platform's dialog (via `rfd`, the desktop portal on Linux).
#[derive(Debug, Default, Clone, Copy)]
pub struct NativePicker;

/// The image types the dialog offers.
pub const IMAGE_EXTENSIONS: [&str; 7] = ["png", "jpg", "jpeg", "webp", "bmp", "tif", "tiff"];

impl FilePicker for NativePicker {
    fn pick_image(&self, reply: std::sync::mpsc::Sender<Picked>, wake: Box<dyn Fn() + Send>) {
        let filter = ("Images", &IMAGE_EXTENSIONS[..]);
        open_dialog("Choose an input image", filter, wake, move |path| {
            let _ = reply.send(Picked::File(path));
        });
    }

    fn pick_batch(&self, reply: std::sync::mpsc::Sender<PathBuf>, wake: Box<dyn Fn() + Send>) {
        let filter = ("Batch files", &["jsonl", "ndjson", "json", "csv"][..]);
        open_dialog("Choose a batch file", filter, wake, move |path| {
            let _ = reply.send(path);
        });
    }
}

/// Shows the platform's "Open" dialog on a thread of its own; `chosen` gets the file (nothing
/// when the user cancels), then `wake` repaints the window.
fn open_dialog(
    title: &'static str,
    (filter, extensions): (&'static str, &'static [&'static str]),
    wake: Box<dyn Fn() + Send>,
    chosen: impl FnOnce(PathBuf) + Send + 'static,
) {
    let spawned = std::thread::Builder::new()
        .name("fluxcn-open-dialog".into())
        .spawn(move || {
            let dialog = rfd::AsyncFileDialog::new()
                .set_title(title)
                .add_filter(filter, extensions)
                .pick_file();
            if let Some(handle) = block_on(dialog) {
                chosen(handle.path().to_path_buf());
            }
            wake();
        });
    if let Err(e) = spawned {
        tracing::error!(error = %e, "could not start the file dialog thread");
    }
}

/// Encodes a pasted clipboard image as PNG on a background thread and hands it back.
pub fn encode_pasted(
    image: Arc<egui::ColorImage>,
    reply: std::sync::mpsc::Sender<Picked>,
    wake: Box<dyn Fn() + Send>,
) {
    let spawned = std::thread::Builder::new()
        .name("fluxcn-paste".into())
        .spawn(move || {
            let msg = match color_image_to_png(&image) {
                Ok(png) => Picked::Pasted {
                    name: format!("pasted-{}x{}.png", image.size[0], image.size[1]),
                    png,
                },
                Err(e) => Picked::Problem(e),
            };
            let _ = reply.send(msg);
            wake();
        });
    if let Err(e) = spawned {
        tracing::error!(error = %e, "could not start the paste thread");
    }
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
