//! The one list of the request's fields. Each line of [`request_fields!`] below is a field: its
//! [`Field`] variant, its name in [`GenParams`] (the wire name) and its Rust type. From that line the
//! macro makes the struct's field, the enum's variant, [`get`], [`set`], the parsing of typed text
//! and the type check, all as exhaustive matches; the type's [`FieldType`] says how its values are
//! held and read. Everything else about a field (range, default, labels, flag, grid axis, A1111
//! key, widget) is its row of [`super::TABLE`], which must have [`Field::COUNT`] rows.
//!
//! A new field is therefore one line here and one row there; the compiler asks for the row (the
//! table's length) and the table tests ask every consumer to handle it.

use serde::{Deserialize, Serialize};

use super::{Allowed, Value, whole};
use crate::api::params::{CnType, ImageFormat, ParamError, Scheduler};

/// How a Rust type of a [`GenParams`] field is held as a [`Value`] and read from typed text.
pub trait FieldType: Sized {
    /// The value as the table handles it.
    fn to_value(&self) -> Value;
    /// The typed value, if `v` is of this type (a whole number a `u32` cannot hold is not).
    fn from_value(v: &Value) -> Option<Self>;
    /// Reads `s` as a user types it for `field` (a flag, a grid axis, A1111 text, a batch line):
    /// only the type and the names are checked here, ranges are [`Field::check`]'s.
    fn read(field: Field, s: &str) -> Result<Value, ParamError>;
}

/// The error for text that is not of the field's type: what it should be, then what is allowed.
fn not_a(field: Field, s: &str, what: &str) -> ParamError {
    ParamError::new(
        field.wire(),
        format!("{s:?}"),
        format!("{what}, {}", field.allowed_text()),
    )
}

impl FieldType for String {
    fn to_value(&self) -> Value {
        Value::Text(self.clone())
    }
    fn from_value(v: &Value) -> Option<Self> {
        match v {
            Value::Text(s) => Some(s.clone()),
            _ => None,
        }
    }
    fn read(field: Field, s: &str) -> Result<Value, ParamError> {
        match field.info().allowed {
            // A name from a list is matched exactly (the sampler's names are the wire's).
            Allowed::OneOf { names, .. } => {
                let t = s.trim();
                if names.contains(&t) {
                    Ok(Value::Text(t.to_owned()))
                } else {
                    Err(ParamError::new(
                        field.wire(),
                        format!("{s:?}"),
                        field.allowed_text(),
                    ))
                }
            }
            // Free text is kept as typed.
            Allowed::Text
            | Allowed::Int(_)
            | Allowed::Num(_)
            | Allowed::Seed { .. }
            | Allowed::Bool { .. } => Ok(Value::Text(s.to_owned())),
        }
    }
}

impl FieldType for i64 {
    fn to_value(&self) -> Value {
        Value::Int(*self)
    }
    fn from_value(v: &Value) -> Option<Self> {
        match v {
            Value::Int(i) => Some(*i),
            _ => None,
        }
    }
    fn read(field: Field, s: &str) -> Result<Value, ParamError> {
        whole(s.trim())
            .map(Value::Int)
            .ok_or_else(|| not_a(field, s, "a whole number"))
    }
}

impl FieldType for u32 {
    fn to_value(&self) -> Value {
        Value::Int(i64::from(*self))
    }
    fn from_value(v: &Value) -> Option<Self> {
        match v {
            Value::Int(i) => u32::try_from(*i).ok(),
            _ => None,
        }
    }
    fn read(field: Field, s: &str) -> Result<Value, ParamError> {
        i64::read(field, s)
    }
}

impl FieldType for f64 {
    fn to_value(&self) -> Value {
        Value::Num(*self)
    }
    fn from_value(v: &Value) -> Option<Self> {
        match v {
            Value::Num(n) => Some(*n),
            _ => None,
        }
    }
    fn read(field: Field, s: &str) -> Result<Value, ParamError> {
        s.trim()
            .parse::<f64>()
            .map(Value::Num)
            .map_err(|_| not_a(field, s, "a number"))
    }
}

impl FieldType for bool {
    fn to_value(&self) -> Value {
        Value::Bool(*self)
    }
    fn from_value(v: &Value) -> Option<Self> {
        match v {
            Value::Bool(b) => Some(*b),
            _ => None,
        }
    }
    fn read(field: Field, s: &str) -> Result<Value, ParamError> {
        match s.trim().to_ascii_lowercase().as_str() {
            "true" => Ok(Value::Bool(true)),
            "false" => Ok(Value::Bool(false)),
            _ => Err(not_a(field, s, "a boolean")),
        }
    }
}

/// A wire enum of `params` is held as its own [`Value`] variant and read by name, in any case.
macro_rules! enum_field_type {
    ($($ty:ident),* $(,)?) => {$(
        impl FieldType for $ty {
            fn to_value(&self) -> Value {
                Value::$ty(*self)
            }
            fn from_value(v: &Value) -> Option<Self> {
                match v {
                    Value::$ty(x) => Some(*x),
                    _ => None,
                }
            }
            fn read(_field: Field, s: &str) -> Result<Value, ParamError> {
                Ok(Value::$ty(s.parse()?))
            }
        }
    )*};
}
enum_field_type!(CnType, Scheduler, ImageFormat);

macro_rules! request_fields {
    ($( $(#[$doc:meta])* $variant:ident $name:ident: $ty:ty, )*) => {
        /// Every knob of a generation except the input image, with the wire's field names.
        ///
        /// `Default` gives the contract's defaults (each field's row of the table). Deserialising
        /// fills missing fields with them, so a sidecar or a saved UI state from an older version
        /// still loads.
        #[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
        #[serde(default)]
        pub struct GenParams {
            $( $(#[$doc])* pub $name: $ty, )*
        }

        /// One field of the request body besides the input image.
        #[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord)]
        pub enum Field {
            $( $(#[$doc])* $variant, )*
        }

        impl Field {
            /// How many fields there are (the table has a row for each).
            pub const COUNT: usize = [$( Field::$variant ),*].len();

            /// Reads a value as a user types it, by the field's type (see [`FieldType::read`]).
            pub(super) fn read(self, s: &str) -> Result<Value, ParamError> {
                match self {
                    $( Field::$variant => <$ty as FieldType>::read(self, s), )*
                }
            }

            /// Whether `v` is of this field's type.
            pub fn holds(self, v: &Value) -> bool {
                match self {
                    $( Field::$variant => <$ty as FieldType>::from_value(v).is_some(), )*
                }
            }
        }

        /// The value of `field` in `p`.
        pub fn get(p: &GenParams, field: Field) -> Value {
            match field {
                $( Field::$variant => FieldType::to_value(&p.$name), )*
            }
        }

        /// Sets `field` of `p` to `v` (not range-checked: see [`Field::check`]). Refuses a value of
        /// another type, or a whole number a `u32` field cannot hold.
        pub fn set(p: &mut GenParams, field: Field, v: Value) -> Result<(), ParamError> {
            match field {
                $( Field::$variant => {
                    p.$name = <$ty as FieldType>::from_value(&v)
                        .ok_or_else(|| ParamError::new(field.wire(), &v, field.allowed_text()))?;
                } )*
            }
            Ok(())
        }

        /// Every field at its type's zero value (then set from the table by `Default`).
        fn zero() -> GenParams {
            GenParams {
                $( $name: <$ty as Default>::default(), )*
            }
        }
    };
}

request_fields! {
    Prompt prompt: String,
    Sampler sampler: String,
    Scheduler scheduler: Scheduler,
    Seed seed: i64,
    Base64 base64: bool,
    CnStop cn_stop: f64,
    CnStrength cn_strength: f64,
    CnType cn_type: CnType,
    CustomHeight custom_height: u32,
    CustomWidth custom_width: u32,
    Guidance guidance: f64,
    ImageFormat image_format: ImageFormat,
    Quality quality: u32,
    Samples samples: u32,
    Steps steps: u32,
    UseInputImgDimension use_input_img_dimension: bool,
}

impl Default for GenParams {
    fn default() -> Self {
        let mut p = zero();
        for f in Field::ALL {
            // Each default is of its field's type (the table tests hold this), so `set` takes it.
            let _ = set(&mut p, f, f.default_value());
        }
        p
    }
}

/// A field is written as its wire name (`"cn_strength"`), in grid plans and saved settings.
impl Serialize for Field {
    fn serialize<S: serde::Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        s.serialize_str(self.wire())
    }
}

impl<'de> Deserialize<'de> for Field {
    fn deserialize<D: serde::Deserializer<'de>>(d: D) -> Result<Field, D::Error> {
        let name = String::deserialize(d)?;
        Field::from_wire(&name)
            .ok_or_else(|| serde::de::Error::custom(format!("{name:?} is not a request field")))
    }
}
