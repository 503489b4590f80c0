//! The durable mode behind [`Topics`](super::Topics): a broker that keeps
//! each durable subscription's events until a subscriber handled them.
//! This crate names no broker; `beamish::amqp::DurableTopics` is one.

use std::any::Any;
use std::marker::PhantomData;

use async_trait::async_trait;
use beamish_core::{Handle, Message, Pid, Settled};

/// Why a broker did not take an event or a subscription.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("{0}")]
pub struct DurableFailure(pub String);

/// A broker for durable subscriptions, which [`Topics::with_durable`]
/// puts behind [`Topics`]: then one `publish` reaches fast and durable
/// subscribers alike, and each subscription chooses its
/// [`Mode`](super::Mode).
///
/// [`Topics`]: super::Topics
/// [`Topics::with_durable`]: super::Topics::with_durable
#[async_trait]
pub trait DurableBroker: Send + Sync + 'static {
    /// Publishes `payload`, an event of the type whose wire name is
    /// `event_type` encoded with rmp-serde, on `topic`; returns once the
    /// broker confirmed it.
    async fn publish_encoded(
        &self,
        topic: &str,
        event_type: &'static str,
        payload: Vec<u8>,
    ) -> Result<(), DurableFailure>;

    /// Stops the consumer of `pid` for the durable subscription `name`;
    /// `false` if it had none.
    async fn unsubscribe_sink(&self, name: &str, pid: Pid) -> Result<bool, DurableFailure>;

    /// Starts a consumer of the durable subscription `name` (made and
    /// bound to `pattern` if need be) that hands its events to `sink`,
    /// until the sink's process ends.
    async fn subscribe_sink(
        &self,
        name: &str,
        pattern: &str,
        sink: Box<dyn DurableSink>,
    ) -> Result<(), DurableFailure>;
}

/// Hands a durable subscription's events to its subscriber: what a
/// [`DurableBroker`]'s consumer calls.
#[async_trait]
pub trait DurableSink: Send + Sync + 'static {
    /// The wire name of the events it takes.
    fn event_type(&self) -> &'static str;

    /// The subscriber.
    fn pid(&self) -> Pid;

    /// Decodes `payload` as an event of its type; why not, if it is not
    /// one.
    fn decode(&self, payload: &[u8]) -> Result<Decoded, String>;

    /// Casts an event [`decode`](Self::decode) gave to the subscriber,
    /// which calls `settled` once its handler is done with it (or drops
    /// it uncalled if it ends first); `false` if it has ended.
    async fn cast(&self, event: Decoded, settled: Box<dyn FnOnce(Settled) + Send>) -> bool;
}

/// An event a [`DurableSink`] decoded, for its [`cast`](DurableSink::cast).
pub type Decoded = Box<dyn Any + Send>;

/// The [`DurableSink`] of a process whose messages are `M`, for events of
/// type `E`.
pub fn sink<E, M>(subscriber: &Handle<M>) -> Box<dyn DurableSink>
where
    E: Message,
    M: From<E> + Send + 'static,
{
    Box::new(Sink::<E, M> {
        handle: subscriber.clone(),
        event: PhantomData,
    })
}

struct Sink<E, M> {
    handle: Handle<M>,
    event: PhantomData<fn(E)>,
}

#[async_trait]
impl<E, M> DurableSink for Sink<E, M>
where
    E: Message,
    M: From<E> + Send + 'static,
{
    fn event_type(&self) -> &'static str {
        E::NAME
    }

    fn pid(&self) -> Pid {
        self.handle.pid()
    }

    fn decode(&self, payload: &[u8]) -> Result<Decoded, String> {
        rmp_serde::from_slice::<E>(payload)
            .map(|event| Box::new(event) as Decoded)
            .map_err(|err| format!("undecodable {}: {err}", E::NAME))
    }

    async fn cast(&self, event: Decoded, settled: Box<dyn FnOnce(Settled) + Send>) -> bool {
        let Ok(event) = event.downcast::<E>() else {
            return false;
        };
        self.handle
            .cast_settled(M::from(*event), settled)
            .await
            .is_ok()
    }
}
