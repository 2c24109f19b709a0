"""Media: images and PDF attachments of a course, and its cover image."""
