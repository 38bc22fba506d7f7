//! Column masking at the wire.
//!
//! Masking rewrites result values after the server has produced them, so the
//! client still receives a well-formed result set. The one promise every part
//! of this module keeps is that a masked field is either SQL NULL or a valid
//! value of the column's type in the format the client asked for: a driver
//! that decodes an `int8` in binary, or a `timestamptz` in text, must never be
//! handed bytes it cannot decode. When a value that must be masked cannot be
//! understood, the field becomes NULL rather than passing the original bytes
//! through (fail closed); only a structurally broken message is an error.
//!
//! * [`function`]: the masking functions and their per-type behaviour.
//! * [`types`]: text and binary codecs for the supported types and arrays.
//! * [`row`]: rewriting of DataRow messages.
//! * [`copy`]: rewriting of `COPY ... TO STDOUT` streams.
//! * [`index`]: one profile's masks applied to a catalog snapshot.
//! * [`statement`]: what masking means for one request, decided up front.
//! * [`scrub`]: error and notice texts that could quote masked values.

pub mod copy;
pub mod function;
pub mod index;
pub mod opaque;
pub mod row;
pub mod scrub;
pub mod staleness;
pub mod statement;
pub mod types;

pub use copy::{CopyError, CopyFormat, CopyMasker, DEFAULT_MAX_COPY_ROW};
pub use function::{DateUnit, Format, MaskFn, Masked};
pub use row::{rewrite_data_row, ColumnMask, RowError, RowPlan};

/// Why a single value could not be masked.
///
/// Callers treat this as "emit NULL for this field": it describes bad value
/// bytes, not a broken message, so it never ends a connection by itself.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum MaskError {
    #[error("malformed {type_name} value: {reason}")]
    Malformed {
        type_name: &'static str,
        reason: &'static str,
    },
}

impl MaskError {
    pub(crate) fn malformed(type_name: &'static str, reason: &'static str) -> Self {
        MaskError::Malformed { type_name, reason }
    }
}
