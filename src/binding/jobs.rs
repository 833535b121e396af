use napi_derive::napi;

use super::js_error;
use super::queue::{on_backend, NativeQueue};

/// Single-job moves and bulk moves; codes as in the scripts (0 ok, -1 no
/// such job, -2/-6 lock, -3 wrong state). JS turns codes into errors.
#[napi]
impl NativeQueue {
    #[napi]
    pub async fn move_to_delayed(
        &self,
        id: String,
        token: String,
        due_at: f64,
    ) -> napi::Result<i64> {
        on_backend!(&self.inner, q => q.move_to_delayed(&id, &token, due_at as i64).await)
            .map_err(js_error)
    }

    #[napi]
    pub async fn change_delay(&self, id: String, delay: f64) -> napi::Result<i64> {
        on_backend!(&self.inner, q => q.change_delay(&id, delay as i64).await).map_err(js_error)
    }

    #[napi]
    pub async fn change_priority(
        &self,
        id: String,
        priority: i64,
        lifo: bool,
    ) -> napi::Result<i64> {
        on_backend!(&self.inner, q => q.change_priority(&id, priority, lifo).await)
            .map_err(js_error)
    }

    #[napi]
    pub async fn promote(&self, id: String) -> napi::Result<i64> {
        on_backend!(&self.inner, q => q.promote(&id).await).map_err(js_error)
    }

    #[napi]
    pub async fn update_data(&self, id: String, data: String) -> napi::Result<i64> {
        on_backend!(&self.inner, q => q.update_data(&id, &data).await).map_err(js_error)
    }

    #[napi]
    pub async fn extend_lock(
        &self,
        id: String,
        token: String,
        duration_ms: f64,
    ) -> napi::Result<i64> {
        on_backend!(&self.inner, q => q.extend_lock(&id, &token, duration_ms as i64).await)
            .map_err(js_error)
    }

    #[napi]
    pub async fn move_jobs_to_wait(
        &self,
        state: String,
        batch: i64,
        max_score: String,
    ) -> napi::Result<()> {
        on_backend!(&self.inner, q => q.move_jobs_to_wait(&state, batch, &max_score).await)
            .map_err(js_error)
    }

    #[napi]
    pub async fn clean(
        &self,
        state: String,
        cutoff_ms: f64,
        limit: i64,
    ) -> napi::Result<Vec<String>> {
        on_backend!(&self.inner, q => q.clean(&state, cutoff_ms as i64, limit).await)
            .map_err(js_error)
    }

    #[napi]
    pub async fn counts_per_priority(&self, priorities: Vec<i64>) -> napi::Result<Vec<i64>> {
        on_backend!(&self.inner, q => q.counts_per_priority(&priorities).await).map_err(js_error)
    }

    #[napi]
    pub async fn clear_logs(&self, id: String, keep: Option<i64>) -> napi::Result<()> {
        on_backend!(&self.inner, q => q.clear_logs(&id, keep).await).map_err(js_error)
    }
}
