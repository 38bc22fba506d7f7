//! Per-row cost of masking at the wire, against the cost of the same row
//! going through the rewriter with nothing masked.

use bytes::BytesMut;
use criterion::{criterion_group, criterion_main, Criterion, Throughput};
use pgward::mask::{rewrite_data_row, ColumnMask, CopyFormat, CopyMasker, Format, MaskFn, RowPlan};
use std::hint::black_box;
use std::sync::Arc;

const TEXTS: [&[u8]; 3] = [
    b"alice.smith@corp.com",
    b"4111-1111-1111-1111!",
    b"221B Baker Street, L",
];

/// A text-format DataRow body: int4, three ~20-byte texts, numeric, date.
fn row_body() -> Vec<u8> {
    let fields: [&[u8]; 6] = [
        b"123456",
        TEXTS[0],
        TEXTS[1],
        TEXTS[2],
        b"98765.4321",
        b"2024-03-15",
    ];
    let mut b = (fields.len() as i16).to_be_bytes().to_vec();
    for f in fields {
        b.extend_from_slice(&(f.len() as i32).to_be_bytes());
        b.extend_from_slice(f);
    }
    b
}

fn column(func: MaskFn, type_oid: u32) -> Option<ColumnMask> {
    Some(ColumnMask {
        func: Arc::new(func),
        type_oid,
        format: Format::Text,
    })
}

fn masked_columns() -> Vec<Option<ColumnMask>> {
    vec![
        None,
        column(MaskFn::Partial { first: 2, last: 4 }, 25),
        column(
            MaskFn::Hash {
                key: Arc::from(&b"bench-key-0123456789abcdef"[..]),
            },
            25,
        ),
        None,
        None,
        None,
    ]
}

fn bench(c: &mut Criterion) {
    let body = row_body();
    let mut g = c.benchmark_group("data_row");
    g.throughput(Throughput::Elements(1));
    let masked = RowPlan::new(masked_columns());
    let mut out = BytesMut::with_capacity(4096);
    g.bench_function("6 cols, 2 masked (partial + hash)", |b| {
        b.iter(|| {
            out.clear();
            let r = rewrite_data_row(black_box(&body), &masked, &mut out);
            black_box((r, out.len()))
        })
    });
    let unmasked = RowPlan::new(vec![None; 6]);
    g.bench_function("6 cols, none masked", |b| {
        b.iter(|| {
            out.clear();
            let r = rewrite_data_row(black_box(&body), &unmasked, &mut out);
            black_box((r, out.len()))
        })
    });
    g.finish();

    let line = format!(
        "123456\t{}\t{}\t{}\t98765.4321\t2024-03-15\n",
        String::from_utf8_lossy(TEXTS[0]),
        String::from_utf8_lossy(TEXTS[1]),
        String::from_utf8_lossy(TEXTS[2])
    );
    let mut g = c.benchmark_group("copy_text");
    g.throughput(Throughput::Elements(1));
    let mut masker = CopyMasker::new(CopyFormat::text(), masked_columns());
    g.bench_function("row of 6 cols, 2 masked", |b| {
        b.iter(|| {
            out.clear();
            let r = masker.feed(black_box(line.as_bytes()), &mut out);
            black_box((r, out.len()))
        })
    });
    let mut plain = CopyMasker::new(CopyFormat::text(), vec![None; 6]);
    g.bench_function("row of 6 cols, none masked", |b| {
        b.iter(|| {
            out.clear();
            let r = plain.feed(black_box(line.as_bytes()), &mut out);
            black_box((r, out.len()))
        })
    });
    g.finish();
}

criterion_group!(benches, bench);
criterion_main!(benches);
