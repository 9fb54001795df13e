"""The script engine: writing, fitting and pacing scripts, and the plain script file format."""
