"""The standalone container engine behind ``kyb run / ps / logs / exec / stop / rm``: Docker's daemon side in
miniature, as a library the CLI calls (no daemon: state lives in the data dir, containers in their shims)."""
