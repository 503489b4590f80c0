//! A node starts against an inbox and a dead-letter queue declared earlier
//! with another expiry (none: a version of beamish without the default),
//! which the broker refuses to change: the node takes them as they are,
//! runs, and says so in one warning per queue. Another inequivalence (a
//! fast node against a durable inbox) still fails. Alone in its test
//! binary, since it captures every log line of the process. Through the
//! broker on 127.0.0.1:5672: without one it fails; it never skips.

mod support;

use std::io::Write;
use std::sync::{Arc, Mutex};
use std::time::Duration;

use beamish_core::transport::{Listener, Transport, TransportError};
use beamish_transport_amqp::{AmqpTransport, Mode};
use bytes::Bytes;
use support::{broker, declare_durable, eventually, next, secret, unique, Pair};

/// Every log line, as written.
#[derive(Clone, Default)]
struct Captured(Arc<Mutex<Vec<u8>>>);

impl Write for Captured {
    fn write(&mut self, bytes: &[u8]) -> std::io::Result<usize> {
        let mut captured = self
            .0
            .lock()
            .unwrap_or_else(|poisoned| poisoned.into_inner());
        captured.extend_from_slice(bytes);
        Ok(bytes.len())
    }

    fn flush(&mut self) -> std::io::Result<()> {
        Ok(())
    }
}

impl Captured {
    fn lines_with(&self, words: &str) -> Vec<String> {
        let bytes = self.0.lock().expect("not poisoned").clone();
        String::from_utf8_lossy(&bytes)
            .lines()
            .filter(|line| line.contains(words))
            .map(str::to_owned)
            .collect()
    }

    fn warnings(&self) -> Vec<String> {
        self.lines_with("WARN")
    }

    /// The channels the broker closed, as lapin logs them.
    fn refusals(&self) -> usize {
        self.lines_with("Channel closed").len()
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn an_inbox_declared_with_another_expiry_keeps_it_and_the_node_runs() {
    let captured = Captured::default();
    let writer = captured.clone();
    let subscriber = tracing_subscriber::fmt()
        .with_env_filter("beamish_transport_amqp=warn,lapin=error")
        .with_ansi(false)
        .with_writer(move || writer.clone())
        .finish();
    tracing::subscriber::set_global_default(subscriber).expect("the only subscriber");

    // The queues as an earlier version left them: durable, no expiry.
    let node = unique("upgraded");
    let b = AmqpTransport::with_inbox(&broker(), &node, Mode::Durable).expect("an amqp endpoint");
    for queue in [b.inbox(), b.dead_letters()] {
        declare_durable(&queue, None).await.expect("declared");
    }

    // The node starts with the 7-day default, and runs: a session to it
    // carries frames.
    b.use_secret(secret());
    let a = support::transport(&unique("peer"), Mode::Durable);
    let mut pair = Pair::new(a, b.clone()).await;
    pair.ours
        .sink
        .send(vec![Bytes::from_static(b"hello")])
        .await
        .expect("confirmed");
    let frame = next(&mut pair.theirs)
        .await
        .expect("open")
        .expect("a frame");
    assert_eq!(&frame.payload[..], b"hello");
    frame.ack().await.expect("acknowledged");

    // The queues keep their own arguments: still no expiry.
    for queue in [b.inbox(), b.dead_letters()] {
        declare_durable(&queue, None)
            .await
            .unwrap_or_else(|err| panic!("{queue} kept no expiry: {err}"));
    }
    // One warning per queue, saying what happened and what to do.
    let warnings = captured.warnings();
    for queue in [b.inbox(), b.dead_letters()] {
        let about: Vec<_> = warnings
            .iter()
            .filter(|line| line.contains(&format!("the queue {queue} ")))
            .collect();
        assert_eq!(about.len(), 1, "one warning about {queue}:\n{warnings:#?}");
        for words in ["keeps its own", "remove_inbox", "policy"] {
            assert!(about[0].contains(words), "{words:?} in {}", about[0]);
        }
    }

    // A node asking for an expiry of its own fares alike. Renewing the
    // dead-letter queue's lease (every 100 ms here), it asks about the
    // queue it knows to keep its own expiry without being refused again.
    let Pair {
        a,
        listener,
        ours,
        theirs,
        ..
    } = pair;
    drop::<Box<dyn Listener>>(listener);
    drop((ours, theirs));
    b.shutdown().await;
    let refused = captured.refusals();
    let again = AmqpTransport::with_inbox(&broker(), &node, Mode::Durable)
        .expect("an amqp endpoint")
        .inbox_expiry(Duration::from_millis(300));
    let listener = again.listen(&broker()).await.expect("listens again");
    eventually("one more warning per queue", || {
        captured.warnings().len() >= warnings.len() + 2
    })
    .await;
    // Then a window of several lease renewals (every 100 ms here), none of
    // which may be refused or warn again.
    tokio::time::sleep(Duration::from_secs(1)).await;
    assert_eq!(
        captured.warnings().len(),
        warnings.len() + 2,
        "one more warning per queue:\n{:#?}",
        captured.warnings()
    );
    assert_eq!(
        captured.refusals(),
        refused + 2,
        "refused once per queue, not at each renewal"
    );
    drop(listener);

    // A fast node of the same name is another inequivalence (durable),
    // which the node cannot take as it is: refused, as before.
    again.shutdown().await;
    let fast = AmqpTransport::with_inbox(&broker(), &node, Mode::Fast).expect("an amqp endpoint");
    match fast.listen(&broker()).await {
        Err(TransportError::InUse(why)) => assert!(why.contains("durable"), "{why}"),
        Err(other) => panic!("refused for another reason: {other}"),
        Ok(_) => panic!("a fast node took a durable inbox"),
    }
    again.delete_inbox().await.expect("deleted");
    a.delete_inbox().await.expect("deleted");
}
