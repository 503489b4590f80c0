//! Every log line a handler writes names its process: the pid, and the
//! registered name once there is one.

mod support;

use beamish_core::{async_trait, Context, ExitReason, Node, Process, ReplyTo, SpawnOpts};
use support::logs::capture;

struct Chatty;

enum ChattyMsg {
    Say(&'static str, ReplyTo<()>),
    TakeName(&'static str, ReplyTo<()>),
}

#[async_trait]
impl Process for Chatty {
    type Args = ();
    type Msg = ChattyMsg;

    async fn init(_ctx: &mut Context<ChattyMsg>, _: ()) -> Result<Self, ExitReason> {
        Ok(Chatty)
    }

    async fn handle(
        &mut self,
        ctx: &mut Context<ChattyMsg>,
        msg: ChattyMsg,
    ) -> Result<(), ExitReason> {
        match msg {
            ChattyMsg::Say(text, done) => {
                tracing::warn!("{text}");
                done.reply(());
            }
            ChattyMsg::TakeName(name, done) => {
                ctx.register(name)?;
                done.reply(());
            }
        }
        Ok(())
    }
}

#[test]
fn handler_logs_carry_the_pid_and_name() {
    let (captured, _default) = capture();
    let rt = tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
        .expect("runtime");
    let timeout = std::time::Duration::from_secs(5);
    rt.block_on(async {
        let node = Node::new().expect("runtime");
        let named = node
            .start::<Chatty>((), SpawnOpts::new().name("greeter"))
            .await
            .expect("starts");
        let anonymous = node.spawn::<Chatty>(()).expect("spawns");
        named
            .call(|r| ChattyMsg::Say("hello from greeter", r), timeout)
            .await
            .expect("answers");
        anonymous
            .call(|r| ChattyMsg::Say("hello from nobody", r), timeout)
            .await
            .expect("answers");
        anonymous
            .call(|r| ChattyMsg::TakeName("late", r), timeout)
            .await
            .expect("answers");
        anonymous
            .call(|r| ChattyMsg::Say("hello from late", r), timeout)
            .await
            .expect("answers");

        let text = captured.text();
        let line = |needle: &str| {
            text.lines()
                .find(|line| line.contains(needle))
                .unwrap_or_else(|| panic!("no line with {needle:?} in {text}"))
                .to_owned()
        };
        let greeter = line("hello from greeter");
        assert!(greeter.contains(&named.pid().to_string()), "{greeter}");
        assert!(greeter.contains("greeter"), "{greeter}");
        let nobody = line("hello from nobody");
        assert!(nobody.contains(&anonymous.pid().to_string()), "{nobody}");
        assert!(!nobody.contains(&named.pid().to_string()), "{nobody}");
        let late = line("hello from late");
        assert!(late.contains("name=\"late\""), "{late}");
    });
}
