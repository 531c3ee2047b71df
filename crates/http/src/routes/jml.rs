//! `/core/jml`: HR feed plans, their runs, and single-person webhook events.

use axum::extract::multipart::MultipartRejection;
use axum::extract::{Multipart, OriginalUri, Path, State};
use axum::http::StatusCode;
use axum::response::Response;
use roster_domain::Scope;
use roster_service::engine::{ChangeKind, Plan};
use roster_service::{
    ApplyOptions, ChangeSelection, ChangesQuery, ConfigSource, JmlEvent, JmlRunRecord, MAX_CHANGES_PAGE, PlanConfigRef, PlanRequest, StoredPlan,
};
use serde_json::{Value, json};

use crate::AppState;
use crate::error::{ApiError, Source};
use crate::extract::{Auth, JsonBody, MAX_BODY_BYTES, OptionalJsonBody};
use crate::query::Params;
use crate::response::json_api;

/// The query parameters of a plan's changes.
const CHANGES_PARAMETERS: &[&str] = &["kind", "page[size]", "page[number]", "page[after]"];

/// The page size of a plan's changes when `page[size]` is absent.
const DEFAULT_CHANGES_PAGE: usize = 100;

/// The change kinds that `kind` accepts.
const CHANGE_KINDS: &[ChangeKind] = &[
    ChangeKind::Create,
    ChangeKind::Update,
    ChangeKind::Activate,
    ChangeKind::Suspend,
    ChangeKind::Restore,
    ChangeKind::Archive,
];

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

/// The mapping or policy parts of a plan upload: the file, or the name of a stored one.
#[derive(Default)]
struct ConfigParts {
    text: Option<String>,
    name: Option<String>,
}

impl ConfigParts {
    /// Returns the uploaded file or the stored name; exactly one of the two parts must be present.
    fn into_source(self, part: &str) -> Result<ConfigSource, ApiError> {
        match (self.text, self.name) {
            (Some(text), None) => Ok(ConfigSource::Text(text)),
            (None, Some(name)) => Ok(ConfigSource::Stored(name.trim().to_string())),
            (Some(_), Some(_)) => Err(ApiError::with_source(
                StatusCode::UNPROCESSABLE_ENTITY,
                "invalid",
                "Invalid form",
                format!("both {part} and {part}_name are given; send the file or the name of a stored {part}, not both"),
                Source::Pointer(format!("/{part}_name")),
            )),
            (None, None) => Err(bad_form(format!(
                "the {part} part is missing; send the {part} file as {part}, or the name of a stored one as {part}_name"
            ))),
        }
    }
}

/// Computes a plan from an uploaded feed. Scope: `users:write`.
///
/// The body is `multipart/form-data` with the parts `feed` (CSV or JSON Lines), `mapping` (TOML) or
/// `mapping_name` (a stored mapping), `policy` (TOML) or `policy_name` (a stored policy), and optionally
/// `full_feed` (`true` when the feed lists everyone). The feed is read as it streams in, up to the upload limit
/// (256 MiB by default). Unmapped columns are dropped while parsing and never stored. The reply is the plan
/// without its changes, which `GET /core/jml/plans/{id}/changes` lists page by page.
#[utoipa::path(post, path = "/core/jml/plans", tag = "jml",
    request_body(content_type = "multipart/form-data",
        description = "Parts feed, mapping or mapping_name, policy or policy_name, and optional full_feed"),
    responses((status = 201, description = "The plan, without its changes"), (status = 400, description = "Invalid form"),
        (status = 401, description = "Missing or invalid token"), (status = 403, description = "Missing scope"),
        (status = 413, description = "A part exceeds its size limit"),
        (status = 415, description = "The body is not multipart/form-data"),
        (status = 422, description = "Invalid mapping, policy or feed; an unknown mapping_name or policy_name; or both a file and a name")),
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
    let mut mapping = ConfigParts::default();
    let mut policy = ConfigParts::default();
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
            "mapping" => mapping.text = Some(text(bytes)?),
            "mapping_name" => mapping.name = Some(text(bytes)?),
            "policy" => policy.text = Some(text(bytes)?),
            "policy_name" => policy.name = Some(text(bytes)?),
            "full_feed" => {
                full_feed = match text(bytes)?.trim() {
                    "true" => true,
                    "false" | "" => false,
                    other => return Err(bad_form(format!("full_feed is {other:?}; send true or false"))),
                }
            }
            other => {
                return Err(bad_form(format!(
                    "unknown part {other:?}; send feed, mapping or mapping_name, policy or policy_name, and full_feed"
                )));
            }
        }
    }

    let request = PlanRequest {
        mapping: mapping.into_source("mapping")?,
        policy: policy.into_source("policy")?,
        feed: feed.ok_or_else(|| bad_form("the feed part is missing; send the HR feed as the feed part"))?,
        full_feed,
    };
    let stored = state.roster.create_jml_plan(&actor, request).await.map_err(|e| ApiError::from_service(e, ""))?;
    Ok(json_api(StatusCode::CREATED, PlanDocument { data: plan_resource(&stored) }))
}

/// Shows a stored plan: its counts, row errors, warnings, the mapping and policy it used, and its runs. Scope:
/// `users:read`. The changes are listed page by page by `GET /core/jml/plans/{id}/changes`.
#[utoipa::path(get, path = "/core/jml/plans/{id}", tag = "jml",
    params(("id" = String, Path, description = "Plan id")),
    responses((status = 200, description = "The plan, without its changes"), (status = 401, description = "Missing or invalid token"),
        (status = 403, description = "Missing scope"), (status = 404, description = "No such plan")),
    security(("bearer" = [])))]
pub async fn get_plan(State(state): State<AppState>, Auth(actor): Auth, Path(id): Path<String>) -> Result<Response, ApiError> {
    let id = parse_id(&id, "plan")?;
    let stored = state.roster.get_jml_plan(&actor, id).await?;
    Ok(json_api(StatusCode::OK, PlanDocument { data: plan_resource(&stored) }))
}

/// Lists a page of a plan's changes in apply order, one person each. Scope: `users:read`.
///
/// `kind` selects the changes that the plan's counts count under that kind, so `update` also lists changes of
/// kind `none` (attributes or roles without a state change). `meta.total_count` is the number of changes that
/// match `kind` in the whole plan. `links.next` is absent on
/// the last page. Each change's id is its position in the plan, counted from 1 over all kinds.
#[utoipa::path(get, path = "/core/jml/plans/{id}/changes", tag = "jml",
    params(("id" = String, Path, description = "Plan id"),
        ("kind" = Option<String>, Query, description = "create, update, activate, suspend, restore, archive or scheduled, as in the plan's counts; also filter[kind]"),
        ("page[size]" = Option<u32>, Query, description = "1 to 1000, default 100"),
        ("page[number]" = Option<u32>, Query, description = "offset pages, from 1"),
        ("page[after]" = Option<String>, Query, description = "The change id to continue after, from links.next")),
    responses((status = 200, description = "A page of the plan's changes"), (status = 400, description = "Invalid parameter"),
        (status = 401, description = "Missing or invalid token"), (status = 403, description = "Missing scope"),
        (status = 404, description = "No such plan")),
    security(("bearer" = [])))]
pub async fn list_plan_changes(
    State(state): State<AppState>,
    Auth(actor): Auth,
    Path(id): Path<String>,
    OriginalUri(uri): OriginalUri,
) -> Result<Response, ApiError> {
    let id = parse_id(&id, "plan")?;
    let params = Params::parse(uri.query(), CHANGES_PARAMETERS)?;
    let (query, page_number) = changes_query(&params)?;

    let page = state.roster.list_jml_plan_changes(&actor, id, query).await?;

    let data: Vec<Value> = page
        .changes
        .iter()
        .map(|(position, change)| {
            let mut attributes = json!(change);
            // Ids are numeric strings throughout the API; the stored plan keeps the user id as a number.
            if let Some(user_id) = change.user_id {
                attributes["user_id"] = json!(user_id.to_string());
            }
            json!({ "type": "jml_plan_changes", "id": position.to_string(), "attributes": attributes })
        })
        .collect();
    let path = format!("/core/jml/plans/{id}/changes");
    let next = match (page.next_after, page_number) {
        (Some(_), Some(number)) => Some(format!("{path}?{}", params.with_page("page[number]", &(number + 1).to_string()))),
        (Some(after), None) => Some(format!("{path}?{}", params.with_page("page[after]", &after.to_string()))),
        _ => None,
    };
    let meta = json!({ "page_size": query.limit, "total_count": page.total });
    Ok(json_api(StatusCode::OK, json!({ "data": data, "meta": meta, "links": { "next": next } })))
}

/// Reads the kind filter and the page of a changes listing; returns the page number when one was given.
fn changes_query(params: &Params) -> Result<(ChangesQuery, Option<i64>), ApiError> {
    let kind = match params.text("kind") {
        None => None,
        Some("scheduled") => Some(ChangeSelection::Scheduled),
        Some(text) => Some(ChangeSelection::Kind(CHANGE_KINDS.iter().copied().find(|kind| kind.as_str() == text).ok_or_else(|| {
            let names: Vec<&str> = CHANGE_KINDS.iter().map(ChangeKind::as_str).collect();
            ApiError::bad_parameter(
                "kind",
                format!(
                    "{text:?} is not a change kind; use one of {} or scheduled (people who are not changed are not listed)",
                    names.join(", ")
                ),
            )
        })?)),
    };

    let limit = match params.positive_int("page[size]")? {
        None => DEFAULT_CHANGES_PAGE,
        Some(size) => usize::try_from(size).ok().filter(|size| *size <= MAX_CHANGES_PAGE).ok_or_else(|| {
            ApiError::bad_parameter(
                "page[size]",
                format!("{size} exceeds the maximum page size {MAX_CHANGES_PAGE}; ask for {MAX_CHANGES_PAGE} or fewer"),
            )
        })?,
    };
    let page_number = params.positive_int("page[number]")?;
    let after = params.positive_int("page[after]")?;
    if after.is_some() && page_number.is_some() {
        return Err(ApiError::bad_parameter("page[after]", "give page[after] or page[number], not both"));
    }

    let offset = page_number.map_or(0, |n| usize::try_from(n - 1).unwrap_or(usize::MAX).saturating_mul(limit));
    let after = after.map(|a| usize::try_from(a).unwrap_or(usize::MAX));
    Ok((ChangesQuery { kind, after, offset, limit }, page_number))
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
/// engine as a feed and with the policy of the source's latest applied plan. Scopes: `users:write` and `roles:write`.
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

/// A `jml_plans` resource. It serialises from the stored plan directly, because a `serde_json::Value` of the
/// errors and warnings of a plan of 100,000 people takes several times the memory of their JSON text.
#[derive(serde::Serialize)]
struct PlanResource<'a> {
    #[serde(rename = "type")]
    kind: &'static str,
    id: String,
    attributes: PlanAttributes<'a>,
    links: PlanLinks,
}

#[derive(serde::Serialize)]
struct PlanLinks {
    changes: String,
}

#[derive(serde::Serialize)]
struct PlanAttributes<'a> {
    source: &'a str,
    full_feed: bool,
    created_at: String,
    created_by: &'a str,
    counts: &'a std::collections::BTreeMap<String, usize>,
    change_count: usize,
    errors: &'a [roster_service::engine::RowError],
    warnings: &'a [roster_service::engine::RowWarning],
    mapping: Option<Value>,
    policy: Option<Value>,
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
            change_count: stored.change_count,
            errors: &plan.errors,
            warnings: &plan.warnings,
            mapping: stored.mapping_used.as_ref().map(config_ref),
            policy: stored.policy_used.as_ref().map(config_ref),
            runs: stored.runs.iter().map(|r| r.id.to_string()).collect(),
        },
        links: PlanLinks { changes: format!("/core/jml/plans/{}/changes", stored.id) },
    }
}

/// Describes the mapping or policy a plan used: a stored one's name and version, or nulls for an uploaded file.
fn config_ref(reference: &PlanConfigRef) -> Value {
    json!({ "name": reference.name, "version": reference.version, "sha256": reference.sha256 })
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
