//! Criterion: Rust-only `encode_ordinary` throughput by input size, plus a worst-case group.
//!
//! Ids match `benches/bench_encode.py` (`encode_ordinary/cl100k_base/10KiB`), so the two reports line up and the
//! difference is the cost of crossing into Python. Run with `cargo bench --bench encode`.

use std::hint::black_box;
use std::time::Duration;

use bytepair::{Encoder, Rank};
use criterion::{BenchmarkId, Criterion, SamplingMode, Throughput};

/// Split pattern of cl100k_base, as in `python/bytepair/config.py`.
const CL100K_PATTERN: &str = r"'(?i:[sdmt]|ll|ve|re)|[^\r\n\p{L}\p{N}]?+\p{L}++|\p{N}{1,3}+| ?[^\s\p{L}\p{N}]++[\r\n]*+|\s++$|\s*[\r\n]|\s+(?!\S)|\s";

/// Split pattern of o200k_base, as in `python/bytepair/config.py`.
const O200K_PATTERN: &str = concat!(
    r"[^\r\n\p{L}\p{N}]?[\p{Lu}\p{Lt}\p{Lm}\p{Lo}\p{M}]*[\p{Ll}\p{Lm}\p{Lo}\p{M}]+(?i:'s|'t|'re|'ve|'m|'ll|'d)?",
    "|",
    r"[^\r\n\p{L}\p{N}]?[\p{Lu}\p{Lt}\p{Lm}\p{Lo}\p{M}]+[\p{Ll}\p{Lm}\p{Lo}\p{M}]*(?i:'s|'t|'re|'ve|'m|'ll|'d)?",
    "|",
    r"\p{N}{1,3}",
    "|",
    r" ?[^\s\p{L}\p{N}]+[\r\n/]*",
    "|",
    r"\s*[\r\n]+",
    "|",
    r"\s+(?!\S)",
    "|",
    r"\s+",
);

/// Input sizes, named as in `benches/bench_encode.py`.
const SIZES: [(&str, usize); 4] = [("100B", 100), ("1KiB", 1024), ("10KiB", 10 * 1024), ("1MiB", 1024 * 1024)];

const MIB: usize = 1024 * 1024;

fn read(relative: &str) -> Vec<u8> {
    let path = format!("{}/{relative}", env!("CARGO_MANIFEST_DIR"));
    std::fs::read(&path).unwrap_or_else(|err| panic!("cannot read {path}: {err}"))
}

fn encoder(vocab_file: &str, pattern: &str, specials: &[(&str, Rank)]) -> Encoder {
    let specials = specials.iter().map(|&(text, rank)| (text.to_owned(), rank));
    Encoder::from_vocab_file(&read(vocab_file), pattern, specials).expect("bundled vocab files and patterns are valid")
}

fn cl100k() -> Encoder {
    let specials = [
        ("<|endoftext|>", 100_257),
        ("<|fim_prefix|>", 100_258),
        ("<|fim_middle|>", 100_259),
        ("<|fim_suffix|>", 100_260),
        ("<|endofprompt|>", 100_276),
    ];
    encoder("python/bytepair/vocab/cl100k_base.tiktoken", CL100K_PATTERN, &specials)
}

fn o200k() -> Encoder {
    let specials = [("<|endoftext|>", 199_999), ("<|endofprompt|>", 200_018)];
    encoder("python/bytepair/vocab/o200k_base.tiktoken", O200K_PATTERN, &specials)
}

/// The first `size` bytes of `benches/corpus/english.txt`, repeated end to end when it is shorter, cut back to a
/// character boundary: the same inputs as `benches/bench_encode.py`.
fn english(size: usize) -> String {
    let corpus = String::from_utf8(read("benches/corpus/english.txt")).expect("the corpus is UTF-8");
    let mut text = corpus.repeat(size / corpus.len() + 1);
    let mut end = size;
    while !text.is_char_boundary(end) {
        end -= 1;
    }
    text.truncate(end);
    text
}

/// Checks, outside the timed loop, that the encoder gives the input back, so no benchmark times a wrong answer.
fn check_round_trip(encoder: &Encoder, text: &str) {
    let tokens = encoder.encode_ordinary(text).expect("bundled patterns split any text");
    let decoded = encoder.decode_bytes(&tokens).expect("tokens just encoded decode");
    assert!(decoded == text.as_bytes(), "decode_bytes(encode_ordinary(text)) != text");
}

fn encode_ordinary(c: &mut Criterion) {
    let encoder = cl100k();
    let mut group = c.benchmark_group("encode_ordinary/cl100k_base");
    for (label, size) in SIZES {
        let text = english(size);
        check_round_trip(&encoder, &text);
        group.throughput(Throughput::Bytes(text.len() as u64));
        group.bench_with_input(BenchmarkId::from_parameter(label), &text, |b, text| {
            b.iter(|| encoder.encode_ordinary(black_box(text)));
        });
    }
    group.finish();
}

/// One piece as long as the text (1 MiB of 'a'), and one 1 MiB whitespace run (where tiktoken's regex overflows
/// its backtracking stack with o200k_base): where BPE implementations differ by orders of magnitude.
fn worstcase(c: &mut Criterion) {
    let cases = [
        ("encode_ordinary/cl100k_base/1MiB_a", cl100k(), "a".repeat(MIB)),
        ("encode_ordinary/o200k_base/1MiB_spaces_x", o200k(), " ".repeat(MIB - 1) + "x"),
    ];
    let mut group = c.benchmark_group("worstcase");
    // About a second per call: a few flat samples give a stable mean without minutes per case.
    group.sampling_mode(SamplingMode::Flat).sample_size(10).measurement_time(Duration::from_secs(20));
    for (id, encoder, text) in &cases {
        check_round_trip(encoder, text);
        group.throughput(Throughput::Bytes(text.len() as u64));
        group.bench_with_input(BenchmarkId::from_parameter(id), text, |b, text| {
            b.iter(|| encoder.encode_ordinary(black_box(text)));
        });
    }
    group.finish();
}

// What `criterion_group!` + `criterion_main!` expand to, written out: their generated `pub fn` trips `missing_docs`.
fn main() {
    let mut criterion = Criterion::default().configure_from_args();
    encode_ordinary(&mut criterion);
    worstcase(&mut criterion);
    criterion.final_summary();
}
