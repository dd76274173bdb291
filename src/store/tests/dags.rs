//! DAGs and their versions, and pausing.

use super::*;

#[tokio::test]
async fn a_dag_keeps_one_version_per_text() {
    for b in backends().await {
        let n = b.name;
        let w = &b.writer;
        let dag_id = DagId::new("etl");
        let v1 = register(w, "etl", "text one", &[]).await;
        assert_eq!(
            register(w, "etl", "text one", &[]).await,
            v1,
            "{n}: same text, same version"
        );
        let v2 = register(w, "etl", "text two", &[]).await;
        assert_ne!(v1, v2, "{n}");
        let second = b
            .reader
            .dag_version(v2)
            .await
            .expect("version")
            .expect("v2");
        assert_eq!(
            (
                second.version_number,
                second.dag_id.as_str(),
                second.hash.as_str(),
                second.source.as_str(),
                second.fileloc.as_str(),
                second.created_at
            ),
            (
                2,
                "etl",
                "hash of text two",
                "text two",
                "/dags/etl.yaml",
                t(0)
            ),
            "{n}"
        );
        assert_eq!(
            b.reader
                .dag(&dag_id)
                .await
                .expect("dag")
                .and_then(|d| d.latest_version),
            Some(v2),
            "{n}"
        );
        // back to the first text: its version again, not a third
        assert_eq!(register(w, "etl", "text one", &[]).await, v1, "{n}");
        let record = b.reader.dag(&dag_id).await.expect("dag").expect("record");
        assert_eq!(
            (
                record.latest_version,
                record.fileloc.as_str(),
                record.last_parsed_at,
                record.is_paused
            ),
            (Some(v1), "/dags/etl.yaml", Some(t(0)), false),
            "{n}"
        );
        assert!(
            b.reader
                .dag_version(v2 + 100)
                .await
                .expect("version")
                .is_none(),
            "{n}"
        );

        // several DAGs of one file, one load; paused on creation only
        let (a, z) = (DagId::new("Alpha"), DagId::new("zeta"));
        let ids = w
            .register_dags(
                &[
                    NewDagVersion {
                        dag_id: &z,
                        fileloc: "/dags/many.yaml".into(),
                        is_paused_upon_creation: true,
                        hash: "hz",
                        source: "z",
                        alert_routes: vec![],
                    },
                    NewDagVersion {
                        dag_id: &a,
                        fileloc: "/dags/many.yaml".into(),
                        is_paused_upon_creation: false,
                        hash: "ha",
                        source: "a",
                        alert_routes: vec![("t".into(), "failure", "ops".into())],
                    },
                ],
                t(5),
            )
            .await
            .expect("register many");
        assert_eq!(ids.len(), 2, "{n}");
        let of_file: Vec<(String, i64, u32)> = b
            .reader
            .latest_versions_of_file("/dags/many.yaml")
            .await
            .expect("versions")
            .into_iter()
            .map(|v| (v.dag_id.to_string(), v.id, v.version_number))
            .collect();
        assert_eq!(
            of_file,
            vec![
                ("Alpha".to_string(), ids[1], 1),
                ("zeta".to_string(), ids[0], 1)
            ],
            "{n}"
        );
        let dags: Vec<String> = b
            .reader
            .dags()
            .await
            .expect("dags")
            .iter()
            .map(|d| d.dag_id.to_string())
            .collect();
        assert_eq!(dags, vec!["Alpha", "etl", "zeta"], "{n}: byte order");
        let paused = b.reader.paused_dags().await.expect("paused");
        assert_eq!(
            (paused.get("zeta"), paused.get("Alpha"), paused.len()),
            (Some(&true), Some(&false), 3),
            "{n}"
        );
        // a reload does not unpause
        w.register_dags(
            &[NewDagVersion {
                dag_id: &z,
                fileloc: "/dags/many.yaml".into(),
                is_paused_upon_creation: false,
                hash: "hz",
                source: "z",
                alert_routes: vec![],
            }],
            t(6),
        )
        .await
        .expect("reload");
        assert!(
            b.reader
                .dag(&z)
                .await
                .expect("dag")
                .expect("zeta")
                .is_paused,
            "{n}"
        );
        assert!(
            b.reader
                .latest_versions_of_file("/dags/none.yaml")
                .await
                .expect("versions")
                .is_empty(),
            "{n}"
        );
    }
}

#[tokio::test]
async fn pausing_reports_whether_it_changed_anything() {
    for b in backends().await {
        let n = b.name;
        register(&b.writer, "etl", "v1", &[]).await;
        let etl = DagId::new("etl");
        assert!(b.writer.set_paused(&etl, true).await.expect("pause"), "{n}");
        assert!(
            !b.writer.set_paused(&etl, true).await.expect("pause again"),
            "{n}"
        );
        assert!(
            b.reader
                .dag(&etl)
                .await
                .expect("dag")
                .expect("etl")
                .is_paused,
            "{n}"
        );
        assert!(
            b.writer.set_paused(&etl, false).await.expect("unpause"),
            "{n}"
        );
        assert_eq!(
            b.reader.paused_dags().await.expect("paused").get("etl"),
            Some(&false),
            "{n}"
        );
        assert!(
            matches!(
                b.writer.set_paused(&DagId::new("nope"), true).await,
                Err(StoreError::NotFound(_))
            ),
            "{n}"
        );
    }
}
