"""content/ -> Qdrant: parse Markdown, split into sections and chunks, embed, build a new
index version and switch the serving alias to it."""
