"""assets_manifest."""
