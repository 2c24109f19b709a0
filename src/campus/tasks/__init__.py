"""Tasks: every learner's own to-do list."""
