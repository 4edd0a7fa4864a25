//! The gallery's catalog: `<gallery>/.catalog.sqlite`, a SQLite database (WAL mode, a busy
//! timeout) beside the pictures, shared safely by the app and the CLI, that answers "every
//! picture, newest first", "the pictures of job 7", "knight cn_type:depth rating>=4" and the
//! batch journal's questions without reading a sidecar.
//!
//! The sidecars stay the truth: the catalog holds a copy of each (`meta`, JSON) plus the columns
//! searches use. A catalog that is missing, damaged, a planted link, or of a newer version is set
//! aside (`.catalog.sqlite.damaged`, `.catalog.sqlite.v<N>`) and rebuilt from the sidecars, with a
//! note the app and the CLI show; one that cannot be opened at all (a read-only folder, held
//! locked by another program past the timeout) is replaced by one in memory, built the same way.
//!
//! Every row read is checked like any outside input: an id that is not a plain file name or a
//! file that is not `<id>.<image extension>` (a crafted catalog in a shared folder) is skipped.

mod batch;
mod query;
mod schema;
mod uploads;

use std::path::{Path, PathBuf};
use std::time::Duration;

use rusqlite::{Connection, ErrorCode, OpenFlags, OptionalExtension, params};

pub use batch::{Claim, LineMark, LineState};
pub use query::{Cmp, Query, QueryError, Sort};

use super::Sidecar;
use super::store::IMAGE_EXTS;
use crate::api::GenParams;
use crate::types::JobId;
use schema::Migrated;

/// The catalog's file name inside the gallery folder.
pub const CATALOG_FILE: &str = ".catalog.sqlite";
/// How long a write waits for another process's write to finish.
pub const BUSY_TIMEOUT: Duration = Duration::from_secs(10);

/// Whether `id` can only name a file directly inside the gallery: not empty, not hidden (which
/// also rules out `.` and `..`), no separator, no drive or stream colon, no NUL.
pub(crate) fn valid_id(id: &str) -> bool {
    !id.is_empty() && !id.starts_with('.') && !id.contains(['/', '\\', ':', '\0'])
}

/// Whether `file` is the image file of `id`: `<id>.<one of the image extensions>`.
pub(crate) fn valid_file(id: &str, file: &str) -> bool {
    valid_id(id)
        && file.rsplit_once('.').is_some_and(|(stem, ext)| {
            stem == id && IMAGE_EXTS.iter().any(|e| e.eq_ignore_ascii_case(ext))
        })
}

/// One picture as a search lists it: enough to draw its thumbnail, sort and filter; the whole
/// sidecar is one [`Catalog::get`] away.
#[derive(Debug, Clone, PartialEq)]
pub struct Row {
    pub id: String,
    /// The image's file name in the gallery folder.
    pub file: String,
    pub created_unix_ms: u64,
    pub cn_type: String,
    pub seed_used: i64,
    pub favourite: bool,
    pub rating: u8,
    pub prompt: String,
}

/// A picture as stored: its id, its image's file name and its sidecar.
pub type Stored = (String, String, Sidecar);

/// The catalog (one connection; the store serialises calls on it).
pub struct Catalog {
    conn: Connection,
    /// `None`: in memory (the file could not be used).
    path: Option<PathBuf>,
    /// The opened file's identity, to notice it being deleted or replaced under us.
    identity: Option<FileId>,
}

/// What tells one file from another at the same path.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
struct FileId {
    dev: u64,
    ino: u64,
}

/// Which file is at `path` now: its device and inode on Unix; elsewhere (std has no stable file
/// index on Windows) its creation time, which a file deleted and made again does not keep either.
fn file_id(path: &Path) -> Option<FileId> {
    let m = std::fs::metadata(path).ok()?;
    #[cfg(unix)]
    {
        use std::os::unix::fs::MetadataExt;
        Some(FileId {
            dev: m.dev(),
            ino: m.ino(),
        })
    }
    #[cfg(not(unix))]
    {
        let created = m
            .created()
            .ok()?
            .duration_since(std::time::UNIX_EPOCH)
            .ok()?;
        Some(FileId {
            dev: 0,
            ino: created.as_nanos() as u64,
        })
    }
}

/// What [`Catalog::open`] gave.
pub struct Opened {
    pub catalog: Catalog,
    /// The catalog is empty (new, or the old one was set aside): fill it from the sidecars.
    pub fill: bool,
    /// What the user should be told (set aside, rebuilt, in memory), one sentence each.
    pub notes: Vec<String>,
}

/// The files SQLite keeps for a catalog at `path`.
fn files_of(path: &Path) -> [PathBuf; 3] {
    let with = |suffix: &str| {
        let mut s = path.as_os_str().to_owned();
        s.push(suffix);
        PathBuf::from(s)
    };
    [path.to_path_buf(), with("-wal"), with("-shm")]
}

/// Moves the catalog's files to `<name>.<what>` (replacing an older one set aside the same way).
pub(crate) fn set_aside(path: &Path, what: &str) -> Result<PathBuf, std::io::Error> {
    let mut aside = None;
    for (i, f) in files_of(path).iter().enumerate() {
        let mut target = path.as_os_str().to_owned();
        target.push(format!(".{what}"));
        target.push(["", "-wal", "-shm"][i]);
        let target = PathBuf::from(target);
        match std::fs::rename(f, &target) {
            Ok(()) => {}
            Err(e) if e.kind() == std::io::ErrorKind::NotFound && i > 0 => {}
            Err(e) => return Err(e),
        }
        if i == 0 {
            aside = Some(target);
        }
    }
    Ok(aside.unwrap_or_else(|| path.to_path_buf()))
}

fn code(e: &rusqlite::Error) -> Option<ErrorCode> {
    match e {
        rusqlite::Error::SqliteFailure(f, _) => Some(f.code),
        _ => None,
    }
}

fn is_damage(e: &rusqlite::Error) -> bool {
    matches!(
        code(e),
        Some(ErrorCode::NotADatabase | ErrorCode::DatabaseCorrupt)
    )
}

/// Opens and migrates the file at `path`; a damaged or newer catalog is reported, not changed.
fn open_file(path: &Path) -> rusqlite::Result<(Connection, Migrated)> {
    let flags = OpenFlags::SQLITE_OPEN_READ_WRITE
        | OpenFlags::SQLITE_OPEN_CREATE
        | OpenFlags::SQLITE_OPEN_NO_MUTEX
        | OpenFlags::SQLITE_OPEN_NOFOLLOW;
    let mut conn = Connection::open_with_flags(path, flags)?;
    conn.busy_timeout(BUSY_TIMEOUT)?;
    // Whose file it is, asked before anything writes to it (the WAL switch below already does):
    // another program's database is never migrated in place. A damaged file fails here (the
    // header is read on the first statement).
    if let crate::gallery::owner::Owner::Foreign(why) =
        crate::gallery::owner::owner(&conn, schema::APP_ID, schema::TABLES)?
    {
        // Closing must not fold its journal into it either.
        conn.set_db_config(
            rusqlite::config::DbConfig::SQLITE_DBCONFIG_NO_CKPT_ON_CLOSE,
            true,
        )?;
        return Ok((conn, Migrated::Foreign(why)));
    }
    let mode = crate::gallery::owner::wal_mode(&conn, BUSY_TIMEOUT)?;
    if !mode.eq_ignore_ascii_case("wal") {
        tracing::warn!(mode = %mode, "the catalog could not use WAL mode; another process may wait longer for it");
    }
    // A crash loses at most the last transactions, which the next open takes again from the
    // sidecars; nothing paid is only here.
    conn.pragma_update(None, "synchronous", "NORMAL")?;
    let migrated = schema::migrate(&mut conn)?;
    if matches!(migrated, Migrated::Current | Migrated::Upgraded { .. }) {
        // Walks the results table: a damaged page is found now, not in the middle of a save.
        conn.query_row("SELECT count(*) FROM results", [], |r| r.get::<_, i64>(0))?;
    }
    Ok((conn, migrated))
}

/// Removes links (and refuses other non-files) planted at the catalog's names, so SQLite never
/// writes through them. `Err` names what is in the way.
fn clear_planted(path: &Path, notes: &mut Vec<String>) -> Result<(), String> {
    for f in files_of(path) {
        let Ok(m) = std::fs::symlink_metadata(&f) else {
            continue;
        };
        if m.is_file() {
            continue;
        }
        if m.file_type().is_symlink() && std::fs::remove_file(&f).is_ok() {
            notes.push(format!(
                "{} was a link, not the gallery's catalog; it was removed (what it pointed at is untouched) and the catalog rebuilt from the sidecars",
                f.display()
            ));
            continue;
        }
        return Err(format!("{} is not a file", f.display()));
    }
    Ok(())
}

impl Catalog {
    /// Opens the catalog of the gallery in `dir` (see the module doc for what happens to one that
    /// cannot be used). Never fails: the last resort is a catalog in memory.
    pub fn open(dir: &Path) -> Opened {
        let path = dir.join(CATALOG_FILE);
        let mut notes = Vec::new();
        let mut why_memory = clear_planted(&path, &mut notes).err();
        let mut fill = !notes.is_empty();
        if why_memory.is_none() {
            for attempt in 0..2 {
                match open_file(&path) {
                    Ok((
                        conn,
                        m @ (Migrated::Created | Migrated::Current | Migrated::Upgraded { .. }),
                    )) => {
                        if let Migrated::Upgraded { from } = m {
                            tracing::info!(
                                from,
                                to = schema::VERSION,
                                "the gallery catalog was upgraded"
                            );
                        }
                        return Opened {
                            catalog: Catalog {
                                conn,
                                identity: file_id(&path),
                                path: Some(path),
                            },
                            // An upgrade may add columns the old rows lack: they are filled
                            // again from the sidecars.
                            fill: fill || m != Migrated::Current,
                            notes,
                        };
                    }
                    Ok((conn, Migrated::Newer { version })) if attempt == 0 => {
                        drop(conn);
                        match set_aside(&path, &format!("v{version}")) {
                            Ok(aside) => notes.push(format!(
                                "the gallery catalog was written by a newer fluxcn (version {version}); it was kept as {} and a new one was built from the sidecars",
                                aside.display()
                            )),
                            Err(e) => {
                                why_memory = Some(format!("it is of a newer version ({version}) and could not be set aside: {e}"));
                                break;
                            }
                        }
                        fill = true;
                    }
                    Ok((conn, Migrated::Foreign(why))) if attempt == 0 => {
                        drop(conn);
                        match set_aside(&path, "foreign") {
                            Ok(aside) => notes.push(format!(
                                "{} is not a fluxcn catalog ({why}: another program's database); it was moved to {} untouched and a new catalog was built from the sidecars",
                                path.display(),
                                aside.display()
                            )),
                            Err(e) => {
                                why_memory = Some(format!("it is another program's database ({why}) and could not be set aside: {e}"));
                                break;
                            }
                        }
                        fill = true;
                    }
                    Err(e) if is_damage(&e) && attempt == 0 => {
                        match set_aside(&path, "damaged") {
                            Ok(aside) => notes.push(format!(
                                "the gallery catalog was damaged ({e}); it was kept as {} and rebuilt from the sidecars",
                                aside.display()
                            )),
                            Err(io) => {
                                why_memory = Some(format!("it is damaged ({e}) and could not be set aside: {io}"));
                                break;
                            }
                        }
                        fill = true;
                    }
                    Ok(_) => {
                        why_memory = Some("it could not be replaced".into());
                        break;
                    }
                    Err(e) => {
                        why_memory = Some(match code(&e) {
                            Some(ErrorCode::DatabaseBusy | ErrorCode::DatabaseLocked) => format!(
                                "another program kept it locked for more than {} s",
                                BUSY_TIMEOUT.as_secs()
                            ),
                            _ => e.to_string(),
                        });
                        break;
                    }
                }
            }
        }
        let why = why_memory.unwrap_or_else(|| "it could not be opened".into());
        notes.push(format!(
            "the gallery catalog {} cannot be used ({why}); the gallery works from its files for this session, and opening it will be slower until the catalog can be written",
            path.display()
        ));
        Opened {
            catalog: Catalog::in_memory(),
            fill: true,
            notes,
        }
    }

    /// A catalog in memory (the fallback, and tests).
    pub fn in_memory() -> Catalog {
        // An in-memory database needs no file, and the schema is static SQL known to be valid
        // (the schema test runs it): neither step can fail short of running out of memory.
        #[allow(clippy::expect_used)]
        let mut conn = Connection::open_in_memory().expect("SQLite opens an in-memory database");
        #[allow(clippy::expect_used)]
        schema::migrate(&mut conn).expect("the schema applies to an empty database");
        Catalog {
            conn,
            path: None,
            identity: None,
        }
    }

    /// The catalog's file (`None` when in memory).
    pub fn path(&self) -> Option<&Path> {
        self.path.as_deref()
    }

    /// Whether the catalog's file was deleted or replaced since it was opened (by a person, or by
    /// another process that set a damaged one aside): then it must be opened again.
    pub fn replaced(&self) -> bool {
        self.path
            .as_deref()
            .is_some_and(|p| file_id(p) != self.identity)
    }

    /// Whether the picture `id` is listed.
    pub fn has(&self, id: &str) -> rusqlite::Result<bool> {
        self.conn
            .prepare_cached("SELECT 1 FROM results WHERE id = ?")?
            .exists([id])
    }

    /// Adds or replaces pictures, in one transaction.
    pub fn put_all<'a>(
        &mut self,
        items: impl IntoIterator<Item = (&'a str, &'a str, &'a Sidecar)>,
    ) -> rusqlite::Result<()> {
        let tx = self.conn.transaction()?;
        for (id, file, meta) in items {
            put(&tx, id, file, meta)?;
        }
        tx.commit()
    }

    /// Adds or replaces one picture.
    pub fn put(&self, id: &str, file: &str, meta: &Sidecar) -> rusqlite::Result<()> {
        put(&self.conn, id, file, meta)
    }

    /// Forgets pictures, in one transaction.
    pub fn remove_all<'a>(
        &mut self,
        ids: impl IntoIterator<Item = &'a str>,
    ) -> rusqlite::Result<()> {
        let tx = self.conn.transaction()?;
        {
            let mut st = tx.prepare_cached("DELETE FROM results WHERE id = ?")?;
            for id in ids {
                st.execute([id])?;
            }
        }
        tx.commit()
    }

    /// Replaces everything with `items` (a rebuild), in one transaction.
    pub fn replace_all(&mut self, items: &[Stored]) -> rusqlite::Result<()> {
        let tx = self.conn.transaction()?;
        tx.execute("DELETE FROM results", [])?;
        for (id, file, meta) in items {
            put(&tx, id, file, meta)?;
        }
        tx.commit()
    }

    /// Every picture's id and image file name (to compare with the folder).
    pub fn files(&self) -> rusqlite::Result<Vec<(String, String)>> {
        let mut st = self.conn.prepare_cached("SELECT id, file FROM results")?;
        let rows = st.query_map([], |r| Ok((r.get(0)?, r.get(1)?)))?;
        Ok(rows
            .filter_map(Result::ok)
            .filter(|(id, file): &(String, String)| checked_file(id, file))
            .collect())
    }

    /// One picture.
    pub fn get(&self, id: &str) -> rusqlite::Result<Option<Stored>> {
        let row = self
            .conn
            .prepare_cached("SELECT id, file, meta FROM results WHERE id = ?")?
            .query_row([id], raw)
            .optional()?;
        Ok(row.and_then(stored))
    }

    /// Every picture, newest first.
    pub fn all(&self) -> rusqlite::Result<Vec<Stored>> {
        self.stored_where(
            "SELECT id, file, meta FROM results ORDER BY created_ms DESC, id DESC",
            &[],
        )
    }

    /// The pictures of `job`, or (for sidecars older than job ids) the v2 results of its server
    /// request, oldest first.
    pub fn find_job(&self, job: JobId, request_id: Option<&str>) -> rusqlite::Result<Vec<Stored>> {
        self.stored_where(
            "SELECT id, file, meta FROM results
             WHERE job_id = ?1 OR (job_id IS NULL AND api = 'v2' AND ?2 IS NOT NULL AND request_id = ?2)
             ORDER BY created_ms ASC, id ASC",
            &[&job_sql(job), &request_id],
        )
    }

    /// The pictures whose settings name `parent` as the picture they were made from (see
    /// [`super::super::parent_of`]), oldest first.
    pub fn made_from(&self, parent: &str) -> rusqlite::Result<Vec<Stored>> {
        self.stored_where(
            "SELECT id, file, meta FROM results WHERE json_extract(meta, '$.parent') = ?1
             ORDER BY created_ms ASC, id ASC",
            &[&parent],
        )
    }

    fn stored_where(
        &self,
        sql: &str,
        args: &[&dyn rusqlite::ToSql],
    ) -> rusqlite::Result<Vec<Stored>> {
        let mut st = self.conn.prepare_cached(sql)?;
        let rows = st.query_map(args, raw)?;
        let mut out = Vec::new();
        for r in rows {
            if let Some(s) = stored(r?) {
                out.push(s);
            }
        }
        Ok(out)
    }

    /// The pictures made with exactly `params`, newest first: every field equal, the seed taken as
    /// the one each picture was made with (a picture sent with `-1` whose seed the service
    /// reported matches that seed). The columns narrow the rows (seed, type); the sidecars
    /// decide. The control image is the caller's to compare ([`super::Store::find_identical`]).
    pub fn same_settings(&self, params: &GenParams) -> rusqlite::Result<Vec<Stored>> {
        let found = self.stored_where(
            "SELECT id, file, meta FROM results
             WHERE seed_used = ?1 AND cn_type = ?2
             ORDER BY created_ms DESC, id DESC",
            &[&params.seed, &params.cn_type.as_str()],
        )?;
        Ok(found
            .into_iter()
            .filter(|(_, _, m)| {
                let made = GenParams {
                    seed: m.seed_used,
                    ..m.params.clone()
                };
                made.same_picture(params)
            })
            .collect())
    }

    /// The pictures a search finds, in its order.
    pub fn query(&self, q: &Query) -> rusqlite::Result<Vec<Row>> {
        let (filter, args) = q.where_sql();
        let sql = format!(
            "SELECT r.id, r.file, r.created_ms, r.cn_type, r.seed_used, r.favourite, r.rating, r.prompt {} {filter} {}",
            q.tables_sql(),
            q.order_sql()
        );
        let mut st = self.conn.prepare_cached(&sql)?;
        let rows = st.query_map(rusqlite::params_from_iter(args), listed)?;
        checked_rows(rows)
    }

    /// The newest `limit` pictures, newest first (the Result tab's history strip): what the
    /// default search lists first, without listing the rest.
    pub fn newest(&self, limit: usize) -> rusqlite::Result<Vec<Row>> {
        let mut st = self.conn.prepare_cached(
            "SELECT r.id, r.file, r.created_ms, r.cn_type, r.seed_used, r.favourite, r.rating, r.prompt
             FROM results r ORDER BY r.created_ms DESC, r.id DESC LIMIT ?1",
        )?;
        let limit = i64::try_from(limit).unwrap_or(i64::MAX);
        let rows = st.query_map([limit], listed)?;
        checked_rows(rows)
    }

    /// How many pictures use the kept input with this content address.
    pub fn input_users(&self, hash: &str) -> rusqlite::Result<usize> {
        self.conn
            .prepare_cached("SELECT count(*) FROM results WHERE input_hash = ?")?
            .query_row([hash], |r| r.get::<_, i64>(0))
            .map(|n| n.max(0) as usize)
    }

    /// How many pictures are listed.
    pub fn count(&self) -> rusqlite::Result<usize> {
        self.conn
            .query_row("SELECT count(*) FROM results", [], |r| r.get::<_, i64>(0))
            .map(|n| n.max(0) as usize)
    }
}

/// A listed row, from `id, file, created_ms, cn_type, seed_used, favourite, rating, prompt`.
fn listed(r: &rusqlite::Row<'_>) -> rusqlite::Result<Row> {
    Ok(Row {
        id: r.get(0)?,
        file: r.get(1)?,
        created_unix_ms: r.get::<_, i64>(2)?.max(0) as u64,
        cn_type: r.get(3)?,
        seed_used: r.get(4)?,
        favourite: r.get(5)?,
        rating: r.get::<_, i64>(6)?.clamp(0, 5) as u8,
        prompt: r.get(7)?,
    })
}

/// The rows whose path is safe (see [`checked_file`]).
fn checked_rows(rows: impl Iterator<Item = rusqlite::Result<Row>>) -> rusqlite::Result<Vec<Row>> {
    let mut out = Vec::new();
    for r in rows {
        let r = r?;
        if checked_file(&r.id, &r.file) {
            out.push(r);
        }
    }
    Ok(out)
}

fn job_sql(job: JobId) -> i64 {
    // Job ids are stored as SQLite's signed integers, bit for bit.
    job as i64
}

fn raw(r: &rusqlite::Row<'_>) -> rusqlite::Result<(String, String, String)> {
    Ok((r.get(0)?, r.get(1)?, r.get(2)?))
}

/// A row whose path is safe and whose sidecar reads; anything else is skipped with a warning.
fn stored((id, file, meta): (String, String, String)) -> Option<Stored> {
    if !checked_file(&id, &file) {
        return None;
    }
    match serde_json::from_str::<Sidecar>(&meta) {
        Ok(m) => Some((id, file, m)),
        Err(e) => {
            tracing::warn!(id = %id, error = %e, "a catalog row cannot be read; the picture's sidecar will be read again on the next open");
            None
        }
    }
}

fn checked_file(id: &str, file: &str) -> bool {
    let ok = valid_file(id, file);
    if !ok {
        tracing::warn!(id = %id.escape_debug(), file = %file.escape_debug(), "ignoring a gallery catalog row that names a path outside the gallery");
    }
    ok
}

fn put(conn: &Connection, id: &str, file: &str, m: &Sidecar) -> rusqlite::Result<()> {
    // Plain data; serialising cannot fail.
    let meta = serde_json::to_string(m).unwrap_or_default();
    let api = serde_json::to_value(m.api)
        .ok()
        .and_then(|v| v.as_str().map(str::to_owned))
        .unwrap_or_default();
    conn.prepare_cached(
        "INSERT INTO results (id, file, created_ms, cn_type, seed_used, prompt, favourite, rating,
                              grp, job_id, request_id, api, cost, meta, input_hash)
         VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8, ?9, ?10, ?11, ?12, ?13, ?14, ?15)
         ON CONFLICT (id) DO UPDATE SET
            file = excluded.file, created_ms = excluded.created_ms, cn_type = excluded.cn_type,
            seed_used = excluded.seed_used, prompt = excluded.prompt,
            favourite = excluded.favourite, rating = excluded.rating, grp = excluded.grp,
            job_id = excluded.job_id, request_id = excluded.request_id, api = excluded.api,
            cost = excluded.cost, meta = excluded.meta, input_hash = excluded.input_hash",
    )?
    .execute(params![
        id,
        file,
        i64::try_from(m.created_unix_ms).unwrap_or(i64::MAX),
        m.params.cn_type.as_str(),
        m.seed_used,
        m.params.prompt,
        m.favourite,
        m.rating,
        m.group.as_ref().map(|g| g.group as i64),
        m.job_id.map(job_sql),
        m.accounting.request_id,
        api,
        m.accounting.cost,
        meta,
        m.input_hash,
    ])?;
    Ok(())
}

#[cfg(test)]
mod tests;
