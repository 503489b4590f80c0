//! The registry: names for local processes, as Erlang's `register`.

use std::sync::Arc;

use super::{AnyProcess, Node, NodeInner};
use crate::{Pid, RegisterError};

impl Node {
    /// Registers `name` for a live local process, as Erlang's `register`.
    /// The name is freed when the process ends.
    ///
    /// # Errors
    ///
    /// A [`RegisterError`] if the name is empty or taken, the process has a
    /// name already, or is not alive.
    pub fn register(&self, name: &str, pid: Pid) -> Result<(), RegisterError> {
        let proc = self.inner.lookup(pid).ok_or(RegisterError::NoProc(pid))?;
        self.inner.register(name, &*proc)
    }

    /// Removes a registered name; returns the pid it named, if any.
    pub fn unregister(&self, name: &str) -> Option<Pid> {
        let pid = self.inner.registry.lock().remove(name)?;
        if let Some(proc) = self.inner.lookup(pid) {
            let mut sig = proc.core().sig.lock();
            if sig.name.as_deref() == Some(name) {
                sig.name = None;
            }
        }
        Some(pid)
    }

    /// The pid registered under `name`.
    pub fn whereis(&self, name: &str) -> Option<Pid> {
        self.inner.registry.lock().get(name).copied()
    }

    /// All registered names with their pids, sorted by name.
    pub fn registered(&self) -> Vec<(Arc<str>, Pid)> {
        let mut names: Vec<_> = self
            .inner
            .registry
            .lock()
            .iter()
            .map(|(name, pid)| (Arc::clone(name), *pid))
            .collect();
        names.sort();
        names
    }
}

impl NodeInner {
    pub(crate) fn register(&self, name: &str, proc: &dyn AnyProcess) -> Result<(), RegisterError> {
        if name.is_empty() {
            return Err(RegisterError::EmptyName);
        }
        let pid = proc.core().pid;
        let mut registry = self.registry.lock();
        if let Some(&holder) = registry.get(name) {
            return Err(RegisterError::NameTaken {
                name: name.into(),
                holder,
            });
        }
        let mut sig = proc.core().sig.lock();
        if sig.exited {
            return Err(RegisterError::NoProc(pid));
        }
        if let Some(current) = &sig.name {
            return Err(RegisterError::AlreadyNamed {
                pid,
                name: Arc::clone(current),
            });
        }
        let name: Arc<str> = name.into();
        sig.name = Some(Arc::clone(&name));
        registry.insert(name, pid);
        Ok(())
    }
}
