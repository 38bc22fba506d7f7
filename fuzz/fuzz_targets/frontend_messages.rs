//! The frontend message decoders, on arbitrary bodies: Query, Parse, Bind,
//! Describe, Execute, Close, FunctionCall and CopyFail (CopyData has no
//! structure: it is checked to cross the session state machines untouched
//! in the `session` target).
//!
//! Properties: each decoder accepts exactly the bodies a reference decoder
//! written from the protocol documentation accepts, returns the same fields,
//! and what it accepts re-encodes to the same bytes; the re-framed Query
//! and Parse pgward sends with a stamp decode back to the client's name and
//! parameter section and the stamped text.
#![no_main]

use libfuzzer_sys::fuzz_target;
use pgward::fuzzing::{parse_fields, query_text};
use pgward::session::stamping;
use pgward::wire::extended;

struct R<'a>(&'a [u8]);

impl<'a> R<'a> {
    fn cstr(&mut self) -> Option<&'a [u8]> {
        let n = self.0.iter().position(|&b| b == 0)?;
        let s = &self.0[..n];
        self.0 = &self.0[n + 1..];
        Some(s)
    }
    fn i16(&mut self) -> Option<i16> {
        let (h, t) = self.0.split_first_chunk::<2>()?;
        self.0 = t;
        Some(i16::from_be_bytes(*h))
    }
    fn i32(&mut self) -> Option<i32> {
        let (h, t) = self.0.split_first_chunk::<4>()?;
        self.0 = t;
        Some(i32::from_be_bytes(*h))
    }
    fn bytes(&mut self, n: usize) -> Option<&'a [u8]> {
        if self.0.len() < n {
            return None;
        }
        let (a, b) = self.0.split_at(n);
        self.0 = b;
        Some(a)
    }
    fn count(&mut self) -> Option<usize> {
        usize::try_from(self.i16()?).ok()
    }
    fn end(&self) -> Option<()> {
        self.0.is_empty().then_some(())
    }
    fn value(&mut self) -> Option<Option<&'a [u8]>> {
        match self.i32()? {
            -1 => Some(None),
            n if n >= 0 => Some(Some(self.bytes(n as usize)?)),
            _ => None,
        }
    }
}

type RefBind<'a> = (
    &'a [u8],
    &'a [u8],
    Vec<i16>,
    Vec<Option<&'a [u8]>>,
    Vec<i16>,
);

fn ref_bind(b: &[u8]) -> Option<RefBind<'_>> {
    let mut r = R(b);
    let portal = r.cstr()?;
    let stmt = r.cstr()?;
    let n = r.count()?;
    let pf = (0..n).map(|_| r.i16()).collect::<Option<Vec<_>>>()?;
    let n = r.count()?;
    let params = (0..n).map(|_| r.value()).collect::<Option<Vec<_>>>()?;
    let n = r.count()?;
    let rf = (0..n).map(|_| r.i16()).collect::<Option<Vec<_>>>()?;
    r.end()?;
    Some((portal, stmt, pf, params, rf))
}

fn encode_bind(b: &RefBind<'_>) -> Vec<u8> {
    let mut o = Vec::new();
    o.extend_from_slice(b.0);
    o.push(0);
    o.extend_from_slice(b.1);
    o.push(0);
    o.extend_from_slice(&(b.2.len() as i16).to_be_bytes());
    for f in &b.2 {
        o.extend_from_slice(&f.to_be_bytes());
    }
    o.extend_from_slice(&(b.3.len() as i16).to_be_bytes());
    for p in &b.3 {
        match p {
            None => o.extend_from_slice(&(-1i32).to_be_bytes()),
            Some(v) => {
                o.extend_from_slice(&(v.len() as i32).to_be_bytes());
                o.extend_from_slice(v);
            }
        }
    }
    o.extend_from_slice(&(b.4.len() as i16).to_be_bytes());
    for f in &b.4 {
        o.extend_from_slice(&f.to_be_bytes());
    }
    o
}

fn ref_function_call(b: &[u8]) -> Option<(u32, Vec<i16>, Vec<Option<&[u8]>>, i16)> {
    let mut r = R(b);
    let oid = r.i32()? as u32;
    let n = r.count()?;
    let af = (0..n).map(|_| r.i16()).collect::<Option<Vec<_>>>()?;
    let n = r.count()?;
    let args = (0..n).map(|_| r.value()).collect::<Option<Vec<_>>>()?;
    let rf = r.i16()?;
    r.end()?;
    Some((oid, af, args, rf))
}

fn check_body(tag: u8, body: &[u8]) {
    match tag {
        b'Q' => {
            let got = query_text(body);
            let want = match body.split_last() {
                Some((0, t)) if !t.contains(&0) => Some(t),
                _ => None,
            };
            assert_eq!(got, want, "Query");
            if let Some(sql) = got.and_then(|t| std::str::from_utf8(t).ok()) {
                let f = stamping::query_frame(sql);
                assert_eq!(&f[5..], body, "re-framed Query");
                assert_eq!(
                    i32::from_be_bytes([f[1], f[2], f[3], f[4]]) as usize,
                    f.len() - 1
                );
            }
        }
        b'P' => {
            let got = parse_fields(body);
            let want = (|| {
                let mut r = R(body);
                let name = r.cstr()?;
                let sql = r.cstr()?;
                let params = r.0;
                let n = r.count()?;
                r.bytes(4 * n)?;
                r.end()?;
                Some((name, sql, params))
            })();
            assert_eq!(got, want, "Parse");
            assert_eq!(extended::parse_name(body), R(body).cstr(), "Parse name");
            if let Some((name, sql, params)) = got {
                // pgward re-frames a Parse to carry the stamp: only the text changes.
                let stamped = format!("{} /*k='v'*/", String::from_utf8_lossy(sql));
                let f = stamping::parse_frame(name, &stamped, params);
                assert_eq!(
                    i32::from_be_bytes([f[1], f[2], f[3], f[4]]) as usize,
                    f.len() - 1
                );
                assert_eq!(
                    parse_fields(&f[5..]),
                    Some((name, stamped.as_bytes(), params)),
                    "re-framed Parse"
                );
            }
        }
        b'B' => {
            let want = ref_bind(body);
            match extended::bind(body) {
                Some(b) => {
                    let w = want.expect("Bind accepted what the reference refuses");
                    assert_eq!((b.portal, b.statement), (w.0, w.1));
                    let formats = match w.4.as_slice() {
                        [] => extended::ResultFormats::AllText,
                        [one] => extended::ResultFormats::All(*one),
                        many => extended::ResultFormats::Each(many.into()),
                    };
                    assert_eq!(b.result_formats, formats);
                    assert_eq!(encode_bind(&w), body, "Bind re-encodes");
                }
                None => assert!(want.is_none(), "Bind refused a valid body"),
            }
        }
        b'D' | b'C' => {
            let want = (|| {
                let (&k, rest) = body.split_first()?;
                let mut r = R(rest);
                let name = r.cstr()?;
                r.end()?;
                (k == b'S' || k == b'P').then_some((k, name))
            })();
            assert_eq!(extended::target(body), want, "Describe/Close");
        }
        b'E' => {
            let want = (|| {
                let mut r = R(body);
                let p = r.cstr()?;
                r.i32()?;
                r.end()?;
                Some(p)
            })();
            assert_eq!(extended::execute_portal(body), want, "Execute");
        }
        b'F' => {
            let want = ref_function_call(body);
            match extended::function_call(body) {
                Some(c) => {
                    let w = want.expect("FunctionCall accepted what the reference refuses");
                    assert_eq!(
                        (c.function, &c.arg_formats, &c.args, c.result_format),
                        (w.0, &w.1, &w.2, w.3)
                    );
                }
                None => assert!(want.is_none(), "FunctionCall refused a valid body"),
            }
        }
        b'f' => {
            let want = (|| {
                let mut r = R(body);
                let s = r.cstr()?;
                r.end()?;
                Some(s)
            })();
            assert_eq!(extended::copy_fail(body), want, "CopyFail");
        }
        _ => {}
    }
}

fuzz_target!(|data: &[u8]| {
    let Some((&sel, body)) = data.split_first() else {
        return;
    };
    const TAGS: &[u8] = b"QPBDCEFf";
    let tag = TAGS[usize::from(sel) % TAGS.len()];
    check_body(tag, body);
});
