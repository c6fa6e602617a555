//! The command tree's groups whose subcommands belong to several command
//! modules (`bookings …`, `users …`, `payments …`, `streams …`): the parser
//! assembles them, so that no command module imports another (each leaf's
//! arguments stay beside the code that runs it).

use clap::Subcommand;

use crate::args::{booking_id, OutputArgs, RedactArgs};
use crate::commands::add::AddArgs;
use crate::commands::bookings::{ExportArgs, ListArgs};
use crate::commands::catalogue::args::{StreamAddArgs, StreamEditArgs};
use crate::commands::edit::EditArgs;
use crate::commands::erase::UsersEraseArgs;
use crate::commands::import::ImportArgs;
use crate::commands::messaging::{BroadcastArgs, RemindArgs};
use crate::commands::online::{FetchArgs, PayLinkArgs, ServeArgs};
use crate::commands::payments::args::{
    PaymentsAssignArgs, PaymentsImportArgs, PaymentsListArgs, PaymentsRefundArgs,
    PaymentsResolveArgs,
};
use crate::commands::set_status::SetStatusArgs;
use crate::domain::booking::UserRef;

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
--input - reads one JSON object per line from stdin and adds them all in one transaction\n\
(a bad line is named and nothing is added); fields: user_id, username, first_name, course,\n\
stream, referral, discount, status, created_at, key. It prints one JSON line per booking.\n\n\
Examples:\n  paytrack bookings add --user-id 123 --username @olga --first-name Ольга --course 1 --stream 8th_stream\n  paytrack bookings add --user-id 123 --course 1 --stream 8th_stream --key tg-update-8812 --json\n  bot-export | paytrack bookings add --input -"
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
    PayLink(PayLinkArgs),
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
    Serve(ServeArgs),
    /// Read a provider's succeeded payments and refunds through its API and reconcile the ones
    /// the webhooks missed.
    ///
    /// Each is reconciled as its notification would be; a payment stored already (by a
    /// webhook or an earlier fetch) is skipped. Exit 10 when a new one needs a person.
    #[command(
        after_help = "Examples:\n  paytrack payments fetch --provider yookassa --since 24h\n  15 * * * *  paytrack payments fetch --provider yookassa --since 2h || notify-admin"
    )]
    Fetch(FetchArgs),
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
