//! Shared pieces of the beamish examples: the services the node program
//! hosts, with their message types, and what the two versions of the
//! rolling-upgrade programs share. Nodes that talk to each other agree on
//! their messages' wire names (`#[message(name = "...")]`), usually
//! through a protocol crate both sides depend on; the Rust types may
//! differ, as they do between two versions of a program.
//!
//! ```
//! use beamish_examples::services::{EchoMsg, Echo};
//! # let _ = std::marker::PhantomData::<(Echo, EchoMsg)>;
//! ```

/// Logs to standard error, at the level `RUST_LOG` asks for (`warn` if
/// unset): the node programs keep standard output for what their callers
/// read.
pub fn log_to_stderr() {
    tracing_subscriber::fmt()
        .with_env_filter(
            tracing_subscriber::EnvFilter::try_from_default_env()
                .unwrap_or_else(|_| tracing_subscriber::EnvFilter::new("warn")),
        )
        .with_writer(std::io::stderr)
        .init();
}

pub mod subscriptions;
pub mod upgrade;

pub mod services {
    //! `echo` answers calls; `counter` counts casts.

    use beamish::{async_trait, Context, ExitReason, Process, ReplyTo};
    use serde::{Deserialize, Serialize};

    /// What `echo` takes.
    #[derive(Serialize, Deserialize, Debug, beamish::Message)]
    #[message(name = "examples.Echo")]
    pub enum EchoMsg {
        /// Answer with the number doubled.
        Double(u64, ReplyTo<u64>),
    }

    /// Answers calls with the number doubled.
    #[derive(Debug)]
    pub struct Echo;

    #[async_trait]
    impl Process for Echo {
        type Args = ();
        type Msg = EchoMsg;

        async fn init(_ctx: &mut Context<EchoMsg>, _: ()) -> Result<Self, ExitReason> {
            Ok(Echo)
        }

        async fn handle(
            &mut self,
            _ctx: &mut Context<EchoMsg>,
            msg: EchoMsg,
        ) -> Result<(), ExitReason> {
            let EchoMsg::Double(n, reply) = msg;
            reply.reply(n * 2);
            Ok(())
        }
    }

    /// What `counter` takes.
    #[derive(Serialize, Deserialize, Debug, beamish::Message)]
    #[message(name = "examples.Counter")]
    pub enum CounterMsg {
        /// Count one.
        Add,
        /// Answer with the count.
        Total(ReplyTo<u64>),
    }

    /// Counts what it is sent.
    #[derive(Debug)]
    pub struct Counter(u64);

    #[async_trait]
    impl Process for Counter {
        type Args = ();
        type Msg = CounterMsg;

        async fn init(_ctx: &mut Context<CounterMsg>, _: ()) -> Result<Self, ExitReason> {
            Ok(Counter(0))
        }

        async fn handle(
            &mut self,
            _ctx: &mut Context<CounterMsg>,
            msg: CounterMsg,
        ) -> Result<(), ExitReason> {
            match msg {
                CounterMsg::Add => self.0 += 1,
                CounterMsg::Total(reply) => {
                    reply.reply(self.0);
                }
            }
            Ok(())
        }
    }
}
