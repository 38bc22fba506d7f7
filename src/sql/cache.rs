//! A bounded, concurrent cache of analyses, keyed by the exact SQL text or,
//! for statements whose analysis read no constant's value, by their shape:
//! the token stream from PostgreSQL's own scanner with the constants left
//! out (`lexkey`), so `... WHERE aid = 1` and `... WHERE aid = 2` are
//! parsed once.

// foldhash, seeded per process: every statement's text is hashed here once
// or twice, and SipHash cost several hundred instructions a lookup. The
// keys are client text, so the seed matters; a collision costs a compare.
use foldhash::fast::RandomState;
use std::hash::BuildHasher;
use std::sync::atomic::{AtomicBool, AtomicU64, AtomicUsize, Ordering};
use std::sync::Arc;

use dashmap::DashMap;

use super::classify::{analyze_with, Analysis, ParseFailure, ParseOptions};

/// `Entry::options` of entries keyed by shape.
const SHAPE: u8 = 0x80;

/// Statements whose analysis may serve every text of their shape: the
/// analyzer read no constant's value (set_config names, sequence names,
/// `'t'::regclass`, SQL passed as text) and they are plain queries and DML,
/// where constants are values, never names or options.
fn shareable(a: &Result<Analysis, ParseFailure>) -> bool {
    a.as_ref().is_ok_and(|a| {
        a.statements.iter().all(|st| {
            matches!(
                st.kind.as_str(),
                "SelectStmt" | "InsertStmt" | "UpdateStmt" | "DeleteStmt"
            )
        })
    })
}

/// The cached outcome of analysing one SQL text.
pub type CachedAnalysis = Arc<Result<Analysis, ParseFailure>>;

struct Entry {
    /// The exact text, or the shape key.
    sql: Arc<[u8]>,
    /// The parse options' bits, or [`SHAPE`].
    options: u8,
    result: CachedAnalysis,
    /// The text was scanned and holds no constants: it is its own
    /// literal-free form, which an exact hit can hand back unscanned.
    plain: Plain,
    /// Where the exact text's comments are (for the stamp), when its
    /// string literals read as the stamp's scanner reads them.
    comments: Option<crate::attribution::Comments>,
    /// Set on every hit, cleared by an eviction sweep (second chance).
    referenced: AtomicBool,
}

/// What a hit copies out of its entry.
struct Found {
    result: CachedAnalysis,
    plain: Plain,
    comments: Option<crate::attribution::Comments>,
}

/// A statement's analysis and what the lookup learnt of its text on the way.
pub struct Analyzed {
    pub analysis: CachedAnalysis,
    /// The text with its constants replaced by `$n` (what the audit trail
    /// records), when the lookup knows it.
    pub normalized: Option<String>,
    /// Where the text's comments are, when an exact-text entry kept them
    /// or the lookup's scan found them.
    pub comments: Option<crate::attribution::Comments>,
}

/// Whether an exact-text entry's text is known to be constant-free.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
enum Plain {
    /// Scanned: no constants.
    Yes,
    /// Holds constants, was not scanned, or is a shape key.
    Unknown,
}

/// Bounded concurrent cache of [`Analysis`] results, keyed by the exact SQL
/// text (and the lexical [`ParseOptions`]).
///
/// Keys are a keyed (per-process random) hash of the text; every hit is
/// confirmed by comparing the full text, so a hash collision can never return
/// another statement's analysis. The number of entries never exceeds the
/// capacity: when full, a sweep drops entries not used since the previous
/// sweep (CLOCK / second chance) and, if that frees too little, arbitrary
/// entries until a quarter of the capacity is free. Texts longer than the
/// per-entry limit are analysed but not cached.
pub struct AnalysisCache {
    map: DashMap<u64, Vec<Entry>, RandomState>,
    hasher: RandomState,
    capacity: usize,
    max_sql_bytes: usize,
    len: AtomicUsize,
    hits: AtomicU64,
    misses: AtomicU64,
    evicting: AtomicBool,
}

impl AnalysisCache {
    /// Default number of cached statements.
    pub const DEFAULT_CAPACITY: usize = 10_000;
    /// Default limit on the length of a cached SQL text.
    pub const DEFAULT_MAX_SQL_BYTES: usize = 64 * 1024;

    /// A cache holding at most `capacity` statements of up to
    /// [`Self::DEFAULT_MAX_SQL_BYTES`] each.
    pub fn new(capacity: usize) -> Self {
        Self::with_limits(capacity, Self::DEFAULT_MAX_SQL_BYTES)
    }

    /// A cache holding at most `capacity` statements, caching only texts of
    /// at most `max_sql_bytes` bytes.
    pub fn with_limits(capacity: usize, max_sql_bytes: usize) -> Self {
        AnalysisCache {
            map: DashMap::with_hasher(RandomState::default()),
            hasher: RandomState::default(),
            capacity,
            max_sql_bytes,
            len: AtomicUsize::new(0),
            hits: AtomicU64::new(0),
            misses: AtomicU64::new(0),
            evicting: AtomicBool::new(false),
        }
    }

    /// The analysis of `sql` (with `standard_conforming_strings = on`), from
    /// the cache or freshly computed.
    pub fn get_or_analyze(&self, sql: &str) -> CachedAnalysis {
        self.get_or_analyze_with(sql, ParseOptions::default())
    }

    /// The analysis of `sql` under `options`, from the cache or freshly
    /// computed.
    pub fn get_or_analyze_with(&self, sql: &str, options: ParseOptions) -> CachedAnalysis {
        self.get_or_analyze_normalized(sql, options).analysis
    }

    /// [`AnalysisCache::get_or_analyze_with`], and the text with its
    /// constants replaced by `$n` when the lookup scanned it for its shape
    /// (what the audit trail records, so it is not scanned twice).
    pub fn get_or_analyze_normalized(&self, sql: &str, options: ParseOptions) -> Analyzed {
        let bits = options.bits();
        if let Some(hit) = self.lookup(bits, sql.as_bytes()) {
            // A constant-free text is its own literal-free form: a copy
            // costs far less than scanning it again for the audit trail.
            return Analyzed {
                analysis: hit.result,
                normalized: (hit.plain == Plain::Yes).then(|| sql.to_owned()),
                comments: hit.comments,
            };
        }
        // The scanner reads literals as standard_conforming_strings = on.
        let lexed = (options.standard_conforming_strings && sql.len() <= self.max_sql_bytes)
            .then(|| super::lexkey::lex_key(sql))
            .flatten();
        let (shape, normalized, plain, comments) = match lexed {
            Some(k) if k.constants > 0 => {
                (Some(k.key), Some(k.normalized), Plain::Unknown, k.comments)
            }
            Some(k) => (None, Some(k.normalized), Plain::Yes, k.comments),
            None => (None, None, Plain::Unknown, None),
        };
        if let Some(hit) = shape.as_ref().and_then(|k| self.lookup(SHAPE, k)) {
            return Analyzed {
                analysis: hit.result,
                normalized,
                comments,
            };
        }
        self.misses.fetch_add(1, Ordering::Relaxed);
        let (result, literal_read) = super::names::tracking_literals(|| analyze_with(sql, options));
        let result = Arc::new(result);
        if sql.len() <= self.max_sql_bytes {
            match shape {
                Some(k) if !literal_read && shareable(&result) => self.insert(
                    self.hasher.hash_one((SHAPE, &k[..])),
                    &k,
                    SHAPE,
                    &result,
                    (Plain::Unknown, None),
                ),
                _ => {
                    // Found once per text, for every later exact hit.
                    let kept = comments.clone().or_else(|| {
                        options
                            .standard_conforming_strings
                            .then(|| crate::attribution::comments(sql))
                            .flatten()
                    });
                    self.insert(
                        self.hasher.hash_one((bits, sql.as_bytes())),
                        sql.as_bytes(),
                        bits,
                        &result,
                        (plain, kept),
                    )
                }
            }
        }
        Analyzed {
            analysis: result,
            normalized,
            comments,
        }
    }

    /// What the entry for `key_bytes` holds, which is marked as used.
    fn lookup(&self, bits: u8, key_bytes: &[u8]) -> Option<Found> {
        let key = self.hasher.hash_one((bits, key_bytes));
        let bucket = self.map.get(&key)?;
        let entry = bucket
            .iter()
            .find(|e| e.options == bits && *e.sql == *key_bytes)?;
        entry.referenced.store(true, Ordering::Relaxed);
        self.hits.fetch_add(1, Ordering::Relaxed);
        Some(Found {
            result: Arc::clone(&entry.result),
            plain: entry.plain,
            comments: entry.comments.clone(),
        })
    }

    fn insert(
        &self,
        key: u64,
        sql: &[u8],
        bits: u8,
        result: &CachedAnalysis,
        (plain, comments): (Plain, Option<crate::attribution::Comments>),
    ) {
        if self.capacity == 0 {
            return;
        }
        if self.len.load(Ordering::Relaxed) >= self.capacity {
            self.evict();
        }
        // Reserve a slot first so the bound holds under concurrency.
        let reserved = self
            .len
            .fetch_update(Ordering::AcqRel, Ordering::Relaxed, |n| {
                (n < self.capacity).then_some(n + 1)
            })
            .is_ok();
        if !reserved {
            return;
        }
        let mut bucket = self.map.entry(key).or_default();
        if bucket.iter().any(|e| e.options == bits && *e.sql == *sql) {
            drop(bucket);
            self.len.fetch_sub(1, Ordering::AcqRel);
            return;
        }
        bucket.push(Entry {
            sql: Arc::from(sql),
            options: bits,
            result: Arc::clone(result),
            plain,
            comments,
            referenced: AtomicBool::new(false),
        });
    }

    fn evict(&self) {
        if self.evicting.swap(true, Ordering::Acquire) {
            return; // another thread is sweeping
        }
        let target = self.capacity - self.capacity / 4;
        let mut removed = 0usize;
        self.map.retain(|_, bucket| {
            bucket.retain(|e| {
                let keep = e.referenced.swap(false, Ordering::Relaxed);
                if !keep {
                    removed += 1;
                }
                keep
            });
            !bucket.is_empty()
        });
        self.len.fetch_sub(removed, Ordering::AcqRel);

        let len = self.len.load(Ordering::Relaxed);
        if len > target {
            let mut excess = len - target;
            let mut removed = 0usize;
            self.map.retain(|_, bucket| {
                while excess > 0 && bucket.pop().is_some() {
                    excess -= 1;
                    removed += 1;
                }
                !bucket.is_empty()
            });
            self.len.fetch_sub(removed, Ordering::AcqRel);
        }
        self.evicting.store(false, Ordering::Release);
    }

    /// Number of cached statements.
    pub fn len(&self) -> usize {
        self.len.load(Ordering::Relaxed)
    }

    /// True when nothing is cached.
    pub fn is_empty(&self) -> bool {
        self.len() == 0
    }

    /// Maximum number of cached statements.
    pub fn capacity(&self) -> usize {
        self.capacity
    }

    /// Lookups answered from the cache.
    pub fn hits(&self) -> u64 {
        self.hits.load(Ordering::Relaxed)
    }

    /// Lookups that had to analyse.
    pub fn misses(&self) -> u64 {
        self.misses.load(Ordering::Relaxed)
    }

    /// Drops every entry (counters are kept).
    pub fn clear(&self) {
        let mut removed = 0usize;
        self.map.retain(|_, bucket| {
            removed += bucket.len();
            false
        });
        self.len.fetch_sub(removed, Ordering::AcqRel);
    }
}

impl Default for AnalysisCache {
    fn default() -> Self {
        Self::new(Self::DEFAULT_CAPACITY)
    }
}

impl std::fmt::Debug for AnalysisCache {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("AnalysisCache")
            .field("len", &self.len())
            .field("capacity", &self.capacity)
            .field("hits", &self.hits())
            .field("misses", &self.misses())
            .finish()
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::sql::Effect;

    #[test]
    fn counts_hits_and_misses() {
        let cache = AnalysisCache::new(100);
        let a = cache.get_or_analyze("SELECT now()");
        let b = cache.get_or_analyze("SELECT now()");
        assert!(Arc::ptr_eq(&a, &b));
        assert_eq!((cache.hits(), cache.misses(), cache.len()), (1, 1, 1));
        // Without constants the key is the text: whitespace differs.
        cache.get_or_analyze("SELECT  now()");
        assert_eq!((cache.hits(), cache.misses(), cache.len()), (1, 2, 2));
        assert!(!cache.is_empty());
        cache.clear();
        assert!(cache.is_empty());
        assert_eq!(cache.capacity(), 100);
    }

    #[test]
    fn the_normalized_text_is_the_texts_own_on_a_shared_analysis() {
        let cache = AnalysisCache::new(100);
        let opts = ParseOptions::default();
        let texts = [
            "SELECT abalance FROM t WHERE aid = 1",
            "SELECT   abalance FROM t /* c */ WHERE aid = 2",
            "SELECT abalance\nFROM t WHERE aid = 42",
        ];
        for sql in texts {
            let normalized = cache.get_or_analyze_normalized(sql, opts).normalized;
            let expected = crate::sql::lexkey::lex_key(sql).map(|k| k.normalized);
            assert!(expected.is_some());
            assert_eq!(normalized, expected, "{sql}");
        }
        assert_eq!(cache.misses(), 1, "one shape, one analysis");
        // An exact repeat of a text without constants is found by its text,
        // unscanned: it is its own normalized text, comments and all.
        for sql in [
            "SELECT now()",
            "SELECT now() /* c */ -- d",
            "SELECT $1::int",
        ] {
            let first = cache.get_or_analyze_normalized(sql, opts).normalized;
            let again = cache.get_or_analyze_normalized(sql, opts).normalized;
            assert_eq!(first.as_deref(), Some(sql));
            assert_eq!(again, first, "{sql}");
        }
        // Where the comments are comes with the analysis: from the scan
        // on a miss and on a shape hit (the text's own, not the entry's:
        // a shape entry serves other texts), from the exact entry on an
        // exact hit.
        let with_comment = "SELECT now() /*a='b'*/";
        let shaped = "SELECT abalance FROM t WHERE aid = 7 /*traceparent='x'*/";
        for sql in [with_comment, with_comment, texts[0], texts[1], shaped] {
            let found = cache.get_or_analyze_normalized(sql, opts).comments;
            assert!(found.is_some(), "{sql}");
            assert_eq!(found, crate::attribution::comments(sql), "{sql}");
        }
        // A text that keeps an exact entry although it has constants (its
        // analysis read one) is scanned again: nothing handed back unscanned.
        let read = "SELECT nextval('s')";
        let first = cache.get_or_analyze_normalized(read, opts).normalized;
        assert_eq!(first.as_deref(), Some("SELECT nextval($1)"));
        let again = cache.get_or_analyze_normalized(read, opts).normalized;
        assert_eq!(again, None, "not known to be constant-free");
        // Literals read with standard_conforming_strings off are not
        // scanned (the scanner reads them as on).
        let off = ParseOptions {
            standard_conforming_strings: false,
        };
        assert_eq!(
            cache.get_or_analyze_normalized("SELECT 7", off).normalized,
            None
        );
    }

    /// A shared analysis must equal a fresh one in every field (nothing
    /// in it may depend on the constants' text, lengths included).
    fn comparable(a: &CachedAnalysis) -> Result<Analysis, ParseFailure> {
        a.as_ref().clone()
    }

    #[test]
    fn statements_differing_in_constants_share_one_analysis() {
        let cache = AnalysisCache::new(100);
        let first = cache.get_or_analyze("SELECT abalance FROM pgbench_accounts WHERE aid = 1;");
        for sql in [
            "SELECT abalance FROM pgbench_accounts WHERE aid = 987654;",
            "SELECT abalance FROM pgbench_accounts WHERE aid = 5;",
        ] {
            let cached = cache.get_or_analyze(sql);
            assert!(Arc::ptr_eq(&first, &cached), "{sql}");
            assert_eq!(
                comparable(&cached),
                comparable(&Arc::new(analyze_with(sql, ParseOptions::default())))
            );
        }
        assert_eq!((cache.hits(), cache.misses()), (2, 1));
        // Updates with different values too.
        let u1 = cache
            .get_or_analyze("UPDATE pgbench_accounts SET abalance = abalance + 12 WHERE aid = 3;");
        let u2 = cache.get_or_analyze(
            "UPDATE pgbench_accounts SET abalance = abalance + 4999 WHERE aid = 77;",
        );
        assert!(Arc::ptr_eq(&u1, &u2));
    }

    #[test]
    fn analyses_that_read_a_constant_are_not_shared() {
        let cache = AnalysisCache::new(100);
        // Each of these reads a constant: names, settings, SQL as text, or a
        // utility statement's value.
        for (a, b) in [
            ("SELECT nextval('a_seq')", "SELECT nextval('b_seq')"),
            (
                "SELECT set_config('search_path', 'a', false)",
                "SELECT set_config('default_transaction_read_only', 'off', false)",
            ),
            (
                "SELECT currval('a'::regclass)",
                "SELECT currval('pg_class'::regclass)",
            ),
            (
                "SELECT query_to_xml('select 1', true, true, '')",
                "SELECT query_to_xml('delete from t', true, true, '')",
            ),
            ("SET search_path = a", "SET search_path = b"),
            ("SET statement_timeout = 1", "SET statement_timeout = 2"),
            (
                "COPY t TO STDOUT (FORMAT 'csv')",
                "COPY t TO STDOUT (FORMAT 'binary')",
            ),
        ] {
            let x = cache.get_or_analyze(a);
            let y = cache.get_or_analyze(b);
            assert!(!Arc::ptr_eq(&x, &y), "{a} / {b}");
            assert_eq!(
                comparable(&y),
                comparable(&Arc::new(analyze_with(b, ParseOptions::default()))),
                "{b}"
            );
        }
        // Under the other reading of backslashes the scanner is not asked.
        let off = ParseOptions {
            standard_conforming_strings: false,
        };
        let x = cache.get_or_analyze_with("SELECT * FROM t WHERE v = 'a'", off);
        let y = cache.get_or_analyze_with("SELECT * FROM t WHERE v = 'b'", off);
        assert!(!Arc::ptr_eq(&x, &y));
    }

    #[test]
    fn caches_parse_failures() {
        let cache = AnalysisCache::new(10);
        let a = cache.get_or_analyze("SELEC 1");
        assert!(a.is_err());
        let b = cache.get_or_analyze("SELEC 1");
        assert!(Arc::ptr_eq(&a, &b));
        assert_eq!(cache.hits(), 1);
    }

    #[test]
    fn options_are_part_of_the_key() {
        let cache = AnalysisCache::new(10);
        let sql = r"SELECT 'a\' ; DROP TABLE t; --'";
        let on = cache.get_or_analyze(sql);
        let off = cache.get_or_analyze_with(
            sql,
            ParseOptions {
                standard_conforming_strings: false,
            },
        );
        let on = on.as_ref().as_ref().expect("parses");
        let off = off.as_ref().as_ref().expect("parses");
        assert_eq!(on.statements.len(), 2);
        assert_eq!(off.statements.len(), 1);
        assert_eq!(cache.len(), 2);
        assert_eq!(cache.misses(), 2);
    }

    #[test]
    fn stays_bounded_under_many_distinct_statements() {
        let cache = AnalysisCache::new(1_000);
        for i in 0..100_000u32 {
            cache.get_or_analyze(&format!("SELECT c{i} FROM t"));
            assert!(cache.len() <= 1_000);
        }
        assert!(cache.len() <= 1_000);
        let entries: usize = cache.map.iter().map(|b| b.len()).sum();
        assert_eq!(entries, cache.len());
        assert_eq!(cache.misses(), 100_000);
    }

    #[test]
    fn hot_entries_survive_eviction() {
        let cache = AnalysisCache::new(100);
        let hot = "SELECT * FROM hot WHERE id = $1";
        cache.get_or_analyze(hot);
        for i in 0..2_000u32 {
            cache.get_or_analyze(hot);
            cache.get_or_analyze(&format!("SELECT {i}"));
        }
        // The hot statement is referenced between every two sweeps.
        let misses_before = cache.misses();
        cache.get_or_analyze(hot);
        assert_eq!(cache.misses(), misses_before);
    }

    #[test]
    fn oversized_statements_are_not_cached() {
        let cache = AnalysisCache::with_limits(10, 16);
        let r = cache.get_or_analyze("SELECT 1234567890, 1234567890");
        assert!(r.is_ok());
        assert_eq!(cache.len(), 0);
    }

    #[test]
    fn zero_capacity_never_stores() {
        let cache = AnalysisCache::new(0);
        cache.get_or_analyze("SELECT 1");
        assert_eq!(cache.len(), 0);
    }

    #[test]
    fn concurrent_use_keeps_the_bound() {
        let cache = Arc::new(AnalysisCache::new(64));
        let threads: Vec<_> = (0..4)
            .map(|t| {
                let cache = Arc::clone(&cache);
                std::thread::spawn(move || {
                    for i in 0..2_000u32 {
                        let r = cache.get_or_analyze(&format!("SELECT {} FROM t{t}", i % 200));
                        let a = r.as_ref().as_ref().expect("parses");
                        assert!(a.statements[0].effects.contains(&Effect::Read));
                        assert!(cache.len() <= 64);
                    }
                })
            })
            .collect();
        for t in threads {
            t.join().expect("thread");
        }
        assert!(cache.len() <= 64);
        assert_eq!(cache.hits() + cache.misses(), 8_000);
    }
}
