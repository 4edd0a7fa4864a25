//! The spend ledger: one row per billed job (its time, cost, request id and control type), kept in
//! one SQLite file in the user's data folder (`<data>/ledger.sqlite`) whatever gallery folder the
//! result went to, so the app and every CLI process add to one account of what was spent.
//!
//! A job is recorded once: the row is keyed by the job id, so a v2 job resumed after a crash (same
//! id) is never counted twice. Days and months are the user's local calendar, fixed when the row
//! is written. The cost is the service's own figure (`x-cost`, or the v2 `metrics.cost`); when the
//! answer carried none, the estimate is recorded and marked as one.

use std::path::{Path, PathBuf};
use std::sync::Mutex;
use std::time::Duration;

use chrono::{DateTime, Datelike, Local, NaiveDate, TimeZone};
use rusqlite::{Connection, OpenFlags, TransactionBehavior, params};

use crate::types::JobId;

/// The schema version this build writes.
const VERSION: u32 = 2;

/// Our mark in the file's header (`PRAGMA application_id`): "FLXL", a fluxcn spend ledger.
pub const APP_ID: i32 = 0x464C_584C;
/// The tables a ledger of ours holds.
const TABLES: &[&str] = &["charges", "reservations"];

const MIGRATIONS: [&str; VERSION as usize] = [
    r"
    CREATE TABLE charges (
        job_id      INTEGER PRIMARY KEY NOT NULL,
        at_ms       INTEGER NOT NULL,
        day         TEXT NOT NULL,
        cost        REAL NOT NULL,
        estimated   INTEGER NOT NULL,
        request_id  TEXT,
        cn_type     TEXT NOT NULL,
        images      INTEGER NOT NULL,
        api         TEXT NOT NULL
    );
    CREATE INDEX charges_day ON charges (day);
    ",
    // 2: a job of N samples on v1 is N requests, each billed: a row per request (`part`), and the
    // images paid for beside those that arrived (`asked`; fewer arrived is said and kept).
    r"
    CREATE TABLE charges_v2 (
        job_id      INTEGER NOT NULL,
        part        INTEGER NOT NULL DEFAULT 0,
        at_ms       INTEGER NOT NULL,
        day         TEXT NOT NULL,
        cost        REAL NOT NULL,
        estimated   INTEGER NOT NULL,
        request_id  TEXT,
        cn_type     TEXT NOT NULL,
        images      INTEGER NOT NULL,
        asked       INTEGER NOT NULL,
        api         TEXT NOT NULL,
        maybe       INTEGER NOT NULL DEFAULT 0,
        PRIMARY KEY (job_id, part)
    );
    INSERT INTO charges_v2 (job_id, part, at_ms, day, cost, estimated, request_id, cn_type, images, asked, api)
        SELECT job_id, 0, at_ms, day, cost, estimated, request_id, cn_type, images, images, api FROM charges;
    DROP TABLE charges;
    ALTER TABLE charges_v2 RENAME TO charges;
    CREATE INDEX charges_day ON charges (day);
    CREATE TABLE reservations (
        job_id      INTEGER PRIMARY KEY NOT NULL,
        holder      TEXT NOT NULL,
        amount      REAL NOT NULL,
        images      INTEGER NOT NULL,
        cn_type     TEXT NOT NULL,
        api         TEXT NOT NULL,
        per_request REAL NOT NULL,
        sent        INTEGER NOT NULL DEFAULT 0,
        at_ms       INTEGER NOT NULL
    );
    CREATE INDEX reservations_holder ON reservations (holder);
    ",
];

/// A failure of the ledger.
#[derive(Debug, thiserror::Error)]
pub enum LedgerError {
    #[error("the spend ledger {}: {source}", path.display())]
    Sql {
        path: PathBuf,
        #[source]
        source: rusqlite::Error,
    },
    #[error(
        "the spend ledger {} was written by a newer fluxcn (schema {version}); it is left as it is",
        path.display()
    )]
    Newer { path: PathBuf, version: u32 },
    #[error(
        "{} is another program's database, not a fluxcn spend ledger ({why}); it is left as it is",
        path.display()
    )]
    Foreign { path: PathBuf, why: String },
}

/// One billed job.
#[derive(Debug, Clone, PartialEq)]
pub struct Charge {
    pub job_id: JobId,
    /// When it was billed (ms since the Unix epoch).
    pub at_ms: u64,
    /// USD.
    pub cost: f64,
    /// The answer said no cost: this is the estimate (images × the usual price).
    pub estimated: bool,
    pub request_id: Option<String>,
    pub cn_type: String,
    /// The images that arrived.
    pub images: u32,
    /// The images paid for (more than `images` when an answer brought fewer than it billed).
    pub asked: u32,
    /// Which request of the job: 0, or the sample's index when a v1 job of N samples is sent as
    /// N requests (each billed, each its own row).
    pub part: u32,
    /// `v1` or `v2`.
    pub api: String,
}

/// What was spent: today, this month, all time, by control type (USD).
#[derive(Debug, Clone, Default, PartialEq)]
pub struct Spend {
    pub today: f64,
    pub month: f64,
    pub all: f64,
    /// Jobs recorded (all time).
    pub jobs: u64,
    /// Images recorded (all time).
    pub images: u64,
    /// Jobs whose cost is an estimate (the answer carried none).
    pub estimated_jobs: u64,
    /// Images paid for that never arrived (an answer with fewer images than it billed).
    pub lost_images: u64,
    /// Jobs sent whose outcome is unknown (no answer, a kill): counted at their estimate until a
    /// resume records what they cost.
    pub maybe_jobs: u64,
    /// Per control type, all time: (type, cost, images), the costliest first.
    pub by_type: Vec<(String, f64, u64)>,
    /// Spend per day for the last days asked for, oldest first, days without spend included.
    pub per_day: Vec<(NaiveDate, f64)>,
}

/// The ledger (cheap to share behind an `Arc`; one connection, used under a lock).
pub struct Ledger {
    path: PathBuf,
    conn: Mutex<Connection>,
    /// What opening it found and did that the user should hear (a file set aside, reservations
    /// of a process that stopped settled).
    notes: Vec<String>,
    /// This process in the reservations table, and the lock that says it is alive.
    holder: holds::Holder,
}

pub mod account;
pub use account::{Known, Maybe, foreign_job_id};
mod holds;
pub use holds::Hold;

impl std::fmt::Debug for Ledger {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "Ledger({})", self.path.display())
    }
}

/// The local calendar day of a time.
fn day_of(at_ms: u64) -> NaiveDate {
    let t = i64::try_from(at_ms).unwrap_or(i64::MAX);
    match Local.timestamp_millis_opt(t) {
        chrono::LocalResult::Single(d) | chrono::LocalResult::Ambiguous(d, _) => d.date_naive(),
        chrono::LocalResult::None => Local::now().date_naive(),
    }
}

impl Ledger {
    /// The ledger's usual place: `<data>/ledger.sqlite`.
    pub fn path_in(data: &Path) -> PathBuf {
        data.join("ledger.sqlite")
    }

    /// Opens (creating and migrating) the ledger at `path`.
    pub fn open(path: impl Into<PathBuf>) -> Result<Ledger, LedgerError> {
        let path = path.into();
        let sql = |source| LedgerError::Sql {
            path: path.clone(),
            source,
        };
        if let Some(parent) = path.parent() {
            // A missing folder shows up as SQLite's "unable to open" with the path just below.
            let _ = std::fs::create_dir_all(parent);
        }
        let flags = OpenFlags::SQLITE_OPEN_READ_WRITE
            | OpenFlags::SQLITE_OPEN_CREATE
            | OpenFlags::SQLITE_OPEN_NO_MUTEX
            | OpenFlags::SQLITE_OPEN_NOFOLLOW;
        let mut notes = Vec::new();
        let mut conn = Connection::open_with_flags(&path, flags).map_err(sql)?;
        conn.busy_timeout(Duration::from_secs(10)).map_err(sql)?;
        // Another program's database at our name is set aside untouched (never migrated in place,
        // never checkpointed by our close), and a new ledger is made.
        if let crate::gallery::owner::Owner::Foreign(why) =
            crate::gallery::owner::owner(&conn, APP_ID, TABLES).map_err(sql)?
        {
            conn.set_db_config(
                rusqlite::config::DbConfig::SQLITE_DBCONFIG_NO_CKPT_ON_CLOSE,
                true,
            )
            .map_err(sql)?;
            drop(conn);
            let aside = crate::gallery::catalog::set_aside(&path, "foreign").map_err(|e| {
                LedgerError::Foreign {
                    path: path.clone(),
                    why: format!("{why}; it could not be set aside: {e}"),
                }
            })?;
            let said = format!(
                "{} is not a fluxcn spend ledger ({why}: another program's database); it was moved to {} untouched and a new ledger was started",
                path.display(),
                aside.display()
            );
            tracing::warn!("{said}");
            notes.push(said);
            conn = Connection::open_with_flags(&path, flags).map_err(sql)?;
            conn.busy_timeout(Duration::from_secs(10)).map_err(sql)?;
        }
        crate::gallery::owner::wal_mode(&conn, Duration::from_secs(10)).map_err(sql)?;
        // Money: every commit reaches the disk before the job is reported.
        conn.pragma_update(None, "synchronous", "FULL")
            .map_err(sql)?;
        let version = migrate(&mut conn).map_err(sql)?;
        if version > VERSION {
            return Err(LedgerError::Newer { path, version });
        }
        let holder = holds::Holder::take(&path);
        let mut ledger = Ledger {
            path,
            conn: Mutex::new(conn),
            notes,
            holder,
        };
        // What a process that stopped (a kill, a crash) left held is settled now, never dropped.
        let settled = ledger.settle_orphans()?;
        ledger.notes.extend(settled);
        Ok(ledger)
    }

    /// What opening the ledger found and did that the user should hear.
    pub fn notes(&self) -> &[String] {
        &self.notes
    }

    /// A ledger in memory (tests, and a data folder that cannot be written).
    pub fn in_memory() -> Result<Ledger, LedgerError> {
        let path = PathBuf::from(":memory:");
        let sql = |source| LedgerError::Sql {
            path: path.clone(),
            source,
        };
        let mut conn = Connection::open_in_memory().map_err(sql)?;
        migrate(&mut conn).map_err(sql)?;
        Ok(Ledger {
            path,
            conn: Mutex::new(conn),
            notes: Vec::new(),
            holder: holds::Holder::in_memory(),
        })
    }

    pub fn path(&self) -> &Path {
        &self.path
    }

    fn sql(&self, source: rusqlite::Error) -> LedgerError {
        LedgerError::Sql {
            path: self.path.clone(),
            source,
        }
    }

    fn lock(&self) -> std::sync::MutexGuard<'_, Connection> {
        self.conn.lock().unwrap_or_else(|p| p.into_inner())
    }

    /// Records a billed job; `false` when the job was recorded already (a resumed job).
    pub fn record(&self, c: &Charge) -> Result<bool, LedgerError> {
        // A hostile or broken answer cannot make spend negative, free, huge or not a number: an
        // unbelievable cost is recorded as the estimate, marked as one.
        // The bill is for the images asked for, whatever arrived.
        let billed = c.asked.max(c.images);
        let (cost, estimated) = match crate::api::plausible_cost(c.cost, billed) {
            Some(cost) => (cost, c.estimated),
            None => (crate::api::estimated_cost(billed), true),
        };
        let n = self
            .lock()
            .execute(
                // Once per request; a "maybe billed" row (an estimate made when the outcome was
                // unknown) is replaced by the real charge when it comes (a resumed job).
                "INSERT INTO charges (job_id, part, at_ms, day, cost, estimated, request_id, cn_type, images, asked, api)
                 VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8, ?9, ?10, ?11)
                 ON CONFLICT (job_id, part) DO UPDATE SET at_ms = excluded.at_ms, day = excluded.day,
                     cost = excluded.cost, estimated = excluded.estimated, request_id = excluded.request_id,
                     images = excluded.images, asked = excluded.asked, maybe = 0
                 WHERE charges.maybe = 1",
                params![
                    c.job_id as i64,
                    c.part,
                    c.at_ms as i64,
                    day_of(c.at_ms).to_string(),
                    cost,
                    estimated,
                    c.request_id,
                    c.cn_type,
                    c.images,
                    c.asked.max(c.images),
                    c.api
                ],
            )
            .map_err(|e| self.sql(e))?;
        Ok(n == 1)
    }

    /// What was spent on the local day `day` (USD).
    pub fn spent_on(&self, day: NaiveDate) -> Result<f64, LedgerError> {
        self.lock()
            .query_row(
                "SELECT COALESCE(SUM(cost), 0) FROM charges WHERE day = ?1",
                [day.to_string()],
                |r| r.get(0),
            )
            .map_err(|e| self.sql(e))
    }

    /// What was spent today (local calendar).
    pub fn spent_today(&self) -> Result<f64, LedgerError> {
        self.spent_on(Local::now().date_naive())
    }

    /// Today, this month, all time and by type as of `now`, with the last `days` days one by one.
    pub fn spend(&self, now: DateTime<Local>, days: u32) -> Result<Spend, LedgerError> {
        let today = now.date_naive();
        let month = format!("{:04}-{:02}-%", today.year(), today.month());
        let conn = self.lock();
        let sum = |sql: &str, arg: &str| -> rusqlite::Result<f64> {
            conn.query_row(sql, [arg], |r| r.get(0))
        };
        let run = || -> rusqlite::Result<Spend> {
            type Totals = (f64, i64, i64, i64, i64, i64);
            let (all, jobs, images, estimated_jobs, lost_images, maybe_jobs): Totals = conn.query_row(
                "SELECT COALESCE(SUM(cost), 0), COUNT(DISTINCT job_id), COALESCE(SUM(images), 0),
                        COALESCE(SUM(estimated AND NOT maybe), 0), COALESCE(SUM(MAX(asked - images, 0) * (1 - maybe)), 0),
                        COUNT(DISTINCT CASE WHEN maybe = 1 THEN job_id END)
                 FROM charges",
                [],
                |r| Ok((r.get(0)?, r.get(1)?, r.get(2)?, r.get(3)?, r.get(4)?, r.get(5)?)),
            )?;
            let mut by_type = Vec::new();
            let mut st = conn.prepare(
                "SELECT cn_type, SUM(cost), SUM(images) FROM charges GROUP BY cn_type ORDER BY SUM(cost) DESC, cn_type",
            )?;
            let rows = st.query_map([], |r| {
                Ok((
                    r.get::<_, String>(0)?,
                    r.get::<_, f64>(1)?,
                    r.get::<_, i64>(2)?,
                ))
            })?;
            for row in rows {
                let (t, c, n) = row?;
                by_type.push((t, c, n.max(0) as u64));
            }
            let first = today - chrono::Days::new(u64::from(days.saturating_sub(1)));
            let mut per_day: Vec<(NaiveDate, f64)> = first
                .iter_days()
                .take(days as usize)
                .map(|d| (d, 0.0))
                .collect();
            let mut st = conn.prepare(
                "SELECT day, SUM(cost) FROM charges WHERE day >= ?1 AND day <= ?2 GROUP BY day",
            )?;
            let rows = st.query_map([first.to_string(), today.to_string()], |r| {
                Ok((r.get::<_, String>(0)?, r.get::<_, f64>(1)?))
            })?;
            for row in rows {
                let (d, c) = row?;
                if let Some(slot) = d
                    .parse::<NaiveDate>()
                    .ok()
                    .and_then(|d| per_day.iter_mut().find(|(day, _)| *day == d))
                {
                    slot.1 = c;
                }
            }
            Ok(Spend {
                today: sum(
                    "SELECT COALESCE(SUM(cost), 0) FROM charges WHERE day = ?1",
                    &today.to_string(),
                )?,
                month: sum(
                    "SELECT COALESCE(SUM(cost), 0) FROM charges WHERE day LIKE ?1",
                    &month,
                )?,
                all,
                jobs: jobs.max(0) as u64,
                images: images.max(0) as u64,
                estimated_jobs: estimated_jobs.max(0) as u64,
                lost_images: lost_images.max(0) as u64,
                maybe_jobs: maybe_jobs.max(0) as u64,
                by_type,
                per_day,
            })
        };
        run().map_err(|e| self.sql(e))
    }

    /// What was recorded for a job (every request of it), if anything.
    pub fn charge_of(&self, job_id: JobId) -> Result<Option<f64>, LedgerError> {
        self.lock()
            .query_row(
                "SELECT SUM(cost) FROM charges WHERE job_id = ?1",
                [job_id as i64],
                |r| r.get::<_, Option<f64>>(0),
            )
            .map_err(|e| self.sql(e))
    }
}

/// Brings the schema to [`VERSION`]; returns the version found (newer ones are left alone).
fn migrate(conn: &mut Connection) -> rusqlite::Result<u32> {
    let tx = conn.transaction_with_behavior(TransactionBehavior::Immediate)?;
    let version: u32 = tx.query_row("PRAGMA user_version", [], |r| r.get(0))?;
    if version > VERSION {
        return Ok(version);
    }
    if version == VERSION {
        // A ledger of ours from before the mark gets it.
        let id: i32 = tx.query_row("PRAGMA application_id", [], |r| r.get(0))?;
        if id != APP_ID {
            tx.pragma_update(None, "application_id", APP_ID)?;
            tx.commit()?;
        }
        return Ok(version);
    }
    for step in &MIGRATIONS[version as usize..] {
        tx.execute_batch(step)?;
    }
    tx.pragma_update(None, "user_version", VERSION)?;
    tx.pragma_update(None, "application_id", APP_ID)?;
    tx.commit()?;
    Ok(VERSION)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn charge(job_id: JobId, at_ms: u64, cost: f64, cn_type: &str) -> Charge {
        Charge {
            job_id,
            at_ms,
            cost,
            estimated: false,
            request_id: Some(format!("r{job_id}")),
            cn_type: cn_type.into(),
            images: 1,
            asked: 1,
            part: 0,
            api: "v1".into(),
        }
    }

    #[test]
    fn a_job_is_counted_once_and_sums_by_day_month_and_type() {
        let dir = tempfile::tempdir().unwrap();
        let l = Ledger::open(Ledger::path_in(dir.path())).unwrap();
        let now = Local::now();
        let now_ms = now.timestamp_millis() as u64;
        assert!(l.record(&charge(1, now_ms, 0.05, "depth")).unwrap());
        assert!(l.record(&charge(2, now_ms, 0.10, "pose")).unwrap());
        // A resumed job (same id) is not counted again.
        assert!(!l.record(&charge(2, now_ms, 0.10, "pose")).unwrap());
        // 40 days ago: all time only (and this month only if the month is that long).
        let old = now_ms - 40 * 86_400_000;
        assert!(l.record(&charge(3, old, 1.0, "depth")).unwrap());
        let s = l.spend(now, 7).unwrap();
        assert!((s.today - 0.15).abs() < 1e-9, "{s:?}");
        assert!((s.month - 0.15).abs() < 1e-9, "{s:?}");
        assert!((s.all - 1.15).abs() < 1e-9);
        assert_eq!(s.jobs, 3);
        assert_eq!(s.by_type[0].0, "depth");
        assert!((s.by_type[0].1 - 1.05).abs() < 1e-9);
        assert_eq!(s.per_day.len(), 7);
        assert_eq!(s.per_day.last().unwrap().0, now.date_naive());
        assert!((s.per_day.last().unwrap().1 - 0.15).abs() < 1e-9);
        assert!((l.spent_today().unwrap() - 0.15).abs() < 1e-9);
        // Reopened: still there (on disk, not in memory).
        drop(l);
        let l = Ledger::open(Ledger::path_in(dir.path())).unwrap();
        assert_eq!(l.charge_of(1).unwrap(), Some(0.05));
    }

    #[test]
    fn hostile_costs_are_recorded_as_estimates_never_free_negative_or_nan() {
        let l = Ledger::in_memory().unwrap();
        let now = Local::now().timestamp_millis() as u64;
        l.record(&charge(1, now, -1000.0, "depth")).unwrap();
        l.record(&charge(2, now, f64::NAN, "depth")).unwrap();
        l.record(&charge(3, now, 1e12, "depth")).unwrap();
        l.record(&charge(4, now, f64::INFINITY, "depth")).unwrap();
        l.record(&charge(5, now, 0.05, "depth")).unwrap();
        let want = 4.0 * crate::api::DEFAULT_COST_PER_IMAGE + 0.05;
        assert!((l.spent_today().unwrap() - want).abs() < 1e-9);
        let s = l.spend(Local::now(), 7).unwrap();
        assert_eq!((s.jobs, s.estimated_jobs), (5, 4));
    }

    #[test]
    fn a_cost_no_image_can_have_is_charged_as_the_estimate() {
        use crate::api::Accounting;
        let spec = crate::jobs::JobSpec {
            input: crate::jobs::InputSource::File("in.png".into()),
            params: crate::api::GenParams::default(),
            api: crate::jobs::ApiVersion::V1,
            group: None,
            prompt_template: None,
            batch: None,
            framing: Default::default(),
        };
        for (reported, want, estimated) in [
            (Some(-1000.0), 0.096, true),
            (Some(f64::NAN), 0.096, true),
            (Some(5000.0), 0.096, true),
            (None, 0.096, true),
            (Some(0.1), 0.1, false),
            (Some(0.0), 0.0, false),
        ] {
            let acc = Accounting {
                cost: reported,
                ..Accounting::default()
            };
            let c = crate::jobs::runtime::charge_of(1, &spec, &acc, 2, 0);
            assert!((c.cost - want).abs() < 1e-9, "{reported:?}: {}", c.cost);
            assert_eq!(c.estimated, estimated, "{reported:?}");
        }
    }

    #[test]
    fn another_programs_database_is_set_aside_untouched_and_a_new_ledger_started() {
        let dir = tempfile::tempdir().unwrap();
        let p = Ledger::path_in(dir.path());
        let f = Connection::open(&p).unwrap();
        f.execute_batch("CREATE TABLE moz_places (id INTEGER PRIMARY KEY, url TEXT);")
            .unwrap();
        drop(f);
        let before = std::fs::read(&p).unwrap();
        let l = Ledger::open(&p).unwrap();
        assert!(
            l.notes().len() == 1 && l.notes()[0].contains("not a fluxcn spend ledger"),
            "{:?}",
            l.notes()
        );
        assert_eq!(
            std::fs::read(dir.path().join("ledger.sqlite.foreign")).unwrap(),
            before
        );
        let now = Local::now().timestamp_millis() as u64;
        l.record(&charge(1, now, 0.05, "depth")).unwrap();
        drop(l);
        // Ours now: marked, reopened without a note, the charge kept.
        let l = Ledger::open(&p).unwrap();
        assert!(l.notes().is_empty());
        assert!((l.spent_today().unwrap() - 0.05).abs() < 1e-9);
        let id: i32 = l
            .lock()
            .query_row("PRAGMA application_id", [], |r| r.get(0))
            .unwrap();
        assert_eq!(id, APP_ID);
        drop(l);
        // A ledger of ours from before the mark is kept and marked.
        let c = Connection::open(&p).unwrap();
        c.pragma_update(None, "application_id", 0).unwrap();
        drop(c);
        let l = Ledger::open(&p).unwrap();
        assert!(l.notes().is_empty());
        assert!((l.spent_today().unwrap() - 0.05).abs() < 1e-9);
    }

    #[test]
    fn a_newer_ledger_is_refused_not_changed() {
        let dir = tempfile::tempdir().unwrap();
        let p = Ledger::path_in(dir.path());
        drop(Ledger::open(&p).unwrap());
        let c = Connection::open(&p).unwrap();
        c.pragma_update(None, "user_version", VERSION + 1).unwrap();
        drop(c);
        assert!(matches!(Ledger::open(&p), Err(LedgerError::Newer { .. })));
    }
}
