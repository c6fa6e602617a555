//! Typed errors and the exit codes they map to.
//!
//! Library code returns `anyhow::Error` with context; the kinds of failure a
//! script must tell apart are `PaytrackError` variants somewhere in the chain,
//! and `exit_code` walks the chain to find one. Exit codes are documented in
//! README.md ("Exit codes") and in `paytrack --help`.

use std::io;

/// Exit codes. clap keeps 2 for usage errors.
pub mod exit {
    pub const OK: u8 = 0;
    pub const FAILURE: u8 = 1;
    pub const USAGE: u8 = 2;
    pub const BAD_INPUT: u8 = 3;
    pub const NOT_FOUND: u8 = 4;
    pub const TRANSITION_REFUSED: u8 = 5;
    pub const EXPECTATION_FAILED: u8 = 6;
    pub const BUSY: u8 = 7;
    pub const DATABASE: u8 = 8;
    pub const VERIFY_FAILED: u8 = 9;
    pub const ATTENTION: u8 = 10;
    /// The delivery channel cannot work (an `--exec` command that cannot run,
    /// a refused bot token): the drain stopped and used up no attempt.
    pub const CHANNEL_UNUSABLE: u8 = 11;
    pub const INTERRUPTED: u8 = 130;
}

/// A failure whose kind a script needs to see in the exit code.
#[derive(Debug, thiserror::Error)]
pub enum PaytrackError {
    #[error("{0}")]
    BadInput(String),
    #[error("{0}")]
    NotFound(String),
    #[error("{0}")]
    TransitionRefused(String),
    #[error("{0}")]
    ExpectationFailed(String),
    #[error("{0}")]
    Database(String),
    #[error("{0}")]
    VerifyFailed(String),
    #[error("{0}")]
    ChannelUnusable(String),
    #[error("interrupted")]
    Interrupted,
}

impl PaytrackError {
    pub fn exit_code(&self) -> u8 {
        match self {
            PaytrackError::BadInput(_) => exit::BAD_INPUT,
            PaytrackError::NotFound(_) => exit::NOT_FOUND,
            PaytrackError::TransitionRefused(_) => exit::TRANSITION_REFUSED,
            PaytrackError::ExpectationFailed(_) => exit::EXPECTATION_FAILED,
            PaytrackError::Database(_) => exit::DATABASE,
            PaytrackError::VerifyFailed(_) => exit::VERIFY_FAILED,
            PaytrackError::ChannelUnusable(_) => exit::CHANNEL_UNUSABLE,
            PaytrackError::Interrupted => exit::INTERRUPTED,
        }
    }
}

/// Shorthand for the common `BadInput` case.
pub fn bad_input(message: impl Into<String>) -> anyhow::Error {
    PaytrackError::BadInput(message.into()).into()
}

/// The exit code for an error: the first typed cause in the chain decides.
/// `storage` classifies the storage backend's own errors (busy, unusable,
/// bad data): the backend knows its codes, this module does not know the
/// backend (`commands::exit_code` passes `db::exit_code_for`).
pub fn exit_code(
    err: &anyhow::Error,
    storage: impl Fn(&(dyn std::error::Error + 'static)) -> Option<u8>,
) -> u8 {
    for cause in err.chain() {
        if let Some(e) = cause.downcast_ref::<PaytrackError>() {
            return e.exit_code();
        }
        if let Some(code) = storage(cause) {
            return code;
        }
        if let Some(e) = cause.downcast_ref::<csv::Error>() {
            if !matches!(e.kind(), csv::ErrorKind::Io(_)) {
                return exit::BAD_INPUT;
            }
        }
    }
    exit::FAILURE
}

/// True when the error is a closed pipe on stdout (`paytrack ... | head`):
/// the reader has all it wanted, so we exit quietly with 0, as ripgrep does.
pub fn is_broken_pipe(err: &anyhow::Error) -> bool {
    err.chain().any(|cause| {
        cause
            .downcast_ref::<io::Error>()
            .is_some_and(|e| e.kind() == io::ErrorKind::BrokenPipe)
            || cause.downcast_ref::<csv::Error>().is_some_and(
                |e| matches!(e.kind(), csv::ErrorKind::Io(io) if io.kind() == io::ErrorKind::BrokenPipe),
            )
            // JSON lines written straight to stdout (`export --format jsonl | head`).
            || cause
                .downcast_ref::<serde_json::Error>()
                .is_some_and(|e| e.io_error_kind() == Some(io::ErrorKind::BrokenPipe))
    })
}
