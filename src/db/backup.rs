//! Online backup: a consistent copy of the database while other processes
//! keep reading and writing (SQLite's backup API).

use std::path::Path;

use anyhow::{Context as _, Result};
use rusqlite::{Connection, OpenFlags};

use super::Db;
use crate::text::shown_path;

impl Db {
    /// Copies the whole database into `dest` (an empty file we created) in
    /// one step: one read snapshot, so writers never restart it (in WAL mode
    /// they are not blocked either). The copy is left as one self-contained
    /// file (rollback journal); paytrack switches it to WAL when it opens it.
    pub fn backup_to(&self, dest: &Path) -> Result<()> {
        let flags = OpenFlags::SQLITE_OPEN_READ_WRITE | OpenFlags::SQLITE_OPEN_NO_MUTEX;
        // SQLite (as bundled) reads a name starting with `file:` as a URI; an
        // absolute path never does.
        let dest = std::path::absolute(dest)?;
        let mut target = Connection::open_with_flags(&dest, flags)
            .with_context(|| format!("opening the copy {}", shown_path(&dest)))?;
        {
            let backup = rusqlite::backup::Backup::new(self.sqlite_only("backup")?, &mut target)
                .context("starting the backup")?;
            match backup.step(-1).context("copying the database")? {
                rusqlite::backup::StepResult::Done => {}
                other => {
                    anyhow::bail!("copying the database did not finish ({other:?}); try again")
                }
            }
        }
        let _mode: String = target.query_row("PRAGMA journal_mode = DELETE", [], |r| r.get(0))?;
        target
            .close()
            .map_err(|(_, e)| e)
            .context("closing the copy")?;
        Ok(())
    }
}
