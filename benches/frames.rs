//! Hot path: scanning and forwarding unmasked backend traffic (DataRow runs
//! with a ReadyForQuery at the end), as the relay does it for every result.
//!
//! `scan` measures the scanner alone over a buffer refilled per iteration;
//! `scan+write` adds the vectored write of the produced chunks into a sink,
//! which is the whole per-read work of the relay for an unmasked result.

use bytes::{Bytes, BytesMut};
use criterion::{criterion_group, criterion_main, BenchmarkId, Criterion, Throughput};
use pgward::wire::frame::put_frame;
use pgward::wire::{Chunk, Disposition, FrameScanner};

fn backend_disposition(tag: u8) -> Disposition {
    match tag {
        b'Z' | b'E' => Disposition::Whole,
        _ => Disposition::Pass,
    }
}

/// A result set: RowDescription-sized header, `rows` DataRows of three text
/// columns (`width` bytes each), CommandComplete, ReadyForQuery.
fn result_set(rows: usize, width: usize) -> Bytes {
    let mut out = BytesMut::new();
    put_frame(&mut out, b'T', &[0u8; 80]);
    let mut row = Vec::new();
    row.extend_from_slice(&3i16.to_be_bytes());
    for _ in 0..3 {
        row.extend_from_slice(&(width as i32).to_be_bytes());
        row.extend(std::iter::repeat_n(b'x', width));
    }
    for _ in 0..rows {
        put_frame(&mut out, b'D', &row);
    }
    put_frame(&mut out, b'C', b"SELECT 1000\0");
    put_frame(&mut out, b'Z', b"I");
    out.freeze()
}

fn bench(c: &mut Criterion) {
    let mut group = c.benchmark_group("unmasked_datarows");
    for (rows, width) in [(1000usize, 10usize), (1000, 100), (100, 2000)] {
        let input = result_set(rows, width);
        group.throughput(Throughput::Bytes(input.len() as u64));
        let id = format!("{rows}x3x{width}B");
        group.bench_with_input(BenchmarkId::new("scan", &id), &input, |b, input| {
            let mut scanner = FrameScanner::new(1 << 30);
            let mut buf = BytesMut::with_capacity(input.len() * 2);
            let mut chunks = Vec::with_capacity(8);
            b.iter(|| {
                buf.extend_from_slice(input);
                while let Some(c) = scanner
                    .next_chunk(&mut buf, backend_disposition)
                    .expect("valid input")
                {
                    match c {
                        Chunk::Pass(p) => chunks.push(p),
                        Chunk::Frame(f) => chunks.push(f.into_bytes()),
                    }
                }
                let n = chunks.len();
                chunks.clear();
                n
            });
        });
        let rt = tokio::runtime::Builder::new_current_thread()
            .build()
            .expect("runtime");
        group.bench_with_input(BenchmarkId::new("scan+write", &id), &input, |b, input| {
            let mut scanner = FrameScanner::new(1 << 30);
            let mut buf = BytesMut::with_capacity(input.len() * 2);
            let mut chunks = Vec::with_capacity(8);
            let mut sink = tokio::io::sink();
            b.iter(|| {
                buf.extend_from_slice(input);
                while let Some(c) = scanner
                    .next_chunk(&mut buf, backend_disposition)
                    .expect("valid input")
                {
                    match c {
                        Chunk::Pass(p) => chunks.push(p),
                        Chunk::Frame(f) => chunks.push(f.into_bytes()),
                    }
                }
                rt.block_on(async {
                    use tokio::io::AsyncWriteExt;
                    for c in chunks.drain(..) {
                        sink.write_all(&c).await?;
                    }
                    sink.flush().await
                })
                .expect("sink write");
            });
        });
    }
    group.finish();

    // Frames per second when every read holds exactly one small frame
    // (the OLTP shape: one ReadyForQuery-terminated reply per read).
    let mut group = c.benchmark_group("small_replies");
    let reply = {
        let mut out = BytesMut::new();
        put_frame(&mut out, b'2', b"");
        put_frame(&mut out, b'D', &[0, 1, 0, 0, 0, 4, b'1', b'2', b'3', b'4']);
        put_frame(&mut out, b'C', b"SELECT 1\0");
        put_frame(&mut out, b'Z', b"I");
        out.freeze()
    };
    group.throughput(Throughput::Elements(4));
    group.bench_function("bind+row+complete+ready", |b| {
        let mut scanner = FrameScanner::new(1 << 30);
        let mut buf = BytesMut::with_capacity(16 * 1024);
        let mut chunks = Vec::with_capacity(8);
        b.iter(|| {
            buf.extend_from_slice(&reply);
            while let Some(c) = scanner
                .next_chunk(&mut buf, backend_disposition)
                .expect("valid input")
            {
                match c {
                    Chunk::Pass(p) => chunks.push(p),
                    Chunk::Frame(f) => chunks.push(f.into_bytes()),
                }
            }
            chunks.clear();
        });
    });
    group.finish();
}

criterion_group!(benches, bench);
criterion_main!(benches);
