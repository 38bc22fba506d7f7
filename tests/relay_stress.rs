//! Hang hunting: many concurrent sessions that keep both directions of the
//! relay busy at once — NOTICE storms, large results, pipelined requests
//! written in one go, large requests, COPY in and out — through pgward
//! without a policy and governed (policy, masks followed, stamp, audit to a
//! spool). Each session has a generous bound; one that does not finish
//! within it is a hang, and the test fails naming it. PostgreSQL does not
//! read while its own sends are blocked, so a relay that waits on one side
//! while the other is full deadlocks under exactly these loads.

mod common;

use std::time::Duration;

use common::*;
use futures_util::SinkExt;
use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::TcpStream;

/// A session that takes longer than this is taken to be hung (each one
/// finishes in well under a second when nothing is wrong).
const BOUND: Duration = Duration::from_secs(120);

fn storm_setup(pg: &PgCluster) {
    pg.admin_sql(
        APP_DB,
        "create or replace function storm(n int) returns int language plpgsql as $$ \
         begin for i in 1..n loop raise notice 'notice % of a storm that fills buffers', i; end loop; \
         return n; end $$; \
         grant execute on function storm(int) to public; \
         create table if not exists big(id int, v text); \
         grant all on big to public; \
         insert into big select g, repeat('v', 200) from generate_series(1, 20000) g;",
    );
}

/// pgward without a policy, and governed.
fn proxies(pg: &PgCluster) -> Vec<(&'static str, Pgward)> {
    let plain = PgwardBuilder::new()
        .upstream_port(pg.port())
        .arg("--upstream-tls")
        .arg("disable");
    let b = PgwardBuilder::new().upstream_port(pg.port());
    let policy = b.write_file("policy.yaml", common::proxy::GOVERNED_POLICY);
    let spool = b.dir().join("spool");
    let governed = b
        .args([
            "--upstream-tls",
            "disable",
            "--policy",
            &policy.display().to_string(),
            "--audit-spool",
            &spool.display().to_string(),
            "--catalog-user",
            SUPERUSER,
        ])
        .env("PGWARD_CATALOG_PASSWORD", SUPERUSER_PASSWORD);
    // Built and started as given: the suite's own test mode must not
    // change which of the two is governed.
    vec![
        (
            "plain",
            plain
                .exactly_as_given()
                .arg("--log-level")
                .arg("warn")
                .start(),
        ),
        (
            "governed",
            governed
                .exactly_as_given()
                .arg("--log-level")
                .arg("warn")
                .start(),
        ),
    ]
}

/// Runs `n` copies of a session concurrently; fails on any that errs or
/// does not finish within [`BOUND`].
async fn all<F, Fut>(what: &str, n: usize, session: F)
where
    F: Fn(usize) -> Fut,
    Fut: std::future::Future<Output = Result<(), String>> + Send + 'static,
{
    let mut tasks = Vec::new();
    for i in 0..n {
        let fut = session(i);
        tasks.push(tokio::spawn(tokio::time::timeout(BOUND, fut)));
    }
    let mut hung = 0;
    let mut failed = Vec::new();
    for (i, t) in tasks.into_iter().enumerate() {
        match t.await.expect("session task") {
            Err(_) => hung += 1,
            Ok(Err(e)) => failed.push(format!("session {i}: {e}")),
            Ok(Ok(())) => {}
        }
    }
    assert_eq!(
        hung, 0,
        "{what}: {hung} of {n} sessions did not finish within {BOUND:?}"
    );
    assert!(failed.is_empty(), "{what}: {failed:?}");
}

/// A raw protocol session (trust login): the pipelining tests write while
/// reading, as a real pipelining client must.
async fn raw_session(port: u16) -> Result<TcpStream, String> {
    let mut s = TcpStream::connect(("127.0.0.1", port))
        .await
        .map_err(|e| e.to_string())?;
    s.set_nodelay(true).map_err(|e| e.to_string())?;
    s.write_all(&raw::startup_message(&[
        ("user", TRUST_USER),
        ("database", APP_DB),
    ]))
    .await
    .map_err(|e| e.to_string())?;
    let mut r = FrameReader::default();
    loop {
        let (tag, body) = r.next(&mut s).await?;
        match tag {
            b'Z' => return Ok(s),
            b'E' => return Err(format!("login: {:?}", raw::error_fields(&body))),
            _ => {}
        }
    }
}

#[derive(Default)]
struct FrameReader {
    buf: Vec<u8>,
}

impl FrameReader {
    async fn next<R: AsyncReadExt + Unpin>(&mut self, r: &mut R) -> Result<(u8, Vec<u8>), String> {
        loop {
            if self.buf.len() >= 5 {
                let len = u32::from_be_bytes([self.buf[1], self.buf[2], self.buf[3], self.buf[4]])
                    as usize;
                if self.buf.len() > len {
                    let frame: Vec<u8> = self.buf.drain(..len + 1).collect();
                    return Ok((frame[0], frame[5..].to_vec()));
                }
            }
            let mut chunk = [0u8; 64 * 1024];
            let n = r.read(&mut chunk).await.map_err(|e| e.to_string())?;
            if n == 0 {
                return Err("connection closed".into());
            }
            self.buf.extend_from_slice(&chunk[..n]);
        }
    }
}

/// `count` Query messages written in one write while the replies are read
/// concurrently; every one must be answered.
async fn pipelined(port: u16, count: usize, size: usize, reply: usize) -> Result<(), String> {
    let s = raw_session(port).await?;
    let (mut rd, mut wr) = s.into_split();
    let pad = "x".repeat(size);
    let mut batch = Vec::new();
    for i in 0..count {
        batch.extend_from_slice(&raw::query(&format!(
            "select {i} as n, length('{pad}'), repeat('r', {reply})"
        )));
    }
    let writer = tokio::spawn(async move {
        wr.write_all(&batch).await.map_err(|e| e.to_string())?;
        Ok::<_, String>(wr)
    });
    let mut r = FrameReader::default();
    let mut ready = 0;
    while ready < count {
        let (tag, body) = r.next(&mut rd).await?;
        match tag {
            b'Z' => ready += 1,
            b'E' => return Err(format!("error: {:?}", raw::error_fields(&body))),
            _ => {}
        }
    }
    let mut wr = writer.await.map_err(|e| e.to_string())??;
    let _ = wr.write_all(&raw::terminate()).await;
    Ok(())
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn busy_sessions_never_stall() {
    let pg = PgCluster::start();
    storm_setup(&pg);
    for (mode, pgward) in proxies(&pg) {
        let port = pgward.port();

        // NOTICE storms: the server writes thousands of messages per
        // statement while the client is still sending.
        all(&format!("{mode}: notice storms"), 8, |_| async move {
            let (c, _conn) =
                try_connect_with(&clients::connstr(port, APP_USER, APP_PASSWORD, APP_DB))
                    .await
                    .map_err(|e| e.to_string())?;
            for _ in 0..10 {
                let n: i32 = c
                    .query_one("select storm(3000)", &[])
                    .await
                    .map_err(|e| e.to_string())?
                    .get(0);
                if n != 3000 {
                    return Err(format!("storm returned {n}"));
                }
            }
            Ok(())
        })
        .await;

        // psql, a real libpq client, with the same storm.
        all(&format!("{mode}: psql storms"), 4, |_| async move {
            let out = tokio::task::spawn_blocking(move || {
                psql(
                    port,
                    APP_USER,
                    APP_PASSWORD,
                    APP_DB,
                    &["-c", "select storm(3000)", "-c", "select storm(3000)"],
                )
            })
            .await
            .map_err(|e| e.to_string())?;
            if !out.status.success() {
                return Err(String::from_utf8_lossy(&out.stderr).into_owned());
            }
            Ok(())
        })
        .await;

        // Many requests written in one go while replies come back.
        all(&format!("{mode}: pipelined requests"), 48, |_| {
            pipelined(port, 362, 1400, 10)
        })
        .await;
        // ... with replies large enough that both directions fill up: the
        // server stops reading while its replies are not read.
        all(
            &format!("{mode}: pipelined requests, large replies"),
            6,
            |_| pipelined(port, 1500, 2000, 16 * 1024),
        )
        .await;

        // Large requests and large results.
        all(&format!("{mode}: large requests"), 32, |_| async move {
            let (c, _conn) =
                try_connect_with(&clients::connstr(port, APP_USER, APP_PASSWORD, APP_DB))
                    .await
                    .map_err(|e| e.to_string())?;
            let big = "y".repeat(200 * 1024);
            let rows = c
                .simple_query(&format!("select length('{big}')"))
                .await
                .map_err(|e| e.to_string())?;
            let got = rows.iter().find_map(|m| match m {
                tokio_postgres::SimpleQueryMessage::Row(r) => r.get(0).map(str::to_owned),
                _ => None,
            });
            if got.as_deref() != Some("204800") {
                return Err(format!("length {got:?}"));
            }
            let n = c
                .query("select id, v from big", &[])
                .await
                .map_err(|e| e.to_string())?
                .len();
            if n != 20000 {
                return Err(format!("{n} rows"));
            }
            Ok(())
        })
        .await;

        // COPY both ways at once.
        all(&format!("{mode}: copy"), 8, |i| async move {
            let (c, _conn) =
                try_connect_with(&clients::connstr(port, APP_USER, APP_PASSWORD, APP_DB))
                    .await
                    .map_err(|e| e.to_string())?;
            let table = format!("copy_{i}_{}", std::process::id());
            c.batch_execute(&format!("create temp table {table}(id int, v text)"))
                .await
                .map_err(|e| e.to_string())?;
            let sink = c
                .copy_in(&format!("copy {table} from stdin"))
                .await
                .map_err(|e| e.to_string())?;
            let mut sink = Box::pin(sink);
            let mut data = Vec::new();
            for r in 0..20000 {
                data.extend_from_slice(format!("{r}\t{}\n", "z".repeat(100)).as_bytes());
            }
            sink.send(bytes::Bytes::from(data))
                .await
                .map_err(|e| e.to_string())?;
            let n = sink.as_mut().finish().await.map_err(|e| e.to_string())?;
            if n != 20000 {
                return Err(format!("copied {n}"));
            }
            let mut out = Box::pin(
                c.copy_out(&format!("copy {table} to stdout"))
                    .await
                    .map_err(|e| e.to_string())?,
            );
            let mut bytes = 0usize;
            while let Some(chunk) = futures_util::StreamExt::next(&mut out).await {
                bytes += chunk.map_err(|e| e.to_string())?.len();
            }
            if bytes < 20000 * 100 {
                return Err(format!("copied out {bytes} bytes"));
            }
            Ok(())
        })
        .await;
    }
}
