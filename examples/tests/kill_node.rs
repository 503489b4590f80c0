//! Three node processes on 127.0.0.1 and this test's own node, over TCP and
//! over QUIC: stream calls and casts to them, SIGKILL one mid-stream, and
//! check that monitors fire `NoConnection`, the survivors keep serving, and
//! the killed node, started again under its name (a new creation), is
//! reachable while its old pids are not.

use std::process::Stdio;
use std::sync::Arc;
use std::time::Duration;

use beamish::dist::{Cookie, Endpoint};
use beamish::quic::QuicTransport;
use beamish::tcp::TcpTransport;
use beamish::transport::Transport;
use beamish::{
    async_trait, CallError, ClusterConfig, Context, ExitReason, Node, Pid, Process, ReplyTo, Signal,
};
use beamish_examples::services::{CounterMsg, EchoMsg};
use tokio::io::{AsyncBufReadExt, BufReader};
use tokio::process::{Child, Command};
use tokio::sync::mpsc;

const WAIT: Duration = Duration::from_secs(20);
const COOKIE: &str = "kill-test";

struct NodeProcess {
    child: Child,
    listening: Endpoint,
    echo: Pid,
    counter: Pid,
}

async fn start_node(name: &str, scheme: &str) -> NodeProcess {
    let listen = format!("{scheme}://127.0.0.1:0");
    let mut child = Command::new(env!("CARGO_BIN_EXE_beamish-node"))
        .args(["--name", name, "--listen", &listen, "--cookie", COOKIE])
        .stdout(Stdio::piped())
        .stderr(Stdio::null())
        .kill_on_drop(true)
        .spawn()
        .expect("the node program starts");
    let stdout = child.stdout.take().expect("piped");
    let mut lines = BufReader::new(stdout).lines();
    let mut values = Vec::new();
    for want in ["listening", "echo", "counter"] {
        let line = tokio::time::timeout(WAIT, lines.next_line())
            .await
            .expect("the node reports in time")
            .expect("readable")
            .expect("a line");
        let (key, value) = line.split_once(' ').expect("key value");
        assert_eq!(key, want);
        values.push(value.to_owned());
    }
    let listening = values[0].parse().expect("an endpoint");
    let echo = values[1].parse().expect("a pid");
    let counter = values[2].parse().expect("a pid");
    NodeProcess {
        child,
        listening,
        echo,
        counter,
    }
}

/// Monitors on request and reports what it receives.
struct Watcher {
    out: mpsc::UnboundedSender<Signal>,
}

enum WatcherMsg {
    Monitor(Pid, ReplyTo<()>),
}

#[async_trait]
impl Process for Watcher {
    type Args = mpsc::UnboundedSender<Signal>;
    type Msg = WatcherMsg;

    async fn init(_ctx: &mut Context<WatcherMsg>, out: Self::Args) -> Result<Self, ExitReason> {
        Ok(Watcher { out })
    }

    async fn handle(
        &mut self,
        ctx: &mut Context<WatcherMsg>,
        msg: WatcherMsg,
    ) -> Result<(), ExitReason> {
        let WatcherMsg::Monitor(pid, done) = msg;
        ctx.monitor(pid);
        done.reply(());
        Ok(())
    }

    async fn handle_signal(
        &mut self,
        _ctx: &mut Context<WatcherMsg>,
        signal: Signal,
    ) -> Result<(), ExitReason> {
        let _ = self.out.send(signal);
        Ok(())
    }
}

async fn double(node: &Node, echo: Pid, n: u64) -> Result<u64, CallError> {
    node.call_remote(echo, |r| EchoMsg::Double(n, r), WAIT)
        .await
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_killed_node_is_noticed_and_can_come_back_over_tcp() {
    kill_and_restart("tcp", Arc::new(TcpTransport::new())).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_killed_node_is_noticed_and_can_come_back_over_quic() {
    let quic = QuicTransport::dev().expect("a development certificate");
    kill_and_restart("quic", Arc::new(quic)).await;
}

async fn kill_and_restart(scheme: &str, transport: Arc<dyn Transport>) {
    let name = |n: &str| format!("{n}-{scheme}@localhost");
    let mut nodes = Vec::new();
    for n in ["n1", "n2", "n3"] {
        nodes.push(start_node(&name(n), scheme).await);
    }
    let me = Node::builder()
        .name(name("tester"))
        .build()
        .expect("runtime");
    me.join(
        ClusterConfig::new(Cookie::new(COOKIE)),
        vec![transport],
        &[],
    )
    .await
    .expect("joins");
    for node in &nodes {
        me.connect(&node.listening).await.expect("connects");
    }
    assert_eq!(me.nodes().len(), 3);

    let (tx, mut signals) = mpsc::unbounded_channel();
    let watcher = me.spawn::<Watcher>(tx).expect("spawns");
    watcher
        .call(|r| WatcherMsg::Monitor(nodes[1].echo, r), WAIT)
        .await
        .expect("monitors");

    // Stream casts and calls to every node; n2 dies in the middle.
    let mut sent_to_survivor = 0_u64;
    for round in 0..200_u64 {
        for node in [&nodes[0], &nodes[2]] {
            me.send_remote(node.counter, &CounterMsg::Add)
                .expect("connected");
            assert_eq!(double(&me, node.echo, round).await, Ok(round * 2));
        }
        sent_to_survivor += 1;
        if round < 100 {
            assert_eq!(double(&me, nodes[1].echo, round).await, Ok(round * 2));
        }
        if round == 100 {
            nodes[1].child.start_kill().expect("SIGKILL");
        }
    }
    let down = tokio::time::timeout(WAIT, signals.recv())
        .await
        .expect("the monitor fires in time")
        .expect("open");
    assert!(
        matches!(&down, Signal::Down { pid, reason: ExitReason::NoConnection, .. } if *pid == nodes[1].echo),
        "{down:?}"
    );
    assert_eq!(me.nodes().len(), 2);
    // The survivors served everything.
    for node in [&nodes[0], &nodes[2]] {
        let total = me
            .call_remote(node.counter, CounterMsg::Total, WAIT)
            .await
            .expect("answers");
        assert_eq!(total, sent_to_survivor);
    }

    // n2 comes back: a new creation, reachable; its old pids are not.
    let old_echo = nodes[1].echo;
    let again = start_node(&name("n2"), scheme).await;
    assert_ne!(again.echo.creation(), old_echo.creation());
    me.connect(&again.listening).await.expect("reconnects");
    assert_eq!(double(&me, again.echo, 21).await, Ok(42));
    assert_eq!(double(&me, old_echo, 1).await, Err(CallError::NoProc));
}
