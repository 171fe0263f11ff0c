//! Artifacts in an S3-compatible bucket, through `object_store`.
//!
//! A single PUT replaces an object atomically. A streamed write goes
//! through a multipart upload, which S3 only assembles into an object when
//! it is completed; a source error aborts the upload, so no partial object
//! ever appears.

use super::{
    ArtifactStore, ArtifactStoreError, ByteStream, Result, listing_dir, validate_key,
    validate_prefix,
};
use async_trait::async_trait;
use bytes::Bytes;
use futures_util::StreamExt;
use object_store::aws::AmazonS3Builder;
use object_store::path::Path as ObjectPath;
use object_store::{ObjectStore, ObjectStoreExt, PutPayload, WriteMultipart};
use std::sync::Arc;

/// Connection settings; [`S3Store::from_env`] fills them from `AWS_*`.
#[derive(Debug, Clone, Default)]
pub struct S3Config {
    pub bucket: String,
    /// Key prefix inside the bucket (no leading or trailing '/').
    pub prefix: String,
    /// e.g. `http://127.0.0.1:5000` for a local S3 API; `None` = AWS.
    pub endpoint: Option<String>,
    pub region: Option<String>,
    pub access_key_id: Option<String>,
    pub secret_access_key: Option<String>,
}

#[derive(Debug, Clone)]
pub struct S3Store {
    store: Arc<dyn ObjectStore>,
    bucket: String,
    prefix: String,
}

/// Whether an endpoint URL points at this machine, where plain HTTP is
/// acceptable (a local S3 API in tests and development).
fn is_loopback(endpoint: &str) -> bool {
    let rest = endpoint
        .strip_prefix("http://")
        .or_else(|| endpoint.strip_prefix("https://"))
        .unwrap_or(endpoint);
    let host = rest.split(['/', '?']).next().unwrap_or_default();
    let host = if let Some(v6) = host.strip_prefix('[') {
        v6.split(']').next().unwrap_or_default()
    } else {
        host.rsplit_once(':').map_or(host, |(h, _)| h)
    };
    host == "localhost"
        || host
            .parse::<std::net::IpAddr>()
            .is_ok_and(|ip| ip.is_loopback())
}

fn split_bucket(rest: &str) -> (String, String) {
    let (bucket, prefix) = rest.split_once('/').unwrap_or((rest, ""));
    (bucket.to_string(), prefix.trim_matches('/').to_string())
}

impl S3Store {
    /// `rest` is the URL after `s3://`: `bucket[/prefix]`. Credentials,
    /// region and endpoint come from the environment as the AWS tools read
    /// them (`AWS_ENDPOINT_URL`, `AWS_REGION`, `AWS_ACCESS_KEY_ID`, …).
    pub fn from_env(rest: &str) -> Result<S3Store> {
        let (bucket, prefix) = split_bucket(rest);
        let var = |k: &str| std::env::var(k).ok().filter(|v| !v.is_empty());
        S3Store::new(S3Config {
            bucket,
            prefix,
            endpoint: var("AWS_ENDPOINT_URL").or_else(|| var("AWS_ENDPOINT")),
            region: var("AWS_REGION").or_else(|| var("AWS_DEFAULT_REGION")),
            access_key_id: var("AWS_ACCESS_KEY_ID"),
            secret_access_key: var("AWS_SECRET_ACCESS_KEY"),
        })
    }

    pub fn new(config: S3Config) -> Result<S3Store> {
        let url = format!("s3://{}/{}", config.bucket, config.prefix);
        if config.bucket.is_empty() {
            return Err(ArtifactStoreError::BadUrl {
                url,
                reason: "no bucket".into(),
            });
        }
        if !config.prefix.is_empty() {
            validate_key(&config.prefix)?;
        }
        let mut b = AmazonS3Builder::from_env()
            .with_bucket_name(&config.bucket)
            .with_region(config.region.as_deref().unwrap_or("us-east-1"));
        if let Some(endpoint) = &config.endpoint {
            b = b
                .with_endpoint(endpoint)
                .with_allow_http(is_loopback(endpoint))
                .with_virtual_hosted_style_request(false);
        }
        if let Some(k) = &config.access_key_id {
            b = b.with_access_key_id(k);
        }
        if let Some(s) = &config.secret_access_key {
            b = b.with_secret_access_key(s);
        }
        let store = b.build().map_err(|e| ArtifactStoreError::BadUrl {
            url,
            reason: e.to_string(),
        })?;
        Ok(S3Store {
            store: Arc::new(store),
            bucket: config.bucket,
            prefix: config.prefix,
        })
    }

    fn full(&self, key: &str) -> String {
        if self.prefix.is_empty() {
            key.to_string()
        } else {
            format!("{}/{key}", self.prefix)
        }
    }

    fn path_of(&self, key: &str) -> Result<ObjectPath> {
        validate_key(key)?;
        Ok(ObjectPath::from(self.full(key)))
    }

    fn err(&self, op: &'static str, key: &str, source: object_store::Error) -> ArtifactStoreError {
        match source {
            object_store::Error::NotFound { .. } => ArtifactStoreError::NotFound {
                store: self.describe(),
                key: key.to_string(),
            },
            source => ArtifactStoreError::ObjectStore {
                store: self.describe(),
                op,
                key: key.to_string(),
                source: Box::new(source),
            },
        }
    }
}

#[async_trait]
impl ArtifactStore for S3Store {
    fn describe(&self) -> String {
        if self.prefix.is_empty() {
            format!("s3://{}", self.bucket)
        } else {
            format!("s3://{}/{}", self.bucket, self.prefix)
        }
    }

    async fn put(&self, key: &str, bytes: Bytes) -> Result<()> {
        let path = self.path_of(key)?;
        self.store
            .put(&path, PutPayload::from(bytes))
            .await
            .map_err(|e| self.err("putting", key, e))?;
        Ok(())
    }

    async fn put_stream(&self, key: &str, mut chunks: ByteStream<'_>) -> Result<u64> {
        let path = self.path_of(key)?;
        let upload = self
            .store
            .put_multipart(&path)
            .await
            .map_err(|e| self.err("starting an upload of", key, e))?;
        let mut writer = WriteMultipart::new(upload);
        let mut written = 0u64;
        while let Some(chunk) = chunks.next().await {
            match chunk {
                Ok(chunk) => {
                    written += chunk.len() as u64;
                    writer.put(chunk);
                    if let Err(e) = writer.wait_for_capacity(4).await {
                        return Err(self.err("uploading", key, e));
                    }
                }
                Err(source) => {
                    if let Err(e) = writer.abort().await {
                        tracing::warn!(key, error = %e, "aborting a multipart upload failed; the bucket's lifecycle rules must clean it up");
                    }
                    return Err(ArtifactStoreError::Source {
                        key: key.to_string(),
                        source,
                    });
                }
            }
        }
        writer
            .finish()
            .await
            .map_err(|e| self.err("completing the upload of", key, e))?;
        Ok(written)
    }

    async fn get(&self, key: &str) -> Result<Bytes> {
        let path = self.path_of(key)?;
        let got = self
            .store
            .get(&path)
            .await
            .map_err(|e| self.err("getting", key, e))?;
        got.bytes().await.map_err(|e| self.err("reading", key, e))
    }

    async fn exists(&self, key: &str) -> Result<bool> {
        let path = self.path_of(key)?;
        match self.store.head(&path).await {
            Ok(_) => Ok(true),
            Err(object_store::Error::NotFound { .. }) => Ok(false),
            Err(e) => Err(self.err("inspecting", key, e)),
        }
    }

    async fn list(&self, prefix: &str) -> Result<Vec<String>> {
        validate_prefix(prefix)?;
        let dir = listing_dir(prefix).trim_end_matches('/');
        let full_dir = match (self.prefix.is_empty(), dir.is_empty()) {
            (true, true) => None,
            (true, false) => Some(ObjectPath::from(dir)),
            (false, true) => Some(ObjectPath::from(self.prefix.as_str())),
            (false, false) => Some(ObjectPath::from(self.full(dir))),
        };
        let strip = if self.prefix.is_empty() {
            String::new()
        } else {
            format!("{}/", self.prefix)
        };
        let mut stream = self.store.list(full_dir.as_ref());
        let mut keys = Vec::new();
        while let Some(meta) = stream.next().await {
            let meta = meta.map_err(|e| self.err("listing", prefix, e))?;
            let full = meta.location.to_string();
            if let Some(key) = full.strip_prefix(&strip)
                && key.starts_with(prefix)
            {
                keys.push(key.to_string());
            }
        }
        keys.sort();
        Ok(keys)
    }

    async fn delete(&self, key: &str) -> Result<()> {
        let path = self.path_of(key)?;
        match self.store.delete(&path).await {
            Ok(()) | Err(object_store::Error::NotFound { .. }) => Ok(()),
            Err(e) => Err(self.err("deleting", key, e)),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn plain_http_only_for_loopback() {
        assert!(is_loopback("http://127.0.0.1:5000"));
        assert!(is_loopback("http://localhost:9000/"));
        assert!(is_loopback("http://[::1]:9000"));
        assert!(!is_loopback("http://minio.internal:9000"));
        assert!(!is_loopback("https://s3.eu-west-1.amazonaws.com"));
    }

    #[test]
    fn bucket_and_prefix_from_the_url() {
        assert_eq!(split_bucket("b"), ("b".into(), "".into()));
        assert_eq!(split_bucket("b/p/q/"), ("b".into(), "p/q".into()));
    }
}
