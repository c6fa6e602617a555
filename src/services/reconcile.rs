//! The write path of `payments import`: match each payment to a booking,
//! decide its outcome (`domain::payment::decide`), store it, and confirm the
//! bookings it completes — through `change_status`, the one way a status
//! changes, so a confirmation by payment gets the same state machine, audit
//! entry and outbox message as `booking set-status`.

use std::collections::HashMap;

use anyhow::Result;
use chrono::{DateTime, Utc};
use serde_json::json;

use crate::db::payments::NewPayment;
use crate::db::WriteTx;
use crate::domain::audit::{action, NewAuditEntry};
use crate::domain::booking::Booking;
use crate::domain::money::expected_price;
use crate::domain::payment::{
    booking_reference, decide, normalize_currency, BookingFacts, PaymentOutcome, Target,
};
use crate::domain::Status;
use crate::services::status_change::{change_status, StatusChange};

/// One payment read from a file. `booking_id` is the file's booking_id cell
/// (None when empty); the description is searched when it is None.
#[derive(Debug, Clone)]
pub struct IncomingPayment {
    /// Line in the file, for the report.
    pub line: u64,
    pub payment: NewPayment,
}

/// Why a row is in front of a person.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Attention {
    /// A stored payment whose outcome needs a person.
    Outcome(PaymentOutcome),
    /// The same (provider, external_id) appeared earlier in the file; this row was not imported.
    DuplicateInFile { first_line: u64 },
}

/// A row a person must look at, with what the report needs to explain it.
#[derive(Debug, Clone)]
pub struct AttentionRow {
    pub line: u64,
    pub attention: Attention,
    pub payment: NewPayment,
    /// What the booking should pay (stream price less discount), when known.
    pub expected_minor: Option<i64>,
    /// The stream's currency, when set.
    pub expected_currency: Option<String>,
    /// What the booking has received in this currency, this payment included.
    pub received_minor: i64,
    /// This payment confirmed the booking (an overpayment still confirms).
    pub booking_confirmed: bool,
}

/// What an import did.
#[derive(Debug, Default)]
pub struct ReconcileReport {
    /// Data rows read.
    pub rows: u64,
    /// Payments stored by this import.
    pub imported: u64,
    /// Rows whose (provider, external_id) an earlier import stored: skipped.
    pub already_imported: u64,
    /// Rows repeating an earlier row of the same file: skipped and reported.
    pub duplicates_in_file: u64,
    pub bookings_confirmed: u64,
    pub messages_queued: u64,
    /// Stored payments per outcome.
    pub outcomes: HashMap<PaymentOutcome, u64>,
    /// Rows a person must look at, in file order.
    pub attention: Vec<AttentionRow>,
}

impl ReconcileReport {
    pub fn count(&self, outcome: PaymentOutcome) -> u64 {
        self.outcomes.get(&outcome).copied().unwrap_or(0)
    }
}

/// Price and currency of a stream, as reconciliation needs them.
#[derive(Debug, Clone)]
struct StreamTerms {
    price_minor: Option<i64>,
    currency: Option<String>,
}

/// Reconciles the payments of one file inside one write transaction.
pub struct Reconciler<'t> {
    tx: &'t WriteTx<'t>,
    actor: &'t str,
    now: DateTime<Utc>,
    /// (provider, external_id) → the line that first had it, in this file.
    seen: HashMap<(String, String), u64>,
    /// Streams looked up so far: a file pays for a few streams many times.
    streams: HashMap<(i64, String), StreamTerms>,
    report: ReconcileReport,
    /// Queue confirmation messages (false: `payments import --no-notify`).
    notify: bool,
}

impl<'t> Reconciler<'t> {
    pub fn new(tx: &'t WriteTx<'t>, actor: &'t str, now: DateTime<Utc>) -> Reconciler<'t> {
        Reconciler {
            tx,
            actor,
            now,
            seen: HashMap::new(),
            streams: HashMap::new(),
            report: ReconcileReport::default(),
            notify: true,
        }
    }

    /// Confirms without queueing messages (`--no-notify`).
    pub fn without_messages(mut self) -> Reconciler<'t> {
        self.notify = false;
        self
    }

    /// Matches, decides and stores one payment.
    pub fn apply(&mut self, incoming: IncomingPayment) -> Result<()> {
        let IncomingPayment { line, mut payment } = incoming;
        let report = &mut self.report;
        report.rows += 1;
        let key = (payment.provider.clone(), payment.external_id.clone());
        if let Some(&first_line) = self.seen.get(&key) {
            report.duplicates_in_file += 1;
            report.attention.push(AttentionRow {
                line,
                attention: Attention::DuplicateInFile { first_line },
                payment,
                expected_minor: None,
                expected_currency: None,
                received_minor: 0,
                booking_confirmed: false,
            });
            return Ok(());
        }
        self.seen.insert(key, line);
        if self
            .tx
            .payment_exists(&payment.provider, &payment.external_id)?
        {
            self.report.already_imported += 1;
            return Ok(());
        }

        // The booking_id column wins; the description is only searched without it.
        let reference = payment
            .booking_id
            .or_else(|| payment.description.as_deref().and_then(booking_reference));
        payment.booking_id = reference;
        let booking = match reference {
            Some(id) => self.tx.booking(id)?,
            None => None,
        };
        let facts = booking.as_ref().map(|b| self.facts(b)).transpose()?;
        if payment.currency.is_empty() {
            // A file without currencies pays in the stream's currency.
            if let Some(currency) = facts.as_ref().and_then(|f| f.currency.clone()) {
                payment.currency = currency;
            }
        }
        let target = match (&booking, &facts) {
            (Some(_), Some(f)) => Target::Found(f),
            _ if reference.is_some() => Target::Missing,
            _ => Target::NoReference,
        };
        let paid_before = match &booking {
            Some(b) => self.tx.received_total(b.id, &payment.currency)?,
            None => 0,
        };
        let decision = decide(target, payment.amount_minor, &payment.currency, paid_before);

        if decision.confirm {
            let change = StatusChange {
                booking_id: reference.expect("a confirmed payment has a booking"),
                to: Status::Confirmed,
                force: false,
                reason: None,
                // Read under this same lock, so it holds; a second guard all the same.
                expect: Some(Status::Pending),
                notify: self.notify,
                payment: Some(payment.clone()),
                payment_outcome: decision.outcome,
                template: None,
                source: "payments import",
            };
            let outcome = change_status(self.tx, &change, self.actor, self.now)?;
            self.report.bookings_confirmed += 1;
            if outcome.message_id.is_some() {
                self.report.messages_queued += 1;
            }
        } else {
            self.tx
                .insert_payment(&payment, decision.outcome, self.now)?;
        }
        let report = &mut self.report;
        report.imported += 1;
        *report.outcomes.entry(decision.outcome).or_default() += 1;
        if decision.outcome.needs_attention() {
            let counted = matches!(
                decision.outcome,
                PaymentOutcome::Partial | PaymentOutcome::Overpaid | PaymentOutcome::Cancelled
            );
            report.attention.push(AttentionRow {
                line,
                attention: Attention::Outcome(decision.outcome),
                expected_minor: facts.as_ref().and_then(|f| f.expected_minor),
                expected_currency: facts.as_ref().and_then(|f| f.currency.clone()),
                received_minor: if counted {
                    paid_before.saturating_add(payment.amount_minor)
                } else {
                    paid_before
                },
                booking_confirmed: decision.confirm,
                payment,
            });
        }
        Ok(())
    }

    /// Ends the import: one `payments.imported` audit entry when anything was stored.
    pub fn finish(self, file: &str) -> Result<ReconcileReport> {
        let report = self.report;
        if report.imported > 0 {
            let outcomes: serde_json::Map<String, serde_json::Value> = PaymentOutcome::ALL
                .into_iter()
                .filter(|o| report.count(*o) > 0)
                .map(|o| (o.as_str().to_string(), json!(report.count(o))))
                .collect();
            self.tx.append_audit(
                self.actor,
                self.now,
                NewAuditEntry {
                    action: action::PAYMENTS_IMPORTED,
                    details: json!({
                        "file": file,
                        "rows": report.rows,
                        "imported": report.imported,
                        "already_imported": report.already_imported,
                        "duplicates_in_file": report.duplicates_in_file,
                        "bookings_confirmed": report.bookings_confirmed,
                        "needs_attention": report.attention.len(),
                        "outcomes": outcomes,
                    }),
                    ..Default::default()
                },
            )?;
        }
        Ok(report)
    }

    fn facts(&mut self, booking: &Booking) -> Result<BookingFacts> {
        let terms = match booking.course_stream.as_deref().filter(|s| !s.is_empty()) {
            Some(code) => {
                let key = (booking.course_id, code.to_string());
                match self.streams.get(&key) {
                    Some(terms) => terms.clone(),
                    None => {
                        let stream = self.tx.stream(booking.course_id, code)?;
                        let terms = StreamTerms {
                            price_minor: stream.as_ref().and_then(|s| s.price_minor),
                            currency: stream
                                .and_then(|s| s.currency)
                                .filter(|c| !c.trim().is_empty())
                                .map(|c| normalize_currency(&c)),
                        };
                        self.streams.insert(key, terms.clone());
                        terms
                    }
                }
            }
            None => StreamTerms {
                price_minor: None,
                currency: None,
            },
        };
        Ok(BookingFacts {
            status: booking.status,
            expected_minor: terms
                .price_minor
                .map(|p| expected_price(p, booking.discount_percent)),
            currency: terms.currency,
        })
    }
}
