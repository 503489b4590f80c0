//! Receiving from other nodes: exporting a process, which gives it a
//! decoder for its message type, and delivering a message that arrived to
//! the process's mailbox, or counting it as a dead letter.

use std::sync::atomic::Ordering;
use std::sync::Arc;

use super::envelope::Dest;
use crate::node::{warn_limited, Arrival, Decoder, Delivery, Exported, Finished, Settled};
use crate::node::{AnyProcess, NodeInner};
use crate::process::cell::Shared;
use crate::process::mailbox::Acked;
use crate::process::{OnSpawn, SpawnHook};
use crate::{Handle, Message, Node, NodeName, SpawnOpts};

impl Node {
    /// Lets other nodes send to this process: messages that name its
    /// message type ([`Message::NAME`]) are decoded with rmp-serde on
    /// arrival. A message sent meanwhile to a process that is not
    /// exported, or of another type, is dropped and counted as a dead
    /// letter (a call is answered with `Rejected`).
    ///
    /// This exposes every message of the type, internal ones included; to
    /// expose only some, export a remote-facing type with
    /// [`export_as`](Self::export_as). To export a process from its
    /// start, and again after every restart under a supervisor, declare it
    /// in its options with [`SpawnOpts::export`].
    pub fn export<M: Message>(&self, handle: &Handle<M>) {
        self.export_with::<M, M>(handle, |msg| msg);
    }

    /// Lets other nodes send this process messages of the remote-facing
    /// type `R`, which arrive converted into its own message type: other
    /// nodes reach only what `R` can say.
    ///
    /// # Examples
    ///
    /// ```
    /// use beamish_core::{Message, Node, ReplyTo};
    /// use serde::{Deserialize, Serialize};
    ///
    /// /// What other nodes may ask of a worker.
    /// #[derive(Serialize, Deserialize, Message)]
    /// #[message(name = "jobs.Job")]
    /// enum Job {
    ///     Run(u64),
    ///     Status(ReplyTo<u64>),
    /// }
    ///
    /// /// What a worker takes: jobs, and its own internal messages.
    /// enum WorkerMsg {
    ///     Job(Job),
    ///     Done(u64),
    /// }
    ///
    /// impl From<Job> for WorkerMsg {
    ///     fn from(job: Job) -> Self {
    ///         WorkerMsg::Job(job)
    ///     }
    /// }
    ///
    /// fn export(node: &Node, worker: &beamish_core::Handle<WorkerMsg>) {
    ///     // `Done` cannot be sent from another node.
    ///     node.export_as::<Job, _>(worker);
    /// }
    /// ```
    pub fn export_as<R, M>(&self, handle: &Handle<M>)
    where
        R: Message + Into<M>,
        M: Send + 'static,
    {
        self.export_with::<R, M>(handle, Into::into);
    }

    fn export_with<R, M>(&self, handle: &Handle<M>, convert: fn(R) -> M)
    where
        R: Message,
        M: Send + 'static,
    {
        // The decoder lives in the process's own shared state: it is given
        // the node and the process when called, and holds neither.
        let decoder: Decoder = Arc::new(
            move |node: &Arc<NodeInner>,
                  target: &Arc<dyn AnyProcess>,
                  payload: &[u8],
                  finished: &mut Option<Finished>,
                  arrival| {
                let msg: R = crate::process::decoding::decoding(node, arrival, || {
                    rmp_serde::from_slice(payload)
                })
                .map_err(|err| err.to_string())?;
                let msg = convert(msg);
                let Some(shared) = target.as_any().downcast_ref::<Shared<M>>() else {
                    return Err(format!("not a process of {}", std::any::type_name::<M>()));
                };
                let finished = finished.take();
                // An unbounded mailbox takes the message at once: no future.
                if !shared.mailbox.is_bounded() {
                    let queued = match finished {
                        None => shared.mailbox.push_msg(msg).is_ok(),
                        Some(finished) => {
                            taken(shared.mailbox.push_acked_now(Acked { msg, finished }))
                        }
                    };
                    // Not queued: the caller counts the dead letter.
                    return Ok(Delivery::Done(queued));
                }
                let Ok(shared) = Arc::clone(target).into_any().downcast::<Shared<M>>() else {
                    return Err(format!("not a process of {}", std::any::type_name::<M>()));
                };
                Ok(Delivery::Waiting(Box::pin(async move {
                    match finished {
                        None => shared.mailbox.push_waiting(msg).await.is_ok(),
                        Some(finished) => {
                            taken(shared.mailbox.push_acked(Acked { msg, finished }).await)
                        }
                    }
                })))
            },
        );
        let _ = handle.shared.core.exported.set(Box::new(Exported {
            name: R::NAME,
            id: R::WIRE_ID,
            decode: decoder,
        }));
    }

    /// Delivers a message that came from another node (`from`, unless it
    /// was left from an earlier session); `finished` is
    /// called once it is handled, or at once if it is a dead letter: as
    /// failed, so that a durable transport delivers it again (its process
    /// may be restarting, or not exported yet) up to its limit. Returns why
    /// an existing process refused it (the wrong type, not exported,
    /// undecodable), for a call to answer at once.
    pub(crate) async fn dispatch(
        &self,
        from: Option<NodeName>,
        to: Dest,
        msg_type: u64,
        payload: &[u8],
        finished: Option<Finished>,
    ) -> Option<String> {
        let target = self.inner.resolve(&to);
        let undelivered = Settled::Failed;
        self.dispatch_to(
            target,
            &to,
            (msg_type, payload),
            finished,
            undelivered,
            Arrival { from, call: None },
        )
        .await
    }

    /// Delivers to a process already looked up, as [`dispatch`](Self::dispatch),
    /// settling a dead letter as `undelivered`; `arrival` says where it
    /// came from and whether it is a call's request.
    pub(crate) async fn dispatch_to(
        &self,
        target: Option<Arc<dyn AnyProcess>>,
        to: &Dest,
        (msg_type, payload): (u64, &[u8]),
        mut finished: Option<Finished>,
        undelivered: Settled,
        arrival: Arrival,
    ) -> Option<String> {
        let refused = match target {
            None => {
                self.dead_letter();
                tracing::debug!(
                    ?to,
                    "a remote message for a process that does not exist was dropped"
                );
                None
            }
            Some(target) => {
                let delivered = deliver(
                    &self.inner,
                    &target,
                    (msg_type, payload),
                    &mut finished,
                    arrival,
                );
                match delivered.await {
                    Ok(()) => None,
                    Err(Undelivered::Ended) => {
                        self.dead_letter();
                        tracing::debug!(?to, "a remote message came after its process ended");
                        None
                    }
                    Err(Undelivered::Refused(why)) => {
                        self.dead_letter();
                        warn_limited!(
                            self.inner.warnings,
                            "rejected",
                            format!("{to:?}"),
                            "a remote message was rejected: {why}"
                        );
                        Some(why)
                    }
                }
            }
        };
        // Not taken by a delivery: a dead letter.
        if let Some(finished) = finished {
            finished(undelivered);
        }
        refused
    }

    fn dead_letter(&self) {
        self.inner
            .counters
            .dead_letters
            .fetch_add(1, Ordering::Relaxed);
    }
}

impl SpawnOpts {
    /// Exports the process ([`Node::export`]) as it is spawned, before
    /// anyone can reach it: a supervised child so declared is exported
    /// again after every restart. `M` is the process's message type; a
    /// process of another type fails to spawn with
    /// [`SpawnError::OptionsType`](crate::SpawnError::OptionsType).
    ///
    /// # Examples
    ///
    /// ```
    /// use beamish_core::SpawnOpts;
    ///
    /// // A counter taking `u64`s, reachable from other nodes as `counter`.
    /// let opts = SpawnOpts::new().name("counter").export::<u64>();
    /// # let _ = opts;
    /// ```
    pub fn export<M: Message>(self) -> Self {
        self.export_as::<M, M>()
    }

    /// Exports the process under the remote-facing type `R`
    /// ([`Node::export_as`]) as it is spawned, and after every restart.
    /// `M` is the process's message type.
    pub fn export_as<R, M>(mut self) -> Self
    where
        R: Message + Into<M>,
        M: Send + 'static,
    {
        let hook: SpawnHook<M> = Arc::new(|node: &Node, handle: &Handle<M>| {
            node.export_as::<R, M>(handle);
        });
        self.on_spawn = Some(OnSpawn {
            hook: Arc::new(hook),
            for_type: std::any::type_name::<M>(),
            what: R::NAME,
        });
        self
    }
}

/// Whether a message from a durable transport was queued; one handed back
/// (its process ended meanwhile) comes again, as one it did not get to
/// handle.
fn taken<M>(pushed: Result<(), Acked<M>>) -> bool {
    match pushed {
        Ok(()) => true,
        Err(acked) => {
            (acked.finished)(Settled::Failed);
            false
        }
    }
}

/// Why a remote message was not delivered to an existing process.
enum Undelivered {
    /// The process ended meanwhile (its monitors say so).
    Ended,
    /// The process's node refused the message: why.
    Refused(String),
}

/// How `target` takes messages of `msg_type` from other nodes, or why
/// it does not.
fn exported_for(target: &dyn AnyProcess, msg_type: u64) -> Result<&Exported, Undelivered> {
    let pid = target.core().pid;
    let Some(exported) = target.core().exported.get() else {
        return Err(Undelivered::Refused(format!("{pid} is not exported")));
    };
    if exported.id != msg_type {
        return Err(Undelivered::Refused(format!(
            "{pid} takes {}, not the message type with wire id {msg_type:#018x}",
            exported.name
        )));
    }
    Ok(exported)
}

impl Node {
    /// Delivers a message from another node at once, without a reference
    /// taken or a future made, where nothing can go wrong or wait: a
    /// process of this node, alive, exported for the message's type,
    /// with an unbounded mailbox, and a message that decodes. `false` for
    /// anything else, which the caller delivers with
    /// [`dispatch`](Self::dispatch) (which counts a dead letter, or says
    /// why, there).
    pub(crate) fn deliver_now(
        &self,
        from: Option<NodeName>,
        to: &Dest,
        (msg_type, payload): (u64, &[u8]),
    ) -> bool {
        let Dest::Id { id, creation } = *to else {
            return false;
        };
        if creation != self.inner.creation {
            return false;
        }
        let Some(entry) = self.inner.table.get(&id) else {
            return false;
        };
        let target = entry.value();
        let Ok(exported) = exported_for(&**target, msg_type) else {
            return false;
        };
        if target.is_bounded() {
            return false;
        }
        let arrival = Arrival { from, call: None };
        matches!(
            (exported.decode)(&self.inner, target, payload, &mut None, arrival),
            Ok(Delivery::Done(true))
        )
    }
}

async fn deliver(
    node: &Arc<NodeInner>,
    target: &Arc<dyn AnyProcess>,
    (msg_type, payload): (u64, &[u8]),
    finished: &mut Option<Finished>,
    arrival: Arrival,
) -> Result<(), Undelivered> {
    let exported = exported_for(&**target, msg_type)?;
    let expected = exported.name;
    let delivery = (exported.decode)(node, target, payload, finished, arrival)
        .map_err(|err| Undelivered::Refused(format!("undecodable {expected}: {err}")))?;
    let delivered = match delivery {
        Delivery::Done(queued) => queued,
        Delivery::Waiting(future) => future.await,
    };
    if delivered {
        Ok(())
    } else {
        Err(Undelivered::Ended)
    }
}
