//! Handles and the values that cross tasks are `Send + Sync`, checked at
//! compile time.

use beamish_core::*;
use static_assertions::{assert_impl_all, assert_not_impl_any};

struct NotSync(std::marker::PhantomData<std::cell::Cell<u8>>);

assert_impl_all!(Handle<String>: Send, Sync, Clone);
assert_impl_all!(Handle<NotSync>: Send);
assert_impl_all!(Node: Send, Sync, Clone);
assert_impl_all!(Pid: Send, Sync, Copy, Eq, std::hash::Hash, Ord);
assert_impl_all!(NodeName: Send, Sync, Copy);
assert_impl_all!(ReplyTo<String>: Send, Sync);
assert_impl_all!(TimerRef: Send, Sync);
assert_impl_all!(ExitWatch: Send, Sync);
assert_impl_all!(ExitReason: Send, Sync, Clone);
assert_impl_all!(Signal: Send, Sync);
assert_impl_all!(MonitorRef: Send, Sync, Copy);
assert_impl_all!(ProcessInfo: Send, Sync);
assert_impl_all!(NodeStats: Send, Sync);
assert_impl_all!(SendError<String>: Send, Sync, std::error::Error);
assert_impl_all!(TrySendError<String>: Send, Sync, std::error::Error);
assert_impl_all!(CallError: Send, Sync, std::error::Error);
assert_impl_all!(SpawnError: Send, Sync, std::error::Error);
assert_impl_all!(StartError: Send, Sync, std::error::Error);
assert_impl_all!(RegisterError: Send, Sync, std::error::Error);
assert_impl_all!(LookupError: Send, Sync, std::error::Error);
assert_impl_all!(NamedSendError<String>: Send, Sync, std::error::Error);
assert_impl_all!(Context<String>: Send);
// Not an error itself, so that every `std::error::Error` converts into it
// and `?` works in handlers.
assert_not_impl_any!(ExitReason: std::error::Error);

struct Unit;

#[async_trait]
impl Process for Unit {
    type Args = ();
    type Msg = ReplyTo<u8>;

    async fn init(_ctx: &mut Context<ReplyTo<u8>>, _: ()) -> Result<Self, ExitReason> {
        Ok(Unit)
    }

    async fn handle(
        &mut self,
        _ctx: &mut Context<ReplyTo<u8>>,
        reply: ReplyTo<u8>,
    ) -> Result<(), ExitReason> {
        reply.reply(1);
        Ok(())
    }
}

fn is_send<T: Send>(_: &T) {}

#[tokio::test]
async fn handle_futures_are_send() {
    let node = Node::new().expect("runtime");
    let unit = node.spawn::<Unit>(()).expect("spawns");
    let call = unit.call(|r| r, std::time::Duration::from_secs(1));
    is_send(&call);
    assert_eq!(call.await, Ok(1));
    let shutdown = node.shutdown(std::time::Duration::from_secs(1));
    is_send(&shutdown);
    assert_eq!(shutdown.await.stopped, 1);
}
