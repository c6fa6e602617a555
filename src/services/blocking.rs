//! `users block` / `users unblock`: a person paytrack knows stops (or starts
//! again) getting messages; their queued messages are held (or queued
//! again) in the same audited transaction.

use anyhow::Result;
use chrono::{DateTime, Utc};
use serde_json::json;

use crate::db::WriteTx;
use crate::domain::audit::{action, NewAuditEntry};
use crate::domain::booking::UserRef;
use crate::error::PaytrackError;

/// Which way `set_blocked` goes.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Blocking {
    Block,
    Unblock,
}

/// What `set_blocked` did.
#[derive(Debug)]
pub struct BlockChange {
    pub user_id: i64,
    /// False when the person already was as asked: nothing written.
    pub changed: bool,
    /// Messages held (block) or queued again (unblock).
    pub messages: u64,
}

/// Blocks or unblocks `user`. The same person `users show` finds; nobody
/// paytrack knows is refused, so a typo never blocks a stranger (issue 25).
pub fn set_blocked(
    tx: &WriteTx,
    actor: &str,
    now: DateTime<Utc>,
    user: &UserRef,
    blocking: Blocking,
    reason: &str,
) -> Result<BlockChange> {
    let user_id = match user {
        UserRef::Id(id) => *id,
        UserRef::Username(name) => tx.user_id_for_username(name)?.ok_or_else(|| {
            PaytrackError::NotFound(format!(
                "no booking has the username @{}; nothing changed",
                crate::text::for_terminal(name)
            ))
        })?,
    };
    if !tx.user_is_known(user_id)? {
        return Err(PaytrackError::NotFound(crate::tr!(
            "no booking of user {user_id}; nothing changed (see `paytrack users show {user_id}`)",
            "у пользователя {user_id} нет броней; ничего не изменено (см. `paytrack users show {user_id}`)"
        ))
        .into());
    }
    let (changed, messages) = match blocking {
        Blocking::Block => {
            let changed = tx.block_user(user_id, now, reason)?;
            (
                changed,
                if changed {
                    tx.hold_messages_of(user_id)?
                } else {
                    0
                },
            )
        }
        Blocking::Unblock => {
            let changed = tx.unblock_user(user_id)?;
            let requeued = if changed {
                tx.requeue_blocked_messages(user_id, now)?
            } else {
                0
            };
            (changed, requeued)
        }
    };
    if changed {
        let (action, details) = match blocking {
            Blocking::Block => (
                action::USER_BLOCKED,
                json!({ "user_id": user_id, "source": "users", "held": messages }),
            ),
            Blocking::Unblock => (
                action::USER_UNBLOCKED,
                json!({ "user_id": user_id, "source": "users", "requeued": messages }),
            ),
        };
        tx.append_audit(
            actor,
            now,
            NewAuditEntry {
                action,
                new_value: Some(user_id.to_string()),
                reason: Some(reason.to_string()),
                details,
                ..Default::default()
            },
        )?;
    }
    Ok(BlockChange {
        user_id,
        changed,
        messages,
    })
}
