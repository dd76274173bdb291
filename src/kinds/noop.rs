//! `noop`: does nothing and succeeds (Airflow's EmptyOperator).

use super::{TaskContext, TaskResult};

pub async fn run(ctx: &TaskContext) -> TaskResult {
    ctx.log.line("noop: nothing to do");
    Ok(serde_json::Value::Null)
}
