//! The database layer's own currency (issue 27): the values a statement is
//! given and a row gives back, and the error a database call fails with,
//! whichever engine ran it. The SQLite driver (`db::sqlite`) and the
//! PostgreSQL driver (`db::pg::session`) each translate to and from their
//! crate's types; the repository (`src/db/*.rs`) sees only these.
//!
//! Why a value type of our own rather than sqlx's `Any`, sea-query's `Value`
//! or diesel's `MultiConnection`: paytrack's SQL is hand-written and its
//! columns are five storage classes (SQLite's: NULL, integer, real, text,
//! blob), which PostgreSQL's columns map onto one way (see
//! `db::pg::session`). sqlx would bring an async runtime and its own
//! drivers; sea-query a query builder we do not use; diesel a schema DSL.
//! An enum of five variants and two small traits do the whole job.

use std::fmt;

/// One value as stored: SQLite's five storage classes, which every
/// PostgreSQL column paytrack reads maps onto.
#[derive(Debug, Clone, PartialEq)]
pub enum Value {
    Null,
    Integer(i64),
    Real(f64),
    Text(String),
    Blob(Vec<u8>),
}

/// A borrowed `Value`: what a parameter binds and a column is read from,
/// without a copy. Text is bytes as the engine gave them (SQLite does not
/// promise UTF-8); `as_str` checks.
#[derive(Debug, Clone, Copy, PartialEq)]
pub enum ValueRef<'a> {
    Null,
    Integer(i64),
    Real(f64),
    Text(&'a [u8]),
    Blob(&'a [u8]),
}

impl<'a> ValueRef<'a> {
    /// The text of a text value.
    pub fn as_str(self) -> Result<&'a str, ConversionError> {
        match self {
            ValueRef::Text(t) => {
                std::str::from_utf8(t).map_err(|e| ConversionError::Invalid(e.to_string()))
            }
            other => Err(ConversionError::WrongType(other.type_name())),
        }
    }

    /// The storage class's name, for messages.
    pub fn type_name(self) -> &'static str {
        match self {
            ValueRef::Null => "NULL",
            ValueRef::Integer(_) => "integer",
            ValueRef::Real(_) => "real",
            ValueRef::Text(_) => "text",
            ValueRef::Blob(_) => "blob",
        }
    }

    pub fn to_owned(self) -> Value {
        match self {
            ValueRef::Null => Value::Null,
            ValueRef::Integer(i) => Value::Integer(i),
            ValueRef::Real(f) => Value::Real(f),
            ValueRef::Text(t) => Value::Text(String::from_utf8_lossy(t).into_owned()),
            ValueRef::Blob(b) => Value::Blob(b.to_vec()),
        }
    }
}

impl Value {
    pub fn as_ref(&self) -> ValueRef<'_> {
        match self {
            Value::Null => ValueRef::Null,
            Value::Integer(i) => ValueRef::Integer(*i),
            Value::Real(f) => ValueRef::Real(*f),
            Value::Text(t) => ValueRef::Text(t.as_bytes()),
            Value::Blob(b) => ValueRef::Blob(b),
        }
    }
}

/// Why a column could not be read as the Rust type asked for.
#[derive(Debug)]
pub enum ConversionError {
    /// The column holds another storage class (its name).
    WrongType(&'static str),
    /// An integer that does not fit the type.
    OutOfRange(i64),
    /// A value of the right class that is not valid (bad UTF-8, a code the
    /// domain does not know).
    Invalid(String),
}

impl fmt::Display for ConversionError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            ConversionError::WrongType(t) => write!(f, "unexpected {t} value"),
            ConversionError::OutOfRange(i) => write!(f, "{i} is out of range"),
            ConversionError::Invalid(why) => f.write_str(why),
        }
    }
}

/// A parameter of a statement.
pub trait ToValue {
    fn to_value(&self) -> ValueRef<'_>;
}

/// A Rust type a column can be read as.
pub trait FromValue: Sized {
    fn from_value(value: ValueRef<'_>) -> Result<Self, ConversionError>;
}

impl ToValue for Value {
    fn to_value(&self) -> ValueRef<'_> {
        self.as_ref()
    }
}

impl ToValue for ValueRef<'_> {
    fn to_value(&self) -> ValueRef<'_> {
        *self
    }
}

impl<T: ToValue + ?Sized> ToValue for &T {
    fn to_value(&self) -> ValueRef<'_> {
        (**self).to_value()
    }
}

impl<T: ToValue + ?Sized> ToValue for Box<T> {
    fn to_value(&self) -> ValueRef<'_> {
        (**self).to_value()
    }
}

impl<T: ToValue> ToValue for Option<T> {
    fn to_value(&self) -> ValueRef<'_> {
        self.as_ref().map_or(ValueRef::Null, ToValue::to_value)
    }
}

impl ToValue for str {
    fn to_value(&self) -> ValueRef<'_> {
        ValueRef::Text(self.as_bytes())
    }
}

impl ToValue for String {
    fn to_value(&self) -> ValueRef<'_> {
        ValueRef::Text(self.as_bytes())
    }
}

impl ToValue for [u8] {
    fn to_value(&self) -> ValueRef<'_> {
        ValueRef::Blob(self)
    }
}

impl ToValue for Vec<u8> {
    fn to_value(&self) -> ValueRef<'_> {
        ValueRef::Blob(self)
    }
}

impl ToValue for bool {
    fn to_value(&self) -> ValueRef<'_> {
        ValueRef::Integer(i64::from(*self))
    }
}

impl ToValue for f64 {
    fn to_value(&self) -> ValueRef<'_> {
        ValueRef::Real(*self)
    }
}

macro_rules! integer_values {
    ($($t:ty)*) => {$(
        impl ToValue for $t {
            fn to_value(&self) -> ValueRef<'_> {
                ValueRef::Integer(i64::from(*self))
            }
        }
        impl FromValue for $t {
            fn from_value(value: ValueRef<'_>) -> Result<Self, ConversionError> {
                let i = i64::from_value(value)?;
                <$t>::try_from(i).map_err(|_| ConversionError::OutOfRange(i))
            }
        }
    )*};
}
integer_values!(i8 i16 i32 u8 u16 u32);

/// `usize` and `u64` bind as i64: a count or id beyond i64 cannot be stored anyway.
macro_rules! wide_integer_values {
    ($($t:ty)*) => {$(
        impl ToValue for $t {
            fn to_value(&self) -> ValueRef<'_> {
                ValueRef::Integer(i64::try_from(*self).unwrap_or(i64::MAX))
            }
        }
        impl FromValue for $t {
            fn from_value(value: ValueRef<'_>) -> Result<Self, ConversionError> {
                let i = i64::from_value(value)?;
                <$t>::try_from(i).map_err(|_| ConversionError::OutOfRange(i))
            }
        }
    )*};
}
wide_integer_values!(u64 usize);

impl ToValue for i64 {
    fn to_value(&self) -> ValueRef<'_> {
        ValueRef::Integer(*self)
    }
}

impl FromValue for i64 {
    fn from_value(value: ValueRef<'_>) -> Result<Self, ConversionError> {
        match value {
            ValueRef::Integer(i) => Ok(i),
            other => Err(ConversionError::WrongType(other.type_name())),
        }
    }
}

impl FromValue for bool {
    fn from_value(value: ValueRef<'_>) -> Result<Self, ConversionError> {
        i64::from_value(value).map(|i| i != 0)
    }
}

impl FromValue for f64 {
    fn from_value(value: ValueRef<'_>) -> Result<Self, ConversionError> {
        match value {
            ValueRef::Real(f) => Ok(f),
            #[allow(clippy::cast_precision_loss)] // as SQLite reads an integer as real
            ValueRef::Integer(i) => Ok(i as f64),
            other => Err(ConversionError::WrongType(other.type_name())),
        }
    }
}

impl FromValue for String {
    fn from_value(value: ValueRef<'_>) -> Result<Self, ConversionError> {
        value.as_str().map(str::to_string)
    }
}

impl FromValue for Vec<u8> {
    fn from_value(value: ValueRef<'_>) -> Result<Self, ConversionError> {
        match value {
            ValueRef::Blob(b) => Ok(b.to_vec()),
            other => Err(ConversionError::WrongType(other.type_name())),
        }
    }
}

impl FromValue for Value {
    fn from_value(value: ValueRef<'_>) -> Result<Self, ConversionError> {
        Ok(value.to_owned())
    }
}

impl<T: FromValue> FromValue for Option<T> {
    fn from_value(value: ValueRef<'_>) -> Result<Self, ConversionError> {
        match value {
            ValueRef::Null => Ok(None),
            other => T::from_value(other).map(Some),
        }
    }
}

/// Statement parameters as a fixed list: `params![a, b, c]`.
macro_rules! params {
    () => {
        &[] as &[&dyn $crate::db::value::ToValue]
    };
    ($($param:expr),+ $(,)?) => {
        &[$(&$param as &dyn $crate::db::value::ToValue),+] as &[&dyn $crate::db::value::ToValue]
    };
}
pub(crate) use params;

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn columns_read_as_sqlite_reads_them() {
        assert_eq!(i64::from_value(ValueRef::Integer(-1)).unwrap(), -1);
        assert!(i64::from_value(ValueRef::Text(b"1")).is_err());
        assert!(matches!(
            i32::from_value(ValueRef::Integer(i64::MAX)),
            Err(ConversionError::OutOfRange(_))
        ));
        assert_eq!(Option::<String>::from_value(ValueRef::Null).unwrap(), None);
        assert!(String::from_value(ValueRef::Text(b"\xff")).is_err());
        assert!((f64::from_value(ValueRef::Integer(2)).unwrap() - 2.0).abs() < f64::EPSILON);
        assert!(bool::from_value(ValueRef::Integer(2)).unwrap());
    }

    #[test]
    fn parameters_bind_borrowed() {
        let name = String::from("Ольга");
        assert_eq!(name.to_value(), ValueRef::Text("Ольга".as_bytes()));
        assert_eq!(Some(3_u32).to_value(), ValueRef::Integer(3));
        assert_eq!(None::<i64>.to_value(), ValueRef::Null);
        assert_eq!(true.to_value(), ValueRef::Integer(1));
    }
}
