"""Grounded answers: follow-up rewriting, retrieval support checks, the extractive and LLM
answerers, and citation verification. Shared by `POST /v1/chat`, `kb ask` and `kb eval`."""
