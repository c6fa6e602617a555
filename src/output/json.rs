//! JSON for scripts that may print it: serde_json with every character the
//! terminal sanitiser fears written as a `\uXXXX` escape. serde_json already
//! escapes C0 controls; C1 controls (U+009B is a one-byte CSI on some
//! terminals), bidi overrides (U+202E) and zero-width characters pass raw
//! otherwise. The value a JSON parser reads back is exactly the stored text.

use std::io::{self, Write};

use serde::Serialize;
use serde_json::ser::{CompactFormatter, Formatter, PrettyFormatter};

use crate::text::is_dangerous;

/// A formatter that escapes what `text::is_dangerous` names, and
/// otherwise formats as the wrapped one does.
struct Escaping<F>(F);

impl<F: Formatter> Formatter for Escaping<F> {
    fn write_string_fragment<W: ?Sized + Write>(
        &mut self,
        writer: &mut W,
        fragment: &str,
    ) -> io::Result<()> {
        let mut start = 0;
        for (i, c) in fragment.char_indices() {
            if is_dangerous(c) {
                writer.write_all(&fragment.as_bytes()[start..i])?;
                let mut units = [0u16; 2];
                for unit in c.encode_utf16(&mut units) {
                    write!(writer, "\\u{unit:04x}")?;
                }
                start = i + c.len_utf8();
            }
        }
        writer.write_all(&fragment.as_bytes()[start..])
    }

    // The layout calls go to the wrapped formatter (pretty or compact).
    fn begin_array<W: ?Sized + Write>(&mut self, w: &mut W) -> io::Result<()> {
        self.0.begin_array(w)
    }
    fn end_array<W: ?Sized + Write>(&mut self, w: &mut W) -> io::Result<()> {
        self.0.end_array(w)
    }
    fn begin_array_value<W: ?Sized + Write>(&mut self, w: &mut W, first: bool) -> io::Result<()> {
        self.0.begin_array_value(w, first)
    }
    fn end_array_value<W: ?Sized + Write>(&mut self, w: &mut W) -> io::Result<()> {
        self.0.end_array_value(w)
    }
    fn begin_object<W: ?Sized + Write>(&mut self, w: &mut W) -> io::Result<()> {
        self.0.begin_object(w)
    }
    fn end_object<W: ?Sized + Write>(&mut self, w: &mut W) -> io::Result<()> {
        self.0.end_object(w)
    }
    fn begin_object_key<W: ?Sized + Write>(&mut self, w: &mut W, first: bool) -> io::Result<()> {
        self.0.begin_object_key(w, first)
    }
    fn end_object_key<W: ?Sized + Write>(&mut self, w: &mut W) -> io::Result<()> {
        self.0.end_object_key(w)
    }
    fn begin_object_value<W: ?Sized + Write>(&mut self, w: &mut W) -> io::Result<()> {
        self.0.begin_object_value(w)
    }
    fn end_object_value<W: ?Sized + Write>(&mut self, w: &mut W) -> io::Result<()> {
        self.0.end_object_value(w)
    }
}

/// Writes `value` as one line of JSON (for JSON Lines).
pub fn to_writer<W: Write, T: ?Sized + Serialize>(w: W, value: &T) -> io::Result<()> {
    let mut ser = serde_json::Serializer::with_formatter(w, Escaping(CompactFormatter));
    value.serialize(&mut ser).map_err(io::Error::from)
}

/// Prints `value` on stdout as one line of JSON (a command's `--json` summary).
pub fn print_line<T: ?Sized + Serialize>(value: &T) -> io::Result<()> {
    let mut stdout = super::stdout();
    to_writer(&mut stdout, value)?;
    stdout.write_all(b"\n")?;
    stdout.flush()
}

/// Writes `value` as indented JSON.
pub fn to_writer_pretty<W: Write, T: ?Sized + Serialize>(w: W, value: &T) -> io::Result<()> {
    let mut ser = serde_json::Serializer::with_formatter(w, Escaping(PrettyFormatter::new()));
    value.serialize(&mut ser).map_err(io::Error::from)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn line(value: &str) -> String {
        let mut out = Vec::new();
        to_writer(&mut out, &value).unwrap();
        String::from_utf8(out).unwrap()
    }

    #[test]
    fn dangerous_characters_are_escaped_and_read_back_exactly() {
        let hostile = "a\u{1b}]0;x\u{7}b\u{9b}2J\u{202e}c\u{200b}d\u{feff}😀\"\\";
        let text = line(hostile);
        assert!(text.chars().all(|c| !is_dangerous(c)), "{text:?}");
        assert!(
            text.contains("\\u202e") && text.contains("\\u009b"),
            "{text}"
        );
        let back: String = serde_json::from_str(&text).unwrap();
        assert_eq!(back, hostile);
    }

    #[test]
    fn layout_matches_serde_json() {
        let value = serde_json::json!({"a": [1, 2], "b": {"c": "d"}});
        let mut pretty = Vec::new();
        to_writer_pretty(&mut pretty, &value).unwrap();
        assert_eq!(
            String::from_utf8(pretty).unwrap(),
            serde_json::to_string_pretty(&value).unwrap()
        );
        assert_eq!(line("plain"), "\"plain\"");
    }
}
