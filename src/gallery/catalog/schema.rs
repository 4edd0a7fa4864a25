//! The catalog's schema and its migrations, numbered by SQLite's `user_version`.
//!
//! Each migration takes the catalog from version `n` to `n + 1` inside the same write transaction
//! that reads the version, so two processes opening a new catalog at once migrate it once. A
//! catalog of a newer version than [`VERSION`] (written by a newer app) is never touched: the
//! caller sets it aside and rebuilds from the sidecars.

use rusqlite::{Connection, TransactionBehavior};

/// The schema version this build writes.
pub const VERSION: u32 = 5;

/// Our mark in the file's header (`PRAGMA application_id`): "FLXC", a fluxcn gallery catalog.
pub const APP_ID: i32 = 0x464C_5843;

/// The tables a catalog of ours holds (`*`: a prefix, FTS5's shadow tables).
pub const TABLES: &[&str] = &["results", "results_fts*", "batch_lines", "uploads"];

/// The migrations, in order: `MIGRATIONS[n]` takes version `n` to `n + 1`.
const MIGRATIONS: [&str; VERSION as usize] = [
    // 1: results, their prompts' full-text index (kept in step by triggers), and the batch
    // journal (one row per line of a batch file, keyed by the line's content).
    r"
    CREATE TABLE results (
        id          TEXT PRIMARY KEY NOT NULL,
        file        TEXT NOT NULL,
        created_ms  INTEGER NOT NULL,
        cn_type     TEXT NOT NULL,
        seed_used   INTEGER NOT NULL,
        prompt      TEXT NOT NULL,
        favourite   INTEGER NOT NULL DEFAULT 0,
        rating      INTEGER NOT NULL DEFAULT 0,
        grp         INTEGER,
        job_id      INTEGER,
        request_id  TEXT,
        api         TEXT NOT NULL,
        cost        REAL,
        meta        TEXT NOT NULL
    );
    CREATE INDEX results_newest ON results (created_ms DESC, id DESC);
    CREATE INDEX results_rating ON results (rating DESC, created_ms DESC, id DESC);
    CREATE INDEX results_job ON results (job_id) WHERE job_id IS NOT NULL;
    CREATE INDEX results_request ON results (request_id) WHERE request_id IS NOT NULL;
    CREATE VIRTUAL TABLE results_fts USING fts5 (
        prompt, content = 'results', content_rowid = 'rowid', tokenize = 'unicode61'
    );
    CREATE TRIGGER results_fts_insert AFTER INSERT ON results BEGIN
        INSERT INTO results_fts (rowid, prompt) VALUES (new.rowid, new.prompt);
    END;
    CREATE TRIGGER results_fts_delete AFTER DELETE ON results BEGIN
        INSERT INTO results_fts (results_fts, rowid, prompt) VALUES ('delete', old.rowid, old.prompt);
    END;
    CREATE TRIGGER results_fts_update AFTER UPDATE OF prompt ON results BEGIN
        INSERT INTO results_fts (results_fts, rowid, prompt) VALUES ('delete', old.rowid, old.prompt);
        INSERT INTO results_fts (rowid, prompt) VALUES (new.rowid, new.prompt);
    END;
    CREATE TABLE batch_lines (
        batch       TEXT NOT NULL,
        line_key    TEXT NOT NULL,
        line_no     INTEGER NOT NULL,
        state       TEXT NOT NULL,
        result      TEXT,
        detail      TEXT,
        updated_ms  INTEGER NOT NULL,
        PRIMARY KEY (batch, line_key)
    );
    ",
    // 2: the content address of each result's kept input (how many results use an input is
    // counted from here, so it can never drift).
    r"
    ALTER TABLE results ADD COLUMN input_hash TEXT;
    CREATE INDEX results_input ON results (input_hash) WHERE input_hash IS NOT NULL;
    ",
    // 3: the job that ran each batch line (its result is found by it after a crash).
    r"
    ALTER TABLE batch_lines ADD COLUMN job_id INTEGER;
    ",
    // 4: a line is claimed by its content wherever its file lives (marks are looked up by key),
    // and a claim names the process that holds it (sent by a process still running is never
    // sent again; sent by one that stopped is "outcome unknown").
    r"
    ALTER TABLE batch_lines ADD COLUMN holder TEXT;
    CREATE INDEX batch_lines_key ON batch_lines (line_key);
    ",
    // 5: an input uploaded to Segmind's storage once, by content hash and storage service: its
    // persistent URL is sent instead of its base64 from then on.
    r"
    CREATE TABLE uploads (
        hash     TEXT NOT NULL,
        storage  TEXT NOT NULL,
        url      TEXT NOT NULL,
        at_ms    INTEGER NOT NULL,
        PRIMARY KEY (hash, storage)
    );
    ",
];

/// What [`migrate`] found.
#[derive(Debug, PartialEq, Eq)]
pub enum Migrated {
    /// The catalog was empty (new, or just set aside): it must be filled from the sidecars.
    Created,
    /// It was at an older version and is now current (`from`).
    Upgraded { from: u32 },
    /// Already current.
    Current,
    /// Written by a newer app: left untouched.
    Newer { version: u32 },
    /// Not a catalog of ours (another program's database): left untouched.
    Foreign(String),
}

/// Brings the schema to [`VERSION`].
pub fn migrate(conn: &mut Connection) -> rusqlite::Result<Migrated> {
    let tx = conn.transaction_with_behavior(TransactionBehavior::Immediate)?;
    let version: u32 = tx.query_row("PRAGMA user_version", [], |r| r.get(0))?;
    if version > VERSION {
        return Ok(Migrated::Newer { version });
    }
    if version == VERSION {
        // A catalog of ours from before the mark gets it.
        let id: i32 = tx.query_row("PRAGMA application_id", [], |r| r.get(0))?;
        if id != APP_ID {
            tx.pragma_update(None, "application_id", APP_ID)?;
            tx.commit()?;
        }
        return Ok(Migrated::Current);
    }
    for step in &MIGRATIONS[version as usize..] {
        tx.execute_batch(step)?;
    }
    tx.pragma_update(None, "user_version", VERSION)?;
    tx.pragma_update(None, "application_id", APP_ID)?;
    tx.commit()?;
    Ok(if version == 0 {
        Migrated::Created
    } else {
        Migrated::Upgraded { from: version }
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn migrates_once_and_leaves_newer_catalogs_alone() {
        let mut c = Connection::open_in_memory().unwrap();
        assert_eq!(migrate(&mut c).unwrap(), Migrated::Created);
        assert_eq!(migrate(&mut c).unwrap(), Migrated::Current);
        c.pragma_update(None, "user_version", VERSION + 1).unwrap();
        assert_eq!(
            migrate(&mut c).unwrap(),
            Migrated::Newer {
                version: VERSION + 1
            }
        );
        // FTS5 is in the bundled SQLite.
        c.execute_batch("SELECT * FROM results_fts WHERE results_fts MATCH 'x'")
            .unwrap();
    }
}
