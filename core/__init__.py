"""What every docfilm package shares: the root of the error tree, the one vocabulary (media kinds, HDR
transfers, verdicts, content types, transient S3 codes) and timecode (core.timecode, on opentime). It imports
no other docfilm package."""
