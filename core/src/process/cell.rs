//! The shared half of a process: what other processes and the node see of
//! it (its mailbox, links, monitors and counters), apart from its state,
//! which only its own task touches.

use std::any::Any;
use std::sync::Arc;

use super::links::deliver_exit;
use super::mailbox::{Envelope, Mailbox, MailboxSize};
use crate::node::{AnyProcess, Counters, ProcCore};
use crate::{ExitReason, Pid, Signal};

/// The shared state of a process whose messages are `M`.
pub(crate) struct Shared<M> {
    pub(crate) core: ProcCore,
    pub(crate) mailbox: Mailbox<M>,
}

impl<M: Send + 'static> Shared<M> {
    pub(crate) fn new(
        pid: Pid,
        process_type: &'static str,
        parent: Option<Pid>,
        size: MailboxSize,
        counters: Arc<Counters>,
    ) -> Self {
        Self {
            core: ProcCore::new(pid, process_type, parent, counters),
            mailbox: Mailbox::new(size),
        }
    }
}

impl<M: Send + 'static> AnyProcess for Shared<M> {
    fn core(&self) -> &ProcCore {
        &self.core
    }

    fn push_signal(&self, signal: Signal) -> bool {
        self.mailbox
            .push(Envelope::Signal(Box::new(signal)))
            .is_ok()
    }

    fn kill(&self, reason: ExitReason) -> bool {
        self.mailbox.kill(reason)
    }

    fn exit_signal(&self, from: Pid, reason: ExitReason, via_link: bool) {
        deliver_exit(self, from, reason, via_link);
    }

    fn mailbox_len(&self) -> usize {
        self.mailbox.len()
    }

    fn is_bounded(&self) -> bool {
        self.mailbox.is_bounded()
    }

    fn message_type(&self) -> &'static str {
        std::any::type_name::<M>()
    }

    fn into_any(self: Arc<Self>) -> Arc<dyn Any + Send + Sync> {
        self
    }

    fn as_any(&self) -> &(dyn Any + Send + Sync) {
        self
    }
}
