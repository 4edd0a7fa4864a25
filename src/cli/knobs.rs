//! The knobs of a generation as command-line flags, made from the field table: one flag per field
//! whose row has one ([`Flag`]), with its name, help (the row's words, range or names, and
//! default), value parser and type all read from the row. A new field gets its flag, its help, its
//! place in `--like`'s overrides and in the error that names a flag without an edit here.

use std::collections::BTreeMap;

use clap::{Arg, ArgAction, ArgMatches, Args, Command, FromArgMatches};

use crate::api::fields::{self, Allowed, Field, Flag, Value};
use crate::api::params::{GenParams, ParamError};

/// The knobs given on the command line: a value for each flag given, none for a flag left out
/// (it then takes the value of `--like FILE`, else the contract's default).
#[derive(Debug, Clone, Default, PartialEq)]
pub struct Knobs(BTreeMap<Field, Value>);

/// The flag that sets `field` (most are the wire name with `-` for `_`), if it has one.
pub fn flag_name(field: Field) -> Option<String> {
    match field.info().flag {
        Flag::Wire => Some(field.wire().replace('_', "-")),
        Flag::Named(name) => Some(name.to_owned()),
        Flag::Without => None,
    }
}

/// Every field with a flag, in the order the help lists them (the table's rank).
fn flagged() -> impl Iterator<Item = Field> {
    let mut all = Field::ALL;
    all.sort_by_key(|f| (f.info().rank, *f as usize));
    all.into_iter()
        .filter(|f| !matches!(f.info().flag, Flag::Without))
}

/// A flag's help: the field's words, then its range (`15–75`) or its names (`depth, canny, pose or
/// tile`), from the table.
pub fn help(field: Field) -> String {
    let info = field.info();
    let mut tip = info.tip.chars();
    let tip: String = tip
        .next()
        .map(|c| c.to_lowercase().chain(tip).collect())
        .unwrap_or_default();
    let what = format!("{}: {tip}", info.title);
    match info.allowed {
        Allowed::Int(b) => format!("{what}, {}–{}", b.min, b.max),
        Allowed::Num(b) => format!("{what}, {}–{}", b.min, b.max),
        Allowed::OneOf { names, .. } if names.len() > 8 => {
            format!(
                "{what} ({} names, e.g. {})",
                names.len(),
                names[..2].join(", ")
            )
        }
        Allowed::OneOf { names, .. } => match names.split_last() {
            Some((last, rest)) if !rest.is_empty() => {
                format!("{what}: {} or {last}", rest.join(", "))
            }
            _ => format!("{what}: {}", names.join(", ")),
        },
        Allowed::Text | Allowed::Seed { .. } | Allowed::Bool { .. } => what,
    }
}

/// A knob's help: [`help`]'s, then the contract's default (shown by hand: the knobs have no clap
/// default, so that `--like FILE` can tell a flag given from one left out). Required text (the
/// prompt) has none to show.
fn help_with_default(field: Field) -> String {
    let info = field.info();
    match info.allowed {
        Allowed::Text if info.required => help(field),
        _ => format!("{} [default: {}]", help(field), field.default_value()),
    }
}

impl Knobs {
    /// Every knob of `p` as if each flag were given (what `--like FILE` puts under the flags).
    pub fn of(p: &GenParams) -> Knobs {
        Knobs(flagged().map(|f| (f, fields::get(p, f))).collect())
    }

    /// The value given for `field`, if its flag was given.
    pub fn get(&self, field: Field) -> Option<&Value> {
        self.0.get(&field)
    }

    /// Gives `field` the value `v`, as its flag would; refused (the error names the field) when
    /// the field cannot hold it, so every value kept can be set.
    pub fn set(&mut self, field: Field, v: Value) -> Result<(), ParamError> {
        if !field.holds(&v) {
            return Err(ParamError::new(field.wire(), &v, field.allowed_text()));
        }
        self.0.insert(field, v);
        Ok(())
    }

    /// The flags given, over `base` (the settings of `--like FILE`, or the defaults).
    pub fn over(&self, mut base: GenParams) -> GenParams {
        for (f, v) in &self.0 {
            // Every value kept is one its field holds (see `set`), so this cannot refuse it.
            let _ = fields::set(&mut base, *f, v.clone());
        }
        base
    }
}

impl Args for Knobs {
    fn augment_args(mut cmd: Command) -> Command {
        for f in flagged() {
            let Some(name) = flag_name(f) else { continue };
            let info = f.info();
            let mut arg = Arg::new(f.wire())
                .value_name(name.to_uppercase().replace('-', "_"))
                .long(name)
                .help(help_with_default(f))
                .action(ArgAction::Set)
                .value_parser(move |s: &str| f.parse(s).map_err(|e| e.to_string()));
            arg = match info.allowed {
                Allowed::Bool { .. } => arg.value_name("true|false"),
                Allowed::Seed { .. } | Allowed::Int(_) | Allowed::Num(_) => {
                    arg.allow_negative_numbers(true)
                }
                // Required text (the prompt) is needed unless `--like FILE` gives it.
                Allowed::Text if info.required => {
                    arg.required_unless_present_any(["like", "refine"])
                }
                Allowed::Text | Allowed::OneOf { .. } => arg,
            };
            cmd = cmd.arg(arg);
        }
        cmd
    }

    fn augment_args_for_update(cmd: Command) -> Command {
        Knobs::augment_args(cmd)
    }
}

impl FromArgMatches for Knobs {
    fn from_arg_matches(m: &ArgMatches) -> Result<Self, clap::Error> {
        let mut k = Knobs::default();
        k.update_from_arg_matches(m)?;
        Ok(k)
    }

    fn update_from_arg_matches(&mut self, m: &ArgMatches) -> Result<(), clap::Error> {
        for f in flagged() {
            let given = m
                .try_get_one::<Value>(f.wire())
                .map_err(|e| clap::Error::raw(clap::error::ErrorKind::ArgumentConflict, e))?;
            match given {
                // An empty required text (`--prompt ""`) is the one not given.
                Some(Value::Text(t)) if f.info().required && t.is_empty() => {}
                Some(v) => self
                    .set(f, v.clone())
                    .map_err(|e| clap::Error::raw(clap::error::ErrorKind::InvalidValue, e))?,
                None => {}
            }
        }
        Ok(())
    }
}
