//! Building a node.

use std::collections::{HashMap, VecDeque};
use std::sync::atomic::{AtomicBool, AtomicU64};
use std::sync::{Arc, OnceLock};

use dashmap::DashMap;
use parking_lot::Mutex;
use rustc_hash::FxBuildHasher;

use super::{Counters, Node, NodeInner, Warnings};
use crate::{Creation, NodeError, NodeName};

/// Configures and builds a [`Node`].
#[derive(Debug, Default)]
pub struct NodeBuilder {
    name: Option<String>,
    creation: Option<Creation>,
    runtime: Option<tokio::runtime::Handle>,
}

impl NodeBuilder {
    /// The node's name (`name@host`); `nonode@nohost` if not set.
    pub fn name(mut self, name: impl Into<String>) -> Self {
        self.name = Some(name.into());
        self
    }

    /// A fixed creation instead of a fresh one (for tests that need
    /// reproducible pids).
    pub fn creation(mut self, creation: Creation) -> Self {
        self.creation = Some(creation);
        self
    }

    /// The tokio runtime the node's processes run on; by default the one
    /// the builder is called in.
    pub fn runtime(mut self, runtime: tokio::runtime::Handle) -> Self {
        self.runtime = Some(runtime);
        self
    }

    /// Builds the node.
    ///
    /// # Errors
    ///
    /// [`NodeError::Name`] for an invalid name, [`NodeError::NoRuntime`]
    /// if no runtime was given and none is running.
    pub fn build(self) -> Result<Node, NodeError> {
        let name = match &self.name {
            Some(name) => NodeName::new(name)?,
            None => NodeName::local_default(),
        };
        let runtime = match self.runtime {
            Some(runtime) => runtime,
            None => tokio::runtime::Handle::try_current().map_err(|_| NodeError::NoRuntime)?,
        };
        Ok(Node {
            inner: Arc::new(NodeInner {
                name,
                _name_pin: name.pin(),
                creation: self.creation.unwrap_or_else(Creation::fresh),
                // Id 0 stands for the node itself.
                next_id: AtomicU64::new(1),
                next_ref: AtomicU64::new(1),
                table: DashMap::with_hasher(FxBuildHasher),
                registry: Mutex::new(HashMap::new()),
                counters: Arc::new(Counters::default()),
                stopping: AtomicBool::new(false),
                unobserved: AtomicU64::new(0),
                failures: Mutex::new(VecDeque::new()),
                runtime,
                distribution: OnceLock::new(),
                warnings: Warnings::default(),
            }),
        })
    }
}
