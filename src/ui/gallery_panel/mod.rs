//! The gallery panel: the results a search finds (newest first, or by rating) as a virtualised
//! grid of thumbnails, with the selected image's details beside it (favourite, rating 1–5, delete
//! with undo, reveal, copy prompt, "use these settings"), and reading settings from image files
//! dropped on the window.
//!
//! The search box takes the catalog's syntax (prompt words, `cn_type:depth`, `rating>=4`, `is:fav`;
//! see [`crate::gallery::catalog::Query`]); the catalog answers it, so a gallery of 100 000
//! results is never held whole: the panel keeps the matching rows only. The panel does no I/O: it
//! calls [`Services`] and keeps each [`Pending`] reply until it arrives (polled each frame); job
//! events only tell it to ask again. Only thumbnails of rows on screen are requested, a few per
//! frame, and at most [`MAX_THUMB_TEXTURES`] textures are kept (least recently seen dropped first).
//!
//! The details have a place of their own (beside the grid when there is room, under it when not)
//! whether or not an image is selected, so selecting one never moves the grid under the cursor.
//!
//! A click (or Enter) opens the image large in place of the grid (`viewer.rs`: zoom and pan, Esc
//! returns, the arrows step through the listing); Ctrl+click (or Shift+click) selects several
//! (`picks.rs`): two show what changed between them, two or more can be opened in the Compare view.

mod details;
mod grid;
mod keys;
mod lineage;
mod picks;
mod trash;
mod viewer;

use std::collections::{HashMap, HashSet};
use std::path::PathBuf;
use std::sync::Arc;

use egui::TextureHandle;

pub use super::widgets::{fit_in, texture_from_rgba};
use crate::api::{CnType, GenParams};
use crate::gallery::Entry;
use crate::gallery::catalog::{Query, Sort};
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
/// At most this many thumbnails become textures in one frame; the rest wait for the next frames
/// (a page of thumbnails arriving at once would otherwise make one long frame while scrolling).
pub const MAX_THUMB_UPLOADS_PER_FRAME: usize = 8;
/// The shortest time between two listings asked for because results arrived (a grid's results
/// come in bursts; one listing covers them all), in seconds.
pub const LIST_MIN_INTERVAL: f64 = 1.0;
/// The width from which the details sit beside the grid rather than under it, in points.
pub const DETAILS_BESIDE_FROM: f32 = 700.0;

/// What the user asked of the app through a panel.
#[derive(Debug, Clone, PartialEq)]
pub enum PanelAction {
    /// Load these settings into the controls (the seed is the one the result was made with).
    UseSettings(GenParams),
    /// Make this picture the input image.
    UseAsInput(PathBuf),
    /// One job refining this picture: it as the input, tile, twice its size (capped at 4096),
    /// its prompt and seed (`params`, ready to send); asked to confirm with its cost first.
    Refine { picture: PathBuf, params: GenParams },
    /// Load a saved result's settings (with its seed) and, when it was kept, its input image.
    UseResult {
        params: GenParams,
        /// The result's kept input (`None` when none was kept: a URL input, an older result).
        input: Option<PathBuf>,
        /// How the result's input was described when it was made (a path or URL).
        input_was: String,
    },
    /// Show these saved images side by side in the Compare view (their paths, in the listing's
    /// order).
    OpenInCompare(Vec<PathBuf>),
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

/// What the search box, the type filter, the favourites toggle and the order ask for.
#[derive(Clone, PartialEq)]
struct SearchKey {
    text: String,
    cn: Option<CnType>,
    favourites_only: bool,
    sort: Sort,
}

/// The gallery panel's state. Create once with [`GalleryPanel::default`]; each frame, feed it the
/// events ([`GalleryPanel::handle_event`]) and draw it ([`GalleryPanel::ui`]).
#[derive(Default)]
pub struct GalleryPanel {
    /// The rows the last applied search found, and the gallery's size.
    found: Listing,
    /// Row index by id, into `found.rows`.
    by_id: HashMap<String, usize>,

    filter_text: String,
    filter_cn: Option<CnType>,
    favourites_only: bool,
    sort: Sort,
    /// The search the last listing was asked for.
    asked_key: Option<SearchKey>,
    /// Why the search box's text cannot be read (the grid keeps the last good answer).
    query_error: Option<String>,

    /// Favourite and rating changes sent but not yet confirmed by a new listing.
    favourite_override: HashMap<String, bool>,
    rating_override: HashMap<String, u8>,
    /// Deleted, waiting for the new listing.
    hidden: HashSet<String>,
    selected: Option<String>,
    /// The selected image's whole settings, once they have arrived.
    details: Option<Entry>,
    /// The selected image's lineage (made from, made from it).
    lineage: Option<lineage::LineageSlot>,
    details_asked: Option<(String, Pending<Result<Entry, ServiceError>>)>,
    /// The images selected with Ctrl+click (or Shift+click), in the order picked: empty, or at
    /// least two (one is a plain selection). `selected` is one of them.
    picked: Vec<String>,
    /// The settings of the picked images that have arrived (the selected one's may be `details`).
    picked_entries: HashMap<String, Entry>,
    picked_asked: Vec<(String, Pending<Result<Entry, ServiceError>>)>,
    /// The selected image shown large in place of the grid, while it is open.
    viewer: Option<viewer::Viewer>,
    /// The last deleted image: "Undo" (and Ctrl+Z here) is offered until dismissed or replaced.
    undo: Option<String>,
    /// The Trash window.
    trash: trash::TrashView,
    /// A listing applied since the trash was last read: read it again.
    trash_stale: bool,

    thumbs: HashMap<String, ThumbSlot>,
    in_flight: usize,
    frame: u64,

    listed: bool,
    refresh_wanted: bool,
    /// When (UI time, seconds) the gallery was last listed.
    last_list_at: Option<f64>,
    /// Dropped files whose settings were asked for.
    reading: Vec<(PathBuf, Pending<Result<GenParams, ServiceError>>)>,
    /// Listings asked for (a search, a refresh, or the answer to a favourite, rating, delete or
    /// undo), oldest first. Each numbered in the order asked: only a listing newer than the last
    /// applied is applied (an old search answering late must not replace a newer one, nor bring
    /// back a row deleted since).
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
    /// How many images the gallery holds (whatever the search; 0 before the first listing).
    pub fn len(&self) -> usize {
        self.found.total
    }

    /// Whether the gallery is empty (or not listed yet).
    pub fn is_empty(&self) -> bool {
        self.found.total == 0
    }

    /// The id of the selected image.
    pub fn selected(&self) -> Option<&str> {
        self.selected.as_deref()
    }

    /// Selects one image by id (e.g. the result the app just showed); a selection of several ends.
    pub fn select(&mut self, id: Option<String>) {
        self.picked.clear();
        self.picked_entries.clear();
        self.picked_asked.clear();
        self.focus(id);
    }

    /// Makes `id` the selected image (whose details show), leaving the picked ones as they are.
    fn focus(&mut self, id: Option<String>) {
        if id != self.selected {
            self.details = None;
            self.details_asked = None;
        }
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

    fn search_key(&self) -> SearchKey {
        SearchKey {
            text: self.filter_text.trim().to_owned(),
            cn: self.filter_cn,
            favourites_only: self.favourites_only,
            sort: self.sort,
        }
    }

    /// The search the controls ask for, or why its text cannot be read.
    fn query(&self) -> Result<Query, String> {
        let mut q = Query::parse(&self.filter_text).map_err(|e| e.to_string())?;
        if self.filter_cn.is_some() {
            q.cn = self.filter_cn;
        }
        q.favourites_only |= self.favourites_only;
        q.sort = self.sort;
        Ok(q)
    }

    /// The current search, for a change's answer (the last good one when the text is unreadable).
    fn query_or_all(&self) -> Query {
        self.query().unwrap_or_else(|_| Query {
            sort: self.sort,
            ..Query::default()
        })
    }

    /// Keeps a listing asked for (a search, or a favourite, rating, delete or undo that answers
    /// with one).
    fn ask_listing(&mut self, pending: Pending<Result<Listing, ServiceError>>) {
        self.listings_asked += 1;
        self.listings.push((self.listings_asked, pending));
    }

    /// Asks for the current search's listing (or says why its text cannot be read).
    fn list(&mut self, now: f64, services: &Services) {
        self.listed = true;
        self.refresh_wanted = false;
        self.last_list_at = Some(now);
        self.asked_key = Some(self.search_key());
        match self.query() {
            Ok(q) => {
                self.query_error = None;
                self.ask_listing(services.gallery_list(q));
            }
            Err(e) => self.query_error = Some(e),
        }
    }

    /// Takes the replies that have arrived: listings, details, thumbnails, settings read, reveals.
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
                            self.set_found(list);
                            self.trash_stale = true;
                        }
                        Err(e) => self.error = Some(e.to_string()),
                    }
                }
                Poll::Lost => {
                    self.listings.remove(i);
                }
            }
        }
        if let Some((id, p)) = &mut self.details_asked {
            match p.poll() {
                Poll::Waiting => {}
                // Asked for alone, then picked with others (Ctrl+click): kept for those.
                Poll::Ready(Ok(e)) if self.picked.contains(&e.id) => {
                    self.picked_entries.insert(e.id.clone(), e);
                    self.details_asked = None;
                }
                Poll::Ready(Ok(e)) if Some(&e.id) == self.selected.as_ref() => {
                    self.details = Some(e);
                    self.details_asked = None;
                }
                Poll::Ready(Err(e)) if Some(id.as_str()) == self.selected.as_deref() => {
                    self.error = Some(e.to_string());
                    self.details_asked = None;
                }
                Poll::Ready(_) | Poll::Lost => self.details_asked = None,
            }
        }
        self.poll_picked();
        self.poll_lineage();
        self.poll_viewer(ctx);
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
        let mut uploads = 0;
        for (id, slot) in self.thumbs.iter_mut() {
            let Thumb::Requested(p) = &mut slot.thumb else {
                continue;
            };
            if uploads >= MAX_THUMB_UPLOADS_PER_FRAME {
                // The answers keep in their channels until the next frame takes them.
                ctx.request_repaint();
                break;
            }
            let answer = match p.poll() {
                Poll::Waiting => continue,
                Poll::Ready(r) => r.map_err(|e| e.to_string()),
                Poll::Lost => Err(crate::jobs::services::WORKER_STOPPED.into()),
            };
            self.in_flight = self.in_flight.saturating_sub(1);
            uploads += 1;
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
                Poll::Lost => Err(crate::jobs::services::WORKER_STOPPED.into()),
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

    fn set_found(&mut self, found: Listing) {
        self.by_id = found
            .rows
            .iter()
            .enumerate()
            .map(|(i, r)| (r.id.clone(), i))
            .collect();
        self.found = found;
        self.favourite_override.clear();
        self.rating_override.clear();
        self.hidden.clear();
        // A thumbnail that failed may work now (the file may be back): ask again when seen.
        self.thumbs
            .retain(|_, slot| !matches!(slot.thumb, Thumb::Failed(_)));
        // The picked images the search no longer finds are no longer picked.
        let by_id = &self.by_id;
        self.picked.retain(|id| by_id.contains_key(id));
        if self.picked.len() < 2 {
            let only = self.picked.first().cloned().or(self.selected.clone());
            self.select(only);
        }
        // The details of the selected image are asked again: its favourite or rating may have
        // changed (by this panel or by another process).
        self.details_asked = None;
        if self
            .details
            .as_ref()
            .is_some_and(|d| Some(&d.id) != self.selected.as_ref())
        {
            self.details = None;
        }
    }

    /// Draws the panel. Returns what the user asked for, if anything, this frame.
    pub fn ui(&mut self, ui: &mut egui::Ui, services: &Services) -> Option<PanelAction> {
        self.frame += 1;
        self.poll(ui.ctx());
        let now = ui.input(|i| i.time);
        if !self.listed || self.asked_key.as_ref() != Some(&self.search_key()) {
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
        self.ask_details(services);
        self.ask_picked(services);
        let mut action = self.pending_action.take();
        if std::mem::take(&mut self.trash_stale) {
            self.trash.refresh(services);
        }
        if let Some(trash::TrashAction::Restore(id)) = self.trash.ui(ui.ctx(), services) {
            self.restore(id, services);
        }
        self.toolbar(ui, services);
        self.messages(ui, services);
        if let Some(a) = self.details_area(ui, services) {
            action = Some(a);
        }
        self.keys(ui, services);
        self.sync_viewer(services);
        if self.viewer.is_some() {
            self.viewer_ui(ui);
        } else {
            self.grid(ui, services);
        }
        action
    }

    /// Asks for the selected image's settings when they are not here yet (with several picked,
    /// `picks.rs` asks for each).
    fn ask_details(&mut self, services: &Services) {
        if self.picked.len() >= 2 {
            return;
        }
        let Some(id) = &self.selected else {
            return;
        };
        let have = self.details.as_ref().is_some_and(|d| &d.id == id)
            || self.details_asked.as_ref().is_some_and(|(a, _)| a == id);
        if !have {
            self.details_asked = Some((id.clone(), services.gallery_get(id.clone())));
        }
    }

    fn toolbar(&mut self, ui: &mut egui::Ui, services: &Services) {
        ui.horizontal_wrapped(|ui| {
            ui.add(
                egui::TextEdit::singleline(&mut self.filter_text)
                    .hint_text("Search: knight cn_type:depth rating>=4")
                    .desired_width(220.0),
            )
            .accessible_name("Search the gallery")
            .on_hover_text(
                "Prompt words (prefixes) and \"phrases\"; field:value for any setting \
                 (cn_type:depth, sampler:euler, steps>=30); rating>=4; seed:123; is:fav",
            );
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
            egui::ComboBox::from_id_salt("gallery-sort")
                .selected_text(sort_label(self.sort))
                .show_ui(ui, |ui| {
                    for s in [Sort::Newest, Sort::Oldest, Sort::Rating] {
                        ui.selectable_value(&mut self.sort, s, sort_label(s));
                    }
                })
                .response
                .accessible_name("Order");
            if ui.button("Refresh").clicked() {
                let now = ui.input(|i| i.time);
                self.list(now, services);
            }
            if ui
                .button("Trash…")
                .on_hover_text("What was deleted: restore it, or empty the trash for good")
                .clicked()
            {
                self.trash.show(services);
            }
        });
        match &self.query_error {
            Some(e) => {
                ui.colored_label(ui.visuals().error_fg_color, e.as_str());
            }
            None => {
                let shown = self
                    .found
                    .rows
                    .iter()
                    .filter(|r| !self.hidden.contains(&r.id))
                    .count();
                ui.label(format!("{shown} of {} images", self.found.total));
            }
        }
    }

    fn messages(&mut self, ui: &mut egui::Ui, services: &Services) {
        for slot in [&mut self.error, &mut self.info] {
            let Some(text) = slot.as_ref() else {
                continue;
            };
            let mut dismiss = false;
            ui.horizontal(|ui| {
                ui.add(egui::Label::new(text.as_str()).truncate())
                    .on_hover_text(text.as_str());
                dismiss = ui.small_button("Dismiss").clicked();
            });
            if dismiss {
                *slot = None;
            }
        }
        // The undo line's room is always kept, so the grid never moves under the cursor when it
        // comes or goes; it stays until dismissed or replaced by the next delete.
        let height = ui.spacing().interact_size.y + 4.0;
        let width = ui.available_width();
        ui.allocate_ui_with_layout(
            egui::vec2(width, height),
            egui::Layout::left_to_right(egui::Align::Center),
            |ui| {
                ui.set_min_size(egui::vec2(width, height));
                let Some(id) = self.undo.clone() else {
                    return;
                };
                ui.label("Image moved to the gallery's trash.");
                let undo = ui.button("Undo").on_hover_text(super::widgets::keys(
                    "Bring it back (Ctrl+Z in the gallery)",
                ));
                if undo.clicked() {
                    self.restore(id, services);
                }
                if ui.small_button("Dismiss").clicked() {
                    self.undo = None;
                }
            },
        );
    }

    /// Whether Ctrl+Z here has something to undo: the last delete.
    pub fn can_undo(&self) -> bool {
        self.undo.is_some()
    }

    /// Undoes the last gallery action (the last delete), as its Undo button does.
    pub fn undo_last(&mut self, services: &Services) {
        if let Some(id) = self.undo.clone() {
            self.restore(id, services);
        }
    }

    /// Brings `id` back from the trash; the listing that answers shows it again.
    fn restore(&mut self, id: String, services: &Services) {
        let q = self.query_or_all();
        self.ask_listing(services.undo_delete(id.clone(), q));
        self.hidden.remove(&id);
        if self.undo.as_ref() == Some(&id) {
            self.undo = None;
        }
    }

    fn favourite(&self, id: &str, listed: bool) -> bool {
        self.favourite_override.get(id).copied().unwrap_or(listed)
    }

    fn rating(&self, id: &str, listed: u8) -> u8 {
        self.rating_override.get(id).copied().unwrap_or(listed)
    }

    pub(super) fn set_rating(&mut self, id: &str, rating: u8, services: &Services) {
        let q = self.query_or_all();
        self.ask_listing(services.set_rating(id.to_owned(), rating, q));
        self.rating_override.insert(id.to_owned(), rating);
        if let Some(d) = self.details.as_mut().filter(|d| d.id == id) {
            d.meta.rating = rating;
        }
    }
}

fn sort_label(s: Sort) -> &'static str {
    match s {
        Sort::Newest => "Newest first",
        Sort::Oldest => "Oldest first",
        Sort::Rating => "Highest rated",
    }
}
