//! The user's language, chosen once at start-up, and the text in it.
//!
//! The language is process-wide (`set` in `main` before parsing, again in
//! `commands::run` from the parsed `--lang`), so any layer can say a message
//! in it with `tr!(en, ru)` without an `Output` at hand: value parsers,
//! services, the database layer's errors. Both texts sit side by side at the
//! call site, where a reviewer sees whether they say the same; the help text,
//! which clap owns, is put on the built command tree by clap id (`help`).
//! Machine output (CSV, JSON, exit codes) is never translated.

pub mod help;
pub mod ru;

use std::sync::atomic::{AtomicU8, Ordering};

/// Output language for people (tables, labels, messages). Machine formats are never translated.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default, clap::ValueEnum)]
pub enum Lang {
    #[default]
    En,
    Ru,
}

impl Lang {
    /// The language from the locale variables, as POSIX orders them.
    pub fn from_locale() -> Lang {
        for var in ["LC_ALL", "LC_MESSAGES", "LANG"] {
            if let Ok(value) = std::env::var(var) {
                if value.is_empty() {
                    continue;
                }
                return if value.to_lowercase().starts_with("ru") {
                    Lang::Ru
                } else {
                    Lang::En
                };
            }
        }
        Lang::En
    }
}

static LANG: AtomicU8 = AtomicU8::new(0);

/// Sets the language of every later message.
pub fn set(lang: Lang) {
    LANG.store(
        match lang {
            Lang::En => 0,
            Lang::Ru => 1,
        },
        Ordering::Relaxed,
    );
}

/// The language messages are said in (English until `set`).
pub fn lang() -> Lang {
    match LANG.load(Ordering::Relaxed) {
        1 => Lang::Ru,
        _ => Lang::En,
    }
}

/// Whether messages are said in Russian.
pub fn is_russian() -> bool {
    lang() == Lang::Ru
}

/// A message in the user's language: `tr!("no booking {id}", "нет брони {id}")`.
///
/// Both arguments are `format!` strings over the same values; the result is a
/// `String`.
#[macro_export]
macro_rules! tr {
    ($en:literal, $ru:literal $(, $($arg:tt)*)?) => {
        if $crate::i18n::is_russian() {
            format!($ru $(, $($arg)*)?)
        } else {
            format!($en $(, $($arg)*)?)
        }
    };
}

/// clap's usage error (already rendered, in English) in the user's language.
///
/// clap says its errors in English only; their wording is a closed set
/// (clap_builder's `error/format.rs`), so each phrase is replaced here. The
/// values quoted in them are what was typed and stay as they are.
pub fn usage_error(text: &str) -> String {
    if !is_russian() {
        return text.to_string();
    }
    // Longer phrases first: some contain shorter ones.
    const PHRASES: &[(&str, &str)] = &[
        ("error: ", "ошибка: "),
        ("tip: ", "подсказка: "),
        ("Usage: ", "Использование: "),
        ("For more information, try ", "Подробнее: "),
        ("unexpected argument ", "неизвестный аргумент "),
        ("invalid value ", "недопустимое значение "),
        (
            " found; no more were expected",
            ": больше значений не ожидалось",
        ),
        ("unexpected value ", "лишнее значение "),
        (
            "the following required arguments were not provided:",
            "не указаны обязательные аргументы:",
        ),
        (
            " cannot be used with one or more of the other specified arguments",
            " нельзя сочетать с другими указанными аргументами",
        ),
        (" cannot be used multiple times", " нельзя указать дважды"),
        (" cannot be used with ", " нельзя сочетать с "),
        ("the argument ", "аргумент "),
        ("a value is required for ", "нужно значение для "),
        (" but none was supplied", ", но оно не указано"),
        (
            "equal sign is needed when assigning values to ",
            "значение задаётся через знак равенства: ",
        ),
        ("unrecognized subcommand ", "неизвестная команда "),
        (
            " requires a subcommand but one was not provided",
            " требует команду, но она не указана",
        ),
        ("some similar arguments exist: ", "похожие аргументы: "),
        ("a similar argument exists: ", "есть похожий аргумент: "),
        ("some similar subcommands exist: ", "похожие команды: "),
        ("a similar subcommand exists: ", "есть похожая команда: "),
        ("to pass ", "чтобы передать "),
        (" as a value, use ", " как значение, пишите "),
        (
            "invalid UTF-8 was detected in one or more arguments",
            "в аргументах недопустимый UTF-8",
        ),
        ("[possible values: ", "[значения: "),
        ("[subcommands: ", "[команды: "),
        (" values required by ", " значений нужно для "),
        (" values required for ", " значений нужно для "),
        ("; only ", "; указано только "),
        (" but ", ", а указано "),
        (" were provided", ""),
        (" was provided", ""),
        (" for ", " для "),
        (" found", ""),
    ];
    let mut out = text.to_string();
    for (en, ru) in PHRASES {
        out = out.replace(en, ru);
    }
    out
}
