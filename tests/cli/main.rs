//! Integration tests: one binary (faster to build), one module per capability.
//! Every test runs the real `paytrack` binary against a real SQLite file in a temp dir,
//! or, with `PAYTRACK_TEST_BACKEND=postgres` (and `PAYTRACK_TEST_PG`), against a
//! PostgreSQL database of its own (see harness.rs).

mod harness;

mod bounded;
mod external_writer;
mod foundation;
mod hostile;
mod i18n;
mod layers;
mod messages;
mod native;
mod outbox;
mod over_time;
mod payments;
mod payments_people;
#[cfg(feature = "postgres")]
mod pg_backend;
mod pg_reliability;
#[cfg(feature = "postgres")]
mod pg_schema;
#[cfg(feature = "postgres")]
mod pg_trust;
mod pipeline;
mod privacy;
mod properties;
mod records;
mod reliability;
mod safety;
mod search;
mod secrets;
mod set_status;
mod silent;
mod sim;
mod stats_audit;
mod sync;
mod webhooks;
