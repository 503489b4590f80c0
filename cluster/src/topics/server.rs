//! The topic router each node runs: it keeps this node's subscriptions
//! (and their memberships in the scope that tells the cluster where the
//! subscribers are), watches the subscribers, and hands each event that
//! comes from another node to the subscribers here whose pattern matches.

use std::collections::HashMap;
use std::sync::Arc;

use async_trait::async_trait;
use beamish_core::limit::WarningLimiter;
use beamish_core::{Context, ExitReason, MonitorRef, Pid, Process, ReplyTo, Signal};
use tokio::time::Instant;

use super::pattern::{check, is_pattern};
use super::table::{deliver_all, Decode, Deliver, Local};
use super::wire::Event;
use super::TopicError;
use crate::pg::Scope;

/// What the router takes.
pub(crate) enum Msg {
    /// An event from another node.
    Event(Event),
    /// A process of this node subscribes.
    Subscribe {
        pid: Pid,
        event_type: u64,
        decode: Decode,
        pattern: Arc<str>,
        group: String,
        deliver: Arc<dyn Deliver>,
        reply: ReplyTo<Result<(), TopicError>>,
    },
    /// A process of this node unsubscribes.
    Unsubscribe {
        pid: Pid,
        event_type: u64,
        pattern: Arc<str>,
        group: String,
        reply: ReplyTo<Result<(), TopicError>>,
    },
}

impl From<Event> for Msg {
    fn from(event: Event) -> Self {
        Msg::Event(event)
    }
}

pub(crate) struct Args {
    pub(crate) local: Arc<Local>,
    pub(crate) scope: Scope,
}

pub(crate) struct Router {
    local: Arc<Local>,
    scope: Scope,
    /// Each subscriber, monitored once.
    watched: HashMap<Pid, MonitorRef>,
    warnings: WarningLimiter,
}

#[async_trait]
impl Process for Router {
    type Args = Args;
    type Msg = Msg;

    async fn init(_: &mut Context<Msg>, args: Args) -> Result<Self, ExitReason> {
        Ok(Self {
            local: args.local,
            scope: args.scope,
            watched: HashMap::new(),
            warnings: WarningLimiter::default(),
        })
    }

    async fn handle(&mut self, ctx: &mut Context<Msg>, msg: Msg) -> Result<(), ExitReason> {
        match msg {
            Msg::Event(event) => self.event(event).await,
            Msg::Subscribe {
                pid,
                event_type,
                decode,
                pattern,
                group,
                deliver,
                reply,
            } => {
                if pid.node() != ctx.node().name() {
                    reply.reply(Err(TopicError::NotLocal(pid)));
                    return Ok(());
                }
                if !ctx.node().is_alive(pid) {
                    reply.reply(Err(TopicError::NoProc(pid)));
                    return Ok(());
                }
                if self.local.add(event_type, decode, pid, pattern, deliver) {
                    if let Err(error) = self.scope.join(&group, &[pid]).await {
                        tracing::warn!(%pid, %error, "a subscription could not be announced");
                    }
                    self.watched.entry(pid).or_insert_with(|| ctx.monitor(pid));
                }
                reply.reply(Ok(()));
            }
            Msg::Unsubscribe {
                pid,
                event_type,
                pattern,
                group,
                reply,
            } => {
                if !self.local.remove(event_type, pid, &pattern) {
                    reply.reply(Err(TopicError::NotSubscribed));
                    return Ok(());
                }
                // Announced once per subscription: left once.
                let _ = self.scope.leave(&group, &[pid]).await;
                if !self.local.has(pid) {
                    if let Some(monitor) = self.watched.remove(&pid) {
                        ctx.demonitor(monitor);
                    }
                }
                reply.reply(Ok(()));
            }
        }
        Ok(())
    }

    async fn handle_signal(
        &mut self,
        _: &mut Context<Msg>,
        signal: Signal,
    ) -> Result<(), ExitReason> {
        if let Signal::Down { monitor, pid, .. } = signal {
            if self.watched.get(&pid) == Some(&monitor) {
                // The scope takes its memberships out on its own.
                self.watched.remove(&pid);
                self.local.remove_pid(pid);
            }
        }
        Ok(())
    }
}

impl Router {
    /// An event from another node: decoded once, cast to each subscriber
    /// here whose pattern matches. One that does not decode as its type
    /// is a dead letter on each of them, never a crash.
    async fn event(&mut self, event: Event) {
        let source = event
            .from
            .node()
            .map_or_else(|| "this node".to_owned(), |node| node.to_string());
        if check(&event.topic).is_err() || is_pattern(&event.topic) {
            if let Some(held_back) = self.warnings.admit("topic", &source, Instant::now()) {
                tracing::warn!(peer = %source, held_back, "an event on a topic that is not one was dropped");
            }
            return;
        }
        let Some(matching) = self.local.matching(event.event_type, &event.topic) else {
            // Its subscribers left meanwhile: at most once.
            return;
        };
        let decoded = match (matching.decode)(&event.payload) {
            Ok(decoded) => decoded,
            Err(why) => {
                self.local.dead_letter(matching.to.len());
                if let Some(held_back) = self.warnings.admit("decode", &source, Instant::now()) {
                    tracing::warn!(
                        peer = %source, topic = %event.topic, held_back,
                        "an event that does not decode as its subscribers' type is a dead letter: {why}"
                    );
                }
                return;
            }
        };
        let (_, ended) = deliver_all(&matching.to, &*decoded).await;
        self.local.dead_letter(ended);
    }
}
