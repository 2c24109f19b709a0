"""Courses and lessons: the catalog and its content."""
