//! Stopping children by their shutdown rule: one at a time, in order (a
//! supervisor's children), or all at once (a dynamic supervisor's, as
//! OTP stops a `simple_one_for_one` supervisor's children).

use beamish_core::{Context, ExitReason, ExitWatch, Pid};
use tracing::warn;

use crate::spec::Shutdown;

/// Stops one child by its shutdown rule and waits until it has ended.
/// It is unlinked first, so its exit does not come back as a signal.
pub(crate) async fn stop<M: Send + 'static>(
    ctx: &mut Context<M>,
    pid: Pid,
    shutdown: Shutdown,
) -> ExitReason {
    let mut ended = ctx.node().monitor(pid);
    ctx.unlink(pid);
    match shutdown {
        Shutdown::BrutalKill => ctx.exit(pid, ExitReason::Kill),
        Shutdown::Infinity => ctx.exit(pid, ExitReason::Shutdown),
        Shutdown::Timeout(grace) => {
            ctx.exit(pid, ExitReason::Shutdown);
            if let Ok(reason) = tokio::time::timeout(grace, &mut ended).await {
                return reason;
            }
            warn!(%pid, "child did not stop in time; killing it");
            ctx.exit(pid, ExitReason::Kill);
        }
    }
    ended.await
}

/// Stops every child in `pids` at once: each is unlinked and sent its
/// signal (youngest, the last in `pids`, first), then all are waited for
/// together, and with a `Timeout` rule those still running when it
/// expires are killed. The time taken is that of the slowest child, not
/// the sum.
pub(crate) async fn stop_all_at_once<M: Send + 'static>(
    ctx: &mut Context<M>,
    pids: &[Pid],
    shutdown: Shutdown,
) {
    let mut running: Vec<(Pid, Option<ExitWatch>)> = pids
        .iter()
        .rev()
        .map(|&pid| {
            let ended = ctx.node().monitor(pid);
            ctx.unlink(pid);
            (pid, Some(ended))
        })
        .collect();
    let signal = match shutdown {
        Shutdown::BrutalKill => ExitReason::Kill,
        Shutdown::Timeout(_) | Shutdown::Infinity => ExitReason::Shutdown,
    };
    for (pid, _) in &running {
        ctx.exit(*pid, signal.clone());
    }
    let all_ended = async {
        for (_, ended) in running.iter_mut() {
            if let Some(watch) = ended.as_mut() {
                watch.await;
                *ended = None;
            }
        }
    };
    let Shutdown::Timeout(grace) = shutdown else {
        return all_ended.await;
    };
    if tokio::time::timeout(grace, all_ended).await.is_ok() {
        return;
    }
    let late = running.iter().filter(|(_, ended)| ended.is_some()).count();
    warn!(late, "children did not stop in time; killing them");
    for (pid, ended) in &running {
        if ended.is_some() {
            ctx.exit(*pid, ExitReason::Kill);
        }
    }
    for (_, ended) in running.iter_mut() {
        if let Some(watch) = ended.take() {
            watch.await;
        }
    }
}
