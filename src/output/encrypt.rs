//! Encrypted output files (issue 20): an export or backup written for an age
//! recipient (`--encrypt-to age1…`), useless to whoever finds the file; and
//! the warning for personal data written in clear where others can read it.

use std::io::{self, Write};
use std::path::Path;

use anyhow::Result;

use crate::error::bad_input;

/// A writer that must be finished explicitly: an age stream writes its last
/// chunk and authentication tag only then (a Drop cannot report errors).
pub trait FinishWrite: Write {
    fn finish(self: Box<Self>) -> io::Result<()>;
}

/// Plain output: finishing is flushing.
pub struct Plain<W: Write>(pub W);

impl<W: Write> Write for Plain<W> {
    fn write(&mut self, buf: &[u8]) -> io::Result<usize> {
        self.0.write(buf)
    }
    fn flush(&mut self) -> io::Result<()> {
        self.0.flush()
    }
}

impl<W: Write> FinishWrite for Plain<W> {
    fn finish(mut self: Box<Self>) -> io::Result<()> {
        self.0.flush()
    }
}

/// Output encrypted to age recipients (the binary age format).
pub struct AgeWriter<W: Write>(super::age::Writer<W>);

impl<W: Write> Write for AgeWriter<W> {
    fn write(&mut self, buf: &[u8]) -> io::Result<usize> {
        self.0.write(buf)
    }
    fn flush(&mut self) -> io::Result<()> {
        self.0.flush()
    }
}

impl<W: Write> FinishWrite for AgeWriter<W> {
    fn finish(self: Box<Self>) -> io::Result<()> {
        self.0.finish()?.flush()
    }
}

/// age x25519 recipients (`age1…`), parsed before anything is written.
#[derive(Clone)]
pub struct Recipients(Vec<super::age::Recipient>);

impl Recipients {
    /// Parses each `--encrypt-to` value; a bad one is bad input naming it.
    pub fn parse(texts: &[String]) -> Result<Option<Recipients>> {
        if texts.is_empty() {
            return Ok(None);
        }
        let parsed = texts
            .iter()
            .map(|t| {
                t.trim().parse::<super::age::Recipient>().map_err(|e| {
                    bad_input(format!(
                        "--encrypt-to {}: not an age recipient ({e}); expected a public key like age1…",
                        crate::text::for_terminal(t)
                    ))
                })
            })
            .collect::<Result<Vec<_>>>()?;
        Ok(Some(Recipients(parsed)))
    }

    /// Wraps `output` so that what is written to it is encrypted.
    pub fn wrap<W: Write + 'static>(&self, output: W) -> Result<Box<dyn FinishWrite>> {
        Ok(Box::new(AgeWriter(super::age::Writer::new(
            output, &self.0,
        )?)))
    }
}

/// Wraps `output` for `recipients`, or leaves it plain.
pub fn sink<W: Write + 'static>(
    output: W,
    recipients: Option<&Recipients>,
) -> Result<Box<dyn FinishWrite>> {
    match recipients {
        Some(r) => r.wrap(output),
        None => Ok(Box::new(Plain(output))),
    }
}

/// True when users other than the owner can enter or list the directory
/// that will hold `path` (so a file created there with the usual umask is
/// readable by them).
pub fn others_can_read_dir_of(path: &Path) -> bool {
    use std::os::unix::fs::PermissionsExt;
    let dir = match path.parent() {
        Some(p) if !p.as_os_str().is_empty() => p.to_path_buf(),
        _ => std::path::PathBuf::from("."),
    };
    std::fs::metadata(dir).is_ok_and(|m| m.permissions().mode() & 0o005 != 0)
}
