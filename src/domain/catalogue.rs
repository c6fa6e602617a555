//! The catalogue: courses and their streams (the codes bookings use), with
//! human names, prices and capacities, and a stream's confirmed students.

use serde::Serialize;

/// A course: its name, and the message template its streams' notices use.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct Course {
    pub id: i64,
    pub name: String,
    pub message_template: Option<String>,
}

/// A stream of a course: price and capacity, each optional.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct Stream {
    pub course_id: i64,
    pub code: String,
    pub name: Option<String>,
    pub price_minor: Option<i64>,
    pub currency: Option<String>,
    pub capacity: Option<i64>,
}

/// A confirmed student of a stream (`streams members`).
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct StreamMember {
    pub user_id: i64,
    pub username: Option<String>,
    pub first_name: Option<String>,
    pub booking_id: i64,
    pub confirmed_at: Option<String>,
    /// The student blocked the bot: messages will not reach them.
    pub blocked: bool,
}
