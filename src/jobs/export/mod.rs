//! Exports a comparison or X/Y grid as one labelled PNG: the column values across the top, the row
//! values down the left, a title with the shared settings, a grey "failed" tile for a cell without a
//! result, and the plan embedded as text chunks (`parameters` for people and other tools, `fluxcn-grid`
//! as JSON for us).

use std::io::BufWriter;
use std::path::{Path, PathBuf};

use image::{Rgb, RgbImage};

use super::grid::GridPlan;
use crate::api::media::text::{draw_text, fit};

/// The width of one cell in the exported grid, in pixels.
pub const CELL_WIDTH: u32 = 384;
const GAP: u32 = 8;
const TITLE_H: u32 = 36;
const COL_LABEL_H: u32 = 28;
const ROW_LABEL_W: u32 = 220;
/// Label text height in pixels.
const TEXT_PX: f32 = 18.0;
const BACKGROUND: Rgb<u8> = Rgb([24, 24, 28]);
const INK: Rgb<u8> = Rgb([235, 235, 240]);

/// One cell's result, if it arrived.
#[derive(Debug, Clone, PartialEq)]
pub struct GridCell {
    pub row: usize,
    pub col: usize,
    pub image: Option<PathBuf>,
}

/// Why a grid could not be exported.
#[derive(Debug, thiserror::Error)]
pub enum ExportError {
    #[error("could not write the grid image {path}: {detail}")]
    Write { path: PathBuf, detail: String },
}

/// The pixel size of the exported grid for `rows` × `cols` cells of `cell_h` pixels high.
pub fn grid_size(rows: usize, cols: usize, has_row_labels: bool, cell_h: u32) -> (u32, u32) {
    let left = if has_row_labels { ROW_LABEL_W } else { 0 };
    let w = left + GAP + cols as u32 * (CELL_WIDTH + GAP);
    let h = TITLE_H + COL_LABEL_H + GAP + rows as u32 * (cell_h + GAP);
    (w, h)
}

fn load(path: &Path) -> Option<image::DynamicImage> {
    let mut r = image::ImageReader::open(path)
        .ok()?
        .with_guessed_format()
        .ok()?;
    let mut limits = image::Limits::default();
    limits.max_alloc = Some(512 * 1024 * 1024);
    r.limits(limits);
    r.decode().ok()
}

/// Draws the grid and writes it as a PNG with the plan embedded.
pub fn write_grid_png(plan: &GridPlan, cells: &[GridCell], out: &Path) -> Result<(), ExportError> {
    let images: Vec<(usize, usize, Option<image::DynamicImage>)> = cells
        .iter()
        .map(|c| (c.row, c.col, c.image.as_deref().and_then(load)))
        .collect();
    // Cell height from the first image's aspect (all cells share the settings' size); square if none.
    let cell_h = images
        .iter()
        .find_map(|(_, _, i)| i.as_ref())
        .map(|i| {
            ((CELL_WIDTH as f64) * i.height() as f64 / i.width().max(1) as f64)
                .round()
                .clamp(64.0, 1024.0) as u32
        })
        .unwrap_or(CELL_WIDTH);
    let canvas = draw_grid(plan, &images, cell_h);
    write_png(&canvas, out, &embedded_texts(plan, cells))
}

/// The grid's pixels: the title, the column and row labels, and each cell's image (or a grey
/// "no result" tile).
fn draw_grid(
    plan: &GridPlan,
    images: &[(usize, usize, Option<image::DynamicImage>)],
    cell_h: u32,
) -> RgbImage {
    let has_rows = plan.y.is_some();
    let (w, h) = grid_size(plan.rows, plan.cols, has_rows, cell_h);
    let mut canvas = RgbImage::from_pixel(w, h, BACKGROUND);
    let left = if has_rows { ROW_LABEL_W } else { 0 };
    let base = plan
        .cells
        .first()
        .map(|c| c.params.clone())
        .unwrap_or_default();
    let title = format!(
        "{}  |  seed {}  |  {} steps  |  {}",
        base.prompt, plan.seed, base.steps, base.sampler
    );
    draw_text(
        &mut canvas,
        GAP as f32,
        8.0,
        TEXT_PX,
        INK,
        &fit(&title, (w - 2 * GAP) as f32, TEXT_PX),
    );
    for col in 0..plan.cols {
        let x = left + GAP + col as u32 * (CELL_WIDTH + GAP);
        draw_text(
            &mut canvas,
            x as f32,
            (TITLE_H + 4) as f32,
            TEXT_PX,
            INK,
            &fit(&plan.col_label(col), CELL_WIDTH as f32, TEXT_PX),
        );
    }
    for row in 0..plan.rows {
        let y = TITLE_H + COL_LABEL_H + GAP + row as u32 * (cell_h + GAP);
        if has_rows {
            draw_text(
                &mut canvas,
                GAP as f32,
                (y + cell_h / 2) as f32 - TEXT_PX / 2.0,
                TEXT_PX,
                INK,
                &fit(
                    &plan.row_label(row),
                    (ROW_LABEL_W - 2 * GAP) as f32,
                    TEXT_PX,
                ),
            );
        }
        for col in 0..plan.cols {
            let x = left + GAP + col as u32 * (CELL_WIDTH + GAP);
            let img = images
                .iter()
                .find(|(r, c, _)| *r == row && *c == col)
                .and_then(|(_, _, i)| i.as_ref());
            match img {
                Some(img) => {
                    let tile = img
                        .resize_exact(CELL_WIDTH, cell_h, image::imageops::FilterType::Triangle)
                        .to_rgb8();
                    image::imageops::replace(&mut canvas, &tile, x as i64, y as i64);
                }
                None => {
                    let tile = RgbImage::from_pixel(CELL_WIDTH, cell_h, Rgb([70, 40, 40]));
                    image::imageops::replace(&mut canvas, &tile, x as i64, y as i64);
                    draw_text(
                        &mut canvas,
                        (x + 12) as f32,
                        (y + cell_h / 2) as f32 - TEXT_PX / 2.0,
                        TEXT_PX,
                        INK,
                        "no result",
                    );
                }
            }
        }
    }
    canvas
}

/// The text chunks embedded in the PNG: A1111-style `parameters` for people and other tools,
/// `fluxcn-grid` (the plan and each cell's file) as JSON for us.
fn embedded_texts(plan: &GridPlan, cells: &[GridCell]) -> Vec<(&'static str, String)> {
    let base = plan
        .cells
        .first()
        .map(|c| c.params.clone())
        .unwrap_or_default();
    // The shared settings as A1111 writes them (the one writer, from the field table), then the
    // axes in the words of A1111's X/Y plot script.
    let axis = |a: &super::grid::Axis| {
        let values: Vec<String> = a.values.iter().map(|v| v.to_string()).collect();
        format!("{} ({})", a.kind, values.join(", "))
    };
    // The size the cells have: a result's own (with "use input image size" its size is the
    // input's, not custom_width × custom_height), else the size asked for.
    let (w, h) = cells
        .iter()
        .filter_map(|c| c.image.as_deref())
        .find_map(|p| image::image_dimensions(p).ok())
        .unwrap_or((base.custom_width, base.custom_height));
    let parameters = format!(
        "{}, X: {}, Y: {}",
        crate::gallery::format_a1111(&base, plan.seed, w, h),
        axis(&plan.x),
        plan.y.as_ref().map(axis).unwrap_or_else(|| "none".into()),
    );
    let json = serde_json::json!({
        "x": plan.x, "y": plan.y, "seed": plan.seed, "rows": plan.rows, "cols": plan.cols,
        "cells": plan.cells.iter().zip(cells).map(|(spec, c)| serde_json::json!({
            "row": c.row, "col": c.col, "params": spec.params, "file": c.image.as_ref().map(|p| p.display().to_string()),
        })).collect::<Vec<_>>(),
    });
    vec![
        ("parameters", parameters),
        ("fluxcn-grid", json.to_string()),
    ]
}

fn write_png(img: &RgbImage, out: &Path, texts: &[(&str, String)]) -> Result<(), ExportError> {
    let err = |detail: String| ExportError::Write {
        path: out.to_path_buf(),
        detail,
    };
    let tmp = out.with_extension("png.tmp");
    {
        let f = std::fs::File::create(&tmp).map_err(|e| err(e.to_string()))?;
        let mut enc = png::Encoder::new(BufWriter::new(f), img.width(), img.height());
        enc.set_color(png::ColorType::Rgb);
        enc.set_depth(png::BitDepth::Eight);
        for (k, v) in texts {
            enc.add_itxt_chunk((*k).to_owned(), v.clone())
                .map_err(|e| err(e.to_string()))?;
        }
        let mut w = enc.write_header().map_err(|e| err(e.to_string()))?;
        w.write_image_data(img.as_raw())
            .map_err(|e| err(e.to_string()))?;
        w.finish().map_err(|e| err(e.to_string()))?;
    }
    std::fs::rename(&tmp, out).map_err(|e| err(e.to_string()))
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::api::{CnType, GenParams};
    use crate::jobs::grid::compare_types;
    use crate::types::{ApiVersion, InputSource};

    #[test]
    fn the_embedded_parameters_read_back_as_the_shared_settings() {
        let base = GenParams {
            prompt: "a fox, at dusk".into(),
            seed: 42,
            steps: 30,
            guidance: 4.5,
            cn_strength: 0.7,
            ..Default::default()
        };
        let input = InputSource::Url("https://example.com/in.png".into());
        let plan = compare_types(
            &base,
            &input,
            ApiVersion::V1,
            7,
            &[CnType::Pose, CnType::Depth],
        )
        .unwrap();
        let texts = embedded_texts(&plan, &[]);
        let parameters = &texts[0].1;
        assert!(
            parameters.contains("X: cn_type (pose, depth)"),
            "{parameters}"
        );
        let back = crate::gallery::parse_a1111(parameters).unwrap();
        assert_eq!(back.prompt, base.prompt);
        assert_eq!(
            (back.seed, back.steps, back.guidance, back.cn_strength),
            (42, 30, 4.5, 0.7)
        );
    }

    /// With "use input image size" the cells are the input's size: the parameters say that size,
    /// not custom_width × custom_height (which were not sent).
    #[test]
    fn the_embedded_size_is_the_size_the_cells_have() {
        let base = GenParams {
            prompt: "a fox".into(),
            use_input_img_dimension: true,
            ..Default::default()
        };
        let input = InputSource::Url("https://example.com/in.png".into());
        let plan = compare_types(&base, &input, ApiVersion::V1, 7, &[CnType::Pose]).unwrap();
        let dir = tempfile::tempdir().unwrap();
        let cell = dir.path().join("cell.png");
        image::RgbImage::new(96, 128).save(&cell).unwrap();
        let cells = [GridCell {
            row: 0,
            col: 0,
            image: Some(cell),
        }];
        let parameters = &embedded_texts(&plan, &cells)[0].1;
        assert!(parameters.contains("Size: 96x128"), "{parameters}");
        assert!(!parameters.contains("1024x1024"), "{parameters}");
    }
}
