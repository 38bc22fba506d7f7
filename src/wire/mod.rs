//! The PostgreSQL wire protocol as pgward needs it: its own framing (so every
//! length is checked before anything is buffered), the startup packets that
//! have no type byte, and encoders/decoders for the few messages pgward reads
//! or writes itself. Everything else crosses pgward as the bytes that arrived.

pub mod backend;
pub mod extended;
pub mod frame;
pub mod startup;
pub mod stream;

pub use frame::{Chunk, Disposition, Frame, FrameError, FrameScanner, Tag};
pub use stream::Stream;
