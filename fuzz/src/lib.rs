//! Shared pieces of the fuzz targets: independent models of what the
//! server accepts (to check pgward's outputs against) and a fixed policy
//! and catalog for the targets that need a session's context.

pub mod env;
pub mod server_options;
pub mod valid;

/// Splits `data` into pieces at the given cut sizes (cycled), for targets
/// that feed a stream in arbitrary reads. Sizes of 0 are taken as 1.
pub fn pieces<'a>(data: &'a [u8], cuts: &[usize]) -> Vec<&'a [u8]> {
    if cuts.is_empty() {
        return vec![data];
    }
    let mut out = Vec::new();
    let mut at = 0;
    let mut k = 0;
    while at < data.len() {
        let n = cuts[k % cuts.len()].max(1);
        k += 1;
        let end = (at + n).min(data.len());
        out.push(&data[at..end]);
        at = end;
    }
    out
}

/// A reader for the targets' input formats: simple enough that seeds can
/// be written by `fuzz/seeds.py` from the test suites' own messages, SQL,
/// values and files. Running out of input yields zeros and empty slices.
pub struct Src<'a> {
    d: &'a [u8],
}

impl<'a> Src<'a> {
    pub fn new(d: &'a [u8]) -> Self {
        Src { d }
    }

    pub fn is_empty(&self) -> bool {
        self.d.is_empty()
    }

    pub fn u8(&mut self) -> u8 {
        match self.d.split_first() {
            Some((&b, rest)) => {
                self.d = rest;
                b
            }
            None => 0,
        }
    }

    /// Big-endian.
    pub fn u16(&mut self) -> u16 {
        u16::from(self.u8()) << 8 | u16::from(self.u8())
    }

    pub fn bool(&mut self) -> bool {
        self.u8() & 1 == 1
    }

    /// One of `from`, chosen by the next byte.
    pub fn pick<T: Copy>(&mut self, from: &[T]) -> T {
        from[usize::from(self.u8()) % from.len()]
    }

    /// Up to `n` bytes.
    pub fn bytes(&mut self, n: usize) -> &'a [u8] {
        let (a, b) = self.d.split_at(n.min(self.d.len()));
        self.d = b;
        a
    }

    /// A 16-bit length, then that many bytes.
    pub fn chunk(&mut self) -> &'a [u8] {
        let n = usize::from(self.u16());
        self.bytes(n)
    }

    /// Bytes up to the next NUL (consumed) or the end.
    pub fn field(&mut self) -> &'a [u8] {
        match self.d.iter().position(|&b| b == 0) {
            Some(n) => {
                let f = &self.d[..n];
                self.d = &self.d[n + 1..];
                f
            }
            None => self.rest(),
        }
    }

    /// A NUL-terminated field as text (invalid UTF-8 replaced).
    pub fn text(&mut self) -> String {
        String::from_utf8_lossy(self.field()).into_owned()
    }

    pub fn rest(&mut self) -> &'a [u8] {
        std::mem::take(&mut self.d)
    }
}

/// A mask function chosen by the input: selector byte, then its parameters.
pub fn mask_fn(s: &mut Src<'_>) -> pgward::mask::MaskFn {
    use pgward::mask::{DateUnit, MaskFn};
    match s.u8() % 9 {
        0 => MaskFn::Null,
        1 => MaskFn::Redact,
        2 => MaskFn::Fixed(s.text()),
        3 => MaskFn::Partial {
            first: usize::from(s.u8() % 21),
            last: usize::from(s.u8() % 21),
        },
        4 => MaskFn::Email,
        5 => MaskFn::Hash {
            key: std::sync::Arc::from(s.field()),
        },
        6 => MaskFn::Round {
            digits: i32::from(s.u8() % 81) - 40,
        },
        7 => MaskFn::Bucket { width: s.text() },
        _ => MaskFn::Truncate(s.pick(&[
            DateUnit::Year,
            DateUnit::Month,
            DateUnit::Day,
            DateUnit::Hour,
        ])),
    }
}

/// A type OID chosen by the input: mostly ones masking knows.
pub fn type_oid(s: &mut Src<'_>) -> u32 {
    match s.u8() % 8 {
        0..=3 => s.pick(&valid::SCALARS),
        4..=6 => s.pick(&valid::ARRAYS),
        _ => u32::from(s.u16()),
    }
}

/// Lines of a text as YAML counts them (LF, CRLF and a lone CR each end
/// one), plus one for a position just past the end.
pub fn yaml_lines(text: &str) -> u64 {
    let b = text.as_bytes();
    let breaks = b
        .iter()
        .enumerate()
        .filter(|&(i, &c)| c == b'\n' || (c == b'\r' && b.get(i + 1) != Some(&b'\n')))
        .count();
    breaks as u64 + 1
}
