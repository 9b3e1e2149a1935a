"""Images: OCI content store, snapshots, Dockerfile front end and builder, registry client."""
