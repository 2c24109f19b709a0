"""Assessments: lesson quizzes, attempts and their grading."""
