//! Small shared pieces of the window: labelled knobs with hover help, headings, error lines, values
//! copied with a click, and number formatting.

use std::time::Duration;

use egui::{Color32, Rect, RichText, Sense, TextureHandle, Ui, Vec2};

/// A hint that names shortcuts, in this platform's words: every shortcut is egui's
/// `Modifiers::COMMAND` (Ctrl on Linux and Windows, Cmd on macOS), and so is what the hint says.
pub fn keys(text: &str) -> String {
    if cfg!(target_os = "macos") {
        text.replace("Ctrl+", "Cmd+")
    } else {
        text.to_owned()
    }
}

/// `text` fitted to `width` (in the body font) by cutting out its middle ("a knight in … red
/// cloak"), so texts that differ at the start or at the end still look different.
pub fn middle_cut(ui: &Ui, text: &str, width: f32) -> String {
    let one_line: String = text.split_whitespace().collect::<Vec<_>>().join(" ");
    let font = egui::TextStyle::Body.resolve(ui.style());
    let measure = |s: &str| {
        ui.fonts_mut(|f| f.layout_no_wrap(s.to_owned(), font.clone(), Color32::WHITE))
            .size()
            .x
    };
    if width <= 0.0 || measure(&one_line) <= width {
        return one_line;
    }
    let chars: Vec<char> = one_line.chars().collect();
    // Keep a third from the start and the rest from the end, as many characters as fit.
    let fits = |keep: usize| {
        let head = keep / 3;
        let tail = keep - head;
        let s: String = chars[..head]
            .iter()
            .chain(std::iter::once(&'…'))
            .chain(chars[chars.len() - tail..].iter())
            .collect();
        (measure(&s) <= width).then_some(s)
    };
    let (mut lo, mut hi) = (0usize, chars.len());
    let mut best = "…".to_owned();
    while lo <= hi {
        let mid = (lo + hi) / 2;
        match fits(mid) {
            Some(s) => {
                best = s;
                lo = mid + 1;
            }
            None if mid == 0 => break,
            None => hi = mid - 1,
        }
    }
    best
}

/// The colour of an error line (readable in light and dark themes).
pub const ERROR: Color32 = Color32::from_rgb(0xE0, 0x4F, 0x4F);
/// The colour of a warning line.
pub const WARN: Color32 = Color32::from_rgb(0xD8, 0x9B, 0x2B);
/// The colour of a good-news line.
pub const OK: Color32 = Color32::from_rgb(0x4C, 0xAF, 0x50);

/// A section heading with a little space above it.
pub fn heading(ui: &mut Ui, text: &str) -> egui::Response {
    ui.add_space(6.0);
    let r = ui.label(RichText::new(text).strong().size(15.0));
    ui.add_space(2.0);
    r
}

/// A wrapped red line.
pub fn error_line(ui: &mut Ui, text: &str) -> egui::Response {
    ui.add(egui::Label::new(RichText::new(text).color(ERROR)).wrap())
}

/// A wrapped amber line.
pub fn warn_line(ui: &mut Ui, text: &str) -> egui::Response {
    ui.add(egui::Label::new(RichText::new(text).color(WARN)).wrap())
}

/// A weak (grey) wrapped line for explanations.
pub fn hint_line(ui: &mut Ui, text: &str) -> egui::Response {
    ui.add(egui::Label::new(RichText::new(text).weak()).wrap())
}

/// How long the "copied" note stays after a click on a copyable value (seconds).
const COPIED_FOR: f64 = 1.5;

/// A value shown whole (never wrapped nor cut) that copies itself to the clipboard on a click: the
/// hover text says so, and for a moment after the click a "copied" note floats beside it (it takes
/// no room, so nothing moves). `what` names the value in the hover text.
pub fn copyable(ui: &mut Ui, text: &str, what: &str) -> egui::Response {
    let resp = ui
        .add(
            egui::Label::new(RichText::new(text).strong())
                .extend()
                .selectable(false)
                .sense(Sense::click()),
        )
        .on_hover_cursor(egui::CursorIcon::PointingHand)
        .on_hover_text(format!("Click to copy the {what}"));
    let key = egui::Id::unique(("copied_note", what, text));
    let now = ui.input(|i| i.time);
    if resp.clicked() {
        ui.ctx().copy_text(text.to_owned());
        ui.data_mut(|d| d.insert_temp(key, now));
    }
    let Some(at) = ui.data(|d| d.get_temp::<f64>(key)) else {
        return resp;
    };
    let left = COPIED_FOR - (now - at);
    if left <= 0.0 {
        ui.data_mut(|d| d.remove::<f64>(key));
        return resp;
    }
    egui::Area::new(key)
        .order(egui::Order::Tooltip)
        .interactable(false)
        .fixed_pos(resp.rect.right_top() + egui::vec2(6.0, 0.0))
        .show(ui.ctx(), |ui| {
            egui::Frame::popup(ui.style()).show(ui, |ui| {
                ui.add(egui::Label::new(RichText::new("copied").color(OK)).extend());
            });
        });
    ui.ctx()
        .request_repaint_after(Duration::from_secs_f64(left.max(0.05)));
    resp
}

/// An integer slider over `min..=max` (typing in its box is clamped too), with one line of help.
pub fn slider_u32(
    ui: &mut Ui,
    label: &str,
    value: &mut u32,
    min: u32,
    max: u32,
    step: u32,
    help: &str,
) -> egui::Response {
    let r = ui
        .add(
            egui::Slider::new(value, min..=max)
                .text(label)
                .step_by(f64::from(step.max(1))),
        )
        .on_hover_text(help);
    *value = (*value).clamp(min, max);
    r
}

/// A real-valued slider over `min..=max` with `decimals` places, with one line of help.
pub fn slider_f64(
    ui: &mut Ui,
    label: &str,
    value: &mut f64,
    min: f64,
    max: f64,
    step: f64,
    help: &str,
) -> egui::Response {
    if !value.is_finite() {
        *value = min;
    }
    let r = ui
        .add(
            egui::Slider::new(value, min..=max)
                .text(label)
                .step_by(step)
                .max_decimals(3),
        )
        .on_hover_text(help);
    *value = value.clamp(min, max);
    r
}

/// `v` rounded to the nearest multiple of `step` inside `min..=max` (both multiples of `step`).
pub fn snap(v: u32, step: u32, min: u32, max: u32) -> u32 {
    let step = step.max(1);
    let rounded = v.saturating_add(step / 2) / step * step;
    rounded.clamp(min, max)
}

/// Seconds as `12 s` or `3 min 05 s`.
pub fn seconds(secs: u64) -> String {
    if secs < 60 {
        format!("{secs} s")
    } else {
        format!("{} min {:02} s", secs / 60, secs % 60)
    }
}

/// A byte count as `812 KB` or `3.4 MB`.
pub fn bytes(n: u64) -> String {
    if n >= 1_000_000 {
        format!("{:.1} MB", n as f64 / 1_000_000.0)
    } else if n >= 1_000 {
        format!("{} KB", n / 1_000)
    } else {
        format!("{n} B")
    }
}

/// Makes a texture from decoded RGBA pixels; `None` for an empty image. An image larger than the
/// GPU allows is scaled down to fit (the runtime already sends screen-sized previews, so this is rare).
pub fn texture_from_rgba(
    ctx: &egui::Context,
    name: impl Into<String>,
    image: &image::RgbaImage,
) -> Option<TextureHandle> {
    let (w, h) = image.dimensions();
    if w == 0 || h == 0 {
        return None;
    }
    let max = ctx.input(|i| i.max_texture_side).max(1) as u32;
    let scaled;
    let img = if w > max || h > max {
        let s = max as f64 / w.max(h) as f64;
        let (nw, nh) = (
            ((w as f64 * s).floor() as u32).clamp(1, max),
            ((h as f64 * s).floor() as u32).clamp(1, max),
        );
        scaled = image::imageops::thumbnail(image, nw, nh);
        &scaled
    } else {
        image
    };
    let color = egui::ColorImage::from_rgba_unmultiplied(
        [img.width() as usize, img.height() as usize],
        img.as_raw(),
    );
    Some(ctx.load_texture(name, color, Default::default()))
}

/// The largest rectangle of aspect `size` centred in `rect`.
pub fn fit_in(rect: Rect, size: Vec2) -> Rect {
    if size.x <= 0.0 || size.y <= 0.0 {
        return rect;
    }
    let s = (rect.width() / size.x).min(rect.height() / size.y);
    Rect::from_center_size(rect.center(), size * s)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn snapping_stays_in_range_on_the_grid() {
        assert_eq!(snap(1000, 64, 64, 4096), 1024);
        assert_eq!(snap(95, 64, 64, 4096), 64);
        assert_eq!(snap(0, 64, 64, 4096), 64);
        assert_eq!(snap(u32::MAX, 64, 64, 4096), 4096);
        assert_eq!(snap(1001, 8, 64, 4096), 1000);
        assert_eq!(snap(5000, 8, 64, 4096), 4096);
    }

    #[test]
    fn formatting() {
        assert_eq!(seconds(49), "49 s");
        assert_eq!(seconds(125), "2 min 05 s");
        assert_eq!(bytes(999), "999 B");
        assert_eq!(bytes(812_345), "812 KB");
        assert_eq!(bytes(3_400_000), "3.4 MB");
    }
}
