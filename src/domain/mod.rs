//! The rules of the business, free of I/O: statuses and their transitions,
//! money, time, bookings. Everything here is pure and unit-tested.

pub mod audit;
pub mod booking;
pub mod catalogue;
pub mod check;
pub mod message;
pub mod money;
pub mod payment;
pub mod privacy;
pub mod status;
pub mod time;

pub use status::{check_transition, Status, Transition, TransitionError};
