//! What a message from another node is decoded for: the node whose reply
//! tokens it makes, the call it is the request of, and the peer that sent
//! it. Types that travel inside messages ([`ReplyTo`](super::ReplyTo),
//! [`Origin`](super::Origin)) read it as they are decoded.

use std::cell::RefCell;
use std::sync::{Arc, Weak};

use crate::node::{Arrival, CallWatch, NodeInner};
use crate::NodeName;

/// The context of one message being decoded (the node decoding it is
/// kept beside it).
pub(crate) struct Decoding {
    /// For a call's request: the call, whose own token takes its watch.
    pub(crate) call: Option<CallWatch>,
    /// The peer whose connection carried it.
    pub(crate) from: Option<NodeName>,
}

/// What a thread keeps between decodes: the node it decoded for last
/// (kept, so that a node's many messages do not each take and drop a
/// reference to it, all on the node's one shared count), and the message
/// being decoded now, if any.
struct Slot {
    node: Weak<NodeInner>,
    now: Option<Decoding>,
}

thread_local! {
    static DECODING: RefCell<Slot> = const {
        RefCell::new(Slot { node: Weak::new(), now: None })
    };
}

/// Runs `decode` with `node` as the node decoding a message that arrived
/// as `arrival` says.
pub(crate) fn decoding<T>(
    node: &Arc<NodeInner>,
    arrival: Arrival,
    decode: impl FnOnce() -> T,
) -> T {
    /// Puts back what was being decoded before, even if `decode` panics.
    struct Restore<'a> {
        slot: &'a RefCell<Slot>,
        previous: Option<Decoding>,
    }
    impl Drop for Restore<'_> {
        fn drop(&mut self) {
            self.slot.borrow_mut().now = self.previous.take();
        }
    }
    // One look at the thread's slot for the whole decode.
    DECODING.with(|slot| {
        let previous = {
            let mut slot = slot.borrow_mut();
            if !std::ptr::eq(slot.node.as_ptr(), Arc::as_ptr(node)) {
                slot.node = Arc::downgrade(node);
            }
            let now = Decoding {
                call: arrival.call,
                from: arrival.from,
            };
            slot.now.replace(now)
        };
        let _restore = Restore { slot, previous };
        decode()
    })
}

/// Reads the context of the message being decoded on this thread, and
/// the node decoding it, if a node is decoding one.
pub(crate) fn with_decoding<T>(
    read: impl FnOnce(&Weak<NodeInner>, &mut Decoding) -> T,
) -> Option<T> {
    DECODING.with(|slot| {
        let slot = &mut *slot.borrow_mut();
        slot.now.as_mut().map(|now| read(&slot.node, now))
    })
}
