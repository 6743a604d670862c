"""The cut: OTIO timelines (the assembled string-out or the editor's import), conformed to the ledger, versioned."""
