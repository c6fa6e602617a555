//! Every clap type of paytrack. The `///` comments are the `--help` text.

use std::path::PathBuf;

use clap::{Args, Parser, Subcommand};

use crate::domain::booking::{PaymentState, Sort, UserRef};
use crate::domain::payment::PaymentOutcome;
use crate::domain::Status;
use crate::output::{ColorChoice, Format, Lang};

const ROOT_AFTER_HELP: &str = "\
Environment:
  PAYTRACK_DB      database file or postgres:// URL (--db)
  PAYTRACK_ACTOR   who acts, for the audit log (--actor)
  PAYTRACK_LANG    en or ru (--lang); default from LC_ALL, LC_MESSAGES, LANG
  PAYTRACK_TZ      display time zone (--tz), e.g. Europe/Moscow; default TZ
  PAYTRACK_COLOR   auto, always or never (--color)
  PAYTRACK_WIDE    true: never truncate tables (--wide)
  NO_COLOR         set: no colour; CLICOLOR_FORCE=1 forces it; TERM=dumb disables it
  COLUMNS          table width on a terminal (default: the terminal's width)

Examples (cron):
  paytrack bookings list --status pending
  paytrack booking set-status 42 confirmed
  paytrack stats streams --csv";

/// The heading of the flags every command takes: `-h` lists a command's own
/// options first, under "Options", and these after them.
const GLOBAL_OPTIONS: &str = "Global options";

/// Payment status of course bookings, over one SQLite file.
///
/// Statuses: confirmed (2, paid), pending (1), cancelled (-1).
#[derive(Debug, Parser)]
#[command(name = "paytrack", version, after_help = ROOT_AFTER_HELP, max_term_width = 100)]
pub struct Cli {
    /// Database file [default: $XDG_DATA_HOME/paytrack/paytrack.db], or a postgres:// URL. A named file must exist (see `init`).
    // hide_env_values: a URL may hold a password, and help must never print it.
    #[arg(long, global = true, help_heading = GLOBAL_OPTIONS, env = "PAYTRACK_DB", hide_env_values = true, value_name = "PATH")]
    pub db: Option<PathBuf>,

    /// When to colour: auto colours a terminal (stdout and stderr each judged on their own) unless NO_COLOR is set or TERM=dumb.
    #[arg(long, global = true, help_heading = GLOBAL_OPTIONS, env = "PAYTRACK_COLOR", value_enum, default_value_t = ColorChoice::Auto)]
    pub color: ColorChoice,

    /// Language of tables and messages [default: from LC_ALL/LC_MESSAGES/LANG].
    #[arg(long, global = true, help_heading = GLOBAL_OPTIONS, env = "PAYTRACK_LANG", value_enum)]
    pub lang: Option<Lang>,

    /// Time zone for showing and reading dates, e.g. Europe/Moscow [default: the system's, TZ].
    #[arg(long, global = true, help_heading = GLOBAL_OPTIONS, env = "PAYTRACK_TZ", value_name = "ZONE")]
    pub tz: Option<String>,

    /// Who is making changes, for the audit log [env: PAYTRACK_ACTOR=] [default: the OS user].
    // The variable is read in `commands::actor`, not by clap: `audit tail
    // --actor` is a filter with the same name, and clap would fill that
    // filter from the variable too, hiding everyone else's entries.
    #[arg(long, global = true, help_heading = GLOBAL_OPTIONS, value_name = "NAME")]
    pub actor: Option<String>,

    /// Show every column in full: no truncation (up to 4096 columns a cell), no wrapping.
    #[arg(long, global = true, help_heading = GLOBAL_OPTIONS, env = "PAYTRACK_WIDE")]
    pub wide: bool,

    #[command(subcommand)]
    pub command: Command,
}

#[derive(Debug, Subcommand)]
// Arguments are defined when the subcommand is used (clap's `defer`): building
// the whole tree was 10% of a one-page `bookings list` (issue 19).
#[command(defer = true)]
pub enum Command {
    /// Create a database (parent directories included); a no-op on an up-to-date one.
    #[command(
        after_help = "Examples:\n  paytrack init\n  paytrack --db /srv/paytrack/school.db init\n  paytrack --db postgres://admin@db.example.org/school init --adopt"
    )]
    Init {
        /// Add paytrack's tables to another application's SQLite file (refused
        /// otherwise). Its own tables are left as they are; a file with a table
        /// of the same name as one of paytrack's, or its own schema version, is refused.
        /// On a postgres:// URL: check the bot's public.bookings and install
        /// paytrack's counter triggers on it.
        #[arg(long)]
        adopt: bool,
        /// With --adopt on a postgres:// URL: install no counter triggers on the
        /// bot's table. `stats` then counts live with a GROUP BY over the
        /// bookings (slower on a big table) and says so.
        #[arg(long, requires = "adopt")]
        no_counters: bool,
        /// On a postgres:// URL: create paytrack's schema, tables and functions
        /// as this (NOLOGIN) role, which the connecting role must be a member
        /// of, so the role paytrack's commands connect as owns nothing (see
        /// README "Running against PostgreSQL" → Roles). An existing schema
        /// must belong to it.
        #[arg(long, value_name = "ROLE")]
        owner_role: Option<String>,
        /// On a postgres:// URL: the role paytrack's commands connect as, given
        /// only what they need: it appends to the audit log but cannot change
        /// it. Repeatable; later `init`s grant the roles named before again.
        #[arg(long, value_name = "ROLE")]
        login_role: Vec<String>,
    },
    /// Fill a database with realistic sample bookings, to try paytrack at once.
    #[command(
        after_help = "Only a new or empty database (or one holding only demo rows) is filled;\na database with real bookings is refused (exit 3).\n\nExamples:\n  paytrack --db demo.db demo\n  paytrack --db /tmp/big.db demo --bookings 1000000"
    )]
    Demo(DemoArgs),
    /// Find, show, export, import and change bookings (`booking` is the same command).
    #[command(
        subcommand,
        visible_alias = "booking",
        after_help = "Examples:\n  paytrack bookings list --status pending\n  paytrack booking show 42\n  paytrack booking set-status 42 confirmed\n  paytrack bookings export > bookings.csv"
    )]
    Bookings(BookingsCommand),
    /// Per course and stream numbers, for people and cron jobs.
    #[command(
        subcommand,
        after_help = "Examples:\n  paytrack stats streams\n  paytrack stats streams --csv"
    )]
    Stats(StatsCommand),
    /// The audit log: who changed what, when, and proof it was not rewritten.
    #[command(
        subcommand,
        after_help = "Examples:\n  paytrack audit tail -n 50\n  paytrack audit verify"
    )]
    Audit(AuditCommand),
    /// Messages to students: see the queue, deliver what is due (by a command or Telegram).
    #[command(
        subcommand,
        after_help = "Examples:\n  paytrack outbox list --status failed\n  paytrack outbox drain --telegram"
    )]
    Outbox(OutboxCommand),
    /// Reconcile a payment provider's or bank's export with the bookings; list payments.
    #[command(
        subcommand,
        after_help = "Examples:\n  paytrack payments import yookassa.csv\n  paytrack payments list --attention"
    )]
    Payments(PaymentsCommand),
    /// The stream catalogue: names, prices, capacities; confirmed members of a stream.
    #[command(
        subcommand,
        after_help = "Examples:\n  paytrack streams list\n  paytrack streams add 9th_stream --course 1 --name \"9-й поток\" --price 30000 --currency RUB --capacity 40\n  paytrack streams members 8th_stream --csv"
    )]
    Streams(StreamsCommand),
    /// The course catalogue: names and confirmation message templates.
    #[command(
        subcommand,
        after_help = "Examples:\n  paytrack courses list\n  paytrack courses edit 5 --name \"Вайб кодинг 2.0\""
    )]
    Courses(CoursesCommand),
    /// Students (Telegram users): one person's whole story; block and unblock; erase their data on request.
    #[command(
        subcommand,
        after_help = "Examples:\n  paytrack users show 123456789\n  paytrack users show @olga --json\n  paytrack users block 123456789 --reason \"asked not to be messaged\"\n  paytrack users unblock 123456789 --reason \"unblocked the bot\"\n  paytrack users erase 123456789 --reason \"request of 2025-03-01\" --dry-run"
    )]
    Users(UsersCommand),
    /// Take back one operation (one write command): its status changes, edits and added bookings.
    #[command(
        after_help = "Every write command ends with `operation OP; undo with paytrack undo OP` on stderr;\n\
`audit tail` shows operation ids too. The undo is all or nothing, recorded as forced changes\n\
with the reason \"undo of OP\". It refuses (exit 6, listing them) when a booking was changed\n\
again since. Undoing a confirmation withdraws its message if it was not sent yet. Payments\n\
stay recorded, rows an import inserted stay, catalogue edits stay.\n\n\
Examples:\n  paytrack undo 7f3a9c01 --dry-run\n  paytrack undo 7f3a9c01"
    )]
    Undo(UndoArgs),
    // --- issue 20 (personal data): `retention apply` (`users erase` is in `users`).
    /// Keep personal data no longer than needed: pseudonymise old bookings, clear old messages.
    #[command(
        subcommand,
        after_help = "Examples:\n  paytrack retention apply --bookings-older-than 3y --messages-older-than 1y --dry-run\n  paytrack retention apply --bookings-older-than 3y --messages-older-than 1y"
    )]
    Retention(RetentionCommand),
    /// Check everything: file integrity, foreign keys, stream counters, the
    /// audit chain, the search index, the outbox. Exit 9 with one line per finding; fit for cron.
    #[command(
        after_help = "Examples:\n  paytrack check\n  paytrack check --quick   # SQLite's quick_check instead of the full integrity_check\n\nExit codes: 0 nothing found; 9 findings (one line each on stdout); 8 the file cannot be opened."
    )]
    Check(CheckArgs),
    /// Copy the database to FILE while others keep working (SQLite's online
    /// backup), then run `check` on the copy. The copy is private (0600).
    #[command(
        after_help = "Examples:\n  paytrack backup /srv/backups/paytrack-$(date +%F).db\n  paytrack backup copy.db --force   # replace an earlier backup\n\nRestore: see README, \"Backup and restore\"."
    )]
    Backup(BackupArgs),
    /// Print a shell completion script.
    #[command(
        after_help = "Examples:\n  paytrack completions bash > ~/.local/share/bash-completion/completions/paytrack\n  paytrack completions zsh > ~/.zfunc/_paytrack\n  paytrack completions fish > ~/.config/fish/completions/paytrack.fish\n  paytrack completions powershell >> $PROFILE"
    )]
    Completions {
        #[arg(value_enum)]
        shell: clap_complete::Shell,
    },
    /// Print the manual page (roff) on stdout.
    #[command(
        after_help = "Examples:\n  paytrack man > ~/.local/share/man/man1/paytrack.1\n  paytrack man | man -l -"
    )]
    Man,
    /// PostgreSQL only: remove paytrack's `paytrack` schema and its triggers on the bot's table.
    #[command(
        after_help = "Examples:\n  paytrack --db postgres://admin@db.example.org/school uninstall --yes"
    )]
    Uninstall(UninstallArgs),
}

#[derive(Debug, Args)]
pub struct UninstallArgs {
    /// Really remove it (the bot's tables and rows are never touched).
    #[arg(long)]
    pub yes: bool,
}

#[derive(Debug, Subcommand)]
// Arguments are defined when the subcommand is used (clap's `defer`): building
// the whole tree was 10% of a one-page `bookings list` (issue 19).
#[command(defer = true)]
pub enum UsersCommand {
    /// Every booking of the person with status, payments, messages, blocked state and last audit entries.
    #[command(
        after_help = "Examples:\n  paytrack users show 123456789\n  paytrack users show @olga --json"
    )]
    Show {
        /// Telegram user id or @username.
        user: UserRef,
        /// How many audit entries to show.
        #[arg(long, default_value_t = 20)]
        history: u64,
        #[command(flatten)]
        output: OutputArgs,
    },
    /// Stop messaging a student (their queued messages fail instead of going out); audited.
    #[command(
        after_help = "Example:\n  paytrack users block 123456789 --reason \"asked not to be messaged\""
    )]
    Block {
        /// Telegram user id or @username (of a booking); an unknown person is refused.
        user: UserRef,
        /// Why; stored in the audit log.
        #[arg(long)]
        reason: String,
    },
    /// Message a student again: their queued messages, and those held by the block, go out again.
    #[command(
        after_help = "Example:\n  paytrack users unblock 123456789 --reason \"unblocked the bot\""
    )]
    Unblock {
        /// Telegram user id or @username (of a booking); an unknown person is refused.
        user: UserRef,
        /// Why; stored in the audit log.
        #[arg(long)]
        reason: String,
    },
    /// Erase what identifies a person: names, search text, payment descriptions,
    /// message bodies, audit values. Ids, statuses, amounts and dates stay.
    #[command(
        after_help = "The person's names become a stable pseudonym (erased-<hash>), message bodies\nare emptied, undelivered messages to them are cancelled, and the personal values of\ntheir audit entries are erased (the chain still verifies). One audit entry\nrecords the user id and the reason. All or nothing.\n\nExamples:\n  paytrack users erase 123456789 --reason \"request of 2025-03-01\" --dry-run\n  paytrack users erase 123456789 --reason \"request of 2025-03-01\" --yes"
    )]
    Erase(UsersEraseArgs),
}

#[derive(Debug, Args)]
pub struct UndoArgs {
    /// Operation id, or a unique prefix of it (at least 4 hex digits).
    pub operation: String,
    /// Show what would be undone; write nothing.
    #[arg(long)]
    pub dry_run: bool,
}

#[derive(Debug, Args)]
pub struct DemoArgs {
    /// How many bookings to generate.
    #[arg(long, default_value_t = 3000, value_parser = clap::value_parser!(u64).range(1..=100_000_000))]
    pub bookings: u64,
    /// Seed for the generator (same seed, same data).
    #[arg(long, default_value_t = 1)]
    pub seed: u64,
}

#[derive(Debug, Subcommand)]
// Arguments are defined when the subcommand is used (clap's `defer`): building
// the whole tree was 10% of a one-page `bookings list` (issue 19).
#[command(defer = true)]
pub enum BookingsCommand {
    /// List bookings, newest first.
    #[command(
        after_help = "Examples:\n  paytrack bookings list --status pending\n  paytrack bookings list --stream 8th_stream --since 7d --csv\n  paytrack bookings list --search ольга --limit 20\n  paytrack bookings list --status pending --cursor 1234   # the next page"
    )]
    List(ListArgs),
    /// Show one booking with its payments and audit history.
    #[command(
        after_help = "Examples:\n  paytrack booking show 42\n  paytrack booking show 42 --json"
    )]
    Show {
        /// Booking id.
        #[arg(value_parser = booking_id)]
        id: i64,
        #[command(flatten)]
        output: OutputArgs,
        #[command(flatten)]
        privacy: RedactArgs,
    },
    /// Stream matching bookings as CSV or JSONL, in the columns `import` reads.
    #[command(
        after_help = "Examples:\n  paytrack bookings export > bookings.csv\n  paytrack bookings export --status confirmed --format jsonl\n  paytrack bookings export --redact > shareable.csv"
    )]
    Export(ExportArgs),
    /// Load the old system's export (PostgreSQL `\\copy bookings TO ... CSV HEADER`), all rows or none.
    #[command(
        after_help = "A re-import is a safe sync: where the file has nothing new since the last import,\n\
paytrack's changes (payments, admins) stand; where the file changed a status the rules refuse\n\
(confirmed → pending, cancelled → confirmed, confirmed → cancelled without --reason), it is not\n\
applied but reported as a conflict (exit 10; --report FILE lists them as CSV).\n\n\
Examples:\n  paytrack bookings import legacy-bookings.csv\n  paytrack bookings import legacy-bookings.csv --dry-run\n  paytrack bookings import legacy-bookings.csv --report conflicts.csv || alert\n  paytrack bookings import legacy-bookings.csv --force --reason \"the old system is right\""
    )]
    Import(ImportArgs),
    /// Change the payment status of one booking, a list of ids, or every booking matching a filter.
    #[command(
        allow_negative_numbers = true,
        after_help = "Examples:\n  paytrack booking set-status 42 confirmed\n  paytrack booking set-status 42 confirmed --payment-ref pay_1 --amount 30000 --currency RUB\n  paytrack booking set-status 42 cancelled --reason \"refund requested\"\n  paytrack booking set-status 42 confirmed --expect pending --json\n  paytrack bookings set-status --ids-from paid.txt --to confirmed\n  paytrack bookings set-status --status pending --stream 8th_stream --older-than 7d --to cancelled --reason unpaid --yes"
    )]
    SetStatus(SetStatusArgs),
    /// Add a booking (for the bot, other programs and admins); prints its id.
    #[command(
        allow_negative_numbers = true,
        after_help = "The course and stream must be in the catalogue (exit 4 names the closest match;\n\
--create-stream adds a missing stream). A stream with no seats left is refused (exit 5)\n\
unless --force --reason. --key makes a retry safe: the same key again prints the same\n\
booking, exit 0, and writes nothing.\n\n\
--json - reads one JSON object per line from stdin and adds them all in one transaction\n\
(a bad line is named and nothing is added); fields: user_id, username, first_name, course,\n\
stream, referral, discount, status, created_at, key. It prints one JSON line per booking.\n\n\
Examples:\n  paytrack bookings add --user-id 123 --username @olga --first-name Ольга --course 1 --stream 8th_stream\n  paytrack bookings add --user-id 123 --course 1 --stream 8th_stream --key tg-update-8812 --json\n  bot-export | paytrack bookings add --json -"
    )]
    Add(AddArgs),
    /// Fix a booking by hand: move it to another stream or course, change discount, referral or names.
    #[command(
        after_help = "A transfer keeps the booking's status, payments and history; the stream counters move\n\
in the same transaction. A full target stream is refused (exit 5) unless --force --reason.\n\
An empty value clears a text field (--referral \"\"); --discount none clears the discount.\n\n\
Examples:\n  paytrack bookings edit 42 --stream 9th_stream\n  paytrack bookings edit 42 --stream 9th_stream --expect-stream 8th_stream --dry-run\n  paytrack bookings edit 42 --discount 10 --referral FRIEND10\n  paytrack bookings edit --ids-from group.txt --stream 9th_stream"
    )]
    Edit(EditArgs),
    /// Queue a payment reminder for each matching booking not reminded within --every (blocked students skipped).
    #[command(
        after_help = "The text is the course's reminder template (`courses template ID --kind reminder`);\n\
a reminder still unsent is withdrawn when its booking is paid or cancelled.\n\n\
Examples:\n  paytrack bookings remind --older-than 2d --dry-run\n  paytrack bookings remind --older-than 2d --stream 8th_stream --every 3d\n  0 10 * * *  paytrack --db /srv/paytrack.db bookings remind --older-than 2d --every 3d"
    )]
    Remind(RemindArgs),
    /// Create a payment at an online provider for what a booking owes; print its page's URL.
    ///
    /// The amount is the price less the discount less what was received. The booking id
    /// travels in the order id / metadata, so the provider's notification to `payments serve`
    /// confirms it. Settings and secrets come from the environment (see README).
    #[command(
        after_help = "Examples:\n  paytrack bookings pay-link 42 --provider yookassa --return-url https://t.me/school_bot\n  paytrack bookings pay-link 42 --provider tinkoff --json"
    )]
    PayLink(crate::commands::online::PayLinkArgs),
}

#[derive(Debug, Args)]
pub struct RemindArgs {
    /// Only bookings in this status.
    #[arg(
        long = "status",
        value_enum,
        ignore_case = true,
        value_name = "STATUS",
        default_value = "pending"
    )]
    pub status: Status,
    /// Only bookings paytrack has known for longer than this (2d, 36h, 1w): since their
    /// first import, or their created_at when no import brought them.
    #[arg(long, value_name = "AGE")]
    pub older_than: String,
    /// Only this stream.
    #[arg(long)]
    pub stream: Option<String>,
    /// Only this course.
    #[arg(long)]
    pub course: Option<i64>,
    /// Skip a booking that got a reminder queued within this long (3d, 12h).
    #[arg(long, value_name = "AGE", default_value = "3d")]
    pub every: String,
    /// Count --older-than from the booking's created_at (the old system's time for an
    /// imported booking) instead of from when paytrack first knew it (its first import).
    #[arg(long)]
    pub by_created_at: bool,
    /// Queue nothing, and exit 10 naming the count, when more than N reminders would go out.
    #[arg(long, value_name = "N")]
    pub max: Option<u64>,
    /// Show who would get a reminder; queue nothing.
    #[arg(long)]
    pub dry_run: bool,
    /// Print the result as JSON on stdout.
    #[arg(long)]
    pub json: bool,
}

// Filters shared by `list`, `export` and bulk `set-status`.
#[derive(Debug, Args, Clone, Default)]
pub struct FilterArgs {
    /// Status: confirmed, pending, cancelled or all (also 2, 1, -1, paid, canceled).
    #[arg(long, value_parser = StatusFilterParser, allow_hyphen_values = true, hide_possible_values = true)]
    pub status: Option<StatusFilter>,
    /// Course id.
    #[arg(long)]
    pub course: Option<i64>,
    /// Stream code, e.g. 8th_stream ("" for bookings without a stream).
    #[arg(long)]
    pub stream: Option<String>,
    /// Telegram user id or @username.
    #[arg(long)]
    pub user: Option<UserRef>,
    /// Referral code.
    #[arg(long)]
    pub referral: Option<String>,
    /// Created at or after: 2024-12-01 or 01.12.2024, RFC 3339, today, yesterday, 7d, 24h.
    #[arg(long, value_name = "WHEN")]
    pub since: Option<String>,
    /// Created before (same forms as --since).
    #[arg(long, value_name = "WHEN")]
    pub until: Option<String>,
    /// Username or first name contains this text (any case, accents and ё/е ignored; @user finds the username).
    #[arg(long)]
    pub search: Option<String>,
    /// Money state from recorded payments.
    #[arg(long, value_enum)]
    pub payment: Option<PaymentState>,
}

/// `--status all` or one status.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum StatusFilter {
    All,
    Only(Status),
}

/// Parses `--status` as `status_filter` does, and offers the status names to
/// shell completion (a plain function parser would complete file names).
#[derive(Debug, Clone, Copy)]
struct StatusFilterParser;

impl clap::builder::TypedValueParser for StatusFilterParser {
    type Value = StatusFilter;

    fn parse_ref(
        &self,
        cmd: &clap::Command,
        arg: Option<&clap::Arg>,
        value: &std::ffi::OsStr,
    ) -> Result<StatusFilter, clap::Error> {
        let text = value.to_string_lossy();
        status_filter(&text).map_err(|message| {
            let flag = arg.map_or_else(|| "--status".to_string(), ToString::to_string);
            clap::Error::raw(
                clap::error::ErrorKind::InvalidValue,
                format!("invalid value '{text}' for '{flag}': {message}\n"),
            )
            .with_cmd(cmd)
        })
    }

    fn possible_values(
        &self,
    ) -> Option<Box<dyn Iterator<Item = clap::builder::PossibleValue> + '_>> {
        Some(Box::new(
            ["confirmed", "pending", "cancelled", "all"]
                .into_iter()
                .map(clap::builder::PossibleValue::new),
        ))
    }
}

fn status_filter(text: &str) -> Result<StatusFilter, String> {
    if text.eq_ignore_ascii_case("all") {
        return Ok(StatusFilter::All);
    }
    text.parse::<Status>()
        .map(StatusFilter::Only)
        .map_err(|_| format!("[possible values: confirmed, pending, cancelled, all; or 2, 1, -1, paid, canceled] got '{}'", crate::output::sanitize::shown(text)))
}

/// A booking id: a positive 64-bit integer.
pub fn booking_id(text: &str) -> Result<i64, String> {
    match text.trim().parse::<i64>() {
        Ok(id) if id > 0 => Ok(id),
        Ok(_) => Err("a booking id is a positive number".into()),
        Err(_) => Err(format!(
            "'{}' is not a booking id (a positive 64-bit number)",
            crate::output::sanitize::shown(text)
        )),
    }
}

// `--format` with its `--csv` / `--json` shorthands, the same on every command.
#[derive(Debug, Args, Clone, Default)]
pub struct OutputArgs {
    /// Output format: table for people; csv, json, jsonl for scripts.
    #[arg(long, value_enum)]
    pub format: Option<Format>,
    /// Same as --format csv.
    #[arg(long, conflicts_with_all = ["format", "json"])]
    pub csv: bool,
    /// Same as --format json.
    #[arg(long, conflicts_with = "format")]
    pub json: bool,
    /// CSV cells exactly as stored: no protection against spreadsheet formulas (for machines).
    #[arg(long)]
    pub raw: bool,
}

impl OutputArgs {
    /// The chosen format (`default` when no flag says) and the run's output
    /// settings with `--raw` applied.
    pub fn resolve(
        &self,
        out: &crate::output::Output,
        default: Format,
    ) -> (Format, crate::output::Output) {
        let mut out = out.clone();
        out.raw_csv = self.raw;
        (
            crate::output::pick_format(self.format, self.csv, self.json, default),
            out,
        )
    }
}

#[derive(Debug, Args)]
pub struct ListArgs {
    #[command(flatten)]
    pub filter: FilterArgs,
    /// Order of rows.
    #[arg(long, value_enum, default_value_t = Sort::Newest)]
    pub sort: Sort,
    /// How many rows to show.
    #[arg(long, default_value_t = 50)]
    pub limit: u64,
    /// Show every matching row.
    #[arg(long, conflicts_with = "limit")]
    pub all: bool,
    /// Start after this booking id (keyset pagination; with --sort newest|oldest).
    #[arg(long, value_name = "ID", conflicts_with = "cursor")]
    pub after: Option<i64>,
    /// Start after this cursor, as printed under the previous page.
    #[arg(long)]
    pub cursor: Option<String>,
    #[command(flatten)]
    pub output: OutputArgs,
    #[command(flatten)]
    pub privacy: RedactArgs,
}

#[derive(Debug, Args)]
pub struct ExportArgs {
    #[command(flatten)]
    pub filter: FilterArgs,
    /// csv (the default) or jsonl.
    #[arg(long, value_enum, default_value_t = Format::Csv)]
    pub format: Format,
    /// Write to this file instead of stdout.
    #[arg(long, short)]
    pub output: Option<PathBuf>,
    /// Leave out usernames and first names, for sharing.
    #[arg(long)]
    pub redact: bool,
    /// CSV cells exactly as stored (no formula protection); use when the file goes to a machine.
    #[arg(long)]
    pub raw: bool,
    /// Encrypt the output for this age recipient (a public key `age1…`; repeat for several).
    /// Decrypt with `age -d -i key.txt FILE`.
    #[arg(long, value_name = "RECIPIENT")]
    pub encrypt_to: Vec<String>,
    /// Replace the --output file if it exists (only a regular file that is not a database).
    #[arg(long, requires = "output")]
    pub force: bool,
}

#[derive(Debug, Args)]
pub struct ImportArgs {
    /// CSV file with a header row (`-` for stdin).
    pub file: PathBuf,
    /// Check the file and report what would change, without writing.
    #[arg(long)]
    pub dry_run: bool,
    /// The file was written by `bookings export --raw`: take every cell exactly
    /// as it is (without it, the formula protection of a plain export is undone).
    #[arg(long)]
    pub raw: bool,
    /// The zone times without a UTC offset were written in (e.g. Europe/Moscow);
    /// without it such times are refused.
    #[arg(long, value_name = "ZONE")]
    pub assume_tz: Option<String>,
    /// Write the conflicts (statuses the rules refuse) to this CSV file.
    #[arg(long, value_name = "FILE")]
    pub report: Option<PathBuf>,
    /// Take the file's statuses even where the rules refuse them (recorded as forced; needs --reason).
    #[arg(long, requires = "reason")]
    pub force: bool,
    /// Why (with --force; also lets the file cancel a confirmed booking); stored in the audit log.
    #[arg(long)]
    pub reason: Option<String>,
    /// Settle these bookings' conflicts in paytrack's favour (comma-separated ids, each
    /// in the file): the file's rows are recorded as seen and not applied, so the next
    /// import no longer reports them until the file changes them again. Audited.
    #[arg(long, value_name = "ID,…", value_delimiter = ',')]
    pub accept_ours: Vec<i64>,
    /// Change nothing, and exit 10 naming the count, when the file would change more than
    /// N bookings paytrack already has (new rows do not count).
    #[arg(long, value_name = "N")]
    pub max: Option<u64>,
}

#[derive(Debug, Args)]
pub struct AddArgs {
    /// Telegram user id of the student.
    #[arg(long)]
    pub user_id: Option<i64>,
    /// Telegram username (with or without @).
    #[arg(long)]
    pub username: Option<String>,
    /// First name as Telegram shows it.
    #[arg(long)]
    pub first_name: Option<String>,
    /// Course id (must be in the catalogue).
    #[arg(long)]
    pub course: Option<i64>,
    /// Stream code, e.g. 8th_stream (must be in the catalogue, or --create-stream).
    #[arg(long)]
    pub stream: Option<String>,
    /// Referral code.
    #[arg(long)]
    pub referral: Option<String>,
    /// Discount in percent, 0 to 100.
    #[arg(long, value_parser = clap::value_parser!(i64).range(0..=100))]
    pub discount: Option<i64>,
    /// Status of the new booking.
    #[arg(long, value_enum, ignore_case = true, default_value_t = Status::Pending)]
    pub status: Status,
    /// When the student booked: 2024-12-01, RFC 3339, now [default: now].
    #[arg(long, value_name = "WHEN")]
    pub created_at: Option<String>,
    /// Idempotency key: adding with a key seen before returns that booking and writes nothing.
    #[arg(long)]
    pub key: Option<String>,
    /// Add the stream to the catalogue if it is missing.
    #[arg(long)]
    pub create_stream: bool,
    /// Add to a stream with no seats left (needs --reason).
    #[arg(long, requires = "reason")]
    pub force: bool,
    /// Why (with --force); stored in the audit log.
    #[arg(long)]
    pub reason: Option<String>,
    /// With --status confirmed: do not queue the confirmation message.
    #[arg(long)]
    pub no_notify: bool,
    /// Print the booking as JSON; with FILE (`-` for stdin), read bookings as JSON Lines from it.
    #[arg(long, num_args = 0..=1, default_missing_value = "", value_name = "FILE")]
    pub json: Option<String>,
    /// Check everything and show what would be added, without writing.
    #[arg(long)]
    pub dry_run: bool,
}

#[derive(Debug, Args)]
pub struct EditArgs {
    /// Booking id (or --ids-from).
    #[arg(value_parser = booking_id, required_unless_present = "ids_from")]
    pub id: Option<i64>,
    /// Apply to the ids in this file, one per line (`-` for stdin): one transaction, all or nothing.
    #[arg(long, value_name = "FILE", conflicts_with = "id")]
    pub ids_from: Option<PathBuf>,
    /// Move to this stream ("" for no stream).
    #[arg(long)]
    pub stream: Option<String>,
    /// Move to this course.
    #[arg(long)]
    pub course: Option<i64>,
    /// Discount in percent (0 to 100), or none.
    #[arg(long, value_parser = discount_setting)]
    pub discount: Option<Setting<i64>>,
    /// Referral code ("" clears it).
    #[arg(long)]
    pub referral: Option<String>,
    /// Telegram username, with or without @ ("" clears it).
    #[arg(long)]
    pub username: Option<String>,
    /// First name ("" clears it).
    #[arg(long)]
    pub first_name: Option<String>,
    /// Refuse (exit 6) unless the booking is in this stream now ("" for none).
    #[arg(long, value_name = "STREAM")]
    pub expect_stream: Option<String>,
    /// Add the target stream to the catalogue if it is missing.
    #[arg(long)]
    pub create_stream: bool,
    /// Move into a stream with no seats left (needs --reason).
    #[arg(long, requires = "reason")]
    pub force: bool,
    /// Why; stored in the audit log.
    #[arg(long)]
    pub reason: Option<String>,
    /// Show before → after; write nothing.
    #[arg(long)]
    pub dry_run: bool,
    /// With --ids-from: change nothing, and exit 10 naming the count, when the file lists more than N.
    #[arg(long, value_name = "N", requires = "ids_from")]
    pub max: Option<u64>,
}

fn discount_setting(text: &str) -> Result<Setting<i64>, String> {
    if text.trim().eq_ignore_ascii_case("none") {
        return Ok(Setting::Clear);
    }
    match text.trim().parse::<i64>() {
        Ok(n) if (0..=100).contains(&n) => Ok(Setting::To(n)),
        _ => Err(format!("'{text}' is not a discount (0 to 100, or none)")),
    }
}

#[derive(Debug, Args)]
pub struct SetStatusArgs {
    /// Booking id (omit with --ids-from or a filter).
    #[arg(value_parser = booking_id)]
    pub id: Option<i64>,
    /// New status: confirmed, pending, cancelled (also 2, 1, -1, paid, canceled, Russian labels).
    #[arg(value_enum, ignore_case = true, value_name = "STATUS")]
    pub target: Option<Status>,
    /// New status (for --ids-from and filters).
    #[arg(long, value_enum, ignore_case = true, conflicts_with = "target")]
    pub to: Option<Status>,
    /// Apply to the ids in this file, one per line (`-` for stdin): one transaction, all or nothing.
    #[arg(long, value_name = "FILE", conflicts_with = "id")]
    pub ids_from: Option<PathBuf>,
    /// Bulk: only bookings in this status.
    #[arg(long = "status", value_enum, ignore_case = true, value_name = "STATUS")]
    pub current: Option<Status>,
    /// Bulk: only this course.
    #[arg(long)]
    pub course: Option<i64>,
    /// Bulk: only this stream.
    #[arg(long)]
    pub stream: Option<String>,
    /// Bulk: only bookings paytrack has known for longer than this (7d, 24h, 2w): since
    /// their first import, or their created_at when no import brought them.
    #[arg(long, value_name = "AGE")]
    pub older_than: Option<String>,
    /// Bulk: count --older-than from created_at (the old system's time for an imported booking).
    #[arg(long, requires = "older_than")]
    pub by_created_at: bool,
    /// Bulk: change nothing, and exit 10 naming the count, when more than N bookings are selected.
    #[arg(long, value_name = "N")]
    pub max: Option<u64>,
    /// Why (required for confirmed → cancelled and with --force); stored in the audit log.
    #[arg(long)]
    pub reason: Option<String>,
    /// Allow a change the rules refuse (needs --reason; recorded as forced).
    #[arg(long)]
    pub force: bool,
    /// Refuse (exit 6) unless the booking currently has this status.
    #[arg(long, value_enum, ignore_case = true, value_name = "STATUS")]
    pub expect: Option<Status>,
    /// Show what would change; write nothing.
    #[arg(long)]
    pub dry_run: bool,
    /// Record the change without queueing any message (an unsent confirmation is withdrawn all the same).
    #[arg(long)]
    pub no_notify: bool,
    /// Confirmation message template file (placeholders: {first_name} {username} {course_name} {stream_name} {booking_id}).
    #[arg(long, value_name = "FILE")]
    pub template: Option<PathBuf>,
    /// Payment reference to record with the change.
    #[arg(long, value_name = "REF")]
    pub payment_ref: Option<String>,
    /// Amount paid (with --payment-ref), e.g. 30000 or 27000.50.
    #[arg(long, requires = "payment_ref")]
    pub amount: Option<String>,
    /// Currency of --amount, e.g. RUB.
    #[arg(long, requires = "payment_ref")]
    pub currency: Option<String>,
    /// Payment provider of --payment-ref.
    #[arg(long, default_value = "manual", requires = "payment_ref")]
    pub provider: String,
    /// Print the result as JSON on stdout.
    #[arg(long)]
    pub json: bool,
    /// Bulk: do not ask for confirmation (needed when not on a terminal).
    #[arg(long, short)]
    pub yes: bool,
    /// Bulk cancel by filter: cancel bookings that have received money too (they are skipped and listed otherwise).
    #[arg(long)]
    pub include_paid: bool,
}

#[derive(Debug, Subcommand)]
// Arguments are defined when the subcommand is used (clap's `defer`): building
// the whole tree was 10% of a one-page `bookings list` (issue 19).
#[command(defer = true)]
pub enum StatsCommand {
    /// Per course and stream: total, confirmed, pending, cancelled, conversion, revenue, seats.
    #[command(
        after_help = "Examples:\n  paytrack stats streams\n  paytrack stats streams --csv\n  paytrack stats streams --since 2024-12-01 --json"
    )]
    Streams(StatsStreamsArgs),
    /// Recount every counter from the bookings and report any difference (exit 9).
    #[command(
        after_help = "Examples:\n  paytrack stats verify\n  paytrack stats verify || paytrack stats rebuild"
    )]
    Verify,
    /// Recount every counter from the bookings and store the result (audited).
    #[command(after_help = "Example:\n  paytrack stats rebuild")]
    Rebuild,
    /// Per day: new bookings, confirmations and cancellations.
    #[command(
        after_help = "Examples:\n  paytrack stats daily\n  paytrack stats daily --days 7 --csv"
    )]
    Daily(StatsDailyArgs),
}

#[derive(Debug, Args)]
pub struct StatsDailyArgs {
    /// How many days, ending today (in the display time zone).
    #[arg(long, default_value_t = 30, value_parser = clap::value_parser!(u32).range(1..=3660))]
    pub days: u32,
    #[command(flatten)]
    pub output: OutputArgs,
}

#[derive(Debug, Args)]
pub struct CheckArgs {
    /// Run SQLite's quick_check (no index/table cross-checks) instead of integrity_check.
    #[arg(long)]
    pub quick: bool,
}

#[derive(Debug, Args)]
pub struct BackupArgs {
    /// Where to write the copy (a new file; an existing regular file only with --force).
    pub file: PathBuf,
    /// Replace FILE if it exists (never a directory, link, device or the database itself).
    #[arg(long)]
    pub force: bool,
    /// Encrypt the copy for this age recipient (a public key `age1…`; repeat for several):
    /// the plain copy exists only as a private temp file while it is checked.
    #[arg(long, value_name = "RECIPIENT")]
    pub encrypt_to: Vec<String>,
}

#[derive(Debug, Args)]
pub struct StatsStreamsArgs {
    /// Only this course.
    #[arg(long)]
    pub course: Option<i64>,
    /// Only this stream code ("" for bookings without a stream).
    #[arg(long)]
    pub stream: Option<String>,
    /// Bookings created at or after (2024-12-01, RFC 3339, today, 7d...).
    #[arg(long, value_name = "WHEN")]
    pub since: Option<String>,
    /// Bookings created before.
    #[arg(long, value_name = "WHEN")]
    pub until: Option<String>,
    #[command(flatten)]
    pub output: OutputArgs,
}

#[derive(Debug, Subcommand)]
// Not deferred: `audit tail --actor` (a filter) must replace the global
// `--actor`, which clap only does when the filter exists as globals propagate.
pub enum AuditCommand {
    /// The last entries, oldest first (like tail).
    #[command(
        after_help = "Examples:\n  paytrack audit tail -n 50\n  paytrack audit tail --booking 42\n  paytrack audit tail --action booking.status_changed --since 2024-12-01 --format csv\n  paytrack audit tail -f"
    )]
    Tail(AuditTailArgs),
    /// Walk the hash chain and name the first entry changed, removed or inserted out of band.
    #[command(
        after_help = "Examples:\n  paytrack audit verify\n  paytrack audit verify || mail -s 'paytrack audit' admin@example.com < /dev/null\n  paytrack audit verify --expect-head 3f2a…   # a head hash printed by an earlier run"
    )]
    Verify(AuditVerifyArgs),
}

#[derive(Debug, Args)]
pub struct AuditVerifyArgs {
    /// A head hash printed by an earlier `audit verify`: fail unless that entry is still in the chain.
    #[arg(long, value_name = "HASH", value_parser = sha256_hex)]
    pub expect_head: Option<String>,
}

/// A SHA-256 in hex (64 characters), lower-cased.
fn sha256_hex(text: &str) -> Result<String, String> {
    let text = text.trim();
    if text.len() == 64 && text.bytes().all(|b| b.is_ascii_hexdigit()) {
        Ok(text.to_ascii_lowercase())
    } else {
        Err(format!(
            "'{}' is not a SHA-256 hash (64 hex digits)",
            crate::output::sanitize::shown(text)
        ))
    }
}

#[derive(Debug, Args)]
pub struct AuditTailArgs {
    /// How many entries [default: 20; every matching entry with --since, --until or --operation].
    #[arg(short = 'n', long = "lines")]
    pub lines: Option<u64>,
    /// Only entries about this booking.
    #[arg(long, value_parser = booking_id)]
    pub booking: Option<i64>,
    /// Only entries by this actor.
    #[arg(long)]
    pub actor: Option<String>,
    /// Only this action, e.g. booking.status_changed.
    #[arg(long)]
    pub action: Option<String>,
    /// Only entries at or after (2024-12-01, RFC 3339, today, 7d...).
    #[arg(long, value_name = "WHEN")]
    pub since: Option<String>,
    /// Only entries before.
    #[arg(long, value_name = "WHEN")]
    pub until: Option<String>,
    /// Only entries of this operation (the id a write command prints; see `paytrack undo`).
    #[arg(long, value_name = "OP")]
    pub operation: Option<String>,
    /// Keep printing new entries as they are written, until Ctrl-C.
    #[arg(short, long)]
    pub follow: bool,
    #[command(flatten)]
    pub output: OutputArgs,
    #[command(flatten)]
    pub privacy: RedactArgs,
}

/// The command line with its help in `lang`.
///
/// clap's help text is static (from the `///` comments and `after_help`), so
/// the Russian descriptions and examples are swapped in here, once, before
/// parsing. A command missing from `RUSSIAN_HELP` keeps its English help,
/// with the headings translated.
pub fn command(lang: Lang) -> clap::Command {
    use clap::CommandFactory;
    let cmd = match lang {
        Lang::En => Cli::command(),
        // Translation walks every subcommand, so they are built first.
        Lang::Ru => {
            let mut cmd = Cli::command();
            cmd.build();
            translate(cmd, &[])
        }
    };
    // The exit codes come from the error module's table, in the run's language.
    let rest = cmd
        .get_after_help()
        .map(ToString::to_string)
        .unwrap_or_default();
    let codes = crate::error::exit_code_help(lang == Lang::Ru);
    cmd.after_help(format!("{codes}\n\n{rest}"))
}

fn translate(mut cmd: clap::Command, path: &[&str]) -> clap::Command {
    let name = cmd.get_name().to_string();
    let path: Vec<&str> = path.iter().copied().chain([name.as_str()]).collect();
    let key = path[1..].join(" ");
    if let Some((_, about, after_help)) = RUSSIAN_HELP.iter().find(|(k, _, _)| *k == key) {
        cmd = cmd.about(*about).long_about(None).after_help(*after_help);
    } else if let Some(english) = cmd.get_after_help().map(std::string::ToString::to_string) {
        cmd = cmd.after_help(
            english
                .replace("Examples:", "Примеры:")
                .replace("Example:", "Пример:"),
        );
    }
    let names: Vec<String> = cmd
        .get_subcommands()
        .map(|s| s.get_name().to_string())
        .collect();
    for sub in names {
        cmd = cmd.mut_subcommand(&sub, |s| translate(s, &path));
    }
    cmd
}

/// Russian help: (command path, description, examples). The command lines in
/// the examples are the same as in English; only the words around them change.
const RUSSIAN_HELP: &[(&str, &str, &str)] = &[
    (
        "check",
        "Проверить всё: целостность файла, внешние ключи, счётчики потоков, цепочку аудита, поисковый индекс, очередь сообщений. Код 9 и по строке на каждую находку; подходит для cron.",
        "Примеры:\n  paytrack check\n  paytrack check --quick   # quick_check SQLite вместо полного integrity_check\n\nКоды выхода: 0 ничего не найдено; 9 находки (по строке на stdout); 8 файл не открыть.",
    ),
    (
        "backup",
        "Скопировать базу в FILE, пока другие работают (онлайн-копия SQLite), и проверить копию, как `check`. Копия доступна только владельцу (0600).",
        "Примеры:\n  paytrack backup /srv/backups/paytrack-$(date +%F).db\n  paytrack backup copy.db --force   # заменить прежнюю копию\n\nВосстановление: README, «Backup and restore».",
    ),
    (
        "",
        "Статусы оплаты бронирований курсов, в одном файле SQLite.\n\nСтатусы: confirmed (2, Подтверждено), pending (1, В ожидании), cancelled (-1, Отменено).",
        "\
Переменные окружения:
  PAYTRACK_DB      файл базы или URL postgres:// (--db)
  PAYTRACK_ACTOR   кто действует, для журнала аудита (--actor)
  PAYTRACK_LANG    en или ru (--lang); по умолчанию из LC_ALL, LC_MESSAGES, LANG
  PAYTRACK_TZ      часовой пояс для дат (--tz), например Europe/Moscow; по умолчанию TZ
  PAYTRACK_COLOR   auto, always или never (--color)
  PAYTRACK_WIDE    true: таблицы без сокращений (--wide)
  NO_COLOR         задана: без цвета; CLICOLOR_FORCE=1 включает цвет; TERM=dumb выключает
  COLUMNS          ширина таблиц в терминале (по умолчанию ширина терминала)

Примеры (cron):
  paytrack bookings list --status pending
  paytrack booking set-status 42 confirmed
  paytrack stats streams --csv",
    ),
    (
        "init",
        "Создать базу (вместе с каталогами); на актуальной базе ничего не делает.",
        "Примеры:\n  paytrack init\n  paytrack --db /srv/paytrack/school.db init\n  paytrack --db postgres://admin@db.example.org/school init --adopt",
    ),
    (
        "uninstall",
        "Только PostgreSQL: удалить схему `paytrack` и её триггеры на таблице бота.",
        "Примеры:\n  paytrack --db postgres://admin@db.example.org/school uninstall --yes",
    ),
    (
        "demo",
        "Заполнить базу правдоподобными демо-бронированиями, чтобы сразу попробовать paytrack.",
        "Заполняется только новая или пустая база (или база только с демо-данными);\nбаза с настоящими бронированиями — отказ (код 3).\n\nПримеры:\n  paytrack --db demo.db demo\n  paytrack --db /tmp/big.db demo --bookings 1000000   # для замеров",
    ),
    (
        "bookings",
        "Найти, показать, выгрузить, загрузить и изменить бронирования (`booking` — то же самое).",
        "Примеры:\n  paytrack bookings list --status pending\n  paytrack booking show 42\n  paytrack booking set-status 42 confirmed\n  paytrack bookings export > bookings.csv",
    ),
    (
        "bookings list",
        "Список бронирований, новые сверху.",
        "Примеры:\n  paytrack bookings list --status pending\n  paytrack bookings list --stream 8th_stream --since 7d --csv\n  paytrack bookings list --search ольга --limit 20\n  paytrack bookings list --status pending --cursor 1234   # следующая страница",
    ),
    (
        "bookings show",
        "Одно бронирование с платежами и историей изменений.",
        "Примеры:\n  paytrack booking show 42\n  paytrack booking show 42 --json",
    ),
    (
        "bookings export",
        "Выгрузить подходящие бронирования в CSV или JSONL, в колонках, которые читает `import`.",
        "Примеры:\n  paytrack bookings export > bookings.csv\n  paytrack bookings export --status confirmed --format jsonl\n  paytrack bookings export --redact -o shareable.csv   # без имён",
    ),
    (
        "bookings import",
        "Загрузить выгрузку старой системы (PostgreSQL `\\copy bookings TO ... CSV HEADER`): все строки или ни одной.",
        "Повторный импорт безопасен: где в файле нет нового со времени прошлого импорта, остаются\n\
изменения paytrack (платежи, админы); где файл изменил статус так, как правила запрещают\n\
(confirmed → pending, cancelled → confirmed, confirmed → cancelled без --reason), изменение\n\
не применяется, а выводится как конфликт (код 10; --report FILE — список в CSV).\n\n\
Примеры:\n  paytrack bookings import legacy-bookings.csv\n  paytrack bookings import legacy-bookings.csv --dry-run   # только проверить\n  paytrack bookings import legacy-bookings.csv --report conflicts.csv || alert",
    ),
    (
        "bookings add",
        "Добавить бронирование (для бота, других программ и админов); печатает его номер.",
        "Курс и поток должны быть в каталоге (код 4 называет ближайшее совпадение;\n\
--create-stream добавляет недостающий поток). В заполненный поток — отказ (код 5),\n\
если нет --force --reason. С --key повтор безопасен: тот же ключ снова печатает ту же\n\
бронь, код 0, ничего не пишется.\n\n\
--json - читает по одному JSON-объекту на строку из stdin и добавляет все в одной транзакции\n\
(плохая строка называется по номеру, не добавляется ничего); поля: user_id, username,\n\
first_name, course, stream, referral, discount, status, created_at, key.\n\n\
Примеры:\n  paytrack bookings add --user-id 123 --username @olga --first-name Ольга --course 1 --stream 8th_stream\n  paytrack bookings add --user-id 123 --course 1 --stream 8th_stream --key tg-update-8812 --json\n  bot-export | paytrack bookings add --json -",
    ),
    (
        "bookings edit",
        "Исправить бронирование вручную: перевести в другой поток или курс, сменить скидку, реферала, имена.",
        "Перевод сохраняет статус, платежи и историю; счётчики потоков меняются в той же транзакции.\n\
В заполненный поток — отказ (код 5), если нет --force --reason. Пустое значение очищает\n\
текстовое поле (--referral \"\"); --discount none убирает скидку.\n\n\
Примеры:\n  paytrack bookings edit 42 --stream 9th_stream\n  paytrack bookings edit 42 --stream 9th_stream --expect-stream 8th_stream --dry-run\n  paytrack bookings edit --ids-from group.txt --stream 9th_stream",
    ),
    (
        "undo",
        "Отменить одну операцию (одну команду записи): её смены статуса, правки и добавленные брони.",
        "Каждая команда записи заканчивается строкой `operation OP; undo with paytrack undo OP` в stderr.\n\
Отмена — всё или ничего, записывается как принудительные изменения с причиной \"undo of OP\".\n\
Если бронь изменили после операции — отказ (код 6) со списком. Отмена подтверждения отзывает\n\
ещё не отправленное сообщение. Платежи, вставленные импортом строки и каталог остаются.\n\n\
Примеры:\n  paytrack undo 7f3a9c01 --dry-run\n  paytrack undo 7f3a9c01",
    ),
    (
        "users",
        "Студенты (пользователи Telegram): вся история человека; блокировка и разблокировка; удаление данных по просьбе.",
        "Примеры:\n  paytrack users show 123456789\n  paytrack users show @olga --json\n  paytrack users block 123456789 --reason \"просил не писать\"\n  paytrack users erase 123456789 --reason \"просьба от 2025-03-01\" --dry-run",
    ),
    (
        "users show",
        "Все брони человека со статусами, платежи, сообщения, блокировка и последние записи журнала.",
        "Примеры:\n  paytrack users show 123456789\n  paytrack users show @olga --json",
    ),
    (
        "users block",
        "Не писать студенту (его сообщения в очереди не уходят); записывается в журнал.",
        "Пример:\n  paytrack users block 123456789 --reason \"просил не писать\"",
    ),
    (
        "users unblock",
        "Снова писать студенту: его сообщения в очереди и задержанные блокировкой уходят снова.",
        "Пример:\n  paytrack users unblock 123456789 --reason \"разблокировал бота\"",
    ),
    (
        "bookings set-status",
        "Изменить статус оплаты одного бронирования, списка номеров или всех подходящих под фильтр.",
        "Примеры:\n  paytrack booking set-status 42 confirmed\n  paytrack booking set-status 42 confirmed --payment-ref pay_1 --amount 30000 --currency RUB\n  paytrack booking set-status 42 cancelled --reason \"просит возврат\"\n  paytrack booking set-status 42 confirmed --expect pending --json   # для скриптов\n  paytrack bookings set-status --ids-from paid.txt --to confirmed\n  paytrack bookings set-status --status pending --stream 8th_stream --older-than 7d --to cancelled --reason unpaid --yes",
    ),
    (
        "stats",
        "Цифры по курсам и потокам, для людей и для cron.",
        "Примеры:\n  paytrack stats streams\n  paytrack stats streams --csv",
    ),
    (
        "stats streams",
        "По курсам и потокам: всего, подтверждено, в ожидании, отменено, конверсия, выручка, места.",
        "Примеры:\n  paytrack stats streams\n  paytrack stats streams --csv\n  paytrack stats streams --since 2024-12-01 --json",
    ),
    (
        "stats verify",
        "Пересчитать все счётчики по бронированиям и показать каждое расхождение (код 9).",
        "Примеры:\n  paytrack stats verify\n  paytrack stats verify || paytrack stats rebuild",
    ),
    (
        "stats rebuild",
        "Пересчитать все счётчики по бронированиям и сохранить (с записью в журнал).",
        "Пример:\n  paytrack stats rebuild",
    ),
    (
        "stats daily",
        "По дням: новые бронирования, подтверждения и отмены.",
        "Примеры:\n  paytrack stats daily\n  paytrack stats daily --days 7 --csv",
    ),
    (
        "streams",
        "Каталог потоков: названия, цены, места; подтверждённые участники потока.",
        "Примеры:\n  paytrack streams list\n  paytrack streams add 9th_stream --course 1 --name \"9-й поток\" --price 30000 --currency RUB --capacity 40\n  paytrack streams members 8th_stream --csv",
    ),
    (
        "streams list",
        "Потоки с названиями, ценами, местами и числом бронирований.",
        "Примеры:\n  paytrack streams list\n  paytrack streams list --course 1 --csv",
    ),
    (
        "streams add",
        "Добавить поток в курс.",
        "Примеры:\n  paytrack streams add 9th_stream --course 1 --name \"9-й поток\" --price 30000 --currency RUB --capacity 40",
    ),
    (
        "streams edit",
        "Изменить название, цену, валюту или число мест потока (`none` убирает цену или места).",
        "Примеры:\n  paytrack streams edit 9th_stream --price 32000\n  paytrack streams edit 9th_stream --course 1 --capacity none",
    ),
    (
        "streams members",
        "Подтверждённые участники потока и кто из них заблокировал бота.",
        "Примеры:\n  paytrack streams members 8th_stream\n  paytrack streams members 8th_stream --course 1 --csv",
    ),
    (
        "courses",
        "Каталог курсов: названия и шаблоны сообщений о подтверждении.",
        "Примеры:\n  paytrack courses list\n  paytrack courses edit 5 --name \"Вайб кодинг 2.0\"",
    ),
    (
        "courses list",
        "Курсы с названиями, шаблонами и числом бронирований.",
        "Примеры:\n  paytrack courses list\n  paytrack courses list --json",
    ),
    (
        "courses add",
        "Добавить курс.",
        "Примеры:\n  paytrack courses add 5 --name \"Вайб кодинг\" --template confirmation.txt",
    ),
    (
        "courses edit",
        "Переименовать курс или сменить шаблон сообщения о подтверждении.",
        "Примеры:\n  paytrack courses edit 5 --name \"Вайб кодинг 2.0\"\n  paytrack courses edit 5 --default-template",
    ),
    (
        "audit",
        "Журнал аудита: кто что изменил и когда, и доказательство, что его не переписали.",
        "Примеры:\n  paytrack audit tail -n 50\n  paytrack audit verify",
    ),
    (
        "audit tail",
        "Последние записи, старые сверху (как tail).",
        "Примеры:\n  paytrack audit tail -n 50\n  paytrack audit tail --booking 42\n  paytrack audit tail --action booking.status_changed --since 2024-12-01 --format csv\n  paytrack audit tail -f",
    ),
    (
        "audit verify",
        "Пройти цепочку хешей и назвать первую запись, изменённую, удалённую или вставленную в обход.",
        "Примеры:\n  paytrack audit verify\n  paytrack audit verify || mail -s 'paytrack audit' admin@example.com < /dev/null\n  paytrack audit verify --expect-head 3f2a…   # хеш головы из прошлого запуска",
    ),
    (
        "payments",
        "Сверить выгрузку платёжного провайдера или банка с бронированиями; список платежей.",
        "Примеры:\n  paytrack payments import yookassa.csv\n  paytrack payments list --attention",
    ),
    (
        "payments import",
        "Загрузить платежи (CSV), подтвердить полностью оплаченные брони, показать, что разобрать вручную.\n\nКод выхода 10, если этот запуск нашёл новое для человека (частичный платёж, переплата, отменённая или несуществующая бронь, без номера брони, несколько номеров броней, конфликт с сохранённым платежом, другая валюта, нулевая сумма, повтор строки). Строки, о которых уже сообщал прошлый запуск и которые никто не разобрал, показываются снова с пометкой, но код 10 не дают (`--strict`: дают).",
        "Колонки (по названию в заголовке; разделитель `,` или `;`; десятичная запятая допустима):\n  external_id, amount (обязательно); provider, booking_id, currency, paid_at, description\n\nПримеры:\n  paytrack payments import yookassa.csv\n  paytrack payments import statement.csv --provider bank --dry-run\n  paytrack payments import yookassa.csv --json || alert",
    ),
    (
        "payments list",
        "Список сохранённых платежей, последние оплаченные сверху.",
        "Примеры:\n  paytrack payments list --booking 42\n  paytrack payments list --outcome partial --csv\n  paytrack payments list --attention --since 7d",
    ),
    (
        "payments assign",
        "Привязать платёж без брони (не найдена, нет номера, несколько номеров) к брони и сверить его там.\n\nПравила те же, что при импорте: полная оплата подтверждает бронь в ожидании (запись в журнале, сообщение); иначе частичный, переплата, отменённая… Уже привязанный платёж переносится только с --force --reason.",
        "Примеры:\n  paytrack payments list --attention\n  paytrack payments assign 17 42\n  paytrack payments assign 17 43 --force --reason \"в переводе не тот номер брони\"",
    ),
    (
        "payments resolve",
        "Отметить платежи, требующие внимания, как разобранные (кто, когда, заметка); они уходят из --attention.\n\nИтог платежа не меняется. Частичный платёж, чья бронь потом оплачена полностью, уходит из --attention сам.",
        "Примеры:\n  paytrack payments resolve 17 --note \"вернули плательщику\"\n  paytrack payments resolve 17 18 19 --note \"повторы строк банка\"",
    ),
    (
        "payments refund",
        "Записать возврат денег по брони; он вычитается из полученного.\n\nПри полном возврате подтверждённой брони предлагается её отменить (вопрос в терминале, подсказка иначе); без вопроса бронь не отменяется.",
        "Примеры:\n  paytrack payments refund 42 --amount 27000 --currency RUB --reason \"студент отказался\"\n  paytrack payments refund 42 --amount 3000 --currency RUB --reason переплата --ref yk_refund_991",
    ),
    (
        "payments providers",
        "Провайдеры, приславшие платежи, и запомненные для их файлов названия колонок и кодировка.",
        "Примеры:\n  paytrack payments providers\n  paytrack payments import statement.csv --provider sber --map amount=Сумма,description=\"Назначение платежа\",paid_at=Дата",
    ),
    (
        "bookings pay-link",
        "Создать платёж у онлайн-провайдера на сумму к оплате брони; напечатать ссылку на страницу оплаты.\n\nСумма — цена за вычетом скидки и уже полученного. Номер брони передаётся в номере заказа / metadata, и уведомление провайдера в `payments serve` подтверждает бронь. Настройки и секреты — из переменных окружения (см. README).",
        "Примеры:\n  paytrack bookings pay-link 42 --provider yookassa --return-url https://t.me/school_bot\n  paytrack bookings pay-link 42 --provider tinkoff --json",
    ),
    (
        "payments fetch",
        "Прочитать через API провайдера успешные платежи и возвраты и сверить те, что не пришли уведомлением.\n\nКаждый сверяется так же, как его уведомление; уже сохранённый (уведомлением или прошлым запуском) пропускается. Код 10, если новый платёж требует внимания.",
        "Примеры:\n  paytrack payments fetch --provider yookassa --since 24h\n  15 * * * *  paytrack payments fetch --provider yookassa --since 2h || notify-admin",
    ),
    (
        "payments serve",
        "Принимать уведомления об онлайн-оплатах (Т-Банк, CloudPayments, ЮKassa, Stripe) по HTTP.\n\nPOST /webhooks/{tinkoff,cloudpayments,yookassa,stripe}; каждое уведомление проверяется так, как описывает провайдер, и сверяется по правилам `payments import`. Секреты только из переменных окружения; провайдер без секрета отвечает 404. Останавливается по Ctrl-C/SIGTERM.",
        "Окружение:\n  PAYTRACK_TINKOFF_PASSWORD, PAYTRACK_CLOUDPAYMENTS_SECRET,\n  PAYTRACK_YOOKASSA_SHOP_ID + PAYTRACK_YOOKASSA_SECRET_KEY, PAYTRACK_STRIPE_WEBHOOK_SECRET\n\nПримеры:\n  paytrack payments serve --listen 127.0.0.1:8080",
    ),
    (
        "completions",
        "Напечатать скрипт автодополнения для оболочки.",
        "Примеры:\n  paytrack completions bash > ~/.local/share/bash-completion/completions/paytrack\n  paytrack completions zsh > ~/.zfunc/_paytrack\n  paytrack completions fish > ~/.config/fish/completions/paytrack.fish\n  paytrack completions powershell >> $PROFILE",
    ),
    (
        "man",
        "Напечатать страницу руководства (roff) в stdout.",
        "Примеры:\n  paytrack man > ~/.local/share/man/man1/paytrack.1\n  paytrack man | man -l -",
    ),
    (
        "outbox",
        "Сообщения студентам: очередь и доставка (своей командой или через Telegram).",
        "Примеры:\n  paytrack outbox list --status failed\n  paytrack outbox drain --telegram",
    ),
    (
        "outbox list",
        "Сообщения в очереди, отправленные и недоставленные, новые сверху (число по статусам — в stderr).",
        "Примеры:\n  paytrack outbox list\n  paytrack outbox list --status failed\n  paytrack outbox list --status pending --all --csv",
    ),
    (
        "outbox drain",
        "Доставить сообщения, которым пора, каждое один раз; можно из cron раз в минуту, даже два запуска сразу.",
        "\
Сообщение сначала захватывается, потом отправляется, поэтому два запуска не отправят его дважды;
захват упавшего запуска переходит к следующему после срока аренды (доставка — хотя бы один раз).
Ошибки повторяются следующими запусками через 1, 2, 4 ... 60 минут; после --max-attempts
сообщение становится failed. Ответ Telegram 403 «bot was blocked by the user» сразу завершает
его неудачей и вносит студента в список заблокировавших; на 429 ждём, сколько просит Telegram.

--exec: команда получает одну строку JSON в stdin (id, booking_id, chat_id, kind, body, attempts)
и PAYTRACK_MESSAGE_ID, PAYTRACK_CHAT_ID в окружении; код выхода 0 — доставлено.
--telegram: токен берётся только из PAYTRACK_TELEGRAM_TOKEN (не флаг, нигде не печатается);
PAYTRACK_TELEGRAM_API заменяет https://api.telegram.org.

Код выхода: 0 — ничего не потеряно, 10 — сообщение не доставлено окончательно в этом запуске
(см. `outbox list --status failed`), 11 — канал непригоден: команда --exec не запускается (код 126
или 127, например опечатка в имени) или токен отвергнут; drain останавливается на первом сообщении,
не расходуя попыток. Ctrl-C даёт отправляемому сообщению завершиться и записаться.

Примеры:
  paytrack outbox drain --telegram
  paytrack outbox drain --exec ./send-mail.sh --limit 100
  * * * * *  PAYTRACK_TELEGRAM_TOKEN=... paytrack --db /srv/paytrack.db outbox drain --telegram -q",
    ),
    // Messages an admin controls (issue 14).
    (
        "outbox show",
        "Одно сообщение так, как оно будет отправлено (по текущим шаблонам и каталогу), или как было отправлено.",
        "Примеры:\n  paytrack outbox show 17\n  paytrack outbox show 17 --json",
    ),
    (
        "outbox cancel",
        "Остановить сообщения до отправки (статус cancelled; остаются в очереди и в журнале аудита).",
        "Отменить можно только сообщения в очереди (pending) и недоставленные (failed).\n\nПримеры:\n  paytrack outbox cancel 17 18 --reason \"сообщили по телефону\"\n  paytrack outbox cancel --booking 42\n  paytrack outbox cancel --kind confirmed --status pending --yes --reason \"исторический импорт\"",
    ),
    (
        "outbox retry",
        "Вернуть недоставленные (или отменённые) сообщения в очередь: к отправке сейчас, попытки с нуля.",
        "Примеры:\n  paytrack outbox retry 17 18",
    ),
    (
        "outbox queue",
        "Поставить сообщение студенту брони вручную (например, об отмене, которое никто не отправил).",
        "Примеры:\n  paytrack outbox queue 42 --kind cancelled",
    ),
    (
        "bookings remind",
        "Напоминание об оплате каждой подходящей брони, если его не было в пределах --every (заблокировавшие бота пропускаются).",
        "Текст — шаблон курса вида reminder (`courses template ID --kind reminder`); неотправленное\nнапоминание отзывается, когда бронь оплачена или отменена.\n\nПримеры:\n  paytrack bookings remind --older-than 2d --dry-run\n  paytrack bookings remind --older-than 2d --stream 8th_stream --every 3d\n  0 10 * * *  paytrack --db /srv/paytrack.db bookings remind --older-than 2d --every 3d",
    ),
    (
        "streams broadcast",
        "Поставить в очередь по сообщению каждому участнику потока (заблокировавшие бота пропускаются и считаются).",
        "Файл с текстом — шаблон (подстановки как в `courses template`); без него берётся шаблон курса\nвида broadcast. В терминале число получателей показывается и подтверждается; иначе нужен --yes.\nС --key повторный запуск той же рассылки ничего нового не ставит.\n\nПримеры:\n  paytrack streams broadcast 8th_stream --text-file start.txt --dry-run\n  paytrack streams broadcast 8th_stream --text-file start.txt --key start-2024-12 --yes",
    ),
    (
        "courses template",
        "Показать или задать шаблон сообщения курса одного вида (confirmed, cancelled, reminder, broadcast).",
        "Подстановки: {first_name} {course} {stream} {booking_id} {amount_due} {chat_link}.\nПодстановка одна в скобках, например ({stream}), исчезает вместе с ними, если пуста.\nНеизвестная подстановка или текст длиннее 4096 символов после подстановки отвергаются (код 3).\nСообщения в очереди собираются при отправке, поэтому исправление до них доходит.\n\nПримеры:\n  paytrack courses template 5 --kind reminder\n  paytrack courses template 5 --kind reminder --file reminder.txt\n  paytrack courses template 5 --kind cancelled --reset"
    ),
    // --- issue 20 (personal data)
    (
        "users erase",
        "Стереть то, что указывает на человека: имена, текст поиска, назначения платежей, тексты сообщений, значения в журнале. Id, статусы, суммы и даты остаются.\n\nИмена заменяются постоянным псевдонимом (erased-<хеш>), тексты сообщений стираются, неотправленные сообщения ему не уходят, личные значения его записей журнала стираются (цепочка по-прежнему проверяется). Одна запись журнала: id пользователя и причина. Всё или ничего.",
        "Примеры:\n  paytrack users erase 123456789 --reason \"просьба от 2025-03-01\" --dry-run\n  paytrack users erase 123456789 --reason \"просьба от 2025-03-01\" --yes",
    ),
    (
        "retention",
        "Хранить личные данные не дольше нужного: старые брони под псевдоним, старые тексты сообщений стереть.",
        "Примеры:\n  paytrack retention apply --bookings-older-than 3y --messages-older-than 1y --dry-run\n  paytrack retention apply --bookings-older-than 3y --messages-older-than 1y",
    ),
    (
        "retention apply",
        "Старые брони под псевдоним, тексты старых сообщений стереть.\n\nВозраст: число и y (годы), m (месяцы) или d (дни) от текущего момента. Брони старше --bookings-older-than (по дате создания) стираются так же, как `users erase` для одного человека; у отправленных и недоставленных сообщений старше --messages-older-than стирается текст.",
        "Примеры:\n  paytrack retention apply --bookings-older-than 3y --messages-older-than 1y --dry-run\n  # crontab: каждую ночь в 03:45\n  45 3 * * * paytrack --db /srv/paytrack/school.db retention apply --bookings-older-than 3y --messages-older-than 1y",
    ),
];

#[derive(Debug, Subcommand)]
// Arguments are defined when the subcommand is used (clap's `defer`): building
// the whole tree was 10% of a one-page `bookings list` (issue 19).
#[command(defer = true)]
pub enum OutboxCommand {
    /// Queued, sent and failed messages, newest first (counts per status on stderr).
    #[command(
        after_help = "Examples:\n  paytrack outbox list\n  paytrack outbox list --status failed\n  paytrack outbox list --status pending --all --csv"
    )]
    List(OutboxListArgs),
    /// Deliver the messages that are due, once each; safe from cron every minute, even two at once.
    #[command(
        after_help = "Each message is claimed before it is sent, so two drains never send it twice; a drain\n\
that dies leaves its claims to the next one after a lease (delivery is at least once).\n\
Failures are retried by later drains after 1, 2, 4 ... 60 minutes; after --max-attempts the\n\
message is failed. Telegram's 403 \"bot was blocked by the user\" fails it at once and adds\n\
the student to the blocked list; a 429 waits as long as Telegram asks.\n\n\
--exec: CMD gets one line of JSON on stdin (id, booking_id, chat_id, kind, body, attempts)\n\
and PAYTRACK_MESSAGE_ID, PAYTRACK_CHAT_ID in its environment; exit 0 means delivered.\n\
--telegram: the token is read from PAYTRACK_TELEGRAM_TOKEN only (never a flag, never shown);\n\
PAYTRACK_TELEGRAM_API overrides https://api.telegram.org.\n\n\
Exit: 0 when nothing failed for good, 10 when a message failed for good in this run (see\n\
`outbox list --status failed`), 11 when the channel cannot work: the --exec command cannot run\n\
(exit 126 or 127, e.g. a typo in its name) or the token is refused; the drain stops at the\n\
first message and uses up no attempt. Ctrl-C lets the message being sent finish and be recorded.\n\n\
Examples:\n  paytrack outbox drain --telegram\n  paytrack outbox drain --exec ./send-mail.sh --limit 100\n  * * * * *  PAYTRACK_TELEGRAM_TOKEN=... paytrack --db /srv/paytrack.db outbox drain --telegram -q"
    )]
    Drain(OutboxDrainArgs),
    /// One message as it will be sent (rendered now from the current templates and catalogue), or as it was sent.
    #[command(
        after_help = "Examples:\n  paytrack outbox show 17\n  paytrack outbox show 17 --json"
    )]
    Show(OutboxShowArgs),
    /// Stop messages before they are sent (status cancelled; kept and audited).
    #[command(after_help = "Only pending and failed messages can be cancelled.\n\n\
Examples:\n  paytrack outbox cancel 17 18 --reason \"sent by hand\"\n  paytrack outbox cancel --booking 42\n  paytrack outbox cancel --kind confirmed --status pending --yes --reason \"historical import\"")]
    Cancel(OutboxCancelArgs),
    /// Put failed (or cancelled) messages back in the queue, due now, with their attempts counted from zero.
    #[command(after_help = "Examples:\n  paytrack outbox retry 17 18")]
    Retry(OutboxRetryArgs),
    /// Queue a message to a booking's student by hand (e.g. a cancellation notice nobody was sent).
    #[command(after_help = "Examples:\n  paytrack outbox queue 42 --kind cancelled")]
    Queue(OutboxQueueArgs),
}

#[derive(Debug, Args)]
pub struct OutboxShowArgs {
    /// Message id.
    pub id: i64,
    /// Print the message as JSON on stdout.
    #[arg(long)]
    pub json: bool,
}

#[derive(Debug, Args)]
pub struct OutboxCancelArgs {
    /// Message ids.
    #[arg(conflicts_with_all = ["booking", "kind", "status"])]
    pub ids: Vec<i64>,
    /// Every unsent message of this booking.
    #[arg(long, value_parser = booking_id)]
    pub booking: Option<i64>,
    /// Only messages of this kind.
    #[arg(long, value_enum)]
    pub kind: Option<crate::domain::message::MessageKind>,
    /// Only messages in this status: pending (the default) or failed.
    #[arg(long, value_enum, default_value = "pending")]
    pub status: crate::domain::message::MessageStatus,
    /// Why; stored with each message and in the audit log.
    #[arg(long)]
    pub reason: Option<String>,
    /// Needed to cancel by --kind without --booking (it may be many messages).
    #[arg(long, short)]
    pub yes: bool,
    /// Cancel nothing, and exit 10 naming the count, when more than N messages match.
    #[arg(long, value_name = "N")]
    pub max: Option<u64>,
}

#[derive(Debug, Args)]
pub struct OutboxRetryArgs {
    /// Message ids (failed or cancelled messages).
    #[arg(required = true)]
    pub ids: Vec<i64>,
}

#[derive(Debug, Args)]
pub struct OutboxQueueArgs {
    /// Booking id.
    #[arg(value_parser = booking_id)]
    pub booking: i64,
    /// What kind of message (its text is the course's template for the kind).
    #[arg(long, value_enum)]
    pub kind: crate::domain::message::MessageKind,
}

#[derive(Debug, Args)]
pub struct OutboxListArgs {
    /// Only messages in this status.
    #[arg(long, value_enum)]
    pub status: Option<crate::domain::message::MessageStatus>,
    /// Only messages of this kind.
    #[arg(long, value_enum)]
    pub kind: Option<crate::domain::message::MessageKind>,
    /// Only messages about this booking.
    #[arg(long, value_parser = booking_id)]
    pub booking: Option<i64>,
    /// Only messages to this student (Telegram user id).
    #[arg(long, value_name = "USER_ID")]
    pub user: Option<i64>,
    /// Only messages about bookings of this stream ("" for bookings without one).
    #[arg(long)]
    pub stream: Option<String>,
    /// The stream's course (needed when two courses use the same code).
    #[arg(long, requires = "stream")]
    pub course: Option<i64>,
    /// How many messages to show.
    #[arg(long, default_value_t = 50)]
    pub limit: u64,
    /// Show every matching message.
    #[arg(long, conflicts_with = "limit")]
    pub all: bool,
    #[command(flatten)]
    pub output: OutputArgs,
    #[command(flatten)]
    pub privacy: RedactArgs,
    /// Show message bodies whole (by default a listing shows their first 40 characters).
    #[arg(long, conflicts_with = "redact")]
    pub full_body: bool,
}

#[derive(Debug, Args)]
#[command(group(clap::ArgGroup::new("channel").required(true).args(["exec", "telegram"])))]
pub struct OutboxDrainArgs {
    /// Deliver by running CMD (through `sh -c`) once per message, the message as JSON on stdin; exit 0 = delivered.
    #[arg(long, value_name = "CMD")]
    pub exec: Option<String>,
    /// Let the --exec command see this environment variable although it holds
    /// a secret (PAYTRACK_TELEGRAM_TOKEN, PAYTRACK_DB, PGPASSWORD are withheld
    /// otherwise). Repeatable.
    #[arg(
        long,
        value_name = "NAME",
        requires = "exec",
        conflicts_with = "telegram"
    )]
    pub pass_env: Vec<String>,
    /// Deliver through the Telegram Bot API (token from the environment, PAYTRACK_TELEGRAM_TOKEN).
    #[arg(long)]
    pub telegram: bool,
    /// Send at most N messages in this run.
    #[arg(long, value_name = "N", value_parser = clap::value_parser!(u64).range(1..))]
    pub limit: Option<u64>,
    /// After this many attempts a message is failed.
    #[arg(long, value_name = "N", default_value_t = 8, value_parser = clap::value_parser!(u32).range(1..=100))]
    pub max_attempts: u32,
    /// Give up on one send after this long (the command is killed): 500ms, 30s, 2m.
    #[arg(long, value_name = "DURATION", default_value = "30s", value_parser = send_timeout)]
    pub timeout: std::time::Duration,
    /// Print only what needs a person (messages that failed for good); for cron.
    #[arg(long, short)]
    pub quiet: bool,
}

/// A send time-out: `500ms`, `30s`, `2m`, or a number of seconds; 1 ms to 1 hour.
fn send_timeout(text: &str) -> Result<std::time::Duration, String> {
    let t = text.trim();
    let (digits, unit_ms) = if let Some(n) = t.strip_suffix("ms") {
        (n, 1)
    } else if let Some(n) = t.strip_suffix('s') {
        (n, 1000)
    } else if let Some(n) = t.strip_suffix('m') {
        (n, 60_000)
    } else {
        (t, 1000)
    };
    let ms = digits
        .parse::<u64>()
        .ok()
        .and_then(|n| n.checked_mul(unit_ms))
        .filter(|&ms| (1..=3_600_000).contains(&ms))
        .ok_or_else(|| {
            format!(
                "'{}' is not a time-out between 1ms and 1h (e.g. 500ms, 30s, 2m)",
                crate::output::sanitize::shown(text)
            )
        })?;
    Ok(std::time::Duration::from_millis(ms))
}

#[derive(Debug, Subcommand)]
// Arguments are defined when the subcommand is used (clap's `defer`): building
// the whole tree was 10% of a one-page `bookings list` (issue 19).
#[command(defer = true)]
pub enum PaymentsCommand {
    /// Import payments (CSV), confirm the bookings they fully pay, report what needs a person.
    ///
    /// Exit code 10 when this run found something new for a person (partial, overpaid,
    /// cancelled, unknown booking, unmatched, ambiguous, conflict, currency mismatch, zero
    /// amount, duplicate row). Rows an earlier run reported and nobody resolved are listed
    /// again, marked as such, without raising 10 (`--strict`: they raise it too).
    #[command(
        after_help = "Columns (by header name; `,` or `;` separated; decimal comma accepted):\n  external_id, amount (required); provider, booking_id, currency, paid_at, description\n\nExamples:\n  paytrack payments import yookassa.csv\n  paytrack payments import statement.csv --provider bank --dry-run\n  paytrack payments import yookassa.csv --json || alert"
    )]
    Import(PaymentsImportArgs),
    /// List stored payments, latest paid first.
    #[command(
        after_help = "Examples:\n  paytrack payments list --booking 42\n  paytrack payments list --outcome partial --csv\n  paytrack payments list --attention --since 7d"
    )]
    List(PaymentsListArgs),
    /// Attach an unmatched, unknown-booking or ambiguous payment to a booking and reconcile it there.
    ///
    /// The same rules as the import: a payment completing the price confirms a
    /// pending booking (audit entry, confirmation message); otherwise it is
    /// partial, overpaid, cancelled… A payment already attached to a booking is
    /// moved only with --force --reason.
    #[command(
        after_help = "Examples:\n  paytrack payments list --attention\n  paytrack payments assign 17 42\n  paytrack payments assign 17 43 --force --reason \"wrong booking number in the transfer\""
    )]
    Assign(PaymentsAssignArgs),
    /// Mark payments that need a person as handled (who, when, a note); they leave --attention.
    ///
    /// The outcome stays as it was. A partial payment whose booking was later
    /// fully paid leaves --attention by itself.
    #[command(
        after_help = "Examples:\n  paytrack payments resolve 17 --note \"returned to the payer\"\n  paytrack payments resolve 17 18 19 --note \"duplicate bank lines\""
    )]
    Resolve(PaymentsResolveArgs),
    /// Record money returned for a booking; it is netted against what the booking received.
    ///
    /// A full refund of a confirmed booking offers to cancel it (a question on a
    /// terminal, a hint otherwise); it is never cancelled without asking.
    #[command(
        after_help = "Examples:\n  paytrack payments refund 42 --amount 27000 --currency RUB --reason \"student withdrew\"\n  paytrack payments refund 42 --amount 3000 --currency RUB --reason overpaid --ref yk_refund_991"
    )]
    Refund(PaymentsRefundArgs),
    /// Providers that sent payments, with the column map and encoding remembered for their files.
    #[command(
        after_help = "Examples:\n  paytrack payments providers\n  paytrack payments import statement.csv --provider sber --map amount=Сумма,description=\"Назначение платежа\",paid_at=Дата"
    )]
    Providers {
        #[command(flatten)]
        output: OutputArgs,
    },
    /// Receive online payment notifications (T-Bank, CloudPayments, YooKassa, Stripe) over HTTP.
    ///
    /// POST /webhooks/{tinkoff,cloudpayments,yookassa,stripe}; each notification is verified
    /// as its provider documents and reconciled as `payments import` would. Secrets come from
    /// the environment only; a provider without its secret answers 404. Stops on Ctrl-C/SIGTERM.
    #[command(
        after_help = "Environment:\n  PAYTRACK_TINKOFF_PASSWORD, PAYTRACK_CLOUDPAYMENTS_SECRET,\n  PAYTRACK_YOOKASSA_SHOP_ID + PAYTRACK_YOOKASSA_SECRET_KEY, PAYTRACK_STRIPE_WEBHOOK_SECRET\n\nExamples:\n  paytrack payments serve --listen 127.0.0.1:8080"
    )]
    Serve(crate::commands::online::ServeArgs),
    /// Read a provider's succeeded payments and refunds through its API and reconcile the ones
    /// the webhooks missed.
    ///
    /// Each is reconciled as its notification would be; a payment stored already (by a
    /// webhook or an earlier fetch) is skipped. Exit 10 when a new one needs a person.
    #[command(
        after_help = "Examples:\n  paytrack payments fetch --provider yookassa --since 24h\n  15 * * * *  paytrack payments fetch --provider yookassa --since 2h || notify-admin"
    )]
    Fetch(crate::commands::online::FetchArgs),
}

#[derive(Debug, Args)]
pub struct PaymentsAssignArgs {
    /// The payment's id (first column of `payments list`).
    #[arg(value_parser = payment_id)]
    pub payment: i64,
    /// The booking it pays for.
    #[arg(value_parser = booking_id)]
    pub booking: i64,
    /// Why (kept in the audit log; required with --force).
    #[arg(long)]
    pub reason: Option<String>,
    /// Move a payment that is already attached to a booking.
    #[arg(long, requires = "reason")]
    pub force: bool,
    /// Print the result as JSON on stdout.
    #[arg(long)]
    pub json: bool,
}

#[derive(Debug, Args)]
pub struct PaymentsResolveArgs {
    /// Payment ids (first column of `payments list`).
    #[arg(required = true, value_parser = payment_id)]
    pub payments: Vec<i64>,
    /// What was done (kept with the payment and in the audit log).
    #[arg(long, required = true)]
    pub note: String,
    /// Print the result as JSON on stdout.
    #[arg(long)]
    pub json: bool,
}

#[derive(Debug, Args)]
pub struct PaymentsRefundArgs {
    /// The booking the money was returned for.
    #[arg(value_parser = booking_id)]
    pub booking: i64,
    /// The sum returned, e.g. 27000 or 27 000,50 (positive).
    #[arg(long)]
    pub amount: String,
    /// Its currency (three letters, e.g. RUB).
    #[arg(long, value_parser = currency_code)]
    pub currency: String,
    /// Why the money was returned (kept in the audit log).
    #[arg(long)]
    pub reason: String,
    /// Who paid it out.
    #[arg(long, default_value = "manual")]
    pub provider: String,
    /// The provider's reference for the refund [default: generated].
    #[arg(long = "ref", value_name = "REF")]
    pub reference: Option<String>,
    /// Print the result as JSON on stdout.
    #[arg(long)]
    pub json: bool,
}

/// A payment id: a positive whole number.
fn payment_id(text: &str) -> Result<i64, String> {
    match text.trim().trim_start_matches('#').parse::<i64>() {
        Ok(n) if n > 0 => Ok(n),
        _ => Err(format!(
            "'{text}' is not a payment id (a positive whole number)"
        )),
    }
}

#[derive(Debug, Args)]
pub struct PaymentsImportArgs {
    /// CSV file with a header row (`-` for stdin).
    pub file: PathBuf,
    /// Provider for rows without a provider column or cell, e.g. bank.
    #[arg(long)]
    pub provider: Option<String>,
    /// Do the whole import, report it, and roll it back.
    #[arg(long)]
    pub dry_run: bool,
    /// Record the payments and confirmations without queueing any message
    /// (e.g. a historical import of payments the students know about).
    #[arg(long)]
    pub no_notify: bool,
    #[command(flatten)]
    pub output: OutputArgs,
    /// Exit 10 for every row that needs a person, also rows an earlier run already reported.
    #[arg(long)]
    pub strict: bool,
    /// Read the file in this encoding (utf-8, windows-1251…) instead of detecting it; remembered for --provider.
    #[arg(long, value_name = "NAME", value_parser = crate::domain::bank_file::encoding_by_name)]
    pub encoding: Option<&'static encoding_rs::Encoding>,
    /// The bank's own column names: amount=Сумма,description=Назначение платежа,paid_at=Дата. Remembered for --provider.
    #[arg(long, value_name = "COLUMN=HEADER,…", requires = "provider", value_parser = column_map)]
    pub map: Option<crate::domain::bank_file::ColumnMap>,
    /// Show every row that needs attention in the table (default: the first 20; --csv and --json list all).
    #[arg(long)]
    pub all: bool,
}

fn column_map(text: &str) -> Result<crate::domain::bank_file::ColumnMap, String> {
    crate::domain::bank_file::ColumnMap::parse(text, &crate::domain::bank_file::PAYMENT_COLUMNS)
}

#[derive(Debug, Args)]
pub struct PaymentsListArgs {
    /// Only payments of this booking.
    #[arg(long, value_parser = booking_id)]
    pub booking: Option<i64>,
    /// Only this provider.
    #[arg(long)]
    pub provider: Option<String>,
    /// Only this outcome.
    #[arg(long, value_enum)]
    pub outcome: Option<PaymentOutcome>,
    /// Only outcomes a person must look at.
    #[arg(long, conflicts_with = "outcome")]
    pub attention: bool,
    /// Paid at or after: 2024-12-01, RFC 3339, today, yesterday, 7d, 24h.
    #[arg(long, value_name = "WHEN")]
    pub since: Option<String>,
    /// Paid before (same forms as --since).
    #[arg(long, value_name = "WHEN")]
    pub until: Option<String>,
    /// How many rows to show.
    #[arg(long, default_value_t = 50)]
    pub limit: u64,
    /// Show every matching row.
    #[arg(long, conflicts_with = "limit")]
    pub all: bool,
    #[command(flatten)]
    pub output: OutputArgs,
    #[command(flatten)]
    pub privacy: RedactArgs,
}

#[derive(Debug, Subcommand)]
// Arguments are defined when the subcommand is used (clap's `defer`): building
// the whole tree was 10% of a one-page `bookings list` (issue 19).
#[command(defer = true)]
pub enum StreamsCommand {
    /// Streams with their names, prices, capacities and booking counts.
    #[command(
        after_help = "Examples:\n  paytrack streams list\n  paytrack streams list --course 1 --csv"
    )]
    List {
        /// Only this course.
        #[arg(long)]
        course: Option<i64>,
        #[command(flatten)]
        output: OutputArgs,
    },
    /// Add a stream to a course.
    #[command(
        after_help = "Examples:\n  paytrack streams add 9th_stream --course 1 --name \"9-й поток\" --price 30000 --currency RUB --capacity 40"
    )]
    Add(StreamAddArgs),
    /// Change a stream's name, price, currency or capacity (`none` clears price or capacity).
    #[command(
        after_help = "Examples:\n  paytrack streams edit 9th_stream --price 32000\n  paytrack streams edit 9th_stream --course 1 --capacity none"
    )]
    Edit(StreamEditArgs),
    /// Confirmed students of a stream, with whether they blocked the bot.
    #[command(
        after_help = "Examples:\n  paytrack streams members 8th_stream\n  paytrack streams members 8th_stream --course 1 --csv"
    )]
    Members {
        /// Stream code.
        stream: String,
        /// The stream's course (needed when two courses use the same code).
        #[arg(long)]
        course: Option<i64>,
        #[command(flatten)]
        output: OutputArgs,
        #[command(flatten)]
        privacy: RedactArgs,
    },
    /// Queue one message to each member of a stream (blocked students skipped and counted).
    #[command(
        after_help = "The text file is a template (placeholders as in `courses template`); without it the\n\
course's broadcast template is used. On a terminal the count is shown and confirmed; elsewhere\n\
--yes is needed. With --key, re-running the same broadcast queues nothing new.\n\n\
Examples:\n  paytrack streams broadcast 8th_stream --text-file start.txt --dry-run\n  paytrack streams broadcast 8th_stream --text-file start.txt --key start-2024-12 --yes"
    )]
    Broadcast(BroadcastArgs),
}

#[derive(Debug, Args)]
pub struct BroadcastArgs {
    /// Stream code.
    pub stream: String,
    /// The stream's course (needed when two courses use the same code).
    #[arg(long)]
    pub course: Option<i64>,
    /// The message (a template: {first_name} {course} {stream} {booking_id} {amount_due} {chat_link}).
    #[arg(long, value_name = "FILE")]
    pub text_file: Option<PathBuf>,
    /// Members in this status.
    #[arg(
        long = "status",
        value_enum,
        ignore_case = true,
        value_name = "STATUS",
        default_value = "confirmed"
    )]
    pub status: Status,
    /// A name for this broadcast: a member who already got it is skipped.
    #[arg(long, value_name = "KEY")]
    pub key: Option<String>,
    /// Queue nothing, and exit 10 naming the count, when more than N messages would go out.
    #[arg(long, value_name = "N")]
    pub max: Option<u64>,
    /// Show who would get it; queue nothing.
    #[arg(long)]
    pub dry_run: bool,
    /// Do not ask for confirmation (needed when not on a terminal).
    #[arg(long, short)]
    pub yes: bool,
    /// Print the result as JSON on stdout.
    #[arg(long)]
    pub json: bool,
}

// Stream fields that `add` and `edit` set.
#[derive(Debug, Args, Clone, Default)]
pub struct StreamFields {
    /// Name people see, e.g. "9-й поток".
    #[arg(long)]
    pub name: Option<String>,
    /// Price of the stream, e.g. 30000 or 27000.50; `none` clears it.
    #[arg(long, value_parser = price_setting)]
    pub price: Option<Setting<i64>>,
    /// Currency of the price, e.g. RUB.
    #[arg(long, value_parser = currency_code)]
    pub currency: Option<String>,
    /// Number of seats; `none` clears it.
    #[arg(long, value_parser = capacity_setting)]
    pub capacity: Option<Setting<i64>>,
}

#[derive(Debug, Args)]
pub struct StreamAddArgs {
    /// Stream code as bookings use it, e.g. 9th_stream.
    pub code: String,
    /// Course id.
    #[arg(long)]
    pub course: i64,
    #[command(flatten)]
    pub fields: StreamFields,
}

#[derive(Debug, Args)]
pub struct StreamEditArgs {
    /// Stream code.
    pub code: String,
    /// Course id (needed when two courses use the same code).
    #[arg(long)]
    pub course: Option<i64>,
    #[command(flatten)]
    pub fields: StreamFields,
    /// The stream's group chat link for the {chat_link} placeholder (https:// or tg://); `none` clears it.
    #[arg(long, value_name = "URL", value_parser = chat_link_setting)]
    pub chat_link: Option<Setting<String>>,
    /// Set a capacity below the number of confirmed students (new bookings are then refused).
    #[arg(long)]
    pub force: bool,
}

/// A chat link: https:// or tg://, no spaces or control characters, at most 512 characters.
fn chat_link_setting(text: &str) -> Result<Setting<String>, String> {
    let text = text.trim();
    if text.eq_ignore_ascii_case("none") {
        return Ok(Setting::Clear);
    }
    let scheme_ok = text.starts_with("https://") || text.starts_with("tg://");
    let clean = !text.chars().any(|c| c.is_whitespace() || c.is_control());
    if scheme_ok && clean && text.len() > 8 && text.chars().count() <= 512 {
        Ok(Setting::To(text.to_string()))
    } else {
        Err(
            "a chat link is an https:// or tg:// URL without spaces, e.g. https://t.me/+AbCdEf"
                .into(),
        )
    }
}

/// A value to set, or `none` to clear it.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Setting<T> {
    Clear,
    To(T),
}

impl<T> Setting<T> {
    pub fn into_option(self) -> Option<T> {
        match self {
            Setting::Clear => None,
            Setting::To(v) => Some(v),
        }
    }
}

fn price_setting(text: &str) -> Result<Setting<i64>, String> {
    if text.trim().eq_ignore_ascii_case("none") {
        return Ok(Setting::Clear);
    }
    match crate::domain::money::parse_amount(text)? {
        minor if minor < 0 => Err("a price cannot be negative".into()),
        minor => Ok(Setting::To(minor)),
    }
}

fn capacity_setting(text: &str) -> Result<Setting<i64>, String> {
    if text.trim().eq_ignore_ascii_case("none") {
        return Ok(Setting::Clear);
    }
    match text.trim().parse::<i64>() {
        Ok(n) if n >= 0 => Ok(Setting::To(n)),
        _ => Err(format!(
            "'{}' is not a capacity (a whole number of seats, or none)",
            crate::output::sanitize::shown(text)
        )),
    }
}

/// A currency code: three letters, stored upper-case (RUB, USD, EUR).
fn currency_code(text: &str) -> Result<String, String> {
    let text = text.trim();
    if text.len() == 3 && text.bytes().all(|b| b.is_ascii_alphabetic()) {
        Ok(text.to_ascii_uppercase())
    } else {
        Err(format!(
            "'{}' is not a currency code (three letters, e.g. RUB)",
            crate::output::sanitize::shown(text)
        ))
    }
}

#[derive(Debug, Subcommand)]
// Arguments are defined when the subcommand is used (clap's `defer`): building
// the whole tree was 10% of a one-page `bookings list` (issue 19).
#[command(defer = true)]
pub enum CoursesCommand {
    /// Courses with their names, templates and booking counts.
    #[command(after_help = "Examples:\n  paytrack courses list\n  paytrack courses list --json")]
    List {
        #[command(flatten)]
        output: OutputArgs,
    },
    /// Add a course.
    #[command(
        after_help = "Examples:\n  paytrack courses add 5 --name \"Вайб кодинг\" --template confirmation.txt"
    )]
    Add(CourseAddArgs),
    /// Rename a course or change its confirmation message template.
    #[command(
        after_help = "Examples:\n  paytrack courses edit 5 --name \"Вайб кодинг 2.0\"\n  paytrack courses edit 5 --default-template"
    )]
    Edit(CourseEditArgs),
    /// Show or set a course's message template of one kind (confirmed, cancelled, reminder, broadcast).
    #[command(
        after_help = "Placeholders: {first_name} {course} {stream} {booking_id} {amount_due} {chat_link}.\n\
A placeholder alone in parentheses, e.g. ({stream}), disappears with them when it is empty.\n\
An unknown placeholder, or a text that could exceed Telegram's 4096 characters once filled\n\
in, is refused (exit 3). Queued messages are rendered when sent, so a fix reaches them.\n\n\
Examples:\n  paytrack courses template 5 --kind reminder\n  paytrack courses template 5 --kind reminder --file reminder.txt\n  paytrack courses template 5 --kind cancelled --reset"
    )]
    Template(CourseTemplateArgs),
}

#[derive(Debug, Args)]
pub struct CourseTemplateArgs {
    /// Course id.
    pub id: i64,
    /// Which message.
    #[arg(long, value_enum)]
    pub kind: crate::domain::message::MessageKind,
    /// Set the template from this file (without it, the current template is printed).
    #[arg(long, value_name = "FILE")]
    pub file: Option<PathBuf>,
    /// Go back to the default text.
    #[arg(long, conflicts_with = "file")]
    pub reset: bool,
}

#[derive(Debug, Args)]
pub struct CourseAddArgs {
    /// Course id as bookings use it.
    pub id: i64,
    /// Name people see.
    #[arg(long)]
    pub name: String,
    /// Confirmation message template file (placeholders: {first_name} {username} {course_name} {stream_name} {booking_id}).
    #[arg(long, value_name = "FILE")]
    pub template: Option<PathBuf>,
}

#[derive(Debug, Args)]
pub struct CourseEditArgs {
    /// Course id.
    pub id: i64,
    /// New name.
    #[arg(long)]
    pub name: Option<String>,
    /// Confirmation message template file.
    #[arg(long, value_name = "FILE")]
    pub template: Option<PathBuf>,
    /// Go back to the default confirmation message.
    #[arg(long, conflicts_with = "template")]
    pub default_template: bool,
}

// --- issue 20 (personal data) ---------------------------------------------

#[derive(Debug, Args)]
pub struct UsersEraseArgs {
    /// Telegram user id.
    #[arg(value_name = "USER_ID")]
    pub user_id: i64,
    /// Why (e.g. the request's date and channel); kept in the audit log.
    #[arg(long)]
    pub reason: String,
    /// Count what would be erased; change nothing.
    #[arg(long)]
    pub dry_run: bool,
    /// Do not ask for confirmation (needed when not on a terminal).
    #[arg(long, short)]
    pub yes: bool,
    /// Also VACUUM the database file afterwards (rewrites it whole; slow on big files).
    #[arg(long)]
    pub vacuum: bool,
    /// Print the counts as JSON on stdout.
    #[arg(long)]
    pub json: bool,
}

#[derive(Debug, Subcommand)]
// Arguments are defined when the subcommand is used (clap's `defer`): building
// the whole tree was 10% of a one-page `bookings list` (issue 19).
#[command(defer = true)]
pub enum RetentionCommand {
    /// Pseudonymise bookings and clear message bodies older than the given ages.
    #[command(
        after_help = "Ages: a number and y (years), m (months) or d (days), counted back from now.\nBookings older than --bookings-older-than (by creation date) are erased as\n`users erase` does for one person; messages older than --messages-older-than\nthat will not be sent any more (sent, failed, withdrawn, cancelled) lose their body. Ids, statuses, amounts and dates stay.\n\nExamples:\n  paytrack retention apply --bookings-older-than 3y --messages-older-than 1y --dry-run\n  # crontab: every night at 03:45\n  45 3 * * * paytrack --db /srv/paytrack/school.db retention apply --bookings-older-than 3y --messages-older-than 1y"
    )]
    Apply(RetentionApplyArgs),
}

#[derive(Debug, Args)]
#[command(group(clap::ArgGroup::new("rule").required(true).multiple(true)))]
pub struct RetentionApplyArgs {
    /// Pseudonymise bookings created longer ago than this (e.g. 3y).
    #[arg(long, value_name = "AGE", group = "rule")]
    pub bookings_older_than: Option<String>,
    /// Clear the bodies of messages older than this that will not be sent any more (e.g. 1y).
    #[arg(long, value_name = "AGE", group = "rule")]
    pub messages_older_than: Option<String>,
    /// Count what would be touched; change nothing.
    #[arg(long)]
    pub dry_run: bool,
    /// Print the counts as JSON on stdout.
    #[arg(long)]
    pub json: bool,
}

// `--redact` for listings (issue 20).
#[derive(Debug, Args, Clone, Copy, Default)]
pub struct RedactArgs {
    /// Leave out what identifies students: names, payment descriptions, message bodies, reasons.
    #[arg(long)]
    pub redact: bool,
}
