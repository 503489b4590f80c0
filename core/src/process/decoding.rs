//! What a message from another node is decoded for: the node whose reply
//! tokens it makes, the call it is the request of, and the peer that sent
//! it. Types that travel inside messages ([`ReplyTo`](super::ReplyTo),
//! [`Origin`](super::Origin)) read it as they are decoded.

use std::cell::RefCell;
use std::sync::{Arc, Weak};

use crate::node::{Arrival, CallWatch, NodeInner};
use crate::NodeName;

/// The context of one message being decoded.
pub(crate) struct Decoding {
    /// The node decoding it.
    pub(crate) node: Weak<NodeInner>,
    /// For a call's request: the call, whose own token takes its watch.
    pub(crate) call: Option<CallWatch>,
    /// The peer whose connection carried it.
    pub(crate) from: Option<NodeName>,
}

thread_local! {
    static DECODING: RefCell<Option<Decoding>> = const { RefCell::new(None) };
}

/// Runs `decode` with `node` as the node decoding a message that arrived
/// as `arrival` says.
pub(crate) fn decoding<T>(
    node: &Arc<NodeInner>,
    arrival: Arrival,
    decode: impl FnOnce() -> T,
) -> T {
    struct Restore(Option<Decoding>);
    impl Drop for Restore {
        fn drop(&mut self) {
            DECODING.with(|slot| *slot.borrow_mut() = self.0.take());
        }
    }
    let now = Decoding {
        node: Arc::downgrade(node),
        call: arrival.call,
        from: arrival.from,
    };
    let previous = DECODING.with(|slot| slot.borrow_mut().replace(now));
    let _restore = Restore(previous);
    decode()
}

/// Reads the context of the message being decoded on this thread, if a
/// node is decoding one.
pub(crate) fn with_decoding<T>(read: impl FnOnce(&mut Decoding) -> T) -> Option<T> {
    DECODING.with(|slot| slot.borrow_mut().as_mut().map(read))
}
