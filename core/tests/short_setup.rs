//! One builder chain from a name to a node that listens and is connected,
//! and the errors that say which step failed.

use beamish_core::transport::LocalNetwork;
use beamish_core::{ClusterError, Cookie, Endpoint, Node, SetupError};

fn cookie() -> Cookie {
    Cookie::new("the short set-up's cookie")
}

#[tokio::test(start_paused = true)]
async fn a_node_listens_and_connects_in_one_chain() {
    let net = LocalNetwork::new();
    let orders = Node::builder()
        .name("orders@localhost")
        .cookie(cookie())
        .transport(net.transport("orders"))
        .listen("local://orders")
        .start()
        .await
        .expect("starts");
    assert_eq!(
        orders.listening(),
        vec![Endpoint::Local {
            name: "orders".into()
        }]
    );
    let web = Node::builder()
        .name("web@localhost")
        .cookie(cookie())
        .transport(net.transport("web"))
        .connect(&orders.listening()[0])
        .start()
        .await
        .expect("starts connected");
    assert_eq!(web.nodes(), vec![orders.name()]);
    assert!(web.listening().is_empty(), "it listens nowhere");
}

#[tokio::test(start_paused = true)]
async fn each_failed_step_says_what_failed() {
    let net = LocalNetwork::new();
    let bad_text = Node::builder()
        .cookie(cookie())
        .transport(net.transport("a"))
        .listen("no scheme here")
        .start()
        .await;
    assert!(
        matches!(bad_text, Err(SetupError::Endpoint(_))),
        "{bad_text:?}"
    );

    let no_transport = Node::builder()
        .cookie(cookie())
        .listen("tcp://127.0.0.1:0")
        .start()
        .await;
    assert!(
        matches!(
            no_transport,
            Err(SetupError::Cluster(ClusterError::NoTransport(_)))
        ),
        "{no_transport:?}"
    );

    let bad_name = Node::builder().name("no-at").cookie(cookie()).start().await;
    assert!(matches!(bad_name, Err(SetupError::Node(_))), "{bad_name:?}");

    let nobody = Node::builder()
        .name("lonely@localhost")
        .cookie(cookie())
        .transport(net.transport("lonely"))
        .listen("local://lonely")
        .connect("local://nobody")
        .start()
        .await;
    assert!(matches!(nobody, Err(SetupError::Cluster(_))), "{nobody:?}");
    // The node that could not connect gave its endpoint back.
    let again = Node::builder()
        .name("lonely@localhost")
        .cookie(cookie())
        .transport(net.transport("lonely"))
        .listen("local://lonely")
        .start()
        .await;
    assert!(again.is_ok(), "{again:?}");
}
