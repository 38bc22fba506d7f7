//! Decoders for the messages masking must follow: the extended-protocol
//! frontend messages that name statements and portals and choose result
//! formats, and the backend's RowDescription and CopyOutResponse. Each reads
//! a body the frame scanner has already bounded, and fails on anything short,
//! long or negative instead of guessing.

/// Reads a NUL-terminated string; returns it and the rest.
fn cstr(b: &[u8]) -> Option<(&[u8], &[u8])> {
    let nul = b.iter().position(|&c| c == 0)?;
    Some((&b[..nul], &b[nul + 1..]))
}

fn i16_at(b: &[u8]) -> Option<(i16, &[u8])> {
    let v = i16::from_be_bytes(b.get(..2)?.try_into().ok()?);
    Some((v, &b[2..]))
}

fn i32_at(b: &[u8]) -> Option<(i32, &[u8])> {
    let v = i32::from_be_bytes(b.get(..4)?.try_into().ok()?);
    Some((v, &b[4..]))
}

fn count(b: &[u8]) -> Option<(usize, &[u8])> {
    let (n, rest) = i16_at(b)?;
    Some((usize::try_from(n).ok()?, rest))
}

/// Parse: the statement name (empty = unnamed).
pub fn parse_name(body: &[u8]) -> Option<&[u8]> {
    cstr(body).map(|(n, _)| n)
}

/// Bind: portal, statement, and the result-column format codes.
pub struct Bind<'a> {
    pub portal: &'a [u8],
    pub statement: &'a [u8],
    pub result_formats: ResultFormats,
}

/// Bind's result format codes: none means all text, one applies to every
/// column, otherwise one per column. Kept as sent so that the usual list
/// (none, or one) costs no allocation on every Bind.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub enum ResultFormats {
    #[default]
    AllText,
    All(i16),
    Each(Box<[i16]>),
}

impl ResultFormats {
    /// The format code of result column `column`.
    pub fn format_for(&self, column: usize) -> i16 {
        match self {
            ResultFormats::AllText => 0,
            ResultFormats::All(f) => *f,
            ResultFormats::Each(each) => each.get(column).copied().unwrap_or(0),
        }
    }
}

pub fn bind(body: &[u8]) -> Option<Bind<'_>> {
    let (portal, rest) = cstr(body)?;
    let (statement, rest) = cstr(rest)?;
    let (n, mut rest) = count(rest)?;
    rest = rest.get(n * 2..)?;
    let (n, mut rest2) = count(rest)?;
    for _ in 0..n {
        let (len, r) = i32_at(rest2)?;
        rest2 = match len {
            -1 => r,
            l if l >= 0 => r.get(l as usize..)?,
            _ => return None,
        };
    }
    let (n, rest3) = count(rest2)?;
    if rest3.len() != n * 2 {
        return None;
    }
    let mut codes = rest3
        .chunks_exact(2)
        .map(|c| i16::from_be_bytes([c[0], c[1]]));
    let result_formats = match n {
        0 => ResultFormats::AllText,
        1 => ResultFormats::All(codes.next()?),
        _ => ResultFormats::Each(codes.collect()),
    };
    Some(Bind {
        portal,
        statement,
        result_formats,
    })
}

/// Describe or Close: `S` (statement) or `P` (portal), and the name.
pub fn target(body: &[u8]) -> Option<(u8, &[u8])> {
    let (&kind, rest) = body.split_first()?;
    let (name, rest) = cstr(rest)?;
    (rest.is_empty() && (kind == b'S' || kind == b'P')).then_some((kind, name))
}

/// Execute: the portal name.
pub fn execute_portal(body: &[u8]) -> Option<&[u8]> {
    let (portal, rest) = cstr(body)?;
    (rest.len() == 4).then_some(portal)
}

/// FunctionCall: the function's OID, the argument format codes, the
/// arguments (`None` for NULL) and the result format code.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct FunctionCall<'a> {
    pub function: u32,
    pub arg_formats: Vec<i16>,
    pub args: Vec<Option<&'a [u8]>>,
    pub result_format: i16,
}

pub fn function_call(body: &[u8]) -> Option<FunctionCall<'_>> {
    let (function, rest) = i32_at(body)?;
    let (n, mut rest) = count(rest)?;
    let mut arg_formats = Vec::with_capacity(n.min(rest.len() / 2));
    for _ in 0..n {
        let (f, r) = i16_at(rest)?;
        arg_formats.push(f);
        rest = r;
    }
    let (n, mut rest) = count(rest)?;
    let mut args = Vec::with_capacity(n.min(rest.len() / 4));
    for _ in 0..n {
        let (len, r) = i32_at(rest)?;
        let (arg, r) = match len {
            -1 => (None, r),
            l if l >= 0 => {
                let l = l as usize;
                (Some(r.get(..l)?), r.get(l..)?)
            }
            _ => return None,
        };
        args.push(arg);
        rest = r;
    }
    let (result_format, rest) = i16_at(rest)?;
    rest.is_empty().then_some(FunctionCall {
        function: function as u32,
        arg_formats,
        args,
        result_format,
    })
}

/// CopyFail: the client's reason, one NUL-terminated string.
pub fn copy_fail(body: &[u8]) -> Option<&[u8]> {
    let (reason, rest) = cstr(body)?;
    rest.is_empty().then_some(reason)
}

/// One RowDescription field, as masking needs it.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct FieldDesc {
    /// OID of the table the column comes from; 0 for a computed value.
    pub table: u32,
    pub attnum: i16,
    pub type_oid: u32,
    /// 0 text, 1 binary (always 0 in a Describe of a statement).
    pub format: i16,
}

pub fn row_description(body: &[u8]) -> Option<Vec<FieldDesc>> {
    let (n, mut rest) = count(body)?;
    let mut out = Vec::with_capacity(n);
    for _ in 0..n {
        let (_name, r) = cstr(rest)?;
        let (table, r) = i32_at(r)?;
        let (attnum, r) = i16_at(r)?;
        let (type_oid, r) = i32_at(r)?;
        let (_typlen, r) = i16_at(r)?;
        let (_typmod, r) = i32_at(r)?;
        let (format, r) = i16_at(r)?;
        out.push(FieldDesc {
            table: table as u32,
            attnum,
            type_oid: type_oid as u32,
            format,
        });
        rest = r;
    }
    rest.is_empty().then_some(out)
}

/// CopyOutResponse: overall format (0 text, 1 binary) and column count.
pub fn copy_out_response(body: &[u8]) -> Option<(u8, usize)> {
    let (&format, rest) = body.split_first()?;
    let (n, rest) = count(rest)?;
    (rest.len() == n * 2 && format <= 1).then_some((format, n))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn bind_reads_result_formats_and_rejects_garbage() {
        let mut b = b"p1\0s1\0".to_vec();
        b.extend_from_slice(&1i16.to_be_bytes());
        b.extend_from_slice(&1i16.to_be_bytes());
        b.extend_from_slice(&2i16.to_be_bytes());
        b.extend_from_slice(&3i32.to_be_bytes());
        b.extend_from_slice(b"abc");
        b.extend_from_slice(&(-1i32).to_be_bytes());
        b.extend_from_slice(&2i16.to_be_bytes());
        b.extend_from_slice(&0i16.to_be_bytes());
        b.extend_from_slice(&1i16.to_be_bytes());
        let parsed = bind(&b).expect("valid Bind");
        assert_eq!(parsed.portal, b"p1");
        assert_eq!(parsed.statement, b"s1");
        assert_eq!(
            parsed.result_formats,
            ResultFormats::Each(vec![0, 1].into())
        );
        assert_eq!(parsed.result_formats.format_for(1), 1);
        assert_eq!(
            parsed.result_formats.format_for(2),
            0,
            "past the list: text"
        );
        let mut longer = b.clone();
        longer.push(0);
        assert!(bind(&longer).is_none(), "trailing byte");
        for cut in 0..b.len() {
            assert!(bind(&b[..cut]).is_none(), "truncated at {cut}");
        }
        let mut bad = b"\0\0".to_vec();
        bad.extend_from_slice(&0i16.to_be_bytes());
        bad.extend_from_slice(&1i16.to_be_bytes());
        bad.extend_from_slice(&(-5i32).to_be_bytes());
        assert!(bind(&bad).is_none(), "negative length other than -1");
    }

    #[test]
    fn function_call_and_copy_fail_are_bounded() {
        let mut b = 764u32.to_be_bytes().to_vec();
        b.extend_from_slice(&1i16.to_be_bytes());
        b.extend_from_slice(&1i16.to_be_bytes());
        b.extend_from_slice(&2i16.to_be_bytes());
        b.extend_from_slice(&4i32.to_be_bytes());
        b.extend_from_slice(&42i32.to_be_bytes());
        b.extend_from_slice(&(-1i32).to_be_bytes());
        b.extend_from_slice(&0i16.to_be_bytes());
        let c = function_call(&b).expect("valid FunctionCall");
        assert_eq!(c.function, 764);
        assert_eq!(c.arg_formats, vec![1]);
        assert_eq!(c.args, vec![Some(&42i32.to_be_bytes()[..]), None]);
        assert_eq!(c.result_format, 0);
        for cut in 0..b.len() {
            assert!(function_call(&b[..cut]).is_none(), "truncated at {cut}");
        }
        let mut longer = b.clone();
        longer.push(0);
        assert!(function_call(&longer).is_none(), "trailing byte");
        let mut huge = 1u32.to_be_bytes().to_vec();
        huge.extend_from_slice(&0i16.to_be_bytes());
        huge.extend_from_slice(&i16::MAX.to_be_bytes());
        assert!(
            function_call(&huge).is_none(),
            "counts more arguments than bytes"
        );
        assert_eq!(copy_fail(b"gave up\0"), Some(&b"gave up"[..]));
        assert_eq!(copy_fail(b"gave up"), None);
        assert_eq!(copy_fail(b"a\0b\0"), None);
    }

    #[test]
    fn row_description_fields() {
        let mut b = 1i16.to_be_bytes().to_vec();
        b.extend_from_slice(b"ssn\0");
        b.extend_from_slice(&16400i32.to_be_bytes());
        b.extend_from_slice(&3i16.to_be_bytes());
        b.extend_from_slice(&25i32.to_be_bytes());
        b.extend_from_slice(&(-1i16).to_be_bytes());
        b.extend_from_slice(&(-1i32).to_be_bytes());
        b.extend_from_slice(&1i16.to_be_bytes());
        let f = row_description(&b).expect("valid");
        assert_eq!(
            f,
            vec![FieldDesc {
                table: 16400,
                attnum: 3,
                type_oid: 25,
                format: 1
            }]
        );
        assert!(row_description(&b[..b.len() - 1]).is_none());
        assert!(row_description(&(-1i16).to_be_bytes()).is_none());
        assert_eq!(ResultFormats::AllText.format_for(3), 0);
        assert_eq!(ResultFormats::All(1).format_for(3), 1);
        assert_eq!(ResultFormats::Each([0, 1].into()).format_for(1), 1);
        assert_eq!(target(b"Sname\0"), Some((b'S', &b"name"[..])));
        assert_eq!(target(b"Xname\0"), None);
        assert_eq!(execute_portal(b"p\0\0\0\0\0"), Some(&b"p"[..]));
        assert_eq!(copy_out_response(&[0, 0, 1, 0, 0]), Some((0, 1)));
        assert_eq!(copy_out_response(&[2, 0, 0]), None);
    }
}
