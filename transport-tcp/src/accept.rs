//! TLS connections accepted apart from the accept loop, with a cap on
//! the handshakes in progress.

use std::net::SocketAddr;
use std::sync::Arc;
use std::time::Duration;

use beamish_core::transport::Connection;
use beamish_tls::TlsConfig;
use tokio::net::TcpStream;
use tokio::sync::{mpsc, OwnedSemaphorePermit, Semaphore};
use tokio::time::Instant;
use tokio_rustls::TlsAcceptor;

use beamish_core::limit::Throttle;

/// At most one warning about refused connections in this long.
const REFUSALS_WARNED_EVERY: Duration = Duration::from_secs(10);

/// Accepts TCP connections and runs each TLS handshake in a task of its
/// own, at most `handshakes` at once; connections that complete it come
/// out of the returned channel. A connection arriving while `handshakes`
/// are in progress is closed at once, so that a flood of connections
/// that never finish their handshake holds a bounded number of sockets
/// and tasks. The socket is closed once the returned channel is dropped.
pub(crate) fn accept(
    transport: crate::TcpTransport,
    tls: &TlsConfig,
    mut listener: crate::RetryingListener,
    handshakes: usize,
) -> mpsc::Receiver<Connection> {
    let (done, accepted) = mpsc::channel(16);
    let acceptor = TlsAcceptor::from(tls.server_config());
    let slots = Arc::new(Semaphore::new(handshakes.min(Semaphore::MAX_PERMITS)));
    tokio::spawn(async move {
        let mut refusals = Throttle::new(REFUSALS_WARNED_EVERY);
        loop {
            let (stream, peer) = tokio::select! {
                accepted = listener.accept() => match accepted {
                    Ok(accepted) => accepted,
                    // Transient failures are ridden out inside; an error
                    // here means the socket is unusable, and was logged.
                    Err(_) => return,
                },
                // The listener was dropped: its socket closes with this task.
                () = done.closed() => return,
            };
            let Ok(slot) = Arc::clone(&slots).try_acquire_owned() else {
                if let Some(held_back) = refusals.allow(Instant::now()) {
                    tracing::warn!(
                        %peer,
                        held_back,
                        "refused a connection: {handshakes} TLS handshakes are already in progress"
                    );
                }
                drop(stream);
                continue;
            };
            let handshake = Handshake {
                acceptor: acceptor.clone(),
                transport: transport.clone(),
                done: done.clone(),
                slot,
            };
            tokio::spawn(handshake.run(stream, peer));
        }
    });
    accepted
}

/// One TLS handshake in progress, holding one of the listener's slots.
struct Handshake {
    acceptor: TlsAcceptor,
    transport: crate::TcpTransport,
    done: mpsc::Sender<Connection>,
    slot: OwnedSemaphorePermit,
}

impl Handshake {
    /// Runs the handshake; a connection that completes it keeps its slot
    /// until it is queued for the listener.
    async fn run(self, stream: TcpStream, peer: SocketAddr) {
        if let Err(err) = stream.set_nodelay(true) {
            tracing::debug!(%peer, %err, "could not set TCP_NODELAY");
        }
        let handshake = self.acceptor.accept(stream);
        let refused = match tokio::time::timeout(crate::TLS_HANDSHAKE, handshake).await {
            Ok(Ok(stream)) => {
                let (read, write) = tokio::io::split(stream);
                let peer = format!("tcp+tls://{peer}");
                let conn = self.transport.connection(read, write, peer, None);
                let _ = self.done.send(conn).await;
                return;
            }
            Ok(Err(err)) => crate::tls_mismatch::refusal(&err),
            Err(_) => "the handshake timed out".to_owned(),
        };
        // The slot is free before anyone hears of the refusal.
        drop(self.slot);
        tracing::warn!(%peer, "refused a TLS connection: {refused}");
    }
}
