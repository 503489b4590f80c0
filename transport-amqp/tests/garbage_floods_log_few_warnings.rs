//! A broker user floods a node's inbox with messages that are not frames,
//! of unknown kinds, unsigned or wrongly signed, each naming a sender of
//! its own or the same one: the node logs a handful of warnings, not one
//! per message. Alone in its test binary, since it captures every log line
//! of the process. Through the broker on 127.0.0.1:5672: without one it
//! fails; it never skips.

mod support;

use std::io::Write;
use std::sync::{Arc, Mutex};
use std::time::Instant;

use beamish_core::transport::{Listener, Transport};
use beamish_transport_amqp::Mode;
use lapin::types::{AMQPValue, FieldTable};
use lapin::BasicProperties;
use support::{broker, eventually, publish_raw, secret, transport, unique};

/// How many messages the flood holds.
const FLOOD: usize = 5_000;

/// The most lines the transport logs of one kind of warning in 10 s (see
/// the crate docs), and the kinds this flood holds: not a frame, of an
/// unknown kind, unauthenticated.
const LINES_PER_KIND: usize = 4;
const KINDS: usize = 3;

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
    fn lines(&self) -> Vec<String> {
        let bytes = self.0.lock().expect("not poisoned").clone();
        String::from_utf8_lossy(&bytes)
            .lines()
            .map(str::to_owned)
            .collect()
    }
}

/// The `i`th message of the flood.
fn garbage(i: usize) -> (Vec<u8>, BasicProperties) {
    let body = vec![0xc1; 16];
    let data = |from: String| {
        BasicProperties::default()
            .with_type("data".into())
            .with_reply_to(from.into())
            .with_correlation_id(i.to_string().into())
            .with_message_id("1".into())
    };
    let properties = match i % 4 {
        0 => BasicProperties::default(),
        1 => BasicProperties::default()
            .with_type("bogus".into())
            .with_reply_to("flooder".into())
            .with_correlation_id("1".into()),
        // Unsigned, each naming a sender of its own.
        2 => data(format!("flooder-{i}@localhost")),
        _ => {
            let mut headers = FieldTable::default();
            headers.insert(
                "x-beamish-mac".into(),
                AMQPValue::LongString(vec![7_u8; 32].into()),
            );
            data("flooder@localhost".to_owned()).with_headers(headers)
        }
    };
    (body, properties)
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_flood_of_garbage_logs_a_handful_of_warnings() {
    let captured = Captured::default();
    let writer = captured.clone();
    let subscriber = tracing_subscriber::fmt()
        .with_env_filter("beamish_transport_amqp=warn")
        .with_ansi(false)
        .with_writer(move || writer.clone())
        .finish();
    tracing::subscriber::set_global_default(subscriber).expect("the only subscriber");

    let node = format!("{}@localhost", unique("flooded"));
    let amqp = transport(&node, Mode::Durable);
    amqp.use_secret(secret());
    let listener = amqp.listen(&broker()).await.expect("listens");
    let started = Instant::now();
    publish_raw(&node, (0..FLOOD).map(garbage).collect()).await;
    // Routed in order: once the last unauthenticated one is counted, every
    // message before it has been seen.
    let unauthenticated = (FLOOD / 2) as u64;
    eventually("the flood is seen", || {
        amqp.unauthenticated_frames() == unauthenticated
    })
    .await;
    let periods = 1 + started.elapsed().as_secs() as usize / 10;

    let lines = captured.lines();
    let warnings: Vec<_> = lines.iter().filter(|line| line.contains("WARN")).collect();
    assert!(
        !warnings.is_empty() && warnings.len() <= KINDS * LINES_PER_KIND * periods,
        "{} warnings for {FLOOD} messages:\n{}",
        warnings.len(),
        lines.join("\n")
    );
    for kind in ["not a beamish frame", "unknown kind", "refused a frame"] {
        assert!(
            warnings.iter().any(|line| line.contains(kind)),
            "no warning says {kind:?}:\n{}",
            lines.join("\n")
        );
    }
    drop::<Box<dyn Listener>>(listener);
    amqp.delete_inbox().await.expect("deleted");
}
