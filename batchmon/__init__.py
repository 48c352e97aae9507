"""batchmon: watch, finish and repair OpenAI Batch API work."""

__version__ = "0.1.0"
