//! Who owns paytrack's schema and who merely uses it (issue 26).
//!
//! A trigger the bot puts on its own table runs as whichever role writes
//! that table, and paytrack writes it. If that role owned the audit log, the
//! bot's code could disable the log's triggers, delete entries and rebuild
//! the chain on top. So a school can split the two: a NOLOGIN owner role
//! owns the schema, its tables and functions (`init --owner-role`), and the
//! login role paytrack connects as (`init --login-role`) gets only what the
//! commands need: it may append to the audit log (a trigger of the owner's
//! checks that each entry extends the chain) but not change, delete or
//! truncate it, not write the counters (they move through the owner's
//! functions), not grant anything, and not disable a trigger.
//!
//! Without a separate owner (one role does both, as before) everything
//! works the same; what such a school gives up is written in README
//! "Running against PostgreSQL" → "Roles".

use anyhow::Result;

use super::PgDb;
use crate::error::PaytrackError;

/// paytrack's tables and views the login roles may read but not write:
/// history, the counters (written by the owner's functions only) and
/// paytrack's own bookkeeping.
const READ_ONLY: &[&str] = &[
    "audit_log",
    "audit_personal",
    "stream_counter_deltas",
    "stream_counters",
    "schema_version",
    "adoption",
    "login_roles",
];

/// `name` as a quoted SQL identifier.
fn quote_ident(name: &str) -> String {
    format!("\"{}\"", name.replace('"', "\"\""))
}

impl PgDb {
    /// Acts as `owner` for the rest of this connection (`SET ROLE`), so that
    /// everything `init` creates belongs to it. The connecting role must be
    /// a member of it.
    pub fn act_as(&mut self, owner: &str) -> Result<()> {
        let member: Option<bool> = self
            .client
            .query_one(
                "SELECT CASE WHEN r.oid IS NULL THEN NULL
                             ELSE pg_catalog.pg_has_role(current_user, r.oid, 'MEMBER') END
                   FROM (SELECT 1) AS one
                   LEFT JOIN pg_catalog.pg_roles AS r ON r.rolname = $1",
                &[&owner],
            )?
            .get(0);
        match member {
            None => Err(PaytrackError::Database(format!(
                "--owner-role: there is no role {owner:?} on this server (see README \"Running against PostgreSQL\" → Roles); nothing was changed"
            ))
            .into()),
            Some(false) => Err(PaytrackError::Database(format!(
                "--owner-role: this role is not a member of {owner:?}, so it cannot create paytrack's schema as it \
                 (GRANT {} TO {}); nothing was changed",
                quote_ident(owner),
                quote_ident(&self.info.user)
            ))
            .into()),
            Some(true) => {
                self.client
                    .batch_execute(&format!("SET ROLE {}", quote_ident(owner)))
                    .map_err(|e| PaytrackError::Database(super::describe(&e)))?;
                Ok(())
            }
        }
    }

    /// Grants `new` (and every login role recorded before) what paytrack's
    /// commands need, on every table there is now; records `new`. Returns a
    /// warning per role that lacks privileges only the bot's owner can grant.
    pub fn grant_login_roles(&mut self, new: &[String]) -> Result<Vec<String>> {
        self.write(|tx| {
            for role in new {
                tx.execute(
                    "INSERT INTO paytrack.login_roles (role_name) VALUES ($1) ON CONFLICT DO NOTHING",
                    &[role],
                )?;
            }
            let roles: Vec<String> = tx
                .query("SELECT role_name FROM paytrack.login_roles ORDER BY 1", &[])?
                .iter()
                .map(|r| r.get(0))
                .collect();
            let mut warnings = Vec::new();
            // One role for everything (no login roles): that role sends.
            if roles.is_empty() {
                let unreadable: bool = tx
                    .query_one(
                        "SELECT pg_catalog.to_regclass('public.blocked_users') IS NOT NULL
                            AND NOT pg_catalog.has_table_privilege('public.blocked_users', 'SELECT')",
                        &[],
                    )?
                    .get(0);
                if unreadable {
                    warnings.push(
                        "this role cannot read the bot's public.blocked_users, so `outbox drain` will refuse \
                         to send; the bot's owner runs: GRANT SELECT ON public.blocked_users TO this role"
                            .to_string(),
                    );
                }
            }
            for role in roles {
                // Nothing is granted to a role that could act as the owner:
                // code running as it could then do everything the owner can.
                let row = tx.query_opt(
                    "SELECT pg_catalog.pg_has_role(r.oid, current_user, 'MEMBER'), r.rolsuper
                       FROM pg_catalog.pg_roles AS r WHERE r.rolname = $1",
                    &[&role],
                )?;
                let Some(row) = row else {
                    return Err(PaytrackError::Database(format!(
                        "--login-role: there is no role {role:?} on this server; nothing was changed"
                    ))
                    .into());
                };
                let (member, superuser): (bool, bool) = (row.get(0), row.get(1));
                if member || superuser {
                    return Err(PaytrackError::Database(format!(
                        "--login-role {role:?} is the owner of paytrack's schema, a member of it, or a superuser: \
                         code running as it could rewrite the audit log; give paytrack a login role of its own; nothing was changed"
                    ))
                    .into());
                }
                grant(tx, &role)?;
                let missing: Option<String> = tx
                    .query_one(
                        "SELECT CASE WHEN pg_catalog.to_regclass('public.bookings') IS NULL THEN NULL
                                     WHEN pg_catalog.has_table_privilege($1, 'public.bookings',
                                              'SELECT, INSERT, UPDATE, DELETE') THEN NULL
                                     ELSE 'missing' END",
                        &[&role],
                    )?
                    .get(0);
                let blocked_unreadable: bool = tx
                    .query_one(
                        "SELECT pg_catalog.to_regclass('public.blocked_users') IS NOT NULL
                            AND NOT pg_catalog.has_table_privilege($1, 'public.blocked_users', 'SELECT')",
                        &[&role],
                    )?
                    .get(0);
                if blocked_unreadable {
                    warnings.push(format!(
                        "the login role {role} cannot read the bot's public.blocked_users, so `outbox drain` \
                         will refuse to send; the bot's owner runs: GRANT SELECT ON public.blocked_users TO {}",
                        quote_ident(&role)
                    ));
                }
                if missing.is_some() {
                    warnings.push(format!(
                        "the login role {role} cannot write public.bookings yet; the bot's owner runs: \
                         GRANT SELECT, INSERT, UPDATE, DELETE ON public.bookings TO {0}; \
                         GRANT USAGE, SELECT, UPDATE ON SEQUENCE public.bookings_id_seq TO {0}",
                        quote_ident(&role)
                    ));
                }
            }
            Ok(warnings)
        })
    }
}

/// What one login role may do: read everything of paytrack's; write its
/// working tables; append to the audit log and erase personal values in it
/// (the triggers allow nothing else); fold and rebuild the counters through
/// the owner's functions. Where this role owns the bot's table (`init` made
/// it), its rows too.
fn grant(tx: &mut postgres::Transaction<'_>, role: &str) -> Result<()> {
    let who = quote_ident(role);
    let writable: Vec<String> = tx
        .query(
            "SELECT pg_catalog.format('paytrack.%I', c.relname)
               FROM pg_catalog.pg_class AS c
              WHERE c.relnamespace = CAST('paytrack' AS pg_catalog.regnamespace)
                AND c.relkind IN ('r', 'v', 'p') AND NOT (c.relname = ANY ($1))
              ORDER BY 1",
            &[&READ_ONLY],
        )?
        .iter()
        .map(|r| r.get(0))
        .collect();
    let read_only: Vec<String> = READ_ONLY.iter().map(|t| format!("paytrack.{t}")).collect();
    let mut sql = format!(
        "GRANT USAGE ON SCHEMA paytrack TO {who};
         GRANT SELECT ON ALL TABLES IN SCHEMA paytrack TO {who};
         GRANT USAGE, SELECT ON ALL SEQUENCES IN SCHEMA paytrack TO {who};
         REVOKE INSERT, UPDATE, DELETE, TRUNCATE, REFERENCES, TRIGGER ON {} FROM {who};
         GRANT INSERT ON paytrack.audit_log TO {who};
         GRANT INSERT, UPDATE ON paytrack.audit_personal TO {who};
         GRANT EXECUTE ON FUNCTION paytrack.fold_counters(), paytrack.rebuild_counters(),
             paytrack.analyze_booking_state() TO {who};",
        read_only.join(", ")
    );
    if !writable.is_empty() {
        sql += &format!(
            "GRANT SELECT, INSERT, UPDATE, DELETE ON {} TO {who};",
            writable.join(", ")
        );
    }
    let owns_bot_table: bool = tx
        .query_one(
            "SELECT coalesce((SELECT c.relowner = (SELECT oid FROM pg_catalog.pg_roles WHERE rolname = current_user)
                                FROM pg_catalog.pg_class AS c
                               WHERE c.oid = pg_catalog.to_regclass('public.bookings')), false)",
            &[],
        )?
        .get(0);
    if owns_bot_table {
        let lit = format!("'{}'", role.replace('\'', "''"));
        sql += &format!(
            "GRANT SELECT, INSERT, UPDATE, DELETE ON public.bookings TO {who};
             DO $grant$
             DECLARE seq text := pg_catalog.pg_get_serial_sequence('public.bookings', 'id');
             BEGIN
                 IF seq IS NOT NULL THEN
                     EXECUTE pg_catalog.format('GRANT USAGE, SELECT, UPDATE ON SEQUENCE %s TO %I', seq, {lit});
                 END IF;
             END
             $grant$;",
        );
    }
    tx.batch_execute(&sql).map_err(|e| {
        PaytrackError::Database(format!("granting {role}: {}", super::describe(&e)))
    })?;
    Ok(())
}

/// Refuses to install into a `paytrack` schema, or beside an object in it,
/// that this role (the owner `init` acts as) does not own: whoever made it
/// first could replace or read paytrack's history (issue 26: the bot
/// created the schema before `init --adopt` and later dropped and replaced
/// the audit log). Names the owner.
pub(super) fn refuse_foreign_schema(tx: &mut postgres::Transaction<'_>) -> Result<()> {
    let schema_owner: Option<(String, String)> = tx
        .query_opt(
            "SELECT CAST(n.nspowner AS pg_catalog.regrole)::text, current_user::text
               FROM pg_catalog.pg_namespace AS n
              WHERE n.nspname = 'paytrack'
                AND n.nspowner <> (SELECT oid FROM pg_catalog.pg_roles WHERE rolname = current_user)",
            &[],
        )?
        .map(|r| (r.get(0), r.get(1)));
    if let Some((owner, me)) = schema_owner {
        return Err(PaytrackError::Database(format!(
            "the schema paytrack here belongs to role {owner}, not {me}: paytrack installs only into a schema \
             its owner role made (if {owner} is paytrack's owner role, run init as a member of it with \
             --owner-role {owner}; otherwise whoever made it must drop it); nothing was changed"
        ))
        .into());
    }
    let foreign: Vec<String> = tx
        .query(
            "SELECT pg_catalog.format('%s (owned by %s)', what, CAST(owner AS pg_catalog.regrole))
               FROM (SELECT pg_catalog.format('table %I', c.relname) AS what, c.relowner AS owner,
                            CAST('pg_catalog.pg_class' AS pg_catalog.regclass) AS catalog, c.oid
                       FROM pg_catalog.pg_class AS c
                      WHERE c.relnamespace = (SELECT oid FROM pg_catalog.pg_namespace WHERE nspname = 'paytrack')
                     UNION ALL
                     SELECT pg_catalog.format('function %I', p.proname), p.proowner,
                            CAST('pg_catalog.pg_proc' AS pg_catalog.regclass), p.oid
                       FROM pg_catalog.pg_proc AS p
                      WHERE p.pronamespace = (SELECT oid FROM pg_catalog.pg_namespace WHERE nspname = 'paytrack')
                     UNION ALL
                     SELECT pg_catalog.format('operator %s', o.oprname), o.oprowner,
                            CAST('pg_catalog.pg_operator' AS pg_catalog.regclass), o.oid
                       FROM pg_catalog.pg_operator AS o
                      WHERE o.oprnamespace = (SELECT oid FROM pg_catalog.pg_namespace WHERE nspname = 'paytrack')
                     UNION ALL
                     SELECT pg_catalog.format('type %I', t.typname), t.typowner,
                            CAST('pg_catalog.pg_type' AS pg_catalog.regclass), t.oid
                       FROM pg_catalog.pg_type AS t
                      WHERE t.typnamespace = (SELECT oid FROM pg_catalog.pg_namespace WHERE nspname = 'paytrack')
                     UNION ALL
                     SELECT pg_catalog.format('collation %I', l.collname), l.collowner,
                            CAST('pg_catalog.pg_collation' AS pg_catalog.regclass), l.oid
                       FROM pg_catalog.pg_collation AS l
                      WHERE l.collnamespace = (SELECT oid FROM pg_catalog.pg_namespace WHERE nspname = 'paytrack')
                    ) AS objects
              WHERE owner <> (SELECT oid FROM pg_catalog.pg_roles WHERE rolname = current_user)
                -- Members of an extension this role installed there (a trusted
                -- extension's objects belong to the bootstrap superuser), and
                -- what is part of one of them (a member type's array type,
                -- such as pg_trgm's _gtrgm, depends on it internally).
                AND NOT EXISTS (
                    SELECT 1 FROM pg_catalog.pg_depend AS d
                      JOIN pg_catalog.pg_extension AS e ON e.oid = d.refobjid
                     WHERE d.deptype = 'e'
                       AND d.refclassid = CAST('pg_catalog.pg_extension' AS pg_catalog.regclass)
                       AND e.extowner = (SELECT oid FROM pg_catalog.pg_roles WHERE rolname = current_user)
                       AND ((d.classid = objects.catalog AND d.objid = objects.oid)
                            OR EXISTS (SELECT 1 FROM pg_catalog.pg_depend AS i
                                        WHERE i.classid = objects.catalog AND i.objid = objects.oid
                                          AND i.deptype = 'i'
                                          AND i.refclassid = d.classid AND i.refobjid = d.objid)))
              ORDER BY 1 LIMIT 10",
            &[],
        )?
        .iter()
        .map(|r| r.get(0))
        .collect();
    if !foreign.is_empty() {
        return Err(PaytrackError::Database(format!(
            "the schema paytrack holds objects this role does not own: {}; nothing was changed",
            foreign.join(", ")
        ))
        .into());
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::quote_ident;

    #[test]
    fn identifiers_are_quoted_with_inner_quotes_doubled() {
        assert_eq!(quote_ident("paytrack"), "\"paytrack\"");
        assert_eq!(quote_ident("a\"b"), "\"a\"\"b\"");
    }
}
