//! A session between two nodes through the broker: opened with an `open`
//! to the peer's inbox, then frames published to that inbox tagged with
//! the session and the sender, and frames from the peer's side, handed
//! over by the demultiplexer.

use std::fmt;
use std::sync::{Arc, Weak};
use std::time::Duration;

use async_trait::async_trait;
use beamish_core::transport::{Connection, FrameSink, FrameStream, Incoming, TransportError};
use bytes::Bytes;
use lapin::options::BasicPublishOptions;
use lapin::BasicProperties;
use tokio::sync::mpsc;

use crate::broker::{Broker, EXCHANGE};
use crate::demux::{CLOSE, DATA, OPEN};
use crate::queues::inbox_of;
use crate::signature::{FrameKey, Signed};
use crate::Mode;

/// What a session's receiving side is given.
#[derive(Debug)]
pub(crate) enum Item {
    /// A frame, with a handle on its delivery in durable mode: a frame
    /// whose channel went before it was taken is skipped, since the broker
    /// delivers it again.
    Frame(Incoming, Option<lapin::Acker>),
    /// The peer closed the session.
    End,
    /// The session was lost: the broker connection went, or the peer did.
    Lost(String),
}

/// Which session a frame belongs to: the other node and the session's
/// number.
pub(crate) type SessionKey = (String, u64);

pub(crate) fn lost(err: lapin::Error) -> TransportError {
    TransportError::Closed(format!("the broker connection: {err}"))
}

fn properties(from: &str, session: u64, kind: &str) -> BasicProperties {
    BasicProperties::default()
        .with_type(kind.into())
        .with_reply_to(from.into())
        .with_correlation_id(session.to_string().into())
}

impl Broker {
    /// Opens a session to `peer`: an `open` goes to its inbox; if the
    /// broker cannot route it (no such inbox), or, in durable mode, no node
    /// consumes that inbox, the peer is unreachable.
    pub(crate) async fn open(&self, peer: &str) -> Result<Connection, TransportError> {
        let live = self.ensure().await?;
        if self.mode() == Mode::Durable
            && crate::presence::present(&live, peer, self.settings.connect_timeout).await
                == Some(false)
        {
            return Err(TransportError::Unreachable(format!(
                "no node consumes {}: {peer} is down",
                inbox_of(peer)
            )));
        }
        let mut id = [0_u8; 8];
        getrandom::fill(&mut id).map_err(|err| TransportError::Io(err.to_string()))?;
        let session = u64::from_le_bytes(id);
        let key = (peer.to_owned(), session);
        let frames = self.register(key.clone(), true);
        // A node that is down does not find stale openings on its return.
        let props = properties(self.node(), session, OPEN)
            .with_expiration(self.settings.open_ttl.as_millis().to_string().into());
        let confirmation = async {
            live.control
                .basic_publish(
                    EXCHANGE.into(),
                    peer.into(),
                    BasicPublishOptions {
                        mandatory: true,
                        ..BasicPublishOptions::default()
                    },
                    b"",
                    props,
                )
                .await?
                .await
        };
        let confirmation = tokio::time::timeout(self.settings.send_timeout, confirmation)
            .await
            .map_err(|_| TransportError::Io("the broker did not confirm in time".into()))
            .and_then(|result| result.map_err(lost));
        let unroutable = match confirmation {
            Ok(confirmation) => confirmation.take_message().is_some(),
            Err(err) => {
                self.forget(&key, Item::End);
                return Err(err);
            }
        };
        if unroutable {
            self.forget(&key, Item::End);
            return Err(TransportError::Unreachable(format!(
                "no inbox for {peer} at the broker"
            )));
        }
        Ok(self.connection(key, frames, live.generation))
    }
}

/// The sending half of a session.
pub(crate) struct AmqpSink {
    broker: Arc<Broker>,
    peer: String,
    session: u64,
    /// The broker connection the session lives on: in fast mode, after a
    /// reconnection the session is gone.
    generation: u64,
    closed: bool,
    /// The number of the last durable data frame sent, its message id.
    seq: u64,
}

impl AmqpSink {
    pub(crate) fn new(broker: Arc<Broker>, key: SessionKey, generation: u64) -> Self {
        Self {
            broker,
            peer: key.0,
            session: key.1,
            generation,
            closed: false,
            seq: 0,
        }
    }

    /// A data frame's properties. In durable mode it is numbered and, once
    /// the node has handed its secret, signed (see [`crate::signature`]);
    /// it is persistent unless it is a heartbeat tick (an empty frame),
    /// which need not outlive a crash.
    fn data_properties(
        &mut self,
        frame: &[u8],
        durable: bool,
        key: Option<&FrameKey>,
    ) -> BasicProperties {
        let props = properties(self.broker.node(), self.session, DATA);
        if !durable {
            return props;
        }
        self.seq += 1;
        let mut props = props.with_message_id(self.seq.to_string().into());
        if !frame.is_empty() {
            props = props.with_delivery_mode(2);
        }
        let Some(key) = key else {
            return props;
        };
        let signed = Signed {
            from: self.broker.node(),
            to: &self.peer,
            session: self.session,
            seq: self.seq,
            body: frame,
        };
        key.seal(&signed, props)
    }
}

impl fmt::Debug for AmqpSink {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("AmqpSink")
            .field("peer", &self.peer)
            .field("session", &self.session)
            .finish_non_exhaustive()
    }
}

#[async_trait]
impl FrameSink for AmqpSink {
    /// Publishes the frames in order to the peer's inbox. In durable mode
    /// they are persistent and the call returns once the broker has
    /// confirmed every one; while the broker is away it waits for it (at
    /// most the send timeout); a refusal or a connection lost mid-send is
    /// an error (and a frame may then have been stored or not: at least
    /// once). In fast mode a session ends with its broker connection.
    async fn send(&mut self, frames: Vec<Bytes>) -> Result<(), TransportError> {
        if self.closed {
            return Err(TransportError::Closed("the session is closed".into()));
        }
        let max = self.broker.settings.max_frame;
        if let Some(frame) = frames.iter().find(|frame| frame.len() > max) {
            return Err(TransportError::Io(format!(
                "a frame of {} bytes exceeds the limit of {max}",
                frame.len()
            )));
        }
        let durable = self.broker.mode() == Mode::Durable;
        let live = if durable {
            self.broker.live_wait().await?
        } else {
            self.broker.live_for(self.generation)?
        };
        let key = if durable {
            self.broker.frame_key()
        } else {
            None
        };
        let mut confirms = Vec::with_capacity(if durable { frames.len() } else { 0 });
        for frame in &frames {
            let properties = self.data_properties(frame, durable, key.as_deref());
            let confirm = live
                .publish
                .basic_publish(
                    EXCHANGE.into(),
                    self.peer.as_str().into(),
                    BasicPublishOptions::default(),
                    frame,
                    properties,
                )
                .await
                .map_err(lost)?;
            if durable {
                confirms.push(confirm);
            }
        }
        for confirm in confirms {
            let confirmation = tokio::time::timeout(self.broker.settings.send_timeout, confirm)
                .await
                .map_err(|_| TransportError::Io("the broker did not confirm in time".into()))?
                .map_err(lost)?;
            if confirmation.is_nack() {
                return Err(TransportError::Io("the broker refused a message".into()));
            }
        }
        Ok(())
    }

    async fn close(&mut self) {
        if std::mem::replace(&mut self.closed, true) {
            return;
        }
        if let Some(live) = self.broker.current() {
            let _ = live
                .publish
                .basic_publish(
                    EXCHANGE.into(),
                    self.peer.as_str().into(),
                    BasicPublishOptions::default(),
                    b"",
                    properties(self.broker.node(), self.session, CLOSE),
                )
                .await;
        }
        self.broker
            .forget(&(self.peer.clone(), self.session), Item::End);
    }
}

impl Drop for AmqpSink {
    fn drop(&mut self) {
        if !self.closed {
            self.broker
                .forget(&(self.peer.clone(), self.session), Item::End);
        }
    }
}

/// The receiving half of a session.
pub(crate) struct AmqpFrames {
    pub(crate) items: mpsc::UnboundedReceiver<Item>,
    /// For a session resumed from an earlier life: it ends once nothing
    /// has come for a while, so that it is not waited on for good.
    pub(crate) idle: Option<Idle>,
    /// Set once an idle resumed session is no longer routed to: it ends
    /// when what it holds has been taken.
    detached: bool,
}

/// When a resumed session ends.
pub(crate) struct Idle {
    pub(crate) after: Duration,
    pub(crate) broker: Weak<Broker>,
    pub(crate) key: SessionKey,
}

impl AmqpFrames {
    pub(crate) fn new(items: mpsc::UnboundedReceiver<Item>, idle: Option<Idle>) -> Self {
        Self {
            items,
            idle,
            detached: false,
        }
    }
}

impl fmt::Debug for AmqpFrames {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("AmqpFrames").finish_non_exhaustive()
    }
}

#[async_trait]
impl FrameStream for AmqpFrames {
    async fn recv(&mut self) -> Result<Option<Incoming>, TransportError> {
        loop {
            let item = match &self.idle {
                None => self.items.recv().await,
                Some(idle) => match tokio::time::timeout(idle.after, self.items.recv()).await {
                    Ok(item) => item,
                    Err(_) => {
                        // Frames of the session from now on open another.
                        if let Some(broker) = idle.broker.upgrade() {
                            broker.sessions.lock().remove(&idle.key);
                        }
                        self.idle = None;
                        self.detached = true;
                        continue;
                    }
                },
            };
            return match item {
                Some(Item::Frame(_, Some(delivery))) if delivery.poisoned() => continue,
                Some(Item::Frame(frame, _)) => Ok(Some(frame)),
                Some(Item::End) => Ok(None),
                Some(Item::Lost(why)) => Err(TransportError::Closed(why)),
                None if self.detached => Ok(None),
                None => Err(TransportError::Closed("the session is gone".into())),
            };
        }
    }
}

/// The sending half of a session resumed from an earlier life of this
/// node: it only receives.
#[derive(Debug)]
pub(crate) struct ReceiveOnly;

#[async_trait]
impl FrameSink for ReceiveOnly {
    async fn send(&mut self, _frames: Vec<Bytes>) -> Result<(), TransportError> {
        Err(TransportError::Closed(
            "a session of an earlier life only delivers".into(),
        ))
    }

    async fn close(&mut self) {}
}
