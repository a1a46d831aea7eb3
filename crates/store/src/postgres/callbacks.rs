//! The callbacks' outbox on PostgreSQL ([`crate::callbacks`]): tables `callbacks`,
//! `callback_cursors` and `callback_dead` (schema version 6). Every node reads and
//! writes them; one node at a time delivers (the server's `callbacks` lease), so the
//! cursors have one writer, and `GREATEST` keeps them from going back even if a node that
//! lost its lease writes late.

use super::{pg, text, PgStore};
use crate::callbacks::{CallbackStore, DeadLetter, Subscription};
use crate::{check_id, codec, Error};

fn seq_param(n: u64) -> i64 {
    i64::try_from(n).unwrap_or(i64::MAX)
}

impl CallbackStore for PgStore {
    fn put_subscription(&self, s: &Subscription, cursors: &[(String, u64)]) -> Result<(), Error> {
        check_id(&s.id)?;
        let id = s.id.clone();
        let body = codec::encode(s)?;
        let projects: Vec<String> = cursors.iter().map(|(p, _)| p.clone()).collect();
        let seqs: Vec<i64> = cursors.iter().map(|(_, s)| seq_param(*s)).collect();
        self.query(move |mut c| async move {
            let tx = c.transaction().await.map_err(pg)?;
            tx.execute(
                "INSERT INTO callback_cursors (callback, project, seq) \
                 SELECT $1, p, s FROM unnest($2::text[], $3::bigint[]) AS t(p, s) \
                 ON CONFLICT (callback, project) DO UPDATE SET seq = EXCLUDED.seq",
                &[&id, &projects, &seqs],
            )
            .await
            .map_err(pg)?;
            tx.execute(
                "INSERT INTO callbacks (id, body) VALUES ($1, $2)",
                &[&id, &body],
            )
            .await
            .map_err(pg)?;
            tx.commit().await.map_err(pg)
        })
    }

    fn subscriptions(&self) -> Result<Vec<Subscription>, Error> {
        let rows = self.rows("SELECT body FROM callbacks ORDER BY id", vec![])?;
        rows.iter()
            .map(|r| codec::decode(r.get::<_, &[u8]>(0)))
            .collect()
    }

    fn remove_subscription(&self, id: &str) -> Result<bool, Error> {
        let id = id.to_string();
        self.query(move |mut c| async move {
            let tx = c.transaction().await.map_err(pg)?;
            tx.execute("DELETE FROM callback_cursors WHERE callback = $1", &[&id])
                .await
                .map_err(pg)?;
            tx.execute("DELETE FROM callback_dead WHERE callback = $1", &[&id])
                .await
                .map_err(pg)?;
            let n = tx
                .execute("DELETE FROM callbacks WHERE id = $1", &[&id])
                .await
                .map_err(pg)?;
            tx.commit().await.map_err(pg)?;
            Ok(n > 0)
        })
    }

    fn cursors(&self, subscription: &str) -> Result<Vec<(String, u64)>, Error> {
        let rows = self.rows(
            "SELECT project, seq FROM callback_cursors WHERE callback = $1",
            vec![text(subscription)],
        )?;
        Ok(rows
            .iter()
            .map(|r| (r.get(0), u64::try_from(r.get::<_, i64>(1)).unwrap_or(0)))
            .collect())
    }

    fn advance(&self, subscription: &str, cursors: &[(String, u64)]) -> Result<(), Error> {
        if cursors.is_empty() {
            return Ok(());
        }
        let id = subscription.to_string();
        let projects: Vec<String> = cursors.iter().map(|(p, _)| p.clone()).collect();
        let seqs: Vec<i64> = cursors.iter().map(|(_, s)| seq_param(*s)).collect();
        self.query(move |c| async move {
            let stmt = c
                .prepare_cached(
                    "INSERT INTO callback_cursors (callback, project, seq) \
                     SELECT $1, p, s FROM unnest($2::text[], $3::bigint[]) AS t(p, s) \
                     ON CONFLICT (callback, project) \
                     DO UPDATE SET seq = GREATEST(callback_cursors.seq, EXCLUDED.seq)",
                )
                .await
                .map_err(pg)?;
            c.execute(&stmt, &[&id, &projects, &seqs])
                .await
                .map_err(pg)?;
            Ok(())
        })
    }

    fn put_dead_letter(&self, letter: &DeadLetter) -> Result<(), Error> {
        let (sub, id) = (letter.subscription.clone(), letter.id.clone());
        let body = codec::encode(letter)?;
        self.query(move |c| async move {
            c.execute(
                "INSERT INTO callback_dead (callback, id, body) VALUES ($1, $2, $3) \
                 ON CONFLICT (callback, id) DO UPDATE SET body = EXCLUDED.body",
                &[&sub, &id, &body],
            )
            .await
            .map_err(pg)?;
            Ok(())
        })
    }

    fn dead_letters(&self, subscription: &str) -> Result<Vec<DeadLetter>, Error> {
        let rows = self.rows(
            "SELECT body FROM callback_dead WHERE callback = $1 ORDER BY id",
            vec![text(subscription)],
        )?;
        rows.iter()
            .map(|r| codec::decode(r.get::<_, &[u8]>(0)))
            .collect()
    }

    fn remove_dead_letter(&self, subscription: &str, id: &str) -> Result<bool, Error> {
        let (sub, id) = (subscription.to_string(), id.to_string());
        self.query(move |c| async move {
            let n = c
                .execute(
                    "DELETE FROM callback_dead WHERE callback = $1 AND id = $2",
                    &[&sub, &id],
                )
                .await
                .map_err(pg)?;
            Ok(n > 0)
        })
    }
}
