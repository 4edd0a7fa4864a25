//! The gallery panel: every saved result as a virtualised grid of thumbnails (newest first), with a
//! text / control-type / favourites filter, a details pane for the selected image (favourite,
//! delete with undo, reveal, copy prompt, "use these settings"), and reading settings from image
//! files dropped on the window.
//!
//! The panel does no I/O: it calls [`Services`] and keeps each [`Pending`] reply until it arrives
//! (polled each frame); job events only tell it to re-list. Only thumbnails of rows on screen are
//! requested, a few per frame, and at most [`MAX_THUMB_TEXTURES`] textures are
//! kept (least recently seen dropped first), so a gallery of 10 000 images stays light.

use std::collections::{HashMap, HashSet};
use std::path::PathBuf;
use std::sync::Arc;

use egui::{
    Align2, Color32, FontId, Rect, Role, Sense, Stroke, StrokeKind, TextureHandle, Vec2,
    WidgetInfo, pos2, vec2,
};

pub use super::widgets::{fit_in, texture_from_rgba};
use crate::api::{CnType, GenParams};
use crate::gallery::Entry;
use crate::jobs::services::{Listing, Pending, Poll};
use crate::jobs::{Event, ServiceError, Services};

/// The longest side of a requested thumbnail, in pixels.
pub const THUMB_PIXELS: u32 = 256;
/// The side of a thumbnail slot on screen, in points.
pub const THUMB_SIZE: f32 = 112.0;
/// The most thumbnail textures kept at once (those seen longest ago are dropped first).
pub const MAX_THUMB_TEXTURES: usize = 300;
/// The most thumbnail requests sent in one frame.
pub const MAX_THUMB_REQUESTS_PER_FRAME: usize = 48;
/// The most thumbnail requests waiting for an answer at once.
pub const MAX_THUMBS_IN_FLIGHT: usize = 96;
/// How long the "Undo" button stays after a delete, in seconds.
pub const UNDO_SECONDS: f64 = 10.0;
/// The shortest time between two listings asked for because results arrived (a grid's results
/// come in bursts; one listing covers them all), in seconds.
pub const LIST_MIN_INTERVAL: f64 = 1.0;

/// What the user asked of the app through a panel.
#[derive(Debug, Clone, PartialEq)]
pub enum PanelAction {
    /// Load these settings into the controls (the seed is the one the result was made with).
    UseSettings(GenParams),
}

enum Thumb {
    Requested(Pending<Result<Arc<image::RgbaImage>, ServiceError>>),
    Ready(TextureHandle),
    Failed(String),
}

struct ThumbSlot {
    thumb: Thumb,
    last_seen: u64,
}

#[derive(Clone, PartialEq)]
struct FilterKey {
    text: String,
    cn: Option<CnType>,
    favourites_only: bool,
    generation: u64,
}

/// The gallery panel's state. Create once with [`GalleryPanel::default`]; each frame, feed it the
/// events ([`GalleryPanel::handle_event`]) and draw it ([`GalleryPanel::ui`]).
#[derive(Default)]
pub struct GalleryPanel {
    entries: Arc<Vec<Entry>>,
    /// Lower-cased prompts, parallel to `entries`.
    lower_prompts: Vec<String>,
    by_id: HashMap<String, usize>,
    /// Indices into `entries` that pass the filter, newest first.
    shown: Vec<usize>,
    shown_key: Option<FilterKey>,
    generation: u64,

    filter_text: String,
    filter_cn: Option<CnType>,
    favourites_only: bool,

    /// Favourite changes sent but not yet confirmed by a new list.
    favourite_override: HashMap<String, bool>,
    /// Deleted, waiting for the new list.
    hidden: HashSet<String>,
    selected: Option<String>,
    /// The last deleted image and until when (UI time, seconds) "Undo" is offered.
    undo: Option<(String, f64)>,

    thumbs: HashMap<String, ThumbSlot>,
    in_flight: usize,
    frame: u64,

    listed: bool,
    refresh_wanted: bool,
    /// When (UI time, seconds) the gallery was last listed.
    last_list_at: Option<f64>,
    /// Dropped files whose settings were asked for.
    reading: Vec<(PathBuf, Pending<Result<GenParams, ServiceError>>)>,
    /// Listings asked for (a refresh, or the answer to a favourite, delete or undo), oldest first.
    /// Each numbered in the order asked: only a listing newer than the last applied is applied
    /// (an old refresh answering late must not bring back a row deleted since).
    listings: Vec<(u64, Pending<Result<Listing, ServiceError>>)>,
    listings_asked: u64,
    listing_applied: u64,
    /// "Open folder" requests not answered yet.
    reveals: Vec<Pending<Result<(), ServiceError>>>,
    pending_action: Option<PanelAction>,
    error: Option<String>,
    info: Option<String>,
}

impl GalleryPanel {
    /// How many images the gallery holds (before filtering).
    pub fn len(&self) -> usize {
        self.entries.len()
    }

    /// Whether the gallery is empty (or not listed yet).
    pub fn is_empty(&self) -> bool {
        self.entries.is_empty()
    }

    /// The id of the selected image.
    pub fn selected(&self) -> Option<&str> {
        self.selected.as_deref()
    }

    /// Selects an image by id (e.g. the result the app just showed).
    pub fn select(&mut self, id: Option<String>) {
        self.selected = id;
    }

    /// How many thumbnail textures are held.
    pub fn texture_count(&self) -> usize {
        self.thumbs
            .values()
            .filter(|s| matches!(s.thumb, Thumb::Ready(_)))
            .count()
    }

    /// Asks for the settings stored in image files dropped on the window (the app forwards
    /// `ctx.input(|i| i.raw.dropped_files)` paths); the answer becomes
    /// [`PanelAction::UseSettings`] or an error line in the panel.
    pub fn files_dropped(&mut self, paths: impl IntoIterator<Item = PathBuf>, services: &Services) {
        for p in paths {
            if !self.reading.iter().any(|(q, _)| *q == p) {
                let pending = services.read_settings(p.clone());
                self.reading.push((p, pending));
            }
        }
    }

    /// Takes in a job event: a new result means the listing is stale.
    pub fn handle_event(&mut self, ev: &Event, ctx: &egui::Context) {
        if let Event::Done { .. } = ev {
            self.refresh_wanted = true;
            ctx.request_repaint();
        }
    }

    /// Keeps a listing asked for (a refresh, or a favourite, delete or undo that answers with one).
    fn ask_listing(&mut self, pending: Pending<Result<Listing, ServiceError>>) {
        self.listings_asked += 1;
        self.listings.push((self.listings_asked, pending));
    }

    /// Takes the replies that have arrived: listings, thumbnails, settings read, reveals.
    fn poll(&mut self, ctx: &egui::Context) {
        let mut i = 0;
        while i < self.listings.len() {
            let seq = self.listings[i].0;
            match self.listings[i].1.poll() {
                Poll::Waiting => i += 1,
                Poll::Ready(r) => {
                    self.listings.remove(i);
                    match r {
                        Ok(_) if seq < self.listing_applied => {}
                        Ok(list) => {
                            self.listing_applied = seq;
                            self.set_entries(list);
                        }
                        Err(e) => self.error = Some(e.to_string()),
                    }
                }
                Poll::Lost => {
                    self.listings.remove(i);
                }
            }
        }
        self.poll_thumbs(ctx);
        self.poll_reading();
        self.reveals.retain_mut(|p| match p.poll() {
            Poll::Waiting => true,
            Poll::Ready(Err(e)) => {
                self.error = Some(e.to_string());
                false
            }
            Poll::Ready(Ok(())) | Poll::Lost => false,
        });
    }

    fn poll_thumbs(&mut self, ctx: &egui::Context) {
        for (id, slot) in self.thumbs.iter_mut() {
            let Thumb::Requested(p) = &mut slot.thumb else {
                continue;
            };
            let answer = match p.poll() {
                Poll::Waiting => continue,
                Poll::Ready(r) => r.map_err(|e| e.to_string()),
                Poll::Lost => Err("the background worker has stopped".into()),
            };
            self.in_flight = self.in_flight.saturating_sub(1);
            slot.thumb = match answer {
                Ok(img) => match texture_from_rgba(ctx, format!("thumb-{id}"), &img) {
                    Some(t) => Thumb::Ready(t),
                    None => Thumb::Failed("the thumbnail is empty".into()),
                },
                Err(e) => Thumb::Failed(e),
            };
        }
    }

    fn poll_reading(&mut self) {
        let mut i = 0;
        while i < self.reading.len() {
            let answer = match self.reading[i].1.poll() {
                Poll::Waiting => {
                    i += 1;
                    continue;
                }
                Poll::Ready(r) => r.map_err(|e| e.to_string()),
                Poll::Lost => Err("the background worker has stopped".into()),
            };
            let (path, _) = self.reading.remove(i);
            match answer {
                Ok(params) => {
                    self.error = None;
                    self.info = Some(format!("Settings read from {}", path.display()));
                    self.pending_action = Some(PanelAction::UseSettings(params));
                }
                Err(e) => {
                    self.error = Some(format!(
                        "Could not read settings from {}: {e}",
                        path.display()
                    ));
                }
            }
        }
    }

    fn set_entries(&mut self, list: Arc<Vec<Entry>>) {
        self.lower_prompts = list
            .iter()
            .map(|e| e.meta.params.prompt.to_lowercase())
            .collect();
        self.by_id = list
            .iter()
            .enumerate()
            .map(|(i, e)| (e.id.clone(), i))
            .collect();
        self.entries = list;
        self.favourite_override.clear();
        self.hidden.clear();
        // A thumbnail that failed may work now (the file may be back): ask again when seen.
        self.thumbs
            .retain(|_, slot| !matches!(slot.thumb, Thumb::Failed(_)));
        if self
            .selected
            .as_ref()
            .is_some_and(|s| !self.by_id.contains_key(s))
        {
            self.selected = None;
        }
        self.generation += 1;
    }

    fn favourite(&self, e: &Entry) -> bool {
        self.favourite_override
            .get(&e.id)
            .copied()
            .unwrap_or(e.meta.favourite)
    }

    fn refilter(&mut self) {
        let key = FilterKey {
            text: self.filter_text.trim().to_lowercase(),
            cn: self.filter_cn,
            favourites_only: self.favourites_only,
            generation: self.generation,
        };
        if self.shown_key.as_ref() == Some(&key) {
            return;
        }
        self.shown = self
            .entries
            .iter()
            .enumerate()
            .filter(|(i, e)| {
                !self.hidden.contains(&e.id)
                    && key.cn.is_none_or(|c| e.meta.params.cn_type == c)
                    && (!key.favourites_only || self.favourite(e))
                    && (key.text.is_empty()
                        || self
                            .lower_prompts
                            .get(*i)
                            .is_some_and(|p| p.contains(&key.text)))
            })
            .map(|(i, _)| i)
            .collect();
        self.shown_key = Some(key);
    }

    /// Draws the panel. Returns what the user asked for, if anything, this frame.
    pub fn ui(&mut self, ui: &mut egui::Ui, services: &Services) -> Option<PanelAction> {
        self.frame += 1;
        self.poll(ui.ctx());
        let now = ui.input(|i| i.time);
        if !self.listed {
            self.list(now, services);
        } else if self.refresh_wanted {
            let since = self.last_list_at.map_or(f64::INFINITY, |t| now - t);
            if since >= LIST_MIN_INTERVAL {
                self.list(now, services);
            } else {
                ui.ctx()
                    .request_repaint_after(std::time::Duration::from_secs_f64(
                        (LIST_MIN_INTERVAL - since).max(0.0),
                    ));
            }
        }
        let mut action = self.pending_action.take();

        self.refilter();
        self.toolbar(ui, services);
        self.messages(ui, services);
        if let Some(a) = self.details(ui, services) {
            action = Some(a);
        }
        ui.separator();
        self.refilter();
        self.grid(ui, services);
        action
    }

    fn list(&mut self, now: f64, services: &Services) {
        self.listed = true;
        self.refresh_wanted = false;
        self.last_list_at = Some(now);
        self.ask_listing(services.gallery_list());
    }

    fn toolbar(&mut self, ui: &mut egui::Ui, services: &Services) {
        ui.horizontal(|ui| {
            ui.add(
                egui::TextEdit::singleline(&mut self.filter_text)
                    .hint_text("Filter by prompt")
                    .desired_width(160.0),
            )
            .accessible_name("Filter by prompt");
            egui::ComboBox::from_id_salt("gallery-cn-filter")
                .selected_text(self.filter_cn.map_or("All types", |c| c.as_str()))
                .show_ui(ui, |ui| {
                    ui.selectable_value(&mut self.filter_cn, None, "All types");
                    for c in CnType::ALL {
                        ui.selectable_value(&mut self.filter_cn, Some(*c), c.as_str());
                    }
                })
                .response
                .accessible_name("Control type filter");
            ui.toggle_value(&mut self.favourites_only, "Favourites only");
            if ui.button("Refresh").clicked() {
                let now = ui.input(|i| i.time);
                self.list(now, services);
            }
        });
        ui.label(format!(
            "{} of {} images",
            self.shown.len(),
            self.entries.len()
        ));
    }

    fn messages(&mut self, ui: &mut egui::Ui, services: &Services) {
        if let Some(e) = &self.error {
            let mut dismiss = false;
            ui.horizontal(|ui| {
                ui.colored_label(ui.visuals().error_fg_color, e);
                dismiss = ui.small_button("Dismiss").clicked();
            });
            if dismiss {
                self.error = None;
            }
        }
        if let Some(i) = &self.info {
            let mut dismiss = false;
            ui.horizontal(|ui| {
                ui.label(i);
                dismiss = ui.small_button("Dismiss").clicked();
            });
            if dismiss {
                self.info = None;
            }
        }
        let now = ui.input(|i| i.time);
        if let Some((id, until)) = self.undo.clone() {
            if now >= until {
                self.undo = None;
            } else {
                ui.horizontal(|ui| {
                    ui.label("Image moved to the gallery's trash.");
                    if ui.button("Undo").clicked() {
                        self.ask_listing(services.undo_delete(id.clone()));
                        self.hidden.remove(&id);
                        self.generation += 1;
                        self.undo = None;
                    }
                });
                ui.ctx()
                    .request_repaint_after(std::time::Duration::from_secs_f64(until - now));
            }
        }
    }

    fn details(&mut self, ui: &mut egui::Ui, services: &Services) -> Option<PanelAction> {
        let id = self.selected.clone()?;
        let Some(entry) = self.by_id.get(&id).and_then(|i| self.entries.get(*i)) else {
            self.selected = None;
            return None;
        };
        if self.hidden.contains(&id) {
            return None;
        }
        let entry = entry.clone();
        let m = &entry.meta;
        let p = &m.params;
        let favourite = self.favourite(&entry);
        let mut action = None;
        egui::Frame::group(ui.style()).show(ui, |ui| {
            ui.add(egui::Label::new(egui::RichText::new(&p.prompt).strong()).wrap());
            egui::Grid::new("gallery-details")
                .num_columns(4)
                .spacing([12.0, 2.0])
                .show(ui, |ui| {
                    // The knobs as the field table shows them (the Result tab shows the same
                    // rows), with the seed this image was made with; then this image's own.
                    let used = GenParams {
                        seed: m.seed_used,
                        ..p.clone()
                    };
                    let mut rows: Vec<(&str, String)> = crate::api::fields::details(&used)
                        .into_iter()
                        .map(|(f, v)| (f.label(), v))
                        .collect();
                    rows.push(("size", format!("{} × {}", m.width, m.height)));
                    rows.push(("created", m.created.clone()));
                    for pair in rows.chunks(2) {
                        for (k, v) in pair {
                            ui.weak(*k);
                            ui.label(v.as_str());
                        }
                        ui.end_row();
                    }
                });
            ui.horizontal(|ui| {
                ui.weak("file");
                ui.add(egui::Label::new(entry.image_path.display().to_string()).truncate());
            });
            ui.horizontal_wrapped(|ui| {
                let star = if favourite {
                    "Remove from favourites"
                } else {
                    "Add to favourites"
                };
                if ui
                    .selectable_label(favourite, star)
                    .on_hover_text("Mark or unmark as a favourite")
                    .clicked()
                {
                    self.ask_listing(services.set_favourite(id.clone(), !favourite));
                    self.favourite_override.insert(id.clone(), !favourite);
                    self.generation += 1;
                }
                if ui
                    .button("Delete")
                    .on_hover_text("Move to the gallery's trash (can be undone)")
                    .clicked()
                {
                    self.ask_listing(services.delete(id.clone()));
                    self.hidden.insert(id.clone());
                    self.generation += 1;
                    self.selected = None;
                    let now = ui.input(|i| i.time);
                    self.undo = Some((id.clone(), now + UNDO_SECONDS));
                }
                if ui.button("Open folder").clicked() {
                    self.reveals.push(services.reveal(entry.image_path.clone()));
                }
                if ui.button("Copy prompt").clicked() {
                    ui.ctx().copy_text(p.prompt.clone());
                }
                if ui
                    .button("Use these settings")
                    .on_hover_text("Load these settings, with the seed this image was made with")
                    .clicked()
                {
                    action = Some(PanelAction::UseSettings(GenParams {
                        seed: m.seed_used,
                        ..p.clone()
                    }));
                }
            });
        });
        action
    }

    fn grid(&mut self, ui: &mut egui::Ui, services: &Services) {
        if self.entries.is_empty() {
            ui.weak("No images yet. Results appear here as soon as they are saved.");
            return;
        }
        if self.shown.is_empty() {
            ui.weak("No image matches the filter.");
            return;
        }
        let spacing = ui.spacing().item_spacing.x;
        let cols =
            (((ui.available_width() + spacing) / (THUMB_SIZE + spacing)).floor() as usize).max(1);
        let rows = self.shown.len().div_ceil(cols);
        let mut seen: Vec<usize> = Vec::new();
        let mut clicked: Option<String> = None;
        egui::ScrollArea::vertical()
            .auto_shrink([false, false])
            .show_rows(ui, THUMB_SIZE, rows, |ui, range| {
                for r in range {
                    ui.horizontal(|ui| {
                        for c in 0..cols {
                            let Some(&i) = self.shown.get(r * cols + c) else {
                                break;
                            };
                            let Some(e) = self.entries.get(i) else {
                                continue;
                            };
                            seen.push(i);
                            if self.thumb_slot(ui, e).clicked() {
                                clicked = Some(e.id.clone());
                            }
                        }
                    });
                }
            });
        if let Some(id) = clicked {
            self.selected = Some(id);
        }
        self.request_thumbs(&seen, services);
        self.evict();
    }

    fn thumb_slot(&self, ui: &mut egui::Ui, e: &Entry) -> egui::Response {
        let (rect, resp) = ui.allocate_exact_size(Vec2::splat(THUMB_SIZE), Sense::click());
        let selected = self.selected.as_deref() == Some(e.id.as_str());
        let label = format!(
            "thumbnail: {}",
            crate::api::error::shorten(&e.meta.params.prompt, 60)
        );
        resp.widget_info(|| WidgetInfo::selected(Role::Button, true, selected, &label));
        if ui.is_rect_visible(rect) {
            let painter = ui.painter();
            let visuals = ui.visuals();
            painter.rect_filled(rect, 4.0, visuals.extreme_bg_color);
            match self.thumbs.get(&e.id).map(|s| &s.thumb) {
                Some(Thumb::Ready(tex)) => {
                    let r = fit_in(rect.shrink(2.0), tex.size_vec2());
                    painter.image(
                        tex.id(),
                        r,
                        Rect::from_min_max(pos2(0.0, 0.0), pos2(1.0, 1.0)),
                        Color32::WHITE,
                    );
                }
                Some(Thumb::Failed(_)) => {
                    painter.text(
                        rect.center(),
                        Align2::CENTER_CENTER,
                        "no preview",
                        FontId::proportional(12.0),
                        visuals.error_fg_color,
                    );
                }
                _ => {
                    painter.text(
                        rect.center(),
                        Align2::CENTER_CENTER,
                        e.meta.params.cn_type.as_str(),
                        FontId::proportional(12.0),
                        visuals.weak_text_color(),
                    );
                }
            }
            if self.favourite(e) {
                // A drawn badge: the default fonts have no star glyph.
                painter.circle(
                    rect.right_top() + vec2(-10.0, 10.0),
                    6.0,
                    Color32::GOLD,
                    Stroke::new(1.0, Color32::BLACK),
                );
            }
            let stroke = if selected {
                Stroke::new(2.0, visuals.selection.stroke.color)
            } else if resp.hovered() {
                visuals.widgets.hovered.bg_stroke
            } else {
                Stroke::NONE
            };
            painter.rect_stroke(rect, 4.0, stroke, StrokeKind::Inside);
        }
        let tip = match self.thumbs.get(&e.id).map(|s| &s.thumb) {
            Some(Thumb::Failed(err)) => format!("{}\n\nThumbnail: {err}", e.meta.params.prompt),
            _ => e.meta.params.prompt.clone(),
        };
        resp.on_hover_text(tip)
    }

    /// Marks the thumbnails on screen as seen and asks for those not requested yet, a bounded
    /// number per frame.
    fn request_thumbs(&mut self, seen: &[usize], services: &Services) {
        let mut sent = 0;
        for &i in seen {
            let Some(e) = self.entries.get(i) else {
                continue;
            };
            if let Some(slot) = self.thumbs.get_mut(&e.id) {
                slot.last_seen = self.frame;
                continue;
            }
            if sent >= MAX_THUMB_REQUESTS_PER_FRAME || self.in_flight >= MAX_THUMBS_IN_FLIGHT {
                continue;
            }
            let pending = services.thumbnail(e.id.clone(), THUMB_PIXELS);
            sent += 1;
            self.in_flight += 1;
            self.thumbs.insert(
                e.id.clone(),
                ThumbSlot {
                    thumb: Thumb::Requested(pending),
                    last_seen: self.frame,
                },
            );
        }
    }

    /// Drops the textures seen longest ago once more than [`MAX_THUMB_TEXTURES`] are held. Thumbs
    /// on screen this frame and requests still waiting for an answer are kept.
    fn evict(&mut self) {
        if self.thumbs.len() <= MAX_THUMB_TEXTURES {
            return;
        }
        let mut old: Vec<(u64, String)> = self
            .thumbs
            .iter()
            .filter(|(_, s)| s.last_seen < self.frame && !matches!(s.thumb, Thumb::Requested(_)))
            .map(|(id, s)| (s.last_seen, id.clone()))
            .collect();
        old.sort_unstable();
        let excess = self.thumbs.len() - MAX_THUMB_TEXTURES;
        for (_, id) in old.into_iter().take(excess) {
            self.thumbs.remove(&id);
        }
    }
}
