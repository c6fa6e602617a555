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

/// What each exit code means, in English and Russian: `--help` prints this
/// table (generated, so it cannot drift from the codes above). A line break
/// continues the description on an indented line.
pub const EXIT_CODE_HELP: &[(u8, &str, &str)] = &[
    (
        exit::OK,
        "success (also: nothing to do, or stdout closed early by `| head`)",
        "успех (и когда делать нечего, и когда stdout закрыт раньше, `| head`)",
    ),
    (
        exit::FAILURE,
        "other error",
        "прочая ошибка",
    ),
    (
        exit::USAGE,
        "usage error (bad flag or value)",
        "ошибка в командной строке (флаг или значение)",
    ),
    (
        exit::BAD_INPUT,
        "bad input (a file or value that cannot be used; nothing was changed)",
        "неверные данные (файл или значение нельзя использовать; ничего не изменено)",
    ),
    (
        exit::NOT_FOUND,
        "not found (no such booking, course or stream)",
        "не найдено (нет такого бронирования, курса или потока)",
    ),
    (
        exit::TRANSITION_REFUSED,
        "refused by the rules (a status transition; a full stream)",
        "запрещено правилами (переход статуса; поток заполнен)",
    ),
    (
        exit::EXPECTATION_FAILED,
        "--expect (--expect-stream) failed, or undo found a booking changed since",
        "--expect (--expect-stream) не совпал, или undo: бронь изменена после операции",
    ),
    (
        exit::BUSY,
        "database busy after waiting for other writers",
        "база занята другими писателями дольше времени ожидания",
    ),
    (
        exit::DATABASE,
        "database unusable (missing, not SQLite, corrupt, read-only, newer schema, disk full,\nanother application's database)",
        "база непригодна (нет файла, не SQLite, повреждена, только чтение, новая схема, диск полон,\nбаза другого приложения)",
    ),
    (
        exit::VERIFY_FAILED,
        "verification failed (stats verify, audit verify, check, backup)",
        "проверка не прошла (stats verify, audit verify, check, backup)",
    ),
    (
        exit::ATTENTION,
        "needs attention (payments import found something new for a person;\nbookings import found conflicts; outbox drain gave up on a message)",
        "нужно внимание (payments import нашёл новое для ручного разбора;\nbookings import нашёл конфликты; outbox drain не смог доставить сообщение)",
    ),
    (
        exit::CHANNEL_UNUSABLE,
        "outbox drain stopped: the channel cannot work (--exec command cannot\nrun, exit 126/127; bot token refused); no attempt was used up",
        "outbox drain остановлен: канал непригоден (команда --exec не запускается,\nкод 126/127; токен отвергнут); попытки не израсходованы",
    ),
    (
        exit::INTERRUPTED,
        "interrupted (Ctrl-C); the database is as it was",
        "прервано (Ctrl-C); база осталась как была",
    ),
];

/// The "Exit codes:" block of `paytrack --help` in English or Russian.
pub fn exit_code_help(russian: bool) -> String {
    let mut text = String::from(if russian {
        "Коды выхода:"
    } else {
        "Exit codes:"
    });
    for (code, en, ru) in EXIT_CODE_HELP {
        let description = if russian { ru } else { en };
        let description = description.replace('\n', "\n       ");
        text += &format!("\n  {code:<4} {description}");
    }
    text
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

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn every_exit_code_is_documented_once_in_both_languages() {
        let codes: Vec<u8> = EXIT_CODE_HELP.iter().map(|(c, _, _)| *c).collect();
        let mut sorted = codes.clone();
        sorted.sort_unstable();
        sorted.dedup();
        assert_eq!(codes, sorted, "sorted, each once");
        for code in [
            exit::OK,
            exit::FAILURE,
            exit::USAGE,
            exit::BAD_INPUT,
            exit::NOT_FOUND,
            exit::TRANSITION_REFUSED,
            exit::EXPECTATION_FAILED,
            exit::BUSY,
            exit::DATABASE,
            exit::VERIFY_FAILED,
            exit::ATTENTION,
            exit::CHANNEL_UNUSABLE,
            exit::INTERRUPTED,
        ] {
            assert!(codes.contains(&code), "{code} undocumented");
        }
        assert!(EXIT_CODE_HELP
            .iter()
            .all(|(_, en, ru)| !en.is_empty() && !ru.is_empty()));
        assert!(exit_code_help(false).contains("\n  130  interrupted"));
    }
}
