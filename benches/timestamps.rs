//! Timestamps as the views write them (`2026-12-07T05:33:31.123456`, Cinder's naive UTC
//! with microseconds): the fixed-layout digits of `clinker::http::views::Time` against
//! chrono writing the same layout, from the format string (parsed on every call, as
//! `format("%Y-...")` does) and from its items parsed once. Each writes into a reused
//! buffer, so the figures are the formatting alone.

use std::fmt::Write;
use std::hint::black_box;

use chrono::NaiveDateTime;
use chrono::format::{Fixed, Item, Numeric, Pad};
use clinker::http::views::Time;
use criterion::{Criterion, criterion_group, criterion_main};

/// `%Y-%m-%dT%H:%M:%S%.6f`, as items.
const ITEMS: &[Item<'static>] = &[
    Item::Numeric(Numeric::Year, Pad::Zero),
    Item::Literal("-"),
    Item::Numeric(Numeric::Month, Pad::Zero),
    Item::Literal("-"),
    Item::Numeric(Numeric::Day, Pad::Zero),
    Item::Literal("T"),
    Item::Numeric(Numeric::Hour, Pad::Zero),
    Item::Literal(":"),
    Item::Numeric(Numeric::Minute, Pad::Zero),
    Item::Literal(":"),
    Item::Numeric(Numeric::Second, Pad::Zero),
    Item::Fixed(Fixed::Nanosecond6),
];

const FORMAT: &str = "%Y-%m-%dT%H:%M:%S%.6f";

fn sample() -> NaiveDateTime {
    match NaiveDateTime::parse_from_str("2026-12-07T05:33:31.123456", FORMAT) {
        Ok(t) => t,
        Err(e) => panic!("bad sample: {e}"),
    }
}

fn bench_timestamps(c: &mut Criterion) {
    let t = sample();
    // The three write the same text, or the comparison means nothing.
    let digits = Time(t).to_string();
    assert_eq!(digits, t.format(FORMAT).to_string());
    assert_eq!(digits, t.format_with_items(ITEMS.iter()).to_string());

    let mut buf = String::with_capacity(32);
    c.bench_function("timestamp/views_time", |b| {
        b.iter(|| {
            buf.clear();
            let _ = write!(buf, "{}", Time(black_box(t)));
            black_box(buf.len())
        })
    });
    c.bench_function("timestamp/chrono_format_str", |b| {
        b.iter(|| {
            buf.clear();
            let _ = write!(buf, "{}", black_box(t).format(FORMAT));
            black_box(buf.len())
        })
    });
    c.bench_function("timestamp/chrono_items", |b| {
        b.iter(|| {
            buf.clear();
            let _ = write!(buf, "{}", black_box(t).format_with_items(ITEMS.iter()));
            black_box(buf.len())
        })
    });
}

criterion_group!(benches, bench_timestamps);
criterion_main!(benches);
