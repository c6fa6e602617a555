//! Files the user named (`bookings export -o`, `backup`): the one door every
//! writer of such a file goes through.
//!
//! Written the way `install` and `mktemp` do it: an exclusive temp file
//! (`O_EXCL`, so a symlink planted at its name is never followed) created
//! beside the target with mode 0600 (the contents are personal data), filled,
//! flushed, then renamed over the target. Before anything is written the
//! target is judged: anything but a regular file (a FIFO, a symlink, a device,
//! a directory) is refused, and so are the open database, its side files and
//! any SQLite file, whatever `--force` says; an existing regular file is
//! replaced only with `--force`. A refusal is bad input (exit 3) and leaves
//! nothing behind.

use std::fs::File;
use std::io::{self, Read, Write};
use std::path::{Path, PathBuf};

use anyhow::{Context as _, Result};

use crate::error::bad_input;
use crate::text::shown_path;

/// The first 16 bytes of every SQLite database file.
const SQLITE_MAGIC: &[u8; 16] = b"SQLite format 3\0";
/// The first four bytes of a SQLite write-ahead log (either byte order flag).
const WAL_MAGIC: [[u8; 4]; 2] = [[0x37, 0x7f, 0x06, 0x82], [0x37, 0x7f, 0x06, 0x83]];

/// What a writer must not overwrite besides the checks every target gets.
#[derive(Debug, Clone, Default)]
pub struct Guard {
    /// The database this run has open (its side files are protected too).
    pub database: Option<PathBuf>,
    /// `--force`: an existing regular file may be replaced.
    pub force: bool,
    /// With `force`, an existing SQLite file may be replaced too (`backup`
    /// over an earlier backup) — never the open database, and never one
    /// whose side files show it may be in use.
    pub replaces_databases: bool,
}

/// A file being written: a private temp file beside `target` until `finish`.
/// Dropped without `finish`, the temp file is removed and the target untouched.
pub struct OutputFile {
    temp: tempfile::NamedTempFile,
    target: PathBuf,
    guard: Guard,
}

impl OutputFile {
    /// Judges `target` and creates the temp file beside it.
    pub fn create(target: &Path, guard: Guard) -> Result<OutputFile> {
        check_target(target, &guard)?;
        let dir = match target.parent() {
            Some(p) if !p.as_os_str().is_empty() => p.to_path_buf(),
            _ => PathBuf::from("."),
        };
        let name = target
            .file_name()
            .ok_or_else(|| bad_input(format!("{} names no file", shown_path(target))))?;
        let mut prefix = std::ffi::OsString::from(".");
        prefix.push(name);
        prefix.push(".");
        // tempfile creates with O_CREAT|O_EXCL and mode 0600, retrying on a
        // name that exists: a planted `.partial` symlink is never followed.
        let mut builder = tempfile::Builder::new();
        builder.prefix(&prefix).suffix(".partial");
        #[cfg(unix)]
        builder.permissions(std::os::unix::fs::PermissionsExt::from_mode(0o600));
        let temp = builder
            .tempfile_in(&dir)
            .map_err(|e| bad_input(format!("cannot write {}: {e}", shown_path(target))))?;
        Ok(OutputFile {
            temp,
            target: target.to_path_buf(),
            guard,
        })
    }

    /// The temp file, to write into (wrap it in a `BufWriter`).
    pub fn file(&mut self) -> &mut File {
        self.temp.as_file_mut()
    }

    /// The temp file's path (for writers that need a path, such as SQLite's backup).
    pub fn temp_path(&self) -> &Path {
        self.temp.path()
    }

    /// Flushes the data to disk and renames the temp file to the target.
    /// The target is judged again first: it may have changed while we wrote.
    pub fn finish(self) -> Result<()> {
        self.temp
            .as_file()
            .sync_all()
            .with_context(|| format!("writing {}", shown_path(&self.target)))?;
        check_target(&self.target, &self.guard)?;
        let target = self.target.clone();
        let result = if self.guard.force {
            self.temp.persist(&target).map(|_| ())
        } else {
            // Fails instead of replacing a file that appeared meanwhile.
            self.temp.persist_noclobber(&target).map(|_| ())
        };
        result.map_err(|e| {
            if e.error.kind() == io::ErrorKind::AlreadyExists {
                exists_error(&target)
            } else {
                bad_input(format!("cannot write {}: {}", shown_path(&target), e.error))
            }
        })
    }
}

fn exists_error(target: &Path) -> anyhow::Error {
    bad_input(format!(
        "{} exists; pass --force to replace it (nothing was written)",
        shown_path(target)
    ))
}

/// Refuses a target that must not be replaced; Ok when it is absent or a
/// plain file that `--force` allows replacing.
pub fn check_target(target: &Path, guard: &Guard) -> Result<()> {
    let shown = shown_path(target);
    let meta = match std::fs::symlink_metadata(target) {
        Ok(meta) => meta,
        Err(e) if e.kind() == io::ErrorKind::NotFound => return Ok(()),
        Err(e) => return Err(bad_input(format!("cannot write {shown}: {e}"))),
    };
    let kind = meta.file_type();
    let refuse = |what: &str| {
        Err(bad_input(format!(
            "refusing to write {shown}: it is {what} (nothing was written)"
        )))
    };
    if kind.is_symlink() {
        return refuse("a symbolic link; name the file it points to");
    }
    if kind.is_dir() {
        return refuse("a directory; name a file inside it");
    }
    if !kind.is_file() {
        return refuse("not a regular file (a FIFO, socket or device)");
    }
    if let Some(db) = &guard.database {
        for suffix in ["", "-wal", "-shm", "-journal"] {
            let mut side = db.clone().into_os_string();
            side.push(suffix);
            if same_file(&meta, Path::new(&side)) {
                return refuse("the open database");
            }
        }
    }
    if starts_like_sqlite(target) {
        if !guard.replaces_databases {
            return refuse("a SQLite database");
        }
        if !guard.force {
            return Err(exists_error(target));
        }
        for suffix in ["-wal", "-shm", "-journal"] {
            let mut side = target.as_os_str().to_owned();
            side.push(suffix);
            if std::fs::symlink_metadata(&side).is_ok() {
                return refuse(&format!(
                    "a SQLite database with a {suffix} file beside it (open somewhere, or left by a crash; \
                     open it with paytrack once, or remove it)"
                ));
            }
        }
    }
    if !guard.force {
        return Err(exists_error(target));
    }
    Ok(())
}

#[cfg(unix)]
fn same_file(meta: &std::fs::Metadata, other: &Path) -> bool {
    use std::os::unix::fs::MetadataExt;
    std::fs::metadata(other).is_ok_and(|o| o.dev() == meta.dev() && o.ino() == meta.ino())
}

#[cfg(not(unix))]
fn same_file(_meta: &std::fs::Metadata, _other: &Path) -> bool {
    false
}

/// True when the file starts with SQLite's database or WAL header.
pub fn starts_like_sqlite(path: &Path) -> bool {
    let mut head = [0u8; 16];
    let Ok(mut file) = File::open(path) else {
        return false;
    };
    let mut filled = 0;
    while filled < head.len() {
        match file.read(&mut head[filled..]) {
            Ok(0) | Err(_) => break,
            Ok(n) => filled += n,
        }
    }
    (filled == 16 && &head == SQLITE_MAGIC)
        || (filled >= 4 && WAL_MAGIC.iter().any(|m| head[..4] == m[..]))
}

/// Writes everything `fill` produces into `target` under these rules.
pub fn write_with(
    target: &Path,
    guard: Guard,
    fill: impl FnOnce(&mut dyn Write) -> Result<()>,
) -> Result<()> {
    let mut out = OutputFile::create(target, guard)?;
    {
        let mut writer = io::BufWriter::new(out.file());
        fill(&mut writer)?;
        writer.flush()?;
    }
    out.finish()
}
