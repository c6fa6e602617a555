//! Courses and streams: human names, prices and capacities for the codes bookings use.

use super::error::OptionalExtension;
use super::value::params;
use anyhow::Result;
use chrono::{DateTime, Utc};

use super::{Db, WriteTx};
pub use crate::domain::catalogue::{Course, Stream, StreamMember};
use crate::domain::time::to_storage;

/// Fields of a stream to set; `None` leaves a field as it is.
#[derive(Debug, Clone, Default)]
pub struct StreamChanges {
    pub name: Option<String>,
    pub price_minor: Option<Option<i64>>,
    pub currency: Option<String>,
    pub capacity: Option<Option<i64>>,
}

impl StreamChanges {
    /// The stream as it is after these changes.
    pub fn apply(&self, current: &Stream) -> Stream {
        Stream {
            name: self.name.clone().or_else(|| current.name.clone()),
            price_minor: self.price_minor.unwrap_or(current.price_minor),
            currency: self.currency.clone().or_else(|| current.currency.clone()),
            capacity: self.capacity.unwrap_or(current.capacity),
            ..current.clone()
        }
    }

    /// Stream `course_id`/`code` after these changes: `before` as it was, or
    /// a bare stream when there was none.
    pub fn apply_to(&self, before: Option<&Stream>, course_id: i64, code: &str) -> Stream {
        match before {
            Some(current) => self.apply(current),
            None => self.apply(&Stream::bare(course_id, code)),
        }
    }
}

impl Stream {
    /// A stream with a code and nothing else set.
    pub fn bare(course_id: i64, code: &str) -> Stream {
        Stream {
            course_id,
            code: code.to_string(),
            name: None,
            price_minor: None,
            currency: None,
            capacity: None,
        }
    }
}

impl WriteTx<'_> {
    /// Makes sure a course exists; a new one is named after its id until someone names it.
    /// Returns true when it was created.
    pub fn ensure_course(&self, id: i64, now: DateTime<Utc>) -> Result<bool> {
        self.forget_catalogue();
        let n = self
            .conn()
            .prepare_cached(
                "INSERT INTO courses (id, name, created_at, updated_at) VALUES (?1, ?2, ?3, ?3)
                 ON CONFLICT (id) DO NOTHING",
            )?
            .execute(params![id, format!("Course {id}"), to_storage(now)])?;
        Ok(n > 0)
    }

    /// Makes sure a stream exists in the catalogue (its course too). Returns true when created.
    pub fn ensure_stream(&self, course_id: i64, code: &str, now: DateTime<Utc>) -> Result<bool> {
        self.ensure_course(course_id, now)?;
        self.forget_catalogue();
        let n = self
            .conn()
            .prepare_cached(
                "INSERT INTO streams (course_id, code, created_at, updated_at) VALUES (?1, ?2, ?3, ?3)
                 ON CONFLICT (course_id, code) DO NOTHING",
            )?
            .execute(params![course_id, code, to_storage(now)])?;
        Ok(n > 0)
    }

    /// Inserts or renames a course; returns the previous state.
    pub fn upsert_course(
        &self,
        id: i64,
        name: Option<&str>,
        template: Option<Option<&str>>,
        now: DateTime<Utc>,
    ) -> Result<Option<Course>> {
        self.forget_catalogue();
        let before = course_by_id(self.conn(), id)?;
        self.ensure_course(id, now)?;
        if let Some(name) = name {
            self.conn().execute(
                "UPDATE courses SET name = ?2, updated_at = ?3 WHERE id = ?1",
                params![id, name, to_storage(now)],
            )?;
        }
        if let Some(template) = template {
            self.conn().execute(
                "UPDATE courses SET message_template = ?2, updated_at = ?3 WHERE id = ?1",
                params![id, template, to_storage(now)],
            )?;
        }
        Ok(before)
    }

    /// A stream's group chat link (`{chat_link}`).
    pub fn stream_chat_link(&self, course_id: i64, code: &str) -> Result<Option<String>> {
        Ok(self
            .conn()
            .prepare_cached("SELECT chat_link FROM streams WHERE course_id = ?1 AND code = ?2")?
            .query_row(params![course_id, code], |r| r.get(0))
            .optional()?
            .flatten())
    }

    pub fn set_stream_chat_link(
        &self,
        course_id: i64,
        code: &str,
        link: Option<&str>,
        now: DateTime<Utc>,
    ) -> Result<()> {
        self.forget_catalogue();
        self.conn()
            .prepare_cached(
                "UPDATE streams SET chat_link = ?3, updated_at = ?4 WHERE course_id = ?1 AND code = ?2",
            )?
            .execute(params![course_id, code, link, to_storage(now)])?;
        Ok(())
    }

    /// The longest stream name (or code) and chat link of a course, to check
    /// templates against Telegram's limit.
    pub fn longest_stream_texts(&self, course_id: i64) -> Result<(String, String)> {
        let mut stmt = self.conn().prepare_cached(
            "SELECT COALESCE(name, code), COALESCE(chat_link, '') FROM streams WHERE course_id = ?1",
        )?;
        let mut name = String::new();
        let mut link = String::new();
        let rows = stmt.query_map([course_id], |r| {
            Ok((r.get::<_, String>(0)?, r.get::<_, String>(1)?))
        })?;
        for row in rows {
            let (n, l) = row?;
            if n.chars().count() > name.chars().count() {
                name = n;
            }
            if l.chars().count() > link.chars().count() {
                link = l;
            }
        }
        Ok((name, link))
    }

    /// A course's template of a kind other than confirmation (the course row holds that one).
    pub fn kind_template(&self, course_id: i64, kind: &str) -> Result<Option<String>> {
        kind_template_of(self.conn(), course_id, kind)
    }

    /// A course's templates of kinds other than confirmation: (kind, text).
    pub fn kind_templates(&self, course_id: i64) -> Result<Vec<(String, String)>> {
        let mut stmt = self.conn().prepare_cached(
            "SELECT kind, body FROM message_templates WHERE course_id = ?1 ORDER BY kind",
        )?;
        let rows = stmt
            .query_map([course_id], |r| Ok((r.get(0)?, r.get(1)?)))?
            .collect::<super::error::Result<_>>()?;
        Ok(rows)
    }

    /// Sets (or with None removes) a course's template of a kind other than confirmation.
    pub fn set_kind_template(
        &self,
        course_id: i64,
        kind: &str,
        body: Option<&str>,
        now: DateTime<Utc>,
    ) -> Result<()> {
        self.forget_catalogue();
        match body {
            Some(body) => self
                .conn()
                .prepare_cached(
                    "INSERT INTO message_templates (course_id, kind, body, updated_at)
                     VALUES (?1, ?2, ?3, ?4)
                     ON CONFLICT (course_id, kind) DO UPDATE SET body = excluded.body,
                                                                 updated_at = excluded.updated_at",
                )?
                .execute(params![course_id, kind, body, to_storage(now)])?,
            None => self
                .conn()
                .prepare_cached("DELETE FROM message_templates WHERE course_id = ?1 AND kind = ?2")?
                .execute(params![course_id, kind])?,
        };
        Ok(())
    }

    /// Inserts or edits a stream; returns the previous state.
    pub fn upsert_stream(
        &self,
        course_id: i64,
        code: &str,
        changes: &StreamChanges,
        now: DateTime<Utc>,
    ) -> Result<Option<Stream>> {
        self.forget_catalogue();
        let before = stream_by_code(self.conn(), course_id, code)?;
        self.ensure_stream(course_id, code, now)?;
        let after = changes.apply_to(before.as_ref(), course_id, code);
        self.conn().execute(
            "UPDATE streams SET name = ?3, price_minor = ?4, currency = ?5, capacity = ?6, updated_at = ?7
             WHERE course_id = ?1 AND code = ?2",
            params![
                course_id,
                code,
                after.name,
                after.price_minor,
                after.currency,
                after.capacity,
                to_storage(now)
            ],
        )?;
        Ok(before)
    }

    /// A course, read once per transaction (a payments import confirms many
    /// bookings of the same few courses).
    pub fn course(&self, id: i64) -> Result<Option<Course>> {
        if let Some(course) = self.cache.borrow().courses.get(&id) {
            return Ok(course.clone());
        }
        let course = course_by_id(self.conn(), id)?;
        self.cache.borrow_mut().courses.insert(id, course.clone());
        Ok(course)
    }

    /// A stream, read once per transaction (see `course`).
    pub fn stream(&self, course_id: i64, code: &str) -> Result<Option<Stream>> {
        let key = (course_id, code.to_string());
        if let Some(stream) = self.cache.borrow().streams.get(&key) {
            return Ok(stream.clone());
        }
        let stream = stream_by_code(self.conn(), course_id, code)?;
        self.cache.borrow_mut().streams.insert(key, stream.clone());
        Ok(stream)
    }

    /// Forgets the catalogue read so far: every catalogue write calls this first.
    fn forget_catalogue(&self) {
        let mut cache = self.cache.borrow_mut();
        cache.courses.clear();
        cache.streams.clear();
        cache.message_catalogues.clear();
    }
}

pub(super) fn course_by_id(conn: super::sql::Conn<'_>, id: i64) -> Result<Option<Course>> {
    Ok(conn
        .prepare_cached("SELECT id, name, message_template FROM courses WHERE id = ?1")?
        .query_row([id], |r| {
            Ok(Course {
                id: r.get(0)?,
                name: r.get(1)?,
                message_template: r.get(2)?,
            })
        })
        .optional()?)
}

pub(super) fn stream_by_code(
    conn: super::sql::Conn<'_>,
    course_id: i64,
    code: &str,
) -> Result<Option<Stream>> {
    Ok(conn
        .prepare_cached(
            "SELECT course_id, code, name, price_minor, currency, capacity FROM streams
             WHERE course_id = ?1 AND code = ?2",
        )?
        .query_row(params![course_id, code], stream_from_row)
        .optional()?)
}

/// A course's template of a kind other than confirmation (for `Db` and `WriteTx` alike).
fn kind_template_of(
    conn: super::sql::Conn<'_>,
    course_id: i64,
    kind: &str,
) -> Result<Option<String>> {
    Ok(conn
        .prepare_cached("SELECT body FROM message_templates WHERE course_id = ?1 AND kind = ?2")?
        .query_row(params![course_id, kind], |r| r.get(0))
        .optional()?)
}

fn stream_from_row(r: &super::sql::Row) -> super::error::Result<Stream> {
    Ok(Stream {
        course_id: r.get(0)?,
        code: r.get(1)?,
        name: r.get(2)?,
        price_minor: r.get(3)?,
        currency: r.get(4)?,
        capacity: r.get(5)?,
    })
}

impl Db {
    pub fn courses(&self) -> Result<Vec<Course>> {
        let mut stmt = self
            .conn()
            .prepare("SELECT id, name, message_template FROM courses ORDER BY id")?;
        let rows = stmt
            .query_map([], |r| {
                Ok(Course {
                    id: r.get(0)?,
                    name: r.get(1)?,
                    message_template: r.get(2)?,
                })
            })?
            .collect::<super::error::Result<_>>()?;
        Ok(rows)
    }

    pub fn course(&self, id: i64) -> Result<Option<Course>> {
        course_by_id(self.conn(), id)
    }

    /// Streams, optionally of one course, ordered by course and code.
    pub fn streams(&self, course_id: Option<i64>) -> Result<Vec<Stream>> {
        let mut stmt = self.conn().prepare(
            "SELECT course_id, code, name, price_minor, currency, capacity FROM streams
             WHERE CAST(?1 AS BIGINT) IS NULL OR course_id = ?1 ORDER BY course_id, code",
        )?;
        let rows = stmt
            .query_map([course_id], stream_from_row)?
            .collect::<super::error::Result<_>>()?;
        Ok(rows)
    }

    pub fn stream(&self, course_id: i64, code: &str) -> Result<Option<Stream>> {
        stream_by_code(self.conn(), course_id, code)
    }

    /// A course's template of a kind other than confirmation.
    pub fn kind_template(&self, course_id: i64, kind: &str) -> Result<Option<String>> {
        kind_template_of(self.conn(), course_id, kind)
    }

    /// Streams with this code in any course (a code is usually unique; `--course` disambiguates).
    pub fn streams_by_code(&self, code: &str) -> Result<Vec<Stream>> {
        let mut stmt = self.conn().prepare(
            "SELECT course_id, code, name, price_minor, currency, capacity FROM streams
             WHERE code = ?1 ORDER BY course_id",
        )?;
        let rows = stmt
            .query_map([code], stream_from_row)?
            .collect::<super::error::Result<_>>()?;
        Ok(rows)
    }
}

impl Db {
    /// Confirmed bookings of one stream, oldest confirmation first, with whether
    /// each student blocked the bot. Walks the `bookings_by_stream` index.
    pub fn stream_members(&self, course_id: i64, code: &str) -> Result<Vec<StreamMember>> {
        // On PostgreSQL the bot's own blocked list counts too (issue 26).
        let mut stmt = self.conn().prepare_cached(self.conn().pick(
            "SELECT b.user_id, b.username, b.first_name, b.id, b.confirmed_at,
                    bu.user_id IS NOT NULL
               FROM bookings b LEFT JOIN blocked_users bu ON bu.user_id = b.user_id
              WHERE b.course_id = ?1 AND b.course_stream = ?2 AND b.confirmed = 2
              ORDER BY b.confirmed_at, b.id",
            "SELECT b.user_id, b.username, b.first_name, b.id, b.confirmed_at,
                    bu.user_id IS NOT NULL OR paytrack.blocked_by_bot(b.user_id)
               FROM bookings b LEFT JOIN blocked_users bu ON bu.user_id = b.user_id
              WHERE b.course_id = ?1 AND b.course_stream = ?2 AND b.confirmed = 2
              ORDER BY b.confirmed_at, b.id",
        ))?;
        let rows = stmt
            .query_map(params![course_id, code], |r| {
                Ok(StreamMember {
                    user_id: r.get(0)?,
                    username: r.get(1)?,
                    first_name: r.get(2)?,
                    booking_id: r.get(3)?,
                    confirmed_at: r.get(4)?,
                    blocked: r.get(5)?,
                })
            })?
            .collect::<super::error::Result<_>>()?;
        Ok(rows)
    }
}

impl Db {
    /// Every course id a booking filter can name: the catalogue's and those
    /// bookings use (another program may write bookings of a course paytrack
    /// has not catalogued). Read from the counters, not the bookings.
    pub fn known_course_ids(&self) -> Result<Vec<i64>> {
        let mut stmt = self.conn().prepare(
            "SELECT id FROM courses
             UNION SELECT course_id FROM stream_counters WHERE bookings > 0
             ORDER BY 1",
        )?;
        let rows = stmt
            .query_map([], |r| r.get(0))?
            .collect::<super::error::Result<_>>()?;
        Ok(rows)
    }

    /// Every stream code a booking filter can name, optionally within one
    /// course: the catalogue's and those bookings use.
    pub fn known_stream_codes(&self, course_id: Option<i64>) -> Result<Vec<String>> {
        let mut stmt = self.conn().prepare(
            "SELECT code FROM streams WHERE CAST(?1 AS BIGINT) IS NULL OR course_id = ?1
             UNION SELECT course_stream FROM stream_counters
              WHERE bookings > 0 AND course_stream <> '' AND (CAST(?1 AS BIGINT) IS NULL OR course_id = ?1)
             ORDER BY 1",
        )?;
        let rows = stmt
            .query_map([course_id], |r| r.get(0))?
            .collect::<super::error::Result<_>>()?;
        Ok(rows)
    }
}
