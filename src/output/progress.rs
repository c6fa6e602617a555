//! Progress bars for long work (imports, exports to a file, the generator):
//! drawn on stderr, with rate and ETA, only when stderr is a terminal. In a
//! pipe, a cron job or a test they are hidden, so nothing reaches a log or stdout.

use indicatif::{ProgressBar, ProgressDrawTarget, ProgressStyle};

use super::Output;

/// Files smaller than this load too fast for a bar to help.
const MIN_BYTES: u64 = 1_000_000;

/// A bar over bytes of an input file (`None`: stdin, size unknown, no bar).
pub fn bytes(out: &Output, total: Option<u64>, message: &'static str) -> ProgressBar {
    match total {
        Some(len) if out.progress && len >= MIN_BYTES => shown(
            len,
            message,
            "{msg} [{bar:30}] {bytes}/{total_bytes} {bytes_per_sec} ETA {eta}",
        ),
        _ => ProgressBar::hidden(),
    }
}

/// A bar over a number of items (rows written, bookings generated).
pub fn count(out: &Output, total: u64, message: &'static str) -> ProgressBar {
    if out.progress {
        shown(
            total,
            message,
            "{msg} [{bar:30}] {human_pos}/{human_len} {per_sec} ETA {eta}",
        )
    } else {
        ProgressBar::hidden()
    }
}

fn shown(total: u64, message: &'static str, template: &str) -> ProgressBar {
    let bar = ProgressBar::with_draw_target(Some(total), ProgressDrawTarget::stderr());
    bar.set_style(
        ProgressStyle::with_template(template)
            .expect("the templates above are valid")
            .progress_chars("=> "),
    );
    bar.set_message(message);
    // Draw at once, so a slow first batch does not look like a hang.
    bar.tick();
    bar
}
