"""delivery: S3 settings → client, embedded SeaweedFS, verified idempotent uploads, presigned links.

Modules: settings (S3Settings), client (s3_client, ensure_bucket, error translation), seaweed (EmbeddedS3),
store (open_store: composes client and seaweed), keys (object_key), upload (upload_verified, presign_get),
multipart (verified parts with resume), retry (is_transient, with_retries), verify (objects against the ledger),
records (the results the others return), errors. Nothing here builds a client or starts a process on import.
"""
