//! What the nodes of one database tell each other: commit notifications and leases.
//!
//! **Notifications.** `onewindow_commit` sends `NOTIFY onewindow_commits, 'first last
//! project'` with every commit that wrote events; PostgreSQL delivers it to every
//! listening connection when the transaction commits. [`run`] keeps one connection
//! listening and turns each notification into a [`Change`]. Notifications only wake the
//! nodes: the events themselves are read from the log, so a notification carries no
//! data that could go missing. When the connection is lost, notifications sent meanwhile
//! are lost with it: [`Change::Lost`] tells the node to distrust what it holds.
//!
//! **Leases.** A role that must run on one node at a time (supervision's ticker) is a
//! session-level advisory lock on a connection of its own: PostgreSQL releases it when
//! that connection ends — when its node dies or is cut off — and the next node asking
//! takes it.

use std::collections::HashSet;
use std::time::Duration;

use futures_util::StreamExt;
use tokio::sync::{broadcast, Mutex};
use tokio_postgres::AsyncMessage;

use super::pg;
use crate::{Change, Error};

/// The channel commits are announced on.
pub(super) const CHANNEL: &str = "onewindow_commits";

/// Listens until the store's runtime stops, reconnecting after a pause when the
/// connection is lost.
pub(super) async fn run(
    config: tokio_postgres::Config,
    changes: broadcast::Sender<Change>,
    node: std::sync::Arc<str>,
) {
    let mut connected_before = false;
    loop {
        match listen(&config, &changes, &node, &mut connected_before).await {
            Ok(()) => tracing::warn!("the notification connection closed; reconnecting"),
            Err(e) => tracing::warn!("notifications: {e}; reconnecting"),
        }
        if connected_before {
            let _ = changes.send(Change::Lost);
        }
        tokio::time::sleep(Duration::from_millis(500)).await;
    }
}

async fn listen(
    config: &tokio_postgres::Config,
    changes: &broadcast::Sender<Change>,
    node: &str,
    connected_before: &mut bool,
) -> Result<(), Error> {
    let (client, mut connection) = config.connect(tokio_postgres::NoTls).await.map_err(pg)?;
    let (tx, mut messages) = tokio::sync::mpsc::unbounded_channel();
    let driver = tokio::spawn(async move {
        let mut stream = futures_util::stream::poll_fn(move |cx| connection.poll_message(cx));
        while let Some(m) = stream.next().await {
            match m {
                Ok(m) => {
                    if tx.send(m).is_err() {
                        return;
                    }
                }
                Err(e) => {
                    tracing::warn!("notification connection: {e}");
                    return;
                }
            }
        }
    });
    client
        .batch_execute(&format!("LISTEN {CHANNEL}"))
        .await
        .map_err(pg)?;
    if *connected_before {
        // Whatever was announced while we were away is lost: say so once we listen again.
        let _ = changes.send(Change::Lost);
    }
    *connected_before = true;
    while let Some(m) = messages.recv().await {
        if let AsyncMessage::Notification(n) = m {
            if let Some(change) = parse(n.payload(), node) {
                let _ = changes.send(change);
            }
        }
    }
    driver.abort();
    Ok(())
}

/// `first last node project` (the project last: an id may contain spaces); `own` when the
/// node is this one.
fn parse(payload: &str, this: &str) -> Option<Change> {
    let (first, rest) = payload.split_once(' ')?;
    let (last, rest) = rest.split_once(' ')?;
    let (node, project) = rest.split_once(' ')?;
    Some(Change::Committed {
        project: project.to_string(),
        first: first.parse().ok()?,
        last: last.parse().ok()?,
        own: node == this,
    })
}

/// The leases this node holds, on one connection of their own.
pub(super) struct Leases {
    config: tokio_postgres::Config,
    held: Mutex<Option<(tokio_postgres::Client, HashSet<i64>)>>,
}

impl Leases {
    pub(super) fn new(config: tokio_postgres::Config) -> Leases {
        Leases {
            config,
            held: Mutex::new(None),
        }
    }

    /// Whether this node holds the lease `role`, taking it if nobody does.
    pub(super) async fn hold(&self, role: &str) -> Result<bool, Error> {
        let key = lock_key(role);
        let mut held = self.held.lock().await;
        if held.as_ref().is_some_and(|(c, _)| c.is_closed()) {
            // The connection died, and with it every lock it held.
            *held = None;
        }
        if held.is_none() {
            let (client, connection) = self
                .config
                .connect(tokio_postgres::NoTls)
                .await
                .map_err(pg)?;
            tokio::spawn(async move {
                let _ = connection.await;
            });
            *held = Some((client, HashSet::new()));
        }
        let Some((client, keys)) = held.as_mut() else {
            return Ok(false);
        };
        if keys.contains(&key) {
            return Ok(true);
        }
        let got: bool = client
            .query_one("SELECT pg_try_advisory_lock($1)", &[&key])
            .await
            .map_err(pg)?
            .get(0);
        if got {
            keys.insert(key);
        }
        Ok(got)
    }
}

/// A role's advisory-lock key: a stable hash of its name (the same on every node).
fn lock_key(role: &str) -> i64 {
    // FNV-1a: stable across builds and platforms, unlike the standard library's hasher.
    let mut h: u64 = 0xcbf2_9ce4_8422_2325;
    for b in format!("onewindow/{role}").bytes() {
        h ^= u64::from(b);
        h = h.wrapping_mul(0x0100_0000_01b3);
    }
    h as i64
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn payloads_parse_with_spaces_in_the_project() {
        assert_eq!(
            parse("3 5 n1 a b", "n2"),
            Some(Change::Committed {
                project: "a b".into(),
                first: 3,
                last: 5,
                own: false,
            })
        );
        assert!(matches!(
            parse("3 5 n1 p", "n1"),
            Some(Change::Committed { own: true, .. })
        ));
        assert_eq!(parse("x 5 n p", "n"), None);
        assert_ne!(lock_key("supervision"), lock_key("other"));
    }
}
