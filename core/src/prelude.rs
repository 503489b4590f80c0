//! What most programs use, in one import: `use beamish_core::prelude::*;`
//! (the `beamish` facade has its own prelude, with supervision and the
//! transports too).
//!
//! # Examples
//!
//! ```
//! use beamish_core::prelude::*;
//!
//! # #[tokio::main(flavor = "current_thread")]
//! # async fn main() -> Result<(), Box<dyn std::error::Error>> {
//! let node = Node::builder().name("solo@localhost").build()?;
//! assert_eq!(node.name().to_string(), "solo@localhost");
//! # Ok(())
//! # }
//! ```

pub use crate::{
    async_trait, Addr, CallError, ClusterConfig, Context, Cookie, Endpoint, ExitReason, Handle,
    Message, Node, NodeName, Pid, Process, ReplyTo, Signal, SpawnOpts,
};
