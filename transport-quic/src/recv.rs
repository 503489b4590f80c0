//! The receiving half of a connection: every stream the peer opens is read
//! by the connection's one `recv`, which takes a frame from whichever
//! stream has one (in turn, so that no lane starves the others) and reads
//! more only when none has. No task or channel stands between a stream and
//! the node: a frame costs a decode, not a hand-over.

use std::fmt;
use std::future::{poll_fn, Future};
use std::pin::pin;
use std::task::{Context, Poll};

use async_trait::async_trait;
use beamish_core::dist::FrameCodec;
use beamish_core::transport::{FrameStream, Incoming, TransportError};
use bytes::{Bytes, BytesMut};
use tokio::io::AsyncReadExt;
use tokio::sync::mpsc;

use crate::codes::{BROKEN, CLOSED};

/// How much a stream reads at a time, at least.
const READ: usize = 64 * 1024;

/// What the task accepting the peer's streams reports.
enum Accepted {
    Stream(quinn::RecvStream),
    /// The connection ended: `None` in order, or why it was lost.
    End(Option<String>),
}

/// Starts accepting the peer's streams for the returned receiving half.
pub(crate) fn frames(conn: quinn::Connection, codec: FrameCodec) -> QuicFrames {
    let (found, accepted) = mpsc::unbounded_channel();
    tokio::spawn(accept(conn.clone(), found));
    QuicFrames {
        conn,
        codec,
        accepted,
        streams: Vec::new(),
        turn: 0,
        ending: None,
        ended: None,
    }
}

/// Hands over the peer's streams as they open, then how the connection
/// ended; stops early if the receiving half is dropped.
async fn accept(conn: quinn::Connection, found: mpsc::UnboundedSender<Accepted>) {
    loop {
        let accepted = tokio::select! {
            accepted = conn.accept_uni() => accepted,
            () = found.closed() => return,
        };
        match accepted {
            Ok(stream) => {
                if found.send(Accepted::Stream(stream)).is_err() {
                    return;
                }
            }
            Err(err) => {
                let _ = found.send(Accepted::End(lost(err)));
                return;
            }
        }
    }
}

/// `None` for an orderly close (ours or the peer's), else why it was lost.
fn lost(err: quinn::ConnectionError) -> Option<String> {
    match err {
        quinn::ConnectionError::ApplicationClosed(close)
            if close.error_code == quinn::VarInt::from_u32(CLOSED) =>
        {
            None
        }
        quinn::ConnectionError::LocallyClosed => None,
        other => Some(other.to_string()),
    }
}

/// One of the peer's streams and what has been read from it.
struct Inbound {
    stream: quinn::RecvStream,
    buffer: BytesMut,
}

/// What reading a stream came to.
enum Read {
    /// Bytes arrived.
    More,
    /// Nothing yet.
    Pending,
    /// The stream is done with: finished, reset, or its connection gone
    /// (which the accepting task reports).
    Gone,
}

impl Inbound {
    fn poll_read(&mut self, cx: &mut Context<'_>) -> Result<Read, String> {
        if self.buffer.capacity() - self.buffer.len() < READ / 16 {
            self.buffer.reserve(READ);
        }
        let read = pin!(self.stream.read_buf(&mut self.buffer)).poll(cx);
        match read {
            Poll::Pending => Ok(Read::Pending),
            Poll::Ready(Ok(0)) if self.buffer.is_empty() => Ok(Read::Gone),
            Poll::Ready(Ok(0)) => Err("a stream ended in the middle of a frame".to_owned()),
            Poll::Ready(Ok(_)) => Ok(Read::More),
            Poll::Ready(Err(_)) => Ok(Read::Gone),
        }
    }
}

/// The receiving half of a QUIC connection.
pub(crate) struct QuicFrames {
    conn: quinn::Connection,
    codec: FrameCodec,
    accepted: mpsc::UnboundedReceiver<Accepted>,
    streams: Vec<Inbound>,
    /// The stream to look at first next time.
    turn: usize,
    /// How the connection ended, once the accepting task says so; reported
    /// after every stream has been read to its end.
    ending: Option<Option<String>>,
    /// What `recv` returns from now on.
    ended: Option<Option<String>>,
}

impl QuicFrames {
    fn poll_frame(&mut self, cx: &mut Context<'_>) -> Poll<Result<Option<Bytes>, String>> {
        if let Some(ended) = &self.ended {
            return Poll::Ready(ended.clone().map_or(Ok(None), Err));
        }
        while self.ending.is_none() {
            match self.accepted.poll_recv(cx) {
                Poll::Ready(Some(Accepted::Stream(stream))) => self.streams.push(Inbound {
                    stream,
                    buffer: BytesMut::with_capacity(READ),
                }),
                Poll::Ready(Some(Accepted::End(why))) => self.ending = Some(why),
                Poll::Ready(None) => self.ending = Some(Some("the connection is gone".into())),
                Poll::Pending => break,
            }
        }
        loop {
            // A frame already read, the streams taken in turn.
            let count = self.streams.len();
            for k in 0..count {
                let at = (self.turn + k) % count;
                match self.codec.decode(&mut self.streams[at].buffer) {
                    Ok(Some(frame)) => {
                        self.turn = (at + 1) % count;
                        return Poll::Ready(Ok(Some(frame)));
                    }
                    Ok(None) => {}
                    Err(err) => return Poll::Ready(Err(format!("unreadable frame: {err}"))),
                }
            }
            // None: read more from every stream that has something.
            let mut more = false;
            let mut at = 0;
            while at < self.streams.len() {
                match self.streams[at].poll_read(cx)? {
                    Read::More => more = true,
                    Read::Pending => {}
                    Read::Gone => {
                        self.streams.swap_remove(at);
                        continue;
                    }
                }
                at += 1;
            }
            if more {
                continue;
            }
            return match &self.ending {
                Some(why) if self.streams.is_empty() => {
                    Poll::Ready(why.clone().map_or(Ok(None), Err))
                }
                _ => Poll::Pending,
            };
        }
    }
}

impl fmt::Debug for QuicFrames {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("QuicFrames")
            .field("peer", &self.conn.remote_address())
            .field("streams", &self.streams.len())
            .finish_non_exhaustive()
    }
}

#[async_trait]
impl FrameStream for QuicFrames {
    /// The next frame from any of the peer's streams.
    ///
    /// # Cancel safety
    ///
    /// Cancel-safe: what has been read stays buffered for the next call.
    async fn recv(&mut self) -> Result<Option<Incoming>, TransportError> {
        match poll_fn(|cx| self.poll_frame(cx)).await {
            Ok(Some(frame)) => Ok(Some(Incoming::new(frame))),
            Ok(None) => {
                self.ended = Some(None);
                Ok(None)
            }
            Err(why) => {
                // A bad frame ends the whole connection: the node cannot
                // tell what else it would have missed.
                if self.conn.close_reason().is_none() {
                    self.conn
                        .close(quinn::VarInt::from_u32(BROKEN), why.as_bytes());
                }
                self.ended = Some(Some(why.clone()));
                Err(TransportError::Closed(why))
            }
        }
    }
}
