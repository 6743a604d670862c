"""What every docfilm package shares: the root of the error tree and the one vocabulary (media kinds, HDR
transfers, verdicts, content types, transient S3 codes). It imports no other docfilm package."""
