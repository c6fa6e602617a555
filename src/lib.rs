//! paytrack: the payment status of course bookings, over one SQLite file.
//!
//! Data flows one way: `cli` (parse) → `commands` (decide, format) →
//! `services` and `domain` (rules) → `db` (SQL, transactions). Terminal
//! output is decided in `output` only.

pub mod args;
pub mod cli;
pub mod commands;
pub mod db;
pub mod domain;
pub mod error;
pub mod i18n;
pub mod input;
pub mod interrupt;
pub mod output;
pub mod server;
pub mod services;
pub mod text;

pub use cli::route::run;
