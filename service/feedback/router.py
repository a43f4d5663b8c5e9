"""Placeholder: filled in by the widget work (issue 6)."""

from __future__ import annotations

from fastapi import APIRouter

router = APIRouter()
