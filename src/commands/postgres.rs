//! The connection to a PostgreSQL URL in `--db` (issue 18), with what the
//! password-file check found said on stderr. `init` and `uninstall`
//! (commands/setup.rs) and `Context::open_db` connect through it.

use anyhow::Result;

use super::Context;
use crate::db::pg::{self, PgDb};

/// Connects to the URL in `--db`, passing on what the password file check found.
pub(super) fn connect(ctx: &Context) -> Result<PgDb> {
    let url = ctx.postgres_url.as_deref().unwrap_or_default();
    let info = pg::resolve(url)?;
    for warning in &info.warnings {
        ctx.out.warn(warning);
    }
    PgDb::connect(&info)
}
