//! Which messages the relay must see whole, decided from the type byte
//! alone. Everything else passes as the bytes that arrived (zero copy, and
//! streamed in pieces when large).

use crate::wire::Disposition;

/// Frontend message types pgward knows. Query, Parse and FunctionCall are
/// collected whole so a decision can be taken before any byte reaches the
/// server; Terminate so the session knows it is ending.
pub fn frontend(tag: u8) -> Disposition {
    match tag {
        b'Q' | b'P' | b'F' | b'X' => Disposition::Whole,
        b'B' | b'E' | b'D' | b'C' | b'S' | b'H' | b'd' | b'c' | b'f' | b'p' => Disposition::Pass,
        _ => Disposition::Reject,
    }
}

/// With a guard, Sync is also seen (it ends a batch of extended-protocol messages).
pub fn guarded_frontend(tag: u8) -> Disposition {
    match tag {
        b'S' => Disposition::Whole,
        t => frontend(t),
    }
}

/// With a guard following prepared statements whose execution changes
/// session settings: Bind, Execute and Close too.
pub fn portal_frontend(tag: u8) -> Disposition {
    match tag {
        b'B' | b'E' | b'C' => Disposition::Whole,
        t => guarded_frontend(t),
    }
}

/// With masks, or while statements are tracked for audit or metrics, every
/// message that gets a reply is followed, so each reply (rows above all) can
/// be matched to the request it answers.
pub fn followed_frontend(tag: u8) -> Disposition {
    match tag {
        b'B' | b'D' | b'E' | b'C' | b'S' => Disposition::Whole,
        t => frontend(t),
    }
}

/// Backend types followed: ReadyForQuery (transaction state, idle timers) and
/// ErrorResponse (a FATAL means the server is about to close).
pub fn backend(tag: u8) -> Disposition {
    match tag {
        b'Z' | b'E' => Disposition::Whole,
        _ => Disposition::Pass,
    }
}

/// With a guard, ParameterStatus is also followed (string-literal syntax and
/// client encoding decide how SQL must be parsed).
pub fn guarded_backend(tag: u8) -> Disposition {
    match tag {
        b'S' => Disposition::Whole,
        t => backend(t),
    }
}

/// While statements are tracked: the replies that complete one, and
/// ParameterStatus (application_name is the tool).
pub fn tracked_backend(tag: u8) -> Disposition {
    match tag {
        b'1' | b'C' | b'I' | b's' | b'V' | b'S' => Disposition::Whole,
        t => backend(t),
    }
}
