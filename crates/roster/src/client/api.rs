//! The HTTP connection: base URL, token, requests, and JSON:API errors turned into one line each.

use anyhow::{Context, bail};
use clap::Args;
use reqwest::{Method, StatusCode};
use serde_json::Value;
use std::path::PathBuf;
use std::time::Duration;

/// The environment variable that contains the API token.
pub const TOKEN_VAR: &str = "ROSTER_TOKEN";

/// How long one request may take before the command gives up.
const REQUEST_TIMEOUT: Duration = Duration::from_secs(60);

/// The server's address and the token to authenticate with.
#[derive(Debug, Clone, Args)]
pub struct ClientArgs {
    /// The Roster server's base URL.
    #[arg(long, global = true, env = "ROSTER_URL", default_value = "http://127.0.0.1:8080")]
    pub url: String,
    /// A file holding the API token, such as ./roster-data/admin-token. Without it the token is read from the
    /// ROSTER_TOKEN environment variable.
    #[arg(long, global = true, env = "ROSTER_TOKEN_FILE")]
    pub token_file: Option<PathBuf>,
}

/// The server rejected a request. Each line describes one JSON:API error object.
#[derive(Debug, Clone)]
pub struct ApiFailure {
    pub lines: Vec<String>,
}

impl std::fmt::Display for ApiFailure {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(&self.lines.join("; "))
    }
}

impl std::error::Error for ApiFailure {}

/// An authenticated connection to one server.
#[derive(Debug, Clone)]
pub struct ApiClient {
    http: reqwest::Client,
    base: String,
    token: String,
}

impl ApiClient {
    pub fn new(args: &ClientArgs) -> anyhow::Result<Self> {
        let base = args.url.trim_end_matches('/').to_string();
        if !(base.starts_with("http://") || base.starts_with("https://")) {
            bail!("--url {:?} is not an http:// or https:// URL; give the server's base URL, such as http://127.0.0.1:8080", args.url);
        }
        let token = read_token(args)?;
        let http = reqwest::Client::builder()
            .timeout(REQUEST_TIMEOUT)
            .user_agent(concat!("roster-cli/", env!("CARGO_PKG_VERSION")))
            .build()
            .context("building the HTTP client failed")?;
        Ok(Self { http, base, token })
    }

    /// Sends a request and returns the parsed JSON body (`Null` for an empty body). A response outside 2xx becomes
    /// an [`ApiFailure`].
    pub async fn send(&self, method: Method, path: &str, body: Option<&Value>) -> anyhow::Result<Value> {
        let url = format!("{}{path}", self.base);
        let mut request = self.http.request(method.clone(), &url).bearer_auth(&self.token);
        if let Some(body) = body {
            request = request.header(reqwest::header::CONTENT_TYPE, "application/vnd.api+json").body(body.to_string());
        }
        self.finish(request, method, path).await
    }

    async fn finish(&self, request: reqwest::RequestBuilder, method: Method, path: &str) -> anyhow::Result<Value> {
        let response = request.send().await.map_err(|error| describe_transport(&error, &self.base))?;
        let status = response.status();
        let text = response.text().await.with_context(|| format!("reading the response to {method} {path} failed"))?;

        if !status.is_success() {
            return Err(ApiFailure { lines: error_lines(status, &text) }.into());
        }
        if text.trim().is_empty() {
            return Ok(Value::Null);
        }
        serde_json::from_str(&text).with_context(|| format!("the response to {method} {path} is not JSON"))
    }

    /// Sends a `multipart/form-data` POST, such as a feed upload, and returns the parsed JSON body.
    pub async fn send_form(&self, path: &str, form: reqwest::multipart::Form) -> anyhow::Result<Value> {
        let url = format!("{}{path}", self.base);
        let request = self.http.post(&url).bearer_auth(&self.token).multipart(form);
        self.finish(request, Method::POST, path).await
    }

    /// Sends a text body, such as a TOML file, with its media type and returns the parsed JSON body.
    pub async fn send_text(&self, method: Method, path: &str, content_type: &str, body: String) -> anyhow::Result<Value> {
        let url = format!("{}{path}", self.base);
        let request = self.http.request(method.clone(), &url).bearer_auth(&self.token).header(reqwest::header::CONTENT_TYPE, content_type).body(body);
        self.finish(request, method, path).await
    }

    pub async fn get(&self, path: &str) -> anyhow::Result<Value> {
        self.send(Method::GET, path, None).await
    }

    /// Follows `links.next` from `path` and collects `data` items until `limit` items (every item when `None`).
    pub async fn get_all(&self, path: &str, limit: Option<usize>) -> anyhow::Result<Vec<Value>> {
        let mut items = Vec::new();
        let mut next = Some(path.to_string());
        while let Some(path) = next.take() {
            let page = self.get(&path).await?;
            if let Some(data) = page["data"].as_array() {
                items.extend(data.iter().cloned());
            }
            if limit.is_some_and(|limit| items.len() >= limit) {
                break;
            }
            next = page["links"]["next"].as_str().map(str::to_string);
        }
        if let Some(limit) = limit {
            items.truncate(limit);
        }
        Ok(items)
    }
}

fn read_token(args: &ClientArgs) -> anyhow::Result<String> {
    let token = match &args.token_file {
        Some(path) => std::fs::read_to_string(path).with_context(|| format!("cannot read the token file {}", path.display()))?,
        None => std::env::var(TOKEN_VAR).unwrap_or_default(),
    };
    let token = token.trim().to_string();
    if token.is_empty() {
        match &args.token_file {
            Some(path) => bail!("the token file {} is empty; write an API token into it", path.display()),
            None => bail!("no API token: set {TOKEN_VAR} or pass --token-file PATH (such as ./roster-data/admin-token)"),
        }
    }
    Ok(token)
}

fn describe_transport(error: &reqwest::Error, base: &str) -> anyhow::Error {
    // reqwest's own message and its first sources are generic ("client error (Connect)"); the innermost source
    // names the cause, such as "Connection refused (os error 111)".
    let mut cause: &dyn std::error::Error = error;
    while let Some(source) = cause.source() {
        cause = source;
    }
    if error.is_timeout() {
        anyhow::anyhow!("the request to {base} timed out after {} s; check that the server is healthy", REQUEST_TIMEOUT.as_secs())
    } else if error.is_connect() {
        anyhow::anyhow!("cannot connect to {base}: {cause}; start the server or pass the right --url (or ROSTER_URL)")
    } else {
        anyhow::anyhow!("the request to {base} failed: {cause}")
    }
}

/// Turns an error response into one line per JSON:API error: status, title, detail and what the source names.
fn error_lines(status: StatusCode, text: &str) -> Vec<String> {
    let body: Value = serde_json::from_str(text).unwrap_or(Value::Null);
    let errors = body["errors"].as_array().cloned().unwrap_or_default();
    if errors.is_empty() {
        let reason = status.canonical_reason().unwrap_or("error");
        return vec![format!("the server returned {} {reason} without a JSON:API error body", status.as_u16())];
    }

    errors
        .iter()
        .map(|error| {
            let title = error["title"].as_str().unwrap_or("Error");
            let detail = error["detail"].as_str().unwrap_or("");
            let mut line = format!("{} {title}: {detail}", status.as_u16());
            let source = &error["source"];
            if let Some(pointer) = source["pointer"].as_str() {
                line.push_str(&format!(" (at {pointer})"));
            } else if let Some(parameter) = source["parameter"].as_str() {
                line.push_str(&format!(" (parameter {parameter})"));
            } else if let Some(header) = source["header"].as_str() {
                line.push_str(&format!(" (header {header})"));
            }
            line
        })
        .collect()
}

/// Percent-encodes one path segment, such as an email address.
pub fn encode_segment(text: &str) -> String {
    let mut out = String::new();
    for byte in text.bytes() {
        if byte.is_ascii_alphanumeric() || b"-._~".contains(&byte) {
            out.push(char::from(byte));
        } else {
            out.push_str(&format!("%{byte:02X}"));
        }
    }
    out
}

/// Builds a query string from the pairs whose value is present.
pub fn query_string(pairs: &[(&str, Option<String>)]) -> String {
    let present: Vec<(&str, &str)> = pairs.iter().filter_map(|(name, value)| value.as_deref().map(|v| (*name, v))).collect();
    if present.is_empty() {
        return String::new();
    }
    let encoded: Vec<String> = present.iter().map(|(name, value)| format!("{}={}", encode_segment(name), encode_segment(value))).collect();
    format!("?{}", encoded.join("&"))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn error_lines_name_the_source() {
        let body = r#"{"errors": [{"status": "422", "code": "invalid", "title": "Invalid attribute",
            "detail": "email is not an email address", "source": {"pointer": "/data/attributes/email"}},
            {"status": "422", "code": "blank", "title": "Invalid attribute", "detail": "last_name is missing"}]}"#;
        let lines = error_lines(StatusCode::UNPROCESSABLE_ENTITY, body);
        assert_eq!(lines, vec![
            "422 Invalid attribute: email is not an email address (at /data/attributes/email)".to_string(),
            "422 Invalid attribute: last_name is missing".to_string(),
        ]);
    }

    #[test]
    fn error_lines_without_json_body() {
        let lines = error_lines(StatusCode::BAD_GATEWAY, "<html>bad gateway</html>");
        assert_eq!(lines, vec!["the server returned 502 Bad Gateway without a JSON:API error body".to_string()]);
    }

    #[test]
    fn query_string_encodes_and_skips_absent() {
        let query = query_string(&[("query", Some("a b".into())), ("email", None), ("page[size]", Some("5".into()))]);
        assert_eq!(query, "?query=a%20b&page%5Bsize%5D=5");
    }
}
