//! The requests that change the server, beside the atomic directory PATCH of
//! [`Client::patch_directory`]: the version probe, single-object writes (Guacamole
//! 1.5.x, whose directory PATCH only removes), and the PATCH requests answered with 204
//! (permissions, memberships, and 1.5.x removals).

use reqwest::Method;

use super::client::{Client, ClientError, encode_segment};
use super::wire::StringOp;

/// How the server applies a directory PATCH (`docs/guacamole-versions.md` §5).
#[derive(Clone, Copy, Debug, PartialEq, Eq, serde::Serialize, serde::Deserialize)]
#[serde(rename_all = "kebab-case")]
pub enum PatchSupport {
    /// Guacamole 1.6.0 and later on JDBC: add, replace and remove in one transaction.
    Atomic,
    /// Guacamole 1.5.x (only `remove`, one object at a time), or a 1.6 directory
    /// whose extension cannot patch atomically: changes go object by object.
    ObjectByObject,
}

impl Client {
    /// Finds out how the server applies directory PATCH requests without changing
    /// anything: an empty PATCH `[]` loops over nothing on every version, and is
    /// answered 204 by 1.5.x, 200 `{"patches":[]}` by 1.6.x on JDBC, and 501 by a
    /// 1.6.x directory that cannot patch atomically (`docs/guacamole-versions.md`
    /// §5). It is sent to `connectionGroups`, whose directory behaves as every
    /// other JDBC one.
    pub async fn probe_patch_support(&self) -> Result<PatchSupport, ClientError> {
        let path = self.ds_path("connectionGroups");
        match self
            .request_idempotent(Method::PATCH, &path, Some(b"[]"))
            .await
        {
            Ok(body) if body.is_empty() => Ok(PatchSupport::ObjectByObject),
            Ok(body) => match serde_json::from_slice::<super::wire::PatchResponse>(&body) {
                Ok(r) if r.patches.is_empty() => Ok(PatchSupport::Atomic),
                _ => Err(ClientError::Decode {
                    method: Method::PATCH,
                    path,
                    message: "an empty PATCH was answered with something other than an empty \
                              outcome list or nothing"
                        .to_owned(),
                }),
            },
            Err(ClientError::Api { status: 501, .. }) => Ok(PatchSupport::ObjectByObject),
            Err(e) => Err(e),
        }
    }

    /// `POST {endpoint}`: creates one object; the answer echoes it with its new
    /// identifier (rest-api.md §3).
    pub async fn create_object(
        &self,
        endpoint: &str,
        body: &serde_json::Value,
    ) -> Result<Option<String>, ClientError> {
        let path = self.ds_path(endpoint);
        let bytes = self
            .request(Method::POST, &path, Some(&to_vec(body)))
            .await?;
        let echo: serde_json::Value =
            serde_json::from_slice(&bytes).map_err(|e| ClientError::UnknownOutcome {
                method: Method::POST,
                path: path.clone(),
                message: format!(
                    "the answer is not the created object: {}",
                    crate::secret::redact(&e.to_string())
                ),
            })?;
        Ok(["identifier", "username"]
            .iter()
            .find_map(|f| echo.get(f).and_then(serde_json::Value::as_str))
            .map(str::to_owned))
    }

    /// `PUT {endpoint}/{id}`: replaces one object (204).
    pub async fn update_object(
        &self,
        endpoint: &str,
        identifier: &str,
        body: &serde_json::Value,
    ) -> Result<(), ClientError> {
        let path = self.ds_path(&format!("{endpoint}/{}", encode_segment(identifier)));
        self.request(Method::PUT, &path, Some(&to_vec(body)))
            .await
            .map(|_| ())
    }

    /// `DELETE {endpoint}/{id}` (204).
    pub async fn delete_object(&self, endpoint: &str, identifier: &str) -> Result<(), ClientError> {
        let path = self.ds_path(&format!("{endpoint}/{}", encode_segment(identifier)));
        self.request(Method::DELETE, &path, None).await.map(|_| ())
    }

    /// A PATCH of string values below the data source (`users/alice/permissions`,
    /// `userGroups/ops/memberUsers`, or a 1.5.x `activeConnections` removal): 204,
    /// or on 1.6.x a directory's outcome list, which is not needed here.
    pub async fn patch_strings(&self, rest: &str, ops: &[StringOp]) -> Result<(), ClientError> {
        let path = self.ds_path(rest);
        let body = serde_json::to_vec(ops).map_err(|e| ClientError::Decode {
            method: Method::PATCH,
            path: path.clone(),
            message: e.to_string(),
        })?;
        self.request(Method::PATCH, &path, Some(&body))
            .await
            .map(|_| ())
    }
}

impl Client {
    /// A directory PATCH of removals only (closing sessions): on 1.6.x an outcome
    /// list, checked; on 1.5.x, whose PATCH takes only removals, 204 (rest-api.md
    /// §9).
    pub async fn patch_removals(&self, directory: &str, ids: &[&str]) -> Result<(), ClientError> {
        let ops: Vec<serde_json::Value> = ids
            .iter()
            .map(|id| serde_json::json!({"op": "remove", "path": format!("/{id}")}))
            .collect();
        let path = self.ds_path(directory);
        let body = serde_json::to_vec(&ops).unwrap_or_default();
        let answer = self.request(Method::PATCH, &path, Some(&body)).await?;
        if answer.is_empty() {
            return Ok(());
        }
        let resp: super::wire::PatchResponse =
            serde_json::from_slice(&answer).map_err(|e| ClientError::UnknownOutcome {
                method: Method::PATCH,
                path: path.clone(),
                message: format!(
                    "not a list of patch outcomes: {}",
                    crate::secret::redact(&e.to_string())
                ),
            })?;
        if resp.patches.len() != ops.len() {
            return Err(ClientError::UnknownOutcome {
                method: Method::PATCH,
                path,
                message: format!(
                    "{} outcome(s) for {} patch(es)",
                    resp.patches.len(),
                    ops.len()
                ),
            });
        }
        Ok(())
    }
}

fn to_vec(body: &serde_json::Value) -> Vec<u8> {
    // A `serde_json::Value` always serialises.
    serde_json::to_vec(body).unwrap_or_default()
}
