//! The Result tab's history strip: the newest results in the gallery, asked of the catalog with
//! [`Services::recent`] (newest first, the last [`HISTORY_LEN`]: the default search's first rows,
//! without listing the rest), so the strip survives a restart; this session's results that finished since that listing stand in front until the next
//! one lists them. Each thumbnail's tooltip (and its accessible name) says what changed from the
//! one before it, its older neighbour: the changed fields as `field: old -> new` and the prompt's
//! words removed and added ([`crate::api::diff`]). A click shows the result large: one of this
//! session's as before (with the comparison with the previous or pinned result), any other from
//! the gallery, decoded off the UI thread ([`Services::open_image`]).
//!
//! The gallery is listed again whenever this session has a new result (a job finished), once the
//! answer to the previous listing is in (a burst of results is one more listing, not one each).
//! Thumbnails and settings are asked per picture ([`Services::thumbnail`],
//! [`Services::gallery_get`]), off the UI thread; a result of this session shows its own preview.

use std::collections::{HashMap, HashSet};
use std::sync::Arc;

use egui::{Color32, Rect, Role, Sense, TextureHandle, Ui, WidgetInfo, pos2, vec2};

use super::app::FluxApp;
use super::session::ResultEntry;
use super::widgets;
use crate::api::GenParams;
use crate::api::diff::{InputRef, diff_seeds};
use crate::gallery::Entry;
use crate::gallery::catalog::Row;
use crate::jobs::services::{Listing, Pending, Poll};
use crate::jobs::{SavedImage, ServiceError, Services};

/// The most results the strip shows.
pub const HISTORY_LEN: usize = 20;
/// The longest side of a strip thumbnail asked for, in pixels.
pub const HISTORY_THUMB_PIXELS: u32 = 192;
/// The height of the strip, in points.
pub const STRIP_HEIGHT: f32 = 84.0;
/// At most this many thumbnails become textures in one frame.
const UPLOADS_PER_FRAME: usize = 8;

type ImageReply = Pending<Result<Arc<image::RgbaImage>, ServiceError>>;

/// A picture asked of the services: a thumbnail, or the one shown large.
enum Picture {
    Asked(ImageReply),
    Ready(TextureHandle),
    Failed(String),
}

/// The strip's state (runtime only).
#[derive(Default)]
pub struct History {
    /// The newest gallery rows, newest first (at most [`HISTORY_LEN`]).
    rows: Vec<Row>,
    /// How many results this session had when the rows were asked for: those after are newer.
    rows_for: usize,
    /// The listing asked for, and the session's result count when it was.
    listing: Option<(usize, Pending<Result<Listing, ServiceError>>)>,
    /// The session's result count at the last listing asked for (`None`: never listed).
    listed_for: Option<usize>,
    /// The settings of the rows, once read.
    entries: HashMap<String, Entry>,
    asked: HashMap<String, Pending<Result<Entry, ServiceError>>>,
    /// Why a row's settings could not be read (not asked again until the next listing).
    unreadable: HashMap<String, String>,
    thumbs: HashMap<String, Picture>,
    /// The gallery picture shown large (one that is not a result of this session).
    pub shown: Option<String>,
    large: Option<(String, Picture)>,
    /// Why the gallery could not be listed (the strip keeps what it had).
    pub error: Option<String>,
    /// The session's result count last seen (a new result is shown in place of a gallery one).
    seen_results: usize,
}

/// What the tooltip compares of one result: its settings (the seed as used) and control image.
#[derive(Debug, Clone, PartialEq)]
pub struct About {
    pub params: GenParams,
    pub input: String,
    /// The SHA-256 of the control image as sent, when the gallery kept it.
    pub hash: Option<String>,
}

impl About {
    fn of_result(r: &ResultEntry) -> About {
        About {
            params: r.params.clone(),
            input: r.input.clone(),
            hash: None,
        }
    }

    fn of_entry(e: &Entry) -> About {
        About {
            params: GenParams {
                seed: e.meta.seed_used,
                ..e.meta.params.clone()
            },
            input: e.meta.input.clone(),
            hash: e.meta.input_hash.clone(),
        }
    }
}

/// What changed from `old` to `new`, one change a line (`steps: 20 -> 30`, `prompt added: blue`).
/// The default fonts have no arrow: the diff's "→" is written "->".
pub fn change_lines(old: &About, new: &About) -> Vec<String> {
    diff_seeds(
        &old.params,
        Some(old.params.seed),
        &new.params,
        Some(new.params.seed),
    )
    .with_input(
        InputRef {
            describe: &old.input,
            hash: old.hash.as_deref(),
        },
        InputRef {
            describe: &new.input,
            hash: new.hash.as_deref(),
        },
    )
    .lines()
    .into_iter()
    .map(|l| l.replace('→', "->"))
    .collect()
}

/// One thumbnail of the strip.
#[derive(Debug, Clone)]
pub(crate) struct Item {
    /// The gallery picture (`None`: a result of this session not listed yet).
    pub id: Option<String>,
    /// The result of this session it is, if it is one.
    pub session: Option<usize>,
    pub prompt: String,
    pub seed: i64,
    pub cn_type: String,
    /// Its settings, once known.
    pub about: Option<About>,
}

/// The first lines of a thumbnail's tooltip, its accessible name: the prompt, seed and type.
fn heading(item: &Item) -> String {
    format!(
        "{}\nseed {} · {}",
        crate::api::error::shorten(&item.prompt, 80),
        item.seed,
        item.cn_type
    )
}

/// The rest of the tooltip (its accessible description): what changed from `older`.
fn changes(item: &Item, older: Option<&Item>) -> String {
    let Some(older) = older else {
        return "The oldest result in the strip.".to_owned();
    };
    match (&older.about, &item.about) {
        (Some(old), Some(new)) => {
            let lines = change_lines(old, new);
            if lines.is_empty() {
                "The same settings as the one before.".to_owned()
            } else {
                let mut out = "Changed from the one before:".to_owned();
                for l in lines {
                    out.push_str("\n  ");
                    out.push_str(&l);
                }
                out
            }
        }
        _ => "Reading the settings…".to_owned(),
    }
}

/// The file name of a saved result.
fn file_name(r: &ResultEntry) -> Option<&str> {
    r.saved.path.file_name().and_then(|n| n.to_str())
}

impl History {
    /// Asks for the gallery's newest results when this session has a result the last listing
    /// did not know of (or it was never listed), unless a listing is on its way.
    fn refresh(&mut self, services: &Services, results: usize) {
        if self.listing.is_none() && self.listed_for != Some(results) {
            self.listed_for = Some(results);
            self.listing = Some((results, services.recent(HISTORY_LEN)));
        }
    }

    fn poll_listing(&mut self) {
        let Some((asked_for, p)) = &mut self.listing else {
            return;
        };
        let asked_for = *asked_for;
        let answer = match p.poll() {
            Poll::Waiting => return,
            Poll::Ready(r) => r.map_err(|e| e.to_string()),
            Poll::Lost => Err(crate::jobs::services::WORKER_STOPPED.into()),
        };
        self.listing = None;
        match answer {
            Ok(found) => {
                self.rows = found.rows.iter().take(HISTORY_LEN).cloned().collect();
                self.rows_for = asked_for;
                self.error = None;
                let ids: HashSet<&str> = self.rows.iter().map(|r| r.id.as_str()).collect();
                let shown = self.shown.as_deref();
                let keep = |id: &str| ids.contains(id) || Some(id) == shown;
                self.entries.retain(|id, _| keep(id));
                self.unreadable.clear();
                self.asked.retain(|id, _| keep(id));
                self.thumbs.retain(|id, _| keep(id));
            }
            Err(e) => self.error = Some(format!("The history could not be read: {e}")),
        }
    }

    fn poll_entries(&mut self) {
        let mut arrived = Vec::new();
        self.asked.retain(|id, p| match p.poll() {
            Poll::Waiting => true,
            Poll::Ready(r) => {
                arrived.push((id.clone(), r.map_err(|e| e.to_string())));
                false
            }
            Poll::Lost => {
                arrived.push((
                    id.clone(),
                    Err(crate::jobs::services::WORKER_STOPPED.into()),
                ));
                false
            }
        });
        for (id, r) in arrived {
            match r {
                Ok(e) if e.id == id => {
                    self.entries.insert(id, e);
                }
                Ok(_) => {
                    self.unreadable
                        .insert(id, "another picture answered".into());
                }
                Err(e) => {
                    self.unreadable.insert(id, e);
                }
            }
        }
    }

    fn poll_pictures(&mut self, ctx: &egui::Context) {
        let mut uploads = 0;
        for (id, slot) in self.thumbs.iter_mut() {
            if uploads >= UPLOADS_PER_FRAME {
                ctx.request_repaint();
                break;
            }
            if poll_picture(ctx, &format!("history-{id}"), slot) {
                uploads += 1;
            }
        }
        if let Some((id, slot)) = &mut self.large {
            poll_picture(ctx, &format!("history-large-{id}"), slot);
        }
    }

    /// Asks for the settings and thumbnails of the rows not asked yet (`has_preview`: rows a
    /// result of this session shows, which need no thumbnail), and the large image shown.
    fn ask_missing(&mut self, services: &Services, has_preview: &HashSet<String>) {
        let wanted: Vec<String> = self
            .rows
            .iter()
            .map(|r| r.id.clone())
            .chain(self.shown.clone())
            .collect();
        for id in wanted {
            if !self.entries.contains_key(&id)
                && !self.asked.contains_key(&id)
                && !self.unreadable.contains_key(&id)
            {
                let p = services.gallery_get(id.clone());
                self.asked.insert(id.clone(), p);
            }
            if !has_preview.contains(&id) && !self.thumbs.contains_key(&id) {
                let p = services.thumbnail(id.clone(), HISTORY_THUMB_PIXELS);
                self.thumbs.insert(id, Picture::Asked(p));
            }
        }
        if let Some(id) = &self.shown
            && self.large.as_ref().is_none_or(|(l, _)| l != id)
        {
            self.large = Some((id.clone(), Picture::Asked(services.open_image(id.clone()))));
        }
    }

    /// Why the gallery picture picked in the strip cannot be shown, if it cannot.
    pub fn shown_problem(&self) -> Option<&str> {
        self.unreadable
            .get(self.shown.as_ref()?)
            .map(String::as_str)
    }

    fn texture(&self, id: &str) -> Option<&TextureHandle> {
        match self.thumbs.get(id) {
            Some(Picture::Ready(t)) => Some(t),
            _ => None,
        }
    }

    /// The gallery picture shown large, as a result to draw: `None` until its settings are read.
    fn shown_result(&self) -> Option<ResultEntry> {
        let id = self.shown.as_ref()?;
        let e = self.entries.get(id)?;
        let (texture, problem) = match &self.large {
            Some((l, Picture::Ready(t))) if l == id => (Some(t.clone()), None),
            Some((l, Picture::Failed(why))) if l == id => (None, Some(why.clone())),
            // The thumbnail stands in until the image is decoded.
            _ => (self.texture(id).cloned(), None),
        };
        Some(ResultEntry {
            job: e.meta.job_id.unwrap_or(0),
            saved: SavedImage {
                path: e.image_path.clone(),
                sidecar: e.sidecar_path.clone(),
                width: e.meta.width,
                height: e.meta.height,
                seed: e.meta.seed_used,
                preview: None,
            },
            params: About::of_entry(e).params,
            input: e.meta.input.clone(),
            accounting: e.meta.accounting.clone(),
            texture,
            preview_problem: problem,
            prompt_template: e.meta.prompt_template.clone(),
            framing: e.meta.framing.filter(|f| !f.is_identity()),
        })
    }
}

/// Takes a picture's answer if it came; `true` when it became a texture.
fn poll_picture(ctx: &egui::Context, name: &str, slot: &mut Picture) -> bool {
    let Picture::Asked(p) = slot else {
        return false;
    };
    let answer = match p.poll() {
        Poll::Waiting => return false,
        Poll::Ready(r) => r.map_err(|e| e.to_string()),
        Poll::Lost => Err(crate::jobs::services::WORKER_STOPPED.into()),
    };
    *slot = match answer {
        Ok(img) => match widgets::texture_from_rgba(ctx, name, &img) {
            Some(t) => Picture::Ready(t),
            None => Picture::Failed("the image is empty".into()),
        },
        Err(e) => Picture::Failed(e),
    };
    matches!(slot, Picture::Ready(_))
}

/// `size` scaled to fit `rect`, centred in it.
fn fit(rect: Rect, size: egui::Vec2) -> Rect {
    let s = (rect.width() / size.x.max(1.0)).min(rect.height() / size.y.max(1.0));
    Rect::from_center_size(rect.center(), size * s)
}

impl FluxApp {
    /// Takes the history's answers and asks for what it lacks; a new result of this session
    /// lists the gallery again and is shown large.
    pub(crate) fn poll_history(&mut self, ctx: &egui::Context) {
        let results = self.session.results.len();
        if self.results.history.seen_results != results {
            // A job finished: its result is shown (the session selected it).
            self.results.history.seen_results = results;
            self.results.history.shown = None;
        }
        let services = self.backend.jobs.services().clone();
        self.results.history.poll_listing();
        self.results.history.refresh(&services, results);
        self.results.history.poll_entries();
        self.results.history.poll_pictures(ctx);
        let by_file = self.session_by_file();
        let has_preview: HashSet<String> = self
            .results
            .history
            .rows
            .iter()
            .filter(|r| {
                by_file
                    .get(r.file.as_str())
                    .and_then(|i| self.session.results.get(*i))
                    .is_some_and(|s| s.texture.is_some())
            })
            .map(|r| r.id.clone())
            .collect();
        self.results.history.ask_missing(&services, &has_preview);
    }

    /// This session's results by image file name (the newest of a name wins).
    fn session_by_file(&self) -> HashMap<&str, usize> {
        self.session
            .results
            .iter()
            .enumerate()
            .filter_map(|(i, r)| file_name(r).map(|n| (n, i)))
            .collect()
    }

    /// The strip's thumbnails, newest first: this session's results newer than the listing, then
    /// the gallery's rows.
    pub(crate) fn history_items(&self) -> Vec<Item> {
        let h = &self.results.history;
        let results = &self.session.results;
        let listed: HashSet<&str> = h.rows.iter().map(|r| r.file.as_str()).collect();
        let of_result = |i: usize, r: &ResultEntry| Item {
            id: None,
            session: Some(i),
            prompt: r.params.prompt.clone(),
            seed: r.params.seed,
            cn_type: r.params.cn_type.to_string(),
            about: Some(About::of_result(r)),
        };
        let mut items: Vec<Item> = results
            .iter()
            .enumerate()
            .skip(h.rows_for.min(results.len()))
            .rev()
            .filter(|(_, r)| file_name(r).is_none_or(|n| !listed.contains(n)))
            .map(|(i, r)| of_result(i, r))
            .collect();
        let by_file = self.session_by_file();
        for row in &h.rows {
            let session = by_file.get(row.file.as_str()).copied();
            let about = h
                .entries
                .get(&row.id)
                .map(About::of_entry)
                .or_else(|| session.and_then(|i| results.get(i)).map(About::of_result));
            items.push(Item {
                id: Some(row.id.clone()),
                session,
                prompt: row.prompt.clone(),
                seed: row.seed_used,
                cn_type: row.cn_type.clone(),
                about,
            });
        }
        items.truncate(HISTORY_LEN);
        items
    }

    /// The result shown large: the gallery picture picked in the strip, else this session's
    /// selected result (with its index, for the comparison).
    pub(crate) fn shown_result(&self) -> Option<(Option<usize>, ResultEntry)> {
        if self.results.history.shown.is_some() {
            return self.results.history.shown_result().map(|r| (None, r));
        }
        let idx = self.session.selected?;
        self.session
            .results
            .get(idx)
            .map(|r| (Some(idx), r.clone()))
    }

    fn is_shown(&self, item: &Item) -> bool {
        match (&self.results.history.shown, &item.id) {
            (Some(shown), Some(id)) => shown == id,
            (Some(_), None) => false,
            (None, _) => item.session.is_some() && item.session == self.session.selected,
        }
    }

    /// The strip of thumbnails; a click shows one large.
    pub(crate) fn history_strip(&mut self, ui: &mut Ui, items: &[Item], height: f32) {
        let side = (height - 12.0).max(16.0);
        let mut pick = None;
        egui::ScrollArea::horizontal()
            .id_salt("history-strip")
            .show(ui, |ui| {
                ui.horizontal(|ui| {
                    for (n, item) in items.iter().enumerate() {
                        if self.thumb(ui, item, items.get(n + 1), side).clicked() {
                            pick = Some(n);
                        }
                    }
                });
            });
        if let Some(item) = pick.and_then(|n| items.get(n)) {
            match (item.session, &item.id) {
                (Some(i), _) => {
                    self.session.selected = Some(i);
                    self.results.history.shown = None;
                }
                (None, Some(id)) => self.results.history.shown = Some(id.clone()),
                (None, None) => {}
            }
            self.results.view.fit();
        }
    }

    /// One thumbnail: its picture (this session's preview, else the gallery's thumbnail), framed
    /// when it is the one shown; its tooltip says what changed from `older`.
    fn thumb(&self, ui: &mut Ui, item: &Item, older: Option<&Item>, side: f32) -> egui::Response {
        let texture = item
            .session
            .and_then(|i| self.session.results.get(i))
            .and_then(|r| r.texture.as_ref())
            .or_else(|| {
                item.id
                    .as_deref()
                    .and_then(|id| self.results.history.texture(id))
            });
        let width = texture.map_or(side, |t| {
            let [w, h] = t.size().map(|v| v.max(1) as f32);
            (side * w / h).clamp(side * 0.5, side * 2.0)
        });
        let (rect, resp) = ui.allocate_exact_size(vec2(width, side), Sense::click());
        let selected = self.is_shown(item);
        let (head, changed) = (heading(item), changes(item, older));
        // This session's results carry their number, the one the change line names (#7 -> #8).
        let number = item.session.map(|i| format!("#{}", i + 1));
        let name = match &number {
            Some(n) => format!("history: {n} · {}", head.replace('\n', "; ")),
            None => format!("history: {}", head.replace('\n', "; ")),
        };
        resp.widget_info(|| WidgetInfo::selected(Role::Button, true, selected, &name));
        // What changed is the tooltip's for the eye, the description's for a screen reader.
        let description = changed.replace('\n', ";");
        ui.ctx()
            .accesskit_node_builder(resp.id, |node| node.set_description(description));
        let tip = format!("{head}\n{changed}");
        if ui.is_rect_visible(rect) {
            let painter = ui.painter();
            let visuals = ui.visuals();
            painter.rect_filled(rect, 3.0, visuals.extreme_bg_color);
            match texture {
                Some(t) => {
                    painter.image(
                        t.id(),
                        fit(rect.shrink(2.0), t.size_vec2()),
                        Rect::from_min_max(pos2(0.0, 0.0), pos2(1.0, 1.0)),
                        Color32::WHITE,
                    );
                }
                None => {
                    painter.text(
                        rect.center(),
                        egui::Align2::CENTER_CENTER,
                        "…",
                        egui::FontId::proportional(16.0),
                        visuals.weak_text_color(),
                    );
                }
            }
            if let Some(n) = &number {
                let at = rect.left_top() + vec2(3.0, 2.0);
                let font = egui::FontId::proportional(11.0);
                let galley = painter.layout_no_wrap(n.clone(), font, Color32::WHITE);
                painter.rect_filled(
                    Rect::from_min_size(at, galley.size() + vec2(4.0, 0.0)),
                    2.0,
                    Color32::from_black_alpha(170),
                );
                painter.galley(at + vec2(2.0, 0.0), galley, Color32::WHITE);
            }
            let stroke = if selected {
                visuals.selection.stroke
            } else if resp.hovered() {
                visuals.widgets.hovered.bg_stroke
            } else {
                egui::Stroke::NONE
            };
            painter.rect_stroke(rect, 3.0, stroke, egui::StrokeKind::Inside);
        }
        resp.on_hover_text(tip)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn about(prompt: &str, steps: u32, seed: i64) -> About {
        About {
            params: GenParams {
                prompt: prompt.into(),
                steps,
                seed,
                ..GenParams::default()
            },
            input: "https://x/pose.png".into(),
            hash: None,
        }
    }

    fn item(a: About) -> Item {
        Item {
            id: Some("x".into()),
            session: None,
            prompt: a.params.prompt.clone(),
            seed: a.params.seed,
            cn_type: a.params.cn_type.to_string(),
            about: Some(a),
        }
    }

    #[test]
    fn the_tooltip_says_what_changed_from_the_older_neighbour() {
        let old = item(about("a red car", 20, 1));
        let new = item(about("a blue car", 30, 1));
        let tooltip = |a: &Item, b: Option<&Item>| format!("{}\n{}", heading(a), changes(a, b));
        let tip = tooltip(&new, Some(&old));
        assert!(tip.starts_with("a blue car\nseed 1 · "), "{tip}");
        assert!(tip.contains("Changed from the one before:"), "{tip}");
        assert!(tip.contains("steps: 20 -> 30"), "{tip}");
        assert!(tip.contains("prompt removed: red"), "{tip}");
        assert!(tip.contains("prompt added: blue"), "{tip}");
        assert!(!tip.contains('→'), "{tip}");
        assert!(tooltip(&old, None).contains("oldest"));
        assert!(tooltip(&old, Some(&old)).contains("The same settings"));
        let unknown = Item {
            about: None,
            ..old.clone()
        };
        assert!(tooltip(&new, Some(&unknown)).contains("Reading"));
    }
}
