//! Operations that combine several repository writes under one transaction
//! and the domain rules: the write paths every command shares.

pub mod blocking;
pub mod booking_add;
pub mod booking_fields;
pub mod catalogue;
pub mod catalogue_edit;
pub mod check;
pub mod counters;
pub mod delivery;
pub mod delivery_exec;
pub mod delivery_telegram;
pub mod demo;
pub mod messages;
pub mod payment_review;
pub mod placement;
pub mod privacy;
pub mod providers;
pub mod reconcile;
pub mod status_change;
pub mod sync;
pub mod undo;
