//! PostgreSQL backend (issue 18), against a real server: `.ci/run` starts a
//! throwaway PostgreSQL 15 cluster and exports its URL in PAYTRACK_TEST_PG.
//! Without it these tests skip with a note, except under CI=true, where a
//! missing server fails the run. Each test gets its own database, a `bot` role
//! that owns the bot's `public.bookings`, and a non-superuser paytrack role.

use std::path::PathBuf;
use std::sync::atomic::{AtomicUsize, Ordering};

use crate::harness::{code, csv_rows, Env};

/// Shown in URLs given to paytrack; trust auth ignores it, and no output may show it.
const PASSWORD: &str = "Sekr1t-Pa55word";

/// The bot's table, as the seed and the legacy export describe it.
const BOT_SCHEMA: &str = "
CREATE TABLE public.bookings (
    id serial PRIMARY KEY,
    user_id bigint,
    username text,
    first_name text,
    course_id integer,
    course_stream text,
    confirmed integer DEFAULT 1,
    created_at timestamp with time zone DEFAULT now(),
    referral_code text,
    discount_percent integer
);
CREATE TABLE public.blocked_users (user_id bigint PRIMARY KEY);
INSERT INTO public.bookings (user_id, username, first_name, course_id, course_stream, confirmed)
VALUES (1, 'u1', 'Ольга', 1, '3rd_stream', 2),
       (2, 'u2', 'Мария', 1, '3rd_stream', 1),
       (3, NULL, 'Zoë', 1, '4th_stream', -1),
       (4, 'u4', 'Иван', 2, NULL, 1);
";

/// The triggers `init --adopt` puts on the bot's table, in name order.
const COUNTER_TRIGGERS: [&str; 4] = [
    "paytrack_count_delete",
    "paytrack_count_insert",
    "paytrack_count_truncate",
    "paytrack_count_update",
];

/// Per stream: course, stream, total, then confirmed, pending, cancelled (None for none).
type StreamCounts = (i32, String, i64, Option<i64>, Option<i64>, Option<i64>);

/// A client to the test server as `user` on `dbname`.
fn client(server: &str, user: &str, dbname: &str) -> postgres::Client {
    crate::harness::pg_client(server, user, dbname)
}

/// One database with the bot's schema, owned by its own `bot` role, and a
/// paytrack role that has only what the README says adoption needs.
struct PgFixture {
    server: String,
    name: String,
    bot: String,
    admin: String,
    /// A scratch directory for HOME (and ~/.pgpass).
    env: Env,
}

impl PgFixture {
    fn new(server: &str) -> PgFixture {
        static NEXT: AtomicUsize = AtomicUsize::new(0);
        let n = NEXT.fetch_add(1, Ordering::SeqCst);
        let name = format!("pt_{}_{n}", std::process::id());
        let bot = format!("{name}_bot");
        let admin = format!("{name}_admin");
        let mut root = client(server, "postgres", "postgres");
        // One statement per call: CREATE DATABASE refuses to run in the
        // implicit transaction of a multi-statement string.
        for sql in [
            format!("CREATE ROLE {bot} LOGIN"),
            format!("CREATE ROLE {admin} LOGIN"),
            format!("CREATE DATABASE {name}"),
            format!("GRANT CREATE ON DATABASE {name} TO {admin}"),
        ] {
            root.batch_execute(&sql).unwrap();
        }
        let mut db_root = client(server, "postgres", &name);
        db_root
            .batch_execute(&format!("GRANT CREATE ON SCHEMA public TO {bot}"))
            .unwrap();
        let mut as_bot = client(server, &bot, &name);
        as_bot.batch_execute(BOT_SCHEMA).unwrap();
        as_bot
            .batch_execute(&format!(
                "GRANT SELECT, TRIGGER ON public.bookings TO {admin}"
            ))
            .unwrap();
        let mut env = Env::empty();
        env.db = PathBuf::from(url_for(server, &admin, &name));
        PgFixture {
            server: server.to_string(),
            name,
            bot,
            admin,
            env,
        }
    }

    fn as_bot(&self) -> postgres::Client {
        client(&self.server, &self.bot, &self.name)
    }

    fn as_root(&self) -> postgres::Client {
        client(&self.server, "postgres", &self.name)
    }

    /// Per-stream (course, stream, total, confirmed, pending, cancelled) from the counters.
    fn counters(&self) -> Vec<StreamCounts> {
        self.as_root()
            .query(
                "SELECT course_id::integer, course_stream, sum(bookings)::bigint,
                        nullif(sum(bookings) FILTER (WHERE confirmed = 2), 0)::bigint,
                        nullif(sum(bookings) FILTER (WHERE confirmed = 1), 0)::bigint,
                        nullif(sum(bookings) FILTER (WHERE confirmed = -1), 0)::bigint
                   FROM paytrack.stream_counters GROUP BY 1, 2 HAVING sum(bookings) <> 0 ORDER BY 1, 2",
                &[],
            )
            .unwrap()
            .iter()
            .map(|r| (r.get(0), r.get(1), r.get(2), r.get(3), r.get(4), r.get(5)))
            .collect()
    }

    /// The same numbers, counted live from the bot's table.
    fn recount(&self) -> Vec<StreamCounts> {
        self.as_root()
            .query(
                "SELECT coalesce(course_id, 0), coalesce(course_stream, ''), count(*),
                        nullif(count(*) FILTER (WHERE confirmed = 2), 0),
                        nullif(count(*) FILTER (WHERE confirmed = 1), 0),
                        nullif(count(*) FILTER (WHERE confirmed = -1), 0)
                   FROM public.bookings GROUP BY 1, 2 ORDER BY 1, 2",
                &[],
            )
            .unwrap()
            .iter()
            .map(|r| (r.get(0), r.get(1), r.get(2), r.get(3), r.get(4), r.get(5)))
            .collect()
    }

    /// The bot's columns with their types, to prove adoption left them alone.
    fn bot_columns(&self) -> Vec<(String, String)> {
        self.as_root()
            .query(
                "SELECT column_name::text, data_type::text FROM information_schema.columns
                  WHERE table_schema = 'public' AND table_name = 'bookings' ORDER BY ordinal_position",
                &[],
            )
            .unwrap()
            .iter()
            .map(|r| (r.get(0), r.get(1)))
            .collect()
    }

    fn triggers(&self) -> Vec<String> {
        self.as_root()
            .query(
                "SELECT tgname::text FROM pg_trigger
                  WHERE tgrelid = 'public.bookings'::regclass AND NOT tgisinternal ORDER BY 1",
                &[],
            )
            .unwrap()
            .iter()
            .map(|r| r.get(0))
            .collect()
    }

    fn has_paytrack_schema(&self) -> bool {
        self.as_root()
            .query_one("SELECT to_regnamespace('paytrack') IS NOT NULL", &[])
            .unwrap()
            .get(0)
    }
}

impl Drop for PgFixture {
    fn drop(&mut self) {
        let mut root = client(&self.server, "postgres", "postgres");
        for sql in [
            format!("DROP DATABASE IF EXISTS {} WITH (FORCE)", self.name),
            format!("DROP ROLE IF EXISTS {}", self.bot),
            format!("DROP ROLE IF EXISTS {}", self.admin),
        ] {
            let _ = root.batch_execute(&sql);
        }
    }
}

/// `server` with another user (carrying PASSWORD) and database.
fn url_for(server: &str, user: &str, dbname: &str) -> String {
    crate::harness::pg_url_as(server, user, PASSWORD, dbname)
}

/// Asserts that nothing paytrack printed shows the password.
fn assert_no_password(out: &std::process::Output) {
    let text = format!(
        "{}{}",
        String::from_utf8_lossy(&out.stdout),
        String::from_utf8_lossy(&out.stderr)
    );
    assert!(!text.contains(PASSWORD), "password shown: {text}");
    assert!(
        !text.contains("Sekr1t"),
        "part of the password shown: {text}"
    );
}

#[test]
#[cfg_attr(
    not(pg_test_server),
    ignore = "needs PostgreSQL: PAYTRACK_TEST_PG names a server (bash .ci/run starts one)"
)]
fn pg_init_creates_the_paytrack_schema_once() {
    let Some(server) = crate::harness::pg_server() else {
        return;
    };
    let pg = PgFixture::new(&server);
    let out = pg.env.run(&["init"]);
    assert_eq!(out.status.code(), Some(0), "{out:?}");
    assert_no_password(&out);
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert!(stderr.contains("created"), "{stderr}");
    let again = pg.env.run(&["init"]);
    assert_eq!(again.status.code(), Some(0));
    assert!(String::from_utf8_lossy(&again.stderr).contains("up to date"));
    // The newest migration recorded (the numbers skip 5-9: issue 27's one
    // history goes from 4 to 10).
    let version: i32 = pg
        .as_root()
        .query_one("SELECT max(version) FROM paytrack.schema_version", &[])
        .unwrap()
        .get(0);
    assert_eq!(
        u32::try_from(version).unwrap(),
        paytrack::db::pg::latest_version()
    );
    // Plain init installs nothing on the bot's table.
    assert!(pg.triggers().is_empty());
}

#[test]
#[cfg_attr(
    not(pg_test_server),
    ignore = "needs PostgreSQL: PAYTRACK_TEST_PG names a server (bash .ci/run starts one)"
)]
fn pg_adopt_counts_and_the_bot_keeps_writing_under_its_own_role() {
    let Some(server) = crate::harness::pg_server() else {
        return;
    };
    let pg = PgFixture::new(&server);
    let columns_before = pg.bot_columns();
    let out = pg.env.run(&["init", "--adopt"]);
    assert_eq!(out.status.code(), Some(0), "{out:?}");
    assert_no_password(&out);
    assert!(String::from_utf8_lossy(&out.stderr).contains("4 bookings"));
    // Not the table's owner: the indexes are named for the owner, not made.
    assert!(
        String::from_utf8_lossy(&out.stderr).contains("no index was created"),
        "{out:?}"
    );
    assert_eq!(pg.bot_columns(), columns_before, "a bot column changed");
    assert_eq!(pg.triggers(), COUNTER_TRIGGERS);
    assert_eq!(pg.counters(), pg.recount());

    // The bot has no privilege on paytrack's schema, and still writes.
    let mut bot = pg.as_bot();
    let usage: bool = bot
        .query_one(
            "SELECT has_schema_privilege(current_user, 'paytrack', 'USAGE')",
            &[],
        )
        .unwrap()
        .get(0);
    assert!(!usage, "the bot must not need the paytrack schema");
    bot.batch_execute(
        "INSERT INTO public.bookings (user_id, first_name, course_id, course_stream, confirmed)
         VALUES (5, 'Настя 🌸', 1, '3rd_stream', 1), (6, 'Jon', 3, 'new_stream', 2), (7, 'X', NULL, NULL, NULL);
         UPDATE public.bookings SET confirmed = 2 WHERE user_id = 2;
         UPDATE public.bookings SET course_stream = '4th_stream' WHERE user_id = 1;
         UPDATE public.bookings SET first_name = 'Ольга П.' WHERE user_id = 1;
         DELETE FROM public.bookings WHERE user_id = 3;",
    )
    .expect("the bot's own writes keep working after adoption");
    assert_eq!(pg.counters(), pg.recount());
    // Adopting again (paytrack's role does not own the bot's table) keeps them.
    pg.env.ok(&["init", "--adopt"]);
    assert_eq!(pg.triggers(), COUNTER_TRIGGERS);
    assert_eq!(pg.counters(), pg.recount());
    bot.batch_execute("TRUNCATE public.bookings").unwrap();
    assert!(pg.counters().is_empty());

    // The trigger functions run as their owner with a fixed search_path.
    let rows = pg
        .as_root()
        .query(
            "SELECT p.prosecdef, array_to_string(p.proconfig, ',')
               FROM pg_proc p JOIN pg_namespace n ON n.oid = p.pronamespace
              WHERE n.nspname = 'paytrack'
                AND p.proname LIKE 'count\\_%'",
            &[],
        )
        .unwrap();
    assert_eq!(rows.len(), 5);
    for row in rows {
        assert!(row.get::<_, bool>(0), "SECURITY DEFINER");
        assert_eq!(row.get::<_, String>(1), "search_path=pg_catalog, pg_temp");
    }
}

#[test]
#[cfg_attr(
    not(pg_test_server),
    ignore = "needs PostgreSQL: PAYTRACK_TEST_PG names a server (bash .ci/run starts one)"
)]
fn pg_adopt_refuses_a_table_that_is_not_the_bots_and_changes_nothing() {
    let Some(server) = crate::harness::pg_server() else {
        return;
    };
    let pg = PgFixture::new(&server);
    pg.as_bot()
        .batch_execute(
            "ALTER TABLE public.bookings ALTER COLUMN confirmed TYPE text;
             ALTER TABLE public.bookings DROP COLUMN course_stream;",
        )
        .unwrap();
    let columns_before = pg.bot_columns();
    let stderr = pg.env.fails(&["init", "--adopt"], code::DATABASE);
    assert!(stderr.contains("course_stream is missing"), "{stderr}");
    assert!(stderr.contains("confirmed is text"), "{stderr}");
    assert!(pg.triggers().is_empty());
    assert_eq!(pg.bot_columns(), columns_before);
}

#[test]
#[cfg_attr(
    not(pg_test_server),
    ignore = "needs PostgreSQL: PAYTRACK_TEST_PG names a server (bash .ci/run starts one)"
)]
fn pg_uninstall_removes_paytrack_and_leaves_the_bot_alone() {
    let Some(server) = crate::harness::pg_server() else {
        return;
    };
    let pg = PgFixture::new(&server);
    pg.env.ok(&["init", "--adopt"]);
    // Without --yes: refused, nothing removed.
    pg.env.fails(&["uninstall"], code::BAD_INPUT);
    assert!(pg.has_paytrack_schema());
    let out = pg.env.run(&["uninstall", "--yes"]);
    assert_eq!(out.status.code(), Some(0), "{out:?}");
    assert_no_password(&out);
    assert!(!pg.has_paytrack_schema());
    assert!(pg.triggers().is_empty());
    let rows: i64 = pg
        .as_root()
        .query_one("SELECT count(*) FROM public.bookings", &[])
        .unwrap()
        .get(0);
    assert_eq!(rows, 4);
    pg.as_bot()
        .batch_execute("INSERT INTO public.bookings (user_id, course_id) VALUES (9, 1)")
        .unwrap();
    // Something of someone else's built on paytrack's tables stops the
    // removal, and nothing is dropped.
    pg.env.ok(&["init", "--adopt"]);
    pg.as_root()
        .batch_execute("CREATE VIEW public.report AS SELECT * FROM paytrack.stream_counters")
        .unwrap();
    let stderr = pg.env.fails(&["uninstall", "--yes"], code::DATABASE);
    assert!(stderr.contains("report"), "{stderr}");
    assert!(pg.has_paytrack_schema());
    assert_eq!(pg.triggers(), COUNTER_TRIGGERS);
    pg.as_root()
        .batch_execute("DROP VIEW public.report")
        .unwrap();
    pg.env.ok(&["uninstall", "--yes"]);
    // A second uninstall has nothing to do and says so.
    let again = pg.env.ok(&["uninstall", "--yes"]);
    assert!(again.is_empty(), "stdout is data only");
}

/// Runs paytrack with `args` while the bot's transaction holding `bot_sql`
/// is open, and commits it once paytrack has read the row and waits on its
/// lock: paytrack's write then finds the row changed since its read.
fn while_the_bot_writes(pg: &PgFixture, bot_sql: &str, args: &[&str]) -> std::process::Output {
    let mut bot = pg.as_bot();
    let mut tx = bot.transaction().unwrap();
    tx.batch_execute(bot_sql).unwrap();
    let child = pg.env.spawn(args);
    std::thread::sleep(std::time::Duration::from_millis(800));
    tx.commit().unwrap();
    child.wait_with_output().unwrap()
}

/// Grants the paytrack role what working in the bot's table needs (README).
fn grant_work(pg: &PgFixture) {
    pg.as_bot()
        .batch_execute(&format!(
            "GRANT INSERT, UPDATE, DELETE ON public.bookings TO {0};
             GRANT USAGE, UPDATE ON SEQUENCE public.bookings_id_seq TO {0};",
            pg.admin
        ))
        .unwrap();
}

#[test]
#[cfg_attr(
    not(pg_test_server),
    ignore = "needs PostgreSQL: PAYTRACK_TEST_PG names a server (bash .ci/run starts one)"
)]
fn pg_everyday_commands_agree_with_sqlite_on_the_same_file() {
    let Some(server) = crate::harness::pg_server() else {
        return;
    };
    let pg = PgFixture::new(&server);
    grant_work(&pg);
    pg.as_bot()
        .batch_execute("DELETE FROM public.bookings")
        .unwrap();
    pg.env.ok(&["init", "--adopt"]);
    let lite = Env::new();
    let sample = crate::harness::fixture("legacy-bookings.csv");
    let payments = crate::harness::fixture("payments.csv");
    for env in [&lite, &pg.env] {
        env.ok(&["bookings", "import", sample.to_str().unwrap()]);
        env.ok(&[
            "booking",
            "set-status",
            "398",
            "confirmed",
            "--reason",
            "paid",
        ]);
        env.run(&["payments", "import", payments.to_str().unwrap()]);
    }
    for args in [
        &["stats", "streams", "--csv"][..],
        &[
            "bookings", "list", "--status", "pending", "--csv", "--limit", "50",
        ][..],
        &["bookings", "list", "--search", "ольга", "--csv"][..],
        &[
            "bookings",
            "list",
            "--payment",
            "unpaid",
            "--csv",
            "--limit",
            "20",
        ][..],
        &["payments", "list", "--csv", "--all"][..],
        &["stats", "verify"][..],
    ] {
        let (a, b) = (lite.ok(args), pg.env.ok(args));
        assert_eq!(a, b, "{args:?} differs between SQLite and PostgreSQL");
    }
    pg.env.ok(&["audit", "verify"]);
    let stderr = pg.env.fails(&["demo"], code::DATABASE);
    assert!(stderr.contains("SQLite file only"), "{stderr}");
    assert!(!stderr.contains(PASSWORD));
}

#[test]
#[cfg_attr(
    not(pg_test_server),
    ignore = "needs PostgreSQL: PAYTRACK_TEST_PG names a server (bash .ci/run starts one)"
)]
fn pg_a_status_the_bot_changed_meanwhile_is_never_overwritten() {
    let Some(server) = crate::harness::pg_server() else {
        return;
    };
    let pg = PgFixture::new(&server);
    grant_work(&pg);
    pg.env.ok(&["init", "--adopt"]);
    // The bot cancels booking 2 in a transaction that is still open when
    // paytrack confirms it; paytrack's write waits for the row, then finds
    // the status it read is gone.
    let out = while_the_bot_writes(
        &pg,
        "UPDATE public.bookings SET confirmed = -1 WHERE id = 2",
        &["booking", "set-status", "2", "confirmed"],
    );
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert_eq!(out.status.code(), Some(code::EXPECTATION), "{stderr}");
    assert!(stderr.contains("changed under us"), "{stderr}");
    let status: i32 = pg
        .as_root()
        .query_one("SELECT confirmed FROM public.bookings WHERE id = 2", &[])
        .unwrap()
        .get(0);
    assert_eq!(status, -1, "the bot's cancellation stands");
    assert_eq!(pg.counters(), pg.recount());
}

/// Issue 26: `bookings edit` racing the bot on the same row. Before, it
/// compared only the status: the bot's rename was overwritten, and a status
/// the bot changed meanwhile left the edit undone yet audited, exit 0. Now
/// each is a lost race: exit 6 naming the booking, the bot's write stands,
/// and nothing is audited.
#[test]
#[cfg_attr(
    not(pg_test_server),
    ignore = "needs PostgreSQL: PAYTRACK_TEST_PG names a server (bash .ci/run starts one)"
)]
fn pg_an_edit_racing_the_bot_fails_loudly_and_the_bots_write_stands() {
    let Some(server) = crate::harness::pg_server() else {
        return;
    };
    let pg = PgFixture::new(&server);
    grant_work(&pg);
    pg.env.ok(&["init", "--adopt"]);
    for (id, bot_write) in [
        (
            1,
            "UPDATE public.bookings SET first_name = 'Bot' WHERE id = 1",
        ),
        (2, "UPDATE public.bookings SET confirmed = -1 WHERE id = 2"),
    ] {
        let before: String = pg
            .as_root()
            .query_one(
                "SELECT coalesce(first_name, '') FROM public.bookings WHERE id = $1",
                &[&id],
            )
            .unwrap()
            .get(0);
        // The bot's transaction is open when paytrack reads the booking;
        // paytrack's write waits for the row, then finds it changed.
        let id_text = id.to_string();
        let out = while_the_bot_writes(
            &pg,
            bot_write,
            &["bookings", "edit", &id_text, "--first-name", "Paytrack"],
        );
        let stderr = String::from_utf8_lossy(&out.stderr);
        assert_eq!(
            out.status.code(),
            Some(code::EXPECTATION),
            "{bot_write}: {stderr}"
        );
        assert!(
            stderr.contains(&format!("booking {id} changed")),
            "{stderr}"
        );
        let name: String = pg
            .as_root()
            .query_one(
                "SELECT coalesce(first_name, '') FROM public.bookings WHERE id = $1",
                &[&id],
            )
            .unwrap()
            .get(0);
        let expected = if id == 1 { "Bot" } else { before.as_str() };
        assert_eq!(
            name, expected,
            "{bot_write}: the bot's row is as the bot left it"
        );
        let edits: i64 = pg
            .as_root()
            .query_one(
                "SELECT count(*) FROM paytrack.audit_log WHERE action = 'booking.edited'",
                &[],
            )
            .unwrap()
            .get(0);
        assert_eq!(
            edits, 0,
            "{bot_write}: an edit that did not happen is not audited"
        );
    }
    assert_eq!(pg.counters(), pg.recount());
}

/// Issue 26: `users erase` racing the bot. The bot changes the student's
/// booking while paytrack erases it; the view's write function leaves the
/// row alone (a lost race), and before, erase still reported success with a
/// `user.erased` entry while the name stayed. Now: exit 6 naming the booking,
/// nothing erased and nothing audited; run again, it erases.
#[test]
#[cfg_attr(
    not(pg_test_server),
    ignore = "needs PostgreSQL: PAYTRACK_TEST_PG names a server (bash .ci/run starts one)"
)]
fn pg_an_erasure_racing_the_bot_fails_loudly_and_erases_on_a_rerun() {
    let Some(server) = crate::harness::pg_server() else {
        return;
    };
    let pg = PgFixture::new(&server);
    grant_work(&pg);
    pg.env.ok(&["init", "--adopt"]);
    let name_of = |pg: &PgFixture| -> Option<String> {
        pg.as_root()
            .query_one("SELECT first_name FROM public.bookings WHERE id = 2", &[])
            .unwrap()
            .get(0)
    };
    let erased = |pg: &PgFixture| -> i64 {
        pg.as_root()
            .query_one(
                "SELECT count(*) FROM paytrack.audit_log WHERE action = 'user.erased'",
                &[],
            )
            .unwrap()
            .get(0)
    };
    let out = while_the_bot_writes(
        &pg,
        "UPDATE public.bookings SET confirmed = -1 WHERE id = 2",
        &["users", "erase", "2", "--reason", "request", "--yes"],
    );
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert_eq!(out.status.code(), Some(code::EXPECTATION), "{stderr}");
    assert!(stderr.contains("booking 2 changed"), "{stderr}");
    assert_eq!(name_of(&pg).as_deref(), Some("Мария"), "nothing erased");
    assert_eq!(
        erased(&pg),
        0,
        "an erasure that did not happen is not audited"
    );
    pg.env
        .ok(&["users", "erase", "2", "--reason", "request", "--yes"]);
    assert_eq!(name_of(&pg), None, "erased on the rerun");
    assert_eq!(erased(&pg), 1);
}

#[test]
#[cfg_attr(
    not(pg_test_server),
    ignore = "needs PostgreSQL: PAYTRACK_TEST_PG names a server (bash .ci/run starts one)"
)]
fn pg_connection_errors_never_show_the_password() {
    let Some(server) = crate::harness::pg_server() else {
        return;
    };
    let pg = PgFixture::new(&server);
    let mut env = Env::empty();
    env.db = PathBuf::from(url_for(&server, &pg.admin, "no_such_database"));
    let stderr = env.fails(&["init"], code::DATABASE);
    assert!(stderr.contains("no_such_database"), "{stderr}");
    assert!(!stderr.contains("Sekr1t"), "{stderr}");
}

/// These need no server: refusals happen before or at connecting.
#[test]
fn postgres_urls_never_show_the_password_even_without_a_server() {
    let mut env = Env::empty();
    // Port 1 on localhost: nothing listens, the connection is refused.
    env.db = PathBuf::from(format!(
        "postgresql://admin:{PASSWORD}@127.0.0.1:1/school?connect_timeout=2"
    ));
    let stderr = env.fails(&["init"], code::DATABASE);
    assert!(
        stderr.contains("postgres://admin@127.0.0.1:1/school"),
        "{stderr}"
    );
    assert!(!stderr.contains("Sekr1t"), "{stderr}");
    // A bad URL: exit 3, the password not echoed.
    env.db = PathBuf::from(format!("postgres://admin:{PASSWORD}@h:port/school"));
    let stderr = env.fails(&["init"], code::BAD_INPUT);
    assert!(!stderr.contains("Sekr1t"), "{stderr}");
    // clap's help shows environment values unless told not to.
    env.db = PathBuf::from(format!("postgres://admin:{PASSWORD}@h/school"));
    for args in [
        &["--help"][..],
        &["init", "--help"][..],
        &["stats", "streams", "--help"][..],
    ] {
        let out = env.run(args);
        assert_eq!(out.status.code(), Some(0));
        assert_no_password(&out);
    }
}

#[test]
fn sqlite_refuses_the_postgres_only_commands() {
    if crate::harness::sqlite_only() {
        return; // SQLite-only: SQLite's refusal
    }
    let env = Env::new();
    let before = env.snapshot();
    let stderr = env.fails(&["uninstall", "--yes"], code::BAD_INPUT);
    assert!(stderr.contains("delete it"), "{stderr}");
    assert_eq!(env.snapshot(), before);
}

/// sslmode against the test cluster's TLS listener on 127.0.0.1, whose
/// certificate (from a throwaway CA) names only "localhost": `.ci/pg-cluster`
/// leaves the port and the CA in `<socket dir>/tls/`.
#[test]
#[cfg_attr(
    not(pg_test_server),
    ignore = "needs PostgreSQL: PAYTRACK_TEST_PG names a server (bash .ci/run starts one)"
)]
fn pg_sslmodes_verify_like_libpq() {
    let Some(server) = crate::harness::pg_server() else {
        return;
    };
    let info = paytrack::db::pg::conninfo::resolve(
        &server,
        &paytrack::db::pg::conninfo::ProcessEnvironment,
    )
    .unwrap();
    let tls = PathBuf::from(&info.host).join("tls");
    let Ok(port) = std::fs::read_to_string(tls.join("port")) else {
        assert!(
            std::env::var("CI").as_deref() != Ok("true"),
            "the test cluster has no TLS listener ({})",
            tls.display()
        );
        eprintln!("note: TLS test skipped: PAYTRACK_TEST_PG is not a .ci/pg-cluster server");
        return;
    };
    let ca = tls.join("ca.crt");
    let pg = PgFixture::new(&server);
    let url = |host: &str, mode: &str, root: Option<&std::path::Path>| {
        let root = root.map_or(String::new(), |r| format!("&sslrootcert={}", r.display()));
        format!(
            "postgres://{}:{PASSWORD}@{host}:{}/{}?sslmode={mode}{root}",
            pg.admin,
            port.trim(),
            pg.name
        )
    };
    // HOME is the empty temp dir: no ~/.postgresql/root.crt to fall back on.
    let mut env = Env::empty();
    let mut run = |db: String, code: i32| {
        env.db = PathBuf::from(db);
        let out = env.run(&["init"]);
        assert_no_password(&out);
        assert_eq!(
            out.status.code(),
            Some(code),
            "{}: {out:?}",
            env.db.display()
        );
        String::from_utf8_lossy(&out.stderr).into_owned()
    };
    // verify-full: the chain and the name.
    run(url("localhost", "verify-full", Some(&ca)), code::OK);
    let stderr = run(url("127.0.0.1", "verify-full", Some(&ca)), code::DATABASE);
    assert!(stderr.contains("not valid for name"), "{stderr}");
    // verify-ca: the chain only, so the IP passes.
    run(url("127.0.0.1", "verify-ca", Some(&ca)), code::OK);
    // A root that did not sign it fails both verifying modes.
    let stderr = run(
        url(
            "localhost",
            "verify-full",
            Some(std::path::Path::new("system")),
        ),
        code::DATABASE,
    );
    assert!(stderr.contains("UnknownIssuer"), "{stderr}");
    run(
        url(
            "127.0.0.1",
            "verify-ca",
            Some(std::path::Path::new("system")),
        ),
        code::DATABASE,
    );
    // verify modes need a root certificate and say where they looked.
    let stderr = run(url("localhost", "verify-full", None), code::DATABASE);
    assert!(stderr.contains(".postgresql/root.crt"), "{stderr}");
    // require and prefer encrypt without verifying, as libpq does; disable does not encrypt.
    run(url("127.0.0.1", "require", None), code::OK);
    run(url("127.0.0.1", "prefer", None), code::OK);
    run(url("127.0.0.1", "disable", None), code::OK);
}

/// A writer that cannot get paytrack's advisory lock within lock_timeout,
/// twice, gives up with exit 7 and changes nothing.
#[test]
#[cfg_attr(
    not(pg_test_server),
    ignore = "needs PostgreSQL: PAYTRACK_TEST_PG names a server (bash .ci/run starts one)"
)]
fn pg_a_held_write_lock_times_out_with_exit_7() {
    let Some(server) = crate::harness::pg_server() else {
        return;
    };
    let pg = PgFixture::new(&server);
    let mut holder = pg.as_root();
    let mut tx = holder.transaction().unwrap();
    tx.execute(
        "SELECT pg_advisory_xact_lock($1)",
        &[&paytrack::db::pg::WRITE_LOCK_KEY],
    )
    .unwrap();
    let mut env = Env::empty();
    // libpq's `options`, so the test waits 300 ms rather than paytrack's 10 s.
    env.db = PathBuf::from(format!(
        "{}?options=-c%20lock_timeout%3D300ms",
        pg.env.db.display()
    ));
    let started = std::time::Instant::now();
    let stderr = env.fails(&["init"], code::BUSY);
    assert!(stderr.contains("lock_timeout"), "{stderr}");
    // Two waits of lock_timeout: one retry before exit 7.
    assert!(started.elapsed() >= std::time::Duration::from_millis(600));
    assert!(started.elapsed() < std::time::Duration::from_secs(8));
    tx.rollback().unwrap();
    assert!(!pg.has_paytrack_schema(), "a timed-out init left a schema");
    env.ok(&["init"]);
}

/// A database whose LC_CTYPE cannot fold Cyrillic case gets a warning at init.
#[test]
#[cfg_attr(
    not(pg_test_server),
    ignore = "needs PostgreSQL: PAYTRACK_TEST_PG names a server (bash .ci/run starts one)"
)]
fn pg_init_warns_when_the_database_cannot_fold_cyrillic() {
    let Some(server) = crate::harness::pg_server() else {
        return;
    };
    let pg = PgFixture::new(&server);
    let out = pg.env.run(&["init"]);
    assert_eq!(out.status.code(), Some(0));
    assert!(!String::from_utf8_lossy(&out.stderr).contains("LC_CTYPE"));

    let name = format!("{}_c", pg.name);
    let mut root = client(&server, "postgres", "postgres");
    root.batch_execute(&format!(
        "CREATE DATABASE {name} TEMPLATE template0 LC_COLLATE 'C' LC_CTYPE 'C'"
    ))
    .unwrap();
    let mut env = Env::empty();
    env.db = PathBuf::from(url_for(&server, "postgres", &name));
    let out = env.run(&["init"]);
    root.batch_execute(&format!("DROP DATABASE {name} WITH (FORCE)"))
        .unwrap();
    assert_eq!(out.status.code(), Some(0), "{out:?}");
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert!(stderr.contains("LC_CTYPE is C"), "{stderr}");
}

#[test]
#[cfg_attr(
    not(pg_test_server),
    ignore = "needs PostgreSQL: PAYTRACK_TEST_PG names a server (bash .ci/run starts one)"
)]
fn pg_a_nul_character_is_bad_input_and_changes_nothing() {
    let Some(server) = crate::harness::pg_server() else {
        return;
    };
    let pg = PgFixture::new(&server);
    grant_work(&pg);
    pg.env.ok(&["init", "--adopt"]);
    let header = "id,user_id,username,first_name,course_id,course_stream,confirmed,created_at";
    let file = pg.env.write(
        "nul.csv",
        format!("{header}\n10,10,ok,Ольга,1,3rd_stream,1,2024-03-01 10:00:00+00\n11,11,bad,A\0B,1,3rd_stream,1,2024-03-01 10:00:00+00\n"),
    );
    let stderr = pg
        .env
        .fails(&["bookings", "import", &file], code::BAD_INPUT);
    assert!(stderr.contains("0x00"), "{stderr}");
    let rows: i64 = pg
        .as_root()
        .query_one("SELECT count(*) FROM public.bookings", &[])
        .unwrap()
        .get(0);
    assert_eq!(rows, 4, "nothing of the file was stored");
}

#[test]
#[cfg_attr(
    not(pg_test_server),
    ignore = "needs PostgreSQL: PAYTRACK_TEST_PG names a server (bash .ci/run starts one)"
)]
fn pg_adopt_without_counters_counts_live_and_says_so() {
    let Some(server) = crate::harness::pg_server() else {
        return;
    };
    let pg = PgFixture::new(&server);
    grant_work(&pg);
    let out = pg.env.run(&["init", "--adopt", "--no-counters"]);
    assert_eq!(out.status.code(), Some(0), "{out:?}");
    assert!(pg.triggers().is_empty(), "no trigger on the bot's table");
    pg.as_bot()
        .batch_execute(
            "INSERT INTO public.bookings (user_id, first_name, course_id, course_stream, confirmed)
             VALUES (8, 'New', 1, '3rd_stream', 2)",
        )
        .unwrap();
    let out = pg.env.run(&["stats", "streams", "--csv"]);
    assert_eq!(out.status.code(), Some(0), "{out:?}");
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert!(stderr.contains("counted live"), "{stderr}");
    let csv = String::from_utf8_lossy(&out.stdout);
    // 3rd_stream: the two the bot made at first and its new one, two confirmed.
    assert!(csv.contains(",3rd_stream,3rd_stream,3,2,1,0,"), "{csv}");
    let verify = pg.env.run(&["stats", "verify"]);
    assert_eq!(verify.status.code(), Some(0));
    assert!(String::from_utf8_lossy(&verify.stderr).contains("nothing to verify"));
    pg.env.fails(&["stats", "rebuild"], code::BAD_INPUT);
    // SQLite has no such choice.
    if !crate::harness::is_postgres() {
        Env::new().fails(&["init", "--adopt", "--no-counters"], code::BAD_INPUT);
    }
}

#[test]
#[cfg_attr(
    not(pg_test_server),
    ignore = "needs PostgreSQL: PAYTRACK_TEST_PG names a server (bash .ci/run starts one)"
)]
fn pg_adopt_by_the_tables_owner_creates_the_filter_indexes() {
    let Some(server) = crate::harness::pg_server() else {
        return;
    };
    let pg = PgFixture::new(&server);
    let mut env = Env::empty();
    env.db = PathBuf::from(url_for(&server, "postgres", &pg.name));
    let out = env.run(&["init", "--adopt"]);
    assert_eq!(out.status.code(), Some(0), "{out:?}");
    assert!(!String::from_utf8_lossy(&out.stderr).contains("no index"));
    let indexes: i64 = pg
        .as_root()
        .query_one(
            "SELECT count(*) FROM pg_indexes
              WHERE schemaname = 'public' AND tablename = 'bookings' AND indexname LIKE 'paytrack\\_%'",
            &[],
        )
        .unwrap()
        .get(0);
    // The four filters' and the trigram index --search looks names up in.
    assert_eq!(indexes, 5);
    // They are paytrack's: uninstall by the owner takes them away again.
    env.ok(&["uninstall", "--yes"]);
    let left: i64 = pg
        .as_root()
        .query_one(
            "SELECT count(*) FROM pg_indexes WHERE indexname LIKE 'paytrack\\_%'",
            &[],
        )
        .unwrap()
        .get(0);
    assert_eq!(left, 0);
    pg.as_bot()
        .batch_execute("INSERT INTO public.bookings (user_id, course_id) VALUES (9, 1)")
        .unwrap();
}

/// Issue 26: paytrack adding a booking while the bot inserts its own. The
/// bot's row takes the next value of its table's sequence; before, paytrack
/// took MAX(id) + 1 (the same id, not yet visible), waited on the bot's
/// insert and then failed with a raw duplicate-key error. Now it takes the
/// next free id from the same sequence, and the bot's next insert still fits.
#[test]
#[cfg_attr(
    not(pg_test_server),
    ignore = "needs PostgreSQL: PAYTRACK_TEST_PG names a server (bash .ci/run starts one)"
)]
fn pg_an_add_racing_the_bots_insert_takes_the_next_free_id() {
    let Some(server) = crate::harness::pg_server() else {
        return;
    };
    let pg = PgFixture::new(&server);
    grant_work(&pg);
    pg.env.ok(&["init", "--adopt"]);
    pg.env.ok(&["courses", "add", "1", "--name", "Вайб кодинг"]);
    pg.env
        .ok(&["streams", "add", "3rd_stream", "--course", "1"]);
    let out = while_the_bot_writes(
        &pg,
        "INSERT INTO public.bookings (user_id, username, first_name, course_id, course_stream)
         VALUES (50, 'bot_user', 'Бот', 1, '3rd_stream')",
        &[
            "bookings",
            "add",
            "--user-id",
            "60",
            "--username",
            "admin_added",
            "--course",
            "1",
            "--stream",
            "3rd_stream",
        ],
    );
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert_eq!(out.status.code(), Some(code::OK), "{stderr}");
    let id: i64 = String::from_utf8_lossy(&out.stdout).trim().parse().unwrap();
    let owners = |pg: &PgFixture| -> Vec<(i32, i64)> {
        pg.as_root()
            .query(
                "SELECT id, user_id FROM public.bookings WHERE id > 4 ORDER BY id",
                &[],
            )
            .unwrap()
            .iter()
            .map(|r| (r.get(0), r.get(1)))
            .collect()
    };
    assert_eq!(owners(&pg), vec![(5, 50), (id as i32, 60)]);
    // The bot's sequence is past paytrack's id: its next insert fits.
    pg.as_bot()
        .batch_execute(
            "INSERT INTO public.bookings (user_id, username, course_id, course_stream)
             VALUES (70, 'later', 1, '3rd_stream')",
        )
        .unwrap();
    assert_eq!(owners(&pg).len(), 3);
    assert_eq!(pg.counters(), pg.recount());
}

/// Issue 26: an import whose file holds an id the bot is inserting at that
/// moment. Before: a raw duplicate-key error from the server. Now the import
/// stops cleanly (exit 6 naming the booking, nothing imported); run again,
/// the booking is the bot's and belongs to someone else, so the import
/// reports the conflict and never moves it to the file's person.
#[test]
#[cfg_attr(
    not(pg_test_server),
    ignore = "needs PostgreSQL: PAYTRACK_TEST_PG names a server (bash .ci/run starts one)"
)]
fn pg_an_import_racing_the_bots_insert_of_the_same_id_conflicts_cleanly() {
    let Some(server) = crate::harness::pg_server() else {
        return;
    };
    let pg = PgFixture::new(&server);
    grant_work(&pg);
    pg.env.ok(&["init", "--adopt"]);
    let file = pg.env.write(
        "bookings.csv",
        "id,user_id,username,first_name,course_id,course_stream,confirmed,created_at\n\
         5,61,from_file,Файл,1,3rd_stream,1,2024-12-01 10:00:00+03\n\
         6,62,also_file,Второй,1,3rd_stream,1,2024-12-01 11:00:00+03\n",
    );
    let out = while_the_bot_writes(
        &pg,
        "INSERT INTO public.bookings (user_id, username, first_name, course_id, course_stream)
         VALUES (50, 'bot_user', 'Бот', 1, '3rd_stream')",
        &["bookings", "import", &file],
    );
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert_eq!(out.status.code(), Some(code::EXPECTATION), "{stderr}");
    assert!(stderr.contains("booking 5"), "{stderr}");
    assert!(!stderr.contains("duplicate key"), "{stderr}");
    let rows = |pg: &PgFixture| -> Vec<(i32, i64)> {
        pg.as_root()
            .query(
                "SELECT id, user_id FROM public.bookings WHERE id > 4 ORDER BY id",
                &[],
            )
            .unwrap()
            .iter()
            .map(|r| (r.get(0), r.get(1)))
            .collect()
    };
    assert_eq!(rows(&pg), vec![(5, 50)], "nothing imported");
    let out = pg.env.run(&["bookings", "import", &file]);
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert_eq!(out.status.code(), Some(code::ATTENTION), "{stderr}");
    assert_eq!(
        rows(&pg),
        vec![(5, 50), (6, 62)],
        "the bot's booking 5 stays the bot's"
    );
    assert_eq!(pg.counters(), pg.recount());
}

#[test]
#[cfg_attr(
    not(pg_test_server),
    ignore = "needs PostgreSQL: PAYTRACK_TEST_PG names a server (bash .ci/run starts one)"
)]
fn pg_search_finds_names_through_trigram_indexes() {
    let Some(server) = crate::harness::pg_server() else {
        return;
    };
    let pg = PgFixture::new(&server);
    let mut env = Env::empty();
    env.db = PathBuf::from(url_for(&server, "postgres", &pg.name));
    env.ok(&["init", "--adopt"]);
    pg.as_bot()
        .batch_execute(
            "INSERT INTO public.bookings (user_id, username, first_name, course_id, confirmed)
             VALUES (71, 'petr_e', 'Пётр ЁЛКИН', 1, 1), (72, NULL, 'Anna 100%', 1, 1)",
        )
        .unwrap();
    // Migration 12 installed pg_trgm; init indexed paytrack's fold and the bot's names.
    let indexes: i64 = pg
        .as_root()
        .query_one(
            "SELECT count(*) FROM pg_indexes
              WHERE indexname IN ('paytrack_bookings_search', 'booking_state_search')",
            &[],
        )
        .unwrap()
        .get(0);
    assert_eq!(indexes, 2);
    let scans = || -> i64 {
        pg.as_root()
            .query_one(
                "SELECT coalesce(sum(idx_scan), 0)::bigint FROM pg_stat_user_indexes
                  WHERE indexrelname = 'paytrack_bookings_search'",
                &[],
            )
            .unwrap()
            .get(0)
    };
    // A handful of rows is read faster without an index: the planner is
    // told to use one where it can, as it does at scale.
    let url = url_for(&server, "postgres", &pg.name);
    let options = if url.contains('?') { "&" } else { "?" };
    env.db = PathBuf::from(format!("{url}{options}options=-c%20enable_seqscan%3Doff"));
    let before = scans();
    let found = env.ok(&["bookings", "list", "--search", "ёлкин", "--csv"]);
    assert_eq!(csv_rows(&found).len(), 2, "{found}");
    assert!(found.contains("Пётр ЁЛКИН"), "{found}");
    // LIKE's own characters in the text are searched as themselves.
    let percent = env.ok(&["bookings", "list", "--search", "a 100%", "--csv"]);
    assert!(percent.contains("Anna 100%"), "{percent}");
    assert_eq!(
        csv_rows(&env.ok(&["bookings", "list", "--search", "a 10%0", "--csv"])).len(),
        1
    );
    let miss = env.run(&["bookings", "list", "--search", "zzqxj"]);
    assert_eq!(miss.status.code(), Some(0));
    assert!(String::from_utf8_lossy(&miss.stderr).contains("no bookings match"));
    // Those searches went through the index (the server counts its scans
    // when each paytrack session ends; give the counts a moment to land).
    let mut after = scans();
    for _ in 0..20 {
        if after > before {
            break;
        }
        std::thread::sleep(std::time::Duration::from_millis(100));
        after = scans();
    }
    assert!(after > before, "no scan of paytrack_bookings_search");
}
