//! `demo`'s generator: realistic sample data, written quickly through the
//! real schema, triggers and indexes in one audited transaction (also the
//! benchmark's generator: `--bookings 1000000`).

use anyhow::Result;
use chrono::{DateTime, Duration, Utc};
use serde_json::json;

use crate::db::catalogue::StreamChanges;
use crate::db::Db;
use crate::domain::audit::{action, NewAuditEntry};
use crate::domain::booking::Booking;
use crate::domain::time::to_storage;
use crate::domain::Status;

/// A small, fast, seedable generator (SplitMix64): the same seed gives the same data.
/// The crash and concurrency tests use it too, to pick kill moments and ids.
pub struct Rng(pub u64);

impl Rng {
    pub fn next_u64(&mut self) -> u64 {
        self.0 = self.0.wrapping_add(0x9e37_79b9_7f4a_7c15);
        let mut z = self.0;
        z = (z ^ (z >> 30)).wrapping_mul(0xbf58_476d_1ce4_e5b9);
        z = (z ^ (z >> 27)).wrapping_mul(0x94d0_49bb_1331_11eb);
        z ^ (z >> 31)
    }
    pub fn below(&mut self, n: u64) -> u64 {
        self.next_u64() % n
    }
    pub fn pick<'a, T>(&mut self, items: &'a [T]) -> &'a T {
        &items[self.below(items.len() as u64) as usize]
    }
}

const FIRST_NAMES: &[&str] = &[
    "Ольга",
    "Мария",
    "Алексей",
    "Иван",
    "Сергей",
    "Михаил",
    "Андрей",
    "Татьяна",
    "Павел",
    "Наталья",
    "Дмитрий",
    "Екатерина",
    "Анна",
    "Юлия",
    "Артём",
    "Алёна",
    "Никита",
    "Ксения",
    "Zoë",
    "Jon",
    "Настя 🌸",
    "Kate, the \"Great\"",
    "李雷",
    "Роман",
    "Виктория",
    "Глеб",
    "Софья",
    "Тимур",
    "Ирина",
    "Денис",
];
const REFERRALS: &[(&str, i64)] = &[
    ("FRIEND10", 10),
    ("BLOGGER15", 15),
    ("VIBE20", 20),
    ("HALF50", 50),
];

/// One demo course: its id, name, stream code prefix, number of streams in
/// half a year, price in roubles and capacity per stream (0: none).
struct CourseSpec {
    id: i64,
    name: &'static str,
    prefix: &'static str,
    streams: u64,
    price: i64,
    capacity: i64,
}

const fn course(
    id: i64,
    name: &'static str,
    prefix: &'static str,
    streams: u64,
    price: i64,
    capacity: i64,
) -> CourseSpec {
    CourseSpec {
        id,
        name,
        prefix,
        streams,
        price,
        capacity,
    }
}

/// The demo catalogue, with the share of bookings (percent) each course gets.
const COURSES: &[(CourseSpec, u64)] = &[
    (VIBE, 55),
    (MENTORING, 15),
    (PYTHON, 20),
    (DATA_SCIENCE, 10),
];
const VIBE: CourseSpec = course(1, "Вайб кодинг", "stream", 9, 30_000, 120);
const MENTORING: CourseSpec = course(2, "Менторинг", "mentoring", 1, 50_000, 0);
const PYTHON: CourseSpec = course(3, "Python с нуля", "py", 6, 20_000, 60);
const DATA_SCIENCE: CourseSpec = course(4, "Data Science", "ds", 4, 45_000, 45);

/// A benchmark-sized database spans five years: a school that has run that
/// long teaches more courses, and runs each ten times as many streams.
const COURSES_OVER_YEARS: &[(CourseSpec, u64)] = &[
    (VIBE, 30),
    (MENTORING, 8),
    (PYTHON, 15),
    (DATA_SCIENCE, 10),
    (course(5, "Go для бэкенда", "go", 4, 40_000, 50), 10),
    (course(6, "Frontend на React", "react", 5, 35_000, 60), 12),
    (course(7, "DevOps и Kubernetes", "devops", 3, 55_000, 40), 7),
    (course(8, "Английский для IT", "eng", 6, 15_000, 30), 8),
];
const STREAMS_FACTOR_OVER_YEARS: u64 = 10;

/// Bookings generated before they are written (a multiple of the INSERT batch).
const DEMO_BATCH: usize = 1024;

/// Up to this many bookings, the demo spans half a year with the small catalogue.
const HALF_YEAR_MAX: u64 = 20_000;

fn ordinal(n: u64) -> String {
    let suffix = match (n % 10, n % 100) {
        (_, 11..=13) => "th",
        (1, _) => "st",
        (2, _) => "nd",
        (3, _) => "rd",
        _ => "th",
    };
    format!("{n}{suffix}")
}

/// The course whose share of the percentiles covers `percentile` (0..100).
fn pick_course(courses: &[(CourseSpec, u64)], percentile: u64) -> &CourseSpec {
    let mut below = 0;
    for (spec, share) in courses {
        below += share;
        if percentile < below {
            return spec;
        }
    }
    &courses[courses.len() - 1].0
}

fn stream_code(prefix: &str, k: u64, streams: u64) -> String {
    match (prefix, streams) {
        (p, 1) => p.to_string(),
        ("stream", _) => format!("{}_stream", ordinal(k)),
        (p, _) => format!("{p}_{k}"),
    }
}

/// Writes `n` bookings from `seed` (same seed, same data) with their
/// courses and streams, and one audit entry; `progress` hears how many are
/// written so far.
pub fn generate(
    db: &mut Db,
    actor: &str,
    now: DateTime<Utc>,
    n: u64,
    seed: u64,
    progress: &dyn Fn(u64),
) -> Result<()> {
    // A few thousand bookings span half a year; a benchmark-sized set spans five years.
    let (span, courses, streams_factor) = if n <= HALF_YEAR_MAX {
        (Duration::days(180), COURSES, 1)
    } else {
        (
            Duration::days(5 * 365),
            COURSES_OVER_YEARS,
            STREAMS_FACTOR_OVER_YEARS,
        )
    };
    let start = now - span;
    let step_ms = (span.num_milliseconds() / n as i64).max(1);
    let mut rng = Rng(seed);
    db.sort_in_temp_files()?;
    db.write(|tx| {
        tx.tune_for_bulk_load()?;
        let stamp = to_storage(now);
        for (spec, _) in courses {
            let streams = spec.streams * streams_factor;
            tx.upsert_course(spec.id, Some(spec.name), None, now)?;
            for k in 1..=streams {
                let code = stream_code(spec.prefix, k, streams);
                let stream_name = match (spec.prefix, streams) {
                    (_, 1) => spec.name.to_string(),
                    ("stream", _) => format!("{k}-й поток"),
                    _ => format!("Поток {k}"),
                };
                // Room for the confirmed bookings a stream gets at this size.
                let scale = (n as i64 / (3000 * streams_factor as i64)).max(1);
                tx.upsert_stream(
                    spec.id,
                    &code,
                    &StreamChanges {
                        name: Some(stream_name),
                        price_minor: Some(Some(spec.price * 100)),
                        currency: Some("RUB".into()),
                        capacity: Some((spec.capacity > 0).then_some(spec.capacity * scale)),
                    },
                    now,
                )?;
            }
        }
        tx.load_bookings_with_deferred_indexes(|tx| {
            let first_id = tx.max_booking_id()? + 1;
            let mut batch = Vec::with_capacity(DEMO_BATCH);
            for i in 0..n {
                let created = start
                    + Duration::milliseconds(step_ms * i as i64 + rng.below(step_ms as u64) as i64);
                let spec = pick_course(courses, rng.below(100));
                let streams = spec.streams * streams_factor;
                // Streams follow each other in time: the k-th runs in the k-th slice of the span.
                let k = ((i * streams) / n).min(streams - 1) + 1;
                let course_stream =
                    (rng.below(50) != 0).then(|| stream_code(spec.prefix, k, streams));
                let status = match rng.below(100) {
                    0..=54 => Status::Confirmed,
                    55..=84 => Status::Pending,
                    _ => Status::Cancelled,
                };
                let referral = (rng.below(5) == 0).then(|| *rng.pick(REFERRALS));
                let user_id = 100_000_000 + rng.below(7_000_000_000) as i64;
                let username = (rng.below(8) != 0).then(|| format!("user_{}", user_id % 100_000));
                let booking = Booking {
                    id: first_id + i as i64,
                    user_id,
                    username,
                    first_name: Some((*rng.pick(FIRST_NAMES)).to_string()),
                    course_id: spec.id,
                    course_stream,
                    status,
                    created_at: to_storage(created),
                    referral_code: referral.map(|(code, _)| code.to_string()),
                    discount_percent: referral.map(|(_, pct)| pct),
                    updated_at: String::new(),
                    confirmed_at: None,
                };
                batch.push(booking);
                if batch.len() == DEMO_BATCH {
                    tx.insert_bookings(&batch, &stamp)?;
                    batch.clear();
                }
                if i % 16_384 == 0 {
                    progress(i);
                    crate::interrupt::check()?;
                }
            }
            tx.insert_bookings(&batch, &stamp)?;
            Ok(())
        })?;
        tx.append_audit(
            actor,
            now,
            NewAuditEntry {
                action: action::DEMO_GENERATED,
                details: json!({ "bookings": n, "seed": seed }),
                ..Default::default()
            },
        )?;
        Ok(())
    })
}
