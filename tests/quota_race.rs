//! 64 clients creating at once against a quota of 10 volumes: exactly 10 are accepted,
//! the rest get 413, and usage is 10 afterwards. On SQLite and on PostgreSQL.

mod common;
mod common_db;

use actix_web::http::StatusCode;
use common::{ALICE, TestApp, TestResult, json_req};
use futures_util::future::join_all;
use serde_json::json;

async fn race(app: &TestApp) -> TestResult {
    let body = json!({"volume": {"size": 1}});
    let answers =
        join_all((0..64).map(|_| app.call(json_req("POST", "/v3/0a0a/volumes", ALICE, &body))))
            .await;
    let accepted = answers
        .iter()
        .filter(|(s, _, _)| *s == StatusCode::ACCEPTED)
        .count();
    let refused = answers
        .iter()
        .filter(|(s, _, _)| *s == StatusCode::PAYLOAD_TOO_LARGE)
        .count();
    assert_eq!(
        (accepted, refused),
        (10, 54),
        "{:?}",
        answers.iter().map(|a| a.0).collect::<Vec<_>>()
    );
    assert_eq!(app.count("volumes"), 10);
    assert_eq!(app.count("reservations"), 0);
    assert_eq!(app.usage("0a0a", "volumes"), (10, 0));
    assert_eq!(app.usage("0a0a", "gigabytes"), (10, 0));
    Ok(())
}

#[actix_web::test]
async fn exactly_the_quota_is_accepted_on_sqlite() -> TestResult {
    let app = TestApp::with(|c| c.quota.volumes = 10).await?;
    race(&app).await
}

#[actix_web::test]
async fn exactly_the_quota_is_accepted_on_postgres() -> TestResult {
    let db = common_db::TestDb::postgres(1).map_err(|e| e.to_string())?;
    let url = db.url.clone();
    let app = TestApp::with(|c| {
        c.quota.volumes = 10;
        c.database_url = Some(url);
        c.database_pool_size = 16;
    })
    .await?;
    race(&app).await?;
    drop(app);
    drop(db);
    Ok(())
}
