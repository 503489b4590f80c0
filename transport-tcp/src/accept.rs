//! TLS connections accepted apart from the accept loop.

use beamish_tls::TlsConfig;

/// Accepts TCP connections and runs each TLS handshake in a task of its
/// own; connections that complete it come out of the returned channel.
pub(crate) fn accept(
    transport: crate::TcpTransport,
    tls: &TlsConfig,
    mut listener: crate::RetryingListener,
) -> tokio::sync::mpsc::Receiver<beamish_core::transport::Connection> {
    let (done, accepted) = tokio::sync::mpsc::channel(16);
    let acceptor = tokio_rustls::TlsAcceptor::from(tls.server_config());
    tokio::spawn(async move {
        loop {
            // Transient failures are ridden out inside; an error here
            // means the socket is unusable, and has been logged.
            let Ok((stream, peer)) = listener.accept().await else {
                return;
            };
            let acceptor = acceptor.clone();
            let transport = transport.clone();
            let done = done.clone();
            tokio::spawn(async move {
                if let Err(err) = stream.set_nodelay(true) {
                    tracing::debug!(%peer, %err, "could not set TCP_NODELAY");
                }
                let handshake = acceptor.accept(stream);
                let stream = match tokio::time::timeout(crate::TLS_HANDSHAKE, handshake).await {
                    Ok(Ok(stream)) => stream,
                    Ok(Err(err)) => {
                        tracing::warn!(%peer, "refused a TLS connection: {err}");
                        return;
                    }
                    Err(_) => {
                        tracing::warn!(%peer, "refused a TLS connection: the handshake timed out");
                        return;
                    }
                };
                let (read, write) = tokio::io::split(stream);
                let conn = transport.connection(read, write, format!("tcp+tls://{peer}"));
                let _ = done.send(conn).await;
            });
        }
    });
    accepted
}
