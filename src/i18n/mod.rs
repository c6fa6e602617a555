//! The user's language: help text on the clap tree (`help`).

pub mod help;
