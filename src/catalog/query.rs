//! A minimal simple-query client for pgward's own catalog reads: text rows
//! only, every field bounded by the frame it came in.

use bytes::{BufMut, BytesMut};

use super::CatalogError;
use crate::session::peer::Peer;
use crate::wire::backend::ErrorSummary;
use crate::wire::frame::put_frame;

/// Rows of one statement's result, text format.
pub type Rows = Vec<Vec<Option<String>>>;

/// Sends `sql` (one or more statements) on an idle connection and reads the
/// reply through ReadyForQuery: one `Rows` per statement that returned rows
/// or completed. A server error is returned only after the reply has been
/// consumed, so the connection stays usable.
pub async fn simple_query(server: &mut Peer, sql: &str) -> Result<Vec<Rows>, CatalogError> {
    let mut body = BytesMut::with_capacity(sql.len() + 1);
    body.extend_from_slice(sql.as_bytes());
    body.put_u8(0);
    let mut q = BytesMut::new();
    put_frame(&mut q, b'Q', &body);
    server.queue(q.freeze());
    server
        .flush()
        .await
        .map_err(|e| CatalogError::Server(e.into()))?;
    let mut results = Vec::new();
    let mut current: Rows = Vec::new();
    let mut refused = None;
    loop {
        let f = server.next_frame().await?;
        match f.tag() {
            b'D' => current
                .push(text_fields(f.body()).ok_or(CatalogError::Protocol("malformed DataRow"))?),
            b'C' => results.push(std::mem::take(&mut current)),
            b'E' => refused = Some(ErrorSummary::parse(f.body()).unwrap_or_default()),
            b'Z' => {
                return match refused {
                    Some(e) => Err(CatalogError::Refused(e)),
                    None => Ok(results),
                }
            }
            b'T' | b'N' | b'S' | b'I' | b'A' => {}
            _ => return Err(CatalogError::Protocol("message type outside a query reply")),
        }
    }
}

/// The text-format fields of a DataRow body, bounded by the body.
pub fn text_fields(body: &[u8]) -> Option<Vec<Option<String>>> {
    let count = i16::from_be_bytes(body.get(..2)?.try_into().ok()?);
    let mut rest = body.get(2..)?;
    let mut out = Vec::with_capacity(usize::try_from(count).ok()?);
    for _ in 0..count {
        let len = i32::from_be_bytes(rest.get(..4)?.try_into().ok()?);
        rest = rest.get(4..)?;
        if len < 0 {
            out.push(None);
            continue;
        }
        let v = rest.get(..len as usize)?;
        out.push(Some(String::from_utf8_lossy(v).into_owned()));
        rest = rest.get(len as usize..)?;
    }
    rest.is_empty().then_some(out)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn data_rows_are_bounded() {
        let mut b = 2i16.to_be_bytes().to_vec();
        b.extend_from_slice(&3i32.to_be_bytes());
        b.extend_from_slice(b"app");
        b.extend_from_slice(&(-1i32).to_be_bytes());
        assert_eq!(text_fields(&b), Some(vec![Some("app".into()), None]));
        b.push(0);
        assert_eq!(text_fields(&b), None, "trailing bytes");
        let mut short = 1i16.to_be_bytes().to_vec();
        short.extend_from_slice(&100i32.to_be_bytes());
        assert_eq!(text_fields(&short), None, "length past the end");
        assert_eq!(text_fields(&(-1i16).to_be_bytes()), None, "negative count");
    }
}
