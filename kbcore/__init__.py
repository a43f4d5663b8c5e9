"""What the ingest pipeline, the HTTP service and the CLI share: settings, embedders,
the collection schema, sparse encoding and hybrid retrieval. Imports neither side."""
