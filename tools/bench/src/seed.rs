//! `--seed-db`: volumes written straight into the server's database, for list benchmarks
//! that need more volumes than the API creates in a minute or two.
//!
//! The rows are `available`, placed on no node, and use no quota, so the API deletes them
//! at once (a volume never placed needs no node). Nothing else reads them differently.

use diesel::prelude::*;

use super::BenchError;
use clinker::db::rows::VolumeRow;
use clinker::db::schema::volumes;
use clinker::db::{self, Db};
use clinker::model::spec::RequestSpec;
use clinker::model::{AttachStatus, VolumeStatus};

/// Rows per insert statement: 22 columns x 1,000 stays under SQLite's 32,766 parameters.
const CHUNK: usize = 1000;

/// Inserts `n` available volumes of `size_gb` GiB into `project`, in one transaction per
/// 1,000; returns their ids.
pub fn seed(url: &str, project: &str, n: usize, size_gb: u64) -> Result<Vec<String>, BenchError> {
    let fail = |e: db::DbError| BenchError::Invalid(format!("seeding {url}: {e}"));
    let pool = db::connect(url, 1).map_err(fail)?;
    let db = Db::new(pool);
    let vtype = db
        .run_blocking(|c| db::types::resolve(c, "__DEFAULT__", None))
        .map_err(fail)?
        .ok_or_else(|| BenchError::Invalid(format!("seeding {url}: no __DEFAULT__ type")))?;
    let start = db::now();
    let mut ids = Vec::with_capacity(n);
    let mut done = 0;
    while done < n {
        let rows: Vec<VolumeRow> = (done..(done + CHUNK).min(n))
            .map(|i| {
                let id = uuid::Uuid::new_v4().to_string();
                ids.push(id.clone());
                // Distinct creation times keep the default order (newest first) stable.
                let at = start + chrono::Duration::microseconds(i as i64);
                VolumeRow {
                    id,
                    project_id: clinker::model::ProjectId(project.to_string()),
                    user_id: "admin".into(),
                    display_name: Some(format!("seed-{i}")),
                    display_description: None,
                    size: size_gb as i64,
                    status: VolumeStatus::Available,
                    attach_status: AttachStatus::Detached,
                    availability_zone: "nova".into(),
                    volume_type_id: vtype.row.id.clone(),
                    host: None,
                    bootable: false,
                    multiattach: false,
                    snapshot_id: None,
                    source_volid: None,
                    provider_location: None,
                    request_spec: RequestSpec {
                        size_gb,
                        availability_zones: vec!["nova".into()],
                        volume_type_id: vtype.row.id.clone(),
                        ..RequestSpec::default()
                    },
                    request_id: "req-bench-seed".into(),
                    created_at: at,
                    updated_at: None,
                    scheduled_at: None,
                    launched_at: Some(at),
                    previous_status: None,
                }
            })
            .collect();
        done += rows.len();
        db.run_blocking(|c| {
            db::write_txn(c, |c| {
                clinker::on_backend!(c, |c| diesel::insert_into(volumes::table)
                    .values(&rows)
                    .execute(c))?;
                Ok(())
            })
        })
        .map_err(fail)?;
    }
    Ok(ids)
}
