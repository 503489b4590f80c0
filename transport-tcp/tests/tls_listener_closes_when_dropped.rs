//! A TLS listener's socket lives in a task of its own; dropping the
//! listener closes it, so the port can be listened on again.

mod support;

use beamish_core::transport::{Transport, TransportError};
use beamish_tls::testing::TestCa;
use beamish_transport_tcp::TcpTransport;
use support::{any_port, within};

#[tokio::test]
async fn a_dropped_tls_listener_frees_its_port() {
    let ca = TestCa::new().expect("a CA");
    let tls = TcpTransport::new().tls(ca.issue(&ca).expect("issued").config().expect("config"));
    let listener = tls.listen(&any_port()).await.expect("listens");
    let endpoint = listener.endpoint();
    drop(listener);
    // The accept task closes the socket when it next runs.
    within("the port is free again", async {
        loop {
            match tls.listen(&endpoint).await {
                Ok(again) => return again,
                Err(TransportError::InUse(_)) => tokio::task::yield_now().await,
                Err(err) => panic!("{err}"),
            }
        }
    })
    .await;
}
