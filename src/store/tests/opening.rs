//! Opening and migrating: read-only stores, foreign and missing databases,
//! redacted errors; peers' events, and connections that outlive their
//! server's.

use super::*;

#[tokio::test]
async fn peers_hear_each_others_events_on_postgres_only() {
    for b in backends().await {
        let n = b.name;
        let listening = b.writer.listen().await.expect("listen");
        if !b.is_postgres() {
            assert!(listening.is_none(), "{n}: SQLite has no peers");
            b.writer.notify(&["x".to_string()]).await.expect("notify");
            continue;
        }
        let mut events = listening.expect("a receiver");
        let (_, peer) = b.reopen().await;
        peer.notify(&["one".to_string(), "{\"two\":2}".to_string()])
            .await
            .expect("notify");
        peer.notify(&[]).await.expect("nothing to send");
        for expected in ["one", "{\"two\":2}"] {
            let got = tokio::time::timeout(Duration::from_secs(10), events.recv())
                .await
                .expect("within 10 s");
            assert_eq!(got.as_deref(), Some(expected), "{n}");
        }
        // another schema of the same database is another installation
        let other = postgres_backend().await.expect("a second schema");
        other
            .writer
            .notify(&["elsewhere".to_string()])
            .await
            .expect("notify");
        b.writer
            .notify(&["here".to_string()])
            .await
            .expect("notify");
        let got = tokio::time::timeout(Duration::from_secs(10), events.recv())
            .await
            .expect("within 10 s");
        assert_eq!(
            got.as_deref(),
            Some("here"),
            "{n}: nothing from the other schema"
        );
    }
}

#[tokio::test]
async fn a_postgres_store_outlives_its_connections() {
    let Some((schema, url)) = Schema::create().await else {
        return;
    };
    // every connection of this test is named, so it alone is cut off
    let application = format!("airless_{}", schema.name);
    let url = format!("{url}&application_name={application}");
    let (reader, writer) = crate::store::open(Location::parse(&url))
        .await
        .expect("open");
    let (_, peer) = crate::store::open(Location::parse(&url))
        .await
        .expect("open a peer");
    let mut events = writer.listen().await.expect("listen").expect("a receiver");
    reader.ping().await.expect("ping");
    peer.notify(&["before".to_string()]).await.expect("notify");
    let got = tokio::time::timeout(Duration::from_secs(10), events.recv())
        .await
        .expect("within 10 s");
    assert_eq!(got.as_deref(), Some("before"));

    // what a restart of the server does to them: the store's, the peer's
    // and the listener's connections all cut
    let mut admin = PgConnection::connect(&schema.admin_url)
        .await
        .expect("connect");
    let cut: i64 = sqlx::query_scalar(
        "SELECT COUNT(*) FROM (SELECT pg_terminate_backend(pid) FROM pg_stat_activity
                               WHERE application_name = $1) AS t",
    )
    .bind(&application)
    .fetch_one(&mut admin)
    .await
    .expect("terminate");
    let _ = admin.close().await;
    assert!(cut >= 3, "{cut} connections cut");
    register(&writer, "etl", "v1", &[]).await;
    assert_eq!(reader.dags().await.expect("dags after the cut").len(), 1);
    // events sent while the listener was away are lost: send until one
    // arrives
    let heard = tokio::time::timeout(Duration::from_secs(20), async {
        loop {
            peer.notify(&["after".to_string()]).await.expect("notify");
            if let Ok(Some(payload)) =
                tokio::time::timeout(Duration::from_millis(250), events.recv()).await
            {
                return payload;
            }
        }
    })
    .await
    .expect("listening again within 20 s");
    assert_eq!(heard, "after");
}

#[tokio::test]
async fn migrate_reports_the_versions_it_applied() {
    let dir = tempfile::tempdir().expect("tempdir");
    let sqlite = Location::Sqlite(dir.path().join("fresh.db"));
    assert_eq!(
        crate::store::migrate(&sqlite).await.expect("migrate"),
        vec![1, 2, 3, 4]
    );
    assert!(
        crate::store::migrate(&sqlite)
            .await
            .expect("again")
            .is_empty()
    );
    if let Some((_schema, url)) = Schema::create().await {
        let postgres = Location::parse(&url);
        assert_eq!(
            crate::store::migrate(&postgres).await.expect("migrate"),
            vec![1]
        );
        assert!(
            crate::store::migrate(&postgres)
                .await
                .expect("again")
                .is_empty()
        );
        let reader = crate::store::open_reader(&postgres).await.expect("read");
        assert!(reader.dags().await.expect("dags").is_empty());
    }
}

#[tokio::test]
async fn read_only_stores_never_create_migrate_or_write() {
    for b in backends().await {
        let n = b.name;
        register(&b.writer, "etl", "v1", &[]).await;
        let reader = crate::store::open_reader(&b.location)
            .await
            .expect("open read-only");
        assert_eq!(reader.dags().await.expect("dags").len(), 1, "{n}");
        let write = match &b.location {
            Location::Postgres { url, .. } => {
                let (_, writer) = crate::store::postgres::open(url, Access::ReadOnly, 1)
                    .await
                    .expect("open read-only");
                writer.set_paused(&DagId::new("etl"), true).await
            }
            Location::Sqlite(path) => {
                let store = crate::store::sqlite::SqliteStore::open(path, Access::ReadOnly)
                    .await
                    .expect("open read-only");
                crate::store::StateWrite::set_paused(&store, &DagId::new("etl"), true).await
            }
        };
        assert!(
            matches!(write, Err(StoreError::Database(_))),
            "{n}: {write:?}"
        );
        assert!(
            !b.reader
                .dag(&DagId::new("etl"))
                .await
                .expect("dag")
                .expect("etl")
                .is_paused,
            "{n}"
        );
    }

    let dir = tempfile::tempdir().expect("tempdir");
    let missing = dir.path().join("missing.db");
    let refused = crate::store::open_reader(missing.as_path()).await;
    assert!(
        matches!(refused, Err(StoreError::Missing(_))),
        "{refused:?}"
    );
    assert!(!missing.exists());
    if let Some((schema, url)) = Schema::create().await {
        let refused = crate::store::open_reader(Location::parse(&url)).await;
        assert!(
            matches!(refused, Err(StoreError::Missing(_))),
            "an empty schema: {refused:?}"
        );
        let tables: i64 = {
            let mut conn = PgConnection::connect(&schema.admin_url)
                .await
                .expect("connect");
            let count = sqlx::query_scalar(sqlx::AssertSqlSafe(format!(
                "SELECT COUNT(*) FROM information_schema.tables WHERE table_schema = '{}'",
                schema.name
            )))
            .fetch_one(&mut conn)
            .await
            .expect("count");
            let _ = conn.close().await;
            count
        };
        assert_eq!(tables, 0, "nothing was created");
        let no_database = replace_database(&schema.admin_url, "airless_no_such_database");
        let refused = crate::store::open_reader(Location::parse(&no_database)).await;
        assert!(
            matches!(refused, Err(StoreError::Missing(_))),
            "a missing database: {refused:?}"
        );
    }
}

/// `url` naming another database.
fn replace_database(url: &str, database: &str) -> String {
    let (base, query) = match url.split_once('?') {
        Some((base, query)) => (base, format!("?{query}")),
        None => (url, String::new()),
    };
    let (server, _) = base.rsplit_once('/').expect("a database in the URL");
    format!("{server}/{database}{query}")
}

#[tokio::test]
async fn another_applications_database_is_refused() {
    let dir = tempfile::tempdir().expect("tempdir");
    let path = dir.path().join("theirs.db");
    {
        let options = sqlx::sqlite::SqliteConnectOptions::new()
            .filename(&path)
            .create_if_missing(true);
        let pool = sqlx::sqlite::SqlitePool::connect_with(options)
            .await
            .expect("sqlite");
        sqlx::query("CREATE TABLE customers (id INTEGER)")
            .execute(&pool)
            .await
            .expect("create");
        pool.close().await;
    }
    let refused = crate::store::open(path.as_path()).await.err();
    assert!(
        matches!(&refused, Some(StoreError::Foreign { tables, .. }) if tables == "customers"),
        "{refused:?}"
    );
    if let Some((schema, url)) = Schema::create().await {
        schema
            .execute(&format!(
                "CREATE TABLE {}.customers (id INTEGER)",
                schema.name
            ))
            .await;
        let location = Location::parse(&url);
        let refused = crate::store::open(location.clone()).await.err();
        match refused {
            Some(err @ StoreError::Foreign { .. }) => {
                assert!(err.to_string().contains(&location.to_string()), "{err}");
                assert!(err.to_string().contains("customers"), "{err}");
            }
            other => panic!("not refused as foreign: {other:?}"),
        }
        assert!(
            crate::store::migrate(&location).await.is_err(),
            "migrate refuses it too"
        );
    }
}

#[tokio::test]
async fn a_password_never_shows_in_an_error() {
    // nothing listens on port 1
    let url = "postgres://airless:s3cret@127.0.0.1:1/airless?sslmode=disable";
    for result in [
        crate::store::open(Location::parse(url)).await.err(),
        crate::store::open_reader(Location::parse(url)).await.err(),
        crate::store::migrate(&Location::parse(url)).await.err(),
    ] {
        let err = result.expect("no server there");
        let shown = format!("{err} {err:?}");
        assert!(!shown.contains("s3cret"), "{shown}");
        assert!(
            shown.contains("postgres://airless:***@127.0.0.1:1/airless"),
            "{shown}"
        );
    }
}
