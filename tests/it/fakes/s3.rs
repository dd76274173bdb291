//! A real-protocol S3 server for tests: s3s-fs stores buckets as folders and
//! objects as files under a temp dir; s3s checks SigV4 against one key pair.
//! Listens on 127.0.0.1 only; the server task stops when `FakeS3` is dropped.
#![allow(clippy::unwrap_used)]

use std::future::Future;
use std::path::{Path, PathBuf};
use std::pin::Pin;

use hyper_util::rt::{TokioExecutor, TokioIo};
use hyper_util::server::conn::auto::Builder as ConnBuilder;
use s3s::access::S3Access;
use s3s::auth::SimpleAuth;
use s3s::dto::{GetObjectInput, PutObjectInput};
use s3s::service::S3ServiceBuilder;
use s3s::{S3Request, S3Result, s3_error};
use tokio::net::TcpListener;
use tokio::task::JoinHandle;

pub struct FakeS3 {
    /// `http://127.0.0.1:<port>`: use with path-style addressing.
    pub endpoint: String,
    pub access_key: String,
    pub secret_key: String,
    dir: PathBuf,
    server: JoinHandle<()>,
}

impl FakeS3 {
    pub const ACCESS_KEY: &str = "AKIAAIRLESSTEST";
    pub const SECRET_KEY: &str = "airless-test-secret";

    /// Serves `dir` (which must exist) until the returned value is dropped.
    pub async fn start(dir: &Path) -> FakeS3 {
        let fs = s3s_fs::FileSystem::new(dir).unwrap();
        let mut builder = S3ServiceBuilder::new(fs);
        builder.set_auth(SimpleAuth::from_single(Self::ACCESS_KEY, Self::SECRET_KEY));
        builder.set_access(BucketsMustExist {
            root: dir.canonicalize().unwrap(),
        });
        let service = builder.build();

        let listener = TcpListener::bind("127.0.0.1:0").await.unwrap();
        let addr = listener.local_addr().unwrap();
        let server = tokio::spawn(async move {
            let http = ConnBuilder::new(TokioExecutor::new());
            loop {
                let Ok((socket, _)) = listener.accept().await else {
                    continue;
                };
                let http = http.clone();
                let service = service.clone();
                tokio::spawn(async move {
                    // A client hanging up mid-request is not the test's concern.
                    let _ = http.serve_connection(TokioIo::new(socket), service).await;
                });
            }
        });

        FakeS3 {
            endpoint: format!("http://{addr}"),
            access_key: Self::ACCESS_KEY.to_owned(),
            secret_key: Self::SECRET_KEY.to_owned(),
            dir: dir.to_path_buf(),
            server,
        }
    }

    /// s3s-fs maps a bucket to a folder under the root.
    pub fn create_bucket(&self, name: &str) {
        std::fs::create_dir_all(self.dir.join(name)).unwrap();
    }
}

impl Drop for FakeS3 {
    fn drop(&mut self) {
        self.server.abort();
    }
}

/// s3s-fs creates a missing bucket's folder on PutObject and answers NoSuchKey
/// on GetObject; real S3 answers NoSuchBucket to both. Unsigned requests are still denied (the default `check`).
struct BucketsMustExist {
    root: PathBuf,
}

type Check<'a> = Pin<Box<dyn Future<Output = S3Result<()>> + Send + 'a>>;

impl BucketsMustExist {
    fn bucket_exists<'a>(&self, bucket: &str) -> Check<'a> {
        let exists = self.root.join(bucket).is_dir();
        Box::pin(async move {
            if exists {
                Ok(())
            } else {
                Err(s3_error!(NoSuchBucket))
            }
        })
    }
}

// `S3Access` is an `#[async_trait]` trait; this is the signature it expands to.
impl S3Access for BucketsMustExist {
    fn put_object<'life0, 'life1, 'async_trait>(
        &'life0 self,
        req: &'life1 mut S3Request<PutObjectInput>,
    ) -> Check<'async_trait>
    where
        'life0: 'async_trait,
        'life1: 'async_trait,
        Self: 'async_trait,
    {
        self.bucket_exists(&req.input.bucket)
    }

    fn get_object<'life0, 'life1, 'async_trait>(
        &'life0 self,
        req: &'life1 mut S3Request<GetObjectInput>,
    ) -> Check<'async_trait>
    where
        'life0: 'async_trait,
        'life1: 'async_trait,
        Self: 'async_trait,
    {
        self.bucket_exists(&req.input.bucket)
    }
}
