use super::*;
use crate::api::params::CnType;

fn meta(n: u64, prompt: &str, cn: CnType) -> Sidecar {
    let mut params = crate::api::GenParams {
        prompt: prompt.into(),
        cn_type: cn,
        ..Default::default()
    };
    params.steps = 20 + (n % 3) as u32;
    Sidecar {
        version: 1,
        app: "fluxcn test".into(),
        created: "2026-01-01T00:00:00.000Z".into(),
        created_unix_ms: n,
        params,
        seed_used: n as i64,
        input: "in.png".into(),
        api: Default::default(),
        accounting: Default::default(),
        format: Default::default(),
        width: 8,
        height: 8,
        bytes: 10,
        group: None,
        favourite: false,
        rating: (n % 6) as u8,
        model: "flux-controlnet".into(),
        job_id: Some(100 + n),
        input_file: None,
        input_hash: None,
        prompt_template: None,
        batch_line: None,
        parent: None,
        framing: None,
    }
}

fn filled() -> Catalog {
    let mut c = Catalog::in_memory();
    let items: Vec<Stored> = [
        (1, "a knight in shining armour", CnType::Pose),
        (2, "a red knight at dusk", CnType::Depth),
        (3, "a castle on a hill", CnType::Depth),
        (4, "knights of the round table", CnType::Canny),
        (5, "a dragon, knightly", CnType::Tile),
    ]
    .into_iter()
    .map(|(n, p, cn)| (format!("id{n}"), format!("id{n}.png"), meta(n, p, cn)))
    .collect();
    c.replace_all(&items).unwrap();
    c
}

fn ids(rows: &[Row]) -> Vec<&str> {
    rows.iter().map(|r| r.id.as_str()).collect()
}

#[test]
fn searches_prompts_fields_and_ratings_in_the_asked_order() {
    let c = filled();
    let q = |t: &str| c.query(&Query::parse(t).unwrap()).unwrap();
    assert_eq!(ids(&q("")), ["id5", "id4", "id3", "id2", "id1"]);
    // Prefix words through the full-text index: "knight" finds "knights" and "knightly" too.
    assert_eq!(ids(&q("knight")), ["id5", "id4", "id2", "id1"]);
    assert_eq!(ids(&q("KNIGHT red")), ["id2"]);
    assert_eq!(ids(&q("\"round table\"")), ["id4"]);
    assert_eq!(ids(&q("knight cn_type:depth")), ["id2"]);
    assert_eq!(ids(&q("rating>=4")), ["id5", "id4"]);
    assert_eq!(ids(&q("steps:21")), ["id4", "id1"]);
    assert_eq!(ids(&q("seed<3")), ["id2", "id1"]);
    // A word that is FTS5 syntax is only a word.
    assert!(q("AND").is_empty() && q("\"").len() == 5 && q("NEAR(").is_empty());
    let mut by_rating = Query::parse("").unwrap();
    by_rating.sort = Sort::Rating;
    assert_eq!(
        ids(&c.query(&by_rating).unwrap()),
        ["id5", "id4", "id3", "id2", "id1"]
    );
    by_rating.sort = Sort::Oldest;
    assert_eq!(ids(&c.query(&by_rating).unwrap())[0], "id1");
}

#[test]
fn an_edit_moves_the_full_text_index_with_it() {
    let mut c = filled();
    let (_, file, mut m) = c.get("id3").unwrap().unwrap();
    m.params.prompt = "a knight's castle".into();
    m.favourite = true;
    c.put("id3", &file, &m).unwrap();
    let q = |c: &Catalog, t: &str| ids(&c.query(&Query::parse(t).unwrap()).unwrap()).join(",");
    assert_eq!(q(&c, "castle"), "id3");
    assert_eq!(q(&c, "hill"), "");
    assert_eq!(q(&c, "is:fav"), "id3");
    c.remove_all(["id3"]).unwrap();
    assert_eq!(q(&c, "castle"), "");
    assert_eq!(c.count().unwrap(), 4);
}

#[test]
fn finds_a_job_by_id_or_by_its_v2_request() {
    let mut c = filled();
    let (_, _, mut old) = c.get("id1").unwrap().unwrap();
    old.job_id = None;
    old.api = crate::types::ApiVersion::V2;
    old.accounting.request_id = Some("req-1".into());
    c.put_all([("id9", "id9.webp", &old)]).unwrap();
    let found = |job, req| {
        c.find_job(job, req)
            .unwrap()
            .into_iter()
            .map(|(id, _, _)| id)
            .collect::<Vec<_>>()
    };
    assert_eq!(found(102, None), ["id2"]);
    assert_eq!(found(7, Some("req-1")), ["id9"]);
    assert!(found(7, None).is_empty() && found(7, Some("req-2")).is_empty());
}

#[test]
fn rows_naming_paths_outside_the_gallery_are_never_returned() {
    let c = filled();
    let m = meta(9, "x", CnType::Pose);
    for (id, file) in [
        ("../../x", "../../x.png"),
        ("ok", "/etc/passwd"),
        ("ok2", "../ok2.png"),
        ("ok3", "ok3.json"),
    ] {
        c.put(id, file, &m).unwrap();
    }
    assert_eq!(c.query(&Query::default()).unwrap().len(), 5);
    assert_eq!(c.files().unwrap().len(), 5);
    assert_eq!(c.all().unwrap().len(), 5);
    assert!(c.get("ok").unwrap().is_none());
    // A row whose sidecar copy does not read is skipped too.
    c.conn
        .execute("UPDATE results SET meta = '{' WHERE id = 'id1'", [])
        .unwrap();
    assert!(c.get("id1").unwrap().is_none());
    assert_eq!(c.all().unwrap().len(), 4);
}

#[test]
fn a_damaged_newer_or_linked_catalog_is_set_aside_and_a_new_one_made() {
    let d = tempfile::tempdir().unwrap();
    let path = d.path().join(CATALOG_FILE);
    let o = Catalog::open(d.path());
    assert!(o.fill && o.notes.is_empty() && o.catalog.path() == Some(&*path));
    o.catalog
        .put("id1", "id1.png", &meta(1, "x", CnType::Pose))
        .unwrap();
    drop(o);
    let o = Catalog::open(d.path());
    assert!(!o.fill && o.notes.is_empty());
    assert_eq!(o.catalog.count().unwrap(), 1);
    drop(o);

    // Garbage where the catalog was.
    for f in files_of(&path) {
        let _ = std::fs::remove_file(f);
    }
    std::fs::write(&path, vec![7u8; 8192]).unwrap();
    let o = Catalog::open(d.path());
    assert!(o.fill && o.catalog.path().is_some());
    assert!(
        o.notes[0].contains("damaged") && o.notes[0].contains(".catalog.sqlite.damaged"),
        "{:?}",
        o.notes
    );
    assert_eq!(
        std::fs::read(d.path().join(".catalog.sqlite.damaged")).unwrap(),
        vec![7u8; 8192]
    );
    o.catalog
        .conn
        .pragma_update(None, "user_version", schema::VERSION + 1)
        .unwrap();
    drop(o);

    // Written by a newer app: kept, not changed.
    let o = Catalog::open(d.path());
    assert!(o.fill && o.notes[0].contains("newer"), "{:?}", o.notes);
    let kept = d
        .path()
        .join(format!(".catalog.sqlite.v{}", schema::VERSION + 1));
    assert!(kept.exists());
    drop(o);

    #[cfg(unix)]
    {
        // A link planted at the catalog's name (or its WAL's) is removed, never written through.
        let victim = d.path().join("victim");
        std::fs::write(&victim, b"precious").unwrap();
        for f in files_of(&path) {
            let _ = std::fs::remove_file(&f);
        }
        std::os::unix::fs::symlink(&victim, &path).unwrap();
        let o = Catalog::open(d.path());
        assert!(o.fill && o.notes[0].contains("was a link"), "{:?}", o.notes);
        o.catalog
            .put("id1", "id1.png", &meta(1, "x", CnType::Pose))
            .unwrap();
        drop(o);
        assert_eq!(std::fs::read(&victim).unwrap(), b"precious");
        assert!(std::fs::symlink_metadata(&path).unwrap().is_file());
    }

    // Not a file at all: the gallery works from a catalog in memory, and says so.
    for f in files_of(&path) {
        let _ = std::fs::remove_file(&f);
    }
    std::fs::create_dir(&path).unwrap();
    let o = Catalog::open(d.path());
    assert!(o.fill && o.catalog.path().is_none());
    assert!(o.notes[0].contains("cannot be used"), "{:?}", o.notes);
}

#[test]
fn two_connections_writing_at_once_lose_nothing() {
    let d = tempfile::tempdir().unwrap();
    drop(Catalog::open(d.path()));
    std::thread::scope(|s| {
        for t in 0..2u64 {
            let dir = d.path();
            s.spawn(move || {
                let mut o = Catalog::open(dir);
                for n in 0..200u64 {
                    let id = format!("t{t}-{n}");
                    let m = meta(n, &format!("writer {t} picture {n}"), CnType::Pose);
                    if n % 2 == 0 {
                        o.catalog.put(&id, &format!("{id}.png"), &m).unwrap();
                    } else {
                        o.catalog
                            .put_all([(id.as_str(), format!("{id}.png").as_str(), &m)])
                            .unwrap();
                    }
                }
            });
        }
    });
    let o = Catalog::open(d.path());
    assert_eq!(o.catalog.count().unwrap(), 400);
    let q = Query::parse("\"writer 1\"").unwrap();
    assert_eq!(o.catalog.query(&q).unwrap().len(), 200);
}

/// A picture made with `params`, the server having used `seed_used`.
fn made(n: u64, params: GenParams, seed_used: i64) -> Stored {
    let mut m = meta(n, "", CnType::Pose);
    m.params = params;
    m.seed_used = seed_used;
    (format!("id{n}"), format!("id{n}.png"), m)
}

#[test]
fn finds_every_picture_made_with_exactly_these_settings_newest_first() {
    let p = GenParams {
        prompt: "a knight".into(),
        cn_type: CnType::Depth,
        seed: 42,
        ..Default::default()
    };
    let other_steps = GenParams {
        steps: p.steps + 1,
        ..p.clone()
    };
    let other_type = GenParams {
        cn_type: CnType::Pose,
        ..p.clone()
    };
    // Only in spaces: the model reads the same prompt, so the same picture.
    let spaced_prompt = GenParams {
        prompt: format!("  {}  ", p.prompt.replace(' ', "   ")),
        ..p.clone()
    };
    let other_prompt = GenParams {
        prompt: format!("{} x", p.prompt),
        ..p.clone()
    };
    let random = GenParams {
        seed: -1,
        ..p.clone()
    };
    let mut c = Catalog::in_memory();
    c.replace_all(&[
        made(1, p.clone(), 42),
        made(2, other_steps, 42),
        made(3, other_type, 42),
        made(4, other_prompt, 42),
        made(8, spaced_prompt, 42),
        // Sent with -1, made with 42: the same picture.
        made(5, random.clone(), 42),
        // Sent with -1, made with another seed.
        made(6, random, 7),
        made(7, p.clone(), 43),
    ])
    .unwrap();
    let ids: Vec<String> = c
        .same_settings(&p)
        .unwrap()
        .into_iter()
        .map(|(id, _, _)| id)
        .collect();
    assert_eq!(ids, ["id8", "id5", "id1"]);
    let nothing = GenParams {
        seed: 44,
        ..p.clone()
    };
    assert!(c.same_settings(&nothing).unwrap().is_empty());
}

#[test]
fn the_newest_are_listed_first_and_no_more_than_asked() {
    let mut c = Catalog::in_memory();
    let items: Vec<Stored> = [3u64, 1, 4, 2]
        .into_iter()
        .map(|n| made(n, GenParams::default(), n as i64))
        .collect();
    c.replace_all(&items).unwrap();
    let ids = |rows: Vec<Row>| rows.into_iter().map(|r| r.id).collect::<Vec<_>>();
    assert_eq!(ids(c.newest(2).unwrap()), ["id4", "id3"]);
    assert_eq!(ids(c.newest(10).unwrap()), ["id4", "id3", "id2", "id1"]);
    assert!(c.newest(0).unwrap().is_empty());
    // The same order as the default search.
    assert_eq!(c.newest(10).unwrap(), c.query(&Query::default()).unwrap());
}

#[test]
fn another_programs_database_is_set_aside_untouched_and_ours_are_marked() {
    let d = tempfile::tempdir().unwrap();
    let path = d.path().join(CATALOG_FILE);
    // A browser's history at our name: user_version 0, a table of its own, in WAL mode with a
    // transaction still in its journal (a close that checkpointed would write it into the file).
    let f = rusqlite::Connection::open(&path).unwrap();
    f.execute_batch(
        "PRAGMA journal_mode = WAL; CREATE TABLE moz_places (id INTEGER PRIMARY KEY, url TEXT);
         INSERT INTO moz_places (url) VALUES ('https://example.com/');",
    )
    .unwrap();
    let before = std::fs::read(&path).unwrap();
    let o = Catalog::open(d.path());
    assert!(o.fill, "{:?}", o.notes);
    assert!(
        o.notes.len() == 1
            && o.notes[0].contains("not a fluxcn catalog")
            && o.notes[0].contains("moz_places")
            && o.notes[0].contains(".catalog.sqlite.foreign"),
        "{:?}",
        o.notes
    );
    let mut aside = path.as_os_str().to_owned();
    aside.push(".foreign");
    assert_eq!(
        std::fs::read(&aside).unwrap(),
        before,
        "the foreign file was written"
    );
    drop(f);
    // The new catalog is ours, marked, and holds none of the other program's tables.
    let c = rusqlite::Connection::open(&path).unwrap();
    let id: i32 = c
        .query_row("PRAGMA application_id", [], |r| r.get(0))
        .unwrap();
    assert_eq!(id, schema::APP_ID);
    let foreign: i64 = c
        .query_row(
            "SELECT count(*) FROM sqlite_master WHERE name = 'moz_places'",
            [],
            |r| r.get(0),
        )
        .unwrap();
    assert_eq!(foreign, 0);
    drop((c, o));

    // A catalog of ours written before the mark (no application id) is kept and marked.
    let e = tempfile::tempdir().unwrap();
    let o = Catalog::open(e.path());
    o.catalog
        .put("id1", "id1.png", &meta(1, "x", CnType::Pose))
        .unwrap();
    drop(o);
    let c = rusqlite::Connection::open(e.path().join(CATALOG_FILE)).unwrap();
    c.pragma_update(None, "application_id", 0).unwrap();
    drop(c);
    let o = Catalog::open(e.path());
    assert!(o.notes.is_empty() && !o.fill, "{:?}", o.notes);
    assert_eq!(o.catalog.count().unwrap(), 1);
    drop(o);
    let c = rusqlite::Connection::open(e.path().join(CATALOG_FILE)).unwrap();
    let id: i32 = c
        .query_row("PRAGMA application_id", [], |r| r.get(0))
        .unwrap();
    assert_eq!(id, schema::APP_ID);
}
