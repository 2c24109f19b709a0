"""Course chat (API.md §7): messages of a course's teacher, admins and enrolled students."""
