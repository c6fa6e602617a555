//! Ctrl-C and SIGTERM: set a flag that long work checks, instead of dying mid-write.
//!
//! A write in progress then returns `Interrupted`, its transaction rolls back,
//! and the process exits 130 with the database as it was.
//!
//! SIGXFSZ (a write beyond `ulimit -f`) is ignored, so that the write fails
//! with an error SQLite reports and rolls back, instead of killing the process
//! with no message.

use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::Arc;
use std::sync::OnceLock;

use crate::error::PaytrackError;

static FLAG: OnceLock<Arc<AtomicBool>> = OnceLock::new();

/// Installs the handlers; called once by `main`.
pub fn install() {
    let flag = FLAG.get_or_init(|| Arc::new(AtomicBool::new(false)));
    for signal in [signal_hook::consts::SIGINT, signal_hook::consts::SIGTERM] {
        // Failing to install leaves the default (die at once), which SQLite survives too.
        let _ = signal_hook::flag::register(signal, Arc::clone(flag));
    }
    #[cfg(unix)]
    // SAFETY: setting a signal's disposition to "ignore" runs no code of ours
    // in signal context; it only changes what the kernel does on SIGXFSZ.
    unsafe {
        libc::signal(libc::SIGXFSZ, libc::SIG_IGN);
    }
}

/// True once Ctrl-C or SIGTERM arrived.
pub fn requested() -> bool {
    FLAG.get().is_some_and(|f| f.load(Ordering::Relaxed))
}

/// Returns `Err(Interrupted)` once Ctrl-C or SIGTERM arrived.
pub fn check() -> Result<(), PaytrackError> {
    if requested() {
        Err(PaytrackError::Interrupted)
    } else {
        Ok(())
    }
}
