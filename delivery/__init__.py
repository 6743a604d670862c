"""delivery: S3 settings → client, embedded SeaweedFS, verified idempotent uploads, presigned links.

Modules: settings (S3Settings), client (s3_client, open_store), seaweed (EmbeddedS3), keys (object_key),
upload (upload_verified, presign_get), errors. Nothing here builds a client or starts a process on import.
"""
