use napi_derive::napi;

use super::js_error;
use super::queue::{outcome, NativeQueue};
use crate::engine::store::{BulkMove, Clean};

/// Single-job moves and bulk moves. An operation on one job resolves with
/// null when done, else the refusal's name; JS words the error.
#[napi]
impl NativeQueue {
    #[napi]
    pub async fn move_to_delayed(
        &self,
        id: String,
        token: String,
        due_at: f64,
    ) -> napi::Result<Option<String>> {
        let done = self.store.move_to_delayed(&id, &token, due_at as i64).await;
        outcome(done.map_err(js_error))
    }

    #[napi]
    pub async fn change_delay(&self, id: String, delay: f64) -> napi::Result<Option<String>> {
        outcome(
            self.store
                .change_delay(&id, delay as i64)
                .await
                .map_err(js_error),
        )
    }

    #[napi]
    pub async fn change_priority(
        &self,
        id: String,
        priority: i64,
        lifo: bool,
    ) -> napi::Result<Option<String>> {
        let done = self.store.change_priority(&id, priority, lifo).await;
        outcome(done.map_err(js_error))
    }

    #[napi]
    pub async fn promote(&self, id: String) -> napi::Result<Option<String>> {
        outcome(self.store.promote(&id).await.map_err(js_error))
    }

    #[napi]
    pub async fn update_data(&self, id: String, data: String) -> napi::Result<Option<String>> {
        outcome(self.store.update_data(&id, &data).await.map_err(js_error))
    }

    #[napi]
    pub async fn extend_lock(
        &self,
        id: String,
        token: String,
        duration_ms: f64,
    ) -> napi::Result<bool> {
        self.store
            .extend_lock(&id, &token, duration_ms as i64)
            .await
            .map_err(js_error)
    }

    #[napi]
    pub async fn move_jobs_to_wait(
        &self,
        state: String,
        batch: i64,
        max_score: String,
    ) -> napi::Result<()> {
        let request = BulkMove {
            state: &state,
            batch,
            max_score: &max_score,
        };
        self.store
            .move_jobs_to_wait(&request)
            .await
            .map_err(js_error)
    }

    #[napi]
    pub async fn clean(
        &self,
        state: String,
        cutoff_ms: f64,
        limit: i64,
    ) -> napi::Result<Vec<String>> {
        let request = Clean {
            state: &state,
            cutoff_ms: cutoff_ms as i64,
            limit,
        };
        self.store.clean(&request).await.map_err(js_error)
    }

    #[napi]
    pub async fn counts_per_priority(&self, priorities: Vec<i64>) -> napi::Result<Vec<i64>> {
        self.store
            .counts_per_priority(&priorities)
            .await
            .map_err(js_error)
    }

    #[napi]
    pub async fn clear_logs(&self, id: String, keep: Option<i64>) -> napi::Result<()> {
        self.store.clear_logs(&id, keep).await.map_err(js_error)
    }
}
