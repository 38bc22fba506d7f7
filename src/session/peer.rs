//! One end of a proxied session: its stream, what has been read from it and
//! not yet handled, and what is queued to be written to it.

use bytes::{Bytes, BytesMut};
use tokio::io::AsyncReadExt;

use crate::wire::stream::write_chunks;
use crate::wire::{Chunk, Disposition, Frame, FrameError, FrameScanner, Stream};

/// Read buffer size; a read never asks for less than this much room.
const READ_CHUNK: usize = 16 * 1024;

pub struct Peer {
    pub stream: Stream,
    pub rbuf: BytesMut,
    pub scanner: FrameScanner,
    /// Chunks waiting to be written to this peer, in order.
    pub wq: Vec<Bytes>,
    /// Bytes received from this peer.
    pub bytes_in: u64,
    /// Bytes written to this peer.
    pub bytes_out: u64,
}

#[derive(Debug, thiserror::Error)]
pub enum PeerError {
    #[error(transparent)]
    Frame(#[from] FrameError),
    #[error("connection closed")]
    Closed,
    #[error("{0}")]
    Io(#[from] std::io::Error),
}

impl Peer {
    pub fn new(stream: Stream, max_len: usize) -> Self {
        Peer {
            stream,
            rbuf: BytesMut::with_capacity(READ_CHUNK),
            scanner: FrameScanner::new(max_len),
            wq: Vec::with_capacity(8),
            bytes_in: 0,
            bytes_out: 0,
        }
    }

    /// Makes sure the next read has room, reusing the buffer's allocation
    /// once the chunks split off it have been written and dropped.
    pub fn prepare_read(&mut self) {
        if self.rbuf.capacity() - self.rbuf.len() < READ_CHUNK / 2 {
            self.rbuf.reserve(READ_CHUNK);
        }
    }

    /// Reads whatever is available; `Closed` at end of stream.
    pub async fn read_more(&mut self) -> Result<usize, PeerError> {
        self.prepare_read();
        let n = self.stream.read_buf(&mut self.rbuf).await?;
        if n == 0 {
            return Err(PeerError::Closed);
        }
        self.bytes_in += n as u64;
        Ok(n)
    }

    /// Next complete frame, reading as needed (used while every message must be seen).
    pub async fn next_frame(&mut self) -> Result<Frame, PeerError> {
        loop {
            if let Some(Chunk::Frame(f)) = self
                .scanner
                .next_chunk(&mut self.rbuf, |_| Disposition::Whole)?
            {
                return Ok(f);
            }
            self.read_more().await?;
        }
    }

    /// True if a complete frame is already buffered (no read needed).
    pub fn has_frame(&self) -> bool {
        if self.rbuf.len() < 5 {
            return false;
        }
        let len = i32::from_be_bytes([self.rbuf[1], self.rbuf[2], self.rbuf[3], self.rbuf[4]]);
        len >= 4 && self.rbuf.len() > len as usize
    }

    pub fn queue(&mut self, b: Bytes) {
        self.wq.push(b);
    }

    /// Writes everything queued and flushes.
    pub async fn flush(&mut self) -> std::io::Result<()> {
        if self.wq.is_empty() {
            return Ok(());
        }
        self.bytes_out += self.wq.iter().map(|b| b.len() as u64).sum::<u64>();
        write_chunks(&mut self.stream, &mut self.wq).await
    }

    /// Best-effort final message and close, for ends where the peer may already be gone.
    pub async fn close_with(&mut self, last: Option<Bytes>) {
        use tokio::io::AsyncWriteExt;
        if let Some(b) = last {
            self.wq.push(b);
        }
        let _ = tokio::time::timeout(std::time::Duration::from_secs(2), async {
            let _ = self.flush().await;
            let _ = self.stream.shutdown().await;
        })
        .await;
    }
}
