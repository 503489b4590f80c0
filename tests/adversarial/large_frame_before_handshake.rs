//! A stranger announces a huge frame before the handshake, to make the
//! node buffer it (or wait for it) on a connection that has proved
//! nothing. The node closes the connection at once, and keeps serving:
//! a legitimate node still connects, and frames of the configured size
//! flow once the handshake is done.

use std::time::Duration;

use beamish::{async_trait, Context, ExitReason, Process};
use tokio::io::AsyncWriteExt;
use tokio::sync::mpsc;

use crate::support::{closed, config, member, raw, PROMPTLY};

/// Reports the size of every message it gets.
struct Sizes(mpsc::UnboundedSender<usize>);

#[async_trait]
impl Process for Sizes {
    type Args = mpsc::UnboundedSender<usize>;
    type Msg = Vec<u8>;

    async fn init(_ctx: &mut Context<Vec<u8>>, out: Self::Args) -> Result<Self, ExitReason> {
        Ok(Sizes(out))
    }

    async fn handle(
        &mut self,
        _ctx: &mut Context<Vec<u8>>,
        msg: Vec<u8>,
    ) -> Result<(), ExitReason> {
        let _ = self.0.send(msg.len());
        Ok(())
    }
}

#[tokio::test]
async fn a_large_frame_before_the_handshake_closes_the_connection_at_once() {
    // The handshake timeout is far away: only the frame limit can close
    // the connection in time.
    let config = config().handshake_timeout(Duration::from_secs(3600));
    let (b, at) = member("b", config.clone(), true).await;
    let at = at.expect("b listens");

    let mut stranger = raw(&at).await;
    stranger
        .write_all(&(1_u32 << 20).to_be_bytes())
        .await
        .expect("a 1 MiB header goes out");
    stranger
        .write_all(&[0xab; 1000])
        .await
        .expect("some of the frame goes out");
    assert!(
        closed(&mut stranger).await,
        "the node waits for the rest of a 1 MiB frame from a stranger"
    );

    // The node is fine: a legitimate node connects, and a message far
    // larger than a handshake frame reaches its process.
    let (tx, mut sizes) = mpsc::unbounded_channel();
    let sink = b.spawn::<Sizes>(tx).expect("spawns");
    b.export(&sink);
    let (a, _) = member("a", config, false).await;
    a.connect(&at).await.expect("a connects");
    assert_eq!(b.nodes(), vec![a.name()]);
    a.send_remote(sink.pid(), &vec![7_u8; 100_000])
        .expect("sent");
    let size = tokio::time::timeout(PROMPTLY, sizes.recv())
        .await
        .expect("delivered in time");
    assert_eq!(size, Some(100_000));
}
