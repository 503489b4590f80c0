//! The dynamic supervisor process: starts children from its spec on
//! request, restarts them one for one, and stops them all at once.

use std::collections::{BTreeMap, HashMap};

use beamish_core::{async_trait, Context, ExitReason, Handle, Pid, Process, Signal, SpawnOpts};
use tokio::time::Instant;
use tracing::{error, warn};

use super::remote::{Request, WireChild, WireError};
use super::{DynamicChild, DynamicError, DynamicMsg, DynamicRequest, DynamicSpec};
use crate::api::ChildCounts;
use crate::intensity::Intensity;
use crate::spec::{start_reason, ChildKind};
use crate::stop::{stop, stop_all_at_once};

struct Running<P: Process> {
    handle: Handle<P::Msg>,
    /// Kept for restarts.
    args: P::Args,
    restarts: u64,
}

/// The process behind a [`DynamicRef`](super::DynamicRef).
pub(crate) struct DynamicSupervisor<P: Process> {
    spec: DynamicSpec<P>,
    intensity: Intensity,
    /// By start order; a restarted child keeps its place.
    children: BTreeMap<u64, Running<P>>,
    places: HashMap<Pid, u64>,
    next_place: u64,
}

#[async_trait]
impl<P: Process> Process for DynamicSupervisor<P>
where
    P::Args: Clone,
{
    type Args = DynamicSpec<P>;
    type Msg = DynamicMsg<P>;

    async fn init(
        ctx: &mut Context<DynamicMsg<P>>,
        spec: DynamicSpec<P>,
    ) -> Result<Self, ExitReason> {
        ctx.trap_exit(true);
        Ok(DynamicSupervisor {
            intensity: Intensity::new(spec.max_restarts, spec.period),
            spec,
            children: BTreeMap::new(),
            places: HashMap::new(),
            next_place: 0,
        })
    }

    async fn handle(
        &mut self,
        ctx: &mut Context<DynamicMsg<P>>,
        msg: DynamicMsg<P>,
    ) -> Result<(), ExitReason> {
        match msg {
            DynamicMsg::StartChild(args, reply) => {
                reply.reply(self.start_child(ctx, args).await);
            }
            DynamicMsg::TerminateChild(pid, reply) => {
                reply.reply(self.terminate_child(ctx, pid).await);
            }
            DynamicMsg::WhichChildren(reply) => {
                let children = self
                    .children
                    .values()
                    .map(|child| DynamicChild {
                        handle: child.handle.clone(),
                        restarts: child.restarts,
                    })
                    .collect();
                reply.reply(children);
            }
            DynamicMsg::CountChildren(reply) => {
                reply.reply(self.count_children());
            }
            DynamicMsg::Remote(DynamicRequest(request)) => self.answer_remote(ctx, request).await,
        }
        Ok(())
    }

    async fn handle_signal(
        &mut self,
        ctx: &mut Context<DynamicMsg<P>>,
        signal: Signal,
    ) -> Result<(), ExitReason> {
        let Signal::Exit { from, reason } = signal else {
            return Ok(());
        };
        if Some(from) == ctx.parent() || from == ctx.node().pid() {
            return Err(reason);
        }
        let Some(place) = self.places.remove(&from) else {
            return Ok(());
        };
        let Some(child) = self.children.remove(&place) else {
            return Ok(());
        };
        if !self.spec.restart.restarts_after(&reason) || ctx.node().is_stopping() {
            return Ok(());
        }
        warn!(child = %from, %reason, "child ended; restarting");
        loop {
            if !self.intensity.allow(Instant::now()) {
                error!("restart intensity reached; shutting down");
                return Err(ExitReason::Shutdown);
            }
            match start(ctx, self.spec.opts.clone(), child.args.clone()).await {
                Ok(handle) => {
                    self.places.insert(handle.pid(), place);
                    self.children.insert(
                        place,
                        Running {
                            handle,
                            args: child.args,
                            restarts: child.restarts + 1,
                        },
                    );
                    return Ok(());
                }
                // Ignored on restart: it is gone, as OTP forgets it.
                Err(reason) if reason.is_normal() => return Ok(()),
                Err(reason) if ctx.node().is_stopping() => return Err(reason),
                Err(reason) => warn!(%reason, "restart failed; trying again"),
            }
        }
    }

    async fn terminate(&mut self, ctx: &mut Context<DynamicMsg<P>>, _reason: &ExitReason) {
        let pids: Vec<Pid> = self.children.values().map(|c| c.handle.pid()).collect();
        self.children.clear();
        self.places.clear();
        stop_all_at_once(ctx, &pids, self.spec.shutdown).await;
    }
}

impl<P: Process> DynamicSupervisor<P>
where
    P::Args: Clone,
{
    async fn start_child(
        &mut self,
        ctx: &mut Context<DynamicMsg<P>>,
        args: P::Args,
    ) -> Result<Handle<P::Msg>, DynamicError> {
        if let Some(max) = self.spec.max_children {
            if self.children.len() >= max {
                return Err(DynamicError::Full { max });
            }
        }
        let handle = match start(ctx, self.spec.opts.clone(), args.clone()).await {
            Ok(handle) => handle,
            Err(reason) if reason.is_normal() => return Err(DynamicError::Ignored),
            Err(reason) => return Err(DynamicError::Start(reason)),
        };
        let place = self.next_place;
        self.next_place += 1;
        self.places.insert(handle.pid(), place);
        self.children.insert(
            place,
            Running {
                handle: handle.clone(),
                args,
                restarts: 0,
            },
        );
        Ok(handle)
    }

    async fn terminate_child(
        &mut self,
        ctx: &mut Context<DynamicMsg<P>>,
        pid: Pid,
    ) -> Result<(), DynamicError> {
        match self.places.remove(&pid) {
            Some(place) => {
                self.children.remove(&place);
                stop(ctx, pid, self.spec.shutdown).await;
                Ok(())
            }
            // OTP: a pid that is not alive has nothing to stop.
            None if !ctx.node().is_alive(pid) => Ok(()),
            None => Err(DynamicError::NotFound(pid)),
        }
    }

    fn count_children(&self) -> ChildCounts {
        let n = self.children.len();
        let supervisors = if self.spec.kind == ChildKind::Supervisor {
            n
        } else {
            0
        };
        ChildCounts {
            specs: n,
            active: n,
            supervisors,
            workers: n - supervisors,
        }
    }

    /// Answers a request from another node as the local one, with pids
    /// where the local answer has handles.
    async fn answer_remote(&mut self, ctx: &mut Context<DynamicMsg<P>>, request: Request<P>) {
        match request {
            Request::StartChild(args, reply) => {
                let started = self.start_child(ctx, args).await;
                reply.reply(started.map(|h| h.pid()).map_err(WireError::from));
            }
            Request::TerminateChild(pid, reply) => {
                let ended = self.terminate_child(ctx, pid).await;
                reply.reply(ended.map_err(WireError::from));
            }
            Request::WhichChildren(reply) => {
                let children = self
                    .children
                    .values()
                    .map(|child| WireChild {
                        pid: child.handle.pid(),
                        restarts: child.restarts,
                    })
                    .collect();
                reply.reply(children);
            }
            Request::CountChildren(reply) => {
                reply.reply(self.count_children());
            }
        }
    }
}

/// Starts one child linked to the supervisor. A child whose `init` ended
/// `Normal` was ignored (OTP's `ignore`): `Err(Normal)`.
async fn start<P: Process>(
    ctx: &mut Context<DynamicMsg<P>>,
    opts: SpawnOpts,
    args: P::Args,
) -> Result<Handle<P::Msg>, ExitReason> {
    ctx.start_link::<P>(args, opts).await.map_err(start_reason)
}
