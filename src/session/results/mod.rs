//! Which rows are arriving, and how they are masked.
//!
//! The server answers frontend messages strictly in order, so the relay keeps
//! a queue of what each forwarded message will be answered with (ParseComplete,
//! a row description, the rows of an Execute, ReadyForQuery, ...). From it,
//! every DataRow is matched to its RowDescription and result formats — also
//! in the extended protocol, where an Execute's rows come with no
//! RowDescription at all — and every COPY stream to the statement that
//! started it. Before an Execute whose portal and statement the client never
//! had described, pgward asks the server to describe the portal itself (and
//! swallows the answer), so the columns of every row are known.
//!
//! This runs only for sessions whose profile has masks. With a description
//! that masks nothing, DataRows are forwarded as the bytes that arrived.

use bytes::{BufMut, Bytes, BytesMut};
use std::collections::VecDeque;
use std::sync::Arc;

use crate::catalog::Snapshot;
use crate::mask::copy::{CopyFormat, CopyMasker};
use crate::mask::index::MaskIndex;
use crate::mask::row::{rewrite_data_row, ColumnMask};
use crate::mask::statement::{CopyColumns, StatementMasking};
use crate::mask::{Format, MaskFn};
use crate::sql::lineage::CopyFormatKind;
use crate::wire::extended::{self, FieldDesc, ResultFormats};
use crate::wire::frame::put_frame;
use crate::wire::Frame;

mod plan;
use super::names::ByName;
use plan::{reparsed, Plan, Planned, QueryPlanned};

#[derive(Debug, thiserror::Error)]
pub enum ResultsError {
    #[error("malformed {0} message")]
    Malformed(&'static str),
    #[error("server: malformed {0} message")]
    ServerMalformed(&'static str),
    #[error("server: {0}")]
    Row(#[from] crate::mask::row::RowError),
    #[error("server: {0}")]
    Copy(#[from] crate::mask::copy::CopyError),
}

type Desc = Arc<Vec<FieldDesc>>;
/// A RowDescription as it arrived, and parsed.
type PortalRows = (Box<[u8]>, Desc);

/// What a forwarded frontend message will be answered with.
enum Pending {
    Parse {
        name: Bytes,
        masking: Arc<StatementMasking>,
    },
    Bind {
        portal: Bytes,
        statement: Bytes,
        formats: ResultFormats,
    },
    DescribeStatement {
        name: Bytes,
        injected: bool,
    },
    DescribePortal {
        name: Bytes,
        injected: bool,
    },
    Execute {
        portal: Bytes,
    },
    Close {
        kind: u8,
        name: Bytes,
    },
    Sync,
    Query {
        masking: Arc<StatementMasking>,
    },
    FunctionCall,
}

struct StatementInfo {
    masking: Arc<StatementMasking>,
    /// `None` until described; `Some(None)` for a statement returning no rows.
    desc: Option<Option<Desc>>,
    /// The plan last built for this statement's rows: a prepared statement
    /// executed many times is planned once per catalog, policy and format.
    planned: Option<Planned>,
    /// The RowDescription last sent for one of its portals, as it arrived
    /// and parsed: drivers such as libpq have every portal described
    /// anew, and the same bytes need not be parsed again.
    portal_rows: Option<PortalRows>,
}

struct PortalInfo {
    masking: Arc<StatementMasking>,
    desc: Option<Option<Desc>>,
    formats: ResultFormats,
    /// The statement it was bound from, whose plan it may share.
    statement: Bytes,
}

/// What the relay does with a backend message.
pub enum Action {
    Forward,
    Replace(Bytes),
    /// The rewritten message was appended to the caller's output buffer
    /// (rows are many and small: one buffer, not one allocation each).
    Written,
    Swallow,
}

/// The catalog view a plan is built from.
pub struct View<'a> {
    pub snapshot: &'a Arc<Snapshot>,
    pub index: &'a Arc<MaskIndex>,
}

#[derive(Default)]
pub struct ResultMasker {
    pending: VecDeque<Pending>,
    statements: ByName<StatementInfo>,
    portals: ByName<PortalInfo>,
    plan: Option<Plan>,
    query_planned: Option<QueryPlanned>,
    copy: Option<CopyMasker>,
    /// A cursor was declared over masked data (or a user function could
    /// have opened one): computed columns fetched from cursors are masked.
    cursor_taint: bool,
    /// The catalog lacked a relation or column a result named.
    pub saw_unknown: bool,
    /// Frontend view: statements the client has asked to describe since
    /// they were (re)parsed.
    described_statements: ByName<()>,
    /// Frontend view: bound portals, and whether their columns will have
    /// been described (by the client or by pgward) before rows arrive.
    bound: ByName<bool>,
}

fn unknown_masking() -> Arc<StatementMasking> {
    Arc::new(StatementMasking {
        derived: true,
        scrub_messages: true,
        ..StatementMasking::default()
    })
}

fn put(out: &mut BytesMut, tag: u8, body: &[u8]) {
    put_frame(out, tag, body);
}

impl ResultMasker {
    pub fn new() -> Self {
        ResultMasker::default()
    }

    /// Is a DataRow now arriving to be rewritten? (Decides whether the frame
    /// scanner collects DataRows whole or streams them through.)
    pub fn rewrites_rows(&self) -> bool {
        matches!(self.plan, Some(Plan::Mask(_) | Plan::AllNull))
    }

    pub fn rewrites_copy(&self) -> bool {
        self.copy.is_some()
    }

    /// Follows a frontend message. `masking` is the guard's result for Query
    /// and Parse. Returns a frame to send right before it, if any.
    pub fn frontend(
        &mut self,
        frame: &Frame,
        masking: Option<Arc<StatementMasking>>,
    ) -> Result<Option<Bytes>, ResultsError> {
        let body = frame.body();
        match frame.tag() {
            b'Q' => {
                let masking = masking.unwrap_or_else(unknown_masking);
                self.cursor_taint |= masking.taints_cursors;
                self.pending.push_back(Pending::Query { masking });
            }
            b'P' => {
                let name = Bytes::copy_from_slice(
                    extended::parse_name(body).ok_or(ResultsError::Malformed("Parse"))?,
                );
                let masking = masking.unwrap_or_else(unknown_masking);
                self.cursor_taint |= masking.taints_cursors;
                self.pending.push_back(Pending::Parse {
                    name: name.clone(),
                    masking,
                });
                self.described_statements.remove(&name);
            }
            b'B' => {
                let bind = extended::bind(body).ok_or(ResultsError::Malformed("Bind"))?;
                // A prepared statement's name is shared with its entry, not
                // copied per Bind.
                let statement = match self.statements.get_key_value(bind.statement) {
                    Some((name, _)) => name.clone(),
                    None => Bytes::copy_from_slice(bind.statement),
                };
                let described = self.described_statements.contains(&statement);
                let portal = Bytes::copy_from_slice(bind.portal);
                self.bound.insert(portal.clone(), described);
                self.pending.push_back(Pending::Bind {
                    portal,
                    statement,
                    formats: bind.result_formats,
                });
            }
            b'D' => {
                let (kind, name) =
                    extended::target(body).ok_or(ResultsError::Malformed("Describe"))?;
                let name = Bytes::copy_from_slice(name);
                self.pending.push_back(if kind == b'S' {
                    self.described_statements.insert(name.clone(), ());
                    Pending::DescribeStatement {
                        name,
                        injected: false,
                    }
                } else {
                    self.bound.insert(name.clone(), true);
                    Pending::DescribePortal {
                        name,
                        injected: false,
                    }
                });
            }
            b'E' => {
                let portal = Bytes::copy_from_slice(
                    extended::execute_portal(body).ok_or(ResultsError::Malformed("Execute"))?,
                );
                // Rows of an Execute come without a RowDescription: if the
                // client has not had the portal or its statement described,
                // pgward asks (and swallows the answer).
                let injected = match self.bound.get_mut(&portal) {
                    Some(true) => None,
                    _ => {
                        self.bound.insert(portal.clone(), true);
                        self.pending.push_back(Pending::DescribePortal {
                            name: portal.clone(),
                            injected: true,
                        });
                        let mut b = Vec::with_capacity(portal.len() + 2);
                        b.push(b'P');
                        b.extend_from_slice(&portal);
                        b.push(0);
                        let mut d = BytesMut::with_capacity(b.len() + 5);
                        put(&mut d, b'D', &b);
                        Some(d.freeze())
                    }
                };
                self.pending.push_back(Pending::Execute { portal });
                return Ok(injected);
            }
            b'C' => {
                let (kind, name) =
                    extended::target(body).ok_or(ResultsError::Malformed("Close"))?;
                let name = Bytes::copy_from_slice(name);
                if kind == b'S' {
                    self.described_statements.remove(&name);
                } else {
                    self.bound.remove(&name);
                }
                self.pending.push_back(Pending::Close { kind, name });
            }
            b'S' => self.pending.push_back(Pending::Sync),
            b'F' => self.pending.push_back(Pending::FunctionCall),
            _ => {}
        }
        Ok(None)
    }

    fn front_masking(&self) -> Option<Arc<StatementMasking>> {
        match self.pending.front()? {
            Pending::Query { masking } | Pending::Parse { masking, .. } => {
                Some(Arc::clone(masking))
            }
            Pending::Execute { portal } => Some(
                self.portals
                    .get(portal)
                    .map(|p| Arc::clone(&p.masking))
                    .unwrap_or_else(unknown_masking),
            ),
            Pending::Bind { statement, .. } => Some(
                self.statements
                    .get(statement)
                    .map(|s| Arc::clone(&s.masking))
                    .unwrap_or_else(unknown_masking),
            ),
            _ => None,
        }
    }

    /// After the head of the queue is answered: the rows of an Execute come
    /// with no RowDescription, so its plan is set when it reaches the head.
    /// Records the answer to a Describe at the head of the queue (a
    /// RowDescription, or `None` for NoData) on its statement or portal,
    /// and whether the Describe was pgward's own (its answer is not the
    /// client's); the description back when the head is not a Describe.
    fn describe_answered(
        &mut self,
        view: &View<'_>,
        desc: Option<Desc>,
    ) -> Result<bool, Option<Desc>> {
        let injected = match self.pending.front() {
            Some(Pending::DescribeStatement { name, injected }) => {
                if let Some(s) = self.statements.get_mut(name) {
                    s.desc = Some(desc);
                }
                *injected
            }
            Some(Pending::DescribePortal { name, injected }) => {
                if let Some(p) = self.portals.get_mut(name) {
                    p.desc = Some(desc);
                }
                *injected
            }
            _ => return Err(desc),
        };
        self.advance(view);
        Ok(injected)
    }

    fn advance(&mut self, view: &View<'_>) {
        self.pending.pop_front();
        self.plan_for_head(view);
    }

    /// Follows a backend message and says what to forward.
    pub fn backend(
        &mut self,
        frame: &Frame,
        view: &View<'_>,
        out: &mut BytesMut,
    ) -> Result<Action, ResultsError> {
        let body = frame.body();
        match frame.tag() {
            b'D' => {
                return match &self.plan {
                    Some(Plan::Mask(plan)) => {
                        rewrite_data_row(body, plan, out)?;
                        Ok(Action::Written)
                    }
                    Some(Plan::AllNull) => {
                        all_null_row(body, out)?;
                        Ok(Action::Written)
                    }
                    _ => Ok(Action::Forward),
                };
            }
            b'd' => {
                if let Some(c) = self.copy.as_mut() {
                    c.feed(body, out)?;
                    return Ok(Action::Written);
                }
            }
            b'c' => {
                if let Some(mut c) = self.copy.take() {
                    c.finish(out)?;
                    out.extend_from_slice(frame.as_bytes());
                    return Ok(Action::Written);
                }
            }
            b'H' => {
                let (format, n) = extended::copy_out_response(body)
                    .ok_or(ResultsError::ServerMalformed("CopyOutResponse"))?;
                self.copy = self.copy_masker(format, n);
            }
            b'T' => {
                if let Some(plan) = self.kept_query_plan(body, view) {
                    self.plan = Some(plan);
                    return Ok(Action::Forward);
                }
                let desc = self.description(body)?;
                match self.describe_answered(view, Some(desc)) {
                    Ok(true) => return Ok(Action::Swallow),
                    Ok(false) | Err(None) => {}
                    Err(Some(desc)) => self.plan = Some(self.plan_rows(view, body, &desc)),
                }
            }
            b't' => {
                if let Some(Pending::DescribeStatement { injected: true, .. }) =
                    self.pending.front()
                {
                    return Ok(Action::Swallow);
                }
            }
            b'n' => {
                if let Ok(true) = self.describe_answered(view, None) {
                    return Ok(Action::Swallow);
                }
            }
            b'1' => {
                if let Some(Pending::Parse { name, masking }) = self.pending.front() {
                    let (planned, portal_rows) = reparsed(&mut self.statements, name, masking);
                    self.statements.insert(
                        name.clone(),
                        StatementInfo {
                            masking: Arc::clone(masking),
                            desc: None,
                            planned,
                            portal_rows,
                        },
                    );
                }
                self.advance(view);
            }
            b'2' => {
                if let Some(Pending::Bind {
                    portal,
                    statement,
                    formats,
                }) = self.pending.front_mut()
                {
                    let formats = std::mem::take(formats);
                    let statement = statement.clone();
                    let info = match self.statements.get(&statement) {
                        Some(s) => PortalInfo {
                            masking: Arc::clone(&s.masking),
                            desc: s.desc.clone(),
                            formats,
                            statement,
                        },
                        None => PortalInfo {
                            masking: unknown_masking(),
                            desc: None,
                            formats,
                            statement,
                        },
                    };
                    self.portals.insert(portal.clone(), info);
                }
                self.advance(view);
            }
            b'3' => {
                if let Some(Pending::Close { kind, name }) = self.pending.front() {
                    if *kind == b'S' {
                        self.statements.remove(name);
                    } else {
                        self.portals.remove(name);
                    }
                }
                self.advance(view);
            }
            b'C' | b's' | b'I' => match self.pending.front() {
                Some(Pending::Execute { .. }) => self.advance(view),
                _ => self.plan = None,
            },
            b'E' | b'N' => {
                let scrub = self.front_masking().is_none_or(|m| m.scrub_messages);
                if frame.tag() == b'E' {
                    self.plan = None;
                    self.copy = None;
                    // An error skips the rest of an extended batch, up to Sync.
                    while let Some(p) = self.pending.front() {
                        if matches!(
                            p,
                            Pending::Sync | Pending::Query { .. } | Pending::FunctionCall
                        ) {
                            break;
                        }
                        self.pending.pop_front();
                    }
                }
                if scrub && !self.pending.is_empty() {
                    return Ok(Action::Replace(
                        crate::mask::scrub::scrub(frame.tag(), body)
                            .ok_or(ResultsError::ServerMalformed("ErrorResponse"))?,
                    ));
                }
            }
            b'Z' => {
                while let Some(p) = self.pending.pop_front() {
                    if matches!(
                        p,
                        Pending::Sync | Pending::Query { .. } | Pending::FunctionCall
                    ) {
                        break;
                    }
                }
                self.plan = None;
                self.copy = None;
                if body.first() == Some(&b'I') {
                    // Portals end with their transaction.
                    self.portals.clear();
                }
                // Pipelined batches: the next batch's first message is now the head.
                self.plan_for_head(view);
            }
            _ => {}
        }
        Ok(Action::Forward)
    }

    /// A RowDescription's columns. When it answers a Describe of a portal
    /// whose statement's portals were last described with these very
    /// bytes, the columns parsed then are shared.
    fn description(&mut self, body: &[u8]) -> Result<Desc, ResultsError> {
        let statement = match self.pending.front() {
            Some(Pending::DescribePortal { name, .. }) => self
                .portals
                .get(name)
                .and_then(|p| self.statements.get_mut(&p.statement)),
            _ => None,
        };
        if let Some((_, desc)) = statement
            .as_ref()
            .and_then(|s| s.portal_rows.as_ref())
            .filter(|(rows, _)| **rows == *body)
        {
            return Ok(Arc::clone(desc));
        }
        let desc = Arc::new(
            extended::row_description(body)
                .ok_or(ResultsError::ServerMalformed("RowDescription"))?,
        );
        if let Some(s) = statement {
            s.portal_rows = Some((body.into(), Arc::clone(&desc)));
        }
        Ok(desc)
    }

    fn copy_masker(&self, format: u8, n: usize) -> Option<CopyMasker> {
        let masking = self.front_masking().unwrap_or_else(unknown_masking);
        let plan = masking.copy.as_ref();
        let columns: Vec<Option<ColumnMask>> = match plan.map(|p| &p.columns) {
            Some(CopyColumns::Each(v))
                if v.iter().all(Option::is_none) && (v.len() == n || v.is_empty()) =>
            {
                return None
            }
            Some(CopyColumns::Each(v)) if v.len() == n => v
                .iter()
                .map(|c| {
                    c.as_ref().map(|c| ColumnMask {
                        func: Arc::clone(&c.function),
                        type_oid: c.type_oid,
                        format: Format::Text,
                    })
                })
                .collect(),
            None if !masking.derived && !masking.scrub_messages => return None,
            _ => (0..n)
                .map(|_| {
                    Some(ColumnMask {
                        func: Arc::new(MaskFn::Null),
                        type_oid: 0,
                        format: Format::Text,
                    })
                })
                .collect(),
        };
        let fmt = match (format, plan) {
            (1, _) => CopyFormat::Binary,
            (_, Some(p)) if p.kind == CopyFormatKind::Csv => CopyFormat::Csv {
                delimiter: p.delimiter,
                quote: p.quote,
                escape: p.escape,
                null: p.null.clone(),
                header: p.header,
            },
            (_, Some(p)) => CopyFormat::Text {
                delimiter: p.delimiter,
                null: p.null.clone(),
                header: p.header,
            },
            (_, None) => CopyFormat::text(),
        };
        Some(CopyMasker::new(fmt, columns))
    }
}

/// Appends a DataRow with the same number of columns, all NULL.
fn all_null_row(body: &[u8], out: &mut BytesMut) -> Result<(), ResultsError> {
    let n = body
        .get(..2)
        .map(|b| i16::from_be_bytes([b[0], b[1]]))
        .filter(|n| *n >= 0)
        .ok_or(ResultsError::ServerMalformed("DataRow"))?;
    out.reserve(7 + n as usize * 4);
    out.put_u8(b'D');
    out.put_i32(4 + 2 + 4 * i32::from(n));
    out.put_i16(n);
    for _ in 0..n {
        out.put_i32(-1);
    }
    Ok(())
}

#[cfg(test)]
mod tests;
