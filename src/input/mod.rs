//! Reading the files people hand paytrack: opening a path or stdin, CSV
//! headers matched by name, and csv's errors phrased with the line first.
//! Both importers (bookings, payments) and `--ids-from`/`--json -` readers
//! come through here; `bookings_csv` reads the bookings export itself.

pub mod bank_file;
pub mod bookings_csv;

use std::collections::HashMap;
use std::io::Read;

use anyhow::Result;

use crate::error::bad_input;

/// Opens a file argument (`-` is stdin) as a byte reader, with a size for progress.
pub fn open_input(path: &std::path::Path) -> Result<(Box<dyn Read>, Option<u64>)> {
    if path.as_os_str() == "-" {
        return Ok((Box::new(std::io::stdin().lock()), None));
    }
    let file = std::fs::File::open(path).map_err(|e| {
        bad_input(format!(
            "cannot read {}: {e}",
            crate::text::shown_path(path)
        ))
    })?;
    let meta = file.metadata()?;
    if meta.is_dir() {
        return Err(bad_input(format!(
            "{} is a directory",
            crate::text::shown_path(path)
        )));
    }
    Ok((
        Box::new(std::io::BufReader::with_capacity(256 * 1024, file)),
        Some(meta.len()),
    ))
}

/// The columns a CSV reader knows: needed, read when present, and silently ignored.
pub struct Columns<'a> {
    pub required: &'a [&'static str],
    pub optional: &'a [&'static str],
    pub ignored: &'a [&'static str],
}

/// A header cell as written, without a BOM (common in exports from Windows tools) or spaces.
pub(crate) fn header_name(header: &str) -> &str {
    header.trim_start_matches('\u{feff}').trim()
}

/// Reads a header: finds the known columns (any case), warns about unknown
/// ones through `warn` (the caller's stderr: input sits below `output`), and
/// refuses a file without a required column or with one twice.
pub fn find_columns(
    headers: &csv::StringRecord,
    name: &str,
    warn: &dyn Fn(&str),
    columns: Columns,
) -> Result<HashMap<&'static str, usize>> {
    let mut map = HashMap::new();
    for (i, header) in headers.iter().enumerate() {
        let header = header_name(header);
        let known = columns
            .required
            .iter()
            .chain(columns.optional.iter())
            .find(|c| c.eq_ignore_ascii_case(header));
        match known {
            Some(column) => {
                if map.insert(*column, i).is_some() {
                    return Err(bad_input(format!(
                        "{name}: column '{column}' appears twice in the header"
                    )));
                }
            }
            None if columns
                .ignored
                .iter()
                .any(|c| c.eq_ignore_ascii_case(header)) => {}
            None => warn(&format!(
                "{name}: ignoring unknown column '{}'",
                crate::text::shown(header)
            )),
        }
    }
    for column in columns.required {
        if !map.contains_key(column) {
            return Err(bad_input(format!(
                "{name}: missing column '{column}' (the header needs {})",
                columns.required.join(", ")
            )));
        }
    }
    Ok(map)
}

/// csv's errors, phrased with the line number first.
pub fn describe_csv_error(err: &csv::Error) -> String {
    match err.kind() {
        csv::ErrorKind::Utf8 { pos, .. } => format!(
            "line {}: not valid UTF-8 (save the file as UTF-8)",
            pos.as_ref().map_or(0, csv::Position::line)
        ),
        csv::ErrorKind::UnequalLengths {
            pos,
            expected_len,
            len,
        } => format!(
            "line {}: {len} fields where the header has {expected_len} (an unbalanced quote?)",
            pos.as_ref().map_or(0, csv::Position::line)
        ),
        _ => err.to_string(),
    }
}
