//! A session between two nodes through the broker: frames published to
//! the peer's inbox, tagged with the session and the sender, and frames
//! from the peer's session, demultiplexed from this node's inbox.

use std::fmt;
use std::sync::Arc;

use async_trait::async_trait;
use beamish_core::transport::{Ack, FrameSink, FrameStream, Incoming, TransportError};
use bytes::Bytes;
use lapin::options::{BasicAckOptions, BasicPublishOptions};
use lapin::BasicProperties;
use tokio::sync::mpsc;

use crate::broker::Broker;
use crate::Mode;

/// What kind of message a frame travels in (the AMQP `type` property).
pub(crate) const OPEN: &str = "open";
pub(crate) const DATA: &str = "data";
pub(crate) const CLOSE: &str = "close";

/// What a session's receiving side is given.
#[derive(Debug)]
pub(crate) enum Item {
    Frame(Incoming),
    /// The peer closed the session.
    End,
    /// The session was lost: the broker connection went, or the peer's
    /// inbox did.
    Lost(String),
}

/// Which session a frame belongs to: the other node and the session's
/// number.
pub(crate) type SessionKey = (String, u64);

/// The sending half of a session.
pub(crate) struct AmqpSink {
    pub(crate) broker: Arc<Broker>,
    pub(crate) peer: String,
    pub(crate) session: u64,
    /// The broker connection the session lives on: after a reconnection
    /// the session is gone.
    pub(crate) generation: u64,
    pub(crate) closed: bool,
}

impl fmt::Debug for AmqpSink {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("AmqpSink")
            .field("peer", &self.peer)
            .field("session", &self.session)
            .finish_non_exhaustive()
    }
}

impl AmqpSink {
    fn properties(&self, kind: &str, persistent: bool) -> BasicProperties {
        let props = BasicProperties::default()
            .with_type(kind.into())
            .with_reply_to(self.broker.node().into())
            .with_correlation_id(self.session.to_string().into());
        if persistent {
            props.with_delivery_mode(2)
        } else {
            props
        }
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
        let durable = self.broker.mode() == Mode::Durable;
        let live = if durable {
            self.broker.live_wait().await?
        } else {
            self.broker.live_for(self.generation).await?
        };
        let mut confirms = Vec::with_capacity(if durable { frames.len() } else { 0 });
        for frame in &frames {
            // Heartbeat ticks (empty frames) need not outlive a crash.
            let persistent = durable && !frame.is_empty();
            let confirm = live
                .publish
                .basic_publish(
                    crate::broker::EXCHANGE.into(),
                    self.peer.as_str().into(),
                    BasicPublishOptions::default(),
                    frame,
                    self.properties(DATA, persistent),
                )
                .await
                .map_err(lost)?;
            if durable {
                confirms.push(confirm);
            }
        }
        for confirm in confirms {
            let confirmation = tokio::time::timeout(self.broker.send_timeout(), confirm)
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
        if let Ok(live) = self.broker.ensure().await {
            let _ = live
                .publish
                .basic_publish(
                    crate::broker::EXCHANGE.into(),
                    self.peer.as_str().into(),
                    BasicPublishOptions::default(),
                    b"",
                    self.properties(CLOSE, false),
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

pub(crate) fn lost(err: lapin::Error) -> TransportError {
    TransportError::Closed(format!("the broker connection: {err}"))
}

/// The receiving half of a session.
pub(crate) struct AmqpFrames {
    pub(crate) items: mpsc::UnboundedReceiver<Item>,
}

impl fmt::Debug for AmqpFrames {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("AmqpFrames").finish_non_exhaustive()
    }
}

#[async_trait]
impl FrameStream for AmqpFrames {
    async fn recv(&mut self) -> Result<Option<Incoming>, TransportError> {
        match self.items.recv().await {
            Some(Item::Frame(frame)) => Ok(Some(frame)),
            Some(Item::End) => Ok(None),
            Some(Item::Lost(why)) => Err(TransportError::Closed(why)),
            None => Err(TransportError::Closed("the session is gone".into())),
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

/// Acknowledges one delivery of a durable inbox.
pub(crate) struct DeliveryAck(pub(crate) lapin::message::Delivery);

impl fmt::Debug for DeliveryAck {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("DeliveryAck").finish_non_exhaustive()
    }
}

#[async_trait]
impl Ack for DeliveryAck {
    async fn ack(self: Box<Self>) -> Result<(), TransportError> {
        self.0
            .ack(BasicAckOptions::default())
            .await
            .map(|_| ())
            .map_err(lost)
    }
}
