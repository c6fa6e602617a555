//! The payment status of a booking and its state machine.
//!
//! `Status` is parsed once, at the edge (CLI flags, files), and used
//! everywhere inside. `check_transition` is the one place that says which
//! changes are allowed; every write path (set-status, bulk, payments) asks it.

use std::fmt;
use std::str::FromStr;

use serde::Serialize;

/// A booking's payment status, stored in the `confirmed` column.
///
/// The clap derive makes this the parser for every status flag, so a typo gets
/// clap's "possible values" message; the aliases accept the column codes, the
/// American spelling and the old system's Russian labels.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, clap::ValueEnum)]
#[serde(rename_all = "lowercase")]
pub enum Status {
    /// 2: paid and confirmed.
    #[value(
        alias = "paid",
        alias = "2",
        alias = "подтверждено",
        alias = "Подтверждено"
    )]
    Confirmed,
    /// 1: booked, payment not yet confirmed.
    #[value(alias = "1", alias = "в ожидании", alias = "В ожидании")]
    Pending,
    /// -1: cancelled (never paid, withdrawn or refunded).
    #[value(
        alias = "canceled",
        alias = "-1",
        alias = "отменено",
        alias = "Отменено"
    )]
    Cancelled,
}

impl Status {
    pub const ALL: [Status; 3] = [Status::Confirmed, Status::Pending, Status::Cancelled];

    /// The value of the `confirmed` column.
    pub fn code(self) -> i64 {
        match self {
            Status::Confirmed => 2,
            Status::Pending => 1,
            Status::Cancelled => -1,
        }
    }

    pub fn from_code(code: i64) -> Option<Status> {
        match code {
            2 => Some(Status::Confirmed),
            1 => Some(Status::Pending),
            -1 => Some(Status::Cancelled),
            _ => None,
        }
    }

    /// The stable machine name used in CSV, JSON, the audit log and flags.
    pub fn name(self) -> &'static str {
        match self {
            Status::Confirmed => "confirmed",
            Status::Pending => "pending",
            Status::Cancelled => "cancelled",
        }
    }
}

impl fmt::Display for Status {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.name())
    }
}

/// Accepts the names, their aliases, the column codes and the old system's Russian labels.
impl FromStr for Status {
    type Err = String;

    fn from_str(s: &str) -> Result<Self, Self::Err> {
        // One list of names: the clap derive above.
        <Status as clap::ValueEnum>::from_str(&s.trim().to_lowercase(), true).map_err(|_| {
            format!(
                "unknown status '{}' [possible values: confirmed, pending, cancelled]",
                crate::text::shown(s)
            )
        })
    }
}

/// What a requested change amounts to, once the rules have been applied.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Transition {
    /// The booking already has the target status: nothing to write.
    NoOp,
    /// An allowed change.
    Allowed,
    /// A change outside the normal rules, allowed because of `--force` (recorded as forced).
    Forced,
}

/// Why a change was refused.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum TransitionError {
    #[error("{}", crate::tr!("cannot change {from} to {to}: allowed from {from}: {allowed} (use --force with --reason to override)", "нельзя сменить {from} на {to}: из {from} можно в {allowed} (--force с --reason, чтобы всё же сменить)", from = .from, to = .to, allowed = .allowed))]
    NotAllowed {
        from: Status,
        to: Status,
        allowed: String,
    },
    #[error("{}", crate::tr!("changing {from} to {to} needs --reason", "для смены {from} на {to} нужна --reason", from = .from, to = .to))]
    ReasonRequired { from: Status, to: Status },
}

/// The state machine: the one function that decides whether `from → to` may happen.
///
/// - pending → confirmed, pending → cancelled, cancelled → pending: allowed;
/// - confirmed → cancelled (a withdrawal or refund): allowed with a reason;
/// - anything else: refused, unless forced with a reason;
/// - from == to: a no-op, so re-running a cron job is safe.
pub fn check_transition(
    from: Status,
    to: Status,
    force: bool,
    reason: Option<&str>,
) -> Result<Transition, TransitionError> {
    let has_reason = reason.is_some_and(|r| !r.trim().is_empty());
    if from == to {
        return Ok(Transition::NoOp);
    }
    let Rule {
        allowed,
        needs_reason,
    } = rule(from, to);
    if !allowed && !force {
        return Err(TransitionError::NotAllowed {
            from,
            to,
            allowed: allowed_targets(from)
                .iter()
                .map(|s| s.name())
                .collect::<Vec<_>>()
                .join(", "),
        });
    }
    if needs_reason && !has_reason {
        return Err(TransitionError::ReasonRequired { from, to });
    }
    Ok(if allowed {
        Transition::Allowed
    } else {
        Transition::Forced
    })
}

/// One cell of the transition table.
struct Rule {
    allowed: bool,
    needs_reason: bool,
}

/// The transition table itself, for `from != to`.
fn rule(from: Status, to: Status) -> Rule {
    use Status::{Cancelled, Confirmed, Pending};
    match (from, to) {
        (Pending, Confirmed | Cancelled) | (Cancelled, Pending) => Rule {
            allowed: true,
            needs_reason: false,
        },
        (Confirmed, Cancelled) => Rule {
            allowed: true,
            needs_reason: true,
        },
        // Refused unless forced; a forced change always needs a reason.
        _ => Rule {
            allowed: false,
            needs_reason: true,
        },
    }
}

/// The statuses `from` may change to without `--force`.
pub fn allowed_targets(from: Status) -> Vec<Status> {
    Status::ALL
        .into_iter()
        .filter(|&to| to != from && rule(from, to).allowed)
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;
    use Status::*;

    #[test]
    fn every_pair_follows_the_table() {
        let table = [
            (Pending, Confirmed, Ok(Transition::Allowed)),
            (Pending, Cancelled, Ok(Transition::Allowed)),
            (Cancelled, Pending, Ok(Transition::Allowed)),
            (Confirmed, Cancelled, Ok(Transition::Allowed)),
        ];
        for (from, to, want) in table {
            assert_eq!(
                check_transition(from, to, false, Some("r")),
                want,
                "{from}->{to}"
            );
        }
        for s in Status::ALL {
            assert_eq!(check_transition(s, s, false, None), Ok(Transition::NoOp));
        }
    }

    #[test]
    fn refund_needs_a_reason() {
        assert!(matches!(
            check_transition(Confirmed, Cancelled, false, None),
            Err(TransitionError::ReasonRequired { .. })
        ));
        assert!(check_transition(Confirmed, Cancelled, false, Some("  ")).is_err());
    }

    #[test]
    fn refused_pairs_need_force_and_reason() {
        for (from, to) in [(Confirmed, Pending), (Cancelled, Confirmed)] {
            let err = check_transition(from, to, false, Some("r")).unwrap_err();
            assert!(matches!(err, TransitionError::NotAllowed { .. }));
            assert!(matches!(
                check_transition(from, to, true, None),
                Err(TransitionError::ReasonRequired { .. })
            ));
            assert_eq!(
                check_transition(from, to, true, Some("r")),
                Ok(Transition::Forced)
            );
        }
    }

    #[test]
    fn refusal_names_allowed_targets() {
        let err = check_transition(Cancelled, Confirmed, false, None).unwrap_err();
        assert!(err.to_string().contains("allowed from cancelled: pending"));
    }

    #[test]
    fn parses_names_aliases_codes_and_russian_labels() {
        for (text, want) in [
            ("confirmed", Confirmed),
            ("PAID", Confirmed),
            ("2", Confirmed),
            ("Подтверждено", Confirmed),
            ("pending", Pending),
            ("1", Pending),
            ("В ожидании", Pending),
            ("canceled", Cancelled),
            ("-1", Cancelled),
            ("отменено", Cancelled),
        ] {
            assert_eq!(text.parse::<Status>(), Ok(want), "{text}");
        }
        assert!("0".parse::<Status>().is_err());
        assert!("confirm".parse::<Status>().is_err());
    }
}
