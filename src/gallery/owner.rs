//! Whose SQLite file this is, asked before anything is written to it. Our databases carry
//! `PRAGMA application_id` (the catalog and the ledger each their own); a file with another id, or
//! with tables that are not ours (a browser's history copied to `.catalog.sqlite`), is another
//! program's, and is set aside untouched by the caller, never migrated in place. Files written
//! before the id existed (our tables only, a schema version, no id) are ours and get the id.

use rusqlite::Connection;

/// Who a SQLite file belongs to.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Owner {
    /// No tables and no version: a new file (ours to make).
    Empty,
    /// It carries our application id.
    Ours,
    /// Our tables only and a schema version, but no id: ours from before the id was written.
    OursUnmarked,
    /// Another program's: what shows it (a table that is not ours, or its application id).
    Foreign(String),
}

/// Reads who owns the database `conn` has open, without writing to it. `app_id` is ours;
/// `our_tables` names our tables (a name ending in `*` is a prefix, for FTS5's shadow tables).
pub fn owner(conn: &Connection, app_id: i32, our_tables: &[&str]) -> rusqlite::Result<Owner> {
    let id: i32 = conn.query_row("PRAGMA application_id", [], |r| r.get(0))?;
    if id == app_id {
        return Ok(Owner::Ours);
    }
    if id != 0 {
        return Ok(Owner::Foreign(format!("its application id is {id:#010x}")));
    }
    let version: i64 = conn.query_row("PRAGMA user_version", [], |r| r.get(0))?;
    let mut stmt = conn.prepare(
        "SELECT name FROM sqlite_master WHERE type IN ('table', 'view') AND name NOT LIKE 'sqlite\\_%' ESCAPE '\\' ORDER BY name",
    )?;
    let tables: Vec<String> = stmt
        .query_map([], |r| r.get(0))?
        .collect::<rusqlite::Result<_>>()?;
    if tables.is_empty() {
        return Ok(if version == 0 {
            Owner::Empty
        } else {
            Owner::Foreign(format!("schema version {version} with no tables"))
        });
    }
    let ours = |t: &str| {
        our_tables.iter().any(|o| match o.strip_suffix('*') {
            Some(prefix) => t.starts_with(prefix),
            None => t == *o,
        })
    };
    match tables.iter().find(|t| !ours(t)) {
        Some(t) => Ok(Owner::Foreign(format!("it holds the table `{t}`"))),
        None if version == 0 => Ok(Owner::Foreign("its tables carry no schema version".into())),
        None => Ok(Owner::OursUnmarked),
    }
}

/// Switches `conn`'s database to WAL mode, as every process opening it does. Two processes making
/// a new file at once can find each other holding it (the switch needs the file to itself, and
/// SQLite answers "database is locked" at once rather than wait): the switch is then tried again
/// for up to `patience`.
pub fn wal_mode(conn: &Connection, patience: std::time::Duration) -> rusqlite::Result<String> {
    let end = std::time::Instant::now() + patience;
    loop {
        match conn.query_row("PRAGMA journal_mode = WAL", [], |r| r.get::<_, String>(0)) {
            Err(e)
                if e.sqlite_error_code() == Some(rusqlite::ErrorCode::DatabaseBusy)
                    && std::time::Instant::now() < end =>
            {
                std::thread::sleep(std::time::Duration::from_millis(5 + fastrand::u64(..20)));
            }
            other => return other,
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    const ID: i32 = 0x464C_5854;

    #[test]
    fn tells_new_ours_old_ours_and_foreign_apart() {
        let c = Connection::open_in_memory().unwrap();
        assert_eq!(owner(&c, ID, &["results"]).unwrap(), Owner::Empty);
        c.execute_batch("CREATE TABLE results (id TEXT); CREATE VIRTUAL TABLE results_fts USING fts5 (p); PRAGMA user_version = 3;")
            .unwrap();
        assert_eq!(
            owner(&c, ID, &["results", "results_fts*"]).unwrap(),
            Owner::OursUnmarked
        );
        c.pragma_update(None, "application_id", ID).unwrap();
        assert_eq!(
            owner(&c, ID, &["results", "results_fts*"]).unwrap(),
            Owner::Ours
        );

        let f = Connection::open_in_memory().unwrap();
        f.execute_batch("CREATE TABLE moz_places (id INTEGER PRIMARY KEY, url TEXT);")
            .unwrap();
        match owner(&f, ID, &["results"]).unwrap() {
            Owner::Foreign(why) => assert!(why.contains("moz_places"), "{why}"),
            o => panic!("{o:?}"),
        }
        let g = Connection::open_in_memory().unwrap();
        g.pragma_update(None, "application_id", 42).unwrap();
        assert!(matches!(owner(&g, ID, &[]).unwrap(), Owner::Foreign(_)));
        // Our table names, but no version: not something we wrote.
        let h = Connection::open_in_memory().unwrap();
        h.execute_batch("CREATE TABLE results (id TEXT);").unwrap();
        assert!(matches!(
            owner(&h, ID, &["results"]).unwrap(),
            Owner::Foreign(_)
        ));
    }
}
