//! `/core/jml`: HR feed plans, their runs, and single-person webhook events.

use axum::extract::multipart::MultipartRejection;
use axum::extract::{Multipart, Path, State};
use axum::http::StatusCode;
use axum::response::Response;
use roster_domain::Scope;
use roster_service::engine::Plan;
use roster_service::{ApplyOptions, JmlEvent, JmlRunRecord, PlanRequest, StoredPlan};
use serde_json::{Value, json};

use crate::AppState;
use crate::error::{ApiError, Source};
use crate::extract::{Auth, JsonBody, MAX_BODY_BYTES, OptionalJsonBody};
use crate::response::json_api;

/// The default limit of a feed upload, separate from the 1 MiB limit of ordinary requests.
pub const DEFAULT_MAX_UPLOAD_BYTES: usize = 256 * 1024 * 1024;

fn too_large(part: &str, limit: usize) -> ApiError {
    ApiError::with_source(
        StatusCode::PAYLOAD_TOO_LARGE,
        "payload_too_large",
        "Payload too large",
        format!("the {part} part exceeds {limit} bytes; split the feed or raise --jml-max-upload-mib"),
        Source::Pointer(format!("/{part}")),
    )
}

fn bad_form(detail: impl Into<String>) -> ApiError {
    ApiError::new(StatusCode::BAD_REQUEST, "invalid_form", "Invalid form", detail)
}

fn parse_id(text: &str, what: &str) -> Result<i64, ApiError> {
    text.parse::<i64>().ok().filter(|id| *id > 0).ok_or_else(|| ApiError::not_found(format!("{what} {text:?} not found")))
}

/// Computes a plan from an uploaded feed. Scope: `users:write`.
///
/// The body is `multipart/form-data` with the parts `feed` (CSV or JSON Lines), `mapping` and `policy` (TOML),
/// and optionally `full_feed` (`true` when the feed lists everyone). The feed is read as it streams in, up to the
/// upload limit (256 MiB by default). Unmapped columns are dropped while parsing and never stored.
#[utoipa::path(post, path = "/core/jml/plans", tag = "jml",
    request_body(content_type = "multipart/form-data", description = "Parts feed, mapping, policy and optional full_feed"),
    responses((status = 201, description = "The plan"), (status = 400, description = "Invalid form"),
        (status = 401, description = "Missing or invalid token"), (status = 403, description = "Missing scope"),
        (status = 413, description = "A part exceeds its size limit"),
        (status = 415, description = "The body is not multipart/form-data"),
        (status = 422, description = "Invalid mapping, policy or feed")),
    security(("bearer" = [])))]
pub async fn create_plan(
    State(state): State<AppState>,
    Auth(actor): Auth,
    form: Result<Multipart, MultipartRejection>,
) -> Result<Response, ApiError> {
    // Checked before the upload is read, so a token without the scope cannot make the server read 256 MiB.
    actor.require(Scope::UsersWrite)?;
    let mut form = form.map_err(|e| {
        ApiError::new(
            StatusCode::UNSUPPORTED_MEDIA_TYPE,
            "unsupported_media_type",
            "Unsupported media type",
            format!("{e}; send multipart/form-data with the parts feed, mapping and policy, as curl -F does"),
        )
    })?;
    // TODO: the mapping and policy travel with every upload; naming ones stored on the server is not supported.
    let mut mapping = None;
    let mut policy = None;
    let mut feed = None;
    let mut full_feed = false;

    while let Some(mut field) = form.next_field().await.map_err(|e| bad_form(format!("the form cannot be read: {e}")))? {
        let name = field.name().unwrap_or_default().to_string();
        let limit = if name == "feed" { state.max_upload_bytes } else { MAX_BODY_BYTES };
        let mut bytes = Vec::new();
        while let Some(chunk) = field.chunk().await.map_err(|e| bad_form(format!("the {name} part cannot be read: {e}")))? {
            if bytes.len() + chunk.len() > limit {
                return Err(too_large(&name, limit));
            }
            bytes.extend_from_slice(&chunk);
        }
        let text = |bytes: Vec<u8>| {
            String::from_utf8(bytes).map_err(|_| bad_form(format!("the {name} part is not UTF-8 text")))
        };
        match name.as_str() {
            "feed" => feed = Some(bytes),
            "mapping" => mapping = Some(text(bytes)?),
            "policy" => policy = Some(text(bytes)?),
            "full_feed" => {
                full_feed = match text(bytes)?.trim() {
                    "true" => true,
                    "false" | "" => false,
                    other => return Err(bad_form(format!("full_feed is {other:?}; send true or false"))),
                }
            }
            other => return Err(bad_form(format!("unknown part {other:?}; send feed, mapping, policy and full_feed"))),
        }
    }

    let missing = |part: &str| bad_form(format!("the {part} part is missing; send feed, mapping and policy"));
    let request = PlanRequest {
        mapping: mapping.ok_or_else(|| missing("mapping"))?,
        policy: policy.ok_or_else(|| missing("policy"))?,
        feed: feed.ok_or_else(|| missing("feed"))?,
        full_feed,
    };
    let stored = state.roster.create_jml_plan(&actor, request).await.map_err(|e| ApiError::from_service(e, ""))?;
    Ok(json_api(StatusCode::CREATED, PlanDocument { data: plan_resource(&stored) }))
}

/// Shows a stored plan with every person's change and the plan's runs. Scope: `users:read`.
///
/// TODO: the changes are not paged, so a plan of 100,000 people is one large response.
#[utoipa::path(get, path = "/core/jml/plans/{id}", tag = "jml",
    params(("id" = String, Path, description = "Plan id")),
    responses((status = 200, description = "The plan"), (status = 401, description = "Missing or invalid token"),
        (status = 403, description = "Missing scope"), (status = 404, description = "No such plan")),
    security(("bearer" = [])))]
pub async fn get_plan(State(state): State<AppState>, Auth(actor): Auth, Path(id): Path<String>) -> Result<Response, ApiError> {
    let id = parse_id(&id, "plan")?;
    let stored = state.roster.get_jml_plan(&actor, id).await?;
    Ok(json_api(StatusCode::OK, PlanDocument { data: plan_resource(&stored) }))
}

/// Starts applying a stored plan and returns the run. Scopes: `users:write` and `roles:write`.
///
/// The optional body `{"meta": {"skip_invalid": true, "allow_mass_leavers": true}}` applies a plan with row
/// errors (leaving those rows out) or one that archives more users than the mass-leaver threshold allows.
#[utoipa::path(post, path = "/core/jml/plans/{id}/apply", tag = "jml",
    params(("id" = String, Path, description = "Plan id")),
    responses((status = 202, description = "The run, started"), (status = 400, description = "Invalid body"),
        (status = 401, description = "Missing or invalid token"), (status = 403, description = "Missing scope"),
        (status = 404, description = "No such plan"),
        (status = 409, description = "The plan has row errors, or too many leavers")),
    security(("bearer" = [])))]
pub async fn apply_plan(
    State(state): State<AppState>,
    Auth(actor): Auth,
    Path(id): Path<String>,
    OptionalJsonBody(body): OptionalJsonBody,
) -> Result<Response, ApiError> {
    let id = parse_id(&id, "plan")?;
    let meta = body.as_ref().and_then(|b| b.get("meta"));
    let flag = |name: &str| -> Result<bool, ApiError> {
        match meta.and_then(|m| m.get(name)) {
            None | Some(Value::Null) => Ok(false),
            Some(Value::Bool(value)) => Ok(*value),
            Some(_) => Err(ApiError::with_source(
                StatusCode::UNPROCESSABLE_ENTITY,
                "invalid",
                "Invalid attribute",
                format!("meta.{name} must be true or false"),
                Source::Pointer(format!("/meta/{name}")),
            )),
        }
    };
    let options = ApplyOptions { skip_invalid: flag("skip_invalid")?, allow_mass_leavers: flag("allow_mass_leavers")? };
    let run = state.roster.apply_jml_plan(&actor, id, options).await?;
    Ok(json_api(StatusCode::ACCEPTED, json!({ "data": run_resource(&run) })))
}

/// Shows a run's progress and result. Scope: `users:read`.
#[utoipa::path(get, path = "/core/jml/runs/{id}", tag = "jml",
    params(("id" = String, Path, description = "Run id")),
    responses((status = 200, description = "The run"), (status = 401, description = "Missing or invalid token"),
        (status = 403, description = "Missing scope"), (status = 404, description = "No such run")),
    security(("bearer" = [])))]
pub async fn get_run(State(state): State<AppState>, Auth(actor): Auth, Path(id): Path<String>) -> Result<Response, ApiError> {
    let id = parse_id(&id, "run")?;
    let run = state.roster.get_jml_run(&actor, id).await?;
    Ok(json_api(StatusCode::OK, json!({ "data": run_resource(&run) })))
}

/// Applies one person's joiner, mover or leaver event, as an HR system's webhook sends it, through the same
/// engine as a feed and with the policy of the source's latest plan. Scopes: `users:write` and `roles:write`.
#[utoipa::path(post, path = "/core/jml/events", tag = "jml",
    responses((status = 200, description = "The finished run and its one-person plan"),
        (status = 400, description = "Invalid JSON"), (status = 401, description = "Missing or invalid token"),
        (status = 403, description = "Missing scope"), (status = 413, description = "The body exceeds 1 MiB"),
        (status = 422, description = "Invalid event")),
    security(("bearer" = [])))]
pub async fn post_event(State(state): State<AppState>, Auth(actor): Auth, JsonBody(body): JsonBody) -> Result<Response, ApiError> {
    let attributes = body.get("data").and_then(|d| d.get("attributes")).cloned().ok_or_else(|| {
        ApiError::invalid_json("send {\"data\": {\"type\": \"jml_events\", \"attributes\": {...}}}")
    })?;
    let event: JmlEvent = serde_json::from_value(attributes).map_err(|e| {
        ApiError::with_source(
            StatusCode::UNPROCESSABLE_ENTITY,
            "invalid",
            "Invalid attribute",
            format!("the event is invalid: {e}"),
            Source::Pointer("/data/attributes".into()),
        )
    })?;
    let (stored, run) = state.roster.apply_jml_event(&actor, event).await?;
    let mut data = run_resource(&run);
    if let Some(object) = data.as_object_mut() {
        object.insert("relationships".into(), json!({ "plan": { "data": plan_resource(&stored) } }));
    }
    Ok(json_api(StatusCode::OK, json!({ "data": data })))
}

/// A `jml_plans` resource. It serialises from the stored plan directly, because a `serde_json::Value` of a plan
/// of 100,000 people takes several times the memory of its JSON text.
#[derive(serde::Serialize)]
struct PlanResource<'a> {
    #[serde(rename = "type")]
    kind: &'static str,
    id: String,
    attributes: PlanAttributes<'a>,
}

#[derive(serde::Serialize)]
struct PlanAttributes<'a> {
    source: &'a str,
    full_feed: bool,
    created_at: String,
    created_by: &'a str,
    counts: &'a std::collections::BTreeMap<String, usize>,
    changes: &'a [roster_service::engine::PersonChange],
    errors: &'a [roster_service::engine::RowError],
    warnings: &'a [roster_service::engine::RowWarning],
    runs: Vec<String>,
}

#[derive(serde::Serialize)]
struct PlanDocument<'a> {
    data: PlanResource<'a>,
}

fn plan_resource(stored: &StoredPlan) -> PlanResource<'_> {
    let plan: &Plan = &stored.plan;
    PlanResource {
        kind: "jml_plans",
        id: stored.id.to_string(),
        attributes: PlanAttributes {
            source: &plan.source,
            full_feed: plan.options.full_feed,
            created_at: stored.created_at.canonical(),
            created_by: &stored.created_by,
            counts: &plan.counts,
            changes: &plan.changes,
            errors: &plan.errors,
            warnings: &plan.warnings,
            runs: stored.runs.iter().map(|r| r.id.to_string()).collect(),
        },
    }
}

fn run_resource(run: &JmlRunRecord) -> Value {
    let counts: Value = serde_json::from_str(&run.counts).unwrap_or(Value::Null);
    json!({
        "type": "jml_runs",
        "id": run.id.to_string(),
        "attributes": {
            "plan_id": run.plan_id.to_string(),
            "status": run.status,
            "created_at": run.created_at.canonical(),
            "created_by": run.created_by,
            "updated_at": run.updated_at.canonical(),
            "finished_at": run.finished_at.map(|t| t.canonical()),
            "result": counts,
            "message": run.message,
        }
    })
}
