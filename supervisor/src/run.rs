//! OTP's application rule for a service: the node runs its top
//! supervisor, and when that supervisor gives up, the node stops and
//! `main` gets an error, so the process exits non-zero and whatever runs
//! it (systemd, Kubernetes) starts it afresh.

use std::future::Future;

use beamish_core::{ExitReason, Node, SpawnOpts, Timeout};
use tracing::{error, info};

use crate::api::{SupervisorError, SupervisorRef, DEFAULT_TIMEOUT};
use crate::SupervisorSpec;

/// Why a node's run ended with an error.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[non_exhaustive]
pub enum RunError {
    /// The top supervisor did not start.
    #[error("the top supervisor did not start: {0}")]
    Start(#[from] SupervisorError),
    /// The top supervisor exited abnormally (for example with `Shutdown`
    /// when its restart intensity was reached) while the node was not
    /// being shut down; the node has been shut down since.
    #[error("the top supervisor exited: {0}")]
    Exited(ExitReason),
}

/// Runs a node as a service around its top supervisor, as an OTP release
/// runs a permanent application: [`run`](Self::run) returns only when the
/// top supervisor has ended, and returns an error if it ended abnormally.
///
/// # Examples
///
/// ```no_run
/// use beamish_core::Node;
/// use beamish_supervisor::{NodeExt, Strategy, SupervisorSpec};
///
/// # async fn shutdown_requested() {}
/// #[tokio::main]
/// async fn main() -> Result<(), Box<dyn std::error::Error>> {
///     let node = Node::new()?;
///     let top = SupervisorSpec::new(Strategy::OneForOne); // .child(...)
///     // Ends on the request (an orderly stop, `Ok`), or when the tree
///     // gives up (an error: `main` exits non-zero).
///     node.run_until(top, shutdown_requested()).await?;
///     Ok(())
/// }
/// ```
pub trait NodeExt: sealed::Sealed {
    /// Starts `spec` as the top supervisor and runs until it ends (see
    /// [`run_until_exit`](Self::run_until_exit)).
    ///
    /// # Errors
    ///
    /// [`RunError::Start`] if it did not start, [`RunError::Exited`] if it
    /// exited abnormally.
    fn run(&self, spec: SupervisorSpec) -> impl Future<Output = Result<(), RunError>> + Send;

    /// Starts `spec` as the top supervisor and runs until it ends or
    /// `stop` completes (a shutdown signal, say). On `stop` the top
    /// supervisor is stopped, its children in reverse start order by
    /// their shutdown rules, then the rest of the node, and the run ends
    /// `Ok`.
    ///
    /// # Errors
    ///
    /// As [`run`](Self::run).
    fn run_until<S>(
        &self,
        spec: SupervisorSpec,
        stop: S,
    ) -> impl Future<Output = Result<(), RunError>> + Send
    where
        S: Future<Output = ()> + Send;

    /// Waits until `top` ends. If it ends `Normal`, or because the node is
    /// shutting down, the run ends `Ok`; if it ends abnormally, the node
    /// is shut down and the run ends with [`RunError::Exited`].
    ///
    /// # Errors
    ///
    /// [`RunError::Exited`] if `top` exited abnormally.
    fn run_until_exit(
        &self,
        top: &SupervisorRef,
    ) -> impl Future<Output = Result<(), RunError>> + Send;
}

impl NodeExt for Node {
    async fn run(&self, spec: SupervisorSpec) -> Result<(), RunError> {
        self.run_until(spec, std::future::pending()).await
    }

    async fn run_until<S>(&self, spec: SupervisorSpec, stop: S) -> Result<(), RunError>
    where
        S: Future<Output = ()> + Send,
    {
        let top = SupervisorRef::start(self, spec, SpawnOpts::new()).await?;
        tokio::select! {
            ended = self.run_until_exit(&top) => ended,
            () = stop => {
                info!("stopping the top supervisor");
                let _ = top.stop(ExitReason::Shutdown, Timeout::Infinity).await;
                self.shutdown(DEFAULT_TIMEOUT).await;
                Ok(())
            }
        }
    }

    async fn run_until_exit(&self, top: &SupervisorRef) -> Result<(), RunError> {
        let reason = self.monitor(top.pid()).await;
        if self.is_stopping() || reason.is_normal() {
            return Ok(());
        }
        error!(%reason, "the top supervisor exited; stopping the node");
        self.shutdown(DEFAULT_TIMEOUT).await;
        Err(RunError::Exited(reason))
    }
}

mod sealed {
    pub trait Sealed {}
    impl Sealed for beamish_core::Node {}
}
