//! One end of a proxied session: its stream, what has been read from it and
//! not yet handled, and what is queued to be written to it.
//!
//! Reads and writes are offered as poll functions so the relay can wait on
//! both ends and both directions at once: a relay that awaited a write to
//! one side while that side was itself blocked writing to pgward would
//! deadlock (PostgreSQL does not read while its send buffer is full).

use bytes::{Buf, Bytes, BytesMut};
use std::collections::VecDeque;
use std::future::poll_fn;
use std::io::{self, IoSlice};
use std::pin::Pin;
use std::task::{ready, Context, Poll};
use tokio::io::AsyncWrite;

use crate::wire::{Chunk, Disposition, Frame, FrameError, FrameScanner, Stream};

/// Read buffer size; a read never asks for less than this much room.
const READ_CHUNK: usize = 16 * 1024;
/// Chunks handed to one vectored write.
const MAX_IOVECS: usize = 64;
/// Queues this short are written from a small array.
const FEW_IOVECS: usize = 4;

/// Points `slices` at the queue's first chunks; how many it filled.
fn fill_slices<'a>(wq: &'a VecDeque<Bytes>, slices: &mut [IoSlice<'a>]) -> usize {
    let mut n = 0;
    for (slot, c) in slices.iter_mut().zip(wq) {
        *slot = IoSlice::new(c);
        n += 1;
    }
    n
}

pub struct Peer {
    pub stream: Stream,
    pub rbuf: BytesMut,
    pub scanner: FrameScanner,
    /// Chunks waiting to be written to this peer, in order; the front one
    /// may be partly written already.
    wq: VecDeque<Bytes>,
    /// Bytes in `wq`.
    queued: usize,
    /// Something was written since the stream was last flushed.
    unflushed: bool,
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
            wq: VecDeque::with_capacity(8),
            queued: 0,
            unflushed: false,
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

    /// Gives the read buffer's memory back while the session waits with
    /// nothing buffered: an idle session then holds no read buffer, and the
    /// next read allocates one only once the socket is readable. Most
    /// sessions of a pool are idle most of the time, so this is what an idle
    /// session costs. Called once a session has stayed quiet a while
    /// (`relay::settle`), not at every pause.
    pub fn release_idle_buffer(&mut self) {
        if self.rbuf.is_empty() && self.rbuf.capacity() > 0 {
            crate::memory::note_released(self.rbuf.capacity());
            self.rbuf = BytesMut::new();
        }
        // The write queue grew to hold the login's burst of messages; an
        // empty one needs no slots until the next write.
        if self.wq.is_empty() && self.wq.capacity() > 0 {
            self.wq = VecDeque::new();
        }
    }

    /// Reads whatever is available into the read buffer; `Ok(0)` at end of
    /// stream. Registers for readiness when nothing is available.
    pub fn poll_read(&mut self, cx: &mut Context<'_>) -> Poll<io::Result<usize>> {
        let released = self.rbuf.capacity() == 0;
        if released {
            // Released while idle: wait for readiness before allocating.
            // Encrypted and in-process streams buffer inside themselves, so
            // only a plain socket can be asked without reading.
            if let Stream::Plain(tcp) = &self.stream {
                ready!(tcp.poll_read_ready(cx))?;
            }
        }
        self.prepare_read();
        match tokio_util::io::poll_read_buf(Pin::new(&mut self.stream), cx, &mut self.rbuf) {
            Poll::Ready(r) => {
                let n = r?;
                self.bytes_in += n as u64;
                Poll::Ready(Ok(n))
            }
            Poll::Pending => {
                // Readiness can be stale (nothing read since the socket
                // last had data): the buffer goes back until data is there.
                if released {
                    self.rbuf = BytesMut::new();
                }
                Poll::Pending
            }
        }
    }

    /// Reads whatever is available; `Closed` at end of stream.
    pub async fn read_more(&mut self) -> Result<usize, PeerError> {
        let n = poll_fn(|cx| self.poll_read(cx)).await?;
        if n == 0 {
            return Err(PeerError::Closed);
        }
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
        if b.is_empty() {
            return;
        }
        self.queued += b.len();
        self.wq.push_back(b);
    }

    /// Bytes queued and not yet written.
    pub fn queued(&self) -> usize {
        self.queued
    }

    /// True while queued bytes are unwritten or written bytes unflushed.
    pub fn wants_write(&self) -> bool {
        !self.wq.is_empty() || self.unflushed
    }

    /// Writes queued chunks (vectored, as few system calls as the stream
    /// allows) until the queue is empty, then flushes. Pending while the
    /// stream cannot take more; what was written so far stays written.
    pub fn poll_drain(&mut self, cx: &mut Context<'_>) -> Poll<io::Result<()>> {
        while !self.wq.is_empty() {
            // A drain mostly finds a chunk or two: an array for all
            // `MAX_IOVECS` would be filled on every write for nothing.
            let written = if self.wq.len() <= FEW_IOVECS {
                let mut slices = [IoSlice::new(&[]); FEW_IOVECS];
                let n = fill_slices(&self.wq, &mut slices);
                ready!(Pin::new(&mut self.stream).poll_write_vectored(cx, &slices[..n]))?
            } else {
                let mut slices = [IoSlice::new(&[]); MAX_IOVECS];
                let n = fill_slices(&self.wq, &mut slices);
                ready!(Pin::new(&mut self.stream).poll_write_vectored(cx, &slices[..n]))?
            };
            if written == 0 {
                return Poll::Ready(Err(io::ErrorKind::WriteZero.into()));
            }
            self.unflushed = true;
            self.bytes_out += written as u64;
            self.queued -= written;
            let mut left = written;
            while left > 0 {
                let Some(front) = self.wq.front_mut() else {
                    break;
                };
                if front.len() <= left {
                    left -= front.len();
                    self.wq.pop_front();
                } else {
                    front.advance(left);
                    left = 0;
                }
            }
        }
        if self.unflushed {
            ready!(Pin::new(&mut self.stream).poll_flush(cx))?;
            self.unflushed = false;
        }
        Poll::Ready(Ok(()))
    }

    /// Writes everything queued and flushes.
    pub async fn flush(&mut self) -> io::Result<()> {
        poll_fn(|cx| self.poll_drain(cx)).await
    }

    /// Best-effort final message and close, for ends where the peer may already be gone.
    pub async fn close_with(&mut self, last: Option<Bytes>) {
        use tokio::io::AsyncWriteExt;
        if let Some(b) = last {
            self.queue(b);
        }
        let _ = tokio::time::timeout(std::time::Duration::from_secs(2), async {
            let _ = self.flush().await;
            let _ = self.stream.shutdown().await;
        })
        .await;
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use tokio::io::AsyncReadExt;

    async fn pair() -> (Peer, tokio::net::TcpStream) {
        let l = tokio::net::TcpListener::bind("127.0.0.1:0")
            .await
            .expect("bind");
        let addr = l.local_addr().expect("addr");
        let (c, s) = tokio::join!(tokio::net::TcpStream::connect(addr), l.accept());
        (
            Peer::new(Stream::Plain(c.expect("connect")), 1 << 20),
            s.expect("accept").0,
        )
    }

    #[tokio::test]
    async fn drain_writes_every_chunk_in_order_across_partial_writes() {
        let (mut p, mut other) = pair().await;
        let mut expected = Vec::new();
        for i in 0..200u32 {
            let chunk: Vec<u8> = (0..(i * 97 % 5000 + 1)).map(|j| (i + j) as u8).collect();
            expected.extend_from_slice(&chunk);
            p.queue(Bytes::from(chunk));
        }
        p.queue(Bytes::new());
        assert_eq!(p.queued(), expected.len());
        let reader = tokio::spawn(async move {
            let mut got = vec![0u8; expected.len()];
            other.read_exact(&mut got).await.expect("read");
            assert_eq!(got, expected);
        });
        p.flush().await.expect("flush");
        assert_eq!(p.queued(), 0);
        assert!(!p.wants_write());
        reader.await.expect("reader");
    }
}
