//! Bank statements as they really come: in Windows-1251 or UTF-8 (with or
//! without a BOM), with the bank's own column names. Decoding and the column
//! map are pure functions here; `payments import` applies them.

use std::collections::BTreeMap;

use encoding_rs::{Encoding, UTF_8, WINDOWS_1251};

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
}
