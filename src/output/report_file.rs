//! Files the user names for a report (`bookings import --report FILE`),
//! written the way `install` does: refuse a target that exists and is not a
//! regular file (a directory, a symlink, a FIFO, a device), write an exclusive
//! temp file beside it (never following a link), then rename it into place.
//!
//! Local to issue 13: issue 17 builds the shared safe-output module, and the
//! two are to be unified when both are merged.

use std::fs::OpenOptions;
use std::io::Write;
use std::path::{Path, PathBuf};

use anyhow::{Context as _, Result};

use crate::error::bad_input;

/// Refuses a target that exists and is not a regular file (checked before
/// any work, so a bad `--report` changes nothing).
pub fn check_target(path: &Path) -> Result<()> {
    match std::fs::symlink_metadata(path) {
        Ok(meta) if !meta.file_type().is_file() => Err(bad_input(format!(
            "{} exists and is not a regular file; name another report file",
            path.display()
        ))),
        Ok(_) => Ok(()),
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => {
            let parent = path.parent().filter(|p| !p.as_os_str().is_empty());
            match parent {
                Some(dir) if !dir.is_dir() => Err(bad_input(format!(
                    "cannot write {}: no directory {}",
                    path.display(),
                    dir.display()
                ))),
                _ => Ok(()),
            }
        }
        Err(e) => Err(bad_input(format!("cannot write {}: {e}", path.display()))),
    }
}

/// Writes `path` whole or not at all: `fill` writes into an exclusive temp file
/// beside it, which is then renamed over the target.
pub fn write_atomically(
    path: &Path,
    fill: impl FnOnce(&mut dyn Write) -> Result<()>,
) -> Result<()> {
    check_target(path)?;
    let temp = temp_name(path);
    let mut options = OpenOptions::new();
    options.write(true).create_new(true);
    #[cfg(unix)]
    std::os::unix::fs::OpenOptionsExt::mode(&mut options, 0o600);
    let file = options
        .open(&temp)
        .map_err(|e| bad_input(format!("cannot write {}: {e}", path.display())))?;
    let mut writer = std::io::BufWriter::new(file);
    let written = fill(&mut writer)
        .and_then(|()| writer.flush().map_err(Into::into))
        .and_then(|()| {
            std::fs::rename(&temp, path)
                .with_context(|| format!("renaming {} to {}", temp.display(), path.display()))
        });
    if written.is_err() {
        let _ = std::fs::remove_file(&temp);
    }
    written
}

/// `.NAME.PID.tmp` beside the target.
fn temp_name(path: &Path) -> PathBuf {
    let name = path.file_name().unwrap_or_default().to_string_lossy();
    path.with_file_name(format!(".{name}.{}.tmp", std::process::id()))
}
