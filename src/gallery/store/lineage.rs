//! A picture's lineage in the gallery (issue 26): the picture it was made from (its sidecar's
//! `parent`, written when the input was one of our pictures) and the pictures made from it
//! (refinements, or results that used it as their input).

use std::path::Path;

use super::Store;
use crate::gallery::Entry;

impl Store {
    /// The pictures made from `picture` (refined from it, or using it as their input), oldest
    /// first; only those still on disk.
    pub fn made_from(&self, picture: &Path) -> Vec<Entry> {
        let abs = std::path::absolute(picture).unwrap_or_else(|_| picture.to_path_buf());
        let key = abs.display().to_string();
        let st = self.lock();
        let found = self.read(&st, Vec::new(), |c| c.made_from(&key));
        drop(st);
        found
            .into_iter()
            .map(|s| self.entry(s))
            .filter(|e| e.image_path.is_file())
            .collect()
    }

    /// The gallery's entry for the picture at `path` (its parent, say), if it is one of this
    /// gallery's pictures.
    pub fn entry_at(&self, path: &Path) -> Option<Entry> {
        let abs = std::path::absolute(path).ok()?;
        let dir = std::path::absolute(self.dir()).ok()?;
        if abs.parent()? != dir {
            return None;
        }
        self.get(&abs.file_stem()?.to_string_lossy())
    }
}

#[cfg(test)]
mod tests {
    use crate::api::{Accounting, GenParams, ImageFormat, ReceivedImage};
    use crate::gallery::{NewResult, Store};

    fn png() -> ReceivedImage {
        let mut bytes = Vec::new();
        image::RgbImage::new(8, 8)
            .write_to(
                &mut std::io::Cursor::new(&mut bytes),
                image::ImageFormat::Png,
            )
            .unwrap();
        ReceivedImage {
            bytes,
            format: ImageFormat::Png,
            width: 8,
            height: 8,
        }
    }

    #[test]
    fn a_picture_made_from_another_names_it_and_is_found_from_it() {
        let dir = tempfile::tempdir().unwrap();
        let store = Store::open(dir.path()).unwrap();
        let img = png();
        let params = GenParams {
            prompt: "a fox".into(),
            ..Default::default()
        };
        let save = |input: &str| {
            store
                .save(&NewResult {
                    image: &img,
                    params: &params,
                    input,
                    api: Default::default(),
                    accounting: &Accounting::default(),
                    group: None,
                    index: 0,
                    job_id: None,
                    input_image: None,
                    prompt_template: None,
                    batch_line: None,
                    framing: None,
                })
                .unwrap()
        };
        let photo = dir.path().join("photo.png");
        std::fs::write(&photo, &img.bytes).unwrap();
        let first = save(&photo.display().to_string());
        assert_eq!(first.meta.parent, None, "a photo is no parent");
        let refined = save(&first.image_path.display().to_string());
        let again = save(&first.image_path.display().to_string());
        let parent = refined.meta.parent.clone().expect("names its parent");
        assert_eq!(
            store.entry_at(Path::new(&parent)).map(|e| e.id),
            Some(first.id.clone())
        );
        let children: Vec<String> = store
            .made_from(&first.image_path)
            .into_iter()
            .map(|e| e.id)
            .collect();
        assert_eq!(children, [refined.id, again.id]);
        assert!(store.made_from(&photo).is_empty());
    }

    use std::path::Path;
}
