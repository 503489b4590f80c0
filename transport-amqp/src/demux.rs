//! The node's one inbox consumer, demultiplexed: each delivery goes to its
//! session by (sender, session); an opening yields a connection from
//! `accept`; frames of a session this node does not know (left from its
//! earlier life) yield a resumed connection.

use std::sync::atomic::Ordering;
use std::sync::{Arc, Weak};

use beamish_core::transport::{Connection, Incoming};
use bytes::Bytes;
use lapin::options::BasicAckOptions;
use tokio::sync::mpsc;

use crate::ack::{Counted, DeliveryAck};
use crate::broker::Broker;
use crate::session::{AmqpFrames, AmqpSink, Idle, Item, ReceiveOnly, SessionKey};
use crate::signature::{mac_of, Signed, Unauthenticated};
use crate::warnings::{debug_limited, warn_limited};
use crate::Mode;

/// What kind of message a frame travels in (the AMQP `type` property).
pub(crate) const OPEN: &str = "open";
pub(crate) const DATA: &str = "data";
pub(crate) const CLOSE: &str = "close";

/// A delivery settled at once, without waiting for a handler.
#[derive(Debug)]
pub(crate) enum Settle {
    /// Acknowledged: an opening, a closing, or a message that can never be
    /// handled.
    Ack(lapin::Acker),
    /// A frame refused for want of a valid signature: acknowledged, so
    /// that it does not come again, then counted.
    Refused(Incoming),
}

impl Settle {
    /// Acknowledges the delivery; counts a refused frame in `broker`.
    pub(crate) async fn settle(self, broker: Weak<Broker>) {
        match self {
            Settle::Ack(acker) => {
                let _ = acker.ack(BasicAckOptions::default()).await;
            }
            Settle::Refused(frame) => {
                if let Err(err) = frame.ack().await {
                    tracing::debug!("a refused frame could not be acknowledged: {err}");
                }
                if let Some(broker) = broker.upgrade() {
                    broker.refused.fetch_add(1, Ordering::Relaxed);
                }
            }
        }
    }
}

/// The number a durable frame's sender gave it (its message id).
fn seq_of(properties: &lapin::BasicProperties) -> Option<u64> {
    properties
        .message_id()
        .as_ref()
        .and_then(|id| id.as_str().parse::<u64>().ok())
}

/// Where a session's frames go.
#[derive(Debug)]
pub(crate) struct Route {
    tx: mpsc::UnboundedSender<Item>,
    /// Whether the peer's presence is watched: not for a session resumed
    /// from an earlier life, whose sender may well be gone.
    watched: bool,
}

impl Broker {
    /// A new session's receiving side.
    pub(crate) fn register(&self, key: SessionKey, watched: bool) -> AmqpFrames {
        let (tx, items) = mpsc::unbounded_channel();
        let route = Route { tx, watched };
        let idle = (!watched).then(|| Idle {
            after: self.settings.resumed_idle,
            broker: self.me.clone(),
            key: key.clone(),
        });
        self.sessions.lock().insert(key, route);
        AmqpFrames::new(items, idle)
    }

    /// A connection for the session `key`, opened or accepted on the
    /// broker connection `generation`.
    pub(crate) fn connection(
        &self,
        key: SessionKey,
        frames: AmqpFrames,
        generation: u64,
    ) -> Connection {
        let peer = format!("amqp:{}#{}", key.0, key.1);
        match self.me.upgrade() {
            Some(broker) => Connection::new(
                Box::new(AmqpSink::new(broker, key, generation)),
                Box::new(frames),
                peer,
            ),
            None => Connection::new(Box::new(ReceiveOnly), Box::new(frames), peer),
        }
    }

    /// Ends a session's receiving side with `last`.
    pub(crate) fn forget(&self, key: &SessionKey, last: Item) {
        if let Some(route) = self.sessions.lock().remove(key) {
            let _ = route.tx.send(last);
        }
    }

    /// Every session is lost (the broker connection went, in fast mode).
    pub(crate) fn lose_all(&self, why: &str) {
        let sessions: Vec<_> = self.sessions.lock().drain().collect();
        for (_, route) in sessions {
            let _ = route.tx.send(Item::Lost(why.to_owned()));
        }
    }

    /// Every watched session with `peer` is lost: it is gone.
    pub(crate) fn lose_peer(&self, peer: &str, why: &str) {
        let lost: Vec<_> = {
            let mut sessions = self.sessions.lock();
            let keys: Vec<_> = sessions
                .iter()
                .filter(|(key, route)| route.watched && key.0 == peer)
                .map(|(key, _)| key.clone())
                .collect();
            keys.iter().filter_map(|key| sessions.remove(key)).collect()
        };
        for route in lost {
            let _ = route.tx.send(Item::Lost(why.to_owned()));
        }
    }

    /// The peers of watched sessions.
    pub(crate) fn watched_peers(&self) -> Vec<String> {
        let mut peers: Vec<_> = self
            .sessions
            .lock()
            .iter()
            .filter(|(_, route)| route.watched)
            .map(|(key, _)| key.0.clone())
            .collect();
        peers.sort_unstable();
        peers.dedup();
        peers
    }

    /// Routes one delivery from the inbox, at once and in order (on the
    /// broker connection's own thread); returns what is to be settled
    /// without waiting for a handler (in durable mode: openings, closings,
    /// and frames that can never be handled or are refused).
    pub(crate) fn route(
        &self,
        delivery: lapin::message::Delivery,
        generation: u64,
    ) -> Option<Settle> {
        let durable = self.mode() == Mode::Durable;
        let settle = durable.then(|| Settle::Ack(delivery.acker.clone()));
        let props = &delivery.properties;
        let kind = props.kind().as_ref().map(|k| k.as_str());
        let from = props.reply_to().as_ref().map(|f| f.as_str());
        let session = props
            .correlation_id()
            .as_ref()
            .and_then(|s| s.as_str().parse::<u64>().ok());
        let (Some(kind), Some(from), Some(session)) = (kind, from, session) else {
            warn_limited!(
                self.warnings,
                "not a frame",
                from.unwrap_or("an unnamed sender"),
                inbox = %self.inbox(),
                "dropped a message that is not a beamish frame"
            );
            return settle;
        };
        let key = (from.to_owned(), session);
        match kind {
            OPEN => self.opened(key, generation),
            CLOSE => self.forget(&key, Item::End),
            DATA => {
                let size = delivery.data.len();
                if size <= self.settings.max_frame {
                    return self.data(key, delivery);
                }
                warn_limited!(
                    self.warnings,
                    "over the limit",
                    &key.0,
                    size,
                    "a frame over the limit ends the session"
                );
                self.forget(
                    &key,
                    Item::Lost(format!(
                        "a frame of {size} bytes exceeds the limit of {}",
                        self.settings.max_frame
                    )),
                );
                // Acknowledged: it can never be handled.
            }
            other => warn_limited!(
                self.warnings,
                "unknown kind",
                from,
                kind = other,
                "dropped a message of an unknown kind"
            ),
        }
        settle
    }

    /// An opening: a new connection from `accept`, if the node listens.
    fn opened(&self, key: SessionKey, generation: u64) {
        let accepted = self.accepted.lock().clone();
        let Some(accepted) = accepted else {
            debug_limited!(
                self.notes,
                "opening while not listening",
                &key.0,
                "an opening while not listening, dropped"
            );
            return;
        };
        let frames = self.register(key.clone(), true);
        let conn = self.connection(key.clone(), frames, generation);
        if accepted.send(conn).is_err() {
            self.sessions.lock().remove(&key);
        }
    }

    /// A frame to its session; to a resumed connection if the session is
    /// not known (or no longer received), in durable mode, if it is signed.
    fn data(&self, key: SessionKey, mut delivery: lapin::message::Delivery) -> Option<Settle> {
        let durable = self.mode() == Mode::Durable;
        // Where the frame goes, and whether it goes to a resumed
        // connection, delivered without a handshake.
        let (route, resumed) = match self.sessions.lock().get(&key) {
            Some(route) => (Some(route.tx.clone()), !route.watched),
            None => (None, true),
        };
        if route.is_none() && !durable {
            debug_limited!(
                self.notes,
                "unknown session",
                &key.0,
                "dropped a frame of an unknown session"
            );
            return None;
        }
        let payload = Bytes::from(std::mem::take(&mut delivery.data));
        // Numbered by its sender, so that failures of its handler count.
        let seq = seq_of(&delivery.properties);
        let counted = seq.map(|seq| {
            let id = (key.clone(), seq);
            let last = self.failures.last_chance(&id);
            Counted {
                id,
                frame: last.then(|| payload.clone()),
                failures: Arc::clone(&self.failures),
            }
        });
        let frame = if durable {
            let acker = delivery.acker.clone();
            let ack = Box::new(DeliveryAck::new(delivery.acker, counted));
            Item::Frame(Incoming::with_ack(payload.clone(), ack), Some(acker))
        } else {
            Item::Frame(Incoming::new(payload.clone()), None)
        };
        let signed = |frame| match self.authenticate(&key, &delivery.properties, &payload) {
            Ok(()) => Ok(frame),
            Err(why) => Err(self.refuse(&key, why, frame)),
        };
        let frame = if resumed {
            match signed(frame) {
                Ok(frame) => frame,
                Err(refused) => return refused,
            }
        } else {
            frame
        };
        let frame = match route {
            Some(tx) => match tx.send(frame) {
                Ok(()) => return None,
                Err(mpsc::error::SendError(frame)) => {
                    // The session's receiver is gone.
                    self.sessions.lock().remove(&key);
                    if !durable {
                        return None;
                    }
                    if resumed {
                        frame
                    } else {
                        match signed(frame) {
                            Ok(frame) => frame,
                            Err(refused) => return refused,
                        }
                    }
                }
            },
            None => frame,
        };
        self.resume(key, frame);
        None
    }

    /// Whether a frame of the session `key` was signed with this cluster's
    /// key (see [`crate::signature`]).
    fn authenticate(
        &self,
        key: &SessionKey,
        properties: &lapin::BasicProperties,
        body: &[u8],
    ) -> Result<(), Unauthenticated> {
        let frame_key = self.frame_key().ok_or(Unauthenticated::NoSecret)?;
        let mac = mac_of(properties)?;
        let seq = seq_of(properties).ok_or(Unauthenticated::Malformed)?;
        let signed = Signed {
            from: &key.0,
            to: self.node(),
            session: key.1,
            seq,
            body,
        };
        frame_key.verify(&signed, mac)
    }

    /// A frame that failed [`authenticate`](Self::authenticate): it is
    /// acknowledged, so that it does not come again, and counted.
    fn refuse(&self, key: &SessionKey, why: Unauthenticated, frame: Item) -> Option<Settle> {
        warn_limited!(
            self.warnings,
            "unauthenticated",
            &key.0,
            session = key.1,
            "refused a frame of a session this node does not know: {why}"
        );
        match frame {
            Item::Frame(frame, _) => Some(Settle::Refused(frame)),
            Item::End | Item::Lost(_) => None,
        }
    }

    /// A frame of a session this node does not know: left from its earlier
    /// life. It and the rest of that session reach the node through a
    /// resumed connection (held until the node listens).
    fn resume(&self, key: SessionKey, frame: Item) {
        let frames = self.register(key.clone(), false);
        if let Some(route) = self.sessions.lock().get(&key) {
            let _ = route.tx.send(frame);
        }
        let peer = format!("amqp:{}#{}", key.0, key.1);
        tracing::debug!(%peer, "frames of an earlier session");
        let conn = Connection::new(Box::new(ReceiveOnly), Box::new(frames), peer).resumed(key.0);
        let accepted = self.accepted.lock().clone();
        let unsent = match accepted {
            Some(accepted) => match accepted.send(conn) {
                Ok(()) => return,
                Err(mpsc::error::SendError(conn)) => conn,
            },
            None => conn,
        };
        self.waiting.lock().push(unsent);
    }
}
