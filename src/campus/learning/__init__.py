"""Learning: enrollment, progress, the learner's cabinet."""
