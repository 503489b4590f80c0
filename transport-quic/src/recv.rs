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
use beamish_core::dist::protocol::{FrameCodec, FrameError};
use beamish_core::transport::{FrameStream, Incoming, TransportError};
use bytes::{Bytes, BytesMut};
use tokio::io::AsyncReadExt;
use tokio::sync::mpsc;

use crate::codes::{BROKEN, CLOSED};

/// How much a stream reads at a time, at least.
const READ: usize = 64 * 1024;

/// The bytes of frames one stream yields before the next has its turn.
const TURN: usize = 64 * 1024;

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
        turns: Turns::default(),
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
    /// The stream is done with: finished, or its connection gone (which
    /// the accepting task reports).
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
            // The connection's end, which the accepting task reports.
            Poll::Ready(Err(err)) if err.kind() == std::io::ErrorKind::NotConnected => {
                Ok(Read::Gone)
            }
            // A stream reset by the peer lost frames the node cannot name.
            Poll::Ready(Err(err)) => Err(format!("a stream broke off: {err}")),
        }
    }
}

/// Something holding the bytes read from one stream.
trait Buffered {
    fn buffer(&mut self) -> &mut BytesMut;
}

impl Buffered for Inbound {
    fn buffer(&mut self) -> &mut BytesMut {
        &mut self.buffer
    }
}

/// Whose turn it is among a connection's streams: each turn is worth
/// `TURN` bytes of frames, so many small frames of one lane go for each
/// large one of another, and a stream with nothing whole passes its turn.
#[derive(Debug, Clone, Copy)]
struct Turns {
    at: usize,
    credit: usize,
}

impl Default for Turns {
    fn default() -> Self {
        Self {
            at: 0,
            credit: TURN,
        }
    }
}

impl Turns {
    /// The next whole frame in any of the buffers, the streams in turn;
    /// `None` only if no buffer holds a whole frame.
    fn take<B: Buffered>(
        &mut self,
        codec: FrameCodec,
        streams: &mut [B],
    ) -> Result<Option<Bytes>, FrameError> {
        let (count, first) = (streams.len(), self.at);
        for k in 0..count {
            let at = (first + k) % count;
            if at != self.at {
                (self.at, self.credit) = (at, TURN);
            }
            if let Some(frame) = codec.decode(streams[at].buffer())? {
                self.credit = self.credit.saturating_sub(frame.len().max(1));
                if self.credit == 0 {
                    (self.at, self.credit) = ((at + 1) % count, TURN);
                }
                return Ok(Some(frame));
            }
        }
        Ok(None)
    }
}

/// The receiving half of a QUIC connection.
pub(crate) struct QuicFrames {
    conn: quinn::Connection,
    codec: FrameCodec,
    accepted: mpsc::UnboundedReceiver<Accepted>,
    streams: Vec<Inbound>,
    turns: Turns,
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
            match self.turns.take(self.codec, &mut self.streams) {
                Ok(Some(frame)) => return Poll::Ready(Ok(Some(frame))),
                Ok(None) => {}
                Err(err) => return Poll::Ready(Err(format!("unreadable frame: {err}"))),
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

#[cfg(test)]
mod tests {
    use super::*;

    impl Buffered for BytesMut {
        fn buffer(&mut self) -> &mut BytesMut {
            self
        }
    }

    fn frames(sizes: &[usize], mark: u8) -> BytesMut {
        let mut out = BytesMut::new();
        for &size in sizes {
            let payload = vec![mark; size];
            FrameCodec::default()
                .encode(&payload, &mut out)
                .expect("under the limit");
        }
        out
    }

    #[test]
    fn every_buffered_frame_is_found_whoever_holds_it() {
        for count in 1..=9 {
            for holder in 0..count {
                let mut streams: Vec<BytesMut> = (0..count).map(|_| BytesMut::new()).collect();
                streams[holder] = frames(&[3], 1);
                // Wherever the turn starts, the one frame is found.
                let mut turns = Turns {
                    at: (holder + 1) % count,
                    credit: TURN,
                };
                let codec = FrameCodec::default();
                let frame = turns.take(codec, &mut streams).expect("well formed");
                assert_eq!(frame.as_deref(), Some(&[1_u8; 3][..]), "{count} {holder}");
                assert_eq!(turns.take(codec, &mut streams).expect("ok"), None);
            }
        }
    }

    #[test]
    fn a_turn_is_worth_its_bytes() {
        let codec = FrameCodec::default();
        // Stream 0: two large frames; stream 1: many small ones.
        let mut streams = vec![frames(&[TURN, TURN], 0), frames(&[64; 2048], 1)];
        let none: &mut [BytesMut] = &mut [];
        assert_eq!(Turns::default().take(codec, none).expect("ok"), None);
        let mut marks = Vec::new();
        let mut turns = Turns::default();
        while let Some(frame) = turns.take(codec, &mut streams).expect("ok") {
            marks.push(frame[0]);
        }
        // One large frame, then a turn's worth of small ones (1 024), and
        // so on.
        let small_after_first = marks[1..].iter().take_while(|mark| **mark == 1).count();
        assert_eq!(marks[0], 0);
        assert_eq!(small_after_first, TURN / 64);
        assert_eq!(marks.iter().filter(|mark| **mark == 0).count(), 2);
        assert_eq!(marks.len(), 2 + 2048);
    }

    #[test]
    fn a_bad_frame_is_an_error() {
        let codec = FrameCodec::new(16);
        let mut streams = vec![frames(&[64], 0)];
        assert!(Turns::default().take(codec, &mut streams).is_err());
    }
}
