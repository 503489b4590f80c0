//! beamish-transport-amqp: the transport contract through an AMQP 0-9-1
//! broker (RabbitMQ), with lapin.
//!
//! Every node consumes from its own inbox queue, `beamish.inbox.<node>`,
//! bound to the direct exchange `beamish.nodes` under the node's name. A
//! connection between two nodes is a session: an `open` message to the
//! peer's inbox (which must exist: an unroutable one makes the peer
//! unreachable), then frames to each other's inbox tagged with the session
//! and the sender, in order, and a `close`. The node's cookie handshake and
//! heartbeats run over the session as over any connection.
//!
//! Endpoints are `amqp://user:pass@host:port/vhost?node=name`: a listening
//! node's endpoint names itself, and connecting to one names the node
//! wanted.
//!
//! # Presence
//!
//! A node is present while it consumes its inbox. The peers of a node's
//! sessions are checked at the broker every second (see
//! [`AmqpTransport::presence_interval`]); one that no longer consumes its
//! inbox at three checks in a row has its sessions lost, so the node sees
//! it down (`NodeDown`) without waiting for its heartbeats to run out. In
//! durable mode, opening a session to a node whose inbox has no consumer
//! fails at once as unreachable.
//!
//! # Discovery
//!
//! [`AmqpDiscovery`] finds the members of a cluster through the broker,
//! for `beamish-cluster`: each node announces its name on the presence
//! exchange under the cluster's name and hears the others, so pods that
//! know only the broker and the cluster's name form a full mesh.
//!
//! # Two modes
//!
//! - [`Mode::Fast`]: the inbox goes with its consumer, so with the node;
//!   messages are transient, unconfirmed and acknowledged automatically.
//!   Like TCP, a message in flight when something fails may be lost.
//! - [`Mode::Durable`]: the inbox is durable and outlives the node;
//!   messages are persistent; a send returns once the broker has confirmed
//!   every frame; a received message is acknowledged only after the target
//!   process's handler has returned, with a prefetch window (200 by
//!   default) bounding what is in flight.
//!
//! # How long a durable inbox stays
//!
//! A durable inbox outlives its node, keeping what is sent to the node
//! while it is away; the inbox of a node that never comes back (a pod with
//! a name of its own, replaced for good) would otherwise stay at the
//! broker for ever. So it expires: the broker deletes it, with what it
//! holds, once it has had no consumer for [`DEFAULT_INBOX_EXPIRY`] (7 days,
//! the queue's `x-expires`): long enough for a node down over a weekend or
//! through an incident to find its messages on its return.
//! [`AmqpTransport::inbox_expiry`] sets another time, and
//! [`AmqpTransport::keep_inbox_forever`] keeps the inbox until it is
//! removed.
//!
//! - The node's dead-letter queue goes by the same rule: it has no
//!   consumer, so the node renews its lease while it runs (three times per
//!   expiry), and it goes once the node has been gone as long. Read what
//!   it holds before then.
//! - The broker counts a declaration of the queue as use: a peer checking
//!   the node's presence, or opening a session to it because something is
//!   sent there, renews the lease. An inbox therefore goes once its node
//!   has been gone, and nothing has tried to reach it, for that long.
//! - The broker cannot change the arguments of a queue that exists. A node
//!   started with another expiry than its inbox was declared with (say, an
//!   inbox from a version of beamish without one) takes the inbox as it
//!   is, logs a warning that says so, and runs. To apply the new expiry,
//!   stop the node and delete its queues ([`remove_inbox`]) once they hold
//!   nothing you need, or set a broker policy: `rabbitmqctl set_policy
//!   beamish-inboxes '^beamish\.(inbox|dead)\.' '{"expires":604800000}'
//!   --apply-to queues` (where a queue has its own `x-expires` too, the
//!   smaller applies; a queue follows one policy, so merge this one with
//!   any that already match).
//! - [`remove_inbox`] deletes a node's inbox and dead-letter queue by the
//!   node's name, unless the node is running: the clean-up for nodes gone
//!   for good, from before the default or kept for ever
//!   (`beamish-remove-inbox` in the examples does it from the command
//!   line). [`AmqpTransport::delete_inbox`] deletes a transport's own.
//! - A fast inbox goes with its consumer; one never consumed (its node
//!   died between declaring and consuming it) goes within a minute.
//!
//! # When the broker goes away
//!
//! The transport owns its broker connection and makes it again with
//! backoff (100 ms, doubling to 2 s). In fast mode every session ends with
//! the broker connection (its `recv` fails) and a send on it fails at once
//! with `Closed`; the nodes open new sessions on demand. In durable mode
//! sessions outlive the broker connection: a send waits for the broker (at
//! most the send timeout, 30 s by default, then fails), and what the broker
//! had confirmed but the receiver had not acknowledged comes again, in
//! order, once it is back. The node's heartbeats still decide: an outage
//! longer than they allow ends the session at the node level.
//!
//! # The durable contract: at least once
//!
//! A message the broker confirmed is handled at least once: if the
//! receiving node crashes (or is SIGKILLed) before the handler returns, the
//! message stays in its inbox and is delivered again when a node with the
//! same name starts; messages of sessions from the node's earlier life are
//! delivered to processes by registered name (start and register them
//! before joining), once their signature checks out (see below). A message that was not handled (its connection, or
//! the process it was queued for, ended before it was) goes back to the
//! inbox and comes again, through the same session or as a message of an
//! earlier session, to a process restarted under the name it was sent to.
//! A message whose handler failed (panicked, or its process was killed
//! meanwhile), or that found no process to take it (none by that name or
//! pid, the wrong type, not exported yet), comes again too, after a pause
//! that doubles each time (50 ms, 100 ms, ...; a supervisor restarts the
//! process meanwhile), but at most
//! [`delivery_limit`](AmqpTransport::delivery_limit) times in all (5 by
//! default): a poison message, one that fails its handler every time, or
//! one for a process that is gone for good, then goes to the node's
//! dead-letter queue ([`dead_letters`](AmqpTransport::dead_letters)) with
//! an error logged, instead of coming round for ever or being lost. The failures are counted by the
//! receiving node, in memory: a node restarted counts afresh.
//!
//! Duplicates are possible: a message handled but not yet acknowledged
//! when the node died comes again. Order per pair of processes is kept,
//! except across a redelivery: a message delivered again comes after
//! messages that had already overtaken it. A handler should therefore be
//! idempotent (setting a state rather than adding to it), or each message
//! should carry an id (a sequence number per sender, or a unique id) that
//! the handler records, skipping ids it has already seen.
//!
//! # Frames from an earlier life, and the cookie
//!
//! A session is authenticated by the node's handshake, as a TCP connection
//! is. Frames of a session the node does not know, left in its durable
//! inbox by its earlier life, reach it with no handshake and are delivered
//! by name: the transport takes them only if a node that knew the cookie
//! sent them.
//!
//! - When a node joins, it hands its transports a secret derived from its
//!   cookie
//!   ([`Transport::use_secret`](beamish_core::transport::Transport::use_secret)),
//!   from which the transport derives the key of durable frames,
//!   `HMAC-SHA256(secret, "beamish durable frames v1")`. Neither is the
//!   cookie, nor can stand in for a handshake's proof.
//! - Every data frame a durable node publishes is numbered (its
//!   `message_id`) and signed: its header `x-beamish-mac` holds
//!   HMAC-SHA256, under that key, of the sending node, the receiving node,
//!   the session, the number and the body. Frames of live sessions are
//!   signed too, although the handshake vouches for them while the session
//!   lives: the receiver may die mid-session, and what it had not
//!   acknowledged then comes to its next life as frames of a session it
//!   does not know, which must verify.
//! - A frame of a session the node does not know, or of one resumed from
//!   its earlier life, is verified before it is yielded. One that does not
//!   verify (unsigned, its signature or number malformed, signed under
//!   another cookie, or come before the node handed its secret) is
//!   acknowledged and dropped, never delivered, and counted
//!   ([`unauthenticated_frames`](AmqpTransport::unauthenticated_frames)).
//!   A node restarted with another cookie therefore drops what its earlier
//!   life was sent.
//! - Fast mode signs and verifies nothing: it has no earlier life, and a
//!   frame of a session the node does not know is dropped.
//!
//! Signing costs one HMAC-SHA256 per durable frame sent, verifying one per
//! frame from an earlier life; next to the broker's confirmation of each
//! persistent message, it does not show in the durable bench
//! (`amqp_cast_64b`).
//!
//! ## What a broker user without the cookie can and cannot do
//!
//! Credentials for the broker are not the cookie. Someone who holds only
//! them, and may publish to `beamish.nodes` or to a node's inbox,
//! **cannot**:
//!
//! - have a message delivered through a frame of a session the node does
//!   not know: it is refused as above;
//! - change the sender, the receiver, the session, the number or the body
//!   of a signed frame, or move it to another node's inbox, without its
//!   signature failing;
//! - open a session of their own: an `open` starts the node's handshake,
//!   which they cannot pass.
//!
//! They **can**, since frames are not encrypted and the broker lets its
//! users do much:
//!
//! - read every frame, if they may bind a queue of their own to
//!   `beamish.nodes` or read the dead-letter queues;
//! - replay a signed frame as it was: it verifies again and is delivered
//!   again, a duplicate such as the at-least-once contract below already
//!   asks handlers to bear;
//! - put frames into a *live* session whose number they have read (it is
//!   random, 64 bits, and travels in the frames' properties), or end it
//!   with a `close` naming it: the handshake vouches for a live session,
//!   and its frames are not verified;
//! - fill, purge or delete queues, publish garbage (acknowledged, dropped,
//!   and logged sparingly: see below), or open sessions whose handshakes
//!   fail, as any broker user can deny service.
//!
//! So keep the nodes' vhost to broker users you would trust with the
//! cookie when confidentiality or live sessions matter.
//!
//! # Warnings
//!
//! Every warning the transport logs about a message it receives (not a
//! beamish frame, of an unknown kind, over the frame limit, unsigned or
//! wrongly signed) is rate limited by kind and by source (the sender the
//! message names): at most one line per source and four per kind every
//! 10 s. The next line of a kind says how many were held back since the
//! last; once the 10 s are over, a line says so for a flood that has
//! stopped.
//!
//! # Example
//!
//! ```no_run
//! use beamish_core::{Cookie, Endpoint, Node};
//! use beamish_transport_amqp::{AmqpTransport, Mode};
//!
//! # #[tokio::main(flavor = "current_thread")]
//! # async fn main() -> Result<(), Box<dyn std::error::Error>> {
//! let broker: Endpoint = "amqp://guest:guest@127.0.0.1:5672/%2f".parse()?;
//! // The node's name is given once: its inbox is `beamish.inbox.orders@localhost`.
//! let node = Node::builder()
//!     .name("orders@localhost")
//!     .cookie(Cookie::from_file("/etc/orders/cookie")?)
//!     .transport(AmqpTransport::new(&broker, Mode::Durable)?)
//!     .listen(&broker)
//!     .start()
//!     .await?;
//! println!("reachable at {}", node.listening()[0]);
//! # Ok(())
//! # }
//! ```

mod ack;
mod broker;
mod consumer;
mod demux;
mod discovery;
mod presence;
mod queues;
mod remove;
mod session;
mod signature;
mod topics;
mod transport;
mod warnings;

pub use crate::discovery::{AmqpDiscovery, PRESENCE_EXCHANGE};
pub use crate::remove::{remove_inbox, RemoveInboxError, RemovedInbox};
pub use crate::topics::{
    DeadLetter, DurableError, DurableSettings, DurableSubscription, DurableTopics,
};
pub(crate) use crate::transport::Settings;
pub use crate::transport::{AmqpError, AmqpTransport, Mode, DEFAULT_INBOX_EXPIRY};
