"""Editorial control: what a producer does between writing and publishing.

- `plain`: an episode's script as a plain text file (scripting/scriptfile.py) and back,
  validated against the episode's cast and structure, every error naming its line.
- `versions`: every replaced script is kept under a versioned media key.
- `actions`: approve, reject, import and one-line rewrite, queued as `episode_edits` rows
  that the `episode_edits` sensor turns into exactly one run each (`defs`).
- `rewrite`: the writing tasks for a rejected script and for one line.
- `own_script`: bring your own script; no outline or script is written.
- `cli`, `jobs`: the same from the command line and from the Dagster UI.
"""
