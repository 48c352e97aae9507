"""Keys batchmon writes into a batch's OpenAI metadata, read back by engine and desktop."""

from __future__ import annotations

JOB_KEY = "batchmon_job"
"""Metadata key naming the job a batch was submitted for."""
