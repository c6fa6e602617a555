//! Bank statements as they really come: in Windows-1251 or UTF-8 (with or
//! without a BOM), `;` or `,` between cells, with the bank's own column
//! names. Decoding, the column map and the rows as payments are read here;
//! `payments import` reconciles what comes out.

use std::collections::{BTreeMap, HashMap};
use std::io::{BufRead, BufReader, Read};
use std::path::Path;

use anyhow::{Context as _, Result};
use encoding_rs::{Encoding, UTF_8, WINDOWS_1251};

use super::{describe_csv_error, find_columns, open_input, Columns};
use crate::domain::booking::parse_booking_id;
use crate::domain::money::parse_amount;
use crate::domain::payment::{normalize_currency, parse_paid_at, NewPayment};
use crate::domain::time::to_storage;
use crate::error::bad_input;

/// The columns of a payments file, as `--map` may name them.
pub const PAYMENT_COLUMNS: [&str; 7] = [
    "external_id",
    "amount",
    "provider",
    "booking_id",
    "currency",
    "paid_at",
    "description",
];

/// Decodes a whole file to text.
///
/// `forced` (`--encoding`) is used as given, and bytes it cannot read are an
/// error. Otherwise: a BOM decides (UTF-8, UTF-16); text that is valid UTF-8
/// is UTF-8; anything else is taken as Windows-1251, the encoding Russian
/// banks' "1C" exports use. (Valid UTF-8 is a strong sign: Cyrillic
/// Windows-1251 text is almost never valid UTF-8 by chance.)
pub fn decode(
    bytes: Vec<u8>,
    forced: Option<&'static Encoding>,
) -> Result<(String, &'static Encoding), String> {
    if let Some(encoding) = forced {
        let without_bom = match Encoding::for_bom(&bytes) {
            Some((bom_encoding, len)) if bom_encoding == encoding => &bytes[len..],
            _ => &bytes[..],
        };
        return encoding
            .decode_without_bom_handling_and_without_replacement(without_bom)
            .map(|text| (text.into_owned(), encoding))
            .ok_or_else(|| {
                format!(
                    "the file is not valid {} (try another --encoding, or leave it out to detect)",
                    encoding.name()
                )
            });
    }
    if let Some((encoding, len)) = Encoding::for_bom(&bytes) {
        return encoding
            .decode_without_bom_handling_and_without_replacement(&bytes[len..])
            .map(|text| (text.into_owned(), encoding))
            .ok_or_else(|| {
                format!(
                    "the file starts with a {} BOM but is not valid {0}",
                    encoding.name()
                )
            });
    }
    match String::from_utf8(bytes) {
        // Most files: the bytes become the text, with no copy.
        Ok(text) => Ok((text, UTF_8)),
        Err(e) => {
            let (text, _, _) = WINDOWS_1251.decode(e.as_bytes());
            Ok((text.into_owned(), WINDOWS_1251))
        }
    }
}

/// Whether bytes read from `input` are UTF-8 with no BOM throughout: a file
/// `decode` would read as it is. Read in pieces and not kept, so a large
/// file can then be read again as a stream instead of held in memory.
pub fn is_plain_utf8(mut input: impl std::io::Read) -> std::io::Result<bool> {
    let mut buf = vec![0u8; 64 * 1024];
    // Bytes of a character cut at the end of the last piece.
    let mut carried = 0;
    let mut first = true;
    loop {
        let n = match input.read(&mut buf[carried..]) {
            Ok(n) => n,
            Err(e) if e.kind() == std::io::ErrorKind::Interrupted => continue,
            Err(e) => return Err(e),
        };
        if n == 0 {
            return Ok(carried == 0);
        }
        let filled = carried + n;
        if std::mem::take(&mut first) && Encoding::for_bom(&buf[..filled]).is_some() {
            return Ok(false);
        }
        match std::str::from_utf8(&buf[..filled]) {
            Ok(_) => carried = 0,
            // Cut short, not wrong: the rest comes with the next piece.
            Err(e) if e.error_len().is_none() => {
                buf.copy_within(e.valid_up_to()..filled, 0);
                carried = filled - e.valid_up_to();
            }
            Err(_) => return Ok(false),
        }
    }
}

/// An encoding named on the command line: `utf-8`, `windows-1251`, `cp1251`,
/// and the other WHATWG labels.
pub fn encoding_by_name(name: &str) -> Result<&'static Encoding, String> {
    let label = name.trim();
    let label = match label.to_ascii_lowercase().as_str() {
        // Names Russian users type that WHATWG does not list.
        "1251" | "win1251" | "win-1251" => "windows-1251",
        _ => label,
    };
    Encoding::for_label(label.as_bytes())
        .ok_or_else(|| format!("'{name}' is not an encoding name (e.g. utf-8, windows-1251)"))
}

/// A bank's column names mapped to paytrack's: `amount=Сумма,paid_at=Дата`.
/// Kept in a BTreeMap so the stored JSON is stable.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct ColumnMap(pub BTreeMap<String, String>);

impl ColumnMap {
    /// Parses `column=Header,column=Header`; every column must be one of `known`.
    pub fn parse(text: &str, known: &[&str]) -> Result<ColumnMap, String> {
        let mut map = BTreeMap::new();
        for item in text.split(',').map(str::trim).filter(|i| !i.is_empty()) {
            let (column, header) = item
                .split_once('=')
                .ok_or_else(|| format!("'{item}' is not column=Header (e.g. amount=Сумма)"))?;
            let column = column.trim().to_ascii_lowercase();
            let header = header.trim();
            if !known.contains(&column.as_str()) {
                return Err(format!(
                    "'{column}' is not a payments column (one of {})",
                    known.join(", ")
                ));
            }
            if header.is_empty() {
                return Err(format!("{column}= needs the file's header name"));
            }
            if map.insert(column.clone(), header.to_string()).is_some() {
                return Err(format!("'{column}' is mapped twice"));
            }
        }
        if map.is_empty() {
            return Err("an empty map: give column=Header pairs, e.g. amount=Сумма".into());
        }
        Ok(ColumnMap(map))
    }

    pub fn to_json(&self) -> String {
        serde_json::to_string(&self.0).unwrap_or_else(|_| "{}".into())
    }

    /// The stored form; a damaged value reads as no map.
    pub fn from_json(text: &str) -> ColumnMap {
        ColumnMap(serde_json::from_str(text).unwrap_or_default())
    }

    /// `amount=Сумма,paid_at=Дата`, as typed.
    pub fn describe(&self) -> String {
        self.0
            .iter()
            .map(|(column, header)| format!("{column}={header}"))
            .collect::<Vec<_>>()
            .join(",")
    }

    /// The file's header with mapped names replaced by paytrack's. Headers
    /// compare without case and surrounding spaces. Returns the new header
    /// and the mapped headers the file lacks.
    pub fn apply(&self, headers: &[String]) -> (Vec<String>, Vec<String>) {
        let norm = |h: &str| h.trim_start_matches('\u{feff}').trim().to_lowercase();
        let mut renamed: Vec<String> = headers.to_vec();
        let mut missing = Vec::new();
        for (column, header) in &self.0 {
            match headers.iter().position(|h| norm(h) == norm(header)) {
                Some(i) => renamed[i] = column.clone(),
                None => missing.push(header.clone()),
            }
        }
        (renamed, missing)
    }
}

/// Columns the file must have.
const REQUIRED: [&str; 2] = ["external_id", "amount"];
/// Columns read when present (one of booking_id and description is needed).
const OPTIONAL: [&str; 5] = [
    "provider",
    "booking_id",
    "currency",
    "paid_at",
    "description",
];

/// A payments file's rows as payments to reconcile: the header matched
/// (through `--map`), each row parsed, errors naming the line and column.
pub struct BankFile<'a> {
    reader: csv::Reader<Box<dyn Read>>,
    index: HashMap<&'static str, usize>,
    default_provider: Option<&'a str>,
    name: &'a str,
    record: csv::StringRecord,
}

impl<'a> BankFile<'a> {
    /// Reads the header of `input` (decoded text; `name` as shown in
    /// messages); unknown columns are warned about through `warn`.
    pub fn new(
        input: Box<dyn Read>,
        name: &'a str,
        map: Option<&ColumnMap>,
        default_provider: Option<&'a str>,
        warn: &dyn Fn(&str),
    ) -> Result<BankFile<'a>> {
        let (delimiter, input) =
            sniff_delimiter(input).with_context(|| format!("reading {name}"))?;
        let mut reader = csv::ReaderBuilder::new()
            .delimiter(delimiter)
            .flexible(false)
            .from_reader(input);
        let mut headers = reader
            .headers()
            .map_err(|e| bad_input(format!("{name}: {}", describe_csv_error(&e))))?
            .clone();
        if let Some(map) = map {
            headers = mapped_headers(&headers, map, name)?;
        }
        let index = find_columns(
            &headers,
            name,
            warn,
            Columns {
                required: &REQUIRED,
                optional: &OPTIONAL,
                // With a map, the bank's other columns are expected: mapped_headers blanked them.
                ignored: if map.is_some() { &[""] } else { &[] },
            },
        )?;
        if !index.contains_key("booking_id") && !index.contains_key("description") {
            return Err(bad_input(format!(
                "{name}: the header needs a 'booking_id' or a 'description' column to match payments to bookings"
            )));
        }
        if !index.contains_key("provider") && default_provider.is_none() {
            return Err(bad_input(format!(
                "{name}: no 'provider' column; name the provider with --provider NAME"
            )));
        }
        Ok(BankFile {
            reader,
            index,
            default_provider,
            name,
            record: csv::StringRecord::new(),
        })
    }

    /// The next row as a payment, with its line number; `None` at the end.
    pub fn next_payment(&mut self) -> Result<Option<(u64, NewPayment)>> {
        let more = self
            .reader
            .read_record(&mut self.record)
            .map_err(|e| bad_input(format!("{}: {}", self.name, describe_csv_error(&e))))?;
        if !more {
            return Ok(None);
        }
        let line = self.record.position().map_or(0, csv::Position::line);
        let payment = parse_row(
            &self.record,
            &self.index,
            self.default_provider,
            line,
            self.name,
        )?;
        Ok(Some((line, payment)))
    }

    /// Where the last row read starts, in bytes (for progress).
    pub fn byte_position(&self) -> u64 {
        self.record.position().map_or(0, csv::Position::byte)
    }
}

/// A payments file decoded to UTF-8 text.
pub struct Decoded {
    pub text: Box<dyn Read>,
    /// The file's size, for progress (`None`: stdin).
    pub size: Option<u64>,
    /// The encoding it was read as, when that was guessed and is not UTF-8 (for a note).
    pub guessed: Option<&'static Encoding>,
}

/// Opens a payments file (`-` is stdin) and decodes it.
///
/// The encoding is only known once every byte has been seen. A file in
/// plain UTF-8 (most) is checked in one pass, then read again as a stream;
/// anything else (stdin, a BOM, Windows-1251, `--encoding`) is read whole
/// and decoded.
pub fn decoded_input(
    path: &Path,
    name: &str,
    forced: Option<&'static Encoding>,
) -> Result<Decoded> {
    let (mut input, size) = open_input(path)?;
    let checked = forced.is_none() && size.is_some();
    let plain_utf8 =
        checked && is_plain_utf8(input.as_mut()).with_context(|| format!("reading {name}"))?;
    if checked {
        // From the start again.
        input = open_input(path)?.0;
    }
    if plain_utf8 {
        return Ok(Decoded {
            text: input,
            size,
            guessed: None,
        });
    }
    let mut bytes = Vec::new();
    input
        .read_to_end(&mut bytes)
        .with_context(|| format!("reading {name}"))?;
    let (text, encoding) = decode(bytes, forced).map_err(|e| bad_input(format!("{name}: {e}")))?;
    let guessed = (encoding != UTF_8 && forced.is_none()).then_some(encoding);
    Ok(Decoded {
        text: Box::new(std::io::Cursor::new(text.into_bytes())),
        size,
        guessed,
    })
}

/// The file's header with the bank's names mapped to ours (`--map`), and its
/// other columns blanked so that they are ignored without a warning each.
fn mapped_headers(
    headers: &csv::StringRecord,
    map: &ColumnMap,
    name: &str,
) -> Result<csv::StringRecord> {
    let cells: Vec<String> = headers.iter().map(str::to_string).collect();
    let (renamed, missing) = map.apply(&cells);
    if let Some(header) = missing.first() {
        return Err(bad_input(format!(
            "{name}: no column '{}' in the header (named by --map or remembered for this provider)",
            crate::text::shown(header)
        )));
    }
    Ok(renamed
        .into_iter()
        .map(|h| {
            let ours = PAYMENT_COLUMNS
                .iter()
                .any(|c| c.eq_ignore_ascii_case(h.trim_start_matches('\u{feff}').trim()));
            if ours {
                h
            } else {
                String::new()
            }
        })
        .collect())
}

/// Picks `;` or `,` by counting both in the header line (outside quotes):
/// Russian bank exports use `;` because `,` is their decimal point. The
/// header line is read ahead and put back in front of the rest.
fn sniff_delimiter(mut input: Box<dyn Read>) -> std::io::Result<(u8, Box<dyn Read>)> {
    let mut header = Vec::new();
    let mut buffered = BufReader::new(&mut input);
    buffered.read_until(b'\n', &mut header)?;
    // Whatever BufReader read past the header goes back in front of the rest too.
    let rest_of_buffer = buffered.buffer().to_vec();
    drop(buffered);
    let delimiter = header_delimiter(&header);
    header.extend_from_slice(&rest_of_buffer);
    Ok((
        delimiter,
        Box::new(std::io::Cursor::new(header).chain(input)),
    ))
}

fn header_delimiter(header: &[u8]) -> u8 {
    let (mut commas, mut semicolons, mut quoted) = (0, 0, false);
    for &b in header {
        match b {
            b'"' => quoted = !quoted,
            b',' if !quoted => commas += 1,
            b';' if !quoted => semicolons += 1,
            _ => {}
        }
    }
    if semicolons > commas {
        b';'
    } else {
        b','
    }
}

fn parse_row(
    record: &csv::StringRecord,
    index: &HashMap<&'static str, usize>,
    default_provider: Option<&str>,
    line: u64,
    file: &str,
) -> Result<NewPayment> {
    let cell = |column: &str| {
        index
            .get(column)
            .and_then(|&i| record.get(i))
            .map(str::trim)
            .filter(|c| !c.is_empty())
    };
    let fail = |column: &str, why: String| {
        bad_input(format!("{file}: line {line}, column {column}: {why}"))
    };
    let external_id = cell("external_id").ok_or_else(|| fail("external_id", "is empty".into()))?;
    let provider = cell("provider").or(default_provider).ok_or_else(|| {
        fail(
            "provider",
            "is empty; fill it in or name a default with --provider".into(),
        )
    })?;
    let amount = cell("amount").ok_or_else(|| fail("amount", "is empty".into()))?;
    let amount_minor = parse_amount(amount).map_err(|e| fail("amount", e))?;
    let booking_id = cell("booking_id")
        .map(|text| {
            parse_booking_id(text.trim_start_matches(['#', '№'])).map_err(|e| fail("booking_id", e))
        })
        .transpose()?;
    let paid_at = cell("paid_at")
        .map(|text| {
            parse_paid_at(text).map(to_storage).ok_or_else(|| {
                fail(
                    "paid_at",
                    format!(
                        "'{}' is not a time such as 2024-03-01T12:06:00+03:00 or 01.03.2024 12:06",
                        crate::text::shown(text)
                    ),
                )
            })
        })
        .transpose()?;
    Ok(NewPayment {
        provider: provider.to_string(),
        external_id: external_id.to_string(),
        booking_id,
        amount_minor,
        currency: cell("currency").map(normalize_currency).unwrap_or_default(),
        paid_at,
        description: cell("description").map(str::to_string),
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn detects_utf8_boms_and_windows_1251() {
        let (text, enc) = decode("Сумма;Дата\n".as_bytes().to_vec(), None).unwrap();
        assert_eq!((text.as_str(), enc), ("Сумма;Дата\n", UTF_8));
        let with_bom = [&[0xEF, 0xBB, 0xBF][..], "Сумма".as_bytes()].concat();
        assert_eq!(decode(with_bom, None).unwrap().0, "Сумма");
        let (cp1251, _, _) = WINDOWS_1251.encode("Сумма;Назначение платежа");
        let (text, enc) = decode(cp1251.to_vec(), None).unwrap();
        assert_eq!(
            (text.as_str(), enc),
            ("Сумма;Назначение платежа", WINDOWS_1251)
        );
        // Forced: used as given, and refused when it cannot be right.
        assert!(decode(cp1251.to_vec(), Some(UTF_8)).is_err());
        assert_eq!(
            decode(b"abc".to_vec(), Some(WINDOWS_1251)).unwrap().0,
            "abc"
        );
    }

    #[test]
    fn tells_plain_utf8_in_pieces() {
        // A reader that hands over one byte at a time cuts every character.
        struct Trickle<'a>(&'a [u8]);
        impl std::io::Read for Trickle<'_> {
            fn read(&mut self, buf: &mut [u8]) -> std::io::Result<usize> {
                let Some((first, rest)) = self.0.split_first() else {
                    return Ok(0);
                };
                buf[0] = *first;
                self.0 = rest;
                Ok(1)
            }
        }
        let text = "Сумма;Назначение\nоплата брони №7 🙂\n".repeat(3000);
        assert!(is_plain_utf8(Trickle(text.as_bytes())).unwrap());
        assert!(is_plain_utf8(text.as_bytes()).unwrap());
        assert!(is_plain_utf8(&b""[..]).unwrap());
        let (cp1251, _, _) = WINDOWS_1251.encode(&text);
        assert!(!is_plain_utf8(&cp1251[..]).unwrap());
        // Cut off in the middle of a character at the very end.
        assert!(!is_plain_utf8(&text.as_bytes()[..text.len() - 2]).unwrap());
        let with_bom = [&[0xEF, 0xBB, 0xBF][..], text.as_bytes()].concat();
        assert!(!is_plain_utf8(&with_bom[..]).unwrap());
    }

    #[test]
    fn names_encodings_as_people_type_them() {
        assert_eq!(encoding_by_name("cp1251").unwrap(), WINDOWS_1251);
        assert_eq!(encoding_by_name("1251").unwrap(), WINDOWS_1251);
        assert_eq!(encoding_by_name("UTF-8").unwrap(), UTF_8);
        assert!(encoding_by_name("klingon").is_err());
    }

    #[test]
    fn parses_and_applies_a_column_map() {
        let known = ["amount", "description", "paid_at"];
        let map = ColumnMap::parse(
            "amount=Сумма, description=Назначение платежа,paid_at=Дата",
            &known,
        )
        .unwrap();
        assert_eq!(map.0["description"], "Назначение платежа");
        assert_eq!(ColumnMap::from_json(&map.to_json()), map);
        let headers: Vec<String> = ["№", "Дата", "сумма ", "Назначение платежа"]
            .map(String::from)
            .to_vec();
        let (renamed, missing) = map.apply(&headers);
        assert_eq!(renamed, ["№", "paid_at", "amount", "description"]);
        assert!(missing.is_empty());
        for bad in ["amount", "price=Цена", "amount=", "amount=A,amount=B", ""] {
            assert!(ColumnMap::parse(bad, &known).is_err(), "{bad}");
        }
    }

    #[test]
    fn a_map_may_name_every_column_and_only_those() {
        let mut ours: Vec<&str> = REQUIRED.iter().chain(OPTIONAL.iter()).copied().collect();
        let mut mappable = PAYMENT_COLUMNS.to_vec();
        ours.sort_unstable();
        mappable.sort_unstable();
        assert_eq!(ours, mappable);
    }

    #[test]
    fn picks_the_delimiter_from_the_header() {
        assert_eq!(header_delimiter(b"external_id,provider,amount\n"), b',');
        assert_eq!(header_delimiter(b"external_id;amount;description\n"), b';');
        assert_eq!(header_delimiter(b"\"a,b\";c;d\n"), b';');
        assert_eq!(header_delimiter(b"amount\n"), b',');
    }

    #[test]
    fn sniffing_keeps_every_byte() {
        let text = "a;b\n1;2\n3;4\n".repeat(1000);
        let (delimiter, mut rest) =
            sniff_delimiter(Box::new(std::io::Cursor::new(text.clone().into_bytes()))).unwrap();
        let mut back = String::new();
        rest.read_to_string(&mut back).unwrap();
        assert_eq!(delimiter, b';');
        assert_eq!(back, text);
    }
}
