//! Two nodes that claim one name at the same moment: exactly one of the
//! claims takes it (the one whose pid sorts first), every node agrees on
//! the holder, and the other claimant is told why it did not.

mod support;

use beamish_cluster::RegisterError;
use beamish_core::transport::LocalNetwork;
use support::*;

#[tokio::test(start_paused = true)]
async fn of_two_claims_at_once_exactly_one_holds_the_name_everywhere() {
    let net = LocalNetwork::new();
    let a = Named::start(&net, "a", &[]).await;
    let b = Named::start(&net, "b", &["a"]).await;
    let c = Named::start(&net, "c", &["a"]).await;
    let all = [&a, &b, &c];
    registries_meet(&all).await;

    let mut overlapped = 0;
    for round in 0..20 {
        let name = format!("leader-{round}");
        let on_b = b.holder().await;
        let on_c = c.holder().await;
        let (from_b, from_c) = tokio::join!(
            b.global.register(&name, on_b),
            c.global.register(&name, on_c)
        );
        let (winner, loser, lost) = match (from_b, from_c) {
            (Ok(()), Err(why)) => (on_b, on_c, why),
            (Err(why), Ok(())) => (on_c, on_b, why),
            both => panic!("round {round}: not exactly one holder: {both:?}"),
        };
        // Both were under way at once: the pid that sorts first wins, and
        // the other is told who took it.
        assert_eq!(winner, on_b.min(on_c), "round {round}");
        assert!(
            matches!(
                lost,
                RegisterError::Contended { claimant, .. } | RegisterError::Taken { holder: claimant, .. }
                    if claimant == winner
            ),
            "round {round}: {lost}"
        );
        if matches!(lost, RegisterError::Contended { .. }) {
            overlapped += 1;
        }
        assert!(all_say(&all, &name, Some(winner)), "round {round}");
        // The loser holds nothing, and the name stays put.
        assert!(b.node().is_alive(loser) || c.node().is_alive(loser));
        tokio::time::sleep(POLL).await;
        assert!(all_say(&all, &name, Some(winner)), "round {round}");
    }
    // The claims did meet, rather than one finishing before the other.
    assert!(overlapped > 0, "no two claims were under way at once");
}

#[tokio::test(start_paused = true)]
async fn two_local_claims_at_once_leave_one_holder() {
    let net = LocalNetwork::new();
    let a = Named::start(&net, "a", &[]).await;
    let b = Named::start(&net, "b", &["a"]).await;
    registries_meet(&[&a, &b]).await;

    let first = a.holder().await;
    let second = a.holder().await;
    let (one, two) = tokio::join!(
        a.global.register("solo", first),
        a.global.register("solo", second)
    );
    assert!(one.is_ok() != two.is_ok(), "{one:?} {two:?}");
    let holder = if one.is_ok() { first } else { second };
    assert!(all_say(&[&a, &b], "solo", Some(holder)));
}
