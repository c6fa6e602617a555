//! A `WHERE` clause built piece by piece (bookings' filters, the payments
//! listing): SQL text with numbered placeholders beside the values bound to
//! them. Its own module so that the tables it serves need not import each
//! other for it.

use super::value::ToValue;

/// A SQL condition and its bound arguments. User input only ever travels as arguments.
#[derive(Default)]
pub(super) struct Conditions {
    pub(super) sql: Vec<String>,
    pub(super) args: Vec<Box<dyn ToValue>>,
}

impl Conditions {
    /// Adds a condition; `?` in `sql` is replaced by the next numbered placeholder.
    pub(super) fn push(&mut self, sql: &str, values: Vec<Box<dyn ToValue>>) {
        let mut out = String::new();
        let mut values = values.into_iter();
        for (i, part) in sql.split('?').enumerate() {
            if i > 0 {
                self.args
                    .push(values.next().expect("one value per placeholder"));
                out += &format!("?{}", self.args.len());
            }
            out += part;
        }
        self.sql.push(out);
    }

    pub(super) fn where_clause(&self) -> String {
        if self.sql.is_empty() {
            String::new()
        } else {
            format!(" WHERE {}", self.sql.join(" AND "))
        }
    }
}
