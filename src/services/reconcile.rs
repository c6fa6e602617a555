//! The write path of `payments import`: match each payment to a booking,
//! decide its outcome (`domain::payment::decide`), store it, and confirm the
//! bookings it completes — through `change_status`, the one way a status
//! changes, so a confirmation by payment gets the same state machine, audit
//! entry and outbox message as `booking set-status`.

use std::collections::hash_map::Entry;
use std::collections::HashMap;

use rustc_hash::{FxHashMap, FxHashSet};

use anyhow::Result;
use chrono::{DateTime, Utc};
use serde_json::json;

use crate::db::bookings::BOOKINGS_AHEAD;
use crate::db::payments::{NewPayment, PaymentKeys, StoredPayment};
use crate::db::WriteTx;
use crate::domain::audit::{action, NewAuditEntry};
use crate::domain::booking::Booking;
use crate::domain::money::expected_price;
use crate::domain::payment::{
    booking_references, decide, normalize_currency, BookingFacts, PaymentOutcome, Target,
};
use crate::domain::Status;
use crate::services::status_change::{ChangeBatch, StatusChange};

/// One payment read from a file. `booking_id` is the file's booking_id cell
/// (None when empty); the description is searched when it is None.
#[derive(Debug, Clone)]
pub struct IncomingPayment {
    /// Line in the file, for the report.
    pub line: u64,
    pub payment: NewPayment,
}

/// Why a row is in front of a person.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Attention {
    /// A stored payment whose outcome needs a person.
    Outcome(PaymentOutcome),
    /// The same payment appeared earlier in the file; this row was not imported.
    DuplicateInFile { first_line: u64 },
    /// A known (provider, external_id) with another amount, date or booking:
    /// stored as a conflict beside `stored_id`, which stands.
    Conflict {
        stored_id: i64,
        /// The line of this file that stored the first version, if it did.
        first_line: Option<u64>,
        /// What differs: "amount", "date", "booking", "currency".
        differs: Vec<&'static str>,
        /// The stored version's amount, date and booking, for the explanation.
        stored_amount_minor: i64,
        stored_paid_at: Option<String>,
        stored_booking: Option<i64>,
    },
    /// The description names several bookings.
    Ambiguous { candidates: Vec<i64> },
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
    /// An earlier run already stored and reported this row, and nobody has
    /// resolved it yet: listed, but not news (no exit 10 for it without --strict).
    pub already_reported: bool,
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
    /// Refunds that bring a confirmed booking's net to zero: (line, booking).
    /// Cancelling it is offered, never done by the import.
    pub fully_refunded: Vec<(u64, i64)>,
}

impl ReconcileReport {
    pub fn count(&self, outcome: PaymentOutcome) -> u64 {
        self.outcomes.get(&outcome).copied().unwrap_or(0)
    }

    /// Attention rows this run found for the first time (what exit 10 reports).
    pub fn new_attention(&self) -> usize {
        self.attention
            .iter()
            .filter(|r| !r.already_reported)
            .count()
    }
}

/// Price and currency of a stream, as reconciliation needs them.
#[derive(Debug, Clone, Default)]
struct StreamTerms {
    price_minor: Option<i64>,
    currency: Option<String>,
}

fn stream_terms(tx: &WriteTx, course_id: i64, code: &str) -> Result<StreamTerms> {
    let stream = tx.stream(course_id, code)?;
    Ok(StreamTerms {
        price_minor: stream.as_ref().and_then(|s| s.price_minor),
        currency: stream
            .and_then(|s| s.currency)
            .filter(|c| !c.trim().is_empty())
            .map(|c| normalize_currency(&c)),
    })
}

fn facts_from(booking: &Booking, terms: StreamTerms) -> BookingFacts {
    BookingFacts {
        status: booking.status,
        expected_minor: terms
            .price_minor
            .map(|p| expected_price(p, booking.discount_percent)),
        currency: terms.currency,
    }
}

/// What reconciliation knows about one booking (its status, the price it
/// should pay, the stream's currency), read inside `tx`.
pub fn booking_facts(tx: &WriteTx, booking: &Booking) -> Result<BookingFacts> {
    let terms = match booking.course_stream.as_deref().filter(|s| !s.is_empty()) {
        Some(code) => stream_terms(tx, booking.course_id, code)?,
        None => StreamTerms::default(),
    };
    Ok(facts_from(booking, terms))
}

/// A 128-bit digest of (provider, external_id): SipHash twice, with two
/// random keys of this process, so that no file can be made to collide
/// (1 in 10^29 for 100k different pairs by chance).
#[derive(Default)]
struct PairDigest(std::hash::RandomState, std::hash::RandomState);

impl PairDigest {
    fn of(&self, provider: &str, external_id: &str) -> u128 {
        use std::hash::BuildHasher as _;
        let pair = (provider, external_id);
        u128::from(self.0.hash_one(pair)) << 64 | u128::from(self.1.hash_one(pair))
    }
}

/// Rows decided before they are written (payments, and the confirmations
/// with their messages and audit entries), at most.
const BATCH_ROWS: usize = 512;

/// Reconciles the payments of one file inside one write transaction.
pub struct Reconciler<'t> {
    tx: &'t WriteTx<'t>,
    actor: &'t str,
    now: DateTime<Utc>,
    /// (provider, external_id), as a `PairDigest`, → the line that first had
    /// it in this file, and whether this run stored that line's payment
    /// (conflicts aside). 32 bytes a row and no copy of the strings.
    seen: FxHashMap<u128, (u64, bool)>,
    digest: PairDigest,
    /// Streams looked up so far: a file pays for a few streams many times.
    streams: HashMap<(i64, String), StreamTerms>,
    /// Fingerprints of the stored (provider, external_id) pairs, kept up to
    /// date as this run stores more: most rows of a file are new, and a new
    /// pair needs no look-up. None (`for_one`): every pair is looked up.
    stored_keys: Option<PaymentKeys>,
    /// Bookings of the payments in `unwritten`; with the transaction's
    /// `may_have_payments` (which knows the stored ones), any other booking
    /// has received nothing, with no need to add its payments up.
    paid_unwritten: FxHashSet<i64>,
    /// Payments and confirmations decided but not written yet: written many
    /// rows per statement, in file order, before anything reads the payments
    /// table or a booking it changes again, every `BATCH_ROWS` rows, and at
    /// the end.
    unwritten: ChangeBatch,
    /// Rows read but not applied yet: (line, payment, booking candidates).
    queued: Vec<(u64, NewPayment, Vec<i64>)>,
    /// The bookings of `queued`, read ahead (None: no such booking); each
    /// taken by the first row that names it.
    ahead: FxHashMap<i64, Option<Booking>>,
    report: ReconcileReport,
    /// Queue confirmation messages (false: `payments import --no-notify`).
    notify: bool,
    /// What the audit entries of confirmations name as their source.
    source: &'static str,
}

impl<'t> Reconciler<'t> {
    pub fn new(tx: &'t WriteTx<'t>, actor: &'t str, now: DateTime<Utc>) -> Result<Reconciler<'t>> {
        tx.learn_paid_bookings()?;
        tx.learn_pending_messages()?;
        Ok(Reconciler {
            tx,
            actor,
            now,
            seen: FxHashMap::default(),
            digest: PairDigest::default(),
            streams: HashMap::new(),
            stored_keys: Some(tx.payment_keys()?),
            paid_unwritten: FxHashSet::default(),
            unwritten: ChangeBatch::default(),
            queued: Vec::with_capacity(BOOKINGS_AHEAD),
            ahead: FxHashMap::default(),
            report: ReconcileReport::default(),
            notify: true,
            source: "payments import",
        })
    }

    /// A reconciler for one payment (a provider's notification, issue 29):
    /// it reads nothing ahead. `new` reads every stored payment key and paid
    /// booking first, which pays off over a file but made each webhook on a
    /// database of 100k payments take 0.4 s; here the one pair and the one
    /// booking are looked up instead.
    pub fn for_one(tx: &'t WriteTx<'t>, actor: &'t str, now: DateTime<Utc>) -> Reconciler<'t> {
        Reconciler {
            tx,
            actor,
            now,
            seen: FxHashMap::default(),
            digest: PairDigest::default(),
            streams: HashMap::new(),
            stored_keys: None,
            paid_unwritten: FxHashSet::default(),
            unwritten: ChangeBatch::default(),
            queued: Vec::new(),
            ahead: FxHashMap::default(),
            report: ReconcileReport::default(),
            notify: true,
            source: "payments import",
        }
    }

    /// Writes the payments decided so far, before the payments table is read
    /// or written otherwise (so every read sees them, and ids follow the file).
    fn write_pending(&mut self) -> Result<()> {
        if !self.unwritten.is_empty() {
            let outcomes = self.unwritten.write(self.tx, self.actor, self.now)?;
            self.report.messages_queued +=
                outcomes.iter().filter(|o| o.message_id.is_some()).count() as u64;
            self.paid_unwritten.clear();
        }
        Ok(())
    }

    /// Notes a payment this run stored, for the look-ups that follow.
    fn note_stored(&mut self, payment: &NewPayment) {
        if let Some(keys) = &mut self.stored_keys {
            keys.insert(&payment.provider, &payment.external_id);
        }
        if let Some(id) = payment.booking_id {
            self.paid_unwritten.insert(id);
        }
    }

    /// Confirms without queueing messages (`--no-notify`).
    #[must_use]
    pub fn without_messages(mut self) -> Reconciler<'t> {
        self.notify = false;
        self
    }

    /// Names another source for the confirmations' audit entries (the
    /// webhook server: `payments serve`, issue 29).
    #[must_use]
    pub fn with_source(mut self, source: &'static str) -> Reconciler<'t> {
        self.source = source;
        self
    }

    /// Matches, decides and stores one payment (with the rows queued before
    /// it, once `BOOKINGS_AHEAD` are: their bookings are read in one query).
    pub fn apply(&mut self, incoming: IncomingPayment) -> Result<()> {
        let IncomingPayment { line, mut payment } = incoming;
        // The booking_id column wins; the description is only searched without it.
        let candidates = match payment.booking_id {
            Some(id) => vec![id],
            None => payment
                .description
                .as_deref()
                .map(booking_references)
                .unwrap_or_default(),
        };
        payment.booking_id = match candidates.as_slice() {
            [one] => Some(*one),
            _ => None,
        };
        self.queued.push((line, payment, candidates));
        if self.queued.len() >= BOOKINGS_AHEAD {
            self.apply_queued()?;
        }
        Ok(())
    }

    /// Applies the queued rows, their bookings read ahead in one query.
    fn apply_queued(&mut self) -> Result<()> {
        let queued = std::mem::take(&mut self.queued);
        let mut ids: Vec<i64> = queued.iter().filter_map(|(_, p, _)| p.booking_id).collect();
        ids.sort_unstable();
        ids.dedup();
        // What the batch changed must be in the database before it is read.
        if ids.iter().any(|id| self.unwritten.has_change_for(*id)) {
            self.write_pending()?;
        }
        self.ahead = ids.iter().map(|id| (*id, None)).collect();
        for booking in self.tx.bookings_ahead(&ids)? {
            self.ahead.insert(booking.id, Some(booking));
        }
        for (line, payment, candidates) in queued {
            self.apply_one(line, payment, candidates)?;
        }
        self.ahead.clear();
        Ok(())
    }

    fn apply_one(
        &mut self,
        line: u64,
        mut payment: NewPayment,
        candidates: Vec<i64>,
    ) -> Result<()> {
        self.report.rows += 1;
        let reference = payment.booking_id;

        let stored = if self
            .stored_keys
            .as_ref()
            .is_none_or(|keys| keys.may_contain(&payment.provider, &payment.external_id))
        {
            self.write_pending()?;
            self.tx
                .stored_payment(&payment.provider, &payment.external_id)?
        } else {
            None
        };
        // The first line with this pair, if this run stored its payment (a
        // pair seen first is stored below unless it was stored before).
        let key = self.digest.of(&payment.provider, &payment.external_id);
        let stored_by_line = match self.seen.entry(key) {
            Entry::Occupied(first) => Some(first.get().0).filter(|_| first.get().1),
            Entry::Vacant(first) => {
                first.insert((line, stored.is_none()));
                None
            }
        };
        if let Some(stored) = stored {
            return self.known(line, payment, stored, stored_by_line);
        }

        let booking = match reference {
            // Read ahead, and taken: a second row for the same booking reads
            // it again (this row may change it).
            Some(id) => match self.ahead.remove(&id) {
                Some(ahead) => ahead,
                None => {
                    if self.unwritten.has_change_for(id) {
                        self.write_pending()?;
                    }
                    self.tx.booking(id)?
                }
            },
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
            _ if candidates.len() > 1 => Target::Several,
            _ if reference.is_some() => Target::Missing,
            _ => Target::NoReference,
        };
        let paid_before = match &booking {
            // Clamped only for comparison with bounded amounts: it compares the same.
            Some(b) if self.paid_unwritten.contains(&b.id) || self.tx.may_have_payments(b.id) => {
                self.write_pending()?;
                self.tx
                    .received_total(b.id, &payment.currency)?
                    .clamped_i64()
            }
            _ => 0,
        };
        let decision = decide(target, payment.amount_minor, &payment.currency, paid_before);

        if decision.confirm {
            let booking = booking
                .as_ref()
                .expect("a confirming decision has a booking");
            let change = StatusChange {
                booking_id: booking.id,
                to: Status::Confirmed,
                force: false,
                reason: None,
                // Read under this same lock, so it holds; a second guard all the same.
                expect: Some(Status::Pending),
                notify: self.notify,
                payment: Some(payment.clone()),
                payment_outcome: decision.outcome,
                template: None,
                source: self.source,
            };
            // The booking was read above in this transaction, under the
            // lock, and is not in the batch (else it was written first).
            if self.unwritten.add_change(booking, change)?.is_none() {
                self.report.bookings_confirmed += 1;
            }
        } else {
            // Not stored before (checked above), so this cannot collide.
            self.unwritten
                .add_payment(payment.clone(), decision.outcome);
        }
        if self.unwritten.len() >= BATCH_ROWS {
            self.write_pending()?;
        }
        self.note_stored(&payment);
        let received_now = paid_before.saturating_add(payment.amount_minor);
        if decision.outcome == PaymentOutcome::Refund
            && received_now <= 0
            && booking.as_ref().map(|b| b.status) == Some(Status::Confirmed)
        {
            self.report
                .fully_refunded
                .push((line, booking.as_ref().map_or(0, |b| b.id)));
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
                attention: if decision.outcome == PaymentOutcome::Ambiguous {
                    Attention::Ambiguous { candidates }
                } else {
                    Attention::Outcome(decision.outcome)
                },
                expected_minor: facts.as_ref().and_then(|f| f.expected_minor),
                expected_currency: facts.as_ref().and_then(|f| f.currency.clone()),
                received_minor: if counted { received_now } else { paid_before },
                booking_confirmed: decision.confirm,
                payment,
                already_reported: false,
            });
        }
        Ok(())
    }

    /// A row whose (provider, external_id) is stored already: the same
    /// payment again (skipped; listed while it still waits for a person), or
    /// another version of it (a conflict, stored once and reported once).
    fn known(
        &mut self,
        line: u64,
        payment: NewPayment,
        stored: StoredPayment,
        stored_by_line: Option<u64>,
    ) -> Result<()> {
        let s = &stored.payment;
        let mut differs = Vec::new();
        // A hand-recorded payment (`--payment-ref` without --amount) has no amount to compare.
        let stored_has_amount = !(s.outcome == "recorded" && s.amount_minor == 0);
        if stored_has_amount && s.amount_minor != payment.amount_minor {
            differs.push("amount");
        }
        if !payment.currency.is_empty() && payment.currency != s.currency {
            differs.push("currency");
        }
        if let (Some(a), Some(b)) = (&s.paid_at, &payment.paid_at) {
            if a != b {
                differs.push("date");
            }
        }
        if let (Some(a), Some(b)) = (s.reference_id, payment.booking_id) {
            if a != b {
                differs.push("booking");
            }
        }
        if differs.is_empty() {
            match stored_by_line {
                // Stored by an earlier line of this very file, in this run.
                Some(first_line) => {
                    self.report.duplicates_in_file += 1;
                    self.report.attention.push(AttentionRow {
                        line,
                        attention: Attention::DuplicateInFile { first_line },
                        payment,
                        expected_minor: None,
                        expected_currency: None,
                        received_minor: 0,
                        booking_confirmed: false,
                        already_reported: false,
                    });
                }
                None => {
                    self.report.already_imported += 1;
                    if stored.open {
                        let outcome = PaymentOutcome::from_name(&s.outcome)
                            .unwrap_or(PaymentOutcome::Unmatched);
                        let (expected_minor, expected_currency, received_minor) =
                            self.figures_of_stored(s, outcome)?;
                        // Only an overpayment confirms and is still listed (as in `apply_one`).
                        let booking_confirmed = match s.booking_id {
                            Some(id) if outcome == PaymentOutcome::Overpaid => self
                                .tx
                                .payment_confirmed_booking(id, &s.provider, &s.external_id)?,
                            _ => false,
                        };
                        let candidates = s
                            .description
                            .as_deref()
                            .map(booking_references)
                            .unwrap_or_default();
                        self.report.attention.push(AttentionRow {
                            line,
                            attention: if outcome == PaymentOutcome::Ambiguous {
                                Attention::Ambiguous { candidates }
                            } else {
                                Attention::Outcome(outcome)
                            },
                            payment: NewPayment {
                                booking_id: s.booking_id,
                                currency: s.currency.clone(),
                                ..payment
                            },
                            expected_minor,
                            expected_currency,
                            received_minor,
                            booking_confirmed,
                            already_reported: true,
                        });
                    }
                }
            }
            return Ok(());
        }

        self.write_pending()?;
        let known = self.tx.known_conflict(&payment)?;
        let already_reported = known.is_some();
        if let Some((_, resolved)) = known {
            self.report.already_imported += 1;
            if resolved {
                // A person has dealt with this very contradiction.
                return Ok(());
            }
        } else {
            self.tx
                .insert_payment(&payment, PaymentOutcome::Conflict, self.now)?;
            // A conflict is not the stored version of its pair, so the
            // fingerprints stay; it does count for its booking's payments.
            if let Some(id) = payment.booking_id {
                self.paid_unwritten.insert(id);
            }
            self.report.imported += 1;
            *self
                .report
                .outcomes
                .entry(PaymentOutcome::Conflict)
                .or_default() += 1;
        }
        self.report.attention.push(AttentionRow {
            line,
            attention: Attention::Conflict {
                stored_id: s.id,
                // Named by line only when this run stored the first version.
                first_line: stored_by_line,
                differs,
                stored_amount_minor: s.amount_minor,
                stored_paid_at: s.paid_at.clone(),
                stored_booking: s.booking_id,
            },
            payment,
            expected_minor: None,
            expected_currency: None,
            received_minor: 0,
            booking_confirmed: false,
            already_reported,
        });
        Ok(())
    }

    /// Ends the import: one `payments.imported` audit entry when anything was stored.
    pub fn finish(mut self, file: &str) -> Result<ReconcileReport> {
        self.apply_queued()?;
        self.write_pending()?;
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
                        "new_attention": report.new_attention(),
                        "outcomes": outcomes,
                    }),
                    ..Default::default()
                },
            )?;
        }
        Ok(report)
    }

    /// The figures of a stored payment as its first report showed them:
    /// expected (stream price less discount), its currency, and received —
    /// the booking's payments before it, plus itself for the outcomes whose
    /// report counts it (as `apply_one` does). Computed from the stored
    /// payments, so a re-run reports what the first run did (issue 25: a
    /// re-run said "paid 0.00 of" and "return" the whole payment).
    fn figures_of_stored(
        &mut self,
        s: &crate::db::payments::Payment,
        outcome: PaymentOutcome,
    ) -> Result<(Option<i64>, Option<String>, i64)> {
        let Some(booking_id) = s.booking_id else {
            return Ok((None, None, 0));
        };
        self.write_pending()?;
        let Some(booking) = self.tx.booking(booking_id)? else {
            return Ok((None, None, 0));
        };
        let facts = self.facts(&booking)?;
        let before = self
            .tx
            .received_before(booking_id, &s.currency, s.id)?
            .clamped_i64();
        let counted = matches!(
            outcome,
            PaymentOutcome::Partial | PaymentOutcome::Overpaid | PaymentOutcome::Cancelled
        );
        let received = if counted {
            before.saturating_add(s.amount_minor)
        } else {
            before
        };
        Ok((facts.expected_minor, facts.currency, received))
    }

    fn facts(&mut self, booking: &Booking) -> Result<BookingFacts> {
        let terms = match booking.course_stream.as_deref().filter(|s| !s.is_empty()) {
            Some(code) => {
                let key = (booking.course_id, code.to_string());
                if let Some(terms) = self.streams.get(&key) {
                    terms.clone()
                } else {
                    let terms = stream_terms(self.tx, booking.course_id, code)?;
                    self.streams.insert(key, terms.clone());
                    terms
                }
            }
            None => StreamTerms::default(),
        };
        Ok(facts_from(booking, terms))
    }
}
