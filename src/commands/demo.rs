//! `demo`: realistic sample data, generated quickly through the real schema,
//! triggers and indexes (also the benchmark's generator: `--bookings 1000000`).

use anyhow::Result;
use chrono::Duration;
use serde_json::json;

use super::Context;
use crate::cli::DemoArgs;
use crate::db::catalogue::StreamChanges;
use crate::domain::audit::{action, NewAuditEntry};
use crate::domain::booking::Booking;
use crate::domain::time::to_storage;
use crate::domain::Status;
use crate::error::exit;

/// A small, fast, seedable generator (SplitMix64): the same seed gives the same data.
struct Rng(u64);

impl Rng {
    fn next(&mut self) -> u64 {
        self.0 = self.0.wrapping_add(0x9e37_79b9_7f4a_7c15);
        let mut z = self.0;
        z = (z ^ (z >> 30)).wrapping_mul(0xbf58_476d_1ce4_e5b9);
        z = (z ^ (z >> 27)).wrapping_mul(0x94d0_49bb_1331_11eb);
        z ^ (z >> 31)
    }
    fn below(&mut self, n: u64) -> u64 {
        self.next() % n
    }
    fn pick<'a, T>(&mut self, items: &'a [T]) -> &'a T {
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

/// The demo catalogue: (course id, name, stream prefix, streams, price in roubles, capacity).
const COURSES: &[(i64, &str, &str, u64, i64, i64)] = &[
    (1, "Вайб кодинг", "stream", 9, 30_000, 120),
    (2, "Менторинг", "mentoring", 1, 50_000, 0),
    (3, "Python с нуля", "py", 6, 20_000, 60),
    (4, "Data Science", "ds", 4, 45_000, 45),
];

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

fn stream_code(prefix: &str, k: u64, streams: u64) -> String {
    match (prefix, streams) {
        (p, 1) => p.to_string(),
        ("stream", _) => format!("{}_stream", ordinal(k)),
        (p, _) => format!("{p}_{k}"),
    }
}

pub fn run(ctx: &Context, args: DemoArgs) -> Result<u8> {
    let mut db = ctx.create_db()?;
    let existing = db.count_bookings(&Default::default())?;
    if existing > 0 {
        ctx.out.note(&format!(
            "{} {} {existing} {}; {}",
            db.path().display(),
            ctx.out.tr("already has", "уже содержит"),
            ctx.out.tr("bookings", "бронирований"),
            ctx.out.tr(
                "left as it is (use a new --db for a fresh demo)",
                "оставлена как есть (для нового демо укажите другой --db)"
            )
        ));
        return Ok(exit::OK);
    }
    let n = args.bookings;
    // A few thousand bookings span half a year; a benchmark-sized set spans five years.
    let span = if n <= 20_000 {
        Duration::days(180)
    } else {
        Duration::days(5 * 365)
    };
    let start = ctx.now - span;
    let step_ms = (span.num_milliseconds() / n as i64).max(1);
    let mut rng = Rng(args.seed);
    let bar = crate::output::progress::count(
        &ctx.out,
        n,
        ctx.out.tr("generating bookings", "создание бронирований"),
    );
    let now = ctx.now;
    let actor = ctx.actor.clone();
    db.write(|tx| {
        let stamp = to_storage(now);
        for &(course, name, prefix, streams, price, capacity) in COURSES {
            tx.upsert_course(course, Some(name), None, now)?;
            for k in 1..=streams {
                let code = stream_code(prefix, k, streams);
                let stream_name = match (prefix, streams) {
                    (_, 1) => name.to_string(),
                    ("stream", _) => format!("{k}-й поток"),
                    _ => format!("Поток {k}"),
                };
                tx.upsert_stream(
                    course,
                    &code,
                    &StreamChanges {
                        name: Some(stream_name),
                        price_minor: Some(Some(price * 100)),
                        currency: Some("RUB".into()),
                        capacity: Some(
                            (capacity > 0).then_some(capacity * (n as i64 / 3000).max(1)),
                        ),
                    },
                    now,
                )?;
            }
        }
        let first_id = tx.max_booking_id()? + 1;
        for i in 0..n {
            let created = start
                + Duration::milliseconds(step_ms * i as i64 + rng.below(step_ms as u64) as i64);
            let &(course, _, prefix, streams, _, _) = match rng.below(100) {
                0..=54 => &COURSES[0],
                55..=69 => &COURSES[1],
                70..=89 => &COURSES[2],
                _ => &COURSES[3],
            };
            // Streams follow each other in time: the k-th runs in the k-th slice of the span.
            let k = ((i * streams) / n).min(streams - 1) + 1;
            let course_stream = (rng.below(50) != 0).then(|| stream_code(prefix, k, streams));
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
                first_name: Some(rng.pick(FIRST_NAMES).to_string()),
                course_id: course,
                course_stream,
                status,
                created_at: to_storage(created),
                referral_code: referral.map(|(code, _)| code.to_string()),
                discount_percent: referral.map(|(_, pct)| pct),
                updated_at: String::new(),
                confirmed_at: None,
            };
            tx.insert_booking(&booking, &stamp)?;
            if i % 16_384 == 0 {
                bar.set_position(i);
                crate::interrupt::check()?;
            }
        }
        tx.append_audit(
            &actor,
            now,
            NewAuditEntry {
                action: action::DEMO_GENERATED,
                details: json!({ "bookings": n, "seed": args.seed }),
                ..Default::default()
            },
        )?;
        Ok(())
    })?;
    bar.finish_and_clear();
    ctx.out.note(&format!(
        "{} {n} {} {}",
        ctx.out.tr("generated", "создано"),
        ctx.out.tr("demo bookings in", "демо-бронирований в"),
        db.path().display()
    ));
    Ok(exit::OK)
}
