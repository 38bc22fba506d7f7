//! What pgward reads from the server's catalog. Today: which user functions
//! are volatile, for profiles with `volatile_functions: write`. The query runs
//! on the session's own connection after authentication and before the
//! client's first message is relayed, so it sees what the session's user sees.

use bytes::{BufMut, BytesMut};
use std::collections::HashSet;

use crate::session::peer::{Peer, PeerError};
use crate::wire::backend::ErrorSummary;
use crate::wire::frame::put_frame;

/// Volatile functions outside pg_catalog and information_schema, by schema and name.
const VOLATILE_FUNCTIONS_SQL: &str = "SELECT n.nspname, p.proname FROM pg_catalog.pg_proc p \
     JOIN pg_catalog.pg_namespace n ON n.oid = p.pronamespace \
     WHERE p.provolatile = 'v' AND n.nspname NOT IN ('pg_catalog', 'information_schema') \
     GROUP BY 1, 2";

#[derive(Debug, thiserror::Error)]
pub enum CatalogError {
    #[error("the server refused the catalog query: {} ({})", .0.message, .0.code)]
    Refused(ErrorSummary),
    #[error("unexpected reply to the catalog query: {0}")]
    Protocol(&'static str),
    #[error("server: {0}")]
    Server(#[from] PeerError),
}

/// What the session knows about user functions' volatility.
#[derive(Clone, Debug)]
pub enum Volatility {
    /// The profile does not ask.
    NotNeeded,
    /// (schema, name) of every volatile user function.
    Known(HashSet<(String, String)>),
    /// The catalog could not be read: every user function counts as volatile.
    Unknown,
}

impl Volatility {
    /// Could a call to `schema.name` (schema as written; `None` = resolved
    /// through `candidates`, or any schema when those are unknown) run a
    /// volatile user function?
    pub fn may_be_volatile(
        &self,
        schema: Option<&str>,
        name: &str,
        candidates: Option<&[String]>,
    ) -> bool {
        match self {
            Volatility::NotNeeded => false,
            Volatility::Unknown => schema != Some("pg_catalog"),
            Volatility::Known(set) => match schema {
                Some(s) => set.contains(&(s.to_owned(), name.to_owned())),
                None => match candidates {
                    Some(c) => c
                        .iter()
                        .any(|s| set.contains(&(s.clone(), name.to_owned()))),
                    None => set.iter().any(|(_, n)| n == name),
                },
            },
        }
    }
}

/// Runs the volatility query on an idle server connection and consumes the
/// whole reply, through ReadyForQuery.
pub async fn load_volatile_functions(
    server: &mut Peer,
) -> Result<HashSet<(String, String)>, CatalogError> {
    let mut body = BytesMut::new();
    body.extend_from_slice(VOLATILE_FUNCTIONS_SQL.as_bytes());
    body.put_u8(0);
    let mut q = BytesMut::new();
    put_frame(&mut q, b'Q', &body);
    server.queue(q.freeze());
    server
        .flush()
        .await
        .map_err(|e| CatalogError::Server(e.into()))?;
    let mut out = HashSet::new();
    let mut refused = None;
    loop {
        let f = server.next_frame().await?;
        match f.tag() {
            b'D' => {
                let row =
                    text_fields(f.body()).ok_or(CatalogError::Protocol("malformed DataRow"))?;
                if let [Some(schema), Some(name)] = row.as_slice() {
                    out.insert((schema.clone(), name.clone()));
                }
            }
            b'E' => refused = Some(ErrorSummary::parse(f.body()).unwrap_or_default()),
            b'Z' => {
                return match refused {
                    Some(e) => Err(CatalogError::Refused(e)),
                    None => Ok(out),
                }
            }
            b'T' | b'C' | b'N' | b'S' => {}
            _ => return Err(CatalogError::Protocol("message type outside a query reply")),
        }
    }
}

/// The text-format fields of a DataRow body, bounded by the body.
fn text_fields(body: &[u8]) -> Option<Vec<Option<String>>> {
    let count = i16::from_be_bytes(body.get(..2)?.try_into().ok()?);
    let mut rest = body.get(2..)?;
    let mut out = Vec::with_capacity(count.max(0) as usize);
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
    }

    #[test]
    fn resolution_is_conservative() {
        let set = HashSet::from([("app".to_string(), "bump".to_string())]);
        let v = Volatility::Known(set);
        assert!(v.may_be_volatile(Some("app"), "bump", None));
        assert!(!v.may_be_volatile(Some("other"), "bump", None));
        let path = vec!["pg_catalog".to_string(), "app".to_string()];
        assert!(v.may_be_volatile(None, "bump", Some(&path)));
        assert!(!v.may_be_volatile(None, "bump", Some(&["public".to_string()])));
        assert!(
            v.may_be_volatile(None, "bump", None),
            "unknown search_path: any schema"
        );
        assert!(Volatility::Unknown.may_be_volatile(None, "anything", None));
        assert!(!Volatility::Unknown.may_be_volatile(Some("pg_catalog"), "now", None));
    }
}
