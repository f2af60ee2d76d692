//! Quota sets, quota classes and limits (cinder-api.md §12, §13). The HTTP layer checks
//! the policy (admin for writes and classes; members read their own project only).

use std::collections::BTreeMap;

use actix::prelude::*;

use super::ApiActor;
use crate::actors::error::ServiceError;
use crate::db::quotas::{Defaults, Usage};
use crate::db::{DbConnection, DbError, quota_sets};
use crate::model::RequestContext;

impl ApiActor {
    /// Runs `f` on the database with the name of every quota resource and the configured
    /// defaults.
    fn with_quota_resources<T: Send + 'static>(
        &self,
        f: impl FnOnce(&mut DbConnection, &[String], &Defaults) -> Result<T, DbError> + Send + 'static,
    ) -> ResponseFuture<Result<T, ServiceError>> {
        let db = self.shared.db.clone();
        let defaults = self.shared.settings.quota_defaults.clone();
        Box::pin(async move {
            Ok(db
                .run(move |c| {
                    let resources = quota_sets::resources(c)?;
                    f(c, &resources, &defaults)
                })
                .await?)
        })
    }
}

/// Refuses keys that name no quota resource (the list includes the per-type keys).
fn check_keys(
    resources: &[String],
    limits: &BTreeMap<String, i64>,
    what: &str,
) -> Result<(), ServiceError> {
    let bad: Vec<&str> = limits
        .keys()
        .filter(|k| !resources.contains(k))
        .map(String::as_str)
        .collect();
    if bad.is_empty() {
        Ok(())
    } else {
        Err(ServiceError::Invalid(format!(
            "Bad key(s) in {what}: {}",
            bad.join(", ")
        )))
    }
}

/// A project's limits with their usage and reservations, for every resource.
#[derive(Debug, Message)]
#[rtype(result = "Result<BTreeMap<String, Usage>, ServiceError>")]
pub struct GetQuotaSet {
    /// The caller.
    pub ctx: RequestContext,
    /// The project asked about.
    pub project: String,
}

impl Handler<GetQuotaSet> for ApiActor {
    type Result = ResponseFuture<Result<BTreeMap<String, Usage>, ServiceError>>;
    fn handle(&mut self, msg: GetQuotaSet, _: &mut Self::Context) -> Self::Result {
        self.with_quota_resources(move |c, resources, defaults| {
            quota_sets::project_usage(c, &msg.project, resources, defaults)
        })
    }
}

/// The defaults every project starts from.
#[derive(Debug, Message)]
#[rtype(result = "Result<BTreeMap<String, i64>, ServiceError>")]
pub struct GetQuotaDefaults {
    /// The caller.
    pub ctx: RequestContext,
}

impl Handler<GetQuotaDefaults> for ApiActor {
    type Result = ResponseFuture<Result<BTreeMap<String, i64>, ServiceError>>;
    fn handle(&mut self, _msg: GetQuotaDefaults, _: &mut Self::Context) -> Self::Result {
        self.with_quota_resources(quota_sets::default_limits)
    }
}

/// Set a project's limits (admin); answers with every limit afterwards. A limit below
/// what the project already uses (`in_use + reserved`) is refused.
#[derive(Debug, Message)]
#[rtype(result = "Result<BTreeMap<String, i64>, ServiceError>")]
pub struct UpdateQuotaSet {
    /// The caller.
    pub ctx: RequestContext,
    /// The project whose limits change.
    pub project: String,
    /// New limits (-1: unlimited).
    pub limits: BTreeMap<String, i64>,
}

impl Handler<UpdateQuotaSet> for ApiActor {
    type Result = ResponseFuture<Result<BTreeMap<String, i64>, ServiceError>>;
    fn handle(&mut self, msg: UpdateQuotaSet, _: &mut Self::Context) -> Self::Result {
        let db = self.shared.db.clone();
        let defaults = self.shared.settings.quota_defaults.clone();
        Box::pin(async move {
            let resources = db.run(quota_sets::resources).await?;
            check_keys(&resources, &msg.limits, "quota set")?;
            let limits = msg.limits.clone();
            let (outcome, after) = db
                .run(move |c| {
                    let outcome =
                        quota_sets::set_project_limits(c, &msg.project, &msg.limits, &defaults)?;
                    let after = quota_sets::project_usage(c, &msg.project, &resources, &defaults)?;
                    Ok((outcome, after))
                })
                .await?;
            if let Err((key, used)) = outcome {
                return Err(ServiceError::Invalid(format!(
                    "Quota {key} limit must be equal or greater than existing resources. Current usage is {used} and the requested limit is {}.",
                    limits.get(&key).copied().unwrap_or_default()
                )));
            }
            Ok(after.into_iter().map(|(k, u)| (k, u.limit)).collect())
        })
    }
}

/// Remove a project's own limits (admin): back to the defaults, usage kept.
#[derive(Debug, Message)]
#[rtype(result = "Result<(), ServiceError>")]
pub struct DeleteQuotaSet {
    /// The caller.
    pub ctx: RequestContext,
    /// The project.
    pub project: String,
}

impl Handler<DeleteQuotaSet> for ApiActor {
    type Result = ResponseFuture<Result<(), ServiceError>>;
    fn handle(&mut self, msg: DeleteQuotaSet, _: &mut Self::Context) -> Self::Result {
        let db = self.shared.db.clone();
        Box::pin(async move {
            Ok(db
                .run(move |c| quota_sets::delete_project_limits(c, &msg.project))
                .await?)
        })
    }
}

/// A quota class's limits (admin).
#[derive(Debug, Message)]
#[rtype(result = "Result<BTreeMap<String, i64>, ServiceError>")]
pub struct GetQuotaClass {
    /// The caller.
    pub ctx: RequestContext,
    /// The class (`default` supplies every project's defaults).
    pub class: String,
}

impl Handler<GetQuotaClass> for ApiActor {
    type Result = ResponseFuture<Result<BTreeMap<String, i64>, ServiceError>>;
    fn handle(&mut self, msg: GetQuotaClass, _: &mut Self::Context) -> Self::Result {
        self.with_quota_resources(move |c, resources, defaults| {
            quota_sets::class_limits(c, &msg.class, resources, defaults)
        })
    }
}

/// Set a quota class's limits (admin); answers with the class's limits afterwards.
#[derive(Debug, Message)]
#[rtype(result = "Result<BTreeMap<String, i64>, ServiceError>")]
pub struct UpdateQuotaClass {
    /// The caller.
    pub ctx: RequestContext,
    /// The class.
    pub class: String,
    /// New limits.
    pub limits: BTreeMap<String, i64>,
}

impl Handler<UpdateQuotaClass> for ApiActor {
    type Result = ResponseFuture<Result<BTreeMap<String, i64>, ServiceError>>;
    fn handle(&mut self, msg: UpdateQuotaClass, _: &mut Self::Context) -> Self::Result {
        let db = self.shared.db.clone();
        let defaults = self.shared.settings.quota_defaults.clone();
        Box::pin(async move {
            let resources = db.run(quota_sets::resources).await?;
            check_keys(&resources, &msg.limits, "quota class set")?;
            Ok(db
                .run(move |c| {
                    quota_sets::set_class_limits(c, &msg.class, &msg.limits)?;
                    quota_sets::class_limits(c, &msg.class, &resources, &defaults)
                })
                .await?)
        })
    }
}
