//! `PieceCache`: the tokens of recently merged pieces, bounded tables per thread.
//!
//! Real text is Zipfian: the pieces that are not a token by themselves (and so need a byte-pair merge, the costly
//! step) repeat. Measured with callgrind on English with cl100k_base, 6% of the pieces needed a merge and cost 35%
//! of the encoding instructions, about 1,700 each; a cached piece costs a hash and a compare.
//!
//! Pieces of up to 15 bytes go to a table of 131,072 entries of 32 bytes (4 MiB, and 128 KiB of [`Tags`]) in
//! eight-way sets (see [`WAYS`]); longer ones to [`LongPieces`] (at most 12 MiB and 128 KiB), which also keeps the
//! tokens of short pieces that merge into more than [`MAX_TOKENS`]. In front of them all, a hot table (4 MiB, see
//! [`HotSet`]) holds pieces of up to 15 bytes that give one or two tokens, whether they are tokens or merge, so that
//! most pieces of real text cost one line read (the encoder asks it for pieces of up to 7 bytes one at a time, and for
//! those of up to 15 bytes a block at a time). A thread keeps the caches of at most
//! [`CACHES_PER_THREAD`] encoders, so memory is bounded and a long run never grows it; a batch's threads hand theirs on
//! to the next batch's through [`DEPOT`]. The sizes were
//! measured on the benchmark corpora (6 MB each, 4 KiB documents, cl100k_base, a warm second pass, best of 3):
//! against 4,096 entries of the earlier 60-byte layout, 65,536 direct-mapped entries encoded English 16% faster, code
//! 10%, multilingual 3% (32,768 gave 10% and 4% on English and code); two-way sets and the long pieces then added
//! 14%, 7% and 6% (best of 4). Multilingual text has many more distinct pieces that need a merge (6 MB: 66,000 of up
//! to 15 bytes and 53,500 longer), so the tables grew for it: see [`SLOT_BITS`] and [`LONG_BYTES`]. An entry holds the
//! piece's bytes (packed, see [`pack_up_to_15`], or in a ring) and is used only when they are equal to the piece being
//! encoded, and only by the encoder that filled it, so the cache can never change a result: it only skips recomputing
//! one.

use std::cell::RefCell;
use std::hash::Hasher as _;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Mutex, OnceLock};

use rustc_hash::FxHasher;

use crate::table::{prefetch_line, LargeTable};
use crate::vocab::{pack_up_to_15, Rank, NO_RANK};

/// The most tokens an entry of the short-piece table holds itself; a short piece that merges into more keeps them
/// in the token ring of [`LongPieces`].
pub const MAX_TOKENS: usize = 4;
/// Entries per cache: a power of two.
const SLOTS: usize = 1 << SLOT_BITS;
const SLOT_BITS: u32 = 17;
/// Caches per thread, one per encoder, the least recently used replaced: a program that alternates between two
/// encodings (say cl100k_base and a Hugging Face model) keeps both warm.
const CACHES_PER_THREAD: usize = 2;

/// A piece (its bytes packed into two integers, see [`pack_up_to_15`]) and its tokens, padded with [`NO_RANK`].
#[derive(Clone, Copy)]
#[repr(C)]
struct Entry {
    /// `[0, 0]` for an empty entry (no piece packs to it).
    key: [u64; 2],
    tokens: [Rank; MAX_TOKENS],
}

/// The [`WAYS`] entries that a piece may occupy: four cache lines side by side, of which a lookup reads only the one
/// holding the way whose tag matches.
#[derive(Clone, Copy)]
#[repr(C, align(64))]
struct Set([Entry; WAYS]);

/// Entries per set of the short-piece table, and slots per set of [`LongPieces`]. With two ways, each set replacing its
/// least recently used, a set that more pieces keep coming back to than it has ways loses each of them before its next
/// use, however much room the rest of the table has: a warm pass over the benchmark's multilingual text (6 MB, 4 KiB
/// documents) merged 27,400 of its 295,000 pieces that are not a token again with cl100k_base, 24,100 of 218,000 with
/// o200k_base (for the short pieces, the share of a Poisson distribution of mean 1 that finds two others in its set),
/// English 2,900 of 96,700. In the same memory, eight ways took that to 4,000, 2,700 and 26, and eight ways that
/// replace a random one ([`way_for_new`]) to 1,400, 950 and 400-1,400 (English depends more on what came before).
/// Text the cache has not seen gains little: its misses are pieces met for the first time (56,700 -> 56,500 in the
/// second half of the multilingual text after the first, cl100k_base). Measured (`encode_to_numpy` per document, best
/// of 3 passes, 4 or 5 alternating process runs, this 2-core machine): two ways -> eight (least recently used
/// replaced, with tags): warm, cl100k_base English 144 -> 174 MB/s, code 156 -> 206, multilingual 71 -> 102;
/// o200k_base 150 -> 195, 157 -> 201, 65 -> 89; lists 3-43% faster; on the second half of a corpus after the first,
/// English 109 -> 126 and 86 -> 117, multilingual 41.5 -> 41.2 and 30.4 -> 29.6 (within noise). Then a random way
/// replaced instead: warm multilingual 83 -> 99 and 74 -> 87, English 177 -> 191 and 185 -> 169 (within noise),
/// multilingual text not seen before 35 -> 34 and 23 -> 26 (a slower hour).
const WAYS: usize = 8;

/// A byte per way of a set, from bits of the piece's hash other than those that chose the set, all in one word (byte
/// `i` for way `i`; 0 for an empty way): a lookup compares the eight at once and reads only the ways whose tag is the
/// piece's, so a piece that is not cached (most often one never met before) costs the load of this word, from an
/// array of 128 KiB, instead of reading the set's four lines.
#[derive(Clone, Copy, Default)]
struct Tags(u64);

const _: () = assert!(WAYS == 8, "a Tags word holds a byte per way");

/// Each byte of a word set to 1.
const ONES: u64 = 0x0101_0101_0101_0101;

impl Tags {
    /// The tag of a piece whose hash, multiplied by [`FIBONACCI`], is `mixed`: bits 40-47, below the at most 16 top
    /// bits that choose its set; 0 (the empty way's tag) becomes 1.
    #[inline]
    #[allow(clippy::cast_possible_truncation)] // the byte wanted
    fn of(mixed: u64) -> u8 {
        ((mixed >> 40) as u8).max(1)
    }

    /// The ways whose tag may be `tag`: bit `8 * way + 7` set for each way whose tag is, and perhaps for some ways
    /// after one of those (the borrow of the subtraction runs on), which the caller's compare of the keys rules out.
    #[inline]
    fn candidates(self, tag: u8) -> u64 {
        let differences = self.0 ^ (u64::from(tag) * ONES);
        differences.wrapping_sub(ONES) & !differences & (ONES << 7)
    }

    /// The way of the next candidate of a non-empty `candidates` mask.
    #[inline]
    fn way(candidates: u64) -> usize {
        candidates.trailing_zeros() as usize / 8
    }
}

/// Puts `value`, whose tag is `tag`, in way `way` of a set.
#[inline]
fn put<T>(ways: &mut [T; WAYS], tags: &mut Tags, way: usize, value: T, tag: u8) {
    ways[way] = value;
    let shift = 8 * way;
    tags.0 = tags.0 & !(0xFF << shift) | u64::from(tag) << shift;
}

/// The way of a set that a piece it does not hold goes to: the first empty way, else the one `turn` (a count of the
/// table's inserts) names, in effect a random way of the set. Replacing the least recently used way instead would
/// move the ways on every hit and read all four lines of the set on every insert (measured with that: inserting the
/// chunks of 1 MiB of random letters took 10% of the time, nearly all of it in loads of the ways being shifted); and
/// where a set holds more pieces that come back than it has ways, a random choice keeps some of them where the
/// oldest-first order loses all.
#[inline]
fn way_for_new(tags: Tags, turn: &mut usize) -> usize {
    let empty = tags.candidates(0);
    if empty != 0 {
        // The lowest candidate is always an empty way.
        return Tags::way(empty);
    }
    *turn = turn.wrapping_add(1);
    *turn % WAYS
}

/// One encoder's cache on one thread.
pub struct PieceCache {
    /// The [`owner id`](new_owner) of the encoder whose pieces the entries hold.
    owner: u64,
    /// [`FIRST_SETS`] at first, then `SLOTS / WAYS`.
    sets: LargeTable<Set>,
    /// The tags of each set's ways.
    tags: Box<[Tags]>,
    /// Inserts left before the first, small table grows to its full size.
    inserts_before_growing: usize,
    /// Picks the way a new piece replaces in a full set (see [`way_for_new`]).
    turn: usize,
    long: LongPieces,
    /// Whether lookups pay: see [`Lookups`].
    lookups: Lookups,
    /// Pieces of up to 15 bytes, tokens or not, that give one or two tokens: see [`HotSet`].
    hot: LargeTable<HotSet>,
    /// `64 - log2(hot.len())`.
    hot_shift: u32,
    /// Puts left before the first, small hot table grows to its full size.
    hot_puts_before_growing: usize,
    /// Picks the way a new piece replaces in a full hot set.
    hot_turn: usize,
    /// Whether the hot table finds enough: see [`HOT_ENOUGH`].
    hot_lookups: Lookups,
}

/// Hits of a window of hot lookups below which only one piece in [`SAMPLE_EVERY`] goes through the hot table: where
/// few short pieces repeat (random letters), a miss there costs a lookup and a put for nothing.
const HOT_ENOUGH: u32 = WINDOW / 2;

/// Two pieces of up to 15 bytes (packed as the token table packs them) and their one or two tokens, in one line of the
/// hot table: a lookup reads one line, and a piece that is no token costs no more than one that is (where otherwise it
/// takes a miss in the token table, a filter, the merge's dispatch and the cache's tags and set). Measured when a set
/// held four pieces of up to seven bytes (for two of up to 15, see [`HOT_WAYS`] and commits d9883a1 and e17f15f), with
/// `benches/side_by_side.py` against the token table first (6 MB corpora, 10 passes, this 2-core machine), three runs:
/// `encode_to_numpy` English 1.06-1.16x with cl100k_base and 1.11-1.14x with o200k_base, code 1.04-1.06x and
/// 1.06-1.10x, multilingual 1.03-1.05x and 1.07-1.10x; a first pass over 1 MB of English 0.84-1.24x (noise); the 1 MiB
/// worst cases within the noise of the two runs (0.91-1.16x) once the table is skipped where it finds too little (see
/// [`HOT_ENOUGH`]; without that, random letters with o200k_base ran at 0.82-0.91x).
#[derive(Clone, Copy)]
#[repr(C, align(64))]
pub struct HotSet {
    /// `[0, 0]` for an empty way (no piece packs to it).
    keys: [HotKey; HOT_WAYS],
    /// The second [`NO_RANK`] for a piece of one token.
    tokens: [[Rank; 2]; HOT_WAYS],
}

/// Ways of a [`HotSet`]: two, so that a lookup compares the key with one of them, chosen by comparing with the other
/// (with four, comparing them all was 19 of about 55 instructions per piece found).
const HOT_WAYS: usize = 2;

/// A piece of up to 15 bytes, packed by [`pack_up_to_15`] (a piece of up to seven bytes is `[its short key, 0]`).
pub type HotKey = [u64; 2];

/// The hot table of a [`PieceCache`], borrowed for lookups (see [`PieceCache::hot_table`]).
pub struct HotTable<'a> {
    sets: &'a [HotSet],
    /// `64 - log2(sets.len())`.
    shift: u32,
}

impl HotTable<'_> {
    /// The tokens of a piece of up to 15 bytes, packed into `key`, if the table has them.
    #[inline]
    pub fn get(&self, key: HotKey) -> Option<[Rank; 2]> {
        let index = PieceCache::hot_set(key, self.shift);
        debug_assert!(index < self.sets.len());
        // SAFETY: `shift` is 64 - log2 of the table's length, so `hot_set` keeps fewer bits than that (a bounds check
        // here was 4 of about 30 instructions per hot lookup).
        let set = unsafe { self.sets.get_unchecked(index) };
        let way = usize::from(set.keys[1] == key);
        (set.keys[way] == key).then(|| set.tokens[way])
    }

    /// Asks for the set of a piece of up to 15 bytes, packed into `key`.
    #[inline]
    pub fn prefetch(&self, key: HotKey) {
        prefetch_line(self.sets.as_ptr().wrapping_add(PieceCache::hot_set(key, self.shift)));
    }
}

const EMPTY_HOT_SET: HotSet = HotSet { keys: [[0; 2]; HOT_WAYS], tokens: [[0; 2]; HOT_WAYS] };

impl HotSet {
    /// Puts a piece in the first empty way, else in the one `turn` (a count of puts) names.
    #[inline]
    fn put(&mut self, key: HotKey, tokens: [Rank; 2], turn: &mut usize) {
        let way = self.keys.iter().position(|&found| found == [0, 0]).unwrap_or_else(|| {
            *turn = turn.wrapping_add(1);
            *turn % HOT_WAYS
        });
        self.keys[way] = key;
        self.tokens[way] = tokens;
    }
}

/// Sets of the hot table (4 MiB), which starts with [`FIRST_HOT_SETS`] (32 KiB) and grows once as many pieces were
/// put in as it has ways, as the sets of the merged pieces do (see [`FIRST_SETS`]).
const HOT_SETS: usize = 1 << 16;
const FIRST_HOT_SETS: usize = 1 << 9;

/// How often a cache finds the pieces it is asked for, and whether it is asked for every piece merged.
///
/// Text that repeats no piece (random letters, hashes, base64) misses on every lookup, and each miss then costs an
/// insert that writes to a table larger than the CPU's caches: callgrind on 1 MiB of random ASCII letters with
/// o200k_base gave 64 instructions per lookup and 145 per insert, about a fifth of a merged piece's cost. Once a
/// window of [`WINDOW`] lookups finds fewer than one in [`POOR_YIELD`], only every [`SAMPLE_EVERY`]th piece is looked
/// up (and inserted when missing), until a window of those sampled lookups finds enough again. Counted on a first,
/// cold pass over each benchmark corpus (6 MB, 4 KiB documents, cl100k_base and o200k_base), no window of real text
/// found fewer than 85 of its 1,024 (English at least 85, code 137, multilingual 92); 1 MiB of random letters
/// (o200k_base) found 0 or 1 in each. Measured on that input (best of 4 texts, 10 alternating process runs, this
/// 2-core machine): 19.1-28.4 -> 22.0-30.2 MB/s to a list, faster in 8 runs of 10; callgrind 117 -> 102 M
/// instructions for one text.
#[derive(Clone, Copy, Default)]
struct Lookups {
    /// Lookups and hits in the current window.
    asked: u32,
    hits: u32,
    /// Whether only one piece in [`SAMPLE_EVERY`] is looked up.
    sampling: bool,
    /// Pieces merged without a lookup since the last sampled one.
    skipped: u32,
}

impl Lookups {
    /// Whether the next piece should be looked up: false for all but one in [`SAMPLE_EVERY`] while sampling.
    #[inline]
    fn worth_a_lookup(&mut self) -> bool {
        if !self.sampling {
            return true;
        }
        self.skipped += 1;
        if self.skipped < SAMPLE_EVERY {
            return false;
        }
        self.skipped = 0;
        true
    }

    /// Counts a lookup; a window it completes turns sampling on when it found fewer than `enough` pieces, else off.
    #[inline]
    fn count(&mut self, hit: bool, enough: u32) {
        self.count_many(1, u32::from(hit), enough);
    }

    /// Counts `asked` lookups that found `hits` pieces (at most a block's, 64); once the window has [`WINDOW`] or
    /// more, sampling turns on when fewer than `enough` in [`WINDOW`] were found, else off.
    #[inline]
    fn count_many(&mut self, asked: u32, hits: u32, enough: u32) {
        self.asked += asked;
        self.hits += hits;
        if self.asked >= WINDOW {
            self.sampling = u64::from(self.hits) * u64::from(WINDOW) < u64::from(enough) * u64::from(self.asked);
            self.asked = 0;
            self.hits = 0;
        }
    }
}

/// Lookups per judgement of a cache's [`Lookups`].
const WINDOW: u32 = 1024;
/// A window with fewer hits than `WINDOW / POOR_YIELD` turns sampling on; one with as many turns it off.
const POOR_YIELD: u32 = 32;
/// While sampling, one piece in this many is looked up.
const SAMPLE_EVERY: u32 = 8;

/// The sets a cache starts with (64 KiB), grown to `SLOTS / WAYS` once as many pieces were inserted as it has entries:
/// writing the full table takes about 2 ms, which a first call on a thread would otherwise pay for a few pieces
/// (measured in Python: the first `encode("hello")` on a thread 3.6-4.9 ms with the full table, 1.0-1.5 ms with
/// this; with 2 MiB at once it was 2.5-3.2 ms).
const FIRST_SETS: usize = 2048 / WAYS;

thread_local! {
    /// Most recently used first.
    static CACHES: RefCell<Vec<PieceCache>> = const { RefCell::new(Vec::new()) };
}

/// The caches of batch workers that finished, for the next batch's workers: a batch runs on threads made for it
/// (they cannot outlive the call, so a fork never finds a pool of threads to lose or to warn about), and without this
/// every batch would start from empty caches. Measured (Python, `encode_batch_to_numpy` on 2 threads over 6 MB in
/// 4 KiB documents, cl100k_base, best of 3 passes, in calls of every document / 200 / 50 documents): multilingual
/// text 53.5 / 50.6 / 43.2 MB/s without it, 95.1 / 67.2 / 47.8 with it; English 186 / 131 / 114 and 178 / 136 / 119
/// (its small calls are slowed by other per-call costs). Never waited on for long (see
/// [`lock_briefly`](crate::batch::lock_briefly)): a worker that still finds it locked (or, after a fork, locked for
/// good by a thread that no longer exists) starts empty or drops its caches instead. At most [`depot_limit`] sets are
/// kept.
static DEPOT: Depot = Mutex::new(Vec::new());

/// The most sets of caches [`DEPOT`] keeps: the CPUs this process may use, the default number of batch workers.
/// Found once: asking the system took 48 us a call here (it reads the cgroup's CPU quota), for every worker of every
/// batch.
fn depot_limit() -> usize {
    static LIMIT: OnceLock<usize> = OnceLock::new();
    *LIMIT.get_or_init(|| crate::batch::resolve_threads(0))
}

/// Runs `work` on a thread made for a batch with the caches of a worker that finished before (if any), and leaves
/// this thread's caches for the next one when `work` returns.
pub fn with_lent_caches<R>(work: impl FnOnce() -> R) -> R {
    lend_from(&DEPOT, depot_limit(), work)
}

/// Sets of caches of finished threads, each what one thread held.
type Depot = Mutex<Vec<Vec<PieceCache>>>;

fn lend_from<R>(depot: &Depot, limit: usize, work: impl FnOnce() -> R) -> R {
    let lent = crate::batch::lock_briefly(depot).and_then(|mut depot| depot.pop());
    if let Some(lent) = lent {
        CACHES.with(|cell| {
            if let Ok(mut caches) = cell.try_borrow_mut() {
                *caches = lent;
            }
        });
    }
    let result = work();
    let caches = CACHES.with(|cell| cell.try_borrow_mut().map(|mut caches| std::mem::take(&mut *caches)));
    if let (Ok(caches), Some(mut depot)) = (caches, crate::batch::lock_briefly(depot)) {
        if !caches.is_empty() && depot.len() < limit {
            depot.push(caches);
        }
    }
    result
}

/// A fresh owner id for an encoder: caches filled by one encoder are never read for another.
pub fn new_owner() -> u64 {
    static NEXT: AtomicU64 = AtomicU64::new(1);
    NEXT.fetch_add(1, Ordering::Relaxed)
}

/// Runs `work` with this thread's cache for `owner` (a new, empty one if the thread has none for it), or with
/// `None` when the caches are already in use further up this thread's stack.
pub fn with_cache<R>(owner: u64, work: impl FnOnce(Option<&mut PieceCache>) -> R) -> R {
    CACHES.with(|cell| {
        let Ok(mut caches) = cell.try_borrow_mut() else {
            return work(None);
        };
        match caches.iter().position(|cache| cache.owner == owner) {
            Some(0) => {}
            Some(at) => caches[..=at].rotate_right(1),
            None => {
                if caches.len() == CACHES_PER_THREAD {
                    caches.pop();
                }
                caches.insert(
                    0,
                    PieceCache {
                        owner,
                        sets: empty_sets(FIRST_SETS),
                        tags: vec![Tags::default(); FIRST_SETS].into_boxed_slice(),
                        inserts_before_growing: WAYS * FIRST_SETS,
                        turn: 0,
                        long: LongPieces::new(),
                        lookups: Lookups::default(),
                        hot: LargeTable::filled(FIRST_HOT_SETS, EMPTY_HOT_SET),
                        hot_shift: 64 - FIRST_HOT_SETS.trailing_zeros(),
                        hot_puts_before_growing: 4 * FIRST_HOT_SETS,
                        hot_turn: 0,
                        hot_lookups: Lookups::default(),
                    },
                );
            }
        }
        work(Some(&mut caches[0]))
    })
}

/// `count` empty sets (all-zero entries are empty).
fn empty_sets(count: usize) -> LargeTable<Set> {
    let empty = Entry { key: [0, 0], tokens: [0; MAX_TOKENS] };
    LargeTable::filled(count, Set([empty; WAYS]))
}

impl PieceCache {
    /// The set of a packed piece among `sets` (a power of two), and its tag: a multiply carries every bit of the key
    /// into the top bits that pick the set.
    #[inline]
    #[allow(clippy::cast_possible_truncation)] // the shift leaves log2(sets) bits
    fn set(key: [u64; 2], sets: usize) -> (usize, u8) {
        let mixed = (key[0].wrapping_mul(FIBONACCI) ^ key[1]).wrapping_mul(FIBONACCI);
        ((mixed >> (64 - sets.trailing_zeros())) as usize, Tags::of(mixed))
    }

    /// The way of set `index` that holds `key`, if one does.
    #[inline]
    fn find(&self, index: usize, tag: u8, key: [u64; 2]) -> Option<usize> {
        let mut candidates = self.tags[index].candidates(tag);
        while candidates != 0 {
            let way = Tags::way(candidates);
            if self.sets[index].0[way].key == key {
                return Some(way);
            }
            candidates &= candidates - 1;
        }
        None
    }

    /// Whether the next piece should be looked up (and inserted when missing): false for all but one in
    /// [`SAMPLE_EVERY`] pieces while lookups find too little (see [`Lookups`]).
    #[inline]
    pub fn worth_a_lookup(&mut self) -> bool {
        self.lookups.worth_a_lookup()
    }

    /// [`get`](Self::get), counted towards the cache's [`Lookups`]: for callers that ask
    /// [`worth_a_lookup`](Self::worth_a_lookup) first. A window it completes decides whether to sample.
    #[inline]
    pub fn get_counted(&mut self, piece: &[u8], out: &mut Vec<Rank>) -> bool {
        let hit = self.get(piece, out);
        self.lookups.count(hit, WINDOW / POOR_YIELD);
        hit
    }

    /// Appends the cached tokens of `piece` to `out`; false when the piece is not cached.
    #[inline]
    pub fn get(&mut self, piece: &[u8], out: &mut Vec<Rank>) -> bool {
        let Some(key) = pack_up_to_15(piece) else { return self.long.get(piece, out) };
        let (index, tag) = Self::set(key, self.sets.len());
        let Some(way) = self.find(index, tag, key) else { return false };
        let tokens = self.sets[index].0[way].tokens;
        if tokens[0] == IN_RING {
            let start = u64::from(tokens[1]) | u64::from(tokens[3]) << 32;
            return self.long.get_tokens(start, tokens[2], out);
        }
        out.extend(tokens.iter().copied().take_while(|&token| token != NO_RANK));
        true
    }

    /// The set of the hot table of `shift` for a packed piece.
    #[inline]
    #[allow(clippy::cast_possible_truncation)] // the shift leaves log2(sets) bits
    fn hot_set(key: HotKey, shift: u32) -> usize {
        ((key[0] ^ key[1].rotate_left(32)).wrapping_mul(FIBONACCI) >> shift) as usize
    }

    /// The tokens of a piece of up to 15 bytes, packed into `key`, if the hot table has them.
    #[inline]
    pub fn hot_get(&mut self, key: HotKey) -> Option<[Rank; 2]> {
        let found = self.hot_table().get(key);
        self.hot_lookups.count(found.is_some(), HOT_ENOUGH);
        found
    }

    /// The hot table, for a run of lookups with nothing put in between.
    #[inline]
    pub fn hot_table(&self) -> HotTable<'_> {
        HotTable { sets: &self.hot, shift: self.hot_shift }
    }
    /// Counts `asked` lookups in [`hot_table`](Self::hot_table) (a block's, counted at once), `hits` of which found
    /// their piece.
    #[inline]
    pub fn count_hot(&mut self, asked: u32, hits: u32) {
        self.hot_lookups.count_many(asked, hits, HOT_ENOUGH);
    }

    /// Whether the next piece should go through the hot table (see [`HOT_ENOUGH`]).
    #[inline]
    pub fn hot_worth_it(&mut self) -> bool {
        self.hot_lookups.worth_a_lookup()
    }

    /// Whether the hot table is being used for most pieces (so that asking for its sets ahead pays).
    #[inline]
    pub fn hot_in_use(&self) -> bool {
        !self.hot_lookups.sampling
    }

    /// Asks for the hot set of a piece of up to 15 bytes, packed into `key`.
    #[inline]
    pub fn prefetch_hot(&self, key: HotKey) {
        self.hot_table().prefetch(key);
    }

    /// Remembers the one or two tokens of a piece of up to 15 bytes.
    #[inline]
    pub fn hot_put(&mut self, key: HotKey, tokens: &[Rank]) {
        let tokens = match *tokens {
            [first] => [first, NO_RANK],
            [first, second] => [first, second],
            _ => return,
        };
        if self.hot_puts_before_growing > 0 {
            self.hot_puts_before_growing -= 1;
            if self.hot_puts_before_growing == 0 {
                self.grow_hot();
            }
        }
        self.hot[Self::hot_set(key, self.hot_shift)].put(key, tokens, &mut self.hot_turn);
    }

    /// Moves the hot pieces into a table of the full size.
    #[cold]
    fn grow_hot(&mut self) {
        let small = std::mem::replace(&mut self.hot, LargeTable::filled(HOT_SETS, EMPTY_HOT_SET));
        self.hot_shift = 64 - HOT_SETS.trailing_zeros();
        for set in small.iter() {
            for (&key, &tokens) in set.keys.iter().zip(&set.tokens).filter(|(&key, _)| key != [0, 0]) {
                self.hot[Self::hot_set(key, self.hot_shift)].put(key, tokens, &mut self.hot_turn);
            }
        }
    }

    /// Asks for the tags and the four lines of the set of a piece of up to 15 bytes, packed into `key` (see
    /// [`pack_up_to_15`]): a lookup reads its set's tags, then a line of the set, at random in 4 MiB. Measured with
    /// `benches/side_by_side.py`, asked for the pieces of 8 to 15 bytes that the token table's filter rejects (against
    /// not at all): `encode_to_numpy` on multilingual text 1.12-1.17x with o200k_base and 1.14-1.16x with
    /// cl100k_base, English 1.03-1.18x, code 0.97-1.05x, lists 1.04x (English) and 1.17x (multilingual); asked also for
    /// the rejected pieces of 5 to 7 bytes, code ran at 0.87-0.96x and the rest gained less.
    #[inline(never)]
    pub fn prefetch_short(&self, key: [u64; 2]) {
        let (index, _) = Self::set(key, self.sets.len());
        prefetch_set(self.tags.as_ptr().wrapping_add(index), self.sets.as_ptr().wrapping_add(index));
    }

    /// Asks for the tags and the four lines of the set of `piece`, of more than 15 bytes. Out of line, as
    /// [`prefetch_short`](Self::prefetch_short), since few pieces need it: inlined into the encoder's `ahead`, it kept
    /// the compiler from inlining the encoding of a piece into the scanners' loops (callgrind, 1 MB of code in
    /// documents, o200k_base, `encode_to_numpy`: 44.5 M instructions against 41.6 M, 0.92-0.95x the speed).
    #[inline(never)]
    pub fn prefetch_long(&self, piece: &[u8]) {
        let long = &self.long;
        if long.sets.is_empty() {
            return;
        }
        let (index, _) = LongPieces::set(LongPieces::hash(piece));
        prefetch_set(long.tags.as_ptr().wrapping_add(index), long.sets.as_ptr().wrapping_add(index));
    }

    /// Remembers that `piece` merges into `tokens` (ignored when they are too many to cache).
    #[inline]
    pub fn insert(&mut self, piece: &[u8], tokens: &[Rank]) {
        let Some(key) = pack_up_to_15(piece) else { return self.long.insert(piece, tokens) };
        let entry_tokens = if tokens.len() > MAX_TOKENS {
            let Some(start) = self.long.insert_tokens(tokens) else { return };
            #[allow(clippy::cast_possible_truncation)] // the two halves of the position
            [IN_RING, start as u32, count(tokens.len()), (start >> 32) as u32]
        } else {
            let mut padded = [NO_RANK; MAX_TOKENS];
            padded[..tokens.len()].copy_from_slice(tokens);
            padded
        };
        if self.inserts_before_growing > 0 {
            self.inserts_before_growing -= 1;
            if self.inserts_before_growing == 0 {
                self.grow();
            }
        }
        let (index, tag) = Self::set(key, self.sets.len());
        // The piece is in a way already when its tokens were in the ring and overwritten since.
        let way = self.find(index, tag, key).unwrap_or_else(|| way_for_new(self.tags[index], &mut self.turn));
        put(&mut self.sets[index].0, &mut self.tags[index], way, Entry { key, tokens: entry_tokens }, tag);
    }

    /// Moves the entries into a table of the full size.
    #[cold]
    fn grow(&mut self) {
        let mut sets = empty_sets(SLOTS / WAYS);
        let mut tags = vec![Tags::default(); SLOTS / WAYS].into_boxed_slice();
        for entry in self.sets.iter().flat_map(|set| set.0).filter(|entry| entry.key != [0, 0]) {
            let (index, tag) = Self::set(entry.key, sets.len());
            let way = way_for_new(tags[index], &mut self.turn);
            put(&mut sets[index].0, &mut tags[index], way, entry, tag);
        }
        self.sets = sets;
        self.tags = tags;
    }
}

/// The first token of an entry whose tokens are in the long pieces' token ring (above every rank): then come the
/// low half of their position there, their count and the high half.
const IN_RING: Rank = NO_RANK - 1;

/// 2^64 divided by the golden ratio: multiplying by it spreads every input bit into the top bits.
const FIBONACCI: u64 = 0x9E37_79B9_7F4A_7C15;

/// Slots of the cache of pieces longer than 15 bytes, in sets of [`WAYS`]: a power of two.
const LONG_SLOTS: usize = 1 << LONG_SLOT_BITS;
const LONG_SLOT_BITS: u32 = 17;
/// The bytes of long pieces a [`LongPieces`] keeps, and their tokens: each a ring in which the newest overwrite the
/// oldest. The benchmark's 6 MB of multilingual text has 53,500 distinct pieces of more than 15 bytes, and its
/// distinct pieces that are longer or merge into more than four tokens hold 1.9 MB and 0.67 M tokens (cl100k_base):
/// the rings keep them all. Measured against 256 KiB and 64 Ki tokens with 4,096 slots emptied together when an
/// arena was full (Rust harness, 6 MB in 4 KiB documents, this 2-core machine, best of 5 process runs):
/// multilingual text warm 38.3 -> 50.7 MB/s with cl100k_base, 36.9 -> 49.9 with o200k_base, English and code and the
/// first pass within noise. A warm pass then still merged about half of the long pieces again, most of them for
/// colliding direct-mapped slots. Two-way sets, rings instead of arenas emptied when full (so that a long run never
/// loses every long piece at once), and the short-piece table of [`SLOT_BITS`] took the merging in four passes over
/// it from 922 M to 551 M instructions (callgrind, cl100k_base; 2.32 G -> 1.94 G in all; the rings alone changed
/// nothing there) and a warm pass from 53 to 60 and 48 to 62 MB/s in two runs (cl100k_base; best of 3 process runs),
/// 46 to 55 and 43 to 60 (o200k_base); English, code and first passes within noise.
const LONG_BYTES: usize = 1 << 22;
const LONG_TOKENS: usize = 1 << 20;

/// The pieces of more than 15 bytes that were merged recently and their tokens: sets of slots that point
/// into two bounded rings; the token ring also holds the tokens of short pieces that merge into more than
/// [`MAX_TOKENS`] (their entries in the short-piece table point there). Such pieces are few but costly to merge (a
/// run of punctuation, a line of box-drawing characters, text without spaces), and they repeat: in a warm pass over
/// English (6 MB, cl100k_base) 3,500 of them were merged again without this cache, 460 with it.
struct LongPieces {
    sets: LargeTable<LongSet>,
    tags: Box<[Tags]>,
    /// Picks the way a new piece replaces in a full set (see [`way_for_new`]).
    turn: usize,
    bytes: Ring<u8, LONG_BYTES>,
    tokens: Ring<Rank, LONG_TOKENS>,
}

/// Prefetches a set's tags and each line of the set.
#[inline]
fn prefetch_set<S>(tags: *const Tags, set: *const S) {
    prefetch_line(tags);
    for line in 0..std::mem::size_of::<S>() / 64 {
        prefetch_line(set.cast::<u8>().wrapping_add(64 * line));
    }
}

/// The [`WAYS`] slots a long piece may occupy: four cache lines side by side, read as [`Set`]'s are.
#[derive(Clone, Copy, Default)]
#[repr(C, align(64))]
struct LongSet([LongSlot; WAYS]);

/// Where a long piece and its tokens are in the rings; `len` 0 for an empty slot (no long piece is empty).
#[derive(Clone, Copy, Default)]
struct LongSlot {
    hash: u64,
    start: u64,
    tokens_start: u64,
    len: u32,
    tokens_len: u32,
}

impl LongPieces {
    fn new() -> Self {
        Self {
            // Allocated by the first insert: writing them (3 MiB when measured, 4 MiB now) took 4 ms, which a first
            // call on short text would pay for nothing (measured in Python: the first `encode("hello")` on a thread
            // 6.0-6.5 ms with the slots allocated here, 2.2 with 4,096 slots).
            sets: LargeTable::filled(0, LongSet::default()),
            tags: Box::default(),
            turn: 0,
            bytes: Ring::new(),
            tokens: Ring::new(),
        }
    }

    #[inline]
    fn hash(piece: &[u8]) -> u64 {
        let mut hasher = FxHasher::default();
        hasher.write(piece);
        hasher.finish()
    }

    /// The set of a piece's hash, and its tag.
    #[allow(clippy::cast_possible_truncation)] // the shift leaves LONG_SLOT_BITS - log2(WAYS) bits
    fn set(hash: u64) -> (usize, u8) {
        let mixed = hash.wrapping_mul(FIBONACCI);
        ((mixed >> (64 - LONG_SLOT_BITS + WAYS.trailing_zeros())) as usize, Tags::of(mixed))
    }

    /// The way of set `index` whose slot has `hash` and `len` (whether or not the rings still hold its bytes).
    fn find(&self, index: usize, tag: u8, hash: u64, len: usize) -> Option<usize> {
        let mut candidates = self.tags.get(index)?.candidates(tag);
        while candidates != 0 {
            let way = Tags::way(candidates);
            let slot = &self.sets[index].0[way];
            if slot.hash == hash && slot.len as usize == len {
                return Some(way);
            }
            candidates &= candidates - 1;
        }
        None
    }

    fn get(&mut self, piece: &[u8], out: &mut Vec<Rank>) -> bool {
        let hash = Self::hash(piece);
        let (index, tag) = Self::set(hash);
        let Some(way) = self.find(index, tag, hash, piece.len()) else { return false };
        let slot = self.sets[index].0[way];
        if self.bytes.get(slot.start, piece.len()) != Some(piece) {
            return false;
        }
        self.get_tokens(slot.tokens_start, slot.tokens_len, out)
    }

    fn insert(&mut self, piece: &[u8], tokens: &[Rank]) {
        // Both checked first, so that neither ring takes in a run for a piece the other cannot keep.
        if !Ring::<u8, LONG_BYTES>::fits(piece.len()) || !Ring::<Rank, LONG_TOKENS>::fits(tokens.len()) {
            return;
        }
        let (Some(tokens_start), Some(start)) = (self.insert_tokens(tokens), self.bytes.push(piece)) else { return };
        if self.sets.is_empty() {
            self.sets = LargeTable::filled(LONG_SLOTS / WAYS, LongSet::default());
            self.tags = vec![Tags::default(); LONG_SLOTS / WAYS].into_boxed_slice();
        }
        let hash = Self::hash(piece);
        let (index, tag) = Self::set(hash);
        // A slot with the piece's hash and length is replaced: most likely the piece itself, whose bytes or tokens
        // were overwritten since.
        let way =
            self.find(index, tag, hash, piece.len()).unwrap_or_else(|| way_for_new(self.tags[index], &mut self.turn));
        let slot = LongSlot { hash, start, tokens_start, len: count(piece.len()), tokens_len: count(tokens.len()) };
        put(&mut self.sets[index].0, &mut self.tags[index], way, slot, tag);
    }

    /// Keeps `tokens` in the token ring: where they start, `None` when they are too many to keep.
    fn insert_tokens(&mut self, tokens: &[Rank]) -> Option<u64> {
        self.tokens.push(tokens)
    }

    /// Appends the tokens that [`insert_tokens`](Self::insert_tokens) kept at `start`; false when they were
    /// overwritten since.
    fn get_tokens(&self, start: u64, len: u32, out: &mut Vec<Rank>) -> bool {
        match self.tokens.get(start, len as usize) {
            Some(tokens) => {
                out.extend_from_slice(tokens);
                true
            }
            None => false,
        }
    }
}

/// A count of bytes or tokens of one piece, as kept in a slot (pieces of the rings are at most 1/16 of them).
fn count(len: usize) -> u32 {
    u32::try_from(len).expect("pieces kept in a ring are far below 4 GiB")
}

/// A bounded arena in which the newest values overwrite the oldest: each run of values pushed is named by its
/// position in everything ever pushed (a `u64`, which never wraps around), so a reader can tell a run that was
/// overwritten since from one that is still there, without the arena keeping track of who points into it.
struct Ring<T, const CAPACITY: usize> {
    values: Vec<T>,
    /// The position of the next value to be pushed.
    end: u64,
}

impl<T: Copy + Default, const CAPACITY: usize> Ring<T, CAPACITY> {
    /// Positions are taken modulo the capacity by a mask.
    const POWER_OF_TWO: () = assert!(CAPACITY.is_power_of_two());

    /// An empty ring; its memory is allocated as it fills, up to `CAPACITY` values.
    fn new() -> Self {
        let () = Self::POWER_OF_TWO;
        Self { values: Vec::new(), end: 0 }
    }

    /// Keeps `run`, overwriting the oldest values if need be: its position, `None` when it is longer than a
    /// sixteenth of the ring (one such run would push out much else).
    fn push(&mut self, run: &[T]) -> Option<u64> {
        if !Self::fits(run.len()) {
            return None;
        }
        let mut at = Self::index(self.end);
        if at + run.len() > CAPACITY {
            // A run never wraps around: the values after `at` are given up (they still hold what they held, but a
            // run there counts as overwritten from now on).
            self.end += (CAPACITY - at) as u64;
            at = 0;
        }
        if at == self.values.len() {
            if self.values.capacity() == 0 {
                // At its bound at once: it never copies itself while growing, and pages it never reaches stay
                // untouched.
                self.values.reserve_exact(CAPACITY);
            }
            self.values.extend_from_slice(run);
        } else {
            if self.values.len() < CAPACITY {
                // The first time round ended short of the capacity; writes can now land beyond it.
                self.values.resize(CAPACITY, T::default());
            }
            self.values[at..at + run.len()].copy_from_slice(run);
        }
        let start = self.end;
        self.end += run.len() as u64;
        Some(start)
    }

    /// Whether a run of `len` values is short enough to keep.
    fn fits(len: usize) -> bool {
        len <= CAPACITY / 16
    }

    /// The run of `len` values pushed at position `start`; `None` when it was overwritten since.
    #[inline]
    fn get(&self, start: u64, len: usize) -> Option<&[T]> {
        if start + (CAPACITY as u64) < self.end {
            return None;
        }
        let at = Self::index(start);
        self.values.get(at..at + len)
    }

    /// Where in `values` the value at position `at` is.
    #[allow(clippy::cast_possible_truncation)] // below CAPACITY
    fn index(at: u64) -> usize {
        (at & (CAPACITY as u64 - 1)) as usize
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn returns_what_was_inserted_and_only_for_the_same_bytes() {
        with_cache(new_owner(), |cache| {
            let cache = cache.expect("not in use");
            let mut out = vec![7];
            assert!(!cache.get(b"hello", &mut out));
            cache.insert(b"hello", &[1, 2]);
            assert!(cache.get(b"hello", &mut out));
            assert_eq!(out, [7, 1, 2]);
            assert!(!cache.get(b"hellp", &mut out));
            assert!(!cache.get(b"hell", &mut out));
            cache.insert(&[b'y'; 15], &[4, 5, 6, 7]);
            assert!(cache.get(&[b'y'; 15], &mut out));
            assert!(cache.get(b"hello", &mut out));
            assert_eq!(out, [7, 1, 2, 4, 5, 6, 7, 1, 2]);
            out.clear();
            cache.insert(b"many", &[1, 2, 3, 4, 5]);
            assert!(cache.get(b"many", &mut out), "more than MAX_TOKENS, in the ring");
            assert_eq!(out, [1, 2, 3, 4, 5]);
            assert!(!cache.get(b"manx", &mut out));
        });
    }

    #[test]
    fn a_cache_that_finds_too_little_is_asked_for_one_piece_in_eight_until_it_finds_enough() {
        with_cache(new_owner(), |cache| {
            let cache = cache.expect("not in use");
            let mut out = Vec::new();
            // Asked for what it has, with one miss in POOR_YIELD: it keeps being asked for every piece.
            cache.insert(b"hello", &[1, 2]);
            for n in 0..2 * WINDOW {
                assert!(cache.worth_a_lookup());
                let piece: &[u8] = if n % POOR_YIELD == 0 { b"other" } else { b"hello" };
                cache.get_counted(piece, &mut out);
            }
            // A window that finds one piece fewer than WINDOW / POOR_YIELD turns sampling on.
            for n in 0..WINDOW {
                assert!(cache.worth_a_lookup());
                let piece: &[u8] = if n < WINDOW / POOR_YIELD - 1 { b"hello" } else { b"missing" };
                cache.get_counted(piece, &mut out);
            }
            let asked = |cache: &mut PieceCache| (0..SAMPLE_EVERY).filter(|_| cache.worth_a_lookup()).count();
            for _ in 0..WINDOW {
                assert_eq!(asked(cache), 1, "one piece in SAMPLE_EVERY");
                cache.get_counted(b"missing", &mut out);
            }
            assert_eq!(asked(cache), 1, "still sampling after a window of misses");
            // A window of sampled lookups that finds exactly WINDOW / POOR_YIELD turns it off.
            for n in 1..WINDOW {
                cache.get_counted(if n <= WINDOW / POOR_YIELD { b"hello" } else { b"missing" }, &mut out);
                assert_eq!(asked(cache), 1);
            }
            cache.get_counted(b"missing", &mut out);
            assert_eq!(asked(cache), SAMPLE_EVERY as usize, "every piece once lookups pay again");
        });
    }

    #[test]
    fn the_hot_table_keeps_one_or_two_tokens_per_piece_across_growing_and_evicting() {
        with_cache(new_owner(), |cache| {
            let cache = cache.expect("not in use");
            let key = |n: u64| [(n + 1).wrapping_mul(0x0101_0001) & 0x00FF_FFFF_FFFF_FFFF | 5 << 56, 0];
            let rank = |n: u64| Rank::try_from(n).expect("small");
            cache.hot_put(key(0), &[7]);
            cache.hot_put(key(1), &[8, 9]);
            cache.hot_put(key(2), &[1, 2, 3]);
            assert_eq!(cache.hot_get(key(0)), Some([7, NO_RANK]));
            assert_eq!(cache.hot_get(key(1)), Some([8, 9]));
            assert_eq!(cache.hot_get(key(2)), None, "three tokens are not kept");
            assert_eq!(cache.hot_get([key(0)[0] ^ 1, 0]), None);
            // Up to the put that grows the first, small table: it keeps what the small one had.
            let mut n = 3;
            while cache.hot_puts_before_growing > 1 {
                cache.hot_put(key(n), &[rank(n)]);
                n += 1;
            }
            assert_eq!(cache.hot.len(), FIRST_HOT_SETS);
            let small: Vec<(HotKey, [Rank; 2])> = cache
                .hot
                .iter()
                .flat_map(|set| set.keys.into_iter().zip(set.tokens))
                .filter(|&(k, _)| k != [0, 0])
                .collect();
            assert!(small.len() > FIRST_HOT_SETS, "{} pieces", small.len());
            cache.hot_put(key(n), &[rank(n)]);
            assert_eq!(cache.hot.len(), HOT_SETS);
            for (key, tokens) in small {
                assert_eq!(cache.hot_get(key), Some(tokens));
            }
            assert_eq!(cache.hot_get(key(n)), Some([rank(n), NO_RANK]));
            // One more piece than a set has ways: one of the first is replaced, the others stay.
            let shift = cache.hot_shift;
            let same_set: Vec<u64> =
                (1 << 20..).filter(|&n| PieceCache::hot_set(key(n), shift) == 17).take(HOT_WAYS + 1).collect();
            for &n in &same_set {
                cache.hot_put(key(n), &[rank(n)]);
            }
            let found = same_set.iter().filter(|&&n| cache.hot_get(key(n)) == Some([rank(n), NO_RANK])).count();
            assert_eq!(found, HOT_WAYS);
        });
    }

    #[test]
    fn the_hot_table_is_skipped_for_seven_pieces_in_eight_while_it_finds_less_than_half() {
        with_cache(new_owner(), |cache| {
            let cache = cache.expect("not in use");
            let key = |n: u32| [u64::from(n) | 3 << 56, 0];
            cache.hot_put(key(0), &[1]);
            for n in 0..WINDOW {
                assert!(cache.hot_worth_it());
                cache.hot_get(key(if n < HOT_ENOUGH { 0 } else { n }));
            }
            assert!(cache.hot_in_use(), "exactly HOT_ENOUGH hits");
            for n in 0..WINDOW {
                assert!(cache.hot_worth_it());
                cache.hot_get(key(if n < HOT_ENOUGH - 1 { 0 } else { n }));
            }
            assert!(!cache.hot_in_use());
            let asked = (0..SAMPLE_EVERY).filter(|_| cache.hot_worth_it()).count();
            assert_eq!(asked, 1);
            for _ in 0..WINDOW {
                cache.hot_get(key(0));
            }
            assert!(cache.hot_in_use(), "a sampled window of hits");
        });
    }

    #[test]
    fn short_pieces_in_the_token_ring_miss_once_overwritten() {
        with_cache(new_owner(), |cache| {
            let cache = cache.expect("not in use");
            let mut out = Vec::new();
            // As after 32 GiB of tokens: an entry keeps both halves of the position.
            cache.long.tokens.end = 1 << 35;
            let many: Vec<Rank> = (100..108).collect();
            assert!(many.len() > MAX_TOKENS);
            cache.insert(b"short", &many);
            assert!(cache.get(b"short", &mut out));
            assert_eq!(out, many);
            // Go round the token ring with long pieces: the short piece's entry, which still points into it, must miss
            // rather than read what is there now.
            let per_piece = LONG_TOKENS / 64;
            for n in 0..=64 {
                cache.insert(format!("{n:0>40}").as_bytes(), &vec![7; per_piece]);
            }
            out.clear();
            assert!(!cache.get(b"short", &mut out), "overwritten");
            assert!(out.is_empty());
            cache.insert(b"short", &many[1..]);
            assert!(cache.get(b"short", &mut out));
            assert_eq!(out, many[1..]);
            let key = pack_up_to_15(b"short").expect("short");
            let set = &cache.sets[PieceCache::set(key, cache.sets.len()).0].0;
            assert_eq!(set.iter().filter(|entry| entry.key == key).count(), 1, "inserted again in place, not twice");
        });
    }

    /// One more piece than a set has ways, all falling into the set `set_of` gives the first of `pieces`.
    fn crowd_of_one_set(pieces: &[Vec<u8>], set_of: impl Fn(&[u8]) -> usize) -> Vec<&[u8]> {
        let target = set_of(&pieces[0]);
        let crowd: Vec<&[u8]> =
            pieces.iter().map(Vec::as_slice).filter(|piece| set_of(piece) == target).take(WAYS + 1).collect();
        assert_eq!(crowd.len(), WAYS + 1, "{} pieces crowd one set", pieces.len());
        crowd
    }

    /// Fills a set with all but the last of `crowd` (tokens 1, 2, ...), checks that it holds them, inserts the last
    /// (token 99), and checks that exactly one of the others made room for it.
    fn fill_and_overflow(cache: &mut PieceCache, crowd: &[&[u8]]) {
        let (newcomer, filling) = crowd.split_last().expect("not empty");
        let mut out = Vec::new();
        for (token, piece) in (1..).zip(filling) {
            cache.insert(piece, &[token]);
        }
        for piece in filling {
            assert!(cache.get(piece, &mut out), "a set takes as many pieces as it has ways before replacing one");
        }
        assert_eq!(out, (1..=count(WAYS)).collect::<Vec<_>>());
        cache.insert(newcomer, &[99]);
        out.clear();
        assert!(cache.get(newcomer, &mut out));
        assert_eq!(out, [99]);
        let mut kept = Vec::new();
        for (token, piece) in (1..).zip(filling) {
            out.clear();
            if cache.get(piece, &mut out) {
                assert_eq!(out, [token], "a piece kept keeps its tokens");
                kept.push(token);
            }
        }
        assert_eq!(kept.len(), WAYS - 1, "one piece made room: {kept:?}");
    }

    #[test]
    fn a_full_set_replaces_one_piece_and_growing_keeps_the_pieces() {
        with_cache(new_owner(), |cache| {
            let cache = cache.expect("not in use");
            for (family, sets) in [("p", FIRST_SETS), ("q", SLOTS / WAYS)] {
                assert_eq!(cache.sets.len(), sets);
                let pieces: Vec<Vec<u8>> =
                    (0u32..).map(|n| format!("{family}{n}").into_bytes()).take(400_000).collect();
                let crowd =
                    crowd_of_one_set(&pieces, |piece| PieceCache::set(pack_up_to_15(piece).expect("short"), sets).0);
                fill_and_overflow(cache, &crowd);
                // The next insert grows the table, which keeps what it held.
                let held: Vec<&[u8]> =
                    crowd.iter().copied().filter(|piece| cache.get(piece, &mut Vec::new())).collect();
                cache.inserts_before_growing = cache.inserts_before_growing.min(1);
                cache.insert(b"grow", &[4, 5]);
                let mut out = Vec::new();
                for piece in held.iter().chain([&&b"grow"[..]]) {
                    assert!(cache.get(piece, &mut out));
                }
                assert_eq!(out.len(), held.len() + 2, "a token for each piece held, two for the last");
            }
        });
    }

    #[test]
    fn tags_find_every_way_with_the_tag() {
        let mut tags = Tags(u64::from_le_bytes([5, 9, 5, 0, 200, 9, 1, 5]));
        let ways = |mut candidates: u64| {
            let mut found = Vec::new();
            while candidates != 0 {
                found.push(Tags::way(candidates));
                candidates &= candidates - 1;
            }
            found
        };
        // Candidates may include ways after a match (never before the first), which a compare of keys rules out.
        for (tag, expected) in [(5, vec![0, 2, 7]), (9, vec![1, 5]), (200, vec![4]), (1, vec![6]), (0, vec![3])] {
            let found = ways(tags.candidates(tag));
            assert!(expected.iter().all(|way| found.contains(way)), "tag {tag}: {found:?}");
            assert_eq!(found.first(), expected.first(), "tag {tag}");
        }
        assert!(ways(tags.candidates(77)).is_empty());
        assert_eq!(Tags::of(0), 1, "never the empty way's tag");
        let mut turn = 0;
        assert_eq!(way_for_new(tags, &mut turn), 3, "the empty way first");
        let mut values = [0u8; WAYS];
        put(&mut values, &mut tags, 3, 7, 42);
        assert_eq!(tags.0.to_le_bytes(), [5, 9, 5, 42, 200, 9, 1, 5]);
        assert_eq!(values, [0, 0, 0, 7, 0, 0, 0, 0]);
        let chosen: std::collections::BTreeSet<usize> = (0..WAYS).map(|_| way_for_new(tags, &mut turn)).collect();
        assert_eq!(chosen.len(), WAYS, "a full set's ways are each chosen in turn");
    }

    #[test]
    fn a_full_long_set_replaces_one_piece() {
        let pieces: Vec<Vec<u8>> = (0u32..).map(|n| format!("{n:0>40}").into_bytes()).take(1_000_000).collect();
        let crowd = crowd_of_one_set(&pieces, |piece| LongPieces::set(LongPieces::hash(piece)).0);
        with_cache(new_owner(), |cache| fill_and_overflow(cache.expect("not in use"), &crowd));
    }

    #[test]
    fn long_pieces_are_kept_until_newer_ones_overwrite_them() {
        with_cache(new_owner(), |cache| {
            let cache = cache.expect("not in use");
            let mut out = Vec::new();
            let long = |n: usize| format!("{n:0>40}").into_bytes();
            let rank = |n: usize| Rank::try_from(n).expect("small");
            assert!(!cache.get(&long(1), &mut out), "nothing kept yet (no slots either)");
            cache.insert(&long(1), &[10, 11, 12, 13, 14, 15]);
            assert!(cache.get(&long(1), &mut out));
            assert_eq!(out, [10, 11, 12, 13, 14, 15]);
            assert!(!cache.get(&long(2), &mut out), "same length, other bytes");
            assert!(!cache.get(&long(1)[1..], &mut out), "a part of a cached piece");
            // Go once round the byte ring: the newest pieces overwrite the oldest, and the rest stay.
            let last = LONG_BYTES / 40 + 1;
            for n in 2..=last {
                cache.insert(&long(n), &[rank(n)]);
            }
            out.clear();
            assert!(!cache.get(&long(1), &mut out), "overwritten");
            for n in [last / 2, last - 1, last] {
                assert!(cache.get(&long(n), &mut out), "{n} is among the newest");
            }
            assert_eq!(out, [rank(last / 2), rank(last - 1), rank(last)]);
            let huge = vec![b'x'; LONG_BYTES];
            let ends = |cache: &PieceCache| (cache.long.bytes.end, cache.long.tokens.end);
            let before = ends(cache);
            cache.insert(&huge, &[1]);
            assert!(!cache.get(&huge, &mut out), "a piece too long to keep");
            cache.insert(&long(0), &vec![1; LONG_TOKENS / 16 + 1]);
            assert!(!cache.get(&long(0), &mut out), "tokens too many to keep");
            assert_eq!(ends(cache), before, "neither ring took in a run for them");
        });
    }

    #[test]
    fn a_ring_tells_runs_overwritten_since_from_runs_still_there() {
        let mut ring = Ring::<u32, 16>::new();
        assert_eq!(ring.push(&[1, 2, 3]), None, "longer than a sixteenth");
        let mut ring = Ring::<u32, 64>::new();
        let runs: Vec<(u64, [u32; 4])> = (0..40)
            .map(|n| {
                let run = [n, n + 1, n + 2, n + 3];
                (ring.push(&run).expect("short enough"), run)
            })
            .collect();
        // 40 runs of 4 into 64 values: the last 16 runs are there, the others were overwritten.
        for (n, (start, run)) in runs.iter().enumerate() {
            assert_eq!(ring.get(*start, 4), (n >= 24).then_some(&run[..]), "run {n}");
        }
        // A run that does not fit before the end starts the next round: the values after it are given up too.
        let mut ring = Ring::<u32, 128>::new();
        let first = ring.push(&[1, 2, 3, 4, 5]).expect("short enough");
        // 25 runs of 5 (125 values): the next one does not fit into the last value.
        let runs: Vec<u64> = (0..24).map(|_| ring.push(&[7, 7, 7, 7, 7]).expect("short enough")).collect();
        assert_eq!(ring.get(first, 5), Some(&[1, 2, 3, 4, 5][..]));
        let wrapped = ring.push(&[9, 9, 9, 9, 9]).expect("short enough");
        assert_eq!(ring.get(wrapped, 5), Some(&[9, 9, 9, 9, 9][..]));
        assert_eq!(ring.get(first, 5), None, "overwritten");
        assert!(runs.iter().all(|&start| ring.get(start, 5).is_some()));
    }

    #[test]
    fn a_thread_made_for_a_batch_takes_over_the_caches_of_one_that_finished() {
        fn cached(owner: u64) -> bool {
            with_cache(owner, |cache| cache.expect("not in use").get(b"piece", &mut Vec::new()))
        }
        fn insert(owner: u64) -> bool {
            with_cache(owner, |cache| cache.expect("not in use").insert(b"piece", &[1]));
            true
        }
        let depot = Depot::default();
        let owner = new_owner();
        let on_a_new_thread = |work: fn(u64) -> bool| {
            std::thread::scope(|scope| scope.spawn(|| lend_from(&depot, 2, || work(owner))).join().expect("no panic"))
        };
        assert!(!on_a_new_thread(cached));
        on_a_new_thread(insert);
        assert_eq!(depot.lock().expect("not poisoned").len(), 1, "the second thread took the first one's set over");
        assert!(on_a_new_thread(cached), "lent to the next thread");
        // Threads at work together each leave a set; at most `limit` are kept.
        let all_started = std::sync::Barrier::new(3);
        std::thread::scope(|scope| {
            for _ in 0..3 {
                scope.spawn(|| {
                    lend_from(&depot, 2, || {
                        all_started.wait();
                        insert(owner)
                    })
                });
            }
        });
        assert_eq!(depot.lock().expect("not poisoned").len(), 2);
        // A depot that is locked (say, by a thread that a fork left behind) is not waited on.
        let held = depot.lock().expect("not poisoned");
        assert!(!std::thread::scope(|scope| {
            scope.spawn(|| lend_from(&depot, 2, || cached(owner))).join().expect("no panic")
        }));
        assert_eq!(held.len(), 2);
    }

    #[test]
    fn another_owner_starts_empty_and_nested_use_gets_none() {
        let (first, second) = (new_owner(), new_owner());
        with_cache(first, |cache| cache.expect("not in use").insert(b"piece", &[1]));
        with_cache(second, |cache| {
            assert!(!cache.expect("not in use").get(b"piece", &mut Vec::new()));
            with_cache(second, |nested| assert!(nested.is_none()));
        });
    }

    #[test]
    fn a_thread_keeps_the_caches_of_the_two_encoders_used_last() {
        let [first, second, third] = [new_owner(), new_owner(), new_owner()];
        let cached = |owner: u64| {
            let mut out = Vec::new();
            with_cache(owner, |cache| cache.expect("not in use").get(b"piece", &mut out));
            out
        };
        with_cache(first, |cache| cache.expect("not in use").insert(b"piece", &[1]));
        with_cache(second, |cache| cache.expect("not in use").insert(b"piece", &[2]));
        assert_eq!(cached(first), [1]);
        // first was used after second, so the third encoder's cache replaces second's.
        with_cache(third, |cache| cache.expect("not in use").insert(b"piece", &[3]));
        assert_eq!(cached(first), [1]);
        assert_eq!(cached(third), [3]);
        assert_eq!(cached(second), Vec::<Rank>::new());
    }
}
