//! `outbox drain --exec CMD`: deliver through any command the school plugs in.
//!
//! CMD runs through `sh -c` once per message, with the message as one line of
//! JSON on stdin (`id, booking_id, chat_id, kind, body, attempts`) and in
//! `PAYTRACK_MESSAGE_ID` / `PAYTRACK_CHAT_ID`. Exit 0 means delivered; 126
//! and 127 mean the command cannot run (the drain stops); any other exit is
//! retried later. The command runs in its own process group, so
//! a hung one is killed with everything it started when the time-out expires.
//!
//! The command does not inherit paytrack's secrets (issue 26): the bot token,
//! the database URL and the database password are left out of its
//! environment unless named with `--pass-env`, and whatever it writes to
//! stderr is scrubbed of the token and the password before it becomes the
//! message's last error or is shown.

use std::io::{Read, Write};
use std::os::unix::process::CommandExt;
use std::process::{Command, Stdio};
use std::sync::mpsc;
use std::time::{Duration, Instant};

use crate::db::outbox::ClaimedMessage;
use crate::services::delivery::{Channel, SendOutcome};

/// How much of the command's stderr is kept as the message's last error.
const STDERR_KEPT: usize = 500;

/// The variables an `--exec` command does not get unless `--pass-env` names
/// them: they hold the bot token, or the database password (in the URL).
pub const WITHHELD_ENV: &[&str] = &["PAYTRACK_TELEGRAM_TOKEN", "PAYTRACK_DB", "PGPASSWORD"];

pub struct ExecChannel {
    command: String,
    timeout: Duration,
    /// Names from `--pass-env`: withheld variables the command may see.
    pass_env: Vec<String>,
    /// Texts scrubbed from the command's stderr (token, database password).
    secrets: Vec<String>,
}

impl ExecChannel {
    pub fn new(
        command: String,
        timeout: Duration,
        pass_env: Vec<String>,
        secrets: Vec<String>,
    ) -> ExecChannel {
        ExecChannel {
            command,
            timeout,
            pass_env,
            secrets,
        }
    }

    /// `text` with every secret replaced by `<secret>`, raw or percent-encoded.
    fn scrub(&self, text: &str) -> String {
        scrub_secrets(text, &self.secrets)
    }
}

/// `text` with each of `secrets` (as written, or percent-encoded as a URL
/// holds it) replaced by `<secret>`; longest first, so a secret that contains
/// another is not left half-shown.
pub fn scrub_secrets(text: &str, secrets: &[String]) -> String {
    let mut forms: Vec<String> = secrets
        .iter()
        .filter(|s| !s.is_empty())
        .flat_map(|s| {
            [
                s.clone(),
                percent_encoded(s, false),
                percent_encoded(s, true),
            ]
        })
        .collect();
    forms.sort_by_key(|f| std::cmp::Reverse(f.len()));
    forms.dedup();
    forms.iter().fold(text.to_string(), |text, secret| {
        text.replace(secret.as_str(), "<secret>")
    })
}

/// `text` as a URL's user-info part spells it: everything but RFC 3986's
/// unreserved characters percent-encoded (`lower`: with lower-case hex digits).
fn percent_encoded(text: &str, lower: bool) -> String {
    let mut out = String::with_capacity(text.len());
    for byte in text.bytes() {
        if byte.is_ascii_alphanumeric() || matches!(byte, b'-' | b'.' | b'_' | b'~') {
            out.push(char::from(byte));
        } else if lower {
            out.push_str(&format!("%{byte:02x}"));
        } else {
            out.push_str(&format!("%{byte:02X}"));
        }
    }
    out
}

impl Channel for ExecChannel {
    fn name(&self) -> &'static str {
        "exec"
    }

    fn send(&mut self, message: &ClaimedMessage) -> SendOutcome {
        let input = match serde_json::to_vec(message) {
            Ok(mut json) => {
                json.push(b'\n');
                json
            }
            Err(e) => {
                return SendOutcome::Broken {
                    error: e.to_string(),
                }
            }
        };
        let mut command = Command::new("sh");
        for name in WITHHELD_ENV {
            if !self.pass_env.iter().any(|p| p == name) {
                command.env_remove(name);
            }
        }
        let spawned = command
            .arg("-c")
            .arg(&self.command)
            .env("PAYTRACK_MESSAGE_ID", message.id.to_string())
            .env("PAYTRACK_CHAT_ID", message.chat_id.to_string())
            .stdin(Stdio::piped())
            .stdout(Stdio::null())
            .stderr(Stdio::piped())
            .process_group(0)
            .spawn();
        let mut child = match spawned {
            Ok(child) => child,
            Err(e) => {
                return SendOutcome::Broken {
                    error: format!("cannot run `sh -c` for --exec: {e}"),
                }
            }
        };
        // Writing and reading in threads: a command that ignores its stdin, or
        // writes much to stderr, must not block us (or itself).
        if let Some(mut stdin) = child.stdin.take() {
            std::thread::spawn(move || {
                // A command that exits without reading closes the pipe: not our error.
                let _ = stdin.write_all(&input);
            });
        }
        let (stderr_tx, stderr_rx) = mpsc::channel();
        if let Some(mut stderr) = child.stderr.take() {
            std::thread::spawn(move || {
                let mut text = Vec::new();
                let _ = stderr.read_to_end(&mut text);
                let _ = stderr_tx.send(text);
            });
        }
        let started = Instant::now();
        // Short at first, since most commands finish quickly; then at most 10 ms.
        let mut pause = Duration::from_micros(200);
        let status = loop {
            match child.try_wait() {
                Ok(Some(status)) => break status,
                Ok(None) => {}
                Err(e) => {
                    return SendOutcome::Retry {
                        error: format!("waiting for the command: {e}"),
                    }
                }
            }
            // Ctrl-C does not cut a send short: killing the command half-way
            // could deliver the message and lose the record of it. The drain
            // stops after this message instead (issue 14).
            if started.elapsed() >= self.timeout {
                kill_group(child.id());
                let _ = child.wait();
                return SendOutcome::Retry {
                    error: format!("command timed out after {}", show_duration(self.timeout)),
                };
            }
            std::thread::sleep(pause);
            pause = (pause * 2).min(Duration::from_millis(10));
        };
        if status.success() {
            return SendOutcome::Delivered;
        }
        // A background process the command left behind may hold stderr open:
        // wait a moment for the text, not for that process.
        let stderr = stderr_rx
            .recv_timeout(Duration::from_millis(200))
            .unwrap_or_default();
        let how = match status.code() {
            Some(code) => format!("command exited with status {code}"),
            None => "command was killed by a signal".to_string(),
        };
        // Scrubbed whole, then cut: cutting first could leave part of a secret.
        let tail = stderr_tail(self.scrub(&String::from_utf8_lossy(&stderr)).as_bytes());
        let error = if tail.is_empty() {
            how
        } else {
            format!("{how}: {tail}")
        };
        // `sh` exits 127 for a command not found and 126 for one it cannot
        // execute: a typo in --exec, not a message that failed. Every other
        // message would fail the same way, so the drain stops at once.
        if matches!(status.code(), Some(126 | 127)) {
            return SendOutcome::Broken {
                error: format!("the --exec command cannot run ({error})"),
            };
        }
        SendOutcome::Retry { error }
    }
}

/// Kills a process group with SIGKILL (the command and everything it started).
fn kill_group(leader: u32) {
    if let Ok(pgid) = libc::pid_t::try_from(leader) {
        // SAFETY: kill has no memory-safety preconditions. The group is the
        // one we created for a child we have not reaped yet, so its id cannot
        // have been reused.
        unsafe {
            libc::kill(-pgid, libc::SIGKILL);
        }
    }
}

/// The last line(s) of the command's stderr, at most `STDERR_KEPT` bytes, on one line.
fn stderr_tail(stderr: &[u8]) -> String {
    let text = String::from_utf8_lossy(stderr);
    let text = text.trim();
    let mut start = text.len().saturating_sub(STDERR_KEPT);
    while !text.is_char_boundary(start) {
        start += 1;
    }
    text[start..]
        .split_whitespace()
        .collect::<Vec<_>>()
        .join(" ")
}

/// `300ms`, `30s`: how a time-out reads in messages.
pub fn show_duration(d: Duration) -> String {
    if d.subsec_millis() != 0 || d.as_secs() == 0 {
        format!("{}ms", d.as_millis())
    } else {
        format!("{}s", d.as_secs())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn keeps_the_end_of_stderr_on_one_line() {
        assert_eq!(stderr_tail(b"  first\nsecond  \n"), "first second");
        let long = "é".repeat(400);
        let tail = stderr_tail(long.as_bytes());
        assert!(tail.len() <= STDERR_KEPT && tail.chars().all(|c| c == 'é'));
    }

    #[test]
    fn scrubs_each_secret_raw_and_percent_encoded() {
        let secrets = [
            "123:AbC-d_e".to_string(),
            "p@ss w/rd".to_string(),
            String::new(),
        ];
        let text =
            "token 123:AbC-d_e url postgres://u:p%40ss%20w%2Frd@h/db and p@ss w/rd, 123%3aAbC-d_e";
        let clean = scrub_secrets(text, &secrets);
        assert!(
            !clean.contains("AbC") && !clean.contains("ss w") && !clean.contains("%40ss"),
            "{clean}"
        );
        assert_eq!(clean.matches("<secret>").count(), 4, "{clean}");
        assert_eq!(scrub_secrets("nothing here", &secrets), "nothing here");
    }

    #[test]
    fn shows_durations() {
        assert_eq!(show_duration(Duration::from_millis(300)), "300ms");
        assert_eq!(show_duration(Duration::from_secs(30)), "30s");
    }
}
