//! Intercom's response envelopes, shared by every resource.

use axum::Json;
use axum::extract::{FromRequest, FromRequestParts, Path, Query, Request};
use axum::http::StatusCode;
use axum::http::request::Parts;
use axum::response::{IntoResponse, Response};
use serde::de::DeserializeOwned;
use serde_json::{Value, json};

/// An error answered as Intercom's `error.list` envelope.
#[derive(Debug)]
pub(crate) struct ApiError {
    status: StatusCode,
    code: &'static str,
    message: String,
    /// A header sent with the error (the `Link` of a merged contact).
    header: Option<(&'static str, String)>,
}

impl ApiError {
    pub(crate) fn new(status: StatusCode, code: &'static str, message: impl Into<String>) -> Self {
        ApiError {
            status,
            code,
            message: message.into(),
            header: None,
        }
    }

    pub(crate) fn with_header(self, name: &'static str, value: String) -> Self {
        ApiError {
            header: Some((name, value)),
            ..self
        }
    }

    pub(crate) fn unauthorized() -> Self {
        Self::new(
            StatusCode::UNAUTHORIZED,
            "unauthorized",
            "Access Token Invalid",
        )
    }

    pub(crate) fn not_found(message: impl Into<String>) -> Self {
        Self::new(StatusCode::NOT_FOUND, "not_found", message)
    }

    /// 400 `parameter_invalid`: a query, body or path value the API cannot use.
    pub(crate) fn invalid(message: impl Into<String>) -> Self {
        Self::new(StatusCode::BAD_REQUEST, "parameter_invalid", message)
    }
}

/// A JSON request body whose rejections (bad JSON, wrong content) are answered
/// with Intercom's error envelope instead of axum's plain-text ones.
pub(crate) struct ApiJson(pub(crate) Value);

impl<S: Send + Sync> FromRequest<S> for ApiJson {
    type Rejection = ApiError;

    async fn from_request(request: Request, state: &S) -> Result<Self, ApiError> {
        let bytes = axum::body::Bytes::from_request(request, state)
            .await
            .map_err(|err| {
                ApiError::new(StatusCode::BAD_REQUEST, "bad_request", err.body_text())
            })?;
        serde_json::from_slice(&bytes).map(ApiJson).map_err(|err| {
            ApiError::new(
                StatusCode::BAD_REQUEST,
                "bad_request",
                format!("Request body is not valid JSON: {err}"),
            )
        })
    }
}

/// Query parameters, with rejections in the error envelope.
pub(crate) struct ApiQuery<T>(pub(crate) T);

impl<T: DeserializeOwned, S: Send + Sync> FromRequestParts<S> for ApiQuery<T> {
    type Rejection = ApiError;

    async fn from_request_parts(parts: &mut Parts, state: &S) -> Result<Self, ApiError> {
        Query::<T>::from_request_parts(parts, state)
            .await
            .map(|Query(value)| ApiQuery(value))
            .map_err(|err| ApiError::invalid(err.body_text()))
    }
}

/// Path parameters, with rejections in the error envelope.
pub(crate) struct ApiPath<T>(pub(crate) T);

impl<T: DeserializeOwned + Send, S: Send + Sync> FromRequestParts<S> for ApiPath<T> {
    type Rejection = ApiError;

    async fn from_request_parts(parts: &mut Parts, state: &S) -> Result<Self, ApiError> {
        Path::<T>::from_request_parts(parts, state)
            .await
            .map(|Path(value)| ApiPath(value))
            .map_err(|err| ApiError::not_found(err.body_text()))
    }
}

/// A boolean query parameter as Intercom reads it: absent is `false`.
pub(crate) fn flag(value: Option<&str>, name: &str) -> Result<bool, ApiError> {
    match value {
        None => Ok(false),
        Some(v) if v.eq_ignore_ascii_case("true") => Ok(true),
        Some(v) if v.eq_ignore_ascii_case("false") => Ok(false),
        Some(_) => Err(ApiError::invalid(format!("{name} must be true or false"))),
    }
}

/// `page` and `per_page` of the page-numbered lists, with Intercom's bounds.
pub(crate) fn page_params(
    params: &std::collections::HashMap<String, String>,
    default_per_page: usize,
    max_per_page: usize,
) -> Result<(usize, usize), ApiError> {
    let number = |name: &str, default: usize| match params.get(name) {
        None => Ok(default),
        Some(text) => text
            .parse::<usize>()
            .ok()
            .filter(|&n| n >= 1)
            .ok_or_else(|| ApiError::invalid(format!("{name} must be a positive integer"))),
    };
    Ok((
        number("page", 1)?,
        number("per_page", default_per_page)?.min(max_per_page),
    ))
}

/// A `pages` object for page-numbered lists (`next` left out: clients use
/// `total_pages`).
pub(crate) fn numbered_pages(page: usize, per_page: usize, total: usize) -> Value {
    json!({
        "type": "pages",
        "page": page,
        "per_page": per_page,
        "total_pages": total.div_ceil(per_page),
    })
}

impl IntoResponse for ApiError {
    fn into_response(self) -> Response {
        let body = json!({
            "type": "error.list",
            "request_id": request_id(),
            "errors": [{"code": self.code, "message": self.message}],
        });
        let mut response = (self.status, Json(body)).into_response();
        if let Some((name, value)) = self.header
            && let Ok(value) = axum::http::HeaderValue::from_str(&value)
        {
            response.headers_mut().insert(name, value);
        }
        response
    }
}

/// A list whose item key and `type` vary by resource (`admins`/`admin.list`,
/// `data`/`list`, ...), as Intercom's unpaginated lists do.
pub(crate) fn list(list_type: &str, key: &str, items: Vec<Value>) -> Json<Value> {
    let mut body = serde_json::Map::new();
    body.insert("type".to_owned(), Value::from(list_type));
    body.insert(key.to_owned(), Value::Array(items));
    Json(Value::Object(body))
}

/// A random version-4 UUID: the spec types `request_id` as `format: uuid`; scroll
/// params use the same shape.
pub(crate) fn request_id() -> String {
    uuid(rand::random())
}

/// `bits` as a version-4 UUID.
pub(crate) fn uuid(bits: u128) -> String {
    let mut v = bits;
    v = (v & !(0xF << 76)) | (0x4 << 76);
    v = (v & !(0x3 << 62)) | (0x2 << 62);
    format!(
        "{:08x}-{:04x}-{:04x}-{:04x}-{:012x}",
        v >> 96,
        (v >> 80) & 0xFFFF,
        (v >> 64) & 0xFFFF,
        (v >> 48) & 0xFFFF,
        v & 0xFFFF_FFFF_FFFF
    )
}

#[cfg(test)]
mod tests {
    #[test]
    fn request_ids_are_version_4_uuids() {
        let id = super::request_id();
        let groups: Vec<&str> = id.split('-').collect();
        let lengths: Vec<usize> = groups.iter().map(|g| g.len()).collect();
        assert_eq!(lengths, [8, 4, 4, 4, 12], "{id}");
        assert!(groups[2].starts_with('4'), "{id}");
        assert!(matches!(&groups[3][..1], "8" | "9" | "a" | "b"), "{id}");
    }
}
