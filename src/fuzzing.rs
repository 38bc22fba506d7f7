//! Entry points for the fuzz targets in `fuzz/`: thin wrappers over the few
//! crate-private parsers the targets need, so the modules themselves stay
//! closed. Not an API: nothing outside `fuzz/` should use it.

use crate::wire::frame::{Disposition, Frame, FrameScanner, HEADER_LEN};

/// The body of a Query: its SQL, or `None` if the frame is malformed.
pub fn query_text(body: &[u8]) -> Option<&[u8]> {
    crate::session::guard::query_text(body)
}

/// The name, SQL and parameter-type section of a Parse body.
pub fn parse_fields(body: &[u8]) -> Option<(&[u8], &[u8], &[u8])> {
    crate::session::guard::parse_fields(body)
}

/// Which frames the relay collects whole, per direction and session mode.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum RelayMode {
    /// Frontend, no policy: Query, Parse, FunctionCall and Terminate.
    Frontend,
    /// Frontend with a guard: also Sync.
    FrontendGuarded,
    /// Frontend with a guard following portals: also Bind, Execute, Close.
    FrontendPortals,
    /// Frontend with masks or statement tracking: every message with a reply.
    FrontendFollowed,
    /// Backend, no policy: ReadyForQuery and ErrorResponse.
    Backend,
    /// Backend with a guard: also ParameterStatus.
    BackendGuarded,
    /// Backend with statement tracking: also the completion messages.
    BackendTracked,
}

impl RelayMode {
    pub const ALL: [RelayMode; 7] = [
        RelayMode::Frontend,
        RelayMode::FrontendGuarded,
        RelayMode::FrontendPortals,
        RelayMode::FrontendFollowed,
        RelayMode::Backend,
        RelayMode::BackendGuarded,
        RelayMode::BackendTracked,
    ];

    /// The relay's disposition function for this mode.
    pub fn disposition(self) -> fn(u8) -> Disposition {
        use crate::session::relay::dispositions as d;
        match self {
            RelayMode::Frontend => d::frontend,
            RelayMode::FrontendGuarded => d::guarded_frontend,
            RelayMode::FrontendPortals => d::portal_frontend,
            RelayMode::FrontendFollowed => d::followed_frontend,
            RelayMode::Backend => d::backend,
            RelayMode::BackendGuarded => d::guarded_backend,
            RelayMode::BackendTracked => d::tracked_backend,
        }
    }
}

/// A frame built from a type byte and a body, as the scanner would have cut it.
pub fn frame(tag: u8, body: &[u8]) -> Frame {
    let mut out = bytes::BytesMut::with_capacity(HEADER_LEN + body.len());
    crate::wire::frame::put_frame(&mut out, tag, body);
    // The scanner is the only way to make a Frame: it checks what it cuts.
    let mut s = FrameScanner::new(usize::MAX >> 1);
    match s.next_chunk(&mut out, |_| Disposition::Whole) {
        Ok(Some(crate::wire::Chunk::Frame(f))) => f,
        _ => unreachable!("put_frame writes one complete frame"),
    }
}

/// Cuts `input` into whole frames; stops at the first incomplete or invalid one.
pub fn frames(input: &[u8], max_len: usize) -> Vec<Frame> {
    let mut buf = bytes::BytesMut::from(input);
    let mut s = FrameScanner::new(max_len);
    let mut out = Vec::new();
    while let Ok(Some(crate::wire::Chunk::Frame(f))) =
        s.next_chunk(&mut buf, |_| Disposition::Whole)
    {
        out.push(f);
    }
    out
}
