//! An independent check that a value is one PostgreSQL's input (text) or
//! receive (binary) function accepts, for the types masking supports. It
//! is written from the server's rules, not from pgward's codecs, so a
//! masked value that a driver or the server would refuse is caught.

const USECS_PER_DAY: i64 = 86_400_000_000;
/// Days from 1970-01-01 to 2000-01-01 (PostgreSQL's epoch).
const PG_EPOCH_DAYS: i64 = 10_957;

/// Element/scalar type names by OID, and array OIDs to their element.
pub fn element_of(oid: u32) -> Option<u32> {
    Some(match oid {
        1000 => 16,
        1001 => 17,
        1002 => 18,
        1003 => 19,
        1016 => 20,
        1005 => 21,
        1007 => 23,
        1009 => 25,
        1028 => 26,
        199 => 114,
        143 => 142,
        1021 => 700,
        1022 => 701,
        1014 => 1042,
        1015 => 1043,
        1182 => 1082,
        1183 => 1083,
        1115 => 1114,
        1185 => 1184,
        1187 => 1186,
        1231 => 1700,
        2951 => 2950,
        3807 => 3802,
        _ => return None,
    })
}

pub const SCALARS: [u32; 23] = [
    16, 17, 18, 19, 20, 21, 23, 25, 26, 114, 142, 700, 701, 1042, 1043, 1082, 1083, 1114, 1184,
    1186, 1700, 2950, 3802,
];

pub const ARRAYS: [u32; 23] = [
    1000, 1001, 1002, 1003, 1016, 1005, 1007, 1009, 1028, 199, 143, 1021, 1022, 1014, 1015, 1182,
    1183, 1115, 1185, 1187, 1231, 2951, 3807,
];

/// Why a value is not valid, for the assertion message.
pub type Verdict = Result<(), String>;

fn bad(what: impl Into<String>) -> Verdict {
    Err(what.into())
}

fn check(ok: bool, what: &str) -> Verdict {
    if ok {
        Ok(())
    } else {
        bad(what)
    }
}

/// Checks one non-NULL value of type `oid` in the given format.
pub fn value(oid: u32, binary: bool, v: &[u8]) -> Verdict {
    if let Some(elem) = element_of(oid) {
        return if binary {
            binary_array(elem, v)
        } else {
            text_array(elem, v)
        };
    }
    if binary {
        binary_scalar(oid, v)
    } else {
        text_scalar(oid, v)
    }
}

fn utf8_text(v: &[u8]) -> Verdict {
    let s = std::str::from_utf8(v).map_err(|_| "not UTF-8".to_string())?;
    check(!s.contains('\0'), "contains NUL")
}

fn text_scalar(oid: u32, v: &[u8]) -> Verdict {
    let s = std::str::from_utf8(v).map_err(|_| "not UTF-8".to_string())?;
    match oid {
        16 => check(s == "t" || s == "f", "bool"),
        17 => {
            let hex = s.strip_prefix("\\x").ok_or("bytea without \\x")?;
            check(
                hex.len() % 2 == 0 && hex.bytes().all(|c| c.is_ascii_hexdigit()),
                "bytea hex",
            )
        }
        18 => check(
            match v {
                [] => true,
                [c] => (1..0x80).contains(c),
                [b'\\', a, b, c] => {
                    (b'2'..=b'3').contains(a)
                        && (b'0'..=b'7').contains(b)
                        && (b'0'..=b'7').contains(c)
                }
                _ => false,
            },
            "\"char\"",
        ),
        19 => {
            utf8_text(v)?;
            check(v.len() <= 63, "name longer than 63 bytes")
        }
        25 | 1042 | 1043 => utf8_text(v),
        20 => int_text(s, i64::MIN.into(), i64::MAX.into()),
        21 => int_text(s, i16::MIN.into(), i16::MAX.into()),
        23 => int_text(s, i32::MIN.into(), i32::MAX.into()),
        26 => int_text(s, 0, u32::MAX.into()),
        114 => json(v, false),
        3802 => json(v, true),
        142 => bad("xml is only ever masked to NULL"),
        700 | 701 => float_text(s, oid == 700),
        1700 => numeric_text(s),
        1082 => date_text(s).map(|_| ()),
        1083 => time_text(s).map(|_| ()),
        1114 => timestamp_text(s, false),
        1184 => timestamp_text(s, true),
        1186 => interval_text(s),
        2950 => uuid_text(s),
        _ => bad(format!("unexpected type {oid}")),
    }
}

fn int_text(s: &str, lo: i128, hi: i128) -> Verdict {
    let digits = s.strip_prefix('-').unwrap_or(s);
    if digits.is_empty() || !digits.bytes().all(|c| c.is_ascii_digit()) || digits.len() > 20 {
        return bad(format!("integer text {s:?}"));
    }
    let v: i128 = s.parse().map_err(|_| format!("integer text {s:?}"))?;
    check(v >= lo && v <= hi, "integer out of range")
}

fn float_text(s: &str, single: bool) -> Verdict {
    if matches!(s, "NaN" | "Infinity" | "-Infinity") {
        return Ok(());
    }
    if s.is_empty()
        || !s
            .bytes()
            .all(|c| c.is_ascii_digit() || matches!(c, b'+' | b'-' | b'.' | b'e' | b'E'))
    {
        return bad(format!("float text {s:?}"));
    }
    // strtod accepts what Rust's parser accepts on this alphabet; the
    // server then refuses values that overflow the type.
    if single {
        let v: f32 = s.parse().map_err(|_| format!("float4 text {s:?}"))?;
        check(v.is_finite(), "float4 overflow")
    } else {
        let v: f64 = s.parse().map_err(|_| format!("float8 text {s:?}"))?;
        check(v.is_finite(), "float8 overflow")
    }
}

fn numeric_text(s: &str) -> Verdict {
    if matches!(s, "NaN" | "Infinity" | "-Infinity") {
        return Ok(());
    }
    let body = s.strip_prefix('-').unwrap_or(s);
    let (int, frac) = match body.split_once('.') {
        Some((i, f)) => (i, Some(f)),
        None => (body, None),
    };
    let digits = |x: &str| !x.is_empty() && x.bytes().all(|c| c.is_ascii_digit());
    check(digits(int), "numeric integer part")?;
    if let Some(f) = frac {
        check(digits(f), "numeric fraction")?;
        check(f.len() <= 16383, "numeric scale over 16383")?;
    }
    check(int.len() <= 131_072, "numeric with too many digits")
}

fn two(s: &[u8]) -> Option<u32> {
    match s {
        [a, b] if a.is_ascii_digit() && b.is_ascii_digit() => {
            Some(u32::from(a - b'0') * 10 + u32::from(b - b'0'))
        }
        _ => None,
    }
}

fn days_from_civil(y: i64, m: u32, d: u32) -> i64 {
    // Howard Hinnant's algorithm, proleptic Gregorian, astronomical years.
    let y = if m <= 2 { y - 1 } else { y };
    let era = y.div_euclid(400);
    let yoe = y - era * 400;
    let mp = i64::from((m + 9) % 12);
    let doy = (153 * mp + 2) / 5 + i64::from(d) - 1;
    let doe = yoe * 365 + yoe / 4 - yoe / 100 + doy;
    era * 146_097 + doe - 719_468
}

fn month_days(y: i64, m: u32) -> u32 {
    let leap = y.rem_euclid(4) == 0 && (y.rem_euclid(100) != 0 || y.rem_euclid(400) == 0);
    match m {
        2 if leap => 29,
        2 => 28,
        4 | 6 | 9 | 11 => 30,
        _ => 31,
    }
}

/// `YYYY-MM-DD` (year 1 or later, shown as written) → (astronomical year
/// before the BC mark is applied, month, day, rest).
fn ymd(s: &[u8]) -> Result<(i64, u32, u32, &[u8]), String> {
    let ylen = s.iter().take_while(|c| c.is_ascii_digit()).count();
    if !(4..=7).contains(&ylen) {
        return bad("year digits").map(|_| unreachable!());
    }
    let year: i64 = std::str::from_utf8(&s[..ylen])
        .ok()
        .and_then(|y| y.parse().ok())
        .ok_or("year")?;
    let r = &s[ylen..];
    if r.len() < 6 || r[0] != b'-' || r[3] != b'-' {
        return Err("date separators".into());
    }
    let m = two(&r[1..3]).ok_or("month")?;
    let d = two(&r[4..6]).ok_or("day")?;
    if year == 0 || !(1..=12).contains(&m) || d == 0 {
        return Err("date fields".into());
    }
    Ok((year, m, d, &r[6..]))
}

/// A date's day number since 1970, checked against PostgreSQL's range.
fn date_text(s: &str) -> Result<Option<i64>, String> {
    if matches!(s, "infinity" | "-infinity") {
        return Ok(None);
    }
    let (body, bc) = match s.strip_suffix(" BC") {
        Some(b) => (b, true),
        None => (s, false),
    };
    let (y, m, d, rest) = ymd(body.as_bytes())?;
    if !rest.is_empty() {
        return Err(format!("date text {s:?}"));
    }
    let y = if bc { 1 - y } else { y };
    if d > month_days(y, m) {
        return Err("day of month".into());
    }
    let days = days_from_civil(y, m, d);
    if days < days_from_civil(-4713, 11, 24) || days > days_from_civil(5_874_897, 12, 31) {
        return Err("date out of range".into());
    }
    Ok(Some(days))
}

/// `HH:MM:SS[.ffffff]` → microseconds, at most 24:00:00.
fn clock(s: &[u8]) -> Result<(i64, &[u8]), String> {
    if s.len() < 8 || s[2] != b':' || s[5] != b':' {
        return Err("clock".into());
    }
    let h = i64::from(two(&s[..2]).ok_or("hour")?);
    let m = i64::from(two(&s[3..5]).ok_or("minute")?);
    let sec = i64::from(two(&s[6..8]).ok_or("second")?);
    let mut rest = &s[8..];
    let mut micros = 0;
    if let Some(r) = rest.strip_prefix(b".") {
        let n = r.iter().take_while(|c| c.is_ascii_digit()).count();
        if n == 0 || n > 6 {
            return Err("fraction".into());
        }
        let f: i64 = std::str::from_utf8(&r[..n])
            .ok()
            .and_then(|x| x.parse().ok())
            .ok_or("fraction")?;
        micros = f * 10i64.pow(6 - n as u32);
        rest = &r[n..];
    }
    if m > 59 || sec > 59 {
        return Err("clock fields".into());
    }
    let t = ((h * 60 + m) * 60 + sec) * 1_000_000 + micros;
    if t > USECS_PER_DAY {
        return Err("clock past 24:00:00".into());
    }
    Ok((t, rest))
}

fn time_text(s: &str) -> Result<i64, String> {
    let (t, rest) = clock(s.as_bytes())?;
    if !rest.is_empty() {
        return Err(format!("time text {s:?}"));
    }
    Ok(t)
}

/// Microseconds since 1970 of the first and the end (exclusive) of the
/// timestamp range: 4714-11-24 00:00 BC and 294277-01-01 00:00.
fn timestamp_range() -> (i128, i128) {
    let day = i128::from(USECS_PER_DAY);
    (
        i128::from(days_from_civil(-4713, 11, 24)) * day,
        i128::from(days_from_civil(294_277, 1, 1)) * day,
    )
}

fn timestamp_text(s: &str, tz: bool) -> Verdict {
    if matches!(s, "infinity" | "-infinity") {
        return Ok(());
    }
    let (body, bc) = match s.strip_suffix(" BC") {
        Some(b) => (b, true),
        None => (s, false),
    };
    let (y, m, d, rest) = ymd(body.as_bytes())?;
    let rest = rest.strip_prefix(b" ").ok_or("date/time separator")?;
    let (t, rest) = clock(rest)?;
    if t >= USECS_PER_DAY {
        return bad("24:00 in a timestamp is the next day");
    }
    let mut offset = 0i64;
    let rest = if tz {
        let (sign, r) = match rest.split_first() {
            Some((b'+', r)) => (1, r),
            Some((b'-', r)) => (-1, r),
            _ => return bad("timestamptz without offset"),
        };
        let hh = i64::from(two(r.get(..2).ok_or("offset")?).ok_or("offset hours")?);
        let mut secs = hh * 3600;
        let mut r = &r[2..];
        for mult in [60, 1] {
            match r.strip_prefix(b":") {
                Some(x) => {
                    let v = i64::from(two(x.get(..2).ok_or("offset")?).ok_or("offset part")?);
                    if v > 59 {
                        return bad("offset part");
                    }
                    secs += v * mult;
                    r = &x[2..];
                }
                None => break,
            }
        }
        if secs > 15 * 3600 + 59 * 60 + 59 {
            return bad("offset beyond 15:59:59");
        }
        offset = sign * secs;
        r
    } else {
        rest
    };
    if !rest.is_empty() {
        return bad(format!("timestamp text {s:?}"));
    }
    let y = if bc { 1 - y } else { y };
    if d > month_days(y, m) {
        return bad("day of month");
    }
    let utc = i128::from(days_from_civil(y, m, d)) * i128::from(USECS_PER_DAY) + i128::from(t)
        - i128::from(offset) * 1_000_000;
    let (lo, end) = timestamp_range();
    check(utc >= lo && utc < end, "timestamp out of range")
}

fn interval_text(s: &str) -> Verdict {
    // Masks only ever write the zero interval.
    check(s == "00:00:00", "interval text")
}

fn uuid_text(s: &str) -> Verdict {
    let b = s.as_bytes();
    check(
        b.len() == 36
            && b.iter().enumerate().all(|(i, &c)| match i {
                8 | 13 | 18 | 23 => c == b'-',
                _ => c.is_ascii_digit() || (b'a'..=b'f').contains(&c),
            }),
        "uuid text",
    )
}

/// RFC 8259 JSON as PostgreSQL's json lexer takes it (surrogates must
/// pair); jsonb also refuses `\u0000`.
pub fn json(v: &[u8], jsonb: bool) -> Verdict {
    std::str::from_utf8(v).map_err(|_| "json not UTF-8".to_string())?;
    let mut p = Json { s: v, i: 0, jsonb };
    p.ws();
    p.value(0)?;
    p.ws();
    check(p.i == v.len(), "json trailing bytes")
}

struct Json<'a> {
    s: &'a [u8],
    i: usize,
    jsonb: bool,
}

impl Json<'_> {
    fn peek(&self) -> Option<u8> {
        self.s.get(self.i).copied()
    }
    fn ws(&mut self) {
        while matches!(self.peek(), Some(b' ' | b'\t' | b'\n' | b'\r')) {
            self.i += 1;
        }
    }
    fn lit(&mut self, w: &[u8]) -> Verdict {
        if self.s[self.i..].starts_with(w) {
            self.i += w.len();
            Ok(())
        } else {
            bad("json literal")
        }
    }
    fn value(&mut self, depth: usize) -> Verdict {
        if depth > 6400 {
            return bad("json too deep");
        }
        match self.peek() {
            Some(b'{') => {
                self.i += 1;
                self.ws();
                if self.peek() == Some(b'}') {
                    self.i += 1;
                    return Ok(());
                }
                loop {
                    self.ws();
                    self.string()?;
                    self.ws();
                    if self.peek() != Some(b':') {
                        return bad("json colon");
                    }
                    self.i += 1;
                    self.ws();
                    self.value(depth + 1)?;
                    self.ws();
                    match self.peek() {
                        Some(b',') => self.i += 1,
                        Some(b'}') => {
                            self.i += 1;
                            return Ok(());
                        }
                        _ => return bad("json object"),
                    }
                }
            }
            Some(b'[') => {
                self.i += 1;
                self.ws();
                if self.peek() == Some(b']') {
                    self.i += 1;
                    return Ok(());
                }
                loop {
                    self.ws();
                    self.value(depth + 1)?;
                    self.ws();
                    match self.peek() {
                        Some(b',') => self.i += 1,
                        Some(b']') => {
                            self.i += 1;
                            return Ok(());
                        }
                        _ => return bad("json array"),
                    }
                }
            }
            Some(b'"') => self.string(),
            Some(b't') => self.lit(b"true"),
            Some(b'f') => self.lit(b"false"),
            Some(b'n') => self.lit(b"null"),
            Some(b'-' | b'0'..=b'9') => self.number(),
            _ => bad("json value"),
        }
    }
    fn digits(&mut self) -> usize {
        let st = self.i;
        while matches!(self.peek(), Some(b'0'..=b'9')) {
            self.i += 1;
        }
        self.i - st
    }
    fn number(&mut self) -> Verdict {
        if self.peek() == Some(b'-') {
            self.i += 1;
        }
        match self.peek() {
            Some(b'0') => self.i += 1,
            Some(b'1'..=b'9') => {
                self.digits();
            }
            _ => return bad("json number"),
        }
        if self.peek() == Some(b'.') {
            self.i += 1;
            if self.digits() == 0 {
                return bad("json fraction");
            }
        }
        if matches!(self.peek(), Some(b'e' | b'E')) {
            self.i += 1;
            if matches!(self.peek(), Some(b'+' | b'-')) {
                self.i += 1;
            }
            if self.digits() == 0 {
                return bad("json exponent");
            }
        }
        Ok(())
    }
    fn hex4(&mut self) -> Result<u32, String> {
        let h = self.s.get(self.i..self.i + 4).ok_or("json \\u")?;
        let v = std::str::from_utf8(h)
            .ok()
            .and_then(|x| u32::from_str_radix(x, 16).ok())
            .ok_or("json \\u digits")?;
        if !h.iter().all(u8::is_ascii_hexdigit) {
            return Err("json \\u digits".into());
        }
        self.i += 4;
        Ok(v)
    }
    fn string(&mut self) -> Verdict {
        if self.peek() != Some(b'"') {
            return bad("json string");
        }
        self.i += 1;
        loop {
            match self.peek() {
                None => return bad("json unterminated string"),
                Some(b'"') => {
                    self.i += 1;
                    return Ok(());
                }
                Some(c) if c < 0x20 => return bad("json control character"),
                Some(b'\\') => {
                    self.i += 1;
                    match self.peek() {
                        Some(b'"' | b'\\' | b'/' | b'b' | b'f' | b'n' | b'r' | b't') => self.i += 1,
                        Some(b'u') => {
                            self.i += 1;
                            let v = self.hex4()?;
                            if v == 0 && self.jsonb {
                                return bad("jsonb \\u0000");
                            }
                            if (0xd800..0xdc00).contains(&v) {
                                if !self.s[self.i..].starts_with(b"\\u") {
                                    return bad("json lone high surrogate");
                                }
                                self.i += 2;
                                let lo = self.hex4()?;
                                if !(0xdc00..0xe000).contains(&lo) {
                                    return bad("json bad low surrogate");
                                }
                            } else if (0xdc00..0xe000).contains(&v) {
                                return bad("json lone low surrogate");
                            }
                        }
                        _ => return bad("json escape"),
                    }
                }
                Some(_) => self.i += 1,
            }
        }
    }
}

fn binary_scalar(oid: u32, v: &[u8]) -> Verdict {
    let len = |n: usize| check(v.len() == n, "binary length");
    match oid {
        16 => check(v == [0] || v == [1], "binary bool"),
        17 => Ok(()),
        18 => len(1),
        19 => {
            utf8_text(v)?;
            check(v.len() <= 63, "name longer than 63 bytes")
        }
        25 | 1042 | 1043 => utf8_text(v),
        20 | 701 => len(8),
        21 => len(2),
        23 | 26 | 700 => len(4),
        114 => json(v, false),
        3802 => match v.split_first() {
            Some((1, rest)) => json(rest, true),
            _ => bad("jsonb version"),
        },
        142 => bad("xml is only ever masked to NULL"),
        1700 => binary_numeric(v),
        1082 => {
            len(4)?;
            let d = i32::from_be_bytes([v[0], v[1], v[2], v[3]]);
            if d == i32::MIN || d == i32::MAX {
                return Ok(());
            }
            let days = i64::from(d) + PG_EPOCH_DAYS;
            check(
                days >= days_from_civil(-4713, 11, 24)
                    && days <= days_from_civil(5_874_897, 12, 31),
                "binary date out of range",
            )
        }
        1083 => {
            len(8)?;
            let t = i64::from_be_bytes(v.try_into().map_err(|_| "time")?);
            check((0..=USECS_PER_DAY).contains(&t), "binary time out of range")
        }
        1114 | 1184 => {
            len(8)?;
            let t = i64::from_be_bytes(v.try_into().map_err(|_| "timestamp")?);
            if t == i64::MIN || t == i64::MAX {
                return Ok(());
            }
            let (lo, end) = timestamp_range();
            let unix = i128::from(t) + i128::from(PG_EPOCH_DAYS) * i128::from(USECS_PER_DAY);
            check(unix >= lo && unix < end, "binary timestamp out of range")
        }
        1186 => len(16),
        2950 => len(16),
        _ => bad(format!("unexpected type {oid}")),
    }
}

fn binary_numeric(v: &[u8]) -> Verdict {
    if v.len() < 8 {
        return bad("numeric header");
    }
    let ndigits = i16::from_be_bytes([v[0], v[1]]);
    let sign = u16::from_be_bytes([v[4], v[5]]);
    let dscale = u16::from_be_bytes([v[6], v[7]]);
    if ndigits < 0 || v.len() != 8 + 2 * ndigits as usize {
        return bad("numeric length");
    }
    if !matches!(sign, 0x0000 | 0x4000 | 0xC000 | 0xD000 | 0xF000) {
        return bad("numeric sign");
    }
    if dscale > 0x3FFF {
        return bad("numeric dscale");
    }
    for d in v[8..].chunks(2) {
        if u16::from_be_bytes([d[0], d[1]]) >= 10_000 {
            return bad("numeric digit");
        }
    }
    Ok(())
}

fn binary_array(elem: u32, v: &[u8]) -> Verdict {
    let mut r = v;
    let i32_ = |r: &mut &[u8]| -> Result<i32, String> {
        let (h, t) = r.split_first_chunk::<4>().ok_or("array truncated")?;
        *r = t;
        Ok(i32::from_be_bytes(*h))
    };
    let ndim = i32_(&mut r)?;
    let flags = i32_(&mut r)?;
    let oid = i32_(&mut r)? as u32;
    if !(0..=6).contains(&ndim) {
        return bad("array ndim");
    }
    if flags != 0 && flags != 1 {
        return bad("array flags");
    }
    if oid != elem {
        return bad(format!("array element oid {oid} for {elem}"));
    }
    let mut total: i64 = if ndim == 0 { 0 } else { 1 };
    for _ in 0..ndim {
        let n = i32_(&mut r)?;
        let lb = i32_(&mut r)?;
        if n < 0 || i64::from(lb) + i64::from(n) > i64::from(i32::MAX) {
            return bad("array dimension");
        }
        total = total.checked_mul(i64::from(n)).ok_or("array size")?;
    }
    for _ in 0..total {
        let n = i32_(&mut r)?;
        if n == -1 {
            continue;
        }
        let n = usize::try_from(n).map_err(|_| "array element length")?;
        let e = r.get(..n).ok_or("array element truncated")?;
        r = &r[n..];
        binary_scalar(elem, e).map_err(|x| format!("element: {x}"))?;
    }
    check(r.is_empty(), "array trailing bytes")
}

/// PostgreSQL's array literal: optional `[lo:hi]...=` decoration, braces,
/// elements separated by commas, quoted with backslash escapes or unquoted,
/// `NULL` unquoted; rectangular (sub-arrays of one level all the same size,
/// elements only at the deepest level), matching the decoration.
fn text_array(elem: u32, v: &[u8]) -> Verdict {
    let s = std::str::from_utf8(v).map_err(|_| "array not UTF-8".to_string())?;
    let mut b = s.as_bytes();
    let mut declared: Vec<i64> = Vec::new();
    if b.first() == Some(&b'[') {
        let eq = b
            .iter()
            .position(|&c| c == b'=')
            .ok_or("array dimensions")?;
        let dims = &b[..eq];
        for d in dims.split(|&c| c == b']').filter(|d| !d.is_empty()) {
            let d = d.strip_prefix(b"[").ok_or("array dimension syntax")?;
            let d = std::str::from_utf8(d).map_err(|_| "dims")?;
            let (lo, hi) = d.split_once(':').unwrap_or(("1", d));
            let lo: i32 = lo.parse().map_err(|_| "array bound")?;
            let hi: i32 = hi.parse().map_err(|_| "array bound")?;
            if hi < lo {
                return bad("array bounds");
            }
            declared.push(i64::from(hi) - i64::from(lo) + 1);
        }
        b = &b[eq + 1..];
    }
    let mut i = 0;
    let tree = parse_braces(b, &mut i, 0)?;
    if i != b.len() {
        return bad("array trailing text");
    }
    let dims = shape(&tree)?;
    if !declared.is_empty() && declared != dims {
        return bad("array dimensions do not match the contents");
    }
    let mut elems = Vec::new();
    leaves(&tree, &mut elems);
    for e in elems.into_iter().flatten() {
        text_scalar(elem, &e)
            .map_err(|x| format!("element {:?}: {x}", String::from_utf8_lossy(&e)))?;
    }
    Ok(())
}

enum Node {
    Elem(Option<Vec<u8>>),
    List(Vec<Node>),
}

fn leaves(n: &Node, out: &mut Vec<Option<Vec<u8>>>) {
    match n {
        Node::Elem(e) => out.push(e.clone()),
        Node::List(l) => l.iter().for_each(|c| leaves(c, out)),
    }
}

/// The sizes per level of a rectangular array; `[]` for `{}`.
fn shape(n: &Node) -> Result<Vec<i64>, String> {
    let Node::List(items) = n else {
        return Err("not an array".into());
    };
    if items.is_empty() {
        return Ok(Vec::new());
    }
    if items.iter().all(|c| matches!(c, Node::Elem(_))) {
        return Ok(vec![items.len() as i64]);
    }
    let mut inner: Option<Vec<i64>> = None;
    for c in items {
        if matches!(c, Node::Elem(_)) {
            return Err("elements beside sub-arrays".into());
        }
        let d = shape(c)?;
        if d.is_empty() {
            return Err("empty sub-array".into());
        }
        match &inner {
            Some(x) if *x != d => return Err("sub-arrays of different sizes".into()),
            _ => inner = Some(d),
        }
    }
    let mut out = vec![items.len() as i64];
    out.extend(inner.unwrap_or_default());
    Ok(out)
}

fn parse_braces(b: &[u8], i: &mut usize, depth: usize) -> Result<Node, String> {
    if depth > 6 {
        return Err("array too deep".into());
    }
    if b.get(*i) != Some(&b'{') {
        return Err("array brace".into());
    }
    *i += 1;
    let mut items = Vec::new();
    if b.get(*i) == Some(&b'}') {
        *i += 1;
        return Ok(Node::List(items));
    }
    loop {
        match b.get(*i) {
            Some(b'{') => items.push(parse_braces(b, i, depth + 1)?),
            Some(b'"') => {
                *i += 1;
                let mut e = Vec::new();
                loop {
                    match b.get(*i) {
                        None => return Err("array unterminated quote".into()),
                        Some(b'\\') => {
                            e.push(*b.get(*i + 1).ok_or("array escape")?);
                            *i += 2;
                        }
                        Some(b'"') => {
                            *i += 1;
                            break;
                        }
                        Some(&c) => {
                            e.push(c);
                            *i += 1;
                        }
                    }
                }
                items.push(Node::Elem(Some(e)));
            }
            _ => {
                let st = *i;
                while let Some(&c) = b.get(*i) {
                    if matches!(c, b',' | b'}' | b'{' | b'"' | b'\\') || c.is_ascii_whitespace() {
                        break;
                    }
                    *i += 1;
                }
                let e = &b[st..*i];
                if e.is_empty() {
                    return Err("array empty unquoted element".into());
                }
                items.push(Node::Elem(if e.eq_ignore_ascii_case(b"NULL") {
                    None
                } else {
                    Some(e.to_vec())
                }));
            }
        }
        match b.get(*i) {
            Some(b',') => *i += 1,
            Some(b'}') => {
                *i += 1;
                return Ok(Node::List(items));
            }
            _ => return Err("array separator".into()),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn oracle_accepts_server_spellings() {
        for (oid, v) in [
            (16, "t"),
            (17, "\\x00ff"),
            (20, "-9223372036854775808"),
            (700, "3.4028235e38"),
            (1700, "-12.50"),
            (1082, "4714-11-24 BC"),
            (1083, "24:00:00"),
            (1114, "294276-12-31 23:59:59.999999"),
            (1184, "2024-01-01 00:00:00+05:30"),
            (2950, "a0eebc99-9c0b-4ef8-bb6d-6bb9bd380a11"),
            (3802, "{\"a\": [1, 2.5e3, \"\\ud83d\\ude00\"]}"),
            (1007, "{1,NULL,3}"),
            (1009, "[0:1]={\"a b\",\"c\\\"d\"}"),
        ] {
            assert_eq!(value(oid, false, v.as_bytes()), Ok(()), "{oid} {v}");
        }
        for (oid, v) in [
            (16, "true"),
            (21, "40000"),
            (1082, "0000-01-01"),
            (1114, "294277-01-01 00:00:00"),
            (1184, "294276-12-31 23:00:00-05"),
            (3802, "\"\\u0000\""),
            (1007, "{1,,3}"),
        ] {
            assert!(value(oid, false, v.as_bytes()).is_err(), "{oid} {v}");
        }
    }
}
