//! The top-level parser: the global options and the list of commands. Each
//! command's own arguments are declared beside the code that runs it
//! (`commands::*`, cargo's and atuin's layout), the groups several commands
//! share in `crate::args`. The `///` comments are the English `--help` text;
//! `crate::i18n::help` puts the Russian text on the built tree by clap id.

use std::path::PathBuf;

use clap::{Parser, Subcommand};

pub mod groups;
pub mod route;

use groups::{BookingsCommand, PaymentsCommand, StreamsCommand, UsersCommand};

use crate::commands::audit::AuditCommand;
use crate::commands::backup::BackupArgs;
use crate::commands::catalogue::args::CoursesCommand;
use crate::commands::check::CheckArgs;
use crate::commands::demo::DemoArgs;
use crate::commands::outbox::OutboxCommand;
use crate::commands::retention::RetentionCommand;
use crate::commands::setup::{InitArgs, UninstallArgs};
use crate::commands::stats::StatsCommand;
use crate::commands::undo::UndoArgs;
use crate::output::{ColorChoice, Lang};

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
pub const GLOBAL_OPTIONS: &str = "Global options";

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

    /// The command as typed, e.g. "bookings list" (an alias such as
    /// `booking` gives its command's name), for messages. Filled by
    /// `from_matches` from clap's own record of the subcommands.
    #[arg(skip)]
    pub command_name: String,
}

impl Cli {
    /// The parsed command line, with `command_name` read from `matches`.
    pub fn from_matches(matches: &clap::ArgMatches) -> Result<Cli, clap::Error> {
        use clap::FromArgMatches as _;
        let mut cli = Cli::from_arg_matches(matches)?;
        cli.command_name = command_name(matches);
        Ok(cli)
    }
}

/// The names of the subcommands `matches` went through, joined by spaces.
pub fn command_name(matches: &clap::ArgMatches) -> String {
    let mut words = Vec::new();
    let mut level = matches;
    while let Some((name, sub)) = level.subcommand() {
        words.push(name);
        level = sub;
    }
    words.join(" ")
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
    Init(InitArgs),
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
