//! An OTLP export request made of the records as the writer encoded them.
//!
//! The request's enclosing fields are written on their own and the records
//! are referred to where they already are — in the batches the writer
//! handed over, or in a buffer the spool's lines were encoded into — so the
//! transport's buffer is the only place a request's bytes are copied to,
//! instead of first being gathered into one batch and then copied again.

use bytes::{BufMut, Bytes};
use prost::encoding::WireType;
use std::sync::Arc;

use super::handoff::Written;
use super::otlp_wire::{request_head, ResourceInfo};

/// Some of a request's records.
#[derive(Debug)]
pub(crate) enum Part {
    /// Records `from..to` of a batch the writer handed over.
    Handed {
        written: Arc<Written>,
        from: usize,
        to: usize,
    },
    /// Records encoded from events read back from the spool.
    Read(Bytes),
}

impl Part {
    fn bytes(&self) -> &[u8] {
        match self {
            Part::Handed { written, from, to } => written.records.slice(*from, *to),
            Part::Read(b) => b,
        }
    }
}

/// The records gathered for one request, in order.
#[derive(Debug, Default)]
pub(crate) struct RecordParts {
    parts: Vec<Part>,
    len: usize,
}

impl RecordParts {
    pub fn push(&mut self, part: Part) {
        let n = part.bytes().len();
        if n > 0 {
            self.len += n;
            self.parts.push(part);
        }
    }

    /// Bytes of records.
    pub fn len(&self) -> usize {
        self.len
    }
}

/// An encoded export request, sent as it is: tonic's codec asks a message
/// for its bytes, and these are them. Cloned per attempt without copying.
#[derive(Clone, Debug, Default)]
pub struct EncodedLogs {
    head: Bytes,
    parts: Arc<[Part]>,
    len: usize,
}

impl EncodedLogs {
    /// The request around `records`.
    pub(crate) fn new(res: &ResourceInfo, records: RecordParts) -> EncodedLogs {
        let head = Bytes::from(request_head(res, records.len));
        EncodedLogs {
            len: head.len() + records.len,
            head,
            parts: records.parts.into(),
        }
    }

    /// A request already encoded in one piece.
    pub fn whole(request: Bytes) -> EncodedLogs {
        EncodedLogs {
            len: request.len(),
            head: request,
            parts: Arc::new([]),
        }
    }

    /// The request in one buffer, for a transport that needs it so.
    pub fn to_bytes(&self) -> Bytes {
        if self.parts.is_empty() {
            return self.head.clone();
        }
        let mut b = Vec::with_capacity(self.len);
        self.put(&mut b);
        Bytes::from(b)
    }

    fn put(&self, buf: &mut impl BufMut) {
        buf.put_slice(&self.head);
        for p in self.parts.iter() {
            buf.put_slice(p.bytes());
        }
    }
}

impl prost::Message for EncodedLogs {
    fn encode_raw(&self, buf: &mut impl BufMut) {
        self.put(buf);
    }

    fn merge_field(
        &mut self,
        tag: u32,
        wire_type: WireType,
        buf: &mut impl bytes::Buf,
        ctx: prost::encoding::DecodeContext,
    ) -> Result<(), prost::DecodeError> {
        // Only ever sent, never received; decoding skips everything.
        prost::encoding::skip_field(wire_type, tag, buf, ctx)
    }

    fn encoded_len(&self) -> usize {
        self.len
    }

    fn clear(&mut self) {
        *self = EncodedLogs::default();
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::audit::event::{attr, AuditEvent, EventKind};
    use crate::audit::otlp::to_request;
    use crate::audit::otlp_wire::{request, Records};
    use crate::audit::spool::Pos;
    use opentelemetry_proto::tonic::collector::logs::v1::ExportLogsServiceRequest;
    use prost::Message;

    fn res() -> ResourceInfo {
        ResourceInfo {
            service_instance_id: "instance-1".into(),
        }
    }

    fn events(n: usize) -> Vec<AuditEvent> {
        (0..n)
            .map(|i| {
                AuditEvent::new(EventKind::Statement)
                    .with(attr::ROWS, i as i64)
                    .with(attr::DB_QUERY_TEXT, "x".repeat(i * 37))
            })
            .collect()
    }

    fn handed(evs: &[AuditEvent]) -> Arc<Written> {
        let records: Records = evs.iter().collect();
        let ends: Vec<usize> = (1..=evs.len()).collect();
        Arc::new(Written::new(Arc::new(records), Pos::default(), &ends))
    }

    /// Parts from handed batches and from the spool, in any cut, make the
    /// request the records copied into one buffer make, at sizes where a
    /// length's varint grows; and it decodes to what the generated types
    /// build.
    #[test]
    fn a_request_of_parts_is_the_request_of_its_records_copied() {
        for n in [0usize, 1, 3, 4, 40, 130] {
            let evs = events(n);
            let a = handed(&evs[..n / 2]);
            let b = handed(&evs[n / 2..]);
            let read: Records = evs[n / 2..].iter().collect();
            let mut parts = RecordParts::default();
            parts.push(Part::Handed {
                written: Arc::clone(&a),
                from: 0,
                to: n / 2,
            });
            parts.push(Part::Read(Bytes::from(read.bytes.clone())));
            parts.push(Part::Handed {
                written: Arc::clone(&b),
                from: 0,
                to: 0,
            });
            let req = EncodedLogs::new(&res(), parts);
            let copied: Vec<u8> = [a.records.slice(0, n / 2), &read.bytes].concat();
            let want = request(&res(), &copied);
            assert_eq!(req.encoded_len(), want.len(), "{n} events");
            assert_eq!(req.encode_to_vec(), want.to_vec(), "{n} events");
            assert_eq!(req.to_bytes(), want, "{n} events");
            assert_eq!(req.clone().to_bytes(), want, "a clone is the same request");
            let decoded = ExportLogsServiceRequest::decode(want.as_ref());
            assert_eq!(decoded.ok(), Some(to_request(&evs, &res())), "{n} events");
        }
    }

    #[test]
    fn a_whole_request_goes_out_byte_for_byte() {
        let body = request(&res(), &[]);
        let m = EncodedLogs::whole(body.clone());
        assert_eq!(m.encode_to_vec(), body.to_vec());
        assert_eq!(m.encoded_len(), body.len());
        assert_eq!(m.to_bytes(), body);
    }
}
