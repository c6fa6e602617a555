//! `demo`: fills a new or empty SQLite file with sample data
//! (`services::demo::generate`), with a progress bar.

use anyhow::Result;
use clap::Args;

use super::Context;
use crate::error::{bad_input, exit};
use crate::services::demo::generate;

#[derive(Debug, Args)]
pub struct DemoArgs {
    /// How many bookings to generate.
    #[arg(long, default_value_t = 3000, value_parser = clap::value_parser!(u64).range(1..=100_000_000))]
    pub bookings: u64,
    /// Seed for the generator (same seed, same data).
    #[arg(long, default_value_t = 1)]
    pub seed: u64,
}

pub fn run(ctx: &Context, args: DemoArgs) -> Result<u8> {
    let mut db = ctx.create_db()?;
    let existing = db.count_bookings(&crate::domain::booking::BookingFilter::default())?;
    // Demo rows mixed into real ones would be counted, confirmed and messaged as real.
    if existing > 0 && !db.holds_only_demo_bookings()? {
        return Err(bad_input(format!(
            "{} holds {existing} bookings, not all made by demo (imported, added or written by another \
             program); \
             demo only fills a new or empty database: name a new file, e.g. --db demo.db",
            db.path().display()
        )));
    }
    if existing > 0 {
        ctx.out.note(&format!(
            "{} {} {}; {}",
            crate::text::shown_path(db.path()),
            ctx.out.tr("already has", "уже содержит"),
            ctx.out.bookings_count(existing),
            ctx.out.tr(
                "left as it is (use a new --db for a fresh demo)",
                "оставлена как есть (для нового демо укажите другой --db)"
            )
        ));
        return Ok(exit::OK);
    }
    let n = args.bookings;
    let bar = crate::output::progress::count(
        &ctx.out,
        n,
        ctx.out.tr("generating bookings", "создание бронирований"),
    );
    generate(&mut db, &ctx.actor, ctx.now, n, args.seed, &|i| {
        bar.set_position(i);
    })?;
    bar.finish_and_clear();
    ctx.out.note(&format!(
        "{} {n} {} {}",
        ctx.out.tr("generated", "создано"),
        ctx.out.tr("demo bookings in", "демо-бронирований в"),
        crate::text::shown_path(db.path())
    ));
    Ok(exit::OK)
}
