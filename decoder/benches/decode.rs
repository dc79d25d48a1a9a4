//! Our decoder beside its peers, in one run: UTF-8 in 64 KiB and 11-byte chunks (encoding_rs's
//! streaming decoder, `std::str::from_utf8`), GBK (encoding_rs), base64 (the `base64` crate,
//! `base64-simd`) and hex. Node's StringDecoder is measured on the same machine by
//! `benches/node_string_decoder.js`.

use std::hint::black_box;

use base64::Engine as _;
use criterion::{BenchmarkId, Criterion, Throughput, criterion_group};
use nodebook_decoder::StringDecoder;

const BIG_CHUNK: usize = 64 * 1024;
const SMALL_CHUNK: usize = 11;

/// About `len` bytes of mixed text: ASCII prose, CJK, and emoji.
fn corpus(len: usize) -> String {
    let parts = [
        "The quick brown fox jumps over the lazy dog; streams arrive in chunks. ",
        "床前明月光，疑是地上霜。举头望明月，低头思故乡。",
        "春眠不觉晓，处处闻啼鸟。",
        "Emoji too: 👍🏽🎉🚀 and accents: café, naïve, Zürich. ",
    ];
    let mut text = String::with_capacity(len + 256);
    let mut i = 0;
    while text.len() < len {
        text.push_str(parts[i % parts.len()]);
        i += 1;
    }
    text
}

/// The UTF-8 workloads: chunk size and corpus size.
const UTF8_WORKLOADS: [(usize, usize); 2] = [(BIG_CHUNK, 1024 * 1024), (SMALL_CHUNK, 64 * 1024)];

/// One iteration of `ours_write_into`: the whole corpus through one decoder, chunk by chunk.
fn utf8_ours_write_into(bytes: &[u8], chunk: usize) -> impl FnMut() + '_ {
    let mut decoder = StringDecoder::new("utf8").unwrap();
    let mut out = String::with_capacity(chunk * 3 + 16);
    move || {
        for piece in bytes.chunks(chunk) {
            out.clear();
            decoder.write_into(piece, &mut out);
            black_box(&out);
        }
        decoder.end_into(&mut out);
    }
}

/// One iteration of `encoding_rs_streaming_into`: the same, through encoding_rs's decoder.
fn utf8_encoding_rs_streaming_into(bytes: &[u8], chunk: usize) -> impl FnMut() + '_ {
    let mut out = String::with_capacity(chunk * 3 + 16);
    move || {
        let mut decoder = encoding_rs::UTF_8.new_decoder_without_bom_handling();
        for piece in bytes.chunks(chunk) {
            out.clear();
            let needed = decoder.max_utf8_buffer_length(piece.len()).unwrap();
            out.reserve(needed);
            let _ = black_box(decoder.decode_to_string(piece, &mut out, false));
            black_box(&out);
        }
        let _ = black_box(decoder.decode_to_string(&[], &mut out, true));
    }
}

fn utf8(c: &mut Criterion) {
    for (chunk, total) in UTF8_WORKLOADS {
        let text = corpus(total);
        let bytes = text.as_bytes();
        let mut group = c.benchmark_group(format!("utf8_{chunk}B_chunks"));
        group.throughput(Throughput::Bytes(bytes.len() as u64));

        group.bench_function("ours_write_into", |b| {
            b.iter(utf8_ours_write_into(bytes, chunk));
        });
        group.bench_function("ours_write", |b| {
            let mut decoder = StringDecoder::new("utf8").unwrap();
            b.iter(|| {
                for piece in bytes.chunks(chunk) {
                    black_box(decoder.write(piece));
                }
                black_box(decoder.end());
            });
        });
        group.bench_function("encoding_rs_streaming_into", |b| {
            b.iter(utf8_encoding_rs_streaming_into(bytes, chunk));
        });
        group.bench_function("encoding_rs_streaming_fresh", |b| {
            b.iter(|| {
                let mut decoder = encoding_rs::UTF_8.new_decoder_without_bom_handling();
                for piece in bytes.chunks(chunk) {
                    let needed = decoder.max_utf8_buffer_length(piece.len()).unwrap();
                    let mut out = String::with_capacity(needed);
                    let _ = black_box(decoder.decode_to_string(piece, &mut out, false));
                    black_box(out);
                }
            });
        });
        if chunk == BIG_CHUNK {
            // Not streaming-safe (a chunk must end on a character boundary): the ceiling of
            // validate + copy, chunk by chunk over the same corpus cut at character boundaries.
            let pieces = char_boundary_chunks(&text, chunk);
            group.bench_function("std_from_utf8_push_str", |b| {
                let mut out = String::with_capacity(chunk + 16);
                b.iter(|| {
                    for piece in &pieces {
                        out.clear();
                        out.push_str(std::str::from_utf8(piece).unwrap());
                        black_box(&out);
                    }
                });
            });
        }
        group.finish();
    }
}

/// `text` cut into pieces of at most `size` bytes, each ending on a character boundary.
fn char_boundary_chunks(text: &str, size: usize) -> Vec<&[u8]> {
    let mut pieces = Vec::new();
    let mut start = 0;
    while start < text.len() {
        let mut end = (start + size).min(text.len());
        while !text.is_char_boundary(end) {
            end -= 1;
        }
        pieces.push(&text.as_bytes()[start..end]);
        start = end;
    }
    pieces
}

fn gbk(c: &mut Criterion) {
    let text = corpus(1024 * 1024);
    let (bytes, _, _) = encoding_rs::GBK.encode(&text);
    let mut group = c.benchmark_group("gbk_65536B_chunks");
    group.throughput(Throughput::Bytes(bytes.len() as u64));
    group.bench_function("ours_write", |b| {
        let mut decoder = StringDecoder::new("gbk").unwrap();
        b.iter(|| {
            for piece in bytes.chunks(BIG_CHUNK) {
                black_box(decoder.write(piece));
            }
            black_box(decoder.end());
        });
    });
    group.bench_function("encoding_rs_streaming_fresh", |b| {
        b.iter(|| {
            let mut decoder = encoding_rs::GBK.new_decoder_without_bom_handling();
            for piece in bytes.chunks(BIG_CHUNK) {
                let needed = decoder.max_utf8_buffer_length(piece.len()).unwrap();
                let mut out = String::with_capacity(needed);
                let _ = black_box(decoder.decode_to_string(piece, &mut out, false));
                black_box(out);
            }
        });
    });
    group.finish();
}

fn base64_and_hex(c: &mut Criterion) {
    let bytes: Vec<u8> = corpus(1024 * 1024).into_bytes();
    let mut group = c.benchmark_group("bytes_as_text_65536B_chunks");
    group.throughput(Throughput::Bytes(bytes.len() as u64));
    for label in ["base64", "hex"] {
        group.bench_function(BenchmarkId::new("ours_write", label), |b| {
            let mut decoder = StringDecoder::new(label).unwrap();
            b.iter(|| {
                for piece in bytes.chunks(BIG_CHUNK) {
                    black_box(decoder.write(piece));
                }
                black_box(decoder.end());
            });
        });
        group.bench_function(BenchmarkId::new("ours_write_into", label), |b| {
            let mut decoder = StringDecoder::new(label).unwrap();
            let mut out = String::with_capacity(BIG_CHUNK * 2 + 16);
            b.iter(|| {
                for piece in bytes.chunks(BIG_CHUNK) {
                    out.clear();
                    decoder.write_into(piece, &mut out);
                    black_box(&out);
                }
                decoder.end_into(&mut out);
            });
        });
    }
    // 65536 is not a multiple of 3: the peers get chunks of 65535 bytes, which need no carry.
    let aligned = BIG_CHUNK - BIG_CHUNK % 3;
    group.bench_function(
        BenchmarkId::new("base64_crate_encode_string", "base64"),
        |b| {
            let mut out = String::with_capacity(BIG_CHUNK * 2);
            b.iter(|| {
                for piece in bytes.chunks(aligned) {
                    out.clear();
                    base64::engine::general_purpose::STANDARD.encode_string(piece, &mut out);
                    black_box(&out);
                }
            });
        },
    );
    group.bench_function(
        BenchmarkId::new("base64_simd_encode_append", "base64"),
        |b| {
            let mut out = String::with_capacity(BIG_CHUNK * 2);
            b.iter(|| {
                for piece in bytes.chunks(aligned) {
                    out.clear();
                    base64_simd::STANDARD.encode_append(piece, &mut out);
                    black_box(&out);
                }
            });
        },
    );
    group.finish();
}

criterion_group!(benches, utf8, gbk, base64_and_hex);

/// The bench report's instruction count (`BENCH_COUNT=<group>/<subject>`,
/// `BENCH_COUNT_ITERS=<n>`): runs that one subject `n` times, outside criterion, and exits. The
/// report runs it under callgrind at two counts and takes the difference, so that the setup
/// cancels out and what is left is the instructions of `n` iterations.
fn count_instructions(id: &str, iters: u64) -> Result<(), String> {
    for (chunk, total) in UTF8_WORKLOADS {
        let group = format!("utf8_{chunk}B_chunks");
        let text = corpus(total);
        let bytes = text.as_bytes();
        let mut routine: Box<dyn FnMut() + '_> = match id.strip_prefix(group.as_str()) {
            Some("/ours_write_into") => Box::new(utf8_ours_write_into(bytes, chunk)),
            Some("/encoding_rs_streaming_into") => {
                Box::new(utf8_encoding_rs_streaming_into(bytes, chunk))
            }
            _ => continue,
        };
        for _ in 0..iters {
            routine();
        }
        return Ok(());
    }
    Err(format!("no counted subject {id:?}"))
}

fn main() {
    if let Ok(id) = std::env::var("BENCH_COUNT") {
        let iters = std::env::var("BENCH_COUNT_ITERS")
            .ok()
            .and_then(|n| n.parse().ok())
            .unwrap_or(1);
        if let Err(err) = count_instructions(&id, iters) {
            eprintln!("decode bench: {err}");
            std::process::exit(2);
        }
        return;
    }
    benches();
    Criterion::default().configure_from_args().final_summary();
}
