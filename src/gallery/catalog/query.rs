//! Gallery searches: what the search box's text means, and the SQL it becomes.
//!
//! The text is words and terms, all of which must hold:
//! - a plain word matches prompts containing a word that starts with it (`knig` finds "knight"),
//!   through the full-text index; `"two words"` matches the phrase;
//! - `field:value` compares a request field (`cn_type:depth`, `sampler:euler`, `steps:30`), with
//!   `field>=value`, `>`, `<=`, `<` and `=` for numbers;
//! - `rating>=4` (or `rating:5`), `seed:123` (the seed used), `is:fav`.
//!
//! A term that names no field, or a value a field cannot take, is an error that says which, so a
//! typo never silently matches nothing.

use rusqlite::types::Value as Sql;

use crate::api::fields::{Field, Value};
use crate::api::params::CnType;

/// How results are ordered.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default, serde::Serialize, serde::Deserialize)]
pub enum Sort {
    #[default]
    Newest,
    Oldest,
    /// Highest rating first, then newest.
    Rating,
}

/// A comparison in a term.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Cmp {
    Eq,
    Ge,
    Gt,
    Le,
    Lt,
}

impl Cmp {
    fn sql(self) -> &'static str {
        match self {
            Cmp::Eq => "=",
            Cmp::Ge => ">=",
            Cmp::Gt => ">",
            Cmp::Le => "<=",
            Cmp::Lt => "<",
        }
    }
}

/// A gallery search.
#[derive(Debug, Clone, PartialEq, Default)]
pub struct Query {
    /// Prompt words (prefixes) and phrases, all required.
    pub words: Vec<String>,
    /// Only this control type.
    pub cn: Option<CnType>,
    pub favourites_only: bool,
    pub rating: Option<(Cmp, u8)>,
    /// The seed used.
    pub seed: Option<(Cmp, i64)>,
    /// Request fields compared with values.
    pub fields: Vec<(Field, Cmp, Value)>,
    pub sort: Sort,
}

/// A search that cannot be understood.
#[derive(Debug, Clone, PartialEq, thiserror::Error)]
#[error("{0}")]
pub struct QueryError(pub String);

/// Splits into terms: whitespace separates, double quotes group.
fn terms(text: &str) -> Vec<(String, bool)> {
    let mut out = Vec::new();
    let mut cur = String::new();
    let mut quoted = false;
    let mut was_quoted = false;
    for c in text.chars() {
        match c {
            '"' => {
                quoted = !quoted;
                was_quoted = true;
            }
            c if c.is_whitespace() && !quoted => {
                if !cur.is_empty() {
                    out.push((std::mem::take(&mut cur), was_quoted));
                }
                was_quoted = false;
            }
            c => cur.push(c),
        }
    }
    if !cur.is_empty() {
        out.push((cur, was_quoted));
    }
    out
}

/// `name`, the comparison and the value of a `name<op>value` term.
fn split_term(t: &str) -> Option<(&str, Cmp, &str)> {
    let at = t.find([':', '=', '<', '>'])?;
    let (name, rest) = t.split_at(at);
    let (cmp, value) = if let Some(v) = rest.strip_prefix(">=") {
        (Cmp::Ge, v)
    } else if let Some(v) = rest.strip_prefix("<=") {
        (Cmp::Le, v)
    } else if let Some(v) = rest.strip_prefix('>') {
        (Cmp::Gt, v)
    } else if let Some(v) = rest.strip_prefix('<') {
        (Cmp::Lt, v)
    } else {
        (Cmp::Eq, &rest[1..])
    };
    (!name.is_empty()).then_some((name, cmp, value))
}

impl Query {
    /// Reads the search box's text (see the module doc).
    pub fn parse(text: &str) -> Result<Query, QueryError> {
        let mut q = Query::default();
        for (t, quoted) in terms(text) {
            let Some((name, cmp, value)) = split_term(&t).filter(|_| !quoted) else {
                q.words.push(t);
                continue;
            };
            let name = name.to_ascii_lowercase();
            match name.as_str() {
                "is" if value.eq_ignore_ascii_case("fav")
                    || value.eq_ignore_ascii_case("favourite") =>
                {
                    q.favourites_only = true;
                }
                "rating" => {
                    let n: u8 = value.parse().ok().filter(|n| *n <= 5).ok_or_else(|| {
                        QueryError(format!("{t:?}: a rating is a whole number from 0 to 5"))
                    })?;
                    q.rating = Some((cmp, n));
                }
                "seed" => {
                    let n: i64 = value
                        .parse()
                        .map_err(|_| QueryError(format!("{t:?}: a seed is a whole number")))?;
                    q.seed = Some((cmp, n));
                }
                _ => {
                    let field = Field::from_wire(&name.replace('-', "_")).ok_or_else(|| {
                        QueryError(format!(
                            "{t:?}: there is no field {name:?}; search by {}, rating, seed or is:fav",
                            Field::ALL.iter().map(|f| f.wire()).collect::<Vec<_>>().join(", ")
                        ))
                    })?;
                    let v = field
                        .parse(value)
                        .map_err(|e| QueryError(format!("{t:?}: {e}")))?;
                    if cmp != Cmp::Eq && !field.numeric() {
                        return Err(QueryError(format!(
                            "{t:?}: {} is not a number; use {}:value",
                            field.wire(),
                            field.wire()
                        )));
                    }
                    if let (Field::CnType, Value::CnType(c)) = (field, &v) {
                        q.cn = Some(*c);
                    } else {
                        q.fields.push((field, cmp, v));
                    }
                }
            }
        }
        Ok(q)
    }

    /// The `WHERE` clause (empty for none) and its parameters.
    pub(super) fn where_sql(&self) -> (String, Vec<Sql>) {
        let mut conds: Vec<String> = Vec::new();
        let mut args: Vec<Sql> = Vec::new();
        let words: Vec<String> = self
            .words
            .iter()
            .map(|w| {
                // Each word as an FTS5 string (quotes doubled), so no word is read as syntax;
                // a single word matches as a prefix.
                let s = format!("\"{}\"", w.replace('"', "\"\""));
                if w.contains(char::is_whitespace) {
                    s
                } else {
                    format!("{s}*")
                }
            })
            .collect();
        if !words.is_empty() {
            // The caller joins the full-text table (see `tables_sql`).
            conds.push("results_fts MATCH ?".into());
            args.push(Sql::Text(words.join(" ")));
        }
        if let Some(c) = self.cn {
            conds.push("r.cn_type = ?".into());
            args.push(Sql::Text(c.as_str().to_owned()));
        }
        if self.favourites_only {
            conds.push("r.favourite = 1".into());
        }
        if let Some((cmp, n)) = self.rating {
            conds.push(format!("r.rating {} ?", cmp.sql()));
            args.push(Sql::Integer(i64::from(n)));
        }
        if let Some((cmp, n)) = self.seed {
            conds.push(format!("r.seed_used {} ?", cmp.sql()));
            args.push(Sql::Integer(n));
        }
        for (field, cmp, v) in &self.fields {
            conds.push(format!(
                "json_extract(r.meta, '$.params.{}') {} ?",
                field.wire(),
                cmp.sql()
            ));
            args.push(match v {
                Value::Int(n) => Sql::Integer(*n),
                Value::Num(x) => Sql::Real(*x),
                Value::Bool(b) => Sql::Integer(i64::from(*b)),
                other => Sql::Text(other.to_string()),
            });
        }
        let sql = if conds.is_empty() {
            String::new()
        } else {
            format!("WHERE {}", conds.join(" AND "))
        };
        (sql, args)
    }

    /// The `FROM` clause: the results, joined with their full-text rows when words are searched
    /// (a join lets SQLite start from the few matches instead of probing every result).
    pub(super) fn tables_sql(&self) -> &'static str {
        if self.words.is_empty() {
            "FROM results r"
        } else {
            "FROM results r JOIN results_fts ON results_fts.rowid = r.rowid"
        }
    }

    /// The `ORDER BY` clause.
    pub(super) fn order_sql(&self) -> &'static str {
        match self.sort {
            Sort::Newest => "ORDER BY r.created_ms DESC, r.id DESC",
            Sort::Oldest => "ORDER BY r.created_ms ASC, r.id ASC",
            Sort::Rating => "ORDER BY r.rating DESC, r.created_ms DESC, r.id DESC",
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn parses_words_fields_ratings_and_says_what_it_cannot_read() {
        let q =
            Query::parse(r#"knight "red cape" cn_type:depth rating>=4 steps<30 is:fav"#).unwrap();
        assert_eq!(q.words, ["knight", "red cape"]);
        assert_eq!(q.cn, Some(CnType::Depth));
        assert_eq!(q.rating, Some((Cmp::Ge, 4)));
        assert!(q.favourites_only);
        assert_eq!(q.fields, [(Field::Steps, Cmp::Lt, Value::Int(30))]);
        let e = Query::parse("colour:red").unwrap_err();
        assert!(
            e.0.contains("no field \"colour\"") && e.0.contains("cn_type"),
            "{e}"
        );
        assert!(Query::parse("rating>=9").unwrap_err().0.contains("0 to 5"));
        assert!(
            Query::parse("cn_type:lineart")
                .unwrap_err()
                .0
                .contains("depth")
        );
        assert!(Query::parse("sampler>euler").is_err());
        // A quoted term is words, never a field.
        assert_eq!(Query::parse("\"a:b\"").unwrap().words, ["a:b"]);
        assert_eq!(Query::parse("  ").unwrap(), Query::default());
    }
}
