"""Talking to the trained group: `mascot chat` (terminal), `mascot serve` (OpenAI-compatible API and
a web page). Not a pipeline stage: nothing here changes what `dvc repro` computes."""
